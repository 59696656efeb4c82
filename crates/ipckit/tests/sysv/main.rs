//! System V message queues, semaphores and shared memory (`ipckit::sysv`).
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod msg_basic;
mod msg_model;
mod msg_process;
mod sem;
mod sem_process;
mod shm;
mod shm_address_space;
