//! The ring core in one process: with the real raw-pointer memory over a heap buffer
//! (run under Miri to check the unsafe copies and atomics), and with `loom` models of
//! the index protocol and of the sleep/wake protocol (`RUSTFLAGS="--cfg ipckit_loom"`).

use super::*;

/// Deterministic message contents: byte `i` of message `seq`.
fn byte(seq: u64, i: usize) -> u8 {
    (seq.wrapping_mul(0x9E37_79B9).wrapping_add(i as u64 * 7) >> 3) as u8
}

/// A message length that varies with `seq`, up to `max`.
fn length(seq: u64, max: u64) -> u64 {
    (seq.wrapping_mul(2_654_435_761) >> 7) % (max + 1)
}

#[cfg(not(ipckit_loom))]
mod real_memory {
    use std::ptr::NonNull;
    use std::sync::Arc;

    use super::super::super::raw::RawRing;
    use super::*;

    /// A heap buffer standing in for the shared mapping.
    struct Heap {
        words: Box<[std::sync::atomic::AtomicU64]>,
    }

    impl Heap {
        fn new(capacity: u64) -> Arc<Heap> {
            let words = (0..capacity / 8).map(|_| std::sync::atomic::AtomicU64::new(0)).collect();
            Arc::new(Heap { words })
        }

        fn ring(&self) -> RawRing {
            let base = NonNull::new(self.words.as_ptr() as *mut u8).unwrap();
            // SAFETY: the buffer is 8-aligned, `8 * words.len()` bytes long, and
            // outlives every RawRing made here (the threads hold the Arc); all access
            // is through atomics and copies.
            #[allow(unsafe_code)]
            unsafe {
                RawRing::new(base, self.words.len() as u64 * 8)
            }
        }
    }

    #[test]
    fn single_thread_wraps_and_checks() {
        let cap = 1024;
        let heap = Heap::new(cap);
        let ring = heap.ring();
        let head = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let mut p = Producer::new(cap, RECORD_ALIGN);
        let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
        let max = max_payload(cap);
        let rounds = if cfg!(miri) { 40 } else { 2000 };
        for seq in 0..rounds {
            let len = length(seq, max);
            let slot = p.reserve(&ring, &head, len).unwrap().expect("an empty ring has room");
            let msg: Vec<u8> = (0..len as usize).map(|i| byte(seq, i)).collect();
            ring.write(slot.off, &msg);
            p.commit(&ring, &count, slot, len);
            let rec = c.peek_counted(&ring, &head, &count).unwrap().expect("published");
            assert_eq!(rec.len, len);
            let mut out = vec![0u8; len as usize];
            ring.read(rec.off, &mut out);
            assert_eq!(out, msg);
            c.release(&head, rec);
            assert!(c.peek_counted(&ring, &head, &count).unwrap().is_none());
        }
    }

    #[test]
    fn full_ring_refuses_then_accepts() {
        let cap = 1024;
        let heap = Heap::new(cap);
        let ring = heap.ring();
        let head = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let mut p = Producer::new(cap, RECORD_ALIGN);
        let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
        let mut sent = 0;
        while let Some(slot) = p.reserve(&ring, &head, 100).unwrap() {
            p.commit(&ring, &count, slot, 100);
            sent += 1;
        }
        assert_eq!(sent, cap / record_size(100, RECORD_ALIGN));
        let rec = c.peek(&ring, &head).unwrap().unwrap();
        c.release(&head, rec);
        assert!(p.reserve(&ring, &head, 100).unwrap().is_some());
    }

    #[test]
    fn scribbled_memory_is_a_fault_not_a_crash() {
        let cap = 1024;
        let heap = Heap::new(cap);
        let ring = heap.ring();
        let head = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let mut p = Producer::new(cap, RECORD_ALIGN);
        let mut c = Consumer::new(cap, 64, RECORD_ALIGN);
        // A record with a valid stamp and a length past the ring's end.
        ring.word(8).store((u64::from(KIND_MESSAGE) << 32) | 0xFFFF_FFFF, Ordering::Relaxed);
        ring.word(0).store(stamp(0), Ordering::Release);
        assert!(matches!(c.peek(&ring, &head), Err(Fault::Length { .. })));
        ring.word(8).store(77 << 32, Ordering::Relaxed);
        assert!(matches!(c.peek(&ring, &head), Err(Fault::Kind { kind: 77, .. })));
        // An impossible head, seen by the producer once it needs room.
        head.store(u64::MAX - 15, Ordering::Relaxed);
        let mut res = Ok(Some(Slot { pos: 0, off: 0, len: 0 }));
        for _ in 0..100 {
            res = p.reserve(&ring, &head, 64).map(|s| s.inspect(|s| p.commit(&ring, &count, *s, 64)));
            if res.is_err() {
                break;
            }
        }
        assert!(matches!(res, Err(Fault::Head { .. })));
    }

