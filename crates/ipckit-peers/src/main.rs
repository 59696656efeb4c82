//! # ipckit-peers — ipckit's channel side by side with iceoryx2, ipc-channel and interprocess
//!
//! `cargo run --release` (from this directory) measures ipckit's shared-memory channel
//! against each peer in one process pair pinned to CPUs 0 and 1, in alternating blocks
//! of about a millisecond, and prints the median ratio of adjacent blocks with p10–p90
//! (see [`harness`]). `--json` prints the same as JSON; `--quick` runs fewer blocks,
//! `--blocks N` N block pairs a row (default 30; more steadies a row on a busy machine);
//! `--only TEXT` runs the rows whose scenario or variant names contain TEXT. With `IPCKIT_PEERS_DEBUG` set
//! in the environment, each pair prints its calibration (time per operation, operations
//! per block) to stderr.
//!
//! Scenarios: 8 and 64 byte round trips, 4 KiB and 1 MiB one-way streams (copy, and
//! loans where the peer has them: the receiver reads the two stamps in place, or every
//! byte in place with the same loop for each library), setup cost (a link and both its ends), and
//! publish/subscribe with 1 and 3 subscribers. Every message carries its sequence number
//! at both ends and is checked on arrival.
//!
//! The crate is a workspace of its own, so that the main workspace never builds the
//! peers.

mod harness;
mod iceoryx;
mod ipckit_side;
mod others;

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use harness::{Mode, Op, Paired, Spec, Variant};

const IPCKIT: Variant = Variant { name: "ipckit", make: ipckit_side::make };
const IOX: Variant = Variant { name: "iceoryx2", make: iceoryx::make };
const IOX_BENCH: Variant = Variant { name: "iceoryx2 (its benchmark's setup)", make: iceoryx::make_bench };
const IPC_CHANNEL: Variant = Variant { name: "ipc-channel", make: others::make_ipc_channel };
const INTERPROCESS: Variant = Variant { name: "interprocess", make: others::make_interprocess };

/// What a row measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Kind {
    RoundTrip,
    OneWay,
    PubSub,
    Setup,
}

/// One row of the report: ipckit (a) against one peer (b).
#[derive(Clone, Debug, Serialize)]
struct Row {
    kind: Kind,
    what: String,
    a: String,
    b: String,
    size: usize,
    subscribers: usize,
    #[serde(flatten)]
    result: Option<Paired>,
    error: Option<String>,
}

/// A planned row.
struct Plan {
    kind: Kind,
    what: String,
    a: (Variant, Spec),
    b: (Variant, Spec),
}

fn plans() -> Vec<Plan> {
    let mut out = Vec::new();
    let mut add = |kind: Kind, what: String, a: (Variant, Spec), b: (Variant, Spec)| {
        out.push(Plan { kind, what, a, b });
    };
    for size in [8usize, 64] {
        let copy = Spec::new(size, Mode::Copy);
        let loan = Spec::new(size, Mode::Loan);
        add(Kind::RoundTrip, format!("{size} B round trip, copy vs loan"), (IPCKIT, copy), (IOX, loan));
        add(Kind::RoundTrip, format!("{size} B round trip, copy vs loan"), (IPCKIT, copy), (IOX_BENCH, loan));
        add(Kind::RoundTrip, format!("{size} B round trip, loan vs loan"), (IPCKIT, loan), (IOX_BENCH, loan));
        add(Kind::RoundTrip, format!("{size} B round trip, copy"), (IPCKIT, copy), (IPC_CHANNEL, copy));
        add(Kind::RoundTrip, format!("{size} B round trip, copy"), (IPCKIT, copy), (INTERPROCESS, copy));
    }
    for size in [4096usize, 1 << 20] {
        let label = if size == 4096 { "4 KiB".to_string() } else { "1 MiB".to_string() };
        let copy = Spec::new(size, Mode::Copy);
        let loan = Spec::new(size, Mode::Loan);
        add(Kind::OneWay, format!("{label} one way, copy"), (IPCKIT, copy), (IOX, copy));
        add(Kind::OneWay, format!("{label} one way, loan"), (IPCKIT, loan), (IOX, loan));
        // The receiver reads every byte in place (the same loop for both), so that it
        // takes about as long as the sender and lags by a message at times.
        let read = Spec::new(size, Mode::LoanRead);
        add(Kind::OneWay, format!("{label} one way, loan, every byte read"), (IPCKIT, read), (IOX, read));
        add(Kind::OneWay, format!("{label} one way, copy"), (IPCKIT, copy), (IPC_CHANNEL, copy));
        add(Kind::OneWay, format!("{label} one way, copy"), (IPCKIT, copy), (INTERPROCESS, copy));
    }
    let setup = Spec::new(64, Mode::Copy);
    for peer in [IOX, IPC_CHANNEL, INTERPROCESS] {
        add(Kind::Setup, "setup: make a link, both ends, connected".into(), (IPCKIT, setup), (peer, setup));
    }
    // Publish/subscribe: the child publishes, the parent holds every subscriber. ipckit
    // twice: its publish/subscribe (one ring read in place by every subscriber), and one
    // channel per subscriber with the publisher loaning into each.
    const PUBSUB: Variant = Variant { name: "ipckit pubsub", make: ipckit_side::make_pubsub };
    const PER_SUB: Variant = Variant { name: "ipckit (a channel per subscriber)", make: ipckit_side::make };
    for size in [64usize, 4096] {
        for subscribers in [1usize, 3] {
            let spec = Spec { subscribers, ..Spec::new(size, Mode::Loan) };
            let what = format!(
                "{size} B publish/subscribe, {subscribers} subscriber{}, loan",
                if subscribers > 1 { "s" } else { "" }
            );
            add(Kind::PubSub, what.clone(), (PUBSUB, spec), (IOX, spec));
            add(Kind::PubSub, what, (PER_SUB, spec), (IOX, spec));
        }
    }
    out
}

