//! The shared object: the memory that holds a channel, and the [`Channel`] handle that
//! creates or opens it and hands out its two ends.
//!
//! Contract:
//! - [`Shared`] owns the mapping (System V attachment or POSIX/memfd mapping) for as
//!   long as any end or handle holds it (an `Arc`), and the [`Geometry`] checked once
//!   at creation or open; sizes are never read from shared memory again.
//! - The header is reached only as atomics ([`Header`]); the ring only through
//!   [`RawRing`] (atomic words and copies), never as `&[u8]`.
//! - Each end is claimed once with a compare-and-swap on its role line ([`claim`]),
//!   which records the claiming process (pid and start time) for liveness checks, and
//!   closed once by the process that claimed it ([`close_role`]), which wakes the peer.
//! - The error builders here name the channel and say what happened in library terms.

use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::Arc;

use super::super::layout::{
    self, DATA_OFFSET, Geometry, Header, Invalid, ROLE_CLOSED, ROLE_CONNECTED, ROLE_FREE, Role,
};
use super::super::peer;
use super::super::raw::RawRing;
use super::super::ring::{Consumer, Fault, Producer, RESTART_MIN, Wake};
use super::super::sync::Ordering;
use super::super::wait;
use super::{ChannelConfig, Receiver, Sender};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::perm::Mode;
use crate::posix::shm::{Mapping, ShmObject};
use crate::sysv::shm::{Attachment, ShmSegment};

/// The memory that holds a channel, kept mapped while any end uses it.
enum Backing {
    SysV(Attachment),
    Mapped(Mapping),
}

