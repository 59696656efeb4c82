//! loom models of the poller's handshake (`--cfg ipckit_loom`): a waker that
//! publishes while a poller arms its eventfd never leaves the poller asleep with the
//! publication unseen, and many publications write the eventfd once; both for a
//! poller that drains the eventfd on re-arm (level-triggered `epoll`) and for one
//! that never reads it (tokio's edge-triggered reactor: it needs a write after it
//! re-armed, whatever the counter holds).

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU32, AtomicU64};

use super::ring::{POLLING, Wake};
use super::sync::Ordering;

/// The eventfd's counter, and the data the waker publishes.
struct World {
    wake: Wake,
    efd: AtomicU64,
    data: AtomicU32,
}

/// The waker: publish, then as `wait::notify` and `poll::kick` do.
fn publish(w: &World, value: u32) {
    w.data.store(value, Ordering::Release);
    if w.wake.needs_wake() {
        w.wake.bump();
        let polling = w.wake.waiting.load(Ordering::Relaxed) == POLLING;
        if polling && w.wake.poll.raise_pending() {
            w.efd.fetch_add(1, Ordering::Release);
        }
    }
}

/// The poller: take a pending write (draining the eventfd), arm, look.
fn arm_and_look(w: &World) -> u32 {
    if w.wake.poll.take_pending() {
        w.efd.swap(0, Ordering::Acquire);
    }
    w.wake.arm_poll();
    w.data.load(Ordering::Acquire)
}

/// The edge-triggered poller (`Drain::OnRequest`): take a pending write without
/// reading the eventfd, arm, look. Returns what it saw and the number of writes
/// before it re-armed (the edges its reactor has already reported).
fn arm_and_look_edge(w: &World) -> (u32, u64) {
    let edges = w.efd.load(Ordering::Relaxed);
    w.wake.poll.take_pending();
    w.wake.arm_poll();
    (w.data.load(Ordering::Acquire), edges)
}

fn world() -> Arc<World> {
    Arc::new(World { wake: Wake::new(), efd: AtomicU64::new(0), data: AtomicU32::new(0) })
}

#[test]
fn an_armed_poller_never_misses_a_publication() {
    loom::model(|| {
        let w = world();
        let waker = {
            let w = Arc::clone(&w);
            loom::thread::spawn(move || publish(&w, 1))
        };
        let seen = arm_and_look(&w);
        waker.join().unwrap();
        if seen == 0 {
            // The poller goes to epoll_wait: the eventfd must be readable.
            assert!(w.efd.load(Ordering::Relaxed) > 0, "lost wake-up of a poller");
        }
    });
}

#[test]
fn a_poller_that_re_arms_after_a_wake_up_still_sees_the_next_publication() {
    loom::model(|| {
        let w = world();
        // A first round: armed, woken (a write pending), not yet drained.
        w.wake.arm_poll();
        publish(&w, 1);
        assert_eq!(w.efd.load(Ordering::Relaxed), 1);
        w.wake.retire();
        let waker = {
            let w = Arc::clone(&w);
            loom::thread::spawn(move || publish(&w, 2))
        };
        let seen = arm_and_look(&w);
        waker.join().unwrap();
        if seen != 2 {
            assert!(w.efd.load(Ordering::Relaxed) > 0, "lost wake-up after re-arming");
        }
    });
}

#[test]
fn an_edge_triggered_poller_never_misses_a_publication() {
    loom::model(|| {
        let w = world();
        let waker = {
            let w = Arc::clone(&w);
            loom::thread::spawn(move || publish(&w, 1))
        };
        let (seen, edges) = arm_and_look_edge(&w);
        waker.join().unwrap();
        if seen == 0 {
            // The poller awaits an edge: a write must come after it re-armed.
            assert!(w.efd.load(Ordering::Relaxed) > edges, "lost wake-up of an edge-triggered poller");
        }
    });
}

#[test]
fn an_edge_triggered_poller_that_never_drains_still_sees_the_next_publication() {
    loom::model(|| {
        let w = world();
        // A first round: armed, woken (a write pending, the counter left at 1).
        w.wake.arm_poll();
        publish(&w, 1);
        assert_eq!(w.efd.load(Ordering::Relaxed), 1);
        w.wake.retire();
        let waker = {
            let w = Arc::clone(&w);
            loom::thread::spawn(move || publish(&w, 2))
        };
        let (seen, edges) = arm_and_look_edge(&w);
        waker.join().unwrap();
        if seen != 2 {
            assert!(w.efd.load(Ordering::Relaxed) > edges, "lost wake-up after re-arming without a drain");
        }
    });
}