    #[test]
    fn a_later_laps_stamp_and_missing_records_are_faults() {
        let cap = 1024;
        let heap = Heap::new(cap);
        let ring = heap.ring();
        let head = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let mut p = Producer::new(cap, RECORD_ALIGN);
        let mut c = Consumer::new(cap, 64, RECORD_ALIGN);
        // Two messages; the second one's stamp is wiped.
        for _ in 0..2 {
            let slot = p.reserve(&ring, &head, 16).unwrap().unwrap();
            p.commit(&ring, &count, slot, 16);
        }
        let rec = c.peek_counted(&ring, &head, &count).unwrap().unwrap();
        c.release(&head, rec);
        let pos = rec.pos + record_size(16, RECORD_ALIGN);
        ring.word(pos).store(0, Ordering::Release);
        assert_eq!(c.peek(&ring, &head), Ok(None), "the plain peek cannot tell");
        assert_eq!(
            c.peek_counted(&ring, &head, &count),
            Err(Fault::Missing { pos, published: 2, consumed: 1 })
        );
        // The stamp of the same offset one lap later: unread records were overwritten.
        ring.word(pos).store(stamp(pos + cap), Ordering::Release);
        assert_eq!(c.peek(&ring, &head), Err(Fault::Lap { pos, found: pos + cap }));
        // A stamp of an earlier position is stale memory, not damage.
        ring.word(pos).store(stamp(0), Ordering::Release);
        assert_eq!(c.peek(&ring, &head), Ok(None));
    }

    /// A large record starts over at offset 0 when the ring is empty, and goes on to
    /// fresh memory while the consumer still has records to read.
    #[test]
    fn large_records_start_over_when_the_start_is_free() {
        let cap = 4096;
        let heap = Heap::new(cap);
        let ring = heap.ring();
        let head = AtomicU64::new(0);
        let count = AtomicU64::new(0);
        let mut p = Producer::new(cap, RECORD_ALIGN).restart_from(1024);
        let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
        let big = 1024 - RECORD_HEADER; // a record of exactly 1024 bytes
        let send = |p: &mut Producer, seq: u64, len: u64| {
            let slot = p.reserve(&ring, &head, len).unwrap().expect("room");
            let msg: Vec<u8> = (0..len as usize).map(|i| byte(seq, i)).collect();
            ring.write(slot.off, &msg);
            p.commit(&ring, &count, slot, len);
            slot
        };
        let take = |c: &mut Consumer, seq: u64, len: u64| {
            let rec = c.peek_counted(&ring, &head, &count).unwrap().expect("published");
            assert_eq!(rec.len, len, "message {seq}");
            let mut out = vec![0u8; len as usize];
            ring.read(rec.off, &mut out);
            assert!(out.iter().enumerate().all(|(i, b)| *b == byte(seq, i)), "message {seq}");
            c.release(&head, rec);
            rec
        };
        // Small records never start over.
        let s0 = send(&mut p, 0, 100);
        take(&mut c, 0, 100);
        let s1 = send(&mut p, 1, 100);
        assert_eq!(s1.pos, s0.pos + record_size(100, RECORD_ALIGN));
        take(&mut c, 1, 100);
        // Offset 256 < 1024: no room before us, the large record goes on.
        let s2 = send(&mut p, 2, big);
        assert_eq!(s2.off & (cap - 1), s1.pos + record_size(100, RECORD_ALIGN) + RECORD_HEADER);
        take(&mut c, 2, big);
        // Drained, at offset 1248 >= 1024: the next large record starts over at 0.
        let s3 = send(&mut p, 3, big);
        assert_eq!((s3.pos % cap, s3.pos / cap), (0, 1), "started over at the next lap");
        // The consumer skips the padding and holds the message at offset 0 (unread):
        // the next one goes on to offset 1024.
        let r3 = c.peek(&ring, &head).unwrap().expect("published");
        assert_eq!(r3.pos, s3.pos, "the consumer skipped the padding");
        let s4 = send(&mut p, 4, big);
        assert_eq!(s4.pos, s3.pos + 1024);
        take(&mut c, 3, big);
        // The consumer freed offset 0 but has the message at 1024 to read: go on.
        let s5 = send(&mut p, 5, big);
        assert_eq!(s5.pos, s4.pos + 1024);
        take(&mut c, 4, big);
        take(&mut c, 5, big);
        // Drained again, at offset 3072: start over.
        let s6 = send(&mut p, 6, big);
        assert_eq!((s6.pos % cap, s6.pos / cap), (0, 2));
        take(&mut c, 6, big);
        assert!(c.peek_counted(&ring, &head, &count).unwrap().is_none());
    }

