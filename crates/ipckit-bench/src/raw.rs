//! Everything of the benchmark that calls the C library directly: pinning, a shared
//! anonymous page, CPU time, and the raw-libc loops of every kernel mechanism — the
//! same loops the ipckit variants run, without ipckit, so that ipckit's own overhead
//! shows as a ratio. Every `unsafe {}` says why it is sound.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{BenchError, Setup, Side};

fn os_err(what: &str) -> BenchError {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// The CPUs this process may run on.
pub(crate) fn allowed_cpus() -> Vec<usize> {
    // SAFETY: cpu_set_t is plain bits; zero is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a writable cpu_set_t of the size passed.
    let r = unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if r != 0 {
        return vec![0];
    }
    // SAFETY: CPU_ISSET reads the set, within its fixed size.
    (0..libc::CPU_SETSIZE as usize).filter(|&c| unsafe { libc::CPU_ISSET(c, &set) }).collect()
}

/// The CPUs allowed when the benchmark first asked (before it pinned itself).
pub(crate) fn original_cpus() -> Vec<usize> {
    static ORIGINAL: std::sync::OnceLock<Vec<usize>> = std::sync::OnceLock::new();
    ORIGINAL.get_or_init(allowed_cpus).clone()
}

/// Makes the process `cmd` starts die with the benchmark (`PR_SET_PDEATHSIG`,
/// `SIGKILL`: it cannot outlive a killed benchmark) and run on `cpus`, not on the CPU
/// the benchmark pinned itself to.
pub(crate) fn die_with_parent(cmd: &mut std::process::Command, cpus: Vec<usize>) {
    use std::os::unix::process::CommandExt;
    // SAFETY: cpu_set_t is plain bits; zero is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for c in cpus.into_iter().filter(|&c| c < libc::CPU_SETSIZE as usize) {
        // SAFETY: CPU_SET writes one bit inside the fixed-size set (checked above).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: between fork and exec the closure makes two system calls (async-signal
    // safe) on values it owns; it allocates nothing and takes no lock.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Best effort: an empty or foreign set leaves the inherited one.
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            Ok(())
        })
    };
}

/// Pins the calling process to the given CPUs (`sched_setaffinity`).
pub(crate) fn pin(cpus: &[usize]) -> Result<(), BenchError> {
    // SAFETY: cpu_set_t is plain bits; zero is an empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: CPU_SET writes one bit inside the fixed-size set (c < CPU_SETSIZE).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if r != 0 { Err(os_err("sched_setaffinity")) } else { Ok(()) }
}

/// CPU time used by the calling process (`CLOCK_PROCESS_CPUTIME_ID`), in ns.
pub(crate) fn process_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// A page of anonymous memory shared with forked children (`MAP_SHARED |
/// MAP_ANONYMOUS`), used as 512 atomic words.
pub(crate) struct SharedPage {
    ptr: *mut AtomicU64,
}

impl SharedPage {
    pub(crate) const WORDS: usize = 512;

    pub(crate) fn new() -> Result<SharedPage, BenchError> {
        // SAFETY: a fresh anonymous mapping at an address the kernel picks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os_err("mmap"));
        }
        Ok(SharedPage { ptr: p.cast() })
    }

    /// Word `i` (< 512) as an atomic.
    pub(crate) fn word(&self, i: usize) -> &AtomicU64 {
        assert!(i < Self::WORDS);
        // SAFETY: the page is 4096 bytes, page-aligned, mapped as long as `self`; every
        // bit pattern is a valid u64 and all access is atomic.
        unsafe { &*self.ptr.add(i) }
    }
}

