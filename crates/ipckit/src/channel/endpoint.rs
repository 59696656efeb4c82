//! The public types: [`Channel`], [`Sender`], [`Receiver`], loans and guards.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::layout::{
    self, DATA_OFFSET, Geometry, Header, Invalid, ROLE_CLOSED, ROLE_CONNECTED, ROLE_FREE, Role,
};
use super::peer;
use super::raw::RawRing;
use super::ring::{Consumer, Fault, Producer, Record, RingData, Slot};
use super::sync::Ordering;
use super::wait::{self, Outcome, WaitStrategy};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::perm::Mode;
use crate::posix::shm::{Mapping, ShmObject};
use crate::sysv::shm::{Attachment, ShmSegment};
use crate::wait::Wait;

/// The default record alignment (see [`ChannelConfig::with_record_align`]).
const DEFAULT_RECORD_ALIGN: usize = 128;

/// The size of a new channel.
///
/// ```
/// use ipckit::channel::ChannelConfig;
/// let c = ChannelConfig::new().with_capacity(1 << 20).with_max_message(4096);
/// assert_eq!(c.capacity(), 1 << 20);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct ChannelConfig {
    capacity: usize,
    max_message: usize,
    record_align: usize,
}

impl Default for ChannelConfig {
    /// A 64 KiB ring; messages up to half of it.
    fn default() -> ChannelConfig {
        ChannelConfig { capacity: 64 * 1024, max_message: 0, record_align: DEFAULT_RECORD_ALIGN }
    }
}

impl ChannelConfig {
    /// The default: a 64 KiB ring, messages up to about 32 KiB.
    pub fn new() -> ChannelConfig {
        ChannelConfig::default()
    }

    /// The ring's size in bytes; rounded up to a power of two (at least 1024), and
    /// grown if needed to hold two messages of the largest size.
    pub fn with_capacity(mut self, bytes: usize) -> ChannelConfig {
        self.capacity = bytes;
        self
    }

    /// The largest message in bytes; 0 (the default) means "half the ring, less a
    /// record header".
    pub fn with_max_message(mut self, bytes: usize) -> ChannelConfig {
        self.max_message = bytes;
        self
    }

    /// Where records start in the ring: at multiples of `bytes`, a power of two from
    /// 16 to 4096 (default: 128). A message of up to `bytes - 16` bytes then lies in one
    /// aligned block, which the receiver's core fetches in one transfer: 128 (two cache
    /// lines, as processors prefetch them in pairs) is the fastest for small messages;
    /// 16 packs small messages four to eight times denser.
    pub fn with_record_align(mut self, bytes: usize) -> ChannelConfig {
        self.record_align = bytes;
        self
    }

    /// The record alignment.
    pub fn record_align(&self) -> usize {
        self.record_align
    }

    /// The requested ring size.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The requested largest message (0: automatic).
    pub fn max_message(&self) -> usize {
        self.max_message
    }

    fn geometry(&self, op: &'static str, obj: &Object) -> Result<Geometry> {
        Geometry::for_request(self.capacity as u64, self.max_message as u64, self.record_align as u64)
            .map_err(|why| Error::new(op, obj.clone(), ErrorKind::InvalidInput).with_detail(why))
    }
}

/// The memory that holds a channel, kept mapped while any end uses it.
enum Backing {
    SysV(Attachment),
    Mapped(Mapping),
}

/// What both ends share: the mapping, its checked geometry, and a name for errors.
struct Shared {
    _backing: Backing,
    base: NonNull<u8>,
    geometry: Geometry,
    label: String,
}

// SAFETY: `base` points into the mapping that `_backing` owns (which is Send and Sync);
// the memory is reached only through atomics and copies.
#[allow(unsafe_code)]
unsafe impl Send for Shared {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for Shared {}

impl Shared {
    fn new(backing: Backing, label: String, create: Option<Geometry>) -> Result<Shared> {
        let (ptr, len) = match &backing {
            Backing::SysV(a) => (a.as_ptr(), a.len()),
            Backing::Mapped(m) => (m.as_ptr(), m.len()),
        };
        let obj = Object::Name(label.clone());
        let op = if create.is_some() { "channel create" } else { "channel open" };
        let base = NonNull::new(ptr).ok_or_else(|| Error::new(op, obj.clone(), ErrorKind::Other))?;
        if ptr as usize % std::mem::align_of::<Header>() != 0 {
            return Err(Error::new(op, obj, ErrorKind::InvalidInput)
                .with_detail("the shared memory is not aligned to 128 bytes"));
        }
        if (len as u64) < DATA_OFFSET {
            return Err(Error::new(op, obj, ErrorKind::Corrupted).with_detail(format!(
                "{len} bytes of shared memory cannot hold a channel (the header alone is {DATA_OFFSET})"
            )));
        }
        let mut shared = Shared {
            _backing: backing,
            base,
            geometry: Geometry { capacity: 0, max_message: 0, align: 16 },
            label,
        };
        let h = shared.header();
        shared.geometry = match create {
            Some(g) => {
                layout::init(h, g, std::process::id());
                g
            }
            None => layout::validate(h, len as u64).map_err(|e| match e {
                Invalid::NotInitialized => Error::new(op, obj, ErrorKind::NotInitialized)
                    .with_detail("the creator has not finished setting up the channel; retry"),
                Invalid::Corrupted(why) => Error::new(op, obj, ErrorKind::Corrupted).with_detail(why),
            })?,
        };
        Ok(shared)
    }

