//! How much CPU an idle waiting end costs: each new waiting primitive of the channel
//! (a blocking receive, a sender waiting for room, a wait set, an event, a pollable
//! receiver in an epoll-style loop through tokio) and the waiting end of every
//! pattern (publish/subscribe subscriber and publisher on a full ring, many-to-one
//! receiver, request/response server and client) waits in a child process for
//! nothing, and the parent reads the child's CPU time from `/proc/PID/stat`
//! (utime + stime, in 1/100 s) and `/proc/PID/schedstat` (nanoseconds on a CPU)
//! over a few seconds.
//!
//! ```text
//! cargo run --release -p ipckit-unix --features tokio --example channel_idle [SECONDS]
//! ```
//!
//! The goal: under 1% of a core each.

use std::time::{Duration, Instant};

use ipckit::channel::merge::Merge;
use ipckit::channel::pubsub::PubSub;
use ipckit::channel::rpc::Rpc;
use ipckit::channel::{Channel, ChannelConfig, Event, PatternConfig, WaitSet};
use ipckit::process::{self, Signal};

/// utime + stime in 1/100 s (USER_HZ), and the schedstat run time in ns.
fn cpu_of(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file, 12 and 13 after the command name.
    let ticks = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    let sched = std::fs::read_to_string(format!("/proc/{pid}/schedstat")).unwrap_or_default();
    let ns = sched.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(0);
    (ticks, ns)
}

fn measure(name: &str, secs: f64, child: process::Child) {
    // Past the spin and yield phases (microseconds) and any start-up.
    std::thread::sleep(Duration::from_millis(300));
    let (t0, n0) = cpu_of(child.pid());
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs_f64(secs));
    let (t1, n1) = cpu_of(child.pid());
    let wall = start.elapsed().as_secs_f64();
    child.kill(Signal::Kill).expect("kill");
    let _ = child.wait();
    let by_ticks = (t1 - t0) as f64 / 100.0 / wall * 100.0;
    let by_ns = (n1 - n0) as f64 / 1e9 / wall * 100.0;
    println!("{name:<38} {by_ticks:>6.2} % (stat)   {by_ns:>7.3} % (schedstat)");
}

fn fork(f: impl FnOnce() -> i32) -> process::Child {
    // SAFETY: this program is single-threaded when it forks; children make system
    // calls through ipckit and end with _exit.
    unsafe { process::fork_with(f) }.expect("fork")
}

fn main() -> Result<(), ipckit::Error> {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(3.0);
    println!("CPU of one idle waiting end over {secs} s (target: < 1 % of a core)");

    let chan = Channel::create_memfd(&ChannelConfig::new())?;
    let _tx = chan.sender()?;
    measure(
        "Receiver::recv (adaptive)",
        secs,
        fork(|| {
            let mut rx = chan.receiver().unwrap();
            let _ = rx.recv_vec();
            0
        }),
    );

    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024))?;
    let _rx = chan.receiver()?;
    measure(
        "Sender::send, ring full",
        secs,
        fork(|| {
            let mut tx = chan.sender().unwrap();
            loop {
                if tx.send(&[0u8; 64]).is_err() {
                    return 1;
                }
            }
        }),
    );

    let (a, b) =
        (Channel::create_memfd(&ChannelConfig::new())?, Channel::create_memfd(&ChannelConfig::new())?);
    let (_ta, _tb) = (a.sender()?, b.sender()?);
    let ev = Event::create_memfd()?;
    measure(
        "WaitSet::wait (2 receivers, 1 event)",
        secs,
        fork(|| {
            let (mut ra, mut rb) = (a.receiver().unwrap(), b.receiver().unwrap());
            let mut set = WaitSet::new();
            set.add_receiver(&mut ra).unwrap();
            set.add_receiver(&mut rb).unwrap();
            set.add_event(&ev).unwrap();
            let _ = set.wait();
            0
        }),
    );

    let ev = Event::create_memfd()?;
    measure(
        "Event::wait",
        secs,
        fork(|| {
            let _ = ev.wait();
            0
        }),
    );

    let ps = PubSub::create_memfd(&PatternConfig::new())?;
    let _publisher = ps.publisher()?;
    measure(
        "pubsub Subscriber::recv",
        secs,
        fork(|| {
            let mut sub = ps.subscriber().unwrap();
            let _ = sub.recv(&mut [0u8; 64]);
            0
        }),
    );

    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(4096))?;
    let _sub = ps.subscriber()?; // admitted on the first send, never reads
    measure(
        "pubsub Publisher::send, ring full",
        secs,
        fork(|| {
            let mut p = ps.publisher().unwrap();
            while p.send(&[0u8; 64]).is_ok() {}
            1
        }),
    );

    let m = Merge::create_memfd(&PatternConfig::new())?;
    let _merge_tx = m.sender()?;
    measure(
        "merge Receiver::recv",
        secs,
        fork(|| {
            let mut rx = m.receiver().unwrap();
            let _ = rx.recv(&mut [0u8; 64]);
            0
        }),
    );

    let r = Rpc::create_memfd(&PatternConfig::new())?;
    let _client = r.client()?;
    measure(
        "rpc Server::recv",
        secs,
        fork(|| {
            let mut server = r.server().unwrap();
            let _ = server.recv(&mut [0u8; 64]);
            0
        }),
    );

    let r = Rpc::create_memfd(&PatternConfig::new())?;
    let _server = r.server()?; // takes no request, so no reply comes
    measure(
        "rpc Client::call, no reply",
        secs,
        fork(|| {
            let mut c = r.client().unwrap();
            let _ = c.call(b"ping", &mut [0u8; 64]);
            0
        }),
    );

    #[cfg(feature = "tokio")]
    {
        let chan = Channel::create_memfd(&ChannelConfig::new())?;
        let _tx = chan.sender()?;
        measure(
            "AsyncReceiver::recv (tokio)",
            secs,
            fork(|| {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut rx = ipckit::channel::AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
                    let _ = rx.recv_vec().await;
                });
                0
            }),
        );
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024))?;
        let _rx = chan.receiver()?;
        measure(
            "AsyncSender::send, ring full (tokio)",
            secs,
            fork(|| {
                let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                rt.block_on(async {
                    let mut tx = ipckit::channel::AsyncSender::new(chan.sender().unwrap()).unwrap();
                    while tx.send(&[0u8; 64]).await.is_ok() {}
                });
                0
            }),
        );
    }
    Ok(())
}
