//! Publish/subscribe across real processes: every message once per subscriber, in
//! order; back-pressure and drop-oldest with counts of what was missed; subscribers
//! killed (also while reading in place) never block the publisher; joins and leaves
//! under load; a publisher that dies; scribbled memory.
use crate::util;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ipckit::ErrorKind;
use ipckit::channel::pubsub::{PubSub, Publisher};
use ipckit::channel::{Overflow, PatternConfig};
use ipckit::posix::shm::ShmObject;
use ipckit::process::Signal;

/// Message `seq`: its number, then bytes derived from it; lengths vary 8..=1000.
fn message(seq: u64) -> Vec<u8> {
    let len = 8 + ((seq.wrapping_mul(2_654_435_761) >> 11) % 993) as usize;
    let mut m = seq.to_le_bytes().to_vec();
    m.extend((8..len).map(|i| (i as u64 ^ seq.wrapping_mul(13)) as u8));
    m
}

/// Message `seq` cut or padded to 64 bytes.
fn fixed(seq: u64) -> Vec<u8> {
    let mut m = message(seq);
    m.resize(64, 0xAA);
    m
}

fn check(seq: u64, m: &[u8]) {
    assert_eq!(m, &message(seq)[..], "message {seq} damaged");
}

fn not_now(e: &ipckit::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Waits until the publisher has admitted `n` subscribers (a hang guard, not a timing).
fn await_subscribers(p: &mut Publisher, n: usize) {
    let start = Instant::now();
    while p.subscribers() < n {
        p.refresh();
        std::thread::sleep(Duration::from_millis(1));
        assert!(start.elapsed() < Duration::from_secs(120), "subscribers never joined");
    }
}

fn signal(s: &mut UnixStream) {
    s.write_all(b"x").unwrap();
}

fn await_signal(s: &mut UnixStream) {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).unwrap();
}

#[test]
fn every_subscriber_gets_every_message_in_order() {
    for overflow in [Overflow::Block, Overflow::DropOldest] {
        let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(16 * 1024).with_overflow(overflow))
            .unwrap();
        let mut publisher = ps.publisher().unwrap();
        let count = 20_000u64;
        let kids: Vec<_> = (0..3)
            .map(|_| {
                util::fork(|| {
                    let mut sub = ps.subscriber().unwrap();
                    let mut buf = vec![0u8; 2048];
                    let mut next = 0u64;
                    let mut missed = 0u64;
                    while next < count {
                        let r = sub.recv(&mut buf).unwrap();
                        assert!(r.seq >= next, "seq {} after {next}", r.seq);
                        assert_eq!(r.missed, r.seq - next);
                        missed += r.missed;
                        check(r.seq, &buf[..r.len]);
                        next = r.seq + 1;
                    }
                    assert_eq!(next, count);
                    assert_eq!(sub.missed(), missed);
                    if overflow == Overflow::Block && missed != 0 {
                        return 2;
                    }
                    0
                })
            })
            .collect();
        await_subscribers(&mut publisher, 3);
        for seq in 0..count {
            publisher.send(&message(seq)).unwrap();
        }
        for k in kids {
            util::wait_ok(k);
        }
    }
}

