//! `ipckit bench`: round-trip latency and throughput of every mechanism, ipckit's and
//! raw libc, between two processes pinned to different CPUs; a table, JSON or SVG.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Args;
use ipckit_bench::{Mechanism, Options};

use crate::{Fail, Res};

const MECHANISMS: &str = "pipe, fifo, uds, uds-seqpacket, uds-dgram, uds-fd, tcp, sysv-msg, sysv-sem, posix-mq, channel, channel-spin, \
                          channel-loan, spin-line, spin-copy, spin-ring, memcpy, channel-idle";

/// Arguments of `ipckit bench`.
#[derive(Args, Debug)]
#[command(
    after_help = "Mechanisms: pipe, fifo, uds (Unix stream), uds-seqpacket, uds-dgram, uds-fd (seqpacket, one \
descriptor per message), tcp (frames over loopback TCP), sysv-msg, sysv-sem, posix-mq, channel (adaptive waiting), \
channel-spin, channel-loan (zero-copy), and the baselines spin-line (two processes spinning on one cache \
line), spin-copy (the same, carrying the payload in one slot), spin-ring (the bare ring protocol) and memcpy (single-copy bandwidth); channel-idle measures the CPU a blocked receiver uses.\n\n\
Examples:\n  ipckit bench --quick\n  ipckit bench -m channel-spin -m spin-line -s 64\n  \
ipckit bench --json > bench.json\n  ipckit bench --quick --plot bench.svg"
)]
pub struct BenchArgs {
    /// A mechanism to measure (repeatable; default: all)
    #[arg(short, long = "mechanism", value_name = "NAME")]
    pub mechanism: Vec<String>,
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
    /// Print one JSON array of results instead of the table
    #[arg(long)]
    pub json: bool,
    /// Also write an SVG chart to FILE
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<std::path::PathBuf>,
}

/// Runs `ipckit bench`.
pub fn run(a: BenchArgs) -> Res {
    let mut mechanisms = Vec::new();
    for name in &a.mechanism {
        match Mechanism::from_name(name) {
            Some(m) => mechanisms.push(m),
            None => return Err(Fail::Usage(format!("unknown mechanism '{name}' (known: {MECHANISMS})"))),
        }
    }
    if a.size.contains(&0) {
        return Err(Fail::Usage("a message size is at least 1 byte".into()));
    }
    let opts = Options {
        mechanisms,
        sizes: a.size.clone(),
        same_core: a.same_core,
        quick: a.quick,
        rounds: a.rounds,
    };
    let bar = progress_bar(ipckit_bench::planned(&opts));
    let started = ipckit_bench::utc_now();
    let rows = ipckit_bench::run(&opts, |done, _total, what| {
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    });
    bar.finish_and_clear();
    let rows = rows.map_err(|e| Fail::Msg(format!("bench: {e}")))?;
    // The ratios behind the targets, measured in alternating blocks (not for --json,
    // which prints the rows alone).
    let comparisons = if a.json {
        Vec::new()
    } else {
        let bar = progress_bar(0);
        let c = ipckit_bench::compare(&opts, &rows, |done, total, what| {
            bar.set_length(total as u64);
            bar.set_position(done as u64);
            bar.set_message(what.to_string());
        });
        bar.finish_and_clear();
        c.map_err(|e| Fail::Msg(format!("bench: {e}")))?
    };
    if let Some(path) = &a.plot {
        std::fs::write(path, ipckit_bench::plot(&rows))
            .map_err(|e| Fail::Msg(format!("cannot write {}: {e}", path.display())))?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &rows)?;
        writeln!(out)?;
    } else {
        writeln!(out, "ipckit bench, {started}, {}{}", ipckit_bench::machine(), placement(a.same_core))?;
        writeln!(out)?;
        write!(out, "{}", ipckit_bench::table(&rows, &comparisons))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A progress bar on a terminal's stderr, hidden otherwise.
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if std::io::stderr().is_terminal() {
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {elapsed} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
    } else {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    bar
}

fn placement(same_core: bool) -> &'static str {
    if same_core { "; both processes on one CPU" } else { "; the two processes on different CPUs" }
}