fn run(plan: &Plan, blocks: usize, reps: usize) -> Result<Paired, String> {
    let block = Duration::from_millis(1);
    match plan.kind {
        Kind::RoundTrip => harness::paired(plan.a, plan.b, Op::RoundTrip, blocks, block, (0, 1)),
        Kind::OneWay | Kind::PubSub => harness::paired(plan.a, plan.b, Op::OneWay, blocks, block, (0, 1)),
        Kind::Setup => harness::setup_cost(plan.a, plan.b, reps),
    }
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock.
fn utc_now() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let (hh, mm) = (secs % 86_400 / 3600, secs % 3600 / 60);
    // Days since 1970-01-01 to a civil date, counting in 400-year eras that start on
    // 1 March (so the leap day falls at the end of a year).
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 { month_from_march + 3 } else { month_from_march - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hh:02}:{mm:02} UTC")
}

/// CPU model (from /proc/cpuinfo), online CPUs and kernel release.
fn machine() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = info
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cpus = info.lines().filter(|l| l.starts_with("processor")).count();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{model}, {cpus} CPUs, Linux {}", kernel.trim())
}

/// The peers' versions, as locked in this crate's Cargo.lock.
fn versions() -> Vec<(String, String)> {
    let lock = include_str!("../Cargo.lock");
    let mut out = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let (Some(v), Some(n)) = (line.strip_prefix("version = "), name.take())
            && ["iceoryx2", "ipc-channel", "interprocess"].contains(&n.as_str())
        {
            out.push((n, v.trim_matches('"').to_string()));
        }
    }
    out
}

fn fmt_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

fn per_op(row: &Row, ns: f64) -> String {
    match row.kind {
        // Bytes per ns are GB/s (10^9 bytes a second), per subscriber.
        Kind::OneWay | Kind::PubSub => format!("{} ({:.2} GB/s)", fmt_ns(ns), row.size as f64 / ns),
        _ => fmt_ns(ns),
    }
}

fn table(rows: &[Row], date: &str, machine: &str) -> String {
    let mut out = format!("{date} · {machine}\npeers: ");
    out.push_str(&versions().iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join(", "));
    out.push_str(
        "\n\nOne process pair pinned to CPUs 0 and 1, alternating ~1 ms blocks of ipckit and the peer; \
         time per operation (round trip, message, or setup) is the median of the blocks; the ratio is \
         the median of adjacent-block ratios ipckit/peer, p10-p90 in brackets: below 1, ipckit is faster.\n\n",
    );
    out.push_str(
        "| scenario | ipckit | peer | ipckit per op | peer per op | time ratio ipckit/peer | blocks |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|---:|\n");
    for r in rows {
        match (&r.result, &r.error) {
            (Some(p), _) => out.push_str(&format!(
                "| {} | {} | {} | {} | {} | **{:.2}** [{:.2}-{:.2}] | {} |\n",
                r.what,
                r.a,
                r.b,
                per_op(r, p.a_ns),
                per_op(r, p.b_ns),
                p.ratio_p50,
                p.ratio_p10,
                p.ratio_p90,
                p.blocks
            )),
            (None, e) => out.push_str(&format!(
                "| {} | {} | {} | failed: {} | | | |\n",
                r.what,
                r.a,
                r.b,
                e.as_deref().unwrap_or("?")
            )),
        }
    }
    out
}