    /// The header, all atomics.
    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: `base` is 128-aligned and the mapping (owned by `_backing`) holds at
        // least DATA_OFFSET >= size_of::<Header>() bytes for as long as `self` lives.
        // Every field of Header is an atomic (an UnsafeCell), so a shared reference to
        // memory that other processes write is sound.
        #[allow(unsafe_code)]
        unsafe {
            &*self.base.as_ptr().cast::<Header>()
        }
    }

    /// The ring's bytes.
    fn ring(&self) -> RawRing {
        // SAFETY: the ring lies at DATA_OFFSET for `capacity` bytes inside the mapping
        // (checked at creation and by `validate`), which lives as long as `self`; the
        // RawRing is only used by ends that hold an `Arc<Shared>`. DATA_OFFSET keeps
        // the 128-byte alignment of `base`.
        #[allow(unsafe_code)]
        unsafe {
            RawRing::new(
                NonNull::new_unchecked(self.base.as_ptr().add(DATA_OFFSET as usize)),
                self.geometry.capacity,
            )
        }
    }

    fn obj(&self) -> Object {
        Object::Name(self.label.clone())
    }
}

/// Who owns the named object, to remove it.
enum Owner {
    SysV(ShmSegment),
    Posix(ShmObject),
}

/// A channel in shared memory, from which a process takes one end.
///
/// Creating it sets up the header; opening it (by key, name or descriptor) checks the
/// header. A handle can be shared with a `fork`ed child; each end
/// ([`sender`](Self::sender), [`receiver`](Self::receiver)) can be taken once.
pub struct Channel {
    shared: Arc<Shared>,
    owner: Owner,
}

impl fmt::Debug for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("name", &self.shared.label)
            .field("capacity", &self.shared.geometry.capacity)
            .field("max_message", &self.shared.geometry.max_message)
            .finish()
    }
}

