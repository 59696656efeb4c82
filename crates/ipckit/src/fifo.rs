//! Named pipes (FIFOs): `mkfifo`, and opening their ends with clear waiting rules.
//!
//! A FIFO is a pipe with a name in the file system. Any two processes that can reach
//! the path can talk through it, related or not: one opens it for writing, the other
//! for reading, and from then on it behaves exactly like an anonymous pipe (its ends
//! are the same [`PipeReader`] and [`PipeWriter`], with capacity, atomic writes,
//! `splice` and all). The data never touches the disk; the file is only a meeting
//! point.
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use ipckit::Mode;
//! use ipckit::fifo::Fifo;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("chat");
//! let mut fifo = Fifo::create(&path, Mode::OWNER_RW)?;
//! fifo.set_remove_on_drop(true)?; // we made it, we clean it up
//!
//! // Another process (here a thread, for brevity) opens the same path to write.
//! let writer = std::thread::spawn(move || -> std::io::Result<()> {
//!     let mut w = Fifo::at(&path)?.open_write()?; // waits for a reader
//!     writeln!(w, "hello through the file system")
//! });
//! let reader = fifo.open_read()?; // waits for a writer
//! let mut line = String::new();
//! BufReader::new(reader).read_line(&mut line)?;
//! assert_eq!(line, "hello through the file system\n");
//! writer.join().unwrap()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Creating
//!
//! [`Fifo::create`] makes a new FIFO (`mkfifo`) with the given permissions (0600 by
//! default; the process umask applies, as for any new file), and fails with
//! [`ErrorKind::AlreadyExists`] if anything is at the path. [`Fifo::open_or_create`]
//! also accepts an existing file at the path, and [`Fifo::at`] names an existing FIFO
//! without creating anything. Whether the path really is a FIFO is checked when an
//! end is opened, **on the opened descriptor** (`fstat`), never by looking at the path
//! first (which another process could change between the look and the open). Opening
//! a path that is anything else is an [`ErrorKind::WrongType`] error that says what
//! it is. With [`Fifo::nofollow`], a symbolic link at the path is refused
//! (`O_NOFOLLOW`) rather than followed.
//!
//! A handle that created its FIFO can remove it when dropped
//! ([`set_remove_on_drop`](Fifo::set_remove_on_drop), opt-in), and only if the path
//! still names the FIFO it created. Ends that are open keep working after the name is
//! removed.
//!
//! # Waiting to open
//!
//! Opening a FIFO is a rendezvous:
//!
//! | open for | waits until | non-blocking form |
//! |---|---|---|
//! | reading ([`open_read`](Fifo::open_read)) | a writer has it open | [`open_read_nonblocking`](Fifo::open_read_nonblocking): succeeds at once |
//! | writing ([`open_write`](Fifo::open_write)) | a reader has it open | [`open_write_nonblocking`](Fifo::open_write_nonblocking): [`ErrorKind::NoReader`] (`ENXIO`) without a reader |
//! | both ([`open_read_write`](Fifo::open_read_write)) | never (Linux) | — |
//!
//! Each side has the family `open_x` (wait as long as it takes), `try_open_x` (do
//! not wait: [`ErrorKind::WouldBlock`] when the peer is missing), `open_x_timeout` and
//! `open_x_deadline` ([`ErrorKind::TimedOut`] when time runs out), and `open_x_with` taking a
//! [`Wait`]. The timed forms use no thread and leave nothing behind when they give
//! up: for writing, they retry a non-blocking open until a reader appears (every 20 µs
//! at first, backing off to 1 ms); for reading, they open at once without blocking and
//! ask the kernel whether a writer is there (a non-blocking `tee` of one byte into a
//! private pipe answers "empty, with writers" or "empty, without"), waking early as
//! soon as data arrives. So they may return up to about 1 ms after the peer arrives.
//! Like a blocking open, a waiting reader counts as a reader: a writer waiting to
//! open is released by it.
//!
//! Two things to know about the non-blocking read end: it reads end-of-file (0, not
//! `WouldBlock`) while no writer has opened the FIFO yet, and the end stays
//! non-blocking. Use it with `poll`, or asynchronously with the feature `tokio`
//! (`Fifo::open_read_async`), where reading waits for a writer and its data.
//!
//! A read-write open makes the process its own reader and writer: it never sees
//! end-of-file nor a broken pipe while that end is open. Servers use it to keep a
//! FIFO open between clients; POSIX leaves it undefined, Linux allows it.
//!
//! References: [fifo(7)](https://man7.org/linux/man-pages/man7/fifo.7.html),
//! [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html),
//! [open(2)](https://man7.org/linux/man-pages/man2/open.2.html) (`O_NONBLOCK`,
//! `ENXIO`, `O_NOFOLLOW`), [pipe(7)](https://man7.org/linux/man-pages/man7/pipe.7.html).

