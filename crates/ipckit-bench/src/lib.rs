//! # ipckit-bench — every IPC mechanism, side by side, on this machine
//!
//! Two measurements per mechanism and message size, each between two processes made
//! with `fork` and pinned with `sched_setaffinity` to different CPUs (or both to one
//! with [`Options::same_core`]):
//!
//! - **round trip**: the parent sends a message, the child sends it back; every round
//!   trip is timed, and the report gives the median, p99 and p99.9;
//! - **throughput**: the child sends messages back to back for a fixed time, the
//!   parent receives them; the report gives messages and bytes per second.
//!
//! Each kernel mechanism runs twice, through ipckit and as a raw libc loop of the same
//! protocol, so that ipckit's own cost shows as a ratio. Two baselines measured in
//! the same run bound what is possible: `spin-line` (two processes spinning on one
//! shared cache line: the round-trip floor), `spin-copy` and `spin-ring` (the same
//! carrying a payload, in one slot or through a ring) and `memcpy` (one process copying
//! messages into a ring-sized buffer: single-copy bandwidth).
//!
//! The ratios behind the targets come from [`compare`], which measures the two sides
//! of each ratio in alternating blocks in one pair of processes (see [`Comparison`]).
//!
//! ```no_run
//! let opts = ipckit_bench::Options { quick: true, ..ipckit_bench::Options::default() };
//! let rows = ipckit_bench::run(&opts, |_done, _total, _what| {})?;
//! let comparisons = ipckit_bench::compare(&opts, &rows, |_done, _total, _what| {})?;
//! println!("{}", ipckit_bench::table(&rows, &comparisons));
//! # Ok::<(), String>(())
//! ```

mod raw;
mod sides;
mod svg;

use std::time::{Duration, Instant};

use serde::Serialize;

pub use svg::plot;

/// An error of the benchmark, as text.
pub type BenchError = String;

/// The first byte of a message that ends a loop.
pub(crate) const STOP: u8 = 1;

/// One end of a mechanism, in one process.
pub(crate) trait Side {
    /// Sends one message (`data.len()` bytes).
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError>;
    /// Receives one message of `data.len()` bytes; `data[0]` carries its first byte.
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError>;
}

/// A mechanism's shared objects, made before `fork`; each process then takes its side.
/// Dropped in the parent, it removes what it made.
pub(crate) trait Setup {
    /// The parent's (`true`) or the child's side.
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError>;
}

/// A mechanism the benchmark knows.
///
/// To add one: a variant here (its doc comment's first line is its help in
/// `ipckit bench --help`; its command-line name is the variant in kebab-case, e.g.
/// `SysvMsg` is `sysv-msg`, checked against [`Mechanism::name`] by a test), an entry
/// in [`Mechanism::ALL`] and [`Mechanism::name`], its variants and measurements
/// below, and its setup in `sides.rs` (ipckit) or `raw.rs` (raw libc).
/// clap parses and lists the names, so nothing else keeps a list of them.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mechanism {
    /// Two pipes.
    Pipe,
    /// Two FIFOs.
    Fifo,
    /// A Unix stream socket pair.
    Uds,
    /// Unix seqpacket socket pair: one message per call.
    UdsSeqpacket,
    /// Unix datagram socket pair.
    UdsDgram,
    /// Unix seqpacket pair, each message carrying one descriptor (`SCM_RIGHTS`).
    UdsFd,
    /// Length-prefixed frames over loopback TCP (`TCP_NODELAY`).
    Tcp,
    /// A System V message queue.
    SysvMsg,
    /// System V semaphores handing off a System V shared-memory slot.
    SysvSem,
    /// Two POSIX message queues.
    PosixMq,
    /// The ipckit channel, adaptive waiting.
    Channel,
    /// The ipckit channel, spinning.
    ChannelSpin,
    /// The ipckit channel with loans and in-place reads, spinning.
    ChannelLoan,
    /// Baseline: two processes spinning on one shared cache line (round trip only).
    SpinLine,
    /// Baseline: the spin-line ping-pong carrying the payload (round trip only).
    ///
    /// The payload goes through one shared slot per direction: the floor for a
    /// message of the size.
    SpinCopy,
    /// Baseline: the bare ring protocol (round trip only).
    ///
    /// The payload behind a sequence word in successive 128-byte slots of a 64 KiB
    /// ring per direction, no framing, no checks: what any ring costs over
    /// `spin-copy`'s single slot.
    SpinRing,
    /// Baseline: `memcpy` in one process (throughput only).
    Memcpy,
    /// CPU used by a channel receiver blocked on an idle channel.
    ChannelIdle,
}