#[test]
fn a_slow_subscriber_holds_the_publisher_back() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(4096)).unwrap();
    let mut publisher = ps.publisher().unwrap();
    let mut slow = ps.subscriber().unwrap();
    await_subscribers(&mut publisher, 1);
    let mut sent = 0u64;
    loop {
        match publisher.try_send(&fixed(sent)) {
            Ok(()) => sent += 1,
            Err(e) if not_now(&e) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > 4);
    let e = publisher.send_timeout(&fixed(sent), Duration::from_millis(20)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    let mut buf = [0u8; 64];
    for seq in 0..sent {
        let r = slow.try_recv(&mut buf).unwrap();
        assert_eq!((r.seq, r.missed), (seq, 0));
        assert_eq!(&buf[..r.len], &fixed(seq)[..]);
    }
    publisher.try_send(b"room again").unwrap();
}

#[test]
fn drop_oldest_counts_what_a_slow_subscriber_missed() {
    let ps =
        PubSub::create_memfd(&PatternConfig::new().with_capacity(4096).with_overflow(Overflow::DropOldest))
            .unwrap();
    let mut publisher = ps.publisher().unwrap();
    let mut slow = ps.subscriber().unwrap();
    await_subscribers(&mut publisher, 1);
    let count = 5_000u64;
    for seq in 0..count {
        publisher.try_send(&message(seq)).unwrap(); // never waits: the oldest go
    }
    let mut buf = vec![0u8; 2048];
    let mut got = 0u64;
    let mut last = None;
    loop {
        match slow.try_recv(&mut buf) {
            Ok(r) => {
                check(r.seq, &buf[..r.len]);
                if let Some(l) = last {
                    assert_eq!(r.seq, l + 1 + r.missed);
                }
                last = Some(r.seq);
                got += 1;
            }
            Err(e) if not_now(&e) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(last, Some(count - 1));
    let first = count - got - slow.missed();
    assert_eq!(first, 0, "received {got}, missed {}", slow.missed());
    assert!(slow.missed() > 0);
}

#[test]
fn in_place_reads_are_never_overwritten_under_drop_oldest() {
    let ps =
        PubSub::create_memfd(&PatternConfig::new().with_capacity(4096).with_overflow(Overflow::DropOldest))
            .unwrap();
    let mut publisher = ps.publisher().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let child = util::fork(|| {
        let mut sub = ps.subscriber().unwrap();
        let mut checked = 0u64;
        loop {
            let m = match sub.recv_in_place() {
                Ok(m) => m,
                Err(e) if e.kind() == ErrorKind::Disconnected => break,
                Err(e) => panic!("{e}"),
            };
            // Read slowly, in place, while the publisher races ahead.
            let first = m.to_vec();
            std::thread::yield_now();
            let again = m.to_vec();
            assert_eq!(first, again, "message {} changed while held", m.seq());
            check(m.seq(), &first);
            checked += 1;
            if checked == 1 {
                signal(&mut b);
            }
        }
        assert!(checked > 0);
        0
    });
    // Send until the child has seen one message, then a good many more.
    let mut seq = 0u64;
    let mut extra = None;
    a.set_nonblocking(true).unwrap();
    loop {
        publisher.send(&message(seq)).unwrap();
        seq += 1;
        if extra.is_none() && a.read(&mut [0u8; 1]).is_ok() {
            extra = Some(seq + 50_000);
        }
        if extra == Some(seq) {
            break;
        }
    }
    drop(publisher);
    util::wait_ok(child);
}

#[test]
fn dead_subscribers_never_block_the_publisher() {
    for in_place in [false, true] {
        let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(4096)).unwrap();
        let mut publisher = ps.publisher().unwrap();
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let victim = util::fork(|| {
            let mut sub = ps.subscriber().unwrap();
            if in_place {
                let _held = sub.recv_in_place().unwrap(); // pinned while it dies
                signal(&mut b);
                std::thread::sleep(Duration::from_secs(3600));
            } else {
                let mut buf = [0u8; 2048];
                sub.recv(&mut buf).unwrap();
                signal(&mut b);
                std::thread::sleep(Duration::from_secs(3600));
            }
            0
        });
        let survivor = util::fork(|| {
            let mut sub = ps.subscriber().unwrap();
            let mut buf = vec![0u8; 2048];
            let mut next = None;
            loop {
                match sub.recv(&mut buf) {
                    Ok(r) => {
                        check(r.seq, &buf[..r.len]);
                        if let Some(n) = next {
                            assert_eq!(r.seq, n);
                        }
                        next = Some(r.seq + 1);
                    }
                    Err(e) if e.kind() == ErrorKind::Disconnected => break,
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(next, Some(20_000));
            0
        });
        await_subscribers(&mut publisher, 2);
        publisher.send(&message(0)).unwrap();
        await_signal(&mut a);
        victim.kill(Signal::Kill).unwrap();
        let _ = victim.wait();
        // Far more than the ring holds: the dead subscriber is dropped, not waited for.
        for seq in 1..20_000 {
            publisher.send(&message(seq)).unwrap();
        }
        assert_eq!(publisher.subscribers(), 1);
        drop(publisher);
        util::wait_ok(survivor);
    }
}

#[test]
fn subscribers_killed_at_random_points() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(8192).with_max_members(8)).unwrap();
    let mut publisher = ps.publisher().unwrap();
    let count = 30_000u64;
    let ps = &ps;
    let kids: Vec<_> = (0..4u64)
        .map(|_| {
            util::fork(move || {
                let mut sub = ps.subscriber().unwrap();
                let mut buf = vec![0u8; 2048];
                let mut next = 0;
                while next < count {
                    let r = sub.recv(&mut buf).unwrap();
                    assert_eq!(r.seq, next);
                    check(r.seq, &buf[..r.len]);
                    next += 1;
                }
                0
            })
        })
        .collect();
    await_subscribers(&mut publisher, 4);
    let kill_at = [1_000u64, 7_777, 15_000];
    for seq in 0..count {
        if let Some(v) = kill_at.iter().position(|&s| s == seq) {
            kids[v].kill(Signal::Kill).unwrap();
        }
        publisher.send(&message(seq)).unwrap();
    }
    let mut kids = kids;
    let last = kids.pop().unwrap();
    util::wait_ok(last);
    for k in kids {
        let status = k.wait().unwrap();
        assert!(!status.success(), "a killed subscriber exited normally");
    }
}

#[test]
fn subscribers_join_and_leave_under_load() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(8192).with_max_members(3)).unwrap();
    let mut publisher = ps.publisher().unwrap();
    let kids: Vec<_> = (0..5)
        .map(|_| {
            util::fork(|| {
                let mut buf = vec![0u8; 2048];
                for _ in 0..20 {
                    let mut sub = loop {
                        match ps.subscriber() {
                            Ok(s) => break s,
                            Err(e) if e.kind() == ErrorKind::LimitExceeded => {
                                std::thread::sleep(Duration::from_millis(1))
                            }
                            Err(e) => panic!("{e}"),
                        }
                    };
                    let r = sub.recv(&mut buf).unwrap();
                    check(r.seq, &buf[..r.len]);
                    for next in r.seq + 1..r.seq + 301 {
                        let r = sub.recv(&mut buf).unwrap();
                        assert_eq!((r.seq, r.missed), (next, 0), "gap or repeat");
                        check(r.seq, &buf[..r.len]);
                    }
                    sub.close();
                }
                0
            })
        })
        .collect();
    let mut seq = 0;
    let mut pending: Vec<_> = kids.into_iter().map(Some).collect();
    while pending.iter().any(Option::is_some) {
        for _ in 0..100 {
            publisher.send(&message(seq)).unwrap();
            seq += 1;
        }
        for slot in pending.iter_mut() {
            if let Some(k) = slot
                && let Some(status) = k.try_wait().unwrap()
            {
                assert!(status.success(), "{status:?}");
                *slot = None;
            }
        }
    }
}

