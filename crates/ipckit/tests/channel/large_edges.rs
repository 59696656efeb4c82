//! Large messages at the edges of the ring, across a real process boundary: sizes on
//! both sides of the 64 KiB from which the sender starts over at the beginning of an
//! empty ring, with a receiver that now keeps up and now lags, arrive exactly once, in
//! order, intact; a full ring refuses a large message ("not now") and takes exactly
//! one more as soon as the receiver frees one, and an emptied ring fills again.
//!
//! How many fill an emptied ring depends on where the sender stands: a large message
//! that starts over at the beginning leaves padding to the end of the ring, which
//! holds its room until the receiver reads past it. A receiver that does not read
//! meanwhile (as here) then finds one message where a fresh ring held several; the
//! test checks only that at least one fits, and that none is lost or repeated.
use crate::util;

use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, Receiver};

use super::large::{Rng, channel, check, message, send};

/// Mostly large sizes (64 KiB up to the largest), some small, some at the edges of the
/// threshold.
fn edge_size(rng: &mut Rng, max: usize) -> usize {
    let r = rng.next() as usize;
    match r % 8 {
        0 => (r >> 8) % 256,
        1 => 64 * 1024 - 16 - 64 + (r >> 8) % 128,
        2 => max - (r >> 8) % 64,
        _ => 64 * 1024 + (r >> 8) % (max - 64 * 1024),
    }
}

/// Receives message `seq` in place, checks it, and returns where it lay.
fn recv(rx: &mut Receiver, seq: u64, len: usize) -> usize {
    let g = rx.recv_in_place().unwrap();
    check(seq, len, &g.to_vec());
    g.as_ptr() as usize
}

#[test]
fn sizes_around_the_restart_threshold_arrive_exactly_once_with_a_lagging_receiver() {
    for dawdle in [8u64, 2] {
        let chan = channel();
        let max = chan.max_message();
        let count = 300u64;
        let seed = 0x3A9 ^ u64::from(std::process::id());
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            let mut rng = Rng(seed);
            for seq in 0..count {
                send(&mut tx, seq, edge_size(&mut rng, max)).unwrap();
            }
            0
        });
        let mut rx = chan.receiver().unwrap();
        let mut rng = Rng(seed);
        let mut pause = Rng(seed ^ 0xFF);
        for seq in 0..count {
            // Now and then the receiver dawdles, so that the sender finds it anywhere
            // from caught up to a full ring behind.
            if pause.next() % dawdle == 0 {
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            recv(&mut rx, seq, edge_size(&mut rng, max));
        }
        util::wait_ok(child);
        let err = rx.recv_vec().expect_err("no message past the last");
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    }
}

#[test]
fn a_full_ring_refuses_then_takes_one_more_once_one_is_freed() {
    for len in [100 * 1024, 300 * 1024, 500 * 1024] {
        let chan = channel();
        let go = Channel::create_memfd(&ChannelConfig::new()).unwrap();
        let report = Channel::create_memfd(&ChannelConfig::new()).unwrap();
        let rounds = 6u64;
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            let mut go = go.receiver().unwrap();
            let mut report = report.sender().unwrap();
            let mut buf = [0u8; 8];
            let mut seq = 0u64;
            for _ in 0..rounds {
                // Fill the ring: until "not now".
                let mut n = 0u64;
                loop {
                    match tx.try_send(&message(seq, len)) {
                        Ok(()) => {
                            seq += 1;
                            n += 1;
                        }
                        Err(e) if e.is_not_now() => break,
                        Err(e) => panic!("{len}: {e}"),
                    }
                }
                report.send(&n.to_le_bytes()).unwrap();
                // The receiver freed one: exactly one more of the same size fits.
                go.recv(&mut buf).unwrap();
                tx.try_send(&message(seq, len)).unwrap();
                seq += 1;
                let e = tx.try_send(&message(seq, len)).expect_err("full again");
                assert!(e.is_not_now(), "{len}: {e}");
                report.send(b"refilled").unwrap();
                // The receiver empties the ring.
                go.recv(&mut buf).unwrap();
            }
            0
        });
        let mut rx = chan.receiver().unwrap();
        let mut go = go.sender().unwrap();
        let mut report = report.receiver().unwrap();
        let mut buf = [0u8; 8];
        let mut seq = 0u64;
        for round in 0..rounds {
            report.recv(&mut buf).unwrap();
            let n = u64::from_le_bytes(buf);
            // A fresh ring takes at least two (a message is at most half the ring).
            let least = if round == 0 { 2 } else { 1 };
            assert!(n >= least, "round {round}: only {n} messages of {len} bytes fit");
            recv(&mut rx, seq, len);
            seq += 1;
            go.send(b"freed").unwrap();
            let k = report.recv(&mut buf).unwrap();
            assert_eq!(&buf[..k], b"refilled");
            // Everything else: n - 1 left of the fill, and the one more.
            for _ in 0..n {
                recv(&mut rx, seq, len);
                seq += 1;
            }
            let e = rx.try_recv_in_place().expect_err("empty");
            assert!(e.is_not_now(), "{len}: the ring is empty: {e}");
            go.send(b"empty").unwrap();
        }
        util::wait_ok(child);
        assert_eq!(rx.recv_vec().expect_err("nothing more").kind(), ErrorKind::Disconnected);
    }
}