impl Mechanism {
    /// Every mechanism, in report order.
    pub const ALL: [Mechanism; 18] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::Uds,
        Mechanism::UdsSeqpacket,
        Mechanism::UdsDgram,
        Mechanism::UdsFd,
        Mechanism::Tcp,
        Mechanism::SysvMsg,
        Mechanism::SysvSem,
        Mechanism::PosixMq,
        Mechanism::Channel,
        Mechanism::ChannelSpin,
        Mechanism::ChannelLoan,
        Mechanism::SpinLine,
        Mechanism::SpinCopy,
        Mechanism::SpinRing,
        Mechanism::Memcpy,
        Mechanism::ChannelIdle,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::Uds => "uds",
            Mechanism::UdsSeqpacket => "uds-seqpacket",
            Mechanism::UdsDgram => "uds-dgram",
            Mechanism::UdsFd => "uds-fd",
            Mechanism::Tcp => "tcp",
            Mechanism::SysvMsg => "sysv-msg",
            Mechanism::SysvSem => "sysv-sem",
            Mechanism::PosixMq => "posix-mq",
            Mechanism::Channel => "channel",
            Mechanism::ChannelSpin => "channel-spin",
            Mechanism::ChannelLoan => "channel-loan",
            Mechanism::SpinLine => "spin-line",
            Mechanism::SpinCopy => "spin-copy",
            Mechanism::SpinRing => "spin-ring",
            Mechanism::Memcpy => "memcpy",
            Mechanism::ChannelIdle => "channel-idle",
        }
    }

    /// The mechanism with this name.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The largest message this mechanism carries here, if it has a limit.
    fn max_size(self) -> Option<usize> {
        match self {
            Mechanism::SysvMsg => Some(ipckit::Limit::MsgMax.current().unwrap_or(8192) as usize),
            Mechanism::PosixMq => Some(ipckit::Limit::MqMsgSizeMax.current().unwrap_or(8192) as usize),
            // A packet must fit the socket's send buffer (SO_SNDBUF, 208 KiB by default).
            Mechanism::UdsSeqpacket | Mechanism::UdsDgram | Mechanism::UdsFd => Some(64 * 1024),
            _ => None,
        }
    }

    /// The variants measured: `ipckit`, `raw`, or both.
    fn variants(self) -> &'static [&'static str] {
        match self {
            // ipckit has no socket module: the Unix socket runs as a raw loop only.
            Mechanism::Pipe
            | Mechanism::Fifo
            | Mechanism::Uds
            | Mechanism::UdsSeqpacket
            | Mechanism::UdsDgram
            | Mechanism::UdsFd
            | Mechanism::Tcp
            | Mechanism::SysvMsg
            | Mechanism::SysvSem
            | Mechanism::PosixMq => &["ipckit", "raw"],
            Mechanism::SpinLine | Mechanism::SpinCopy | Mechanism::SpinRing | Mechanism::Memcpy => &["raw"],
            _ => &["ipckit"],
        }
    }

    fn measures(self) -> (bool, bool) {
        match self {
            Mechanism::SpinLine | Mechanism::SpinCopy | Mechanism::SpinRing => (true, false),
            Mechanism::Memcpy => (false, true),
            Mechanism::ChannelIdle => (false, false),
            _ => (true, true),
        }
    }
}

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The mechanisms (empty: all).
    pub mechanisms: Vec<Mechanism>,
    /// Message sizes in bytes (empty: 8, 64, 4096, 65536, 1048576).
    pub sizes: Vec<usize>,
    /// Pin both processes to one CPU instead of two.
    pub same_core: bool,
    /// Short runs: the whole default set in well under a minute.
    pub quick: bool,
    /// How many times to run the whole set, interleaved (0: 1 with `quick`, else 3).
    /// Each figure of the report is the median over the rounds, so that a burst of
    /// noise from other work on the machine moves one round, not the result.
    pub rounds: usize,
}

/// The default message sizes.
pub const DEFAULT_SIZES: [usize; 5] = [8, 64, 4096, 65536, 1048576];

/// One line of the report.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Row {
    /// The mechanism's name.
    pub mechanism: String,
    /// `ipckit` or `raw`.
    pub variant: String,
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
}

/// What one scenario measures.
#[derive(Copy, Clone, Debug)]
struct Scenario {
    mechanism: Mechanism,
    variant: &'static str,
    size: usize,
}

fn scenarios(opts: &Options) -> Vec<Scenario> {
    // Report order, whatever the order asked for; each mechanism once.
    let mechs: Vec<Mechanism> = Mechanism::ALL
        .into_iter()
        .filter(|m| opts.mechanisms.is_empty() || opts.mechanisms.contains(m))
        .collect();
    let mut sizes = if opts.sizes.is_empty() { DEFAULT_SIZES.to_vec() } else { opts.sizes.clone() };
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = Vec::new();
    for m in mechs {
        if m == Mechanism::ChannelIdle {
            out.push(Scenario { mechanism: m, variant: "ipckit", size: 8 });
            continue;
        }
        for &size in &sizes {
            if m == Mechanism::SpinLine && size != sizes[0] {
                continue; // no payload: one size says it all
            }
            if m.max_size().is_some_and(|max| size > max) || size == 0 {
                continue;
            }
            for v in m.variants() {
                out.push(Scenario { mechanism: m, variant: v, size });
            }
        }
    }
    out
}

