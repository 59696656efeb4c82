//! Semaphore sets across real processes: SEM_UNDO after SIGKILL, the creation race,
//! waiters, removal and signals while waiting, permissions.

use crate::util;

use std::time::Duration;

use crate::util::{fork, wait_blocked_in, wait_ok};
use ipckit::process::{self, Signal};
use ipckit::sysv::sem::{SemOp, SemSet};
use ipckit::{ErrorKind, Key, Mode};

fn set(initial: &[u16]) -> SemSet {
    let mut s = SemSet::create(Key::PRIVATE, initial, Mode::OWNER_RW).unwrap();
    s.set_remove_on_drop(true).unwrap();
    s
}

/// Waits until `cond` holds (a hang guard after two minutes, not a timing assertion).
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !cond() {
        assert!(start.elapsed() < Duration::from_secs(120), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn a_killed_holder_releases_its_lock_through_sem_undo() {
    let s = set(&[1]);
    let holder = fork(|| {
        let _guard = s.lock(0);
        // Hold the lock until killed.
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    });
    wait_for("the holder takes the lock", || {
        s.value(0).unwrap() == 0 && s.last_pid(0).unwrap() == holder.pid()
    });
    // A second process waits for the lock.
    let waiter = fork(|| match s.lock(0) {
        Ok(g) => {
            drop(g);
            0
        }
        Err(_) => 2,
    });
    wait_for("the waiter blocks", || s.waiting_to_take(0).unwrap() == 1);
    holder.kill(Signal::Kill).unwrap();
    let status = holder.wait().unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9));
    // The kernel undid the holder's P: the waiter got the lock, and gave it back.
    wait_ok(waiter);
    assert_eq!(s.value(0).unwrap(), 1);
}

#[test]
fn without_sem_undo_a_killed_holder_keeps_the_lock() {
    // The contrast that shows what SEM_UNDO buys.
    let s = set(&[1]);
    let holder = fork(|| {
        let _ = s.p(0);
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    });
    wait_for("the holder takes the semaphore", || s.value(0).unwrap() == 0);
    holder.kill(Signal::Kill).unwrap();
    holder.wait().unwrap();
    assert_eq!(s.value(0).unwrap(), 0, "nothing gives it back");
}

#[test]
fn racing_creators_see_exactly_one_initialiser_and_never_an_uninitialised_set() {
    const PROCS: usize = 8;
    const ROUNDS: u8 = 25;
    let kd = util::KeyDir::new();
    // A gate: every child waits on it, then the parent opens it for all at once.
    let gate = set(&[0]);
    for round in 1..=ROUNDS {
        let key = kd.key(round);
        let initial = [5u16, 0, 3];
        let children: Vec<_> = (0..PROCS)
            .map(|_| {
                fork(|| {
                    if gate.op(&[SemOp::p(0)]).is_err() {
                        return 20;
                    }
                    match SemSet::open_or_create(key, &initial, Mode::OWNER_RW) {
                        // Whoever returns must see the initial values, never zeros.
                        Ok(set) => match set.values() {
                            Ok(v) if v == initial => {
                                if set.created() {
                                    10
                                } else {
                                    11
                                }
                            }
                            _ => 21,
                        },
                        Err(_) => 22,
                    }
                })
            })
            .collect();
        wait_for("all children wait at the gate", || gate.waiting_to_take(0).unwrap() as usize == PROCS);
        gate.op(&[SemOp::new(0, PROCS as i16)]).unwrap();
        let codes: Vec<i32> = children.into_iter().map(|c| c.wait().unwrap().code().unwrap()).collect();
        SemSet::open(key).unwrap().remove().unwrap();
        assert_eq!(codes.iter().filter(|&&c| c == 10).count(), 1, "round {round}: one creator: {codes:?}");
        assert_eq!(codes.iter().filter(|&&c| c == 11).count(), PROCS - 1, "round {round}: {codes:?}");
    }
}

