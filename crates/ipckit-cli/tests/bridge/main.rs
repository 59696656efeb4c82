//! `ipckit bridge` with a real nats-server.
//!
//! One test binary for the area: each file here is a module (see ../README.md).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;
#[macro_use]
#[path = "../bridge_util/mod.rs"]
mod bridge_util;

mod bridge;
mod crash;
mod creds;
mod early;
mod fifo_channel;
mod identical;
mod importer_crash;
mod pipeline;
mod posix_crash;
mod security;
