//! `ipckit send` and `ipckit recv` on real queues: binary round trips with every
//! selector, the output formats, the limits, and interoperability with C programs
//! that call msgsnd/msgrcv themselves.

use std::process::Command;

use crate::common::*;
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode};

/// A private queue removed when the test ends, and its id as text.
fn queue() -> (MsgQueue, String) {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    let id = q.id().to_string();
    (q, id)
}

fn all_bytes() -> Vec<u8> {
    (0..=255u8).chain([0, 0, b'\n', 0xff]).collect()
}

#[test]
fn binary_round_trip_through_stdin_and_stdout() {
    let (_q, id) = queue();
    let data = all_bytes();
    let out = run(&["send", "--id", &id, "-t", "9"], &data);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok(&["recv", "--id", &id, "-t", "9"]), data);
}

#[test]
fn arguments_are_joined_by_single_spaces() {
    let (q, id) = queue();
    ok(&["send", "--id", &id, "hello", "big", "world"]);
    let m = q.recv_vec(Select::Any, ipckit::Wait::NoWait).unwrap();
    assert_eq!((m.mtype, m.data.as_slice()), (1, &b"hello big world"[..]), "type defaults to 1");
}

#[test]
fn every_selector() {
    let (q, id) = queue();
    for (t, body) in [(3, "three"), (1, "one"), (2, "two"), (5, "five"), (2, "two again")] {
        q.send(body.as_bytes(), t).unwrap();
    }
    // -t N: exactly N, the first of that type.
    assert_eq!(ok(&["recv", "--id", &id, "-t", "2"]), b"two");
    // -t -N: the lowest type <= N.
    assert_eq!(ok(&["recv", "--id", &id, "-t", "-3"]), b"one");
    // --except N: the first of any other type (now: three, five, two again).
    assert_eq!(ok(&["recv", "--id", &id, "--except", "3"]), b"five");
    // -t 0: the first message.
    assert_eq!(ok(&["recv", "--id", &id, "-t", "0"]), b"three");
    assert_eq!(ok(&["recv", "--id", &id]), b"two again");
    assert!(q.try_recv(&mut [0u8; 16], Select::Any).unwrap_err().is_not_now(), "all consumed");
}

#[test]
fn count_all_and_json() {
    let (q, id) = queue();
    q.send(b"text", 1).unwrap();
    q.send(&[0xff, 0x00, 0x80], 2).unwrap();
    q.send(b"more", 1).unwrap();
    q.send(b"left", 4).unwrap();
    let out = ok(&["recv", "--id", &id, "-t", "-2", "--all", "--format", "json"]);
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 3);
    // The lowest type first: both type-1 messages, then the type-2 one.
    assert_eq!(lines[0], serde_json::json!({"type": 1, "size": 4, "encoding": "utf-8", "body": "text"}));
    assert_eq!(lines[1]["body"], "more");
    assert_eq!(lines[2], serde_json::json!({"type": 2, "size": 3, "encoding": "base64", "body": "/wCA"}));
    // -n COUNT takes that many.
    q.send(b"a", 1).unwrap();
    q.send(b"b", 1).unwrap();
    assert_eq!(ok(&["recv", "--id", &id, "-t", "1", "-n", "2"]), b"ab");
    assert_eq!(ok(&["recv", "--id", &id]), b"left");
}

#[test]
fn hex_format() {
    let (q, id) = queue();
    q.send(b"hello, world!\x00\x01\x02\x03", 7).unwrap();
    let out = String::from_utf8(ok(&["recv", "--id", &id, "--format", "hex"])).unwrap();
    assert_eq!(
        out,
        "# type 7, 17 bytes\n\
         00000000  68 65 6c 6c 6f 2c 20 77  6f 72 6c 64 21 00 01 02  |hello, world!...|\n\
         00000010  03                                                |.|\n\
         00000011\n"
    );
}

#[test]
fn nothing_to_receive_is_exit_1_with_a_message() {
    let (q, id) = queue();
    let out = run(&["recv", "--id", &id, "--nowait"], b"");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("ipckit: ") && err.contains("no message"), "{err}");
    let out = run(&["recv", "--id", &id, "-t", "3", "--timeout", "0.05"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("within 0.05 s"));
    // A partial count: what came is printed, then the failure.
    q.send(b"only", 1).unwrap();
    let out = run(&["recv", "--id", &id, "-n", "2", "--nowait"], b"");
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(1), &b"only"[..]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("received 1 of 2"));
}

