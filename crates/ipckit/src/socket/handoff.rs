//! Handing ipckit objects to another process over a Unix socket.
//!
//! Every handle that owns a descriptor implements [`Passable`]: the sender's
//! [`send_handle`](super::UnixStream::send_handle) sends the descriptor with a 16-byte
//! tag naming its kind, and the receiver's
//! [`recv_handle`](super::UnixStream::recv_handle) checks the tag, checks the
//! descriptor itself where the kernel can tell (`fstat`, `fstatfs`, a channel's
//! header), and returns a handle of the same type. A wrong kind is
//! [`ErrorKind::WrongType`]; the descriptor is closed, never leaked.
//!
//! Wire format of the tag: `b"ipckit:"` followed by the kind (at most 9 bytes), padded
//! with NUL bytes to 16 bytes, sent in the same message as one `SCM_RIGHTS`
//! descriptor.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use super::{UnixDatagram, UnixSeqpacket, UnixStream};
#[cfg(not(ipckit_loom))]
use crate::channel::Channel;
use crate::error::{Error, ErrorKind, Object, Result};
use crate::pipe::{PipeReader, PipeWriter};
use crate::posix::mq::MsgQueue;
use crate::posix::shm::ShmObject;
use crate::sys;
use crate::sys::socket as raw;

/// The length of the tag sent with a handle.
pub const HANDLE_TAG: usize = 16;
const PREFIX: &[u8] = b"ipckit:";

/// A handle that can travel to another process as its descriptor, and be rebuilt there
/// as the same type.
///
/// Implemented for pipe and FIFO ends ([`PipeReader`], [`PipeWriter`]), POSIX shared
/// memory and memfds ([`ShmObject`]), POSIX message queues ([`MsgQueue`]), channels
/// in a memfd or POSIX object ([`Channel`]), files, and Unix sockets.
pub trait Passable: Sized {
    /// The kind, sent with the descriptor (at most 9 bytes).
    const KIND: &'static str;

    /// The descriptor to send; an error for a handle that has none (a channel in a
    /// System V segment).
    fn passed_fd(&self) -> Result<BorrowedFd<'_>>;

    /// Rebuilds the handle from a received descriptor, checking that it is this kind
    /// of object where the kernel can tell.
    fn from_passed_fd(fd: OwnedFd) -> Result<Self>;
}

pub(crate) fn tag(kind: &str) -> [u8; HANDLE_TAG] {
    let mut t = [0u8; HANDLE_TAG];
    t[..PREFIX.len()].copy_from_slice(PREFIX);
    let k = kind.as_bytes();
    let n = k.len().min(HANDLE_TAG - PREFIX.len());
    t[PREFIX.len()..PREFIX.len() + n].copy_from_slice(&k[..n]);
    t
}

/// Checks a received tag against `T::KIND` and rebuilds the handle.
pub(crate) fn finish<T: Passable>(got: &[u8], mut fds: super::Fds, obj: Object) -> Result<T> {
    let op = "recv_handle";
    if got.len() != HANDLE_TAG || !got.starts_with(PREFIX) {
        return Err(Error::new(op, obj, ErrorKind::Corrupted).with_detail(
            "the message is not an ipckit handle (no \"ipckit:\" tag); any descriptor was closed",
        ));
    }
    let kind = &got[PREFIX.len()..];
    let end = kind.iter().position(|b| *b == 0).unwrap_or(kind.len());
    let kind = String::from_utf8_lossy(&kind[..end]).into_owned();
    if kind != T::KIND {
        return Err(Error::new(op, obj, ErrorKind::WrongType)
            .with_detail(format!("the peer sent a {kind}, not a {}; its descriptor was closed", T::KIND)));
    }
    if fds.len() != 1 {
        return Err(Error::new(op, obj, ErrorKind::Corrupted).with_detail(format!(
            "a handle comes with one descriptor, not {}; they were closed",
            fds.len()
        )));
    }
    T::from_passed_fd(fds.pop().expect("one descriptor"))
}

fn fs_check(fd: &OwnedFd, magics: &[i64], what: &str) -> Result<()> {
    let m = raw::fs_magic(fd.as_fd()).map_err(|e| Error::sys("fstatfs", fd_obj(fd), e))?;
    if !magics.contains(&m) {
        return Err(Error::new("fstatfs", fd_obj(fd), ErrorKind::WrongType)
            .with_detail(format!("the descriptor is not {what} (file system magic {m:#x})")));
    }
    Ok(())
}

fn fd_obj(fd: &OwnedFd) -> Object {
    use std::os::fd::AsRawFd;
    Object::Fd(fd.as_raw_fd())
}

fn check_shared_memory(fd: &OwnedFd) -> Result<()> {
    let id = sys::pipe::fstat(fd.as_fd()).map_err(|e| Error::sys("fstat", fd_obj(fd), e))?;
    if id.kind != sys::pipe::FileType::Regular {
        return Err(Error::new("fstat", fd_obj(fd), ErrorKind::WrongType)
            .with_detail(format!("the descriptor refers to {}, not shared memory", id.kind.describe())));
    }
    fs_check(fd, &[raw::TMPFS_MAGIC, raw::HUGETLBFS_MAGIC], "POSIX shared memory or a memfd")
}

impl Passable for PipeReader {
    const KIND: &'static str = "pipe-r";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }
    /// Checks `S_ISFIFO` and that the end is readable.
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        PipeReader::from_fd(fd)
    }
}

impl Passable for PipeWriter {
    const KIND: &'static str = "pipe-w";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }
    /// Checks `S_ISFIFO` and that the end is writable.
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        PipeWriter::from_fd(fd)
    }
}

impl Passable for ShmObject {
    const KIND: &'static str = "shm";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }
    /// Checks that the descriptor is a regular file on tmpfs or hugetlbfs (where
    /// `/dev/shm` objects and memfds live).
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        check_shared_memory(&fd)?;
        Ok(ShmObject::from_fd(fd))
    }
}

impl Passable for MsgQueue {
    const KIND: &'static str = "mq";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }
    /// Checks that the descriptor belongs to the mqueue file system.
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        fs_check(&fd, &[raw::MQUEUE_MAGIC], "a POSIX message queue")?;
        MsgQueue::from_fd(fd, "(received queue)")
    }
}

// (The channel is built only in part when its ring is model-checked with loom.)
#[cfg(not(ipckit_loom))]
impl Passable for Channel {
    const KIND: &'static str = "channel";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        self.fd().ok_or_else(|| {
            Error::new("send_handle", Object::Name("channel".into()), ErrorKind::Unsupported)
                .with_detail("a channel in a System V segment has no descriptor; pass its segment id instead")
        })
    }
    /// Checks that the descriptor is shared memory, then the channel's header (magic,
    /// version, sizes), as [`Channel::from_fd`] does.
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        check_shared_memory(&fd)?;
        Channel::from_fd(fd)
    }
}

impl Passable for File {
    const KIND: &'static str = "file";
    fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.as_fd())
    }
    fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
        Ok(File::from(fd))
    }
}

macro_rules! passable_socket {
    ($T:ty, $kind:literal) => {
        impl Passable for $T {
            const KIND: &'static str = $kind;
            fn passed_fd(&self) -> Result<BorrowedFd<'_>> {
                Ok(self.as_fd())
            }
            /// Checks the socket's domain and type.
            fn from_passed_fd(fd: OwnedFd) -> Result<Self> {
                <$T>::from_fd(fd)
            }
        }
    };
}

passable_socket!(UnixStream, "u-stream");
passable_socket!(UnixSeqpacket, "u-seqpkt");
passable_socket!(UnixDatagram, "u-dgram");
