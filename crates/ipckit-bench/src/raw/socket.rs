//! Raw socket loops: Unix socket pairs of each type, descriptor passing, and TCP on the
//! loopback.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::{BenchError, Setup, Side};

use super::{FdSide, os_err, read_exact};

/// Socket types for [`RawUds::new`].
pub(crate) const STREAM: libc::c_int = libc::SOCK_STREAM;
pub(crate) const SEQPACKET: libc::c_int = libc::SOCK_SEQPACKET;
pub(crate) const DGRAM: libc::c_int = libc::SOCK_DGRAM;

/// `uds`, `uds-seqpacket`, `uds-dgram`: a Unix socket pair of that type; a stream
/// with `read`/`write` loops, a packet type with one `send`/`recv` per message.
pub(crate) struct RawUds {
    a: OwnedFd,
    b: OwnedFd,
    packets: bool,
}

impl RawUds {
    pub(crate) fn new(ty: libc::c_int) -> Result<RawUds, BenchError> {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a writable array of two ints.
        if unsafe { libc::socketpair(libc::AF_UNIX, ty | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) } != 0 {
            return Err(os_err("socketpair"));
        }
        // SAFETY: both fds are fresh and owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        Ok(RawUds { a, b, packets: ty != libc::SOCK_STREAM })
    }
}

impl Setup for RawUds {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let fd = if parent { self.a.as_raw_fd() } else { self.b.as_raw_fd() };
        if self.packets { Ok(Box::new(PacketSide { fd })) } else { Ok(Box::new(FdSide { w: fd, r: fd })) }
    }
}

/// One message per `send`/`recv` call.
struct PacketSide {
    fd: RawFd,
}

