//! Raw POSIX message queue loops.

use std::ffi::CString;
use std::os::fd::RawFd;

use crate::{BenchError, Setup, Side};

use super::os_err;

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