impl Drop for SharedPage {
    fn drop(&mut self) {
        // SAFETY: the mapping is ours and nothing uses it after drop.
        unsafe { libc::munmap(self.ptr.cast(), 4096) };
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) -> Result<(), BenchError> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reading `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_err("write"));
        }
        buf = &buf[n as usize..];
    }
    Ok(())
}

fn read_exact(fd: RawFd, mut buf: &mut [u8]) -> Result<(), BenchError> {
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for writing `buf.len()` bytes.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(os_err("read"));
        }
        if n == 0 {
            return Err("read: end of file (the peer is gone)".into());
        }
        buf = &mut buf[n as usize..];
    }
    Ok(())
}

/// A byte stream in each direction, as two descriptors.
struct FdSide {
    w: RawFd,
    r: RawFd,
}

impl Side for FdSide {
    fn send(&mut self, buf: &[u8]) -> Result<(), BenchError> {
        write_all(self.w, buf)
    }
    fn recv(&mut self, buf: &mut [u8]) -> Result<(), BenchError> {
        read_exact(self.r, buf)
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), BenchError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_err("pipe2"));
    }
    // SAFETY: both fds were just returned by the kernel and are owned by nobody else.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `pipe`: two pipes, `read`/`write` loops.
pub(crate) struct RawPipe {
    a: (OwnedFd, OwnedFd),
    b: (OwnedFd, OwnedFd),
}

impl RawPipe {
    pub(crate) fn new() -> Result<RawPipe, BenchError> {
        Ok(RawPipe { a: pipe()?, b: pipe()? })
    }
}

impl Setup for RawPipe {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        Ok(Box::new(if parent {
            FdSide { w: self.a.1.as_raw_fd(), r: self.b.0.as_raw_fd() }
        } else {
            FdSide { w: self.b.1.as_raw_fd(), r: self.a.0.as_raw_fd() }
        }))
    }
}

/// `fifo`: two FIFOs in a temporary directory, opened by each side.
pub(crate) struct RawFifo {
    dir: tempfile::TempDir,
    opened: Vec<OwnedFd>,
}

impl RawFifo {
    pub(crate) fn new() -> Result<RawFifo, BenchError> {
        let dir = tempfile::tempdir().map_err(|e| format!("tempdir: {e}"))?;
        for name in ["a", "b"] {
            let p = CString::new(dir.path().join(name).to_str().ok_or("non-UTF-8 temp dir")?)
                .map_err(|e| e.to_string())?;
            // SAFETY: `p` is a NUL-terminated path.
            if unsafe { libc::mkfifo(p.as_ptr(), 0o600) } != 0 {
                return Err(os_err("mkfifo"));
            }
        }
        Ok(RawFifo { dir, opened: Vec::new() })
    }

    fn open(&mut self, name: &str, write: bool) -> Result<RawFd, BenchError> {
        let p = CString::new(self.dir.path().join(name).to_str().ok_or("non-UTF-8 temp dir")?)
            .map_err(|e| e.to_string())?;
        let flags = libc::O_CLOEXEC | if write { libc::O_WRONLY } else { libc::O_RDONLY };
        // SAFETY: `p` is a NUL-terminated path.
        let fd = unsafe { libc::open(p.as_ptr(), flags) };
        if fd < 0 {
            return Err(os_err("open FIFO"));
        }
        // SAFETY: a fresh descriptor owned by nobody else.
        self.opened.push(unsafe { OwnedFd::from_raw_fd(fd) });
        Ok(fd)
    }
}

impl Setup for RawFifo {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        // Both sides open "a" first, then "b": each open waits for its peer's.
        Ok(Box::new(if parent {
            let w = self.open("a", true)?;
            FdSide { w, r: self.open("b", false)? }
        } else {
            let r = self.open("a", false)?;
            FdSide { r, w: self.open("b", true)? }
        }))
    }
}

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

/// `sysv-msg`: one private queue, type 1 towards the child, type 2 back.
pub(crate) struct RawSysvMsg {
    id: i32,
}

impl RawSysvMsg {
    pub(crate) fn new() -> Result<RawSysvMsg, BenchError> {
        // SAFETY: msgget takes no pointers.
        let id = unsafe { libc::msgget(libc::IPC_PRIVATE, libc::IPC_CREAT | 0o600) };
        if id < 0 { Err(os_err("msgget")) } else { Ok(RawSysvMsg { id }) }
    }
}

impl Drop for RawSysvMsg {
    fn drop(&mut self) {
        // SAFETY: IPC_RMID ignores the buffer.
        unsafe { libc::msgctl(self.id, libc::IPC_RMID, std::ptr::null_mut()) };
    }
}

struct MsgSide {
    id: i32,
    send_type: libc::c_long,
    recv_type: libc::c_long,
    buf: Vec<u8>,
}

const MTYPE: usize = std::mem::size_of::<libc::c_long>();

impl Side for MsgSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        self.buf.resize(MTYPE + data.len(), 0);
        self.buf[..MTYPE].copy_from_slice(&self.send_type.to_ne_bytes());
        self.buf[MTYPE..].copy_from_slice(data);
        loop {
            // SAFETY: `buf` holds a long type and `data.len()` body bytes.
            let r = unsafe { libc::msgsnd(self.id, self.buf.as_ptr().cast(), data.len(), 0) };
            if r == 0 {
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("msgsnd"));
            }
        }
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        self.buf.resize(MTYPE + data.len(), 0);
        loop {
            // SAFETY: `buf` has room for a long type and `data.len()` body bytes.
            let n =
                unsafe { libc::msgrcv(self.id, self.buf.as_mut_ptr().cast(), data.len(), self.recv_type, 0) };
            if n >= 0 {
                data[..n as usize].copy_from_slice(&self.buf[MTYPE..MTYPE + n as usize]);
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("msgrcv"));
            }
        }
    }
}

impl Setup for RawSysvMsg {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (s, r) = if parent { (1, 2) } else { (2, 1) };
        Ok(Box::new(MsgSide { id: self.id, send_type: s, recv_type: r, buf: Vec::new() }))
    }
}

/// `sysv-sem`: per direction, a one-slot buffer in a private segment guarded by two
/// semaphores ("empty", "full"): the sender waits for empty, copies in, posts full;
/// the receiver waits for full, copies out, posts empty.
pub(crate) struct RawSysvSem {
    sem: i32,
    shm: i32,
    base: *mut u8,
    size: usize,
}

impl RawSysvSem {
    pub(crate) fn new(size: usize) -> Result<RawSysvSem, BenchError> {
        // SAFETY: semget/shmget take no pointers.
        let sem = unsafe { libc::semget(libc::IPC_PRIVATE, 4, libc::IPC_CREAT | 0o600) };
        if sem < 0 {
            return Err(os_err("semget"));
        }
        // SAFETY: as above.
        let shm = unsafe { libc::shmget(libc::IPC_PRIVATE, 2 * size, libc::IPC_CREAT | 0o600) };
        let mut me = RawSysvSem { sem, shm, base: std::ptr::null_mut(), size };
        if shm < 0 {
            return Err(os_err("shmget"));
        }
        // SAFETY: a null address lets the kernel pick a free range.
        let p = unsafe { libc::shmat(shm, std::ptr::null(), 0) };
        if p as isize == -1 {
            return Err(os_err("shmat"));
        }
        me.base = p.cast();
        // Semaphores 0/1: empty/full towards the child; 2/3: back. Empty starts at 1.
        for (num, val) in [(0, 1), (1, 0), (2, 1), (3, 0)] {
            // SAFETY: SETVAL takes an int argument.
            if unsafe { libc::semctl(sem, num, libc::SETVAL, val) } != 0 {
                return Err(os_err("semctl(SETVAL)"));
            }
        }
        Ok(me)
    }
}

impl Drop for RawSysvSem {
    fn drop(&mut self) {
        // SAFETY: removing our own objects; the buffer arguments are ignored; `base`
        // came from shmat (or is null, which shmdt refuses harmlessly).
        unsafe {
            libc::semctl(self.sem, 0, libc::IPC_RMID);
            if !self.base.is_null() {
                libc::shmdt(self.base.cast());
            }
            libc::shmctl(self.shm, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

struct SemSide {
    sem: i32,
    send_slot: *mut u8,
    recv_slot: *mut u8,
    send_sems: u16,
    recv_sems: u16,
}

fn semop(sem: i32, num: u16, op: i16) -> Result<(), BenchError> {
    let mut b = libc::sembuf { sem_num: num, sem_op: op, sem_flg: 0 };
    loop {
        // SAFETY: one valid sembuf.
        if unsafe { libc::semop(sem, &mut b, 1) } == 0 {
            return Ok(());
        }
        if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return Err(os_err("semop"));
        }
    }
}

impl Side for SemSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        semop(self.sem, self.send_sems, -1)?;
        // SAFETY: the slot holds `size` bytes (data.len() == size) and the "empty"
        // semaphore gives us exclusive use of it.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.send_slot, data.len()) };
        semop(self.sem, self.send_sems + 1, 1)
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        semop(self.sem, self.recv_sems + 1, -1)?;
        // SAFETY: as in `send`, under the "full" semaphore.
        unsafe { std::ptr::copy_nonoverlapping(self.recv_slot, data.as_mut_ptr(), data.len()) };
        semop(self.sem, self.recv_sems, 1)
    }
}

impl Setup for RawSysvSem {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let a = self.base;
        // SAFETY: the segment holds two slots of `size` bytes.
        let b = unsafe { self.base.add(self.size) };
        Ok(Box::new(if parent {
            SemSide { sem: self.sem, send_slot: a, recv_slot: b, send_sems: 0, recv_sems: 2 }
        } else {
            SemSide { sem: self.sem, send_slot: b, recv_slot: a, send_sems: 2, recv_sems: 0 }
        }))
    }
}

/// `posix-mq`: two queues, one per direction.
pub(crate) struct RawPosixMq {
    names: [CString; 2],
    fds: [RawFd; 2],
}

impl RawPosixMq {
    pub(crate) fn new(size: usize, maxmsg: usize) -> Result<RawPosixMq, BenchError> {
        let pid = std::process::id();
        let names = [0, 1].map(|i| CString::new(format!("/ipckit-bench-{pid}-{i}")).expect("no NUL"));
        let mut fds = [-1; 2];
        for i in 0..2 {
            // SAFETY: mq_attr is plain integers; zero is valid.
            let mut attr: libc::mq_attr = unsafe { std::mem::zeroed() };
            attr.mq_maxmsg = maxmsg as _;
            attr.mq_msgsize = size as _;
            // SAFETY: NUL-terminated name, valid attr; O_CREAT reads mode and attr.
            let fd = unsafe {
                libc::mq_open(
                    names[i].as_ptr(),
                    libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
                    0o600 as libc::mode_t,
                    &attr as *const libc::mq_attr,
                )
            };
            if fd < 0 {
                let e = os_err("mq_open");
                for j in 0..i {
                    // SAFETY: closing and unlinking what we made.
                    unsafe {
                        libc::close(fds[j]);
                        libc::mq_unlink(names[j].as_ptr());
                    }
                }
                return Err(e);
            }
            fds[i] = fd;
        }
        Ok(RawPosixMq { names, fds })
    }
}

impl Drop for RawPosixMq {
    fn drop(&mut self) {
        for i in 0..2 {
            // SAFETY: our own descriptors and names.
            unsafe {
                libc::close(self.fds[i]);
                libc::mq_unlink(self.names[i].as_ptr());
            }
        }
    }
}

struct MqSide {
    w: RawFd,
    r: RawFd,
}

impl Side for MqSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        loop {
            // SAFETY: `data` is valid for its length.
            if unsafe { libc::mq_send(self.w, data.as_ptr().cast(), data.len(), 0) } == 0 {
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("mq_send"));
            }
        }
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        loop {
            // SAFETY: `data` is writable for its length (the queue's msgsize).
            let n = unsafe {
                libc::mq_receive(self.r, data.as_mut_ptr().cast(), data.len(), std::ptr::null_mut())
            };
            if n >= 0 {
                return Ok(());
            }
            if std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                return Err(os_err("mq_receive"));
            }
        }
    }
}

impl Setup for RawPosixMq {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let (w, r) = if parent { (self.fds[0], self.fds[1]) } else { (self.fds[1], self.fds[0]) };
        Ok(Box::new(MqSide { w, r }))
    }
}

/// The floor: two processes spinning on one shared cache line. The parent stores odd
/// numbers, the child even ones; each waits for the other's next value. No payload.
pub(crate) struct SpinLine {
    page: SharedPage,
}

impl SpinLine {
    pub(crate) fn new() -> Result<SpinLine, BenchError> {
        Ok(SpinLine { page: SharedPage::new()? })
    }
}

struct SpinSide {
    word: *const AtomicU64,
    next: u64,
}

const SPIN_STOP: u64 = u64::MAX;

impl Side for SpinSide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        // SAFETY: the word lives in the shared page, mapped until the process ends.
        let w = unsafe { &*self.word };
        w.store(if data[0] == crate::STOP { SPIN_STOP } else { self.next }, Ordering::Release);
        self.next += 1;
        Ok(())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        // SAFETY: as in `send`.
        let w = unsafe { &*self.word };
        let mut polls = 0u32;
        loop {
            let v = w.load(Ordering::Acquire);
            if v == self.next || v == SPIN_STOP {
                data[0] = if v == SPIN_STOP { crate::STOP } else { 0 };
                self.next += 1;
                return Ok(());
            }
            polls = polls.wrapping_add(1);
            if polls % 4096 == 0 {
                std::thread::yield_now(); // as the channel's spin mode does
            }
            std::hint::spin_loop();
        }
    }
}

impl Setup for SpinLine {
    fn side(&mut self, _parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let word: *const AtomicU64 = self.page.word(0);
        // The parent sends 1 and expects 2; the child expects 1 and sends 2.
        Ok(Box::new(SpinSide { word, next: 1 }))
    }
}

/// The floor for a message of `size` bytes: the same ping-pong as [`SpinLine`], with
/// the payload copied through shared memory. Per direction, slots of one sequence
/// word followed by the payload, each on a 128-byte boundary: the writer copies the
/// payload in, then stores the sequence number (Release); the reader spins on it
/// (Acquire), then copies out. No framing, no checks, no wake-ups. With one slot per
/// direction (`spin-copy`) the same lines bounce between the two CPUs; with a ring of
/// slots (`spin-ring`) each message lands in the next slot, as in any ring.
pub(crate) struct SpinCopy {
    mem: *mut u8,
    len: usize,
    slot: usize,
    slots: usize,
}

impl SpinCopy {
    /// Slots for `size`-byte messages filling `ring` bytes per direction (at least one).
    pub(crate) fn new(size: usize, ring: usize) -> Result<SpinCopy, BenchError> {
        let slot = (8 + size).div_ceil(128) * 128;
        let slots = (ring / slot).max(1);
        let len = 2 * slot * slots;
        // SAFETY: a fresh anonymous shared mapping at an address the kernel picks.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(os_err("mmap"));
        }
        Ok(SpinCopy { mem: p.cast(), len, slot, slots })
    }
}

impl Drop for SpinCopy {
    fn drop(&mut self) {
        // SAFETY: our mapping; the children that used it have exited.
        unsafe { libc::munmap(self.mem.cast(), self.len) };
    }
}

struct SpinCopySide {
    out: *mut u8,
    inp: *mut u8,
    slot: usize,
    slots: usize,
    sent: u64,
    seen: u64,
}

impl Side for SpinCopySide {
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError> {
        let at = (self.sent as usize % self.slots) * self.slot;
        self.sent += 1;
        // SAFETY: slot `at` holds a sequence word and `size` payload bytes
        // (data.len() == size); the reader reads it only after the Release below, and
        // (ping-pong) we write a slot again only after the reader answered.
        unsafe {
            let s = self.out.add(at);
            std::ptr::copy_nonoverlapping(data.as_ptr(), s.add(8), data.len());
            (*s.cast::<AtomicU64>()).store(self.sent, Ordering::Release);
        }
        Ok(())
    }
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError> {
        let at = (self.seen as usize % self.slots) * self.slot;
        self.seen += 1;
        // SAFETY: the slot's first word is an aligned u64 in the shared mapping.
        let s = unsafe { self.inp.add(at) };
        // SAFETY: as above.
        let word = unsafe { &*s.cast::<AtomicU64>() };
        let mut polls = 0u32;
        while word.load(Ordering::Acquire) != self.seen {
            polls = polls.wrapping_add(1);
            if polls % 4096 == 0 {
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        // SAFETY: the Acquire above saw the writer's Release; the payload is complete,
        // and the writer does not touch the slot until we answer.
        unsafe { std::ptr::copy_nonoverlapping(s.add(8), data.as_mut_ptr(), data.len()) };
        Ok(())
    }
}

impl Setup for SpinCopy {
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError> {
        let half = self.slot * self.slots;
        let a = self.mem;
        // SAFETY: the mapping holds two halves of `half` bytes.
        let b = unsafe { self.mem.add(half) };
        let (out, inp) = if parent { (a, b) } else { (b, a) };
        Ok(Box::new(SpinCopySide { out, inp, slot: self.slot, slots: self.slots, sent: 0, seen: 0 }))
    }
}
