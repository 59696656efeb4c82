//! A peer that scribbles over the shared header, the index or the records gets the
//! other side an error — never a panic, an access out of bounds, or a hang.
mod util;

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
            Ok(true) => continue,
            Ok(false) => panic!("a full ring was not checked against the index"),
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
            if let Ok(Some(g)) = rx.try_recv_in_place() {
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
