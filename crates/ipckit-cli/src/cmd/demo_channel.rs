//! `ipckit demo channel`: the shared-memory channel's patterns between real
//! processes — publish/subscribe (one ring, read in place by three subscribers; a
//! slow one that drops the oldest messages), then request/response (a server, two
//! clients, and a client killed mid-call that leaves nothing behind).
//!
//! The channels live in memfds, so nothing is left behind whichever way the demo
//! ends. The helpers are this binary (`__demo-role chan-sub` / `chan-client`); each
//! opens the parent's memfd through `/proc/PID/fd/N`.

use std::os::fd::{AsRawFd, OwnedFd};
use std::process::Stdio;
use std::time::{Duration, Instant};

use ipckit::ErrorKind;
use ipckit::channel::pubsub::PubSub;
use ipckit::channel::rpc::Rpc;
use ipckit::channel::{Overflow, PatternConfig};
use ipckit::process::{self, Signal};

use super::demo::{Kid, say};
use crate::{Fail, Res};

/// How many messages the publisher sends.
const MESSAGES: u64 = 20_000;
/// How many calls each client makes.
const CALLS: u64 = 5;

/// The path another process opens to reach this process's descriptor `fd`.
fn proc_path(fd: &impl AsRawFd) -> String {
    format!("/proc/{}/fd/{}", process::current_pid(), fd.as_raw_fd())
}

fn open_proc_fd(path: &str) -> Result<OwnedFd, Fail> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Fail::Msg(format!("cannot open the channel's memfd at {path}: {e}")))?;
    Ok(OwnedFd::from(f))
}

