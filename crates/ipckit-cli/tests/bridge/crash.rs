//! The bridge's delivery promise under kill -9: 10^4 messages cross while the
//! exporter is SIGKILLed at random moments and restarted, then the importer, then
//! the server is restarted; the far side receives exactly the messages sent, in
//! order, once each — except for the importer's documented window (killed between
//! its local send and its state record, it sends that one message again), which
//! the test allows once per importer kill and only as an immediate repeat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::bridge_util::*;
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, Wait};

const COUNT: u32 = 10_000;

/// A small xorshift generator, seeded from the clock (the seed is printed).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

fn message(n: u32) -> (i64, Vec<u8>) {
    let mtype = 1 + i64::from(n % 7);
    let mut body = format!("message {n:05} ").into_bytes();
    body.resize(16 + (n % 40) as usize, b'.');
    (mtype, body)
}

#[test]
fn exactly_the_messages_sent_in_order_once_each_through_kill_9_and_a_server_restart() {
    let exe = need_nats!();
    let mut srv = Server::start(&exe, &[]);
    let dir = tempfile::tempdir().unwrap();
    let mut a = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    a.set_remove_on_drop(true).unwrap();
    let mut b = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    b.set_remove_on_drop(true).unwrap();
    let (ida, idb) = (a.id().to_string(), b.id().to_string());
    let url = srv.url();
    let st = |n: &str| dir.path().join(n).to_string_lossy().into_owned();
    let mut out = Bridge::start(
        &args(&[
            "out",
            "--queue-id",
            &ida,
            "--subject",
            "t.crash",
            "--server",
            &url,
            "--state",
            &st("out.state"),
        ]),
        &dir.path().join("out.err"),
    );
    let mut inb = Bridge::start(
        &args(&[
            "in",
            "--queue-id",
            &idb,
            "--subject",
            "t.crash",
            "--server",
            &url,
            "--state",
            &st("in.state"),
        ]),
        &dir.path().join("in.err"),
    );

    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);

    // The sender fills queue A (waiting while it is full); the receiver drains B.
    let sent_all = Arc::new(AtomicBool::new(false));
    let sender = {
        let sent_all = sent_all.clone();
        let id = a.id();
        std::thread::spawn(move || {
            let q = MsgQueue::from_id(id).unwrap();
            for n in 0..COUNT {
                let (t, body) = message(n);
                q.send(&body, t).unwrap();
            }
            sent_all.store(true, Ordering::SeqCst);
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
                if let Some(m) = opt(q.recv_vec(Select::Any, Wait::Timeout(Duration::from_millis(200)))) {
                    got.push((m.mtype, m.data));
                    progress.store(got.len(), Ordering::SeqCst);
                    last = Instant::now();
                }
            }
            // Anything more within a second would be a duplicate.
            while let Some(m) = opt(q.recv_vec(Select::Any, Wait::Timeout(Duration::from_secs(1)))) {
                got.push((m.mtype, m.data));
            }
            got
        })
    };

    // Each kill waits until the far side has received a random share of the
    // messages, so that every kill lands while messages flow.
    let count = COUNT as usize;
    let wait_for = |share: usize, rng: &mut Rng| {
        let target = share + rng.between(0, (count / 20) as u64) as usize;
        while progress.load(Ordering::SeqCst) < target {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_micros(rng.between(0, 5000)));
    };
    // Phase 1: kill -9 the exporter 8 times in the first 60 %, restarting it after
    // a random pause.
    for k in 0..8 {
        wait_for(k * count * 6 / 80, &mut rng);
        out.kill9();
        std::thread::sleep(Duration::from_millis(rng.between(0, 50)));
        out.restart();
    }
    // Phase 2: the importer, twice, between 60 % and 80 %.
    for k in 0..2 {
        wait_for(count * 6 / 10 + k * count / 10, &mut rng);
        inb.kill9();
        inb.restart();
    }
    // Phase 3: the server (stopped and started again), while the bridges run.
    wait_for(count * 85 / 100, &mut rng);
    let at_restart = progress.load(Ordering::SeqCst);
    srv.restart();
    assert!(at_restart < count, "the server restart came after the last message");

    sender.join().unwrap();
    assert!(sent_all.load(Ordering::SeqCst));
    let mut got = receiver.join().unwrap();
    // The importer's one documented window: killed after its msgsnd and before its
    // state record, it delivers that message again after the restart. That shows
    // as an immediate repeat; at most one per importer kill, never anything else.
    let before = got.len();
    got.dedup();
    let repeats = before - got.len();
    eprintln!("immediate repeats from importer kills: {repeats}");
    assert!(repeats <= 2, "seed {seed}: {repeats} repeated messages, more than the 2 importer kills explain");
    let told = inb.stderr().matches("MAYBE TWICE").count();
    assert!(repeats <= told, "seed {seed}: {repeats} repeats, {told} told\n{}", inb.stderr());
    let expected: Vec<(i64, Vec<u8>)> = (0..COUNT).map(message).collect();
    if got != expected {
        let first_bad =
            got.iter().zip(&expected).position(|(g, e)| g != e).unwrap_or(got.len().min(expected.len()));
        // Runs of consecutive message numbers, to show what went wrong.
        let nums: Vec<u32> =
            got.iter().map(|m| String::from_utf8_lossy(&m.1)[8..13].parse().unwrap_or(u32::MAX)).collect();
        let mut runs = Vec::new();
        let mut start = 0;
        for i in 1..=nums.len() {
            if i == nums.len() || nums[i] != nums[i - 1].wrapping_add(1) {
                runs.push(format!("{}..={}", nums[start], nums[i - 1]));
                start = i;
            }
        }
        panic!(
            "seed {seed}: runs {runs:?}\ngot {} messages, want {}; first difference at {first_bad}: got {:?}, want {:?}\nexporter: {}\nimporter: {}",
            got.len(),
            expected.len(),
            got.get(first_bad).map(|m| String::from_utf8_lossy(&m.1).into_owned()),
            expected.get(first_bad).map(|m| String::from_utf8_lossy(&m.1).into_owned()),
            out.stderr(),
            inb.stderr(),
        );
    }
    assert_eq!(a.stat().unwrap().qnum, 0);
}

/// A receive that may time out: the message, or `None` for "not now"; any other error
/// fails the test.
fn opt<T>(r: ipckit::Result<T>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_not_now() => None,
        Err(e) => panic!("{e}"),
    }
}
