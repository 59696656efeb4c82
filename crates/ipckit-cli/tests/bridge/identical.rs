//! Identical messages through kill -9. A queue of byte-identical ticks (same type,
//! same body) is the case where comparing the first message with the exporter's
//! record cannot tell a removal that happened from one that did not; the landing
//! tells. 3000 ticks cross while the exporter is SIGKILLed 8 times: the far side gets
//! exactly 3000 and the near queue ends empty. (The exact kill point, between the
//! `msgrcv` and the record, is made on purpose in the unit tests of
//! crates/ipckit/src/bridge/export.rs; here kills land wherever they land.)

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bridge_util::*;
use crate::fifo_channel::{bridge, kill_9_eight_times, seed};
use crate::security::queue;
use ipckit::Wait;
use ipckit::sysv::msg::Select;

const COUNT: usize = 3000;

#[test]
fn identical_messages_cross_exactly_once_each_through_exporter_kills() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let ((a, ida), (b, idb)) = (queue(), queue());
    let mut out = bridge(&srv, dir.path(), "out", &["out", "--queue-id", &ida], "t.ticks", &[]);
    let _in = bridge(&srv, dir.path(), "in", &["in", "--queue-id", &idb], "t.ticks", &[]);
    let seed = seed();

    // Paced (about 0.1 ms apart), so that the kills land while ticks flow.
    let sender = std::thread::spawn(move || {
        for _ in 0..COUNT {
            a.send(b"tick", 5).unwrap();
            std::thread::sleep(Duration::from_micros(100));
        }
        a
    });
    let progress = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut got = 0usize;
            let mut wrong = Vec::new();
            let mut last = Instant::now();
            // Give up only after a long silence (a stuck bridge); then anything more
            // within a second would be a duplicate.
            while last.elapsed() < Duration::from_secs(if got < COUNT { 120 } else { 1 }) {
                match b.recv_vec(Select::Any, Wait::Timeout(Duration::from_millis(200))) {
                    Ok(m) => {
                        if (m.mtype, m.data.as_slice()) != (5, b"tick".as_slice()) {
                            wrong.push((m.mtype, m.data));
                        }
                        got += 1;
                        progress.store(got, Ordering::SeqCst);
                        last = Instant::now();
                    }
                    Err(e) if e.is_not_now() => {}
                    Err(e) => panic!("{e}"),
                }
            }
            (got, wrong)
        })
    };
    kill_9_eight_times(&mut out, &progress, COUNT, seed);
    let a = sender.join().unwrap();
    let (got, wrong) = receiver.join().unwrap();
    assert!(wrong.is_empty(), "seed {seed}: messages that are not ticks: {wrong:?}");
    assert_eq!(got, COUNT, "seed {seed}: ticks received\nexporter: {}", out.stderr());
    assert_eq!(a.stat().unwrap().qnum, 0, "seed {seed}: ticks left in the near queue");
}
