//! Async FIFO ends (feature `tokio`): a reader opened before any writer waits for one
//! without blocking the thread; a writer waits asynchronously for a reader.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};
use std::process::Stdio;
use std::time::Duration;

use crate::util::{fork, open_fds, role, serial, spawn_role, wait_ok};
use ipckit::Mode;
use ipckit::fifo::Fifo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn run_role(r: &[String]) {
    let fifo = Fifo::at(&r[1]).unwrap();
    std::thread::sleep(Duration::from_millis(r[2].parse().unwrap()));
    match r[0].as_str() {
        "write" => fifo.open_write().unwrap().write_all(r[3].as_bytes()).unwrap(),
        "read" => {
            let mut text = String::new();
            fifo.open_read().unwrap().read_to_string(&mut text).unwrap();
            println!("\nread: {text}");
        }
        other => panic!("unknown role {other}"),
    }
}

#[test]
fn an_async_reader_waits_for_a_writer_that_comes_later() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let fifo = Fifo::create(dir.path().join("f"), Mode::OWNER_RW).unwrap();
    let path = fifo.path().to_str().unwrap().to_string();
    let test = "an_async_reader_waits_for_a_writer_that_comes_later";
    let (text, ticks) = runtime().block_on(async {
        // Opened before any writer exists: returns at once.
        let mut r = fifo.open_read_async().unwrap();
        let mut writer =
            spawn_role(test, &["write", &path, "200", "async hello"]).stdout(Stdio::null()).spawn().unwrap();
        // Meanwhile the thread is free: a ticker task runs while the read waits.
        let ticker = tokio::spawn(async {
            let mut n = 0u32;
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                n += 1;
                if n == 10 {
                    return n;
                }
            }
        });
        let mut text = String::new();
        r.read_to_string(&mut text).await.unwrap();
        assert!(writer.wait().unwrap().success());
        (text, ticker.await.unwrap())
    });
    assert_eq!(text, "async hello");
    assert_eq!(ticks, 10);
}

#[test]
fn an_async_writer_waits_for_a_reader() {
    if let Some(r) = role() {
        return run_role(&r);
    }
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let fifo = Fifo::create(dir.path().join("f"), Mode::OWNER_RW).unwrap();
    let path = fifo.path().to_str().unwrap().to_string();
    let reader = spawn_role("an_async_writer_waits_for_a_reader", &["read", &path, "100"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    runtime().block_on(async {
        let mut w = fifo.open_write_async().await.unwrap();
        w.write_all(b"to a late reader").await.unwrap();
    });
    let out = reader.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("read: to a late reader"));
}

#[test]
fn an_abandoned_async_open_leaves_nothing_open() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let fifo = Fifo::create(dir.path().join("f"), Mode::OWNER_RW).unwrap();
    // Counted in a forked child, where no other test of the binary opens anything.
    wait_ok(fork(|| {
        let rt = runtime();
        let before = open_fds();
        rt.block_on(async {
            let r = tokio::time::timeout(Duration::from_millis(30), fifo.open_write_async()).await;
            assert!(r.is_err(), "no reader: the open must still be waiting when the time runs out");
        });
        assert_eq!(open_fds(), before);
        0
    }));
}
