//! Opening FIFO ends: every outcome. Blocking opens that wait for the peer,
//! non-blocking opens (and `ENXIO` as `NoReader`), try/timeout opens that give up
//! cleanly, paths that are not FIFOs, symbolic links refused on request, read-write
//! opens, and unrelated processes meeting at a path.

use std::io::{ErrorKind as IoKind, Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::util::{fork, open_fds, role, serial, spawn_role, wait_ok};
use ipckit::fifo::Fifo;
use ipckit::{ErrorKind, Mode};

/// The roles a spawned (unrelated) process can play.
fn run_role(r: &[String]) {
    let path = Path::new(&r[1]);
    match r[0].as_str() {
        // Waits `delay` ms, opens for writing (waiting for a reader), writes `msg`.
        "write" => {
            std::thread::sleep(Duration::from_millis(r[3].parse().unwrap()));
            let mut w = Fifo::at(path).unwrap().open_write().unwrap();
            w.write_all(r[2].as_bytes()).unwrap();
        }
        // Waits `delay` ms, opens for reading (waiting for a writer), prints all it reads.
        "read" => {
            std::thread::sleep(Duration::from_millis(r[2].parse().unwrap()));
            let mut text = String::new();
            Fifo::at(path).unwrap().open_read().unwrap().read_to_string(&mut text).unwrap();
            println!("\nread: {text}");
        }
        // Opens for writing, writes nothing, and holds it open until stdin closes.
        "silent" => {
            let _w = Fifo::at(path).unwrap().open_write().unwrap();
            let mut sink = Vec::new();
            std::io::stdin().read_to_end(&mut sink).unwrap();
        }
        other => panic!("unknown role {other}"),
    }
}

fn new_fifo() -> (tempfile::TempDir, Fifo) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = Fifo::create(dir.path().join("fifo"), Mode::OWNER_RW).unwrap();
    (dir, fifo)
}

fn path_arg(f: &Fifo) -> &str {
    f.path().to_str().unwrap()
}

#[test]
fn opening_for_reading_waits_for_a_writer() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    assert!(fifo.try_open_read().unwrap_err().is_not_now(), "no writer yet");
    let mut writer = spawn_role(
        "opening_for_reading_waits_for_a_writer",
        &["write", path_arg(&fifo), "hello reader", "50"],
    )
    .stdout(Stdio::null())
    .spawn()
    .unwrap();
    // Blocks in open(O_RDONLY) until the writer (started later, in another process) opens.
    let mut r = fifo.open_read().unwrap();
    assert!(!r.is_nonblocking().unwrap());
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "hello reader");
    assert!(writer.wait().unwrap().success());
}

#[test]
fn opening_for_writing_waits_for_a_reader() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    assert!(fifo.try_open_write().unwrap_err().is_not_now(), "no reader yet");
    let reader = spawn_role("opening_for_writing_waits_for_a_reader", &["read", path_arg(&fifo), "50"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = fifo.open_write().unwrap();
    w.write_all(b"hello writer").unwrap();
    drop(w);
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("read: hello writer"));
}

#[test]
fn a_non_blocking_read_open_needs_no_writer_and_reads_eof_until_one_comes() {
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    let mut r = fifo.open_read_nonblocking().unwrap();
    assert!(r.is_nonblocking().unwrap());
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&mut buf).unwrap(), 0, "no writer has opened yet: end-of-file, not WouldBlock");
    // Now that a reader exists, a non-blocking writer can open.
    let w = fifo.open_write_nonblocking().unwrap();
    assert_eq!(r.read(&mut buf).unwrap_err().kind(), IoKind::WouldBlock, "a writer, but no data yet");
    w.write_atomic(b"data").unwrap();
    assert_eq!(r.read(&mut buf).unwrap(), 4);
}

