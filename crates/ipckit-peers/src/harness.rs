//! The paired harness: two variants of a link, measured in alternating blocks inside one
//! pinned process pair, every message checked by its sequence number.
//!
//! A *link* ([`Link`]) is made in the parent before `fork`; each process then takes its
//! *end* ([`End`]). The child runs whatever the parent asks through a command pipe: `k`
//! echoes (round trips) or `k` messages sent back to back (one-way stream; for
//! publish/subscribe the child publishes and the parent's end holds every subscriber).
//! The parent times each block, leaving out the first operation (it includes the child
//! waking up on the command pipe), and the report is the median of the ratios of adjacent
//! blocks, with p10 and p90: a burst of load from another process moves a block or two,
//! not the result. This is the method of `ipckit bench`'s paired comparisons
//! (crates/ipckit-bench/src/lib.rs, `paired`).

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde::Serialize;

/// An error of the benchmark, as text.
pub type BenchError = String;

/// How a message is read. Either way the sender writes the whole message: from its own
/// buffer through the peer's send call, or into room loaned in shared memory.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The receiver copies the message out into its own buffer (or gets a fresh one).
    Copy,
    /// Where the peer can loan: the sender writes into loaned shared memory and the
    /// receiver reads the message where it lies (its two stamps), no copy out.
    Loan,
    /// As [`Loan`](Self::Loan), and the receiver also reads every byte of the message
    /// where it lies ([`sum_words`], the same loop for every peer): a consumer that
    /// uses the whole message, so that it takes about as long as the producer.
    LoanRead,
}

/// Reads every byte of `len` bytes at `p` as unaligned 8-byte words (the last partial
/// word byte by byte) and returns their wrapping sum: the same work for every peer's
/// in-place receive.
///
/// # Safety
/// `p` is valid for reads of `len` bytes for the duration of the call.
pub unsafe fn sum_words(p: *const u8, len: usize) -> u64 {
    let mut sum = 0u64;
    let mut off = 0;
    while off + 8 <= len {
        // SAFETY: `off + 8 <= len`, inside the range the caller vouches for.
        sum = sum.wrapping_add(unsafe { std::ptr::read_unaligned(p.add(off).cast::<u64>()) });
        off += 8;
    }
    while off < len {
        // SAFETY: `off < len`, as above.
        sum = sum.wrapping_add(u64::from(unsafe { p.add(off).read() }));
        off += 1;
    }
    std::hint::black_box(sum)
}

/// What a link carries.
#[derive(Copy, Clone, Debug)]
pub struct Spec {
    /// Bytes per message (at least 8).
    pub size: usize,
    /// Copy or zero-copy.
    pub mode: Mode,
    /// Subscribers in the parent (publish/subscribe); 1 for a plain link.
    pub subscribers: usize,
    /// Messages the receiving side can hold before the sender waits.
    pub slots: usize,
}

impl Spec {
    /// A plain two-way link of `size`-byte messages.
    pub fn new(size: usize, mode: Mode) -> Spec {
        Spec { size, mode, subscribers: 1, slots: slots_for(size) }
    }
}

/// Messages in flight for a message size: enough to fill 64 KiB, between 4 and 64. Every
/// peer gets the same number, so that none wins by buffering more. (ipckit's ring of
/// `slots × size` bytes holds one message fewer, for the record headers: 3 of 1 MiB,
/// 15 of 4 KiB; iceoryx2 holds `slots` per subscriber.)
pub fn slots_for(size: usize) -> usize {
    (64 * 1024 / size.max(1)).clamp(4, 64)
}

/// One process's end of a link.
pub trait End {
    /// Waits until the other end is connected, so that no message sent now is lost.
    fn ready(&mut self) -> Result<(), BenchError> {
        Ok(())
    }
    /// Sends message number `seq` (stamped into the message).
    fn send(&mut self, seq: u64) -> Result<(), BenchError>;
    /// Receives the next message (on every subscriber) and checks that it is `seq`.
    fn recv(&mut self, seq: u64) -> Result<(), BenchError>;
}

/// A link's shared objects, made in the parent before `fork`. Dropping it in the parent
/// removes what it made.
pub trait Link {
    /// The parent's (`true`) or the child's end. Called once per process after `fork`.
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError>;
}

/// A named way of making links.
#[derive(Copy, Clone)]
pub struct Variant {
    /// The name shown in the report.
    pub name: &'static str,
    /// Makes a link for a spec.
    pub make: fn(&Spec) -> Result<Box<dyn Link>, BenchError>,
}

/// An end that counts: it sends 0, 1, 2, … and expects the same on receive.
struct Counted {
    end: Box<dyn End>,
    tx: u64,
    rx: u64,
}

