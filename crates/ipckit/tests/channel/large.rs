//! Large messages across a real process boundary: random sizes from empty to near the
//! largest the ring takes, copied and loaned, each delivered exactly once, in order,
//! intact; large messages start over at the beginning of a drained ring (the same
//! memory, still in the caches); and a sender killed mid-stream gives the receiver
//! every message it published, then a clear error, never a hang.
use crate::util;

use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, Receiver, Sender, WaitStrategy};
use ipckit::process::Signal;

/// A 1 MiB ring: messages up to about 512 KiB.
const CAPACITY: usize = 1 << 20;

/// A small deterministic generator (splitmix64): both processes draw the same sizes.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A size that mixes tiny, medium and near-capacity messages.
    fn size(&mut self, max: usize) -> usize {
        let r = self.next() as usize;
        match r % 10 {
            0..=3 => (r >> 8) % 64,
            4..=5 => (r >> 8) % 4096,
            6 => max - (r >> 8) % 64,
            _ => 64 * 1024 + (r >> 8) % (max - 64 * 1024),
        }
    }
}

/// Byte `i` of message `seq`; the first 8 bytes (when there is room) are `seq` itself.
pub(super) fn byte(seq: u64, i: usize) -> u8 {
    if i < 8 {
        return seq.to_le_bytes()[i];
    }
    (seq.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64 * 7) >> 3) as u8
}

pub(super) fn message(seq: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte(seq, i)).collect()
}

/// Checks message `seq` of `len` bytes; the first difference names the byte.
pub(super) fn check(seq: u64, len: usize, got: &[u8]) {
    assert_eq!(got.len(), len, "message {seq}: length");
    if let Some(i) = (0..len).find(|&i| got[i] != byte(seq, i)) {
        panic!("message {seq} of {len} bytes differs at byte {i}");
    }
}

pub(super) fn channel() -> Channel {
    Channel::create_memfd(&ChannelConfig::new().with_capacity(CAPACITY)).unwrap()
}

/// Sends message `seq`: copied for even `seq`, loaned and written in place for odd.
pub(super) fn send(tx: &mut Sender, seq: u64, len: usize) -> ipckit::Result<()> {
    let msg = message(seq, len);
    if seq % 2 == 0 {
        tx.send(&msg)
    } else {
        let mut loan = tx.loan(len)?;
        loan.write_at(0, &msg)?;
        loan.commit();
        Ok(())
    }
}

/// Receives and checks message `seq`: into a `Vec`, or in place for every third one.
fn recv(rx: &mut Receiver, seq: u64, len: usize) -> ipckit::Result<()> {
    if seq % 3 == 0 {
        let g = rx.recv_in_place()?;
        check(seq, len, &g.to_vec());
    } else {
        check(seq, len, &rx.recv_vec()?);
    }
    Ok(())
}

#[test]
fn random_sizes_arrive_exactly_once_in_order_intact() {
    for strategy in [WaitStrategy::default(), WaitStrategy::Spin] {
        let chan = channel();
        let max = chan.max_message();
        assert!(max > 64 * 1024 + 64, "the ring takes large messages ({max})");
        let count = 600u64;
        let seed = 0x5EED ^ u64::from(std::process::id());
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            tx.set_wait_strategy(strategy);
            let mut rng = Rng(seed);
            for seq in 0..count {
                send(&mut tx, seq, rng.size(max)).unwrap();
            }
            0
        });
        let mut rx = chan.receiver().unwrap();
        rx.set_wait_strategy(strategy);
        let mut rng = Rng(seed);
        for seq in 0..count {
            recv(&mut rx, seq, rng.size(max)).unwrap();
        }
        util::wait_ok(child);
        // Nothing more: the sender is gone and everything it published was taken.
        let err = rx.recv_vec().expect_err("no message past the last");
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    }
}

#[test]
fn large_messages_start_over_at_the_beginning_of_a_drained_ring() {
    let chan = channel();
    let ack = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let large = 200 * 1024;
    let rounds = 20u64;
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        let mut acks = ack.receiver().unwrap();
        let mut buf = [0u8; 8];
        for seq in 0..rounds {
            // A tiny message before every other large one: the large one then comes
            // after it, never at the start of the ring, unless it starts over.
            if seq % 2 == 0 {
                send(&mut tx, 1000 + seq, 20).unwrap();
                acks.recv(&mut buf).unwrap();
            }
            send(&mut tx, seq, large).unwrap();
            // Wait until the receiver has drained the ring.
            acks.recv(&mut buf).unwrap();
        }
        0
    });
    let mut rx = chan.receiver().unwrap();
    let mut acks = ack.sender().unwrap();
    let mut starts = Vec::new();
    for seq in 0..rounds {
        if seq % 2 == 0 {
            check(1000 + seq, 20, &rx.recv_vec().unwrap());
            acks.send(b"drained").unwrap();
        }
        let g = rx.recv_in_place().unwrap();
        check(seq, large, &g.to_vec());
        starts.push(g.as_ptr() as usize);
        g.release();
        acks.send(b"drained").unwrap();
    }
    util::wait_ok(child);
    // The first large message follows the tiny one; from the second on, every large
    // message finds the ring drained and starts over at the same place.
    assert_ne!(starts[0], starts[1], "the first large message follows the tiny one");
    for (seq, &start) in starts.iter().enumerate().skip(1) {
        assert_eq!(start, starts[1], "large message {seq} did not start over at the beginning");
    }
    assert_eq!(rx.recv_vec().expect_err("nothing more").kind(), ErrorKind::Disconnected);
}

#[test]
fn a_sender_killed_mid_stream_gives_its_messages_then_disconnected() {
    for kill_after in [1u64, 37, 400] {
        let chan = channel();
        let max = chan.max_message();
        let seed = 0xDEAD ^ kill_after;
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            let mut rng = Rng(seed);
            // Sends until killed (a bounded count, should the parent die first).
            for seq in 0..u64::from(u32::MAX) {
                send(&mut tx, seq, rng.size(max)).unwrap();
            }
            3
        });
        let mut rx = chan.receiver().unwrap();
        let mut rng = Rng(seed);
        for seq in 0..kill_after {
            recv(&mut rx, seq, rng.size(max)).unwrap();
        }
        // The sender is somewhere in a copy, a loan or a wait for room.
        child.kill(Signal::Kill).unwrap();
        let mut seq = kill_after;
        let err = loop {
            let len = rng.size(max);
            match recv(&mut rx, seq, len) {
                Ok(()) => seq += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::Disconnected, "after {seq} messages: {err}");
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    }
}