#[test]
fn a_non_blocking_write_open_without_reader_is_no_reader() {
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    let e = fifo.open_write_nonblocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoReader);
    assert_eq!(e.raw_os_error(), Some(6), "ENXIO");
    let msg = e.to_string();
    assert!(msg.contains("no process has the FIFO open for reading") && msg.contains("ENXIO"), "{msg}");
    assert_eq!(std::io::Error::from(e).kind(), IoKind::NotConnected);
}

#[test]
fn a_path_that_is_not_a_fifo_is_refused_on_the_opened_descriptor() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let link_to_file = dir.path().join("link");
    std::os::unix::fs::symlink(&file, &link_to_file).unwrap();
    let cases: [(&Path, &str); 4] = [
        (&file, "a regular file"),
        (&link_to_file, "a regular file"),
        (dir.path(), "a directory"),
        (Path::new("/dev/null"), "a character device"),
    ];
    for (path, what) in cases {
        let f = Fifo::at(path).unwrap();
        let attempts = [
            ("open_read", f.open_read().map(drop)),
            ("open_read_nonblocking", f.open_read_nonblocking().map(drop)),
            ("open_read_timeout", f.open_read_timeout(Duration::from_millis(10)).map(drop)),
            ("try_open_read", f.try_open_read().map(drop)),
            ("open_write_nonblocking", f.open_write_nonblocking().map(drop)),
            ("try_open_write", f.try_open_write().map(drop)),
            ("open_read_write", f.open_read_write().map(drop)),
        ];
        for (how, r) in attempts {
            let e = r.expect_err(how);
            assert_eq!(e.kind(), ErrorKind::WrongType, "{how} on {}: {e}", path.display());
            assert!(e.to_string().contains(&format!("names {what}, not a FIFO")), "{how}: {e}");
        }
    }
}

#[test]
fn a_symbolic_link_is_followed_unless_refused() {
    let _g = serial();
    let (dir, fifo) = new_fifo();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(fifo.path(), &link).unwrap();
    // Followed by default.
    let via_link = Fifo::at(&link).unwrap();
    let r = via_link.open_read_nonblocking().unwrap();
    let w = fifo.open_write_nonblocking().unwrap();
    w.write_atomic(b"1").unwrap();
    assert_eq!(r.bytes_queued().unwrap(), 1);
    // Refused with nofollow, whatever the way of opening.
    let strict = Fifo::at(&link).unwrap().nofollow(true);
    for e in [
        strict.open_read_nonblocking().unwrap_err(),
        strict.open_write_nonblocking().unwrap_err(),
        strict.open_read_timeout(Duration::from_millis(10)).unwrap_err(),
        strict.open_write_timeout(Duration::from_millis(10)).unwrap_err(),
        strict.open_read_write().unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::WrongType);
        assert!(e.to_string().contains("symbolic link"), "{e}");
    }
    // The FIFO itself is fine with nofollow.
    Fifo::at(fifo.path()).unwrap().nofollow(true).open_read_nonblocking().unwrap();
}

#[test]
fn timed_opens_give_up_cleanly_without_a_peer() {
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    // Counted in a forked child, where no other test of the binary opens anything.
    wait_ok(fork(|| {
        let fds = open_fds();
        assert!(fifo.open_read_timeout(Duration::from_millis(30)).unwrap_err().is_not_now());
        assert!(fifo.open_write_timeout(Duration::from_millis(30)).unwrap_err().is_not_now());
        assert!(fifo.try_open_read().unwrap_err().is_not_now());
        assert!(fifo.try_open_write().unwrap_err().is_not_now());
        let soon = std::time::Instant::now() + Duration::from_millis(20);
        assert!(fifo.open_read_deadline(soon).unwrap_err().is_not_now());
        assert!(fifo.open_write_deadline(soon).unwrap_err().is_not_now());
        assert_eq!(open_fds(), fds, "a timed open left a descriptor open");
        0
    }));
    // (That no thread is left behind is checked in pipe_fd_leaks, a binary with a
    // single test, where the test harness starts no other thread meanwhile.)
    // And the FIFO is untouched: a later pair still meets.
    let r = fifo.open_read_nonblocking().unwrap();
    fifo.open_write_nonblocking().unwrap().write_atomic(b"ok").unwrap();
    assert_eq!(r.bytes_queued().unwrap(), 2);
}

