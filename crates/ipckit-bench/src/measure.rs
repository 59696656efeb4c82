//! Measurement: each scenario between two processes made with `fork` and pinned to
//! CPUs, giving one [`Row`] of the report per scenario.
//!
//! Contract:
//! - **round trip** ([`rtt`]): the parent sends a message, the child sends it back;
//!   every round trip after a warm-up fifth is timed; the row has its p50, p99, p99.9;
//! - **throughput** ([`throughput`]): the child sends messages back to back for the
//!   duration plus a fifth, then a message whose first byte is [`STOP`](crate::STOP);
//!   the parent counts what arrives after the warm-up fifth;
//! - `memcpy` runs in the calling process; `channel-idle` in `sides.rs`;
//! - the process is single-threaded whenever it forks (the progress callback runs on
//!   the calling thread only); a child reports failure in its exit status and is
//!   killed if the parent's side fails, so no measurement leaves a process behind;
//!   the shared objects are removed when the scenario's [`Setup`] drops in the parent;
//! - [`run`] runs the whole set [`rounds`] times, interleaved, and reports the median
//!   of each figure over the rounds; it restores the caller's CPU affinity.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::mechanism::{Mechanism, Variant};
use crate::scenario::{Options, Scenario, rounds, scenarios, setup};
use crate::stats::{combine, percentile};
use crate::{BenchError, STOP, Setup, Side, raw, sides};

/// One line of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// `ipckit` or `raw`.
    pub variant: Variant,
    /// The message size.
    pub size_bytes: usize,
    /// Whether both processes ran on one CPU.
    pub same_core: bool,
    /// Round-trip latency, median, in ns.
    pub rtt_p50_ns: Option<f64>,
    /// Round-trip latency, 99th percentile, in ns.
    pub rtt_p99_ns: Option<f64>,
    /// Round-trip latency, 99.9th percentile, in ns.
    pub rtt_p999_ns: Option<f64>,
    /// Round trips timed.
    pub rtt_samples: usize,
    /// One-way throughput, messages per second.
    pub msgs_per_s: Option<f64>,
    /// One-way throughput, bytes per second.
    pub bytes_per_s: Option<f64>,
    /// For `channel-idle`: CPU used by the blocked receiver, in percent of one core.
    pub idle_cpu_percent: Option<f64>,
    /// Why nothing was measured (`bridge` without nats-server), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

impl Row {
    /// An empty row for `s`.
    fn new(s: Scenario, same_core: bool) -> Row {
        Row {
            mechanism: s.mechanism,
            variant: s.variant,
            size_bytes: s.size,
            same_core,
            rtt_p50_ns: None,
            rtt_p99_ns: None,
            rtt_p999_ns: None,
            rtt_samples: 0,
            msgs_per_s: None,
            bytes_per_s: None,
            idle_cpu_percent: None,
            skipped: None,
        }
    }
}

/// The rows of `rows` for one scenario.
pub(crate) fn find(rows: &[Row], mechanism: Mechanism, variant: Variant, size: usize) -> Option<&Row> {
    rows.iter().find(|r| r.mechanism == mechanism && r.variant == variant && r.size_bytes == size)
}

/// Where the two processes run: CPU numbers for the parent and the child.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Placement {
    pub parent: usize,
    pub child: usize,
}

impl Placement {
    /// From the CPUs allowed at the start: the first two, or the first twice.
    pub(crate) fn of(all: &[usize], same_core: bool) -> Placement {
        let parent = all.first().copied().unwrap_or(0);
        let child = if same_core { parent } else { all.get(1).copied().unwrap_or(parent) };
        Placement { parent, child }
    }
}

/// One-way throughput.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Rate {
    pub msgs_per_s: f64,
    pub bytes_per_s: f64,
}

pub(crate) fn fork(f: impl FnOnce() -> i32) -> Result<ipckit::process::Child, BenchError> {
    // SAFETY: the benchmark is single-threaded when it forks (the progress bar draws
    // from this thread only; the bridge scenario's own threads live in a child), so
    // the child may do anything before it exits with _exit.
    #[allow(unsafe_code)]
    unsafe { ipckit::process::fork_with(f) }.map_err(|e| e.to_string())
}

pub(crate) fn wait_child(child: ipckit::process::Child) -> Result<(), BenchError> {
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("the child process failed: {status}")) }
}

