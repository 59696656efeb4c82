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
//! - A POSIX queue's message is received into the landing ([`Landing::catch`]), whose
//!   first 16 bytes are then: the id number the message will get plus one (0: no
//!   receive armed), the priority, 4 spare bytes; its body follows, and the body's
//!   bytes are zero between messages. Before `mq_receive` the exporter writes the
//!   priority `u32::MAX` (which no message has), then the id; the kernel writes the
//!   priority, then the body, within the call; after the message is in the spool the
//!   exporter zeroes the body's bytes, then the id ([`Landing::release`]). So a kill
//!   between the receive and the spool leaves an armed id, a real priority and the
//!   message's bytes, and a restart finds them ([`Landing::caught`]); only the length
//!   is gone (the kernel gives it as the call's result alone): the message is the
//!   bytes up to the last non-zero one, or longer by trailing zeros, up to the
//!   queue's `msgsize`.
//! - The landing is read only through raw pointers (another process of the same user
//!   could write the file); it is never handed out as a slice.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use super::local::LocalMessage;
use super::state::{beside, open_private};
use crate::error::{Error, Object, Result};
use crate::posix::mq;
use crate::sys;
use crate::sys::msg::MTYPE_SIZE;
use crate::sysv::msg::MsgQueue;

/// A POSIX catch's header: the armed id plus one (8 bytes), the priority (4), spare (4).
const CATCH_HEAD: usize = 16;
/// The priority written before a receive: no message has it (`MQ_PRIO_MAX` is 32768).
const NO_PRIO: u32 = u32::MAX;

