//! `SIGPIPE` never kills a process that writes through ipckit: a child process with
//! `SIGPIPE` at its default (lethal) action writes, splices and vmsplices into pipes
//! whose reader is gone, gets `BrokenPipe` each time, and survives.

use std::fs::File;
use std::io::{ErrorKind as IoKind, IoSlice, Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;

use crate::util::{role, spawn_role};
use ipckit::ErrorKind;
use ipckit::pipe::{self, SigpipeAction};

const TEST: &str = "sigpipe_never_kills_a_writer_whose_reader_is_gone";

/// In the child: every way of writing into a pipe without a reader.
fn guarded_child() {
    // The Rust runtime ignores SIGPIPE; put back the default, which kills.
    assert_eq!(pipe::set_sigpipe_action(SigpipeAction::Terminate).unwrap(), SigpipeAction::Ignore);
    assert_eq!(pipe::sigpipe_action().unwrap(), SigpipeAction::Terminate);
    // Another thread, with SIGPIPE not blocked: if the signal were sent to the process
    // rather than to the writing thread, the kernel would deliver it here and the
    // process would die.
    std::thread::spawn(|| {
        loop {
            std::thread::park();
        }
    });

    let mut file = tempfile::tempfile().unwrap();
    file.write_all(&[5u8; 100_000]).unwrap();
    let broken = || {
        let (r, w) = pipe::pipe().unwrap();
        drop(r);
        w
    };
    let mut calls = 0;
    let mut check = |what: &str, kind: ErrorKind| {
        assert_eq!(kind, ErrorKind::BrokenPipe, "{what}");
        calls += 1;
    };

    let mut w = broken();
    assert_eq!(w.write(b"x").unwrap_err().kind(), IoKind::BrokenPipe);
    check("Write::write", ErrorKind::BrokenPipe);
    assert_eq!(
        w.write_vectored(&[IoSlice::new(b"a"), IoSlice::new(b"b")]).unwrap_err().kind(),
        IoKind::BrokenPipe
    );
    check("Write::write_vectored", ErrorKind::BrokenPipe);
    check("write_atomic", w.write_atomic(b"frame").unwrap_err().kind());
    check(
        "write_atomic_vectored",
        w.write_atomic_vectored(&[IoSlice::new(b"h"), IoSlice::new(b"b")]).unwrap_err().kind(),
    );
    check("vmsplice", w.vmsplice(&[IoSlice::new(&[1u8; 4096])]).unwrap_err().kind());
    let mut off = 0;
    check("splice_from", w.splice_from(&file, Some(&mut off), 4096).unwrap_err().kind());
    file.rewind().unwrap();
    check("copy_from", w.copy_from(&file).unwrap_err().kind());

    // tee into a pipe whose reader is gone.
    let (src_r, src_w) = pipe::pipe().unwrap();
    src_w.write_atomic(b"data").unwrap();
    check("tee_to", src_r.tee_to(&broken(), 4).unwrap_err().kind());

    // A FIFO's write end is a pipe end too.
    let dir = tempfile::tempdir().unwrap();
    let fifo = ipckit::fifo::Fifo::create(dir.path().join("f"), ipckit::Mode::OWNER_RW).unwrap();
    let r = fifo.open_read_nonblocking().unwrap();
    let w = fifo.open_write().unwrap();
    drop(r);
    check("FIFO write_atomic", w.write_atomic(b"x").unwrap_err().kind());

    // Still alive, and nothing about the process changed.
    assert_eq!(pipe::sigpipe_action().unwrap(), SigpipeAction::Terminate);
    println!("survived {calls} broken writes");
}

/// In the child: turning the guard off is refused while SIGPIPE is lethal, allowed
/// while it is ignored, and undone when ipckit makes it lethal again.
fn guard_switch_child() {
    let broken = || {
        let (r, w) = pipe::pipe().unwrap();
        drop(r);
        w
    };
    // Ignored (the Rust runtime's choice): the guard may go.
    assert!(pipe::sigpipe_guard());
    pipe::set_sigpipe_guard(false).unwrap();
    assert!(!pipe::sigpipe_guard());
    assert_eq!(broken().write_atomic(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    // Lethal again through ipckit: the guard comes back by itself.
    pipe::set_sigpipe_action(SigpipeAction::Terminate).unwrap();
    assert!(pipe::sigpipe_guard());
    assert_eq!(broken().write_atomic(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    // And it cannot be turned off while the signal is lethal.
    let e = pipe::set_sigpipe_guard(false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("not ignored"), "{e}");
    assert!(pipe::sigpipe_guard());
    assert_eq!(broken().write_atomic(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    println!("guard switch ok");
}

/// In the child: the same write through a plain `File`, without ipckit's guard.
fn unguarded_child() {
    pipe::set_sigpipe_action(SigpipeAction::Terminate).unwrap();
    let (r, w) = pipe::pipe().unwrap();
    drop(r);
    let mut file = File::from(OwnedFd::from(w));
    let _ = file.write(b"x"); // SIGPIPE kills the process here
    println!("not killed");
}

#[test]
fn sigpipe_never_kills_a_writer_whose_reader_is_gone() {
    if let Some(r) = role() {
        match r[0].as_str() {
            "guarded" => guarded_child(),
            "unguarded" => unguarded_child(),
            "guard-switch" => guard_switch_child(),
            other => panic!("unknown role {other}"),
        }
        return;
    }
    // The control: without the guard, the child really dies of SIGPIPE, so the setup
    // of the real test is lethal.
    let out = spawn_role(TEST, &["unguarded"]).output().unwrap();
    assert_eq!(out.status.signal(), Some(13), "the unguarded child should die of SIGPIPE: {:?}", out.status);
    assert!(!String::from_utf8_lossy(&out.stdout).contains("not killed"));

    let out = spawn_role(TEST, &["guarded"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the guarded child failed: {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("survived 9 broken writes"), "{stdout}");

    let out = spawn_role(TEST, &["guard-switch"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("guard switch ok"), "{stdout}");
}

#[test]
fn the_guard_leaves_the_disposition_alone() {
    if role().is_some() {
        return;
    }
    // In this process (a Rust program) SIGPIPE is ignored; writes leave it so.
    let before = pipe::sigpipe_action().unwrap();
    let (r, w) = pipe::pipe().unwrap();
    drop(r);
    assert_eq!(w.write_atomic(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    assert_eq!(pipe::sigpipe_action().unwrap(), before);
    // Handlers cannot be set through ipckit.
    assert_eq!(pipe::set_sigpipe_action(SigpipeAction::Handler).unwrap_err().kind(), ErrorKind::InvalidInput);
}
