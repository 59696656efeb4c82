//! Anonymous pipes: `pipe2`, capacity, atomic writes, `splice`/`tee`/`vmsplice`, and
//! the parent–child pattern done right.
//!
//! A pipe is a buffer in the kernel with two ends: bytes written to the write end come
//! out of the read end, in order. It is **simplex** (one direction) and it **paces**
//! the two sides: a reader waits while the pipe is empty, a writer waits while it is
//! full, so the slower side sets the speed. When every write end is closed, the reader
//! gets end-of-file once it has read what is left; when every read end is closed, a
//! write fails with [`ErrorKind::BrokenPipe`]. An anonymous pipe has no name: only the
//! process that made it and the processes that inherit its ends (children made by
//! `fork` or given an end as stdin/stdout) can use it. For unrelated processes, use a
//! named pipe ([`crate::fifo`]).
//!
//! ```
//! use std::io::{Read, Write};
//! use ipckit::pipe;
//!
//! let (mut reader, mut writer) = pipe::pipe()?;
//! writer.write_all(b"hello world\n")?;
//! drop(writer); // the last write end closes: the reader will see end-of-file
//! let mut text = String::new();
//! reader.read_to_string(&mut text)?;
//! assert_eq!(text, "hello world\n");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The classic pattern, a parent that writes and a child that reads, is one call; the
//! end the child does not use is closed in the parent, so end-of-file arrives:
//!
//! ```
//! use std::io::Write;
//! use std::process::{Command, Stdio};
//! use ipckit::pipe;
//!
//! let mut wc = Command::new("wc");
//! wc.arg("-c").stdout(Stdio::piped());
//! let (child, mut to_child) = pipe::spawn_to_child(&mut wc)?;
//! to_child.write_all(b"twelve bytes")?;
//! drop(to_child); // end-of-file for wc
//! let out = child.wait_with_output()?;
//! assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "12");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Ends own their descriptors
//!
//! [`PipeReader`] and [`PipeWriter`] each own one file descriptor (an
//! [`OwnedFd`]) and close it when dropped. Both are created **close-on-exec**
//! (`O_CLOEXEC`), atomically with the pipe: a program that runs another program never
//! leaks an end into it by accident — a leaked write end is the classic reason a
//! reader never sees end-of-file. Pass an end to a child on purpose by making it the
//! child's stdin or stdout ([`Stdio`] conversion, or [`spawn_to_child`] and friends).
//!
//! # Blocking and non-blocking
//!
//! By default reads wait for data and writes wait for room. An end set non-blocking
//! ([`PipeOptions::nonblocking`], [`PipeReader::set_nonblocking`]) reports
//! [`std::io::ErrorKind::WouldBlock`] instead. `O_NONBLOCK` belongs to the open
//! file, so it is shared by every duplicate of the descriptor, including the copies a
//! forked child holds.
//!
//! # Capacity and atomic writes
//!
//! A pipe holds 64 KiB by default on Linux. [`PipeWriter::set_capacity`] changes it
//! (`F_SETPIPE_SZ`); the kernel rounds up to a power-of-two number of pages, and an
//! unprivileged process may not go beyond `/proc/sys/fs/pipe-max-size` (1 MiB by
//! default): asking more is a [`ErrorKind::LimitExceeded`] error naming that file.
//!
//! A write of at most [`PIPE_BUF`] bytes (4096 on Linux) is **atomic**: its bytes are
//! never interleaved with those of other writers. [`PipeWriter::write_atomic`] makes
//! that a contract: it writes a frame in one call or refuses a larger one. Larger
//! writes may be split and interleaved when several processes write at once.
//!
//! # `SIGPIPE`
//!
//! Writing to a pipe that has no reader makes the kernel send the writing thread
//! `SIGPIPE`, whose default action kills the process. ipckit never lets that happen,
//! and never changes process-wide state to achieve it:
//!
//! - a plain write is one `pwritev2(fd, iov, n, -1, RWF_NOSIGNAL)` where the kernel
//!   has that flag (Linux 6.18 and later): the same write, failing with `EPIPE` and
//!   raising no signal, at no extra cost;
//! - on older kernels, and for `splice`, `tee` and `vmsplice` (which have no such
//!   flag), the call runs inside a guard that blocks `SIGPIPE` in the calling thread,
//!   and if the call failed with `EPIPE`, removes the `SIGPIPE` it raised (with a
//!   zero-timeout `sigtimedwait`) before restoring the thread's signal mask. The signal
//!   is directed at the writing thread, so no other thread can take it, and a `SIGPIPE`
//!   already pending before the call is left alone.
//!
//! The call returns [`ErrorKind::BrokenPipe`] (or [`std::io::ErrorKind::BrokenPipe`]
//! through the `Write` trait). The disposition of `SIGPIPE` stays whatever the program
//! chose, so children inherit nothing unusual; [`sigpipe_action`] and
//! [`set_sigpipe_action`] read and set it for programs that want to choose (Rust
//! programs start with `SIGPIPE` ignored; programs in other languages usually do not).
//!
//! The guard costs two `rt_sigprocmask` calls per call: 0.45 to 0.6 µs on the
//! project's 2-core VM, against 0.7 µs for a 64-byte `write` + `read` without it. A
//! program that keeps `SIGPIPE` ignored for its whole life (any Rust program that does
//! not change it) can turn the guard off with [`set_sigpipe_guard`]`(false)`, which
//! first checks that the signal is ignored now. It is the program's promise that
//! nothing will make the signal lethal again behind ipckit's back; ipckit's own
//! [`set_sigpipe_action`] turns the guard back on when it does.
//!
//! # Zero copy
//!
//! On Linux, data can move between a pipe and a file or socket without passing
//! through user memory: [`PipeWriter::splice_from`], [`PipeReader::splice_to`], and
//! the loops [`PipeWriter::copy_from`] and [`PipeReader::copy_to`] (which fall back
//! to `read`/`write` where `splice` is not supported). [`PipeReader::tee_to`]
//! duplicates a pipe's content into another pipe without consuming it, and
//! [`PipeWriter::vmsplice`] maps user memory into a pipe.
//!
//! # Two directions
//!
//! A pipe is simplex; two pipes make a duplex channel. [`duplex`] returns its two
//! sides, each a [`Duplex`] that reads what the other writes.
//!
//! # Async
//!
//! With the cargo feature `tokio`, `PipeReader::into_async` and
//! `PipeWriter::into_async` give ends that implement tokio's `AsyncRead` and
//! `AsyncWrite`.
//!
//! References: [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html),
//! [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html),
//! [fcntl(2)](https://man7.org/linux/man-pages/man2/fcntl.2.html) (`F_SETPIPE_SZ`),
//! [splice(2)](https://man7.org/linux/man-pages/man2/splice.2.html),
//! [tee(2)](https://man7.org/linux/man-pages/man2/tee.2.html),
//! [vmsplice(2)](https://man7.org/linux/man-pages/man2/vmsplice.2.html),
//! [POSIX write()](https://pubs.opengroup.org/onlinepubs/9799919799/functions/write.html)
//! (atomicity of `PIPE_BUF`).
//!
//! [`ErrorKind::BrokenPipe`]: crate::ErrorKind::BrokenPipe
//! [`ErrorKind::LimitExceeded`]: crate::ErrorKind::LimitExceeded

