//! What to run: the caller's [`Options`], the [`Scenario`]s they expand to, and the
//! shared objects each scenario is set up with.
//!
//! Contract:
//! - [`scenarios`] lists every (mechanism, variant, size) to measure in report order
//!   (the order of [`Mechanism::ALL`], then size, then variant), each once, whatever
//!   the order the caller asked for; sizes beyond a mechanism's limit
//!   ([`Mechanism::max_size`]) and size 0 are left out; `spin-line` carries no payload
//!   and runs at one size; `channel-idle` has no size (8 in the report);
//! - [`setup`] makes a scenario's shared objects before `fork`: each process then
//!   takes its side ([`Setup::side`]), and dropping the setup in the parent removes
//!   what it made;
//! - [`rounds`] is how many times the whole set runs (each figure of the report is
//!   the median over the rounds).

use crate::measure::Placement;
use crate::mechanism::{Measures, Mechanism, Variant};
use crate::{BenchError, Setup, bridge, raw, sides};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The mechanisms (empty: all).
    pub mechanisms: Vec<Mechanism>,
    /// Message sizes in bytes (empty: 8, 64, 4096, 65536, 1048576).
    pub sizes: Vec<usize>,
    /// Pin both processes to one CPU instead of two.
    pub same_core: bool,
    /// Short runs: the whole default set in well under a minute.
    pub quick: bool,
    /// How many times to run the whole set, interleaved (0: 1 with `quick`, else 3).
    /// Each figure of the report is the median over the rounds, so that a burst of
    /// noise from other work on the machine moves one round, not the result.
    pub rounds: usize,
}

/// The default message sizes.
pub const DEFAULT_SIZES: [usize; 5] = [8, 64, 4096, 65536, 1048576];

/// What one scenario measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scenario {
    pub mechanism: Mechanism,
    pub variant: Variant,
    pub size: usize,
}

impl Scenario {
    /// What is measured in this scenario: the mechanism's measures, but a raw NATS
    /// request/reply (`bridge`, raw) has no stream to measure.
    pub(crate) fn measures(self) -> Measures {
        let mut m = self.mechanism.measures();
        if self.mechanism == Mechanism::Bridge && self.variant == Variant::Raw {
            m.throughput = false;
        }
        m
    }
}

/// The scenarios `opts` asks for, in report order.
pub(crate) fn scenarios(opts: &Options) -> Vec<Scenario> {
    let asked = |m: &Mechanism| opts.mechanisms.is_empty() || opts.mechanisms.contains(m);
    // The bridge's second reference comes with it.
    let mechs: Vec<Mechanism> = Mechanism::ALL
        .into_iter()
        .filter(|m| asked(m) || (*m == Mechanism::BridgeJs && asked(&Mechanism::Bridge)))
        .collect();
    let mut sizes = if opts.sizes.is_empty() { DEFAULT_SIZES.to_vec() } else { opts.sizes.clone() };
    sizes.sort_unstable();
    sizes.dedup();
    let mut out = Vec::new();
    for m in mechs {
        if m == Mechanism::ChannelIdle {
            out.push(Scenario { mechanism: m, variant: Variant::Ipckit, size: 8 });
            continue;
        }
        for &size in &sizes {
            if m == Mechanism::SpinLine && size != sizes[0] {
                continue; // no payload: one size says it all
            }
            if m.max_size().is_some_and(|max| size > max) || size == 0 {
                continue;
            }
            for &variant in m.variants() {
                out.push(Scenario { mechanism: m, variant, size });
            }
        }
    }
    out
}

/// How many times the whole set runs.
pub(crate) fn rounds(opts: &Options) -> usize {
    match opts.rounds {
        0 if opts.quick => 1,
        0 => 3,
        n => n,
    }
}

