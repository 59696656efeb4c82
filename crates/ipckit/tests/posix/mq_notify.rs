//! POSIX message queues: `mq_notify` callbacks, readiness through `poll`, and the
//! async (tokio) queue, each with another process on the other end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::{fork, wait_ok};
use ipckit::posix::mq::{MsgQueue, QueueAttr};
use ipckit::{ErrorKind, Mode, Wait};

/// Long enough never to be reached on a working system: a hang guard, not a timing.
const HANG: Duration = Duration::from_secs(120);

fn queue(tag: &str, maxmsg: usize) -> MsgQueue {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!("/ipckit-test-mqn-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
    let mut q = MsgQueue::create(&name, QueueAttr { maxmsg, msgsize: 64 }, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q
}

#[test]
fn a_notification_runs_when_another_process_sends() {
    let q = queue("fire", 4);
    let (tx, rx) = mpsc::channel();
    let note = q
        .notify(move || {
            let _ = tx.send(std::thread::current().id());
        })
        .unwrap();
    assert!(!note.fired());
    let name = q.name().to_string();
    let child = fork(|| match MsgQueue::open(&name).and_then(|o| o.send(b"wake up", 5)) {
        Ok(()) => 0,
        Err(_) => 2,
    });
    let thread = rx.recv_timeout(HANG).expect("the notification ran");
    assert_ne!(thread, std::thread::current().id(), "on another thread");
    assert!(note.fired());
    wait_ok(child);
    let mut buf = [0u8; 64];
    let r = q.recv(&mut buf).unwrap();
    let (len, prio) = (r.len, r.priority);
    assert_eq!((&buf[..len], prio), (&b"wake up"[..], 5), "the message is still there to receive");
}

#[test]
fn only_one_process_may_be_registered_and_cancelling_frees_the_place() {
    let q = queue("busy", 4);
    let note = q.notify(|| {}).unwrap();
    let name = q.name().to_string();
    let child = fork(|| {
        let Ok(o) = MsgQueue::open(&name) else { return 2 };
        match o.notify(|| {}) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => 0,
            Err(_) => 3,
            Ok(n) => {
                std::mem::forget(n);
                4
            }
        }
    });
    wait_ok(child);
    // In this process too, a second registration is refused while the first stands.
    assert_eq!(q.notify(|| {}).unwrap_err().kind(), ErrorKind::AlreadyExists);
    note.cancel().unwrap();
    let again = q.notify(|| {}).unwrap();
    drop(again);
    let again = q.notify(|| {}).unwrap();
    assert!(!again.fired());
}

#[test]
fn a_cancelled_notification_never_runs() {
    let q = queue("cancel", 4);
    let (tx, rx) = mpsc::channel::<()>();
    let note = q
        .notify(move || {
            let _ = tx.send(());
        })
        .unwrap();
    note.cancel().unwrap();
    MsgQueue::open(q.name()).unwrap().send(b"x", 0).unwrap();
    // The callback was dropped unrun, so the channel disconnects instead of delivering.
    assert_eq!(rx.recv_timeout(HANG), Err(mpsc::RecvTimeoutError::Disconnected));
}

#[test]
fn readiness_is_seen_through_poll_without_taking_the_message() {
    let q = queue("poll", 2);
    assert_eq!(q.wait_readable_with(Wait::NoWait).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(q.wait_readable_timeout(Duration::from_millis(20)).unwrap_err().kind(), ErrorKind::TimedOut);
    q.wait_writable_with(Wait::NoWait).unwrap();

    let name = q.name().to_string();
    let child = fork(|| {
        let Ok(o) = MsgQueue::open(&name) else { return 2 };
        // Send once the parent sleeps in poll.
        std::thread::sleep(Duration::from_millis(20));
        match o.send(b"ready", 1) {
            Ok(()) => 0,
            Err(_) => 3,
        }
    });
    q.wait_readable_timeout(HANG).unwrap();
    wait_ok(child);
    q.wait_readable().unwrap(); // still there: readiness took nothing
    let mut buf = [0u8; 64];
    let r = q.try_recv(&mut buf).unwrap();
    assert_eq!((r.len, r.priority), (5, 1));

    q.send(b"1", 0).unwrap();
    q.send(b"2", 0).unwrap();
    assert_eq!(q.wait_writable_with(Wait::NoWait).unwrap_err().kind(), ErrorKind::WouldBlock, "full");
}

#[cfg(feature = "tokio")]
#[test]
fn the_async_queue_exchanges_exact_sequences_with_another_process() {
    const N: u32 = 200;
    let up = queue("async-up", 3);
    let down = queue("async-down", 3);
    let (up_name, down_name) = (up.name().to_string(), down.name().to_string());
    // The child sends N numbered messages up, then receives N replies down.
    let child = fork(|| {
        let (Ok(u), Ok(d)) = (MsgQueue::open(&up_name), MsgQueue::open(&down_name)) else { return 2 };
        for i in 0..N {
            if u.send(&i.to_le_bytes(), 0).is_err() {
                return 3;
            }
        }
        let mut buf = [0u8; 64];
        for i in 0..N {
            match d.recv(&mut buf) {
                Ok(r) if (r.len, r.priority) == (5, 7) && buf[..4] == i.to_le_bytes() && buf[4] == b'r' => {}
                _ => return 4,
            }
        }
        0
    });
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (up, down) = rt
        .block_on(async move {
            let (up, down) = (up.into_async()?, down.into_async()?);
            let mut buf = [0u8; 64];
            for i in 0..N {
                let (len, prio) = up.recv(&mut buf).await?;
                assert_eq!((len, prio), (4, 0));
                assert_eq!(buf[..4], i.to_le_bytes(), "message {i} in order");
            }
            for i in 0..N {
                let mut reply = i.to_le_bytes().to_vec();
                reply.push(b'r');
                down.send(&reply, 7).await?; // waits for room: the queue holds 3
            }
            Ok::<_, ipckit::Error>((up, down))
        })
        .unwrap();
    wait_ok(child);
    let (up, down) = (up.into_inner().unwrap(), down.into_inner().unwrap());
    assert!(!up.status().unwrap().nonblocking, "blocking again");
    assert_eq!(up.status().unwrap().curmsgs, 0, "nothing lost, nothing left");
    assert_eq!(down.status().unwrap().curmsgs, 0, "nothing lost, nothing left");
}

#[cfg(feature = "tokio")]
#[test]
fn into_async_outside_a_runtime_is_a_clear_error() {
    let q = queue("nort", 2);
    let e = q.into_async().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}
