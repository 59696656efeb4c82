//! Per-message cost of publish/subscribe with 1 and 3 subscribers, and of many to one
//! with 3 senders: `cargo bench -p ipckit-unix --bench patterns`.
//!
//! Two settings: "one process" (publisher and subscribers take turns in one thread:
//! the software's cost, no core-to-core transfer) and "processes" (each subscriber a
//! forked process spinning on its own; the publisher streams 64-byte messages under
//! back-pressure; time until every subscriber has every message, divided by the
//! count). Medians of 5 rounds. On a 2-core machine, 3 subscriber processes share
//! the cores with the publisher, so the second setting measures contention as much
//! as the protocol.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ipckit::channel::merge::Merge;
use ipckit::channel::pubsub::PubSub;
use ipckit::channel::{Channel, ChannelConfig, PatternConfig, WaitStrategy};

const ROUNDS: usize = 5;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn pubsub_one_process(subs: usize, n: u64) -> f64 {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(1 << 16)).unwrap();
    let mut p = ps.publisher().unwrap();
    let mut s: Vec<_> = (0..subs).map(|_| ps.subscriber().unwrap()).collect();
    p.refresh();
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for _ in 0..n {
        p.send(black_box(&msg)).unwrap();
        for s in s.iter_mut() {
            black_box(s.try_recv(&mut buf).unwrap());
        }
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// The single-pair channel in the same setting, as a reference measured in the same run.
fn pair_one_process(n: u64) -> f64 {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1 << 16)).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    let start = Instant::now();
    for _ in 0..n {
        tx.send(black_box(&msg)).unwrap();
        black_box(rx.recv(&mut buf).unwrap());
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn pubsub_processes(subs: usize, n: u64) -> f64 {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(1 << 16)).unwrap();
    let mut p = ps.publisher().unwrap();
    let kids: Vec<_> = (0..subs)
        .map(|_| {
            // SAFETY: the bench is single-threaded here; the child only uses the channel
            // and exits with _exit.
            unsafe {
                ipckit::process::fork_with(|| {
                    let mut s = ps.subscriber().unwrap();
                    s.set_wait_strategy(WaitStrategy::Spin);
                    let mut buf = [0u8; 64];
                    let mut next = 0;
                    while next < n {
                        let r = s.recv(&mut buf).unwrap();
                        if r.seq != next {
                            return 1;
                        }
                        next += 1;
                    }
                    0
                })
            }
            .unwrap()
        })
        .collect();
    while p.subscribers() < subs {
        p.refresh();
        std::thread::sleep(Duration::from_millis(1));
    }
    let msg = [7u8; 64];
    let start = Instant::now();
    for _ in 0..n {
        p.send(&msg).unwrap();
    }
    for k in kids {
        assert!(k.wait().unwrap().success(), "a subscriber saw a gap");
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

fn merge_processes(senders: usize, n: u64) -> f64 {
    let m = Merge::create_memfd(&PatternConfig::new().with_capacity(1 << 16)).unwrap();
    let mut rx = m.receiver().unwrap();
    let kids: Vec<_> = (0..senders)
        .map(|_| {
            // SAFETY: as above.
            unsafe {
                ipckit::process::fork_with(|| {
                    let mut tx = m.sender().unwrap();
                    tx.set_wait_strategy(WaitStrategy::Spin);
                    for _ in 0..n {
                        tx.send(&[7u8; 64]).unwrap();
                    }
                    0
                })
            }
            .unwrap()
        })
        .collect();
    let mut buf = [0u8; 64];
    rx.recv(&mut buf).unwrap();
    let start = Instant::now();
    for _ in 1..n * senders as u64 {
        rx.recv(&mut buf).unwrap();
    }
    let t = start.elapsed().as_nanos() as f64 / (n * senders as u64 - 1) as f64;
    for k in kids {
        assert!(k.wait().unwrap().success());
    }
    t
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: keep it short then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 2_000 } else { 200_000 };
    let rounds = if quick { 1 } else { ROUNDS };
    println!("64-byte messages, {n} per round, median of {rounds} rounds (ns per message)");
    let pair = median((0..rounds).map(|_| pair_one_process(n)).collect());
    println!("single-pair channel (reference):       one process {pair:8.1}");
    for subs in [1, 3] {
        let one = median((0..rounds).map(|_| pubsub_one_process(subs, n)).collect());
        let procs = median((0..rounds).map(|_| pubsub_processes(subs, n)).collect());
        println!("publish/subscribe, {subs} subscriber(s): one process {one:8.1}   processes {procs:8.1}");
    }
    let merge = median((0..rounds).map(|_| merge_processes(3, n)).collect());
    println!("many to one, 3 sender processes:                         receiver {merge:8.1}");
}
