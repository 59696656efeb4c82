//! Keys, kernel limits, the "not now" errors, and the examples against C programs.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod examples_interop;
mod key;
mod limits;
mod not_now;
