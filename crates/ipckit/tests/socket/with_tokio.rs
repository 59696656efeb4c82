//! Async stream and seqpacket ends (feature `tokio`) against a blocking peer in
//! another process, with descriptors and handles.
#![cfg(feature = "tokio")]

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;

use crate::util::{fork, serial, wait_ok};
use ipckit::pipe::{self, PipeWriter};
use ipckit::socket::{UnixSeqpacket, UnixStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn async_seqpacket_receives_descriptors_from_another_process() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let child = fork(|| {
        for i in 0..50u32 {
            let mut f = tempfile::tempfile().unwrap();
            write!(f, "file {i}").unwrap();
            a.send_fds(&i.to_le_bytes(), &[f.as_fd()]).unwrap();
        }
        let (_r, w) = pipe::pipe().unwrap();
        a.send_handle(&w).unwrap();
        0
    });
    runtime().block_on(async {
        let b = b.into_async().unwrap();
        let mut buf = [0u8; 4];
        for i in 0..50u32 {
            let got = b.recv_fds(&mut buf, 2).await.unwrap();
            assert_eq!(&buf[..got.len], &i.to_le_bytes());
            assert_eq!(got.fds.len(), 1);
            let mut f = std::fs::File::from(got.fds.into_iter().next().unwrap());
            f.rewind().unwrap();
            let mut s = String::new();
            f.read_to_string(&mut s).unwrap();
            assert_eq!(s, format!("file {i}"));
        }
        let _w: PipeWriter = b.recv_handle().await.unwrap();
    });
    wait_ok(child);
}

#[test]
fn async_stream_reads_and_writes_with_another_process() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let child = fork(|| {
        let mut buf = [0u8; 5];
        a.recv_exact(&mut buf).unwrap();
        a.send_all(&buf).unwrap();
        let f = tempfile::tempfile().unwrap();
        a.send_fds(b"x", &[f.as_fd()]).unwrap();
        0
    });
    drop(a); // the child's copy is the only one left: its exit is end-of-file
    runtime().block_on(async {
        let mut b = b.into_async().unwrap();
        b.write_all(b"hello").await.unwrap();
        let mut buf = [0u8; 5];
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        let mut one = [0u8; 1];
        let got = b.recv_fds(&mut one, 1).await.unwrap();
        assert_eq!((got.len, got.fds.len()), (1, 1));
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
    });
    wait_ok(child);
}

#[test]
fn into_async_outside_a_runtime_is_an_error() {
    let (a, _b) = UnixStream::pair().unwrap();
    let err = a.into_async().unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}
