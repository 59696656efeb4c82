//! Sockets: `socket`, `socketpair`, `bind`, `listen`, `accept4`, `connect`,
//! `sendmsg`/`recvmsg` with `SCM_RIGHTS` and `SCM_CREDENTIALS`, `getsockopt`
//! (`SO_PEERCRED`, `SO_PEERPIDFD`, `SO_TYPE`), `setsockopt` (`SO_PASSCRED`,
//! `TCP_NODELAY`), `shutdown`, and `fstatfs`/`F_GET_SEALS` to recognise what a received
//! descriptor is.

use std::io::IoSlice;
use std::mem::{MaybeUninit, size_of};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use super::{Errno, SysResult, cvt, cvt_size};

/// The three kinds of Unix socket.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum SockType {
    Stream,
    Datagram,
    Seqpacket,
}

impl SockType {
    fn raw(self) -> libc::c_int {
        match self {
            SockType::Stream => libc::SOCK_STREAM,
            SockType::Datagram => libc::SOCK_DGRAM,
            SockType::Seqpacket => libc::SOCK_SEQPACKET,
        }
    }
}

/// `socket(AF_UNIX, type | SOCK_CLOEXEC, 0)`.
pub(crate) fn socket(ty: SockType) -> SysResult<OwnedFd> {
    // SAFETY: socket takes no pointers.
    let fd = cvt(unsafe { libc::socket(libc::AF_UNIX, ty.raw() | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv)`.
pub(crate) fn socketpair(ty: SockType) -> SysResult<(OwnedFd, OwnedFd)> {
    let mut sv = [-1 as libc::c_int; 2];
    // SAFETY: `sv` has room for the two descriptors socketpair writes.
    cvt(unsafe { libc::socketpair(libc::AF_UNIX, ty.raw() | libc::SOCK_CLOEXEC, 0, sv.as_mut_ptr()) })?;
    // SAFETY: two new descriptors that nothing else owns.
    Ok(unsafe { (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1])) })
}

/// A Unix socket address as the kernel sees it: pathname, abstract or unnamed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AddrBytes {
    /// No name (a socket from `socketpair`, or a client that did not bind).
    Unnamed,
    /// A path in the file system (without the terminating NUL).
    Path(Vec<u8>),
    /// A name in the abstract namespace (without the leading NUL).
    Abstract(Vec<u8>),
}

/// The most bytes of a name a `sockaddr_un` holds (108 on Linux), counting the leading
/// NUL of an abstract name but no terminating NUL.
pub(crate) const SUN_PATH_MAX: usize = 108;

/// A `sockaddr_un` and its length, ready for `bind`/`connect`/`sendto`.
pub(crate) struct RawAddr {
    addr: libc::sockaddr_un,
    len: libc::socklen_t,
}

impl RawAddr {
    /// Builds the address; `Err(ENAMETOOLONG)` if the name does not fit, `Err(EINVAL)`
    /// for a path with a NUL byte or an empty one.
    pub(crate) fn new(a: &AddrBytes) -> SysResult<RawAddr> {
        // SAFETY: sockaddr_un is plain integers; all zeros is valid.
        let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
        let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
        let (bytes, start) = match a {
            AddrBytes::Unnamed => return Ok(RawAddr { addr, len: base as libc::socklen_t }),
            AddrBytes::Path(p) => {
                if p.is_empty() || p.contains(&0) {
                    return Err(Errno::EINVAL);
                }
                // A path is NUL-terminated when it leaves room; 108 bytes exactly is
                // accepted by Linux too, but we keep the terminator for C peers.
                if p.len() >= SUN_PATH_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                (p.as_slice(), 0)
            }
            AddrBytes::Abstract(n) => {
                if n.len() + 1 > SUN_PATH_MAX {
                    return Err(Errno::ENAMETOOLONG);
                }
                (n.as_slice(), 1)
            }
        };
        for (i, b) in bytes.iter().enumerate() {
            addr.sun_path[start + i] = *b as libc::c_char;
        }
        let len = match a {
            AddrBytes::Path(p) => base + p.len() + 1,
            _ => base + 1 + bytes.len(),
        };
        Ok(RawAddr { addr, len: len as libc::socklen_t })
    }

    fn ptr(&self) -> *const libc::sockaddr {
        (&self.addr as *const libc::sockaddr_un).cast()
    }
}

fn parse_addr(addr: &libc::sockaddr_un, len: libc::socklen_t) -> AddrBytes {
    let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let len = (len as usize).min(size_of::<libc::sockaddr_un>());
    if len <= base {
        return AddrBytes::Unnamed;
    }
    let path: Vec<u8> = addr.sun_path[..len - base].iter().map(|c| *c as u8).collect();
    if path.first() == Some(&0) {
        AddrBytes::Abstract(path[1..].to_vec())
    } else {
        let end = path.iter().position(|b| *b == 0).unwrap_or(path.len());
        AddrBytes::Path(path[..end].to_vec())
    }
}

/// `bind(fd, addr, len)`.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &RawAddr) -> SysResult<()> {
    // SAFETY: `addr` points to a sockaddr_un of at least `len` bytes.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.ptr(), addr.len) })?;
    Ok(())
}

/// `connect(fd, addr, len)`, retried on `EINTR` (a Unix connect completes at once or
/// fails; there is no connection in progress to lose).
pub(crate) fn connect(fd: BorrowedFd<'_>, addr: &RawAddr) -> SysResult<()> {
    loop {
        // SAFETY: `addr` points to a sockaddr_un of at least `len` bytes.
        match cvt(unsafe { libc::connect(fd.as_raw_fd(), addr.ptr(), addr.len) }) {
            Err(Errno::EINTR) => continue,
            r => return r.map(drop),
        }
    }
}

/// `listen(fd, backlog)`.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: i32) -> SysResult<()> {
    // SAFETY: listen takes no pointers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(())
}

/// `accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK?)`.
pub(crate) fn accept(fd: BorrowedFd<'_>, nonblocking: bool) -> SysResult<OwnedFd> {
    let mut flags = libc::SOCK_CLOEXEC;
    if nonblocking {
        flags |= libc::SOCK_NONBLOCK;
    }
    // SAFETY: null address pointers ask for no peer address.
    let fd =
        cvt(unsafe { libc::accept4(fd.as_raw_fd(), std::ptr::null_mut(), std::ptr::null_mut(), flags) })?;
    // SAFETY: a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `getsockname(fd)` (`peer = false`) or `getpeername(fd)` (`peer = true`) of a Unix
/// socket.
pub(crate) fn name(fd: BorrowedFd<'_>, peer: bool) -> SysResult<AddrBytes> {
    // SAFETY: all zeros is a valid sockaddr_un.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    let p = (&mut addr as *mut libc::sockaddr_un).cast();
    // SAFETY: `p` points to `len` writable bytes; the kernel writes at most that many
    // and stores the full length in `len`.
    cvt(unsafe {
        if peer {
            libc::getpeername(fd.as_raw_fd(), p, &mut len)
        } else {
            libc::getsockname(fd.as_raw_fd(), p, &mut len)
        }
    })?;
    Ok(parse_addr(&addr, len))
}

/// `shutdown(fd, SHUT_RD | SHUT_WR | SHUT_RDWR)`.
pub(crate) fn shutdown(fd: BorrowedFd<'_>, read: bool, write: bool) -> SysResult<()> {
    let how = match (read, write) {
        (true, true) => libc::SHUT_RDWR,
        (true, false) => libc::SHUT_RD,
        _ => libc::SHUT_WR,
    };
    // SAFETY: shutdown takes no pointers.
    cvt(unsafe { libc::shutdown(fd.as_raw_fd(), how) })?;
    Ok(())
}

/// The process credentials carried by `SO_PEERCRED` and `SCM_CREDENTIALS`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ucred {
    pub(crate) pid: i32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

fn getsockopt<T: Copy>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> SysResult<T> {
    let mut v = MaybeUninit::<T>::zeroed();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `v` has room for `len` bytes; the kernel writes at most that many. T is
    // only instantiated below with plain integer types or `libc::ucred`, for which
    // zeroed bytes and any bytes the kernel writes are valid.
    cvt(unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, v.as_mut_ptr().cast(), &mut len) })?;
    // SAFETY: see above; zero-initialised and filled by the kernel.
    Ok(unsafe { v.assume_init() })
}

fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> SysResult<()> {
    // SAFETY: `value` is a readable c_int and we pass its size.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// `getsockopt(fd, SOL_SOCKET, SO_PEERCRED)`: who was on the other end when the
/// connection was made (or the pair created).
pub(crate) fn peer_cred(fd: BorrowedFd<'_>) -> SysResult<Ucred> {
    let c: libc::ucred = getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED)?;
    Ok(Ucred { pid: c.pid, uid: c.uid, gid: c.gid })
}

/// `SO_PEERPIDFD` (Linux 6.5, `<asm-generic/socket.h>`; not in every `libc` release).
const SO_PEERPIDFD: libc::c_int = 77;

/// `getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD)`: a pidfd for the peer process.
/// `ENOPROTOOPT` on kernels before 6.5.
pub(crate) fn peer_pidfd(fd: BorrowedFd<'_>) -> SysResult<OwnedFd> {
    let pidfd: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, SO_PEERPIDFD)?;
    // SAFETY: the kernel installed a new descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(pidfd) })
}

/// `setsockopt(fd, SOL_SOCKET, SO_PASSCRED, on)`.
pub(crate) fn set_passcred(fd: BorrowedFd<'_>, on: bool) -> SysResult<()> {
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PASSCRED, on as libc::c_int)
}

/// `getsockopt(fd, SOL_SOCKET, SO_PASSCRED)`: whether received messages carry the
/// sender's credentials.
pub(crate) fn passcred(fd: BorrowedFd<'_>) -> SysResult<bool> {
    let v: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_PASSCRED)?;
    Ok(v != 0)
}

/// `setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, on)`.
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> SysResult<()> {
    setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on as libc::c_int)
}

/// What `getsockopt(SO_DOMAIN)` and `getsockopt(SO_TYPE)` say about a socket:
/// `(is_unix, type)`; the type is `None` for one that is not a Unix type.
pub(crate) fn socket_kind(fd: BorrowedFd<'_>) -> SysResult<(bool, Option<SockType>)> {
    let domain: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let ty: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE)?;
    let ty = match ty {
        libc::SOCK_STREAM => Some(SockType::Stream),
        libc::SOCK_DGRAM => Some(SockType::Datagram),
        libc::SOCK_SEQPACKET => Some(SockType::Seqpacket),
        _ => None,
    };
    Ok((domain == libc::AF_UNIX, ty))
}

/// `getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN)`: whether the socket listens.
pub(crate) fn is_listening(fd: BorrowedFd<'_>) -> SysResult<bool> {
    let v: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ACCEPTCONN)?;
    Ok(v != 0)
}

/// `send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT?)`: never raises `SIGPIPE`.
#[inline]
pub(crate) fn send(fd: BorrowedFd<'_>, buf: &[u8], dontwait: bool) -> SysResult<usize> {
    let flags = libc::MSG_NOSIGNAL | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
    cvt_size(unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) })
}

/// `recv(fd, buf, len, MSG_DONTWAIT?)`.
#[inline]
pub(crate) fn recv(fd: BorrowedFd<'_>, buf: &mut [u8], dontwait: bool) -> SysResult<usize> {
    let flags = if dontwait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
    cvt_size(unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) })
}

/// The most descriptors one `SCM_RIGHTS` message may carry (`SCM_MAX_FD` in the
/// kernel's `include/net/scm.h`).
pub(crate) const SCM_MAX_FD: usize = 253;

/// Room for the largest control message ipckit sends or asks for: [`SCM_MAX_FD`]
/// descriptors plus one `struct ucred` (1064 bytes on 64-bit Linux).
const CONTROL_MAX: usize =
    cmsg_space_const(SCM_MAX_FD * size_of::<RawFd>()) + cmsg_space_const(size_of::<libc::ucred>());

/// `CMSG_SPACE` for a constant (the libc function is not `const`): the header and the
/// payload, each rounded up to the alignment of `size_t`, as Linux defines it.
const fn cmsg_space_const(len: usize) -> usize {
    const fn round(n: usize) -> usize {
        n.div_ceil(size_of::<usize>()) * size_of::<usize>()
    }
    round(size_of::<libc::cmsghdr>()) + round(len)
}

/// A control buffer on the stack, aligned for `cmsghdr`: no allocation per call. Only
/// the bytes a call uses are initialised (zeroed), so a small message does not pay for
/// clearing the whole buffer.
struct Control {
    words: [MaybeUninit<u64>; CONTROL_MAX.div_ceil(8)],
}

impl Control {
    fn new() -> Control {
        Control { words: [MaybeUninit::uninit(); CONTROL_MAX.div_ceil(8)] }
    }

    /// Zeroes the first `bytes` bytes (at most [`CONTROL_MAX`]) and points at them.
    fn zeroed(&mut self, bytes: usize) -> *mut libc::c_void {
        assert!(bytes <= CONTROL_MAX, "control buffer of {bytes} bytes");
        let p = self.words.as_mut_ptr().cast::<u8>();
        // SAFETY: `p` points to CONTROL_MAX writable bytes and `bytes` is no more.
        unsafe { std::ptr::write_bytes(p, 0, bytes) };
        p.cast()
    }
}

fn cmsg_space(len: usize) -> usize {
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    unsafe { libc::CMSG_SPACE(len as libc::c_uint) as usize }
}

fn cmsg_len(len: usize) -> usize {
    // SAFETY: CMSG_LEN is arithmetic on its argument.
    unsafe { libc::CMSG_LEN(len as libc::c_uint) as usize }
}

/// `sendmsg(fd, {iov, SCM_RIGHTS fds, SCM_CREDENTIALS creds}, MSG_NOSIGNAL |
/// MSG_DONTWAIT?)`, to `dest` when given (an unconnected datagram socket).
///
/// `fds` may hold up to [`SCM_MAX_FD`] descriptors (more is `EINVAL`, as from the
/// kernel). The control buffer is on the stack.
pub(crate) fn send_msg(
    fd: BorrowedFd<'_>,
    bufs: &[IoSlice<'_>],
    fds: &[BorrowedFd<'_>],
    creds: Option<Ucred>,
    dest: Option<&RawAddr>,
    dontwait: bool,
) -> SysResult<usize> {
    let fd_bytes = size_of_val(fds);
    let mut space = 0;
    if !fds.is_empty() {
        space += cmsg_space(fd_bytes);
    }
    if creds.is_some() {
        space += cmsg_space(size_of::<libc::ucred>());
    }
    if fds.len() > SCM_MAX_FD {
        return Err(Errno::EINVAL);
    }
    let mut control = Control::new();
    // SAFETY: msghdr is plain data; all zeros is valid (null pointers, zero lengths).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    if let Some(d) = dest {
        msg.msg_name = d.ptr() as *mut libc::c_void;
        msg.msg_namelen = d.len;
    }
    if space > 0 {
        msg.msg_control = control.zeroed(space);
        msg.msg_controllen = space as _;
        // SAFETY: `msg_control` points to `space` zeroed, aligned bytes, enough for
        // each header and payload written below (their sizes were summed with
        // CMSG_SPACE); CMSG_FIRSTHDR/NXTHDR stay inside that buffer.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            if !fds.is_empty() {
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_RIGHTS;
                (*c).cmsg_len = cmsg_len(fd_bytes) as _;
                let data = libc::CMSG_DATA(c).cast::<RawFd>();
                for (i, f) in fds.iter().enumerate() {
                    data.add(i).write_unaligned(f.as_raw_fd());
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
            if let Some(u) = creds {
                (*c).cmsg_level = libc::SOL_SOCKET;
                (*c).cmsg_type = libc::SCM_CREDENTIALS;
                (*c).cmsg_len = cmsg_len(size_of::<libc::ucred>()) as _;
                let data = libc::CMSG_DATA(c).cast::<libc::ucred>();
                data.write_unaligned(libc::ucred { pid: u.pid, uid: u.uid, gid: u.gid });
            }
        }
    }
    let flags = libc::MSG_NOSIGNAL | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `msg` points to the iovecs (ABI-compatible IoSlices, std documents it),
    // the optional address and control buffer, all alive for the call.
    cvt_size(unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, flags) })
}

