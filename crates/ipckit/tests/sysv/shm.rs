//! Shared-memory segments: attach modes, bounds, atomics across processes, status,
//! removal while attached, permissions.

use crate::util;

use std::sync::atomic::Ordering;

use crate::util::{fork, wait_ok};
use ipckit::process;
use ipckit::sysv::Update;
use ipckit::sysv::shm::{AttachFlags, ShmSegment};
use ipckit::{ErrorKind, Key, Limit, Mode};

fn segment(size: usize) -> ShmSegment {
    let mut s = ShmSegment::create(Key::PRIVATE, size, Mode::OWNER_RW).unwrap();
    s.set_remove_on_drop(true).unwrap();
    s
}

#[test]
fn a_new_segment_is_zeroed_and_copies_are_bounds_checked() {
    let seg = segment(1000);
    assert_eq!(seg.size(), 1000);
    let mem = seg.attach().unwrap();
    assert_eq!(mem.len(), 1000);
    assert_eq!(mem.read_vec(0, 1000).unwrap(), vec![0u8; 1000]);
    mem.write_at(990, b"0123456789").unwrap();
    assert_eq!(mem.read_vec(995, 5).unwrap(), b"56789");
    for (off, len) in [(991, 10), (1000, 1), (usize::MAX, 2), (0, 1001)] {
        let e = mem.write_at(off, &vec![1u8; len]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds, "write {len} at {off}");
        let e = mem.read_vec(off, len).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutOfBounds, "read {len} at {off}");
    }
    // Nothing was written by the refused calls.
    assert_eq!(mem.read_vec(980, 20).unwrap(), [&[0u8; 10][..], b"0123456789"].concat());
    mem.fill(0, 10, 0xab).unwrap();
    assert_eq!(mem.read_vec(0, 11).unwrap(), [&[0xab; 10][..], &[0]].concat());
}

#[test]
fn a_read_only_attachment_refuses_writes() {
    let seg = segment(64);
    let rw = seg.attach().unwrap();
    rw.write_at(0, b"data").unwrap();
    let ro = seg.attach_read_only().unwrap();
    assert!(ro.is_read_only());
    assert_eq!(ro.read_vec(0, 4).unwrap(), b"data");
    assert_eq!(ro.load_u32(0, Ordering::SeqCst).unwrap(), u32::from_ne_bytes(*b"data"));
    for e in [ro.write_at(0, b"x").unwrap_err(), ro.fill(0, 1, 0).unwrap_err(), ro.atomic_u64(0).unwrap_err()]
    {
        assert_eq!(e.kind(), ErrorKind::ReadOnly, "{e}");
    }
    assert_eq!(ro.read_vec(0, 4).unwrap(), b"data");
}

#[test]
fn the_kernel_enforces_read_only_mappings() {
    // Past ipckit's checks: a raw write through a SHM_RDONLY mapping faults.
    let seg = segment(64);
    let ro = seg.attach_read_only().unwrap();
    let ptr = ro.as_ptr() as usize;
    let child = fork(move || {
        // SAFETY: deliberately invalid: writing to a read-only mapping, in a child
        // process whose death by SIGSEGV is the expected outcome.
        unsafe { std::ptr::write_volatile(ptr as *mut u8, 1) };
        0
    });
    let status = child.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(11), "{status:?}");
    assert_eq!(ro.read_vec(0, 1).unwrap(), [0]);
}

#[test]
fn alignment_of_atomic_views_is_checked() {
    let seg = segment(64);
    let mem = seg.attach().unwrap();
    assert_eq!(mem.atomic_u64(4).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(mem.atomic_u64(64).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(mem.atomic_u32(60).unwrap().load(Ordering::Relaxed), 0);
    assert_eq!(mem.load_u64(57, Ordering::Relaxed).unwrap_err().kind(), ErrorKind::OutOfBounds);
}

#[test]
fn atomic_counters_across_processes_lose_nothing() {
    const PROCS: u64 = 4;
    const ROUNDS: u64 = 20_000;
    let seg = segment(4096);
    let mem = seg.attach().unwrap();
    let children: Vec<_> = (0..PROCS)
        .map(|_| {
            fork(|| {
                let Ok(counter) = mem.atomic_u64(64) else { return 2 };
                for _ in 0..ROUNDS {
                    counter.fetch_add(1, Ordering::Relaxed);
                }
                0
            })
        })
        .collect();
    for c in children {
        wait_ok(c);
    }
    assert_eq!(mem.load_u64(64, Ordering::SeqCst).unwrap(), PROCS * ROUNDS);
}

#[test]
fn update_lock_and_unlock() {
    let seg = segment(4096);
    seg.update(&Update { mode: Some(Mode::new(0o604)), ..Default::default() }).unwrap();
    assert_eq!(seg.stat().unwrap().perm.mode & 0o777, 0o604);
    match seg.lock() {
        Ok(()) => {
            assert!(seg.stat().unwrap().locked);
            seg.unlock().unwrap();
            assert!(!seg.stat().unwrap().locked);
        }
        // Unprivileged with a small RLIMIT_MEMLOCK: refused with a clear kind.
        Err(e) => assert!(matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::LimitExceeded), "{e}"),
    }
}

#[test]
fn sizes_and_limits() {
    let e = ShmSegment::create(Key::PRIVATE, 0, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let shmmax = Limit::ShmMax.current().unwrap();
    if shmmax < usize::MAX as u64 / 2 {
        let e = ShmSegment::create(Key::PRIVATE, shmmax as usize + 1, Mode::OWNER_RW).unwrap_err();
        assert_eq!(e.limit(), Some(Limit::ShmMax), "{e}");
    }
    // Opening with a size larger than the existing segment is refused.
    let kd = util::KeyDir::new();
    let key = kd.key(b'z');
    let mut seg = ShmSegment::create(key, 100, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let e = ShmSegment::open_or_create(key, 200, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("smaller"), "{e}");
    let same = ShmSegment::open_or_create(key, 50, Mode::OWNER_RW).unwrap();
    assert!(!same.created());
    assert_eq!(same.size(), 100);
}

#[test]
fn mode_0600_refuses_another_user_and_0604_lets_others_only_read() {
    require_root!();
    let secret = segment(64);
    secret.attach().unwrap().write_at(0, b"secret").unwrap();
    let mut readable = ShmSegment::create(Key::PRIVATE, 64, Mode::new(0o604)).unwrap();
    readable.set_remove_on_drop(true).unwrap();
    readable.attach().unwrap().write_at(0, b"public").unwrap();
    let (sid, rid) = (secret.id(), readable.id());
    let child = fork(move || {
        if process::set_ids(65534, 65534).is_err() {
            return 10;
        }
        let mut code = 0;
        // 0600: no attach of any kind.
        match ShmSegment::from_id(sid).and_then(|s| s.attach_read_only()) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 1,
        }
        // 0604: others may read, not write.
        let Ok(r) = ShmSegment::from_id(rid) else { return 11 };
        match r.attach() {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 2,
        }
        match r.attach_with(AttachFlags { read_only: true, exec: false }).map(|m| m.read_vec(0, 6)) {
            Ok(Ok(v)) if v == b"public" => {}
            _ => code |= 4,
        }
        code
    });
    wait_ok(child);
}
