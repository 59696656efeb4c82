//! A peer that dies (SIGKILL, mid-stream) or closes its end turns the other side's
//! calls into `Disconnected`, never a hang; messages already published still arrive.
use crate::util;

use std::time::Duration;

use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, WaitStrategy};
use ipckit::process::Signal;

fn strategies() -> [WaitStrategy; 2] {
    [WaitStrategy::default(), WaitStrategy::Spin]
}

#[test]
fn killed_sender_gives_disconnected_after_the_published_messages() {
    for strategy in strategies() {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(16 * 1024)).unwrap();
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            // Sends until killed (a bounded count, should the parent die first).
            for seq in 0..u64::from(u32::MAX) {
                tx.send(&seq.to_le_bytes()).unwrap();
            }
            3
        });
        let mut rx = chan.receiver().unwrap();
        rx.set_wait_strategy(strategy);
        let mut buf = [0u8; 64];
        for seq in 0..10_000u64 {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], &seq.to_le_bytes());
        }
        child.kill(Signal::Kill).unwrap();
        // The child is a zombie until reaped: the channel must see it as dead anyway.
        let mut next = 10_000u64;
        let err = loop {
            match rx.recv(&mut buf) {
                Ok(n) => {
                    assert_eq!(&buf[..n], &next.to_le_bytes(), "messages stay in order up to the end");
                    next += 1;
                }
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        assert!(rx.is_disconnected());
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    }
}

#[test]
fn killed_receiver_gives_disconnected_to_a_blocked_sender() {
    for strategy in strategies() {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
        let child = util::fork(|| {
            let mut rx = chan.receiver().unwrap();
            let mut buf = [0u8; 64];
            rx.recv(&mut buf).unwrap();
            // Then stop reading, alive, until killed (or a minute passes).
            std::thread::sleep(Duration::from_secs(60));
            3
        });
        let mut tx = chan.sender().unwrap();
        tx.set_wait_strategy(strategy);
        tx.send(b"hello").unwrap();
        // Fill the ring until it stays full: the receiver reads nothing after "hello".
        loop {
            while tx.try_send(&[0; 64]).is_ok() {}
            std::thread::sleep(Duration::from_millis(20));
            match tx.try_send(&[0; 64]) {
                Ok(()) => {}
                Err(e) if e.is_not_now() => break,
                Err(e) => panic!("{e}"),
            }
        }
        child.kill(Signal::Kill).unwrap();
        let err = tx.send(&[0; 64]).expect_err("the receiver is dead");
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        child.wait().unwrap();
    }
}

#[test]
fn sender_that_closes_gives_disconnected_after_its_messages() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        for i in 0..1000u32 {
            tx.send_pod(&i).unwrap();
        }
        tx.close();
        // Stay alive: the close alone must end the receiver's wait.
        std::thread::sleep(Duration::from_millis(300));
        0
    });
    let mut rx = chan.receiver().unwrap();
    for i in 0..1000u32 {
        assert_eq!(rx.recv_pod::<u32>().unwrap(), i);
    }
    let err = rx.recv_pod::<u32>().expect_err("closed");
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    util::wait_ok(child);
}

#[test]
fn receiver_that_closes_fails_the_next_send_at_once() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut tx = chan.sender().unwrap();
    let rx = chan.receiver().unwrap();
    tx.send(b"one").unwrap();
    rx.close();
    let err = tx.send(b"two").expect_err("receiver closed");
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(tx.is_disconnected());
}

#[test]
fn each_end_is_taken_once() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let tx = chan.sender().unwrap();
    let err = chan.sender().expect_err("taken");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    drop(tx);
    let err = chan.sender().expect_err("taken and closed");
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    let _rx = chan.receiver().unwrap();
    assert_eq!(chan.receiver().unwrap_err().kind(), ErrorKind::AlreadyExists);
}

#[test]
fn a_forked_copy_of_an_end_does_not_close_it() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut tx = Some(chan.sender().unwrap());
    let mut rx = chan.receiver().unwrap();
    // The child drops its copy of the sender: only the process that took it closes it.
    let child = util::fork(|| {
        drop(tx.take());
        0
    });
    util::wait_ok(child);
    let mut tx = tx.expect("the parent keeps its sender");
    tx.send(b"still open").unwrap();
    assert_eq!(rx.recv_vec().unwrap(), b"still open");
    drop(tx);
    assert_eq!(rx.recv_vec().unwrap_err().kind(), ErrorKind::Disconnected);
}
