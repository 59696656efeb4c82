//! `ipckit bridge` with FIFOs and channels, through a real nats-server: messages
//! across byte for byte and in order (FIFO to FIFO in both framings, channel to
//! channel, and mixed with a System V queue), writers coming and going, back-pressure
//! (no FIFO reader, a full channel), messages the far side cannot take, and the FIFO
//! and channel exporters SIGKILLed mid-stream and restarted: exactly the messages
//! sent, once each.
//!
//! It stays one file (~610 lines) because its tests share the FIFO and channel helpers
//! at its top, and together they are the one list of what the bridge promises for these
//! two local kinds.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bridge_util::*;
use ipckit::channel::{Channel, ChannelConfig, Receiver};
use ipckit::fifo::Fifo;
use ipckit::pipe::PipeReader;
use ipckit::sysv::msg::MsgQueue;
use ipckit::{ErrorKind, Key, Mode, Wait};

/// A unique POSIX name for a channel of this test process.
pub(crate) fn chan_name(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("/ipckit-bfc-{}-{}-{tag}", std::process::id(), N.fetch_add(1, Ordering::SeqCst))
}

/// A named channel, removed when the test ends (even by a panic).
pub(crate) fn channel(tag: &str, config: &ChannelConfig) -> (Channel, String) {
    let name = chan_name(tag);
    let mut c = Channel::create_named(&name, config, Mode::OWNER_RW).unwrap();
    c.set_remove_on_drop(true).unwrap();
    (c, name)
}

/// A FIFO in `dir` (the tempdir removes it).
pub(crate) fn fifo(dir: &Path, name: &str) -> (Fifo, PathBuf) {
    let path = dir.join(name);
    let f = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    (f, path)
}

pub(crate) fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Starts `ipckit bridge DIR LOCAL... --subject SUBJ --server URL --state DIR/NAME.state`.
pub(crate) fn bridge(
    srv: &Server,
    dir: &Path,
    name: &str,
    local: &[&str],
    subject: &str,
    extra: &[&str],
) -> Bridge {
    let url = srv.url();
    let state = s(&dir.join(format!("{name}.state")));
    let mut a = args(local);
    // `--json`: a status line per second in the log, for the account of a failure.
    a.extend(args(&["--subject", subject, "--server", &url, "--state", &state, "--json"]));
    a.extend(args(extra));
    Bridge::start(&a, &dir.join(format!("{name}.err")))
}

/// Reads frames from a FIFO without blocking, so a test can give up after a silence.
pub(crate) struct FrameReader {
    end: PipeReader,
    bytes: Vec<u8>,
    length: bool,
}

impl FrameReader {
    pub(crate) fn open(f: &Fifo, length: bool) -> FrameReader {
        FrameReader { end: f.open_read_nonblocking().unwrap(), bytes: Vec::new(), length }
    }

    fn cut(&mut self) -> Option<Vec<u8>> {
        if self.length {
            let len = u32::from_le_bytes(self.bytes.get(..4)?.try_into().unwrap()) as usize;
            if self.bytes.len() < 4 + len {
                return None;
            }
            let body = self.bytes[4..4 + len].to_vec();
            self.bytes.drain(..4 + len);
            Some(body)
        } else {
            let nl = self.bytes.iter().position(|&b| b == b'\n')?;
            let body = self.bytes[..nl].to_vec();
            self.bytes.drain(..=nl);
            Some(body)
        }
    }