/// Makes the shared objects of a two-process scenario.
pub(crate) fn setup(s: Scenario, at: Placement) -> Result<Box<dyn Setup>, BenchError> {
    let raw = s.variant == Variant::Raw;
    let mq_depth = ipckit::Limit::MqMsgMax.current().unwrap_or(10).clamp(1, 10) as usize;
    Ok(match s.mechanism {
        Mechanism::Pipe if raw => Box::new(raw::RawPipe::new()?),
        Mechanism::Pipe => Box::new(sides::Pipe::new()?),
        Mechanism::Fifo if raw => Box::new(raw::RawFifo::new()?),
        Mechanism::Fifo => Box::new(sides::Fifo::new()?),
        Mechanism::Uds if raw => Box::new(raw::RawUds::new(raw::STREAM)?),
        Mechanism::Uds => Box::new(sides::Uds::stream()?),
        Mechanism::UdsSeqpacket if raw => Box::new(raw::RawUds::new(raw::SEQPACKET)?),
        Mechanism::UdsSeqpacket => Box::new(sides::Uds::seqpacket()?),
        Mechanism::UdsDgram if raw => Box::new(raw::RawUds::new(raw::DGRAM)?),
        Mechanism::UdsDgram => Box::new(sides::Uds::datagram()?),
        Mechanism::UdsFd if raw => Box::new(raw::RawUdsFd::new()?),
        Mechanism::UdsFd => Box::new(sides::UdsFd::new()?),
        Mechanism::Tcp if raw => Box::new(raw::RawTcp::new()?),
        Mechanism::Tcp => Box::new(sides::Tcp::new()?),
        Mechanism::SysvMsg if raw => Box::new(raw::RawSysvMsg::new()?),
        Mechanism::SysvMsg => Box::new(sides::SysvMsg::new()?),
        Mechanism::SysvSem if raw => Box::new(raw::RawSysvSem::new(s.size)?),
        Mechanism::SysvSem => Box::new(sides::SysvSem::new(s.size)?),
        Mechanism::PosixMq if raw => Box::new(raw::RawPosixMq::new(s.size, mq_depth)?),
        Mechanism::PosixMq => Box::new(sides::PosixMq::new(s.size, mq_depth)?),
        Mechanism::Channel => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Adaptive)?),
        Mechanism::ChannelSpin => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Spin)?),
        Mechanism::ChannelLoan => Box::new(sides::ChannelPair::new(s.size, sides::ChannelMode::Loan)?),
        Mechanism::SpinLine => Box::new(raw::SpinLine::new()?),
        Mechanism::SpinCopy => Box::new(raw::SpinCopy::new(s.size, 1)?),
        Mechanism::SpinRing => Box::new(raw::SpinCopy::new(s.size, 64 * 1024)?),
        Mechanism::Bridge if raw => Box::new(bridge::RawNats::new()?),
        Mechanism::Bridge => Box::new(bridge::Bridges::new(at)?),
        Mechanism::BridgeJs => Box::new(bridge::RawJetStream::new()?),
        Mechanism::Memcpy | Mechanism::ChannelIdle => return Err("not a two-process loop".into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenarios_respect_limits_and_variants() {
        let opts =
            Options { mechanisms: vec![Mechanism::SysvMsg, Mechanism::SpinLine], ..Options::default() };
        let s = scenarios(&opts);
        assert!(s.iter().all(|s| s.mechanism != Mechanism::SysvMsg || s.size <= 8192));
        assert_eq!(s.iter().filter(|s| s.mechanism == Mechanism::SpinLine).count(), 1);
        assert!(
            s.iter().any(|s| s.variant == Variant::Raw) && s.iter().any(|s| s.variant == Variant::Ipckit)
        );
        for m in Mechanism::ALL {
            assert_eq!(Mechanism::from_name(m.name()), Some(m));
        }
    }

    #[test]
    fn command_line_names_are_the_report_names() {
        use clap::ValueEnum;
        assert_eq!(Mechanism::value_variants(), &Mechanism::ALL[..], "ALL lists every variant, in order");
        for m in Mechanism::ALL {
            let pv = m.to_possible_value().expect("every mechanism is listed");
            assert_eq!(pv.get_name(), m.name());
            assert!(pv.get_help().is_some(), "{} has no help line", m.name());
        }
    }
}
