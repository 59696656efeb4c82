//! The importer's side of the delivery promise, for FIFOs and channels: 10 000
//! messages cross while the importer is SIGKILLed at random moments and restarted 8
//! times, then the server is restarted twice (same port, same store) while both
//! bridges run: once stopped with SIGTERM, once killed with SIGKILL. The far side receives the messages sent, in order, none
//! lost. Into a channel, once each: the restarted importer takes the sending end over
//! and sees from the ring whether its last message went out. Into a FIFO, the
//! importer's documented window remains (killed between its write and its state
//! record, it writes that frame again): allowed only as an immediate repeat, at most
//! one per kill. And bridges chained through a channel: the exporter out of a channel
//! waits while the importer into it is killed and restarted (a sender that died is
//! not one that closed). A second importer while the first lives is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bridge_util::*;
use crate::fifo_channel::{FrameReader, Rng, bridge, channel, fifo, length_frame, s, seed};
use ipckit::channel::ChannelConfig;
use ipckit::fifo::Fifo;
use ipckit::{ErrorKind, Wait};

const COUNT: usize = 10_000;
const IMPORTER_KILLS: usize = 8;
/// The writers hold the messages from here on back until the crash schedule is over,
/// so that every restart comes while messages still flow (past 90 % at the latest;
/// a backlog released by a server restart can otherwise all arrive before the next).
const HELD_FROM: usize = COUNT * 92 / 100;

/// Called by a writer before message `n`: waits at [`HELD_FROM`] for `release`.
fn hold_back(n: usize, release: &AtomicBool) {
    if n == HELD_FROM {
        while !release.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

fn body(n: usize) -> Vec<u8> {
    format!("message {n:05} {}", ".".repeat(n % 60)).into_bytes()
}

/// Kills the importer 8 times in the first 60 % of the messages (each kill once the
/// far side has a random share more, and a random few milliseconds later, so that
/// kills land anywhere in the importer's loop), then restarts the server twice, at
/// about 70 % (SIGTERM) and 85 % (SIGKILL).
fn crash_schedule(inb: &mut Bridge, srv: &mut Server, progress: &AtomicUsize, rng: &mut Rng) {
    let wait_for = |share: usize, rng: &mut Rng| {
        let target = share + (rng.next() % (COUNT as u64 / 20)) as usize;
        while progress.load(Ordering::SeqCst) < target {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.next() % 3000));
    };
    for k in 0..IMPORTER_KILLS {
        wait_for(k * COUNT * 6 / 80, rng);
        inb.kill9();
        let at = progress.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(rng.next() % 50));
        inb.restart();
        eprintln!("importer killed at {at}");
        assert!(at < COUNT, "the importer kill came after the last message");
    }
    for share in [70, 85] {
        wait_for(COUNT * share / 100, rng);
        let at = progress.load(Ordering::SeqCst);
        if share == 70 {
            srv.restart()
        } else {
            srv.kill9_restart()
        }
        eprintln!("server restarted at {at}");
        assert!(at < COUNT, "the server restart came after the last message");
    }
}

/// Fails with a readable account of the first difference.
fn check(seed: u64, got: &[Vec<u8>], bridges: &[&Bridge]) {
    let want: Vec<Vec<u8>> = (0..COUNT).map(body).collect();
    if got != want {
        let first = got.iter().zip(&want).position(|(g, w)| g != w).unwrap_or(got.len().min(want.len()));
        let logs: Vec<String> = bridges.iter().map(|b| b.stderr()).collect();
        panic!(
            "seed {seed}: got {} messages, want {}; first difference at {first}: got {:?}, want {:?}\nbridges: {logs:?}",
            got.len(),
            want.len(),
            got.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
            want.get(first).map(|m| String::from_utf8_lossy(m).into_owned()),
        );
    }
}

