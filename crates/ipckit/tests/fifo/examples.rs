//! The FIFO example, run as its command line says: `fifo_chat PATH (send|listen)`,
//! two unrelated processes talking through a FIFO.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::example_bin;

#[test]
fn fifo_chat_carries_lines_from_send_to_listen() {
    let chat = example_bin("fifo_chat");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat");
    // listen first: it creates the FIFO and waits for a sender.
    let listener = Command::new(&chat).arg(&path).arg("listen").stdout(Stdio::piped()).spawn().unwrap();
    let mut sender = Command::new(&chat).arg(&path).arg("send").stdin(Stdio::piped()).spawn().unwrap();
    let lines: Vec<String> = (0..500).map(|i| format!("message {i}: {}", "x".repeat(i % 50))).collect();
    {
        let mut input = sender.stdin.take().unwrap();
        for l in &lines {
            writeln!(input, "{l}").unwrap();
        }
    } // end of the sender's stdin: it closes the FIFO and exits
    assert!(sender.wait().unwrap().success());
    let out = listener.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let got: Vec<String> = String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
    assert_eq!(got, lines);
    assert!(!path.exists(), "the process that created the FIFO removes it when it exits");
}

#[test]
fn fifo_chat_works_in_either_order_and_with_an_existing_fifo() {
    let chat = example_bin("fifo_chat");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chat");
    // An existing FIFO, made by someone else: used, and left in place.
    let _fifo = ipckit::fifo::Fifo::create(&path, ipckit::Mode::OWNER_RW).unwrap();
    // send first: it waits in open for a listener.
    let mut sender = Command::new(&chat).arg(&path).arg("send").stdin(Stdio::piped()).spawn().unwrap();
    sender.stdin.take().unwrap().write_all(b"first\nsecond\n").unwrap();
    let out = Command::new(&chat).arg(&path).arg("listen").output().unwrap();
    assert!(sender.wait().unwrap().success());
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "first\nsecond\n");
    assert!(path.exists(), "a FIFO fifo_chat did not create is left alone");
}

#[test]
fn fifo_chat_refuses_a_path_that_is_not_a_fifo_and_bad_usage() {
    let chat = example_bin("fifo_chat");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, b"keep me").unwrap();
    let out = Command::new(&chat).arg(&file).arg("listen").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fifo_chat:") && stderr.contains("not a FIFO"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");

    let out = Command::new(&chat).arg(&file).arg("shout").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: fifo_chat PATH (send|listen)"));
}
