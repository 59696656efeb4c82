//! `mq_open`, `mq_send`/`mq_timedsend`, `mq_receive`/`mq_timedreceive`,
//! `mq_getattr`/`mq_setattr`, `mq_unlink`: POSIX message queues.

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{SysResult, cvt, cvt_size};

/// A queue's attributes (`struct mq_attr`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct RawAttr {
    pub(crate) flags: i64,
    pub(crate) maxmsg: i64,
    pub(crate) msgsize: i64,
    pub(crate) curmsgs: i64,
}

fn to_c(a: &RawAttr) -> libc::mq_attr {
    // SAFETY: mq_attr is plain integers (and reserved padding); zero is valid.
    let mut c: libc::mq_attr = unsafe { std::mem::zeroed() };
    c.mq_flags = a.flags as _;
    c.mq_maxmsg = a.maxmsg as _;
    c.mq_msgsize = a.msgsize as _;
    c.mq_curmsgs = a.curmsgs as _;
    c
}

fn from_c(c: &libc::mq_attr) -> RawAttr {
    RawAttr {
        flags: c.mq_flags as i64,
        maxmsg: c.mq_maxmsg as i64,
        msgsize: c.mq_msgsize as i64,
        curmsgs: c.mq_curmsgs as i64,
    }
}

/// `mq_open(name, flags, mode, attr)`. `create`: `O_CREAT|O_EXCL`.
pub(crate) fn mq_open(
    name: &CStr,
    create: bool,
    read: bool,
    write: bool,
    nonblock: bool,
    mode: u32,
    attr: Option<&RawAttr>,
) -> SysResult<OwnedFd> {
    let mut flags = libc::O_CLOEXEC
        | match (read, write) {
            (true, true) => libc::O_RDWR,
            (false, true) => libc::O_WRONLY,
            _ => libc::O_RDONLY,
        };
    if nonblock {
        flags |= libc::O_NONBLOCK;
    }
    let c_attr = attr.map(to_c);
    let fd = if create {
        flags |= libc::O_CREAT | libc::O_EXCL;
        let p = c_attr.as_ref().map_or(std::ptr::null(), |a| a as *const libc::mq_attr);
        // SAFETY: `name` is NUL-terminated; `p` is null or points to a live mq_attr;
        // with O_CREAT, mq_open reads the mode and the attribute pointer.
        unsafe { libc::mq_open(name.as_ptr(), flags, mode as libc::mode_t, p) }
    } else {
        // SAFETY: `name` is NUL-terminated; without O_CREAT no other argument is read.
        unsafe { libc::mq_open(name.as_ptr(), flags) }
    };
    let fd = cvt(fd)?;
    // SAFETY: the descriptor was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `mq_unlink(name)`.
pub(crate) fn mq_unlink(name: &CStr) -> SysResult<()> {
    // SAFETY: `name` is NUL-terminated.
    cvt(unsafe { libc::mq_unlink(name.as_ptr()) })?;
    Ok(())
}

fn abs_timespec(deadline: Option<SystemTime>) -> Option<libc::timespec> {
    deadline.map(|t| {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        libc::timespec { tv_sec: d.as_secs() as libc::time_t, tv_nsec: d.subsec_nanos() as libc::c_long }
    })
}

/// `mq_send` (no deadline) or `mq_timedsend` (an absolute `CLOCK_REALTIME` deadline).
pub(crate) fn mq_send(
    fd: BorrowedFd<'_>,
    data: &[u8],
    prio: u32,
    deadline: Option<SystemTime>,
) -> SysResult<()> {
    let ts = abs_timespec(deadline);
    let r = match &ts {
        // SAFETY: `data` is valid for reading `data.len()` bytes; `t` is a live timespec.
        Some(t) => unsafe { libc::mq_timedsend(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), prio, t) },
        // SAFETY: as above, without a timeout.
        None => unsafe { libc::mq_send(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), prio) },
    };
    cvt(r)?;
    Ok(())
}

/// `mq_receive` or `mq_timedreceive`: returns the length and the priority.
pub(crate) fn mq_receive(
    fd: BorrowedFd<'_>,
    buf: &mut [u8],
    deadline: Option<SystemTime>,
) -> SysResult<(usize, u32)> {
    let len = buf.len();
    let mut prio: libc::c_uint = 0;
    // SAFETY: `buf` is valid for writes of `len` bytes and `prio` is a live c_uint,
    // both for the whole call.
    let n = unsafe {
        mq_receive_into(
            fd,
            std::ptr::NonNull::from(buf).cast(),
            len,
            std::ptr::NonNull::from(&mut prio),
            deadline,
        )
    }?;
    Ok((n, prio))
}

/// `mq_receive` or `mq_timedreceive` into the `len` bytes at `buf`, the priority into `*prio`:
/// memory that need not be this process's alone (a shared file mapping). Returns the
/// length. The kernel removes the message and writes the priority, then the bytes,
/// in one call, with no point between where a signal takes effect.
///
/// # Safety
/// `buf` is valid for writes of `len` bytes and `prio` for a `c_uint`, for the
/// duration of the call.
pub(crate) unsafe fn mq_receive_into(
    fd: BorrowedFd<'_>,
    buf: std::ptr::NonNull<u8>,
    len: usize,
    prio: std::ptr::NonNull<libc::c_uint>,
    deadline: Option<SystemTime>,
) -> SysResult<usize> {
    let ts = abs_timespec(deadline);
    let r = match &ts {
        // SAFETY: the caller guarantees `len` writable bytes at `buf` and a writable
        // `prio`; `t` is live.
        Some(t) => unsafe {
            libc::mq_timedreceive(fd.as_raw_fd(), buf.as_ptr().cast(), len, prio.as_ptr(), t)
        },
        // SAFETY: as above, without a timeout.
        None => unsafe { libc::mq_receive(fd.as_raw_fd(), buf.as_ptr().cast(), len, prio.as_ptr()) },
    };
    cvt_size(r)
}