#[cfg(feature = "tokio")]
mod async_io;
mod child;
mod duplex;
mod zero_copy;

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::process::Stdio;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use async_io::{AsyncPipeReader, AsyncPipeWriter};
pub use child::{
    fork_duplex, fork_from_child, fork_to_child, spawn_duplex, spawn_from_child, spawn_to_child,
};
pub use duplex::{Duplex, duplex};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::limits::Limit;
use crate::sys::{self, Errno};

/// The largest write that is atomic on a pipe, in bytes (POSIX `PIPE_BUF`; 4096 on
/// Linux).
///
/// A write of at most this many bytes is never interleaved with other writers' data,
/// and in non-blocking mode it either writes everything or nothing.
pub const PIPE_BUF: usize = sys::pipe::PIPE_BUF;

/// `pipe2(fds, O_CLOEXEC)`—Creates a pipe and returns its read and write ends.
///
/// Both ends are blocking and close-on-exec. See [`PipeOptions`] for other choices.
///
/// ```
/// use std::io::{Read, Write};
///
/// let (mut r, mut w) = ipckit::pipe::pipe()?;
/// w.write_all(b"ping")?;
/// let mut buf = [0u8; 4];
/// r.read_exact(&mut buf)?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::LimitExceeded`] when the process has `RLIMIT_NOFILE` descriptors open,
/// or the system its `/proc/sys/fs/file-max`.
///
/// References: [pipe(2)](https://man7.org/linux/man-pages/man2/pipe.2.html).
#[doc(alias = "pipe2")]
pub fn pipe() -> Result<(PipeReader, PipeWriter)> {
    PipeOptions::new().create()
}

