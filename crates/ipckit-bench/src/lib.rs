//! # ipckit-bench — every IPC mechanism, side by side, on this machine
//!
//! Two measurements per mechanism and message size, each between two processes made
//! with `fork` and pinned with `sched_setaffinity` to different CPUs (or both to one
//! with [`Options::same_core`]):
//!
//! - **round trip**: the parent sends a message, the child sends it back; every round
//!   trip is timed, and the report gives the median, p99 and p99.9;
//! - **throughput**: the child sends messages back to back for a fixed time, the
//!   parent receives them; the report gives messages and bytes per second.
//!
//! Each kernel mechanism runs twice, through ipckit and as a raw libc loop of the same
//! protocol, so that ipckit's own cost shows as a ratio. Two baselines measured in
//! the same run bound what is possible: `spin-line` (two processes spinning on one
//! shared cache line: the round-trip floor), `spin-copy` and `spin-ring` (the same
//! carrying a payload, in one slot or through a ring) and `memcpy` (one process copying
//! messages into a ring-sized buffer: single-copy bandwidth).
//!
//! The ratios behind the targets come from [`compare`], which measures the two sides
//! of each ratio in alternating blocks in one pair of processes (see [`Comparison`]).
//!
//! The crate, one file per idea: `mechanism` (what can be measured), `scenario` (what
//! a run measures and the objects each scenario sets up), `measure` (the two-process
//! measurements and the rows), `stats` (percentiles, medians, the median over
//! rounds), `compare` (paired comparisons), `target` (the bounds), `report` (the
//! table, the checks, the machine); `sides` and `raw` hold each mechanism's two ends
//! through ipckit and through raw libc, `svg` the chart.
//!
//! ```no_run
//! let opts = ipckit_bench::Options { quick: true, ..ipckit_bench::Options::default() };
//! let rows = ipckit_bench::run(&opts, |_done, _total, _what| {})?;
//! let comparisons = ipckit_bench::compare(&opts, &rows, |_done, _total, _what| {})?;
//! println!("{}", ipckit_bench::table(&rows, &comparisons));
//! # Ok::<(), String>(())
//! ```

mod bridge;
mod compare;
mod measure;
mod mechanism;
mod raw;
mod report;
mod scenario;
mod sides;
mod stats;
mod svg;
mod target;

pub use compare::{Comparison, compare};
pub use measure::{Row, planned, run};
pub use mechanism::{Mechanism, Variant};
pub use report::{Check, checks, machine, table};
pub use scenario::{DEFAULT_SIZES, Options};
pub use svg::plot;
pub use target::Target;

/// An error of the benchmark, as text.
pub type BenchError = String;

/// The first byte of a message that ends a loop.
pub(crate) const STOP: u8 = 1;

/// One end of a mechanism, in one process.
pub(crate) trait Side {
    /// Sends one message (`data.len()` bytes).
    fn send(&mut self, data: &[u8]) -> Result<(), BenchError>;
    /// Receives one message of `data.len()` bytes; `data[0]` carries its first byte.
    fn recv(&mut self, data: &mut [u8]) -> Result<(), BenchError>;
}

/// A mechanism's shared objects, made before `fork`; each process then takes its side.
/// Dropped in the parent, it removes what it made.
pub(crate) trait Setup {
    /// The parent's (`true`) or the child's side.
    fn side(&mut self, parent: bool) -> Result<Box<dyn Side>, BenchError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quick_run_of_a_few_mechanisms_measures_them() {
        let opts = Options {
            mechanisms: vec![
                Mechanism::Pipe,
                Mechanism::ChannelSpin,
                Mechanism::SysvSem,
                Mechanism::SpinLine,
            ],
            sizes: vec![64],
            quick: true,
            ..Options::default()
        };
        let rows = run(&opts, |_, _, _| {}).unwrap();
        assert_eq!(rows.len(), 6);
        for r in &rows {
            assert!(r.rtt_p50_ns.is_some_and(|v| v > 0.0) && r.rtt_samples > 0, "{r:?}");
            assert!(r.rtt_p50_ns <= r.rtt_p99_ns && r.rtt_p99_ns <= r.rtt_p999_ns);
        }
        let comps = compare(&opts, &rows, |_, _, _| {}).unwrap();
        // channel-spin vs spin-line, pipe and sysv-sem ipckit vs raw (round trip and stream).
        assert!(comps.iter().any(|c| c.what.starts_with("channel-spin 64 B round trip / spin-line")));
        assert!(comps.iter().any(|c| c.what == "pipe 64 B time per message (throughput), ipckit / raw"));
        for c in &comps {
            assert!(c.ratio_p10 <= c.ratio_p50 && c.ratio_p50 <= c.ratio_p90, "{c:?}");
            assert!(c.a_p50_ns > 0.0 && c.b_p50_ns > 0.0 && c.blocks > 0, "{c:?}");
        }
        let t = table(&rows, &comps);
        assert!(t.contains("channel-spin") && t.contains("spin-line") && t.contains("Paired"));
        let svg = plot(&rows);
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    }
}
