//! Events in shared memory across processes: set/wait hand-offs, the wait family,
//! named events, and a set that never counts twice.
use crate::util;

use std::time::{Duration, Instant};

use crate::util::{fork, wait_ok};
use ipckit::channel::Event;
use ipckit::{ErrorKind, Mode};

#[test]
fn two_events_ping_pong_between_processes() {
    let ping = Event::create_memfd().unwrap();
    let pong = Event::create_memfd().unwrap();
    const ROUNDS: u32 = 2000;
    let child = fork(|| {
        for _ in 0..ROUNDS {
            if ping.wait().is_err() {
                return 1;
            }
            pong.set();
        }
        0
    });
    for _ in 0..ROUNDS {
        ping.set();
        pong.wait().unwrap();
    }
    wait_ok(child);
    // Every set was consumed by exactly one wait.
    assert!(!ping.is_set() && !pong.is_set());
}

#[test]
fn a_sleeping_waiter_in_another_process_wakes() {
    let ev = Event::create_memfd().unwrap();
    let done = Event::create_memfd().unwrap();
    let child = fork(|| {
        // Long enough to be asleep on the futex when the parent sets.
        match ev.wait_timeout(Duration::from_secs(120)) {
            Ok(()) => {
                done.set();
                0
            }
            Err(_) => 1,
        }
    });
    util::wait_blocked_in(child.pid(), "futex");
    assert!(!done.is_set());
    ev.set();
    done.wait().unwrap();
    wait_ok(child);
}

#[test]
fn the_wait_family_reports_not_now_as_errors() {
    let ev = Event::create_memfd().unwrap();
    assert_eq!(ev.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(ev.wait_timeout(Duration::from_millis(5)).unwrap_err().kind(), ErrorKind::TimedOut);
    let past = Instant::now();
    assert_eq!(ev.wait_deadline(past).unwrap_err().kind(), ErrorKind::TimedOut);
    // Sets do not count: two sets, one wait.
    ev.set();
    ev.set();
    assert!(ev.is_set());
    ev.try_wait().unwrap();
    assert_eq!(ev.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
    ev.set();
    ev.wait_deadline(Instant::now() + Duration::from_secs(60)).unwrap();
    ev.set();
    ev.reset();
    assert_eq!(ev.try_wait().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn a_named_event_is_opened_by_another_process_and_removed() {
    let name = format!("/ipckit-test-event-{}", std::process::id());
    let mut ev = Event::create_named(&name, Mode::OWNER_RW).unwrap();
    ev.set_remove_on_drop(true).unwrap();
    let go = Event::create_memfd().unwrap();
    let child = fork(|| {
        let Ok(ev) = Event::open_named(&name) else { return 2 };
        go.set();
        if ev.wait_timeout(Duration::from_secs(120)).is_ok() { 0 } else { 1 }
    });
    go.wait().unwrap();
    ev.set();
    wait_ok(child);
    drop(ev);
    assert_eq!(Event::open_named(&name).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn an_object_that_is_not_an_event_is_refused() {
    let name = format!("/ipckit-test-event-bad-{}", std::process::id());
    let mut obj = ipckit::posix::shm::ShmObject::create(&name, 4096, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    obj.map().unwrap().write_at(0, b"not an event").unwrap();
    let err = Event::open_named(&name).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Corrupted, "{err}");
    let small = format!("/ipckit-test-event-small-{}", std::process::id());
    let mut obj2 = ipckit::posix::shm::ShmObject::create(&small, 64, Mode::OWNER_RW).unwrap();
    obj2.set_remove_on_drop(true).unwrap();
    assert_eq!(Event::open_named(&small).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn many_waiters_each_take_one_set() {
    let ev = Event::create_memfd().unwrap();
    let ack = Event::create_memfd().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            fork(|| {
                if ev.wait_timeout(Duration::from_secs(120)).is_err() {
                    return 1;
                }
                ack.set();
                0
            })
        })
        .collect();
    // One set wakes one taker at a time; the others keep waiting.
    for _ in 0..3 {
        ev.set();
        ack.wait().unwrap();
    }
    for c in children {
        wait_ok(c);
    }
}