impl Channel {
    /// Creates a channel in a new System V segment (`shmget(key, size, IPC_CREAT |
    /// IPC_EXCL | mode)`); [`Key::PRIVATE`] always makes a new one, reachable by id
    /// ([`segment_id`](Self::segment_id)) or by `fork`.
    pub fn create_sysv(key: Key, config: &ChannelConfig, mode: Mode) -> Result<Channel> {
        let label = format!("channel in shm key {key}");
        let g = config.geometry("channel create", &Object::Name(label.clone()))?;
        let seg = ShmSegment::create(key, g.total_size() as usize, mode)?;
        let att = seg.attach()?;
        let label = format!("channel in shm id {}", seg.id());
        let shared = Shared::new(Backing::SysV(att), label, Some(g))?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::SysV(seg) })
    }

    /// Opens the channel in the System V segment with this key.
    pub fn open_sysv(key: Key) -> Result<Channel> {
        Channel::from_segment(ShmSegment::open(key)?)
    }

    /// Opens the channel in the System V segment with this id.
    pub fn open_sysv_id(id: i32) -> Result<Channel> {
        Channel::from_segment(ShmSegment::from_id(id)?)
    }

    fn from_segment(seg: ShmSegment) -> Result<Channel> {
        let att = seg.attach()?;
        let shared = Shared::new(Backing::SysV(att), format!("channel in shm id {}", seg.id()), None)?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::SysV(seg) })
    }

    /// Creates a channel in a new named POSIX shared-memory object
    /// (`shm_open(name, O_CREAT | O_EXCL)`, `/dev/shm/NAME`).
    pub fn create_named(name: &str, config: &ChannelConfig, mode: Mode) -> Result<Channel> {
        let label = format!("channel {name}");
        let g = config.geometry("channel create", &Object::Name(label.clone()))?;
        let obj = ShmObject::create(name, g.total_size() as usize, mode)?;
        let label = format!("channel {}", obj.name().unwrap_or(name));
        let map = obj.map()?;
        let shared = Shared::new(Backing::Mapped(map), label, Some(g))?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::Posix(obj) })
    }

    /// Opens the channel in the named POSIX shared-memory object.
    pub fn open_named(name: &str) -> Result<Channel> {
        let obj = ShmObject::open(name)?;
        let label = format!("channel {}", obj.name().unwrap_or(name));
        let map = obj.map().map_err(|e| {
            if e.kind() == ErrorKind::NotInitialized {
                e.with_detail("the object has no size yet: its creator has not finished; retry")
            } else {
                e
            }
        })?;
        let shared = Shared::new(Backing::Mapped(map), label, None)?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::Posix(obj) })
    }

    /// Creates a channel in an anonymous memfd (`memfd_create`): shared with `fork`ed
    /// children, or with another program through [`fd`](Self::fd).
    pub fn create_memfd(config: &ChannelConfig) -> Result<Channel> {
        let g = config.geometry("channel create", &Object::Name("channel in a memfd".into()))?;
        let obj = ShmObject::memfd("ipckit-channel", g.total_size() as usize)?;
        let map = obj.map()?;
        let shared = Shared::new(Backing::Mapped(map), "channel in a memfd".into(), Some(g))?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::Posix(obj) })
    }

    /// Opens the channel in a memfd or POSIX object received as a descriptor.
    pub fn from_fd(fd: OwnedFd) -> Result<Channel> {
        let obj = ShmObject::from_fd(fd);
        let map = obj.map()?;
        let shared = Shared::new(Backing::Mapped(map), "channel from a descriptor".into(), None)?;
        Ok(Channel { shared: Arc::new(shared), owner: Owner::Posix(obj) })
    }

    /// The descriptor of a channel in a memfd or POSIX object (`None` for System V).
    /// See [`ShmObject::set_inherit_on_exec`] to pass it to a new program.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        match &self.owner {
            Owner::Posix(o) => Some(o.as_fd()),
            Owner::SysV(_) => None,
        }
    }

    /// The shared-memory object that holds a channel in a memfd or POSIX object.
    pub fn shm_object(&self) -> Option<&ShmObject> {
        match &self.owner {
            Owner::Posix(o) => Some(o),
            Owner::SysV(_) => None,
        }
    }

    /// The System V segment id of a channel in a segment.
    pub fn segment_id(&self) -> Option<i32> {
        match &self.owner {
            Owner::SysV(s) => Some(s.id()),
            Owner::Posix(_) => None,
        }
    }

    /// Asks for the segment or name to be removed when this handle is dropped (in the
    /// creating process only). Ends already open keep working; nobody can open the
    /// channel any more.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        match &mut self.owner {
            Owner::SysV(s) => s.set_remove_on_drop(remove),
            Owner::Posix(o) => o.set_remove_on_drop(remove),
        }
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.geometry.capacity as usize
    }

    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.shared.geometry.max_message as usize
    }

    /// Takes the sending end. Fails with [`ErrorKind::AlreadyExists`] if a process
    /// took it before (each end is taken once).
    pub fn sender(&self) -> Result<Sender> {
        let me = claim(&self.shared, &self.shared.header().tx.0, "sender")?;
        let g = self.shared.geometry;
        Ok(Sender {
            ring: self.shared.ring(),
            shared: Arc::clone(&self.shared),
            prod: Producer::new(g.capacity, g.align),
            watch: peer::Watch::new(),
            strategy: WaitStrategy::default(),
            pid: me,
            #[cfg(feature = "serde")]
            scratch: Vec::new(),
        })
    }

    /// Takes the receiving end over from a process that took it and died without
    /// closing it (killed, or one that left the end open on purpose, as the NATS
    /// bridge's exporter does): the messages its predecessor had not freed are
    /// received again, from the first one.
    ///
    /// An end nobody has taken is simply taken. Fails with
    /// [`ErrorKind::AlreadyExists`] while the holder's process lives, when the end
    /// was closed (a closed end is never reopened), or when another process is
    /// taking it over at the same moment. Across pid namespaces a holder cannot be
    /// seen to die, and is taken for alive.
    ///
    /// The sender's count of published messages then serves as the count of messages
    /// taken before, so the check for messages lost to damage misses up to as many
    /// messages as the ring held at the takeover.
    pub fn take_over_receiver(&self) -> Result<Receiver> {
        let op = "channel take over";
        let h = self.shared.header();
        let role = &h.rx.0;
        match role.state.load(Ordering::Acquire) {
            ROLE_FREE => return self.receiver(),
            ROLE_CLOSED => {
                let pid = role.pid.load(Ordering::Acquire);
                return Err(Error::new(op, self.shared.obj(), ErrorKind::AlreadyExists).with_detail(
                    format!(
                        "the receiver end was taken (by pid {pid}) and closed; a closed end is never reopened"
                    ),
                ));
            }
            _ => {}
        }
        let pid = role.pid.load(Ordering::Acquire);
        if pid == 0 || !peer::is_gone(role) {
            return Err(Error::new(op, self.shared.obj(), ErrorKind::AlreadyExists)
                .with_detail(format!("the receiver end is held by pid {pid}, which is alive")));
        }
        // AcqRel: one taker wins; its record below follows the claim.
        if role.pid.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Acquire).is_err() {
            return Err(Error::new(op, self.shared.obj(), ErrorKind::AlreadyExists)
                .with_detail("another process is taking the receiver end over"));
        }
        let me = peer::current();
        peer::record(role, me);
        let g = self.shared.geometry;
        // Acquire pairs with the Release stores of the consumer that stopped.
        let head = h.head.0.load(Ordering::Acquire);
        let published = h.tx.0.count.load(Ordering::Acquire);
        Ok(Receiver {
            ring: self.shared.ring(),
            shared: Arc::clone(&self.shared),
            cons: Consumer::resume(head, published, g.capacity, g.max_message, g.align),
            watch: peer::Watch::new(),
            strategy: WaitStrategy::default(),
            pid: me.pid,
        })
    }

    /// Takes the receiving end. Fails with [`ErrorKind::AlreadyExists`] if a process
    /// took it before.
    pub fn receiver(&self) -> Result<Receiver> {
        let me = claim(&self.shared, &self.shared.header().rx.0, "receiver")?;
        let g = self.shared.geometry;
        Ok(Receiver {
            ring: self.shared.ring(),
            shared: Arc::clone(&self.shared),
            cons: Consumer::new(g.capacity, g.max_message, g.align),
            watch: peer::Watch::new(),
            strategy: WaitStrategy::default(),
            pid: me,
        })
    }
}