fn setup(s: Scenario) -> Result<Box<dyn Setup>, BenchError> {
    let raw = s.variant == "raw";
    let mq_depth = ipckit::Limit::MqMsgMax.current().unwrap_or(10).clamp(1, 10) as usize;
    Ok(match s.mechanism {
        Mechanism::Pipe if raw => Box::new(raw::RawPipe::new()?),
        Mechanism::Pipe => Box::new(sides::Pipe::new()?),
        Mechanism::Fifo if raw => Box::new(raw::RawFifo::new()?),
        Mechanism::Fifo => Box::new(sides::Fifo::new()?),
        Mechanism::Uds if raw => Box::new(raw::RawUds::new(raw::STREAM)?),
        Mechanism::Uds => Box::new(sides::Uds::stream()?),
        Mechanism::UdsSeqpacket if raw => Box::new(raw::RawUds::new(raw::SEQPACKET)?),
        Mechanism::UdsSeqpacket => Box::new(sides::Uds::seqpacket()?),
        Mechanism::UdsDgram if raw => Box::new(raw::RawUds::new(raw::DGRAM)?),
        Mechanism::UdsDgram => Box::new(sides::Uds::datagram()?),
        Mechanism::UdsFd if raw => Box::new(raw::RawUdsFd::new()?),
        Mechanism::UdsFd => Box::new(sides::UdsFd::new()?),
        Mechanism::Tcp if raw => Box::new(raw::RawTcp::new()?),
        Mechanism::Tcp => Box::new(sides::Tcp::new()?),
        Mechanism::SysvMsg if raw => Box::new(raw::RawSysvMsg::new()?),
        Mechanism::SysvMsg => Box::new(sides::SysvMsg::new()?),
        Mechanism::SysvSem if raw => Box::new(raw::RawSysvSem::new(s.size)?),
        Mechanism::SysvSem => Box::new(sides::SysvSem::new(s.size)?),
        Mechanism::PosixMq if raw => Box::new(raw::RawPosixMq::new(s.size, mq_depth)?),
        Mechanism::PosixMq => Box::new(sides::PosixMq::new(s.size, mq_depth)?),
        Mechanism::Channel => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Adaptive)?),
        Mechanism::ChannelSpin => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Spin)?),
        Mechanism::ChannelLoan => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Loan)?),
        Mechanism::SpinLine => Box::new(raw::SpinLine::new()?),
        Mechanism::SpinCopy => Box::new(raw::SpinCopy::new(s.size, 1)?),
        Mechanism::SpinRing => Box::new(raw::SpinCopy::new(s.size, 64 * 1024)?),
        Mechanism::Memcpy | Mechanism::ChannelIdle => return Err("not a two-process loop".into()),
    })
}

pub(crate) fn fork(f: impl FnOnce() -> i32) -> Result<ipckit::process::Child, BenchError> {
    // SAFETY: the benchmark is single-threaded (the progress bar draws from this thread
    // only), so the child may do anything before it exits with _exit.
    #[allow(unsafe_code)]
    unsafe { ipckit::process::fork_with(f) }.map_err(|e| e.to_string())
}

pub(crate) fn wait_child(child: ipckit::process::Child) -> Result<(), BenchError> {
    let status = child.wait().map_err(|e| e.to_string())?;
    if status.success() { Ok(()) } else { Err(format!("the child process failed: {status}")) }
}

