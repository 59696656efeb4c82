//! Unix sockets across real processes: the three types, the three kinds of address,
//! descriptor passing (many per message, MSG_CTRUNC, 10^5 without a leak), credentials
//! (also as `nobody`), pidfds, stale socket files.

use crate::util;

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::Duration;

use crate::util::{fork, serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::socket::{
    BindOptions, MAX_FDS_PER_MESSAGE, SeqpacketListener, UnixAddr, UnixDatagram, UnixListener, UnixSeqpacket,
    UnixStream,
};

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("ipckit-test-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[test]
fn stream_over_a_path_between_processes() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let listener = UnixListener::bind(&path).unwrap();
    let p2 = path.clone();
    let child = fork(|| {
        let s = UnixStream::connect(&p2).unwrap();
        s.send_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        s.recv_exact(&mut buf).unwrap();
        if &buf == b"pong" { 0 } else { 1 }
    });
    let s = listener.accept().unwrap();
    let cred = s.peer_credentials().unwrap();
    assert_eq!(cred.pid, child.pid());
    assert_eq!(cred.uid, ipckit::process::effective_uid());
    let mut buf = [0u8; 4];
    s.recv_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    s.send_all(b"pong").unwrap();
    wait_ok(child);
    assert_eq!(s.local_addr().unwrap(), UnixAddr::Path(path.clone()));
    drop(listener);
    assert!(!path.exists(), "the listener removes its socket file on drop");
}

#[test]
fn seqpacket_keeps_boundaries_over_an_abstract_name() {
    let _g = serial();
    let name = UnixAddr::abstract_name(unique("seq"));
    let listener = SeqpacketListener::bind(&name).unwrap();
    assert_eq!(listener.local_addr().unwrap(), name);
    let n2 = name.clone();
    let child = fork(|| {
        let s = UnixSeqpacket::connect(&n2).unwrap();
        for i in 0..5u8 {
            s.send(&vec![i; i as usize * 100]).unwrap();
        }
        s.send(b"").unwrap();
        0
    });
    let s = listener.accept().unwrap();
    let mut buf = vec![0u8; 1000];
    for i in 0..5u8 {
        let n = s.recv(&mut buf).unwrap();
        assert_eq!(n, i as usize * 100, "one message per recv");
        assert!(buf[..n].iter().all(|b| *b == i));
    }
    wait_ok(child);
    assert_eq!(s.peer_addr().unwrap(), UnixAddr::Unnamed);
}

#[test]
fn datagram_carries_sender_credentials_and_address() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let server_path = dir.path().join("srv");
    let client_path = dir.path().join("cli");
    let server = UnixDatagram::bind(&server_path).unwrap();
    server.set_pass_credentials(true).unwrap();
    let (sp, cp) = (server_path.clone(), client_path.clone());
    let child = fork(|| {
        let c = UnixDatagram::bind(&cp).unwrap();
        c.send_to(b"hello", &UnixAddr::Path(sp)).unwrap();
        0
    });
    let mut buf = [0u8; 64];
    let (got, from) = server.recv_from_fds(&mut buf, 0).unwrap();
    assert_eq!(&buf[..got.len], b"hello");
    let cred = got.credentials.expect("SO_PASSCRED attaches credentials");
    assert_eq!(cred.pid, child.pid());
    assert_eq!(cred.uid, ipckit::process::effective_uid());
    assert_eq!(cred.gid, ipckit::process::effective_gid());
    assert_eq!(from, UnixAddr::Path(client_path));
    wait_ok(child);
}

#[test]
fn a_datagram_longer_than_the_buffer_is_reported_truncated() {
    let _g = serial();
    let (a, b) = UnixDatagram::pair().unwrap();
    a.send(&[7u8; 100]).unwrap();
    let mut buf = [0u8; 10];
    let got = b.recv_fds(&mut buf, 0).unwrap();
    assert_eq!(got.len, 10);
    assert!(got.truncated);
}

