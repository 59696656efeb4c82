//! The parent–child helpers: a pipe to a spawned or forked child, each side closing
//! the end it does not use, so that end-of-file and broken pipes arrive.

use std::io::{BufRead, BufReader, ErrorKind as IoKind, Read, Write};
use std::process::{Command, Stdio};

use crate::util::{role, serial, spawn_role, wait_ok};
use ipckit::ErrorKind;
use ipckit::pipe;

const COUNT_TEST: &str = "a_spawned_child_reads_end_of_file_when_the_parent_closes";

fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().enumerate().fold(0u64, |s, (i, &b)| s.wrapping_mul(31).wrapping_add(u64::from(b) ^ i as u64))
}

fn payload() -> Vec<u8> {
    (0..1_000_003u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn a_spawned_child_reads_end_of_file_when_the_parent_closes() {
    if let Some(r) = role() {
        assert_eq!(r[0], "count");
        // Read stdin to end-of-file: this returns only if every write end is closed.
        let mut all = Vec::new();
        std::io::stdin().lock().read_to_end(&mut all).unwrap();
        // (On a line of its own: the test harness has printed the test name without one.)
        println!("\ncount: {} {}", all.len(), checksum(&all));
        return;
    }
    let _g = serial();
    let mut cmd = spawn_role(COUNT_TEST, &["count"]);
    cmd.stdout(Stdio::piped());
    let (child, mut to_child) = pipe::spawn_to_child(&mut cmd).unwrap();
    let data = payload();
    to_child.write_all(&data).unwrap();
    drop(to_child);
    // `cmd` is still alive: it must not hold a copy of the read end... nor of anything
    // the child needs to see closed.
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let line = stdout.lines().find_map(|l| l.strip_prefix("count: ")).expect("the child's count");
    assert_eq!(line, format!("{} {}", data.len(), checksum(&data)));
    drop(cmd);
}

#[test]
fn the_parent_reads_end_of_file_while_the_command_is_still_alive() {
    let _g = serial();
    let mut cmd = Command::new("seq");
    cmd.args(["1", "5000"]);
    let (mut child, mut from_child) = pipe::spawn_from_child(&mut cmd).unwrap();
    let mut text = String::new();
    // Returns at end-of-file, which needs the Command's copy of the write end gone.
    from_child.read_to_string(&mut text).unwrap();
    assert!(child.wait().unwrap().success());
    let expected: String = (1..=5000).map(|i| format!("{i}\n")).collect();
    assert_eq!(text, expected);
    // The Command can be used again; its stdout is back to inherit.
    drop(cmd);
}

#[test]
fn a_child_that_stops_reading_gives_the_parent_a_broken_pipe() {
    let _g = serial();
    let mut head = Command::new("head");
    head.args(["-c", "10"]).stdout(Stdio::null());
    let (mut child, to_child) = pipe::spawn_to_child(&mut head).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    let mut sent = 0usize;
    // `head` exits after 10 bytes; the parent holds no read end, so writes must end in
    // BrokenPipe (a leaked read end would block them forever once the pipe is full).
    let err = loop {
        match (&to_child).write(&chunk) {
            Ok(n) => sent += n,
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), IoKind::BrokenPipe, "after {sent} bytes: {err}");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_program_that_does_not_exist_is_a_clear_error() {
    let _g = serial();
    let mut cmd = Command::new("/nonexistent/ipckit-no-such-program");
    let e = pipe::spawn_to_child(&mut cmd).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let msg = e.to_string();
    assert!(msg.contains("ipckit-no-such-program") && msg.contains("no such program"), "{msg}");
    let e = pipe::spawn_from_child(&mut cmd).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn a_forked_child_reads_end_of_file_when_the_parent_closes() {
    let _g = serial();
    let data = payload();
    let expected = checksum(&data);
    // SAFETY: other tests are held off by `serial`; the child reads into a buffer.
    let (child, mut to_child) = unsafe {
        pipe::fork_to_child(|mut r| {
            let mut all = Vec::new();
            match r.read_to_end(&mut all) {
                Ok(_) if checksum(&all) == expected => 0,
                _ => 1,
            }
        })
    }
    .unwrap();
    to_child.write_all(&data).unwrap();
    drop(to_child);
    wait_ok(child);
}

#[test]
fn a_forked_writer_gives_the_parent_end_of_file_at_its_exit() {
    let _g = serial();
    // SAFETY: other tests are held off by `serial`; the child writes and returns.
    let (child, from_child) = unsafe {
        pipe::fork_from_child(|mut w| {
            for i in 0..1000 {
                if writeln!(w, "line {i}").is_err() {
                    return 1;
                }
            }
            0
        })
    }
    .unwrap();
    let lines: Vec<String> = BufReader::new(from_child).lines().collect::<Result<_, _>>().unwrap();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[999], "line 999");
    wait_ok(child);
}
