//! An ipckit [`Channel`] as a bridge endpoint.
//!
//! The exporter takes the channel's receiving end ([`ChannelEnd::receiver`]), the
//! importer its sending end ([`ChannelEnd::sender`]); the local program holds the
//! other end. A channel is one pair: each end is taken once, so a bridge that has
//! stopped (or was killed) cannot take its end again, and a channel whose other end
//! closed carries nothing more.
//!
//! **Exporter.** A receive removes the message from the ring, so the exporter takes
//! a batch, writes it to the spool beside its state file, then publishes (as for a
//! POSIX queue). When the sending program closes its end, the exporter publishes
//! what the ring still held and stops with [`ErrorKind::Disconnected`].
//!
//! **Importer.** A send into a full ring is back-pressure: the importer waits and
//! tries again; nothing is dropped. The largest message is the channel's
//! `max_message`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::LocalMessage;
use crate::channel::{Channel, Receiver, Sender};
use crate::error::{Error, ErrorKind, Object, Result};

#[derive(Debug)]
enum End {
    Rx(Receiver),
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
    /// The exporter's end: takes the channel's receiving end.
    pub fn receiver(channel: &Channel) -> Result<ChannelEnd> {
        let rx = channel.receiver()?;
        let object = rx.object();
        Ok(ChannelEnd {
            end: Mutex::new(End::Rx(rx)),
            object,
            max: channel.max_message(),
            closed: AtomicBool::new(false),
        })
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
