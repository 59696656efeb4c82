//! Receives open descriptors over a Unix socket and prints what they hold.
//!
//! ```text
//! fd_recv SOCKET
//! ```
//!
//! Listens on the Unix stream socket at the path SOCKET, accepts one connection, and
//! prints the peer's credentials as one line `peer pid=P uid=U gid=G`. Then, for every
//! descriptor received (any number of messages, any number of descriptors per
//! message, until the peer closes), it copies what can be read from that descriptor
//! (from its current offset to end-of-file) to stdout, in the order received, and
//! exits 0. The bytes that carry the descriptors are not printed.
//!
//! Works with any sender that uses plain `sendmsg` with `SCM_RIGHTS` (see
//! `fd_send`, and the C program in `tests/c/fd_send.c`).

use std::io::{self, Write};
use std::process::ExitCode;

use ipckit::socket::{MAX_FDS_PER_MESSAGE, UnixListener};

fn run(path: &str) -> Result<(), Box<dyn std::error::Error>> {
    let listener = UnixListener::bind(path)?;
    let conn = listener.accept()?;
    let peer = conn.peer_credentials()?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "peer {peer}")?;
    out.flush()?;
    let mut buf = [0u8; 4096];
    loop {
        // recvmsg with room for as many descriptors as one message can carry.
        let got = conn.recv_fds(&mut buf, MAX_FDS_PER_MESSAGE)?;
        if got.len == 0 && got.fds.is_empty() {
            break; // the peer closed the connection
        }
        for fd in got.fds {
            let mut file = std::fs::File::from(fd);
            io::copy(&mut file, &mut out)?;
        }
    }
    out.flush()?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path] = args.as_slice() else {
        eprintln!("usage: fd_recv SOCKET");
        return ExitCode::from(2);
    };
    match run(path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fd_recv: {e}");
            ExitCode::FAILURE
        }
    }
}
