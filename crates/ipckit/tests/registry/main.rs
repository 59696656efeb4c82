//! The registry of live IPC objects (`ipckit::registry`) and its parsers.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod live;
mod parse;
