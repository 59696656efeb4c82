//! `ipckit bridge` with a real nats-server: messages across byte for byte with their
//! types and priorities, the seed's C structs between two IPC namespaces, a full
//! receiving queue, a message too large for the far side, and the errors at start.
//! The crash tests are in crash.rs, pipeline.rs and importer_crash.rs.

use crate::common;

use std::time::{Duration, Instant};

use crate::bridge_util::*;
use crate::fifo_channel::bridge;
use crate::security::queue;
use ipckit::posix::mq::{self as pmq, QueueAttr};
use ipckit::sysv::msg::{MsgQueue, QueueUpdate, Select};
use ipckit::{Key, Mode, Wait};

/// A pair of bridges between two System V queues by id (state and log files
/// `out.*` and `in.*` in `dir`).
fn pair(
    srv: &Server,
    dir: &std::path::Path,
    from: &str,
    to: &str,
    subject: &str,
    extra: &[&str],
) -> (Bridge, Bridge) {
    (
        bridge(srv, dir, "out", &["out", "--queue-id", from], subject, extra),
        bridge(srv, dir, "in", &["in", "--queue-id", to], subject, extra),
    )
}

fn recv_within(q: &MsgQueue, select: Select, secs: u64) -> ipckit::sysv::msg::Message {
    match q.recv_vec(select, Wait::Timeout(Duration::from_secs(secs))) {
        Ok(m) => m,
        Err(e) if e.is_not_now() => panic!("no message ({select}) within {secs} s"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn bytes_and_types_cross_and_type_selection_works_on_the_far_side() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    let (_o, _i) = pair(&srv, dir.path(), &ida, &idb, "t.types", &[]);
    let all: Vec<u8> = (0..=255u8).collect();
    for t in 1..=5i64 {
        a.send(&[&all[..], &t.to_le_bytes()].concat(), t).unwrap();
    }
    a.send(b"", 9).unwrap();
    // The far side picks by type, as msgrcv does.
    for t in [4i64, 2, 5, 1, 3] {
        let m = recv_within(&b, Select::Type(t), 30);
        assert_eq!(m.mtype, t);
        assert_eq!(m.data, [&all[..], &t.to_le_bytes()].concat());
    }
    let m = recv_within(&b, Select::Any, 30);
    assert_eq!((m.mtype, m.data.len()), (9, 0));
}

/// One message at a time, each waited for before the next goes (a conversation: the
/// traffic a bridge spins for), with spinning off and at its default: every message
/// crosses, in order, whichever way the bridges wait.
#[test]
fn one_message_at_a_time_crosses_spinning_or_not() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    for spin in ["0", "300"] {
        let dir = tempfile::tempdir().unwrap();
        let ((a, ida), (b, idb)) = (queue(), queue());
        let subject = format!("t.spin{spin}");
        let (_o, _i) = pair(&srv, dir.path(), &ida, &idb, &subject, &["--spin", spin]);
        for n in 0..300u32 {
            a.send(&n.to_le_bytes(), 1).unwrap();
            let m = recv_within(&b, Select::Any, 30);
            assert_eq!(m.data, n.to_le_bytes(), "--spin {spin}");
        }
        assert!(
            b.recv_vec(Select::Any, Wait::Timeout(Duration::from_millis(500))).is_err(),
            "--spin {spin}: a repeat"
        );
    }
}

#[test]
fn posix_priorities_are_restored() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let name = |s: &str| format!("/ipckit-bridge-{}-{s}", std::process::id());
    let attr = QueueAttr { maxmsg: 10, msgsize: 128 };
    let mut a = pmq::MsgQueue::create(&name("a"), attr, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    let mut b = pmq::MsgQueue::create(&name("b"), attr, Mode::OWNER_RW).unwrap();
    b.set_remove_on_drop(true).unwrap();
    let st = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let url = srv.url();
    let _o = Bridge::start(
        &args(&[
            "out",
            "--posix-queue",
            &name("a"),
            "--subject",
            "t.prio",
            "--server",
            &url,
            "--state",
            &st("o"),
        ]),
        &dir.path().join("o.err"),
    );
    // Let the exporter take each message before the next comes, so the stream
    // keeps the sending order; priorities must survive whatever the order.
    for (p, body) in [(3u32, "three"), (7, "seven"), (0, "zero"), (31, "thirty-one")] {
        a.send(body.as_bytes(), p).unwrap();
        let t = Instant::now();
        while a.status().unwrap().curmsgs > 0 {
            assert!(t.elapsed() < Duration::from_secs(30), "the exporter does not take messages");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let _i = Bridge::start(
        &args(&[
            "in",
            "--posix-queue",
            &name("b"),
            "--subject",
            "t.prio",
            "--server",
            &url,
            "--state",
            &st("i"),
        ]),
        &dir.path().join("i.err"),
    );
    let mut got = Vec::new();
    let mut buf = vec![0u8; 128];
    while got.len() < 4 {
        let r = b.recv_timeout(&mut buf, Duration::from_secs(30)).expect("a message within 30 s");
        let (n, p) = (r.len, r.priority);
        got.push((p, String::from_utf8(buf[..n].to_vec()).unwrap()));
    }
    got.sort();
    assert_eq!(
        got,
        [(0, "zero".to_string()), (3, "three".into()), (7, "seven".into()), (31, "thirty-one".into())]
    );
}

#[test]
fn a_full_receiving_queue_is_waited_on_and_nothing_is_dropped() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    // Room for 4 messages of 100 bytes on the far side.
    b.update(&QueueUpdate { qbytes: Some(400), ..Default::default() }).unwrap();
    let (_o, mut i) = pair(&srv, dir.path(), &ida, &idb, "t.full", &["--ack-wait", "2"]);
    for n in 0..40u8 {
        a.send(&[n; 100], 1).unwrap();
    }
    // The far queue fills and stays full while the importer waits (longer than the
    // ack wait, so the server would redeliver without progress acknowledgements).
    let t = Instant::now();
    while b.stat().unwrap().qnum < 4 {
        assert!(t.elapsed() < Duration::from_secs(30), "the far queue never filled");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(b.stat().unwrap().qnum, 4);
    assert!(i.exited().is_none(), "the importer gave up: {}", i.stderr());
    for n in 0..40u8 {
        let m = recv_within(&b, Select::Any, 30);
        assert_eq!(m.data, [n; 100], "message {n}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(b.try_recv(&mut [0u8; 200], Select::Any).is_err_and(|e| e.is_not_now()), "a message came twice");
}

/// An importer SIGKILLed while it waits for room in a full queue had put nothing
/// of the waiting message in, and its record says so: the restart puts each message
/// in once and has nothing to tell (no MAYBE TWICE), where a "putting" record left
/// standing through the wait would make it cry wolf.
#[test]
fn an_importer_killed_while_waiting_on_a_full_queue_repeats_nothing_and_tells_nothing() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    b.update(&QueueUpdate { qbytes: Some(400), ..Default::default() }).unwrap();
    let (_o, mut i) = pair(&srv, dir.path(), &ida, &idb, "t.fullkill", &[]);
    for n in 0..12u8 {
        a.send(&[n; 100], 1).unwrap();
    }
    let t = Instant::now();
    while b.stat().unwrap().qnum < 4 {
        assert!(t.elapsed() < Duration::from_secs(30), "the far queue never filled");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Long past the spin: the importer looks for room now and then.
    std::thread::sleep(Duration::from_millis(300));
    i.restart();
    std::thread::sleep(Duration::from_millis(300));
    i.restart();
    for n in 0..12u8 {
        let m = recv_within(&b, Select::Any, 30);
        assert_eq!(m.data, [n; 100], "message {n}\n{}", i.stderr());
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(b.try_recv(&mut [0u8; 200], Select::Any).is_err_and(|e| e.is_not_now()), "a message came twice");
    assert!(!i.stderr().contains("MAYBE TWICE"), "{}", i.stderr());
}

#[test]
fn a_message_too_large_for_the_far_side_stops_the_importer_naming_both_limits() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    b.update(&QueueUpdate { qbytes: Some(1000), ..Default::default() }).unwrap();
    let (_o, mut i) = pair(&srv, dir.path(), &ida, &idb, "t.big", &[]);
    a.send(&[7u8; 4000], 1).unwrap();
    let t = Instant::now();
    let status = loop {
        if let Some(s) = i.exited() {
            break s;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "the importer did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success());
    let err = i.stderr();
    assert!(err.contains("4000 bytes"), "{err}");
    assert!(err.contains("1000 bytes (the queue's msg_qbytes)"), "{err}");
    assert!(err.contains("source object up to"), "{err}");
    assert_eq!(b.stat().unwrap().qnum, 0);
}

#[test]
fn the_seeds_c_structs_cross_between_two_ipc_namespaces() {
    let exe = need_nats!();
    let Some(_) = common::cc() else {
        eprintln!("SKIPPED: no C compiler");
        return;
    };
    let srv = Server::start(&exe, &[]);
    let dir = common::open_tempdir();
    let d = dir.path();
    let c = |f: &str| {
        std::fs::read_to_string(format!("{}/../ipckit/tests/c/{f}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    std::fs::write(d.join("proto.h"), c("proto.h")).unwrap();
    let snder = common::compile_c(d, "msg_snder", &c("msg_snder.c"));
    let rcver = common::compile_c(d, "msg_rcver", &c("msg_rcver.c"));
    let anchor = d.join("anchor");
    std::fs::write(&anchor, "").unwrap();
    let a = anchor.to_string_lossy().into_owned();
    let url = srv.url();
    let st = |n: &str| d.join(n).to_string_lossy().into_owned();

    // Host A: this namespace. The queue ftok(anchor, 'A'), made here and removed at the end.
    let mut qa = MsgQueue::create(Key::ftok(&anchor, b'A').unwrap(), Mode::OWNER_RW).unwrap();
    qa.set_remove_on_drop(true).unwrap();
    let _out = Bridge::start(
        &args(&[
            "out",
            "--queue",
            &format!("{a}:A"),
            "--subject",
            "t.seed",
            "--server",
            &url,
            "--state",
            &st("o"),
        ]),
        &d.join("o.err"),
    );
    for (name, math, chinese) in [("alan", "90", "80"), ("grace", "100", "95")] {
        let s = std::process::Command::new(&snder).args([&a, "A", name, math, chinese]).status().unwrap();
        assert!(s.success());
    }
    let ipckit = common::bin();
    // The queue exists before the C receiver starts, so that it does not remove it
    // (msg_rcver removes only a queue it created).
    let inbridge = |key: &str| {
        format!(
            "{ipckit} mk -Q -k {a}:{key} >/dev/null || exit 1; \
             {ipckit} bridge in --queue {a}:{key} --subject t.seed --server {url} --state {} 2>{} & B=$!; \
             timeout 60 {} {a} {key}; timeout 60 {} {a} {key}; kill -TERM $B; wait $B",
            st("i"),
            st("i.err"),
            rcver.display(),
            rcver.display()
        )
    };
    let out = match common::no_namespace() {
        // Host B: a new IPC namespace, where the same key names another queue.
        None => std::process::Command::new("unshare")
            .args(["--ipc", "--", "bash", "-c", &inbridge("A")])
            .output()
            .unwrap(),
        Some(why) => {
            eprintln!("no IPC namespace ({why}): host B is a second key on this host");
            let out = std::process::Command::new("bash").args(["-c", &inbridge("B")]).output().unwrap();
            let _ = MsgQueue::open(Key::ftok(&anchor, b'B').unwrap()).map(|q| q.remove());
            out
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        "name=alan math=90 chinese=80\nname=grace math=100 chinese=95\n",
        "stderr: {} / {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(d.join("i.err")).unwrap_or_default()
    );
}

#[test]
fn bad_url_unreachable_server_and_refused_credentials_are_clear_errors() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    let (_a, ida) = queue();
    let st = dir.path().join("s").to_string_lossy().into_owned();
    let fail = |extra: &[&str], want: &str| {
        let mut a = vec!["out", "--queue-id", &ida, "--subject", "t.err", "--state", &st];
        a.extend_from_slice(extra);
        let out = bridge_output(&a);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!out.status.success(), "{extra:?} succeeded");
        assert!(err.contains(want), "{extra:?}: {err}");
    };
    fail(&["--server", "http://127.0.0.1:1"], "unknown URL scheme");
    // Nobody listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    fail(&["--server", &format!("nats://127.0.0.1:{port}")], "cannot reach the server");
    // Credentials in plaintext to a host that is not loopback: refused before connecting.
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret").unwrap();
    let tok = token.to_string_lossy().into_owned();
    fail(&["--server", "nats://192.0.2.1:4222", "--token-file", &tok], "refusing to send credentials");

    let srv = Server::start(&exe, &["--user", "alice", "--pass", "right"]);
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "wrong").unwrap();
    let p = pass.to_string_lossy().into_owned();
    fail(&["--server", &srv.url(), "--user", "alice", "--password-file", &p], "refused the credentials");
}

#[test]
fn token_and_user_password_are_accepted() {
    let exe = need_nats!();
    let dir = tempfile::tempdir().unwrap();
    for (server_args, client) in [
        (vec!["--auth", "s3cret"], vec!["--token-file", "TOKEN"]),
        (vec!["--user", "alice", "--pass", "right"], vec!["--user", "alice", "--password-file", "PASS"]),
    ] {
        let srv = Server::start(&exe, &server_args);
        std::fs::write(dir.path().join("TOKEN"), "s3cret\n").unwrap();
        std::fs::write(dir.path().join("PASS"), "right\n").unwrap();
        let client: Vec<String> = client
            .iter()
            .map(|s| {
                if s.chars().all(|c| c.is_ascii_uppercase()) {
                    dir.path().join(s).to_string_lossy().into_owned()
                } else {
                    s.to_string()
                }
            })
            .collect();
        let ((a, ida), (b, idb)) = (queue(), queue());
        let extra: Vec<&str> = client.iter().map(|s| s.as_str()).collect();
        let sub = tempfile::tempdir().unwrap();
        let (_o, _i) = pair(&srv, sub.path(), &ida, &idb, "t.auth", &extra);
        a.send(b"authorised", 2).unwrap();
        let m = recv_within(&b, Select::Any, 30);
        assert_eq!((m.mtype, &m.data[..]), (2, &b"authorised"[..]));
    }
}

#[test]
fn sigterm_stops_cleanly_with_exit_status_zero() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    let (mut o, mut i) = pair(&srv, dir.path(), &ida, &idb, "t.term", &[]);
    for n in 0..200u32 {
        a.send(&n.to_le_bytes(), 1).unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(o.stop().success(), "{}", o.stderr());
    assert!(i.stop().success(), "{}", i.stderr());
    // Whatever was not carried before the stop is carried after a restart.
    let (_o2, _i2) = pair(&srv, dir.path(), &ida, &idb, "t.term", &[]);
    for n in 0..200u32 {
        let m = recv_within(&b, Select::Any, 30);
        assert_eq!(m.data, n.to_le_bytes());
    }
    assert!(a.stat().unwrap().qnum == 0);
}

/// SIGTERM while the server is down: both bridges end (a client's flush would wait
/// for a reconnection for ever), and what the exporter had not published stays in
/// the queue, carried once the server and the bridges are back.
#[test]
fn sigterm_while_the_server_is_down_ends_both_bridges_and_loses_nothing() {
    let exe = need_nats!();
    let mut srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    let (mut o, mut i) = pair(&srv, dir.path(), &ida, &idb, "t.down", &[]);
    a.send(b"before", 1).unwrap();
    assert_eq!(recv_within(&b, Select::Any, 30).data, b"before");
    srv.stop();
    a.send(b"while down", 1).unwrap();
    // Stopped only once the exporter holds the message (its status line, once a
    // second, says so): a stop before it looked would leave the message in the queue
    // too, but say nothing of what is checked here.
    o.stderr_once("\"in_flight\":1", "the exporter never took the message");
    let mut ended = Vec::new();
    for (name, bridge) in [("exporter", &mut o), ("importer", &mut i)] {
        let pid = bridge.child.as_ref().expect("running").id().to_string();
        let _ = std::process::Command::new("kill").args(["-TERM", &pid]).status();
        // A hang detector, not a timing: a bridge that waits for the server never ends.
        let t = Instant::now();
        let status = loop {
            if let Some(s) = bridge.exited() {
                break s;
            }
            assert!(t.elapsed() < Duration::from_secs(60), "the {name} did not end: {}", bridge.stderr());
            std::thread::sleep(Duration::from_millis(20));
        };
        ended.push((status.code(), bridge.stderr()));
    }
    // The exporter could not publish its message, and says so; the importer had
    // nothing in flight.
    assert_eq!(ended[0].0, Some(1), "{}", ended[0].1);
    assert!(ended[0].1.contains("stopped while the server was unreachable"), "{}", ended[0].1);
    assert_eq!(ended[1].0, Some(0), "{}", ended[1].1);
    assert_eq!(a.stat().unwrap().qnum, 1, "the unpublished message left the queue");
    srv.restart();
    let (_o2, _i2) = pair(&srv, dir.path(), &ida, &idb, "t.down", &[]);
    assert_eq!(recv_within(&b, Select::Any, 30).data, b"while down");
    assert!(b.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(1))).is_err(), "a message came twice");
}