use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind, Object, Result};
use crate::perm::Mode;
use crate::pipe::{PipeReader, PipeWriter};
use crate::sys::fifo::Access;
use crate::sys::pipe::{FileType, Writers};
use crate::sys::{self, Errno};
use crate::sysv::Ownership;
use crate::wait::Wait;

/// The first pause of the timed opens, and the longest.
const FIRST_PAUSE: Duration = Duration::from_micros(20);
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// A named pipe: a path in the file system, and the means to open its ends.
///
/// Each `open_*` call opens the path anew and returns an end; the handle itself is
/// neither a reader nor a writer (a handle that created its FIFO keeps an `O_PATH`
/// reference to it, which only serves to recognise it at removal). See the
/// [module docs](self) for the waiting rules.
///
/// ```
/// use ipckit::{ErrorKind, Mode};
/// use ipckit::fifo::Fifo;
///
/// let dir = tempfile::tempdir()?;
/// let mut fifo = Fifo::create(dir.path().join("f"), Mode::OWNER_RW)?;
/// fifo.set_remove_on_drop(true)?;
///
/// // No reader yet: a non-blocking open for writing says so.
/// let err = fifo.open_write_nonblocking().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::NoReader);
///
/// // A reader can open without waiting; then a writer can too.
/// let reader = fifo.open_read_nonblocking()?;
/// let writer = fifo.open_write_nonblocking()?;
/// writer.write_atomic(b"ok")?;
/// assert_eq!(reader.bytes_queued()?, 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Fifo {
    path: PathBuf,
    cpath: CString,
    nofollow: bool,
    own: Ownership,
    /// For the handle that created the FIFO: an `O_PATH` descriptor of it. It pins
    /// the inode, so that comparing device and inode numbers with what the path names
    /// later is a sure test of "still the FIFO we made" (a freed inode number could be
    /// reused by a new file; a held one cannot).
    made: Option<OwnedFd>,
}

fn c_path(op: &'static str, path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        Error::new(op, Object::Path(path.to_path_buf()), ErrorKind::InvalidInput)
            .with_detail("the path contains a NUL byte")
    })
}

impl Fifo {
    /// `mkfifo(path, mode)`—Creates a new FIFO; fails if anything exists at `path`.
    ///
    /// The FIFO gets exactly `mode`: `mkfifo` applies the process umask (022 turns
    /// 0666 into 0644, refusing the other users the caller meant to let in), so the
    /// mode is set again after creation. Errors: [`ErrorKind::AlreadyExists`],
    /// [`ErrorKind::NotFound`] (a directory on the way is missing),
    /// [`ErrorKind::PermissionDenied`].
    ///
    /// References: [mkfifo(3)](https://man7.org/linux/man-pages/man3/mkfifo.3.html).
    #[doc(alias = "mkfifo")]
    pub fn create(path: impl AsRef<Path>, mode: Mode) -> Result<Fifo> {
        let path = path.as_ref();
        let cpath = c_path("mkfifo", path)?;
        sys::fifo::mkfifo(&cpath, mode.bits()).map_err(|e| {
            let err = Error::sys("mkfifo", Object::Path(path.to_path_buf()), e);
            match e {
                Errno::EEXIST => err.with_detail("a file already exists at this path"),
                Errno::ENOENT => err.with_detail("a directory in the path does not exist"),
                Errno::ENOTDIR => err
                    .with_kind(ErrorKind::NotFound)
                    .with_detail("a component of the path is not a directory"),
                Errno::EACCES => err.with_detail("the directory's permissions refuse creating a file in it"),
                _ => err,
            }
        })?;
        // Hold on to what we made, so that removal touches this FIFO and nothing else.
        let made = sys::fifo::open_path(&cpath).ok();
        // The mode asked for, not the one the umask left (through the descriptor when
        // there is one, so a file swapped in at the path is never touched).
        let chmod = match &made {
            Some(fd) => sys::fifo::chmod_opath(std::os::fd::AsFd::as_fd(fd), mode.bits()),
            None => sys::fifo::chmod(&cpath, mode.bits()),
        };
        if let Err(e) = chmod {
            let _ = sys::fifo::unlink(&cpath);
            return Err(Error::sys("chmod", Object::Path(path.to_path_buf()), e)
                .with_detail("setting the new FIFO's mode past the umask"));
        }
        Ok(Fifo { path: path.to_path_buf(), cpath, nofollow: false, own: Ownership::new(true), made })
    }

