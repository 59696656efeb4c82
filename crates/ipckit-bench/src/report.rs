//! The report: the rows as a Markdown table, the paired comparisons, the target
//! checks from separately measured figures, and a line naming the machine.
//!
//! Contract:
//! - [`table`] prints one line per row, then the paired comparisons (each with both
//!   medians, the ratio with p10-p90, the target and whether it is met), then the
//!   [`checks`] that no comparison covers;
//! - [`checks`] computes each target from figures of the same run (medians over the
//!   rounds), where both figures are there; they are measured at different moments,
//!   so on a noisy machine the paired comparisons are the ones to believe;
//! - times print in µs or ms, rates with k/M/G prefixes; a missing figure is `-`.

use serde::Serialize;

use crate::compare::{Comparison, bridge_round_trip};
use crate::measure::{Row, find};
use crate::mechanism::{Mechanism, Variant};
use crate::raw;
use crate::target::Target;

/// A performance target checked on figures measured separately in the same run.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Check {
    /// What is checked, e.g. `channel 64 B round trip / spin-line`.
    pub what: String,
    /// The measured figure (a ratio, a rate, a percentage: `what` says which).
    pub measured: f64,
    /// The target.
    pub wanted: Target,
    /// Whether the figure meets it.
    pub met: bool,
}

impl Check {
    fn new(what: String, measured: f64, wanted: Target) -> Check {
        Check { what, measured, wanted, met: wanted.met(measured) }
    }
}

/// ipckit's performance targets as ratios of figures from the same run, where both
/// figures are there.
pub fn checks(rows: &[Row]) -> Vec<Check> {
    use Variant::{Ipckit, Raw};
    let mut out = Vec::new();
    let floor = rows.iter().find(|r| r.mechanism == Mechanism::SpinLine).and_then(|r| r.rtt_p50_ns);
    if let Some(floor) = floor {
        for (m, limit) in [(Mechanism::ChannelSpin, 1.3), (Mechanism::Channel, 2.0)] {
            if let Some(p50) = find(rows, m, Ipckit, 64).and_then(|r| r.rtt_p50_ns) {
                out.push(Check::new(
                    format!("{m} 64 B round trip / spin-line"),
                    p50 / floor,
                    Target::AtMost(limit),
                ));
            }
        }
    }
    let big = 1048576;
    if let Some(copy) = find(rows, Mechanism::Memcpy, Raw, big).and_then(|r| r.bytes_per_s) {
        for (m, wanted) in
            [(Mechanism::Channel, Target::AtLeast(0.7)), (Mechanism::ChannelLoan, Target::Above(1.0))]
        {
            if let Some(bw) = find(rows, m, Ipckit, big).and_then(|r| r.bytes_per_s) {
                out.push(Check::new(format!("{m} 1 MiB throughput / memcpy"), bw / copy, wanted));
            }
        }
    }
    let generic = |r: &&Row| r.variant == Ipckit && r.mechanism != Mechanism::Bridge;
    for r in rows.iter().filter(generic) {
        if let (Some(a), Some(b)) =
            (r.rtt_p50_ns, find(rows, r.mechanism, Raw, r.size_bytes).and_then(|raw| raw.rtt_p50_ns))
        {
            let what = format!("{} {} B round trip, ipckit / raw", r.mechanism, r.size_bytes);
            out.push(Check::new(what, a / b, Target::AtMost(1.05)));
        }
    }
    for r in rows.iter().filter(generic) {
        if let (Some(a), Some(b)) =
            (r.msgs_per_s, find(rows, r.mechanism, Raw, r.size_bytes).and_then(|raw| raw.msgs_per_s))
        {
            // Time per message, ipckit over raw: above 1 means ipckit is slower.
            let what =
                format!("{} {} B time per message (throughput), ipckit / raw", r.mechanism, r.size_bytes);
            out.push(Check::new(what, b / a, Target::AtMost(1.05)));
        }
    }
    for r in rows.iter().filter(|r| r.mechanism == Mechanism::Bridge && r.variant == Ipckit) {
        let raw = find(rows, Mechanism::Bridge, Raw, r.size_bytes).and_then(|raw| raw.rtt_p50_ns);
        if let (Some(a), Some(b)) = (r.rtt_p50_ns, raw) {
            out.push(Check::new(bridge_round_trip(r.size_bytes), a / b, Target::AtMost(1.5)));
        }
        if let Some(rate) = r.msgs_per_s
            && r.size_bytes == 64
        {
            out.push(Check::new(
                "bridge 64 B throughput, messages/s".to_string(),
                rate,
                Target::AtLeast(50_000.0),
            ));
        }
    }
    if let Some(idle) = rows.iter().find_map(|r| r.idle_cpu_percent) {
        out.push(Check::new("idle blocked receiver, % of a core".to_string(), idle, Target::Below(1.0)));
    }
    out
}

