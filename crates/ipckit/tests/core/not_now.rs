//! "Not now" cannot be ignored by accident: a `try_`/timed call that did nothing
//! fails with an error that `?` passes on, across every module (issue: `tx.try_send(b)?;`
//! used to compile and drop the message when the channel was full).

use std::time::Duration;

use ipckit::channel::{Channel, ChannelConfig, Sender};
use ipckit::fifo::Fifo;
use ipckit::posix::mq::{self, QueueAttr};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::sysv::sem::{SemOp, SemSet};
use ipckit::{ErrorKind, Key, Mode, Result};

/// The misuse from the issue: send with `try_send` and `?`, as if it always sent.
fn send_all(tx: &mut Sender, n: u32) -> Result<u32> {
    for i in 0..n {
        tx.try_send(&i.to_le_bytes())?;
    }
    Ok(n)
}

#[test]
fn a_full_channel_stops_try_send_question_mark() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024)).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    let err = send_all(&mut tx, 1_000_000).expect_err("the ring fills long before");
    assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
    assert!(err.is_not_now());
    // Every send that returned Ok is in the ring, in order; nothing was dropped.
    let mut received = 0u32;
    let mut buf = [0u8; 8];
    loop {
        match rx.try_recv(&mut buf) {
            Ok(n) => {
                assert_eq!(&buf[..n], &received.to_le_bytes());
                received += 1;
            }
            Err(e) if e.is_not_now() => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(received > 0);
    // The one that failed was not sent: the next value is what the sender tries next.
    tx.try_send(&received.to_le_bytes()).unwrap();
    assert_eq!(rx.try_recv(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], &received.to_le_bytes());
}

#[test]
fn every_not_now_is_an_error_with_the_right_kind() {
    // Channel: empty and full, try and timed.
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024)).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    let short = Duration::from_millis(5);
    assert_eq!(rx.try_recv(&mut [0u8; 8]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(rx.try_recv_in_place().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(rx.recv_timeout(&mut [0u8; 8], short).unwrap_err().kind(), ErrorKind::TimedOut);
    while tx.try_send(&[0; 64]).is_ok() {}
    assert_eq!(tx.try_loan(8).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(tx.send_timeout(&[0; 64], short).unwrap_err().kind(), ErrorKind::TimedOut);

    // System V message queue: empty and full.
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    assert_eq!(q.try_recv(&mut [0u8; 8], Select::Any).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(q.recv_timeout(&mut [0u8; 8], Select::Any, short).unwrap_err().kind(), ErrorKind::TimedOut);
    q.update(&ipckit::sysv::msg::QueueUpdate { qbytes: Some(64), ..Default::default() }).unwrap();
    q.try_send(&[1; 60], 1).unwrap();
    assert_eq!(q.try_send(&[2; 60], 1).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(q.stat().unwrap().qnum, 1, "the refused message was not queued");

    // System V semaphores: nothing to take.
    let mut s = SemSet::create(Key::PRIVATE, &[0], Mode::OWNER_RW).unwrap();
    s.set_remove_on_drop(true).unwrap();
    assert_eq!(s.try_op(&[SemOp::p(0)]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(s.op_timeout(&[SemOp::p(0)], short).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(s.try_lock(0).unwrap_err().is_not_now());
    assert_eq!(s.value(0).unwrap(), 0, "nothing was applied");

    // POSIX message queue: empty.
    let name = format!("/ipckit-test-notnow-{}", std::process::id());
    let mut mq = mq::MsgQueue::create(&name, QueueAttr { maxmsg: 1, msgsize: 16 }, Mode::OWNER_RW).unwrap();
    mq.set_remove_on_drop(true).unwrap();
    assert_eq!(mq.try_recv(&mut [0u8; 16]).unwrap_err().kind(), ErrorKind::WouldBlock);
    mq.try_send(b"x", 0).unwrap();
    assert_eq!(mq.try_send(b"y", 0).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(mq.send_timeout(b"y", 0, short).unwrap_err().kind(), ErrorKind::TimedOut);

    // FIFO: no peer.
    let dir = tempfile::tempdir().unwrap();
    let f = Fifo::create(dir.path().join("f"), Mode::OWNER_RW).unwrap();
    assert_eq!(f.try_open_write().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(f.try_open_read().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(f.open_write_timeout(short).unwrap_err().kind(), ErrorKind::TimedOut);
}

#[test]
fn the_error_type_is_small() {
    // Results on the channel's hot path carry it: keep it at four words.
    assert!(std::mem::size_of::<ipckit::Error>() <= 32, "{}", std::mem::size_of::<ipckit::Error>());
}
