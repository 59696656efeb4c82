//! POSIX shared memory (`shm_open`, `shm_unlink`) and memfds (`memfd_create`),
//! mapped with `mmap(MAP_SHARED)`.
//!
//! A [`ShmObject`] is a file of memory: a named one in `/dev/shm` that any process can
//! open by name, or an anonymous **memfd** that is shared by handing its descriptor to
//! another process (across `fork`, or over a Unix socket). [`ShmObject::map`] maps it;
//! the [`Mapping`] never hands out `&[u8]` into memory another process can change at
//! any moment: it offers bounds-checked copies, atomics and the raw pointer, as
//! [`Attachment`](crate::sysv::shm::Attachment) does for System V segments.
//!
//! ```
//! use std::sync::atomic::Ordering;
//! use ipckit::Mode;
//! use ipckit::posix::shm::ShmObject;
//!
//! let name = format!("/ipckit-doc-shm-{}", std::process::id());
//! let mut obj = ShmObject::create(&name, 4096, Mode::OWNER_RW)?;
//! obj.set_remove_on_drop(true)?;     // unlink the name when this handle goes
//! let map = obj.map()?;
//! map.write_at(16, b"hello")?;
//!
//! let other = ShmObject::open(&name)?.map()?;   // as another process would
//! let mut out = [0u8; 5];
//! other.read_at(16, &mut out)?;
//! assert_eq!(&out, b"hello");
//! other.atomic_u64(0)?.fetch_add(1, Ordering::SeqCst);
//! assert_eq!(map.load_u64(0, Ordering::SeqCst)?, 1);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [shm_open(3)](https://man7.org/linux/man-pages/man3/shm_open.3.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [mmap(2)](https://man7.org/linux/man-pages/man2/mmap.2.html).

use std::ffi::CString;
use std::fmt;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::perm::Mode;
use crate::region::Region;
use crate::sys::{self, Errno, posix_shm::OpenHow};
use crate::sysv::Ownership;

/// A POSIX shared-memory object or a memfd, owned through its file descriptor.
pub struct ShmObject {
    fd: OwnedFd,
    name: Option<(String, CString)>,
    own: Ownership,
}

impl fmt::Debug for ShmObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmObject")
            .field("name", &self.name.as_ref().map(|n| &n.0))
            .field("fd", &self.fd)
            .field("created", &self.own.created())
            .finish()
    }
}

impl ShmObject {
    /// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode)` then `ftruncate(size)`—Creates
    /// a new named object of `size` zero bytes; fails if the name is taken.
    ///
    /// The object gets exactly `mode`: `shm_open` applies the process umask (022 turns
    /// 0666 into 0644), so the mode is set again with `fchmod` after creation.
    /// If that or sizing fails, the new name is unlinked again: nothing is left behind.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::AlreadyExists`] when the name is taken; [`ErrorKind::InvalidInput`] for
    /// a bad name; [`ErrorKind::PermissionDenied`] when `/dev/shm` refuses the caller;
    /// [`ErrorKind::LimitExceeded`] when the system is out of descriptors. `/dev/shm` is a
    /// tmpfs that reserves nothing: a `size` beyond what is free there is accepted, and
    /// touching the pages that do not fit fails later (`SIGBUS`); compare with
    /// [`fs_size`](Self::fs_size) first.
    #[doc(alias = "shm_open")]
    pub fn create(name: &str, size: usize, mode: Mode) -> Result<ShmObject> {
        let (full, c) = super::c_name("shm_open", name)?;
        let fd = sys::posix_shm::shm_open(&c, OpenHow::CreateExclusive, false, mode.bits())
            .map_err(|e| open_error(&full, e))?;
        let obj = ShmObject { fd, name: Some((full, c)), own: Ownership::new(true) };
        let sized = sys::mman::fchmod(obj.fd.as_fd(), mode.bits())
            .map_err(|e| Error::sys("fchmod", obj.obj(), e))
            .and_then(|()| obj.set_len(size));
        if let Err(e) = sized {
            let _ = sys::posix_shm::shm_unlink(&obj.name.as_ref().expect("named").1);
            return Err(e);
        }
        Ok(obj)
    }