    #[test]
    fn two_threads_stream_intact() {
        let cap = 4096;
        let heap = Heap::new(cap);
        let head = Arc::new(AtomicU64::new(0));
        let published = Arc::new(AtomicU64::new(0));
        let max = 300;
        let count: u64 = if cfg!(miri) { 60 } else { 100_000 };
        let producer = {
            let (heap, head, published) = (Arc::clone(&heap), Arc::clone(&head), Arc::clone(&published));
            std::thread::spawn(move || {
                let ring = heap.ring();
                let mut p = Producer::new(cap, RECORD_ALIGN);
                let mut msg = Vec::new();
                for seq in 0..count {
                    let len = length(seq, max);
                    msg.clear();
                    msg.extend((0..len as usize).map(|i| byte(seq, i)));
                    let slot = loop {
                        if let Some(s) = p.reserve(&ring, &head, len).unwrap() {
                            break s;
                        }
                        std::thread::yield_now();
                    };
                    ring.write(slot.off, &msg);
                    p.commit(&ring, &published, slot, len);
                }
            })
        };
        let ring = heap.ring();
        let mut c = Consumer::new(cap, max, RECORD_ALIGN);
        let mut out = vec![0u8; max as usize];
        for seq in 0..count {
            let rec = loop {
                if let Some(r) = c.peek_counted(&ring, &head, &published).unwrap() {
                    break r;
                }
                std::thread::yield_now();
            };
            assert_eq!(rec.len, length(seq, max), "message {seq}");
            ring.read(rec.off, &mut out[..rec.len as usize]);
            for (i, b) in out[..rec.len as usize].iter().enumerate() {
                assert_eq!(*b, byte(seq, i), "message {seq} byte {i}");
            }
            c.release(&head, rec);
        }
        producer.join().unwrap();
    }
}

#[cfg(ipckit_loom)]
mod model {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicU64;

    use super::*;

    /// The ring as words, every byte reached through relaxed atomics: a missing
    /// Release/Acquire shows as a stale payload read.
    struct Words(Vec<AtomicU64>);

    impl RingData for Words {
        fn word(&self, off: u64) -> &AtomicU64 {
            &self.0[(off / 8) as usize]
        }
        fn write(&self, off: u64, src: &[u8]) {
            for (i, chunk) in src.chunks(8).enumerate() {
                let w = &self.0[(off / 8) as usize + i];
                let mut bytes = w.load(Ordering::Relaxed).to_le_bytes();
                bytes[..chunk.len()].copy_from_slice(chunk);
                w.store(u64::from_le_bytes(bytes), Ordering::Relaxed);
            }
        }
        fn read(&self, off: u64, dst: &mut [u8]) {
            for (i, chunk) in dst.chunks_mut(8).enumerate() {
                let bytes = self.0[(off / 8) as usize + i].load(Ordering::Relaxed).to_le_bytes();
                chunk.copy_from_slice(&bytes[..chunk.len()]);
            }
        }
    }

