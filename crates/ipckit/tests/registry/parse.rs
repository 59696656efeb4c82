//! The `/proc/sysvipc` parsers, on fixture files captured from a kernel (then varied
//! by hand to cover every field), and on an older layout.

use ipckit::Key;
use ipckit::registry::{parse_msg, parse_sem, parse_shm};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/sysvipc/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn message_queues() {
    let q = parse_msg(&fixture("msg"));
    assert_eq!(q.len(), 2);
    assert_eq!(q[0].key, Key::from_raw(-1888994524));
    assert_eq!(q[0].key.to_string(), "0x8f683b24");
    assert_eq!((q[0].id, q[0].mode, q[0].cbytes, q[0].qnum), (0, 0o644, 17, 3));
    assert_eq!((q[0].lspid, q[0].lrpid), (4242, 4243));
    assert_eq!((q[0].stime, q[0].rtime, q[0].ctime), (1795707810, 1795707811, 1795707798));
    assert_eq!(q[0].qbytes, None, "not in the file");
    assert!(q[1].key.is_private());
    assert_eq!(
        (q[1].id, q[1].mode, q[1].uid, q[1].gid, q[1].cuid, q[1].cgid),
        (32769, 0o600, 1000, 100, 1000, 100)
    );
    assert_eq!((q[1].stime, q[1].rtime), (0, 0));
}

#[test]
fn semaphore_sets() {
    let s = parse_sem(&fixture("sem"));
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].key.raw(), s[0].id, s[0].mode, s[0].nsems), (1342448676, 0, 0o640, 3));
    assert_eq!((s[0].otime, s[0].ctime), (1795707812, 1795707798));
    assert_eq!(
        (s[1].id, s[1].mode, s[1].uid, s[1].gid, s[1].cuid, s[1].cgid),
        (65537, 0o666, 1000, 1000, 0, 0)
    );
    assert_eq!(s[1].otime, 0);
}

#[test]
fn shared_memory_segments() {
    let m = parse_shm(&fixture("shm"));
    assert_eq!(m.len(), 2, "the garbage line is skipped");
    assert_eq!((m[0].size, m[0].cpid, m[0].lpid, m[0].nattch), (4096, 7818, 7820, 1));
    assert_eq!((m[0].atime, m[0].dtime, m[0].ctime), (1795707801, 1795707802, 1795707798));
    assert_eq!((m[0].rss, m[0].swap), (Some(4096), Some(0)));
    assert!(!m[0].marked_for_removal() && !m[0].locked());
    assert_eq!(m[1].mode, 0o1600);
    assert!(m[1].marked_for_removal(), "mode 1600 is SHM_DEST");
    assert!(m[1].key.is_private());
    assert_eq!(m[1].swap, Some(8192));
}

#[test]
fn older_shm_layout_without_rss_and_swap() {
    let m = parse_shm(&fixture("shm-2.6.31"));
    assert_eq!(m.len(), 1);
    assert_eq!((m[0].key.raw(), m[0].id, m[0].size, m[0].uid), (1234, 196608, 1048576, 500));
    assert_eq!((m[0].rss, m[0].swap), (None, None));
}

#[test]
fn empty_and_header_only_files() {
    assert!(parse_msg("").is_empty());
    let header = fixture("sem").lines().next().unwrap().to_string() + "\n";
    assert!(parse_sem(&header).is_empty());
}
