//! Early delivery: the importer puts a message in as soon as it is published (over
//! core NATS) when it is the next one from the exporter whose last message went in,
//! and skips its stream copy. Messages go one at a time (each sent once the last one
//! arrived), so that nearly all of them come early, while the importer is SIGKILLed
//! at random moments and restarted. Into a channel: every message once, in order.
//! Into a System V queue: the same, apart from the importer's documented window (an
//! immediate repeat, at most one per kill). The importer's final status line counts
//! the messages that came early; with `--no-early-delivery` there are none.

use std::time::{Duration, Instant};

use crate::bridge_util::*;
use crate::fifo_channel::{Rng, bridge, channel, seed};
use crate::security::queue;
use ipckit::channel::ChannelConfig;
use ipckit::sysv::msg::Select;
use ipckit::{ErrorKind, Wait};

const COUNT: usize = 600;
const KILLS: usize = 8;

fn body(n: usize) -> Vec<u8> {
    format!("early {n:04} {}", "+".repeat(n % 40)).into_bytes()
}

/// The bridge's `--json` status lines so far.
fn status_lines(b: &Bridge) -> Vec<serde_json::Value> {
    b.stderr().lines().filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok()).collect()
}

/// The importer's last status line (printed as it ends): (moved, early).
fn final_counts(b: &Bridge) -> (u64, u64) {
    let line = status_lines(b)
        .into_iter()
        .rev()
        .find(|v| v["final"] == serde_json::Value::Bool(true))
        .unwrap_or_else(|| panic!("no final status line in the importer's log:\n{}", b.stderr()));
    (line["moved"].as_u64().expect("moved"), line["early"].as_u64().expect("early"))
}

/// Kills the importer a random moment after a message was sent (anywhere from before
/// it reaches the importer to after it is in), and starts it again.
fn kill_and_restart(inb: &mut Bridge, rng: &mut Rng) {
    std::thread::sleep(Duration::from_micros(rng.next() % 1500));
    inb.kill9();
    std::thread::sleep(Duration::from_millis(rng.next() % 30));
    inb.restart();
}

/// Whether message `n` is one after which the importer is killed (spread over the run).
fn kill_after(n: usize) -> bool {
    n % (COUNT / KILLS) == COUNT / KILLS / 2
}

#[test]
fn messages_come_early_and_an_importer_killed_9_among_them_puts_each_in_a_channel_once() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = ChannelConfig::new().with_capacity(16 * 1024);
    let (ca, na) = channel("ea", &config);
    let (cb, nb) = channel("eb", &config);
    let _out = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.early.c", &[]);
    let mut inb = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.early.c", &[]);
    let mut tx = ca.sender().unwrap();
    let mut rx = cb.receiver().unwrap();
    let seed = seed();
    let mut rng = Rng(seed);
    let mut kills = 0;
    for n in 0..COUNT {
        tx.send(&body(n)).unwrap();
        if kill_after(n) {
            kill_and_restart(&mut inb, &mut rng);
            kills += 1;
        }
        let last = Instant::now();
        let got = loop {
            match rx.recv_vec_with(Wait::Timeout(Duration::from_millis(200))) {
                Ok(m) => break m,
                // While no importer runs, a waiting receive sees the sender gone.
                Err(e) if e.is_not_now() || e.kind() == ErrorKind::Disconnected => {
                    assert!(
                        last.elapsed() < Duration::from_secs(60),
                        "seed {seed}: message {n} never came: {}",
                        inb.stderr()
                    );
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&body(n)),
            "seed {seed}: message {n}, after {kills} kills\n{}",
            inb.stderr()
        );
    }
    assert_eq!(kills, KILLS);
    assert!(rx.recv_vec_with(Wait::Timeout(Duration::from_secs(1))).is_err(), "a message came twice");
    assert!(inb.stop().success(), "{}", inb.stderr());
    // The last incarnation's counts: it moved some, most of them early.
    let (moved, early) = final_counts(&inb);
    assert!(moved > 0 && early > 0, "moved {moved}, early {early}: nothing came early");
}

