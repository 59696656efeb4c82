//! Request/response: one server, any number of clients; each request gets its reply.
//!
//! Each client claims a slot with two rings: requests go up to the server, replies come
//! down to the client (the layout and its acquire/release pairs are in `channel/hub.rs`;
//! each ring is the single-pair ring of `channel/ring.rs`). Every record starts with an
//! 8-byte request id, so that a reply that comes after its call timed out is dropped
//! instead of answering the next call. The server takes requests from the clients in
//! turn. When a client closes or dies, the server frees its slot, dropping its pending
//! requests, within 50 ms of its next wait: a dead client leaves nothing behind, and
//! a reply to it fails with [`ErrorKind::Disconnected`].
//!
//! ```
//! use ipckit::channel::{PatternConfig, rpc::Rpc};
//! use ipckit::process;
//!
//! let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(16 * 1024))?;
//! let mut server = rpc.server()?;
//! // SAFETY: this example is single-threaded.
//! let child = unsafe {
//!     process::fork_with(|| {
//!         let mut client = rpc.client().unwrap();
//!         let mut buf = [0u8; 64];
//!         let n = client.call(b"21", &mut buf).unwrap();
//!         if &buf[..n] == b"42" { 0 } else { 1 }
//!     })
//! }?;
//! let mut buf = [0u8; 64];
//! let req = server.recv(&mut buf)?;
//! let n: u32 = std::str::from_utf8(&buf[..req.len]).unwrap().parse().unwrap();
//! server.reply(&req, (2 * n).to_string().as_bytes())?;
//! assert!(child.wait()?.success());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [futex(2)](https://man7.org/linux/man-pages/man2/futex.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html).

use std::fmt;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::hub::{Base, Hub, Member, Origin, RPC};
use super::mem::Segment;
use super::ring::RingData;
use super::table::{self, PatternConfig};
use super::wait::WaitStrategy;
use crate::error::{Error, ErrorKind, Result};
use crate::perm::Mode;
use crate::posix::shm::ShmObject;
use crate::wait::Wait;

/// A request/response channel in shared memory: take one [`Server`] and any number
/// of [`Client`]s (up to the configured number at once).
pub struct Rpc {
    base: Arc<Base>,
}

impl fmt::Debug for Rpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rpc")
            .field("name", &self.base.seg.label())
            .field("capacity", &self.base.plan.geometry.capacity)
            .field("max_clients", &self.base.plan.slots)
            .finish()
    }
}

impl Rpc {
    fn new(seg: Segment, create: Option<&PatternConfig>) -> Result<Rpc> {
        let plan = create.map(|c| table::plan_for(RPC, c, 0)).transpose()?;
        let (seg, plan) = table::setup(RPC, seg, plan)?;
        Ok(Rpc { base: Arc::new(Base { seg, plan, shape: RPC }) })
    }

    /// Creates a channel in an anonymous memfd (`memfd_create`).
    pub fn create_memfd(config: &PatternConfig) -> Result<Rpc> {
        let plan = table::plan_for(RPC, config, 0)?;
        Rpc::new(Segment::create_memfd("ipckit-rpc", plan.total_size)?, Some(config))
    }

    /// Creates a channel in a new named POSIX object (`shm_open(name, O_CREAT | O_EXCL)`).
    pub fn create_named(name: &str, config: &PatternConfig, mode: Mode) -> Result<Rpc> {
        let plan = table::plan_for(RPC, config, 0)?;
        Rpc::new(
            Segment::create_named("request/response channel", name, plan.total_size, mode)?,
            Some(config),
        )
    }

    /// Opens the channel in a named POSIX object; checks its header.
    pub fn open_named(name: &str) -> Result<Rpc> {
        Rpc::new(Segment::open_named("request/response channel", name)?, None)
    }

