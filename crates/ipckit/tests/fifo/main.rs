//! FIFOs (`ipckit::fifo`): creation, opening (blocking, timed, async) and the examples.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod create;
mod examples;
mod open;
mod with_tokio;
