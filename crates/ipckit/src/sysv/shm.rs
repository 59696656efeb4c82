//! System V shared memory: `shmget`, `shmat`, `shmdt`, `shmctl`.
//!
//! A segment is a block of memory kept by the kernel; each process that attaches it
//! ([`ShmSegment::attach`]) sees the same bytes at some address of its own. It is the
//! fastest way to share data, and the most delicate: any process attached read-write
//! can change any byte at any moment.
//!
//! For that reason an [`Attachment`] never hands out `&[u8]` or `&mut [u8]` into the
//! segment: Rust assumes the bytes behind such a reference do not change while it
//! lives, which another process can break at will. Instead it offers:
//! - bounds-checked **copies** in and out at an offset ([`Attachment::read_at`],
//!   [`Attachment::write_at`]);
//! - **atomic** views of aligned words ([`Attachment::atomic_u64`] and friends), the
//!   right tool for counters, flags and indices shared between processes;
//! - the raw pointer ([`Attachment::as_ptr`]), for code that brings its own rules.
//!
//! ```
//! use std::sync::atomic::Ordering;
//! use ipckit::{Key, Mode};
//! use ipckit::sysv::shm::ShmSegment;
//!
//! let mut seg = ShmSegment::create(Key::PRIVATE, 4096, Mode::OWNER_RW)?;
//! seg.set_remove_on_drop(true)?;
//! let mem = seg.attach()?;
//! mem.write_at(8, b"hello")?;
//! let mut out = [0u8; 5];
//! mem.read_at(8, &mut out)?;
//! assert_eq!(&out, b"hello");
//!
//! mem.atomic_u64(0)?.fetch_add(1, Ordering::SeqCst);
//! assert_eq!(mem.load_u64(0, Ordering::SeqCst)?, 1);
//!
//! // Out of bounds is an error, not a crash.
//! assert!(mem.write_at(4094, b"toolong").is_err());
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! A segment removed while attached ([`ShmSegment::remove`]) stays usable by those
//! attached; the kernel frees it after the last detach. `ipcs` shows it with the key
//! `0x00000000` and the status `dest`.
//!
//! References: [shmget(2)](https://man7.org/linux/man-pages/man2/shmget.2.html),
//! [shmop(2)](https://man7.org/linux/man-pages/man2/shmop.2.html),
//! [shmctl(2)](https://man7.org/linux/man-pages/man2/shmctl.2.html).

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

pub use super::StatAccess;
use super::{Create, Ownership, Update, get_id, id_error};
use crate::error::{Error, ErrorKind, Object, Result};
use crate::key::Key;
use crate::limits::Limit;
use crate::perm::Mode;
use crate::region::Region;
use crate::sys::{self, Errno, shm::ShmCmd};
pub use crate::sysv_types::shm::{ShmInfo, ShmLimits, ShmStat};

/// Extra `shmget` flags for a new segment.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct ShmFlags {
    /// `SHM_HUGETLB`: back the segment with huge pages (the size must be a multiple of
    /// the huge page size, and huge pages must be reserved).
    pub hugetlb: bool,
    /// `SHM_NORESERVE`: do not reserve swap space for the segment.
    pub noreserve: bool,
}

/// How to attach a segment (`shmat` flags).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachFlags {
    /// `SHM_RDONLY`: attach read-only; writing through the mapping faults, and the
    /// [`Attachment`] refuses writes with [`ErrorKind::ReadOnly`].
    pub read_only: bool,
    /// `SHM_EXEC`: allow executing the segment's contents.
    pub exec: bool,
}

/// `shmctl(0, IPC_INFO)`: the limits, and the highest index in use.
pub fn limits() -> Result<(i32, ShmLimits)> {
    sys::shm::ipc_info().map_err(|e| Error::sys("shmctl(IPC_INFO)", Object::None, e))
}

/// `shmctl(0, SHM_INFO)`: the usage, and the highest index in use.
pub fn info() -> Result<(i32, ShmInfo)> {
    sys::shm::shm_info().map_err(|e| Error::sys("shmctl(SHM_INFO)", Object::None, e))
}

/// `shmctl(index, SHM_STAT_ANY)` (or `SHM_STAT`): the id and status of the segment at a
/// slot of the kernel's table. Empty slots give [`ErrorKind::NotFound`].
pub fn stat_index(index: i32, access: StatAccess) -> Result<(i32, ShmStat)> {
    sys::shm::stat_index(index, access == StatAccess::Any).map_err(|e| {
        let err = Error::sys("shmctl", Object::Name(format!("index {index}")), e);
        if e == Errno::EINVAL { err.with_kind(ErrorKind::NotFound) } else { err }
    })
}

/// A handle on a System V shared-memory segment (its id, not a mapping: see
/// [`attach`](Self::attach)).
pub struct ShmSegment {
    key: Key,
    id: i32,
    size: u64,
    own: Ownership,
}

