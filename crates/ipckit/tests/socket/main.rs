//! Unix and TCP sockets (`ipckit::socket`): frames, async, the examples.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod examples;
mod frame;
mod with_tokio;
