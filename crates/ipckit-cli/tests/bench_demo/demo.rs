//! `ipckit demo` runs every part between real processes and leaves nothing behind,
//! also when interrupted with Ctrl-C (SIGINT).

use crate::common::*;

fn read(d: &std::path::Path, n: &str) -> String {
    std::fs::read_to_string(d.join(n)).unwrap_or_default()
}

#[test]
fn list_and_bad_part() {
    let out = String::from_utf8(ok(&["demo", "--list"])).unwrap();
    let names: Vec<&str> = out.lines().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(names, ["pipe", "duplex", "fifo", "msg", "shm", "ls", "channel", "socket", "net"]);
    let bad = run(&["demo", "nope"], b"");
    // clap refuses the name and lists the parts (a usage error: status 2).
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("invalid value 'nope'") && err.contains("pipe, duplex, fifo, msg, shm, ls"),
        "{err}"
    );
}

#[test]
fn the_whole_demo_leaves_nothing_behind() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    let dir = open_tempdir();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let script = format!(
        "DIR='{d}'; export TMPDIR='{t}'\n\
         \"$IPCKIT\" demo >$DIR/out 2>$DIR/err; echo $? >$DIR/rc\n\
         tail -n +2 /proc/sysvipc/msg >$DIR/left; tail -n +2 /proc/sysvipc/sem >>$DIR/left; tail -n +2 /proc/sysvipc/shm >>$DIR/left\n",
        d = dir.path().display(),
        t = tmp.display()
    );
    let run = in_namespace(&script, "UTC");
    assert!(run.status.success());
    let out = read(dir.path(), "out");
    assert_eq!(read(dir.path(), "rc").trim(), "0", "demo failed:\n{out}\n{}", read(dir.path(), "err"));
    for part in
        ["1. pipe", "2. duplex", "3. fifo", "4. msg", "5. shm", "6. ls", "7. channel", "8. socket", "9. net"]
    {
        assert!(out.contains(&format!("== {part}:")), "missing {part}:\n{out}");
    }
    // Each mechanism really crossed a process boundary.
    assert!(out.contains("[child") && out.contains("\"hello world\\n\""), "{out}");
    assert!(out.contains("read(up) = \"PING\\n\""), "{out}");
    assert!(out.contains("[reader") && out.contains("read() -> \"second line\""), "{out}");
    assert!(out.contains("[sender") && out.contains("alan math 90 chinese 80"), "{out}");
    assert!(out.contains("no increment was lost"), "{out}");
    assert!(out.contains("------ Message Queues --------"), "{out}");
    assert_eq!(read(dir.path(), "left"), "", "IPC objects left behind");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "files left in TMPDIR");
}

#[test]
fn channel_part_between_processes() {
    let out = String::from_utf8(ok(&["demo", "channel"])).unwrap();
    // Back-pressure: three subscribers in other processes get all 20000, none missed.
    for s in ["a", "b", "c"] {
        assert!(
            out.contains(&format!("[sub {s} "))
                && out.contains("received 20000, missed 0 (dropped for it), last seq 19999"),
            "{out}"
        );
    }
    // Drop-oldest: the slow one is told what it missed, and still ends at the last message.
    assert!(out.contains("[sub slow ") && out.contains("last seq 19999; every one intact"), "{out}");
    // Request/response: each call got its own answer; a killed client's slot is freed.
    assert!(out.contains("call(\"alice add 45 4\") -> \"49\""), "{out}");
    assert!(out.contains("call(\"bob add 43 4\") -> \"47\""), "{out}");
    assert!(out.contains("clients connected: 0"), "{out}");
}

#[test]
fn ctrl_c_removes_everything() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    let dir = open_tempdir();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let script = format!(
        "DIR='{d}'; export TMPDIR='{t}'\n\
         \"$IPCKIT\" demo ls --hold >$DIR/out 2>$DIR/err & pid=$!\n\
         n=0; while ! grep -q holding $DIR/out && [ $n -lt 6000 ]; do sleep 0.01; n=$((n+1)); done\n\
         ls $TMPDIR >$DIR/tmp-during\n\
         tail -n +2 /proc/sysvipc/msg >$DIR/during; tail -n +2 /proc/sysvipc/sem >>$DIR/during; tail -n +2 /proc/sysvipc/shm >>$DIR/during\n\
         kill -INT $pid; wait $pid; echo $? >$DIR/rc\n\
         tail -n +2 /proc/sysvipc/msg >$DIR/left; tail -n +2 /proc/sysvipc/sem >>$DIR/left; tail -n +2 /proc/sysvipc/shm >>$DIR/left\n",
        d = dir.path().display(),
        t = tmp.display()
    );
    let run = in_namespace(&script, "UTC");
    assert!(run.status.success());
    let d = dir.path();
    assert!(
        read(d, "out").contains("holding"),
        "the demo never reached its hold:\n{}{}",
        read(d, "out"),
        read(d, "err")
    );
    assert_eq!(read(d, "during").lines().count(), 3, "a queue, a set and a segment exist while holding");
    assert_eq!(read(d, "tmp-during").lines().count(), 1, "and its temporary directory");
    assert_eq!(read(d, "rc").trim(), "130", "{}", read(d, "err"));
    assert!(read(d, "err").contains("interrupted"), "{}", read(d, "err"));
    assert_eq!(read(d, "left"), "", "IPC objects left behind after Ctrl-C");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0, "files left in TMPDIR after Ctrl-C");
}