/// What a killed exporter received into the landing and may not have written down.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Caught {
    /// The id number the message was to get.
    pub(crate) id: u64,
    pub(crate) priority: u32,
    /// The body's bytes up to the last non-zero one (the message, unless it ended in
    /// zero bytes).
    pub(crate) bytes: Vec<u8>,
}

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
        (len <= self.len).then(|| self.copy_out(0, len))
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
        self.touch(Landing::page(), len);
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

    /// Opens (creating) the landing of a POSIX queue's exporter beside `state`, for
    /// messages of up to `msgsize` bytes, its pages touched so that the kernel's copy
    /// into them cannot fault half-way.
    pub(crate) fn open_catch(state: &Path, msgsize: usize) -> Result<Landing> {
        let landing = Landing::open(state, CATCH_HEAD - MTYPE_SIZE + msgsize)?;
        landing.touch(0, landing.len);
        Ok(landing)
    }

    /// Receives the queue's next message (without waiting) into the landing, as the
    /// one with id number `id` (see the module contract), and returns a copy of it;
    /// `None` if the queue is empty. [`release`](Self::release) must follow once it
    /// is written down.
    pub(crate) fn catch(&mut self, q: &mq::MsgQueue, id: u64) -> Result<Option<LocalMessage>> {
        use std::os::fd::AsFd;
        let room = q.msgsize();
        if CATCH_HEAD + room > self.len {
            self.grow(CATCH_HEAD + room)?;
        }
        self.put(8, NO_PRIO);
        self.put(0, id.wrapping_add(1));
        let base = self.ptr.as_ptr();
        // SAFETY: `CATCH_HEAD + room <= len`: the body's `room` bytes and the
        // priority's 4 (at offset 8, aligned) lie in our writable mapping for the call.
        #[allow(unsafe_code)]
        let got = unsafe {
            sys::posix_mq::mq_receive_into(
                q.as_fd(),
                NonNull::new_unchecked(base.add(CATCH_HEAD)),
                room,
                NonNull::new_unchecked(base.add(8).cast()),
                Some(std::time::SystemTime::UNIX_EPOCH),
            )
        };
        let n = match got {
            Ok(n) => n,
            Err(sys::Errno::ETIMEDOUT | sys::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(Error::sys("mq_receive", Object::Name(q.name().to_string()), e)),
        };
        let body = self.copy_out(CATCH_HEAD, n);
        Ok(Some(LocalMessage { tag: i64::from(self.get::<u32>(8)), body }))
    }

    /// The message of the last [`catch`](Self::catch), `len` bytes, is written down:
    /// its bytes are zeroed, then the receive disarmed.
    pub(crate) fn release(&self, len: usize) {
        let len = len.min(self.len - CATCH_HEAD);
        // SAFETY: `CATCH_HEAD + len <= self.len`: inside our writable mapping.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_bytes(self.ptr.as_ptr().add(CATCH_HEAD), 0, len)
        };
        self.put(0, 0u64);
    }

    /// What a receive armed and completed left in the landing (see the module
    /// contract); `None` if no receive was armed or none completed.
    pub(crate) fn caught(&self) -> Option<Caught> {
        if self.len < CATCH_HEAD {
            return None;
        }
        let armed: u64 = self.get(0);
        let priority: u32 = self.get(8);
        if armed == 0 || priority == NO_PRIO {
            return None;
        }
        let mut bytes = self.copy_out(CATCH_HEAD, self.len - CATCH_HEAD);
        let end = bytes.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
        bytes.truncate(end);
        Some(Caught { id: armed - 1, priority, bytes })
    }

    /// Zeroes the whole catch (body and header): after a [`caught`](Self::caught)
    /// message was dealt with.
    pub(crate) fn release_all(&self) {
        self.release(self.len);
        self.put(8, NO_PRIO);
    }

    /// Writes the header word `v` (a `u32` or `u64`) at offset `at`.
    fn put<T: Copy>(&self, at: usize, v: T) {
        assert!(at % std::mem::align_of::<T>() == 0 && at + std::mem::size_of::<T>() <= self.len);
        // SAFETY: an aligned `T` inside our writable mapping (checked above).
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::write_volatile(self.ptr.as_ptr().add(at).cast::<T>(), v)
        };
    }

    /// Reads the header word at offset `at`, as [`put`](Self::put) writes it.
    fn get<T: Copy>(&self, at: usize) -> T {
        assert!(at % std::mem::align_of::<T>() == 0 && at + std::mem::size_of::<T>() <= self.len);
        // SAFETY: as in `put`; a volatile read of memory another process may write.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::read_volatile(self.ptr.as_ptr().add(at).cast::<T>())
        }
    }

    /// The system's page size (4096 if it cannot be had).
    fn page() -> usize {
        usize::try_from(sys::host::page_size()).unwrap_or(4096)
    }

    /// Faults in (and dirties) each page of bytes `from..to` of the mapping, each
    /// byte touched keeping its value, so that a later copy into them by the kernel
    /// cannot fault half-way.
    fn touch(&self, from: usize, to: usize) {
        let page = Landing::page();
        let mut at = from;
        while at < to.min(self.len) {
            // SAFETY: `at < self.len`: inside our writable mapping.
            #[allow(unsafe_code)]
            unsafe {
                let p = self.ptr.as_ptr().add(at);
                std::ptr::write_volatile(p, std::ptr::read_volatile(p));
            }
            at += page;
        }
    }

    /// A copy of `len` bytes from offset `at` (clipped to the mapping).
    fn copy_out(&self, at: usize, len: usize) -> Vec<u8> {
        let len = len.min(self.len.saturating_sub(at));
        let mut out = vec![0u8; len];
        // SAFETY: `at + len <= self.len` bytes of our mapping, copied through raw
        // pointers into our own buffer.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(at), out.as_mut_ptr(), len)
        };
        out
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

    /// A POSIX queue and a landing of this test's own, both removed on drop.
    struct Catch {
        q: mq::MsgQueue,
        sender: mq::MsgQueue,
        state: std::path::PathBuf,
    }
    impl Drop for Catch {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(beside(&self.state, ".landing"));
        }
    }
    fn catch_setup(tag: &str) -> Catch {
        let (q, sender) = crate::bridge::tests::posix_queue(&format!("catch-{tag}"));
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let state = std::env::temp_dir().join(format!("ipckit-catch-{tag}-{}-{n:x}", std::process::id()));
        Catch { q, sender, state }
    }

    /// Every point of a POSIX catch, as a killed exporter leaves it: armed but empty,
    /// received and not written down (the bytes, priority and id are there), written
    /// down and released (nothing), and a message that ends in zero bytes (the bytes
    /// up to its last non-zero one).
    #[test]
    fn a_posix_catch_leaves_what_a_kill_took_and_nothing_once_released() {
        let t = catch_setup("points");
        let mut l = Landing::open_catch(&t.state, t.q.msgsize()).unwrap();
        assert_eq!(l.caught(), None, "a fresh landing");
        // Armed, queue empty: nothing caught.
        assert_eq!(l.catch(&t.q, 7).unwrap(), None);
        assert_eq!(l.caught(), None);
        // Received, not yet released (a kill here): found with its id and priority,
        // also by a second open (a restarted exporter).
        t.sender.send(b"first message", 9).unwrap();
        let m = l.catch(&t.q, 7).unwrap().unwrap();
        assert_eq!((m.body.as_slice(), m.tag), (&b"first message"[..], 9));
        let want = Caught { id: 7, priority: 9, bytes: b"first message".to_vec() };
        assert_eq!(l.caught().as_ref(), Some(&want));
        assert_eq!(Landing::open_catch(&t.state, t.q.msgsize()).unwrap().caught(), Some(want));
        // Released: nothing, and the next, shorter, message is not mixed with it.
        l.release(m.body.len());
        assert_eq!(l.caught(), None);
        t.sender.send(b"2nd", 0).unwrap();
        let m = l.catch(&t.q, 8).unwrap().unwrap();
        assert_eq!((m.body.as_slice(), m.tag), (&b"2nd"[..], 0));
        assert_eq!(l.caught(), Some(Caught { id: 8, priority: 0, bytes: b"2nd".to_vec() }));
        l.release(m.body.len());
        // Trailing zero bytes cannot be told from the zeroed landing.
        t.sender.send(&[5, 0, 6, 0, 0], 1).unwrap();
        l.catch(&t.q, 9).unwrap().unwrap();
        assert_eq!(l.caught(), Some(Caught { id: 9, priority: 1, bytes: vec![5, 0, 6] }));
        l.release_all();
        assert_eq!(l.caught(), None);
        assert_eq!(Landing::open_catch(&t.state, t.q.msgsize()).unwrap().caught(), None);
    }
}
