//! Which POSIX objects live processes hold: mapped (`/proc/PID/maps`) or open
//! (`/proc/PID/fd`). A POSIX object keeps no count of its users, so this is the only
//! way to tell whether a shared-memory object, a named semaphore or a message queue
//! is still in use.
//!
//! The answer is only as complete as what this process may read: another user's
//! `/proc/PID/maps` and `/proc/PID/fd` need root (or `CAP_SYS_PTRACE`), processes in
//! other pid namespaces are invisible, and `/dev/shm` is shared by every IPC
//! namespace. [`PosixUse::in_use`] says `None`, "cannot be known", whenever a process
//! could not be read.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The device (`major:minor`, as `/proc/PID/maps` prints it) and inode of every
/// file in a maps text.
///
/// ```
/// let maps = "7f0c5a000000-7f0c5a001000 rw-s 00000000 00:1a 4242    /dev/shm/sem.jobs\n\
///             7f0c5b000000-7f0c5b021000 rw-p 00000000 00:00 0 \n";
/// assert_eq!(ipckit::registry::parse_maps_files(maps), vec![((0, 0x1a), 4242)]);
/// ```
pub fn parse_maps_files(text: &str) -> Vec<((u32, u32), u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut f = line.split_whitespace();
        let (_, _, _, dev, ino) = (f.next(), f.next(), f.next(), f.next(), f.next());
        let (Some(dev), Some(ino)) = (dev, ino) else { continue };
        let Ok(ino) = ino.parse::<u64>() else { continue };
        if ino == 0 {
            continue;
        }
        let Some((maj, min)) = dev.split_once(':') else { continue };
        let (Ok(maj), Ok(min)) = (u32::from_str_radix(maj, 16), u32::from_str_radix(min, 16)) else {
            continue;
        };
        out.push(((maj, min), ino));
    }
    out
}

/// The files that live processes map or hold open, from `/proc`.
#[derive(Clone, Debug, Default)]
pub struct PosixUse {
    held: HashSet<(u64, u64)>,
    mapped: HashSet<((u32, u32), u64)>,
    /// Processes whose maps or descriptors could not be read (permission).
    pub unreadable: Vec<u32>,
}

/// glibc's `gnu_dev_major`/`gnu_dev_minor` split of a `dev_t`.
fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    (major as u32, minor as u32)
}

impl PosixUse {
    /// Scans every process in `/proc` but the calling one (which holds what it is
    /// looking at). Processes that exit meanwhile are skipped.
    pub fn scan() -> PosixUse {
        let mut u = PosixUse::default();
        let me = std::process::id();
        let Ok(rd) = std::fs::read_dir("/proc") else { return u };
        for e in rd.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
            if pid == me {
                continue;
            }
            let dir = e.path();
            match std::fs::read_to_string(dir.join("maps")) {
                Ok(text) => u.mapped.extend(parse_maps_files(&text)),
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                    u.unreadable.push(pid);
                    continue;
                }
                Err(_) => continue, // gone, or a zombie
            }
            match std::fs::read_dir(dir.join("fd")) {
                Ok(fds) => {
                    for fd in fds.flatten() {
                        if let Ok(m) = std::fs::metadata(fd.path()) {
                            u.held.insert((m.dev(), m.ino()));
                        }
                    }
                }
                Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => u.unreadable.push(pid),
                Err(_) => {}
            }
        }
        u
    }

    /// Whether the file at `path` (`/dev/shm/NAME`, `/dev/shm/sem.NAME`,
    /// `/dev/mqueue/NAME`) is mapped or open in a live process: `Some(true)` or
    /// `Some(false)`, or `None` if it cannot be known (a process could not be read,
    /// or the file is gone).
    pub fn in_use(&self, path: &Path) -> Option<bool> {
        let m = std::fs::metadata(path).ok()?;
        if self.held.contains(&(m.dev(), m.ino())) || self.mapped.contains(&(split_dev(m.dev()), m.ino())) {
            return Some(true);
        }
        if self.unreadable.is_empty() { Some(false) } else { None }
    }
}
