//! The POSIX options of the command line, run as the real binary: `mk -m/-q/-s -n`
//! (and as `ipcmk`), `rm --posix-*` and `-a pshm|pmsg|psem`, `rm --stale --posix`,
//! `send/recv --posix`, `sem --posix`, `shm --posix`, `ls --posix`; with the messages
//! and exit codes for a missing name, an existing object, permission denied and a
//! name with a slash inside.
//!
//! Names are unique to the test (pid and a counter) and removed by a guard, also on
//! panic. What lists or removes every POSIX object of a kind runs in private IPC,
//! mount and pid namespaces with their own `/dev/shm` and `/dev/mqueue`, never on
//! the machine's.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::*;
use ipckit::posix::mq::MsgQueue;
use ipckit::posix::sem::NamedSemaphore;
use ipckit::posix::shm::ShmObject;

/// A unique name, and every kind of object with that name removed on drop.
struct Name(String);

impl Name {
    fn new(tag: &str) -> Name {
        static N: AtomicU32 = AtomicU32::new(0);
        Name(format!("/ipckit-clitest-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }
    fn s(&self) -> &str {
        &self.0
    }
}

impl Drop for Name {
    fn drop(&mut self) {
        let _ = ShmObject::unlink(&self.0);
        let _ = MsgQueue::unlink(&self.0);
        let _ = NamedSemaphore::unlink(&self.0);
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn fails(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "expected exit 1; stdout {:?}", text(&out.stdout));
    text(&out.stderr)
}

fn mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Runs the binary as `nobody` (uid and gid 65534), if root can.
fn as_nobody(args: &[&str]) -> Option<Output> {
    if ipckit::process::effective_uid() != 0 {
        return None;
    }
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", bin()])
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    Some(out)
}

#[test]
fn mk_makes_each_posix_kind_with_ipckits_default_mode() {
    let n = Name::new("mk");
    let out = ok(&["mk", "-q", "-s", "-m", "4K", "-n", n.s()]);
    // ipcmk's order: shared memory, then queue, then semaphore.
    assert_eq!(
        text(&out),
        format!(
            "POSIX shared memory name: {0}\nPOSIX message queue name: {0}\nPOSIX semaphore name: {0}\n",
            n.s()
        )
    );
    let shm = format!("/dev/shm{}", n.s());
    assert_eq!(std::fs::metadata(&shm).unwrap().len(), 4096);
    assert_eq!(mode(&shm), 0o600);
    assert_eq!(mode(&format!("/dev/shm/sem.{}", &n.s()[1..])), 0o600);
    let q = MsgQueue::open(n.s()).unwrap();
    assert_eq!(q.mode().unwrap().bits(), 0o600);
    assert_eq!(NamedSemaphore::open(n.s()).unwrap().value().unwrap(), 0, "ipcmk's initial value");
}

#[test]
fn mk_long_options_and_an_exact_mode() {
    let n = Name::new("mklong");
    let out = ok(&["mk", "--posix-shmem", "100", "--posix-semaphore", "--name", n.s(), "--mode", "666"]);
    assert!(text(&out).contains("POSIX shared memory name:"));
    // 0666 exactly, whatever the umask of the test process.
    assert_eq!(mode(&format!("/dev/shm{}", n.s())), 0o666);
    assert_eq!(mode(&format!("/dev/shm/sem.{}", &n.s()[1..])), 0o666);
}

#[test]
fn mk_needs_a_name_for_posix_objects() {
    for args in [&["mk", "-q"][..], &["mk", "-s"], &["mk", "-m", "1K"], &["mk", "-Q", "-s"]] {
        let out = run(args, b"");
        let err = fails(&out);
        assert_eq!(
            err,
            "ipckit: name is required for POSIX IPC\nTry 'ipckit mk --help' for more information.\n"
        );
        assert!(out.stdout.is_empty(), "nothing made for {args:?}");
    }
    assert!(fails(&run(&["mk", "-n"], b"")).contains("option requires an argument -- 'n'"));
}

#[test]
fn mk_on_an_existing_name() {
    let n = Name::new("exists");
    ok(&["mk", "-m", "4K", "-q", "-s", "-n", n.s()]);
    // Without --exclusive: opened (as ipcmk does), with a note on stderr.
    let out = run(&["mk", "-q", "-s", "-n", n.s(), "-p", "644"], b"");
    assert!(out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{} already exists: opened it, nothing was created", n.s())), "{err}");
    assert!(err.contains("its mode stays 0600, not the 0644 asked for"), "{err}");
    // A different size is refused: an existing object is never resized.
    let err = fails(&run(&["mk", "-m", "8K", "-n", n.s()], b""));
    assert!(err.contains("create POSIX shared memory failed: File exists"), "{err}");
    assert!(err.contains("exists with 4096 bytes, not 8192"), "{err}");
    assert_eq!(std::fs::metadata(format!("/dev/shm{}", n.s())).unwrap().len(), 4096);
    // With --exclusive: ipcmk's message for EEXIST.
    for (opt, what) in [("-q", "message queue"), ("-s", "semaphore"), ("-m", "shared memory")] {
        let mut args = vec!["mk", opt];
        if opt == "-m" {
            args.push("4K");
        }
        args.extend(["-n", n.s(), "--exclusive"]);
        let err = fails(&run(&args, b""));
        assert_eq!(err, format!("ipckit: create POSIX {what} failed: File exists\n"));
    }
}

#[test]
fn mk_refuses_an_object_larger_than_dev_shm() {
    let n = Name::new("huge");
    let err = fails(&run(&["mk", "-m", "1E", "-n", n.s()], b""));
    assert!(err.starts_with("ipckit: create POSIX shared memory failed: File too large:"), "{err}");
    assert!(err.contains("file system at /dev/shm"), "{err}");
    assert!(ShmObject::open(n.s()).is_err(), "nothing was made");
}

#[test]
fn a_name_with_a_slash_inside_is_refused_everywhere() {
    let bad = "/ipckit-clitest/inside";
    let err = fails(&run(&["mk", "-q", "-n", bad], b""));
    assert!(err.starts_with("ipckit: create POSIX message queue failed:") && err.contains("no '/'"), "{err}");
    let err = fails(&run(&["mk", "-m", "1K", "-n", bad], b""));
    assert!(err.contains("no '/'"), "{err}");
    let err = fails(&run(&["rm", "--posix-shmem", bad], b""));
    assert!(err.starts_with(&format!("ipckit: invalid name `{bad}'")) && err.contains("no '/'"), "{err}");
    for args in [
        &["send", "--posix", bad, "x"][..],
        &["recv", "--posix", bad, "--nowait"],
        &["sem", "--posix", bad, "value"],
        &["shm", "--posix", bad, "show"],
    ] {
        let err = fails(&run(args, b""));
        assert!(err.contains("no '/'"), "{args:?}: {err}");
    }
}

#[test]
fn missing_names_are_reported_with_exit_1() {
    let n = Name::new("missing");
    for (opt, _) in [("--posix-shmem", 0), ("--posix-mqueue", 0), ("--posix-semaphore", 0)] {
        let err = fails(&run(&["rm", opt, n.s()], b""));
        assert_eq!(err, format!("ipckit: name `{}' not found\n", n.s()));
    }
    for args in [
        &["send", "--posix", n.s(), "x"][..],
        &["recv", "--posix", n.s(), "--nowait"],
        &["sem", "--posix", n.s(), "post"],
        &["shm", "--posix", n.s(), "read"],
    ] {
        let err = fails(&run(args, b""));
        assert!(err.contains("No such file or directory") || err.contains("no "), "{args:?}: {err}");
        assert!(err.contains(n.s()), "{args:?} names the object: {err}");
    }
}

#[test]
fn rm_removes_each_kind_by_name_and_verbosely() {
    let n = Name::new("rm");
    ok(&["mk", "-m", "1K", "-q", "-s", "-n", n.s()]);
    let out = ok(&["rm", "-v", "--posix-shmem", n.s(), "--posix-mqueue", n.s(), "--posix-semaphore", n.s()]);
    assert_eq!(
        text(&out),
        format!(
            "removing POSIX shared memory `{0}'\nremoving POSIX message queue `{0}'\nremoving POSIX semaphore `{0}'\n",
            n.s()
        )
    );
    assert!(ShmObject::open(n.s()).is_err() && MsgQueue::open(n.s()).is_err());
    assert!(NamedSemaphore::open(n.s()).is_err());
    // Failures are counted; the other removals still happen.
    ok(&["mk", "-s", "-n", n.s()]);
    let out = run(&["rm", "--posix-shmem", n.s(), "--posix-semaphore", n.s()], b"");
    assert_eq!(fails(&out), format!("ipckit: name `{}' not found\n", n.s()));
    assert!(NamedSemaphore::open(n.s()).is_err(), "removed despite the earlier failure");
    // --posix goes with --stale only.
    assert!(fails(&run(&["rm", "--posix"], b"")).contains("--posix goes with --stale"));
}

#[test]
fn permission_denied_as_another_user() {
    let n = Name::new("perm");
    ok(&["mk", "-m", "1K", "-q", "-s", "-n", n.s()]);
    let Some(out) = as_nobody(&["rm", "--posix-shmem", n.s()]) else {
        skip!("needs root (to run as nobody)")
    };
    assert_eq!(fails(&out), format!("ipckit: permission denied for name `{}'\n", n.s()));
    let out = as_nobody(&["mk", "-q", "-n", n.s()]).unwrap();
    assert_eq!(fails(&out), "ipckit: create POSIX message queue failed: Permission denied\n");
    let out = as_nobody(&["mk", "-m", "1K", "-n", n.s()]).unwrap();
    assert_eq!(fails(&out), "ipckit: create POSIX shared memory failed: Permission denied\n");
    for args in [
        &["send", "--posix", n.s(), "x"][..],
        &["recv", "--posix", n.s(), "--nowait"],
        &["sem", "--posix", n.s(), "post"],
        &["shm", "--posix", n.s(), "read"],
    ] {
        let err = fails(&as_nobody(args).unwrap());
        assert!(err.contains("EACCES") || err.contains("Permission denied"), "{args:?}: {err}");
    }
    assert!(ShmObject::open(n.s()).is_ok(), "still there");
    assert_eq!(MsgQueue::open(n.s()).unwrap().status().unwrap().curmsgs, 0, "nothing sent");
}

#[test]
fn send_and_recv_in_priority_order_in_every_format() {
    let n = Name::new("msg");
    ok(&["mk", "-q", "-n", n.s()]);
    ok(&["send", "--posix", n.s(), "--priority", "1", "low"]);
    ok(&["send", "--posix", n.s(), "--priority", "9", "high", "one"]);
    assert!(run(&["send", "--posix", n.s()], b"from stdin").status.success());
    ok(&["send", "--posix", n.s(), "--priority", "9", "high", "two"]);
    let out = ok(&["recv", "--posix", n.s(), "--format", "json", "-n", "2"]);
    assert_eq!(
        text(&out),
        "{\"priority\":9,\"size\":8,\"encoding\":\"utf-8\",\"body\":\"high one\"}\n\
         {\"priority\":9,\"size\":8,\"encoding\":\"utf-8\",\"body\":\"high two\"}\n"
    );
    let out = ok(&["recv", "--posix", n.s(), "--format", "hex"]);
    assert!(text(&out).starts_with("# priority 1, 3 bytes\n00000000  6c 6f 77"), "{}", text(&out));
    assert_eq!(ok(&["recv", "--posix", n.s(), "--all"]), b"from stdin");
    let err = fails(&run(&["recv", "--posix", n.s(), "--nowait"], b""));
    assert_eq!(err, format!("ipckit: mq_receive({}): no message is queued (--nowait)\n", n.s()));
    let err = fails(&run(&["recv", "--posix", n.s(), "--timeout", "0.05"], b""));
    assert!(err.contains("no message arrived within 0.05 s"), "{err}");
    // Options that do not fit a POSIX queue are refused before anything is taken.
    ok(&["send", "--posix", n.s(), "kept"]);
    assert!(fails(&run(&["recv", "--posix", n.s(), "-t", "2"], b"")).contains("highest priority first"));
    assert!(
        fails(&run(&["send", "--posix", n.s(), "--priority", "32768", "x"], b"")).contains("out of range")
    );
    assert_eq!(ok(&["recv", "--posix", n.s()]), b"kept");
}

#[test]
fn send_creates_the_queue_when_asked_and_refuses_oversized_stdin() {
    let n = Name::new("create");
    ok(&["send", "--posix", n.s(), "--create", "first"]);
    let q = MsgQueue::open(n.s()).unwrap();
    assert_eq!(q.mode().unwrap().bits(), 0o600);
    let big = vec![b'x'; q.msgsize() + 1];
    let err = fails(&run(&["send", "--posix", n.s()], &big));
    assert!(err.contains("more than") && err.contains("nothing was sent"), "{err}");
    assert_eq!(q.status().unwrap().curmsgs, 1, "only the first message");
}

#[test]
fn recv_fails_loudly_when_its_output_cannot_be_written() {
    let n = Name::new("epipe");
    ok(&["mk", "-q", "-n", n.s()]);
    ok(&["send", "--posix", n.s(), "precious"]);
    // A pipe whose reader is already gone: the write fails with EPIPE.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ipckit(&["recv", "--posix", n.s()]).stdout(writer).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "not a quiet success");
    let err = text(&out.stderr);
    assert!(err.contains("cannot write to stdout"), "{err}");
    assert!(
        err.contains("1 message(s) received") && err.contains("(8 bytes, priority 0) was not written"),
        "{err}"
    );
}

#[test]
fn sem_posix_post_wait_value_show() {
    let n = Name::new("sem");
    ok(&["mk", "-s", "-n", n.s()]);
    assert_eq!(ok(&["sem", "--posix", n.s(), "value"]), b"0\n");
    ok(&["sem", "--posix", n.s(), "post"]);
    ok(&["sem", "--posix", n.s(), "post"]);
    assert_eq!(ok(&["sem", "--posix", n.s(), "value"]), b"2\n");
    let show = text(&ok(&["sem", "--posix", n.s(), "show"]));
    assert!(show.starts_with(&format!("POSIX semaphore {} value 2 (mode 0600", n.s())), "{show}");
    ok(&["sem", "--posix", n.s(), "wait"]);
    ok(&["sem", "--posix", n.s(), "wait", "--nowait"]);
    let err = fails(&run(&["sem", "--posix", n.s(), "wait", "--nowait"], b""));
    assert!(err.contains("the value is 0; nothing was taken (--nowait)"), "{err}");
    let err = fails(&run(&["sem", "--posix", n.s(), "wait", "--timeout", "0.05"], b""));
    assert!(err.contains("stayed 0 for 0.05 s"), "{err}");
    assert!(fails(&run(&["sem", "--posix", n.s(), "get", "0"], b"")).contains("System V"));
    assert!(fails(&run(&["sem", "--posix", n.s(), "wait", "1"], b"")).contains("takes no number"));
    // A wait in one process is ended by a post from another.
    let mut waiter = ipckit(&["sem", "--posix", n.s(), "wait", "--timeout", "120"]).spawn().unwrap();
    ok(&["sem", "--posix", n.s(), "post"]);
    assert!(waiter.wait().unwrap().success());
    assert_eq!(ok(&["sem", "--posix", n.s(), "value"]), b"0\n");
}

#[test]
fn shm_posix_write_read_show_with_bounds() {
    let n = Name::new("shm");
    ok(&["mk", "-m", "64", "-n", n.s()]);
    assert!(run(&["shm", "--posix", n.s(), "write", "--offset", "60"], b"abcd").status.success());
    assert_eq!(ok(&["shm", "--posix", n.s(), "read", "--offset", "60"]), b"abcd");
    let hex =
        text(&ok(&["shm", "--posix", n.s(), "read", "--offset", "56", "--len", "8", "--format", "hex"]));
    assert!(hex.starts_with("00000038  00 00 00 00 61 62 63 64"), "{hex}");
    let err = fails(&run(&["shm", "--posix", n.s(), "write", "--offset", "62"], b"abcd"));
    assert!(err.contains("more than 2 bytes") && err.contains("nothing was written"), "{err}");
    assert_eq!(ok(&["shm", "--posix", n.s(), "read", "--offset", "60"]), b"abcd", "unchanged");
    assert!(
        fails(&run(&["shm", "--posix", n.s(), "read", "--offset", "60", "--len", "5"], b""))
            .contains("pass the end")
    );
    let show = text(&ok(&["shm", "--posix", n.s(), "show"]));
    assert!(show.contains("size        64 bytes") && show.contains("mode        0600"), "{show}");
}

#[test]
fn ls_posix_keeps_columns_aligned_for_long_names() {
    let short = Name::new("ls");
    let long = Name(format!("{}-{}", Name::new("ls-long").0, "y".repeat(140)));
    ok(&["mk", "-m", "1K", "-s", "-n", short.s()]);
    ok(&["mk", "-m", "2K", "-s", "-n", long.s()]);
    let out = text(&ok(&["ls", "--posix"]));
    let col = |name: &str| {
        let line = out.lines().find(|l| l.starts_with(&format!("{name} "))).expect("listed");
        line.find(" root").expect("owner column")
    };
    // The owner column starts at the same place on both rows, after the long name.
    assert_eq!(col(short.s()), col(long.s()));
    assert!(col(long.s()) >= long.s().len());
}

/// Runs `script` in new IPC, mount and pid namespaces with a private `/dev/shm` and
/// `/dev/mqueue`, so that what lists or removes "every" object sees only its own.
fn in_private_posix(script: &str) -> Option<Output> {
    if let Some(why) = no_namespace() {
        eprintln!("SKIPPED: {why}");
        return None;
    }
    let full = format!(
        "mount -t tmpfs tmpfs /dev/shm && mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue || exit 99\n{script}"
    );
    let out = Command::new("unshare")
        .args([
            "--ipc",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "bash",
            "-c",
        ])
        .arg(full)
        .env("IPCKIT", bin())
        .env("LC_ALL", "C")
        .output()
        .expect("unshare");
    if out.status.code() == Some(99) {
        eprintln!("SKIPPED: cannot mount a private /dev/shm here: {}", text(&out.stderr));
        return None;
    }
    Some(out)
}

#[test]
fn rm_all_of_a_posix_kind_and_a_bare_all_that_keeps_them() {
    let Some(out) = in_private_posix(
        r#"
"$IPCKIT" mk -m 1K -q -s -n /a >/dev/null
"$IPCKIT" mk -s -n /b >/dev/null
"$IPCKIT" rm -a; echo "bare rc=$?"; ls /dev/shm | tr '\n' ' '; echo
"$IPCKIT" rm -v -apsem; echo "psem rc=$?"; ls /dev/shm | tr '\n' ' '; echo
"$IPCKIT" rm --all=pmsg; echo "pmsg rc=$?"; ls /dev/mqueue | wc -l
"$IPCKIT" rm -apshm; echo "pshm rc=$?"; ls /dev/shm | wc -l
"#,
    ) else {
        return;
    };
    assert_eq!(
        text(&out.stdout),
        "bare rc=0\na sem.a sem.b \nremoving POSIX semaphore `/a'\nremoving POSIX semaphore `/b'\npsem rc=0\na \n\
         pmsg rc=0\n0\npshm rc=0\n0\n",
        "stderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn rm_stale_posix_removes_only_what_no_process_holds() {
    let Some(out) = in_private_posix(
        r#"
"$IPCKIT" mk -m 1K -n /held -m 1K >/dev/null
"$IPCKIT" mk -m 1K -n /loose >/dev/null
"$IPCKIT" mk -s -n /loose >/dev/null
"$IPCKIT" mk -q -n /loose >/dev/null
sleep 600 3</dev/shm/held &
"$IPCKIT" ls --stale --posix | grep -c 'POSIX.*/loose' >&2
"$IPCKIT" ls --stale --posix --json | grep -c '"stale_reason": "no live process' >&2
"$IPCKIT" rm --stale --posix --dry-run; echo "dry rc=$?"
ls /dev/shm | tr '\n' ' '; echo
"$IPCKIT" rm --stale --posix; echo "rm rc=$?"
ls /dev/shm | tr '\n' ' '; ls /dev/mqueue | wc -l
kill %1
"#,
    ) else {
        return;
    };
    let why = "no live process maps it or holds it open";
    assert_eq!(
        text(&out.stdout),
        format!(
            "would remove POSIX shared memory /loose: {why} (1024 bytes)\nwould remove POSIX semaphore /loose: {why}\n\
             would remove POSIX message queue /loose: {why} (0 bytes queued)\ndry rc=0\nheld loose sem.loose \n\
             removing POSIX shared memory /loose: {why} (1024 bytes)\nremoving POSIX semaphore /loose: {why}\n\
             removing POSIX message queue /loose: {why} (0 bytes queued)\nrm rc=0\nheld 0\n"
        ),
        "stderr: {}",
        text(&out.stderr)
    );
    // `ls --stale --posix` listed the same three, and so did its JSON.
    assert_eq!(text(&out.stderr), "3\n3\n");
}

#[test]
fn ls_posix_says_how_to_mount_mqueue_when_none_is() {
    let Some(out) = in_private_posix(r#"umount /dev/mqueue; "$IPCKIT" ls --posix | tail -2; echo "rc=$?""#)
    else {
        return;
    };
    let o = text(&out.stdout);
    assert!(o.contains("no mqueue file system is mounted at /dev/mqueue"), "{o}");
    assert!(o.contains("mount -t mqueue none /dev/mqueue"), "{o}");
    assert!(o.ends_with("rc=0\n"), "{o}");
    // Removing every queue then cannot list them: an error, not a silent success.
    let Some(out) = in_private_posix(r#"umount /dev/mqueue; "$IPCKIT" rm -apmsg; echo "rc=$?""#) else {
        return;
    };
    assert_eq!(text(&out.stdout), "rc=1\n");
    assert!(text(&out.stderr).contains("mount -t mqueue none /dev/mqueue"), "{}", text(&out.stderr));
}

#[test]
fn run_as_ipcmk_and_ipcrm_the_posix_options_work_too() {
    let dir = tempfile::tempdir().unwrap();
    for tool in ["ipcmk", "ipcrm"] {
        std::os::unix::fs::symlink(bin(), dir.path().join(tool)).unwrap();
    }
    let n = Name::new("argv0");
    let out = Command::new(dir.path().join("ipcmk")).args(["-q", "-n", n.s()]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), format!("POSIX message queue name: {}\n", n.s()));
    let out = Command::new(dir.path().join("ipcmk")).args(["-s"]).env("LC_ALL", "C").output().unwrap();
    assert_eq!(
        text(&out.stderr),
        "ipcmk: name is required for POSIX IPC\nTry 'ipcmk --help' for more information.\n"
    );
    let out = Command::new(dir.path().join("ipcrm")).args(["--posix-mqueue", n.s()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = Command::new(dir.path().join("ipcrm")).args(["--posix-mqueue", n.s()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stderr), format!("ipcrm: name `{}' not found\n", n.s()));
}

#[test]
fn help_says_the_default_mode_and_the_new_options() {
    let mk = text(&ok(&["mk", "--help"]));
    for s in [
        "-m, --posix-shmem <size>",
        "-q, --posix-mqueue",
        "-s, --posix-semaphore",
        "-n, --name <name>",
        "0600",
    ] {
        assert!(mk.contains(s), "mk --help lacks {s}");
    }
    let rm = text(&ok(&["rm", "--help"]));
    for s in ["--posix-shmem <name>", "--posix-mqueue <name>", "--posix-semaphore", "pshm", "psem", "pmsg"] {
        assert!(rm.contains(s), "rm --help lacks {s}");
    }
}