#[test]
fn a_channel_importer_killed_9_and_a_server_restart_lose_and_repeat_nothing() {
    let exe = need_nats!();
    let mut srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (ca, na) = channel("a", &ChannelConfig::new().with_capacity(64 * 1024));
    // A small ring on the far side: the importer often waits for room, so kills
    // also land in its back-pressure loop.
    let (cb, nb) = channel("b", &ChannelConfig::new().with_capacity(4 * 1024));
    let out = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.cin", &[]);
    let mut inb = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.cin", &[]);
    let mut tx = ca.sender().unwrap();
    let release = Arc::new(AtomicBool::new(false));
    let writer = {
        let release = release.clone();
        std::thread::spawn(move || {
            for n in 0..COUNT {
                hold_back(n, &release);
                tx.send(&body(n)).unwrap();
            }
            tx
        })
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let mut rx = cb.receiver().unwrap();
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut got = Vec::with_capacity(COUNT);
            let mut last = Instant::now();
            let mut recv = |wait: Duration| match rx.recv_vec_with(Wait::Timeout(wait)) {
                Ok(m) => Some(m),
                // While no importer runs, a waiting receive sees the sender gone: the
                // next importer takes the end over, so try again.
                Err(e) if e.is_not_now() || e.kind() == ErrorKind::Disconnected => {
                    std::thread::sleep(Duration::from_millis(1));
                    None
                }
                Err(e) => panic!("{e}"),
            };
            // Give up only after a long silence (a stuck bridge), never on a clock.
            while got.len() < COUNT && last.elapsed() < Duration::from_secs(120) {
                if let Some(m) = recv(Duration::from_millis(200)) {
                    got.push(m);
                    progress.store(got.len(), Ordering::SeqCst);
                    last = Instant::now();
                }
            }
            // Anything more within a second would be a duplicate.
            let quiet = Instant::now();
            while quiet.elapsed() < Duration::from_secs(1) {
                if let Some(m) = recv(Duration::from_millis(100)) {
                    got.push(m);
                }
            }
            got
        })
    };
    let seed = seed();
    let mut rng = Rng(seed);
    crash_schedule(&mut inb, &mut srv, &progress, &mut rng);
    release.store(true, Ordering::SeqCst);
    let _tx = writer.join().unwrap();
    let got = receiver.join().unwrap();
    check(seed, &got, &[&out, &inb]);
}