/// What both ends share: the mapping, its checked geometry, and a name for errors.
pub(super) struct Shared {
    _backing: Backing,
    base: NonNull<u8>,
    pub(super) geometry: Geometry,
    pub(super) label: String,
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
    pub(super) fn header(&self) -> &Header {
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
    pub(super) fn ring(&self) -> RawRing {
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

    pub(super) fn obj(&self) -> Object {
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
        // Large messages start over at the beginning of a drained ring: cache-warm.
        let prod = Producer::new(g.capacity, g.align).restart_from(RESTART_MIN);
        Ok(Sender::new(Arc::clone(&self.shared), prod, me))
    }

    /// Takes the receiving end over from a process that took it and died without
    /// closing it (killed, or one that left the end open on purpose, as the NATS
    /// bridge's exporter does): the messages its predecessor had not freed are
    /// received again, from the first one.
    ///
    /// An end nobody has taken is simply taken.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AlreadyExists`] while the holder's process lives, when the end
    /// was closed (a closed end is never reopened), or when another process is
    /// taking it over at the same moment. Across pid namespaces a holder cannot be
    /// seen to die, and is taken for alive.
    ///
    /// The sender's count of published messages then serves as the count of messages
    /// taken before, so the check for messages lost to damage misses up to as many
    /// messages as the ring held at the takeover.
    pub fn take_over_receiver(&self) -> Result<Receiver> {
        let h = self.shared.header();
        let Some(me) = take_over(&self.shared, &h.rx.0, &h.data_wake.0, "receiver")? else {
            return self.receiver();
        };
        let g = self.shared.geometry;
        // Acquire pairs with the Release stores of the consumer that stopped.
        let head = h.head.0.load(Ordering::Acquire);
        let published = h.tx.0.count.load(Ordering::Acquire);
        let cons = Consumer::resume(head, published, g.capacity, g.max_message, g.align);
        Ok(Receiver::new(Arc::clone(&self.shared), cons, me))
    }

    /// Takes the sending end over from a process that took it and died without
    /// closing it (killed, or one that left the end open on purpose, as the NATS
    /// bridge's importer does). Every message the dead sender published stays, and
    /// the new sender goes on after the last one. An end nobody has taken is simply
    /// taken.
    ///
    /// The rules are those of [`take_over_receiver`](Self::take_over_receiver): only
    /// when the recorded holder (pid and start time) is gone, claimed with a
    /// compare-and-swap of the recorded pid so that one taker wins, never a closed
    /// end.
    ///
    /// # Why the ring is consistent afterwards
    ///
    /// The sender's position is not in shared memory; the new sender finds it by
    /// walking the records from the receiver's position to the first one that is not
    /// published. A record is published by one store, its stamp, made after its
    /// length and payload (and the stamp names the record's position, so bytes of
    /// older laps never pass for one). A sender killed in the middle of a send left
    /// either a stamped, whole record (the receiver gets it, and the walk passes
    /// it) or an unstamped one, which the receiver has not seen and never will: the
    /// new sender's first message is written over it. A padding record left just
    /// before an unstamped message is skipped by both, as usual. The walk only
    /// reads, and nothing but a sender writes records, so the receiver going on at the
    /// same time changes nothing it relies on.
    ///
    /// To tell whether the last message a dead sender was sending went out, note
    /// its [`SendLoan::position`](super::SendLoan::position) before publishing it: after
    /// the take-over it was published if and only if the new sender's
    /// [`position`](Sender::position) is past it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AlreadyExists`] as for [`take_over_receiver`](Self::take_over_receiver);
    /// [`ErrorKind::Corrupted`] if the walk meets records a sound ring cannot hold.
    /// The count of published messages is stored after each message, so a sender
    /// killed between the two leaves it one short, and the receiver's check for
    /// messages lost to damage may then miss one.
    pub fn take_over_sender(&self) -> Result<Sender> {
        let shared = &self.shared;
        let h = shared.header();
        let Some(me) = take_over(shared, &h.tx.0, &h.space_wake.0, "sender")? else {
            return self.sender();
        };
        let g = shared.geometry;
        let prod =
            Producer::resume(&shared.ring(), &h.head.0, &h.tx.0.count, g.capacity, g.max_message, g.align)
                .map_err(|f| corrupted("channel take over", shared, f))?
                .restart_from(RESTART_MIN);
        Ok(Sender::new(Arc::clone(shared), prod, me))
    }

    /// Takes the receiving end. Fails with [`ErrorKind::AlreadyExists`] if a process
    /// took it before.
    pub fn receiver(&self) -> Result<Receiver> {
        let me = claim(&self.shared, &self.shared.header().rx.0, "receiver")?;
        let g = self.shared.geometry;
        let cons = Consumer::new(g.capacity, g.max_message, g.align);
        Ok(Receiver::new(Arc::clone(&self.shared), cons, me))
    }
}

/// Claims an end from a holder that is gone: `None` if nobody took it yet (then
/// the caller claims it as usual), this process's pid once it holds it. A poller the
/// dead holder registered on `wake` (the line the end sleeps on) is dropped, so that
/// the new holder can register its own.
fn take_over(shared: &Shared, role: &Role, wake: &Wake, which: &str) -> Result<Option<u32>> {
    let op = "channel take over";
    match role.state.load(Ordering::Acquire) {
        ROLE_FREE => return Ok(None),
        ROLE_CLOSED => {
            let pid = role.pid.load(Ordering::Acquire);
            return Err(Error::new(op, shared.obj(), ErrorKind::AlreadyExists).with_detail(format!(
                "the {which} end was taken (by pid {pid}) and closed; a closed end is never reopened"
            )));
        }
        _ => {}
    }
    let pid = role.pid.load(Ordering::Acquire);
    if pid == 0 || !peer::is_gone(role) {
        return Err(Error::new(op, shared.obj(), ErrorKind::AlreadyExists)
            .with_detail(format!("the {which} end is held by pid {pid}, which is alive")));
    }
    // AcqRel: one taker wins; its record below follows the claim, and what the
    // dead holder stored before it died comes before what we read next.
    if role.pid.compare_exchange(pid, 0, Ordering::AcqRel, Ordering::Acquire).is_err() {
        return Err(Error::new(op, shared.obj(), ErrorKind::AlreadyExists)
            .with_detail(format!("another process is taking the {which} end over")));
    }
    let me = peer::current();
    peer::record(role, me);
    // Only the holder of the end registers on its line, and it is gone: nobody else
    // writes the slot now. Release: a waker that sees 0 no longer needs the fields.
    let poll = &wake.poll;
    let token = poll.token.load(Ordering::Acquire);
    if token != 0 && poll.pid.load(Ordering::Relaxed) == pid {
        let _ = poll.token.compare_exchange(token, 0, Ordering::Release, Ordering::Relaxed);
    }
    Ok(Some(me.pid))
}

/// Claims an end: its role line goes from free to connected, with this process's
/// identity; fails if the end was ever taken.
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

pub(super) fn disconnected(op: &'static str, shared: &Shared, who: &str) -> Error {
    Error::new(op, shared.obj(), ErrorKind::Disconnected)
        .with_detail(format!("the {who} closed its end, or its process died"))
}

pub(super) fn corrupted(op: &'static str, shared: &Shared, f: Fault) -> Error {
    Error::new(op, shared.obj(), ErrorKind::Corrupted).with_detail(f.to_string())
}

pub(super) fn too_large(op: &'static str, shared: &Shared, len: usize) -> Error {
    Error::new(op, shared.obj(), ErrorKind::MessageTooLarge).with_detail(format!(
        "a message of {len} bytes exceeds the channel's largest message of {} bytes",
        shared.geometry.max_message
    ))
}

/// Closes `role` if this process holds it, and wakes the other side.
pub(super) fn close_role(role: &Role, pid: u32, wake: &Wake) {
    if std::process::id() != pid {
        return; // a copy in a forked child: the end belongs to the parent
    }
    // Release pairs with the peer's Acquire of the state: all we published comes first.
    role.state.store(ROLE_CLOSED, Ordering::Release);
    wait::notify_always(wake);
}
