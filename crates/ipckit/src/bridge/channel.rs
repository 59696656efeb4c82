//! An ipckit [`Channel`] as a bridge endpoint.
//!
//! The exporter takes the channel's receiving end ([`ChannelEnd::receiver`]), the
//! importer its sending end ([`ChannelEnd::sender`]); the local program holds the
//! other end. A channel is one pair: each end is taken once (an end left open by a
//! process that is gone can be taken over), and a channel whose other end closed
//! carries nothing more.
//!
//! **Exporter.** It reads messages where they lie in the ring without receiving
//! them, publishes them, and receives (frees) each only after the server's
//! acknowledgement, recording the removals as for a System V queue, each record with
//! the message's ring position: the end taken over after a kill is past that
//! position if and only if the message was freed
//! ([`Receiver::position`](crate::channel::Receiver::position)), also when the next
//! message is byte-identical. It never closes the receiving end, stopped or killed:
//! the next exporter takes it over once the process is gone
//! ([`Channel::take_over_receiver`]), and receives from the first message not freed.
//! While no exporter runs, a sender waiting for room sees the receiver gone
//! ([`ErrorKind::Disconnected`]); a sender with room goes on. When the sending
//! program closes its end, the exporter publishes what the ring held and stops with
//! [`ErrorKind::Disconnected`]; a sending program that died without closing may be
//! followed by one that takes its end over ([`Channel::take_over_sender`]), so the
//! exporter waits.
//!
//! **Importer.** A send into a full ring is back-pressure: the importer waits and
//! tries again; nothing is dropped. The largest message is the channel's
//! `max_message`. Like the exporter, it never closes its end, stopped or killed: the
//! next importer takes the sending end over ([`Channel::take_over_sender`]) and goes
//! on after the last message published. While no importer runs, the receiving
//! program gets what the ring holds, then a receive that waits sees the sender gone
//! ([`ErrorKind::Disconnected`]; it may try again).
//!
//! Exactly once: the importer reserves room in the ring, records the room's position
//! in its state file ([`ChannelEnd::try_put_marked`]), then writes and publishes the
//! message. Killed anywhere in between, the restarted importer takes the end over and
//! compares: the message went out if and only if the taken-over sender's position
//! is past the recorded one ([`Sender::position`]); a message that was not published
//! was not seen by the receiving program either, and is put in again. So a message is
//! put in once, whether the kill comes before the record, between the record and
//! the publication, or between the publication and the "done" record.

use std::mem::ManuallyDrop;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::LocalMessage;
use crate::channel::{Channel, Receiver, Sender};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::wait::Wait;

#[derive(Debug)]
enum End {
    /// Never dropped: the end stays open for the next exporter to take over.
    Rx(ManuallyDrop<Receiver>),
    /// Never dropped: the end stays open for the next importer to take over.
    Tx(ManuallyDrop<Sender>),
}

/// One end of a channel, held by a bridge: the receiving end for an exporter, the
/// sending end for an importer. Neither is ever closed: a bridge that stopped or was
/// killed leaves its end to the next one, which takes it over once the process is
/// gone. See the [bridge module docs](super) for the delivery guarantees.
#[derive(Debug)]
pub struct ChannelEnd {
    end: Mutex<End>,
    object: Object,
    max: usize,
    closed: AtomicBool,
}

impl ChannelEnd {
    /// The exporter's end: takes the channel's receiving end, or takes it over from
    /// an exporter that is gone ([`Channel::take_over_receiver`]). The end is never
    /// closed, so that the next exporter can take it over.
    pub fn receiver(channel: &Channel) -> Result<ChannelEnd> {
        let rx = channel.take_over_receiver()?;
        let object = rx.object();
        Ok(ChannelEnd {
            end: Mutex::new(End::Rx(ManuallyDrop::new(rx))),
            object,
            max: channel.max_message(),
            closed: AtomicBool::new(false),
        })
    }

    pub(crate) fn is_receiver(&self) -> bool {
        matches!(&*self.end(), End::Rx(_))
    }

