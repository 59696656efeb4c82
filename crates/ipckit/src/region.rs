//! Memory another process can write: the one implementation behind
//! [`Attachment`](crate::sysv::shm::Attachment) (System V) and
//! [`Mapping`](crate::posix::shm::Mapping) (POSIX and memfd).
//!
//! Rust assumes the bytes behind a `&[u8]` do not change while the reference lives;
//! another process can break that at will. So a region is only reached through
//! bounds-checked copies, atomic views of aligned words, and the raw pointer.
#![allow(unsafe_code)]

use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use crate::error::{Error, ErrorKind, Object, Result};

/// Explains an `ENOMEM` from `shmat` or `mmap` of `len` bytes: the address-space
/// limit of the process (`RLIMIT_AS`) when that is what refused it, else the kernel's
/// other reasons. Used as the error's detail (the kind stays
/// [`ErrorKind::LimitExceeded`]).
pub(crate) fn explain_enomem(len: u64) -> String {
    let used = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        let line = s.lines().find(|l| l.starts_with("VmSize:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    match (crate::sys::process::address_space_limit(), used) {
        (Ok(Some(limit)), Some(used)) if used.saturating_add(len) > limit => format!(
            "mapping {len} bytes would grow the process's address space from {used} to {} bytes, \
             beyond its limit RLIMIT_AS = {limit} (setrlimit(2), `ulimit -v`)",
            used.saturating_add(len)
        ),
        (Ok(Some(limit)), None) => format!(
            "no room for {len} bytes: the process's address space is limited (RLIMIT_AS = {limit}, \
             setrlimit(2), `ulimit -v`), or the kernel has no free range or memory for page tables"
        ),
        _ => format!(
            "no free range of {len} bytes in the process's address space, or no memory for the \
             kernel's page tables (the process's RLIMIT_AS is not the cause)"
        ),
    }
}

/// A mapped range of shared memory: where it is, how long, whether writable, and the
/// words errors use for it.
#[derive(Debug)]
pub(crate) struct Region {
    ptr: NonNull<u8>,
    len: usize,
    read_only: bool,
    /// What the region is called in errors: "segment", "mapping".
    noun: &'static str,
    /// Why it is read-only, for errors: "the segment is attached read-only (SHM_RDONLY)".
    read_only_why: &'static str,
}

impl Region {
    /// A region of `len` bytes at `ptr`.
    ///
    /// # Safety
    /// `ptr` is valid for reads of `len` bytes (and writes too unless `read_only`) for
    /// as long as the `Region` lives, and the memory is only accessed through copies,
    /// atomics and raw pointers (by this process and others).
    pub(crate) unsafe fn new(
        ptr: NonNull<u8>,
        len: usize,
        read_only: bool,
        noun: &'static str,
        read_only_why: &'static str,
    ) -> Region {
        Region { ptr, len, read_only, noun, read_only_why }
    }

    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_read_only(&self) -> bool {
        self.read_only
    }

    fn check(
        &self,
        op: &'static str,
        obj: &dyn Fn() -> Object,
        offset: usize,
        len: usize,
        write: bool,
    ) -> Result<()> {
        if write && self.read_only {
            return Err(Error::new(op, obj(), ErrorKind::ReadOnly).with_detail(self.read_only_why));
        }
        match offset.checked_add(len) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::new(op, obj(), ErrorKind::OutOfBounds).with_detail(format!(
                "{len} bytes at offset {offset} do not fit the {}-byte {}",
                self.len, self.noun
            ))),
        }
    }

    pub(crate) fn read_at(&self, obj: &dyn Fn() -> Object, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check("read", obj, offset, buf.len(), false)?;
        // SAFETY: the range was checked to lie inside the region, valid for reads as
        // long as `self` (the contract of `new`); `buf` is a distinct, private buffer.
        // Concurrent writers elsewhere can make the copy see a mix of old and new
        // bytes, never invalid memory.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    pub(crate) fn read_vec(&self, obj: &dyn Fn() -> Object, offset: usize, len: usize) -> Result<Vec<u8>> {
        self.check("read", obj, offset, len, false)?;
        let mut v = vec![0u8; len];
        self.read_at(obj, offset, &mut v)?;
        Ok(v)
    }

    pub(crate) fn write_at(&self, obj: &dyn Fn() -> Object, offset: usize, data: &[u8]) -> Result<()> {
        self.check("write", obj, offset, data.len(), true)?;
        // SAFETY: the range was checked to lie inside the region, which is writable
        // (not read-only) and valid as long as `self`; `data` is private memory.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len()) };
        Ok(())
    }

    pub(crate) fn fill(&self, obj: &dyn Fn() -> Object, offset: usize, len: usize, byte: u8) -> Result<()> {
        self.check("write", obj, offset, len, true)?;
        // SAFETY: as in `write_at`.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(offset), byte, len) };
        Ok(())
    }

    fn aligned<T>(
        &self,
        op: &'static str,
        obj: &dyn Fn() -> Object,
        offset: usize,
        write: bool,
    ) -> Result<*mut T> {
        self.check(op, obj, offset, std::mem::size_of::<T>(), write)?;
        let p = self.ptr.as_ptr().wrapping_add(offset);
        if (p as usize) % std::mem::align_of::<T>() != 0 {
            return Err(Error::new(op, obj(), ErrorKind::InvalidInput).with_detail(format!(
                "offset {offset} is not aligned to {} bytes",
                std::mem::align_of::<T>()
            )));
        }
        Ok(p.cast())
    }

    pub(crate) fn atomic_u64(&self, obj: &dyn Fn() -> Object, offset: usize) -> Result<&AtomicU64> {
        let p = self.aligned::<AtomicU64>("atomic_u64", obj, offset, true)?;
        // SAFETY: `p` is aligned, inside the region, writable, and valid as long as
        // `&self`. AtomicU64 has the layout of u64, every bit pattern is valid, and all
        // access through it is atomic, so other processes' concurrent atomic accesses
        // are well-defined.
        Ok(unsafe { &*p })
    }

    pub(crate) fn atomic_u32(&self, obj: &dyn Fn() -> Object, offset: usize) -> Result<&AtomicU32> {
        let p = self.aligned::<AtomicU32>("atomic_u32", obj, offset, true)?;
        // SAFETY: as in `atomic_u64`.
        Ok(unsafe { &*p })
    }

    pub(crate) fn load_u64(&self, obj: &dyn Fn() -> Object, offset: usize, order: Ordering) -> Result<u64> {
        let p = self.aligned::<AtomicU64>("load_u64", obj, offset, false)?;
        // SAFETY: aligned and inside the region; a load never writes, so a read-only
        // mapping is fine.
        Ok(unsafe { (*p).load(order) })
    }

    pub(crate) fn load_u32(&self, obj: &dyn Fn() -> Object, offset: usize, order: Ordering) -> Result<u32> {
        let p = self.aligned::<AtomicU32>("load_u32", obj, offset, false)?;
        // SAFETY: as in `load_u64`.
        Ok(unsafe { (*p).load(order) })
    }
}
