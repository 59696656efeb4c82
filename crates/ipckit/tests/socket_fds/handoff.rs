//! Every ipckit handle that owns a descriptor, handed over a Unix socket to an
//! unrelated process (spawned, not forked: it inherits nothing) and used there; wrong
//! kinds refused with their descriptor closed.

use crate::util;

use std::io::{Read, Write};
use std::os::fd::AsFd;

use crate::util::{role, serial, spawn_role};
use ipckit::channel::{Channel, ChannelConfig};
use ipckit::fifo::Fifo;
use ipckit::pipe::{self, PipeReader, PipeWriter};
use ipckit::posix::mq::{MsgQueue, QueueAttr};
use ipckit::posix::shm::ShmObject;
use ipckit::socket::{Framed, UnixListener, UnixSeqpacket, UnixStream};
use ipckit::{ErrorKind, Mode};

const CHILD_TEST: &str = "every_handle_type_is_used_by_a_spawned_process";
const CHANNEL_MESSAGES: u32 = 1000;

fn unique(tag: &str) -> String {
    format!("/ipckit-test-{tag}-{}", std::process::id())
}

/// The spawned side: receives each handle in turn, uses it, and reports on a frame.
fn child(path: &str) {
    let s = UnixStream::connect(path).unwrap();
    let mut report = Framed::new(s.try_clone().unwrap()).unwrap();

    let mut w: PipeWriter = s.recv_handle().unwrap();
    w.write_all(b"pipe writer used by the child").unwrap();
    drop(w);

    let mut r: PipeReader = s.recv_handle().unwrap();
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    report.send(text.as_bytes()).unwrap();

    let mut fifo_w: PipeWriter = s.recv_handle().unwrap();
    fifo_w.write_all(b"fifo end used by the child").unwrap();
    drop(fifo_w);

    let memfd: ShmObject = s.recv_handle().unwrap();
    memfd.map().unwrap().write_at(0, b"memfd written by the child").unwrap();

    let named: ShmObject = s.recv_handle().unwrap();
    let mut buf = [0u8; 20];
    named.map().unwrap().read_at(0, &mut buf).unwrap();
    report.send(&buf).unwrap();

    let mq: MsgQueue = s.recv_handle().unwrap();
    mq.send(b"mq used by the child", 3).unwrap();

    let ch: Channel = s.recv_handle().unwrap();
    let mut tx = ch.sender().unwrap();
    for i in 0..CHANNEL_MESSAGES {
        tx.send(&i.to_le_bytes()).unwrap();
    }
    report.send(b"done").unwrap();
}

