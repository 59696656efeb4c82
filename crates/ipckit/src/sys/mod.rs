//! The thin layer over the C library: the only place in ipckit that names `libc`.
//!
//! Every function here is a direct translation of one system call (or a very small,
//! fixed sequence of them). Each returns [`SysResult`], where the error is the raw
//! [`Errno`]; the public modules add the operation and the object to turn it into an
//! [`crate::Error`]. One file per mechanism, mirroring the public modules.
//!
//! Rules for this layer:
//! - every `unsafe {}` block carries a `// SAFETY:` comment that says why it is sound;
//! - no pointer into memory another process can write escapes as a reference;
//! - nothing here allocates on a hot path unless the call needs it.
#![allow(unsafe_code)]
// C types differ by target (`c_ulong`, `msglen_t`, `time_t`...): casts that are no-ops
// on x86_64 are conversions elsewhere.
#![allow(clippy::unnecessary_cast, clippy::useless_conversion)]

pub(crate) mod errno;
pub(crate) mod eventfd;
pub(crate) mod fifo;
pub(crate) mod futex;
pub(crate) mod host;
pub(crate) mod ipc;
pub(crate) mod mman;
pub(crate) mod msg;
pub(crate) mod pidfd;
pub(crate) mod pipe;
pub(crate) mod posix_mq;
pub(crate) mod posix_sem;
pub(crate) mod posix_shm;
pub(crate) mod process;
pub(crate) mod sem;
pub(crate) mod shm;
pub(crate) mod socket;
pub(crate) mod time;
pub(crate) mod user;

pub use errno::Errno;
pub(crate) use errno::SysResult;

/// Converts a C return value where `-1` means failure into a [`SysResult`].
#[inline]
pub(crate) fn cvt(ret: libc::c_int) -> SysResult<libc::c_int> {
    if ret == -1 { Err(Errno::last()) } else { Ok(ret) }
}

/// Like [`cvt`] for calls returning `ssize_t`.
#[inline]
pub(crate) fn cvt_size(ret: libc::ssize_t) -> SysResult<usize> {
    if ret < 0 { Err(Errno::last()) } else { Ok(ret as usize) }
}
