//! Models of the slot and subscriber-head protocols (`RUSTFLAGS="--cfg ipckit_loom"`),
//! and the same protocols on plain memory with threads otherwise.

#[cfg(ipckit_loom)]
mod model {
    use loom::sync::Arc;
    use loom::sync::atomic::{AtomicU32, AtomicU64};

    use super::super::*;
    use crate::channel::ring::{Consumer, Producer, RECORD_ALIGN, RingData, max_payload, record_size};

    /// The ring as words, every byte reached through relaxed atomics: a missing
    /// Release/Acquire shows as a stale or torn payload.
    struct Words(Vec<AtomicU64>);

    impl Words {
        fn new(cap: u64) -> Words {
            Words((0..cap / 8).map(|_| AtomicU64::new(0)).collect())
        }
    }

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

    fn publish(p: &mut Producer, data: &Words, head: &AtomicU64, value: u64) {
        let slot = loop {
            if let Some(s) = p.reserve(data, head, 16).unwrap() {
                break s;
            }
            loom::thread::yield_now();
        };
        data.write(slot.off, &value.to_le_bytes());
        data.write(slot.off + 8, &(!value).to_le_bytes());
        p.commit_uncounted(data, slot, 16);
    }

    /// A member published and left; the hub takes its message, zeroes and frees the
    /// slot while a second member claims it and publishes. The hub never sees a stale
    /// record of the first member after the reset, nor a torn one.
    #[test]
    fn slot_claim_and_reset() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let cap = 64u64;
            let data = Arc::new(Words::new(cap));
            let head = Arc::new(AtomicU64::new(0));
            let owner = Arc::new(AtomicU32::new(0));
            // The first member, before the race: claims, publishes twice (the ring
            // wraps over the slot's first records), leaves.
            assert!(claim(&owner, 1));
            let mut p = Producer::new(cap, RECORD_ALIGN);
            publish(&mut p, &data, &head, 11);
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            let rec = c.peek(&*data, &head).unwrap().unwrap();
            c.release(&head, rec);
            publish(&mut p, &data, &head, 12);
            let second = {
                let (data, head, owner) = (Arc::clone(&data), Arc::clone(&head), Arc::clone(&owner));
                loom::thread::spawn(move || {
                    while !claim(&owner, 2) {
                        loom::thread::yield_now();
                    }
                    let mut p = Producer::new(cap, RECORD_ALIGN);
                    publish(&mut p, &data, &head, 22);
                })
            };
            // The hub takes message 12, then frees the slot.
            let rec = c.peek(&*data, &head).unwrap().unwrap();
            let mut v = [0u8; 16];
            data.read(rec.off, &mut v);
            assert_eq!(u64::from_le_bytes(v[..8].try_into().unwrap()), 12);
            c.release(&head, rec);
            reset(&owner, &[(&*data, cap)], &[&*head]);
            let mut c = Consumer::new(cap, max_payload(cap), RECORD_ALIGN);
            let rec = loop {
                if let Some(r) = c.peek(&*data, &head).unwrap() {
                    break r;
                }
                loom::thread::yield_now();
            };
            data.read(rec.off, &mut v);
            let a = u64::from_le_bytes(v[..8].try_into().unwrap());
            let b = u64::from_le_bytes(v[8..].try_into().unwrap());
            assert_eq!((a, b), (22, !22), "a stale or torn record after the reset");
            second.join().unwrap();
        });
    }

    /// Drop-oldest publish/subscribe: the publisher steals unpinned heads to make room,
    /// the subscriber pins while it reads. Every message the subscriber gets is intact,
    /// in order, and it gets the last one.
    #[test]
    fn pin_and_steal() {
        let mut b = loom::model::Builder::new();
        b.preemption_bound = Some(2);
        b.check(|| {
            let cap = 64u64; // two 32-byte records
            let align = RECORD_ALIGN;
            let data = Arc::new(Words::new(cap));
            let sub_head = Arc::new(AtomicU64::new(0));
            let count = 4u64;
            let publisher = {
                let (data, sub_head) = (Arc::clone(&data), Arc::clone(&sub_head));
                loom::thread::spawn(move || {
                    let floor = AtomicU64::new(0);
                    let mut p = Producer::new(cap, align);
                    for seq in 0..count {
                        let slot = loop {
                            if let Some(s) = p.reserve(&*data, &floor, 16).unwrap() {
                                break s;
                            }
                            // Make room: steal the subscriber's head past the oldest
                            // record unless it is pinned.
                            let tail = p.tail();
                            let target = (tail + record_size(16, align)).saturating_sub(cap);
                            let h = load_head(&sub_head);
                            if h & PIN == 0 && h < target {
                                let scratch = AtomicU64::new(h);
                                let mut c = Consumer::at(h, cap, max_payload(cap), align);
                                while c.position() < target {
                                    let r =
                                        c.peek(&*data, &scratch).unwrap().expect("a record before the tail");
                                    c.release(&scratch, r);
                                }
                                steal(&sub_head, h, c.position());
                            }
                            floor.store(load_head(&sub_head) & !PIN, Ordering::Relaxed);
                            if p.reserve(&*data, &floor, 16).unwrap().is_none() {
                                loom::thread::yield_now();
                            }
                        };
                        data.write(slot.off, &seq.to_le_bytes());
                        data.write(slot.off + 8, &(!seq).to_le_bytes());
                        p.commit_uncounted(&*data, slot, 16);
                    }
                })
            };
            let scratch = AtomicU64::new(0);
            let mut pos = 0u64;
            let mut c = Consumer::new(cap, max_payload(cap), align);
            let mut last: Option<u64> = None;
            while last != Some(count - 1) {
                if let Err(h) = pin(&sub_head, pos) {
                    pos = h;
                    c = Consumer::at(h, cap, max_payload(cap), align);
                    continue;
                }
                match c.peek(&*data, &scratch).unwrap() {
                    Some(rec) => {
                        let mut v = [0u8; 16];
                        data.read(rec.off, &mut v);
                        let a = u64::from_le_bytes(v[..8].try_into().unwrap());
                        let b = u64::from_le_bytes(v[8..].try_into().unwrap());
                        assert_eq!(b, !a, "a record changed while pinned");
                        assert!(last.is_none_or(|l| a > l), "{a} after {last:?}");
                        last = Some(a);
                        c.release(&scratch, rec);
                        pos = c.position();
                        unpin(&sub_head, pos);
                    }
                    None => {
                        pos = c.position();
                        unpin(&sub_head, pos);
                        loom::thread::yield_now();
                    }
                }
            }
            publisher.join().unwrap();
        });
    }

    /// Admission: a subscriber that finds itself admitted at the publisher's tail reads
    /// the first record published after it, intact.
    #[test]
    fn admission() {
        loom::model(|| {
            let cap = 64u64;
            let data = Arc::new(Words::new(cap));
            let sub_head = Arc::new(AtomicU64::new(JOINING));
            let publisher = {
                let (data, sub_head) = (Arc::clone(&data), Arc::clone(&sub_head));
                loom::thread::spawn(move || {
                    let floor = AtomicU64::new(0);
                    let mut p = Producer::new(cap, RECORD_ALIGN);
                    publish(&mut p, &data, &floor, 1); // before the admission: not for it
                    floor.store(p.tail(), Ordering::Relaxed);
                    assert!(admit(&sub_head, p.tail()));
                    publish(&mut p, &data, &floor, 2);
                })
            };
            let h = loop {
                let h = load_head(&sub_head);
                if h != JOINING {
                    break h;
                }
                loom::thread::yield_now();
            };
            let scratch = AtomicU64::new(h);
            let mut c = Consumer::at(h, cap, max_payload(cap), RECORD_ALIGN);
            let rec = loop {
                if let Some(r) = c.peek(&*data, &scratch).unwrap() {
                    break r;
                }
                loom::thread::yield_now();
            };
            let mut v = [0u8; 16];
            data.read(rec.off, &mut v);
            assert_eq!(u64::from_le_bytes(v[..8].try_into().unwrap()), 2);
            assert_eq!(u64::from_le_bytes(v[8..].try_into().unwrap()), !2);
            publisher.join().unwrap();
        });
    }
}
