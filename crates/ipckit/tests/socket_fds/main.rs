//! Unix sockets passing descriptors and handles (`ipckit::socket`), with tests that
//! compare `/proc/self/fd` before and after. Every test of this binary holds `serial()`,
//! so that no other test opens or closes a descriptor meanwhile: a test added here must
//! too (or count in a forked child).
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod creds;
mod handoff;
mod registry;
mod unix;
