//! `ipckit key` against C's ftok, and the sem and shm subcommands on real objects.

use std::process::Command;

use crate::common::*;
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{Key, Mode};

const C_FTOK: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
int main(int argc, char **argv) {
    for (int i = 1; i + 1 < argc; i += 2) {
        key_t k = ftok(argv[i], atoi(argv[i + 1]));
        if (k == -1) { perror("ftok"); return 1; }
        printf("0x%08x\n", (unsigned)k);
    }
    return 0;
}
"#;

#[test]
fn key_is_c_ftok() {
    if cc().is_none() {
        skip!("no C compiler");
    }
    let dir = tempfile::tempdir().unwrap();
    let ftok = compile_c(dir.path(), "ftok", C_FTOK);
    let file = dir.path().join("anchor");
    std::fs::write(&file, b"").unwrap();
    let paths =
        [file.display().to_string(), "/".into(), "/etc/passwd".into(), dir.path().display().to_string()];
    for path in &paths {
        for proj in ["1", "65", "255", "0", "113"] {
            let c = Command::new(&ftok).args([path.as_str(), proj]).output().unwrap();
            assert!(c.status.success());
            let mine = ok(&["key", path, proj]);
            assert_eq!(String::from_utf8_lossy(&mine), String::from_utf8_lossy(&c.stdout), "{path} {proj}");
        }
    }
    // A character is its byte value; hex works too.
    assert_eq!(ok(&["key", "/", "A"]), ok(&["key", "/", "65"]));
    assert_eq!(ok(&["key", "/", "0x41"]), ok(&["key", "/", "65"]));
}

#[test]
fn key_explain_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("anchor");
    std::fs::write(&file, b"").unwrap();
    let parts = Key::ftok_parts(&file, b'z').unwrap();
    let text = String::from_utf8(ok(&["key", "--explain", file.to_str().unwrap(), "z"])).unwrap();
    assert!(text.starts_with(&format!("{}\n", parts.key)), "{text}");
    assert!(text.contains(&format!("0x{:04x}", parts.ino & 0xffff)), "{text}");
    assert!(text.contains(&format!("inode {}", parts.ino)), "{text}");
    assert!(text.contains("warning") && text.contains("same key"), "{text}");
    for bad in [&["key", "/nonexistent/file", "1"][..], &["key", "/", "256"], &["key", "/", "ab"]] {
        let out = run(bad, b"");
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).starts_with("ipckit: "));
    }
}

#[test]
fn sem_show_get_set_op_wait() {
    let mut set = SemSet::create(Key::PRIVATE, &[0, 0, 0], Mode::OWNER_RW).unwrap();
    set.set_remove_on_drop(true).unwrap();
    let id = set.id().to_string();
    ok(&["sem", "--id", &id, "set", "0", "2"]);
    assert_eq!(ok(&["sem", "--id", &id, "get", "0"]), b"2\n");
    ok(&["sem", "--id", &id, "op", "0-1,1+3"]);
    assert_eq!(set.values().unwrap(), [1, 3, 0]);
    let show = String::from_utf8(ok(&["sem", "--id", &id, "show"])).unwrap();
    let rows: Vec<&str> = show.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{show}");
    assert!(rows[1].split_whitespace().collect::<Vec<_>>()[..2] == ["1", "3"], "{show}");
    // Would wait: --nowait fails and changes nothing; --timeout gives up.
    let out = run(&["sem", "--id", &id, "op", "--nowait", "0-1,2-1"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was applied"));
    assert_eq!(set.values().unwrap(), [1, 3, 0]);
    assert_eq!(run(&["sem", "--id", &id, "op", "--timeout", "0.05", "2-1"], b"").status.code(), Some(1));
    assert_eq!(run(&["sem", "--id", &id, "wait", "1", "--nowait"], b"").status.code(), Some(1));
    ok(&["sem", "--id", &id, "wait", "2"]);
    // A waiter blocks until another process makes the value zero.
    let mut waiter = ipckit(&["sem", "--id", &id, "wait", "1"]).spawn().unwrap();
    while set.waiting_for_zero(1).unwrap() == 0 {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(waiter.try_wait().unwrap().is_none());
    set.set_value(1, 0).unwrap();
    assert!(waiter.wait().unwrap().success());
    // Errors name the problem.
    let out = run(&["sem", "--id", &id, "get", "7"], b"");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("semaphore 7 does not exist"));
    let out = run(&["sem", "--id", &id, "op", "0*1"], b"");
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected N+D"));
}

#[test]
fn shm_show_read_write_bounds() {
    let mut seg = ShmSegment::create(Key::PRIVATE, 64, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let id = seg.id().to_string();
    let out = run(&["shm", "--id", &id, "write", "--offset", "10"], b"hello\x00\xff");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(ok(&["shm", "--id", &id, "read", "--offset", "10", "--len", "7"]), b"hello\x00\xff");
    let all = ok(&["shm", "--id", &id, "read"]);
    assert_eq!(all.len(), 64);
    assert_eq!(&all[10..17], b"hello\x00\xff");
    let hex = String::from_utf8(ok(&[
        "shm", "--id", &id, "read", "--offset", "8", "--len", "8", "--format", "hex",
    ]))
    .unwrap();
    assert_eq!(hex, "00000008  00 00 68 65 6c 6c 6f 00                           |..hello.|\n00000010\n");
    let show = String::from_utf8(ok(&["shm", "--id", &id, "show"])).unwrap();
    assert!(show.contains("64 bytes"), "{show}");
    // Out of bounds: refused, nothing written.
    let out = run(&["shm", "--id", &id, "write", "--offset", "60"], b"toolong");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not fit the 64-byte segment"));
    assert_eq!(run(&["shm", "--id", &id, "read", "--offset", "65"], b"").status.code(), Some(1));
    assert_eq!(run(&["shm", "--id", &id, "read", "--len", "65"], b"").status.code(), Some(1));
    assert_eq!(&ok(&["shm", "--id", &id, "read"])[60..], &[0, 0, 0, 0]);
}
