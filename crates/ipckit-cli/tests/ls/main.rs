//! `ipckit ls`: JSON, POSIX objects, stale objects, and byte for byte against `ipcs`.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod channels;
mod json_stale;
mod vs_ipcs;