#[test]
fn every_handle_type_is_used_by_a_spawned_process() {
    if let Some(r) = role() {
        assert_eq!(r[0], "handoff");
        child(&r[1]);
        return;
    }
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("handoff.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let mut child = spawn_role(CHILD_TEST, &["handoff", path.to_str().unwrap()]).spawn().unwrap();
    let s = listener.accept().unwrap();
    assert_eq!(s.peer_credentials().unwrap().pid, child.id());
    let mut report = Framed::new(s.try_clone().unwrap()).unwrap();

    // A pipe's write end: the child writes, we read.
    let (mut r, w) = pipe::pipe().unwrap();
    s.send_handle(&w).unwrap();
    drop(w);
    let mut text = String::new();
    r.read_to_string(&mut text).unwrap();
    assert_eq!(text, "pipe writer used by the child");

    // A pipe's read end: we write, the child reads and reports.
    let (r, mut w) = pipe::pipe().unwrap();
    s.send_handle(&r).unwrap();
    drop(r);
    w.write_all(b"sent through a passed read end").unwrap();
    drop(w);
    assert_eq!(report.recv().unwrap(), b"sent through a passed read end");

    // A FIFO's write end.
    let fifo = Fifo::create(dir.path().join("fifo"), Mode::OWNER_RW).unwrap();
    let (mut fr, fw) = fifo.open_read_write().unwrap();
    s.send_handle(&fw).unwrap();
    drop(fw);
    let mut buf = [0u8; 26];
    fr.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"fifo end used by the child");

    // A memfd.
    let memfd = ShmObject::memfd("handoff", 4096).unwrap();
    let map = memfd.map().unwrap();
    s.send_handle(&memfd).unwrap();

    // A named POSIX shared-memory object.
    let mut named = ShmObject::create(&unique("shm"), 4096, Mode::OWNER_RW).unwrap();
    named.set_remove_on_drop(true).unwrap();
    named.map().unwrap().write_at(0, b"named shm for child!").unwrap();
    s.send_handle(&named).unwrap();
    assert_eq!(report.recv().unwrap(), b"named shm for child!");
    let mut got = [0u8; 26];
    map.read_at(0, &mut got).unwrap();
    assert_eq!(&got, b"memfd written by the child");

    // A POSIX message queue.
    let mut mq =
        MsgQueue::create(&unique("mq"), QueueAttr { maxmsg: 4, msgsize: 64 }, Mode::OWNER_RW).unwrap();
    mq.set_remove_on_drop(true).unwrap();
    s.send_handle(&mq).unwrap();
    let mut buf = [0u8; 64];
    let r = mq.recv(&mut buf).unwrap();
    let (n, prio) = (r.len, r.priority);
    assert_eq!((&buf[..n], prio), (&b"mq used by the child"[..], 3));

    // A channel in a memfd: it has no name anywhere.
    let ch = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let mut rx = ch.receiver().unwrap();
    s.send_handle(&ch).unwrap();
    let mut buf = [0u8; 8];
    for i in 0..CHANNEL_MESSAGES {
        let n = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], &i.to_le_bytes());
    }
    assert_eq!(report.recv().unwrap(), b"done");
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_handle_of_another_kind_is_refused_and_closed() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    let (r, _w) = pipe::pipe().unwrap();
    let before = util::open_fds();
    a.send_handle(&r).unwrap();
    let err = b.recv_handle::<ShmObject>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType);
    assert!(err.to_string().contains("pipe-r"), "{err}");
    assert_eq!(util::open_fds(), before, "the refused descriptor was closed");

    // A tag that lies about the descriptor: the kernel's view wins.
    let mut tag = [0u8; 16];
    tag[..10].copy_from_slice(b"ipckit:shm");
    a.send_fds(&tag, &[r.as_fd()]).unwrap();
    let err = b.recv_handle::<ShmObject>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "{err}");
    tag[..13].copy_from_slice(b"ipckit:pipe-w");
    a.send_fds(&tag, &[r.as_fd()]).unwrap();
    let err = b.recv_handle::<PipeWriter>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::WrongType, "a read end is not a writer: {err}");
    let memfd = ShmObject::memfd("not-a-channel", 4096).unwrap();
    a.send_handle(&memfd).unwrap();
    tag = [0u8; 16];
    tag[..14].copy_from_slice(b"ipckit:channel");
    a.send_fds(&tag, &[memfd.as_fd()]).unwrap();
    assert!(b.recv_handle::<Channel>().is_err(), "the shm tag is not a channel");
    let err = b.recv_handle::<Channel>().unwrap_err();
    assert_ne!(err.kind(), ErrorKind::Other, "a memfd without a channel header is refused: {err}");
    drop(memfd);
    assert_eq!(util::open_fds(), before);
}

#[test]
fn a_message_without_a_tag_is_not_a_handle() {
    let _g = serial();
    let (a, b) = UnixSeqpacket::pair().unwrap();
    a.send(b"hello, not a handle").unwrap();
    assert!(b.recv_handle::<PipeReader>().is_err());
    drop(a);
    let err = b.recv_handle::<PipeReader>().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
}

#[test]
fn a_system_v_channel_cannot_be_passed() {
    let _g = serial();
    let mut ch = Channel::create_sysv(ipckit::Key::PRIVATE, &ChannelConfig::new(), Mode::OWNER_RW).unwrap();
    ch.set_remove_on_drop(true).unwrap();
    let (a, _b) = UnixStream::pair().unwrap();
    let err = a.send_handle(&ch).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}
