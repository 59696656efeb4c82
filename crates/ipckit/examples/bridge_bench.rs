//! Measures the bridge against raw NATS on the loopback: a 64-byte round trip
//! through four bridges (queue A -> out -> NATS -> in -> queue B, an echo to queue C
//! -> out -> NATS -> in -> queue D) next to a raw request/reply with the same client,
//! and one-way throughput of 64-byte messages through one pair of bridges.
//!
//! ```text
//! cargo run --release -p ipckit-unix --features nats --example bridge_bench -- nats://127.0.0.1:4222
//! ```
//! Needs a nats-server with JetStream (`nats-server -js`) at that URL.
//!
//! A quick probe, not the reference figure: its raw request/reply runs on a tokio
//! runtime in this same process and is slower than the one `ipckit bench -m bridge`
//! measures (two pinned processes, paired blocks), so its ratio flatters the bridge.
//! Quote the bench.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ipckit::bridge::{self, Local, Options, Stats};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode};

fn queue() -> MsgQueue {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).expect("msgget");
    q.set_remove_on_drop(true).expect("remove on drop");
    q
}

fn spawn_bridge(
    out: bool,
    id: i32,
    url: &str,
    subject: &str,
    dir: &std::path::Path,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    let mut opts =
        Options::new(url, subject, dir.join(format!("{}-{subject}.state", if out { "out" } else { "in" })));
    opts.batch = 256;
    std::thread::spawn(move || {
        let local = Local::SysvQueue(MsgQueue::from_id(id).expect("open"));
        let stats = Arc::new(Stats::default());
        let r = if out {
            bridge::export(&local, &opts, &stop, &stats)
        } else {
            bridge::import(&local, &opts, &stop, &stats)
        };
        if let Err(e) = r {
            eprintln!("bridge: {e}");
        }
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| "nats://127.0.0.1:4222".into());
    let dir = std::env::temp_dir().join(format!("ipckit-bridge-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("state dir");
    let tag = std::process::id();
    let (a, b, c, d) = (queue(), queue(), queue(), queue());
    let stop = Arc::new(AtomicBool::new(false));
    let (s1, s2) = (format!("bench.{tag}.ping"), format!("bench.{tag}.pong"));
    let mut threads = vec![
        spawn_bridge(true, a.id(), &url, &s1, &dir, stop.clone()),
        spawn_bridge(false, b.id(), &url, &s1, &dir, stop.clone()),
        spawn_bridge(true, c.id(), &url, &s2, &dir, stop.clone()),
        spawn_bridge(false, d.id(), &url, &s2, &dir, stop.clone()),
    ];
    // The echo: B -> C, blocking in msgrcv as a real receiver does; a message of
    // type STOP put straight into B ends it.
    const STOP: i64 = 2;
    let echo = {
        let (bid, cid) = (b.id(), c.id());
        std::thread::spawn(move || {
            let (b, c) = (MsgQueue::from_id(bid).expect("b"), MsgQueue::from_id(cid).expect("c"));
            let mut buf = [0u8; 8192];
            loop {
                let r = b.recv(&mut buf, Select::Any).expect("recv");
                if r.mtype == STOP {
                    break;
                }
                c.send(&buf[..r.len], r.mtype).expect("send");
            }
        })
    };
    let payload = [7u8; 64];
    let mut buf = [0u8; 8192];
    // Warm up, then time round trips.
    let mut bridge_rt = Vec::new();
    for i in 0..1200 {
        let t = Instant::now();
        a.send(&payload, 1).expect("send");
        d.recv(&mut buf, Select::Any).expect("recv");
        if i >= 200 {
            bridge_rt.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    b.send(&[], STOP).expect("stop the echo");
    echo.join().expect("echo");
    stop.store(true, Ordering::Relaxed);
    for t in threads.drain(..) {
        t.join().expect("bridge thread");
    }

    // Raw request/reply with the same client.
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let raw_rt = rt.block_on(async {
        use futures_util::StreamExt;
        let client = async_nats::connect(url.as_str()).await.expect("connect");
        let mut sub = client.subscribe(format!("bench.{tag}.raw")).await.expect("subscribe");
        let responder = client.clone();
        tokio::spawn(async move {
            while let Some(m) = sub.next().await {
                if let Some(reply) = m.reply {
                    let _ = responder.publish(reply, m.payload).await;
                }
            }
        });
        let mut v = Vec::new();
        for i in 0..1200 {
            let t = Instant::now();
            client.request(format!("bench.{tag}.raw"), payload.to_vec().into()).await.expect("request");
            if i >= 200 {
                v.push(t.elapsed().as_secs_f64() * 1e6);
            }
        }
        v
    });

    // Throughput: 50 000 messages A -> B through one pair of bridges.
    let stop = Arc::new(AtomicBool::new(false));
    let s3 = format!("bench.{tag}.tput");
    let threads = [
        spawn_bridge(true, a.id(), &url, &s3, &dir, stop.clone()),
        spawn_bridge(false, b.id(), &url, &s3, &dir, stop.clone()),
    ];
    let n = 50_000;
    let sender = {
        let aid = a.id();
        std::thread::spawn(move || {
            let a = MsgQueue::from_id(aid).expect("a");
            for _ in 0..n {
                a.send(&payload, 1).expect("send");
            }
        })
    };
    let t = Instant::now();
    for _ in 0..n {
        b.recv(&mut buf, Select::Any).expect("recv");
    }
    let secs = t.elapsed().as_secs_f64();
    sender.join().expect("sender");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("bridge thread");
    }
    let _ = std::fs::remove_dir_all(&dir);

    let (br, raw) = (median(bridge_rt), median(raw_rt));
    println!("bridge round trip, 64 B (4 bridges, JetStream): median {br:.0} us");
    println!("raw NATS request/reply, 64 B:                   median {raw:.0} us");
    println!("ratio bridge / raw: {:.1}x (a probe; `ipckit bench -m bridge` is the reference)", br / raw);
    println!("bridge throughput, 64 B one way: {:.0} msgs/s ({n} messages in {secs:.2} s)", n as f64 / secs);
}
