//! Zero-copy transfers: `splice`, `tee`, `vmsplice`.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use super::{PipeReader, PipeWriter, fd_error};
use crate::error::{Error, ErrorKind, Result};
use crate::sys::{self, Errno};

/// How much one `splice` in a copy loop asks for; the kernel moves at most a pipe's
/// worth at a time anyway.
const CHUNK: usize = 1 << 20;

fn splice_error(op: &'static str, pipe_end: BorrowedFd<'_>, other: BorrowedFd<'_>, e: Errno) -> Error {
    let err = fd_error(op, pipe_end, e);
    match e {
        Errno::EINVAL => err.with_kind(ErrorKind::Unsupported).with_detail(format!(
            "splice is not supported between this pipe and fd {} (its file system or socket type \
             lacks splice, it was opened with O_APPEND, or an offset was given for a pipe)",
            other.as_raw_fd()
        )),
        Errno::ESPIPE => err.with_detail("an offset was given for a descriptor that has no position"),
        _ => with_pipe_detail(err, e),
    }
}

/// The explanation of the errors every call into or out of a pipe can meet.
fn with_pipe_detail(err: Error, e: Errno) -> Error {
    match e {
        Errno::EPIPE => err.with_detail("broken pipe: no process has the read end open any more"),
        Errno::EAGAIN => err.with_detail("the pipe is full or empty and the end is non-blocking"),
        _ => err,
    }
}

/// Adds to an error from a copy loop how much had moved before it.
fn after(err: Error, moved: u64) -> Error {
    let detail = format!("{}; {moved} bytes had moved before the failure", err.explanation());
    err.with_detail(detail)
}

/// Whether a failed first `splice` means "use read/write instead".
fn splice_unsupported(e: Errno) -> bool {
    matches!(e, Errno::EINVAL | Errno::ENOSYS | Errno::EOPNOTSUPP)
}

impl PipeWriter {
    /// `splice(src, offset, pipe, NULL, len, SPLICE_F_MOVE)`—Moves up to `len` bytes
    /// from a file or socket into the pipe without copying them through user memory.
    ///
    /// With `offset`, reads a file from that offset and advances the offset, leaving
    /// the file's position alone; without, reads from (and advances) the file
    /// position. Returns how many bytes moved: 0 at the end of `src`. Waits for room
    /// in the pipe unless this end is non-blocking.
    ///
    /// Errors: [`ErrorKind::Unsupported`] when `src` cannot be spliced from (`EINVAL`:
    /// [`copy_from`](Self::copy_from) then falls back to `read`/`write`),
    /// [`ErrorKind::BrokenPipe`] when no reader is left.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(b"from a file, through no buffer of ours")?;
    /// let (mut r, w) = ipckit::pipe::pipe()?;
    /// let mut offset = 0;
    /// let n = w.splice_from(&file, Some(&mut offset), 1024)?;
    /// assert_eq!((n, offset), (38, 38));
    /// drop(w);
    /// let mut text = String::new();
    /// r.read_to_string(&mut text)?;
    /// assert_eq!(text, "from a file, through no buffer of ours");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// References: [splice(2)](https://man7.org/linux/man-pages/man2/splice.2.html).
    #[doc(alias = "splice")]
    pub fn splice_from(&self, src: impl AsFd, offset: Option<&mut u64>, len: usize) -> Result<usize> {
        let nonblocking = self.is_nonblocking()?;
        sys::pipe::splice(src.as_fd(), offset, self.fd.as_fd(), None, len, nonblocking)
            .map_err(|e| splice_error("splice", self.fd.as_fd(), src.as_fd(), e))
    }

