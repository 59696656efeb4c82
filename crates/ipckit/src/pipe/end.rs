//! The two ends of a pipe or FIFO, [`PipeReader`] and [`PipeWriter`]: checking a
//! descriptor, capacity, blocking mode, close-on-exec, atomic writes, and `Read`/`Write`
//! without `SIGPIPE`. Their shared methods are written once as the `end_common!` macro.

use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::process::Stdio;

use crate::error::{Error, ErrorKind, Object, Result};
use crate::limits::Limit;
use crate::sys::{self, Errno};

use super::PIPE_BUF;

/// The read end of a pipe or FIFO.
///
/// Reading waits until data arrives (unless the end is non-blocking) and returns 0
/// (end-of-file) once the pipe is empty and every write end, in every process, is
/// closed. Implements [`Read`] (also through `&PipeReader`), [`AsFd`], and converts
/// into [`Stdio`] to become a child's stdin.
///
/// ```
/// use std::io::{BufRead, BufReader, Write};
///
/// let (reader, mut writer) = ipckit::pipe::pipe()?;
/// writeln!(writer, "one")?;
/// writeln!(writer, "two")?;
/// drop(writer);
/// let lines: Vec<String> = BufReader::new(reader).lines().collect::<Result<_, _>>()?;
/// assert_eq!(lines, ["one", "two"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PipeReader {
    pub(super) fd: OwnedFd,
}

/// The write end of a pipe or FIFO.
///
/// Writing waits while the pipe is full (unless the end is non-blocking) and fails
/// with [`std::io::ErrorKind::BrokenPipe`] once no read end is open anywhere — never
/// by killing the process with `SIGPIPE` (see the [module docs](super#sigpipe)).
/// Implements [`Write`] (also through `&PipeWriter`), [`AsFd`], and converts into
/// [`Stdio`] to become a child's stdout or stderr.
///
/// ```
/// use std::io::Write;
/// use ipckit::ErrorKind;
///
/// let (reader, mut writer) = ipckit::pipe::pipe()?;
/// writer.write_atomic(b"a frame of at most PIPE_BUF bytes")?;
/// drop(reader);
/// // No reader left: an error, not a dead process.
/// assert_eq!(writer.write_atomic(b"more").unwrap_err().kind(), ErrorKind::BrokenPipe);
/// assert_eq!(writer.write(b"more").unwrap_err().kind(), std::io::ErrorKind::BrokenPipe);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PipeWriter {
    pub(super) fd: OwnedFd,
}

/// The error of a call on an end known by its descriptor.
pub(super) fn fd_error(op: &'static str, fd: BorrowedFd<'_>, e: Errno) -> Error {
    Error::sys(op, Object::Fd(fd.as_raw_fd()), e)
}

/// Checks that `fd` is a pipe or FIFO end that can be used in the direction asked.
fn check_end(fd: &OwnedFd, want_read: bool) -> Result<()> {
    let fd = fd.as_fd();
    let id = sys::pipe::fstat(fd).map_err(|e| fd_error("fstat", fd, e))?;
    if id.kind != sys::pipe::FileType::Fifo {
        return Err(Error::new("fstat", Object::Fd(fd.as_raw_fd()), ErrorKind::WrongType)
            .with_detail(format!("the descriptor refers to {}, not a pipe or FIFO", id.kind.describe())));
    }
    let (readable, writable) = sys::pipe::access(fd).map_err(|e| fd_error("fcntl", fd, e))?;
    if want_read && !readable {
        return Err(Error::new("fcntl", Object::Fd(fd.as_raw_fd()), ErrorKind::WrongType)
            .with_detail("the descriptor is a write-only end; a reader needs a readable end"));
    }
    if !want_read && !writable {
        return Err(Error::new("fcntl", Object::Fd(fd.as_raw_fd()), ErrorKind::WrongType)
            .with_detail("the descriptor is a read-only end; a writer needs a writable end"));
    }
    Ok(())
}

fn capacity_of(fd: BorrowedFd<'_>) -> Result<usize> {
    sys::pipe::pipe_size(fd).map_err(|e| fd_error("fcntl(F_GETPIPE_SZ)", fd, e))
}

fn set_capacity_of(fd: BorrowedFd<'_>, bytes: usize) -> Result<usize> {
    const OP: &str = "fcntl(F_SETPIPE_SZ)";
    // The kernel rounds the size up to a power-of-two number of pages and refuses
    // anything above 2^31 bytes, whatever the privileges.
    if bytes > 1 << 31 {
        return Err(Error::new(OP, Object::Fd(fd.as_raw_fd()), ErrorKind::InvalidInput).with_detail(
            format!("a pipe capacity of {bytes} bytes is more than any pipe can have (2^31 bytes)"),
        ));
    }
    sys::pipe::set_pipe_size(fd, bytes as i32).map_err(|e| {
        let err = fd_error(OP, fd, e);
        match e {
            Errno::EPERM => match Limit::PipeMaxSize.current() {
                Some(max) if bytes as u64 > max => {
                    err.with_limit(Limit::PipeMaxSize, format_args!("a pipe capacity of {bytes} bytes"))
                }
                _ => err.with_kind(ErrorKind::LimitExceeded).with_detail(
                    "this user's pipes already use all the pages they may \
                     (/proc/sys/fs/pipe-user-pages-soft and /proc/sys/fs/pipe-user-pages-hard)",
                ),
            },
            Errno::EBUSY => err.with_detail(format!(
                "the pipe holds more data than a capacity of {bytes} bytes can keep; read some first"
            )),
            _ => err,
        }
    })
}

