//! `ipckit demo socket` and `ipckit demo net`: the narrated parts really cross process
//! boundaries (a pipe end and a channel over a Unix socket; frames over TCP) and
//! leave no file behind.

use crate::common::*;

#[test]
fn demo_socket_passes_a_pipe_end_and_a_channel() {
    let tmp = open_tempdir();
    let out = ipckit(&["demo", "socket"]).env("TMPDIR", tmp.path()).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("getsockopt(SO_PEERCRED) = pid="), "{text}");
    assert!(text.contains("the peer is the client we started"), "{text}");
    assert!(
        text.contains("[server") && text.contains("read(fds[0]) -> \"hello through a pipe end"),
        "{text}"
    );
    for i in 1..=3 {
        assert!(
            text.contains(&format!("channel recv -> \"message {i} through the handed-over channel\"")),
            "{text}"
        );
    }
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "files left in TMPDIR");
}

#[test]
fn demo_net_sends_the_seed_records_over_tcp() {
    let out = ipckit(&["demo", "net"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("[receiver") && text.contains("name \"alan\", math 90, chinese 80"), "{text}");
    assert!(text.contains("name \"grace\", math 95, chinese 88"), "{text}");
    assert!(text.contains("the sender closed the connection"), "{text}");
}

#[test]
fn ls_sockets_shows_a_listener_with_its_owner() {
    let dir = open_tempdir();
    let path = dir.path().join("listening.sock");
    let _l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let name = format!("ipckit-ls-test-{}", std::process::id());
    let _d = ipckit::socket::UnixDatagram::bind(ipckit::socket::UnixAddr::abstract_name(&name)).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&ok(&["ls", "--sockets", "--json"])).unwrap();
    let rows = v["unix_sockets"].as_array().unwrap();
    let me = std::process::id() as u64;
    let row = rows.iter().find(|r| r["address"] == path.to_str().unwrap()).expect("our listener is listed");
    assert_eq!(row["type"], "stream");
    assert_eq!(row["state"], "listening");
    assert!(row["owners"].as_array().unwrap().iter().any(|o| o["pid"] == me), "{row}");
    let abs =
        rows.iter().find(|r| r["address"] == format!("@{name}")).expect("the abstract socket is listed");
    assert_eq!((abs["type"].as_str(), abs["abstract"].as_bool()), (Some("dgram"), Some(true)));
    let text = String::from_utf8(ok(&["ls", "--sockets"])).unwrap();
    let line = text.lines().find(|l| l.ends_with(path.to_str().unwrap())).expect("text lists it too");
    assert!(
        line.starts_with("stream") && line.contains("listening") && line.contains(&format!("{me}/")),
        "{line}"
    );
}