/// What one `recvmsg` brought besides the bytes.
#[derive(Debug)]
pub(crate) struct RecvMeta {
    /// Bytes placed in the buffer.
    pub(crate) len: usize,
    /// `MSG_TRUNC`: a datagram or packet was longer than the buffer.
    pub(crate) truncated: bool,
    /// `MSG_CTRUNC`: control data did not fit; descriptors that did not fit were
    /// closed by the kernel.
    pub(crate) ctrunc: bool,
    /// The `SCM_CREDENTIALS` the message carried, if any.
    pub(crate) creds: Option<Ucred>,
    /// The sender's address (unconnected datagram sockets), when asked for.
    pub(crate) from: Option<AddrBytes>,
}

/// `recvmsg(fd, {buf, control for max_fds descriptors and credentials},
/// MSG_CMSG_CLOEXEC | MSG_DONTWAIT?)`.
///
/// Every descriptor that arrived is handed to `take` as an [`OwnedFd`] (close-on-exec),
/// even when the control data was truncated, so that none leaks: the caller decides
/// whether to keep them. Room is made for exactly `max_fds` descriptors (at most
/// [`SCM_MAX_FD`]) and, with `want_creds`, one `struct ucred`; the control buffer is
/// on the stack.
pub(crate) fn recv_msg(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    mut take: impl FnMut(OwnedFd),
    max_fds: usize,
    want_creds: bool,
    want_from: bool,
    dontwait: bool,
) -> SysResult<RecvMeta> {
    let max_fds = max_fds.min(SCM_MAX_FD);
    let mut space = 0;
    if max_fds > 0 {
        space += cmsg_space(max_fds * size_of::<RawFd>());
    }
    if want_creds {
        space += cmsg_space(size_of::<libc::ucred>());
    }
    let mut control = Control::new();
    // SAFETY: all zeros is a valid sockaddr_un.
    let mut from: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: msghdr is plain data; all zeros is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    if want_from {
        msg.msg_name = (&mut from as *mut libc::sockaddr_un).cast();
        msg.msg_namelen = size_of::<libc::sockaddr_un>() as libc::socklen_t;
    }
    if space > 0 {
        msg.msg_control = control.zeroed(space);
        msg.msg_controllen = space as _;
    }
    let flags = libc::MSG_CMSG_CLOEXEC | if dontwait { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: `msg` points to one iovec over `buf`, the optional address and the
    // control buffer, each writable for the lengths given, alive for the call.
    let len = cvt_size(unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, flags) })?;
    let mut creds = None;
    if space > 0 && msg.msg_controllen > 0 {
        // SAFETY: the kernel filled `msg_controllen` bytes of the control buffer with
        // well-formed cmsghdrs; CMSG_FIRSTHDR/NXTHDR walk them and return null at the
        // end. Each SCM_RIGHTS payload holds (cmsg_len - CMSG_LEN(0)) / 4 descriptors
        // newly installed in this process, which we take ownership of exactly once.
        unsafe {
            let mut c = libc::CMSG_FIRSTHDR(&msg);
            while !c.is_null() {
                let payload = ((*c).cmsg_len as usize).saturating_sub(cmsg_len(0));
                if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                    let data = libc::CMSG_DATA(c).cast::<RawFd>();
                    for i in 0..payload / size_of::<RawFd>() {
                        take(OwnedFd::from_raw_fd(data.add(i).read_unaligned()));
                    }
                } else if (*c).cmsg_level == libc::SOL_SOCKET
                    && (*c).cmsg_type == libc::SCM_CREDENTIALS
                    && payload >= size_of::<libc::ucred>()
                {
                    let u = libc::CMSG_DATA(c).cast::<libc::ucred>().read_unaligned();
                    creds = Some(Ucred { pid: u.pid, uid: u.uid, gid: u.gid });
                }
                c = libc::CMSG_NXTHDR(&msg, c);
            }
        }
    }
    Ok(RecvMeta {
        len,
        truncated: msg.msg_flags & libc::MSG_TRUNC != 0,
        ctrunc: msg.msg_flags & libc::MSG_CTRUNC != 0,
        creds,
        from: if want_from { Some(parse_addr(&from, msg.msg_namelen)) } else { None },
    })
}

/// `fstatfs(fd).f_type`: the magic number of the file system behind `fd`.
pub(crate) fn fs_magic(fd: BorrowedFd<'_>) -> SysResult<i64> {
    let mut st = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: `st` is a writable struct statfs that the kernel fills.
    cvt(unsafe { libc::fstatfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: zeroed and filled by the kernel; plain integers.
    Ok(unsafe { st.assume_init() }.f_type as i64)
}

/// The `f_type` of tmpfs (and of memfds, which live on an internal tmpfs or hugetlbfs).
pub(crate) const TMPFS_MAGIC: i64 = 0x0102_1994;
/// The `f_type` of hugetlbfs (memfds made with `MFD_HUGETLB`).
pub(crate) const HUGETLBFS_MAGIC: i64 = 0x9584_58f6;
/// The `f_type` of the POSIX message-queue file system.
pub(crate) const MQUEUE_MAGIC: i64 = 0x1980_0202;
