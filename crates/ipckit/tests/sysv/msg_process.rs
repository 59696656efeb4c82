//! Message queues across real processes: delivery, removal while waiting, signals,
//! permissions, ownership after fork.

use crate::util;

use std::time::Duration;

use crate::util::{fork, wait_blocked_in, wait_ok};
use ipckit::process::{self, Signal};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{ErrorKind, Key, Mode, Wait};

fn queue() -> MsgQueue {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q
}

#[test]
fn child_sends_parent_receives_in_order() {
    let q = queue();
    let body = |i: u32| i.to_le_bytes().repeat((i % 50) as usize + 1);
    let child = fork(|| {
        for i in 0u32..2000 {
            // The queue holds 16 KiB by default: the child waits while it is full.
            if q.send(&body(i), 1 + i64::from(i % 3)).is_err() {
                return 1;
            }
        }
        0
    });
    // Everything arrives once, intact, in the order it was sent.
    for i in 0u32..2000 {
        let m = q.recv_vec(Select::Any, Wait::Block).unwrap();
        assert_eq!((m.mtype, m.data), (1 + i64::from(i % 3), body(i)), "message {i}");
    }
    wait_ok(child);
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[test]
fn receiving_by_type_leaves_the_others_in_order() {
    let q = queue();
    let child = fork(|| {
        for i in 0u32..300 {
            if q.send(&i.to_le_bytes(), 1 + i64::from(i % 3)).is_err() {
                return 1;
            }
        }
        0
    });
    wait_ok(child);
    for t in [3i64, 1, 2] {
        for i in (0u32..300).filter(|i| 1 + i64::from(i % 3) == t) {
            let m = q.recv_vec(Select::Type(t), Wait::NoWait).unwrap();
            assert_eq!(m.data, i.to_le_bytes());
        }
    }
}

#[test]
fn blocked_receiver_learns_the_queue_was_removed() {
    let q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    let child = fork(|| {
        let mut buf = [0u8; 8];
        match q.recv(&mut buf, Select::Any) {
            Err(e) if e.kind() == ErrorKind::Removed => 0,
            Err(_) => 2,
            Ok(_) => 3,
        }
    });
    wait_blocked_in(child.pid(), "msgrcv");
    q.remove().unwrap();
    wait_ok(child);
}

#[test]
fn blocked_sender_learns_the_queue_was_removed() {
    let q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.update(&ipckit::sysv::msg::QueueUpdate { qbytes: Some(16), ..Default::default() }).unwrap();
    q.send(&[0u8; 16], 1).unwrap();
    let child = fork(|| match q.send(&[0u8; 8], 1) {
        Err(e) if e.kind() == ErrorKind::Removed => 0,
        _ => 2,
    });
    wait_blocked_in(child.pid(), "msgsnd");
    q.remove().unwrap();
    wait_ok(child);
}

#[test]
fn a_signal_interrupts_a_blocked_receive() {
    // msgrcv is never restarted after a signal handler runs (signal(7)), so a caught
    // signal turns into Interrupted. The handler is installed before the fork and is
    // inherited by the child; it only sets a flag.
    let caught = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGUSR1, caught.clone()).unwrap();
    let q = queue();
    let child = fork(|| {
        let mut buf = [0u8; 8];
        match q.recv(&mut buf, Select::Any) {
            Err(e) if e.kind() == ErrorKind::Interrupted => 0,
            _ => 2,
        }
    });
    wait_blocked_in(child.pid(), "msgrcv");
    child.kill(Signal::Usr1).unwrap();
    wait_ok(child);
}

#[test]
fn timed_receive_gets_a_message_sent_while_waiting() {
    let q = queue();
    let child = fork(|| {
        let mut buf = [0u8; 8];
        match q.recv_timeout(&mut buf, Select::Type(5), Duration::from_secs(600)) {
            Ok(r) if &buf[..r.len] == b"late" && r.mtype == 5 => 0,
            _ => 2,
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    q.send(b"late", 5).unwrap();
    wait_ok(child);
}

#[test]
fn a_forked_child_never_removes_the_parents_queue() {
    let q = queue();
    let id = q.id();
    // SAFETY: the child only drops its copy of the handle (one msgctl at most) and
    // exits with _exit.
    match unsafe { process::fork() }.unwrap() {
        process::Fork::Child => {
            // The child's copy of the handle says "remove on drop", but the child is
            // not the process that made it: dropping it must leave the queue alone.
            drop(q);
            process::exit_immediately(0);
        }
        process::Fork::Parent(child) => {
            wait_ok(child);
            assert!(MsgQueue::from_id(id).is_ok(), "the queue survived the child's drop");
            drop(q);
            assert_eq!(
                MsgQueue::from_id(id).unwrap_err().kind(),
                ErrorKind::NotFound,
                "the parent removed it"
            );
        }
    }
}

#[test]
fn an_opener_never_removes_on_drop() {
    let kd = util::KeyDir::new();
    let key = kd.key(b'o');
    let mut owner = MsgQueue::create(key, Mode::OWNER_RW).unwrap();
    owner.set_remove_on_drop(true).unwrap();
    {
        let mut opener = MsgQueue::open(key).unwrap();
        assert!(!opener.created());
        let e = opener.set_remove_on_drop(true).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
    }
    assert!(MsgQueue::open(key).is_ok(), "still there after the opener dropped");
    drop(owner);
    assert_eq!(MsgQueue::open(key).unwrap_err().kind(), ErrorKind::NotFound, "the owner removed it");
}

#[test]
fn mode_0600_refuses_another_user() {
    require_root!();
    let kd = util::KeyDir::new();
    let key = kd.key(b'p');
    let mut q = MsgQueue::create(key, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q.send(b"secret", 1).unwrap();
    let child = fork(move || {
        if process::set_ids(65534, 65534).is_err() {
            return 10;
        }
        let mut buf = [0u8; 16];
        let mut code = 0;
        // Opening with no access asked succeeds; every operation is refused.
        let q = match MsgQueue::open(key) {
            Ok(q) => q,
            Err(_) => return 11,
        };
        match q.try_recv(&mut buf, Select::Any) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 1,
        }
        match q.try_send(b"x", 1) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 2,
        }
        match q.stat() {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 4,
        }
        match MsgQueue::from_id(q.id()).and_then(|h| h.remove()) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 8,
        }
        code
    });
    wait_ok(child);
    assert_eq!(q.stat().unwrap().qnum, 1, "the message is untouched");
}

#[test]
fn mode_0644_lets_another_user_read_but_not_write() {
    require_root!();
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::new(0o644)).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q.send(b"public", 1).unwrap();
    let id = q.id();
    let child = fork(move || {
        if process::set_ids(65534, 65534).is_err() {
            return 10;
        }
        let q = match MsgQueue::from_id(id) {
            Ok(q) => q,
            Err(_) => return 11,
        };
        if !matches!(q.stat().map(|s| s.qnum), Ok(1)) {
            return 1;
        }
        match q.try_send(b"x", 1) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => 0,
            _ => 2,
        }
    });
    wait_ok(child);
}