    /// Opens the channel in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<Rpc> {
        Rpc::new(Segment::from_fd("request/response channel", fd)?, None)
    }

    /// The descriptor of the shared-memory object.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.base.seg.fd()
    }

    /// The shared-memory object.
    pub fn shm_object(&self) -> &ShmObject {
        self.base.seg.object()
    }

    /// The largest request or reply in bytes.
    pub fn max_message(&self) -> usize {
        self.base.plan.max_payload(RPC) as usize
    }

    /// Takes a client's slot. [`ErrorKind::LimitExceeded`] if all are taken,
    /// [`ErrorKind::Disconnected`] if the server has closed.
    pub fn client(&self) -> Result<Client> {
        Ok(Client { member: Member::join(Arc::clone(&self.base), "client")?, next_id: 1 })
    }

    /// Takes the server's end; [`ErrorKind::AlreadyExists`] if a process took it before.
    pub fn server(&self) -> Result<Server> {
        Ok(Server { hub: Hub::new(Arc::clone(&self.base), "server")? })
    }
}

/// A client of an [`Rpc`] channel: one call at a time.
pub struct Client {
    member: Member,
    next_id: u64,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("slot", &self.member.slot).field("next_id", &self.next_id).finish()
    }
}

impl Client {
    /// This client's slot number.
    pub fn slot(&self) -> usize {
        self.member.slot
    }

    /// Sets how this end waits for room and for replies.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.member.strategy = strategy;
    }

    /// Whether the server closed its end, or its process is gone.
    pub fn is_disconnected(&self) -> bool {
        self.member.hub_gone()
    }

    /// Sends `request` and waits for its reply, copied into `reply`; returns its length.
    pub fn call(&mut self, request: &[u8], reply: &mut [u8]) -> Result<usize> {
        self.call_with(request, reply, Wait::Block)
    }

    /// As [`call`](Self::call), waiting at most `timeout` in all;
    /// [`ErrorKind::TimedOut`] if the reply did not come in time (it is dropped when
    /// it comes later).
    pub fn call_timeout(&mut self, request: &[u8], reply: &mut [u8], timeout: Duration) -> Result<usize> {
        self.call_with(request, reply, Wait::Timeout(timeout))
    }

    /// As [`call`](Self::call), waiting until `deadline`.
    pub fn call_deadline(&mut self, request: &[u8], reply: &mut [u8], deadline: Instant) -> Result<usize> {
        self.call_with(request, reply, Wait::Deadline(deadline))
    }

    /// Sends `request` and waits for its reply as `wait` says (with `Wait::NoWait`,
    /// [`ErrorKind::WouldBlock`] unless the reply is there at once).
    ///
    /// Errors: [`ErrorKind::MessageTooLarge`] (request, or a reply larger than
    /// `reply`: the reply is dropped and the error gives its size),
    /// [`ErrorKind::Disconnected`] once the server is gone, [`ErrorKind::Corrupted`],
    /// and "not now".
    pub fn call_with(&mut self, request: &[u8], reply: &mut [u8], wait: Wait) -> Result<usize> {
        let deadline = wait.deadline();
        let id = self.next_id;
        self.next_id += 1;
        let len = request.len() as u64 + 8;
        let s = self.member.reserve("call", len, wait)?;
        let up = self.member.up();
        up.write(s.off, &id.to_le_bytes());
        up.write(s.off + 8, request);
        self.member.publish(s, len);
        loop {
            let rec = self.member.next_reply("call", deadline, wait == Wait::NoWait)?;
            let ring = self.member.down_ring();
            let mut idb = [0u8; 8];
            if rec.len < 8 {
                self.member.release_reply(rec);
                return Err(Error::new("call", self.member.base.seg.obj(), ErrorKind::Corrupted)
                    .with_detail(format!("a reply of {} bytes has no request id", rec.len)));
            }
            ring.read(rec.off, &mut idb);
            let got = u64::from_le_bytes(idb);
            if got < id {
                self.member.release_reply(rec); // the reply to a call that timed out
                continue;
            }
            let n = (rec.len - 8) as usize;
            let result = if got != id {
                Err(Error::new("call", self.member.base.seg.obj(), ErrorKind::Corrupted)
                    .with_detail(format!("a reply to request {got} came while request {id} waits")))
            } else if n > reply.len() {
                Err(Error::new("call", self.member.base.seg.obj(), ErrorKind::MessageTooLarge).with_detail(
                    format!("the reply has {n} bytes, the buffer {}; the reply was dropped", reply.len()),
                ))
            } else {
                ring.read(rec.off + 8, &mut reply[..n]);
                Ok(n)
            };
            self.member.release_reply(rec);
            return result;
        }
    }

    /// Closes this client and gives its slot back (dropping it does the same).
    pub fn close(self) {}
}