fn claim(shared: &Shared, role: &Role, which: &str) -> Result<u32> {
    let op = "channel claim";
    // AcqRel: the claim is ordered with the record below and with earlier holders.
    match role.state.compare_exchange(ROLE_FREE, ROLE_CONNECTED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            let me = peer::current();
            peer::record(role, me);
            Ok(me.pid)
        }
        Err(state) => {
            let pid = role.pid.load(Ordering::Acquire);
            let why = if state == ROLE_CLOSED {
                format!("the {which} end was taken (by pid {pid}) and closed; each end is taken once")
            } else {
                format!("the {which} end is already taken by pid {pid}")
            };
            Err(Error::new(op, shared.obj(), ErrorKind::AlreadyExists).with_detail(why))
        }
    }
}

fn disconnected(op: &'static str, shared: &Shared, who: &str) -> Error {
    Error::new(op, shared.obj(), ErrorKind::Disconnected)
        .with_detail(format!("the {who} closed its end, or its process died"))
}

fn corrupted(op: &'static str, shared: &Shared, f: Fault) -> Error {
    Error::new(op, shared.obj(), ErrorKind::Corrupted).with_detail(f.to_string())
}

fn too_large(op: &'static str, shared: &Shared, len: usize) -> Error {
    Error::new(op, shared.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
        "a message of {len} bytes exceeds the channel's largest message of {} bytes",
        shared.geometry.max_message
    ))
}

/// Closes `role` if this process holds it, and wakes the other side.
fn close_role(role: &Role, pid: u32, wake: &super::ring::Wake) {
    if std::process::id() != pid {
        return; // a copy in a forked child: the end belongs to the parent
    }
    // Release pairs with the peer's Acquire of the state: all we published comes first.
    role.state.store(ROLE_CLOSED, Ordering::Release);
    wait::notify_always(wake);
}

/// The sending end of a [`Channel`].
pub struct Sender {
    shared: Arc<Shared>,
    ring: RawRing,
    prod: Producer,
    watch: peer::Watch,
    strategy: WaitStrategy,
    pid: u32,
    #[cfg(feature = "serde")]
    scratch: Vec<u8>,
}

