//! Async pipe ends (feature `tokio`): `AsyncRead`/`AsyncWrite` across processes,
//! broken pipes, and atomic frames from concurrent tasks.
#![cfg(feature = "tokio")]

use std::io::{Read, Write};

use crate::util::{serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::pipe::{self, PIPE_BUF, PipeOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

#[test]
fn async_ends_read_and_write_across_processes() {
    let _g = serial();
    let data = pattern(1024 * 1024 + 3);
    // A synchronous child writes; the parent reads asynchronously.
    // SAFETY: other tests are held off by `serial`; the child makes system calls only.
    let (child, r) = unsafe {
        pipe::fork_from_child(|mut w| match w.write_all(&data) {
            Ok(()) => 0,
            Err(_) => 1,
        })
    }
    .unwrap();
    let got = runtime().block_on(async {
        let mut r = r.into_async().unwrap();
        assert!(r.get_ref().is_nonblocking().unwrap());
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.unwrap();
        got
    });
    wait_ok(child);
    assert!(got == data);

    // The parent writes asynchronously; a synchronous child reads to end-of-file.
    // SAFETY: as above.
    let (child, w) = unsafe {
        pipe::fork_to_child(|mut r| {
            let mut all = Vec::new();
            match r.read_to_end(&mut all) {
                Ok(_) if all == data => 0,
                _ => 1,
            }
        })
    }
    .unwrap();
    runtime().block_on(async {
        let mut w = w.into_async().unwrap();
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    }); // dropped: end-of-file for the child
    wait_ok(child);
}

#[test]
fn an_async_write_without_reader_is_broken_pipe() {
    let _g = serial();
    runtime().block_on(async {
        let (r, w) = pipe::pipe().unwrap();
        let mut w = w.into_async().unwrap();
        drop(r);
        let e = w.write_all(b"nobody listens").await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
        assert_eq!(w.write_atomic(b"frame").await.unwrap_err().kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn async_atomic_frames_from_concurrent_tasks_never_interleave() {
    let _g = serial();
    const TASKS: u8 = 4;
    const FRAMES: u16 = 300;
    runtime().block_on(async {
        // A small pipe, so that writers wait for room all the time.
        let (r, w) = PipeOptions::new().capacity(8192).create().unwrap();
        let mut writers = Vec::new();
        for t in 0..TASKS {
            let w = w.try_clone().unwrap().into_async().unwrap();
            writers.push(tokio::spawn(async move {
                for seq in 0..FRAMES {
                    // [len: u16][task: u8][seq: u16][body: the task's id, repeated]
                    let len = 5 + (usize::from(seq) * 37 + usize::from(t) * 1000) % (PIPE_BUF - 5 + 1);
                    let mut frame = vec![t; len];
                    frame[..2].copy_from_slice(&(len as u16).to_le_bytes());
                    frame[2] = t;
                    frame[3..5].copy_from_slice(&seq.to_le_bytes());
                    w.write_atomic(&frame).await.unwrap();
                }
            }));
        }
        drop(w);
        let mut r = r.into_async().unwrap();
        let mut next = [0u16; TASKS as usize];
        let mut header = [0u8; 5];
        while r.read_exact(&mut header[..1]).await.is_ok() {
            r.read_exact(&mut header[1..]).await.unwrap();
            let len = usize::from(u16::from_le_bytes([header[0], header[1]]));
            let t = header[2];
            let seq = u16::from_le_bytes([header[3], header[4]]);
            assert!((5..=PIPE_BUF).contains(&len) && t < TASKS, "a broken header: frames interleaved");
            let mut body = vec![0u8; len - 5];
            r.read_exact(&mut body).await.unwrap();
            assert!(body.iter().all(|&b| b == t), "a frame mixes bytes of several writers");
            assert_eq!(seq, next[t as usize], "task {t}: out of order");
            next[t as usize] += 1;
        }
        for h in writers {
            h.await.unwrap();
        }
        assert_eq!(next, [FRAMES; TASKS as usize]);
    });
}

#[test]
fn into_async_outside_a_runtime_is_an_error_not_a_panic() {
    let _g = serial();
    let (r, _w) = pipe::pipe().unwrap();
    let e = r.into_async().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("tokio runtime"), "{e}");
}
