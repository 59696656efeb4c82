//! `ipckit send` and `recv`, and the reliability of the command line.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod messages;
mod reliability;
