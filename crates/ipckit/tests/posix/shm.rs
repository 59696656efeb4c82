//! POSIX shared memory and memfds across processes: named objects, mappings,
//! read-only enforcement, bounds, removal.

use std::sync::atomic::Ordering;

use crate::util::{fork, wait_ok};
use ipckit::posix::shm::ShmObject;
use ipckit::{ErrorKind, Mode};

fn name(tag: &str) -> String {
    format!("/ipckit-test-{tag}-{}", std::process::id())
}

#[test]
fn a_named_object_is_shared_with_another_process() {
    let n = name("named");
    let mut obj = ShmObject::create(&n, 8192, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    assert!(obj.created());
    assert_eq!(obj.len().unwrap(), 8192);
    assert_eq!(obj.mode().unwrap(), Mode::OWNER_RW);
    let map = obj.map().unwrap();
    map.write_at(100, b"from the parent").unwrap();
    let child = fork(|| {
        // The child finds the object by name alone.
        let Ok(o) = ShmObject::open(&n) else { return 2 };
        let Ok(m) = o.map() else { return 3 };
        match m.read_vec(100, 15) {
            Ok(v) if v == b"from the parent" => {}
            _ => return 4,
        }
        let Ok(counter) = m.atomic_u64(0) else { return 5 };
        for _ in 0..10_000 {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        0
    });
    for _ in 0..10_000 {
        map.atomic_u64(0).unwrap().fetch_add(1, Ordering::Relaxed);
    }
    wait_ok(child);
    assert_eq!(map.load_u64(0, Ordering::SeqCst).unwrap(), 20_000);
    drop(obj);
    assert_eq!(ShmObject::open(&n).unwrap_err().kind(), ErrorKind::NotFound, "unlinked on drop");
    // The mapping outlives the name.
    assert_eq!(map.read_vec(100, 4).unwrap(), b"from");
}

#[test]
fn a_memfd_is_shared_across_fork() {
    let obj = ShmObject::memfd("ipckit-test", 4096).unwrap();
    let map = obj.map().unwrap();
    let child = fork(|| match map.write_at(0, b"child was here") {
        Ok(()) => 0,
        Err(_) => 2,
    });
    wait_ok(child);
    assert_eq!(map.read_vec(0, 14).unwrap(), b"child was here");
    assert_eq!(obj.name(), None);
}

#[test]
fn read_only_mappings_and_bounds() {
    let n = name("ro");
    let mut obj = ShmObject::create(&n, 64, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    obj.map().unwrap().write_at(0, b"data").unwrap();
    let ro = ShmObject::open_read_only(&n).unwrap();
    assert_eq!(ro.map().unwrap_err().kind(), ErrorKind::PermissionDenied, "opened read-only");
    let m = ro.map_read_only().unwrap();
    assert!(m.is_read_only());
    assert_eq!(m.read_vec(0, 4).unwrap(), b"data");
    assert_eq!(m.load_u32(0, Ordering::SeqCst).unwrap(), u32::from_ne_bytes(*b"data"));
    for e in [m.write_at(0, b"x").unwrap_err(), m.fill(0, 1, 0).unwrap_err(), m.atomic_u64(0).unwrap_err()] {
        assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
        assert!(e.to_string().contains(&n), "names the object: {e}");
    }
    for (off, len) in [(60, 5), (64, 1), (usize::MAX, 2)] {
        let e = m.read_vec(off, len).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{off}+{len}");
        assert!(e.to_string().contains("64-byte mapping"), "{e}");
    }
    assert_eq!(m.load_u64(4, Ordering::SeqCst).unwrap_err().kind(), ErrorKind::InvalidInput, "unaligned");
}

#[test]
fn creation_and_names() {
    let n = name("excl");
    let mut a = ShmObject::create(&n, 16, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    assert_eq!(ShmObject::create(&n, 16, Mode::OWNER_RW).unwrap_err().kind(), ErrorKind::AlreadyExists);
    let mut b = ShmObject::open(&n).unwrap();
    assert!(!b.created());
    assert_eq!(b.set_remove_on_drop(true).unwrap_err().kind(), ErrorKind::InvalidInput, "only the creator");
    for bad in ["", "no-slash", "/a/b"] {
        let e = ShmObject::open(bad).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::NotFound), "{bad}: {e}");
    }
}