    /// The next frame, or `None` after `silence` without one.
    pub(crate) fn next(&mut self, silence: Duration) -> Option<Vec<u8>> {
        let mut last = Instant::now();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if let Some(f) = self.cut() {
                return Some(f);
            }
            match (&self.end).read(&mut chunk) {
                Ok(n) if n > 0 => {
                    self.bytes.extend_from_slice(&chunk[..n]);
                    last = Instant::now();
                    continue;
                }
                // 0: no writer yet (or between writers); WouldBlock: nothing now.
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read the FIFO: {e}"),
            }
            if last.elapsed() > silence {
                return None;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    pub(crate) fn take(&mut self, count: usize, silence: Duration) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        while got.len() < count {
            match self.next(silence) {
                Some(f) => got.push(f),
                None => break,
            }
        }
        got
    }
}

pub(crate) fn length_frame(body: &[u8]) -> Vec<u8> {
    [&(body.len() as u32).to_le_bytes()[..], body].concat()
}

/// Writes `frames` into the FIFO as one writer that opens, writes a few, closes,
/// and opens again: writers come and go.
fn write_in_sessions(path: &Path, frames: &[Vec<u8>], per_session: usize) {
    for chunk in frames.chunks(per_session) {
        let w = Fifo::at(path).unwrap().open_write_timeout(Duration::from_secs(30)).unwrap();
        for f in chunk {
            w.write_atomic(f).unwrap();
        }
        drop(w);
    }
}

fn recv_chan(rx: &mut Receiver, secs: u64) -> Vec<u8> {
    match rx.recv_vec_with(Wait::Timeout(Duration::from_secs(secs))) {
        Ok(m) => m,
        Err(e) if e.is_not_now() => panic!("no channel message within {secs} s"),
        Err(e) => panic!("{e}"),
    }
}

/// Waits for a bridge to exit, and returns its stderr; fails if it does not stop.
fn exits_with_error(b: &mut Bridge) -> String {
    let t = Instant::now();
    let status = loop {
        if let Some(s) = b.exited() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "the bridge did not stop: {}", b.stderr());
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "the bridge exited with success: {}", b.stderr());
    b.stderr()
}

#[test]
fn lines_cross_fifo_to_fifo_byte_for_byte_in_order_while_writers_come_and_go() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_fa, pa) = fifo(dir.path(), "a");
    let (fb, pb) = fifo(dir.path(), "b");
    let _o = bridge(&srv, dir.path(), "out", &["out", "--fifo", &s(&pa)], "t.lines", &[]);
    let _i = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.lines", &[]);
    // Every byte but the newline, an empty line, and lines of many lengths.
    let all: Vec<u8> = (0..=255u8).filter(|&b| b != b'\n').collect();
    let mut bodies = vec![all.clone(), Vec::new()];
    for n in 0..200usize {
        bodies.push(format!("line {n:04} {}", "x".repeat(n % 97)).into_bytes());
    }
    let frames: Vec<Vec<u8>> = bodies.iter().map(|b| [&b[..], b"\n"].concat()).collect();
    let mut reader = FrameReader::open(&fb, false);
    write_in_sessions(&pa, &frames, 17);
    let got = reader.take(bodies.len(), Duration::from_secs(30));
    assert_eq!(got.len(), bodies.len());
    assert_eq!(got, bodies);
    assert_eq!(reader.next(Duration::from_millis(500)), None, "a message came twice");
}

#[test]
fn length_frames_carry_newlines_and_empty_messages_fifo_to_fifo() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_fa, pa) = fifo(dir.path(), "a");
    let (fb, pb) = fifo(dir.path(), "b");
    let o = ["--framing", "length"];
    let _o = bridge(&srv, dir.path(), "out", &["out", "--fifo", &s(&pa)], "t.len", &o);
    let _i = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.len", &o);
    let all: Vec<u8> = (0..=255u8).collect();
    let mut bodies = vec![all, Vec::new(), b"a\nb\n\n".to_vec()];
    for n in 0..100u32 {
        bodies.push([&n.to_le_bytes()[..], &vec![b'\n'; (n % 50) as usize]].concat());
    }
    // One message far above PIPE_BUF (written by one writer, so not interleaved).
    bodies.push((0..50_000u32).map(|i| (i * 7 % 251) as u8).collect());
    let mut reader = FrameReader::open(&fb, true);
    {
        let w = Fifo::at(&pa).unwrap().open_write_timeout(Duration::from_secs(30)).unwrap();
        for b in &bodies {
            std::io::Write::write_all(&mut &w, &length_frame(b)).unwrap();
        }
    }
    let got = reader.take(bodies.len(), Duration::from_secs(30));
    assert_eq!(got.len(), bodies.len());
    assert_eq!(got, bodies);
    assert_eq!(reader.next(Duration::from_millis(500)), None, "a message came twice");
}

