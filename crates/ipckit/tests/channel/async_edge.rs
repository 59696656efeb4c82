//! The tokio ends leave their eventfd undrained (tokio's reactor is edge-triggered:
//! each write is a new event, so a read per wake-up would be a system call for
//! nothing). Across real processes: many async round trips with both sides on tokio,
//! with pauses longer than the liveness period (the timer that then empties the
//! eventfd) lose no wake-up; a tokio waiter and a blocking futex waiter take turns on
//! the same receiving end; both async ends wait on a tiny ring (room and data) and
//! every message arrives once, in order. And without tokio's 50 ms liveness timer,
//! which could hide a lost wake-up as a delay: an edge-triggered epoll set of our own
//! on the same eventfd gets an event for every wake-up while the counter is never
//! read.
#![cfg(feature = "tokio")]

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use super::with_tokio::{echo, runtime};
use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig, Event};

/// The message of round `seq`: its number, then bytes derived from it.
fn message(seq: u64) -> Vec<u8> {
    let len = 8 + (seq as usize * 29) % 200;
    let mut msg = vec![(seq % 253) as u8; len];
    msg[..8].copy_from_slice(&seq.to_le_bytes());
    msg
}

#[test]
fn async_ping_pong_between_two_tokio_processes_loses_no_wake_up() {
    const N: u64 = 20_000;
    let there = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let back = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    // The echo runs its own runtime (built after the fork, in the child's only thread).
    let child = fork(|| {
        runtime().block_on(async {
            let mut rx = AsyncReceiver::new(there.receiver().unwrap()).unwrap();
            let mut tx = AsyncSender::new(back.sender().unwrap()).unwrap();
            let mut buf = [0u8; 256];
            for seq in 0..N {
                let n = match rx.recv(&mut buf).await {
                    Ok(n) => n,
                    Err(_) => return 1,
                };
                if buf[..n] != message(seq)[..] {
                    return 2;
                }
                // Now and then longer than the liveness period: the other side's
                // timer fires and empties its eventfd while it waits.
                if seq % 5000 == 4999 {
                    std::thread::sleep(Duration::from_millis(70));
                }
                if tx.send(&buf[..n]).await.is_err() {
                    return 3;
                }
            }
            // The end: the parent's next receive reports Disconnected.
            0
        })
    });
    runtime().block_on(async {
        let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
        let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
        let mut buf = [0u8; 256];
        for seq in 0..N {
            let msg = message(seq);
            tx.send(&msg).await.unwrap();
            let n = rx.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &msg[..], "round {seq} came back intact");
        }
        let err = rx.recv(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    });
    wait_ok(child);
}

#[test]
fn a_tokio_waiter_and_a_blocking_waiter_take_turns_on_one_end() {
    const N: u64 = 4000;
    let there = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let back = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    // A blocking echo (it sleeps on the futex) that pauses now and then, so that the
    // parent's waits also reach the futex or the eventfd.
    let child = fork(|| echo(&there, &back, 8, Duration::from_micros(200)));
    runtime().block_on(async {
        let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
        let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
        let mut buf = [0u8; 256];
        for seq in 0..N {
            let msg = message(seq);
            tx.send(&msg).await.unwrap();
            // The same registered end waits in turn through tokio (its eventfd) and
            // with the inner receiver's blocking call (the futex).
            let n = if seq % 2 == 0 {
                rx.recv(&mut buf).await.unwrap()
            } else {
                rx.get_mut().receiver().recv(&mut buf).unwrap()
            };
            assert_eq!(&buf[..n], &msg[..], "round {seq} came back intact");
        }
    });
    wait_ok(child);
}

#[test]
fn both_async_ends_wait_on_a_tiny_ring_and_lose_nothing() {
    const N: u64 = 20_000;
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_record_align(16)).unwrap();
    // An async receiver that pauses now and then: the async sender fills the ring and
    // waits for room; then it waits for data.
    let child = fork(|| {
        runtime().block_on(async {
            let mut rx = AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
            for seq in 0..N {
                match rx.recv_pod::<u64>().await {
                    Ok(v) if v == seq => {}
                    _ => return 1,
                }
                if seq % 1000 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
                if seq == N / 2 {
                    std::thread::sleep(Duration::from_millis(70));
                }
            }
            match rx.recv_pod::<u64>().await {
                Err(e) if e.kind() == ErrorKind::Disconnected => 0,
                _ => 2,
            }
        })
    });
    runtime().block_on(async {
        let mut tx = AsyncSender::new(chan.sender().unwrap()).unwrap();
        for seq in 0..N {
            tx.send_pod(&seq).await.unwrap();
            if seq % 3000 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    });
    wait_ok(child);
}

/// An edge-triggered epoll set watching one descriptor, as tokio's reactor does.
struct EdgeEpoll(RawFd);

impl EdgeEpoll {
    fn watching(fd: RawFd) -> EdgeEpoll {
        // SAFETY: epoll_create1 takes no pointers.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(ep >= 0, "epoll_create1: {}", std::io::Error::last_os_error());
        let mut ev = libc::epoll_event { events: (libc::EPOLLIN | libc::EPOLLET) as u32, u64: 1 };
        // SAFETY: `ev` is a live epoll_event for the call; both descriptors are open.
        let r = unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(r, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
        EdgeEpoll(ep)
    }

    /// Whether an event came within `timeout` (retried on EINTR).
    fn event(&self, timeout: Duration) -> bool {
        loop {
            let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
            // SAFETY: `evs` has room for 4 events, as passed.
            let n = unsafe { libc::epoll_wait(self.0, evs.as_mut_ptr(), 4, timeout.as_millis() as i32) };
            if n >= 0 {
                return n > 0;
            }
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "epoll_wait: {e}");
        }
    }
}

impl Drop for EdgeEpoll {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

/// The eventfd's counter (and resets it), or 0 if it is empty.
fn read_counter(fd: RawFd) -> u64 {
    let mut v = 0u64;
    // SAFETY: reads 8 bytes into `v`; the eventfd is non-blocking.
    let n = unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
    if n == 8 { v } else { 0 }
}

#[test]
fn every_wake_up_is_an_edge_while_the_counter_is_never_read() {
    const ROUNDS: u64 = 200;
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let go = Event::create_memfd().unwrap();
    // The sender sends one message each time the parent says go (after it armed).
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        for seq in 0..ROUNDS {
            if go.wait().is_err() || tx.send_pod(&seq).is_err() {
                return 1;
            }
        }
        0
    });
    runtime().block_on(async {
        let mut rx = AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
        let fd = rx.get_mut().as_raw_fd();
        let ep = EdgeEpoll::watching(fd);
        let mut buf = [0u8; 8];
        for seq in 0..ROUNDS {
            // Nothing there: this arms the end (the tokio end never drains here).
            let err = rx.get_mut().try_recv(&mut buf).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::WouldBlock, "{err}");
            go.set();
            // A lost edge would leave this wait empty; 30 s only bounds a hang.
            assert!(ep.event(Duration::from_secs(30)), "round {seq}: no event for the wake-up");
            assert_eq!(rx.get_mut().try_recv(&mut buf).unwrap(), 8);
            assert_eq!(u64::from_le_bytes(buf), seq);
        }
        // Every wake-up wrote once, and nothing read the counter in between.
        let count = read_counter(fd);
        assert_eq!(count, ROUNDS, "one write per wake-up, none read");
    });
    wait_ok(child);
}
