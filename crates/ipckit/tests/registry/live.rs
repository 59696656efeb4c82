//! The registry on real objects: `/proc/sysvipc` and the `*_STAT_ANY` fallback agree,
//! semaphore values and staleness are read from the kernel, and the POSIX scan finds
//! files laid out as glibc lays them.

use crate::util;

use ipckit::registry::{self, Source};
use ipckit::sysv::msg::MsgQueue;
use ipckit::sysv::sem::{SemOp, SemSet};
use ipckit::sysv::shm::ShmSegment;
use ipckit::{Key, Mode};

#[test]
fn proc_and_syscalls_agree_on_a_queue() {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::new(0o640)).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q.send(b"twelve bytes", 3).unwrap();
    let from_proc = registry::messages(Source::Proc).unwrap();
    let from_calls = registry::messages(Source::Syscalls).unwrap();
    let a = from_proc.iter().find(|e| e.id == q.id()).expect("in /proc");
    let b = from_calls.iter().find(|e| e.id == q.id()).expect("from msgctl");
    assert_eq!(a, b);
    assert_eq!((a.mode, a.qnum, a.cbytes), (0o640, 1, 12));
    assert_eq!(a.lspid, ipckit::process::current_pid());
    assert!(a.stime > 0 && a.rtime == 0);
    assert!(a.qbytes.unwrap() > 0);
}

#[test]
fn proc_and_syscalls_agree_on_a_set_and_its_values() {
    let mut set = SemSet::create(Key::PRIVATE, &[2, 0, 5], Mode::OWNER_RW).unwrap();
    set.set_remove_on_drop(true).unwrap();
    set.op(&[SemOp::new(1, 4)]).unwrap();
    let a = registry::semaphores(Source::Proc).unwrap().into_iter().find(|e| e.id == set.id()).unwrap();
    let b = registry::semaphores(Source::Syscalls).unwrap().into_iter().find(|e| e.id == set.id()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.nsems, 3);
    let vals = registry::semaphore_values(set.id()).unwrap();
    let me = ipckit::process::current_pid();
    assert_eq!(vals.iter().map(|v| v.value).collect::<Vec<_>>(), [2, 4, 5]);
    assert_eq!(vals[1].pid, me);
    assert!(vals.iter().all(|v| v.ncnt == 0 && v.zcnt == 0));
}

#[test]
fn proc_and_syscalls_agree_on_a_segment() {
    let mut seg = ShmSegment::create(Key::PRIVATE, 5000, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let _mem = seg.attach().unwrap();
    let mut a =
        registry::shared_memory(Source::Proc).unwrap().into_iter().find(|e| e.id == seg.id()).unwrap();
    let b =
        registry::shared_memory(Source::Syscalls).unwrap().into_iter().find(|e| e.id == seg.id()).unwrap();
    assert!(a.rss.is_some() && b.rss.is_none());
    (a.rss, a.swap) = (None, None);
    assert_eq!(a, b);
    assert_eq!((a.size, a.nattch), (5000, 1));
    assert_eq!(a.cpid, ipckit::process::current_pid());
    assert_eq!(registry::stale_shm(&a, ipckit::process::is_alive), None, "attached and alive");
}

#[test]
fn a_segment_left_by_a_dead_process_is_stale() {
    let mut seg = ShmSegment::create(Key::PRIVATE, 64, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let id = seg.id();
    // A child attaches and detaches, then dies: it is the last user.
    let child = util::fork(move || {
        let s = ShmSegment::from_id(id).unwrap();
        drop(s.attach().unwrap());
        0
    });
    let pid = child.pid();
    util::wait_ok(child);
    let e = registry::shared_memory(Source::Auto).unwrap().into_iter().find(|e| e.id == id).unwrap();
    assert_eq!(e.lpid, pid);
    // The creator (this process) lives, so it is not stale...
    assert_eq!(registry::stale_shm(&e, ipckit::process::is_alive), None);
    // ...but with the creator counted dead, the dead child makes it stale.
    let me = ipckit::process::current_pid();
    let why = registry::stale_shm(&e, |p| p != me && ipckit::process::is_alive(p)).unwrap();
    assert!(why.contains(&format!("last user pid {pid}")), "{why}");
}

#[test]
fn posix_scan_of_a_shm_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data"), vec![0u8; 300]).unwrap();
    std::fs::write(dir.path().join("sem.lock"), vec![0u8; 32]).unwrap();
    std::fs::create_dir(dir.path().join("subdir")).unwrap();
    let mq = tempfile::tempdir().unwrap();
    std::fs::write(mq.path().join("jobs"), "QSIZE:42     NOTIFY:0     SIGNO:0     NOTIFY_PID:0\n").unwrap();
    let found = registry::posix_objects_in(dir.path(), Some(mq.path())).unwrap();
    assert_eq!(found.shm.len(), 1);
    assert_eq!((found.shm[0].name.as_str(), found.shm[0].size), ("/data", 300));
    assert_eq!(found.sem.len(), 1);
    assert_eq!(found.sem[0].name, "/lock");
    let mqs = found.mq.unwrap();
    assert_eq!((mqs[0].name.as_str(), mqs[0].qsize, mqs[0].notify_pid), ("/jobs", Some(42), Some(0)));
    assert!(registry::posix_objects_in(dir.path(), None).unwrap().mq.is_none());
}

#[test]
fn mqueue_mount_detection() {
    let mounts = "tmpfs /dev/shm tmpfs rw 0 0\nmqueue /dev/mqueue mqueue rw,relatime 0 0\n";
    assert!(registry::mqueue_mounted(mounts, "/dev/mqueue"));
    assert!(!registry::mqueue_mounted("tmpfs /dev/shm tmpfs rw 0 0\n", "/dev/mqueue"));
}