#[test]
fn channel_to_channel_byte_for_byte_in_order() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = ChannelConfig::new().with_capacity(64 * 1024);
    let (ca, na) = channel("a", &cfg);
    let (cb, nb) = channel("b", &cfg);
    let mut tx = ca.sender().unwrap();
    let mut rx = cb.receiver().unwrap();
    let _o = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.chan", &[]);
    let _i = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.chan", &[]);
    let all: Vec<u8> = (0..=255u8).collect();
    let mut bodies = vec![all, Vec::new(), b"with\nnewlines\n".to_vec()];
    for n in 0..500u32 {
        bodies.push([&n.to_be_bytes()[..], &vec![n as u8; (n % 300) as usize]].concat());
    }
    let sender = std::thread::spawn({
        let bodies = bodies.clone();
        move || {
            for b in &bodies {
                tx.send(b).unwrap();
            }
            tx // kept open: closing it would end the exporter
        }
    });
    for (n, want) in bodies.iter().enumerate() {
        assert_eq!(&recv_chan(&mut rx, 30), want, "message {n}");
    }
    let _tx = sender.join().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(rx.try_recv(&mut [0u8; 1024]).is_err_and(|e| e.is_not_now()), "a message came twice");
}

#[test]
fn mixed_sysv_queue_to_length_fifo_and_fifo_to_sysv_keyed_channel() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    // System V queue -> NATS -> FIFO (length framing).
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let qid = q.id().to_string();
    let (fb, pb) = fifo(dir.path(), "b");
    let _o1 = bridge(&srv, dir.path(), "out1", &["out", "--queue-id", &qid], "t.mix1", &[]);
    let _i1 =
        bridge(&srv, dir.path(), "in1", &["in", "--fifo", &s(&pb), "--framing", "length"], "t.mix1", &[]);
    let bodies: Vec<Vec<u8>> = (0..50u8).map(|n| vec![n; 1 + n as usize * 3]).collect();
    for (n, b) in bodies.iter().enumerate() {
        q.send(b, 1 + n as i64 % 3).unwrap();
    }
    let mut reader = FrameReader::open(&fb, true);
    assert_eq!(reader.take(bodies.len(), Duration::from_secs(30)), bodies);

    // FIFO (line framing, created by the bridge) -> NATS -> channel in a System V
    // segment by key.
    let pa = dir.path().join("a-made-by-the-bridge");
    let key = Key::from_raw(0x5f00_0000 | (std::process::id() as i32 & 0xf_ffff));
    let mut cb =
        Channel::create_sysv(key, &ChannelConfig::new().with_capacity(16 * 1024), Mode::OWNER_RW).unwrap();
    cb.set_remove_on_drop(true).unwrap();
    let mut rx = cb.receiver().unwrap();
    let mut o2 = bridge(&srv, dir.path(), "out2", &["out", "--fifo", &s(&pa), "--create"], "t.mix2", &[]);
    let _i2 = bridge(&srv, dir.path(), "in2", &["in", "--channel-key", &key.to_string()], "t.mix2", &[]);
    let t = Instant::now();
    while !pa.exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "the bridge did not create the FIFO: {}", o2.stderr());
        assert!(o2.exited().is_none(), "{}", o2.stderr());
        std::thread::sleep(Duration::from_millis(10));
    }
    let lines: Vec<Vec<u8>> = (0..40).map(|n| format!("line {n}").into_bytes()).collect();
    let frames: Vec<Vec<u8>> = lines.iter().map(|l| [&l[..], b"\n"].concat()).collect();
    write_in_sessions(&pa, &frames, 40);
    for (n, want) in lines.iter().enumerate() {
        assert_eq!(&recv_chan(&mut rx, 30), want, "line {n}");
    }
}

