//! Async channel ends (feature `tokio`) across processes: round trips with an echo
//! process, back-pressure on a small ring, and killed peers that give
//! `Disconnected`, never a hang.
#![cfg(feature = "tokio")]

use std::time::Duration;

use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig, Event};
use ipckit::process::Signal;

/// A current-thread runtime with timers and I/O.
pub(super) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A blocking echo (it sleeps on the futex): every message received on `there` goes
/// back on `back`, after a `pause` when its first byte is a multiple of `every`, so
/// that the other side's waits also park. Returns the child's exit status: 0 once the
/// sender closed, 1 on any other error.
pub(super) fn echo(there: &Channel, back: &Channel, every: u8, pause: Duration) -> i32 {
    let mut rx = there.receiver().unwrap();
    let mut tx = back.sender().unwrap();
    let mut buf = [0u8; 512];
    loop {
        match rx.recv(&mut buf) {
            Ok(n) => {
                if buf[0] % every == 0 {
                    std::thread::sleep(pause);
                }
                tx.send(&buf[..n]).unwrap();
            }
            Err(e) if e.kind() == ErrorKind::Disconnected => return 0,
            Err(_) => return 1,
        }
    }
}

#[test]
fn async_round_trips_with_an_echo_process() {
    const N: u64 = 2000;
    let there = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let back = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    // A blocking echo process, with random pauses so that the async side also sleeps.
    let child = fork(|| echo(&there, &back, 16, Duration::from_micros(300)));
    runtime().block_on(async {
        let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
        let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
        let mut buf = [0u8; 512];
        for seq in 0..N {
            let len = 8 + (seq as usize * 37) % 400;
            let mut msg = vec![(seq % 251) as u8; len];
            msg[..8].copy_from_slice(&seq.to_le_bytes());
            tx.send(&msg).await.unwrap();
            let n = rx.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..], "message {seq} came back intact");
        }
    });
    wait_ok(child);
}

#[test]
fn an_async_sender_waits_for_room_and_loses_nothing() {
    const N: u64 = 3000;
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_record_align(16)).unwrap();
    // A slow blocking receiver: the async sender fills the ring and must wait.
    let child = fork(|| {
        let mut rx = chan.receiver().unwrap();
        for seq in 0..N {
            match rx.recv_pod::<u64>() {
                Ok(v) if v == seq => {}
                _ => return 1,
            }
            if seq % 100 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        0
    });
    runtime().block_on(async {
        let mut tx = AsyncSender::new(chan.sender().unwrap()).unwrap();
        for seq in 0..N {
            tx.send_pod(&seq).await.unwrap();
        }
    });
    wait_ok(child);
}

#[test]
fn many_tasks_on_one_runtime_each_with_a_channel() {
    const TASKS: usize = 4;
    const N: u64 = 300;
    let chans: Vec<Channel> =
        (0..TASKS).map(|_| Channel::create_memfd(&ChannelConfig::new()).unwrap()).collect();
    let child = fork(|| {
        let mut txs: Vec<_> = chans.iter().map(|c| c.sender().unwrap()).collect();
        for seq in 0..N {
            for (i, tx) in txs.iter_mut().enumerate() {
                tx.send_pod(&(seq * TASKS as u64 + i as u64)).unwrap();
            }
            if seq % 50 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        0
    });
    runtime().block_on(async {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let handles: Vec<_> = chans
                    .iter()
                    .enumerate()
                    .map(|(i, c)| {
                        let mut rx = AsyncReceiver::new(c.receiver().unwrap()).unwrap();
                        tokio::task::spawn_local(async move {
                            for seq in 0..N {
                                assert_eq!(
                                    rx.recv_pod::<u64>().await.unwrap(),
                                    seq * TASKS as u64 + i as u64
                                );
                            }
                            let err = rx.recv_pod::<u64>().await.unwrap_err();
                            assert_eq!(err.kind(), ErrorKind::Disconnected);
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
            .await;
    });
    wait_ok(child);
}

#[test]
fn a_killed_sender_gives_disconnected_to_an_awaiting_receiver() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let started = Event::create_memfd().unwrap();
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        tx.send(b"one").unwrap();
        started.set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    started.wait().unwrap();
    let pid = child.pid();
    runtime().block_on(async {
        let mut rx = AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
        assert_eq!(rx.recv_vec().await.unwrap(), b"one");
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ipckit::process::kill(pid, Signal::Kill).unwrap();
        });
        let err = rx.recv_vec().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        killer.await.unwrap();
    });
    let _ = child.wait().unwrap();
}

#[test]
fn a_killed_receiver_gives_disconnected_to_an_awaiting_sender() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024)).unwrap();
    let started = Event::create_memfd().unwrap();
    let child = fork(|| {
        let _rx = chan.receiver().unwrap();
        started.set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    started.wait().unwrap();
    let pid = child.pid();
    runtime().block_on(async {
        let mut tx = AsyncSender::new(chan.sender().unwrap()).unwrap();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            ipckit::process::kill(pid, Signal::Kill).unwrap();
        });
        // Fills the ring, then waits for room that never comes.
        let err = loop {
            if let Err(e) = tx.send(&[7u8; 100]).await {
                break e;
            }
        };
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
        killer.await.unwrap();
    });
    let _ = child.wait().unwrap();
}

#[test]
fn an_async_end_outside_a_runtime_is_an_error() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let err = AsyncReceiver::new(chan.receiver().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}
