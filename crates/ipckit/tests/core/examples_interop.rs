//! The seed's programs as examples, against the same programs written in C.
//!
//! `msg_receiver`/`msg_sender` talk through a queue keyed by `ftok`, in every pairing of
//! Rust and C; `shm_counter` instances in Rust and C increment one counter under one
//! semaphore at the same time and never lose an increment.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::util::{KeyDir, cc, compile_c_file, example_bin};
use ipckit::sysv::msg::MsgQueue;
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{ErrorKind, Key, Mode};

#[derive(Clone, Copy, Debug)]
enum Side {
    Rust,
    C,
}

struct Programs {
    receiver: [PathBuf; 2],
    sender: [PathBuf; 2],
}

fn programs(dir: &Path) -> Programs {
    Programs {
        receiver: [example_bin("msg_receiver"), compile_c_file(dir, "msg_rcver")],
        sender: [example_bin("msg_sender"), compile_c_file(dir, "msg_snder")],
    }
}

fn pick(paths: &[PathBuf; 2], side: Side) -> &Path {
    match side {
        Side::Rust => &paths[0],
        Side::C => &paths[1],
    }
}

/// Waits until the queue with `key` exists (the receiver made it).
fn wait_for_queue(key: Key) {
    let start = std::time::Instant::now();
    while let Err(e) = MsgQueue::open(key) {
        assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
        assert!(start.elapsed() < Duration::from_secs(120), "the receiver never created the queue");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn exchange(progs: &Programs, kd: &KeyDir, proj: &str, rx: Side, tx: Side, name: &str) -> Output {
    let path = kd.path();
    let receiver = Command::new(pick(&progs.receiver, rx))
        .arg(path)
        .arg(proj)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let key = Key::ftok(path, Key::parse_project_id(proj).unwrap()).unwrap();
    wait_for_queue(key);
    let sent =
        Command::new(pick(&progs.sender, tx)).arg(path).arg(proj).args([name, "90", "-7"]).output().unwrap();
    assert!(sent.status.success(), "{tx:?} sender: {}", String::from_utf8_lossy(&sent.stderr));
    let out = receiver.wait_with_output().unwrap();
    assert!(out.status.success(), "{rx:?} receiver: {}", String::from_utf8_lossy(&out.stderr));
    // The receiver created the queue, so it removed it.
    assert_eq!(MsgQueue::open(key).unwrap_err().kind(), ErrorKind::NotFound);
    out
}

#[test]
fn messages_between_rust_and_c_in_every_pairing() {
    if cc().is_none() {
        skip!("no C compiler to build the C counterparts");
    }
    let kd = KeyDir::new();
    let progs = programs(kd.dir.path());
    // Each pairing uses its own project id, hence its own key.
    for (i, (rx, tx)) in
        [(Side::Rust, Side::C), (Side::C, Side::Rust), (Side::Rust, Side::Rust), (Side::C, Side::C)]
            .into_iter()
            .enumerate()
    {
        let proj = ["R", "c", "0x51", "82"][i];
        let out = exchange(&progs, &kd, proj, rx, tx, "张三");
        assert_eq!(
            String::from_utf8(out.stdout).unwrap(),
            "name=张三 math=90 chinese=-7\n",
            "receiver {rx:?}, sender {tx:?}"
        );
    }
}

#[test]
fn the_sender_refuses_bad_input_clearly() {
    let kd = KeyDir::new();
    let sender = example_bin("msg_sender");
    let run = |args: &[&str]| Command::new(&sender).arg(kd.path()).args(args).output().unwrap();
    let out = run(&["a", "x", "1", "2"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no object has this key"), "{out:?}");
    let out = run(&["a", "x", "one", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("MATH must be an integer"), "{out:?}");
    let out = run(&["a", &"n".repeat(32), "1", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("at most 31 bytes"), "{out:?}");
    let out = run(&["999", "x", "1", "2"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0-255"), "{out:?}");
    let out = Command::new(&sender).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: msg_sender PATH PROJ NAME MATH CHINESE"));
}

#[test]
fn rust_and_c_counters_share_one_locked_counter() {
    if cc().is_none() {
        skip!("no C compiler to build the C counterpart");
    }
    const ROUNDS: u64 = 3000;
    let kd = KeyDir::new();
    let c_counter = compile_c_file(kd.dir.path(), "shm_counter");
    let rust_counter = example_bin("shm_counter");
    // The segment and the set share one key, as the programs expect.
    let key = kd.key(b'k');
    let mut seg = ShmSegment::create(key, 8, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let mut lock = SemSet::create(key, &[1], Mode::OWNER_RW).unwrap();
    lock.set_remove_on_drop(true).unwrap();
    // The Rust side takes any key form; give it PATH:PROJ, and the C side the number.
    let rust_key = format!("{}:k", kd.path().display());
    let c_key = key.to_string();
    let children: Vec<_> = (0..6)
        .map(|i| {
            let (prog, key) = if i % 2 == 0 { (&rust_counter, &rust_key) } else { (&c_counter, &c_key) };
            Command::new(prog).arg(key).arg(ROUNDS.to_string()).stderr(Stdio::piped()).spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let mem = seg.attach_read_only().unwrap();
    assert_eq!(u64::from_ne_bytes(mem.read_vec(0, 8).unwrap().try_into().unwrap()), 6 * ROUNDS);
    assert_eq!(lock.value(0).unwrap(), 1, "the lock is free at the end");
}

#[test]
fn a_killed_counter_does_not_block_the_others() {
    let kd = KeyDir::new();
    let counter = example_bin("shm_counter");
    let key = kd.key(b'K');
    let mut seg = ShmSegment::create(key, 8, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let mut lock = SemSet::create(key, &[1], Mode::OWNER_RW).unwrap();
    lock.set_remove_on_drop(true).unwrap();
    let k = key.to_string();
    // A counter that would run for a long time, killed while it works.
    let mut long = Command::new(&counter).args([&k, "100000000"]).spawn().unwrap();
    let start = std::time::Instant::now();
    while seg.attach_read_only().unwrap().read_vec(0, 8).unwrap() == [0; 8] {
        assert!(start.elapsed() < Duration::from_secs(120), "the counter never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    long.kill().unwrap();
    long.wait().unwrap();
    // Whether or not it held the lock when it died, SEM_UNDO gave it back.
    assert_eq!(lock.value(0).unwrap(), 1);
    let out = Command::new(&counter).args([&k, "100"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
