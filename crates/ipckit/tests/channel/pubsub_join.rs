//! Publish/subscribe: subscribers SIGKILLed in the middle of joining. A join claims a
//! slot (owner word), records the process, then tells the publisher (`changes`); a
//! subscriber killed anywhere in between must neither keep its slot for good nor hold
//! the publisher back. Real processes, real kills; the slot table is read by offset
//! (slots at 512, 384 bytes each: owner u32 at +0, role state u32 at +8, head at +128).
use crate::util;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ipckit::ErrorKind;
use ipckit::channel::PatternConfig;
use ipckit::channel::pubsub::{PubSub, Publisher, Subscriber};
use ipckit::posix::shm::{Mapping, ShmObject};
use ipckit::process::Signal;

const SLOTS_AT: usize = 512;
const SLOT_SIZE: usize = 384;
/// How long a test waits for something that must happen before it calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// Message `seq`: its number, then bytes derived from it; lengths vary 8..=300.
fn message(seq: u64) -> Vec<u8> {
    let len = 8 + ((seq.wrapping_mul(2_654_435_761) >> 11) % 293) as usize;
    let mut m = seq.to_le_bytes().to_vec();
    m.extend((8..len).map(|i| (i as u64 ^ seq.wrapping_mul(13)) as u8));
    m
}