impl fmt::Debug for Sender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("channel", &self.shared.label)
            .field("position", &self.prod.tail())
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl Sender {
    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.shared.geometry.max_message as usize
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.geometry.capacity as usize
    }

    /// How this end waits for room.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Sets how this end waits for room.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Whether the receiver closed its end, or its process is gone.
    pub fn is_disconnected(&self) -> bool {
        peer::is_gone(&self.shared.header().rx.0)
    }

    /// Sends `data`, waiting for room.
    #[inline]
    pub fn send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::Block)
    }

    /// Sends if there is room now; fails with [`ErrorKind::WouldBlock`] (and sends
    /// nothing) if the ring is full, so `tx.try_send(b)?` never drops a message silently.
    pub fn try_send(&mut self, data: &[u8]) -> Result<()> {
        self.send_with(data, Wait::NoWait)
    }

    /// Sends, waiting at most `timeout` for room; fails with [`ErrorKind::TimedOut`]
    /// (and sends nothing) if there was none.
    pub fn send_timeout(&mut self, data: &[u8], timeout: Duration) -> Result<()> {
        self.send_with(data, Wait::Timeout(timeout))
    }

    /// Sends, waiting until `deadline` for room; fails with [`ErrorKind::TimedOut`]
    /// if it passed.
    pub fn send_deadline(&mut self, data: &[u8], deadline: Instant) -> Result<()> {
        self.send_with(data, Wait::Deadline(deadline))
    }

    /// Sends, waiting for room as `wait` says.
    ///
    /// # Errors
    /// "Not now" ([`Error::is_not_now`]) if there was no room in time,
    /// [`ErrorKind::MessageTooLarge`] beyond [`max_message`](Self::max_message),
    /// [`ErrorKind::Disconnected`] once the receiver is gone (a receiver that died is
    /// noticed when the ring is full), [`ErrorKind::Corrupted`] if the shared index is
    /// impossible.
    #[inline]
    pub fn send_with(&mut self, data: &[u8], wait: Wait) -> Result<()> {
        let slot = self.reserve("send", data.len(), wait)?;
        self.ring.write(slot.off, data);
        self.publish(slot, slot.len);
        Ok(())
    }

    /// Reserves room for a message of `len` bytes in the ring, waiting for it; write
    /// the payload into the [`SendLoan`] and [`commit`](SendLoan::commit) it. Nothing
    /// is sent if the loan is dropped.
    pub fn loan(&mut self, len: usize) -> Result<SendLoan<'_>> {
        self.loan_with(len, Wait::Block)
    }

    /// Reserves room if there is some now; [`ErrorKind::WouldBlock`] if not.
    pub fn try_loan(&mut self, len: usize) -> Result<SendLoan<'_>> {
        self.loan_with(len, Wait::NoWait)
    }

    /// Reserves room, waiting as `wait` says; "not now" ([`Error::is_not_now`]) if
    /// there was none in time.
    pub fn loan_with(&mut self, len: usize, wait: Wait) -> Result<SendLoan<'_>> {
        let slot = self.reserve("loan", len, wait)?;
        Ok(SendLoan { slot, sender: self })
    }

    /// Sends a plain-old-data value, byte for byte.
    pub fn send_pod<T: bytemuck::Pod>(&mut self, value: &T) -> Result<()> {
        self.send(bytemuck::bytes_of(value))
    }

    /// Sends a plain-old-data value, waiting as `wait` says.
    pub fn send_pod_with<T: bytemuck::Pod>(&mut self, value: &T, wait: Wait) -> Result<()> {
        self.send_with(bytemuck::bytes_of(value), wait)
    }

    /// Sends any `serde` value, serialized with postcard.
    #[cfg(feature = "serde")]
    pub fn send_value<T: serde::Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.send_value_with(value, Wait::Block)
    }

    /// Sends a `serde` value, waiting as `wait` says.
    #[cfg(feature = "serde")]
    pub fn send_value_with<T: serde::Serialize + ?Sized>(&mut self, value: &T, wait: Wait) -> Result<()> {
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        let result = match postcard::to_io(value, &mut buf) {
            Ok(_) => self.send_with(&buf, wait),
            Err(e) => Err(Error::new("send", self.shared.obj(), ErrorKind::Codec).with_detail(e.to_string())),
        };
        self.scratch = buf;
        result
    }

    /// Closes the sending end now: the receiver gets what was sent, then
    /// [`ErrorKind::Disconnected`]. Dropping the sender does the same.
    pub fn close(self) {}

    /// Room for `len` bytes: the common case (there is room) inline, the rest out of line.
    #[inline(always)]
    fn reserve(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        let shared = &*self.shared;
        let h = shared.header();
        if len as u64 <= shared.geometry.max_message
            && h.rx.0.state.load(Ordering::Relaxed) != ROLE_CLOSED
            && let Ok(Some(slot)) = self.prod.reserve(&self.ring, &h.head.0, len as u64)
        {
            return Ok(slot);
        }
        self.reserve_slow(op, len, wait)
    }

    #[cold]
    #[inline(never)]
    fn reserve_slow(&mut self, op: &'static str, len: usize, wait: Wait) -> Result<Slot> {
        let shared = &*self.shared;
        if len as u64 > shared.geometry.max_message {
            return Err(too_large(op, shared, len));
        }
        let h = shared.header();
        if h.rx.0.state.load(Ordering::Relaxed) == ROLE_CLOSED {
            return Err(disconnected(op, shared, "receiver"));
        }
        let (ring, prod) = (&self.ring, &mut self.prod);
        if let Some(slot) = prod.reserve(ring, &h.head.0, len as u64).map_err(|f| corrupted(op, shared, f))? {
            return Ok(slot);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(wait.not_now(op)),
            w => w.deadline(),
        };
        let outcome =
            wait::block(self.strategy, deadline, &h.space_wake.0, &h.rx.0, &mut self.watch, |full| {
                if full && h.rx.0.state.load(Ordering::Acquire) == ROLE_CLOSED {
                    return Err(disconnected(op, shared, "receiver"));
                }
                prod.reserve(ring, &h.head.0, len as u64).map_err(|f| corrupted(op, shared, f))
            })?;
        match outcome {
            Outcome::Ready(slot) => Ok(slot),
            Outcome::TimedOut => Err(wait.not_now(op)),
            Outcome::PeerGone => Err(disconnected(op, shared, "receiver")),
        }
    }

    /// The wake line this end sleeps on (for `poll`).
    pub(crate) fn space_wake(&self) -> &super::ring::Wake {
        &self.shared.header().space_wake.0
    }

    /// The channel, for errors.
    pub(crate) fn object(&self) -> Object {
        self.shared.obj()
    }

    #[inline(always)]
    fn publish(&mut self, slot: Slot, len: u64) {
        let h = self.shared.header();
        self.prod.commit(&self.ring, &h.tx.0.count, slot, len);
        wait::notify(&h.data_wake.0);
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        let h = self.shared.header();
        close_role(&h.tx.0, self.pid, &h.data_wake.0);
    }
}

/// Room for one message in the ring, reserved by [`Sender::loan`].
///
/// Write the payload with [`write_at`](Self::write_at) or through
/// [`as_mut_ptr`](Self::as_mut_ptr), then [`commit`](Self::commit). The receiver sees
/// nothing of it before the commit; a loan dropped without commit sends nothing.
#[must_use = "a loan sends nothing until it is committed"]
pub struct SendLoan<'a> {
    sender: &'a mut Sender,
    slot: Slot,
}

impl fmt::Debug for SendLoan<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendLoan").field("position", &self.slot.pos).field("len", &self.slot.len).finish()
    }
}

