//! The socket registry (`ipckit::registry::unix_sockets`) finds real sockets: an
//! abstract and a pathname socket made here and in a forked child, with their types,
//! states and the processes that hold them.

use crate::util::{fork, serial, wait_ok};
use ipckit::registry::{self, UnixSocketEntry, UnixSocketState, UnixSocketType};
use ipckit::socket::{SeqpacketListener, UnixAddr, UnixDatagram, UnixListener, UnixStream};

fn unique(tag: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("ipckit-test-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn find<'a>(rows: &'a [UnixSocketEntry], address: &str) -> &'a UnixSocketEntry {
    let found: Vec<_> = rows.iter().filter(|r| r.address == address).collect();
    assert_eq!(found.len(), 1, "{address} listed {} times in {rows:#?}", found.len());
    found[0]
}

#[test]
fn finds_abstract_and_pathname_sockets_of_this_process() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("listen.sock");
    let name = unique("abs");
    let stream = UnixListener::bind(&path).unwrap();
    let seq = SeqpacketListener::bind(UnixAddr::abstract_name(&name)).unwrap();
    let me = std::process::id();

    let rows = registry::unix_sockets().unwrap();
    let p = find(&rows, path.to_str().unwrap());
    assert_eq!((p.kind, p.state, p.is_abstract), (UnixSocketType::Stream, UnixSocketState::Listening, false));
    assert!(p.owners.iter().any(|o| o.pid == me), "owners of {p:?}");
    let a = find(&rows, &format!("@{name}"));
    assert_eq!(
        (a.kind, a.state, a.is_abstract),
        (UnixSocketType::Seqpacket, UnixSocketState::Listening, true)
    );
    let owner = a.owners.iter().find(|o| o.pid == me).expect("this process holds it");
    let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
    assert_eq!(owner.command, comm.trim_end());
    // Named sockets come first, sorted by address.
    let named: Vec<&str> =
        rows.iter().take_while(|r| !r.address.is_empty()).map(|r| r.address.as_str()).collect();
    assert!(named.windows(2).all(|w| w[0] <= w[1]), "not sorted: {named:?}");
    assert!(rows[named.len()..].iter().all(|r| r.address.is_empty()));

    // Closed sockets disappear from the listing.
    let inode = a.inode;
    drop((stream, seq));
    let rows = registry::unix_sockets().unwrap();
    assert!(!rows.iter().any(|r| r.inode == inode || r.address == format!("@{name}")));
    assert!(!path.exists(), "the listener removes its socket file");
}

#[test]
fn finds_the_sockets_of_another_process_and_their_owner() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dgram.sock");
    let name = unique("child");
    let (ours, theirs) = UnixStream::pair().unwrap();
    let child = fork(|| {
        let d = UnixDatagram::bind(&path).unwrap();
        let l = UnixListener::bind(UnixAddr::abstract_name(&name)).unwrap();
        theirs.send_all(b"r").unwrap();
        let mut b = [0u8; 1];
        // Hold both until the parent has looked.
        let n = theirs.recv(&mut b).unwrap();
        drop((d, l));
        if n == 1 { 0 } else { 2 }
    });
    drop(theirs);
    let mut b = [0u8; 1];
    ours.recv_exact(&mut b).unwrap();

    let rows = registry::unix_sockets().unwrap();
    let d = find(&rows, path.to_str().unwrap());
    assert_eq!((d.kind, d.state), (UnixSocketType::Datagram, UnixSocketState::Unconnected));
    assert_eq!(d.owners.iter().map(|o| o.pid).collect::<Vec<_>>(), vec![child.pid()]);
    let l = find(&rows, &format!("@{name}"));
    assert_eq!((l.kind, l.state), (UnixSocketType::Stream, UnixSocketState::Listening));
    assert_eq!(l.owners.iter().map(|o| o.pid).collect::<Vec<_>>(), vec![child.pid()]);

    // The connected pair: both ends are listed, unnamed and connected, ours owned by
    // this process.
    let owners = registry::socket_owners();
    use std::os::fd::AsRawFd;
    let link = std::fs::read_link(format!("/proc/self/fd/{}", ours.as_raw_fd())).unwrap();
    let inode = registry::parse_socket_link(link.to_str().unwrap()).expect("a socket link");
    assert!(owners[&inode].iter().any(|o| o.pid == std::process::id()));
    let row = rows.iter().find(|r| r.inode == inode).expect("our end is listed");
    assert_eq!(
        (row.kind, row.state, row.address.as_str()),
        (UnixSocketType::Stream, UnixSocketState::Connected, "")
    );

    ours.send_all(b"x").unwrap();
    wait_ok(child);
    let rows = registry::unix_sockets().unwrap();
    assert!(!rows.iter().any(|r| r.address == format!("@{name}")), "gone when the child exits");
}