/// Kills and reaps `child` after the parent's side failed, and returns the error.
pub(crate) fn abandon<T>(child: ipckit::process::Child, e: BenchError) -> Result<T, BenchError> {
    let _ = child.kill(ipckit::process::Signal::Kill);
    let _ = child.wait();
    Err(e)
}

/// Child's code: run `body` on its side, pinned; report errors in the exit code.
fn child_main(
    setup: &mut dyn Setup,
    cpu: usize,
    body: impl FnOnce(&mut dyn Side) -> Result<(), BenchError>,
) -> i32 {
    if raw::pin(&[cpu]).is_err() {
        return 4;
    }
    let Ok(mut side) = setup.side(false) else { return 2 };
    match body(side.as_mut()) {
        Ok(()) => 0,
        Err(msg) => {
            eprintln!("ipckit-bench child: {msg}");
            3
        }
    }
}

/// Times round trips for `dur` after a warm-up fifth; the samples in ns, unsorted.
fn rtt(s: Scenario, dur: Duration, at: Placement) -> Result<Vec<u64>, BenchError> {
    let mut st = setup(s, at)?;
    let size = s.size;
    let child = fork(|| {
        child_main(st.as_mut(), at.child, |side| {
            let mut buf = vec![0u8; size];
            loop {
                side.recv(&mut buf)?;
                if buf[0] == STOP {
                    return Ok(());
                }
                side.send(&buf)?;
            }
        })
    })?;
    let result = (|| {
        raw::pin(&[at.parent])?;
        let mut side = st.side(true)?;
        let mut buf = vec![0u8; size];
        let mut samples = Vec::with_capacity(1 << 16);
        let warm = dur / 5;
        let start = Instant::now();
        loop {
            let t0 = Instant::now();
            buf[0] = 0;
            side.send(&buf)?;
            side.recv(&mut buf)?;
            let t1 = Instant::now();
            if t1 - start >= warm {
                samples.push((t1 - t0).as_nanos() as u64);
            }
            if t1 - start >= warm + dur || samples.len() >= 5_000_000 {
                break;
            }
        }
        buf[0] = STOP;
        side.send(&buf)?;
        Ok(samples)
    })();
    match result {
        Ok(samples) => wait_child(child).map(|()| samples),
        Err(e) => abandon(child, e),
    }
}

/// Counts the messages the child streams for `dur` after a warm-up fifth.
fn throughput(s: Scenario, dur: Duration, at: Placement) -> Result<Rate, BenchError> {
    let mut st = setup(s, at)?;
    let size = s.size;
    let child = fork(|| {
        child_main(st.as_mut(), at.child, |side| {
            let buf = vec![0u8; size];
            let end = Instant::now() + dur + dur / 5;
            let mut n = 0u64;
            loop {
                if n % 16 == 0 && Instant::now() >= end {
                    break;
                }
                side.send(&buf)?;
                n += 1;
            }
            let mut stop = buf;
            stop[0] = STOP;
            side.send(&stop)
        })
    })?;
    let result = (|| {
        raw::pin(&[at.parent])?;
        let mut side = st.side(true)?;
        let mut buf = vec![0u8; size];
        side.recv(&mut buf)?;
        // Skip a warm-up fifth, then count.
        let t_first = Instant::now();
        let mut count = 0u64;
        let mut t0 = t_first;
        loop {
            side.recv(&mut buf)?;
            if buf[0] == STOP {
                break;
            }
            if count == 0 && t0 == t_first && t_first.elapsed() < dur / 5 {
                continue;
            }
            if count == 0 {
                t0 = Instant::now();
            }
            count += 1;
        }
        let secs = t0.elapsed().as_secs_f64();
        if count == 0 || secs <= 0.0 {
            return Err("no message measured".to_string());
        }
        Ok(Rate { msgs_per_s: count as f64 / secs, bytes_per_s: count as f64 * size as f64 / secs })
    })();
    match result {
        Ok(rate) => wait_child(child).map(|()| rate),
        Err(e) => abandon(child, e),
    }
}