impl SendLoan<'_> {
    /// The bytes reserved.
    pub fn len(&self) -> usize {
        self.slot.len as usize
    }

    /// Whether the loan is for an empty message.
    pub fn is_empty(&self) -> bool {
        self.slot.len == 0
    }

    /// Copies `data` into the message at `offset`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        match offset.checked_add(data.len()) {
            Some(end) if end as u64 <= self.slot.len => {
                self.sender.ring.write(self.slot.off + offset as u64, data);
                Ok(())
            }
            _ => Err(Error::new("SendLoan::write_at", self.sender.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the loan of {}",
                    data.len(),
                    self.slot.len
                ))),
        }
    }

    /// The start of the reserved bytes, for writing [`len`](Self::len) bytes in place.
    ///
    /// The memory is shared: write through the pointer (`ptr::write`, `copy`), do not
    /// make a `&mut [u8]` of it unless you accept the contract of
    /// [`as_mut_slice`](Self::as_mut_slice). The pointer is valid until the loan ends.
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.sender.ring.ptr(self.slot.off, self.slot.len as usize)
    }

    /// The reserved bytes as a slice, for code that fills a buffer in place.
    ///
    /// # Safety
    /// Until the loan ends, no other process writes these bytes. A cooperating
    /// receiver never does (it reads only committed messages); a process that writes
    /// the ring at random breaks the rules of `&mut [u8]`, which is undefined
    /// behaviour. Use [`write_at`](Self::write_at) when the peer is not trusted.
    #[allow(unsafe_code)]
    pub unsafe fn as_mut_slice(&mut self) -> &mut [u8] {
        let len = self.slot.len as usize;
        let p = self.as_mut_ptr();
        // SAFETY: `p` is valid for `len` bytes inside the mapping for the loan's
        // lifetime; exclusivity against other processes is the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(p, len) }
    }

    /// Publishes the message with all [`len`](Self::len) bytes.
    pub fn commit(self) {
        let len = self.slot.len;
        self.sender.publish(self.slot, len);
    }

    /// Publishes the first `len` bytes only (a message that came out shorter).
    pub fn commit_len(self, len: usize) -> Result<()> {
        if len as u64 > self.slot.len {
            return Err(Error::new("SendLoan::commit_len", self.sender.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!("{len} bytes exceed the loan of {}", self.slot.len)));
        }
        self.sender.publish(self.slot, len as u64);
        Ok(())
    }
}

/// The receiving end of a [`Channel`].
pub struct Receiver {
    shared: Arc<Shared>,
    ring: RawRing,
    cons: Consumer,
    watch: peer::Watch,
    strategy: WaitStrategy,
    pid: u32,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("channel", &self.shared.label)
            .field("strategy", &self.strategy)
            .finish()
    }
}

impl Receiver {
    /// The largest message in bytes.
    pub fn max_message(&self) -> usize {
        self.shared.geometry.max_message as usize
    }

    /// The ring's size in bytes.
    pub fn capacity(&self) -> usize {
        self.shared.geometry.capacity as usize
    }

    /// How this end waits for messages.
    pub fn wait_strategy(&self) -> WaitStrategy {
        self.strategy
    }

    /// Sets how this end waits for messages.
    pub fn set_wait_strategy(&mut self, strategy: WaitStrategy) {
        self.strategy = strategy;
    }

    /// Whether the sender closed its end, or its process is gone (messages it sent
    /// may still wait to be received).
    pub fn is_disconnected(&self) -> bool {
        peer::is_gone(&self.shared.header().tx.0)
    }

