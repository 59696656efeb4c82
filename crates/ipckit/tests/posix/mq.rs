//! POSIX message queues across processes: priorities, timeouts, limits, cleanup.
use crate::util;

use std::time::{Duration, Instant};

use ipckit::posix::mq::{MsgQueue, QueueAttr};
use ipckit::{ErrorKind, Mode};

fn name(tag: &str) -> String {
    format!("/ipckit-test-mq-{tag}-{}", std::process::id())
}

#[test]
fn messages_cross_processes_by_priority() {
    let n = name("prio");
    let mut q = MsgQueue::create(&n, QueueAttr { maxmsg: 8, msgsize: 64 }, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let child = util::fork(|| {
        let q = MsgQueue::open(&n).unwrap();
        for (m, p) in [(&b"low"[..], 1), (b"high", 7), (b"mid", 3)] {
            q.send(m, p).unwrap();
        }
        0
    });
    util::wait_ok(child);
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    loop {
        let (len, prio) = match q.try_recv(&mut buf) {
            Ok(r) => (r.len, r.priority),
            Err(e) if e.is_not_now() => break,
            Err(e) => panic!("{e}"),
        };
        got.push((buf[..len].to_vec(), prio));
    }
    assert_eq!(got, vec![(b"high".to_vec(), 7), (b"mid".to_vec(), 3), (b"low".to_vec(), 1)]);
    assert_eq!(q.status().unwrap().curmsgs, 0);
}

#[test]
fn timeouts_and_sizes() {
    let n = name("time");
    let mut q = MsgQueue::create(&n, QueueAttr { maxmsg: 1, msgsize: 16 }, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let mut buf = [0u8; 16];
    let t = Duration::from_millis(30);
    let start = Instant::now();
    assert!(q.recv_timeout(&mut buf, t).unwrap_err().is_not_now());
    assert!(start.elapsed() >= t);
    q.try_send(b"one", 0).unwrap();
    assert!(q.try_send(b"two", 0).unwrap_err().is_not_now(), "full");
    let start = Instant::now();
    assert!(q.send_timeout(b"two", 0, t).unwrap_err().is_not_now());
    assert!(start.elapsed() >= t);
    assert_eq!(q.send(&[0; 17], 0).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(q.recv(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::InvalidInput);
    let got = q.recv(&mut buf).unwrap();
    assert_eq!((got.len, got.priority), (3, 0));
}

#[test]
fn names_limits_and_removal() {
    assert_eq!(MsgQueue::open("/a/b").unwrap_err().kind(), ErrorKind::InvalidInput);
    let n = name("gone");
    assert_eq!(MsgQueue::open(&n).unwrap_err().kind(), ErrorKind::NotFound);
    let q = MsgQueue::create(&n, QueueAttr { maxmsg: 2, msgsize: 8 }, Mode::OWNER_RW).unwrap();
    assert_eq!(
        MsgQueue::create(&n, QueueAttr { maxmsg: 2, msgsize: 8 }, Mode::OWNER_RW).unwrap_err().kind(),
        ErrorKind::AlreadyExists
    );
    q.remove().unwrap();
    assert_eq!(MsgQueue::open(&n).unwrap_err().kind(), ErrorKind::NotFound);
    if ipckit::process::effective_uid() != 0 {
        let huge = MsgQueue::create(&name("huge"), QueueAttr { maxmsg: 100_000, msgsize: 8 }, Mode::OWNER_RW);
        let err = huge.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("msg_max"), "{err}");
    }
}