#[test]
fn a_fifo_importer_killed_9_and_a_server_restart_lose_nothing_and_repeat_only_its_window() {
    let exe = need_nats!();
    let mut srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (_fa, pa) = fifo(dir.path(), "a");
    let (fb, pb) = fifo(dir.path(), "b");
    let len = ["--framing", "length"];
    let out = bridge(&srv, dir.path(), "out", &["out", "--fifo", &s(&pa)], "t.fin", &len);
    let mut inb = bridge(&srv, dir.path(), "in", &["in", "--fifo", &s(&pb)], "t.fin", &len);
    // The writer keeps the FIFO open (so nothing in the pipe is discarded) and
    // writes whole frames under PIPE_BUF.
    let done = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let writer = {
        let (pa, done, release) = (pa.clone(), done.clone(), release.clone());
        std::thread::spawn(move || {
            let w = Fifo::at(&pa).unwrap().open_write_timeout(Duration::from_secs(30)).unwrap();
            for n in 0..COUNT {
                hold_back(n, &release);
                w.write_atomic(&length_frame(&body(n))).unwrap();
            }
            done.store(true, Ordering::SeqCst);
            w
        })
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            // The reader stays open throughout: the importer's frames survive its death.
            let mut reader = FrameReader::open(&fb, true);
            let mut got: Vec<Vec<u8>> = Vec::with_capacity(COUNT + IMPORTER_KILLS);
            let mut distinct = 0;
            while distinct < COUNT {
                match reader.next(Duration::from_secs(120)) {
                    Some(f) => {
                        if got.last() != Some(&f) {
                            distinct += 1;
                        }
                        got.push(f);
                        progress.store(distinct, Ordering::SeqCst);
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
    let mut rng = Rng(seed);
    crash_schedule(&mut inb, &mut srv, &progress, &mut rng);
    release.store(true, Ordering::SeqCst);
    let _w = writer.join().unwrap();
    assert!(done.load(Ordering::SeqCst));
    let mut got = receiver.join().unwrap();
    // The one documented window: killed after its write and before its state
    // record, the importer writes that frame again after the restart. That shows
    // as an immediate repeat, at most one per kill, never anything else.
    let before = got.len();
    got.dedup();
    let repeats = before - got.len();
    eprintln!("immediate repeats from importer kills: {repeats}");
    assert!(
        repeats <= IMPORTER_KILLS,
        "seed {seed}: {repeats} repeated frames, more than the {IMPORTER_KILLS} importer kills explain"
    );
    let told = inb.stderr().matches("MAYBE TWICE").count();
    assert!(repeats <= told, "seed {seed}: {repeats} repeats, {told} told\n{}", inb.stderr());
    check(seed, &got, &[&out, &inb]);
}

/// Bridges chained through a channel (A -> out -> in -> B -> out -> in -> C): the
/// importer into B is killed and restarted while the exporter out of B runs. A
/// sender that died is not one that closed: the exporter waits for the restarted
/// importer to take the sending end over, and everything arrives once, in order.
#[test]
fn an_exporter_waits_while_the_importer_feeding_its_channel_is_killed_and_restarted() {
    const N: usize = 2_000;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = ChannelConfig::new().with_capacity(16 * 1024);
    let (ca, na) = channel("a", &config);
    let (_cb, nb) = channel("b", &config);
    let (cc, nc) = channel("c", &config);
    let out1 = bridge(&srv, dir.path(), "out1", &["out", "--channel", &na], "t.chain1", &[]);
    let mut in1 = bridge(&srv, dir.path(), "in1", &["in", "--channel", &nb], "t.chain1", &[]);
    let mut out2 = bridge(&srv, dir.path(), "out2", &["out", "--channel", &nb], "t.chain2", &[]);
    let in2 = bridge(&srv, dir.path(), "in2", &["in", "--channel", &nc], "t.chain2", &[]);
    let mut tx = ca.sender().unwrap();
    let writer = std::thread::spawn(move || {
        for n in 0..N {
            tx.send(&body(n)).unwrap();
        }
        tx
    });
    let mut rx = cc.receiver().unwrap();
    let mut got = Vec::with_capacity(N);
    let mut last = Instant::now();
    let mut kills = 0;
    let mut rng = Rng(seed());
    while got.len() < N && last.elapsed() < Duration::from_secs(120) {
        match rx.recv_vec_with(Wait::Timeout(Duration::from_millis(200))) {
            Ok(m) => {
                got.push(m);
                last = Instant::now();
            }
            Err(e) if e.is_not_now() || e.kind() == ErrorKind::Disconnected => {}
            Err(e) => panic!("{e}"),
        }
        if kills < 4 && got.len() >= (kills + 1) * N / 6 {
            std::thread::sleep(Duration::from_micros(rng.next() % 3000));
            in1.kill9();
            // Long enough for the exporter out of B to find the ring empty and the
            // sender's process gone.
            std::thread::sleep(Duration::from_millis(300));
            assert_eq!(out2.exited(), None, "the exporter stopped: {}", out2.stderr());
            in1.restart();
            kills += 1;
        }
    }
    let _tx = writer.join().unwrap();
    assert_eq!(kills, 4);
    assert_eq!(out2.exited(), None, "the exporter stopped: {}", out2.stderr());
    let want: Vec<Vec<u8>> = (0..N).map(body).collect();
    let logs = || {
        [("out1", &out1), ("in1", &in1), ("out2", &out2), ("in2", &in2)]
            .map(|(name, b)| format!("--- {name}:\n{}", b.stderr()))
            .join("\n")
    };
    assert_eq!(got.len(), want.len(), "{}", logs());
    assert!(got == want, "the messages differ");
    assert!(rx.recv_vec_with(Wait::Timeout(Duration::from_secs(1))).is_err(), "a message came twice");
}

/// A second importer while the first one lives is refused, naming the holder.
#[test]
fn a_second_importer_into_a_channel_held_by_a_living_one_is_refused() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (cb, nb) = channel("b", &ChannelConfig::new().with_capacity(4096));
    let mut first = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.twice", &[]);
    let _rx = cb.receiver().unwrap();
    // The importer takes the sending end before it connects, and makes its state
    // file once connected: when the file is there, the end is held.
    let t = Instant::now();
    while !dir.path().join("in.state").exists() {
        assert!(t.elapsed() < Duration::from_secs(30), "the importer never started: {}", first.stderr());
        assert_eq!(first.exited(), None, "{}", first.stderr());
        std::thread::sleep(Duration::from_millis(20));
    }
    let state = s(&dir.path().join("second.state"));
    let out = bridge_output(&[
        "in",
        "--channel",
        &nb,
        "--subject",
        "t.twice",
        "--server",
        &srv.url(),
        "--state",
        &state,
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("sender end is held by pid") && err.contains("alive"), "{err}");
    assert_eq!(first.exited(), None, "the first importer goes on: {}", first.stderr());
}
