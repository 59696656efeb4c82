//! The public types of the single-pair channel: [`Channel`], [`Sender`],
//! [`Receiver`], loans and guards, one idea per file:
//!
//! - `config.rs`: [`ChannelConfig`], the size asked for;
//! - `shared.rs`: the memory both ends share, and the [`Channel`] handle that creates
//!   or opens it and hands out each end once;
//! - `sender.rs`: [`Sender`], which reserves, writes and publishes records;
//! - `receiver.rs`: [`Receiver`], which finds, reads and frees them;
//! - `loan.rs`: [`SendLoan`] and [`RecvGuard`], the zero-copy views.
//!
//! The ring's protocol (stamps, padding, `head`, the published count) is `ring.rs`;
//! waiting is `wait.rs`; the header's layout is `layout.rs`.

mod config;
mod loan;
mod receiver;
mod sender;
mod shared;

pub use config::ChannelConfig;
pub use loan::{RecvGuard, SendLoan};
pub use receiver::Receiver;
pub use sender::Sender;
pub use shared::Channel;