#[test]
fn openers_wait_for_a_slow_creator_to_initialise() {
    // The creator's window between semget and the first semop is a few microseconds;
    // widen it on purpose: this process creates the set with a bare semget, lets the
    // openers in, and initialises it later, following ipckit's protocol (values, then
    // one semop that sets sem_otime).
    let kd = util::KeyDir::new();
    let key = kd.key(b'w');
    let mut raw = SemSet::get(key, ipckit::sysv::Create::Exclusive, 3, Mode::OWNER_RW).unwrap();
    raw.set_remove_on_drop(true).unwrap();
    let openers: Vec<_> = (0..4)
        .map(|_| {
            fork(|| match SemSet::open_or_create(key, &[9, 9, 9], Mode::OWNER_RW) {
                Ok(set) if !set.created() => match set.values() {
                    Ok(v) if v == [5, 0, 3] => 0,
                    Ok(_) => 3,
                    Err(_) => 4,
                },
                _ => 5,
            })
        })
        .collect();
    // Let the openers reach their wait.
    std::thread::sleep(Duration::from_millis(50));
    raw.set_values(&[6, 0, 3]).unwrap();
    raw.op(&[SemOp::new(0, -1)]).unwrap();
    for o in openers {
        wait_ok(o);
    }
}

#[test]
fn waiter_counts_and_wake_up() {
    let s = set(&[0, 1]);
    let taker = fork(|| if s.p(0).is_ok() { 0 } else { 2 });
    let zero_waiter = fork(|| if s.wait_zero(1).is_ok() { 0 } else { 2 });
    wait_for("GETNCNT sees the taker", || s.waiting_to_take(0).unwrap() == 1);
    wait_for("GETZCNT sees the zero-waiter", || s.waiting_for_zero(1).unwrap() == 1);
    assert_eq!(s.waiting_for_zero(0).unwrap(), 0);
    assert_eq!(s.waiting_to_take(1).unwrap(), 0);
    s.v(0).unwrap();
    wait_ok(taker);
    assert_eq!(s.last_pid(0).unwrap(), s.last_pid(0).unwrap());
    s.p(1).unwrap();
    wait_ok(zero_waiter);
    assert_eq!((s.waiting_to_take(0).unwrap(), s.waiting_for_zero(1).unwrap()), (0, 0));
}

#[test]
fn a_blocked_operation_learns_the_set_was_removed() {
    let s = SemSet::create(Key::PRIVATE, &[0], Mode::OWNER_RW).unwrap();
    let child = fork(|| match s.p(0) {
        Err(e) if e.kind() == ErrorKind::Removed => 0,
        _ => 2,
    });
    wait_blocked_in(child.pid(), "sem");
    s.remove().unwrap();
    wait_ok(child);
}

#[test]
fn stop_and_continue_interrupts_a_blocked_operation() {
    let s = set(&[0]);
    let child = fork(|| match s.p(0) {
        Err(e) if e.kind() == ErrorKind::Interrupted => 0,
        _ => 2,
    });
    wait_blocked_in(child.pid(), "sem");
    // semop fails with EINTR after SIGSTOP + SIGCONT, even with no handler (signal(7)).
    child.kill(Signal::Stop).unwrap();
    child.kill(Signal::Cont).unwrap();
    wait_ok(child);
}

#[test]
fn a_timed_operation_succeeds_when_another_process_posts() {
    let s = set(&[0]);
    let child = fork(|| match s.op_timeout(&[SemOp::p(0)], Duration::from_secs(600)) {
        Ok(()) => 0,
        _ => 2,
    });
    wait_for("the child waits", || s.waiting_to_take(0).unwrap() == 1);
    s.v(0).unwrap();
    wait_ok(child);
    assert_eq!(s.value(0).unwrap(), 0);
}

#[test]
fn mode_0600_refuses_another_user() {
    require_root!();
    let s = set(&[1]);
    let id = s.id();
    let child = fork(move || {
        if process::set_ids(65534, 65534).is_err() {
            return 10;
        }
        let mut code = 0;
        // The set exists (a handle can be made, to remove it if one may), but every
        // operation is refused.
        let Ok(theirs) = SemSet::from_id(id) else { return 11 };
        match theirs.value(0) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 1,
        }
        match theirs.try_op(&[SemOp::p(0)]) {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 2,
        }
        match theirs.remove() {
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
            _ => code |= 4,
        }
        code
    });
    wait_ok(child);
    assert_eq!(s.value(0).unwrap(), 1);
}
