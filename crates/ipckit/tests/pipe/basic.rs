//! Anonymous pipes: ends, close-on-exec, blocking modes, end-of-file across processes,
//! broken pipes, conversions.

use std::cell::Cell;
use std::io::{ErrorKind as IoKind, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};

use crate::util::{fork, serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::pipe::{self, PIPE_BUF, PipeOptions, PipeReader, PipeWriter};

/// Whether a program started now with `Command` (fork + exec) has descriptor `fd`.
fn child_has_fd(fd: i32) -> bool {
    let status =
        Command::new("sh").arg("-c").arg(format!("test -e /proc/self/fd/{fd}")).status().expect("run sh");
    status.success()
}

#[test]
fn ends_are_close_on_exec_unless_asked() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    assert!(r.is_cloexec().unwrap() && w.is_cloexec().unwrap());
    assert!(!child_has_fd(r.as_raw_fd()), "a program we started inherited the read end");
    assert!(!child_has_fd(w.as_raw_fd()), "a program we started inherited the write end");

    w.set_cloexec(false).unwrap();
    assert!(!w.is_cloexec().unwrap());
    assert!(child_has_fd(w.as_raw_fd()), "with close-on-exec cleared, the child should inherit the end");

    let (r2, w2) = PipeOptions::new().cloexec(false).create().unwrap();
    assert!(!r2.is_cloexec().unwrap() && !w2.is_cloexec().unwrap());
    assert!(child_has_fd(r2.as_raw_fd()));
}

#[test]
fn non_blocking_ends_report_would_block() {
    let _g = serial();
    let (mut r, mut w) = PipeOptions::new().nonblocking(true).create().unwrap();
    assert!(r.is_nonblocking().unwrap() && w.is_nonblocking().unwrap());
    let mut buf = [0u8; 16];
    assert_eq!(r.read(&mut buf).unwrap_err().kind(), IoKind::WouldBlock);

    // Fill the pipe: a non-blocking writer takes exactly its capacity, then refuses.
    let cap = w.capacity().unwrap();
    let chunk = vec![0xabu8; 4096];
    let mut total = 0;
    loop {
        match w.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == IoKind::WouldBlock => break,
            Err(e) => panic!("unexpected write error: {e}"),
        }
    }
    assert_eq!(total, cap);
    assert_eq!(w.bytes_queued().unwrap(), cap);
    assert_eq!(r.bytes_queued().unwrap(), cap);

    // Back to blocking: reads wait again (there is data, so this one returns).
    r.set_nonblocking(false).unwrap();
    assert!(!r.is_nonblocking().unwrap());
    assert_eq!(r.read(&mut buf).unwrap(), 16);
}

#[test]
fn end_of_file_arrives_only_after_every_writer_in_every_process_closed() {
    let _g = serial();
    let (reader, writer) = pipe::pipe().unwrap();
    let (go_r, go_w) = pipe::pipe().unwrap();
    // Each child closes the ends it does not use first (the copies fork gave it), so
    // that a failing parent cannot leave a child waiting for itself.
    let reader = Cell::new(Some(reader));
    let go_w = Cell::new(Some(go_w));
    let close_unused = || {
        drop(reader.take());
        drop(go_w.take());
    };

    // Two children write a line each and exit.
    let mut quick = Vec::new();
    for id in 0..2 {
        quick.push(fork(|| {
            close_unused();
            let line = format!("child {id}\n");
            match writer.write_atomic(line.as_bytes()) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        }));
    }
    // A third keeps its copy of the write end until told to go on.
    let slow = fork(|| {
        close_unused();
        let mut b = [0u8; 1];
        if (&go_r).read_exact(&mut b).is_err() {
            return 2;
        }
        match writer.write_atomic(b"child 2\n") {
            Ok(()) => 0,
            Err(_) => 1,
        }
    });
    let (reader, go_w) = (reader.take().unwrap(), go_w.take().unwrap());
    drop(writer); // the parent's own copy
    drop(go_r);
    for c in quick {
        wait_ok(c);
    }

    let mut got = vec![0u8; 16];
    (&reader).read_exact(&mut got).unwrap();
    let mut lines: Vec<&str> = std::str::from_utf8(&got).unwrap().lines().collect();
    lines.sort();
    assert_eq!(lines, ["child 0", "child 1"]);

    // Both quick writers are gone, but the slow child still holds a write end: the pipe
    // is empty, yet not at end-of-file.
    reader.set_nonblocking(true).unwrap();
    let mut b = [0u8; 8];
    assert_eq!((&reader).read(&mut b).unwrap_err().kind(), IoKind::WouldBlock);
    reader.set_nonblocking(false).unwrap();

    (&go_w).write_all(b"g").unwrap();
    let mut rest = String::new();
    (&reader).read_to_string(&mut rest).unwrap(); // returns only at end-of-file
    assert_eq!(rest, "child 2\n");
    wait_ok(slow);
}

