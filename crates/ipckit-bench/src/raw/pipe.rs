//! Raw `pipe` and FIFO loops.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::{BenchError, Setup, Side};

use super::{FdSide, os_err};

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
