//! POSIX message queues, semaphores and shared memory (`ipckit::posix`).
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod mode;
mod mq;
mod mq_notify;
mod sem;
mod shm;