#[test]
fn try_and_timeout_receive_say_not_now_as_errors() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(b.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(b.recv_timeout(&mut buf, Duration::from_millis(20)).unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(b.try_recv_fds(&mut buf, 2).unwrap_err().kind(), ErrorKind::WouldBlock);
    a.send(b"x").unwrap();
    assert_eq!(b.recv_timeout(&mut buf, Duration::from_secs(60)).unwrap(), 1);
    let dir = tempfile::tempdir().unwrap();
    let l = UnixListener::bind(dir.path().join("l")).unwrap();
    assert_eq!(l.try_accept().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(l.accept_timeout(Duration::from_millis(10)).unwrap_err().kind(), ErrorKind::TimedOut);
}

fn temp_file_with(text: &[u8]) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(text).unwrap();
    f
}

fn read_all_from(fd: OwnedFd) -> Vec<u8> {
    let mut f = std::fs::File::from(fd);
    f.rewind().unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn many_descriptors_in_one_message_arrive_in_order() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let files: Vec<_> =
        (0..MAX_FDS_PER_MESSAGE).map(|i| temp_file_with(format!("file {i}").as_bytes())).collect();
    let child = fork(|| {
        let mut buf = [0u8; 8];
        let got = b.recv_fds(&mut buf, MAX_FDS_PER_MESSAGE).unwrap();
        if got.fds.len() != MAX_FDS_PER_MESSAGE || &buf[..got.len] != b"files" {
            return 2;
        }
        for (i, fd) in got.fds.into_iter().enumerate() {
            let text = read_all_from(fd);
            if text != format!("file {i}").as_bytes() {
                return 3;
            }
        }
        0
    });
    let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
    a.send_fds(b"files", &fds).unwrap();
    wait_ok(child);
}

#[test]
fn more_than_scm_max_fd_is_refused_before_sending() {
    let _g = serial();
    let (a, _b) = UnixSeqpacket::pair().unwrap();
    let f = tempfile::tempfile().unwrap();
    let fds: Vec<_> = (0..MAX_FDS_PER_MESSAGE + 1).map(|_| f.as_fd()).collect();
    let err = a.send_fds(b"x", &fds).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert!(err.to_string().contains("SCM_MAX_FD"), "{err}");
}

#[test]
fn descriptors_on_a_stream_need_a_byte() {
    let _g = serial();
    let (a, _b) = UnixStream::pair().unwrap();
    let f = tempfile::tempfile().unwrap();
    let err = a.send_fds(b"", &[f.as_fd()]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

#[test]
fn msg_ctrunc_closes_what_arrived_and_leaks_nothing() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let files: Vec<_> = (0..10).map(|_| tempfile::tempfile().unwrap()).collect();
    let child = fork(|| {
        let fds: Vec<_> = files.iter().map(|f| f.as_fd()).collect();
        a.send_fds(b"ten", &fds).unwrap();
        a.send_fds(b"one", &fds[..1]).unwrap();
        0
    });
    drop(a);
    wait_ok(child);
    let before = util::open_fds();
    let mut buf = [0u8; 8];
    let err = b.recv_fds(&mut buf, 3).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::LimitExceeded);
    assert!(err.to_string().contains("MSG_CTRUNC"), "{err}");
    assert_eq!(util::open_fds(), before, "the descriptors that arrived were closed");
    // The next message is intact.
    let got = b.recv_fds(&mut buf, 3).unwrap();
    assert_eq!(&buf[..got.len], b"one");
    assert_eq!(got.fds.len(), 1);
}

#[test]
fn received_descriptors_are_close_on_exec() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let f = tempfile::tempfile().unwrap();
    a.send_fds(b"f", &[f.as_fd()]).unwrap();
    let mut buf = [0u8; 1];
    let got = b.recv_fds(&mut buf, 1).unwrap();
    let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", got.fds[0].as_raw_fd())).unwrap();
    let line = flags.lines().find(|l| l.starts_with("flags:")).unwrap();
    let octal = u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap();
    assert_ne!(octal & 0o2000000, 0, "O_CLOEXEC set: {line}");
}

/// 10^5 descriptors, one per message, from one process to another; neither side's
/// `/proc/self/fd` changes.
#[test]
fn a_hundred_thousand_descriptors_leak_none() {
    let _g = serial();
    const N: usize = 100_000;
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let (report_r, report_w) = UnixStream::pair().unwrap();
    let child = fork(|| {
        let before = util::fd_count();
        let mut buf = [0u8; 8];
        for i in 0..N {
            let got = b.recv_fds(&mut buf, 1).unwrap();
            if got.fds.len() != 1 || buf[..got.len] != (i as u64).to_le_bytes() {
                return 2;
            }
        }
        let after = util::fd_count();
        report_w.send_all(&(before as u64).to_le_bytes()).unwrap();
        report_w.send_all(&(after as u64).to_le_bytes()).unwrap();
        0
    });
    drop(b);
    drop(report_w);
    // The sender is a forked child too: its descriptor table is its own, while this
    // test process's changes with whatever the other tests of this binary open.
    let sender = fork(|| {
        let f = tempfile::tempfile().unwrap();
        let before = util::fd_count();
        for i in 0..N {
            a.send_fds(&(i as u64).to_le_bytes(), &[f.as_fd()]).unwrap();
        }
        if util::fd_count() == before { 0 } else { 3 }
    });
    drop(a);
    let mut counts = [0u8; 16];
    report_r.recv_exact(&mut counts).unwrap();
    wait_ok(child);
    let status = sender.wait().unwrap();
    assert_eq!(status.code(), Some(0), "sender: no descriptor left behind (exit 3 if one was)");
    let child_before = u64::from_le_bytes(counts[..8].try_into().unwrap());
    let child_after = u64::from_le_bytes(counts[8..].try_into().unwrap());
    assert_eq!(child_before, child_after, "receiver: no descriptor left behind");
}

