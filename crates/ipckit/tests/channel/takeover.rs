//! `Channel::take_over_receiver`: a receiving end whose process died without closing
//! it is taken over, and the new receiver gets every message not freed, the one the
//! dead receiver held in place included, in order; a living holder or a closed end
//! is refused.
use crate::util;

use std::io::{Read, Write};

use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig};
use ipckit::process::Signal;

#[test]
fn a_dead_receivers_end_is_taken_over_from_the_first_message_not_freed() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(16 * 1024)).unwrap();
    let mut tx = chan.sender().unwrap();
    for n in 0..10u32 {
        tx.send(&n.to_le_bytes()).unwrap();
    }
    let (mut ready_r, ready_w) = ipckit::pipe::pipe().unwrap();
    let child = util::fork(|| {
        let mut rx = chan.receiver().unwrap();
        let mut buf = [0u8; 16];
        for _ in 0..3 {
            rx.recv(&mut buf).unwrap();
        }
        // Holds message 3 in place, unfreed, until killed.
        let _guard = rx.recv_in_place().unwrap();
        (&ready_w).write_all(b"r").unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    drop(ready_w);
    let mut byte = [0u8; 1];
    ready_r.read_exact(&mut byte).unwrap();

    // The holder lives: refused, by both calls.
    let err = chan.receiver().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    let err = chan.take_over_receiver().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("alive"), "{err}");

    child.kill(Signal::Kill).unwrap();
    let _ = child.wait().unwrap();
    let mut rx = chan.take_over_receiver().unwrap();
    for n in 10..12u32 {
        tx.send(&n.to_le_bytes()).unwrap();
    }
    let mut buf = [0u8; 16];
    for n in 3..12u32 {
        let k = rx.try_recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], &n.to_le_bytes(), "message {n}");
    }
    assert!(rx.try_recv(&mut buf).is_err_and(|e| e.is_not_now()));

    // Now held by this (living) process.
    let err = chan.take_over_receiver().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    // A closed end is never reopened.
    drop(rx);
    let err = chan.take_over_receiver().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("closed"), "{err}");
}

#[test]
fn an_end_nobody_took_is_simply_taken() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let mut tx = chan.sender().unwrap();
    tx.send(b"first").unwrap();
    let mut rx = chan.take_over_receiver().unwrap();
    assert_eq!(rx.recv_vec().unwrap(), b"first");
    let err = chan.receiver().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
}