/// Single-copy bandwidth: `size`-byte messages copied from one buffer into successive
/// slots of a ring-sized buffer (the ring the channel would use), in one process.
fn memcpy(size: usize, dur: Duration, cpu: usize) -> Result<Rate, BenchError> {
    raw::pin(&[cpu])?;
    let ring = (4 * size).max(64 * 1024).next_power_of_two();
    let src = vec![0x5Au8; size];
    let mut dst = vec![0u8; ring];
    let slots = ring / size.max(1);
    let warm_end = Instant::now() + dur / 5;
    let mut i = 0usize;
    while Instant::now() < warm_end {
        let off = (i % slots) * size;
        dst[off..off + size].copy_from_slice(&src);
        i += 1;
    }
    let t0 = Instant::now();
    let mut n = 0u64;
    loop {
        for _ in 0..16 {
            let off = (i % slots) * size;
            dst[off..off + size].copy_from_slice(std::hint::black_box(&src));
            i += 1;
        }
        std::hint::black_box(&mut dst);
        n += 16;
        if t0.elapsed() >= dur {
            break;
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    Ok(Rate { msgs_per_s: n as f64 / secs, bytes_per_s: n as f64 * size as f64 / secs })
}

/// How many measurements `opts` makes (for a progress bar).
pub fn planned(opts: &Options) -> usize {
    rounds(opts) * scenarios(opts).iter().map(|s| s.measures().count()).sum::<usize>()
}

/// Runs the benchmark. `progress(done, total, what)` is called before each
/// measurement. Restores the calling process's CPU affinity at the end.
pub fn run(opts: &Options, mut progress: impl FnMut(usize, usize, &str)) -> Result<Vec<Row>, BenchError> {
    let total = planned(opts);
    let original = raw::allowed_cpus();
    let at = Placement::of(&original, opts.same_core);
    let mut counter = Counter { done: 0, total };
    let mut all = Vec::new();
    let mut result = Ok(());
    for round in 0..rounds(opts) {
        let mut rows = Vec::new();
        result = one_round(opts, at, round, &mut rows, &mut counter, &mut progress);
        all.push(rows);
        if result.is_err() {
            break;
        }
    }
    progress(counter.done, total, "done");
    let _ = raw::pin(&original);
    result.map(|()| combine(all))
}

/// Measurements done so far, of how many.
struct Counter {
    done: usize,
    total: usize,
}

fn one_round(
    opts: &Options,
    at: Placement,
    round: usize,
    rows: &mut Vec<Row>,
    counter: &mut Counter,
    progress: &mut impl FnMut(usize, usize, &str),
) -> Result<(), BenchError> {
    let dur = if opts.quick { Duration::from_millis(150) } else { Duration::from_millis(1000) };
    let nrounds = rounds(opts);
    for s in scenarios(opts) {
        let mut row = Row::new(s, opts.same_core);
        let label = if nrounds > 1 {
            format!("round {}/{nrounds}: {} {} {} B", round + 1, s.mechanism, s.variant, s.size)
        } else {
            format!("{} {} {} B", s.mechanism, s.variant, s.size)
        };
        let measures = s.measures();
        if matches!(s.mechanism, Mechanism::Bridge | Mechanism::BridgeJs)
            && let Err(why) = crate::bridge::nats_server()
        {
            progress(counter.done, counter.total, &format!("{label}: skipped, {why}"));
            row.skipped = Some(why);
            counter.done += measures.count();
            rows.push(row);
            continue;
        }
        if measures.idle_cpu {
            progress(counter.done, counter.total, &format!("{label}: idle receiver"));
            let idle = if opts.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
            row.idle_cpu_percent = Some(sides::idle_cpu_percent(idle)?);
            counter.done += 1;
        }
        if measures.round_trip {
            progress(counter.done, counter.total, &format!("{label}: round trip"));
            let mut samples = rtt(s, dur, at).map_err(|e| format!("{label}: {e}"))?;
            samples.sort_unstable();
            row.rtt_p50_ns = percentile(&samples, 0.50);
            row.rtt_p99_ns = percentile(&samples, 0.99);
            row.rtt_p999_ns = percentile(&samples, 0.999);
            row.rtt_samples = samples.len();
            counter.done += 1;
        }
        if measures.throughput {
            progress(counter.done, counter.total, &format!("{label}: throughput"));
            let rate = if s.mechanism == Mechanism::Memcpy {
                memcpy(s.size, dur, at.parent)?
            } else {
                throughput(s, dur, at).map_err(|e| format!("{label}: {e}"))?
            };
            row.msgs_per_s = Some(rate.msgs_per_s);
            row.bytes_per_s = Some(rate.bytes_per_s);
            counter.done += 1;
        }
        rows.push(row);
    }
    Ok(())
}
