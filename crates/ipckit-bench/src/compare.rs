//! Paired comparisons: the ratios behind ipckit's targets, each measured as two
//! scenarios in alternating blocks in one pair of processes.
//!
//! On a shared VM the cost of a cache-line transfer changes by 3x from one second to
//! the next, as the host moves the virtual CPUs: figures measured a second apart do
//! not make a fair ratio. Here both scenarios live in the same two processes, which
//! run a block of one (about a millisecond), then a block of the other, many times;
//! each pair of adjacent blocks gives a ratio, and the report is the median of those
//! ratios. A change of regime then moves a block or two, not the result.
//!
//! Contract:
//! - [`compare`] plans a comparison only where both scenarios are in the rows (the
//!   rows also size the blocks: about one block's time of operations each);
//! - each [`Comparison`] carries both medians, the median ratio with p10/p90, how
//!   many block pairs, the [`Target`] and whether the median meets it;
//! - the two halves of a pair take turns going first (a b, b a, ...), and an ipckit
//!   wrapper and its raw loop do the same number of operations per block, so neither
//!   the place in the pair nor the block's length favours one side;
//! - a ratio above 1 means the first scenario is slower (for throughput the figure is
//!   the time per message, so the same reading holds);
//! - the child runs only the two scenarios' sides and exits; a failure on either side
//!   ends the comparison with an error naming it, and no process is left behind.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::measure::{Placement, Row, abandon, find, fork, wait_child};
use crate::mechanism::{Mechanism, Variant};
use crate::scenario::{Options, Scenario, setup};
use crate::stats::{Spread, median};
use crate::target::Target;
use crate::{BenchError, raw};

/// Two scenarios measured in alternating blocks in one pair of processes (see the
/// module docs).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    /// What is compared, e.g. `channel-spin 64 B round trip / spin-line`.
    pub what: String,
    /// The target for the median ratio, e.g. `<= 1.3` (`-` for information only).
    pub wanted: Target,
    /// The first scenario's median time per operation (round trip or message), ns.
    pub a_p50_ns: f64,
    /// The second scenario's median time per operation, ns.
    pub b_p50_ns: f64,
    /// Median of the per-block-pair ratios a / b.
    pub ratio_p50: f64,
    /// 10th percentile of those ratios.
    pub ratio_p10: f64,
    /// 90th percentile of those ratios.
    pub ratio_p90: f64,
    /// Pairs of blocks measured.
    pub blocks: usize,
    /// Whether the median ratio meets the target (`true` when there is none).
    pub met: bool,
}

/// What a block's operations are.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Each operation is a round trip.
    RoundTrip,
    /// The child streams the block's messages one way after a go-ahead.
    Stream,
}

/// A comparison to make.
struct Planned {
    what: String,
    wanted: Target,
    a: Scenario,
    b: Scenario,
    kind: Kind,
}

/// One side of a paired measurement: the scenario and its operations per block.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Half {
    pub scenario: Scenario,
    pub per_block: u64,
}

/// Each block's mean time per operation in ns, for the two halves.
pub(crate) struct BlockTimes {
    pub a: Vec<f64>,
    pub b: Vec<f64>,
}

/// Which half runs first in block pair `block`: `a` then `b`, then `b` then `a`, and so
/// on, so that whatever the first (or second) block of a pair gains or loses from its
/// place (a peer still draining the other block, a cache warmed by it) falls on both
/// halves alike.
fn order(block: usize) -> [usize; 2] {
    if block % 2 == 0 { [0, 1] } else { [1, 0] }
}

/// Runs `blocks` pairs of alternating blocks of `a` and `b` (after two warm-up pairs),
/// in the order [`order`] gives.
fn paired(a: Half, b: Half, kind: Kind, blocks: usize, at: Placement) -> Result<BlockTimes, BenchError> {
    const WARM: usize = 2;
    let stream = kind == Kind::Stream;
    let size = a.scenario.size.max(b.scenario.size);
    let (mut sa, mut sb) = (setup(a.scenario, at)?, setup(b.scenario, at)?);
    let halves = [a.per_block, b.per_block];
    let child = fork(|| {
        if raw::pin(&[at.child]).is_err() {
            return 4;
        }
        let (Ok(x), Ok(y)) = (sa.side(false), sb.side(false)) else { return 2 };
        let mut sides = [x, y];
        let r = (|| -> Result<(), BenchError> {
            let mut buf = vec![0u8; size];
            for block in 0..blocks + WARM {
                for i in order(block) {
                    let (side, k) = (&mut sides[i], halves[i]);
                    if stream {
                        side.recv(&mut buf)?;
                        buf[0] = 0;
                        for _ in 0..k {
                            side.send(&buf)?;
                        }
                    } else {
                        for _ in 0..k {
                            side.recv(&mut buf)?;
                            side.send(&buf)?;
                        }
                    }
                }
            }
            Ok(())
        })();
        match r {
            Ok(()) => 0,
            Err(msg) => {
                eprintln!("ipckit-bench child: {msg}");
                3
            }
        }
    })?;
    let result = (|| {
        raw::pin(&[at.parent])?;
        let mut sides = [sa.side(true)?, sb.side(true)?];
        let mut buf = vec![0u8; size];
        let mut times: [Vec<f64>; 2] = [Vec::with_capacity(blocks), Vec::with_capacity(blocks)];
        for block in 0..blocks + WARM {
            for i in order(block) {
                let (side, k) = (&mut sides[i], halves[i]);
                let t0;
                if stream {
                    side.send(&buf)?;
                    // The clock starts at the first message: the go-ahead's trip is not
                    // part of the stream.
                    side.recv(&mut buf)?;
                    t0 = Instant::now();
                    for _ in 1..k {
                        side.recv(&mut buf)?;
                    }
                } else {
                    t0 = Instant::now();
                    for _ in 0..k {
                        buf[0] = 0;
                        side.send(&buf)?;
                        side.recv(&mut buf)?;
                    }
                }
                let ops = if stream { k.saturating_sub(1).max(1) } else { k };
                if block >= WARM {
                    times[i].push(t0.elapsed().as_nanos() as f64 / ops as f64);
                }
            }
        }
        Ok(times)
    })();
    match result {
        Ok([a, b]) => wait_child(child).map(|()| BlockTimes { a, b }),
        Err(e) => abandon(child, e),
    }
}

