//! Shared-memory status across processes: attachment counts, last pids, and removal
//! while attached.
//!
//! Attachments are inherited by `fork`, so a child forked by any test of a binary
//! briefly holds every segment its parent has attached. These tests count
//! attachments and read the last pid, so they live in their own binary and take a
//! lock, so that no other fork happens while they look.

mod util;

use std::sync::Mutex;

use ipckit::process;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{ErrorKind, Key, Mode};
use util::{fork, wait_ok};

static ALONE: Mutex<()> = Mutex::new(());

fn segment(size: usize) -> ShmSegment {
    let mut s = ShmSegment::create(Key::PRIVATE, size, Mode::OWNER_RW).unwrap();
    s.set_remove_on_drop(true).unwrap();
    s
}

#[test]
fn two_attachments_see_the_same_bytes() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let seg = segment(4096);
    let a = seg.attach().unwrap();
    let b = seg.attach().unwrap();
    assert_ne!(a.as_ptr(), b.as_ptr(), "two mappings at different addresses");
    a.write_at(100, b"shared").unwrap();
    assert_eq!(b.read_vec(100, 6).unwrap(), b"shared");
    assert_eq!(seg.stat().unwrap().nattch, 2);
    drop(a);
    assert_eq!(seg.stat().unwrap().nattch, 1, "detached on drop");
    b.detach().unwrap();
    assert_eq!(seg.stat().unwrap().nattch, 0);
}

#[test]
fn stat_reports_size_attachments_pids_and_times() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let before = std::time::SystemTime::now() - std::time::Duration::from_secs(2);
    let seg = segment(12345);
    let me = process::current_pid();
    let st = seg.stat().unwrap();
    assert_eq!((st.size, st.nattch, st.cpid, st.lpid), (12345, 0, me, 0));
    assert_eq!((st.atime, st.dtime), (None, None));
    assert!(st.ctime.unwrap() >= before);
    assert!(!st.marked_for_removal && !st.locked);
    let m = seg.attach().unwrap();
    let st = seg.stat().unwrap();
    assert_eq!((st.nattch, st.lpid), (1, me));
    assert!(st.atime.unwrap() >= before);
    // A child attaches (inherits the attachment across fork, then detaches it on exit).
    let child = fork(|| match seg.attach() {
        Ok(a) => {
            drop(a);
            0
        }
        Err(_) => 2,
    });
    let cpid = child.pid();
    wait_ok(child);
    let st = seg.stat().unwrap();
    assert_eq!(st.lpid, cpid, "the last attach/detach was the child's");
    assert!(st.dtime.is_some());
    drop(m);
}

#[test]
fn removed_while_attached_lives_until_the_last_detach() {
    let _alone = ALONE.lock().unwrap_or_else(|e| e.into_inner());
    let kd = util::KeyDir::new();
    let key = kd.key(b'd');
    let seg = ShmSegment::create(key, 4096, Mode::OWNER_RW).unwrap();
    let id = seg.id();
    let mem = seg.attach().unwrap();
    mem.write_at(0, b"still here").unwrap();
    seg.remove().unwrap();
    // Still attached: usable, and shown with key 0 and the "dest" mark.
    let h = ShmSegment::from_id(id).unwrap();
    let st = h.stat().unwrap();
    assert!(st.marked_for_removal);
    assert_eq!(st.perm.key, Key::PRIVATE);
    assert_eq!(st.nattch, 1);
    assert_eq!(mem.read_vec(0, 10).unwrap(), b"still here");
    // The key is free again.
    assert_eq!(ShmSegment::open(key).unwrap_err().kind(), ErrorKind::NotFound);
    drop(mem);
    assert_eq!(
        ShmSegment::from_id(id).unwrap_err().kind(),
        ErrorKind::NotFound,
        "freed after the last detach"
    );
}