/// How to create a pipe: blocking mode, close-on-exec, packet mode, capacity.
///
/// ```
/// use ipckit::pipe::PipeOptions;
///
/// let (r, w) = PipeOptions::new().nonblocking(true).capacity(256 * 1024).create()?;
/// assert!(r.is_nonblocking()? && w.is_nonblocking()?);
/// assert!(w.capacity()? >= 256 * 1024);
/// # Ok::<(), ipckit::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PipeOptions {
    nonblocking: bool,
    cloexec: bool,
    packet: bool,
    capacity: Option<usize>,
}

impl Default for PipeOptions {
    fn default() -> PipeOptions {
        PipeOptions::new()
    }
}

impl PipeOptions {
    /// Blocking, close-on-exec, byte stream, default capacity.
    pub fn new() -> PipeOptions {
        PipeOptions { nonblocking: false, cloexec: true, packet: false, capacity: None }
    }

    /// Makes both ends non-blocking (`O_NONBLOCK`): reads with no data and writes with
    /// no room fail with [`std::io::ErrorKind::WouldBlock`] instead of waiting.
    pub fn nonblocking(mut self, on: bool) -> PipeOptions {
        self.nonblocking = on;
        self
    }

    /// Whether the ends are closed when the process runs another program
    /// (`O_CLOEXEC`, the default). Turning it off lets every program this process
    /// starts, from any thread, inherit both ends; prefer handing an end to one child
    /// explicitly (see [`spawn_to_child`]).
    pub fn cloexec(mut self, on: bool) -> PipeOptions {
        self.cloexec = on;
        self
    }

    /// Packet mode (`O_DIRECT`, Linux 3.4): each write of at most [`PIPE_BUF`] bytes
    /// becomes one packet, and each read returns at most one packet (a read with a
    /// buffer smaller than the packet discards the rest). Larger writes are split into
    /// packets of `PIPE_BUF` bytes.
    pub fn packet(mut self, on: bool) -> PipeOptions {
        self.packet = on;
        self
    }

    /// Sets the capacity right after creation (see [`PipeWriter::set_capacity`]).
    pub fn capacity(mut self, bytes: usize) -> PipeOptions {
        self.capacity = Some(bytes);
        self
    }

    /// `pipe2(fds, flags)`—Creates the pipe.
    ///
    /// Fails with [`ErrorKind::LimitExceeded`] when the process or the system has
    /// no descriptor left (`EMFILE`, `ENFILE`), or when the capacity asked for is
    /// refused (see [`PipeWriter::set_capacity`]).
    pub fn create(&self) -> Result<(PipeReader, PipeWriter)> {
        let (r, w) = sys::pipe::pipe2(self.cloexec, self.nonblocking, self.packet).map_err(|e| {
            let err = Error::sys("pipe2", Object::None, e);
            match e {
                Errno::EMFILE => err
                    .with_detail("this process has no file descriptor left (RLIMIT_NOFILE; see `ulimit -n`)"),
                Errno::ENFILE => err.with_detail(
                    "the system has no file descriptor left (/proc/sys/fs/file-max), or this user \
                     has too many pipe pages (/proc/sys/fs/pipe-user-pages-hard)",
                ),
                _ => err,
            }
        })?;
        let (r, w) = (PipeReader { fd: r }, PipeWriter { fd: w });
        if let Some(c) = self.capacity {
            w.set_capacity(c)?;
        }
        Ok((r, w))
    }
}

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
    fd: OwnedFd,
}

/// The write end of a pipe or FIFO.
///
/// Writing waits while the pipe is full (unless the end is non-blocking) and fails
/// with [`std::io::ErrorKind::BrokenPipe`] once no read end is open anywhere — never
/// by killing the process with `SIGPIPE` (see the [module docs](self#sigpipe)).
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
    fd: OwnedFd,
}

