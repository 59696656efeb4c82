//! The host side of a run: the CPUs a process may use and pinning to them, a child that
//! dies with its parent, CPU time, and one shared anonymous page.

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
