//! `ipckit rm`, `mk`, `key`, `sem` and `shm`, System V and POSIX, against util-linux.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod keys_sem_shm;
mod posix;
mod vs_util_linux;
