//! A tokio end waits on its peer's pidfd (readable when the process exits) instead
//! of a timer, when it can: shown with a runtime that has no time driver at all (a
//! timer would panic there), across real processes: the receiver gets every message
//! of a sender that pauses between them, then `Disconnected` when the sender is
//! killed; and the same for a sender waiting for room.
#![cfg(feature = "tokio")]

use std::time::Duration;

use crate::util::fork;
use ipckit::ErrorKind;
use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig, Event};
use ipckit::process::Signal;

/// IO only: any timer in the wait would panic.
fn runtime_without_timers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap()
}

#[test]
fn an_async_receiver_watches_its_senders_pidfd() {
    const N: u64 = 20;
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let (taken, go) = (Event::create_memfd().unwrap(), Event::create_memfd().unwrap());
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        taken.set();
        if go.wait().is_err() {
            return 1;
        }
        for seq in 0..N {
            // Longer than the liveness period: a timer would have fired meanwhile.
            std::thread::sleep(Duration::from_millis(if seq % 5 == 0 { 60 } else { 2 }));
            if tx.send_pod(&seq).is_err() {
                return 2;
            }
        }
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    taken.wait().unwrap();
    let pid = child.pid();
    runtime_without_timers().block_on(async {
        let mut rx = AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
        go.set();
        for seq in 0..N {
            assert_eq!(rx.recv_pod::<u64>().await.unwrap(), seq);
        }
        ipckit::process::kill(pid, Signal::Kill).unwrap();
        let err = rx.recv_pod::<u64>().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    });
    let _ = child.wait().unwrap();
}

#[test]
fn an_async_sender_watches_its_receivers_pidfd() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024)).unwrap();
    let taken = Event::create_memfd().unwrap();
    let child = fork(|| {
        let _rx = chan.receiver().unwrap();
        taken.set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    taken.wait().unwrap();
    let pid = child.pid();
    runtime_without_timers().block_on(async {
        let mut tx = AsyncSender::new(chan.sender().unwrap()).unwrap();
        // Fill the ring: the next send waits for room.
        let mut sent = 0u64;
        while tx.get_mut().try_send(&[1u8; 100]).is_ok() {
            sent += 1;
        }
        assert!(sent > 0);
        let killer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(80));
            ipckit::process::kill(pid, Signal::Kill).unwrap();
        });
        let err = tx.send(&[2u8; 100]).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        killer.join().unwrap();
    });
    let _ = child.wait().unwrap();
}