    /// Moves everything from `src` (from its current position to its end) into the
    /// pipe: with `splice` where the kernel supports it, with `read` and `write`
    /// otherwise. Returns how many bytes moved.
    ///
    /// A reader must drain the pipe meanwhile (another thread or process), unless
    /// `src` fits in the pipe's capacity.
    ///
    /// ```
    /// use std::io::{Read, Seek, Write};
    ///
    /// let mut file = tempfile::tempfile()?;
    /// file.write_all(&[1u8; 1000])?;
    /// file.rewind()?;
    /// let (mut r, w) = ipckit::pipe::pipe()?;
    /// assert_eq!(w.copy_from(&file)?, 1000);
    /// drop(w);
    /// let mut got = Vec::new();
    /// r.read_to_end(&mut got)?;
    /// assert_eq!(got, [1u8; 1000]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copy_from(&self, src: impl AsFd) -> Result<u64> {
        let src = src.as_fd();
        let nonblocking = self.is_nonblocking()?;
        let mut moved = 0u64;
        loop {
            match sys::pipe::splice(src, None, self.fd.as_fd(), None, CHUNK, nonblocking) {
                Ok(0) => return Ok(moved),
                Ok(n) => moved += n as u64,
                Err(Errno::EINTR) => {}
                Err(e) if moved == 0 && splice_unsupported(e) => return self.copy_by_read_write(src),
                Err(e) => {
                    return Err(after(splice_error("splice", self.fd.as_fd(), src, e), moved));
                }
            }
        }
    }

    fn copy_by_read_write(&self, src: BorrowedFd<'_>) -> Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut moved = 0u64;
        loop {
            let n = match sys::pipe::read(src, &mut buf) {
                Ok(0) => return Ok(moved),
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(after(fd_error("read", src, e), moved)),
            };
            let mut done = 0;
            while done < n {
                match sys::pipe::write(self.fd.as_fd(), &buf[done..n]) {
                    Ok(k) => done += k,
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        return Err(after(self.write_error(e), moved + done as u64));
                    }
                }
            }
            moved += n as u64;
        }
    }

    /// `vmsplice(pipe, bufs, n, 0)`—Puts user memory into the pipe by reference,
    /// without copying it. Returns how many bytes went in (possibly fewer than asked,
    /// like `write`).
    ///
    /// The pipe holds references to the memory's pages, not copies of the bytes: the
    /// reader reads whatever the memory contains **when it reads**. Leave the buffers
    /// unchanged until the reader has consumed these bytes (for example, fill the next
    /// buffer while the reader drains this one, and reuse a buffer only after the
    /// reader says so). The pages stay valid for the kernel whatever happens to the
    /// buffer — it holds its own references — so breaking that rule garbles data but
    /// never touches freed memory; that is why this method is safe. Otherwise it
    /// behaves like `write`, including atomicity up to [`PIPE_BUF`](super::PIPE_BUF),
    /// waiting for room, and [`ErrorKind::BrokenPipe`].
    ///
    /// ```
    /// use std::io::{IoSlice, Read};
    ///
    /// let (mut r, w) = ipckit::pipe::pipe()?;
    /// let page = vec![42u8; 4096];
    /// let n = w.vmsplice(&[IoSlice::new(&page)])?;
    /// assert_eq!(n, 4096);
    /// let mut got = vec![0u8; 4096];
    /// r.read_exact(&mut got)?; // read before `page` changes or is dropped
    /// assert_eq!(got, page);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// References: [vmsplice(2)](https://man7.org/linux/man-pages/man2/vmsplice.2.html).
    pub fn vmsplice(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        let nonblocking = self.is_nonblocking()?;
        loop {
            match sys::pipe::vmsplice(self.fd.as_fd(), bufs, nonblocking) {
                Err(Errno::EINTR) => continue,
                Ok(n) => return Ok(n),
                Err(e) => return Err(with_pipe_detail(fd_error("vmsplice", self.fd.as_fd(), e), e)),
            }
        }
    }

    /// Puts all of `data` into the pipe with [`vmsplice`](Self::vmsplice), as many
    /// calls as it takes. The same rule holds: leave `data` unchanged until the reader
    /// has read it.
    pub fn vmsplice_all(&self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let n = self.vmsplice(&[IoSlice::new(data)])?;
            data = &data[n..];
        }
        Ok(())
    }
}

