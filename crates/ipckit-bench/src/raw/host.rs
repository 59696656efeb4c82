//! The host side of a run: the CPUs a process may use and pinning to them, a child that
//! dies with its parent, CPU time, a watchdog for blocking calls, and one shared
//! anonymous page.

use std::sync::atomic::AtomicU64;

use crate::BenchError;

use super::os_err;

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

/// Pins the calling thread (a process's only thread: the process) to the given CPUs
/// (`sched_setaffinity`).
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

/// A watchdog for one blocking call on this thread: while it lives, `SIGALRM` comes
/// to this thread (a POSIX timer of its own, `SIGEV_THREAD_ID`) after `limit`, and
/// ends the call with `EINTR` instead of killing the process. So a side can wait in
/// a plain blocking `msgrcv`, as a real receiver does (woken by the kernel the moment
/// a message comes), and still gives up on a bridge that died.
pub(crate) struct Watchdog {
    timer: libc::timer_t,
}

impl Watchdog {
    pub(crate) fn arm(limit: std::time::Duration) -> Result<Watchdog, BenchError> {
        extern "C" fn nothing(_: libc::c_int) {}
        static HANDLER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let installed = *HANDLER.get_or_init(|| {
            // SAFETY: sigaction is plain data; zero is no flags and an empty mask.
            let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
            // No SA_RESTART: the interrupted call returns EINTR. The handler does
            // nothing, so it is async-signal-safe.
            act.sa_sigaction = nothing as extern "C" fn(libc::c_int) as libc::sighandler_t;
            // SAFETY: `act` is a valid sigaction; the old one is not asked for.
            unsafe { libc::sigaction(libc::SIGALRM, &act, std::ptr::null_mut()) == 0 }
        });
        if !installed {
            return Err(os_err("sigaction(SIGALRM)"));
        }
        // One timer per thread, made on first use; a forked child (which inherits the
        // thread-local but not the timer) makes its own.
        thread_local! {
            static TIMER: std::cell::Cell<Option<(u32, libc::timer_t)>> = const { std::cell::Cell::new(None) };
        }
        let pid = std::process::id();
        let timer = match TIMER.get() {
            Some((p, t)) if p == pid => t,
            _ => {
                // SAFETY: sigevent is plain data; zero then the fields we mean.
                let mut ev: libc::sigevent = unsafe { std::mem::zeroed() };
                ev.sigev_notify = libc::SIGEV_THREAD_ID;
                ev.sigev_signo = libc::SIGALRM;
                // SAFETY: gettid has no preconditions.
                ev.sigev_notify_thread_id = unsafe { libc::gettid() };
                let mut t: libc::timer_t = std::ptr::null_mut();
                // SAFETY: `ev` is a valid sigevent, `t` a writable timer_t.
                if unsafe { libc::timer_create(libc::CLOCK_MONOTONIC, &mut ev, &mut t) } != 0 {
                    return Err(os_err("timer_create"));
                }
                TIMER.set(Some((pid, t)));
                t
            }
        };
        let mut when = disarmed();
        when.it_value.tv_sec = limit.as_secs().min(i64::MAX as u64) as libc::time_t;
        // (A zero limit is one nanosecond: zero would disarm.)
        when.it_value.tv_nsec = libc::c_long::from(limit.subsec_nanos().max(u32::from(limit.is_zero())));
        // SAFETY: `timer` is this thread's timer; `when` a valid itimerspec.
        if unsafe { libc::timer_settime(timer, 0, &when, std::ptr::null_mut()) } != 0 {
            return Err(os_err("timer_settime"));
        }
        Ok(Watchdog { timer })
    }
}

/// An `itimerspec` of zero: given to `timer_settime`, it disarms the timer.
fn disarmed() -> libc::itimerspec {
    // SAFETY: itimerspec is plain integers.
    unsafe { std::mem::zeroed() }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let off = disarmed();
        // SAFETY: our timer; a zero value disarms it.
        unsafe { libc::timer_settime(self.timer, 0, &off, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use ipckit::sysv::msg::{MsgQueue, Select};
    use ipckit::{ErrorKind, Key, Mode};

    use super::Watchdog;

    #[test]
    fn the_watchdog_ends_a_blocking_receive_on_its_own_thread_only() {
        let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
        q.set_remove_on_drop(true).unwrap();
        // Another thread blocks in msgrcv meanwhile: the signal must not end its call.
        let id = q.id();
        let other = std::thread::spawn(move || {
            let q = MsgQueue::from_id(id).unwrap();
            q.recv(&mut [0u8; 8], Select::Type(2)).map(|r| r.mtype)
        });
        let start = Instant::now();
        let dog = Watchdog::arm(Duration::from_millis(200)).unwrap();
        let err = q.recv(&mut [0u8; 8], Select::Type(1)).unwrap_err();
        drop(dog);
        assert_eq!(err.kind(), ErrorKind::Interrupted, "{err}");
        assert!(start.elapsed() >= Duration::from_millis(200));
        // The other thread is still waiting: it takes the message meant for it.
        q.send(b"x", 2).unwrap();
        assert_eq!(other.join().unwrap().unwrap(), 2);
        // Dropped before it fires, it is disarmed: a receive that waits past its
        // limit is not interrupted.
        drop(Watchdog::arm(Duration::from_millis(100)).unwrap());
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            MsgQueue::from_id(id).unwrap().send(b"y", 1)
        });
        assert_eq!(q.recv(&mut [0u8; 8], Select::Any).unwrap().mtype, 1);
        late.join().unwrap().unwrap();
    }

    #[test]
    fn a_forked_child_gets_a_watchdog_of_its_own() {
        let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
        q.set_remove_on_drop(true).unwrap();
        // The parent's thread has its timer (this thread's, from an arm and a drop).
        drop(Watchdog::arm(Duration::from_secs(5)).unwrap());
        let id = q.id();
        // SAFETY: the child only makes system calls (timer_create and timer_settime
        // through `arm`, which allocates only to report an error, then msgrcv, which
        // writes at most an mtype and 8 body bytes into the 16-byte `buf`).
        let child = unsafe {
            ipckit::process::fork_with(move || {
                let Ok(dog) = Watchdog::arm(Duration::from_millis(100)) else { return 2 };
                let mut buf = [0u8; 16];
                let n = libc::msgrcv(id, buf.as_mut_ptr().cast(), 8, 1, 0);
                let errno = std::io::Error::last_os_error().raw_os_error();
                drop(dog);
                if n == -1 && errno == Some(libc::EINTR) { 0 } else { 3 }
            })
        }
        .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "the child's watchdog did not end its msgrcv: {status}");
    }
}
