//! Pipes (`ipckit::pipe`): atomic writes, capacity, children, splice, signals, async.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod atomic;
mod basic;
mod capacity;
mod child;
mod duplex;
mod examples;
mod sigkill;
mod sigpipe;
mod splice;
mod with_tokio;