/// Waits, at most ten seconds, until `cond` holds.
fn within_ten_seconds(what: &str, mut cond: impl FnMut() -> bool) -> Result<(), Fail> {
    let start = Instant::now();
    while !cond() {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(Fail::Msg(format!("the demo gave up waiting: {what}")));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The part itself.
pub fn part() -> Result<(), Fail> {
    pubsub(Overflow::Block, &[("a", 0), ("b", 0), ("c", 0)])?;
    pubsub(Overflow::DropOldest, &[("fast", 0), ("slow", 200)])?;
    rpc()
}

fn pubsub(overflow: Overflow, subs: &[(&str, u64)]) -> Result<(), Fail> {
    let config = PatternConfig::new().with_capacity(64 * 1024).with_max_members(4).with_overflow(overflow);
    let ps = PubSub::create_memfd(&config)?;
    let path = proc_path(&ps.fd());
    let policy = match overflow {
        Overflow::DropOldest => "a slow subscriber loses the oldest messages, and is told how many",
        _ => "the publisher waits for the slowest subscriber (back-pressure)",
    };
    say(
        "publisher",
        format!(
            "memfd_create + mmap: one {} KiB ring, up to {} subscribers; {policy}",
            ps.capacity() / 1024,
            ps.max_subscribers()
        ),
    )?;
    let mut publisher = ps.publisher()?;
    let mut kids = Vec::new();
    for (name, delay_us) in subs {
        kids.push(Kid::start(
            "chan-sub",
            &[path.clone(), name.to_string(), delay_us.to_string()],
            Stdio::null(),
            Stdio::inherit(),
        )?);
    }
    within_ten_seconds("the subscribers to join", || {
        publisher.refresh();
        publisher.subscribers() == subs.len()
    })?;
    say(
        "publisher",
        format!(
            "{} subscribers admitted (each claimed a slot and bumped `changes`; their heads start at the publisher's tail)",
            subs.len()
        ),
    )?;
    let start = Instant::now();
    for seq in 0..MESSAGES {
        let text = format!("tick {seq}");
        publisher.send(text.as_bytes())?;
    }
    let took = start.elapsed();
    say(
        "publisher",
        format!(
            "published {MESSAGES} messages in {:.1} ms: each written once, read in place by every subscriber",
            took.as_secs_f64() * 1e3
        ),
    )?;
    publisher.close();
    say("publisher", "closed: the subscribers take what is left, then get Disconnected")?;
    for (k, (name, _)) in kids.into_iter().zip(subs) {
        k.finish(&format!("subscriber {name}"))?;
    }
    Ok(())
}

fn rpc() -> Result<(), Fail> {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(16 * 1024).with_max_members(4))?;
    let path = proc_path(&rpc.fd());
    let mut server = rpc.server()?;
    say("server", "memfd_create + mmap: request/response, a request ring and a reply ring per client slot")?;
    let mut clients = Vec::new();
    for name in ["alice", "bob"] {
        clients.push(Kid::start(
            "chan-client",
            &[path.clone(), name.into()],
            Stdio::null(),
            Stdio::inherit(),
        )?);
    }
    let mut buf = vec![0u8; 1024];
    for _ in 0..2 * CALLS {
        let req = server.recv_timeout(&mut buf, Duration::from_secs(10))?;
        let text = String::from_utf8_lossy(&buf[..req.len]).to_string();
        let answer = match text.split_whitespace().collect::<Vec<_>>()[..] {
            [_, "add", a, b] => match (a.parse::<i64>(), b.parse::<i64>()) {
                (Ok(a), Ok(b)) => (a + b).to_string(),
                _ => "bad numbers".into(),
            },
            _ => "unknown request".into(),
        };
        server.reply(&req, answer.as_bytes())?;
        say("server", format!("slot {}: \"{text}\" -> \"{answer}\"", req.client))?;
    }
    for (k, name) in clients.into_iter().zip(["alice", "bob"]) {
        k.finish(&format!("client {name}"))?;
    }
    // A client killed while it waits for its reply leaves nothing on the server.
    let victim =
        Kid::start("chan-client", &[path, "mallory".into(), "hang".into()], Stdio::null(), Stdio::inherit())?;
    let req = server.recv_timeout(&mut buf, Duration::from_secs(10))?;
    say(
        "server",
        format!(
            "slot {}: \"{}\"; clients connected: {}",
            req.client,
            String::from_utf8_lossy(&buf[..req.len]),
            server.clients()
        ),
    )?;
    process::kill(victim.pid(), Signal::Kill)?;
    say("server", format!("kill({}, SIGKILL): the client dies waiting for its reply", victim.pid()))?;
    let _ = victim.finish("killed client");
    match server.reply(&req, b"too late") {
        Err(e) if e.kind() == ErrorKind::Disconnected => say("server", format!("reply -> {e}"))?,
        Ok(()) => say("server", "reply sent before the death was seen (the slot is freed on the next wait)")?,
        Err(e) => return Err(e.into()),
    }
    within_ten_seconds("the dead client's slot to be freed", || {
        let _ = server.try_recv(&mut buf);
        server.clients() == 0
    })?;
    say("server", "clients connected: 0 — the dead client's slot and rings were zeroed and freed")
}

/// The helper roles; `args[0]` is the role.
pub fn role(args: &[String]) -> Res {
    let arg =
        |i: usize| args.get(i).cloned().ok_or_else(|| Fail::Msg(format!("demo role: argument {i} missing")));
    match arg(0)?.as_str() {
        "chan-sub" => {
            let (path, name) = (arg(1)?, arg(2)?);
            let delay = Duration::from_micros(arg(3)?.parse().unwrap_or(0));
            let ps = PubSub::from_fd(open_proc_fd(&path)?)?;
            let mut sub = ps.subscriber()?;
            let who = format!("sub {name}");
            say(&who, format!("open {path}, joined slot {}", sub.slot()))?;
            let (mut got, mut last) = (0u64, None::<u64>);
            loop {
                let m = match sub.recv_in_place() {
                    Ok(m) => m,
                    Err(e) if e.kind() == ErrorKind::Disconnected => break,
                    Err(e) => return Err(e.into()),
                };
                let text = String::from_utf8_lossy(&m.to_vec()).to_string();
                if text != format!("tick {}", m.seq()) {
                    return Err(Fail::Msg(format!("{who}: message {} reads {text:?}", m.seq())));
                }
                if last.is_some_and(|l| m.seq() != l + 1 + m.missed()) {
                    return Err(Fail::Msg(format!("{who}: message {} out of order", m.seq())));
                }
                last = Some(m.seq());
                got += 1;
                if got == 1 {
                    say(&who, format!("first message in place: \"{text}\" (seq {})", m.seq()))?;
                }
                drop(m);
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
            }
            say(
                &who,
                format!(
                    "received {got}, missed {} (dropped for it), last seq {}; every one intact and in order",
                    sub.missed(),
                    last.map_or("none".into(), |l| l.to_string())
                ),
            )?;
        }
        "chan-client" => {
            let (path, name) = (arg(1)?, arg(2)?);
            let hang = args.get(3).is_some_and(|a| a == "hang");
            let rpc = Rpc::from_fd(open_proc_fd(&path)?)?;
            let mut client = rpc.client()?;
            let who = format!("client {name}");
            let mut buf = [0u8; 256];
            if hang {
                say(&who, format!("slot {}: calls and waits for its reply", client.slot()))?;
                client.call(b"mallory add 1 1", &mut buf)?;
                std::thread::sleep(Duration::from_secs(3600));
            }
            for k in 0..CALLS {
                let a = k * 10 + name.len() as u64;
                let req = format!("{name} add {a} {k}");
                let n = client.call(req.as_bytes(), &mut buf)?;
                let answer = String::from_utf8_lossy(&buf[..n]).to_string();
                if answer != (a + k).to_string() {
                    return Err(Fail::Msg(format!("{who}: {req} -> {answer}")));
                }
                say(&who, format!("call(\"{req}\") -> \"{answer}\""))?;
            }
        }
        other => return Err(Fail::Msg(format!("unknown demo role '{other}'"))),
    }
    Ok(std::process::ExitCode::SUCCESS)
}
