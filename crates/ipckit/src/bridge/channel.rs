//! An ipckit [`Channel`] as a bridge endpoint.
//!
//! The exporter takes the channel's receiving end ([`ChannelEnd::receiver`]), the
//! importer its sending end ([`ChannelEnd::sender`]); the local program holds the
//! other end. A channel is one pair: each end is taken once (a receiving end left
//! open by a process that is gone can be taken over), and a channel whose other end
//! closed carries nothing more.
//!
//! **Exporter.** It reads messages where they lie in the ring without receiving
//! them, publishes them, and receives (frees) each only after the server's
//! acknowledgement, recording the removals as for a System V queue (with the same one
//! ambiguity: a message freed just before a kill, followed by a byte-identical one,
//! takes that one for itself). It never closes the receiving end, stopped or killed:
//! the next exporter takes it over once the process is gone
//! ([`Channel::take_over_receiver`]), and receives from the first message not freed.
//! While no exporter runs, a sender waiting for room sees the receiver gone
//! ([`ErrorKind::Disconnected`]); a sender with room goes on. When the sending
//! program closes its end, the exporter publishes what the ring held and stops with
//! [`ErrorKind::Disconnected`].
//!
//! **Importer.** A send into a full ring is back-pressure: the importer waits and
//! tries again; nothing is dropped. The largest message is the channel's
//! `max_message`. A sending end cannot be taken over: once the importer stops (or
//! is killed), no importer can be started again on that channel.

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
    Tx(Sender),
}

/// One end of a channel, held by a bridge: the receiving end for an exporter, the
/// sending end for an importer. Each end of a channel is taken once, so a bridge
/// that stopped cannot take its end again. See the [bridge module docs](super) for
/// the delivery guarantees.
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
        if index == 0 && rx.is_disconnected() {
            // The sender is gone: one more look sees everything it published.
            match rx.peek_nth(0)? {
                Some(body) => return Ok(Some(LocalMessage { tag: 0, body })),
                None => self.closed.store(true, Ordering::Relaxed),
            }
        }
        Ok(None)
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

    /// The importer's end: takes the channel's sending end.
    pub fn sender(channel: &Channel) -> Result<ChannelEnd> {
        let tx = channel.sender()?;
        let object = tx.object();
        Ok(ChannelEnd {
            end: Mutex::new(End::Tx(tx)),
            object,
            max: channel.max_message(),
            closed: AtomicBool::new(false),
        })
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
