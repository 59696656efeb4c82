//! Semaphore sets in one process: operations, every semctl command, limits.

use crate::util;

use std::time::{Duration, Instant};

use ipckit::sysv::sem::{SemOp, SemSet, parse_ops};
use ipckit::sysv::{Create, Update};
use ipckit::{ErrorKind, Key, Limit, Mode};

fn set(initial: &[u16]) -> SemSet {
    let mut s = SemSet::create(Key::PRIVATE, initial, Mode::OWNER_RW).unwrap();
    s.set_remove_on_drop(true).unwrap();
    s
}

#[test]
fn create_sets_the_initial_values_and_marks_the_set_initialised() {
    for initial in [&[0u16][..], &[1, 2, 3], &[32767, 0], &[0, 32767, 5]] {
        let s = set(initial);
        assert_eq!(s.values().unwrap(), initial);
        assert_eq!(s.len(), initial.len());
        let st = s.stat().unwrap();
        assert_eq!(st.nsems as usize, initial.len());
        assert!(st.otime.is_some(), "sem_otime marks the set initialised");
    }
}

#[test]
fn operations_apply_atomically_or_not_at_all() {
    let s = set(&[1, 0]);
    // Semaphore 1 is 0: the pair cannot proceed, so semaphore 0 is left untouched.
    assert!(s.try_op(&[SemOp::new(0, -1), SemOp::new(1, -1)]).unwrap_err().is_not_now());
    assert_eq!(s.values().unwrap(), vec![1, 0]);
    s.op(&[SemOp::new(0, -1), SemOp::new(1, 3)]).unwrap();
    assert_eq!(s.values().unwrap(), vec![0, 3]);
    s.try_op(&[SemOp::new(1, -2), SemOp::wait_zero(0)]).unwrap();
    assert_eq!(s.values().unwrap(), vec![0, 1]);
    // A wait-for-zero on a non-zero semaphore does not proceed.
    assert!(s.try_op(&[SemOp::wait_zero(1)]).unwrap_err().is_not_now());
}

#[test]
fn p_v_and_the_lock_guard() {
    let s = set(&[1]);
    s.p(0).unwrap();
    assert_eq!(s.value(0).unwrap(), 0);
    assert!(s.try_lock(0).unwrap_err().is_not_now());
    s.v(0).unwrap();
    {
        let g = s.lock(0).unwrap();
        assert_eq!(s.value(0).unwrap(), 0);
        assert!(s.lock_timeout(0, Duration::from_millis(20)).unwrap_err().is_not_now());
        g.release().unwrap();
    }
    assert_eq!(s.value(0).unwrap(), 1);
    {
        let _g = s.try_lock(0).expect("free");
        assert_eq!(s.value(0).unwrap(), 0);
    }
    assert_eq!(s.value(0).unwrap(), 1, "dropping the guard gave it back");
}

#[test]
fn timed_operations_wait_then_give_up() {
    let s = set(&[0]);
    let t0 = Instant::now();
    assert!(s.op_timeout(&[SemOp::p(0)], Duration::from_millis(40)).unwrap_err().is_not_now());
    assert!(t0.elapsed() >= Duration::from_millis(40));
    let deadline = Instant::now() + Duration::from_millis(20);
    assert!(s.op_deadline(&[SemOp::p(0)], deadline).unwrap_err().is_not_now());
    assert!(Instant::now() >= deadline);
    s.v(0).unwrap();
    s.op_timeout(&[SemOp::p(0)], Duration::from_secs(3600)).unwrap();
    assert_eq!(s.value(0).unwrap(), 0);
}

