//! The POSIX-queue exporter SIGKILLed mid-stream and restarted. A POSIX queue cannot
//! be read without removing, so each message is received into the landing (a shared
//! file mapping) and appended to the spool at once: what the spool holds is
//! published again under the same ids (the server drops the repeats), and a kill
//! between the receive and the append leaves the message's bytes in the landing,
//! where the restarted exporter finds them, saves them to `<state>.lost-<id>` and
//! says LOST (the length is the call's result alone, so it is not published). So:
//! order kept, nothing twice, and every message missing is in a lost file, told on
//! stderr: none vanishes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::bridge_util::*;
use crate::fifo_channel::{bridge, kill_9_eight_times, seed};
use crate::security::queue;
use ipckit::Mode;
use ipckit::posix::mq::{self as pmq, QueueAttr};
use ipckit::sysv::msg::Select;
use ipckit::{ErrorKind, Wait};

#[test]
fn a_posix_exporter_killed_9_mid_stream_repeats_none_and_saves_and_tells_what_a_kill_took() {
    const COUNT: usize = 4000;
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let name = format!("/ipckit-bridge-{}-pkill", std::process::id());
    let mut a = pmq::MsgQueue::create(&name, QueueAttr { maxmsg: 10, msgsize: 64 }, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    let (b, idb) = queue();
    let mut out = bridge(&srv, dir.path(), "out", &["out", "--posix-queue", &name], "t.pkill", &[]);
    let _in = bridge(&srv, dir.path(), "in", &["in", "--queue-id", &idb], "t.pkill", &[]);

    // The sender blocks while the queue is full (the exporter dead or behind).
    let sender = {
        let name = name.clone();
        std::thread::spawn(move || {
            let a = pmq::MsgQueue::open(&name).unwrap();
            for n in 0..COUNT as u32 {
                a.send(&n.to_le_bytes(), 0).unwrap();
            }
        })
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut got: Vec<u32> = Vec::with_capacity(COUNT);
            // Until the last message, kept in order (a long silence is a stuck bridge,
            // never a clock); then a second more, for repeats.
            loop {
                let wait = if got.last() == Some(&(COUNT as u32 - 1)) { 1 } else { 120 };
                match b.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(wait))) {
                    Ok(m) => {
                        got.push(u32::from_le_bytes(m.data[..4].try_into().unwrap()));
                        progress.store(got.len(), Ordering::SeqCst);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock || e.is_not_now() => break,
                    Err(e) => panic!("{e}"),
                }
            }
            got
        })
    };
    let seed = seed();
    kill_9_eight_times(&mut out, &progress, COUNT, seed);
    sender.join().unwrap();
    let got = receiver.join().unwrap();
    let ordered = got.windows(2).all(|w| w[0] < w[1]);
    let missing: Vec<u32> = {
        let have: std::collections::HashSet<u32> = got.iter().copied().collect();
        (0..COUNT as u32).filter(|n| !have.contains(n)).collect()
    };
    // What the lost files hold: each a message's bytes up to its last non-zero one.
    let mut saved: Vec<u32> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("out.state.lost-"))
        .map(|e| {
            let mut b = std::fs::read(e.path()).unwrap();
            assert!(b.len() <= 4, "seed {seed}: {} holds {b:?}", e.path().display());
            b.resize(4, 0);
            u32::from_le_bytes(b.try_into().unwrap())
        })
        .collect();
    saved.sort_unstable();
    eprintln!("seed {seed}: {} of {COUNT} arrived; missing {missing:?}, saved {saved:?}", got.len());
    assert!(ordered, "seed {seed}: out of order or twice: {got:?}\nexporter: {}", out.stderr());
    assert_eq!(got.last(), Some(&(COUNT as u32 - 1)), "seed {seed}: the last message never came");
    assert_eq!(missing, saved, "seed {seed}: missing and saved differ\nexporter: {}", out.stderr());
    assert_eq!(
        out.stderr().contains("LOST"),
        !saved.is_empty(),
        "seed {seed}: a loss must be told, and only then\nexporter: {}",
        out.stderr()
    );
}

/// A landing as a POSIX exporter killed between `mq_receive` and its spool leaves it
/// (the layout of `bridge/landing.rs`: the id plus one, the priority, 4 spare bytes,
/// the body, zeros after it): the next exporter saves the message to
/// `<state>.lost-<id>`, says LOST with the file's name, goes on with the queue, and
/// names the file again at its next start.
#[test]
fn an_exporter_that_finds_a_message_its_predecessor_took_saves_it_and_says_so() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let name = format!("/ipckit-bridge-{}-caught", std::process::id());
    let mut a = pmq::MsgQueue::create(&name, QueueAttr { maxmsg: 4, msgsize: 64 }, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    let mut landing = Vec::new();
    landing.extend_from_slice(&1u64.to_le_bytes()); // id 0, plus one
    landing.extend_from_slice(&3u32.to_le_bytes()); // priority 3
    landing.extend_from_slice(&[0; 4]);
    landing.extend_from_slice(b"taken, never spooled");
    landing.resize(16 + 64, 0);
    std::fs::write(dir.path().join("out.state.landing"), &landing).unwrap();
    a.send(b"sent after", 1).unwrap();

    let (b, idb) = queue();
    let mut out = bridge(&srv, dir.path(), "out", &["out", "--posix-queue", &name], "t.caught", &[]);
    let _in = bridge(&srv, dir.path(), "in", &["in", "--queue-id", &idb], "t.caught", &[]);
    let m = b.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(60))).unwrap();
    assert_eq!(m.data, b"sent after", "the queue's next message crosses");
    let lost = dir.path().join("out.state.lost-0");
    assert_eq!(std::fs::read(&lost).unwrap(), b"taken, never spooled");
    // The line is printed before the exporter goes on.
    let told = out.stderr_once("LOST", "the exporter never said LOST");
    let path = lost.display().to_string();
    assert!(
        told.contains("LOST: the previous exporter") && told.contains(&path) && told.contains("priority 3"),
        "{told}"
    );
    out.restart();
    let again = out.stderr_once("LOST earlier", "the restarted exporter never named the file");
    assert!(again.contains("LOST earlier: 1 message that a killed exporter took"), "{again}");
    assert!(again.contains(&path), "{again}");
}
