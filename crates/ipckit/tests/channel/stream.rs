//! A million messages of random sizes between two processes: each arrives once, in
//! order, intact (sequence numbers and checksums), through wrap-arounds, padding and
//! full-ring waits, with both wait strategies.
use crate::util;

use ipckit::channel::{Channel, ChannelConfig, WaitStrategy};

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

/// Message `seq`: 8 bytes of sequence number, 8 of checksum, then filler; the length
/// is random, mostly small, sometimes up to `max`.
fn fill(seq: u64, max: usize, buf: &mut Vec<u8>) {
    let mut rng = Rng(seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let r = rng.next();
    let len = if r % 16 == 0 { 16 + (r >> 8) as usize % (max - 15) } else { 16 + (r >> 8) as usize % 240 };
    buf.clear();
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(&[0; 8]);
    while buf.len() < len {
        let w = rng.next().to_le_bytes();
        let take = (len - buf.len()).min(8);
        buf.extend_from_slice(&w[..take]);
    }
    let sum = checksum(&buf[16..]);
    buf[8..16].copy_from_slice(&sum.to_le_bytes());
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0xCBF2_9CE4_8422_2325u64 ^ bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = (h ^ u64::from_le_bytes(c.try_into().unwrap()))
            .wrapping_mul(0x0000_0100_0000_01B3)
            .rotate_left(29);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

fn stream(count: u64, strategy: WaitStrategy, capacity: usize, max: usize, align: usize) {
    let config = ChannelConfig::new().with_capacity(capacity).with_max_message(max).with_record_align(align);
    let chan = Channel::create_memfd(&config).expect("create channel");
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        tx.set_wait_strategy(strategy);
        let mut buf = Vec::with_capacity(max);
        for seq in 0..count {
            fill(seq, max, &mut buf);
            // Alternate copies and loans.
            if seq % 3 == 0 {
                let mut loan = tx.loan(buf.len()).unwrap();
                loan.write_at(0, &buf).unwrap();
                loan.commit();
            } else {
                tx.send(&buf).unwrap();
            }
        }
        0
    });
    let mut rx = chan.receiver().expect("receiver");
    rx.set_wait_strategy(strategy);
    let mut buf = vec![0u8; max];
    let mut expect = Vec::with_capacity(max);
    for seq in 0..count {
        let n = if seq % 2 == 0 {
            rx.recv(&mut buf).expect("recv")
        } else {
            let g = rx.recv_in_place().expect("recv in place");
            g.read_at(0, &mut buf[..g.len()]).unwrap();
            g.len()
        };
        let got_seq = u64::from_le_bytes(buf[..8].try_into().unwrap());
        assert_eq!(got_seq, seq, "out of order or lost");
        let sum = u64::from_le_bytes(buf[8..16].try_into().unwrap());
        assert_eq!(sum, checksum(&buf[16..n]), "message {seq} damaged");
        fill(seq, max, &mut expect);
        assert_eq!(&buf[..n], &expect[..], "message {seq} differs");
    }
    // Nothing more: the sender ends, and the channel says so.
    let err = rx.recv(&mut buf).expect_err("no message after the last one");
    assert_eq!(err.kind(), ipckit::ErrorKind::Disconnected, "{err}");
    util::wait_ok(child);
}

#[test]
fn a_million_random_messages_arrive_once_in_order_intact() {
    stream(1_000_000, WaitStrategy::default(), 64 * 1024, 4096, 128);
}

#[test]
fn spinning_ends_with_a_small_dense_ring() {
    stream(100_000, WaitStrategy::Spin, 4096, 1024, 16);
}

#[test]
fn sleeping_ends_with_a_small_ring() {
    // No spinning, no yielding: every wait goes to the futex.
    let strategy =
        WaitStrategy::Adaptive { spin: std::time::Duration::ZERO, yield_for: std::time::Duration::ZERO };
    stream(50_000, strategy, 2048, 512, 64);
}