#[test]
fn a_nowait_flag_in_a_blocking_call_is_an_error_not_a_hang() {
    let s = set(&[0]);
    let e = s.op(&[SemOp::p(0).nowait()]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
}

#[test]
fn every_semctl_command() {
    let s = set(&[3, 4, 5]);
    let me = ipckit::process::current_pid();
    // GETVAL / SETVAL
    assert_eq!(s.value(1).unwrap(), 4);
    s.set_value(1, 9).unwrap();
    assert_eq!(s.value(1).unwrap(), 9);
    // GETALL / SETALL
    assert_eq!(s.values().unwrap(), vec![3, 9, 5]);
    s.set_values(&[7, 8, 0]).unwrap();
    assert_eq!(s.values().unwrap(), vec![7, 8, 0]);
    let e = s.set_values(&[1, 2]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // GETPID: the last process to operate (semop or SETVAL/SETALL) on the semaphore.
    s.op(&[SemOp::new(2, 1)]).unwrap();
    assert_eq!(s.last_pid(2).unwrap(), me);
    // GETNCNT / GETZCNT with nobody waiting (see sysv_sem_process for waiters).
    assert_eq!(s.waiting_to_take(0).unwrap(), 0);
    assert_eq!(s.waiting_for_zero(0).unwrap(), 0);
    // IPC_STAT / IPC_SET
    let st = s.stat().unwrap();
    assert_eq!((st.nsems, st.perm.mode & 0o777), (3, 0o600));
    s.update(&Update { mode: Some(Mode::new(0o640)), ..Default::default() }).unwrap();
    assert_eq!(s.stat().unwrap().perm.mode & 0o777, 0o640);
    // Out-of-range indices are refused before any call.
    assert_eq!(s.value(3).unwrap_err().kind(), ErrorKind::OutOfBounds);
    assert_eq!(s.op(&[SemOp::v(9)]).unwrap_err().kind(), ErrorKind::OutOfBounds);
    // IPC_RMID
    let id = s.id();
    let other = SemSet::from_id(id).unwrap();
    s.remove().unwrap();
    assert_eq!(other.value(0).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(SemSet::from_id(id).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn values_above_semvmx_name_the_limit() {
    let s = set(&[0]);
    let e = s.set_value(0, 32768).unwrap_err();
    assert_eq!((e.kind(), e.limit()), (ErrorKind::LimitExceeded, Some(Limit::SemVmx)));
    assert!(e.to_string().contains("32767"), "{e}");
    s.set_value(0, 32767).unwrap();
    let e = s.op(&[SemOp::v(0)]).unwrap_err();
    assert_eq!(e.limit(), Some(Limit::SemVmx), "{e}");
    let e = SemSet::create(Key::PRIVATE, &[40000], Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.limit(), Some(Limit::SemVmx), "{e}");
}

#[test]
fn too_many_operations_name_semopm() {
    let s = set(&[0]);
    let semopm = Limit::SemOpm.current().unwrap() as usize;
    let ops = vec![SemOp::new(0, 0); semopm + 1];
    let e = s.op(&ops).unwrap_err();
    assert_eq!(e.limit(), Some(Limit::SemOpm), "{e}");
    assert!(e.to_string().contains("/proc/sys/kernel/sem"), "{e}");
}

#[test]
fn too_many_semaphores_name_semmsl() {
    let semmsl = Limit::SemMsl.current().unwrap() as usize;
    let e = SemSet::get(Key::PRIVATE, Create::Exclusive, semmsl + 1, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.limit(), Some(Limit::SemMsl), "{e}");
    assert!(e.to_string().contains(&semmsl.to_string()), "{e}");
}

#[test]
fn opening_checks_the_size_and_waits_for_initialisation() {
    let kd = util::KeyDir::new();
    let key = kd.key(b's');
    let mut a = SemSet::open_or_create(key, &[2, 2], Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    assert!(a.created());
    let b = SemSet::open_or_create(key, &[9, 9], Mode::OWNER_RW).unwrap();
    assert!(!b.created());
    assert_eq!(b.values().unwrap(), vec![2, 2], "the opener does not re-initialise");
    let e = SemSet::open_or_create(key, &[0, 0, 0], Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("fewer"), "{e}");
    assert_eq!(SemSet::open(key).unwrap().len(), 2);
}

#[test]
fn a_set_nobody_initialised_is_reported_after_the_timeout() {
    let kd = util::KeyDir::new();
    let key = kd.key(b'u');
    // Made with a bare semget, as a creator that died before initialising leaves it.
    let mut raw = SemSet::get(key, Create::Exclusive, 1, Mode::OWNER_RW).unwrap();
    raw.set_remove_on_drop(true).unwrap();
    let e = SemSet::open_initialized(key, Duration::from_millis(30)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotInitialized);
    assert!(
        e.to_string().contains(&format!("set id {} with IPC_RMID", raw.id())),
        "says how to remove it: {e}"
    );
    assert!(!e.to_string().contains("ipckit rm"), "a library error names no CLI command: {e}");
    assert!(e.to_string().contains("within 0.03 s"), "no Debug formatting: {e}");
    // A plain open does not wait.
    assert_eq!(SemSet::open(key).unwrap().id(), raw.id());
}

#[test]
fn the_text_form_of_operations() {
    let ops = parse_ops("0-1, 1+2,2=0").unwrap();
    assert_eq!(ops, vec![SemOp::new(0, -1), SemOp::new(1, 2), SemOp::wait_zero(2)]);
    assert_eq!(ops.iter().map(|o| o.to_string()).collect::<Vec<_>>(), ["0-1", "1+2", "2=0"]);
    for bad in ["", "0", "x-1", "0-", "0=1", "0+40000", "70000+1", "0*1", "0+0", "0-0", "0++1", "0+-1"] {
        let e = parse_ops(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
        assert!(e.to_string().contains("N+D"), "{e}");
    }
}
