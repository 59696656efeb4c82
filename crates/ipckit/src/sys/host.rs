//! `sysconf`: facts about the machine.

/// `sysconf(_SC_PAGESIZE)`: the size of a memory page in bytes (4096 if unknown).
pub(crate) fn page_size() -> u64 {
    // SAFETY: sysconf takes no pointers and has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 { n as u64 } else { 4096 }
}