    /// A copy of the message `index` places behind the next one, receiving nothing.
    pub(crate) fn peek(&self, index: usize) -> Result<Option<LocalMessage>> {
        let mut end = self.end();
        let End::Rx(rx) = &mut *end else { return Err(self.wrong_end("receive")) };
        if let Some(body) = rx.peek_nth(index)? {
            return Ok(Some(LocalMessage { tag: 0, body }));
        }
        // Only a closed sender is final: one whose process died may be taken over
        // (an importer restarted, say), so the exporter waits for its successor.
        if index == 0 && rx.is_sender_closed() {
            // The sender is gone: one more look sees everything it published.
            match rx.peek_nth(0)? {
                Some(body) => return Ok(Some(LocalMessage { tag: 0, body })),
                None => self.closed.store(true, Ordering::Relaxed),
            }
        }
        Ok(None)
    }

    /// The receiving end's ring position: that of the next message to free (see
    /// [`Receiver::position`](crate::channel::Receiver::position)).
    pub(crate) fn rx_position(&self) -> Result<u64> {
        let end = self.end();
        let End::Rx(rx) = &*end else { return Err(self.wrong_end("receive")) };
        Ok(rx.position())
    }

    /// Receives (frees) the next message, which [`peek`](Self::peek) showed.
    pub(crate) fn remove_next(&self) -> Result<Option<LocalMessage>> {
        let mut end = self.end();
        let End::Rx(rx) = &mut *end else { return Err(self.wrong_end("receive")) };
        match rx.recv_vec_with(Wait::NoWait) {
            Ok(body) => Ok(Some(LocalMessage { tag: 0, body })),
            Err(e) if e.is_not_now() || e.kind() == ErrorKind::Disconnected => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The importer's end: takes the channel's sending end, or takes it over from an
    /// importer that is gone ([`Channel::take_over_sender`]). The end is never
    /// closed, so that the next importer can take it over.
    pub fn sender(channel: &Channel) -> Result<ChannelEnd> {
        let tx = channel.take_over_sender()?;
        let object = tx.object();
        Ok(ChannelEnd {
            end: Mutex::new(End::Tx(ManuallyDrop::new(tx))),
            object,
            max: channel.max_message(),
            closed: AtomicBool::new(false),
        })
    }

    /// Whether a message whose room was reserved at the position `mark` records
    /// (`mark - 1`; 0: no room was reserved) was published: the sender's position
    /// is past it. Right after the take-over, that is whether the importer that
    /// was killed published it.
    pub(crate) fn was_put(&self, mark: u64) -> Result<bool> {
        let end = self.end();
        let End::Tx(tx) = &*end else { return Err(self.wrong_end("send")) };
        Ok(mark != 0 && tx.position() > mark - 1)
    }

    /// Sends the message if the ring has room now (`false` when it is full), and
    /// calls `record` with the room's position plus one after reserving it and
    /// before publishing: a failed `record` sends nothing.
    pub(crate) fn try_put_marked(
        &self,
        msg: &LocalMessage,
        record: &mut dyn FnMut(u64) -> Result<()>,
    ) -> Result<bool> {
        let mut end = self.end();
        let End::Tx(tx) = &mut *end else { return Err(self.wrong_end("send")) };
        let mut loan = match tx.try_loan(msg.body.len()) {
            Ok(loan) => loan,
            Err(e) if e.is_not_now() => return Ok(false),
            Err(e) => return Err(e),
        };
        record(loan.position() + 1)?;
        loan.write_at(0, &msg.body)?;
        loan.commit();
        Ok(true)
    }

    pub(crate) fn object(&self) -> Object {
        self.object.clone()
    }

    /// The largest message, and the limit that sets it.
    pub(crate) fn max_body(&self) -> (usize, String) {
        (self.max, format!("{} bytes (the channel's max_message)", self.max))
    }

    /// Whether the sending program closed its end and every message it sent was
    /// taken.
    pub(crate) fn finished(&self) -> bool {
        self.closed.load(Ordering::Relaxed)
    }

    fn end(&self) -> std::sync::MutexGuard<'_, End> {
        self.end.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the next message out, if there is one now.
    pub(crate) fn take(&self, buf: &mut Vec<u8>) -> Result<Option<LocalMessage>> {
        let mut end = self.end();
        let End::Rx(rx) = &mut *end else { return Err(self.wrong_end("receive")) };
        if buf.len() < self.max {
            buf.resize(self.max, 0);
        }
        match rx.try_recv(buf) {
            Ok(n) => Ok(Some(LocalMessage { tag: 0, body: buf[..n].to_vec() })),
            Err(e) if e.is_not_now() => Ok(None),
            Err(e) if e.kind() == ErrorKind::Disconnected => {
                self.closed.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Sends the message if the ring has room now; `false` when it is full.
    pub(crate) fn try_put(&self, msg: &LocalMessage) -> Result<bool> {
        let mut end = self.end();
        let End::Tx(tx) = &mut *end else { return Err(self.wrong_end("send")) };
        match tx.try_send(&msg.body) {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_now() => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn wrong_end(&self, what: &str) -> Error {
        Error::new("bridge", self.object(), ErrorKind::Unsupported).with_detail(format!(
            "this channel end cannot {what} (ChannelEnd::receiver / ChannelEnd::sender)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::time::Duration;

    use super::*;
    use crate::channel::ChannelConfig;
    use crate::process::Signal;

    fn msg(body: &[u8]) -> LocalMessage {
        LocalMessage { tag: 0, body: body.to_vec() }
    }

    /// An importer killed after recording the mark of its second message, before
    /// (`publish` false) or after (`publish` true) publishing it: the next importer
    /// takes the end over and tells which from the mark, and the receiver has the
    /// message exactly when it says so.
    fn killed_around_a_put(publish: bool) {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
        let mut rx = chan.receiver().unwrap();
        let (mut mark_r, mark_w) = crate::pipe::pipe().unwrap();
        // SAFETY: the child uses only memory allocated before the fork, makes system
        // calls through ipckit, and is killed (or ends) without returning to the
        // test harness.
        #[allow(unsafe_code)]
        let child = unsafe {
            crate::process::fork_with(|| {
                let end = ChannelEnd::sender(&chan).unwrap();
                assert!(end.try_put_marked(&msg(b"first"), &mut |_| Ok(())).unwrap());
                let mut record = |mark: u64| {
                    if !publish {
                        (&mark_w).write_all(&mark.to_le_bytes()).unwrap();
                        // Killed here: room reserved, the message written nowhere.
                        loop {
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                    (&mark_w).write_all(&mark.to_le_bytes()).unwrap();
                    Ok(())
                };
                assert!(end.try_put_marked(&msg(b"second"), &mut record).unwrap());
                // Killed here: published, the "done" record not written.
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        }
        .unwrap();
        drop(mark_w);
        let mut mark = [0u8; 8];
        mark_r.read_exact(&mut mark).unwrap();
        let mark = u64::from_le_bytes(mark);
        let mut got = Vec::new();
        if publish {
            // The mark is written before the publication: wait for the message.
            for _ in 0..2 {
                got.push(rx.recv_vec_with(Wait::Timeout(Duration::from_secs(30))).unwrap());
            }
        }
        child.kill(Signal::Kill).unwrap();
        let _ = child.wait().unwrap();
        let end = ChannelEnd::sender(&chan).unwrap();
        assert_eq!(end.was_put(mark).unwrap(), publish, "mark {mark}");
        assert!(!end.was_put(0).unwrap(), "no mark: nothing reserved");
        assert!(end.try_put_marked(&msg(b"third"), &mut |_| Ok(())).unwrap());
        while let Ok(m) = rx.recv_vec_with(Wait::NoWait) {
            got.push(m);
        }
        let want: Vec<&[u8]> =
            if publish { vec![b"first", b"second", b"third"] } else { vec![b"first", b"third"] };
        assert_eq!(got, want);
    }

    #[test]
    fn a_put_killed_before_its_publication_is_seen_as_not_done() {
        killed_around_a_put(false);
    }

    #[test]
    fn a_put_killed_after_its_publication_is_seen_as_done() {
        killed_around_a_put(true);
    }
}