#[test]
fn an_importer_into_a_queue_killed_9_among_early_messages_repeats_only_its_window() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (qa, ida) = queue();
    let (qb, idb) = queue();
    let _out = bridge(&srv, dir.path(), "out", &["out", "--queue-id", &ida], "t.early.q", &[]);
    let mut inb = bridge(&srv, dir.path(), "in", &["in", "--queue-id", &idb], "t.early.q", &[]);
    let seed = seed();
    let mut rng = Rng(seed);
    let mut repeats = 0;
    for n in 0..COUNT {
        qa.send(&body(n), 1 + (n % 5) as i64).unwrap();
        if kill_after(n) {
            kill_and_restart(&mut inb, &mut rng);
        }
        loop {
            let m = qb
                .recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(60)))
                .unwrap_or_else(|e| panic!("seed {seed}: message {n}: {e}\n{}", inb.stderr()));
            if n > 0 && m.data == body(n - 1) {
                // The documented window: the previous message again, right after it.
                repeats += 1;
                continue;
            }
            assert_eq!(
                (String::from_utf8_lossy(&m.data), m.mtype),
                (String::from_utf8_lossy(&body(n)), 1 + (n % 5) as i64),
                "seed {seed}: message {n}\n{}",
                inb.stderr()
            );
            break;
        }
    }
    assert!(repeats <= KILLS, "seed {seed}: {repeats} repeats, more than the {KILLS} kills explain");
    let told = inb.stderr().matches("MAYBE TWICE").count();
    assert!(repeats <= told, "seed {seed}: {repeats} repeats, {told} told\n{}", inb.stderr());
    assert!(
        qb.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(1))).is_err(),
        "a message came after the last"
    );
    assert!(inb.stop().success(), "{}", inb.stderr());
    let (moved, early) = final_counts(&inb);
    assert!(moved > 0 && early > 0, "moved {moved}, early {early}: nothing came early");
}

#[test]
fn without_early_delivery_every_message_waits_for_its_stream_copy() {
    const N: usize = 100;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let (qa, ida) = queue();
    let (qb, idb) = queue();
    let _out = bridge(&srv, dir.path(), "out", &["out", "--queue-id", &ida], "t.late", &[]);
    let mut inb =
        bridge(&srv, dir.path(), "in", &["in", "--queue-id", &idb], "t.late", &["--no-early-delivery"]);
    for n in 0..N {
        qa.send(&body(n), 1).unwrap();
        let m = qb.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(60))).expect("a message");
        assert_eq!(m.data, body(n));
    }
    assert!(inb.stop().success(), "{}", inb.stderr());
    assert_eq!(final_counts(&inb), (N as u64, 0));
}

/// The importer's status lines so far: (moved, early) of each.
fn status_counts(b: &Bridge) -> Vec<(u64, u64)> {
    status_lines(b).iter().filter_map(|v| Some((v["moved"].as_u64()?, v["early"].as_u64()?))).collect()
}

/// A burst leaves the importer behind, where early delivery only doubles the traffic,
/// so the importer drops its subscription for a while (an economy, not asserted
/// here); once the burst is over, messages come early again. Every message arrives
/// once, in order, throughout.
#[test]
fn early_delivery_comes_back_after_a_burst_and_nothing_is_lost_or_repeated() {
    const BURST: usize = 3000;
    const PACED: usize = 100;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = ChannelConfig::new().with_capacity(64 * 1024);
    let (ca, na) = channel("ba", &config);
    let (cb, nb) = channel("bb", &config);
    let _out = bridge(&srv, dir.path(), "out", &["out", "--channel", &na], "t.early.burst", &[]);
    let mut inb = bridge(&srv, dir.path(), "in", &["in", "--channel", &nb], "t.early.burst", &[]);
    let mut tx = ca.sender().unwrap();
    let mut rx = cb.receiver().unwrap();
    let mut recv = |n: usize| {
        let got = rx
            .recv_vec_with(Wait::Timeout(Duration::from_secs(60)))
            .unwrap_or_else(|e| panic!("message {n}: {e}"));
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&body(n)), "message {n}");
    };
    let writer = std::thread::spawn(move || {
        for n in 0..BURST {
            tx.send(&body(n)).unwrap();
        }
        tx
    });
    for n in 0..BURST {
        recv(n);
    }
    let mut tx = writer.join().unwrap();
    // The early count once the burst is all in (a status line a second).
    let t = Instant::now();
    let after_burst = loop {
        if let Some(&(_, early)) = status_counts(&inb).iter().find(|(moved, _)| *moved == BURST as u64) {
            break early;
        }
        assert!(t.elapsed() < Duration::from_secs(60), "no status line after the burst: {}", inb.stderr());
        std::thread::sleep(Duration::from_millis(50));
    };
    for n in BURST..BURST + PACED {
        tx.send(&body(n)).unwrap();
        recv(n);
    }
    assert!(rx.recv_vec_with(Wait::Timeout(Duration::from_secs(1))).is_err(), "a message came twice");
    assert!(inb.stop().success(), "{}", inb.stderr());
    let (moved, early) = final_counts(&inb);
    assert_eq!(moved, (BURST + PACED) as u64);
    assert!(early > after_burst, "nothing came early after the burst (early: {after_burst} then {early})");
}