/// Methods and conversions shared by both ends.
macro_rules! end_common {
    ($T:ident, $role:literal, $read:literal, $stdio:literal) => {
        impl $T {
            #[doc = concat!("Wraps an owned descriptor after checking that it is ", $role, " of a pipe or FIFO")]
            /// (`fstat` says `S_IFIFO` and the access mode allows this direction).
            ///
            /// Fails with [`ErrorKind::WrongType`] otherwise. Also available as
            /// `TryFrom<OwnedFd>`.
            pub fn from_fd(fd: OwnedFd) -> Result<$T> {
                check_end(&fd, $read)?;
                Ok($T { fd })
            }

            /// `fcntl(fd, F_GETPIPE_SZ)`—The capacity of the pipe, in bytes.
            ///
            /// References: [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html).
            #[doc(alias = "F_GETPIPE_SZ")]
            pub fn capacity(&self) -> Result<usize> {
                capacity_of(self.fd.as_fd())
            }

            /// `fcntl(fd, F_SETPIPE_SZ, bytes)`—Sets the capacity of the pipe; returns
            /// the capacity the kernel chose (`bytes` rounded up to a power-of-two
            /// number of pages, at least one page).
            ///
            /// Errors: [`ErrorKind::LimitExceeded`] naming `/proc/sys/fs/pipe-max-size`
            /// when an unprivileged process asks for more than that limit (a process
            /// with `CAP_SYS_RESOURCE` may), or naming the per-user page limits when
            /// this user's pipes use too much memory; [`ErrorKind::Other`] (`EBUSY`)
            /// when the pipe holds more data than the new capacity.
            ///
            /// References: [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html),
            /// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html) (`/proc` files).
            #[doc(alias = "F_SETPIPE_SZ")]
            pub fn set_capacity(&self, bytes: usize) -> Result<usize> {
                set_capacity_of(self.fd.as_fd(), bytes)
            }

            /// `ioctl(fd, FIONREAD)`—How many bytes are waiting in the pipe.
            #[doc(alias = "FIONREAD")]
            pub fn bytes_queued(&self) -> Result<usize> {
                sys::pipe::bytes_queued(self.fd.as_fd()).map_err(|e| fd_error("ioctl(FIONREAD)", self.fd.as_fd(), e))
            }

            /// Whether `O_NONBLOCK` is set (`fcntl(fd, F_GETFL)`).
            pub fn is_nonblocking(&self) -> Result<bool> {
                sys::pipe::is_nonblocking(self.fd.as_fd()).map_err(|e| fd_error("fcntl(F_GETFL)", self.fd.as_fd(), e))
            }

            /// `fcntl(fd, F_SETFL, O_NONBLOCK)`—Sets or clears non-blocking mode.
            ///
            /// The flag belongs to the open file, so it also changes for every
            /// duplicate of this descriptor ([`try_clone`](Self::try_clone), forked
            /// children).
            pub fn set_nonblocking(&self, on: bool) -> Result<()> {
                sys::pipe::set_nonblocking(self.fd.as_fd(), on)
                    .map_err(|e| fd_error("fcntl(F_SETFL)", self.fd.as_fd(), e))
            }

            /// Whether the descriptor is closed when the process runs another program
            /// (`FD_CLOEXEC`).
            pub fn is_cloexec(&self) -> Result<bool> {
                sys::pipe::is_cloexec(self.fd.as_fd()).map_err(|e| fd_error("fcntl(F_GETFD)", self.fd.as_fd(), e))
            }

            /// `fcntl(fd, F_SETFD, FD_CLOEXEC)`—Sets or clears close-on-exec.
            ///
            /// Clearing it lets every program started afterwards, from any thread,
            /// inherit this end. To give an end to one child, convert it into
            /// [`Stdio`] instead.
            pub fn set_cloexec(&self, on: bool) -> Result<()> {
                sys::pipe::set_cloexec(self.fd.as_fd(), on).map_err(|e| fd_error("fcntl(F_SETFD)", self.fd.as_fd(), e))
            }

            #[doc = concat!("`fcntl(fd, F_DUPFD_CLOEXEC)`—Another handle on ", $role, ", with its own descriptor.")]
            ///
            /// The pipe counts both: for the peer to see end-of-file (or a broken pipe),
            /// every duplicate must be closed.
            pub fn try_clone(&self) -> Result<$T> {
                let fd = sys::pipe::dup_cloexec(self.fd.as_fd())
                    .map_err(|e| fd_error("fcntl(F_DUPFD_CLOEXEC)", self.fd.as_fd(), e))?;
                Ok($T { fd })
            }

            /// Closes the descriptor now, reporting an error that `drop` would ignore.
            pub fn close(self) -> Result<()> {
                let raw = self.fd.into_raw_fd();
                crate::sys::pipe::close(raw).map_err(|e| Error::sys("close", Object::Fd(raw), e))
            }
        }

        fd_wrapper_impls!($T);

        #[doc = concat!("Makes this end a child's ", $stdio, "; the parent's descriptor is closed")]
        /// once the `Command` that holds the `Stdio` is dropped or reconfigured.
        impl From<$T> for Stdio {
            fn from(end: $T) -> Stdio {
                Stdio::from(end.fd)
            }
        }
    };
}