#[test]
fn writing_without_a_reader_is_broken_pipe_in_process() {
    let _g = serial();
    let (r, mut w) = pipe::pipe().unwrap();
    drop(r);
    assert_eq!(w.write(b"x").unwrap_err().kind(), IoKind::BrokenPipe);
    let e = w.write_atomic(b"x").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
    assert!(e.to_string().contains("EPIPE"), "{e}");
    assert_eq!(std::io::Error::from(e).kind(), IoKind::BrokenPipe);
}

#[test]
fn writing_after_the_reading_child_exited_is_broken_pipe() {
    let _g = serial();
    // SAFETY: the child only reads into a stack buffer and returns.
    let (child, writer) = unsafe {
        pipe::fork_to_child(|reader| {
            let mut buf = [0u8; 5];
            match (&reader).read_exact(&mut buf) {
                Ok(()) if &buf == b"first" => 0,
                _ => 1,
            }
        })
    }
    .unwrap();
    writer.write_atomic(b"first").unwrap();
    wait_ok(child);
    // The only reader was the child, and it has exited.
    let e = writer.write_atomic(b"second").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::BrokenPipe);
}

#[test]
fn from_fd_checks_the_type_and_the_direction() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    let rfd: OwnedFd = r.into();
    let wfd: OwnedFd = w.into();
    // The wrong direction is refused with a message that says why.
    let e = PipeReader::try_from(wfd.try_clone().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert!(e.to_string().contains("write-only"), "{e}");
    let e = PipeWriter::try_from(rfd.try_clone().unwrap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    // A regular file is not a pipe.
    let file: OwnedFd = tempfile::tempfile().unwrap().into();
    let e = PipeReader::from_fd(file).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert!(e.to_string().contains("a regular file, not a pipe"), "{e}");
    // The right ones work.
    let mut r = PipeReader::try_from(rfd).unwrap();
    let mut w = PipeWriter::try_from(wfd).unwrap();
    w.write_all(b"ok").unwrap();
    let mut b = [0u8; 2];
    r.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"ok");
}

#[test]
fn ends_become_a_childs_stdin_and_stdout() {
    let _g = serial();
    let (child_in, mut to_child) = pipe::pipe().unwrap();
    let (mut from_child, child_out) = pipe::pipe().unwrap();
    let mut tr = Command::new("tr");
    tr.args(["a-z", "A-Z"]).stdin(Stdio::from(child_in)).stdout(Stdio::from(child_out));
    let mut child = tr.spawn().unwrap();
    drop(tr); // the Command held the child's ends: drop them in the parent
    to_child.write_all(b"shout please\n").unwrap();
    drop(to_child);
    let mut out = String::new();
    from_child.read_to_string(&mut out).unwrap();
    assert_eq!(out, "SHOUT PLEASE\n");
    assert!(child.wait().unwrap().success());
}

#[test]
fn packet_mode_keeps_each_write_a_packet() {
    let _g = serial();
    let (r, w) = PipeOptions::new().packet(true).create().unwrap();
    w.write_atomic(b"one").unwrap();
    w.write_atomic(b"second packet").unwrap();
    let mut buf = [0u8; 64];
    assert_eq!((&r).read(&mut buf).unwrap(), 3);
    assert_eq!(&buf[..3], b"one");
    assert_eq!((&r).read(&mut buf).unwrap(), 13);
    assert_eq!(&buf[..13], b"second packet");

    // Byte-stream mode, for contrast, merges them.
    let (r, w) = pipe::pipe().unwrap();
    w.write_atomic(b"one").unwrap();
    w.write_atomic(b"two").unwrap();
    assert_eq!((&r).read(&mut buf).unwrap(), 6);
}

#[test]
fn clones_count_as_writers_until_all_are_closed() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    let w2 = w.try_clone().unwrap();
    assert_ne!(w.as_raw_fd(), w2.as_raw_fd());
    assert!(w2.is_cloexec().unwrap());
    w.close().unwrap();
    r.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    // One writer is still open: empty, not end-of-file.
    assert_eq!((&r).read(&mut b).unwrap_err().kind(), IoKind::WouldBlock);
    w2.write_atomic(b"z").unwrap();
    drop(w2);
    assert_eq!((&r).read(&mut b).unwrap(), 1);
    assert_eq!((&r).read(&mut b).unwrap(), 0, "all writers closed: end-of-file");
}

#[test]
fn pipe_buf_is_the_posix_value_for_linux() {
    let _g = serial();
    assert_eq!(PIPE_BUF, 4096);
}
