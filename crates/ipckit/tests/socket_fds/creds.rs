//! Descriptors and credentials in one message: the receive makes room for
//! credentials only when `SO_PASSCRED` is on, and still gets every descriptor and the
//! sender's credentials exactly, whichever handle turned credentials on; an overflow
//! by a single descriptor is refused and closes what arrived.

use crate::util;

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, OwnedFd};

use crate::util::{fork, serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::socket::{INLINE_FDS, UnixDatagram, UnixSeqpacket, UnixStream};

fn file_with(text: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(text).unwrap();
    f
}

fn read_all(fd: OwnedFd) -> Vec<u8> {
    let mut f = std::fs::File::from(fd);
    f.rewind().unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

/// A forked child sends `n` files (holding "file I") on `tx` with the payload "fds".
fn send_files(tx: UnixSeqpacket, n: usize) -> ipckit::process::Child {
    let files: Vec<_> = (0..n).map(|i| file_with(format!("file {i}").as_bytes())).collect();
    fork(move || {
        let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
        match tx.send_fds(b"fds", &fds) {
            Ok(3) => 0,
            _ => 2,
        }
    })
}

fn check_files(got: ipckit::socket::Received, buf: &[u8], n: usize) {
    assert_eq!(&buf[..got.len], b"fds");
    assert_eq!(got.fds.len(), n);
    for (i, fd) in got.fds.into_iter().enumerate() {
        assert_eq!(read_all(fd), format!("file {i}").as_bytes());
    }
}

#[test]
fn descriptors_and_credentials_arrive_together() {
    let _g = serial();
    for n in [1, INLINE_FDS, INLINE_FDS + 1, 40] {
        let (a, b) = UnixSeqpacket::pair().unwrap();
        b.set_pass_credentials(true).unwrap();
        let child = send_files(a, n);
        let mut buf = [0u8; 8];
        let got = b.recv_fds(&mut buf, n).unwrap();
        let cred = got.credentials.expect("credentials with SO_PASSCRED on");
        assert_eq!(cred.pid, child.pid(), "{n} descriptors");
        check_files(got, &buf, n);
        wait_ok(child);
    }
}

#[test]
fn credentials_turned_on_through_a_clone_reach_every_handle() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let clone = b.try_clone().unwrap();
    clone.set_pass_credentials(true).unwrap();
    let child = send_files(a, 2);
    let mut buf = [0u8; 8];
    let got = b.recv_fds(&mut buf, 2).unwrap();
    assert_eq!(got.credentials.map(|c| c.pid), Some(child.pid()));
    check_files(got, &buf, 2);
    wait_ok(child);
}

#[test]
fn a_wrapped_descriptor_with_credentials_on_makes_room() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    b.set_pass_credentials(true).unwrap();
    // The flag lives on the socket; a new handle made from the bare descriptor learns
    // it from the kernel.
    let b = UnixSeqpacket::from_fd(OwnedFd::from(b)).unwrap();
    let child = send_files(a, 3);
    let mut buf = [0u8; 8];
    let got = b.recv_fds(&mut buf, 3).unwrap();
    assert_eq!(got.credentials.map(|c| c.pid), Some(child.pid()));
    check_files(got, &buf, 3);
    wait_ok(child);

    // The same for a standard-library stream.
    let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
    UnixStream::from(y.try_clone().unwrap()).set_pass_credentials(true).unwrap();
    let y = UnixStream::from(y);
    let x = UnixStream::from(x);
    let f = file_with(b"std");
    x.send_fds(b"s", &[f.as_fd()]).unwrap();
    let mut buf = [0u8; 1];
    let got = y.recv_fds(&mut buf, 1).unwrap();
    assert_eq!(got.credentials.map(|c| c.pid), Some(std::process::id()));
    assert_eq!(read_all(got.fds.into_iter().next().unwrap()), b"std");
}

#[test]
fn credentials_turned_off_again_are_not_reported() {
    let _g = serial();
    let (a, b) = UnixDatagram::pair().unwrap();
    b.set_pass_credentials(true).unwrap();
    b.set_pass_credentials(false).unwrap();
    let f = file_with(b"x");
    a.send_fds(b"d", &[f.as_fd()]).unwrap();
    let mut buf = [0u8; 1];
    let got = b.recv_fds(&mut buf, 1).unwrap();
    assert_eq!((got.len, got.fds.len(), got.credentials), (1, 1, None));
}

/// One descriptor more than asked for, with and without credentials: refused, what
/// arrived is closed, the next message is intact.
#[test]
fn one_descriptor_too_many_is_refused_and_closed() {
    let _g = serial();
    for creds in [false, true] {
        for (sent, room) in [(2, 1), (3, 2), (INLINE_FDS + 1, INLINE_FDS)] {
            let (a, b) = UnixSeqpacket::pair().unwrap();
            b.set_pass_credentials(creds).unwrap();
            let child = send_files(a.try_clone().unwrap(), sent);
            wait_ok(child);
            let child = send_files(a, 1);
            wait_ok(child);
            let before = util::open_fds();
            let mut buf = [0u8; 8];
            let err = b.recv_fds(&mut buf, room).unwrap_err();
            assert_eq!(
                err.kind(),
                ErrorKind::LimitExceeded,
                "{sent} into {room}, credentials {creds}: {err}"
            );
            assert!(err.to_string().contains("MSG_CTRUNC"), "{err}");
            assert_eq!(util::open_fds(), before, "{sent} into {room}: what arrived was closed");
            let got = b.recv_fds(&mut buf, room).unwrap();
            assert_eq!(got.credentials.is_some(), creds);
            check_files(got, &buf, 1);
        }
    }
}