#[test]
fn dead_publisher_disconnects_after_the_published_messages() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(1 << 20)).unwrap();
    let mut sub = ps.subscriber().unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let child = util::fork(|| {
        let mut p = ps.publisher().unwrap();
        await_subscribers(&mut p, 1);
        for seq in 0..100 {
            p.send(&message(seq)).unwrap();
        }
        signal(&mut b);
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    await_signal(&mut a);
    child.kill(Signal::Kill).unwrap();
    let _ = child.wait();
    let mut buf = vec![0u8; 2048];
    for seq in 0..100 {
        let r = sub.recv(&mut buf).unwrap();
        assert_eq!(r.seq, seq);
        check(seq, &buf[..r.len]);
    }
    let e = sub.recv(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}");
}

#[test]
fn limits_and_bad_input() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(1)).unwrap();
    let _s = ps.subscriber().unwrap();
    assert_eq!(ps.subscriber().unwrap_err().kind(), ErrorKind::LimitExceeded);
    let mut p = ps.publisher().unwrap();
    assert_eq!(ps.publisher().unwrap_err().kind(), ErrorKind::AlreadyExists);
    let big = vec![0u8; ps.max_message() + 1];
    assert_eq!(p.send(&big).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    p.send(&vec![1u8; ps.max_message()]).unwrap();
    let mut small = [0u8; 4];
    let mut s = _s;
    let e = s.recv(&mut small).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MessageTooLarge);
    let mut buf = vec![0u8; ps.max_message()];
    assert_eq!(s.recv(&mut buf).unwrap().len, ps.max_message(), "the message stayed");
}

