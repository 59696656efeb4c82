//! The exporter's window and the importer's cumulative acknowledgements under
//! kill -9: with a window of 8 messages (`--batch 8`) many windows go by, so each
//! SIGKILL of the exporter lands with several messages published and not yet
//! removed, some acknowledged, some not, and some removal half done; the importer
//! (`--batch 4`: one acknowledgement covers up to 4 messages) is killed with runs
//! put in and not acknowledged. The far side receives exactly the messages sent, in
//! order, once each, but for the importer's documented window (at most one
//! immediate repeat per importer kill).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bridge_util::*;
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, Wait};

const COUNT: u32 = 4_000;

fn message(n: u32) -> (i64, Vec<u8>) {
    let mtype = 1 + i64::from(n % 5);
    let mut body = format!("windowed {n:05} ").into_bytes();
    body.resize(16 + (n % 23) as usize, b'~');
    (mtype, body)
}

#[test]
fn kill_9_with_windows_in_flight_and_runs_unacknowledged_loses_and_repeats_nothing() {
    let exe = need_nats!();
    let srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut a = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    let mut b = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    b.set_remove_on_drop(true).unwrap();
    let (ida, idb) = (a.id().to_string(), b.id().to_string());
    let url = srv.url();
    let st = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let bridge = |dir_: &str, id: &str, state: &str, batch: &str| {
        args(&[
            dir_,
            "--queue-id",
            id,
            "--subject",
            "t.window",
            "--server",
            &url,
            "--state",
            &st(state),
            "--batch",
            batch,
        ])
    };
    let mut out = Bridge::start(&bridge("out", &ida, "out.state", "8"), &dir.path().join("out.err"));
    let mut inb = Bridge::start(&bridge("in", &idb, "in.state", "4"), &dir.path().join("in.err"));

    // Everything is queued up front, so the exporter always has a full window.
    let sender = {
        let id = a.id();
        std::thread::spawn(move || {
            let q = MsgQueue::from_id(id).unwrap();
            for n in 0..COUNT {
                let (t, body) = message(n);
                q.send(&body, t).unwrap();
            }
        })
    };
    let progress = Arc::new(AtomicUsize::new(0));
    let receiver = {
        let id = b.id();
        let progress = progress.clone();
        std::thread::spawn(move || {
            let q = MsgQueue::from_id(id).unwrap();
            let mut got = Vec::with_capacity(COUNT as usize);
            let mut last = Instant::now();
            // Give up only after a long silence (a stuck bridge), never on a clock.
            while got.len() < COUNT as usize && last.elapsed() < Duration::from_secs(120) {
                match q.recv_vec(Select::Any, Wait::Timeout(Duration::from_millis(200))) {
                    Ok(m) => {
                        got.push((m.mtype, m.data));
                        progress.store(got.len(), Ordering::SeqCst);
                        last = Instant::now();
                    }
                    Err(e) if e.is_not_now() => {}
                    Err(e) => panic!("{e}"),
                }
            }
            // Anything more within a second would be a duplicate.
            loop {
                match q.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(1))) {
                    Ok(m) => got.push((m.mtype, m.data)),
                    Err(e) if e.is_not_now() => break,
                    Err(e) => panic!("{e}"),
                }
            }
            got
        })
    };

    let count = COUNT as usize;
    let wait_for = |target: usize| {
        while progress.load(Ordering::SeqCst) < target {
            std::thread::sleep(Duration::from_millis(1));
        }
    };
    // The exporter, 12 times in the first 60 %, at uneven points (3 ms apart in
    // the pause after each target, so the kills fall at different phases).
    for k in 0..12u64 {
        wait_for((k as usize + 1) * count / 20);
        std::thread::sleep(Duration::from_micros(k * 300));
        out.kill9();
        out.restart();
    }
    // The importer, 3 times between 65 % and 90 %.
    for k in 0..3 {
        wait_for(count * 65 / 100 + k * count / 10);
        inb.kill9();
        inb.restart();
    }

    sender.join().unwrap();
    let mut got = receiver.join().unwrap();
    let before = got.len();
    got.dedup();
    let repeats = before - got.len();
    assert!(repeats <= 3, "{repeats} repeated messages, more than the 3 importer kills explain");
    let told = inb.stderr().matches("MAYBE TWICE").count();
    assert!(repeats <= told, "{repeats} repeats, {told} told\n{}", inb.stderr());
    let expected: Vec<(i64, Vec<u8>)> = (0..COUNT).map(message).collect();
    if got != expected {
        let first_bad =
            got.iter().zip(&expected).position(|(g, e)| g != e).unwrap_or(got.len().min(expected.len()));
        panic!(
            "got {} messages, want {}; first difference at {first_bad}: got {:?}, want {:?}\nexporter: {}\nimporter: {}",
            got.len(),
            expected.len(),
            got.get(first_bad).map(|m| String::from_utf8_lossy(&m.1).into_owned()),
            expected.get(first_bad).map(|m| String::from_utf8_lossy(&m.1).into_owned()),
            out.stderr(),
            inb.stderr(),
        );
    }
    assert_eq!(a.stat().unwrap().qnum, 0, "the exporter left messages in the source queue");
    drop(srv);
}
