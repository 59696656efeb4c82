//! The POSIX-queue exporter SIGKILLed mid-stream and restarted. A POSIX queue cannot
//! be read without removing, so each message is appended to the spool as soon as it
//! is taken: a kill may lose only the one message between `mq_receive` and its
//! append, never a batch, and what the spool holds is published again under the
//! same ids (the server drops the repeats). So: order kept, nothing twice, at most
//! one message missing per kill.

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
fn a_posix_exporter_killed_9_mid_stream_loses_at_most_one_message_a_kill_and_repeats_none() {
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
    let missing = COUNT - got.len();
    eprintln!("seed {seed}: {} of {COUNT} arrived, {missing} missing", got.len());
    assert!(ordered, "seed {seed}: out of order or twice: {got:?}\nexporter: {}", out.stderr());
    assert_eq!(got.last(), Some(&(COUNT as u32 - 1)), "seed {seed}: the last message never came");
    assert!(missing <= 8, "seed {seed}: {missing} missing after 8 kills\nexporter: {}", out.stderr());
}
