//! The shared memory behind the channel's multi-party patterns (many to one,
//! publish/subscribe, request/response): a memfd or a named POSIX object, mapped once,
//! reached only through headers made of atomics and rings of [`RawRing`].
//!
//! The single-pair channel keeps its own holder (`endpoint::shared::Shared`); this one adds a
//! typed view of any all-atomic `#[repr(C)]` struct at a checked offset, which the
//! patterns' slot tables need.
#![allow(unsafe_code)]

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::ptr::NonNull;

use super::raw::RawRing;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::perm::Mode;
use crate::posix::shm::{Mapping, ShmObject};

/// A type whose every byte lies inside an atomic, so that `&Self` may point into
/// memory that other processes write.
///
/// # Safety
/// The type is `#[repr(C)]`, made only of `AtomicU32`/`AtomicU64` (directly or in
/// such structs), with no padding that is not itself inside an atomic, and every bit
/// pattern is a valid value.
pub(crate) unsafe trait AllAtomic {}

/// A mapped shared-memory object holding one multi-party channel.
pub(crate) struct Segment {
    map: Mapping,
    obj: ShmObject,
    label: String,
}

// SAFETY: the mapping is Send and Sync (copies and atomics only); the object is an fd.
unsafe impl Send for Segment {}
// SAFETY: as above.
unsafe impl Sync for Segment {}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment").field("name", &self.label).field("len", &self.map.len()).finish()
    }
}

impl Segment {
    /// A new memfd of `size` bytes (`memfd_create`), mapped.
    pub(crate) fn create_memfd(what: &'static str, size: u64) -> Result<Segment> {
        let obj = ShmObject::memfd(what, size as usize)?;
        let map = obj.map()?;
        Ok(Segment { map, obj, label: format!("{what} in a memfd") })
    }

    /// A new named POSIX object (`shm_open(name, O_CREAT | O_EXCL)`), mapped.
    pub(crate) fn create_named(what: &'static str, name: &str, size: u64, mode: Mode) -> Result<Segment> {
        let obj = ShmObject::create(name, size as usize, mode)?;
        let map = obj.map()?;
        let label = format!("{what} {}", obj.name().unwrap_or(name));
        Ok(Segment { map, obj, label })
    }

    /// The named POSIX object, mapped.
    pub(crate) fn open_named(what: &'static str, name: &str) -> Result<Segment> {
        let obj = ShmObject::open(name)?;
        let map = obj.map().map_err(|e| {
            if e.kind() == ErrorKind::NotInitialized {
                e.with_detail("the object has no size yet: its creator has not finished; retry")
            } else {
                e
            }
        })?;
        let label = format!("{what} {}", obj.name().unwrap_or(name));
        Ok(Segment { map, obj, label })
    }

    /// The memfd or POSIX object behind `fd`, mapped.
    pub(crate) fn from_fd(what: &'static str, fd: OwnedFd) -> Result<Segment> {
        let obj = ShmObject::from_fd(fd);
        let map = obj.map()?;
        Ok(Segment { map, obj, label: format!("{what} from a descriptor") })
    }

    /// The mapping's length.
    #[inline]
    pub(crate) fn len(&self) -> u64 {
        self.map.len() as u64
    }

    /// The name used in errors.
    pub(crate) fn obj(&self) -> Object {
        Object::Name(self.label.clone())
    }

    /// The label used in `Debug`.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// The descriptor of the object.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.obj.as_fd()
    }

    /// The object.
    pub(crate) fn object(&self) -> &ShmObject {
        &self.obj
    }

    /// The `T` at `off`: checked to lie inside the mapping and to be aligned.
    #[inline]
    pub(crate) fn at<T: AllAtomic>(&self, op: &'static str, off: u64) -> Result<&T> {
        let size = std::mem::size_of::<T>() as u64;
        let base = self.map.as_ptr();
        if off.checked_add(size).is_none_or(|end| end > self.len())
            || (base as usize + off as usize) % std::mem::align_of::<T>() != 0
        {
            return Err(Error::new(op, self.obj(), ErrorKind::Corrupted).with_detail(format!(
                "{size} bytes at offset {off} do not fit the {}-byte mapping",
                self.len()
            )));
        }
        // SAFETY: the range lies inside the mapping (checked above), which lives as long
        // as `self`; the address is aligned for T (checked); T is all atomics
        // (`AllAtomic`), so a shared reference to memory other processes write is sound
        // and every bit pattern is valid.
        Ok(unsafe { &*base.add(off as usize).cast::<T>() })
    }

    /// The ring of `capacity` bytes at `off` (checked to lie inside the mapping and to be
    /// 8-aligned).
    pub(crate) fn ring(&self, op: &'static str, off: u64, capacity: u64) -> Result<RawRing> {
        let base = self.map.as_ptr();
        if off.checked_add(capacity).is_none_or(|end| end > self.len())
            || (base as usize + off as usize) % 8 != 0
        {
            return Err(Error::new(op, self.obj(), ErrorKind::Corrupted).with_detail(format!(
                "a ring of {capacity} bytes at offset {off} does not fit the {}-byte mapping",
                self.len()
            )));
        }
        // SAFETY: `off` is inside the mapping (checked), so the pointer is non-null and in
        // the same allocation; the ring's `capacity` bytes lie inside the mapping, which
        // outlives every RawRing made here because the ends that use them hold an `Arc`
        // of this segment; all access is through atomics and copies.
        unsafe { Ok(RawRing::new(NonNull::new_unchecked(base.add(off as usize)), capacity)) }
    }
}
