//! Request/response across real processes: each request gets its own reply; clients
//! killed at random points leave nothing behind; a dead server disconnects clients;
//! late replies never answer the wrong call.
use crate::util;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ipckit::ErrorKind;
use ipckit::channel::PatternConfig;
use ipckit::channel::rpc::{Rpc, Server};
use ipckit::posix::shm::ShmObject;
use ipckit::process::Signal;

/// Request `seq` of client `id`: both numbers, then bytes of a varying length.
fn request(id: u32, seq: u32) -> Vec<u8> {
    let len = (seq.wrapping_mul(2_654_435_761) >> 13) % 900;
    let mut m = id.to_le_bytes().to_vec();
    m.extend_from_slice(&seq.to_le_bytes());
    m.extend((0..len).map(|i| (i ^ seq ^ id) as u8));
    m
}

/// The server's answer: the request reversed, then its length.
fn answer(req: &[u8]) -> Vec<u8> {
    let mut r: Vec<u8> = req.iter().rev().copied().collect();
    r.extend_from_slice(&(req.len() as u32).to_le_bytes());
    r
}

fn not_now(e: &ipckit::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Serves until `stop` says so; returns the number of requests answered.
fn serve(server: &mut Server, mut stop: impl FnMut(u64) -> bool) -> u64 {
    let mut buf = vec![0u8; 4096];
    let mut served = 0;
    while !stop(served) {
        match server.recv_timeout(&mut buf, Duration::from_millis(20)) {
            Ok(req) => {
                match server.reply(&req, &answer(&buf[..req.len])) {
                    Ok(()) => {}
                    Err(e) if e.kind() == ErrorKind::Disconnected => {}
                    Err(e) => panic!("{e}"),
                }
                served += 1;
            }
            Err(e) if not_now(&e) => {}
            Err(e) => panic!("{e}"),
        }
    }
    served
}

#[test]
fn every_request_gets_its_reply() {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(8192).with_max_members(8)).unwrap();
    let mut server = rpc.server().unwrap();
    let calls = 3_000u32;
    let kids: Vec<_> = (0..4u32)
        .map(|id| {
            util::fork(|| {
                let mut client = rpc.client().unwrap();
                let mut buf = vec![0u8; 4096];
                for seq in 0..calls {
                    let req = request(id, seq);
                    let n = client.call(&req, &mut buf).unwrap();
                    assert_eq!(&buf[..n], &answer(&req)[..], "client {id} call {seq}");
                }
                0
            })
        })
        .collect();
    let served = serve(&mut server, |n| n == 4 * u64::from(calls));
    assert_eq!(served, 4 * u64::from(calls));
    for k in kids {
        util::wait_ok(k);
    }
}

#[test]
fn killed_clients_leave_nothing_behind() {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(4)).unwrap();
    let mut server = rpc.server().unwrap();
    let victims: Vec<_> = (10..13u32)
        .map(|id| {
            util::fork(|| {
                let mut client = rpc.client().unwrap();
                let mut buf = vec![0u8; 4096];
                for seq in 0..u32::MAX {
                    let req = request(id, seq);
                    let n = client.call(&req, &mut buf).unwrap();
                    assert_eq!(&buf[..n], &answer(&req)[..]);
                }
                0
            })
        })
        .collect();
    let survivor = util::fork(|| {
        let mut client = rpc.client().unwrap();
        let mut buf = vec![0u8; 4096];
        for seq in 0..5_000 {
            let req = request(0, seq);
            let n = client.call(&req, &mut buf).unwrap();
            assert_eq!(&buf[..n], &answer(&req)[..]);
        }
        0
    });
    let kill_at = [300u64, 1_100, 2_500];
    let mut next_kill = 0;
    let mut survivor = survivor;
    let mut status = None;
    serve(&mut server, |served| {
        if next_kill < kill_at.len() && served >= kill_at[next_kill] {
            victims[next_kill].kill(Signal::Kill).unwrap();
            next_kill += 1;
        }
        if next_kill == kill_at.len() {
            status = survivor.try_wait().unwrap();
        }
        status.is_some()
    });
    assert!(status.unwrap().success(), "the surviving client failed: {status:?}");
    for v in victims {
        assert!(!v.wait().unwrap().success());
    }
    // Every slot and every pending request of the dead clients goes.
    let start = Instant::now();
    let mut buf = vec![0u8; 4096];
    while server.clients() > 0 {
        match server.recv_timeout(&mut buf, Duration::from_millis(20)) {
            Ok(req) => assert_eq!(server.reply(&req, b"late").unwrap_err().kind(), ErrorKind::Disconnected),
            Err(e) if not_now(&e) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(start.elapsed() < Duration::from_secs(120), "slots never freed");
    }
    assert_eq!(server.try_recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
    let all: Vec<_> = (0..4).map(|_| rpc.client().unwrap()).collect();
    assert_eq!(all.len(), 4);
}

#[test]
fn dead_server_disconnects_clients() {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(4096)).unwrap();
    let (mut a, mut b) = UnixStream::pair().unwrap();
    let child = util::fork(|| {
        let mut server = rpc.server().unwrap();
        b.write_all(b"r").unwrap();
        let mut buf = vec![0u8; 4096];
        let req = server.recv(&mut buf).unwrap();
        server.reply(&req, b"one").unwrap();
        std::thread::sleep(Duration::from_secs(3600)); // never answers again
        0
    });
    a.read_exact(&mut [0u8; 1]).unwrap();
    let mut client = rpc.client().unwrap();
    let mut buf = [0u8; 64];
    assert_eq!(client.call(b"first", &mut buf).unwrap(), 3);
    let pid = child.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        ipckit::process::kill(pid, Signal::Kill).unwrap();
    });
    let e = client.call(b"second", &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}");
    killer.join().unwrap();
    let _ = child.wait();
}