#[test]
fn no_fifo_reader_and_a_full_channel_are_waited_on_and_nothing_is_dropped() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let qid = q.id().to_string();
    let (fb, pb) = fifo(dir.path(), "b");
    // Ack wait 2 s: without progress acknowledgements the server would redeliver
    // during the waits below.
    let wait = ["--ack-wait", "2"];
    let _o = bridge(&srv, dir.path(), "out", &["out", "--queue-id", &qid], "t.bp", &wait);
    let mut i = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.bp", &wait);
    let bodies: Vec<Vec<u8>> = (0..30).map(|n| format!("waiting {n:02}").into_bytes()).collect();
    for b in &bodies {
        q.send(b, 1).unwrap();
    }
    // No reader for 5 s: the importer waits, nothing is lost.
    std::thread::sleep(Duration::from_secs(5));
    assert!(i.exited().is_none(), "the importer gave up: {}", i.stderr());
    let mut reader = FrameReader::open(&fb, false);
    assert_eq!(reader.take(bodies.len(), Duration::from_secs(30)), bodies);
    assert_eq!(reader.next(Duration::from_millis(500)), None, "a message came twice");

    // A channel with room for a few messages, not read for 5 s.
    let (cb, nb) = channel("full", &ChannelConfig::new().with_capacity(1024));
    let mut rx = cb.receiver().unwrap();
    let wait2 = ["--ack-wait", "2", "--durable", "second"];
    let mut i2 = bridge(&srv, dir.path(), "in2", &["in", "--channel", &nb], "t.bp", &wait2);
    let more: Vec<Vec<u8>> = (0..40u8).map(|n| vec![n; 100]).collect();
    // The second importer reads the whole subject from its start: the FIFO's
    // messages first.
    for b in &more {
        q.send(b, 1).unwrap();
    }
    std::thread::sleep(Duration::from_secs(5));
    assert!(i2.exited().is_none(), "the importer gave up: {}", i2.stderr());
    for (n, want) in bodies.iter().chain(&more).enumerate() {
        assert_eq!(&recv_chan(&mut rx, 30), want, "message {n}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(rx.try_recv(&mut [0u8; 256]).is_err_and(|e| e.is_not_now()), "a message came twice");
}

#[test]
fn messages_the_far_side_cannot_take_stop_the_importer_with_both_limits_named() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let qid = q.id().to_string();
    let _o = bridge(&srv, dir.path(), "out", &["out", "--queue-id", &qid], "t.big", &[]);

    // Too large for the channel.
    let (cb, nb) = channel("small", &ChannelConfig::new().with_capacity(4096).with_max_message(256));
    let mut rx = cb.receiver().unwrap();
    q.send(&[7u8; 1000], 1).unwrap();
    let mut i = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.big", &[]);
    let err = exits_with_error(&mut i);
    assert!(err.contains("1000 bytes"), "{err}");
    assert!(err.contains("256 bytes (the channel's max_message)"), "{err}");
    assert!(err.contains("source object up to"), "{err}");
    // Nothing reached the channel (the importer that held its sending end is gone).
    let r = rx.try_recv(&mut [0u8; 256]);
    assert!(r.as_ref().is_err_and(|e| e.is_not_now() || e.kind() == ErrorKind::Disconnected), "{r:?}");

    // A newline cannot travel in a line-framed FIFO.
    let mut q2 = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q2.set_remove_on_drop(true).unwrap();
    q2.send(b"two\nlines", 1).unwrap();
    let (_fb, pb) = fifo(dir.path(), "b");
    let sub = "t.nl";
    let _o2 = bridge(&srv, dir.path(), "out2", &["out", "--queue-id", &q2.id().to_string()], sub, &[]);
    let mut i2 = bridge(&srv, dir.path(), "in2", &["in", "--fifo", &s(&pb)], sub, &[]);
    let err = exits_with_error(&mut i2);
    assert!(err.contains("newline at byte 3"), "{err}");
    assert!(err.contains("length framing"), "{err}");
}