#[test]
fn credentials_of_a_peer_running_as_nobody() {
    require_root!();
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    // The child, as nobody, must be able to reach the socket.
    let mut perms = std::fs::metadata(dir.path()).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(dir.path(), perms).unwrap();
    let path = dir.path().join("s");
    let listener = UnixListener::bind(&path).unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o777);
    std::fs::set_permissions(&path, perms).unwrap();
    const NOBODY: u32 = 65534;
    let p2 = path.clone();
    // A datagram server learns each sender from the message itself (SCM_CREDENTIALS).
    let dgram = UnixDatagram::bind(UnixAddr::abstract_name(unique("nobody"))).unwrap();
    dgram.set_pass_credentials(true).unwrap();
    let dgram_addr = dgram.local_addr().unwrap();
    let child = fork(|| {
        ipckit::process::set_ids(NOBODY, NOBODY).unwrap();
        let s = UnixStream::connect(&p2).unwrap();
        s.send_all(b"x").unwrap();
        UnixDatagram::unbound().unwrap().send_to(b"from nobody", &dgram_addr).unwrap();
        0
    });
    let s = listener.accept().unwrap();
    let cred = s.peer_credentials().unwrap();
    assert_eq!((cred.pid, cred.uid, cred.gid), (child.pid(), NOBODY, NOBODY));
    let mut buf = [0u8; 32];
    let got = dgram.recv_fds(&mut buf, 0).unwrap();
    assert_eq!(&buf[..got.len], b"from nobody");
    let c = got.credentials.expect("SCM_CREDENTIALS");
    assert_eq!((c.pid, c.uid, c.gid), (child.pid(), NOBODY, NOBODY));
    let mut buf = [0u8; 1];
    s.recv_exact(&mut buf).unwrap();
    wait_ok(child);
}

#[test]
fn peer_pidfd_names_the_peer_where_the_kernel_has_it() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let child = fork(|| {
        let mut buf = [0u8; 1];
        let _ = b.recv(&mut buf);
        0
    });
    // A pair's credentials are those of the process that made it.
    match a.peer_pidfd().unwrap() {
        Some(pidfd) => {
            let info = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", pidfd.as_raw_fd())).unwrap();
            let pid_line = info.lines().find(|l| l.starts_with("Pid:")).expect("a pidfd shows Pid:");
            assert_eq!(pid_line.split_whitespace().nth(1).unwrap(), std::process::id().to_string());
        }
        None => eprintln!("SKIPPED part: no SO_PEERPIDFD on this kernel"),
    }
    a.send(b"x").unwrap();
    wait_ok(child);
}

#[test]
fn a_stale_socket_file_is_explained_and_replaced_only_on_request() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale");
    let mut l = UnixListener::bind(&path).unwrap();
    l.keep_file();
    drop(l); // the file stays, nothing listens: stale
    let err = UnixListener::bind(&path).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    let msg = err.to_string();
    assert!(
        msg.contains("stale") && msg.contains("remove the file") && msg.contains("replace_stale"),
        "{msg}"
    );
    let l = UnixListener::bind_with(&path, BindOptions::new().replace_stale(true)).unwrap();
    // A live listener is never displaced.
    let err = UnixListener::bind_with(&path, BindOptions::new().replace_stale(true)).unwrap_err();
    assert!(err.to_string().contains("listening"), "{err}");
    // The probe that found it live was a connection, closed at once.
    let probe = l.accept().unwrap();
    assert_eq!(probe.recv(&mut [0u8; 1]).unwrap(), 0);
    let c = UnixStream::connect(&path).unwrap();
    let s = l.accept().unwrap();
    c.send_all(b"ok").unwrap();
    let mut buf = [0u8; 2];
    s.recv_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ok");
}

#[test]
fn replace_stale_leaves_a_regular_file_alone() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plain");
    std::fs::write(&path, b"data").unwrap();
    let err = UnixListener::bind_with(&path, BindOptions::new().replace_stale(true)).unwrap_err();
    assert_eq!(std::fs::read(&path).unwrap(), b"data", "{err}");
}

#[test]
fn connecting_to_nothing_says_so() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let err = UnixStream::connect(dir.path().join("none")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let err = UnixStream::connect(UnixAddr::abstract_name(unique("none"))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    let long = dir.path().join("x".repeat(200));
    let err = UnixStream::connect(&long).unwrap_err();
    assert!(err.to_string().contains("107"), "{err}");
}

#[test]
fn from_fd_checks_the_socket_type() {
    let _g = serial();
    let (a, _b) = UnixDatagram::pair().unwrap();
    let err = UnixStream::from_fd(OwnedFd::from(a)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    let f = tempfile::tempfile().unwrap();
    let err = UnixSeqpacket::from_fd(f.into()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
}

#[test]
fn std_sockets_convert_both_ways() {
    let _g = serial();
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let a = UnixStream::from(a);
    a.send_all(b"std").unwrap();
    let mut b = b;
    let mut buf = [0u8; 3];
    b.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"std");
    let back: std::os::unix::net::UnixStream = a.into();
    drop(back);
}