    /// `statvfs("/dev/shm")`—The size of the file system named objects live in: no
    /// object can hold more (writing past it fails, and touching such memory through
    /// a mapping raises `SIGBUS`).
    pub fn fs_size() -> Result<u64> {
        let path = c"/dev/shm";
        sys::mman::fs_size(path).map_err(|e| Error::sys("statvfs", Object::Path("/dev/shm".into()), e))
    }

    /// `shm_open(name, O_RDWR)`—Opens an existing named object for reading and writing.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::NotFound`] when no object has the name;
    /// [`ErrorKind::PermissionDenied`] when its mode refuses reading and writing;
    /// [`ErrorKind::InvalidInput`] for a bad name.
    pub fn open(name: &str) -> Result<ShmObject> {
        ShmObject::open_with(name, false)
    }

    /// `shm_open(name, O_RDONLY)`—Opens an existing named object for reading only; map
    /// it with [`map_read_only`](Self::map_read_only).
    pub fn open_read_only(name: &str) -> Result<ShmObject> {
        ShmObject::open_with(name, true)
    }

    fn open_with(name: &str, read_only: bool) -> Result<ShmObject> {
        let (full, c) = super::c_name("shm_open", name)?;
        let fd =
            sys::posix_shm::shm_open(&c, OpenHow::Open, read_only, 0).map_err(|e| open_error(&full, e))?;
        Ok(ShmObject { fd, name: Some((full, c)), own: Ownership::new(false) })
    }

    /// `memfd_create(name, MFD_CLOEXEC)` then `ftruncate(size)`—Creates an anonymous
    /// memory file of `size` zero bytes. It has no name in any file system (`name`
    /// only shows in `/proc/PID/fd`); share it by `fork`, or by passing the
    /// descriptor. It is freed when the last descriptor and mapping are gone.
    #[doc(alias = "memfd_create")]
    pub fn memfd(name: &str, size: usize) -> Result<ShmObject> {
        let c = CString::new(name).map_err(|_| {
            Error::new("memfd_create", Object::Name(name.to_string()), ErrorKind::InvalidInput)
                .with_detail("a memfd name holds no NUL byte")
        })?;
        let fd = sys::mman::memfd_create(&c)
            .map_err(|e| Error::sys("memfd_create", Object::Name(name.to_string()), e))?;
        let obj = ShmObject { fd, name: None, own: Ownership::new(true) };
        obj.set_len(size)?;
        Ok(obj)
    }

    /// Takes ownership of a descriptor of a shared-memory object or memfd (received
    /// from another process, say). The handle never unlinks anything.
    pub fn from_fd(fd: OwnedFd) -> ShmObject {
        ShmObject { fd, name: None, own: Ownership::new(false) }
    }

    /// The object's name (`/name`), or `None` for a memfd or a descriptor.
    pub fn name(&self) -> Option<&str> {
        self.name.as_ref().map(|n| n.0.as_str())
    }