#[derive(Serialize)]
struct Report<'a> {
    date: &'a str,
    machine: &'a str,
    peers: Vec<(String, String)>,
    rows: &'a [Row],
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut json = false;
    let mut quick = false;
    let mut only: Option<String> = None;
    let mut blocks_arg: Option<usize> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--json" => json = true,
            "--quick" => quick = true,
            "--only" => only = it.next().cloned(),
            "--blocks" => match it.next().and_then(|n| n.parse::<usize>().ok()).filter(|&n| n >= 2) {
                Some(n) => blocks_arg = Some(n),
                None => {
                    eprintln!("ipckit-peers: --blocks needs a number of at least 2");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!("usage: ipckit-peers [--json] [--quick] [--blocks N] [--only TEXT]");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("ipckit-peers: unknown argument {other:?} (try --help)");
                return ExitCode::from(2);
            }
        }
    }
    // SAFETY: sysconf has no preconditions.
    let online = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    if online < 2 {
        eprintln!("ipckit-peers: needs CPUs 0 and 1 (sysconf(_SC_NPROCESSORS_ONLN) = {online})");
        return ExitCode::FAILURE;
    }
    let scope = match iceoryx::Scope::new() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ipckit-peers: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (blocks, reps) = if quick { (10, 10) } else { (30, 30) };
    let blocks = blocks_arg.unwrap_or(blocks);
    let date = utc_now();
    let machine = machine();
    let mut rows = Vec::new();
    let mut failed = false;
    let plans: Vec<Plan> = plans()
        .into_iter()
        .filter(|p| {
            only.as_ref()
                .is_none_or(|o| format!("{} {} {}", p.what, p.a.0.name, p.b.0.name).contains(o.as_str()))
        })
        .collect();
    for (i, plan) in plans.iter().enumerate() {
        eprint!("\r[{}/{}] {} vs {}\x1b[K", i + 1, plans.len(), plan.what, plan.b.0.name);
        let result = run(plan, blocks, reps);
        if let Err(e) = &result {
            eprintln!("\nipckit-peers: {} vs {}: {e}", plan.what, plan.b.0.name);
            failed = true;
        }
        rows.push(Row {
            kind: plan.kind,
            what: plan.what.clone(),
            a: plan.a.0.name.to_string(),
            b: plan.b.0.name.to_string(),
            size: plan.a.1.size,
            subscribers: plan.a.1.subscribers,
            error: result.as_ref().err().cloned(),
            result: result.ok(),
        });
    }
    eprintln!();
    if json {
        let report = Report { date: &date, machine: &machine, peers: versions(), rows: &rows };
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => {
                eprintln!("ipckit-peers: json: {e}");
                failed = true;
            }
        }
    } else {
        print!("{}", table(&rows, &date, &machine));
    }
    let left = scope.clean();
    if !left.is_empty() {
        eprintln!("ipckit-peers: left behind: {}", left.join(", "));
        failed = true;
    }
    if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_catch_lost_torn_and_short_messages() {
        let mut buf = vec![0u8; 64];
        harness::stamp(&mut buf, 7);
        let (h, t) = harness::ends_of(&buf);
        assert!(harness::check("t", 64, 64, h, t, 7).is_ok());
        assert!(harness::check("t", 64, 64, h, t, 6).unwrap_err().contains("expected message 6"));
        assert!(harness::check("t", 63, 64, h, t, 7).unwrap_err().contains("63 bytes"));
        buf[60] ^= 1;
        let (h, t) = harness::ends_of(&buf);
        assert!(harness::check("t", 64, 64, h, t, 7).unwrap_err().contains("torn"));
        let mut small = [0u8; 8];
        harness::stamp(&mut small, 3);
        let (h, t) = harness::ends_of(&small);
        assert!(harness::check("t", 8, 8, h, t, 3).is_ok());
    }

    #[test]
    fn summary_orders_percentiles() {
        let p = harness::summarize(&[1.0, 2.0, 3.0, 4.0], &[2.0, 2.0, 2.0, 2.0]);
        assert_eq!(p.blocks, 4);
        assert!(p.ratio_p10 <= p.ratio_p50 && p.ratio_p50 <= p.ratio_p90);
        assert_eq!(p.ratio_p50, 1.5);
        assert_eq!(p.b_ns, 2.0);
    }

    #[test]
    fn dates_look_like_dates() {
        let d = utc_now();
        assert_eq!(d.len(), "2026-11-30 12:00 UTC".len(), "{d}");
        assert!(d.starts_with("20") && d.ends_with(" UTC"), "{d}");
        assert!(machine().contains("Linux"));
        assert_eq!(versions().len(), 3, "{:?}", versions());
    }

    /// Every planned row, in a few short blocks, across real processes: each message is
    /// checked on arrival, so a row that loses or reorders one fails here. Then nothing of
    /// iceoryx2's may be left in /dev/shm or under the run's root directory.
    /// One test, so that `fork` happens with no other test thread running.
    #[test]
    fn every_row_runs_across_processes_and_leaves_nothing() {
        let scope = iceoryx::Scope::new().expect("iceoryx2 scope");
        let mut errors = Vec::new();
        for plan in plans() {
            if let Err(e) = run(&plan, 2, 2) {
                errors.push(format!("{} vs {}: {e}", plan.what, plan.b.0.name));
            }
        }
        assert!(errors.is_empty(), "{errors:#?}");
        assert_eq!(scope.clean(), Vec::<String>::new());
    }
}
