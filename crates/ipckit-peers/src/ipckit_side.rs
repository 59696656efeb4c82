//! ipckit's shared-memory channel (`ipckit::channel`), spinning, through its blocking API
//! only: `send`/`recv` (copy) and `loan`/`commit`/`recv_in_place` (zero copy).
//!
//! A link ([`make`]) is one memfd channel from parent to child and `subscribers` channels
//! from child to parent. With more than one, the child's `send` puts the message into
//! each in turn: publish/subscribe built by hand from one channel per subscriber.
//!
//! [`make_pubsub`] is ipckit's own publish/subscribe (`ipckit::channel::pubsub`): from
//! child to parent one ring that every subscriber reads in place, the message written
//! once whatever the number of subscribers.
//!
//! Pitfall of ipckit's publish/subscribe: a subscriber that joins is admitted by the
//! publisher on its next send (or `refresh`), and gets messages from there on. So both
//! ends wait in [`End::ready`] until the publisher has admitted every subscriber; then
//! the first message each subscriber gets is number 0, and each message's own sequence
//! number (kept by the channel) is checked as well as the stamps in its payload.

use ipckit::channel::pubsub::{PubSub, Publisher, Subscriber};
use ipckit::channel::{Channel, ChannelConfig, PatternConfig, Receiver, Sender, WaitStrategy};

use crate::harness::{BenchError, End, Link, Mode, Poll, Spec, check, ends_of, stamp, sum_words};

/// The ipckit variant: copies or loans as the spec says.
pub fn make(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    let config = ChannelConfig::new()
        .with_capacity((spec.slots * spec.size).max(64 * 1024))
        .with_max_message(spec.size);
    let chan = |what: &str| Channel::create_memfd(&config).map_err(|e| format!("create_memfd ({what}): {e}"));
    let down = chan("parent to child")?;
    let up = (0..spec.subscribers).map(|_| chan("child to parent")).collect::<Result<Vec<_>, _>>()?;
    Ok(Box::new(IpckitLink { spec: *spec, down, up }))
}

struct IpckitLink {
    spec: Spec,
    down: Channel,
    up: Vec<Channel>,
}

impl Link for IpckitLink {
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError> {
        let err = |e: ipckit::Error| e.to_string();
        let (mut tx, mut rx) = if parent {
            (
                vec![self.down.sender().map_err(err)?],
                self.up.iter().map(|c| c.receiver().map_err(err)).collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            (
                self.up.iter().map(|c| c.sender().map_err(err)).collect::<Result<Vec<_>, _>>()?,
                vec![self.down.receiver().map_err(err)?],
            )
        };
        for t in &mut tx {
            t.set_wait_strategy(WaitStrategy::Spin);
        }
        for r in &mut rx {
            r.set_wait_strategy(WaitStrategy::Spin);
        }
        Ok(Box::new(IpckitEnd { spec: self.spec, tx, rx, buf: vec![0xA5; self.spec.size] }))
    }
}

struct IpckitEnd {
    spec: Spec,
    tx: Vec<Sender>,
    rx: Vec<Receiver>,
    buf: Vec<u8>,
}

impl End for IpckitEnd {
    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        for tx in &mut self.tx {
            match self.spec.mode {
                Mode::Copy => {
                    stamp(&mut self.buf, seq);
                    tx.send(&self.buf).map_err(|e| e.to_string())?;
                }
                Mode::Loan | Mode::LoanRead => {
                    // The producer writes its whole message into the loaned room.
                    stamp(&mut self.buf, seq);
                    let mut loan = tx.loan(size).map_err(|e| e.to_string())?;
                    loan.write_at(0, &self.buf).map_err(|e| e.to_string())?;
                    loan.commit();
                }
            }
        }
        Ok(())
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        for rx in &mut self.rx {
            match self.spec.mode {
                Mode::Copy => {
                    let n = rx.recv(&mut self.buf).map_err(|e| e.to_string())?;
                    let (h, t) = ends_of(&self.buf[..n.min(size)]);
                    check("ipckit", n, size, h, t, seq)?;
                }
                Mode::Loan | Mode::LoanRead => {
                    let guard = rx.recv_in_place().map_err(|e| e.to_string())?;
                    let n = guard.len();
                    if self.spec.mode == Mode::LoanRead {
                        // SAFETY: the guard's pointer is valid for `n` bytes while it lives.
                        unsafe { sum_words(guard.as_ptr(), n) };
                    }
                    let (mut h, mut t) = ([0u8; 8], [0u8; 8]);
                    if n == size {
                        guard.read_at(0, &mut h).map_err(|e| e.to_string())?;
                        if size >= 16 {
                            guard.read_at(size - 8, &mut t).map_err(|e| e.to_string())?;
                        }
                    }
                    guard.release();
                    check("ipckit", n, size, h, t, seq)?;
                }
            }
        }
        Ok(())
    }
}