#[test]
fn timed_opens_succeed_when_the_peer_arrives() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let test = "timed_opens_succeed_when_the_peer_arrives";
    let (_dir, fifo) = new_fifo();
    let mut child = spawn_role(test, &["write", path_arg(&fifo), "late writer", "100"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut r = fifo.open_read_timeout(Duration::from_secs(60)).expect("the writer came");
    assert!(!r.is_nonblocking().unwrap(), "the end is blocking after a timed open");
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "late writer");
    assert!(child.wait().unwrap().success());
    drop(r); // or the next writer would find us as its reader

    let reader = spawn_role(test, &["read", path_arg(&fifo), "100"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut w = fifo.open_write_timeout(Duration::from_secs(60)).expect("the reader came");
    assert!(!w.is_nonblocking().unwrap());
    w.write_all(b"late reader").unwrap();
    drop(w);
    let out = reader.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("read: late reader"));

    // A writer that opens and stays silent is found too (no data to wake the wait).
    let mut silent = spawn_role(test, &["silent", path_arg(&fifo)])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut r = fifo.open_read_timeout(Duration::from_secs(60)).expect("the silent writer came");
    drop(silent.stdin.take()); // let it go
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "", "end-of-file once the silent writer left");
    assert!(silent.wait().unwrap().success());
}

#[test]
fn try_opens_see_a_peer_waiting_in_open() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let test = "try_opens_see_a_peer_waiting_in_open";
    let (_dir, fifo) = new_fifo();
    // The writer opens at once and waits in open() for a reader.
    let mut child = spawn_role(test, &["write", path_arg(&fifo), "was waiting", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut r = loop {
        match fifo.try_open_read() {
            Ok(r) => break r,
            Err(e) => assert!(e.is_not_now(), "{e}"),
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "was waiting");
    assert!(child.wait().unwrap().success());
    drop(r); // or the next writer would find us as its reader

    let reader = spawn_role(test, &["read", path_arg(&fifo), "0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut w = loop {
        match fifo.try_open_write() {
            Ok(w) => break w,
            Err(e) => assert!(e.is_not_now(), "{e}"),
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    w.write_all(b"reader was waiting").unwrap();
    drop(w);
    let out = reader.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("read: reader was waiting"));
}

#[test]
fn a_read_write_open_never_waits_and_never_sees_end_of_file() {
    let _g = serial();
    let (_dir, fifo) = new_fifo();
    let (r, w) = fifo.open_read_write().unwrap();
    // We are a reader: a writer elsewhere can open without waiting.
    let other = fifo.open_write_nonblocking().unwrap();
    other.write_atomic(b"from other ").unwrap();
    drop(other);
    w.write_atomic(b"from self").unwrap();
    drop(w);
    let mut buf = vec![0u8; 20];
    (&r).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"from other from self");
    // Every other writer is gone, but the reader's own open file is a writer too.
    r.set_nonblocking(true).unwrap();
    assert_eq!((&r).read(&mut buf).unwrap_err().kind(), IoKind::WouldBlock);
}

#[test]
fn unrelated_processes_meet_at_the_path() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let test = "unrelated_processes_meet_at_the_path";
    let (_dir, fifo) = new_fifo();
    // Neither process is our fork: each was started from scratch (exec) and only
    // knows the path.
    let reader = spawn_role(test, &["read", path_arg(&fifo), "0"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut writer = spawn_role(test, &["write", path_arg(&fifo), "between strangers", "0"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(writer.wait().unwrap().success());
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("read: between strangers"));
}