/// The comparisons to make for the scenarios in `rows`.
fn plan(rows: &[Row]) -> Vec<Planned> {
    use Mechanism as M;
    use Variant::{Ipckit, Raw};
    let mut plan = Vec::new();
    let sc = |mechanism: Mechanism, variant: Variant, size: usize| Scenario { mechanism, variant, size };
    let have = |m: Mechanism, v: Variant, size: usize| find(rows, m, v, size).is_some();
    let spin_line = rows.iter().any(|r| r.mechanism == M::SpinLine);
    let mut push = |what: String, wanted: Target, a: Scenario, b: Scenario, kind: Kind| {
        plan.push(Planned { what, wanted, a, b, kind });
    };
    for (m, limit) in [(M::ChannelSpin, 1.3), (M::Channel, 2.0)] {
        if spin_line && have(m, Ipckit, 64) {
            let what = format!("{m} 64 B round trip / spin-line");
            push(what, Target::AtMost(limit), sc(m, Ipckit, 64), sc(M::SpinLine, Raw, 64), Kind::RoundTrip);
        }
        if have(M::SpinCopy, Raw, 64) && have(m, Ipckit, 64) {
            let what = format!("{m} 64 B round trip / spin-copy 64 B");
            push(what, Target::Info, sc(m, Ipckit, 64), sc(M::SpinCopy, Raw, 64), Kind::RoundTrip);
        }
    }
    if spin_line && have(M::SpinCopy, Raw, 64) {
        let what = "spin-copy 64 B round trip / spin-line (the cost of a 64-byte payload)".to_string();
        push(what, Target::Info, sc(M::SpinCopy, Raw, 64), sc(M::SpinLine, Raw, 64), Kind::RoundTrip);
    }
    if spin_line && have(M::SpinRing, Raw, 64) {
        let what = "spin-ring 64 B round trip / spin-line (the cost of any ring)".to_string();
        push(what, Target::Info, sc(M::SpinRing, Raw, 64), sc(M::SpinLine, Raw, 64), Kind::RoundTrip);
    }
    if have(M::SpinRing, Raw, 64) {
        for m in [M::ChannelSpin, M::Channel] {
            if have(m, Ipckit, 64) {
                let what = format!("{m} 64 B round trip / spin-ring (the channel's own cost)");
                push(what, Target::Info, sc(m, Ipckit, 64), sc(M::SpinRing, Raw, 64), Kind::RoundTrip);
            }
        }
    }
    for v in [Ipckit, Raw] {
        if have(M::UdsFd, v, 64) && have(M::UdsSeqpacket, v, 64) {
            let what =
                format!("uds-fd 64 B round trip / uds-seqpacket 64 B, {v} (passing one descriptor each way)");
            push(what, Target::Info, sc(M::UdsFd, v, 64), sc(M::UdsSeqpacket, v, 64), Kind::RoundTrip);
        }
    }
    // The bridge against raw NATS request/reply (the generic ipckit / raw below would
    // hold it to the wrong target).
    for r in rows.iter().filter(|r| r.mechanism == M::Bridge && r.variant == Ipckit && r.rtt_p50_ns.is_some())
    {
        if find(rows, M::Bridge, Raw, r.size_bytes).is_some_and(|raw| raw.rtt_p50_ns.is_some()) {
            let size = r.size_bytes;
            push(
                bridge_round_trip(size),
                Target::AtMost(1.5),
                sc(M::Bridge, Ipckit, size),
                sc(M::Bridge, Raw, size),
                Kind::RoundTrip,
            );
        }
        // Where the time goes: JetStream itself, and the bridges on top of it.
        if find(rows, M::BridgeJs, Raw, r.size_bytes).is_some_and(|js| js.rtt_p50_ns.is_some()) {
            let size = r.size_bytes;
            push(
                format!("bridge {size} B round trip / raw JetStream publish-pull (the bridges' own cost)"),
                Target::Info,
                sc(M::Bridge, Ipckit, size),
                sc(M::BridgeJs, Raw, size),
                Kind::RoundTrip,
            );
            if find(rows, M::Bridge, Raw, size).is_some_and(|raw| raw.rtt_p50_ns.is_some()) {
                push(
                    format!("bridge-js {size} B round trip / raw NATS request-reply (JetStream's cost)"),
                    Target::Info,
                    sc(M::BridgeJs, Raw, size),
                    sc(M::Bridge, Raw, size),
                    Kind::RoundTrip,
                );
            }
        }
    }
    for r in rows.iter().filter(|r| r.variant == Ipckit && r.size_bytes >= 8 && r.mechanism != M::Bridge) {
        if !have(r.mechanism, Raw, r.size_bytes) {
            continue;
        }
        let (a, b) = (sc(r.mechanism, Ipckit, r.size_bytes), sc(r.mechanism, Raw, r.size_bytes));
        if r.rtt_p50_ns.is_some() {
            let what = format!("{} {} B round trip, ipckit / raw", r.mechanism, r.size_bytes);
            push(what, Target::AtMost(1.05), a, b, Kind::RoundTrip);
        }
        if r.msgs_per_s.is_some() {
            let what =
                format!("{} {} B time per message (throughput), ipckit / raw", r.mechanism, r.size_bytes);
            push(what, Target::AtMost(1.05), a, b, Kind::Stream);
        }
    }
    plan
}