impl Counted {
    fn send(&mut self) -> Result<(), BenchError> {
        self.end.send(self.tx)?;
        self.tx += 1;
        Ok(())
    }
    fn recv(&mut self) -> Result<(), BenchError> {
        self.end.recv(self.rx)?;
        self.rx += 1;
        Ok(())
    }
}

/// Writes `seq` at the start of `buf` and, when there is room for both, at its end.
pub fn stamp(buf: &mut [u8], seq: u64) {
    let b = seq.to_le_bytes();
    buf[..8].copy_from_slice(&b);
    let n = buf.len();
    if n >= 16 {
        buf[n - 8..].copy_from_slice(&b);
    }
}

/// Checks a received message's length and both stamps (`head`, `tail`: its first and last
/// 8 bytes, `tail` ignored below 16 bytes).
pub fn check(
    who: &str,
    len: usize,
    want_len: usize,
    head: [u8; 8],
    tail: [u8; 8],
    seq: u64,
) -> Result<(), BenchError> {
    if len != want_len {
        return Err(format!("{who}: message {seq} has {len} bytes, expected {want_len}"));
    }
    let h = u64::from_le_bytes(head);
    if h != seq {
        return Err(format!("{who}: expected message {seq}, got {h} (lost, duplicated or reordered)"));
    }
    if len >= 16 && u64::from_le_bytes(tail) != seq {
        return Err(format!("{who}: message {seq} is torn: its tail says {}", u64::from_le_bytes(tail)));
    }
    Ok(())
}

/// The first and last 8 bytes of a message held in `buf`.
pub fn ends_of(buf: &[u8]) -> ([u8; 8], [u8; 8]) {
    let mut h = [0u8; 8];
    let mut t = [0u8; 8];
    let n = buf.len().min(8);
    h[..n].copy_from_slice(&buf[..n]);
    if buf.len() >= 16 {
        t.copy_from_slice(&buf[buf.len() - 8..]);
    }
    (h, t)
}

/// A busy-poll loop that gives up after a long time, so that a peer that died or lost a
/// message fails the run instead of hanging it.
pub struct Poll {
    spins: u32,
    since: Option<Instant>,
}

/// How long a poll waits before it calls the peer lost.
pub const POLL_LIMIT: Duration = Duration::from_secs(20);

impl Poll {
    /// A fresh poll.
    pub fn new() -> Poll {
        Poll { spins: 0, since: None }
    }
    /// One more turn of the loop: an error once [`POLL_LIMIT`] has passed.
    pub fn tick(&mut self, what: &str) -> Result<(), BenchError> {
        self.spins = self.spins.wrapping_add(1);
        if self.spins.is_multiple_of(4096) {
            let since = *self.since.get_or_insert_with(Instant::now);
            if since.elapsed() > POLL_LIMIT {
                return Err(format!("{what}: nothing for {} s; is the peer alive?", POLL_LIMIT.as_secs()));
            }
        }
        std::hint::spin_loop();
        Ok(())
    }
}

/// Pins the calling process to one CPU: `sched_setaffinity(0, …)`.
pub fn pin(cpu: usize) -> Result<(), BenchError> {
    // SAFETY: cpu_set_t is plain data; zeroed is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid cpu_set_t and `cpu` is checked against its size.
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("sched_setaffinity: CPU {cpu} out of range"));
    }
    // SAFETY: `set` is a valid, initialised cpu_set_t and `cpu` < CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: the pointer and size describe `set`, which lives across the call.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(format!("sched_setaffinity(CPU {cpu}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Forks a child that runs `f` and exits with its return value.
pub fn fork(f: impl FnOnce() -> i32) -> Result<ipckit::process::Child, BenchError> {
    // SAFETY: the benchmark is single-threaded (no peer starts a thread before its ends are
    // made, which happens after fork), so the child may run anything before it exits.
    unsafe { ipckit::process::fork_with(f) }.map_err(|e| format!("fork: {e}"))
}

/// What the parent asks of the child, through the command pipe.
#[derive(Copy, Clone)]
enum Cmd {
    /// `k` echoes on link `i`: receive, then send back.
    Echo(u8, u64),
    /// `k` messages sent back to back on link `i`.
    Stream(u8, u64),
    /// Done.
    Stop,
}

