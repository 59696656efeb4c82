//! ipckit's shared-memory channel (`ipckit::channel`), spinning, through its blocking API
//! only: `send`/`recv` (copy) and `loan`/`commit`/`recv_in_place` (zero copy).
//!
//! A link is one memfd channel from parent to child and `subscribers` channels from child
//! to parent. With more than one, the child's `send` puts the message into each in turn:
//! what a publisher does with ipckit today, until its publish/subscribe lands (then it
//! gets a variant of its own here).

use ipckit::channel::{Channel, ChannelConfig, Receiver, Sender, WaitStrategy};

use crate::harness::{BenchError, End, Link, Mode, Spec, check, ends_of, stamp};

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
                Mode::Loan => {
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
                Mode::Loan => {
                    let guard = rx.recv_in_place().map_err(|e| e.to_string())?;
                    let n = guard.len();
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
