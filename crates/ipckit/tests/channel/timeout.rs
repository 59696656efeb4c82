//! Timeouts and deadlines are honoured, and `try_*` never waits.
use crate::util;

use std::time::{Duration, Instant};

use ipckit::channel::{Channel, ChannelConfig, WaitStrategy};
use ipckit::{ErrorKind, Wait};

fn strategies() -> [WaitStrategy; 3] {
    [
        WaitStrategy::default(),
        WaitStrategy::Spin,
        WaitStrategy::Adaptive { spin: Duration::ZERO, yield_for: Duration::ZERO },
    ]
}

#[test]
fn recv_on_an_empty_channel_times_out() {
    for strategy in strategies() {
        let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
        let _tx = chan.sender().unwrap();
        let mut rx = chan.receiver().unwrap();
        rx.set_wait_strategy(strategy);
        let mut buf = [0u8; 16];
        assert!(rx.try_recv(&mut buf).unwrap_err().is_not_now());
        let t = Duration::from_millis(30);
        let start = Instant::now();
        assert!(rx.recv_timeout(&mut buf, t).unwrap_err().is_not_now());
        assert!(start.elapsed() >= t, "returned before the timeout: {:?}", start.elapsed());
        let deadline = Instant::now() + t;
        assert!(rx.recv_deadline(&mut buf, deadline).unwrap_err().is_not_now());
        assert!(Instant::now() >= deadline);
        assert!(rx.recv_in_place_with(Wait::Timeout(t)).unwrap_err().is_not_now());
        assert!(rx.recv_vec_with(Wait::NoWait).unwrap_err().is_not_now());
    }
}

#[test]
fn send_on_a_full_channel_times_out_and_loses_nothing() {
    for strategy in strategies() {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024)).unwrap();
        let mut tx = chan.sender().unwrap();
        tx.set_wait_strategy(strategy);
        let mut rx = chan.receiver().unwrap();
        let mut sent = 0u32;
        let full = loop {
            match tx.try_send(&sent.to_le_bytes()) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
        };
        assert_eq!(full.kind(), ErrorKind::WouldBlock, "a full ring is \"not now\": {full}");
        assert!(full.is_not_now());
        assert!(sent > 0);
        let t = Duration::from_millis(30);
        let start = Instant::now();
        let late = tx.send_timeout(b"late", t).unwrap_err();
        assert_eq!(late.kind(), ErrorKind::TimedOut, "{late}");
        assert!(start.elapsed() >= t);
        assert!(tx.send_deadline(b"late", Instant::now() + t).unwrap_err().is_not_now());
        assert!(tx.loan_with(8, Wait::Timeout(t)).unwrap_err().is_not_now());
        // Everything sent before is still there, in order, and nothing else.
        for i in 0..sent {
            assert_eq!(rx.recv_vec().unwrap(), i.to_le_bytes());
        }
        assert!(rx.try_recv(&mut [0u8; 8]).unwrap_err().is_not_now());
        // Room again: a send goes through at once.
        tx.try_send(b"now").unwrap();
    }
}

#[test]
fn a_waiting_receiver_wakes_for_a_message_from_another_process() {
    for strategy in strategies() {
        let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
        let child = util::fork(|| {
            let mut tx = chan.sender().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            tx.send(b"late but there").unwrap();
            0
        });
        let mut rx = chan.receiver().unwrap();
        rx.set_wait_strategy(strategy);
        let got = rx.recv_vec_with(Wait::Timeout(Duration::from_secs(600))).unwrap();
        assert_eq!(got, b"late but there");
        util::wait_ok(child);
    }
}
