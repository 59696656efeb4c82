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
//! [`OwnedFd`](std::os::fd::OwnedFd)) and close it when dropped. Both are created **close-on-exec**
//! (`O_CLOEXEC`), atomically with the pipe: a program that runs another program never
//! leaks an end into it by accident — a leaked write end is the classic reason a
//! reader never sees end-of-file. Pass an end to a child on purpose by making it the
//! child's stdin or stdout ([`Stdio`](std::process::Stdio) conversion, or [`spawn_to_child`] and friends).
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
mod end;
mod sigpipe;
mod zero_copy;

use std::os::fd::{AsFd, AsRawFd};

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use async_io::{AsyncPipeReader, AsyncPipeWriter};
pub use child::{
    fork_duplex, fork_from_child, fork_to_child, spawn_duplex, spawn_from_child, spawn_to_child,
};
pub use duplex::{Duplex, duplex};
use end::fd_error;
pub use end::{PipeReader, PipeWriter};
pub use sigpipe::{SigpipeAction, set_sigpipe_action, set_sigpipe_guard, sigpipe_action, sigpipe_guard};

use crate::error::{Error, Object, Result};
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
/// [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when the process has `RLIMIT_NOFILE` descriptors open,
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
    /// Fails with [`ErrorKind::LimitExceeded`](crate::ErrorKind::LimitExceeded) when the process or the system has
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