/// A small xorshift generator.
struct Rng(u64);
impl Rng {
    fn new() -> Rng {
        let t = Instant::now().elapsed().as_nanos() as u64;
        Rng((u64::from(std::process::id()) << 32) ^ t ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A named channel (so that the test can map it and read its slot table), removed on drop.
struct Named {
    name: String,
    ps: PubSub,
    map: Mapping,
}

impl Named {
    fn new(tag: &str, members: usize) -> Named {
        let name = format!("/ipckit-test-pubsub-join-{tag}-{}", std::process::id());
        let _ = ShmObject::unlink(&name);
        let config = PatternConfig::new().with_capacity(8192).with_max_members(members);
        let ps = PubSub::create_named(&name, &config, ipckit::Mode::OWNER_RW).unwrap();
        let map = ShmObject::open(&name).unwrap().map().unwrap();
        Named { name, ps, map }
    }

    fn owner(&self, slot: usize) -> u32 {
        self.map.load_u32(SLOTS_AT + slot * SLOT_SIZE, Ordering::Acquire).unwrap()
    }

    /// The slot table, for failure messages: owner, role state and pid, head.
    fn slots(&self) -> String {
        (0..self.ps.max_subscribers())
            .map(|i| {
                let at = SLOTS_AT + i * SLOT_SIZE;
                let w32 = |o| self.map.load_u32(at + o, Ordering::Acquire).unwrap();
                let head = self.map.load_u64(at + 128, Ordering::Acquire).unwrap();
                format!("slot {i}: owner {} state {} pid {} head {head:#x}", w32(0), w32(8), w32(12))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        let _ = ShmObject::unlink(&self.name);
    }
}

/// The publisher sends message `seq`; `live` must get it next. The send may wait for a
/// dead subscriber to be dropped, never for good.
fn send_and_drain(n: &Named, p: &mut Publisher, live: &mut Subscriber, seq: u64, buf: &mut [u8]) {
    let m = message(seq);
    if let Err(e) = p.send_timeout(&m, HANG) {
        panic!("the publisher stayed blocked: a dead subscriber held it back ({e}); {}", n.slots());
    }
    let r = live.recv_timeout(buf, HANG).expect("the live subscriber lost a message");
    assert_eq!((r.seq, r.missed), (seq, 0), "gap or repeat");
    assert_eq!(&buf[..r.len], &m[..], "message {seq} damaged");
}

/// Takes `n` subscribers, publishing (and draining `live`) between tries until the
/// publisher has freed the slots of the dead: the slot count must recover.
fn take_all(
    named: &Named,
    n: usize,
    p: &mut Publisher,
    live: &mut Subscriber,
    seq: &mut u64,
) -> Vec<Subscriber> {
    let ps = &named.ps;
    let mut buf = vec![0u8; 512];
    let start = Instant::now();
    loop {
        let mut got = Vec::new();
        let full = loop {
            match ps.subscriber() {
                Ok(s) => {
                    got.push(s);
                    if got.len() == n {
                        break false;
                    }
                }
                Err(e) if e.kind() == ErrorKind::LimitExceeded => break true,
                Err(e) => panic!("subscribe: {e}"),
            }
        };
        if !full {
            return got;
        }
        drop(got);
        assert!(
            start.elapsed() < HANG,
            "the slots of subscribers killed while joining never came back: {}",
            named.slots()
        );
        for _ in 0..8 {
            send_and_drain(named, p, live, *seq, &mut buf);
            *seq += 1;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The narrowest window: killed right after the claim of its slot, before anything
/// else of the join (so the publisher is told nothing). The publisher keeps sending
/// without ever waiting for room, and still gives the slot back.
#[test]
fn a_subscriber_killed_right_after_claiming_its_slot_gives_it_back() {
    let n = Named::new("claim", 2);
    let mut p = n.ps.publisher().unwrap();
    let mut live = n.ps.subscriber().unwrap();
    assert_eq!(live.slot(), 0);
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let victim = util::fork(|| {
        use std::io::Write;
        // What `slot::claim` does, and nothing after it.
        let owner = n.map.atomic_u32(SLOTS_AT + SLOT_SIZE).unwrap();
        if owner.compare_exchange(0, std::process::id(), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return 1;
        }
        b.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    {
        use std::io::Read;
        let mut x = [0u8; 1];
        a.read_exact(&mut x).unwrap();
    }
    let pid = victim.pid();
    victim.kill(Signal::Kill).unwrap();
    let status = victim.wait().unwrap();
    assert!(!status.success(), "{status:?}");
    assert_eq!(n.owner(1), pid, "the victim's claim");
    let e = n.ps.subscriber().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    let mut seq = 0;
    let again = take_all(&n, 1, &mut p, &mut live, &mut seq);
    assert_eq!(again[0].slot(), 1);
    assert_ne!(n.owner(1), pid);
}

/// Killed while recording who it is: slot claimed, head `JOINING`, state connected,
/// pid not yet written (what `table::enter_slot` stores, in its order). Another
/// subscriber's join makes the publisher admit the dead one; it must then drop it when
/// the ring fills instead of waiting for it for good.
#[test]
fn a_subscriber_killed_while_recording_itself_never_blocks_the_publisher() {
    let n = Named::new("record", 3);
    let mut p = n.ps.publisher().unwrap();
    let mut live = n.ps.subscriber().unwrap();
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let victim = util::fork(|| {
        use std::io::Write;
        let at = SLOTS_AT + SLOT_SIZE;
        let owner = n.map.atomic_u32(at).unwrap();
        if owner.compare_exchange(0, std::process::id(), Ordering::AcqRel, Ordering::Relaxed).is_err() {
            return 1;
        }
        n.map.atomic_u64(at + 128).unwrap().store(2, Ordering::Relaxed); // JOINING
        n.map.atomic_u32(at + 8).unwrap().store(1, Ordering::Relaxed); // connected, no pid yet
        b.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    {
        use std::io::Read;
        let mut x = [0u8; 1];
        a.read_exact(&mut x).unwrap();
    }
    victim.kill(Signal::Kill).unwrap();
    let _ = victim.wait().unwrap();
    let mut other = n.ps.subscriber().unwrap();
    assert_eq!(other.slot(), 2);
    let mut buf = vec![0u8; 512];
    // Many times what the ring holds.
    for seq in 0..5_000 {
        send_and_drain(&n, &mut p, &mut live, seq, &mut buf);
        let r = other.recv_timeout(&mut buf, HANG).expect("the other subscriber lost a message");
        assert_eq!(r.seq, seq);
    }
    assert_eq!(p.subscribers(), 2, "{}", n.slots());
    let mut seq = 5_000;
    drop(other);
    let again = take_all(&n, 2, &mut p, &mut live, &mut seq);
    assert_eq!(again.len(), 2);
}

/// Children join and leave in a loop and are killed at random points, many times;
/// whatever point of the join a kill hits, the publisher carries on (one live
/// subscriber gets every message, in order) and every slot comes back.
#[test]
fn subscribers_killed_at_random_points_of_their_join() {
    const MEMBERS: usize = 4;
    const ROUNDS: usize = 150;
    let n = Named::new("random", MEMBERS);
    let mut p = n.ps.publisher().unwrap();
    let mut live = n.ps.subscriber().unwrap();
    let mut rng = Rng::new();
    let mut buf = vec![0u8; 512];
    let mut seq = 0u64;
    let mut stranded = 0; // kills that left a claimed slot the publisher was not told of
    for _ in 0..ROUNDS {
        let ps = &n.ps;
        let victim = util::fork(|| {
            let mut rng = Rng::new();
            let mut buf = vec![0u8; 512];
            loop {
                match ps.subscriber() {
                    Ok(mut s) => {
                        for _ in 0..rng.below(4) {
                            match s.try_recv(&mut buf) {
                                Ok(r) => assert_eq!(&buf[..r.len], &message(r.seq)[..]),
                                Err(e) if e.is_not_now() => {}
                                Err(e) => panic!("{e}"),
                            }
                        }
                        if rng.below(4) == 0 {
                            // Leave without a word, as a crash would (the slot stays held).
                            std::mem::forget(s);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::LimitExceeded => std::hint::spin_loop(),
                    Err(e) if e.kind() == ErrorKind::Disconnected => return 0,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        // While the victim lives it may hold the publisher back (a subscriber that
        // does not read): send only when there is room.
        let until = Instant::now() + Duration::from_micros(rng.below(3000));
        while Instant::now() < until {
            let m = message(seq);
            match p.try_send(&m) {
                Ok(()) => {
                    let r = live.recv_timeout(&mut buf, HANG).expect("the live subscriber lost a message");
                    assert_eq!((r.seq, r.missed), (seq, 0), "gap or repeat");
                    assert_eq!(&buf[..r.len], &m[..], "message {seq} damaged");
                    seq += 1;
                }
                Err(e) if e.is_not_now() => std::hint::spin_loop(),
                Err(e) => panic!("{e}"),
            }
        }
        let pid = victim.pid();
        victim.kill(Signal::Kill).unwrap();
        let status = victim.wait().unwrap();
        assert!(!status.success(), "the victim exited by itself: {status:?}");
        for slot in 1..MEMBERS {
            let state = n.map.load_u32(SLOTS_AT + slot * SLOT_SIZE + 8, Ordering::Acquire).unwrap();
            let head = n.map.load_u64(SLOTS_AT + slot * SLOT_SIZE + 128, Ordering::Acquire).unwrap();
            if n.owner(slot) == pid && (state == 0 || head == 2) {
                stranded += 1;
            }
        }
        // Some more messages with the victim dead: never blocked by it.
        for _ in 0..rng.below(2000) {
            send_and_drain(&n, &mut p, &mut live, seq, &mut buf);
            seq += 1;
        }
    }
    eprintln!("{ROUNDS} kills, {stranded} left a slot claimed in the middle of its join; {seq} messages");
    let again = take_all(&n, MEMBERS - 1, &mut p, &mut live, &mut seq);
    assert_eq!(again.len(), MEMBERS - 1);
    for s in &again {
        assert_ne!(s.slot(), live.slot());
    }
}
