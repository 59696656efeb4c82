//! What the benchmark measures: the [`Mechanism`]s, the [`Variant`]s of each (ipckit's
//! API or a raw libc loop of the same protocol) and the [`Measures`] each takes.
//!
//! Contract:
//! - a mechanism's command-line name, its report name and its JSON name are one
//!   string, [`Mechanism::name`] (kebab-case of the variant, checked by a test);
//! - [`Mechanism::ALL`] lists every mechanism in report order; nothing else keeps a
//!   list of names (clap parses and lists them from the enum);
//! - names are compared as enums inside the crate, never as strings;
//! - [`Mechanism::max_size`] is the largest message the mechanism carries on this
//!   machine (a kernel limit read at run time), so that no scenario asks for more.
//!
//! To add a mechanism: a variant here (its doc comment's first line is its help in
//! `ipckit bench --help`), an entry in [`Mechanism::ALL`] and [`Mechanism::name`], its
//! variants and measures below, and its setup in `scenario.rs` (built from `sides.rs`
//! for ipckit, `raw.rs` for raw libc).

use serde::{Serialize, Serializer};

/// A mechanism the benchmark knows.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mechanism {
    /// Two pipes.
    Pipe,
    /// Two FIFOs.
    Fifo,
    /// A Unix stream socket pair.
    Uds,
    /// Unix seqpacket socket pair: one message per call.
    UdsSeqpacket,
    /// Unix datagram socket pair.
    UdsDgram,
    /// Unix seqpacket pair, each message carrying one descriptor (`SCM_RIGHTS`).
    UdsFd,
    /// Length-prefixed frames over loopback TCP (`TCP_NODELAY`).
    Tcp,
    /// A System V message queue.
    SysvMsg,
    /// System V semaphores handing off a System V shared-memory slot.
    SysvSem,
    /// Two POSIX message queues.
    PosixMq,
    /// The ipckit channel, adaptive waiting.
    Channel,
    /// The ipckit channel, spinning.
    ChannelSpin,
    /// The ipckit channel with loans and in-place reads, spinning.
    ChannelLoan,
    /// Baseline: two processes spinning on one shared cache line (round trip only).
    SpinLine,
    /// Baseline: the spin-line ping-pong carrying the payload (round trip only).
    ///
    /// The payload goes through one shared slot per direction: the floor for a
    /// message of the size.
    SpinCopy,
    /// Baseline: the bare ring protocol (round trip only).
    ///
    /// The payload behind a sequence word in successive 128-byte slots of a 64 KiB
    /// ring per direction, no framing, no checks: what any ring costs over
    /// `spin-copy`'s single slot.
    SpinRing,
    /// Baseline: `memcpy` in one process (throughput only).
    Memcpy,
    /// CPU used by a channel receiver blocked on an idle channel.
    ChannelIdle,
    /// System V queues carried over NATS by `ipckit bridge` (a private nats-server).
    ///
    /// ipckit: a round trip crosses four bridges (out -> JetStream -> in, twice),
    /// throughput one pair; raw: NATS request/reply with the same client (round trip
    /// only). Skipped, with the reason, when nats-server is not installed. Asking for
    /// `bridge` measures `bridge-js` too, its second reference.
    Bridge,
    /// Baseline: raw JetStream with the same client (round trip only).
    ///
    /// Each side publishes into a file-storage stream and waits for the server's
    /// acknowledgement; the other side takes the message from a pull consumer and
    /// acknowledges it: the least a JetStream bridge does for a round trip, without
    /// the local queues and the bridges.
    BridgeJs,
}

