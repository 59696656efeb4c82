//! Everything of the benchmark that calls the C library directly: pinning, a shared
//! anonymous page, CPU time, and the raw-libc loops of every kernel mechanism — the
//! same loops the ipckit variants run, without ipckit, so that ipckit's own overhead
//! shows as a ratio. Every `unsafe {}` says why it is sound.
//!
//! One file per mechanism family: `host` (pinning, CPU time, the shared page),
//! `pipe` (pipe, FIFO), `socket` (Unix sockets, descriptor passing, TCP), `sysv`
//! (message queue, semaphores), `mq` (POSIX queues), `spin` (the shared-memory floors);
//! this file keeps the byte-stream helpers they share.
#![allow(unsafe_code)]

use std::os::fd::RawFd;

use crate::{BenchError, Side};

mod host;
mod mq;
mod pipe;
mod socket;
mod spin;
mod sysv;

pub(crate) use host::{
    SharedPage, Watchdog, allowed_cpus, die_with_parent, original_cpus, pin, process_cpu_ns,
};
pub(crate) use mq::RawPosixMq;
pub(crate) use pipe::{RawFifo, RawPipe};
pub(crate) use socket::{DGRAM, RawTcp, RawUds, RawUdsFd, SEQPACKET, STREAM, tcp_pair};
pub(crate) use spin::{SpinCopy, SpinLine};
pub(crate) use sysv::{RawSysvMsg, RawSysvSem};

fn os_err(what: &str) -> BenchError {
    format!("{what}: {}", std::io::Error::last_os_error())
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
