//! `Channel::take_over_receiver`: a receiving end whose process died without closing
//! it is taken over, and the new receiver gets every message not freed, the one the
//! dead receiver held in place included, in order; a living holder or a closed end
//! is refused. `Channel::take_over_sender`: a sending end whose process died is taken
//! over after the last message it published, never a half-sent one.
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

/// A sender killed in the middle of a send (room reserved, payload written, not
/// committed) is taken over: the receiver gets every message it published, whole and
/// in order, never the half-sent one, then the new sender's; the position says which
/// of the dead sender's messages went out.
#[test]
fn a_dead_senders_end_is_taken_over_after_its_last_published_message() {
    // A 2 KiB ring of 128-byte records: 40 messages of 20 to 200 bytes (one or two
    // records) wrap it, and leave padding where a large one does not fit.
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(2048).with_record_align(128)).unwrap();
    let mut rx = chan.receiver().unwrap();
    let (mut ready_r, ready_w) = ipckit::pipe::pipe().unwrap();
    let (mut pos_r, pos_w) = ipckit::pipe::pipe().unwrap();
    let body = |n: u32| {
        let mut b = format!("message {n:03}").into_bytes();
        b.resize(20 + (n % 7) as usize * 30, b'.');
        b
    };
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        for n in 0..40u32 {
            // The parent receives as we go, so the ring wraps.
            tx.send_timeout(&body(n), std::time::Duration::from_secs(30)).unwrap();
        }
        let mut loan = tx.loan(40).unwrap();
        (&pos_w).write_all(&loan.position().to_le_bytes()).unwrap();
        loan.write_at(0, &[0xAB; 40]).unwrap();
        (&ready_w).write_all(b"r").unwrap();
        // Killed here, the loan never committed.
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    drop((ready_w, pos_w));
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while got.len() < 34 {
        got.push(rx.recv_vec_with(ipckit::Wait::Timeout(std::time::Duration::from_secs(30))).unwrap());
    }
    ready_r.read_exact(&mut byte).unwrap();
    let mut pos = [0u8; 8];
    pos_r.read_exact(&mut pos).unwrap();
    let reserved = u64::from_le_bytes(pos);

    // The holder lives: refused.
    let err = chan.take_over_sender().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    assert!(err.to_string().contains("alive"), "{err}");

    child.kill(Signal::Kill).unwrap();
    let _ = child.wait().unwrap();
    let mut tx = chan.take_over_sender().unwrap();
    assert_eq!(tx.position(), reserved, "the half-sent message was not published");
    tx.send(&body(40)).unwrap();
    assert!(tx.position() > reserved);
    while let Ok(m) = rx.recv_vec_with(ipckit::Wait::NoWait) {
        got.push(m);
    }
    let want: Vec<Vec<u8>> = (0..=40).map(body).collect();
    assert_eq!(got, want);

    // Now held by this (living) process; a closed end is never reopened.
    let err = chan.take_over_sender().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    drop(tx);
    let err = chan.take_over_sender().unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
}

/// A sender killed right after a message went out: the take-over's position is past
/// that message's, and the message arrives once.
#[test]
fn a_message_published_just_before_the_death_is_seen_as_sent() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let (mut pos_r, pos_w) = ipckit::pipe::pipe().unwrap();
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        tx.send(b"zero").unwrap();
        let mut loan = tx.loan(3).unwrap();
        let at = loan.position();
        loan.write_at(0, b"one").unwrap();
        loan.commit();
        (&pos_w).write_all(&at.to_le_bytes()).unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    drop(pos_w);
    let mut pos = [0u8; 8];
    pos_r.read_exact(&mut pos).unwrap();
    child.kill(Signal::Kill).unwrap();
    let _ = child.wait().unwrap();
    let mut tx = chan.take_over_sender().unwrap();
    assert!(tx.position() > u64::from_le_bytes(pos), "the committed message counts as sent");
    tx.send(b"two").unwrap();
    let mut rx = chan.receiver().unwrap();
    for want in [&b"zero"[..], b"one", b"two"] {
        assert_eq!(rx.recv_vec_with(ipckit::Wait::NoWait).unwrap(), want);
    }
    assert!(rx.recv_vec_with(ipckit::Wait::NoWait).is_err_and(|e| e.is_not_now()));
}

#[test]
fn a_sending_end_nobody_took_is_simply_taken() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let mut tx = chan.take_over_sender().unwrap();
    assert_eq!(tx.position(), 0);
    tx.send(b"first").unwrap();
    let mut rx = chan.receiver().unwrap();
    assert_eq!(rx.recv_vec().unwrap(), b"first");
    let err = chan.sender().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
}

/// The dead sender had registered a poller (`PollSender`): the new sender can
/// register its own.
#[test]
fn a_dead_senders_poller_does_not_keep_the_new_sender_from_polling() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let mut rx = chan.receiver().unwrap();
    let (mut ready_r, ready_w) = ipckit::pipe::pipe().unwrap();
    let child = util::fork(|| {
        let mut tx = ipckit::channel::PollSender::new(chan.sender().unwrap()).unwrap();
        tx.try_send(b"from the dead").unwrap();
        (&ready_w).write_all(b"r").unwrap();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    });
    drop(ready_w);
    let mut byte = [0u8; 1];
    ready_r.read_exact(&mut byte).unwrap();
    child.kill(Signal::Kill).unwrap();
    let _ = child.wait().unwrap();
    let mut tx = ipckit::channel::PollSender::new(chan.take_over_sender().unwrap()).unwrap();
    tx.try_send(b"from the living").unwrap();
    assert_eq!(rx.recv_vec().unwrap(), b"from the dead");
    assert_eq!(rx.recv_vec().unwrap(), b"from the living");
}