    /// Creates the FIFO if nothing is at `path` (`mkfifo`), or names what is there.
    ///
    /// If a file already exists, this succeeds without looking at it:
    /// [`created`](Self::created) is false, and opening an end checks that it is a FIFO
    /// (on the opened descriptor) and refuses anything else with
    /// [`ErrorKind::WrongType`].
    pub fn open_or_create(path: impl AsRef<Path>, mode: Mode) -> Result<Fifo> {
        match Fifo::create(path.as_ref(), mode) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Fifo::at(path),
            Err(e) => Err(e),
        }
    }

    /// Names an existing FIFO at `path`, without creating or opening anything.
    ///
    /// Fails only for a path with a NUL byte; whether a FIFO is there is checked when
    /// an end is opened.
    pub fn at(path: impl AsRef<Path>) -> Result<Fifo> {
        let path = path.as_ref();
        let cpath = c_path("open", path)?;
        Ok(Fifo { path: path.to_path_buf(), cpath, nofollow: false, own: Ownership::new(false), made: None })
    }

    /// Whether opening refuses a symbolic link at the path (`O_NOFOLLOW`) instead of
    /// following it. Off by default. A link is then an [`ErrorKind::WrongType`] error
    /// (links in the directories leading to the path are still followed).
    pub fn nofollow(mut self, on: bool) -> Fifo {
        self.nofollow = on;
        self
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this handle created the FIFO.
    pub fn created(&self) -> bool {
        self.own.created()
    }

    /// Asks for the FIFO to be removed when this handle is dropped (by this process:
    /// a forked child's copy never removes it). Only the handle that created the FIFO
    /// may ask; others get [`ErrorKind::InvalidInput`] and can call
    /// [`remove`](Self::remove).
    pub fn set_remove_on_drop(&mut self, remove: bool) -> Result<()> {
        self.own.set_remove_on_drop(remove, "set_remove_on_drop", Object::Path(self.path.clone()))
    }

    /// `unlink(path)`—Removes the FIFO's name now. Open ends keep working.
    ///
    /// Refuses ([`ErrorKind::WrongType`]) if the path no longer names a FIFO, or, for
    /// the handle that created it, no longer names the FIFO it created.
    ///
    /// References: [unlink(2)](https://man7.org/linux/man-pages/man2/unlink.2.html).
    pub fn remove(mut self) -> Result<()> {
        self.own.disarm();
        self.unlink_checked()
    }

    fn unlink_checked(&self) -> Result<()> {
        let obj = || Object::Path(self.path.clone());
        let now = sys::pipe::lstat(&self.cpath).map_err(|e| Error::sys("lstat", obj(), e))?;
        if now.kind != FileType::Fifo {
            return Err(Error::new("unlink", obj(), ErrorKind::WrongType).with_detail(format!(
                "the path names {}, not a FIFO; it was not removed",
                now.kind.describe()
            )));
        }
        if let Some(made) = &self.made {
            let ours = sys::pipe::fstat(made.as_fd()).map_err(|e| Error::sys("fstat", obj(), e))?;
            if (ours.dev, ours.ino) != (now.dev, now.ino) {
                return Err(Error::new("unlink", obj(), ErrorKind::WrongType).with_detail(
                    "the path now names a different FIFO than the one this handle created; it was not removed",
                ));
            }
        }
        sys::fifo::unlink(&self.cpath).map_err(|e| Error::sys("unlink", obj(), e))
    }

    // ---- opening ----------------------------------------------------------------

    /// `open(path, flags)` and the check on the opened descriptor.
    fn open_fd(&self, access: Access, nonblocking: bool) -> Result<OwnedFd> {
        let fd = sys::fifo::open(&self.cpath, access, nonblocking, self.nofollow)
            .map_err(|e| self.open_error(e))?;
        self.check_fifo(&fd)?;
        Ok(fd)
    }

    /// `fstat` on the opened descriptor: it must be a FIFO.
    fn check_fifo(&self, fd: &OwnedFd) -> Result<()> {
        let id = sys::pipe::fstat(fd.as_fd())
            .map_err(|e| Error::sys("fstat", Object::Path(self.path.clone()), e))?;
        if id.kind != FileType::Fifo {
            // `fd` is dropped by the caller's `?`: nothing stays open.
            return Err(Error::new("open", Object::Path(self.path.clone()), ErrorKind::WrongType)
                .with_detail(format!("the path names {}, not a FIFO", id.kind.describe())));
        }
        Ok(())
    }

    fn open_error(&self, e: Errno) -> Error {
        let err = Error::sys("open", Object::Path(self.path.clone()), e);
        match e {
            Errno::ELOOP if self.nofollow => {
                // Only to word the message: the refusal itself came from O_NOFOLLOW.
                match sys::pipe::lstat(&self.cpath) {
                    Ok(id) if id.kind == FileType::Symlink => {
                        err.with_kind(ErrorKind::WrongType).with_detail(
                            "the path is a symbolic link, and following links was refused (nofollow)",
                        )
                    }
                    _ => err.with_detail("too many symbolic links on the way to the path"),
                }
            }
            Errno::ELOOP => err.with_detail("too many symbolic links on the way to the path"),
            Errno::EISDIR => {
                err.with_kind(ErrorKind::WrongType).with_detail("the path names a directory, not a FIFO")
            }
            Errno::ENXIO => err.with_detail(
                "no process has the FIFO open for reading (a non-blocking open for writing needs a reader)",
            ),
            Errno::ENOENT => err.with_detail("nothing exists at this path (create the FIFO first)"),
            Errno::ENOTDIR => {
                err.with_kind(ErrorKind::NotFound).with_detail("a component of the path is not a directory")
            }
            Errno::EACCES => err.with_detail("the FIFO's permissions refuse this access"),
            Errno::EINTR => err.with_detail("a signal interrupted the wait for the other side"),
            _ => err,
        }
    }

    /// `open(path, O_RDONLY)`—Opens the FIFO for reading, waiting until a writer has
    /// it open.
    ///
    /// A signal that interrupts the wait gives [`ErrorKind::Interrupted`]. Errors:
    /// [`ErrorKind::WrongType`] when the path is not a FIFO, [`ErrorKind::NotFound`].
    pub fn open_read(&self) -> Result<PipeReader> {
        Ok(PipeReader::from_fd_unchecked(self.open_fd(Access::Read, false)?))
    }

    /// Opens the FIFO for reading if a writer has it open now; [`ErrorKind::WouldBlock`]
    /// if not.
    pub fn try_open_read(&self) -> Result<PipeReader> {
        self.open_read_with(Wait::NoWait)
    }

    /// Opens the FIFO for reading, waiting at most `timeout` for a writer;
    /// [`ErrorKind::TimedOut`] when the time runs out (and nothing is left open).
    pub fn open_read_timeout(&self, timeout: Duration) -> Result<PipeReader> {
        self.open_read_with(Wait::Timeout(timeout))
    }

    /// Opens the FIFO for reading, waiting until `deadline` at the latest for a
    /// writer; [`ErrorKind::TimedOut`] when it passes.
    pub fn open_read_deadline(&self, deadline: Instant) -> Result<PipeReader> {
        self.open_read_with(Wait::Deadline(deadline))
    }

    /// Opens the FIFO for reading, waiting for a writer as `wait` says. The end is
    /// blocking. See the [module docs](self#waiting-to-open) for how the wait works.
    /// "Not now" ([`Error::is_not_now`]) when no writer came in time.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when no writer came
    /// in time (no descriptor is left open); [`ErrorKind::WrongType`] when the path is not
    /// a FIFO; [`ErrorKind::NotFound`] when nothing is at the path;
    /// [`ErrorKind::PermissionDenied`] when the FIFO's mode refuses reading.
    pub fn open_read_with(&self, wait: Wait) -> Result<PipeReader> {
        let Some(deadline) = wait.deadline() else {
            return self.open_read();
        };
        // A non-blocking open for reading never waits, and makes us a reader.
        let fd = self.open_fd(Access::Read, true)?;
        let op_err = |op: &'static str, e: Errno| Error::sys(op, Object::Path(self.path.clone()), e);
        let (_scratch_r, scratch_w) = sys::pipe::pipe2(true, true, false).map_err(|e| op_err("pipe2", e))?;
        let mut pause = FIRST_PAUSE;
        loop {
            match sys::pipe::probe_writers(fd.as_fd(), scratch_w.as_fd()) {
                Ok(Writers::Data | Writers::Present) => break,
                Ok(Writers::None) => {}
                Err(e) => return Err(op_err("tee", e)),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(wait.not_now("open")); // `fd` and the scratch pipe close here
            }
            match sys::pipe::poll(fd.as_fd(), false, Some(pause.min(deadline - now))) {
                // Data arrived, or a writer came and went: a blocking open would have
                // returned too.
                Ok(r) if r.readable || r.hangup => break,
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(op_err("poll", e)),
            }
            pause = (pause * 2).min(MAX_PAUSE);
        }
        sys::pipe::set_nonblocking(fd.as_fd(), false).map_err(|e| op_err("fcntl(F_SETFL)", e))?;
        Ok(PipeReader::from_fd_unchecked(fd))
    }

    /// `open(path, O_RDONLY | O_NONBLOCK)`—Opens the FIFO for reading without waiting
    /// for a writer. The end stays non-blocking.
    ///
    /// Until a writer opens the FIFO, reads return 0 (end-of-file) rather than
    /// `WouldBlock`; wait for readiness with `poll` or an async runtime.
    pub fn open_read_nonblocking(&self) -> Result<PipeReader> {
        Ok(PipeReader::from_fd_unchecked(self.open_fd(Access::Read, true)?))
    }

    /// `open(path, O_WRONLY)`—Opens the FIFO for writing, waiting until a reader has
    /// it open.
    ///
    /// A signal that interrupts the wait gives [`ErrorKind::Interrupted`].
    pub fn open_write(&self) -> Result<PipeWriter> {
        Ok(PipeWriter::from_fd_unchecked(self.open_fd(Access::Write, false)?))
    }

    /// Opens the FIFO for writing if a reader has it open now; [`ErrorKind::WouldBlock`]
    /// if not.
    pub fn try_open_write(&self) -> Result<PipeWriter> {
        self.open_write_with(Wait::NoWait)
    }

    /// Opens the FIFO for writing, waiting at most `timeout` for a reader;
    /// [`ErrorKind::TimedOut`] when the time runs out.
    pub fn open_write_timeout(&self, timeout: Duration) -> Result<PipeWriter> {
        self.open_write_with(Wait::Timeout(timeout))
    }

    /// Opens the FIFO for writing, waiting until `deadline` at the latest for a
    /// reader; [`ErrorKind::TimedOut`] when it passes.
    pub fn open_write_deadline(&self, deadline: Instant) -> Result<PipeWriter> {
        self.open_write_with(Wait::Deadline(deadline))
    }

    /// Opens the FIFO for writing, waiting for a reader as `wait` says. The end is
    /// blocking. See the [module docs](self#waiting-to-open) for how the wait works.
    /// "Not now" ([`Error::is_not_now`]) when no reader came in time.
    ///
    /// # Errors
    ///
    /// "Not now" ([`ErrorKind::WouldBlock`] or [`ErrorKind::TimedOut`]) when no reader came
    /// in time (no descriptor is left open); [`ErrorKind::WrongType`] when the path is not
    /// a FIFO; [`ErrorKind::NotFound`] when nothing is at the path;
    /// [`ErrorKind::PermissionDenied`] when the FIFO's mode refuses writing.
    pub fn open_write_with(&self, wait: Wait) -> Result<PipeWriter> {
        let Some(deadline) = wait.deadline() else {
            return self.open_write();
        };
        let mut pause = FIRST_PAUSE;
        loop {
            match self.open_fd(Access::Write, true) {
                Ok(fd) => {
                    sys::pipe::set_nonblocking(fd.as_fd(), false)
                        .map_err(|e| Error::sys("fcntl(F_SETFL)", Object::Path(self.path.clone()), e))?;
                    return Ok(PipeWriter::from_fd_unchecked(fd));
                }
                Err(e) if e.kind() == ErrorKind::NoReader => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(wait.not_now("open"));
            }
            std::thread::sleep(pause.min(deadline - now));
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// `open(path, O_WRONLY | O_NONBLOCK)`—Opens the FIFO for writing without
    /// waiting. The end stays non-blocking.
    ///
    /// Fails with [`ErrorKind::NoReader`] (`ENXIO`) when no process has the FIFO open
    /// for reading.
    pub fn open_write_nonblocking(&self) -> Result<PipeWriter> {
        Ok(PipeWriter::from_fd_unchecked(self.open_fd(Access::Write, true)?))
    }

    /// `open(path, O_RDWR)`—Opens the FIFO for reading and writing at once, without
    /// waiting, and returns a reader and a writer on that one open file.
    ///
    /// The process is then its own reader and writer: while either end is open, reads
    /// never see end-of-file and writes never fail for want of a reader. POSIX leaves
    /// this undefined; Linux allows it. Both ends share the open file, so
    /// `set_nonblocking` on one changes the other.
    pub fn open_read_write(&self) -> Result<(PipeReader, PipeWriter)> {
        let fd = self.open_fd(Access::ReadWrite, false)?;
        let dup = sys::pipe::dup_cloexec(fd.as_fd())
            .map_err(|e| Error::sys("fcntl(F_DUPFD_CLOEXEC)", Object::Path(self.path.clone()), e))?;
        Ok((PipeReader::from_fd_unchecked(fd), PipeWriter::from_fd_unchecked(dup)))
    }

    /// Opens the FIFO for reading without waiting, as an async end (feature `tokio`).
    ///
    /// Returns at once; reading then waits (asynchronously) for a writer and its data,
    /// and reads end-of-file once a writer has come and gone. Must be called inside a
    /// tokio runtime with IO enabled.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn open_read_async(&self) -> Result<crate::pipe::AsyncPipeReader> {
        self.open_read_nonblocking()?.into_async()
    }

    /// Opens the FIFO for writing as an async end (feature `tokio`), waiting
    /// asynchronously until a reader has it open (retrying a non-blocking open,
    /// every 20 µs at first, backing off to 1 ms).
    ///
    /// Wrap it in `tokio::time::timeout` to bound the wait; dropping the future
    /// leaves nothing open.
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn open_write_async(&self) -> Result<crate::pipe::AsyncPipeWriter> {
        let mut pause = FIRST_PAUSE;
        loop {
            match self.open_write_nonblocking() {
                Ok(w) => return w.into_async(),
                Err(e) if e.kind() == ErrorKind::NoReader => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

impl Drop for Fifo {
    /// Removes the FIFO if asked, by the creating process, and only if the path still
    /// names the FIFO this handle created. Errors are ignored (call
    /// [`remove`](Fifo::remove) to see them).
    fn drop(&mut self) {
        if self.own.should_remove() {
            let _ = self.unlink_checked();
        }
    }
}