#[test]
fn a_message_over_msgmax_is_refused_naming_the_limit() {
    let (_q, id) = queue();
    let max = ipckit::limits::Limit::MsgMax.current().unwrap() as usize;
    let out = run(&["send", "--id", &id], &vec![b'x'; max + 1]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("msgmax") && err.contains("/proc/sys/kernel/msgmax"), "{err}");
    // Exactly msgmax is fine.
    assert!(run(&["send", "--id", &id], &vec![b'x'; max]).status.success());
}

#[test]
fn truncation_is_asked_for() {
    let (q, id) = queue();
    q.send(b"0123456789", 1).unwrap();
    let out = run(&["recv", "--id", &id, "--max-bytes", "4"], b"");
    assert_eq!(out.status.code(), Some(1), "too long without --truncate");
    assert_eq!(ok(&["recv", "--id", &id, "--max-bytes", "4", "--truncate"]), b"0123");
}

#[test]
fn keys_create_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let anchor = dir.path().join("anchor");
    std::fs::write(&anchor, b"").unwrap();
    let key = format!("{}:q", anchor.display());
    let out = run(&["send", "-k", &key, "x"], b"");
    assert_eq!(out.status.code(), Some(1), "no queue yet");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no object has this key"));
    ok(&["send", "-k", &key, "--create", "-t", "4", "made"]);
    let mut q = MsgQueue::open(Key::ftok(&anchor, b'q').unwrap()).unwrap();
    let got = q.recv_vec(Select::Type(4), ipckit::Wait::NoWait).unwrap();
    assert_eq!(got.data, b"made");
    assert_eq!(q.stat().unwrap().perm.mode & 0o777, 0o600);
    q.set_remove_on_drop(false).unwrap();
    q.remove().unwrap();
    for bad in
        [&["send", "--id", "1", "-t", "0", "x"][..], &["recv", "--id", "1", "--except", "-2"], &["recv"]]
    {
        let out = run(bad, b"");
        assert!(!out.status.success(), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
}

const C_PEER: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/msg.h>
struct msg { long mtype; unsigned char mtext[512]; };
int main(int argc, char **argv) {
    int id = atoi(argv[2]);
    struct msg m;
    if (!strcmp(argv[1], "send")) {
        m.mtype = atol(argv[3]);
        for (int i = 0; i < 256; i++) m.mtext[i] = (unsigned char)(255 - i);
        return msgsnd(id, &m, 256, 0) < 0;
    }
    ssize_t n = msgrcv(id, &m, sizeof m.mtext, atol(argv[3]), 0);
    if (n < 0) { perror("msgrcv"); return 1; }
    printf("%ld %zd", m.mtype, n);
    for (ssize_t i = 0; i < n; i++) printf(" %02x", m.mtext[i]);
    printf("\n");
    return 0;
}
"#;

#[test]
fn c_programs_and_ipckit_understand_each_other() {
    if cc().is_none() {
        skip!("no C compiler");
    }
    let dir = tempfile::tempdir().unwrap();
    let peer = compile_c(dir.path(), "peer", C_PEER);
    let (_q, id) = queue();
    // C sends 256 bytes 255..0 as type 6; ipckit receives them by type.
    assert!(Command::new(&peer).args(["send", &id, "6"]).status().unwrap().success());
    let expect: Vec<u8> = (0..=255u8).rev().collect();
    assert_eq!(ok(&["recv", "--id", &id, "-t", "-6"]), expect);
    // ipckit sends arbitrary bytes; C receives them with msgrcv's negative type.
    let data = all_bytes();
    assert!(run(&["send", "--id", &id, "-t", "3"], &data).status.success());
    let out = Command::new(&peer).args(["recv", &id, "-4"]).output().unwrap();
    let hex: String = data.iter().map(|b| format!(" {b:02x}")).collect();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("3 {}{hex}\n", data.len()));
}

#[test]
fn a_closed_stdout_ends_quietly_with_0() {
    let mut seg = ipckit::sysv::shm::ShmSegment::create(Key::PRIVATE, 1 << 20, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let mut child = ipckit(&["shm", "--id", &seg.id().to_string(), "read"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn send_nowait_on_a_full_queue_fails_and_sends_nothing() {
    let (q, id) = queue();
    q.update(&ipckit::sysv::msg::QueueUpdate { qbytes: Some(8), ..Default::default() }).unwrap();
    ok(&["send", "--id", &id, "8 bytes!"]);
    let out = run(&["send", "--id", &id, "--nowait", "x"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the queue is full"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(q.stat().unwrap().qnum, 1);
    // A message larger than the queue's capacity can never fit: refused, not waited for.
    let out = run(&["send", "--id", &id, "nine bytes"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("can never fit"));
}