#[test]
fn a_frame_larger_than_the_fifo_can_hold_stops_the_exporter_naming_the_limit() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_fa, pa) = fifo(dir.path(), "a");
    let mut o =
        bridge(&srv, dir.path(), "out", &["out", "--fifo", &s(&pa), "--framing", "length"], "t.huge", &[]);
    let w = Fifo::at(&pa).unwrap().open_write_timeout(Duration::from_secs(30)).unwrap();
    // A length no pipe can hold whole (the frame's bytes need not follow).
    w.write_atomic(&(1u32 << 31).to_le_bytes()).unwrap();
    let err = exits_with_error(&mut o);
    assert!(err.contains(&format!("{} bytes", 1u32 << 31)), "{err}");
    assert!(err.contains("pipe capacity"), "{err}");
    assert!(err.contains("/proc/sys/fs/pipe-max-size"), "{err}");
}

#[test]
fn a_channel_exporter_stops_when_the_sender_closes_after_publishing_everything() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, na) = channel("a", &ChannelConfig::new().with_capacity(64 * 1024));
    let (fb, pb) = fifo(dir.path(), "b");
    let mut tx = ca.sender().unwrap();
    for n in 0..20 {
        tx.send(format!("last words {n}").as_bytes()).unwrap();
    }
    drop(tx);
    let mut o = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.close", &[]);
    let err = exits_with_error(&mut o);
    assert!(err.contains("closed its end"), "{err}");
    // Everything sent before the close was published.
    let _i = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.close", &[]);
    let mut reader = FrameReader::open(&fb, false);
    let want: Vec<Vec<u8>> = (0..20).map(|n| format!("last words {n}").into_bytes()).collect();
    assert_eq!(reader.take(20, Duration::from_secs(30)), want);
    // A second exporter takes the receiving end over (the first left it open), finds
    // the sender closed and nothing left, and stops the same way: nothing twice.
    let st = s(&dir.path().join("out.state"));
    let out = bridge_output(&[
        "out",
        "--channel",
        &na,
        "--subject",
        "t.close",
        "--server",
        &srv.url(),
        "--state",
        &st,
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("closed its end"), "{err}");
    assert_eq!(reader.next(Duration::from_millis(500)), None, "a message came twice");
}

#[test]
fn a_channel_exporter_killed_9_mid_stream_is_taken_over_and_loses_and_repeats_nothing() {
    const COUNT: usize = 10_000;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, na) = channel("a", &ChannelConfig::new().with_capacity(16 * 1024));
    let (cb, nb) = channel("b", &ChannelConfig::new().with_capacity(64 * 1024));
    let mut out = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.ckill", &[]);
    let _in = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.ckill", &[]);
    let body = |n: usize| format!("message {n:05} {}", ".".repeat(n % 60)).into_bytes();
    // While the exporter is dead, a send that waits for room sees the receiver gone
    // (Disconnected) and sends nothing: it is tried again.
    let mut tx = ca.sender().unwrap();
    let writer = std::thread::spawn(move || {
        for n in 0..COUNT {
            let b = body(n);
            loop {
                match tx.send_with(&b, Wait::Timeout(Duration::from_millis(100))) {
                    Ok(()) => break,
                    Err(e) if e.is_not_now() || e.kind() == ErrorKind::Disconnected => {}
                    Err(e) => panic!("send {n}: {e}"),
                }
            }
        }
        tx
    });
    let progress = Arc::new(AtomicUsize::new(0));
    let mut rx = cb.receiver().unwrap();
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut got = Vec::with_capacity(COUNT);
            let mut last = Instant::now();
            while got.len() < COUNT && last.elapsed() < Duration::from_secs(120) {
                match rx.recv_vec_with(Wait::Timeout(Duration::from_millis(200))) {
                    Ok(m) => {
                        got.push(m);
                        progress.store(got.len(), Ordering::SeqCst);
                        last = Instant::now();
                    }
                    Err(e) if e.is_not_now() => {}
                    Err(e) => panic!("{e}"),
                }
            }
            while let Ok(m) = rx.recv_vec_with(Wait::Timeout(Duration::from_secs(1))) {
                got.push(m);
            }
            got
        })
    };
    let seed = seed();
    kill_9_eight_times(&mut out, &progress, COUNT, seed);
    let _tx = writer.join().unwrap();
    let got = receiver.join().unwrap();
    let want: Vec<Vec<u8>> = (0..COUNT).map(body).collect();
    if got != want {
        let first = got.iter().zip(&want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
        panic!(
            "seed {seed}: got {} messages, want {}; first difference at {first}: got {:?}, want {:?}\nexporter: {}",
            got.len(),
            want.len(),
            got.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
            want.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
            out.stderr()
        );
    }
}