impl Mechanism {
    /// Every mechanism, in report order.
    pub const ALL: [Mechanism; 20] = [
        Mechanism::Pipe,
        Mechanism::Fifo,
        Mechanism::Uds,
        Mechanism::UdsSeqpacket,
        Mechanism::UdsDgram,
        Mechanism::UdsFd,
        Mechanism::Tcp,
        Mechanism::SysvMsg,
        Mechanism::SysvSem,
        Mechanism::PosixMq,
        Mechanism::Channel,
        Mechanism::ChannelSpin,
        Mechanism::ChannelLoan,
        Mechanism::SpinLine,
        Mechanism::SpinCopy,
        Mechanism::SpinRing,
        Mechanism::Memcpy,
        Mechanism::ChannelIdle,
        Mechanism::Bridge,
        Mechanism::BridgeJs,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Pipe => "pipe",
            Mechanism::Fifo => "fifo",
            Mechanism::Uds => "uds",
            Mechanism::UdsSeqpacket => "uds-seqpacket",
            Mechanism::UdsDgram => "uds-dgram",
            Mechanism::UdsFd => "uds-fd",
            Mechanism::Tcp => "tcp",
            Mechanism::SysvMsg => "sysv-msg",
            Mechanism::SysvSem => "sysv-sem",
            Mechanism::PosixMq => "posix-mq",
            Mechanism::Channel => "channel",
            Mechanism::ChannelSpin => "channel-spin",
            Mechanism::ChannelLoan => "channel-loan",
            Mechanism::SpinLine => "spin-line",
            Mechanism::SpinCopy => "spin-copy",
            Mechanism::SpinRing => "spin-ring",
            Mechanism::Memcpy => "memcpy",
            Mechanism::ChannelIdle => "channel-idle",
            Mechanism::Bridge => "bridge",
            Mechanism::BridgeJs => "bridge-js",
        }
    }

    /// The mechanism with this name.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The largest message this mechanism carries here, if it has a limit.
    pub(crate) fn max_size(self) -> Option<usize> {
        match self {
            Mechanism::SysvMsg | Mechanism::Bridge | Mechanism::BridgeJs => {
                Some(ipckit::Limit::MsgMax.current().unwrap_or(8192) as usize)
            }
            Mechanism::PosixMq => Some(ipckit::Limit::MqMsgSizeMax.current().unwrap_or(8192) as usize),
            // A packet must fit the socket's send buffer (SO_SNDBUF, 208 KiB by default).
            Mechanism::UdsSeqpacket | Mechanism::UdsDgram | Mechanism::UdsFd => Some(64 * 1024),
            _ => None,
        }
    }

    /// The variants measured.
    pub(crate) fn variants(self) -> &'static [Variant] {
        match self {
            Mechanism::Pipe
            | Mechanism::Fifo
            | Mechanism::Uds
            | Mechanism::UdsSeqpacket
            | Mechanism::UdsDgram
            | Mechanism::UdsFd
            | Mechanism::Tcp
            | Mechanism::SysvMsg
            | Mechanism::SysvSem
            | Mechanism::PosixMq
            | Mechanism::Bridge => &[Variant::Ipckit, Variant::Raw],
            Mechanism::SpinLine
            | Mechanism::SpinCopy
            | Mechanism::SpinRing
            | Mechanism::Memcpy
            | Mechanism::BridgeJs => &[Variant::Raw],
            _ => &[Variant::Ipckit],
        }
    }

    /// What is measured for this mechanism.
    pub(crate) fn measures(self) -> Measures {
        let (round_trip, throughput) = match self {
            Mechanism::SpinLine | Mechanism::SpinCopy | Mechanism::SpinRing | Mechanism::BridgeJs => {
                (true, false)
            }
            Mechanism::Memcpy => (false, true),
            Mechanism::ChannelIdle => (false, false),
            _ => (true, true),
        };
        Measures { round_trip, throughput, idle_cpu: self == Mechanism::ChannelIdle }
    }
}

impl std::fmt::Display for Mechanism {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Mechanism {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// How a mechanism is driven: through ipckit's API or as a raw libc loop of the same
/// protocol (for baselines, the only variant).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Variant {
    /// Through ipckit.
    Ipckit,
    /// Without ipckit: raw libc calls (for `bridge`, raw NATS with the same client).
    Raw,
}

impl Variant {
    /// `ipckit` or `raw`, as in the report.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Ipckit => "ipckit",
            Variant::Raw => "raw",
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Variant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// What one mechanism's scenario measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Measures {
    /// Round-trip latency (a ping-pong between the two processes).
    pub round_trip: bool,
    /// One-way throughput (the child streams, the parent counts).
    pub throughput: bool,
    /// The CPU a blocked receiver uses (`channel-idle`).
    pub idle_cpu: bool,
}

impl Measures {
    /// How many measurements a scenario takes (for the progress bar).
    pub(crate) fn count(self) -> usize {
        usize::from(self.round_trip) + usize::from(self.throughput) + usize::from(self.idle_cpu)
    }
}
