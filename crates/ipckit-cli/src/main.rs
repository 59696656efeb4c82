//! `ipckit`: the command-line tool. Subcommands live in `cmd/`, one file each.
//!
//! Run as `ipcs`, `ipcrm` or `ipcmk` (through a symbolic link of that name) it
//! behaves as that tool: the same options, output, messages and exit status.
//!
//! Errors go to stderr as `ipckit: ...` (or `ipcs: ...` and so on under those names);
//! any failure exits non-zero; a closed stdout (a broken pipe) ends quietly with 0.

mod cli;
mod cmd;
mod docs;
mod getopt;
mod util;

use std::ffi::OsString;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

/// How the tool was invoked: the name for messages and the one for `--help` hints.
#[derive(Clone, Debug)]
pub struct Ctx {
    /// The prefix of error messages: `ipckit`, or `ipcs` under that name.
    pub prog: String,
    /// The command as a user types it: `ipckit ls`, or `ipcs`.
    pub cmd: String,
}

/// Why a command stopped.
#[derive(Debug)]
pub enum Fail {
    /// Print `prog: message` and exit 1.
    Msg(String),
    /// Print `prog: message`, then `Try 'cmd --help' for more information.`, exit 1.
    Usage(String),
    /// Exit with this status; everything was already reported.
    Exit(u8),
    /// An output error: a broken pipe ends quietly with status 0.
    Io(io::Error),
}

impl From<ipckit::Error> for Fail {
    fn from(e: ipckit::Error) -> Fail {
        Fail::Msg(e.to_string())
    }
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Io(e)
    }
}

impl From<serde_json::Error> for Fail {
    fn from(e: serde_json::Error) -> Fail {
        match e.io_error_kind() {
            Some(kind) => Fail::Io(io::Error::new(kind, e)),
            None => Fail::Msg(format!("cannot write JSON: {e}")),
        }
    }
}

/// The result of a command: the exit code to end with.
pub type Res = Result<ExitCode, Fail>;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let argv0 = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let strings = || -> Result<Vec<String>, Fail> {
        args.iter()
            .skip(1)
            .map(|a| {
                a.clone()
                    .into_string()
                    .map_err(|a| Fail::Msg(format!("argument '{}' is not UTF-8", a.to_string_lossy())))
            })
            .collect()
    };
    let tool = |name: &str| Ctx { prog: name.to_string(), cmd: name.to_string() };
    let sub = |name: &str| Ctx { prog: "ipckit".to_string(), cmd: format!("ipckit {name}") };

    let (ctx, result) = match argv0.as_str() {
        "ipcs" => (tool("ipcs"), strings().and_then(|a| cmd::ls::run(&tool("ipcs"), &a))),
        "ipcrm" => (tool("ipcrm"), strings().and_then(|a| cmd::rm::run(&tool("ipcrm"), &a))),
        "ipcmk" => (tool("ipcmk"), strings().and_then(|a| cmd::mk::run(&tool("ipcmk"), &a))),
        _ => {
            let first = args.get(1).and_then(|a| a.to_str()).unwrap_or("");
            let second = args.get(2).and_then(|a| a.to_str()).unwrap_or("");
            // `ipckit help ls` is `ipckit ls --help`: these parse their own options.
            let help = ["--help".to_string()];
            match first {
                "help" if second == "ls" => (sub("ls"), cmd::ls::run(&sub("ls"), &help)),
                "help" if second == "rm" => (sub("rm"), cmd::rm::run(&sub("rm"), &help)),
                "help" if second == "mk" => (sub("mk"), cmd::mk::run(&sub("mk"), &help)),
                "ls" => (sub("ls"), strings().and_then(|a| cmd::ls::run(&sub("ls"), &a[1..]))),
                "rm" => (sub("rm"), strings().and_then(|a| cmd::rm::run(&sub("rm"), &a[1..]))),
                "mk" => (sub("mk"), strings().and_then(|a| cmd::mk::run(&sub("mk"), &a[1..]))),
                _ => {
                    let cli = cli::Cli::parse_from(&args);
                    (tool("ipckit"), cmd::dispatch(cli))
                }
            }
        }
    };
    finish(&ctx, result)
}

/// Turns a command's result into the exit code, reporting the failure.
fn finish(ctx: &Ctx, result: Res) -> ExitCode {
    let stderr = io::stderr();
    let mut err = stderr.lock();
    match result {
        Ok(code) => {
            // Output may still sit in std's buffer; a broken pipe here is fine too.
            match io::stdout().flush() {
                Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                    let _ = writeln!(err, "{}: write error: {e}", ctx.prog);
                    ExitCode::FAILURE
                }
                _ => code,
            }
        }
        Err(Fail::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Fail::Io(e)) => {
            let _ = writeln!(err, "{}: write error: {e}", ctx.prog);
            ExitCode::FAILURE
        }
        Err(Fail::Msg(m)) => {
            let _ = writeln!(err, "{}: {m}", ctx.prog);
            ExitCode::FAILURE
        }
        Err(Fail::Usage(m)) => {
            let _ = writeln!(err, "{}: {m}", ctx.prog);
            let _ = writeln!(err, "Try '{} --help' for more information.", ctx.cmd);
            ExitCode::FAILURE
        }
        Err(Fail::Exit(code)) => ExitCode::from(code),
    }
}
