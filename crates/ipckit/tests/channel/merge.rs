//! Many to one across real processes: every message exactly once, in order per
//! sender; fairness; senders killed at random points; joins and leaves under load; a
//! receiver that dies; scribbled memory.
use crate::util;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipckit::ErrorKind;
use ipckit::channel::PatternConfig;
use ipckit::channel::merge::Merge;
use ipckit::posix::shm::ShmObject;
use ipckit::process::Signal;

/// A message: sender id (u32), sequence number (u32), then `len` bytes derived from both.
fn message(id: u32, seq: u32) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) >> 9) % 700;
    let mut m = Vec::with_capacity(8 + len as usize);
    m.extend_from_slice(&id.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend((0..len).map(|i| (i ^ seq ^ id.wrapping_mul(31)) as u8));
    m
}

/// Checks a received message; returns (id, seq).
fn check(m: &[u8]) -> (u32, u32) {
    assert!(m.len() >= 8, "short message of {} bytes", m.len());
    let id = u32::from_le_bytes(m[..4].try_into().unwrap());
    let seq = u32::from_le_bytes(m[4..8].try_into().unwrap());
    assert_eq!(m, &message(id, seq)[..], "message {seq} of sender {id} damaged");
    (id, seq)
}

fn not_now(e: &ipckit::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Receives until every sender in `expect` sent its count (or `until` says stop);
/// asserts per-sender order and exactly-once delivery.
fn receive_all(rx: &mut ipckit::channel::merge::Receiver, expect: &HashMap<u32, u32>) -> HashMap<u32, u32> {
    let mut next: HashMap<u32, u32> = HashMap::new();
    let total: u32 = expect.values().sum();
    let mut buf = vec![0u8; 2048];
    for _ in 0..total {
        let r = rx.recv_timeout(&mut buf, Duration::from_secs(60)).expect("a message within a minute");
        let (id, seq) = check(&buf[..r.len]);
        let n = next.entry(id).or_insert(0);
        assert_eq!(seq, *n, "sender {id}: message {seq} out of order or repeated");
        *n += 1;
    }
    next
}

#[test]
fn many_senders_every_message_once_in_order() {
    let m = Merge::create_memfd(&PatternConfig::new().with_capacity(8 * 1024).with_max_members(8)).unwrap();
    let mut rx = m.receiver().unwrap();
    let count = 5_000u32;
    let kids: Vec<_> = (0..4u32)
        .map(|id| {
            util::fork(|| {
                let mut tx = m.sender().unwrap();
                for seq in 0..count {
                    tx.send(&message(id, seq)).unwrap();
                }
                0
            })
        })
        .collect();
    let expect: HashMap<u32, u32> = (0..4).map(|id| (id, count)).collect();
    let got = receive_all(&mut rx, &expect);
    assert_eq!(got, expect);
    for k in kids {
        util::wait_ok(k);
    }
    let mut buf = [0u8; 16];
    assert_eq!(rx.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn receiver_takes_senders_in_turn() {
    let m = Merge::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(3)).unwrap();
    let mut rx = m.receiver().unwrap();
    let mut a = m.sender().unwrap();
    let mut b = m.sender().unwrap();
    let mut c = m.sender().unwrap();
    // Fill all three rings.
    for (id, tx) in [(0u32, &mut a), (1, &mut b), (2, &mut c)] {
        let mut seq = 0;
        loop {
            match tx.try_send(&message(id, seq)[..8]) {
                Ok(()) => seq += 1,
                Err(e) if not_now(&e) => break,
                Err(e) => panic!("{e}"),
            }
        }
        assert!(seq > 3);
    }
    let mut buf = [0u8; 64];
    let mut order = Vec::new();
    for _ in 0..12 {
        let r = rx.try_recv(&mut buf).unwrap();
        order.push(r.sender);
    }
    // Round-robin: each window of three holds each sender once.
    for w in order.chunks(3) {
        let mut w = w.to_vec();
        w.sort_unstable();
        assert_eq!(w, vec![a.slot(), b.slot(), c.slot()], "order {order:?}");
    }
}

#[test]
fn killed_senders_never_wedge_the_others() {
    for round in 0..3u64 {
        let m = Merge::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(4)).unwrap();
        let mut rx = m.receiver().unwrap();
        let count = 3_000u32;
        // Two victims that send until killed, two survivors that send `count`.
        let victims: Vec<_> = (10..12u32)
            .map(|id| {
                util::fork(|| {
                    let mut tx = m.sender().unwrap();
                    for seq in 0..u32::MAX {
                        tx.send(&message(id, seq)).unwrap();
                    }
                    0
                })
            })
            .collect();
        let survivors: Vec<_> = (0..2u32)
            .map(|id| {
                util::fork(|| {
                    let mut tx = m.sender().unwrap();
                    for seq in 0..count {
                        tx.send(&message(id, seq)).unwrap();
                    }
                    0
                })
            })
            .collect();
        let mut next: HashMap<u32, u32> = HashMap::new();
        let mut buf = vec![0u8; 2048];
        let kill_after = 200 + (round * 977) % 1500;
        let mut taken = 0u64;
        let mut killed = false;
        while next.get(&0).copied().unwrap_or(0) < count || next.get(&1).copied().unwrap_or(0) < count {
            let r =
                rx.recv_timeout(&mut buf, Duration::from_secs(60)).expect("survivors' messages keep coming");
            let (id, seq) = check(&buf[..r.len]);
            let n = next.entry(id).or_insert(0);
            assert_eq!(seq, *n, "sender {id}");
            *n += 1;
            taken += 1;
            if taken == kill_after && !killed {
                for v in &victims {
                    v.kill(Signal::Kill).unwrap();
                }
                killed = true;
            }
        }
        for s in survivors {
            util::wait_ok(s);
        }
        for v in victims {
            let _ = v.wait();
        }
        // Drain what the victims published before they died: still in order.
        loop {
            match rx.recv_timeout(&mut buf, Duration::from_millis(300)) {
                Ok(r) => {
                    let (id, seq) = check(&buf[..r.len]);
                    let n = next.entry(id).or_insert(0);
                    assert_eq!(seq, *n, "sender {id}");
                    *n += 1;
                }
                Err(e) if not_now(&e) => break,
                Err(e) => panic!("{e}"),
            }
        }
        // Every slot comes back: the dead senders' too.
        let start = Instant::now();
        while rx.senders() > 0 {
            let _ = rx.recv_timeout(&mut buf, Duration::from_millis(20));
            assert!(start.elapsed() < Duration::from_secs(120), "slots never freed");
        }
        // A victim killed while joining (slot claimed, not yet active) is not counted
        // by senders(); the receiver's waits take its slot back once it is gone.
        let mut again = Vec::new();
        while again.len() < 4 {
            match m.sender() {
                Ok(tx) => again.push(tx),
                Err(e) if e.kind() == ErrorKind::LimitExceeded => {
                    let _ = rx.recv_timeout(&mut buf, Duration::from_millis(20));
                    assert!(start.elapsed() < Duration::from_secs(120), "a slot was never freed");
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(again.len(), 4);
    }
}

#[test]
fn senders_join_and_leave_under_load() {
    // Six processes share two slots: each joins (retrying while all are taken), sends a
    // batch, leaves, and does it again.
    let m = Merge::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(2)).unwrap();
    let mut rx = m.receiver().unwrap();
    let (procs, batches, per) = (6u32, 5u32, 200u32);
    let kids: Vec<_> = (0..procs)
        .map(|p| {
            util::fork(|| {
                for b in 0..batches {
                    let mut tx = loop {
                        match m.sender() {
                            Ok(tx) => break tx,
                            Err(e) if e.kind() == ErrorKind::LimitExceeded => {
                                std::thread::sleep(Duration::from_millis(1))
                            }
                            Err(e) => panic!("{e}"),
                        }
                    };
                    for k in 0..per {
                        // Order holds per sender (one join): id = process and batch.
                        tx.send(&message(p * batches + b, k)).unwrap();
                    }
                    tx.close();
                }
                0
            })
        })
        .collect();
    let expect: HashMap<u32, u32> = (0..procs * batches).map(|id| (id, per)).collect();
    let got = receive_all(&mut rx, &expect);
    assert_eq!(got, expect);
    for k in kids {
        util::wait_ok(k);
    }
}

#[test]
fn full_table_is_limit_exceeded() {
    let m = Merge::create_memfd(&PatternConfig::new().with_max_members(2)).unwrap();
    let _a = m.sender().unwrap();
    let _b = m.sender().unwrap();
    let e = m.sender().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    let e = Merge::create_memfd(&PatternConfig::new().with_max_members(0)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let e = Merge::create_memfd(&PatternConfig::new().with_max_members(65)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

#[test]
fn dead_receiver_disconnects_senders() {
    let m = Merge::create_memfd(&PatternConfig::new().with_capacity(4096)).unwrap();
    let (mut here, mut there) = std::os::unix::net::UnixStream::pair().unwrap();
    let child = util::fork(|| {
        use std::io::Write;
        let _rx = m.receiver().unwrap();
        there.write_all(b"r").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    {
        use std::io::Read;
        let mut b = [0u8; 1];
        here.read_exact(&mut b).unwrap();
    }
    let mut tx = m.sender().unwrap();
    child.kill(Signal::Kill).unwrap();
    let _ = child.wait();
    // Sends fill the ring, then the dead receiver is noticed.
    let e = loop {
        if let Err(e) = tx.send(&[7u8; 100]) {
            break e;
        }
    };
    assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}");
}

#[test]
fn scribbled_memory_is_corrupted_never_a_crash() {
    let name = format!("/ipckit-test-merge-{}", std::process::id());
    let m = Merge::create_named(
        &name,
        &PatternConfig::new().with_capacity(4096).with_max_members(2),
        ipckit::Mode::OWNER_RW,
    )
    .unwrap();
    let obj = ShmObject::open(&name).unwrap();
    let map = obj.map().unwrap();
    let _guard = Unlink(name.clone());
    let mut rx = m.receiver().unwrap();
    let mut good = m.sender().unwrap();
    let mut bad = m.sender().unwrap();
    bad.send(b"fine").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(rx.recv(&mut buf).unwrap().len, 4);
    // The bad sender's ring: find its data offset from the header (data_offset at 56).
    let data = map.load_u64(56, std::sync::atomic::Ordering::Relaxed).unwrap() as usize;
    let cap = map.load_u64(16, std::sync::atomic::Ordering::Relaxed).unwrap() as usize;
    let ring = data + bad.slot() * cap;
    // A valid-looking stamp at the next position with an absurd length.
    let pos = 64u64; // the first record took one 64-byte block
    map.write_at(ring + 64 + 8, &((1u64 << 32) | 0xFFFF_FFF0).to_le_bytes()).unwrap();
    map.write_at(ring + 64, &(pos ^ 0x9E37_79B9_7F4A_7C15).to_le_bytes()).unwrap();
    good.send(b"still here").unwrap();
    let mut saw_corrupted = false;
    let mut saw_good = false;
    for _ in 0..2 {
        match rx.recv_timeout(&mut buf, Duration::from_secs(10)) {
            Ok(r) => {
                assert_eq!(&buf[..r.len], b"still here");
                saw_good = true;
            }
            Err(e) if e.kind() == ErrorKind::Corrupted => saw_corrupted = true,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(saw_corrupted && saw_good);
    // The header: a bad magic is refused on open.
    map.write_at(0, &[0xAB; 8]).unwrap();
    let e = Merge::open_named(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
}

struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = ShmObject::unlink(&self.0);
    }
}
