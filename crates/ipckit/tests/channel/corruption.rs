//! A peer that scribbles over the shared header, the index or the records gets the
//! other side an error — never a panic or an access out of bounds. Messages lost to
//! damage are reported as `Corrupted`, never as a clean `Disconnected`, and a receiver
//! does not wait for a message the sender counted as published.
//!
//! What the channel cannot detect (and so where a receiver may still wait while its
//! sender lives): a scribbler that also rewrites the sender's published count, or
//! that forges a valid stamp and record header (the forged record is then delivered).
use crate::util;

use std::sync::atomic::Ordering;
use std::time::Duration;

use ipckit::channel::{Channel, ChannelConfig};
use ipckit::sysv::shm::{Attachment, ShmSegment};
use ipckit::{ErrorKind, Key, Mode};

/// A private channel and a second attachment of its segment to scribble through.
fn channel(capacity: usize) -> (Channel, Attachment) {
    let mut chan =
        Channel::create_sysv(Key::PRIVATE, &ChannelConfig::new().with_capacity(capacity), Mode::OWNER_RW)
            .expect("create channel");
    chan.set_remove_on_drop(true).unwrap();
    let raw = ShmSegment::from_id(chan.segment_id().unwrap()).unwrap().attach().unwrap();
    (chan, raw)
}

fn open_error(chan: &Channel) -> ipckit::Error {
    Channel::open_sysv_id(chan.segment_id().unwrap()).expect_err("a damaged header is refused")
}

#[test]
fn open_checks_magic_version_and_sizes() {
    // (offset, bytes) of header fields, and the error expected.
    let cases: [(usize, u64, ErrorKind); 6] = [
        (0, 0x1234_5678, ErrorKind::Corrupted), // magic
        (0, 0, ErrorKind::NotInitialized),      // magic not written yet
        (8, 99, ErrorKind::Corrupted),          // version (and header size)
        (16, 3000, ErrorKind::Corrupted),       // capacity not a power of two
        (16, 1 << 39, ErrorKind::Corrupted),    // capacity beyond the mapping
        (24, u64::MAX, ErrorKind::Corrupted),   // max message
    ];
    for (off, value, kind) in cases {
        let (chan, raw) = channel(4096);
        assert!(Channel::open_sysv_id(chan.segment_id().unwrap()).is_ok());
        raw.atomic_u64(off).unwrap().store(value, Ordering::SeqCst);
        let err = open_error(&chan);
        assert_eq!(err.kind(), kind, "field at {off} = {value:#x}: {err}");
    }
}