impl fmt::Debug for ShmSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmSegment")
            .field("key", &self.key)
            .field("id", &self.id)
            .field("size", &self.size)
            .field("created", &self.own.created())
            .finish()
    }
}

impl ShmSegment {
    /// `shmget(key, size, flags)`—Gets a segment as `how` says. `size` is the size of a
    /// new segment; when opening, the least size accepted (0 accepts any).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when opening a key no segment has; [`ErrorKind::AlreadyExists`]
    /// when creating exclusively a key that is taken; [`ErrorKind::PermissionDenied`] when
    /// the segment's mode refuses the caller; [`ErrorKind::LimitExceeded`] for a size above
    /// `SHMMAX` or beyond what `SHMALL` leaves (`/proc/sys/kernel/shmmax`, `shmall`), or
    /// when the system already has `SHMMNI` segments; [`ErrorKind::InvalidInput`] when an
    /// existing segment is smaller than `size`.
    #[doc(alias = "shmget")]
    pub fn get(key: Key, how: Create, size: usize, mode: Mode, flags: ShmFlags) -> Result<ShmSegment> {
        if size == 0 && how != Create::Open {
            return Err(Error::new("shmget", Object::Key(key), ErrorKind::InvalidInput)
                .with_detail("a new segment needs a size of at least 1 byte"));
        }
        let extra = if flags.hugetlb { sys::shm::SHM_HUGETLB } else { 0 }
            | if flags.noreserve { sys::shm::SHM_NORESERVE } else { 0 };
        let explain = |e: Errno| match e {
            Errno::EINVAL if size as u64 > Limit::ShmMax.current().unwrap_or(u64::MAX) => {
                Some((Limit::ShmMax, format!("a segment of {size} bytes")))
            }
            Errno::ENOSPC => Some((
                Limit::ShmAll,
                format!("a segment of {size} bytes (or shmmni, the number of segments)"),
            )),
            _ => None,
        };
        let (id, created) =
            get_id("shmget", key, how, mode, |f| sys::shm::shmget(key.raw(), size, f | extra), explain)
                .map_err(|e| {
                    if e.raw_os_error() == Some(Errno::EINVAL.0) && e.kind() != ErrorKind::LimitExceeded {
                        e.with_detail(format!(
                            "the existing segment is smaller than the {size} bytes asked for"
                        ))
                    } else {
                        e
                    }
                })?;
        let mut seg = ShmSegment { key, id, size: size as u64, own: Ownership::new(created) };
        match seg.stat() {
            Ok(st) => seg.size = st.size,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            Err(e) => return Err(e),
        }
        Ok(seg)
    }

    /// Creates a new segment of `size` bytes (zero-filled); fails if `key` is taken.
    pub fn create(key: Key, size: usize, mode: Mode) -> Result<ShmSegment> {
        ShmSegment::get(key, Create::Exclusive, size, mode, ShmFlags::default())
    }

    /// Opens the existing segment with this key.
    pub fn open(key: Key) -> Result<ShmSegment> {
        ShmSegment::get(key, Create::Open, 0, Mode::OWNER_RW, ShmFlags::default())
    }

    /// Opens the segment with this key, creating it with `size` and `mode` if missing.
    pub fn open_or_create(key: Key, size: usize, mode: Mode) -> Result<ShmSegment> {
        ShmSegment::get(key, Create::OpenOrCreate, size, mode, ShmFlags::default())
    }

    /// A handle on the segment with this id, checked to exist. Not owned.
    pub fn from_id(id: i32) -> Result<ShmSegment> {
        match sys::shm::stat(id) {
            Ok(st) => Ok(ShmSegment { key: st.perm.key, id, size: st.size, own: Ownership::new(false) }),
            Err(Errno::EACCES) => {
                Ok(ShmSegment { key: Key::PRIVATE, id, size: 0, own: Ownership::new(false) })
            }
            Err(e) => Err(id_error("shmctl(IPC_STAT)", Key::PRIVATE, id, e)),
        }
    }

    /// The segment's id.
    pub fn id(&self) -> i32 {
        self.id
    }

    /// The key the handle was obtained with.
    pub fn key(&self) -> Key {
        self.key
    }