impl Cmd {
    fn encode(self) -> [u8; 16] {
        let (tag, i, k) = match self {
            Cmd::Echo(i, k) => (1u8, i, k),
            Cmd::Stream(i, k) => (2, i, k),
            Cmd::Stop => (3, 0, 0),
        };
        let mut b = [0u8; 16];
        b[0] = tag;
        b[1] = i;
        b[8..].copy_from_slice(&k.to_le_bytes());
        b
    }
    fn decode(b: [u8; 16]) -> Result<Cmd, BenchError> {
        let mut k = [0u8; 8];
        k.copy_from_slice(&b[8..]);
        let k = u64::from_le_bytes(k);
        match b[0] {
            1 => Ok(Cmd::Echo(b[1], k)),
            2 => Ok(Cmd::Stream(b[1], k)),
            3 => Ok(Cmd::Stop),
            t => Err(format!("bad command {t}")),
        }
    }
}

/// The kind of operation a comparison times.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// Parent sends, child sends back: time per round trip.
    RoundTrip,
    /// Child sends back to back, parent receives (every subscriber): time per message.
    OneWay,
}

/// One paired comparison's result.
#[derive(Clone, Debug, Serialize)]
pub struct Paired {
    /// Median time per operation of the first variant, ns.
    pub a_ns: f64,
    /// Median time per operation of the second variant, ns.
    pub b_ns: f64,
    /// Median of the ratios a/b of adjacent blocks.
    pub ratio_p50: f64,
    /// 10th percentile of the ratios.
    pub ratio_p10: f64,
    /// 90th percentile of the ratios.
    pub ratio_p90: f64,
    /// Block pairs measured.
    pub blocks: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Ratios of adjacent blocks: median, p10, p90.
pub fn summarize(ta: &[f64], tb: &[f64]) -> Paired {
    let mut r: Vec<f64> = ta.iter().zip(tb).map(|(a, b)| a / b).collect();
    r.sort_by(f64::total_cmp);
    let q = |p: f64| {
        r.get(((r.len() as f64 * p) as usize).min(r.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
    };
    Paired {
        a_ns: median(ta.to_vec()),
        b_ns: median(tb.to_vec()),
        ratio_p50: q(0.5),
        ratio_p10: q(0.1),
        ratio_p90: q(0.9),
        blocks: r.len(),
    }
}

/// Measures `a` against `b` (each with its own spec) in `blocks` pairs of alternating
/// blocks of about `block` each, in one process pair pinned to CPUs `cpus`.
pub fn paired(
    (a, sa): (Variant, Spec),
    (b, sb): (Variant, Spec),
    op: Op,
    blocks: usize,
    block: Duration,
    cpus: (usize, usize),
) -> Result<Paired, BenchError> {
    let mut links = [
        (a.make)(&sa).map_err(|e| format!("{}: {e}", a.name))?,
        (b.make)(&sb).map_err(|e| format!("{}: {e}", b.name))?,
    ];
    let (mut cmd_rx, cmd_tx) = std::io::pipe().map_err(|e| format!("pipe: {e}"))?;
    let mut cmd_tx = Some(cmd_tx);
    let child = fork(|| {
        // The child closes its copy of the write end, so that it sees end-of-file if
        // the parent goes away.
        drop(cmd_tx.take());
        match child_loop(&mut links, &mut cmd_rx, cpus.1) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("ipckit-peers child: {e}");
                3
            }
        }
    })?;
    drop(cmd_rx);
    let Some(mut cmd_tx) = cmd_tx else { return Err("the command pipe is gone".into()) };
    let result =
        parent_loop(&mut links, &mut cmd_tx, [(a.name, sa), (b.name, sb)], op, blocks, block, cpus.0);
    let stop = cmd_tx.write_all(&Cmd::Stop.encode());
    drop(cmd_tx);
    match result {
        Ok((ta, tb)) => {
            stop.map_err(|e| format!("command pipe: {e}"))?;
            let status = child.wait().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err(format!("the child failed: {status}"));
            }
            Ok(summarize(&ta, &tb))
        }
        Err(e) => {
            let _ = child.kill(ipckit::process::Signal::Kill);
            let _ = child.wait();
            Err(e)
        }
    }
}

fn child_loop(
    links: &mut [Box<dyn Link>; 2],
    cmds: &mut std::io::PipeReader,
    cpu: usize,
) -> Result<(), BenchError> {
    pin(cpu)?;
    let mut ends = Vec::new();
    for l in links.iter_mut() {
        ends.push(Counted { end: l.end(false)?, tx: 0, rx: 0 });
    }
    for e in &mut ends {
        e.end.ready()?;
    }
    loop {
        let mut b = [0u8; 16];
        if cmds.read_exact(&mut b).is_err() {
            return Ok(()); // the parent is gone or done
        }
        match Cmd::decode(b)? {
            Cmd::Echo(i, k) => {
                let e = &mut ends[usize::from(i)];
                for _ in 0..k {
                    e.recv()?;
                    e.send()?;
                }
            }
            Cmd::Stream(i, k) => {
                let e = &mut ends[usize::from(i)];
                for _ in 0..k {
                    e.send()?;
                }
            }
            Cmd::Stop => return Ok(()),
        }
    }
}

