//! Two unrelated processes talk through a named pipe.
//!
//! ```text
//! fifo_chat PATH listen      # in one terminal: prints each line it receives
//! fifo_chat PATH send        # in another: sends the lines of its stdin
//! ```
//!
//! Whichever starts first creates the FIFO at PATH (mode 0600) if nothing is there,
//! and removes it when it exits. Each side waits in `open` for the other: `listen`
//! opens for reading (which waits for a writer), `send` for writing (which waits for a
//! reader). `send` writes each line in one atomic write (lines of at most `PIPE_BUF`
//! bytes, so several senders never mix their lines); `listen` prints lines until every
//! sender has closed the FIFO.

use std::io::{self, BufRead, BufReader, Write};
use std::process::ExitCode;

use ipckit::Mode;
use ipckit::fifo::Fifo;
use ipckit::pipe::PIPE_BUF;

const USAGE: &str = "usage: fifo_chat PATH (send|listen)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, send) = match args.as_slice() {
        [path, mode] if mode == "send" => (path, true),
        [path, mode] if mode == "listen" => (path, false),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    // mkfifo(PATH, 0600), or use the FIFO already there (checked when opened).
    let mut fifo = match Fifo::open_or_create(path, Mode::OWNER_RW) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fifo_chat: {e}");
            return ExitCode::from(1);
        }
    };
    if fifo.created() {
        // We made it, so we clean it up (ends already open keep working).
        let _ = fifo.set_remove_on_drop(true);
    }
    let result = if send { send_lines(&fifo) } else { listen(&fifo) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fifo_chat: {e}");
            ExitCode::from(1)
        }
    }
}

fn send_lines(fifo: &Fifo) -> Result<(), Box<dyn std::error::Error>> {
    // open(PATH, O_WRONLY): waits until a listener opens it.
    let mut writer = fifo.open_write()?;
    for line in io::stdin().lock().split(b'\n') {
        let mut line = line?;
        line.push(b'\n');
        let sent = if line.len() <= PIPE_BUF {
            writer.write_atomic(&line).map_err(io::Error::from)
        } else {
            // Too long to be atomic: it may mix with another sender's lines.
            writer.write_all(&line)
        };
        match sent {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Err("the listener has gone".into()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn listen(fifo: &Fifo) -> Result<(), Box<dyn std::error::Error>> {
    // open(PATH, O_RDONLY): waits until a sender opens it.
    let reader = fifo.open_read()?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for line in BufReader::new(reader).split(b'\n') {
        out.write_all(&line?)?;
        out.write_all(b"\n")?;
        out.flush()?;
    }
    // end-of-file: every sender has closed the FIFO.
    Ok(())
}
