//! The two socket-based peers, busy-polling with non-blocking receives:
//!
//! - **ipc-channel** (Servo's): `ipc::bytes_channel()`, one per direction, made before
//!   `fork` and inherited. Each receive returns a fresh `Vec<u8>` (an allocation and a
//!   copy per message); there is no loan. Its `IpcSharedMemory` makes a new mapping per
//!   message, so it is not a zero-copy channel and is left out of the loan rows.
//! - **interprocess**: a local socket (a Unix stream socket in Linux's abstract
//!   namespace, so nothing in the file system) from `ListenerOptions::create_sync`,
//!   made before `fork`; the child connects, the parent accepts. A stream has no message
//!   boundaries: both ends read and write whole fixed-size messages. It too copies.
//!
//! Neither has more than one receiver per message, so neither takes part in
//! publish/subscribe.

use std::io::{ErrorKind, Read, Write};

use interprocess::local_socket::prelude::*;
use interprocess::local_socket::{GenericNamespaced, Listener, ListenerOptions, Stream};
use ipc_channel::TryRecvError;
use ipc_channel::ipc::{IpcBytesReceiver, IpcBytesSender, bytes_channel};

use crate::harness::{BenchError, End, Link, Mode, Poll, Spec, check, ends_of, stamp, unique};

fn copy_only(spec: &Spec, who: &str) -> Result<(), BenchError> {
    if spec.mode != Mode::Copy || spec.subscribers != 1 {
        return Err(format!("{who} has no loans and no publish/subscribe"));
    }
    Ok(())
}

/// ipc-channel: two byte channels.
pub fn make_ipc_channel(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    copy_only(spec, "ipc-channel")?;
    let down = bytes_channel().map_err(|e| format!("ipc-channel bytes_channel: {e}"))?;
    let up = bytes_channel().map_err(|e| format!("ipc-channel bytes_channel: {e}"))?;
    Ok(Box::new(IpcChLink { size: spec.size, parent: Some((down.0, up.1)), child: Some((up.0, down.1)) }))
}

/// Each process takes its own pair (sender, receiver) of the two channels.
struct IpcChLink {
    size: usize,
    parent: Option<(IpcBytesSender, IpcBytesReceiver)>,
    child: Option<(IpcBytesSender, IpcBytesReceiver)>,
}

impl Link for IpcChLink {
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError> {
        let taken = if parent { self.parent.take() } else { self.child.take() };
        let Some((tx, rx)) = taken else { return Err("ipc-channel: this end is taken".into()) };
        Ok(Box::new(IpcChEnd { tx, rx, buf: vec![0xA5; self.size] }))
    }
}

struct IpcChEnd {
    tx: IpcBytesSender,
    rx: IpcBytesReceiver,
    buf: Vec<u8>,
}

impl End for IpcChEnd {
    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        stamp(&mut self.buf, seq);
        self.tx.send(&self.buf).map_err(|e| format!("ipc-channel send: {e}"))
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let mut poll = Poll::new();
        let msg = loop {
            match self.rx.try_recv() {
                Ok(m) => break m,
                Err(TryRecvError::Empty) => poll.tick("ipc-channel try_recv")?,
                Err(TryRecvError::IpcError(e)) => return Err(format!("ipc-channel try_recv: {e:?}")),
            }
        };
        let (h, t) = ends_of(&msg);
        check("ipc-channel", msg.len(), self.buf.len(), h, t, seq)
    }
}

/// interprocess: one local socket stream.
pub fn make_interprocess(spec: &Spec) -> Result<Box<dyn Link>, BenchError> {
    copy_only(spec, "interprocess")?;
    let name = unique("sock");
    let listener = ListenerOptions::new()
        .name(name.clone().to_ns_name::<GenericNamespaced>().map_err(|e| format!("interprocess name: {e}"))?)
        .create_sync()
        .map_err(|e| format!("interprocess listen on @{name}: {e}"))?;
    Ok(Box::new(SockLink { size: spec.size, name, listener }))
}

struct SockLink {
    size: usize,
    name: String,
    listener: Listener,
}

impl Link for SockLink {
    fn end(&mut self, parent: bool) -> Result<Box<dyn End>, BenchError> {
        let stream = if parent {
            self.listener.accept().map_err(|e| format!("interprocess accept: {e}"))?
        } else {
            let name = self
                .name
                .clone()
                .to_ns_name::<GenericNamespaced>()
                .map_err(|e| format!("interprocess name: {e}"))?;
            Stream::connect(name).map_err(|e| format!("interprocess connect to @{}: {e}", self.name))?
        };
        stream.set_nonblocking(true).map_err(|e| format!("interprocess set_nonblocking: {e}"))?;
        Ok(Box::new(SockEnd { stream, buf: vec![0xA5; self.size] }))
    }
}

struct SockEnd {
    stream: Stream,
    buf: Vec<u8>,
}

impl End for SockEnd {
    fn send(&mut self, seq: u64) -> Result<(), BenchError> {
        stamp(&mut self.buf, seq);
        let mut off = 0;
        let mut poll = Poll::new();
        while off < self.buf.len() {
            match self.stream.write(&self.buf[off..]) {
                Ok(0) => return Err("interprocess write: the peer closed".into()),
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                    poll.tick("interprocess write")?
                }
                Err(e) => return Err(format!("interprocess write: {e}")),
            }
        }
        Ok(())
    }

    fn recv(&mut self, seq: u64) -> Result<(), BenchError> {
        let mut off = 0;
        let mut poll = Poll::new();
        while off < self.buf.len() {
            match self.stream.read(&mut self.buf[off..]) {
                Ok(0) => return Err("interprocess read: the peer closed (end of stream)".into()),
                Ok(n) => off += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                    poll.tick("interprocess read")?
                }
                Err(e) => return Err(format!("interprocess read: {e}")),
            }
        }
        let (h, t) = ends_of(&self.buf);
        check("interprocess", off, self.buf.len(), h, t, seq)
    }
}
