//! The `bridge` part of `ipckit demo`: the C-style sender and receiver on two "hosts"
//! (two queues with different keys), joined by `ipckit bridge out` and `ipckit bridge
//! in` through a private nats-server on a free loopback port. Skipped, with how to
//! install it, when nats-server is missing.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ipckit::process::{self, Signal};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, Wait};

use super::{Item, Kid, Score, made, me, say, temp_dir};
use crate::Fail;

fn nats_server() -> Option<PathBuf> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .or_else(|| {
            std::env::var_os("PATH")
                .and_then(|ps| std::env::split_paths(&ps).map(|d| d.join("nats-server")).find(|p| p.exists()))
        })
}

/// Runs the part.
pub(super) fn part_bridge() -> Result<(), Fail> {
    let Some(exe) = nats_server() else {
        return say(
            "demo",
            "nats-server is not installed (Debian/Ubuntu: apt-get install nats-server); skipping this part",
        );
    };
    let (dir, _made_dir) = temp_dir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| Fail::Msg(format!("cannot find a free loopback port: {e}")))?
        .port();
    let url = format!("nats://127.0.0.1:{port}");
    let server = Command::new(&exe)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
        .arg(dir.path().join("js"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Fail::Msg(format!("cannot start {}: {e}", exe.display())))?;
    let server = Kid::adopt(server);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if t.elapsed() > Duration::from_secs(10) {
            return Err(Fail::Msg("nats-server did not start listening within 10 s".into()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    say(
        "demo",
        format!("{} -js on {url} (pid {}), its store in a private directory", exe.display(), server.pid()),
    )?;

    let anchor = dir.path().join("proto");
    std::fs::write(&anchor, b"both hosts agree on this file\n")?;
    let mut host_a = MsgQueue::create(Key::ftok(&anchor, b'A')?, Mode::OWNER_RW)?;
    let _ma = made(Item::Msg(host_a.id()));
    host_a.set_remove_on_drop(true)?;
    let mut host_b = MsgQueue::create(Key::ftok(&anchor, b'B')?, Mode::OWNER_RW)?;
    let _mb = made(Item::Msg(host_b.id()));
    host_b.set_remove_on_drop(true)?;
    say(
        "demo",
        format!(
            "\"host A\" queue {} and \"host B\" queue {} (two keys stand for two machines)",
            host_a.key(),
            host_b.key()
        ),
    )?;

    let bridge = |dir_: &str, id: i32, state: &str| -> Result<Kid, Fail> {
        let child = Command::new(me()?)
            .args([
                "bridge",
                dir_,
                "--queue-id",
                &id.to_string(),
                "--subject",
                "demo.scores",
                "--server",
                &url,
            ])
            .arg("--state")
            .arg(dir.path().join(state))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Fail::Msg(format!("cannot start ipckit bridge {dir_}: {e}")))?;
        Ok(Kid::adopt(child))
    };
    let out = bridge("out", host_a.id(), "out.state")?;
    say("bridge out", format!("msgrcv(MSG_COPY) on host A -> publish to demo.scores (pid {})", out.pid()))?;
    let inb = bridge("in", host_b.id(), "in.state")?;
    say("bridge in", format!("demo.scores -> msgsnd on host B, ack after the send (pid {})", inb.pid()))?;

    for (mtype, who, math, chinese) in [(1i64, "alan", 90, 80), (2, "grace", 100, 95)] {
        let mut name = [0u8; 32];
        name[..who.len()].copy_from_slice(who.as_bytes());
        host_a.send_pod(&Score { name, math, chinese }, mtype, Wait::Block)?;
        say("sender", format!("msgsnd(host A, {{{who}, {math}, {chinese}}}, type {mtype})"))?;
    }
    for mtype in [2i64, 1] {
        let (t, s): (i64, Score) = host_b
            .recv_pod(Select::Type(mtype), Wait::Timeout(Duration::from_secs(20)))
            .map_err(|e| match e.is_not_now() {
                true => Fail::Msg(format!("no type-{mtype} record reached host B within 20 s")),
                false => e.into(),
            })?;
        let name = String::from_utf8_lossy(&s.name).trim_end_matches('\0').to_string();
        say(
            "receiver",
            format!("msgrcv(host B, type {mtype}) -> type {t}: {name} math {} chinese {}", s.math, s.chinese),
        )?;
    }
    for kid in [out, inb] {
        let _ = process::kill(kid.pid(), Signal::Term);
        kid.finish("bridge")?;
    }
    say("demo", "both bridges stopped on SIGTERM with nothing in flight; the server goes next")
}
