//! POSIX objects: shared memory and named semaphores in `/dev/shm`, message queues in
//! `/dev/mqueue`.
//!
//! On Linux, `shm_open("/name")` creates the file `/dev/shm/name`, `sem_open("/name")`
//! the file `/dev/shm/sem.name`, and `mq_open("/name")` an entry of the `mqueue`
//! file system, usually mounted at `/dev/mqueue`, whose content is a status line
//! (`QSIZE:12 NOTIFY:0 SIGNO:0 NOTIFY_PID:0`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::Result;

/// A POSIX shared-memory object (`shm_open`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PosixShm {
    /// The name, with its leading `/` (`/myshm`).
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Last modification, seconds since the epoch.
    pub mtime: i64,
}

/// A POSIX named semaphore (`sem_open`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PosixSem {
    /// The name, with its leading `/` (`/mysem`, from the file `sem.mysem`).
    pub name: String,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Last modification, seconds since the epoch.
    pub mtime: i64,
}

/// A POSIX message queue (`mq_open`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosixMq {
    /// The name, with its leading `/`.
    pub name: String,
    /// Bytes queued (`QSIZE`), if the status could be read.
    pub qsize: Option<u64>,
    /// Pid registered for notification (`NOTIFY_PID`, 0 if none).
    pub notify_pid: Option<u32>,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Permission bits.
    pub mode: u32,
    /// Last modification, seconds since the epoch.
    pub mtime: i64,
}

/// Every POSIX object found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PosixObjects {
    /// Shared-memory objects, sorted by name.
    pub shm: Vec<PosixShm>,
    /// Named semaphores, sorted by name.
    pub sem: Vec<PosixSem>,
    /// Message queues, sorted by name; `None` when no `mqueue` file system is mounted
    /// at the directory scanned.
    pub mq: Option<Vec<PosixMq>>,
}

/// Parses a message queue's status line: `(QSIZE, NOTIFY_PID)`.
///
/// ```
/// let s = "QSIZE:129     NOTIFY:2    SIGNO:0    NOTIFY_PID:8260\n";
/// assert_eq!(ipckit::registry::parse_mqueue_status(s), (Some(129), Some(8260)));
/// ```
pub fn parse_mqueue_status(text: &str) -> (Option<u64>, Option<u32>) {
    let mut qsize = None;
    let mut pid = None;
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("QSIZE:") {
            qsize = v.parse().ok();
        } else if let Some(v) = field.strip_prefix("NOTIFY_PID:") {
            pid = v.parse().ok();
        }
    }
    (qsize, pid)
}

/// Whether the text of `/proc/self/mounts` shows an `mqueue` file system at `dir`.
pub fn mqueue_mounted(mounts: &str, dir: &str) -> bool {
    mounts.lines().any(|l| {
        let mut f = l.split_whitespace();
        let (_, at, fstype) = (f.next(), f.next(), f.next());
        at == Some(dir) && fstype == Some("mqueue")
    })
}

/// Scans `/dev/shm` and, where an `mqueue` file system is mounted there,
/// `/dev/mqueue`.
pub fn posix_objects() -> Result<PosixObjects> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mq = mqueue_mounted(&mounts, "/dev/mqueue").then_some(Path::new("/dev/mqueue"));
    posix_objects_in(Path::new("/dev/shm"), mq)
}

/// Scans `shm_dir` for shared memory and semaphores and `mq_dir` (if given) for
/// message queues. A missing `shm_dir` gives empty lists.
pub fn posix_objects_in(shm_dir: &Path, mq_dir: Option<&Path>) -> Result<PosixObjects> {
    let mut out = PosixObjects::default();
    for (file, meta) in entries(shm_dir) {
        if !meta.is_file() {
            continue;
        }
        if let Some(name) = file.strip_prefix("sem.") {
            out.sem.push(PosixSem {
                name: format!("/{name}"),
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            });
        } else {
            out.shm.push(PosixShm {
                name: format!("/{file}"),
                size: meta.len(),
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            });
        }
    }
    if let Some(dir) = mq_dir {
        let mut mqs = Vec::new();
        for (file, meta) in entries(dir) {
            let (qsize, notify_pid) = match super::read_text(&dir.join(&file)) {
                Ok(text) => parse_mqueue_status(&text),
                Err(_) => (None, None),
            };
            mqs.push(PosixMq {
                name: format!("/{file}"),
                qsize,
                notify_pid,
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
            });
        }
        out.mq = Some(mqs);
    }
    Ok(out)
}

/// The entries of `dir`, sorted by name; unreadable ones are skipped (they may vanish
/// while we look).
fn entries(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<_> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let meta = e.metadata().ok()?;
            Some((e.file_name().to_string_lossy().into_owned(), meta))
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}