    /// The segment's size in bytes (0 if unknown: opened by id without read access).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether this handle created the segment.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    /// Asks for the segment to be removed when this handle is dropped (only in the
    /// process that made the handle). Attachments keep working until detached.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", self.obj())
    }

    fn obj(&self) -> Object {
        Object::KeyId(self.key, self.id)
    }

    fn err(&self, op: &'static str, e: Errno) -> Error {
        id_error(op, self.key, self.id, e)
    }

    /// `shmat(id, NULL, 0)`—Attaches the segment read-write.
    #[doc(alias = "shmat")]
    pub fn attach(&self) -> Result<Attachment> {
        self.attach_with(AttachFlags::default())
    }

    /// `shmat(id, NULL, SHM_RDONLY)`—Attaches the segment read-only.
    #[doc(alias = "SHM_RDONLY")]
    pub fn attach_read_only(&self) -> Result<Attachment> {
        self.attach_with(AttachFlags { read_only: true, ..AttachFlags::default() })
    }

    /// `shmat(id, NULL, flags)`—Attaches the segment at an address the kernel picks.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] when the segment's mode refuses the access asked
    /// for; [`ErrorKind::LimitExceeded`] when the process's address space is full or limited
    /// (`RLIMIT_AS`).
    #[allow(unsafe_code)]
    pub fn attach_with(&self, flags: AttachFlags) -> Result<Attachment> {
        // SAFETY: a null address lets the kernel pick a free range, so no existing
        // mapping is touched.
        unsafe { self.attach_raw(std::ptr::null(), flags, 0) }
    }

    /// `shmat(id, addr, flags)`—Attaches at a chosen address. With `round`, the
    /// address is rounded down to a multiple of `SHMLBA` (`SHM_RND`); with `remap`,
    /// any existing mapping in the range is replaced (`SHM_REMAP`).
    ///
    /// # Safety
    /// The range `addr .. addr + size` must not hold memory the program uses: with
    /// `remap`, whatever was mapped there is silently replaced.
    #[allow(unsafe_code)]
    pub unsafe fn attach_at(
        &self,
        addr: *const u8,
        flags: AttachFlags,
        round: bool,
        remap: bool,
    ) -> Result<Attachment> {
        let extra = if round { sys::shm::SHM_RND } else { 0 } | if remap { sys::shm::SHM_REMAP } else { 0 };
        // SAFETY: forwarded to the caller.
        unsafe { self.attach_raw(addr, flags, extra) }
    }

    #[allow(unsafe_code)]
    unsafe fn attach_raw(&self, addr: *const u8, flags: AttachFlags, extra: i32) -> Result<Attachment> {
        let raw = extra
            | if flags.read_only { sys::shm::SHM_RDONLY } else { 0 }
            | if flags.exec { sys::shm::SHM_EXEC } else { 0 };
        // Size the attachment from the kernel, not from what we were told.
        let size = self
            .stat()
            .map(|st| st.size)
            .or_else(|e| if e.kind() == ErrorKind::PermissionDenied { Ok(self.size) } else { Err(e) })?;
        // SAFETY: the caller guarantees `addr` is null or free to map over.
        let ptr = unsafe { sys::shm::shmat(self.id, addr, raw) }.map_err(|e| {
            let err = self.err("shmat", e);
            if e == Errno::EACCES {
                err.with_detail(if flags.read_only {
                    "the segment's permissions refuse reading"
                } else {
                    "the segment's permissions refuse read-write access (try read-only)"
                })
            } else if e == Errno::ENOMEM {
                err.with_detail(crate::region::explain_enomem(size))
            } else {
                err
            }
        })?;
        let len =
            usize::try_from(size).map_err(|_| Error::new("shmat", self.obj(), ErrorKind::OutOfBounds))?;
        // SAFETY: shmat mapped `len` bytes (the segment's size) at `ptr`, writable
        // unless SHM_RDONLY; they stay mapped until the attachment's drop detaches them.
        let region = unsafe {
            Region::new(
                ptr,
                len,
                flags.read_only,
                "segment",
                "the segment is attached read-only (SHM_RDONLY)",
            )
        };
        Ok(Attachment { region, id: self.id })
    }

    /// `IPC_STAT`—The segment's status.
    #[doc(alias = "IPC_STAT")]
    pub fn stat(&self) -> Result<ShmStat> {
        sys::shm::stat(self.id).map_err(|e| self.err("shmctl(IPC_STAT)", e))
    }

    /// `IPC_SET`—Changes owner or permissions.
    #[doc(alias = "IPC_SET")]
    pub fn update(&self, update: &Update) -> Result<()> {
        sys::shm::set(self.id, update).map_err(|e| self.err("shmctl(IPC_SET)", e))
    }

    /// `IPC_RMID`—Removes the segment. If processes are attached it lives on, marked
    /// for destruction, until the last one detaches.
    #[doc(alias = "IPC_RMID")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        sys::shm::ctl(self.id, ShmCmd::Rmid).map_err(|e| self.err("shmctl(IPC_RMID)", e))
    }

    /// `SHM_LOCK`—Keeps the segment's pages in memory (no swapping). Needs privilege
    /// or a sufficient `RLIMIT_MEMLOCK`.
    #[doc(alias = "SHM_LOCK")]
    pub fn lock(&self) -> Result<()> {
        sys::shm::ctl(self.id, ShmCmd::Lock).map_err(|e| self.err("shmctl(SHM_LOCK)", e))
    }

    /// `SHM_UNLOCK`—Allows the segment's pages to be swapped again.
    #[doc(alias = "SHM_UNLOCK")]
    pub fn unlock(&self) -> Result<()> {
        sys::shm::ctl(self.id, ShmCmd::Unlock).map_err(|e| self.err("shmctl(SHM_UNLOCK)", e))
    }
}