impl Side for PacketSide {
    fn send(&mut self, buf: &[u8]) -> Result<(), BenchError> {
        loop {
            // SAFETY: `buf` is valid for reading `buf.len()` bytes.
            let n = unsafe { libc::send(self.fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) };
            if n == buf.len() as isize {
                return Ok(());
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_err("send"));
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<(), BenchError> {
        loop {
            // SAFETY: `buf` is valid for writing `buf.len()` bytes.
            let n = unsafe { libc::recv(self.fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n == buf.len() as isize {
                return Ok(());
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(format!("recv: {n} bytes of {}", buf.len()));
        }
    }
}

/// `uds-fd`: a seqpacket pair where every message carries one descriptor
/// (`SCM_RIGHTS`), received with `MSG_CMSG_CLOEXEC` and closed.
pub(crate) struct RawUdsFd {
    pair: RawUds,
    file: std::fs::File,
}

impl RawUdsFd {
    pub(crate) fn new() -> Result<RawUdsFd, BenchError> {
        let file = std::fs::File::open("/dev/null").map_err(|e| format!("open /dev/null: {e}"))?;
        Ok(RawUdsFd { pair: RawUds::new(libc::SOCK_SEQPACKET)?, file })
    }
}

impl Setup for RawUdsFd {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let fd = if parent { self.pair.a.as_raw_fd() } else { self.pair.b.as_raw_fd() };
        Ok(Box::new(FdPassSide { fd, file: self.file.as_raw_fd() }))
    }
}

struct FdPassSide {
    fd: RawFd,
    file: RawFd,
}

/// Room for one `cmsghdr` with one descriptor (CMSG_SPACE(4) is 24 on 64-bit Linux).
const ONE_FD_SPACE: usize = 24;

impl Side for FdPassSide {
    fn send(&mut self, buf: &[u8]) -> Result<(), BenchError> {
        let mut control = [0u64; ONE_FD_SPACE / 8];
        let mut iov = libc::iovec { iov_base: buf.as_ptr() as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: msghdr is plain data; zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = ONE_FD_SPACE as _;
        // SAFETY: the control buffer holds one header and one int (CMSG_SPACE(4)).
        unsafe {
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            libc::CMSG_DATA(c).cast::<RawFd>().write_unaligned(self.file);
        }
        loop {
            // SAFETY: `msg` points to live buffers for the call.
            let n = unsafe { libc::sendmsg(self.fd, &msg, libc::MSG_NOSIGNAL) };
            if n == buf.len() as isize {
                return Ok(());
            }
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_err("sendmsg"));
        }
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<(), BenchError> {
        let mut control = [0u64; ONE_FD_SPACE / 8];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: msghdr is plain data; zero is valid.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = ONE_FD_SPACE as _;
        let n = loop {
            // SAFETY: `msg` points to live, writable buffers for the call.
            let n = unsafe { libc::recvmsg(self.fd, &mut msg, libc::MSG_CMSG_CLOEXEC) };
            if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break n;
        };
        if n != buf.len() as isize {
            return Err(format!("recvmsg: {n} bytes of {}", buf.len()));
        }
        // SAFETY: the kernel filled the control buffer; walk it and close each fd.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                if (*c).cmsg_type == libc::SCM_RIGHTS {
                    libc::close(libc::CMSG_DATA(c).cast::<RawFd>().read_unaligned());
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
        Ok(())
    }
}

/// A connected TCP pair on the loopback, `TCP_NODELAY` on both ends.
pub(crate) fn tcp_pair() -> Result<(std::net::TcpStream, std::net::TcpStream), BenchError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let a = std::net::TcpStream::connect(l.local_addr().map_err(|e| e.to_string())?)
        .map_err(|e| format!("connect: {e}"))?;
    let (b, _) = l.accept().map_err(|e| format!("accept: {e}"))?;
    Ok((a, b))
}

/// `tcp`: frames (a 4-byte little-endian length, then the bytes) over loopback TCP,
/// written with one `writev` and read with `read` loops.
pub(crate) struct RawTcp {
    a: std::net::TcpStream,
    b: std::net::TcpStream,
}

impl RawTcp {
    pub(crate) fn new() -> Result<RawTcp, BenchError> {
        let (a, b) = tcp_pair()?;
        for s in [&a, &b] {
            let one: libc::c_int = 1;
            // SAFETY: `one` is a readable int of the size given.
            let r = unsafe {
                libc::setsockopt(
                    s.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_NODELAY,
                    (&one as *const libc::c_int).cast(),
                    4,
                )
            };
            if r != 0 {
                return Err(os_err("setsockopt(TCP_NODELAY)"));
            }
        }
        Ok(RawTcp { a, b })
    }
}

impl Setup for RawTcp {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let fd = if parent { self.a.as_raw_fd() } else { self.b.as_raw_fd() };
        Ok(Box::new(FrameSide { fd }))
    }
}

struct FrameSide {
    fd: RawFd,
}

impl Side for FrameSide {
    fn send(&mut self, buf: &[u8]) -> Result<(), BenchError> {
        let header = (buf.len() as u32).to_le_bytes();
        let mut sent = 0;
        let total = 4 + buf.len();
        while sent < total {
            let iov = if sent < 4 {
                [
                    libc::iovec { iov_base: header[sent..].as_ptr() as *mut _, iov_len: 4 - sent },
                    libc::iovec { iov_base: buf.as_ptr() as *mut _, iov_len: buf.len() },
                ]
            } else {
                let rest = &buf[sent - 4..];
                [
                    libc::iovec { iov_base: rest.as_ptr() as *mut _, iov_len: rest.len() },
                    libc::iovec { iov_base: std::ptr::null_mut(), iov_len: 0 },
                ]
            };
            // SAFETY: both iovecs describe live, readable memory.
            let n = unsafe { libc::writev(self.fd, iov.as_ptr(), 2) };
            if n < 0 {
                if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(os_err("writev"));
            }
            sent += n as usize;
        }
        Ok(())
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<(), BenchError> {
        let mut header = [0u8; 4];
        read_exact(self.fd, &mut header)?;
        let len = u32::from_le_bytes(header) as usize;
        if len != buf.len() {
            return Err(format!("frame of {len} bytes, expected {}", buf.len()));
        }
        read_exact(self.fd, buf)
    }
}
