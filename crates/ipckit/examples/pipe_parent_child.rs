//! The classic C pipe demo (`demo1.c`), in Rust: a parent writes to a pipe, its child reads.
//!
//! ```text
//! cargo run --example pipe_parent_child
//! hello world
//! ```
//!
//! Each step is the C call it replaces; the comments quote the C. The one rule that
//! matters: each process closes the end it does not use. A reader sees end-of-file
//! only when every write end is closed, in every process: a child that kept its copy
//! of the write end open would wait for itself forever.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use ipckit::pipe;
use ipckit::process::{self, Fork};

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("pipe_parent_child: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<ExitCode, Box<dyn std::error::Error>> {
    // int fd[2]; pipe(fd);
    // `reader` is fd[0], `writer` is fd[1]; both close themselves when dropped.
    let (reader, writer) = pipe::pipe()?;

    // pid = fork();  (a failed fork is an error here, as `perror("fork()")` was)
    // SAFETY: this program has a single thread, so the child may do anything the
    // parent could.
    match unsafe { process::fork() }? {
        Fork::Child => {
            // close(fd[1]);  the child only reads
            drop(writer);
            // len = read(fd[0], buf, 1024);
            let mut buf = [0u8; 1024];
            let code = match (&reader).read(&mut buf) {
                // write(1, buf, len);
                Ok(len) => {
                    let mut out = io::stdout().lock();
                    match out.write_all(&buf[..len]).and_then(|()| out.flush()) {
                        Ok(()) => 0,
                        Err(_) => 1,
                    }
                }
                Err(e) => {
                    eprintln!("pipe_parent_child: read: {e}");
                    1
                }
            };
            // close(fd[0]); exit(0);
            drop(reader);
            process::exit_immediately(code)
        }
        Fork::Parent(child) => {
            // close(fd[0]);  the parent only writes
            drop(reader);
            // write(fd[1], "hello world\n", 12);
            (&writer).write_all(b"hello world\n")?;
            // close(fd[1]);  the child's read gets the bytes, and end-of-file after them
            drop(writer);
            // wait(NULL);
            let status = child.wait()?;
            Ok(if status.success() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