fn parent_loop(
    links: &mut [Box<dyn Link>; 2],
    cmds: &mut std::io::PipeWriter,
    sides: [(&str, Spec); 2],
    op: Op,
    blocks: usize,
    block: Duration,
    cpu: usize,
) -> Result<(Vec<f64>, Vec<f64>), BenchError> {
    pin(cpu)?;
    let names = sides.map(|(n, _)| n);
    let mut ends = Vec::new();
    for (l, name) in links.iter_mut().zip(names) {
        ends.push(Counted { end: l.end(true).map_err(|e| format!("{name}: {e}"))?, tx: 0, rx: 0 });
    }
    for (e, name) in ends.iter_mut().zip(names) {
        e.end.ready().map_err(|e| format!("{name}: {e}"))?;
    }
    // One block of `k + 1` operations on link `i`; the time per operation of the last `k`.
    let mut run = |ends: &mut Vec<Counted>, i: usize, k: u64| -> Result<f64, BenchError> {
        let e = &mut ends[i];
        let name = names[i];
        let cmd = if op == Op::RoundTrip { Cmd::Echo(i as u8, k + 1) } else { Cmd::Stream(i as u8, k + 1) };
        cmds.write_all(&cmd.encode()).map_err(|e| format!("command pipe: {e}"))?;
        let mut t0 = Instant::now();
        for n in 0..=k {
            if n == 1 {
                t0 = Instant::now();
            }
            if op == Op::RoundTrip {
                e.send().map_err(|e| format!("{name}: {e}"))?;
            }
            e.recv().map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(t0.elapsed().as_nanos() as f64 / k as f64)
    };
    // Calibrate: operations per block for each side, from the fastest of five short blocks
    // after a first one (which pays for page faults and cold caches). A one-way block has at least
    // four times the messages the receiving side can buffer, so that messages written
    // ahead before the clock starts cannot hide the writing.
    let floor =
        if op == Op::OneWay { 4 * sides.iter().map(|(_, s)| s.slots as u64).max().unwrap_or(1) } else { 2 };
    let mut per_block = [16u64; 2];
    for i in 0..2 {
        run(&mut ends, i, 16)?;
        // The fastest of a few: one short block that another process interrupts would
        // make every block of this side short, and short blocks are noisy.
        let mut t = f64::INFINITY;
        for _ in 0..5 {
            t = t.min(run(&mut ends, i, 16)?);
        }
        per_block[i] = ((block.as_nanos() as f64 / t.max(1.0)) as u64).clamp(floor, 1 << 20);
        if std::env::var_os("IPCKIT_PEERS_DEBUG").is_some() {
            eprintln!("calibration: {} {t:.0} ns per op, {} per block", names[i], per_block[i]);
        }
    }
    let mut times = [Vec::with_capacity(blocks), Vec::with_capacity(blocks)];
    for round in 0..blocks + 1 {
        for i in 0..2 {
            let t = run(&mut ends, i, per_block[i])?;
            if round > 0 {
                times[i].push(t);
            }
        }
    }
    let [ta, tb] = times;
    Ok((ta, tb))
}

/// Setup cost: makes a link and both its ends in this process (the child's end first),
/// waits until they are connected and drops everything, `reps` times alternating `a` and
/// `b`; returns the paired summary of the per-repetition times.
pub fn setup_cost(
    (a, sa): (Variant, Spec),
    (b, sb): (Variant, Spec),
    reps: usize,
) -> Result<Paired, BenchError> {
    let once = |v: Variant, s: &Spec| -> Result<f64, BenchError> {
        let t0 = Instant::now();
        let mut link = (v.make)(s).map_err(|e| format!("{}: {e}", v.name))?;
        let mut child_end = link.end(false).map_err(|e| format!("{}: {e}", v.name))?;
        let mut parent_end = link.end(true).map_err(|e| format!("{}: {e}", v.name))?;
        parent_end.ready()?;
        child_end.ready()?;
        let t = t0.elapsed().as_nanos() as f64;
        drop((parent_end, child_end, link));
        Ok(t)
    };
    once(a, &sa)?;
    once(b, &sb)?;
    let (mut ta, mut tb) = (Vec::new(), Vec::new());
    for _ in 0..reps {
        ta.push(once(a, &sa)?);
        tb.push(once(b, &sb)?);
    }
    Ok(summarize(&ta, &tb))
}

/// A unique name for this run's objects: pid and a counter.
pub fn unique(what: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("ipckit-peers-{}-{what}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
