//! `ipckit bench`, `demo`, `completions` and `man`.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

#[cfg(feature = "bench")]
mod bench;
mod completions_man;
mod demo;
mod demo_socket;
