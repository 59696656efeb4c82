//! `cat 1.mp3 | mpeg123 -`, in one program: streams a file into a command's stdin
//! through a pipe.
//!
//! ```text
//! pipe_player FILE -- CMD [ARGS...]
//! ```
//!
//! The file's bytes go into the pipe with `splice` (no copy through this process's
//! memory) where the kernel supports it, with `read`/`write` otherwise. CMD's stdout
//! and stderr are this program's. When the file is done, the write end is closed so
//! that CMD reads end-of-file. If CMD stops reading early (as `head` does), the write
//! fails with a broken pipe, which ends the stream quietly. The number of bytes moved
//! is reported on stderr, and the exit status is CMD's (128 + the signal if a signal
//! ended it).

use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitCode};

use ipckit::ErrorKind;
use ipckit::pipe;

const USAGE: &str = "usage: pipe_player FILE -- CMD [ARGS...]";

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let (file, cmd, cmd_args) = match args.as_slice() {
        [file, sep, cmd, rest @ ..] if sep == "--" => (file, cmd, rest),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let path = std::path::Path::new(file);
    let mut source = match File::open(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("pipe_player: {}: {e}", path.display());
            return ExitCode::from(1);
        }
    };

    let mut command = Command::new(cmd);
    command.args(cmd_args);
    // pipe(), fork(), and in the child dup2(read end, 0) and exec(CMD); the parent
    // keeps only the write end.
    let (mut child, writer) = match pipe::spawn_to_child(&mut command) {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("pipe_player: {e}");
            return ExitCode::from(127);
        }
    };
    // A larger pipe means fewer wake-ups of CMD; the default 64 KiB is fine too.
    let _ = writer.set_capacity(1 << 20);

    let (moved, how, failure) = stream(&mut source, &writer);
    // close(write end): CMD reads end-of-file.
    drop(writer);
    let status = match child.wait() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("pipe_player: wait: {e}");
            return ExitCode::from(1);
        }
    };
    eprintln!(
        "pipe_player: moved {moved} bytes from {} to {} ({how})",
        path.display(),
        cmd.to_string_lossy()
    );
    if let Some(e) = failure {
        eprintln!("pipe_player: {e}");
        if status.success() {
            return ExitCode::from(1);
        }
    }
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code as u8),
        (None, Some(sig)) => ExitCode::from(128u8.wrapping_add(sig as u8)),
        _ => ExitCode::from(1),
    }
}

/// Moves the whole file into the pipe. Returns the bytes moved, how, and the error
/// that stopped it early (a broken pipe is not one: CMD chose to stop reading).
fn stream(source: &mut File, writer: &pipe::PipeWriter) -> (u64, &'static str, Option<String>) {
    let mut moved = 0u64;
    // splice(file, NULL, pipe, NULL, len, SPLICE_F_MOVE) until the end of the file.
    loop {
        match writer.splice_from(&*source, None, 1 << 20) {
            Ok(0) => return (moved, "splice", None),
            Ok(n) => moved += n as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if e.kind() == ErrorKind::BrokenPipe => return (moved, "splice", None),
            // This file cannot be spliced from (a terminal, some /proc files): copy.
            Err(e) if e.kind() == ErrorKind::Unsupported && moved == 0 => break,
            Err(e) => return (moved, "splice", Some(e.to_string())),
        }
    }
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match source.read(&mut buf) {
            Ok(0) => return (moved, "read/write", None),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return (moved, "read/write", Some(format!("read: {e}"))),
        };
        let mut w = writer;
        match w.write_all(&buf[..n]) {
            Ok(()) => moved += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return (moved, "read/write", None),
            Err(e) => return (moved, "read/write", Some(format!("write: {e}"))),
        }
    }
}