    /// Whether this handle created the object.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    fn obj(&self) -> Object {
        match &self.name {
            Some((n, _)) => Object::Name(n.clone()),
            None => Object::Fd(std::os::fd::AsRawFd::as_raw_fd(&self.fd)),
        }
    }

    /// `fstat`—The object's size in bytes.
    pub fn len(&self) -> Result<u64> {
        sys::mman::fstat_size_mode(self.fd.as_fd())
            .map(|(s, _)| s)
            .map_err(|e| Error::sys("fstat", self.obj(), e))
    }

    /// Whether the object has no bytes (a fresh `shm_open` before sizing).
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// `fstat`—The object's permission bits.
    pub fn mode(&self) -> Result<Mode> {
        sys::mman::fstat_size_mode(self.fd.as_fd())
            .map(|(_, m)| Mode::new(m))
            .map_err(|e| Error::sys("fstat", self.obj(), e))
    }

    /// `ftruncate(fd, size)`—Sets the object's size; new bytes read as zero.
    #[doc(alias = "ftruncate")]
    pub fn set_len(&self, size: usize) -> Result<()> {
        sys::mman::ftruncate(self.fd.as_fd(), size as u64).map_err(|e| Error::sys("ftruncate", self.obj(), e))
    }

    /// Keeps (`true`) or drops (`false`, the default) the descriptor across `exec`
    /// (`FD_CLOEXEC`), to hand a memfd to a program started with
    /// [`std::process::Command`]. A `fork`ed child inherits it either way.
    pub fn set_inherit_on_exec(&self, inherit: bool) -> Result<()> {
        sys::mman::set_cloexec(self.fd.as_fd(), !inherit)
            .map_err(|e| Error::sys("fcntl(F_SETFD)", self.obj(), e))
    }

    /// Asks for the name to be unlinked when this handle is dropped, in the process
    /// that created it. Mappings stay valid after unlinking. A memfd has no name; the
    /// call is accepted and does nothing.
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        let obj = self.obj();
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", obj)
    }

    /// `shm_unlink(name)`—Removes the name now; the memory lives on while mapped or
    /// open. Does nothing for a memfd.
    #[doc(alias = "shm_unlink")]
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        match &self.name {
            Some((full, c)) => sys::posix_shm::shm_unlink(c).map_err(|e| open_error(full, e)),
            None => Ok(()),
        }
    }

    /// `shm_unlink(name)`—Removes a named object this process holds no handle on.
    pub fn unlink(name: &str) -> Result<()> {
        let (full, c) = super::c_name("shm_unlink", name)?;
        sys::posix_shm::shm_unlink(&c).map_err(|e| open_error(&full, e))
    }

    /// `dup(fd)`—A second descriptor of the same object, to hand to another process.
    pub fn try_clone_fd(&self) -> Result<OwnedFd> {
        self.fd.try_clone().map_err(|e| Error::sys("dup", self.obj(), Errno(e.raw_os_error().unwrap_or(0))))
    }

    /// `mmap(MAP_SHARED, PROT_READ | PROT_WRITE)`—Maps the whole object read-write.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::PermissionDenied`] when the object was opened read-only;
    /// [`ErrorKind::NotInitialized`] for an object of size 0; [`ErrorKind::LimitExceeded`]
    /// when the process's address space is full or limited (`RLIMIT_AS`).
    #[doc(alias = "mmap")]
    pub fn map(&self) -> Result<Mapping> {
        self.map_with(false)
    }

    /// `mmap(MAP_SHARED, PROT_READ)`—Maps the whole object read-only.
    pub fn map_read_only(&self) -> Result<Mapping> {
        self.map_with(true)
    }

    fn map_with(&self, read_only: bool) -> Result<Mapping> {
        let len = self.len()?;
        let len = usize::try_from(len).map_err(|_| Error::new("mmap", self.obj(), ErrorKind::OutOfBounds))?;
        if len == 0 {
            return Err(Error::new("mmap", self.obj(), ErrorKind::NotInitialized)
                .with_detail("the object has a size of 0 bytes (not sized yet with ftruncate)"));
        }
        let ptr = sys::mman::map_shared(self.fd.as_fd(), len, !read_only).map_err(|e| {
            let err = Error::sys("mmap", self.obj(), e);
            match e {
                Errno::EACCES => err.with_detail("the object was opened read-only"),
                Errno::ENOMEM => err.with_detail(crate::region::explain_enomem(len as u64)),
                _ => err,
            }
        })?;
        // SAFETY: mmap mapped `len` bytes at `ptr`, writable unless `read_only`; they
        // stay mapped until the mapping's drop unmaps them.
        #[allow(unsafe_code)]
        let region = unsafe { Region::new(ptr, len, read_only, "mapping", "the mapping is read-only") };
        Ok(Mapping { region, label: self.name().map(str::to_string) })
    }
}

