//! Sends open descriptors of files over a Unix socket.
//!
//! ```text
//! fd_send SOCKET FILE...
//! ```
//!
//! Connects to the Unix stream socket at the path SOCKET, opens each FILE for
//! reading, and sends all the descriptors with `SCM_RIGHTS`: in one message when
//! there are at most 253 (the kernel's `SCM_MAX_FD`), otherwise in as many messages
//! as needed, in order. Each message carries one byte of data, `F` (a stream carries
//! descriptors only with data). Then it closes the connection and exits 0.
//!
//! Works with any receiver that uses plain `recvmsg` with `SCM_RIGHTS` (see
//! `fd_recv`, and the C program in `tests/c/fd_recv.c`).

use std::os::fd::AsFd;
use std::process::ExitCode;

use ipckit::socket::{MAX_FDS_PER_MESSAGE, UnixStream};

fn run(path: &str, files: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let conn = UnixStream::connect(path)?;
    let opened = files
        .iter()
        .map(|f| std::fs::File::open(f).map_err(|e| format!("{f}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let fds: Vec<_> = opened.iter().map(|f| f.as_fd()).collect();
    for chunk in fds.chunks(MAX_FDS_PER_MESSAGE) {
        conn.send_fds(b"F", chunk)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, files @ ..] = args.as_slice() else {
        eprintln!("usage: fd_send SOCKET FILE...");
        return ExitCode::from(2);
    };
    if files.is_empty() {
        eprintln!("usage: fd_send SOCKET FILE...");
        return ExitCode::from(2);
    }
    match run(path, files) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fd_send: {e}");
            ExitCode::FAILURE
        }
    }
}