#[test]
fn an_impossible_index_is_reported_to_the_sender() {
    let (chan, raw) = channel(4096);
    let mut tx = chan.sender().unwrap();
    let _rx = chan.receiver().unwrap();
    raw.atomic_u64(384).unwrap().store(u64::MAX - 15, Ordering::SeqCst); // head
    let err = loop {
        match tx.send_timeout(&[1; 100], Duration::from_millis(10)) {
            Ok(()) => continue,
            Err(e) if e.is_not_now() => panic!("a full ring was not checked against the index"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}

#[test]
fn a_bad_record_is_reported_to_the_receiver() {
    let (chan, raw) = channel(4096);
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    tx.send(b"first").unwrap();
    // The record at ring offset 0 (segment offset 4096): meta = kind 1, len 2^32 - 1.
    raw.atomic_u64(4096 + 8).unwrap().store((1 << 32) | 0xFFFF_FFFF, Ordering::SeqCst);
    assert_eq!(rx.try_recv(&mut [0u8; 64]).unwrap_err().kind(), ErrorKind::Corrupted);
    raw.atomic_u64(4096 + 8).unwrap().store(7 << 32, Ordering::SeqCst);
    assert_eq!(rx.recv_vec().unwrap_err().kind(), ErrorKind::Corrupted);
    // Put it back: the channel works again.
    raw.atomic_u64(4096 + 8).unwrap().store((1 << 32) | 5, Ordering::SeqCst);
    assert_eq!(rx.recv_vec().unwrap(), b"first");
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[test]
fn random_scribbles_give_errors_never_panics() {
    let mut rng = Rng(0x5EED);
    let mut outcomes = [0usize; 2];
    for round in 0..300 {
        let (chan, raw) = channel(2048);
        let mut tx = chan.sender().unwrap();
        let mut rx = chan.receiver().unwrap();
        for i in 0..(rng.next() % 40) {
            let _ = tx.try_send(&vec![i as u8; (rng.next() % 200) as usize]);
            if rng.next() % 3 == 0 {
                let _ = rx.try_recv(&mut [0u8; 1024]);
            }
        }
        // Scribble: random words anywhere in the header and ring, some with valid-
        // looking stamps and metas.
        for _ in 0..(1 + rng.next() % 8) {
            let off = (rng.next() as usize % (raw.len() / 8)) * 8;
            let value = match rng.next() % 4 {
                0 => rng.next(),
                1 => (1 << 32) | (rng.next() % 5000),
                2 => rng.next() % 8192,
                _ => 0,
            };
            raw.atomic_u64(off).unwrap().store(value, Ordering::SeqCst);
        }
        let mut ok = true;
        for _ in 0..50 {
            let len = (rng.next() % 300) as usize;
            ok &= tx.try_send(&vec![round as u8; len]).is_ok();
            ok &= rx.try_recv(&mut [0u8; 1024]).is_ok();
            if let Ok(g) = rx.try_recv_in_place() {
                let mut buf = vec![0u8; g.len()];
                g.read_at(0, &mut buf).unwrap();
            }
        }
        // Opening the scribbled channel either works or says why not.
        if let Err(e) = Channel::open_sysv_id(chan.segment_id().unwrap()) {
            assert!(matches!(e.kind(), ErrorKind::Corrupted | ErrorKind::NotInitialized), "{e}");
        }
        outcomes[usize::from(ok)] += 1;
    }
    // Both outcomes happen: the scribbles do hit what matters.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

/// Segment offsets of the layout (see `channel/layout.rs`): the sender's published
/// count, the shared head index, and where the ring starts.
const TX_COUNT: usize = 128 + 24;
const HEAD: usize = 384;
const RING: usize = 4096;
/// Records are 128 bytes apart for messages of up to 112 bytes (the default alignment).
const RECORD: usize = 128;

#[test]
fn a_wiped_record_is_corrupted_while_the_sender_lives() {
    let (chan, raw) = channel(4096);
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    for i in 0..3u8 {
        tx.send(&[i; 10]).unwrap();
    }
    assert_eq!(raw.atomic_u64(TX_COUNT).unwrap().load(Ordering::SeqCst), 3, "the count is published");
    assert_eq!(rx.recv_vec().unwrap(), [0; 10]);
    // Wipe the stamp of the second message: it (and the third) can no longer be found.
    raw.atomic_u64(RING + RECORD).unwrap().store(0, Ordering::SeqCst);
    let err = rx.recv_timeout(&mut [0u8; 64], Duration::from_secs(30)).expect_err("not a silent wait");
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
    assert!(err.to_string().contains("2 messages were lost"), "{err}");
    let err = rx.try_recv(&mut [0u8; 64]).expect_err("not an empty channel");
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}

#[test]
fn messages_lost_before_a_close_are_corrupted_not_disconnected() {
    let (chan, raw) = channel(4096);
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    for i in 0..3u8 {
        tx.send(&[i; 10]).unwrap();
    }
    tx.close();
    raw.atomic_u64(RING + 2 * RECORD).unwrap().store(0, Ordering::SeqCst);
    assert_eq!(rx.recv_vec().unwrap(), [0; 10]);
    assert_eq!(rx.recv_vec().unwrap(), [1; 10]);
    let err = rx.recv_vec().expect_err("the third message is gone");
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}

#[test]
fn messages_lost_before_the_sender_died_are_corrupted_not_disconnected() {
    let (chan, raw) = channel(4096);
    let mut rx = chan.receiver().unwrap();
    let (ready_r, ready_w) = ipckit::pipe::pipe().unwrap();
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        for i in 0..3u8 {
            tx.send(&[i; 10]).unwrap();
        }
        std::io::Write::write_all(&mut &ready_w, b"x").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    drop(ready_w);
    std::io::Read::read_exact(&mut &ready_r, &mut [0u8; 1]).unwrap();
    child.kill(ipckit::process::Signal::Kill).unwrap();
    child.wait().unwrap();
    raw.atomic_u64(RING + RECORD).unwrap().store(0, Ordering::SeqCst);
    assert_eq!(rx.recv_vec().unwrap(), [0; 10]);
    let err = rx.recv_vec().expect_err("the sender died after publishing 3 messages");
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}

#[test]
fn an_index_moved_forward_is_corrupted_when_unread_records_are_overwritten() {
    let (chan, raw) = channel(4096);
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    for i in 0..10u8 {
        tx.send(&[i; 10]).unwrap();
    }
    // A valid-looking head: past ten unread messages, inside what the sender wrote.
    raw.atomic_u64(HEAD).unwrap().store(10 * RECORD as u64, Ordering::SeqCst);
    let mut sent = 10;
    while tx.try_send(&[0xEE; 10]).is_ok() {
        sent += 1;
    }
    assert!(sent > 4096 / RECORD, "the sender overwrote unread records ({sent} sent)");
    let err = rx.try_recv(&mut [0u8; 64]).expect_err("the receiver's records were overwritten");
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
}