/// ipckit's publish/subscribe from child to parent (the parent holds every subscriber),
/// a plain channel from parent to child.
pub fn make_pubsub(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    let config = PatternConfig::new()
        .with_capacity((spec.slots * spec.size).max(64 * 1024))
        .with_max_message(spec.size)
        .with_max_members(spec.subscribers.max(1));
    let up = PubSub::create_memfd(&config).map_err(|e| format!("PubSub::create_memfd: {e}"))?;
    let down = Channel::create_memfd(
        &ChannelConfig::new()
            .with_capacity((spec.slots * spec.size).max(64 * 1024))
            .with_max_message(spec.size),
    )
    .map_err(|e| format!("create_memfd (parent to child): {e}"))?;
    Ok(Box::new(PubSubLink { spec: *spec, up, down }))
}

struct PubSubLink {
    spec: Spec,
    up: PubSub,
    down: Channel,
}

impl Link for PubSubLink {
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError> {
        let err = |e: ipckit::Error| e.to_string();
        let spec = self.spec;
        let buf = vec![0xA5; spec.size];
        if parent {
            let mut tx = self.down.sender().map_err(err)?;
            tx.set_wait_strategy(WaitStrategy::Spin);
            let subs = (0..spec.subscribers)
                .map(|_| {
                    let mut s = self.up.subscriber().map_err(err)?;
                    s.set_wait_strategy(WaitStrategy::Spin);
                    Ok(s)
                })
                .collect::<Result<Vec<_>, BenchError>>()?;
            Ok(Box::new(PubSubParent { spec, tx, subs, buf }))
        } else {
            let mut publisher = self.up.publisher().map_err(err)?;
            publisher.set_wait_strategy(WaitStrategy::Spin);
            let mut rx = self.down.receiver().map_err(err)?;
            rx.set_wait_strategy(WaitStrategy::Spin);
            Ok(Box::new(PubSubChild { spec, publisher, rx, buf }))
        }
    }
}

/// The parent: every subscriber, and the sender of the way back.
struct PubSubParent {
    spec: Spec,
    tx: Sender,
    subs: Vec<Subscriber>,
    buf: Vec<u8>,
}

/// The child: the publisher, and the receiver of the parent's messages.
struct PubSubChild {
    spec: Spec,
    publisher: Publisher,
    rx: Receiver,
    buf: Vec<u8>,
}

impl End for PubSubParent {
    fn ready(&mut self) -> Result<(), BenchError> {
        // The publisher admits joiners on its side of `ready`.
        for s in &self.subs {
            let mut poll = Poll::new();
            while !s.is_admitted() {
                poll.tick("ipckit pubsub: waiting to be admitted")?;
            }
        }
        Ok(())
    }

    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        stamp(&mut self.buf, seq);
        self.tx.send(&self.buf).map_err(|e| e.to_string())
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        for sub in &mut self.subs {
            let (n, got, h, t) = match self.spec.mode {
                Mode::Copy => {
                    let r = sub.recv(&mut self.buf).map_err(|e| e.to_string())?;
                    let (h, t) = ends_of(&self.buf[..r.len.min(size)]);
                    (r.len, r.seq, h, t)
                }
                Mode::Loan | Mode::LoanRead => {
                    let m = sub.recv_in_place().map_err(|e| e.to_string())?;
                    let n = m.len();
                    let (mut h, mut t) = ([0u8; 8], [0u8; 8]);
                    if n == size {
                        m.read_at(0, &mut h).map_err(|e| e.to_string())?;
                        if size >= 16 {
                            m.read_at(size - 8, &mut t).map_err(|e| e.to_string())?;
                        }
                    }
                    (n, m.seq(), h, t)
                }
            };
            if got != seq {
                return Err(format!(
                    "ipckit pubsub: subscriber {} got message {got}, expected {seq}",
                    sub.slot()
                ));
            }
            check("ipckit pubsub", n, size, h, t, seq)?;
        }
        Ok(())
    }
}

impl End for PubSubChild {
    fn ready(&mut self) -> Result<(), BenchError> {
        let mut poll = Poll::new();
        loop {
            self.publisher.refresh();
            if self.publisher.subscribers() >= self.spec.subscribers {
                return Ok(());
            }
            poll.tick("ipckit pubsub: waiting for the subscribers")?;
        }
    }

    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        stamp(&mut self.buf, seq);
        match self.spec.mode {
            Mode::Copy => self.publisher.send(&self.buf).map_err(|e| e.to_string()),
            Mode::Loan | Mode::LoanRead => {
                let mut loan = self.publisher.loan(size).map_err(|e| e.to_string())?;
                loan.write_at(0, &self.buf).map_err(|e| e.to_string())?;
                loan.commit();
                Ok(())
            }
        }
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let size = self.spec.size;
        let n = self.rx.recv(&mut self.buf).map_err(|e| e.to_string())?;
        let (h, t) = ends_of(&self.buf[..n.min(size)]);
        check("ipckit", n, size, h, t, seq)
    }
}
