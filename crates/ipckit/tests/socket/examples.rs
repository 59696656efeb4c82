//! The socket examples against their contracts, and against C programs that use plain
//! `sendmsg`/`recvmsg` with `SCM_RIGHTS` (`tests/c/fd_send.c`, `tests/c/fd_recv.c`), in
//! every pairing.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cc, compile_c_file, example_bin, serial};

#[derive(Clone, Copy, Debug)]
enum Side {
    Rust,
    C,
}

fn program(dir: &Path, side: Side, name: &str) -> PathBuf {
    match side {
        Side::Rust => example_bin(name),
        Side::C => compile_c_file(dir, name),
    }
}

fn wait_for_socket(path: &Path) {
    let start = Instant::now();
    while !path.exists() {
        assert!(start.elapsed() < Duration::from_secs(120), "the receiver never bound {}", path.display());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// `files` files, more than one message's worth when above 253.
fn pass_files(rx: Side, tx: Side, files: usize) {
    let dir = tempfile::tempdir().unwrap();
    let receiver = program(dir.path(), rx, "fd_recv");
    let sender = program(dir.path(), tx, "fd_send");
    let sock = dir.path().join("fd.sock");
    let mut expected = String::new();
    let mut paths = Vec::new();
    for i in 0..files {
        let p = dir.path().join(format!("f{i}"));
        let text = format!("contents of file {i}\n");
        std::fs::write(&p, &text).unwrap();
        expected.push_str(&text);
        paths.push(p);
    }
    let rx_child =
        Command::new(&receiver).arg(&sock).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    wait_for_socket(&sock);
    let tx_child = Command::new(&sender).arg(&sock).args(&paths).spawn().unwrap();
    let tx_pid = tx_child.id();
    let tx_out = tx_child.wait_with_output().unwrap();
    assert!(tx_out.status.success(), "{tx:?} sender failed");
    let out = rx_child.wait_with_output().unwrap();
    assert!(out.status.success(), "{rx:?} receiver failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let (first, rest) = stdout.split_once('\n').unwrap();
    let uid = ipckit::process::effective_uid();
    let gid = ipckit::process::effective_gid();
    assert_eq!(first, format!("peer pid={tx_pid} uid={uid} gid={gid}"), "{rx:?} <- {tx:?}");
    assert!(rest == expected, "{rx:?} <- {tx:?}: the files' contents differ or are out of order");
}

#[test]
fn rust_sender_to_rust_receiver() {
    let _g = serial();
    pass_files(Side::Rust, Side::Rust, 300);
}

#[test]
fn c_sender_to_rust_receiver() {
    if cc().is_none() {
        skip!("no C compiler");
    }
    let _g = serial();
    pass_files(Side::Rust, Side::C, 300);
}

#[test]
fn rust_sender_to_c_receiver() {
    if cc().is_none() {
        skip!("no C compiler");
    }
    let _g = serial();
    pass_files(Side::C, Side::Rust, 300);
}

#[test]
fn c_sender_to_c_receiver() {
    if cc().is_none() {
        skip!("no C compiler");
    }
    let _g = serial();
    pass_files(Side::C, Side::C, 3);
}

#[test]
fn fd_send_with_no_file_is_a_usage_error() {
    let out = Command::new(example_bin("fd_send")).arg("/nonexistent.sock").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage"));
}

#[test]
fn channel_handoff_runs_between_unrelated_processes() {
    let _g = serial();
    let out = Command::new(example_bin("channel_handoff")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("accepted a connection from peer pid="), "{stdout}");
    assert_eq!(stdout.matches("server: received through the channel: message").count(), 5, "{stdout}");
    assert!(stdout.contains("client: received a channel"), "{stdout}");
}