#[test]
fn zero_copy_loan_reaches_every_subscriber() {
    let ps = PubSub::create_memfd(&PatternConfig::new().with_capacity(1 << 16)).unwrap();
    let mut p = ps.publisher().unwrap();
    let mut s1 = ps.subscriber().unwrap();
    let mut s2 = ps.subscriber().unwrap();
    await_subscribers(&mut p, 2);
    let mut loan = p.loan(1000).unwrap();
    loan.write_at(0, &[9u8; 1000]).unwrap();
    assert_eq!(loan.write_at(999, &[1, 2]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    loan.commit();
    for s in [&mut s1, &mut s2] {
        let m = s.try_recv_in_place().unwrap();
        assert_eq!(m.to_vec(), vec![9u8; 1000]);
        let mut part = [0u8; 10];
        m.read_at(990, &mut part).unwrap();
        assert_eq!(part, [9u8; 10]);
    }
}

#[test]
fn scribbled_memory_is_corrupted_never_a_crash() {
    let name = format!("/ipckit-test-pubsub-{}", std::process::id());
    let ps = PubSub::create_named(&name, &PatternConfig::new().with_capacity(4096), ipckit::Mode::OWNER_RW)
        .unwrap();
    let _guard = Unlink(name.clone());
    let map = ShmObject::open(&name).unwrap().map().unwrap();
    let mut p = ps.publisher().unwrap();
    let mut bad = ps.subscriber().unwrap();
    let mut good = ps.subscriber().unwrap();
    await_subscribers(&mut p, 2);
    // The bad subscriber's head (slot table at 512, 384 bytes a slot, head at +128) goes
    // somewhere impossible; the publisher drops it when it needs room.
    map.write_at(512 + bad.slot() * 384 + 128, &(u64::MAX - 63).to_le_bytes()).unwrap();
    let mut buf = vec![0u8; 2048];
    for seq in 0..2_000 {
        p.send(&message(seq)).unwrap();
        let r = good.recv(&mut buf).unwrap();
        assert_eq!(r.seq, seq);
    }
    assert_eq!(p.subscribers(), 1);
    let e = bad.recv(&mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
    // A record with an impossible length where the good subscriber reads next.
    let data = map.load_u64(56, std::sync::atomic::Ordering::Relaxed).unwrap() as usize;
    p.send(b"x").unwrap();
    let r = good.try_recv(&mut buf);
    assert!(r.is_ok());
    for off in (0..4096).step_by(64) {
        map.write_at(data + off + 8, &((1u64 << 32) | 0xFFFF_FF00).to_le_bytes()).unwrap();
    }
    p.send(b"y").unwrap();
    let _ = good.try_recv(&mut buf); // Corrupted or a message: never a crash
    map.write_at(0, &[0u8; 8]).unwrap();
    let e = PubSub::open_named(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialized, "{e}");
    map.write_at(0, &[0xEE; 8]).unwrap();
    let e = PubSub::open_named(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
}

struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = ShmObject::unlink(&self.0);
    }
}