/// A seed from the clock, printed so that a failing run can be told apart.
pub(crate) fn seed() -> u64 {
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("seed {seed}");
    seed
}

/// Kills `bridge` with SIGKILL and restarts it 8 times in the first 80 % of `count`
/// messages (random draws from `seed`): each kill once `progress` reached a random
/// share more, and a random few milliseconds later, so that kills land anywhere in the
/// bridge's loop.
pub(crate) fn kill_9_eight_times(bridge: &mut Bridge, progress: &AtomicUsize, count: usize, seed: u64) {
    let mut rng = Rng(seed);
    for k in 0..8 {
        let target = k * count / 10 + (rng.next() % (count as u64 / 20)) as usize;
        while progress.load(Ordering::SeqCst) < target {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 3000));
        bridge.kill9();
        std::thread::sleep(Duration::from_millis(rng.next() % 50));
        bridge.restart();
    }
}

/// A small xorshift generator (seed it with [`seed`]).
pub(crate) struct Rng(pub(crate) u64);
impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn a_fifo_exporter_killed_9_mid_stream_and_restarted_loses_and_repeats_nothing() {
    const COUNT: usize = 10_000;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_fa, pa) = fifo(dir.path(), "a");
    let (fb, pb) = fifo(dir.path(), "b");
    let len = ["--framing", "length"];
    let mut out = bridge(&srv, dir.path(), "out", &["out", "--fifo", &s(&pa)], "t.kill", &len);
    let _in = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.kill", &len);
    let body = |n: usize| format!("message {n:05} {}", ".".repeat(n % 60)).into_bytes();

    // The writer keeps the FIFO open; while the exporter is dead there is no reader,
    // and a write fails with EPIPE: each frame (under PIPE_BUF, so written whole or
    // not at all) is tried again until the restarted exporter reads.
    let done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (pa, done) = (pa.clone(), done.clone());
        std::thread::spawn(move || {
            let w = Fifo::at(&pa).unwrap().open_write_timeout(Duration::from_secs(30)).unwrap();
            for n in 0..COUNT {
                let f = length_frame(&body(n));
                loop {
                    match w.write_atomic(&f) {
                        Ok(()) => break,
                        Err(e) if e.kind() == ErrorKind::BrokenPipe => {
                            std::thread::sleep(Duration::from_millis(1))
                        }
                        Err(e) => panic!("write frame {n}: {e}"),
                    }
                }
            }
            done.store(true, Ordering::SeqCst);
            w // kept open until the end, so nothing in the pipe is discarded
        })
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut reader = FrameReader::open(&fb, true);
            let mut got = Vec::with_capacity(COUNT);
            // Give up only after a long silence (a stuck bridge), never on a clock.
            while got.len() < COUNT {
                match reader.next(Duration::from_secs(120)) {
                    Some(f) => {
                        got.push(f);
                        progress.store(got.len(), Ordering::SeqCst);
                    }
                    None => break,
                }
            }
            // Anything more within a second would be a duplicate.
            while let Some(f) = reader.next(Duration::from_secs(1)) {
                got.push(f);
            }
            got
        })
    };
    let seed = seed();
    kill_9_eight_times(&mut out, &progress, COUNT, seed);
    let _w = writer.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    let got = receiver.join().unwrap();
    let want: Vec<Vec<u8>> = (0..COUNT).map(body).collect();
    if got != want {
        let first = got.iter().zip(&want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
        panic!(
            "seed {seed}: got {} messages, want {}; first difference at {first}: got {:?}, want {:?}\nexporter: {}",
            got.len(),
            want.len(),
            got.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
            want.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
            out.stderr()
        );
    }
}
