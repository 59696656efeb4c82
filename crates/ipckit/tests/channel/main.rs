//! The shared-memory channel (`ipckit::channel`) and the patterns built on it, between
//! real processes.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../util/mod.rs"]
mod util;

mod api;
mod async_edge;
mod async_pidfd;
mod async_spin;
mod corruption;
mod disconnect;
mod event;
mod large;
mod large_edges;
mod merge;
mod poll;
mod pubsub;
mod pubsub_join;
mod rpc;
mod select;
mod stream;
mod takeover;
mod timeout;
mod typed;
mod with_tokio;