    /// Receives a message into `buf`, waiting for one; returns its length.
    #[inline]
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.recv_with(buf, Wait::Block)
    }

    /// Receives if a message is there now; fails with [`ErrorKind::WouldBlock`] if not
    /// (allocating nothing: cheap to poll in a loop).
    pub fn try_recv(&mut self, buf: &mut [u8]) -> Result<usize> {
        self.recv_with(buf, Wait::NoWait)
    }

    /// Receives, waiting at most `timeout`; fails with [`ErrorKind::TimedOut`] if no
    /// message came.
    pub fn recv_timeout(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize> {
        self.recv_with(buf, Wait::Timeout(timeout))
    }

    /// Receives, waiting until `deadline`; fails with [`ErrorKind::TimedOut`] if it
    /// passed.
    pub fn recv_deadline(&mut self, buf: &mut [u8], deadline: Instant) -> Result<usize> {
        self.recv_with(buf, Wait::Deadline(deadline))
    }

    /// Receives into `buf`, waiting as `wait` says; returns the message's length.
    ///
    /// # Errors
    /// "Not now" ([`Error::is_not_now`]) if no message came in time,
    /// [`ErrorKind::MessageTooLarge`] if `buf` is too small (the message stays
    /// in the channel; the error says its size), [`ErrorKind::Disconnected`] once the
    /// sender is gone and every message it sent was received,
    /// [`ErrorKind::Corrupted`] if the shared memory breaks the protocol.
    #[inline]
    pub fn recv_with(&mut self, buf: &mut [u8], wait: Wait) -> Result<usize> {
        let rec = self.next("recv", wait)?;
        let len = rec.len as usize;
        if len > buf.len() {
            return Err(Error::new("recv", self.shared.obj(), ErrorKind::MessageTooLarge).with_detail(
                format!(
                    "the next message has {len} bytes, the buffer {}; it stays in the channel",
                    buf.len()
                ),
            ));
        }
        self.ring.read(rec.off, &mut buf[..len]);
        self.finish(rec);
        Ok(len)
    }

    /// A copy of the message `index` places behind the next one (0: the next one),
    /// receiving nothing; `None` when fewer messages are there.
    #[cfg(feature = "nats")]
    pub(crate) fn peek_nth(&mut self, index: usize) -> Result<Option<Vec<u8>>> {
        let mut pos = self.cons.position();
        let mut i = 0;
        loop {
            match self.cons.look_at(&self.ring, pos).map_err(|f| corrupted("peek", &self.shared, f))? {
                None => return Ok(None),
                Some((rec, _)) if i == index => {
                    let mut v = vec![0u8; rec.len as usize];
                    self.ring.read(rec.off, &mut v);
                    return Ok(Some(v));
                }
                Some((_, next)) => {
                    pos = next;
                    i += 1;
                }
            }
        }
    }

    /// Receives a message into a new `Vec`, waiting for one.
    pub fn recv_vec(&mut self) -> Result<Vec<u8>> {
        self.recv_vec_with(Wait::Block)
    }

    /// Receives a message into a new `Vec`, waiting as `wait` says.
    pub fn recv_vec_with(&mut self, wait: Wait) -> Result<Vec<u8>> {
        let rec = self.next("recv", wait)?;
        let mut v = vec![0u8; rec.len as usize];
        self.ring.read(rec.off, &mut v);
        self.finish(rec);
        Ok(v)
    }

    /// Waits for a message and returns a guard that reads it in place; the message is
    /// freed when the guard is dropped.
    pub fn recv_in_place(&mut self) -> Result<RecvGuard<'_>> {
        self.recv_in_place_with(Wait::Block)
    }

    /// Returns a guard on the next message if there is one now;
    /// [`ErrorKind::WouldBlock`] if not.
    pub fn try_recv_in_place(&mut self) -> Result<RecvGuard<'_>> {
        self.recv_in_place_with(Wait::NoWait)
    }

    /// Returns a guard on the next message, waiting as `wait` says.
    pub fn recv_in_place_with(&mut self, wait: Wait) -> Result<RecvGuard<'_>> {
        let rec = self.next("recv", wait)?;
        Ok(RecvGuard { receiver: self, rec })
    }

    /// Receives a plain-old-data value. A message of another size is an
    /// [`ErrorKind::Codec`] error and stays in the channel.
    pub fn recv_pod<T: bytemuck::Pod>(&mut self) -> Result<T> {
        self.recv_pod_with(Wait::Block)
    }

    /// Receives a plain-old-data value, waiting as `wait` says.
    pub fn recv_pod_with<T: bytemuck::Pod>(&mut self, wait: Wait) -> Result<T> {
        let rec = self.next("recv", wait)?;
        if rec.len as usize != std::mem::size_of::<T>() {
            return Err(Error::new("recv", self.shared.obj(), ErrorKind::Codec).with_detail(format!(
                "the next message has {} bytes, a {} has {}; it stays in the channel",
                rec.len,
                std::any::type_name::<T>(),
                std::mem::size_of::<T>()
            )));
        }
        let mut value = T::zeroed();
        self.ring.read(rec.off, bytemuck::bytes_of_mut(&mut value));
        self.finish(rec);
        Ok(value)
    }

    /// Receives a `serde` value sent by [`Sender::send_value`].
    #[cfg(feature = "serde")]
    pub fn recv_value<T: serde::de::DeserializeOwned>(&mut self) -> Result<T> {
        self.recv_value_with(Wait::Block)
    }

    /// Receives a `serde` value, waiting as `wait` says. A message that does not
    /// decode is consumed and reported as [`ErrorKind::Codec`].
    #[cfg(feature = "serde")]
    pub fn recv_value_with<T: serde::de::DeserializeOwned>(&mut self, wait: Wait) -> Result<T> {
        let bytes = self.recv_vec_with(wait)?;
        postcard::from_bytes(&bytes)
            .map_err(|e| Error::new("recv", self.shared.obj(), ErrorKind::Codec).with_detail(e.to_string()))
    }

    /// Closes the receiving end now: the sender's next send fails with
    /// [`ErrorKind::Disconnected`]. Dropping the receiver does the same.
    pub fn close(self) {}

    /// The next message: the common case (one is there) inline, the rest out of line.
    #[inline(always)]
    fn next(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        let head = &self.shared.header().head.0;
        // A blocking receive first polls here, in a tight loop, before the general wait:
        // a message that arrives within these polls is taken at once, with none of the
        // wait's set-up and tear-down on the path between its arrival and the caller
        // (measured: that path made a spinning round trip twice as slow as the bare
        // ring protocol). A strategy that does not spin polls once.
        let polls = if wait == Wait::Block { self.strategy.inline_polls() } else { 1 };
        for _ in 0..polls {
            match self.cons.peek(&self.ring, head) {
                Ok(Some(rec)) => return Ok(rec),
                Ok(None) => std::hint::spin_loop(),
                // The slow path looks again and reports the fault.
                Err(_) => break,
            }
        }
        self.next_slow(op, wait)
    }

    #[cold]
    #[inline(never)]
    fn next_slow(&mut self, op: &'static str, wait: Wait) -> Result<Record> {
        let shared = &*self.shared;
        let h = shared.header();
        let (ring, cons) = (&self.ring, &mut self.cons);
        let mut poll = |full: bool| -> Result<Option<Record>> {
            if !full {
                return cons.peek(ring, &h.head.0).map_err(|f| corrupted(op, shared, f));
            }
            // The full look also compares with the sender's count of published
            // messages: a message counted but not found was lost to damage.
            if let Some(rec) =
                cons.peek_counted(ring, &h.head.0, &h.tx.0.count).map_err(|f| corrupted(op, shared, f))?
            {
                return Ok(Some(rec));
            }
            // Acquire pairs with the Release of the close: if we see it, we see every
            // message published before it, so one more look is final.
            if h.tx.0.state.load(Ordering::Acquire) == ROLE_CLOSED {
                return match cons
                    .peek_counted(ring, &h.head.0, &h.tx.0.count)
                    .map_err(|f| corrupted(op, shared, f))?
                {
                    Some(rec) => Ok(Some(rec)),
                    None => Err(disconnected(op, shared, "sender")),
                };
            }
            Ok(None)
        };
        if let Some(rec) = poll(true)? {
            return Ok(rec);
        }
        let deadline = match wait {
            Wait::NoWait => return Err(wait.not_now(op)),
            w => w.deadline(),
        };
        match wait::block(self.strategy, deadline, &h.data_wake.0, &h.tx.0, &mut self.watch, &mut poll)? {
            Outcome::Ready(rec) => Ok(rec),
            Outcome::TimedOut => Err(wait.not_now(op)),
            // A dead process publishes nothing more: one last look, then report.
            Outcome::PeerGone => match poll(true)? {
                Some(rec) => Ok(rec),
                None => Err(disconnected(op, shared, "sender")),
            },
        }
    }

    /// The wake line this end sleeps on (for `poll` and `select`).
    pub(crate) fn data_wake(&self) -> &super::ring::Wake {
        &self.shared.header().data_wake.0
    }

    /// The channel, for errors.
    pub(crate) fn object(&self) -> Object {
        self.shared.obj()
    }

    /// Whether a receive would not wait now: a message is there, the sender closed
    /// its end, or the shared memory is corrupted (the receive reports it). Consumes
    /// nothing.
    pub(crate) fn is_ready(&mut self) -> bool {
        let h = self.shared.header();
        match self.cons.peek(&self.ring, &h.head.0) {
            Ok(Some(_)) | Err(_) => true,
            // Acquire pairs with the Release of the close (as in `next_slow`).
            Ok(None) => h.tx.0.state.load(Ordering::Acquire) == ROLE_CLOSED,
        }
    }

    #[inline(always)]
    fn finish(&mut self, rec: Record) {
        let h = self.shared.header();
        self.cons.release(&h.head.0, rec);
        wait::notify(&h.space_wake.0);
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let h = self.shared.header();
        close_role(&h.rx.0, self.pid, &h.space_wake.0);
    }
}

