//! `ipckit bench`: round-trip latency and throughput of every mechanism, ipckit's and
//! raw libc, between two processes pinned to different CPUs; a table, JSON or SVG.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use ipckit_bench::{Mechanism, Options};
use serde::Serialize;

use crate::{Fail, Res};

/// Arguments of `ipckit bench`.
#[derive(Args, Debug)]
#[command(after_help = "\
The mechanisms and what each measures: `ipckit bench --help` (long help).

Examples:
  ipckit bench --quick
  ipckit bench -m channel-spin -m spin-line -s 64
  ipckit bench --json > bench.json
  ipckit bench --quick --plot bench.svg")]
pub struct BenchArgs {
    /// A mechanism to measure (repeatable; default: all)
    #[arg(short, long = "mechanism", value_name = "NAME", value_enum)]
    pub mechanism: Vec<Mechanism>,
    /// A message size in bytes (repeatable; default: 8, 64, 4096, 65536, 1048576)
    #[arg(short, long = "size", value_name = "BYTES")]
    pub size: Vec<usize>,
    /// Pin both processes to the same CPU (default: two different CPUs)
    #[arg(long)]
    pub same_core: bool,
    /// Short measurements: the whole default run in well under a minute
    #[arg(long)]
    pub quick: bool,
    /// Run the whole set N times, interleaved, and report medians over the rounds
    /// (default: 1 with --quick, else 3)
    #[arg(long, value_name = "N", default_value_t = 0, hide_default_value = true)]
    pub rounds: usize,
    /// Print one JSON document (the run, its rows and the paired comparisons) instead
    /// of the table
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG chart to FILE
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report<'a> {
    /// When the run started, RFC 3339 in UTC (`2026-11-30T10:41:08Z`).
    started: &'a str,
    /// The CPU, the CPUs allowed and the kernel.
    machine: String,
    /// Whether both processes ran on one CPU.
    same_core: bool,
    /// One entry per mechanism, variant and size.
    rows: &'a [ipckit_bench::Row],
    /// The paired measurements: both medians, the ratio with p10/p90, the target and
    /// whether it is met.
    comparisons: &'a [ipckit_bench::Comparison],
    /// The targets checked on figures measured separately (the rows' medians), each
    /// with the figure, the target and whether it is met.
    checks: Vec<ipckit_bench::Check>,
}

/// Runs `ipckit bench`.
pub fn run(a: BenchArgs) -> Res {
    let mechanisms = a.mechanism.clone();
    if a.size.contains(&0) {
        return Err(Fail::Usage("a message size is at least 1 byte".into()));
    }
    // Each side holds buffers of the message size, and some mechanisms a ring or a
    // segment of twice that: a size is checked before anything is allocated.
    let most = largest_size();
    if let Some(big) = a.size.iter().find(|&&s| s as u64 > most) {
        return Err(Fail::Usage(format!(
            "a message size of {big} bytes is too large: at most {most} bytes (1 GiB, and an eighth \
             of the memory available now, MemAvailable in /proc/meminfo)"
        )));
    }
    stop_on_signals()?;
    let opts = Options {
        mechanisms,
        sizes: a.size.clone(),
        same_core: a.same_core,
        quick: a.quick,
        rounds: a.rounds,
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs());
    let started = crate::util::rfc3339(now.unwrap_or(0) as i64);
    let mut progress = Progress::new("measuring", ipckit_bench::planned(&opts));
    let rows = ipckit_bench::run(&opts, |done, total, what| progress.update(done, total, what));
    progress.finish();
    let rows = rows.map_err(|e| Fail::Msg(format!("bench: {e}")))?;
    // The ratios behind the targets, measured in alternating blocks.
    let mut progress = Progress::new("comparing", 0);
    let comparisons =
        ipckit_bench::compare(&opts, &rows, |done, total, what| progress.update(done, total, what));
    progress.finish();
    let comparisons = comparisons.map_err(|e| Fail::Msg(format!("bench: {e}")))?;
    if let Some(path) = &a.plot {
        std::fs::write(path, ipckit_bench::plot(&rows))
            .map_err(|e| Fail::Msg(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        let report = Report {
            started: &started,
            machine: ipckit_bench::machine(),
            same_core: a.same_core,
            rows: &rows,
            comparisons: &comparisons,
            checks: ipckit_bench::checks(&rows),
        };
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "ipckit bench, {started}, {}{}", ipckit_bench::machine(), placement(a.same_core))?;
        writeln!(out)?;
        write!(out, "{}", ipckit_bench::table(&rows, &comparisons))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Progress on stderr: a bar with an ETA on a terminal; otherwise (a CI log, a file)
/// a plain line per step, so that a long run is not silent for minutes.
struct Progress {
    phase: &'static str,
    bar: Option<indicatif::ProgressBar>,
    started: Instant,
}

impl Progress {
    fn new(phase: &'static str, len: usize) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(len as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{prefix} {bar:30} {pos}/{len} {elapsed}, ETA {eta} {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.set_prefix(phase);
            bar
        });
        Progress { phase, bar, started: Instant::now() }
    }

    /// Step `done` of `total` starts: `what`.
    fn update(&mut self, done: usize, total: usize, what: &str) {
        self.stop_if_asked();
        match &self.bar {
            Some(bar) => {
                bar.set_length(total as u64);
                bar.set_position(done as u64);
                bar.set_message(what.to_string());
            }
            None => {
                let elapsed = self.started.elapsed();
                let eta = match done {
                    0 => String::new(),
                    _ => {
                        let left = elapsed.mul_f64(total.saturating_sub(done) as f64 / done as f64);
                        format!(", ETA {}s", left.as_secs())
                    }
                };
                eprintln!("ipckit bench: {} {done}/{total} ({}s{eta}) {what}", self.phase, elapsed.as_secs());
            }
        }
    }

    /// Called between measurements, when no benchmark object exists: ends the
    /// command if a signal asked for it.
    fn stop_if_asked(&self) {
        if STOP.load(std::sync::atomic::Ordering::SeqCst) {
            if let Some(bar) = &self.bar {
                bar.finish_and_clear();
            }
            let _ = writeln!(std::io::stderr(), "ipckit: interrupted; the benchmark's objects were removed");
            std::process::exit(130);
        }
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

fn placement(same_core: bool) -> &'static str {
    if same_core { "; both processes on one CPU" } else { "; the two processes on different CPUs" }
}

/// The largest message size `bench` accepts: 1 GiB, and an eighth of the memory the
/// kernel says is available (`MemAvailable`).
fn largest_size() -> u64 {
    let available = std::fs::read_to_string("/proc/meminfo").ok().and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("MemAvailable:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
    });
    let gib = 1u64 << 30;
    available.map_or(gib, |kib| gib.min(kib.saturating_mul(1024) / 8))
}

/// Set by SIGINT, SIGTERM or SIGHUP: stop at the next measurement.
static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// SIGINT, SIGTERM and SIGHUP ask the benchmark to stop between two measurements,
/// when every object the last one made has been removed; a second signal ends it at
/// once (it may then leave the objects of the measurement under way).
fn stop_on_signals() -> Result<(), Fail> {
    ctrlc::set_handler(|| {
        if STOP.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let _ = writeln!(std::io::stderr(), "\nipckit: interrupted again; ending at once");
            std::process::exit(130);
        }
    })
    .map_err(|e| Fail::Msg(format!("cannot handle signals: {e}")))
}