/// A request the server received: its length and where the reply goes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Request {
    /// The request's length in bytes (copied to the start of the receive buffer).
    pub len: usize,
    /// The slot of the client that sent it.
    pub client: usize,
    origin: Origin,
    id: u64,
}

/// The server's end of an [`Rpc`] channel.
pub struct Server {
    hub: Hub,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("clients", &self.hub.members()).finish()
    }
}

impl Server {
    /// The number of clients holding a slot now.
    pub fn clients(&self) -> usize {
        self.hub.members()
    }

    /// Sets how this end waits for requests and for room for replies.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.hub.strategy = strategy;
    }

    /// Receives the next request into `buf`, waiting for one.
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Request> {
        self.recv_with(buf, Wait::Block)
    }

    /// Receives a request if one is there now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<Request> {
        self.recv_with(buf, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; [`ErrorKind::TimedOut`] if none came.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<Request> {
        self.recv_with(buf, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline`; [`ErrorKind::TimedOut`] if none came.
    pub fn recv_deadline(&mut self, buf: &mut [u8], deadline: Instant) -> Result<Request> {
        self.recv_with(buf, Wait::Deadline(deadline))
    }

    /// Receives the next request, clients in turn, waiting as `wait` says. A request
    /// larger than `buf` is dropped and reported as [`ErrorKind::MessageTooLarge`]
    /// (its client's call then waits until it times out).
    pub fn recv_with(&mut self, buf: &mut [u8], wait: Wait) -> Result<Request> {
        let (o, rec) = self.hub.next("recv", wait)?;
        let base = Arc::clone(&self.hub.base);
        let obj = || base.seg.obj();
        if rec.len < 8 {
            self.hub.release(o, rec);
            return Err(Error::new("recv", obj(), ErrorKind::Corrupted)
                .with_detail(format!("a request of {} bytes from slot {} has no id", rec.len, o.slot)));
        }
        let n = (rec.len - 8) as usize;
        if n > buf.len() {
            let e = Error::new("recv", obj(), ErrorKind::MessageTooLarge).with_detail(format!(
                "a request of {n} bytes does not fit the buffer of {}; it was dropped",
                buf.len()
            ));
            self.hub.release(o, rec);
            return Err(e);
        }
        let id = self.hub.read_u64(o, rec);
        self.hub.read(o, rec, 8, buf);
        self.hub.release(o, rec);
        Ok(Request { len: n, client: o.slot as usize, origin: o, id })
    }

    /// Sends the reply to `request`, waiting for room in its client's ring.
    /// [`ErrorKind::Disconnected`] if the client left or died (nothing is sent).
    pub fn reply(&mut self, request: &Request, data: &[u8]) -> Result<()> {
        self.reply_with(request, data, Wait::Block)
    }

    /// Sends the reply to `request`, waiting for room as `wait` says.
    pub fn reply_with(&mut self, request: &Request, data: &[u8], wait: Wait) -> Result<()> {
        self.hub.reply("reply", request.origin, request.id, data, wait)
    }

    /// Closes the server (dropping it does the same): clients get
    /// [`ErrorKind::Disconnected`].
    pub fn close(self) {}
}