/// `mq_getattr`.
pub(crate) fn mq_getattr(fd: BorrowedFd<'_>) -> SysResult<RawAttr> {
    // SAFETY: mq_attr is plain integers; zero is valid.
    let mut c: libc::mq_attr = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a writable mq_attr.
    cvt(unsafe { libc::mq_getattr(fd.as_raw_fd(), &mut c) })?;
    Ok(from_c(&c))
}

/// `O_NONBLOCK` as it shows in `mq_attr.mq_flags`.
pub(crate) const O_NONBLOCK: i64 = libc::O_NONBLOCK as i64;

/// `mq_setattr(fd, {mq_flags: O_NONBLOCK or 0})`: the only attribute that can change.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))]
pub(crate) fn mq_set_nonblocking(fd: BorrowedFd<'_>, nonblocking: bool) -> SysResult<()> {
    let a = RawAttr { flags: if nonblocking { O_NONBLOCK } else { 0 }, ..RawAttr::default() };
    let c = to_c(&a);
    // SAFETY: `c` is a live mq_attr; the old attributes are not asked for (null).
    cvt(unsafe { libc::mq_setattr(fd.as_raw_fd(), &c, std::ptr::null_mut()) })?;
    Ok(())
}

/// glibc's `struct sigevent` with the `SIGEV_THREAD` members that the libc crate
/// leaves as padding (`_sigev_un._sigev_thread`): the function and its attributes.
#[repr(C)]
struct SigeventThread {
    value: *mut libc::c_void,
    signo: libc::c_int,
    notify: libc::c_int,
    function: Option<extern "C" fn(libc::sigval)>,
    attributes: *mut libc::pthread_attr_t,
    _pad: [u8; SIGEV_PAD],
}

const SIGEV_PAD: usize = std::mem::size_of::<libc::sigevent>()
    - std::mem::offset_of!(libc::sigevent, sigev_notify_thread_id)
    - 2 * std::mem::size_of::<usize>();

// The two layouts must agree where the C library reads them.
const _: () = {
    assert!(std::mem::size_of::<SigeventThread>() == std::mem::size_of::<libc::sigevent>());
    assert!(std::mem::offset_of!(SigeventThread, signo) == std::mem::offset_of!(libc::sigevent, sigev_signo));
    assert!(
        std::mem::offset_of!(SigeventThread, notify) == std::mem::offset_of!(libc::sigevent, sigev_notify)
    );
    assert!(
        std::mem::offset_of!(SigeventThread, function)
            == std::mem::offset_of!(libc::sigevent, sigev_notify_thread_id)
    );
};

/// A callback run by a `SIGEV_THREAD` notification.
pub(crate) type NotifyFn = Box<dyn FnOnce() + Send + 'static>;

/// Called by the C library on its notification thread with the pointer that
/// [`mq_notify_thread`] registered.
extern "C" fn notify_trampoline(v: libc::sigval) {
    // SAFETY: the pointer is the `Box<NotifyFn>` leaked by `mq_notify_thread`; the
    // kernel fires a registration at most once, so it is taken back exactly once.
    let f = unsafe { Box::from_raw(v.sival_ptr.cast::<NotifyFn>()) };
    // A panic must not unwind into C: it is caught and dropped.
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (*f)()));
}

/// `mq_notify(fd, {SIGEV_THREAD, trampoline, f})`: when a message arrives on the
/// empty queue (and nobody waits in `mq_receive`), the C library calls `f` once on
/// a new thread. `EBUSY` if another process is registered.
///
/// If the registration is cancelled or the descriptor closed before it fires, `f`
/// is never called nor freed (whether it already fired cannot be told): callers
/// keep what it owns small and take anything heavy out of it themselves.
pub(crate) fn mq_notify_thread(fd: BorrowedFd<'_>, f: NotifyFn) -> SysResult<()> {
    let value = Box::into_raw(Box::new(f));
    let ev = SigeventThread {
        value: value.cast(),
        signo: 0,
        notify: libc::SIGEV_THREAD,
        function: Some(notify_trampoline),
        attributes: std::ptr::null_mut(),
        _pad: [0; SIGEV_PAD],
    };
    // SAFETY: `ev` has the layout of glibc's struct sigevent (checked above) and is
    // read during the call only; the trampoline is sound to call once with `value`
    // from any thread (the box holds a `Send` closure).
    let r = cvt(unsafe { libc::mq_notify(fd.as_raw_fd(), (&ev as *const SigeventThread).cast()) });
    if let Err(e) = r {
        // SAFETY: the registration failed, so nothing else will ever see `value`.
        drop(unsafe { Box::from_raw(value) });
        return Err(e);
    }
    Ok(())
}

/// `mq_notify(fd, NULL)`: removes this process's registration.
pub(crate) fn mq_notify_cancel(fd: BorrowedFd<'_>) -> SysResult<()> {
    // SAFETY: a null notification is the documented way to unregister.
    cvt(unsafe { libc::mq_notify(fd.as_raw_fd(), std::ptr::null()) })?;
    Ok(())
}
