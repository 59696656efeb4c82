//! The ring's bytes in real memory: bounds-checked copies and atomic words behind a
//! raw pointer. The only `unsafe` of the ring.
#![allow(unsafe_code)]

use std::ptr::NonNull;

use super::ring::RingData;
use super::sync::AtomicU64;

/// `capacity` bytes of memory shared with another process, seen only through
/// [`RingData`]: atomic words, and copies in and out. No `&[u8]` is ever made of it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRing {
    base: NonNull<u8>,
    capacity: u64,
}

// SAFETY: a pointer and a length; all access is atomic or a copy, valid from any thread.
unsafe impl Send for RawRing {}
// SAFETY: as above.
unsafe impl Sync for RawRing {}

impl RawRing {
    /// The ring at `base`.
    ///
    /// # Safety
    /// `base` is 8-aligned and valid for reads and writes of `capacity` bytes for as
    /// long as the `RawRing` (and any copy of it) is used; other users of the memory
    /// (other processes included) access it only through atomics and copies.
    pub(crate) unsafe fn new(base: NonNull<u8>, capacity: u64) -> RawRing {
        debug_assert!(base.as_ptr() as usize % 8 == 0);
        RawRing { base, capacity }
    }

    /// The raw address of `off` (checked to lie inside the ring, `len` bytes long).
    #[inline(always)]
    pub(crate) fn ptr(&self, off: u64, len: usize) -> *mut u8 {
        assert!(off <= self.capacity && len as u64 <= self.capacity - off, "ring access out of bounds");
        // SAFETY: `off` is inside the ring (checked above), so the result stays inside
        // the same allocation.
        unsafe { self.base.as_ptr().add(off as usize) }
    }
}

impl RingData for RawRing {
    #[inline(always)]
    fn word(&self, off: u64) -> &AtomicU64 {
        assert!(off % 8 == 0, "unaligned ring word");
        let p = self.ptr(off, 8);
        // SAFETY: `p` is 8-aligned (base and off are), inside the ring (checked by
        // `ptr`), valid for as long as `self` (the contract of `new`); every bit
        // pattern is a valid u64, and all access through the reference is atomic.
        unsafe { &*p.cast::<AtomicU64>() }
    }

    #[inline(always)]
    fn write(&self, off: u64, src: &[u8]) {
        let p = self.ptr(off, src.len());
        // SAFETY: the range is inside the ring (checked by `ptr`) and writable; `src`
        // is private memory, so the two cannot overlap.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), p, src.len()) }
    }

    #[inline(always)]
    fn read(&self, off: u64, dst: &mut [u8]) {
        let p = self.ptr(off, dst.len());
        // SAFETY: as in `write`; a peer writing the range at the same time can only
        // make the copy see a mix of old and new bytes, never invalid memory.
        unsafe { std::ptr::copy_nonoverlapping(p, dst.as_mut_ptr(), dst.len()) }
    }
}
