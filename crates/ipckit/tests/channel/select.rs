//! Wait sets across processes: several channels ready in random order, events next
//! to them, deadlines, and a killed sender that makes its receiver ready (with
//! `Disconnected`), never a hang.

use std::time::{Duration, Instant};

use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, Event, Receiver, WaitSet};
use ipckit::process::Signal;

/// A small xorshift generator: random enough for ordering and sizes.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn seed() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

#[test]
fn several_channels_ready_in_random_order_deliver_every_message_once() {
    const CHANNELS: usize = 4;
    const PER_CHANNEL: u64 = 500;
    let chans: Vec<Channel> = (0..CHANNELS)
        .map(|_| Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap())
        .collect();
    let s = seed();
    eprintln!("seed {s}");
    // One child sends on all channels, in random order, random sizes, with pauses
    // (some long enough for the parent to go to sleep).
    let child = fork(|| {
        let mut txs: Vec<_> = chans.iter().map(|c| c.sender().unwrap()).collect();
        let mut next = [0u64; CHANNELS];
        let mut rng = Rng::new(s);
        let mut left = CHANNELS as u64 * PER_CHANNEL;
        while left > 0 {
            let c = (rng.next() % CHANNELS as u64) as usize;
            if next[c] == PER_CHANNEL {
                continue;
            }
            let len = 8 + (rng.next() % 200) as usize;
            let mut msg = vec![c as u8; len];
            msg[..8].copy_from_slice(&next[c].to_le_bytes());
            txs[c].send(&msg).unwrap();
            next[c] += 1;
            left -= 1;
            match rng.next() % 64 {
                0 => std::thread::sleep(Duration::from_millis(2)),
                1..=4 => std::thread::yield_now(),
                _ => {}
            }
        }
        0
    });
    let mut rxs: Vec<Receiver> = chans.iter().map(|c| c.receiver().unwrap()).collect();
    let mut expect = [0u64; CHANNELS];
    let mut set = WaitSet::new();
    for rx in rxs.iter_mut() {
        set.add_receiver(rx).unwrap();
    }
    let mut buf = [0u8; 256];
    let mut total = 0;
    let mut wakes = 0;
    while total < CHANNELS as u64 * PER_CHANNEL {
        let ready = set.wait().unwrap();
        assert!(!ready.is_empty());
        wakes += 1;
        for i in ready.iter() {
            let rx = set.receiver(i).unwrap();
            // Ready means a receive does not wait: a message, or (once the child has
            // exited) Disconnected on a channel that has delivered all of its own.
            let n = match rx.try_recv(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Disconnected && expect[i] == PER_CHANNEL => continue,
                Err(e) => panic!("a ready receiver has a message or is finished: {e}"),
            };
            assert_eq!(&buf[..8], &expect[i].to_le_bytes(), "channel {i} in order");
            assert!(buf[8..n].iter().all(|&b| b == i as u8), "channel {i} payload");
            expect[i] += 1;
            total += 1;
        }
    }
    wait_ok(child);
    assert!(expect.iter().all(|&e| e == PER_CHANNEL));
    assert!(wakes <= total);
    // All sent and received: after the senders closed, every receiver is ready and
    // reports Disconnected.
    let ready = set.wait().unwrap();
    assert_eq!(ready.len(), CHANNELS);
    for i in 0..CHANNELS {
        let err = set.receiver(i).unwrap().try_recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected);
    }
}

#[test]
fn events_and_channels_wake_one_wait_set() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let ev = Event::create_memfd().unwrap();
    let go = Event::create_memfd().unwrap();
    let child = fork(|| {
        let mut tx = chan.sender().unwrap();
        // 1: the event alone; 2: the message alone; 3: both.
        go.wait().unwrap();
        ev.set();
        go.wait().unwrap();
        tx.send(b"m").unwrap();
        go.wait().unwrap();
        tx.send(b"n").unwrap();
        ev.set();
        go.wait().unwrap();
        0
    });
    let mut rx = chan.receiver().unwrap();
    let mut set = WaitSet::new();
    let ir = set.add_receiver(&mut rx).unwrap();
    let ie = set.add_event(&ev).unwrap();
    assert_eq!(set.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(set.wait_timeout(Duration::from_millis(20)).unwrap_err().kind(), ErrorKind::TimedOut);

    go.set();
    let r = set.wait().unwrap();
    assert!(r.contains(ie) && !r.contains(ir));
    // The set does not lower the event.
    assert!(r.contains(ie) && set.event(ie).unwrap().is_set());
    set.event(ie).unwrap().try_wait().unwrap();

    go.set();
    let r = set.wait().unwrap();
    assert!(r.contains(ir) && !r.contains(ie));
    let mut buf = [0u8; 4];
    assert_eq!(set.receiver(ir).unwrap().try_recv(&mut buf).unwrap(), 1);

    go.set();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r = set.wait_deadline(deadline).unwrap();
        if r.contains(ir) && r.contains(ie) {
            break;
        }
    }
    assert_eq!(set.receiver(ir).unwrap().try_recv(&mut buf).unwrap(), 1);
    assert_eq!(buf[0], b'n');
    go.set();
    wait_ok(child);
}

#[test]
fn a_killed_sender_makes_its_receiver_ready_with_disconnected() {
    let a = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let b = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let started = Event::create_memfd().unwrap();
    let child = fork(|| {
        let _ta = a.sender().unwrap();
        let _tb = b.sender().unwrap();
        started.set();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    started.wait().unwrap();
    let mut ra = a.receiver().unwrap();
    let mut rb = b.receiver().unwrap();
    let mut set = WaitSet::new();
    set.add_receiver(&mut ra).unwrap();
    set.add_receiver(&mut rb).unwrap();
    assert_eq!(set.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
    child.kill(Signal::Kill).unwrap();
    // No message, no clean close: only the liveness check can tell.
    let r = set.wait().unwrap();
    assert!(!r.is_empty());
    for i in r.iter() {
        let mut buf = [0u8; 8];
        let err = set.receiver(i).unwrap().recv(&mut buf).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    }
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
}

#[test]
fn an_empty_set_refuses_to_wait_forever() {
    let mut set = WaitSet::new();
    assert_eq!(set.wait().unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(set.wait_timeout(Duration::from_millis(1)).unwrap_err().kind(), ErrorKind::TimedOut);
}