#[test]
fn a_late_reply_never_answers_the_next_call() {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(4096)).unwrap();
    let mut server = rpc.server().unwrap();
    let mut client = rpc.client().unwrap();
    let mut buf = [0u8; 64];
    let e = client.call_timeout(b"slow", &mut buf, Duration::from_millis(10)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    let mut sbuf = [0u8; 64];
    let first = server.try_recv(&mut sbuf).unwrap();
    assert_eq!(&sbuf[..first.len], b"slow");
    server.reply(&first, b"late").unwrap();
    // The next call: its request is served after the late reply is in the ring.
    let e = client.call_with(b"next", &mut buf, ipckit::Wait::NoWait).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "the late reply was dropped, not taken");
    let second = server.try_recv(&mut sbuf).unwrap();
    assert_eq!(&sbuf[..second.len], b"next");
    server.reply(&second, b"for next").unwrap();
    // A third call finds the reply to "next" (stale by now) and then its own.
    let third = std::thread::scope(|s| {
        let h = s.spawn(|| {
            let mut sbuf = [0u8; 64];
            let r = server.recv(&mut sbuf).unwrap();
            assert_eq!(&sbuf[..r.len], b"third");
            server.reply(&r, b"for third").unwrap();
        });
        let n = client.call(b"third", &mut buf).unwrap();
        h.join().unwrap();
        n
    });
    assert_eq!(&buf[..third], b"for third");
}

#[test]
fn limits_and_bad_input() {
    let rpc = Rpc::create_memfd(&PatternConfig::new().with_capacity(4096).with_max_members(1)).unwrap();
    let mut server = rpc.server().unwrap();
    assert_eq!(rpc.server().unwrap_err().kind(), ErrorKind::AlreadyExists);
    let mut c = rpc.client().unwrap();
    assert_eq!(rpc.client().unwrap_err().kind(), ErrorKind::LimitExceeded);
    let big = vec![0u8; rpc.max_message() + 1];
    let mut buf = vec![0u8; rpc.max_message()];
    assert_eq!(c.call(&big, &mut buf).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    let e = c.call_timeout(&[1; 100], &mut buf, Duration::from_millis(1)).unwrap_err();
    assert!(not_now(&e));
    let mut small = [0u8; 10];
    assert_eq!(server.try_recv(&mut small).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(server.try_recv(&mut small).unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn scribbled_header_is_refused() {
    let name = format!("/ipckit-test-rpc-{}", std::process::id());
    let _rpc =
        Rpc::create_named(&name, &PatternConfig::new().with_capacity(4096), ipckit::Mode::OWNER_RW).unwrap();
    let _guard = Unlink(name.clone());
    let map = ShmObject::open(&name).unwrap().map().unwrap();
    assert!(Rpc::open_named(&name).is_ok());
    // The slot count, the capacity and an offset, one at a time.
    for (off, bytes) in [
        (12usize, 0u32.to_le_bytes().to_vec()),
        (16, 3000u64.to_le_bytes().to_vec()),
        (56, 64u64.to_le_bytes().to_vec()),
    ] {
        let mut saved = vec![0u8; bytes.len()];
        map.read_at(off, &mut saved).unwrap();
        map.write_at(off, &bytes).unwrap();
        let e = Rpc::open_named(&name).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
        map.write_at(off, &saved).unwrap();
    }
    assert!(Rpc::open_named(&name).is_ok());
    // Another pattern's segment is not a request/response channel.
    let e = ipckit::channel::merge::Merge::open_named(&name).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupted, "{e}");
}

struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = ShmObject::unlink(&self.0);
    }
}
