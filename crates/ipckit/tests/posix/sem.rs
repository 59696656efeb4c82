//! POSIX semaphores across real processes: named and unnamed (in a memfd, a named
//! POSIX object and a System V segment), contention with exact counts, timeouts, a
//! holder that dies, and the errors for bad names and values.
//!
//! Forked children never call `sem_open` or `sem_close` (nor drop a
//! `NamedSemaphore`): glibc guards its table of named semaphores with a lock that
//! `fork` copies as it is, so a child forked while another test thread held it would
//! wait forever. They use the handles inherited from the parent; a test that opens
//! by name in another process starts this binary again instead.

use crate::util;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::util::{fork, wait_ok};
use ipckit::posix::sem::{NamedSemaphore, SEM_ALIGN, SEM_SIZE, SEM_VALUE_MAX, Semaphore, UnnamedSemaphore};
use ipckit::posix::shm::ShmObject;
use ipckit::process::Signal;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{ErrorKind, Key, Mode};

fn name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!("/ipckit-test-psem-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Unlinks a semaphore name on drop (also on panic), for names a child creates.
struct Unlink(String);
impl Drop for Unlink {
    fn drop(&mut self) {
        let _ = NamedSemaphore::unlink(&self.0);
    }
}

#[test]
fn a_named_semaphore_is_created_opened_and_removed() {
    let n = name("basic");
    let mut sem = NamedSemaphore::create(&n, 2, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    assert!(sem.created());
    assert_eq!(sem.name(), n);
    assert_eq!(sem.value().unwrap(), 2);

    let other = NamedSemaphore::open(&n).unwrap();
    assert!(!other.created());
    other.try_wait().unwrap();
    other.try_wait().unwrap();
    assert_eq!(other.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock, "value 0: not now");
    sem.post().unwrap();
    assert_eq!(other.value().unwrap(), 1);

    let again = NamedSemaphore::create(&n, 0, Mode::OWNER_RW).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::AlreadyExists);
    let either = NamedSemaphore::open_or_create(&n, 7, Mode::OWNER_RW).unwrap();
    assert!(!either.created());
    assert_eq!(either.value().unwrap(), 1, "the existing semaphore, not a new one");

    drop((other, either));
    drop(sem);
    assert_eq!(NamedSemaphore::open(&n).unwrap_err().kind(), ErrorKind::NotFound, "unlinked on drop");
}

#[test]
fn bad_names_and_values_are_refused_before_any_call() {
    let e = NamedSemaphore::create("/a/b", 0, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains('/'), "{e}");
    let e = NamedSemaphore::create("/", 0, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let n = name("toolarge");
    let e = NamedSemaphore::create(&n, SEM_VALUE_MAX + 1, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("SEM_VALUE_MAX"), "{e}");
    assert_eq!(NamedSemaphore::open(&n).unwrap_err().kind(), ErrorKind::NotFound, "nothing was made");
    let e = NamedSemaphore::unlink(&n).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

#[test]
fn a_post_at_the_maximum_is_a_clear_error() {
    let n = name("max");
    let mut sem = NamedSemaphore::create(&n, SEM_VALUE_MAX, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let e = sem.post().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert!(e.to_string().contains("SEM_VALUE_MAX"), "{e}");
    assert_eq!(sem.value().unwrap(), SEM_VALUE_MAX);
}

/// `procs` processes each take the semaphore `rounds` times and add one to a counter
/// in shared memory with a separate load and store: without mutual exclusion,
/// increments would be lost.
fn contend(lock: &dyn Semaphore, counter: &ipckit::posix::shm::Mapping, procs: usize, rounds: u64) {
    let bump = || {
        for _ in 0..rounds {
            let g = lock.lock().expect("lock");
            let v = counter.load_u64(0, Ordering::Relaxed).expect("load");
            std::hint::spin_loop();
            counter.atomic_u64(0).expect("atomic").store(v + 1, Ordering::Relaxed);
            drop(g);
        }
    };
    let children: Vec<_> = (0..procs)
        .map(|_| {
            fork(|| {
                bump();
                0
            })
        })
        .collect();
    bump();
    for c in children {
        wait_ok(c);
    }
    assert_eq!(counter.load_u64(0, Ordering::SeqCst).unwrap(), (procs as u64 + 1) * rounds);
}

#[test]
fn a_named_semaphore_excludes_across_processes_with_exact_counts() {
    let n = name("contend");
    let mut sem = NamedSemaphore::create(&n, 1, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let counter = ShmObject::memfd("counter", 4096).unwrap().map().unwrap();
    contend(&sem, &counter, 3, 2000);
    assert_eq!(sem.value().unwrap(), 1, "every unit given back");
}

#[test]
fn an_unnamed_semaphore_in_a_memfd_excludes_across_processes() {
    let obj = ShmObject::memfd("psem", 4096).unwrap();
    let map = obj.map().unwrap();
    let sem = UnnamedSemaphore::init(&map, 64, 1).unwrap();
    assert_eq!(sem.offset(), 64);
    contend(&sem, &map, 3, 2000);
    assert_eq!(sem.value().unwrap(), 1);
}

#[test]
fn an_unnamed_semaphore_in_a_named_object_is_reached_through_another_mapping() {
    let n = format!("/ipckit-test-psem-obj-{}", std::process::id());
    let mut obj = ShmObject::create(&n, 4096, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    let map = obj.map().unwrap();
    let sem = UnnamedSemaphore::init(&map, 0, 0).unwrap();
    let child = fork(|| {
        // A fresh open and mapping, at another address: the semaphore is in the memory.
        let Ok(o) = ShmObject::open(&n) else { return 2 };
        let Ok(m) = o.map() else { return 3 };
        let Ok(s) = UnnamedSemaphore::at(&m, 0) else { return 4 };
        // Wait for the parent's post, then answer.
        if s.wait_timeout(Duration::from_secs(120)).is_err() {
            return 5;
        }
        if s.value().ok() != Some(0) {
            return 6;
        }
        match UnnamedSemaphore::at(&m, SEM_SIZE.next_multiple_of(SEM_ALIGN)).and_then(|r| r.post()) {
            Ok(()) => 0,
            Err(_) => 7,
        }
    });
    let reply = UnnamedSemaphore::init(&map, SEM_SIZE.next_multiple_of(SEM_ALIGN), 0).unwrap();
    util::wait_blocked_in(child.pid(), "futex");
    sem.post().unwrap();
    reply.wait().unwrap();
    wait_ok(child);
}

#[test]
fn an_unnamed_semaphore_in_a_system_v_segment_excludes_across_processes() {
    let mut seg = ShmSegment::create(Key::PRIVATE, 4096, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let att = seg.attach().unwrap();
    let sem = UnnamedSemaphore::init(&att, 128, 1).unwrap();
    let counter = ShmObject::memfd("counter", 4096).unwrap().map().unwrap();
    contend(&sem, &counter, 2, 1500);
}

#[test]
fn bad_placements_of_an_unnamed_semaphore_are_refused() {
    let obj = ShmObject::memfd("psem-bad", 4096).unwrap();
    let map = obj.map().unwrap();
    assert_eq!(UnnamedSemaphore::init(&map, 1, 0).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(UnnamedSemaphore::init(&map, 4096, 0).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(UnnamedSemaphore::at(&map, usize::MAX - 7).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(
        UnnamedSemaphore::init(&map, 0, SEM_VALUE_MAX + 1).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let ro = obj.map_read_only().unwrap();
    assert_eq!(UnnamedSemaphore::at(&ro, 0).unwrap_err().kind(), ErrorKind::ReadOnly);
}

#[test]
fn timed_waits_run_out_and_report_not_now() {
    let n = name("timeout");
    let mut sem = NamedSemaphore::create(&n, 0, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let start = Instant::now();
    assert_eq!(sem.wait_timeout(Duration::from_millis(50)).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(start.elapsed() >= Duration::from_millis(50), "waited the whole timeout");
    let deadline = Instant::now() + Duration::from_millis(30);
    assert_eq!(sem.wait_deadline(deadline).unwrap_err().kind(), ErrorKind::TimedOut);
    assert!(Instant::now() >= deadline);
    let past = Instant::now() - Duration::from_secs(1);
    assert_eq!(sem.wait_deadline(past).unwrap_err().kind(), ErrorKind::TimedOut, "a past deadline");
    assert_eq!(sem.lock_timeout(Duration::from_millis(5)).unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(sem.try_lock().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(sem.value().unwrap(), 0, "nothing taken by the failed waits");
}

/// Waits until the thread of process `pid` named `comm` (libtest names a test's
/// thread after the test, cut to 15 bytes; a test on the main thread has the
/// binary's name) sleeps on a futex, as `sem_clockwait` does. Panics after two
/// minutes: a hang guard, not a timing assertion.
fn wait_test_thread_blocked(pid: u32, comm: &str) {
    let start = Instant::now();
    loop {
        let mut names = Vec::new();
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten() {
            let name = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            let wchan = std::fs::read_to_string(t.path().join("wchan")).unwrap_or_default();
            if name.trim() == comm && wchan.contains("futex") {
                return;
            }
            names.push(name.trim().to_string());
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no thread {comm} of {pid} waited (threads {names:?})"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_timed_wait_in_another_process_is_woken_by_a_post() {
    // The other process is this test binary started again (not a fork: see the note
    // on fork at the top of the file), which opens the semaphore by name.
    if let Some(r) = util::role() {
        let s = NamedSemaphore::open(&r[0]).expect("open by name");
        s.wait_timeout(Duration::from_secs(120)).expect("woken by the post");
        return;
    }
    let n = name("wake");
    let mut sem = NamedSemaphore::create(&n, 0, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let mut child =
        util::spawn_role("a_timed_wait_in_another_process_is_woken_by_a_post", &[&n]).spawn().unwrap();
    let thread = util::test_name("a_timed_wait_in_another_process_is_woken_by_a_post");
    wait_test_thread_blocked(child.id(), &thread[..15]);
    sem.post().unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(sem.value().unwrap(), 0, "the child took the unit");
}

#[test]
fn a_guard_posts_on_drop_and_on_unwinding_panic() {
    let n = name("guard");
    let mut sem = NamedSemaphore::create(&n, 1, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let g = sem.lock().unwrap();
    assert_eq!(sem.value().unwrap(), 0);
    g.release().unwrap();
    assert_eq!(sem.value().unwrap(), 1);
    // A child that panics while holding the guard: unwinding posts it back.
    let child = fork(|| {
        let _g = sem.lock().expect("lock");
        panic!("deliberate panic while holding the semaphore");
    });
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(sem.value().unwrap(), 1, "the unwinding guard posted");
}

#[test]
fn a_holder_that_dies_never_gives_its_unit_back() {
    // The documented weakness of POSIX semaphores: no undo on process death.
    let n = name("dies");
    let mut sem = NamedSemaphore::create(&n, 1, Mode::OWNER_RW).unwrap();
    sem.set_remove_on_drop(true).unwrap();
    let ready = NamedSemaphore::create(&name("dies-ready"), 0, Mode::OWNER_RW).unwrap();
    let _cleanup = Unlink(ready.name().to_string());
    let child = fork(|| {
        let g = sem.lock().expect("lock");
        std::mem::forget(g);
        let _ = ready.post();
        std::thread::sleep(Duration::from_secs(600));
        0
    });
    ready.wait().unwrap();
    child.kill(Signal::Kill).unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert_eq!(sem.value().unwrap(), 0, "the dead holder's unit is lost");
    assert_eq!(sem.wait_timeout(Duration::from_millis(20)).unwrap_err().kind(), ErrorKind::TimedOut);

    // The System V alternative with SEM_UNDO gets it back.
    let mut set = ipckit::sysv::sem::SemSet::create(Key::PRIVATE, &[1], Mode::OWNER_RW).unwrap();
    set.set_remove_on_drop(true).unwrap();
    let child = fork(|| {
        let g = set.lock(0).expect("lock");
        std::mem::forget(g);
        let _ = ready.post();
        std::thread::sleep(Duration::from_secs(600));
        0
    });
    ready.wait().unwrap();
    assert_eq!(set.value(0).unwrap(), 0);
    child.kill(Signal::Kill).unwrap();
    let _ = child.wait().unwrap();
    assert_eq!(set.value(0).unwrap(), 1, "SEM_UNDO gave the unit back");
}

#[test]
fn the_raw_address_is_the_semaphore_in_the_mapping() {
    let obj = ShmObject::memfd("psem-ptr", 4096).unwrap();
    let map = obj.map().unwrap();
    let sem = UnnamedSemaphore::init(&map, 256, 3).unwrap();
    assert_eq!(sem.as_ptr(), map.as_ptr().wrapping_add(256));
}