/// The error of a call on an end known by its descriptor.
fn fd_error(op: &'static str, fd: BorrowedFd<'_>, e: Errno) -> Error {
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

        impl fmt::Debug for $T {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($T)).field("fd", &self.fd.as_raw_fd()).finish()
            }
        }

        impl AsFd for $T {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.as_fd()
            }
        }

        impl AsRawFd for $T {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl IntoRawFd for $T {
            fn into_raw_fd(self) -> RawFd {
                self.fd.into_raw_fd()
            }
        }

        impl From<$T> for OwnedFd {
            fn from(end: $T) -> OwnedFd {
                end.fd
            }
        }

        impl TryFrom<OwnedFd> for $T {
            type Error = Error;

            fn try_from(fd: OwnedFd) -> Result<$T> {
                $T::from_fd(fd)
            }
        }

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

    fn write_error(&self, e: Errno) -> Error {
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

/// What a process does when it receives `SIGPIPE` (the signal's disposition).
///
/// ipckit's writes never raise `SIGPIPE` whatever this is (see the
/// [module docs](self#sigpipe)); it matters for other code in the process and for
/// children, which inherit an ignored signal across `exec`.
///
/// ```
/// use ipckit::pipe::{self, SigpipeAction};
///
/// match pipe::sigpipe_action()? {
///     SigpipeAction::Ignore => println!("a write without reader fails with EPIPE"),
///     SigpipeAction::Terminate => println!("a write without reader kills (except ipckit's)"),
///     SigpipeAction::Handler => println!("a handler runs"),
/// }
/// # Ok::<(), ipckit::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SigpipeAction {
    /// `SIG_DFL`: the process is terminated.
    Terminate,
    /// `SIG_IGN`: writes without a reader fail with `EPIPE`. Rust programs start so.
    Ignore,
    /// A signal handler is installed (read only: ipckit does not install handlers).
    Handler,
}

impl From<sys::pipe::SigpipeDisposition> for SigpipeAction {
    fn from(d: sys::pipe::SigpipeDisposition) -> SigpipeAction {
        match d {
            sys::pipe::SigpipeDisposition::Default => SigpipeAction::Terminate,
            sys::pipe::SigpipeDisposition::Ignore => SigpipeAction::Ignore,
            sys::pipe::SigpipeDisposition::Handler => SigpipeAction::Handler,
        }
    }
}

/// `sigaction(SIGPIPE, NULL, &old)`—What this process does on `SIGPIPE`.
///
/// ```
/// use ipckit::pipe::{sigpipe_action, SigpipeAction};
///
/// // The Rust runtime ignores SIGPIPE before `main` (and before tests) run.
/// assert_eq!(sigpipe_action()?, SigpipeAction::Ignore);
/// # Ok::<(), ipckit::Error>(())
/// ```
///
/// References: [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html).
pub fn sigpipe_action() -> Result<SigpipeAction> {
    sys::pipe::sigpipe_disposition()
        .map(SigpipeAction::from)
        .map_err(|e| Error::sys("sigaction", Object::Name("SIGPIPE".into()), e))
}

/// `sigaction(SIGPIPE, {SIG_DFL or SIG_IGN}, &old)`—Sets what this process does on
/// `SIGPIPE`; returns the previous action.
///
/// This is process-wide state, and an ignored `SIGPIPE` is inherited by every
/// program started afterwards (though Rust's `Command` resets it). ipckit itself
/// never needs it. Only [`SigpipeAction::Terminate`] and [`SigpipeAction::Ignore`]
/// can be set; [`SigpipeAction::Handler`] is [`ErrorKind::InvalidInput`].
///
/// References: [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html),
/// [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html).
pub fn set_sigpipe_action(action: SigpipeAction) -> Result<SigpipeAction> {
    let ignore = match action {
        SigpipeAction::Terminate => false,
        SigpipeAction::Ignore => true,
        SigpipeAction::Handler => {
            return Err(Error::new("sigaction", Object::Name("SIGPIPE".into()), ErrorKind::InvalidInput)
                .with_detail("ipckit sets SIGPIPE to Terminate or Ignore, never to a handler"));
        }
    };
    if !ignore {
        // Lethal again: from now on every write needs the guard.
        sys::pipe::set_sigpipe_guard(true);
    }
    sys::pipe::set_sigpipe_disposition(ignore)
        .map(SigpipeAction::from)
        .map_err(|e| Error::sys("sigaction", Object::Name("SIGPIPE".into()), e))
}

/// Whether ipckit blocks `SIGPIPE` around each write into a pipe (on unless turned
/// off with [`set_sigpipe_guard`]).
pub fn sigpipe_guard() -> bool {
    sys::pipe::sigpipe_guard()
}

/// Turns the per-write `SIGPIPE` guard on or off, process-wide (see the
/// [module docs](self#sigpipe)).
///
/// Off saves two system calls per write, and is only allowed while `SIGPIPE` is
/// ignored ([`ErrorKind::InvalidInput`] otherwise): without a reader, writes then fail
/// with `EPIPE` because the signal is ignored, not because ipckit holds it off. Turn it
/// off only in a program that never makes `SIGPIPE` lethal again, except through
/// [`set_sigpipe_action`] (which turns the guard back on).
///
/// ```
/// use ipckit::pipe::{self, SigpipeAction};
///
/// // A Rust program: SIGPIPE is ignored from the start.
/// assert_eq!(pipe::sigpipe_action()?, SigpipeAction::Ignore);
/// pipe::set_sigpipe_guard(false)?;
/// let (r, w) = pipe::pipe()?;
/// drop(r);
/// assert_eq!(w.write_atomic(b"x").unwrap_err().kind(), ipckit::ErrorKind::BrokenPipe);
/// pipe::set_sigpipe_guard(true)?;
/// # Ok::<(), ipckit::Error>(())
/// ```
pub fn set_sigpipe_guard(on: bool) -> Result<()> {
    if !on {
        let action = sigpipe_action()?;
        if action != SigpipeAction::Ignore {
            return Err(Error::new(
                "set_sigpipe_guard",
                Object::Name("SIGPIPE".into()),
                ErrorKind::InvalidInput,
            )
            .with_detail(format!(
                "SIGPIPE is {}, not ignored: without the guard a write with no reader would raise it",
                match action {
                    SigpipeAction::Terminate => "at its default (terminate)",
                    SigpipeAction::Handler => "handled by a signal handler",
                    SigpipeAction::Ignore => "ignored",
                }
            )));
        }
    }
    sys::pipe::set_sigpipe_guard(on);
    Ok(())
}

/// What [`wait_writable`] found.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum WriteReady {
    /// A write would not block.
    Ready,
    /// The reader has gone (`POLLERR` on a pipe or FIFO, `POLLHUP` on a socket): a
    /// write would fail with `EPIPE`.
    ReaderGone,
    /// The time ran out with the descriptor still full.
    TimedOut,
}