end_common!(PipeReader, "the read end", true, "stdin");
end_common!(PipeWriter, "the write end", false, "stdout or stderr");

impl PipeReader {
    pub(crate) fn from_fd_unchecked(fd: OwnedFd) -> PipeReader {
        PipeReader { fd }
    }
}

impl PipeWriter {
    pub(crate) fn from_fd_unchecked(fd: OwnedFd) -> PipeWriter {
        PipeWriter { fd }
    }

    /// `write(fd, frame, len)` with `len <= PIPE_BUF`—Writes a frame in one atomic
    /// write, or refuses it.
    ///
    /// The frame's bytes reach the pipe together, never interleaved with data from
    /// other writers, so a reader that knows the framing (a length prefix, a
    /// delimiter) can take frames from many writers apart. On a blocking end this
    /// waits until the whole frame fits; on a non-blocking end it writes the whole
    /// frame or nothing, and fails with [`ErrorKind::WouldBlock`].
    ///
    /// Errors: [`ErrorKind::InvalidInput`] for a frame longer than [`PIPE_BUF`] (no
    /// byte is written), [`ErrorKind::BrokenPipe`] when no reader is left.
    ///
    /// ```
    /// use ipckit::pipe::{self, PIPE_BUF};
    ///
    /// let (_reader, writer) = pipe::pipe()?;
    /// writer.write_atomic(&[7u8; PIPE_BUF])?;
    /// let err = writer.write_atomic(&[7u8; PIPE_BUF + 1]).unwrap_err();
    /// assert_eq!(err.kind(), ipckit::ErrorKind::InvalidInput);
    /// assert!(err.to_string().contains("PIPE_BUF"));
    /// # Ok::<(), ipckit::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`] for a frame longer than `PIPE_BUF` (nothing is written);
    /// [`ErrorKind::BrokenPipe`] when no reader is left; [`ErrorKind::WouldBlock`] on a
    /// non-blocking end without room for the whole frame (nothing is written).
    ///
    /// References: [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html)
    /// ("PIPE_BUF"), [POSIX write()](https://pubs.opengroup.org/onlinepubs/9799919799/functions/write.html).
    pub fn write_atomic(&self, frame: &[u8]) -> Result<()> {
        self.write_atomic_vectored(&[IoSlice::new(frame)])
    }

    /// `writev(fd, parts, n)` with a total of at most `PIPE_BUF` bytes—Writes a frame
    /// made of several parts (a header and a body, say) in one atomic write.
    ///
    /// The same contract as [`write_atomic`](Self::write_atomic).
    pub fn write_atomic_vectored(&self, parts: &[IoSlice<'_>]) -> Result<()> {
        let total: usize = parts.iter().map(|p| p.len()).sum();
        if total > PIPE_BUF {
            return Err(Error::new("write", Object::Fd(self.fd.as_raw_fd()), ErrorKind::InvalidInput)
                .with_detail(format!(
                    "a frame of {total} bytes is larger than PIPE_BUF = {PIPE_BUF}: only writes of at most \
                     PIPE_BUF bytes are atomic; split the frame or write it with write_all"
                )));
        }
        if total == 0 {
            return Ok(());
        }
        loop {
            match sys::pipe::writev(self.fd.as_fd(), parts) {
                Ok(n) if n == total => return Ok(()),
                Ok(n) => {
                    // The kernel never splits a write of at most PIPE_BUF bytes.
                    return Err(Error::new("write", Object::Fd(self.fd.as_raw_fd()), ErrorKind::Other)
                        .with_detail(format!("the kernel wrote {n} of {total} bytes of an atomic frame")));
                }
                // Nothing was written: retrying keeps the frame whole.
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(self.write_error(e)),
            }
        }
    }

    pub(super) fn write_error(&self, e: Errno) -> Error {
        let err = fd_error("write", self.fd.as_fd(), e);
        match e {
            Errno::EPIPE => err.with_detail("broken pipe: no process has the read end open any more"),
            Errno::EAGAIN => err.with_detail("the pipe is full and this end is non-blocking"),
            _ => err,
        }
    }
}

impl Read for &PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        sys::pipe::read(self.fd.as_fd(), buf).map_err(io::Error::from)
    }
}

impl Read for PipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
}

impl Write for &PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        sys::pipe::write(self.fd.as_fd(), buf).map_err(io::Error::from)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        sys::pipe::writev(self.fd.as_fd(), bufs).map_err(io::Error::from)
    }

    fn flush(&mut self) -> io::Result<()> {
        // A pipe has no user-space buffer: written bytes are already in the kernel.
        Ok(())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