/// What the bridge's round-trip comparison (and check) is called.
pub(crate) fn bridge_round_trip(size: usize) -> String {
    format!("bridge {size} B round trip / raw NATS request-reply")
}

/// The comparisons behind ipckit's performance targets, for the mechanisms and sizes in
/// `rows`, each measured in alternating blocks (see [`Comparison`]). `progress(done, total, what)` is called
/// before each one.
pub fn compare(
    opts: &Options,
    rows: &[Row],
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<Comparison>, BenchError> {
    let plan = plan(rows);
    let (blocks, block) =
        if opts.quick { (20, Duration::from_micros(800)) } else { (100, Duration::from_millis(2)) };
    let per_block = |s: Scenario, kind: Kind| -> u64 {
        let row = find(rows, s.mechanism, s.variant, s.size)
            .or_else(|| rows.iter().find(|r| r.mechanism == s.mechanism));
        let per_op_ns = match (row, kind) {
            (Some(r), Kind::RoundTrip) => r.rtt_p50_ns,
            (Some(r), Kind::Stream) => r.msgs_per_s.map(|m| 1e9 / m),
            (None, _) => None,
        }
        .unwrap_or(100_000.0)
        .max(1.0);
        ((block.as_nanos() as f64 / per_op_ns) as u64).clamp(2, 1 << 20)
    };
    let original = raw::allowed_cpus();
    let at = Placement::of(&original, opts.same_core);
    let total = plan.len();
    let mut out = Vec::new();
    for (i, p) in plan.into_iter().enumerate() {
        progress(i, total, &format!("paired: {}", p.what));
        // Both halves of a wrapper-against-raw pair do the same number of operations
        // per block: a stream's start and end (an empty socket buffer filling, the
        // last messages draining) then weigh the same on both sides of the ratio.
        let (ka, kb) = if p.a.mechanism == p.b.mechanism && p.a.size == p.b.size {
            let k = (per_block(p.a, p.kind) + per_block(p.b, p.kind)) / 2;
            (k, k)
        } else {
            (per_block(p.a, p.kind), per_block(p.b, p.kind))
        };
        let times = paired(
            Half { scenario: p.a, per_block: ka },
            Half { scenario: p.b, per_block: kb },
            p.kind,
            blocks,
            at,
        )
        .map_err(|e| format!("{}: {e}", p.what))?;
        out.push(comparison(p.what, p.wanted, times)?);
    }
    progress(total, total, "done");
    let _ = raw::pin(&original);
    Ok(out)
}

/// The comparison from the block times of its two halves.
pub(crate) fn comparison(what: String, wanted: Target, times: BlockTimes) -> Result<Comparison, BenchError> {
    let ratios = times.a.iter().zip(&times.b).map(|(x, y)| x / y).collect();
    let spread = Spread::of(ratios).ok_or_else(|| format!("{what}: no block measured"))?;
    Ok(Comparison {
        what,
        wanted,
        a_p50_ns: median(times.a).unwrap_or(0.0),
        b_p50_ns: median(times.b).unwrap_or(0.0),
        ratio_p50: spread.p50,
        ratio_p10: spread.p10,
        ratio_p90: spread.p90,
        blocks: spread.count,
        met: wanted.met(spread.p50),
    })
}
