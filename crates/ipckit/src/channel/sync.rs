//! The atomics the ring core uses: `std`'s, or `loom`'s when the crate is built with
//! `--cfg ipckit_loom` to model-check the protocol.

#[cfg(ipckit_loom)]
pub(crate) use loom::sync::atomic::{AtomicU32, AtomicU64, fence};
#[cfg(not(ipckit_loom))]
#[allow(unused_imports)]
pub(crate) use std::sync::atomic::{AtomicU32, AtomicU64, fence};

pub(crate) use std::sync::atomic::Ordering;

/// A full memory barrier for the sleep/wake handshake (see `ring::Wake`): orders an
/// earlier store before a later load, as `fence(SeqCst)` does.
///
/// On x86_64 this is a locked read-modify-write of the word at the top of our own
/// stack (`lock or [rsp], 0`, as the Linux kernel's `smp_mb()`), which the processor
/// treats as a full barrier and which costs less than `mfence` on current AMD and
/// Intel parts; the `asm!` is also a compiler barrier (it may touch memory). Elsewhere,
/// and under loom and Miri, it is `fence(SeqCst)`.
#[inline(always)]
pub(crate) fn full_barrier() {
    #[cfg(all(target_arch = "x86_64", not(ipckit_loom), not(miri)))]
    // SAFETY: the instruction reads the 4 bytes at the stack pointer and writes the same
    // value back atomically; that memory belongs to this thread's stack, which is
    // mapped and writable, and its value does not change.
    #[allow(unsafe_code)]
    unsafe {
        std::arch::asm!("lock or dword ptr [rsp], 0", options(preserves_flags))
    };
    #[cfg(not(all(target_arch = "x86_64", not(ipckit_loom), not(miri))))]
    fence(Ordering::SeqCst);
}
