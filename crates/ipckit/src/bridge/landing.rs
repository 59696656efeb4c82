//! The exporter's landing zone (System V queue, FIFO): a file beside the state file
//! (`<state>.landing`), mapped shared, into which the exporter removes each message
//! once its acknowledgement came.
//!
//! Contract:
//! - `msgrcv` unlinks the message and writes its `mtype` into the landing page in one
//!   system call, with no point between where a kill takes effect (a signal acts on
//!   the way out of the call); the page is locked in memory and already written, so
//!   the write cannot fault. The page belongs to the file: it outlives the process.
//! - The exporter clears the landing (type 0, which no message has) *before* it
//!   records "removing `seq`". So for a record "removing `seq`", a landed type says
//!   the removal happened and type 0 says it did not: exactly, also when the next
//!   message in the queue is byte-identical with the removed one (which the recorded
//!   hash alone cannot tell apart).
//! - A FIFO's frame is removed with one `read` into the landing: the pipe's bytes
//!   are copied out, then consumed, within the call (the pages touched first, so the
//!   copy cannot fault). Before the record the exporter flips the landing's first
//!   byte away from the frame's ([`Landing::clear_unlike`]); the landing holds the
//!   recorded frame afterwards if and only if the read happened.
//! - The landing is read only through raw pointers (another process of the same user
//!   could write the file); it is never handed out as a slice.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use super::local::LocalMessage;
use super::state::{beside, open_private};
use crate::error::{Error, Object, Result};
use crate::sys;
use crate::sys::msg::MTYPE_SIZE;
use crate::sysv::msg::MsgQueue;

/// The mapped landing file.
pub(crate) struct Landing {
    file: File,
    path: PathBuf,
    ptr: NonNull<u8>,
    len: usize,
    /// The file was made by this open (or was empty): it says nothing about a
    /// record written before.
    fresh: bool,
}

impl Landing {
    /// Opens (creating) the landing beside `state`, with room for a message of
    /// `body` bytes.
    pub(crate) fn open(state: &Path, body: usize) -> Result<Landing> {
        let path = beside(state, ".landing");
        // Readable by the owner only: it holds the last message removed.
        let file = open_private(&path, "open landing file")?;
        let fresh = file.metadata().map(|m| m.len() < MTYPE_SIZE as u64).unwrap_or(true);
        let (ptr, len) = map(&file, &path, MTYPE_SIZE + body)?;
        Ok(Landing { file, path, ptr, len, fresh })
    }

    /// Whether the file was made (or found empty) by this open.
    pub(crate) fn fresh(&self) -> bool {
        self.fresh
    }

    /// Whether a message landed since the last [`clear`](Self::clear).
    pub(crate) fn landed(&self) -> bool {
        // SAFETY: the first MTYPE_SIZE bytes are mapped (len >= MTYPE_SIZE); a
        // volatile read of memory the kernel (or another process) may have written.
        #[allow(unsafe_code)]
        let t = unsafe { std::ptr::read_volatile(self.ptr.as_ptr().cast::<[u8; MTYPE_SIZE]>()) };
        t != [0; MTYPE_SIZE]
    }