/// `poll(&{fd, POLLOUT}, 1, timeout)`—Waits until a write to `fd` would not block,
/// or its reader has gone; `None` waits as long as it takes.
///
/// A program that must not take data from somewhere unless it can pass it on (a
/// message taken from a queue is gone from it) asks this before taking: a pipe
/// whose reader has exited is found before anything is lost. Regular files and
/// terminals are always ready.
///
/// ```
/// use ipckit::pipe::{pipe, wait_writable, WriteReady};
///
/// let (reader, writer) = pipe()?;
/// assert_eq!(wait_writable(&writer, None)?, WriteReady::Ready);
/// drop(reader);
/// assert_eq!(wait_writable(&writer, None)?, WriteReady::ReaderGone);
/// # Ok::<(), ipckit::Error>(())
/// ```
///
/// References: [poll(2)](https://man7.org/linux/man-pages/man2/poll.2.html),
/// [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html).
#[doc(alias = "poll")]
pub fn wait_writable(fd: impl AsFd, timeout: Option<std::time::Duration>) -> Result<WriteReady> {
    let fd = fd.as_fd();
    let deadline = timeout.map(|t| std::time::Instant::now() + t);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        match sys::pipe::poll(fd, true, left) {
            Ok(r) if r.error || r.hangup => return Ok(WriteReady::ReaderGone),
            Ok(r) if r.writable => return Ok(WriteReady::Ready),
            Ok(_) if left.is_some_and(|l| l.is_zero()) => return Ok(WriteReady::TimedOut),
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::sys("poll", Object::Fd(fd.as_raw_fd()), e)),
        }
    }
}
