//! Pollable descriptors across processes, in a hand-written epoll loop: a receiver
//! woken by a sender in another process, a sender woken when room is freed, an event,
//! and killed peers that give `Disconnected`, never a hang.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, Event, PollReceiver, PollSender};
use ipckit::process::Signal;

/// A minimal epoll set, as an application's event loop would have.
struct Epoll(RawFd);

impl Epoll {
    fn new() -> Epoll {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        assert!(fd >= 0, "epoll_create1: {}", std::io::Error::last_os_error());
        Epoll(fd)
    }

    fn add(&self, fd: RawFd, token: u64) {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: `ev` is a live epoll_event for the call; both descriptors are open.
        let r = unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) };
        assert_eq!(r, 0, "epoll_ctl: {}", std::io::Error::last_os_error());
    }

    /// Tokens of the ready descriptors (none on timeout).
    fn wait(&self, timeout: Duration) -> Vec<u64> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 8];
        // SAFETY: `evs` has room for 8 events, as passed.
        let n = unsafe { libc::epoll_wait(self.0, evs.as_mut_ptr(), 8, timeout.as_millis() as i32) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            assert_eq!(e.kind(), std::io::ErrorKind::Interrupted, "epoll_wait: {e}");
            return Vec::new();
        }
        evs[..n as usize].iter().map(|e| e.u64).collect()
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe { libc::close(self.0) };
    }
}

#[test]
fn an_epoll_loop_receives_from_another_process() {
    const N: u64 = 3000;
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        for seq in 0..N {
            tx.send(&seq.to_le_bytes()).unwrap();
            // Pauses, so that the receiver also goes to sleep in epoll_wait.
            if seq % 100 == 0 {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        0
    });
    let mut rx = PollReceiver::new(chan.receiver().unwrap()).unwrap();
    let ep = Epoll::new();
    ep.add(rx.as_raw_fd(), 7);
    let mut next = 0u64;
    let mut buf = [0u8; 16];
    let mut sleeps = 0;
    let mut woken = 0;
    let err = loop {
        match rx.try_recv(&mut buf) {
            Ok(n) => {
                assert_eq!(&buf[..n], &next.to_le_bytes());
                next += 1;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let ready = ep.wait(Duration::from_millis(50));
                assert!(ready.iter().all(|&t| t == 7));
                sleeps += 1;
                woken += usize::from(!ready.is_empty());
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert_eq!(next, N, "every message, in order");
    assert!(sleeps > 0, "the loop slept in epoll at least once");
    assert!(woken > 0, "the sender's process signalled the eventfd");
    wait_ok(child);
}

#[test]
fn a_sender_in_an_epoll_loop_waits_for_room() {
    const N: u64 = 2000;
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_record_align(16)).unwrap();
    let child = fork(|| {
        let mut rx = chan.receiver().unwrap();
        let mut buf = [0u8; 64];
        for seq in 0..N {
            let n = rx.recv(&mut buf).unwrap();
            if buf[..n] != seq.to_le_bytes() {
                return 1;
            }
            if seq % 50 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        0
    });
    let mut tx = PollSender::new(chan.sender().unwrap()).unwrap();
    let ep = Epoll::new();
    ep.add(tx.as_raw_fd(), 1);
    let mut full = 0;
    let mut woken = 0;
    let mut seq = 0u64;
    while seq < N {
        match tx.try_send(&seq.to_le_bytes()) {
            Ok(()) => seq += 1,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                full += 1;
                woken += usize::from(!ep.wait(Duration::from_millis(50)).is_empty());
            }
            Err(e) => panic!("send: {e}"),
        }
    }
    assert!(full > 0, "the small ring was full at times");
    assert!(woken > 0, "the receiver's process signalled the eventfd");
    wait_ok(child);
}

#[test]
fn an_event_descriptor_becomes_readable_on_set_from_another_process() {
    let ev = Event::create_memfd().unwrap();
    let go = Event::create_memfd().unwrap();
    let child = fork(|| {
        for _ in 0..100 {
            if go.wait().is_err() {
                return 1;
            }
            ev.set();
        }
        0
    });
    let ep = Epoll::new();
    ep.add(ev.poll_fd().unwrap().as_raw_fd(), 3);
    for _ in 0..100 {
        assert_eq!(ev.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
        go.set();
        loop {
            let ready = ep.wait(Duration::from_secs(60));
            assert_eq!(ready, vec![3], "only the event's descriptor");
            match ev.try_wait() {
                Ok(()) => break,
                Err(e) if e.kind() == ErrorKind::WouldBlock => continue,
                Err(e) => panic!("{e}"),
            }
        }
    }
    wait_ok(child);
}

#[test]
fn a_killed_sender_ends_an_epoll_loop_with_disconnected() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let started = Event::create_memfd().unwrap();
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        tx.send(b"last words").unwrap();
        started.set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    started.wait().unwrap();
    let mut rx = PollReceiver::new(chan.receiver().unwrap()).unwrap();
    let ep = Epoll::new();
    ep.add(rx.as_raw_fd(), 1);
    let mut buf = [0u8; 32];
    assert_eq!(rx.try_recv(&mut buf).unwrap(), 10);
    assert_eq!(rx.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    child.kill(Signal::Kill).unwrap();
    let err = loop {
        match rx.try_recv(&mut buf) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                ep.wait(Duration::from_millis(50));
            }
            other => break other.unwrap_err(),
        }
    };
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    let _ = child.wait().unwrap();
}

#[test]
fn a_waker_without_ptrace_access_makes_the_poller_fail_loudly() {
    require_root!();
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut rx = PollReceiver::new(chan.receiver().unwrap()).unwrap();
    let mut buf = [0u8; 16];
    // Armed: the sender will try to fetch our eventfd.
    assert_eq!(rx.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    let sent = Event::create_memfd().unwrap();
    let child = fork(|| {
        // Another user may not pidfd_getfd from a root process.
        if ipckit::process::set_ids(65534, 65534).is_err() {
            return 2;
        }
        let mut tx = chan.sender().unwrap();
        if tx.send(b"hello").is_err() {
            return 1;
        }
        // The send returned: its attempt to signal the eventfd is over.
        sent.set();
        // Stay connected, so that the receiver sees no disconnection.
        std::thread::sleep(Duration::from_millis(500));
        0
    });
    sent.wait().unwrap();
    // The message itself arrives (it is in the ring)...
    let n = rx.try_recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello");
    // ...but the next wait would never be signalled: it says so.
    let err = rx.try_recv(&mut buf).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PermissionDenied, "{err}");
    assert!(err.to_string().contains("pidfd_getfd"), "{err}");
    wait_ok(child);
}