    /// Marks the landing empty (type 0); to be done before the record of a removal.
    pub(crate) fn clear(&self) {
        // SAFETY: as in `landed`; the mapping is writable.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_volatile(self.ptr.as_ptr().cast::<[u8; MTYPE_SIZE]>(), [0; MTYPE_SIZE])
        };
    }

    /// Marks the landing as not holding a frame that starts with `first` (its first
    /// byte becomes `!first`); to be done before the record of a FIFO removal.
    pub(crate) fn clear_unlike(&self, first: u8) {
        // SAFETY: the first byte is mapped and writable.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_volatile(self.ptr.as_ptr(), !first)
        };
    }

    /// A copy of the first `len` bytes (`None` past the mapping).
    pub(crate) fn contents(&self, len: usize) -> Option<Vec<u8>> {
        if len > self.len {
            return None;
        }
        let mut out = vec![0u8; len];
        // SAFETY: `len` bytes of our mapping, copied through raw pointers into our
        // own buffer.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), out.as_mut_ptr(), len)
        };
        Some(out)
    }

    /// Reads `len` bytes (one frame, in the pipe whole) from `fd` into the landing
    /// with one `read`, and returns a copy of what came. The pages it lands on are
    /// touched first (all but the first, which holds the mark of
    /// [`clear_unlike`](Self::clear_unlike) and was just written), so the copy into
    /// them cannot fault half-way.
    pub(crate) fn read_from(&mut self, fd: std::os::fd::BorrowedFd<'_>, len: usize) -> Result<Vec<u8>> {
        if len > self.len {
            self.grow(len)?;
        }
        let page = usize::try_from(sys::host::page_size()).unwrap_or(4096);
        let mut at = page;
        while at < len {
            // SAFETY: `at < len <= self.len`: inside our writable mapping.
            #[allow(unsafe_code)]
            unsafe {
                std::ptr::write_volatile(self.ptr.as_ptr().add(at), 0)
            };
            at += page;
        }
        let n = loop {
            // SAFETY: `len <= self.len` writable bytes at `ptr` for the whole call.
            #[allow(unsafe_code)]
            match unsafe { sys::pipe::read_into(fd, self.ptr, len) } {
                Ok(n) => break n,
                Err(sys::Errno::EINTR) => {}
                Err(e) => return Err(Error::sys("read", Object::Path(self.path.clone()), e)),
            }
        };
        Ok(self.contents(n).unwrap_or_default())
    }

    /// Removes the queue's first message into the landing (without waiting) and
    /// returns a copy of it; `None` if the queue is empty. `room` is the body length
    /// the landing must hold (the message expected): it grows first if needed.
    pub(crate) fn remove_next(&mut self, q: &MsgQueue, room: usize) -> Result<Option<LocalMessage>> {
        if MTYPE_SIZE + room > self.len {
            self.grow(MTYPE_SIZE + room)?;
        }
        // SAFETY: `len` bytes at `ptr` are our writable mapping for the whole call.
        #[allow(unsafe_code)]
        let got = unsafe { sys::msg::msgrcv_into(q.id(), self.ptr, self.len, 0, sys::ipc::IPC_NOWAIT) };
        let n = match got {
            Ok(n) => n,
            Err(sys::Errno::ENOMSG) => return Ok(None),
            Err(e) => return Err(Error::sys("msgrcv", Object::KeyId(q.key(), q.id()), e)),
        };
        // The kernel wrote the type and `n <= len - MTYPE_SIZE` body bytes.
        let mut body = self.contents(MTYPE_SIZE + n).unwrap_or_default();
        let tag = sys::msg::read_mtype(&body);
        body.drain(..MTYPE_SIZE);
        Ok(Some(LocalMessage { tag, body }))
    }

    /// Maps the file again with room for `len` bytes (a message longer than
    /// `msgmax` was when the landing was opened). The landed type survives: it is in
    /// the file.
    fn grow(&mut self, len: usize) -> Result<()> {
        let (ptr, new_len) = map(&self.file, &self.path, len)?;
        self.unmap();
        self.ptr = ptr;
        self.len = new_len;
        Ok(())
    }

    fn unmap(&mut self) {
        // SAFETY: our mapping of `len` bytes; nothing refers to it after this.
        #[allow(unsafe_code)]
        let _ = unsafe { sys::mman::unmap(self.ptr, self.len) };
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.unmap();
    }
}

/// Sizes the file to `len` bytes and maps it shared, with its first page locked in
/// memory (best effort: where `RLIMIT_MEMLOCK` refuses, the page was just written
/// and a fault that a kill cuts short is as unlikely as it gets).
fn map(file: &File, path: &Path, len: usize) -> Result<(NonNull<u8>, usize)> {
    use std::os::fd::AsFd;
    let err = |call: &'static str, e| Error::sys(call, Object::Path(path.to_path_buf()), e);
    sys::mman::ftruncate(file.as_fd(), len as u64).map_err(|e| err("ftruncate", e))?;
    let ptr = sys::mman::map_shared(file.as_fd(), len, true).map_err(|e| err("mmap", e))?;
    // SAFETY: the first MTYPE_SIZE bytes lie within the new mapping.
    #[allow(unsafe_code)]
    let _ = unsafe { sys::mman::lock(ptr, MTYPE_SIZE) };
    Ok((ptr, len))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn the_landing_is_readable_by_its_owner_only_and_grows_keeping_its_mark() {
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let state = std::env::temp_dir().join(format!("ipckit-landing-mode-{}-{n:x}", std::process::id()));
        let mut landing = Landing::open(&state, 16).unwrap();
        assert!(landing.fresh());
        let path = landing.path.clone();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        assert!(!landing.landed());
        landing.clear_unlike(0);
        assert!(landing.landed(), "a non-zero first byte reads as landed");
        landing.grow(3 * 4096).unwrap();
        assert_eq!(landing.contents(1), Some(vec![0xff]));
        landing.clear();
        drop(landing);
        assert!(!Landing::open(&state, 16).unwrap().fresh());
        std::fs::remove_file(&path).unwrap();
    }
}