impl AsFd for ShmObject {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for ShmObject {
    /// Unlinks the name if [`set_remove_on_drop`](Self::set_remove_on_drop) asked for
    /// it; errors are ignored (call [`remove`](Self::remove) to see them).
    fn drop(&mut self) {
        if self.own.should_remove()
            && let Some((_, c)) = &self.name
        {
            let _ = sys::posix_shm::shm_unlink(c);
        }
    }
}

fn open_error(name: &str, e: Errno) -> Error {
    let err = Error::sys("shm_open", Object::Name(name.to_string()), e);
    match e {
        Errno::ENOENT => err.with_detail("no shared-memory object has this name"),
        Errno::EEXIST => err.with_detail("a shared-memory object with this name already exists"),
        Errno::EACCES => err.with_detail("the object's permissions refuse this access"),
        _ => err,
    }
}

/// A shared mapping of a [`ShmObject`]; unmapped on drop (`munmap`).
///
/// The memory may change at any moment, in or out of this process, so it is only
/// reached through copies, atomics and the raw pointer. A mapping stays valid after
/// its object is unlinked or its handle dropped.
pub struct Mapping {
    region: Region,
    label: Option<String>,
}

// SAFETY: a pointer to shared memory plus its length; every access goes through copies
// or atomics, which are as valid from any thread as from any process; unmapping
// happens once, in `Drop`.
#[allow(unsafe_code)]
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` allows only copies and atomic access.
#[allow(unsafe_code)]
unsafe impl Sync for Mapping {}

impl fmt::Debug for Mapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("name", &self.label)
            .field("addr", &self.region.ptr())
            .field("len", &self.region.len())
            .field("read_only", &self.region.is_read_only())
            .finish()
    }
}

impl Mapping {
    /// The size of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.region.len()
    }

    /// Always `false`: an empty object cannot be mapped.
    pub fn is_empty(&self) -> bool {
        self.region.len() == 0
    }

    /// Whether the mapping is read-only.
    pub fn is_read_only(&self) -> bool {
        self.region.is_read_only()
    }

    /// The start of the mapping. The same rules as
    /// [`Attachment::as_ptr`](crate::sysv::shm::Attachment::as_ptr) apply: never make a
    /// `&T`/`&[u8]` of it, stay inside [`len`](Self::len), never write through a
    /// read-only mapping, and do not use it after the mapping is dropped.
    pub fn as_ptr(&self) -> *mut u8 {
        self.region.ptr().as_ptr()
    }

    fn obj(&self) -> Object {
        match &self.label {
            Some(n) => Object::Name(n.clone()),
            None => Object::Name("memfd".to_string()),
        }
    }

    /// Copies `buf.len()` bytes from offset `offset` into `buf`.
    pub fn read_at(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.region.read_at(&|| self.obj(), offset, buf)
    }

    /// Copies `len` bytes from offset `offset` into a new `Vec`.
    pub fn read_vec(&self, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.region.read_vec(&|| self.obj(), offset, len)
    }

    /// Copies `data` into the mapping at offset `offset`.
    pub fn write_at(&self, offset: usize, data: &[u8]) -> Result<()> {
        self.region.write_at(&|| self.obj(), offset, data)
    }

    /// Sets `len` bytes at `offset` to `byte`.
    pub fn fill(&self, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.region.fill(&|| self.obj(), offset, len, byte)
    }

    /// An atomic view of the aligned 8 bytes at `offset` (read-write mappings only).
    pub fn atomic_u64(&self, offset: usize) -> Result<&AtomicU64> {
        self.region.atomic_u64(&|| self.obj(), offset)
    }

    /// An atomic view of the aligned 4 bytes at `offset` (read-write mappings only).
    pub fn atomic_u32(&self, offset: usize) -> Result<&AtomicU32> {
        self.region.atomic_u32(&|| self.obj(), offset)
    }

    /// Atomically loads the aligned 8 bytes at `offset` (read-only mappings too).
    pub fn load_u64(&self, offset: usize, order: Ordering) -> Result<u64> {
        self.region.load_u64(&|| self.obj(), offset, order)
    }

    /// Atomically loads the aligned 4 bytes at `offset` (read-only mappings too).
    pub fn load_u32(&self, offset: usize, order: Ordering) -> Result<u32> {
        self.region.load_u32(&|| self.obj(), offset, order)
    }
}

impl Drop for Mapping {
    /// Unmaps. An error (impossible for a mapping made by `mmap`) is ignored.
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` came from mmap and nothing can use them after drop.
        #[allow(unsafe_code)]
        let _ = unsafe { sys::mman::unmap(self.region.ptr(), self.region.len()) };
    }
}
