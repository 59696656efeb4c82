//! Reliability of the command line (issue 8): nothing lost, nothing leaked, no crash.
//!
//! Each test runs the real binary against real kernel objects with keys unique to
//! this process; a guard removes whatever a key names when the test ends, also on
//! panic. Tests that must see every object of the system (`rm --stale`, leaks after a
//! signal) run inside a private IPC namespace (`unshare --ipc`, root only).

use std::io::Read;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::common::*;
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{Key, Mode};

/// A key no other test (nor another run) uses, with the sign bit set so that its
/// decimal form is negative, as C's `key_t` prints it.
fn unique_key() -> Key {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed) & 0xff;
    let pid = ipckit::process::current_pid() & 0x7fff;
    Key::from_raw((0x8000_0000u32 | 0x3a << 23 | pid << 8 | n) as i32)
}

/// Removes every System V object with this key on drop.
struct KeyGuard(Key);

impl KeyGuard {
    fn new() -> KeyGuard {
        KeyGuard(unique_key())
    }

    fn hex(&self) -> String {
        self.0.to_string()
    }

    fn dec(&self) -> String {
        i32::from(self.0).to_string()
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        if let Ok(q) = MsgQueue::open(self.0) {
            let _ = q.remove();
        }
        if let Ok(s) = SemSet::open(self.0) {
            let _ = s.remove();
        }
        if let Ok(s) = ShmSegment::open(self.0) {
            let _ = s.remove();
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `bash -c script` with `$IPCKIT` set to the binary.
fn bash(script: &str) -> Output {
    Command::new("bash").args(["-c", script]).env("IPCKIT", bin()).env("LC_ALL", "C").output().unwrap()
}

fn failed_with(out: &Output, needle: &str) {
    assert_eq!(out.status.code(), Some(1), "stdout {} stderr {}", text(&out.stdout), text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.starts_with("ipckit: "), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked") && !err.contains("Some("), "{err}");
}

// ----- 1. rm --stale never removes an object a live process waits on -----------------

#[test]
fn rm_stale_spares_a_queue_with_a_blocked_receiver_or_sender() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    // Both queues look abandoned: their last sender and receiver have exited. One has
    // a receiver asleep in msgrcv, the other a sender asleep in msgsnd; a third, truly
    // abandoned, is the control.
    let dir = tempfile::tempdir().unwrap();
    let out = in_namespace(
        &format!(
            "cd '{}'\n{}",
            dir.path().display(),
            r#"
        set -u
        wait_blocked() { # pid call-number
            for i in $(seq 500); do
                read -r nr _ < /proc/$1/syscall 2>/dev/null && [ "$nr" = "$2" ] && return 0
                sleep 0.01
            done
            echo "pid $1 never blocked in call $2"; exit 1
        }
        R=$($IPCKIT mk -Q -k 0x100 | awk '{print $4}')
        S=$($IPCKIT mk -Q -k 0x200 | awk '{print $4}')
        C=$($IPCKIT mk -Q -k 0x300 | awk '{print $4}')
        $IPCKIT send -k 0x100 first; $IPCKIT recv -k 0x100 > /dev/null
        $IPCKIT recv -k 0x100 > received & RPID=$!
        $IPCKIT send -k 0x200 "$(head -c 8000 /dev/zero | tr '\0' a)"
        $IPCKIT send -k 0x200 "$(head -c 8000 /dev/zero | tr '\0' b)"
        $IPCKIT send -k 0x200 "$(head -c 8000 /dev/zero | tr '\0' c)" & SPID=$!
        $IPCKIT send -k 0x300 left
        wait_blocked $RPID 70; wait_blocked $SPID 69
        $IPCKIT rm --stale 2> stale.err || echo "rm --stale failed"
        grep -q "stale but left out" stale.err && echo "undecided: $(cat stale.err)"
        $IPCKIT ls -q | awk '$1 ~ /^0x/ {print $1}' | sort | tr '\n' ' '; echo
        $IPCKIT send -k 0x100 second
        wait $RPID; echo "receiver exit $? got $(cat received)"
        $IPCKIT recv -k 0x200 -n 2 > /dev/null
        wait $SPID; echo "sender exit $?"
        $IPCKIT rm -Q 0x100 -Q 0x200
        "#
        ),
        "UTC",
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    if stdout.contains("undecided:") {
        // Some process here cannot be looked into (as PID 1 of some sandboxes, even
        // for root): then nothing can be known to be stale, and that is said.
        eprintln!("NOTE: a process here cannot be inspected; the abandoned queue stays: {stdout}");
        assert!(stdout.contains("0x00000100 0x00000200 0x00000300 \n"), "{stdout}");
        assert!(stdout.contains("1 object looks stale but left out"), "only the control: {stdout}");
    } else {
        assert!(stdout.contains("removing message queue id"), "{stdout}");
        assert!(stdout.contains("0x00000100 0x00000200 \n"), "only the abandoned queue goes: {stdout}");
    }
    assert!(stdout.contains("receiver exit 0 got second"), "{stdout}");
    assert!(stdout.contains("sender exit 0"), "{stdout}");
}

#[test]
fn rm_stale_spares_a_set_with_a_blocked_process() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    let out = in_namespace(
        r#"
        $IPCKIT mk -S 1 -k 0x400 > /dev/null
        $IPCKIT sem -k 0x400 op 0+1; $IPCKIT sem -k 0x400 op 0-1
        $IPCKIT sem -k 0x400 op 0-1 & W=$!
        for i in $(seq 500); do
            [ "$($IPCKIT sem -k 0x400 show | awk 'NR==3 {print $4}')" = 1 ] && break; sleep 0.01
        done
        $IPCKIT rm --stale
        $IPCKIT sem -k 0x400 op 0+1 && wait $W && echo "waiter done"
        $IPCKIT rm -S 0x400
        "#,
        "UTC",
    );
    assert!(text(&out.stdout).contains("waiter done"), "{}{}", text(&out.stdout), text(&out.stderr));
}

// ----- 2. recv never takes a message it cannot write ---------------------------------

fn queue_with(messages: &[&[u8]]) -> (KeyGuard, MsgQueue) {
    let g = KeyGuard::new();
    let q = MsgQueue::create(g.0, Mode::OWNER_RW).unwrap();
    for m in messages {
        q.send(m, 1).unwrap();
    }
    (g, q)
}

#[test]
fn recv_with_a_closed_stdout_takes_nothing() {
    let (g, q) = queue_with(&[b"one", b"two"]);
    let out = bash(&format!("\"$IPCKIT\" recv -k {} --all >&-", g.hex()));
    failed_with(&out, "stdout");
    assert_eq!(q.stat().unwrap().qnum, 2, "both messages are still queued");
}

#[test]
fn recv_into_a_pipe_without_reader_takes_nothing() {
    let (g, q) = queue_with(&[b"one", b"two"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = ipckit(&["recv", "-k", &g.hex(), "-n", "2"]).stdout(writer).output().unwrap();
    failed_with(&out, "stdout");
    assert_eq!(q.stat().unwrap().qnum, 2, "both messages are still queued");
}

#[test]
fn recv_whose_reader_leaves_puts_the_message_back_and_fails() {
    let (g, q) = queue_with(&[b"one"]);
    let (mut reader, writer) = std::io::pipe().unwrap();
    let child =
        ipckit(&["recv", "-k", &g.hex(), "-n", "3"]).stdout(writer).stderr(Stdio::piped()).spawn().unwrap();
    let mut first = [0u8; 3];
    reader.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"one");
    // Wait until recv is asleep in msgrcv for the second message, then go away.
    for _ in 0..1000 {
        let s = std::fs::read_to_string(format!("/proc/{}/syscall", child.id())).unwrap_or_default();
        if ipckit::registry::parse_syscall(&s).map(|(nr, _)| nr) == Some(70) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    drop(reader);
    q.send(b"two", 1).unwrap();
    let out = child.wait_with_output().unwrap();
    failed_with(&out, "put back");
    assert!(text(&out.stderr).contains("1 of 2"), "{}", text(&out.stderr));
    let mut buf = [0u8; 16];
    let r = q.try_recv(&mut buf, Select::Any).expect("the second message was put back");
    assert_eq!(&buf[..r.len], b"two");
}

// ----- 3. a read error on stdin is not end-of-file -----------------------------------

#[test]
fn send_and_shm_write_refuse_a_closed_or_write_only_stdin() {
    let (g, q) = queue_with(&[]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    let k = g.hex();
    let f = file.display();
    failed_with(&bash(&format!("\"$IPCKIT\" send -k {k} <&-")), "stdin");
    failed_with(&bash(&format!("\"$IPCKIT\" send -k {k} 0>{f}")), "stdin");
    assert_eq!(q.stat().unwrap().qnum, 0, "nothing was sent");
    // An empty stdin that is open for reading is an empty message, as before.
    assert!(bash(&format!("\"$IPCKIT\" send -k {k} < /dev/null")).status.success());
    assert_eq!(q.stat().unwrap().qnum, 1);

    let seg = ShmSegment::create(g.0, 64, Mode::OWNER_RW).unwrap();
    seg.attach().unwrap().fill(0, 64, b'x').unwrap();
    failed_with(&bash(&format!("\"$IPCKIT\" shm -k {k} write <&-")), "stdin");
    failed_with(&bash(&format!("\"$IPCKIT\" shm -k {k} write 0>{f}")), "stdin");
    assert_eq!(seg.attach().unwrap().read_vec(0, 64).unwrap(), vec![b'x'; 64], "nothing was written");
}

// ----- 5. every key form in every option form -----------------------------------------

#[test]
fn negative_and_attached_keys_work_everywhere() {
    let g = KeyGuard::new();
    let (hex, dec) = (g.hex(), g.dec());
    assert!(dec.starts_with('-'), "{dec}");
    ok(&["mk", "-Q", "-k", &dec]);
    for form in [
        vec!["-k".to_string(), dec.clone()],
        vec![format!("-k{dec}")],
        vec![format!("-k={dec}")],
        vec![format!("--key={dec}")],
        vec!["--key".to_string(), dec.clone()],
        vec![format!("-k{hex}")],
        vec![format!("-k={hex}")],
    ] {
        let mut send: Vec<&str> = vec!["send"];
        send.extend(form.iter().map(String::as_str));
        send.push("DATA");
        ok(&send);
        let mut recv: Vec<&str> = vec!["recv"];
        recv.extend(form.iter().map(String::as_str));
        recv.push("--nowait");
        assert_eq!(ok(&recv), b"DATA", "{form:?}");
    }
    ok(&["mk", "-S", "1", "-k", &dec]);
    ok(&["mk", "-M", "64", "-k", &dec]);
    assert!(text(&ok(&["sem", "-k", &dec, "show"])).contains(&hex));
    assert!(text(&ok(&["sem", &format!("-k{dec}"), "get", "0"])).starts_with('0'));
    assert!(text(&ok(&["shm", "-k", &dec, "show"])).contains(&hex));
    assert!(
        text(&ok(&["shm", &format!("--key={dec}"), "read", "--len", "1", "--format", "hex"])).contains("00")
    );
    ok(&["rm", "-Q", &dec, "-S", &dec, "-M", &dec]);
}

#[test]
fn send_data_may_follow_dashes_after_a_double_dash() {
    let (g, q) = queue_with(&[]);
    ok(&["send", "-k", &g.hex(), "--", "-x", "y"]);
    let mut buf = [0u8; 8];
    let r = q.try_recv(&mut buf, Select::Any).unwrap();
    assert_eq!(&buf[..r.len], b"-x y");
}

// ----- 6. sizes from users never crash -------------------------------------------------

#[test]
fn huge_max_bytes_neither_panics_nor_aborts() {
    let (g, _q) = queue_with(&[b"a", b"b"]);
    for n in ["18446744073709551615", "99999999999"] {
        let out = run(&["recv", "-k", &g.hex(), "--max-bytes", n, "--nowait"], b"");
        assert!(out.status.success(), "--max-bytes {n}: {}", text(&out.stderr));
    }
}

#[test]
fn huge_bench_sizes_are_refused() {
    let out = run(&["bench", "-m", "pipe", "-s", "99999999999999", "--quick"], b"");
    failed_with(&out, "99999999999999");
}

// ----- 7. unbounded input stops at the limit ------------------------------------------

#[test]
fn send_from_an_endless_stdin_stops_at_msgmax() {
    let (g, q) = queue_with(&[]);
    let out = bash(&format!("\"$IPCKIT\" send -k {} < /dev/zero", g.hex()));
    failed_with(&out, "msgmax");
    assert_eq!(q.stat().unwrap().qnum, 0, "nothing was sent");
}

#[test]
fn shm_write_from_an_endless_stdin_stops_at_the_end_of_the_segment_and_writes_nothing() {
    let g = KeyGuard::new();
    let seg = ShmSegment::create(g.0, 10000, Mode::OWNER_RW).unwrap();
    seg.attach().unwrap().fill(0, 10000, b'x').unwrap();
    let out = bash(&format!("\"$IPCKIT\" shm -k {} write --offset 100 < /dev/zero", g.hex()));
    failed_with(&out, "9900");
    let data = seg.attach().unwrap().read_vec(0, 10000).unwrap();
    assert!(data.iter().all(|&b| b == b'x'), "nothing was written");
}

#[test]
fn shm_read_streams_a_segment_larger_than_the_memory_it_may_use() {
    let g = KeyGuard::new();
    const SIZE: usize = 192 << 20;
    let seg = ShmSegment::create(g.0, SIZE, Mode::OWNER_RW).unwrap();
    seg.attach().unwrap().fill(SIZE - 3, 3, b'z').unwrap();
    // The address space allows the attachment and the program, not a copy as well.
    let out = bash(&format!(
        "ulimit -v $(( ({SIZE} + (160 << 20)) / 1024 )); \"$IPCKIT\" shm -k {} read | tail -c 3",
        g.hex()
    ));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(out.stdout, b"zzz");
}

// ----- 8. objects go on SIGINT, SIGTERM and SIGHUP ------------------------------------

fn leaves_nothing_after(command: &str, signal: &str) {
    let out = in_namespace(
        &format!(
            r#"
            set -m
            $IPCKIT {command} > /dev/null 2>&1 & P=$!
            for i in $(seq 1000); do
                [ "$(ipcs -q -s -m | grep -c '^0x')" -gt 0 ] && echo "objects seen" && break; sleep 0.01
            done
            sleep 0.2
            kill -{signal} $P; wait $P; echo "exit $?"
            sleep 0.5
            ipcs -q -s -m | grep '^0x' || echo clean
            "#
        ),
        "UTC",
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("objects seen"), "{command} made nothing to clean up: {stdout}");
    assert!(
        stdout.trim_end().ends_with("clean"),
        "{command} after SIG{signal}: {stdout}{}",
        text(&out.stderr)
    );
    assert!(!stdout.contains("exit 0"), "a signal is not success: {stdout}");
}

#[test]
fn demo_removes_its_objects_on_sigint_sigterm_and_sighup() {
    if let Some(why) = no_util_linux() {
        skip!("{why}");
    }
    for signal in ["INT", "TERM", "HUP"] {
        leaves_nothing_after("demo ls --hold", signal);
    }
}

#[test]
fn bench_removes_its_objects_on_sigint_sigterm_and_sighup() {
    if let Some(why) = no_util_linux() {
        skip!("{why}");
    }
    for signal in ["INT", "TERM", "HUP"] {
        leaves_nothing_after("bench -m sysv-msg -m sysv-sem -m channel -s 64 --quick --rounds 50", signal);
    }
}

/// After SIGKILL nothing can clean up, but a segment marked for removal as soon as it
/// was attached is freed by the kernel with the last detach.
fn no_segment_survives_sigkill(command: &str) {
    let out = in_namespace(
        &format!(
            r#"
            set -m
            $IPCKIT {command} > /dev/null 2>&1 & P=$!
            for i in $(seq 1000); do
                [ "$(ipcs -m | grep -c '^0x')" -gt 0 ] && echo "segment seen" && break; sleep 0.01
            done
            sleep 0.1
            kill -KILL -- -$P; wait $P; echo "exit $?"
            for i in $(seq 500); do
                [ "$(ipcs -m | grep -c '^0x')" = 0 ] && break; sleep 0.01
            done
            echo "segments left: $(ipcs -m | grep -c '^0x')"
            "#
        ),
        "UTC",
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("segment seen") && stdout.contains("exit 137"), "{command}: {stdout}");
    assert!(stdout.contains("segments left: 0"), "{command}: {stdout}{}", text(&out.stderr));
}

#[test]
fn demo_and_bench_segments_do_not_survive_sigkill() {
    if let Some(why) = no_util_linux() {
        skip!("{why}");
    }
    no_segment_survives_sigkill("demo shm --workers 32");
    no_segment_survives_sigkill("bench -m sysv-sem -s 64 --quick --rounds 50");
}

// ----- 9. send -k 0 --create ------------------------------------------------------------

#[test]
fn send_to_a_private_key_is_refused_also_with_create() {
    let before = ipckit::registry::messages(ipckit::registry::Source::Auto).unwrap().len();
    for args in [&["send", "-k", "0", "--create", "x"][..], &["send", "-k", "0x0", "--create", "x"]] {
        failed_with(&run(args, b""), "IPC_PRIVATE");
    }
    let after = ipckit::registry::messages(ipckit::registry::Source::Auto).unwrap().len();
    // Other tests may add queues meanwhile; this only catches a leak when idle.
    if no_namespace().is_none() {
        let out = in_namespace("$IPCKIT send -k 0 --create x; ipcs -q | grep -c '^0x'", "UTC");
        assert_eq!(text(&out.stdout).trim(), "0", "{}", text(&out.stderr));
    } else {
        assert!(after <= before + 1);
    }
}

// ----- 10. semaphore operations say what they do ---------------------------------------

#[test]
fn sem_ops_without_effect_or_with_two_signs_are_refused() {
    let g = KeyGuard::new();
    let set = SemSet::create(g.0, &[0], Mode::OWNER_RW).unwrap();
    for op in ["0+0", "0-0", "0++1", "0--1", "0+-1", "0-+1", "0=+0", "0 +1"] {
        let out = run(&["sem", "-k", &g.hex(), "op", "--nowait", op], b"");
        assert_eq!(out.status.code(), Some(1), "{op}: {}", text(&out.stderr));
    }
    assert_eq!(set.values().unwrap(), [0], "nothing was applied");
    // Reported as malformed even where no set has the key.
    let out = run(&["sem", "-k", "0x7fffff01", "op", "0+0"], b"");
    failed_with(&out, "+0 and -0 do nothing");
    ok(&["sem", "-k", &g.hex(), "op", "0+2,0-1"]);
    assert_eq!(set.values().unwrap(), [1]);
}

// ----- 11. no Rust debug formatting in messages ----------------------------------------

#[test]
fn timeouts_are_reported_in_seconds() {
    let g = KeyGuard::new();
    let _set = SemSet::create(g.0, &[0], Mode::OWNER_RW).unwrap();
    let out = run(&["sem", "-k", &g.hex(), "op", "--timeout", "0.2", "0-1"], b"");
    failed_with(&out, "0.2 s");
    let out = run(&["sem", "-k", &g.hex(), "wait", "0", "--timeout", "0"], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (g2, _q) = queue_with(&[]);
    failed_with(&run(&["recv", "-k", &g2.hex(), "--timeout", "0.05"], b""), "0.05 s");
}

// ----- 12. mk -k on an existing object says what happened -----------------------------

#[test]
fn mk_with_the_key_of_an_existing_object_says_so() {
    let g = KeyGuard::new();
    ok(&["mk", "-M", "4096", "-k", &g.hex()]);
    let out = run(&["mk", "-M", "8192", "-k", &g.hex()], b"");
    failed_with(&out, "4096");
    assert!(text(&out.stderr).contains("exists"), "{}", text(&out.stderr));

    ok(&["mk", "-Q", "-k", &g.hex()]);
    let out = run(&["mk", "-Q", "-p", "666", "-k", &g.hex()], b"");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("exists") && err.contains("0600"),
        "the mode asked for is not silently dropped: {err}"
    );

    ok(&["mk", "-S", "2", "-k", &g.hex()]);
    failed_with(&run(&["mk", "-S", "3", "-k", &g.hex()], b""), "2 semaphores");
}

#[test]
fn mk_with_the_key_of_an_object_one_may_not_use_fails() {
    if ipckit::process::effective_uid() != 0 {
        skip!("needs root to run a command as nobody");
    }
    let g = KeyGuard::new();
    ok(&["mk", "-Q", "-k", &g.hex()]);
    ok(&["mk", "-M", "64", "-k", &g.hex()]);
    let key = g.hex();
    for what in [&["-Q"][..], &["-M", "64"]] {
        let mut args = vec!["--reuid=65534", "--regid=65534", "--clear-groups", bin(), "mk"];
        args.extend_from_slice(what);
        args.extend(["-p", "600", "-k", &key]);
        let out = Command::new("setpriv").args(&args).env("LC_ALL", "C").output().unwrap();
        failed_with(&out, "ermission denied");
        assert!(out.stdout.is_empty(), "no id is printed: {}", text(&out.stdout));
    }
}

// ----- the class of 9: an object whose id is printed nowhere is a leak -----------------

#[test]
fn mk_whose_id_cannot_be_printed_leaves_nothing() {
    if let Some(why) = no_namespace() {
        skip!("{why}");
    }
    // stdout is a pipe whose reader has gone; the report goes to stderr.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new("unshare")
        .args(["--ipc", "--", "bash", "-c"])
        .arg(
            r#"
            $IPCKIT mk -Q -S 1 -M 64 >&-; echo "closed $?" >&2
            $IPCKIT mk -Q -S 1 -M 64; echo "gone $?" >&2
            echo "left $(ipcs -q -s -m | grep -c '^0x')" >&2
            "#,
        )
        .env("IPCKIT", bin())
        .stdout(writer)
        .output()
        .unwrap();
    let err = text(&out.stderr);
    assert!(err.contains("closed 1") && err.contains("gone 1"), "{err}");
    assert!(err.contains("left 0"), "nothing is left: {err}");
}