impl Drop for ShmSegment {
    /// Removes the segment if [`set_remove_on_drop`](Self::set_remove_on_drop) asked
    /// for it; errors are ignored (call [`remove`](Self::remove) to see them).
    fn drop(&mut self) {
        if self.own.should_remove() {
            let _ = sys::shm::ctl(self.id, ShmCmd::Rmid);
        }
    }
}

/// A segment attached to this process; detached on drop (`shmdt`).
///
/// The memory may change at any moment, in or out of this process, so it is only
/// reachable through copies, atomics and the raw pointer (see the
/// [module documentation](self)). An attachment stays valid after the segment is
/// removed, and it is independent of the [`ShmSegment`] handle it came from.
pub struct Attachment {
    region: Region,
    id: i32,
}

// SAFETY: the attachment is a pointer to shared memory plus its length; every access
// goes through copies or atomics, which are as valid from any thread as from any
// process, and detaching happens once, in `Drop`.
#[allow(unsafe_code)]
unsafe impl Send for Attachment {}
// SAFETY: as above; `&Attachment` only allows copies and atomic access.
#[allow(unsafe_code)]
unsafe impl Sync for Attachment {}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment")
            .field("id", &self.id)
            .field("addr", &self.region.ptr())
            .field("len", &self.region.len())
            .field("read_only", &self.region.is_read_only())
            .finish()
    }
}

impl Attachment {
    /// The size of the attached segment in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Whether the segment has no bytes (never true: segments are at least 1 byte).
    pub fn is_empty(&self) -> bool {
        self.region.len() == 0
    }

    /// Whether the attachment is read-only.
    pub fn is_read_only(&self) -> bool {
        self.region.is_read_only()
    }

    /// The id of the attached segment.
    pub fn segment_id(&self) -> i32 {
        self.id
    }

    /// The start of the mapping.
    ///
    /// Reading or writing through it is `unsafe` and up to the caller: other processes
    /// may write the memory at any time, so never make a `&T` or `&[u8]` of it (use
    /// atomics or copies); stay inside [`len`](Self::len); never write to a read-only
    /// attachment (the process would get `SIGSEGV`); and do not use the pointer after
    /// the attachment is dropped.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.ptr().as_ptr()
    }

    fn obj(&self) -> Object {
        Object::Id(self.id)
    }

    /// Copies `buf.len()` bytes from offset `offset` of the segment into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.region.read_at(&|| self.obj(), offset, buf)
    }

    /// Copies `len` bytes from offset `offset` into a new `Vec`.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.region.read_vec(&|| self.obj(), offset, len)
    }

    /// Copies `data` into the segment at offset `offset`.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.region.write_at(&|| self.obj(), offset, data)
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.region.fill(&|| self.obj(), offset, len, byte)
    }

    /// An atomic view of the aligned 8 bytes at `offset`: the safe way to share a
    /// counter or flag with other processes. Read-write attachments only (an atomic
    /// write through a read-only mapping would fault).
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        self.region.atomic_u64(&|| self.obj(), offset)
    }

    /// An atomic view of the aligned 4 bytes at `offset` (read-write attachments only).
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        self.region.atomic_u32(&|| self.obj(), offset)
    }

    /// Atomically loads the aligned 8 bytes at `offset` (works on read-only
    /// attachments too).
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Result<u64> {
        self.region.load_u64(&|| self.obj(), offset, order)
    }

    /// Atomically loads the aligned 4 bytes at `offset` (works on read-only
    /// attachments too).
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32> {
        self.region.load_u32(&|| self.obj(), offset, order)
    }

    /// `shmdt`—Detaches now, reporting any error.
    #[doc(alias = "shmdt")]
    pub fn detach(self) -> Result<()> {
        let (ptr, id) = (self.region.ptr(), self.id);
        std::mem::forget(self);
        // SAFETY: `ptr` came from shmat and `self` (the only user) is gone.
        #[allow(unsafe_code)]
        unsafe { sys::shm::shmdt(ptr) }.map_err(|e| Error::sys("shmdt", Object::Id(id), e))
    }
}

impl Drop for Attachment {
    /// Detaches. An error (impossible for a mapping made by `shmat`) is ignored.
    fn drop(&mut self) {
        // SAFETY: `ptr` came from shmat and nothing can use it after drop.
        #[allow(unsafe_code)]
        let _ = unsafe { sys::shm::shmdt(self.region.ptr()) };
    }
}