    /// Producer and consumer on a tiny ring (messages wrap, pad and reuse space): every
    /// message arrives once, in order, intact.
    #[test]
    fn ring_protocol() {
        loom::model(|| {
            let cap = 128u64; // records of 16 + 16 or 16 + 32 bytes
            let data = Arc::new(Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect()));
            let head = Arc::new(AtomicU64::new(0));
            let count = Arc::new(AtomicU64::new(0));
            let lens = [16u64, 32, 24, 16];
            let producer = {
                let (data, head, count) = (Arc::clone(&data), Arc::clone(&head), Arc::clone(&count));
                loom::thread::spawn(move || {
                    let mut p = Producer::new(cap, RECORD_ALIGN);
                    for (seq, &len) in lens.iter().enumerate() {
                        let slot = loop {
                            if let Some(s) = p.reserve(&*data, &head, len).unwrap() {
                                break s;
                            }
                            loom::thread::yield_now();
                        };
                        let msg: Vec<u8> = (0..len as usize).map(|i| byte(seq as u64, i)).collect();
                        data.write(slot.off, &msg);
                        p.commit(&*data, &count, slot, len);
                    }
                })
            };
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            for (seq, &len) in lens.iter().enumerate() {
                let rec = loop {
                    if let Some(r) = c.peek(&*data, &head).unwrap() {
                        break r;
                    }
                    loom::thread::yield_now();
                };
                assert_eq!(rec.len, len);
                let mut out = vec![0u8; len as usize];
                data.read(rec.off, &mut out);
                for (i, b) in out.iter().enumerate() {
                    assert_eq!(*b, byte(seq as u64, i));
                }
                c.release(&head, rec);
            }
            producer.join().unwrap();
        });
    }

    /// Starting over early: large records go back to offset 0 when the ring is empty,
    /// under every interleaving of the producer's fresh `head` load with the
    /// consumer's release. Every message arrives once, in order,
    /// intact, the count never runs ahead, and the producer never writes room the
    /// consumer has not freed (a stale payload read would show).
    #[test]
    fn restart_at_start() {
        loom::model(|| {
            let cap = 128u64;
            let data = Arc::new(Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect()));
            let head = Arc::new(AtomicU64::new(0));
            let count = Arc::new(AtomicU64::new(0));
            // Records of 32 bytes are "large": the second message starts over at
            // offset 0 (next lap) if the consumer has taken the first, else follows it.
            // (Two messages keep the model to minutes: the step is the fresh `head`
            // load against the consumer's release and its skip of the padding.)
            let lens = [16u64, 16];
            let producer = {
                let (data, head, count) = (Arc::clone(&data), Arc::clone(&head), Arc::clone(&count));
                loom::thread::spawn(move || {
                    let mut p = Producer::new(cap, RECORD_ALIGN).restart_from(32);
                    for (seq, &len) in lens.iter().enumerate() {
                        let slot = loop {
                            if let Some(s) = p.reserve(&*data, &head, len).unwrap() {
                                break s;
                            }
                            loom::thread::yield_now();
                        };
                        let msg: Vec<u8> = (0..len as usize).map(|i| byte(seq as u64, i)).collect();
                        data.write(slot.off, &msg);
                        p.commit(&*data, &count, slot, len);
                    }
                })
            };
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            for (seq, &len) in lens.iter().enumerate() {
                let rec = loop {
                    if let Some(r) = c.peek_counted(&*data, &head, &count).unwrap() {
                        break r;
                    }
                    loom::thread::yield_now();
                };
                assert_eq!(rec.len, len);
                let mut out = vec![0u8; len as usize];
                data.read(rec.off, &mut out);
                for (i, b) in out.iter().enumerate() {
                    assert_eq!(*b, byte(seq as u64, i));
                }
                c.release(&head, rec);
            }
            producer.join().unwrap();
        });
    }

    /// The published count (pair 3): a consumer that sees the count of a message
    /// finds the message; it never reports one as missing that is on its way.
    #[test]
    fn count_never_runs_ahead() {
        loom::model(|| {
            let cap = 128u64;
            let data = Arc::new(Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect()));
            let head = Arc::new(AtomicU64::new(0));
            let count = Arc::new(AtomicU64::new(0));
            let producer = {
                let (data, head, count) = (Arc::clone(&data), Arc::clone(&head), Arc::clone(&count));
                loom::thread::spawn(move || {
                    let mut p = Producer::new(cap, RECORD_ALIGN);
                    for len in [8u64, 8] {
                        let slot = p.reserve(&*data, &head, len).unwrap().unwrap();
                        p.commit(&*data, &count, slot, len);
                    }
                })
            };
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            for _ in 0..2 {
                let rec = loop {
                    if let Some(r) = c.peek_counted(&*data, &head, &count).unwrap() {
                        break r;
                    }
                    loom::thread::yield_now();
                };
                c.release(&head, rec);
            }
            producer.join().unwrap();
        });
    }

    /// How the first producer dies in [`takeover`].
    #[derive(Copy, Clone, PartialEq)]
    enum Death {
        /// After writing the payload of its last message, before the stamp.
        BeforeStamp,
        /// After the stamp of its last message, before the count.
        BeforeCount,
    }

    /// A producer that dies in the middle of a send, and one that takes over
    /// ([`Producer::resume`]) while the consumer goes on: the consumer gets every
    /// message the first one stamped, whole, then the second one's, in order; never
    /// the unstamped one, never a stale byte, never a false "missing". The ring
    /// starts empty at position `start` (112: the last message pads to the end of
    /// the ring first).
    fn takeover(start: u64, before: &'static [u64], dying: u64, death: Death) {
        loom::model(move || {
            let cap = 128u64;
            let data = Arc::new(Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect()));
            let head = Arc::new(AtomicU64::new(start));
            let count = Arc::new(AtomicU64::new(0));
            let max = max_payload(cap);
            let producer = {
                let (data, head, count) = (Arc::clone(&data), Arc::clone(&head), Arc::clone(&count));
                loom::thread::spawn(move || {
                    let send = |p: &mut Producer, seq: u64, len: u64| {
                        let slot = loop {
                            if let Some(s) = p.reserve(&*data, &head, len).unwrap() {
                                break s;
                            }
                            loom::thread::yield_now();
                        };
                        let msg: Vec<u8> = (0..len as usize).map(|i| byte(seq, i)).collect();
                        data.write(slot.off, &msg);
                        slot
                    };
                    let mut first = Producer::resume(&*data, &head, &count, cap, max, RECORD_ALIGN).unwrap();
                    assert_eq!(first.tail(), start, "an empty ring resumes where the consumer is");
                    for (seq, &len) in before.iter().enumerate() {
                        let slot = send(&mut first, seq as u64, len);
                        first.commit(&*data, &count, slot, len);
                    }
                    let slot = send(&mut first, before.len() as u64, dying);
                    if death == Death::BeforeCount {
                        first.commit_uncounted(&*data, slot, dying);
                    }
                    // The first producer is gone. (Its death comes before the take-over,
                    // as a process's exit comes before another sees it gone.)
                    let mut second = Producer::resume(&*data, &head, &count, cap, max, RECORD_ALIGN).unwrap();
                    let seq = before.len() as u64 + 1;
                    let slot = send(&mut second, seq, 16);
                    second.commit(&*data, &count, slot, 16);
                })
            };
            let mut want: Vec<(u64, u64)> = before.iter().enumerate().map(|(s, &l)| (s as u64, l)).collect();
            if death == Death::BeforeCount {
                want.push((before.len() as u64, dying));
            }
            want.push((before.len() as u64 + 1, 16));
            let mut c = Consumer::at(start, cap, max, RECORD_ALIGN);
            for &(seq, len) in &want {
                let rec = loop {
                    if let Some(r) = c.peek_counted(&*data, &head, &count).unwrap() {
                        break r;
                    }
                    loom::thread::yield_now();
                };
                assert_eq!(rec.len, len, "message {seq}");
                let mut out = vec![0u8; len as usize];
                data.read(rec.off, &mut out);
                for (i, b) in out.iter().enumerate() {
                    assert_eq!(*b, byte(seq, i), "message {seq} byte {i}");
                }
                c.release(&head, rec);
            }
            producer.join().unwrap();
            assert!(c.peek_counted(&*data, &head, &count).unwrap().is_none(), "nothing more");
        });
    }

    #[test]
    fn takeover_after_a_death_before_the_stamp() {
        takeover(0, &[16], 16, Death::BeforeStamp);
    }

    #[test]
    fn takeover_after_a_death_before_the_count() {
        takeover(0, &[16], 16, Death::BeforeCount);
    }

    #[test]
    fn takeover_after_a_death_between_padding_and_message() {
        takeover(112, &[], 16, Death::BeforeStamp);
    }

    /// The sleep/wake handshake: if the consumer decides to sleep on a futex value,
    /// the producer either made the message visible to its last check or bumps the
    /// futex word past that value. No wake-up is lost.
    #[test]
    fn no_lost_wake_up() {
        loom::model(|| {
            let cap = 128u64;
            let data = Arc::new(Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect()));
            let head = Arc::new(AtomicU64::new(0));
            let wake = Arc::new(Wake::new());
            let count = Arc::new(AtomicU64::new(0));
            let producer = {
                let (data, head, wake, count) =
                    (Arc::clone(&data), Arc::clone(&head), Arc::clone(&wake), Arc::clone(&count));
                loom::thread::spawn(move || {
                    let mut p = Producer::new(cap, RECORD_ALIGN);
                    let slot = p.reserve(&*data, &head, 8).unwrap().unwrap();
                    data.write(slot.off, &[7; 8]);
                    p.commit(&*data, &count, slot, 8);
                    if wake.needs_wake() {
                        wake.bump();
                    }
                })
            };
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            let seq = wake.announce();
            let found = c.peek(&*data, &head).unwrap().is_some();
            producer.join().unwrap();
            if !found {
                // We would sleep on `seq`: the futex must not still hold it.
                assert_ne!(wake.seq.load(Ordering::Relaxed), seq, "lost wake-up");
            }
            wake.retire();
        });
    }
}