/// Which CPUs the parent and the child run on, from the CPUs allowed at the start.
fn cpus(all: &[usize], same_core: bool) -> (usize, usize) {
    let a = all.first().copied().unwrap_or(0);
    let b = if same_core { a } else { all.get(1).copied().unwrap_or(a) };
    (a, b)
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

fn rtt(s: Scenario, dur: Duration, (pc, cc): (usize, usize)) -> Result<Vec<u64>, BenchError> {
    let mut st = setup(s)?;
    let size = s.size;
    let child = fork(|| {
        child_main(st.as_mut(), cc, |side| {
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
        raw::pin(&[pc])?;
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
    if result.is_err() {
        let _ = child.kill(ipckit::process::Signal::Kill);
        let _ = child.wait();
        return result;
    }
    wait_child(child)?;
    result
}

fn throughput(s: Scenario, dur: Duration, (pc, cc): (usize, usize)) -> Result<(f64, f64), BenchError> {
    let mut st = setup(s)?;
    let size = s.size;
    let child = fork(|| {
        child_main(st.as_mut(), cc, |side| {
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
        raw::pin(&[pc])?;
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
        Ok((count as f64 / secs, count as f64 * size as f64 / secs))
    })();
    if result.is_err() {
        let _ = child.kill(ipckit::process::Signal::Kill);
        let _ = child.wait();
        return result;
    }
    wait_child(child)?;
    result
}

/// Single-copy bandwidth: `size`-byte messages copied from one buffer into successive
/// slots of a ring-sized buffer (the ring the channel would use), in one process.
fn memcpy(size: usize, dur: Duration, cpu: usize) -> Result<(f64, f64), BenchError> {
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
    Ok((n as f64 / secs, n as f64 * size as f64 / secs))
}

fn percentile(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    Some(sorted[idx] as f64)
}

fn rounds(opts: &Options) -> usize {
    match opts.rounds {
        0 if opts.quick => 1,
        0 => 3,
        n => n,
    }
}

/// How many measurements `opts` makes (for a progress bar).
pub fn planned(opts: &Options) -> usize {
    rounds(opts)
        * scenarios(opts)
            .iter()
            .map(|s| {
                let (r, t) = s.mechanism.measures();
                usize::from(r) + usize::from(t) + usize::from(s.mechanism == Mechanism::ChannelIdle)
            })
            .sum::<usize>()
}

/// Runs the benchmark. `progress(done, total, what)` is called before each
/// measurement. Restores the calling process's CPU affinity at the end.
pub fn run(opts: &Options, mut progress: impl FnMut(usize, usize, &str)) -> Result<Vec<Row>, BenchError> {
    let total = planned(opts);
    let original = raw::allowed_cpus();
    let placement = cpus(&original, opts.same_core);
    let mut done = 0;
    let mut all = Vec::new();
    let mut result = Ok(());
    for round in 0..rounds(opts) {
        let mut rows = Vec::new();
        result = one_round(opts, placement, round, &mut rows, &mut done, total, &mut progress);
        all.push(rows);
        if result.is_err() {
            break;
        }
    }
    progress(done, total, "done");
    let _ = raw::pin(&original);
    result.map(|()| combine(all))
}

/// The median of `v` (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// The median of each figure over the rounds.
fn combine(mut rounds: Vec<Vec<Row>>) -> Vec<Row> {
    let Some(mut out) = rounds.pop() else { return Vec::new() };
    if rounds.is_empty() {
        return out;
    }
    for (i, row) in out.iter_mut().enumerate() {
        let others: Vec<&Row> = rounds.iter().filter_map(|r| r.get(i)).collect();
        let pick = |f: fn(&Row) -> Option<f64>, row: &Row| {
            median(others.iter().filter_map(|r| f(r)).chain(f(row)).collect())
        };
        let combined = Row {
            rtt_p50_ns: pick(|r| r.rtt_p50_ns, row),
            rtt_p99_ns: pick(|r| r.rtt_p99_ns, row),
            rtt_p999_ns: pick(|r| r.rtt_p999_ns, row),
            rtt_samples: row.rtt_samples + others.iter().map(|r| r.rtt_samples).sum::<usize>(),
            msgs_per_s: pick(|r| r.msgs_per_s, row),
            bytes_per_s: pick(|r| r.bytes_per_s, row),
            idle_cpu_percent: pick(|r| r.idle_cpu_percent, row),
            ..row.clone()
        };
        *row = combined;
    }
    out
}

fn one_round(
    opts: &Options,
    placement: (usize, usize),
    round: usize,
    rows: &mut Vec<Row>,
    done: &mut usize,
    total: usize,
    progress: &mut impl FnMut(usize, usize, &str),
) -> Result<(), BenchError> {
    let dur = if opts.quick { Duration::from_millis(150) } else { Duration::from_millis(1000) };
    let nrounds = rounds(opts);
    {
        for s in scenarios(opts) {
            let mut row = Row {
                mechanism: s.mechanism.name().to_string(),
                variant: s.variant.to_string(),
                size_bytes: s.size,
                same_core: opts.same_core,
                rtt_p50_ns: None,
                rtt_p99_ns: None,
                rtt_p999_ns: None,
                rtt_samples: 0,
                msgs_per_s: None,
                bytes_per_s: None,
                idle_cpu_percent: None,
            };
            let label = if nrounds > 1 {
                format!(
                    "round {}/{nrounds}: {} {} {} B",
                    round + 1,
                    row.mechanism,
                    row.variant,
                    row.size_bytes
                )
            } else {
                format!("{} {} {} B", row.mechanism, row.variant, row.size_bytes)
            };
            let (do_rtt, do_thr) = s.mechanism.measures();
            if s.mechanism == Mechanism::ChannelIdle {
                progress(*done, total, &format!("{label}: idle receiver"));
                let idle = if opts.quick { Duration::from_millis(500) } else { Duration::from_secs(2) };
                row.idle_cpu_percent = Some(sides::idle_cpu_percent(idle)?);
                *done += 1;
            }
            if do_rtt {
                progress(*done, total, &format!("{label}: round trip"));
                let mut samples = rtt(s, dur, placement).map_err(|e| format!("{label}: {e}"))?;
                samples.sort_unstable();
                row.rtt_p50_ns = percentile(&samples, 0.50);
                row.rtt_p99_ns = percentile(&samples, 0.99);
                row.rtt_p999_ns = percentile(&samples, 0.999);
                row.rtt_samples = samples.len();
                *done += 1;
            }
            if do_thr {
                progress(*done, total, &format!("{label}: throughput"));
                let (m, b) = if s.mechanism == Mechanism::Memcpy {
                    memcpy(s.size, dur, placement.0)?
                } else {
                    throughput(s, dur, placement).map_err(|e| format!("{label}: {e}"))?
                };
                row.msgs_per_s = Some(m);
                row.bytes_per_s = Some(b);
                *done += 1;
            }
            rows.push(row);
        }
    }
    Ok(())
}

/// Two scenarios measured in alternating blocks in one pair of processes.
///
/// On a shared VM the cost of a cache-line transfer changes by 3x from one second to
/// the next, as the host moves the virtual CPUs: figures measured a second apart do
/// not make a fair ratio. Here both scenarios live in the same two processes, which
/// run a block of one (about a millisecond), then a block of the other, many times;
/// each pair of adjacent blocks gives a ratio, and the report is the median of those
/// ratios. A change of regime then moves a block or two, not the result.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Comparison {
    /// What is compared, e.g. `channel-spin 64 B round trip / spin-line`.
    pub what: String,
    /// The target, e.g. `<= 1.3` (`-` for information only).
    pub wanted: String,
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

/// One side of a paired measurement: the scenario and its operations per block.
#[derive(Copy, Clone, Debug)]
struct Half {
    scenario: Scenario,
    per_block: u64,
}

/// Runs `blocks` pairs of alternating blocks of `a` and `b` (after two warm-up pairs)
/// and returns each block's mean time per operation in ns, for `a` and for `b`.
/// `stream`: the child sends `per_block` messages one way after a go-ahead (throughput);
/// otherwise each operation is a round trip.
fn paired(
    a: Half,
    b: Half,
    stream: bool,
    blocks: usize,
    (pc, cc): (usize, usize),
) -> Result<(Vec<f64>, Vec<f64>), BenchError> {
    const WARM: usize = 2;
    let size = a.scenario.size.max(b.scenario.size);
    let (mut sa, mut sb) = (setup(a.scenario)?, setup(b.scenario)?);
    let halves = [a.per_block, b.per_block];
    let child = fork(|| {
        if raw::pin(&[cc]).is_err() {
            return 4;
        }
        let (Ok(x), Ok(y)) = (sa.side(false), sb.side(false)) else { return 2 };
        let mut sides = [x, y];
        let r = (|| -> Result<(), BenchError> {
            let mut buf = vec![0u8; size];
            for _ in 0..blocks + WARM {
                for (side, &k) in sides.iter_mut().zip(&halves) {
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
        raw::pin(&[pc])?;
        let mut sides = [sa.side(true)?, sb.side(true)?];
        let mut buf = vec![0u8; size];
        let mut times: [Vec<f64>; 2] = [Vec::with_capacity(blocks), Vec::with_capacity(blocks)];
        for block in 0..blocks + WARM {
            for (i, (side, &k)) in sides.iter_mut().zip(&halves).enumerate() {
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
        Ok([ta, tb]) => {
            wait_child(child)?;
            Ok((ta, tb))
        }
        Err(e) => {
            let _ = child.kill(ipckit::process::Signal::Kill);
            let _ = child.wait();
            Err(e)
        }
    }
}

/// The comparisons behind ipckit's performance targets, for the mechanisms and sizes in
/// `rows`, each measured in alternating blocks (see [`Comparison`]). `progress(done, total, what)` is called
/// before each one.
pub fn compare(
    opts: &Options,
    rows: &[Row],
    mut progress: impl FnMut(usize, usize, &str),
) -> Result<Vec<Comparison>, BenchError> {
    // (what, wanted, a, b, stream)
    let mut plan: Vec<(String, String, Scenario, Scenario, bool)> = Vec::new();
    let sc = |m: Mechanism, variant: &'static str, size: usize| Scenario { mechanism: m, variant, size };
    let have = |m: &str, v: &str, size: usize| find(rows, m, v, size).is_some();
    let spin_line = rows.iter().any(|r| r.mechanism == "spin-line");
    for (m, name, limit) in
        [(Mechanism::ChannelSpin, "channel-spin", "<= 1.3"), (Mechanism::Channel, "channel", "<= 2")]
    {
        if spin_line && have(name, "ipckit", 64) {
            let what = format!("{name} 64 B round trip / spin-line");
            plan.push((what, limit.into(), sc(m, "ipckit", 64), sc(Mechanism::SpinLine, "raw", 64), false));
        }
        if have("spin-copy", "raw", 64) && have(name, "ipckit", 64) {
            let what = format!("{name} 64 B round trip / spin-copy 64 B");
            plan.push((what, "-".into(), sc(m, "ipckit", 64), sc(Mechanism::SpinCopy, "raw", 64), false));
        }
    }
    if spin_line && have("spin-copy", "raw", 64) {
        let what = "spin-copy 64 B round trip / spin-line (the cost of a 64-byte payload)".to_string();
        plan.push((
            what,
            "-".into(),
            sc(Mechanism::SpinCopy, "raw", 64),
            sc(Mechanism::SpinLine, "raw", 64),
            false,
        ));
    }
    if spin_line && have("spin-ring", "raw", 64) {
        let what = "spin-ring 64 B round trip / spin-line (the cost of any ring)".to_string();
        plan.push((
            what,
            "-".into(),
            sc(Mechanism::SpinRing, "raw", 64),
            sc(Mechanism::SpinLine, "raw", 64),
            false,
        ));
    }
    if have("spin-ring", "raw", 64) {
        for (m, name) in [(Mechanism::ChannelSpin, "channel-spin"), (Mechanism::Channel, "channel")] {
            if have(name, "ipckit", 64) {
                let what = format!("{name} 64 B round trip / spin-ring (the channel's own cost)");
                plan.push((what, "-".into(), sc(m, "ipckit", 64), sc(Mechanism::SpinRing, "raw", 64), false));
            }
        }
    }
    for v in ["ipckit", "raw"] {
        if have("uds-fd", v, 64) && have("uds-seqpacket", v, 64) {
            let what =
                format!("uds-fd 64 B round trip / uds-seqpacket 64 B, {v} (passing one descriptor each way)");
            plan.push((
                what,
                "-".into(),
                sc(Mechanism::UdsFd, v, 64),
                sc(Mechanism::UdsSeqpacket, v, 64),
                false,
            ));
        }
    }
    for r in rows.iter().filter(|r| r.variant == "ipckit" && r.size_bytes >= 8) {
        let Some(m) = Mechanism::from_name(&r.mechanism) else { continue };
        if !have(&r.mechanism, "raw", r.size_bytes) {
            continue;
        }
        let (a, b) = (sc(m, "ipckit", r.size_bytes), sc(m, "raw", r.size_bytes));
        if r.rtt_p50_ns.is_some() {
            let what = format!("{} {} B round trip, ipckit / raw", r.mechanism, r.size_bytes);
            plan.push((what, "<= 1.05".into(), a, b, false));
        }
        if r.msgs_per_s.is_some() {
            let what =
                format!("{} {} B time per message (throughput), ipckit / raw", r.mechanism, r.size_bytes);
            plan.push((what, "<= 1.05".into(), a, b, true));
        }
    }
    let (blocks, block) =
        if opts.quick { (20, Duration::from_micros(800)) } else { (100, Duration::from_millis(2)) };
    let per_block = |s: Scenario, stream: bool| -> u64 {
        let row = find(rows, s.mechanism.name(), s.variant, s.size)
            .or_else(|| rows.iter().find(|r| r.mechanism == s.mechanism.name()));
        let per_op_ns = match (row, stream) {
            (Some(r), false) => r.rtt_p50_ns,
            (Some(r), true) => r.msgs_per_s.map(|m| 1e9 / m),
            (None, _) => None,
        }
        .unwrap_or(100_000.0)
        .max(1.0);
        ((block.as_nanos() as f64 / per_op_ns) as u64).clamp(2, 1 << 20)
    };
    let original = raw::allowed_cpus();
    let placement = cpus(&original, opts.same_core);
    let total = plan.len();
    let mut out = Vec::new();
    for (i, (what, wanted, a, b, stream)) in plan.into_iter().enumerate() {
        progress(i, total, &format!("paired: {what}"));
        let (ta, tb) = paired(
            Half { scenario: a, per_block: per_block(a, stream) },
            Half { scenario: b, per_block: per_block(b, stream) },
            stream,
            blocks,
            placement,
        )
        .map_err(|e| format!("{what}: {e}"))?;
        let mut ratios: Vec<f64> = ta.iter().zip(&tb).map(|(x, y)| x / y).collect();
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ratios.len() as f64 * p) as usize).min(ratios.len() - 1)];
        let ratio_p50 = q(0.5);
        let met = match wanted.split_once(' ') {
            Some(("<=", v)) => v.parse::<f64>().is_ok_and(|v| ratio_p50 <= v),
            _ => true,
        };
        out.push(Comparison {
            what,
            wanted,
            a_p50_ns: median(ta).unwrap_or(0.0),
            b_p50_ns: median(tb).unwrap_or(0.0),
            ratio_p50,
            ratio_p10: q(0.1),
            ratio_p90: q(0.9),
            blocks: ratios.len(),
            met,
        });
    }
    progress(total, total, "done");
    let _ = raw::pin(&original);
    Ok(out)
}

fn find<'a>(rows: &'a [Row], mech: &str, variant: &str, size: usize) -> Option<&'a Row> {
    rows.iter().find(|r| r.mechanism == mech && r.variant == variant && r.size_bytes == size)
}

/// ipckit's performance targets as ratios of figures from the same run, where both figures are
/// there: `(what, measured ratio, target, met)`.
pub fn checks(rows: &[Row]) -> Vec<(String, f64, String, bool)> {
    let mut out = Vec::new();
    let floor = rows.iter().find(|r| r.mechanism == "spin-line").and_then(|r| r.rtt_p50_ns);
    if let Some(floor) = floor {
        for (mech, limit) in [("channel-spin", 1.3), ("channel", 2.0)] {
            if let Some(p50) = find(rows, mech, "ipckit", 64).and_then(|r| r.rtt_p50_ns) {
                let ratio = p50 / floor;
                out.push((
                    format!("{mech} 64 B round trip / spin-line"),
                    ratio,
                    format!("<= {limit}"),
                    ratio <= limit,
                ));
            }
        }
    }
    let big = 1048576;
    if let Some(copy) = find(rows, "memcpy", "raw", big).and_then(|r| r.bytes_per_s) {
        for (mech, limit, cmp) in [("channel", 0.7, ">="), ("channel-loan", 1.0, ">")] {
            if let Some(bw) = find(rows, mech, "ipckit", big).and_then(|r| r.bytes_per_s) {
                let ratio = bw / copy;
                let met = if cmp == ">" { ratio > limit } else { ratio >= limit };
                out.push((format!("{mech} 1 MiB throughput / memcpy"), ratio, format!("{cmp} {limit}"), met));
            }
        }
    }
    for r in rows.iter().filter(|r| r.variant == "ipckit") {
        if let (Some(a), Some(b)) =
            (r.rtt_p50_ns, find(rows, &r.mechanism, "raw", r.size_bytes).and_then(|raw| raw.rtt_p50_ns))
        {
            let ratio = a / b;
            out.push((
                format!("{} {} B round trip, ipckit / raw", r.mechanism, r.size_bytes),
                ratio,
                "<= 1.05".to_string(),
                ratio <= 1.05,
            ));
        }
    }
    for r in rows.iter().filter(|r| r.variant == "ipckit") {
        if let (Some(a), Some(b)) =
            (r.msgs_per_s, find(rows, &r.mechanism, "raw", r.size_bytes).and_then(|raw| raw.msgs_per_s))
        {
            // Time per message, ipckit over raw: above 1 means ipckit is slower.
            let ratio = b / a;
            out.push((
                format!("{} {} B time per message (throughput), ipckit / raw", r.mechanism, r.size_bytes),
                ratio,
                "<= 1.05".to_string(),
                ratio <= 1.05,
            ));
        }
    }
    if let Some(idle) = rows.iter().find_map(|r| r.idle_cpu_percent) {
        out.push(("idle blocked receiver, % of a core".to_string(), idle, "< 1".to_string(), idle < 1.0));
    }
    out
}

fn fmt_ns(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(ns) if ns < 10_000.0 => format!("{:.2} µs", ns / 1000.0),
        Some(ns) if ns < 10_000_000.0 => format!("{:.0} µs", ns / 1000.0),
        Some(ns) => format!("{:.1} ms", ns / 1e6),
    }
}

fn fmt_rate(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1e9 => format!("{:.2} G{unit}", x / 1e9),
        Some(x) if x >= 1e6 => format!("{:.2} M{unit}", x / 1e6),
        Some(x) if x >= 1e3 => format!("{:.1} k{unit}", x / 1e3),
        Some(x) => format!("{x:.0} {unit}"),
    }
}

/// The report as a Markdown table (it reads well on a terminal too), followed by the
/// target checks: the paired comparisons first (see [`Comparison`]), then the checks
/// from separately measured figures that no comparison covers.
pub fn table(rows: &[Row], comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    out.push_str("| mechanism | variant | size | rtt p50 | rtt p99 | rtt p99.9 | msgs/s | bytes/s |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        if let Some(idle) = r.idle_cpu_percent {
            out.push_str(&format!(
                "| {} | {} | - | idle receiver: {idle:.3}% of a core | | | | |\n",
                r.mechanism, r.variant
            ));
            continue;
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.mechanism,
            r.variant,
            r.size_bytes,
            fmt_ns(r.rtt_p50_ns),
            fmt_ns(r.rtt_p99_ns),
            fmt_ns(r.rtt_p999_ns),
            fmt_rate(r.msgs_per_s, ""),
            fmt_rate(r.bytes_per_s, "B/s"),
        ));
    }
    if !comparisons.is_empty() {
        out.push_str(
            "\nPaired comparisons (alternating ~1 ms blocks in one pair of processes; median ratio \
             of adjacent blocks, p10-p90 in brackets):\n\n",
        );
        out.push_str("| target | a | b | ratio a/b | wanted | met |\n|---|---:|---:|---:|---|---|\n");
        for c in comparisons {
            out.push_str(&format!(
                "| {} | {} | {} | {:.3} [{:.2}-{:.2}] | {} | {} |\n",
                c.what,
                fmt_ns(Some(c.a_p50_ns)),
                fmt_ns(Some(c.b_p50_ns)),
                c.ratio_p50,
                c.ratio_p10,
                c.ratio_p90,
                c.wanted,
                if c.wanted == "-" {
                    "-"
                } else if c.met {
                    "yes"
                } else {
                    "NO"
                }
            ));
        }
    }
    let covered =
        |what: &str| comparisons.iter().any(|c| c.what == what || c.what.starts_with(&format!("{what} ")));
    let checks: Vec<_> = checks(rows).into_iter().filter(|c| !covered(&c.0)).collect();
    if !checks.is_empty() {
        out.push_str("\n| target (separate measurements) | measured | wanted | met |\n|---|---:|---|---|\n");
        for (what, ratio, want, met) in checks {
            out.push_str(&format!("| {what} | {ratio:.3} | {want} | {} |\n", if met { "yes" } else { "NO" }));
        }
    }
    out
}

/// A one-line description of this machine: CPU model, CPUs, kernel.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {} CPUs, Linux {}", raw::allowed_cpus().len(), kernel.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_respect_limits_and_variants() {
        let opts =
            Options { mechanisms: vec![Mechanism::SysvMsg, Mechanism::SpinLine], ..Options::default() };
        let s = scenarios(&opts);
        assert!(s.iter().all(|s| s.mechanism != Mechanism::SysvMsg || s.size <= 8192));
        assert_eq!(s.iter().filter(|s| s.mechanism == Mechanism::SpinLine).count(), 1);
        assert!(s.iter().any(|s| s.variant == "raw") && s.iter().any(|s| s.variant == "ipckit"));
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn command_line_names_are_the_report_names() {
        use clap::ValueEnum;
        assert_eq!(Mechanism::value_variants(), &Mechanism::ALL[..], "ALL lists every variant, in order");
        for m in Mechanism::ALL {
            let pv = m.to_possible_value().expect("every mechanism is listed");
            assert_eq!(pv.get_name(), m.name());
            assert!(pv.get_help().is_some(), "{} has no help line", m.name());
        }
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 0.5), Some(500.0));
        assert_eq!(percentile(&v, 0.99), Some(990.0));
        assert_eq!(percentile(&v, 0.999), Some(999.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    #[test]
    fn a_quick_run_of_a_few_mechanisms_measures_them() {
        let opts = Options {
            mechanisms: vec![
                Mechanism::Pipe,
                Mechanism::ChannelSpin,
                Mechanism::SysvSem,
                Mechanism::SpinLine,
            ],
            sizes: vec![64],
            quick: true,
            ..Options::default()
        };
        let rows = run(&opts, |_, _, _| {}).unwrap();
        assert_eq!(rows.len(), 6);
        for r in &rows {
            assert!(r.rtt_p50_ns.is_some_and(|v| v > 0.0) && r.rtt_samples > 0, "{r:?}");
            assert!(r.rtt_p50_ns <= r.rtt_p99_ns && r.rtt_p99_ns <= r.rtt_p999_ns);
        }
        let comps = compare(&opts, &rows, |_, _, _| {}).unwrap();
        // channel-spin vs spin-line, pipe and sysv-sem ipckit vs raw (round trip and stream).
        assert!(comps.iter().any(|c| c.what.starts_with("channel-spin 64 B round trip / spin-line")));
        assert!(comps.iter().any(|c| c.what == "pipe 64 B time per message (throughput), ipckit / raw"));
        for c in &comps {
            assert!(c.ratio_p10 <= c.ratio_p50 && c.ratio_p50 <= c.ratio_p90, "{c:?}");
            assert!(c.a_p50_ns > 0.0 && c.b_p50_ns > 0.0 && c.blocks > 0, "{c:?}");
        }
        let t = table(&rows, &comps);
        assert!(t.contains("channel-spin") && t.contains("spin-line") && t.contains("Paired"));
        let svg = plot(&rows);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