/// A received message, read where it lies in the ring; freed when dropped.
///
/// The bytes are in memory the sender's process maps, so they are offered as copies
/// ([`read_at`](Self::read_at), [`to_vec`](Self::to_vec)) and as a raw pointer; see
/// [`as_slice`](Self::as_slice) for a slice under a stated contract.
#[must_use = "dropping the guard frees the message at once, unread"]
pub struct RecvGuard<'a> {
    receiver: &'a mut Receiver,
    rec: Record,
}

impl fmt::Debug for RecvGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvGuard").field("position", &self.rec.pos).field("len", &self.rec.len).finish()
    }
}

impl RecvGuard<'_> {
    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.rec.len as usize
    }

    /// Whether the message is empty.
    pub fn is_empty(&self) -> bool {
        self.rec.len == 0
    }

    /// Copies `buf.len()` bytes of the message from `offset` into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        match offset.checked_add(buf.len()) {
            Some(end) if end as u64 <= self.rec.len => {
                self.receiver.ring.read(self.rec.off + offset as u64, buf);
                Ok(())
            }
            _ => Err(Error::new("RecvGuard::read_at", self.receiver.shared.obj(), ErrorKind::OutOfBounds)
                .with_detail(format!(
                    "{} bytes at offset {offset} exceed the message of {}",
                    buf.len(),
                    self.rec.len
                ))),
        }
    }

    /// The message copied into a new `Vec`.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = vec![0u8; self.rec.len as usize];
        self.receiver.ring.read(self.rec.off, &mut v);
        v
    }

    /// The start of the message, valid for [`len`](Self::len) bytes while the guard
    /// lives. Read through it with raw-pointer reads or copies.
    pub fn as_ptr(&self) -> *const u8 {
        self.receiver.ring.ptr(self.rec.off, self.rec.len as usize)
    }

    /// The message as a slice, without a copy.
    ///
    /// # Safety
    /// While the slice lives, no process writes these bytes. A cooperating sender never
    /// does (it writes only space the receiver has freed); a process that writes the
    /// ring at random breaks the rules of `&[u8]`, which is undefined behaviour. Use
    /// [`read_at`](Self::read_at) or [`to_vec`](Self::to_vec) when the peer is not
    /// trusted.
    #[allow(unsafe_code)]
    pub unsafe fn as_slice(&self) -> &[u8] {
        let p = self.as_ptr();
        // SAFETY: `p` is valid for `len` bytes inside the mapping while the guard lives
        // (the sender cannot reuse the space before the guard releases it); that no
        // process writes them is the caller's promise.
        unsafe { std::slice::from_raw_parts(p, self.rec.len as usize) }
    }

    /// Frees the message now (dropping the guard does the same).
    pub fn release(self) {}
}

impl Drop for RecvGuard<'_> {
    fn drop(&mut self) {
        self.receiver.finish(self.rec);
    }
}

// Keep the trait in scope for `RawRing` methods used above.
#[allow(unused_imports)]
use RingData as _;