impl PipeReader {
    /// `splice(pipe, NULL, dst, offset, len, SPLICE_F_MOVE)`—Moves up to `len` bytes
    /// from the pipe into a file or socket without copying them through user memory.
    ///
    /// With `offset`, writes a file at that offset and advances it, leaving the
    /// file's position alone. Returns how many bytes moved: 0 at end-of-file (the
    /// pipe is empty and no writer is left). Waits for data unless this end is
    /// non-blocking.
    ///
    /// ```
    /// use std::io::{Read, Seek, Write};
    ///
    /// let (r, mut w) = ipckit::pipe::pipe()?;
    /// w.write_all(b"into a file")?;
    /// let mut file = tempfile::tempfile()?;
    /// assert_eq!(r.splice_to(&file, None, 1024)?, 11);
    /// file.rewind()?;
    /// let mut text = String::new();
    /// file.read_to_string(&mut text)?;
    /// assert_eq!(text, "into a file");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// References: [splice(2)](https://man7.org/linux/man-pages/man2/splice.2.html).
    #[doc(alias = "splice")]
    pub fn splice_to(&self, dst: impl AsFd, offset: Option<&mut u64>, len: usize) -> Result<usize> {
        let nonblocking = self.is_nonblocking()?;
        sys::pipe::splice(self.fd.as_fd(), None, dst.as_fd(), offset, len, nonblocking)
            .map_err(|e| splice_error("splice", self.fd.as_fd(), dst.as_fd(), e))
    }

    /// Moves everything from the pipe into `dst` until end-of-file: with `splice`
    /// where the kernel supports it, with `read` and `write` otherwise. Returns how
    /// many bytes moved.
    pub fn copy_to(&self, dst: impl AsFd) -> Result<u64> {
        let dst = dst.as_fd();
        let nonblocking = self.is_nonblocking()?;
        let mut moved = 0u64;
        loop {
            match sys::pipe::splice(self.fd.as_fd(), None, dst, None, CHUNK, nonblocking) {
                Ok(0) => return Ok(moved),
                Ok(n) => moved += n as u64,
                Err(Errno::EINTR) => {}
                Err(e) if moved == 0 && splice_unsupported(e) => return self.copy_by_read_write(dst),
                Err(e) => {
                    return Err(after(splice_error("splice", self.fd.as_fd(), dst, e), moved));
                }
            }
        }
    }

    fn copy_by_read_write(&self, dst: BorrowedFd<'_>) -> Result<u64> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut moved = 0u64;
        loop {
            let n = match sys::pipe::read(self.fd.as_fd(), &mut buf) {
                Ok(0) => return Ok(moved),
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(after(fd_error("read", self.fd.as_fd(), e), moved)),
            };
            let mut done = 0;
            while done < n {
                match sys::pipe::write(dst, &buf[done..n]) {
                    Ok(k) => done += k,
                    Err(Errno::EINTR) => {}
                    Err(e) => {
                        return Err(after(
                            with_pipe_detail(fd_error("write", dst, e), e),
                            moved + done as u64,
                        ));
                    }
                }
            }
            moved += n as u64;
        }
    }

    /// `tee(pipe, dst, len, 0)`—Copies up to `len` bytes from this pipe into another
    /// pipe **without consuming them**: they can still be read (or spliced) from this
    /// one. Returns how many bytes were duplicated: 0 at end-of-file. Waits for data
    /// and for room unless either end is non-blocking.
    ///
    /// The classic use is `tee(1)`: duplicate `n` bytes into a second pipe, then
    /// consume exactly those `n` bytes from the first.
    ///
    /// ```
    /// use std::io::{Read, Write};
    ///
    /// let (r1, mut w1) = ipckit::pipe::pipe()?;
    /// let (mut r2, w2) = ipckit::pipe::pipe()?;
    /// w1.write_all(b"twice")?;
    /// assert_eq!(r1.tee_to(&w2, 1024)?, 5);
    /// let (mut a, mut b) = ([0u8; 5], [0u8; 5]);
    /// (&r1).read_exact(&mut a)?; // still in the first pipe
    /// r2.read_exact(&mut b)?;    // and now in the second
    /// assert_eq!((&a, &b), (b"twice", b"twice"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// References: [tee(2)](https://man7.org/linux/man-pages/man2/tee.2.html).
    #[doc(alias = "tee")]
    pub fn tee_to(&self, dst: &PipeWriter, len: usize) -> Result<usize> {
        let nonblocking = self.is_nonblocking()? || dst.is_nonblocking()?;
        loop {
            match sys::pipe::tee(self.fd.as_fd(), dst.fd.as_fd(), len, nonblocking) {
                Err(Errno::EINTR) => continue,
                Ok(n) => return Ok(n),
                Err(Errno::EINVAL) => {
                    return Err(fd_error("tee", self.fd.as_fd(), Errno::EINVAL)
                        .with_detail("tee needs two different pipes"));
                }
                Err(e) => return Err(with_pipe_detail(fd_error("tee", self.fd.as_fd(), e), e)),
            }
        }
    }
}
