//! The shared-memory channel (`ipckit::channel`) and the patterns built on it, between
//! real processes.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod api;
mod corruption;
mod disconnect;
mod event;
mod merge;
mod poll;
mod pubsub;
mod rpc;
mod select;
mod stream;
mod timeout;
mod typed;
mod with_tokio;
mod async_spin;
mod pubsub_join;
mod takeover;
mod large;