fn fmt_ns(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(ns) if ns < 10_000.0 => format!("{:.2} µs", ns / 1000.0),
        Some(ns) if ns < 10_000_000.0 => format!("{:.0} µs", ns / 1000.0),
        Some(ns) => format!("{:.1} ms", ns / 1e6),
    }
}

fn fmt_rate(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "-".into(),
        Some(x) if x >= 1e9 => format!("{:.2} G{unit}", x / 1e9),
        Some(x) if x >= 1e6 => format!("{:.2} M{unit}", x / 1e6),
        Some(x) if x >= 1e3 => format!("{:.1} k{unit}", x / 1e3),
        Some(x) => format!("{x:.0} {unit}"),
    }
}

fn yes_no(wanted: Target, met: bool) -> &'static str {
    if wanted.is_info() {
        "-"
    } else if met {
        "yes"
    } else {
        "NO"
    }
}

/// The report as a Markdown table (it reads well on a terminal too), followed by the
/// target checks: the paired comparisons first (see [`Comparison`]), then the checks
/// from separately measured figures that no comparison covers.
pub fn table(rows: &[Row], comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    out.push_str("| mechanism | variant | size | rtt p50 | rtt p99 | rtt p99.9 | msgs/s | bytes/s |\n");
    out.push_str("|---|---|---:|---:|---:|---:|---:|---:|\n");
    for r in rows {
        if let Some(why) = &r.skipped {
            out.push_str(&format!(
                "| {} | {} | {} | skipped: {why} | | | | |\n",
                r.mechanism, r.variant, r.size_bytes
            ));
            continue;
        }
        if let Some(idle) = r.idle_cpu_percent {
            out.push_str(&format!(
                "| {} | {} | - | idle receiver: {idle:.3}% of a core | | | | |\n",
                r.mechanism, r.variant
            ));
            continue;
        }
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            r.mechanism,
            r.variant,
            r.size_bytes,
            fmt_ns(r.rtt_p50_ns),
            fmt_ns(r.rtt_p99_ns),
            fmt_ns(r.rtt_p999_ns),
            fmt_rate(r.msgs_per_s, ""),
            fmt_rate(r.bytes_per_s, "B/s"),
        ));
    }
    if !comparisons.is_empty() {
        out.push_str(
            "\nPaired comparisons (alternating ~1 ms blocks in one pair of processes; median ratio \
             of adjacent blocks, p10-p90 in brackets):\n\n",
        );
        out.push_str("| target | a | b | ratio a/b | wanted | met |\n|---|---:|---:|---:|---|---|\n");
        for c in comparisons {
            out.push_str(&format!(
                "| {} | {} | {} | {:.3} [{:.2}-{:.2}] | {} | {} |\n",
                c.what,
                fmt_ns(Some(c.a_p50_ns)),
                fmt_ns(Some(c.b_p50_ns)),
                c.ratio_p50,
                c.ratio_p10,
                c.ratio_p90,
                c.wanted,
                yes_no(c.wanted, c.met)
            ));
        }
    }
    let covered =
        |what: &str| comparisons.iter().any(|c| c.what == what || c.what.starts_with(&format!("{what} ")));
    let checks: Vec<Check> = checks(rows).into_iter().filter(|c| !covered(&c.what)).collect();
    if !checks.is_empty() {
        out.push_str("\n| target (separate measurements) | measured | wanted | met |\n|---|---:|---|---|\n");
        for c in checks {
            // Ratios with three decimals, rates as whole numbers.
            let measured = if c.measured >= 1000.0 {
                format!("{:.0}", c.measured)
            } else {
                format!("{:.3}", c.measured)
            };
            out.push_str(&format!(
                "| {} | {measured} | {} | {} |\n",
                c.what,
                c.wanted,
                yes_no(c.wanted, c.met)
            ));
        }
    }
    out
}

/// A one-line description of this machine: CPU model, CPUs, kernel.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {} CPUs, Linux {}", raw::allowed_cpus().len(), kernel.trim())
}
