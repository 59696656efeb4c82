//! Message queues in one process: sending, every selector, truncation, typed
//! messages, waiting, status, limits.

use crate::util;

use std::time::{Duration, Instant};

use ipckit::sysv::msg::{Message, MsgBuf, MsgQueue, Oversize, QueueUpdate, Select};
use ipckit::sysv::{Create, Update};
use ipckit::{ErrorKind, Key, Limit, Mode, Wait};

fn queue() -> MsgQueue {
    let mut q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    q.set_remove_on_drop(true).unwrap();
    q
}

fn types_in_order(q: &MsgQueue, select: Select) -> Vec<(i64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let r = match q.try_recv(&mut buf, select) {
            Ok(r) => r,
            Err(e) if e.is_not_now() => break,
            Err(e) => panic!("{e}"),
        };
        out.push((r.mtype, buf[..r.len].to_vec()));
    }
    out
}

fn fill(q: &MsgQueue) {
    // Types sent out of order, with a repeat, so every selector has work to do.
    for (t, body) in [(3, "c1"), (1, "a1"), (5, "e1"), (2, "b1"), (1, "a2"), (4, "d1")] {
        q.send(body.as_bytes(), t).unwrap();
    }
}

#[test]
fn select_any_is_fifo() {
    let q = queue();
    fill(&q);
    let got: Vec<i64> = types_in_order(&q, Select::Any).iter().map(|m| m.0).collect();
    assert_eq!(got, vec![3, 1, 5, 2, 1, 4]);
}

#[test]
fn select_type_takes_only_that_type_in_order() {
    let q = queue();
    fill(&q);
    let got = types_in_order(&q, Select::Type(1));
    assert_eq!(got, vec![(1, b"a1".to_vec()), (1, b"a2".to_vec())]);
    // The others are untouched, still in arrival order.
    let rest: Vec<i64> = types_in_order(&q, Select::Any).iter().map(|m| m.0).collect();
    assert_eq!(rest, vec![3, 5, 2, 4]);
}

#[test]
fn select_up_to_takes_the_lowest_type_first() {
    let q = queue();
    fill(&q);
    // Lowest type <= 3 each time: 1 (a1), 1 (a2), 2, 3; then 4 and 5 are above the bound.
    let got: Vec<(i64, Vec<u8>)> = types_in_order(&q, Select::UpTo(3));
    assert_eq!(got, vec![(1, b"a1".to_vec()), (1, b"a2".to_vec()), (2, b"b1".to_vec()), (3, b"c1".to_vec())]);
    let rest: Vec<i64> = types_in_order(&q, Select::Any).iter().map(|m| m.0).collect();
    assert_eq!(rest, vec![5, 4]);
}

#[test]
fn select_except_skips_one_type() {
    let q = queue();
    fill(&q);
    let got: Vec<i64> = types_in_order(&q, Select::Except(1)).iter().map(|m| m.0).collect();
    assert_eq!(got, vec![3, 5, 2, 4]);
    let rest: Vec<i64> = types_in_order(&q, Select::Any).iter().map(|m| m.0).collect();
    assert_eq!(rest, vec![1, 1]);
}

#[test]
fn non_positive_types_are_refused_before_any_call() {
    let q = queue();
    for t in [0, -1, i64::MIN] {
        let e = q.send(b"x", t).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("positive"), "{e}");
        assert_eq!(e.raw_os_error(), None, "refused before the syscall");
    }
    let mut buf = [0u8; 4];
    for sel in [Select::Type(0), Select::UpTo(-3), Select::Except(0)] {
        let e = q.try_recv(&mut buf, sel).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{sel:?}");
    }
    // Nothing was sent.
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[test]
fn too_small_buffer_is_an_error_and_keeps_the_message() {
    let q = queue();
    q.send(b"0123456789", 7).unwrap();
    let mut small = [0u8; 4];
    let e = q.recv(&mut small, Select::Any).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MessageTooLarge);
    assert!(e.to_string().contains("stays in the queue"), "{e}");
    assert_eq!(q.stat().unwrap().qnum, 1, "the message is still queued");
    // With a big enough buffer it arrives whole.
    let mut big = [0u8; 10];
    let r = q.recv(&mut big, Select::Any).unwrap();
    assert_eq!((r.mtype, r.len, r.truncated), (7, 10, false));
    assert_eq!(&big, b"0123456789");
}

#[test]
fn truncation_with_msg_noerror() {
    let q = queue();
    q.send(b"0123456789", 1).unwrap();
    q.send(b"abcd", 1).unwrap();
    q.send(b"wxyz!", 1).unwrap();
    let mut buf = [0u8; 4];
    let r = q.recv_with(&mut buf, Select::Any, Oversize::Truncate, Wait::Block).unwrap();
    assert_eq!((r.len, r.truncated), (4, true));
    assert_eq!(&buf, b"0123");
    // A message of exactly the buffer's size is not truncated.
    let r = q.recv_with(&mut buf, Select::Any, Oversize::Truncate, Wait::Block).unwrap();
    assert_eq!((r.len, r.truncated), (4, false));
    assert_eq!(&buf, b"abcd");
    // One byte too long is.
    let r = q.recv_with(&mut buf, Select::Any, Oversize::Truncate, Wait::Block).unwrap();
    assert_eq!((r.len, r.truncated), (4, true));
    assert_eq!(&buf, b"wxyz");
    // The cut-off rest is gone: the queue is empty.
    assert_eq!(q.stat().unwrap().qnum, 0);
}

#[test]
fn binary_bodies_and_empty_messages() {
    let q = queue();
    let all: Vec<u8> = (0..=255).collect();
    q.send(&all, 9).unwrap();
    q.send(b"", 9).unwrap();
    let m = q.recv_vec(Select::Type(9), Wait::Block).unwrap();
    assert_eq!(m, Message { mtype: 9, data: all });
    let m = q.recv_vec(Select::Type(9), Wait::NoWait).unwrap();
    assert_eq!(m, Message { mtype: 9, data: vec![] });
    assert!(q.recv_vec(Select::Type(9), Wait::NoWait).unwrap_err().is_not_now());
}

#[test]
fn msgbuf_round_trip_and_capacity() {
    let q = queue();
    let mut buf = MsgBuf::with_capacity(16);
    assert_eq!(buf.body_mut(17).unwrap_err().kind(), ErrorKind::OutOfBounds);
    buf.set(4, b"sixteen bytes!!!").unwrap();
    q.send_buf(&buf, Wait::NoWait).unwrap();
    let mut rx = MsgBuf::with_capacity(8);
    // Too small without truncation: error, message kept.
    assert_eq!(
        q.recv_buf(&mut rx, Select::Any, Oversize::Refuse, Wait::NoWait).unwrap_err().kind(),
        ErrorKind::MessageTooLarge
    );
    q.recv_buf(&mut rx, Select::Any, Oversize::Truncate, Wait::NoWait).unwrap();
    assert_eq!((rx.mtype(), rx.body()), (4, &b"sixteen "[..]));
    let mut bad = MsgBuf::with_capacity(1);
    bad.set(0, b"x").unwrap();
    assert_eq!(q.send_buf(&bad, Wait::NoWait).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[derive(Copy, Clone, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Score {
    name: [u8; 32],
    math: i32,
    chinese: i32,
}

#[test]
fn pod_messages_are_sent_byte_for_byte() {
    let q = queue();
    let mut name = [0u8; 32];
    name[..3].copy_from_slice(b"ada");
    let s = Score { name, math: 97, chinese: 88 };
    q.send_pod(&s, 1, Wait::Block).unwrap();
    // On the wire it is exactly the struct's bytes, as C's msgsnd would send them.
    let mut raw = [0u8; 64];
    let r = q.recv(&mut raw, Select::Any).unwrap();
    assert_eq!(r.len, 40);
    assert_eq!(&raw[..32], &name);
    assert_eq!(i32::from_ne_bytes(raw[32..36].try_into().unwrap()), 97);
    assert_eq!(i32::from_ne_bytes(raw[36..40].try_into().unwrap()), 88);
    // And it comes back as the same value.
    q.send_pod(&s, 2, Wait::Block).unwrap();
    assert_eq!(q.recv_pod::<Score>(Select::Type(2), Wait::NoWait).unwrap(), (2, s));
}

#[test]
fn pod_size_mismatch_is_reported() {
    let q = queue();
    // Longer than the type: refused, and the message stays.
    q.send(&[0u8; 41], 1).unwrap();
    let e = q.recv_pod::<Score>(Select::Any, Wait::NoWait).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MessageTooLarge);
    assert!(e.to_string().contains("Score"), "{e}");
    assert_eq!(q.stat().unwrap().qnum, 1);
    let _ = q.recv_vec(Select::Any, Wait::NoWait).unwrap();
    // Shorter than the type: a codec error naming both sizes.
    q.send(&[0u8; 12], 1).unwrap();
    let e = q.recv_pod::<Score>(Select::Any, Wait::NoWait).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec);
    assert!(e.to_string().contains("12-byte") && e.to_string().contains("40-byte"), "{e}");
}

#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
enum Command {
    Move { x: i32, y: i32 },
    Say(String),
    Stop,
}

#[cfg(feature = "serde")]
#[test]
fn serde_messages_round_trip() {
    let q = queue();
    let cmds = vec![Command::Move { x: -3, y: 7 }, Command::Say("héllo ✓".into()), Command::Stop];
    for c in &cmds {
        q.send_value(c, 3, Wait::Block).unwrap();
    }
    for c in &cmds {
        let (t, got): (i64, Command) = q.recv_value(Select::Type(3), Wait::NoWait).unwrap();
        assert_eq!((t, &got), (3, c));
    }
    // Garbage is a codec error, not a panic.
    q.send(&[0xff, 0xff, 0xff, 0xff, 0xff], 3).unwrap();
    let e = q.recv_value::<Command>(Select::Any, Wait::NoWait).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Codec);
}

#[test]
fn full_queue_is_a_distinct_outcome() {
    let q = queue();
    q.update(&QueueUpdate { qbytes: Some(100), ..Default::default() }).unwrap();
    q.try_send(&[1u8; 60], 1).unwrap();
    // 60 + 60 > 100: no room now.
    assert!(q.try_send(&[2u8; 60], 1).unwrap_err().is_not_now());
    assert!(q.send_timeout(&[2u8; 60], 1, Duration::from_millis(30)).unwrap_err().is_not_now());
    assert!(
        q.send_deadline(&[2u8; 60], 1, Instant::now() + Duration::from_millis(10)).unwrap_err().is_not_now()
    );
    // Only the first message is there.
    let st = q.stat().unwrap();
    assert_eq!((st.qnum, st.cbytes), (1, 60));
}

#[test]
fn a_message_that_can_never_fit_is_refused_not_waited_for() {
    let q = queue();
    q.update(&QueueUpdate { qbytes: Some(100), ..Default::default() }).unwrap();
    for wait in [Wait::Block, Wait::NoWait, Wait::Timeout(Duration::from_secs(3600))] {
        let e = q.send_with(&[0u8; 101], 1, wait).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{wait:?}");
        assert!(e.to_string().contains("msgmnb") && e.to_string().contains("100"), "{e}");
    }
}

#[test]
fn over_msgmax_names_the_limit() {
    let q = queue();
    let msgmax = Limit::MsgMax.current().unwrap() as usize;
    let e = q.send(&vec![0u8; msgmax + 1], 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded);
    assert_eq!(e.limit(), Some(Limit::MsgMax));
    let text = e.to_string();
    assert!(text.contains("msgmax") && text.contains(&msgmax.to_string()), "{text}");
    assert!(text.contains("/proc/sys/kernel/msgmax"), "{text}");
    // A message of exactly msgmax bytes is fine (raise qbytes if msgmnb is smaller).
    let st = q.stat().unwrap();
    if st.qbytes >= msgmax as u64 {
        q.send(&vec![7u8; msgmax], 1).unwrap();
        assert_eq!(q.recv_vec(Select::Any, Wait::NoWait).unwrap().data.len(), msgmax);
    }
}

#[test]
fn timeouts_return_none_after_waiting() {
    let q = queue();
    let mut buf = [0u8; 8];
    let t0 = Instant::now();
    assert!(q.recv_timeout(&mut buf, Select::Any, Duration::from_millis(50)).unwrap_err().is_not_now());
    assert!(t0.elapsed() >= Duration::from_millis(50), "returned before the timeout");
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_millis(30);
    assert!(q.recv_deadline(&mut buf, Select::Any, deadline).unwrap_err().is_not_now());
    assert!(Instant::now() >= deadline);
    // A deadline in the past is a single non-blocking attempt.
    q.send(b"hi", 2).unwrap();
    let r = q.recv_deadline(&mut buf, Select::Any, t0).unwrap();
    assert_eq!(&buf[..r.len], b"hi");
}

#[test]
fn stat_reports_every_field() {
    let before = std::time::SystemTime::now() - Duration::from_secs(2);
    let q = queue();
    let st = q.stat().unwrap();
    let me = ipckit::process::current_pid();
    assert_eq!(st.perm.key, Key::PRIVATE);
    assert_eq!(st.perm.mode & 0o777, 0o600);
    assert_eq!(st.perm.uid, ipckit::process::effective_uid());
    assert_eq!(st.perm.cuid, ipckit::process::effective_uid());
    assert_eq!(st.perm.gid, ipckit::process::effective_gid());
    assert_eq!(st.perm.cgid, ipckit::process::effective_gid());
    assert_eq!((st.qnum, st.cbytes, st.lspid, st.lrpid), (0, 0, 0, 0));
    assert_eq!((st.stime, st.rtime), (None, None));
    assert!(st.ctime.unwrap() >= before);
    assert_eq!(st.qbytes, Limit::MsgMnb.current().unwrap());

    q.send(b"12345", 1).unwrap();
    q.send(b"678", 1).unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.qnum, st.cbytes, st.lspid, st.lrpid), (2, 8, me, 0));
    assert!(st.stime.unwrap() >= before);
    let mut buf = [0u8; 8];
    q.recv(&mut buf, Select::Any).unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.qnum, st.cbytes, st.lrpid), (1, 3, me));
    assert!(st.rtime.unwrap() >= before);
}

#[test]
fn update_changes_mode_owner_and_capacity() {
    let q = queue();
    q.update(&QueueUpdate {
        perm: Update { mode: Some(Mode::new(0o640)), ..Default::default() },
        qbytes: Some(4096),
    })
    .unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.perm.mode & 0o777, st.qbytes), (0o640, 4096));
    // Fields not named stay as they were.
    q.update(&QueueUpdate { qbytes: Some(2048), ..Default::default() }).unwrap();
    let st = q.stat().unwrap();
    assert_eq!((st.perm.mode & 0o777, st.qbytes), (0o640, 2048));
    if ipckit::process::effective_uid() == 0 {
        q.update(&QueueUpdate {
            perm: Update { uid: Some(65534), gid: Some(65534), ..Default::default() },
            qbytes: None,
        })
        .unwrap();
        let st = q.stat().unwrap();
        assert_eq!((st.perm.uid, st.perm.gid, st.perm.cuid), (65534, 65534, 0));
    }
}

#[test]
fn remove_then_every_call_says_not_found() {
    let q = MsgQueue::create(Key::PRIVATE, Mode::OWNER_RW).unwrap();
    let id = q.id();
    let again = MsgQueue::from_id(id).unwrap();
    q.remove().unwrap();
    let e = again.send(b"x", 1).unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NotFound | ErrorKind::Removed), "{e}");
    assert!(e.to_string().contains(&format!("id {id}")), "{e}");
    assert_eq!(MsgQueue::from_id(id).unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(again.remove().unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn keyed_creation_modes() {
    let kd = util::KeyDir::new();
    let key = kd.key(b'm');
    assert_eq!(MsgQueue::open(key).unwrap_err().kind(), ErrorKind::NotFound);
    let mut q = MsgQueue::create(key, Mode::new(0o640)).unwrap();
    q.set_remove_on_drop(true).unwrap();
    assert!(q.created());
    let e = MsgQueue::create(key, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    assert!(e.to_string().contains(&key.to_string()), "{e}");
    let o = MsgQueue::open_or_create(key, Mode::OWNER_RW).unwrap();
    assert!(!o.created());
    assert_eq!(o.id(), q.id());
    let o2 = MsgQueue::get(key, Create::Open, Mode::OWNER_RW).unwrap();
    assert_eq!(o2.id(), q.id());
    assert_eq!(q.stat().unwrap().perm.key, key);
    // IPC_PRIVATE cannot be "opened".
    assert_eq!(MsgQueue::open(Key::PRIVATE).unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[test]
fn peek_copies_without_removing() {
    let q = queue();
    q.send(b"first", 1).unwrap();
    q.send(b"second", 2).unwrap();
    let mut buf = [0u8; 16];
    match q.peek(1, &mut buf) {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            skip!("kernel without CONFIG_CHECKPOINT_RESTORE: {e}")
        }
        Err(e) => panic!("{e}"),
        Ok(r) => {
            let r = r.unwrap();
            assert_eq!((r.mtype, &buf[..r.len]), (2, &b"second"[..]));
        }
    }
    assert!(q.peek(2, &mut buf).unwrap().is_none());
    assert_eq!(q.stat().unwrap().qnum, 2, "peek removes nothing");
}

#[test]
fn errors_convert_into_io_errors() {
    let q = queue();
    let e = q.send(b"x", 0).unwrap_err();
    let io: std::io::Error = e.clone().into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(io.to_string(), e.to_string());
}

#[test]
fn peek_into_a_buffer_too_small_copies_nothing_and_says_so() {
    let q = queue();
    q.send(&[5u8; 100], 3).unwrap();
    let mut small = [0u8; 16];
    match q.peek(0, &mut small) {
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            skip!("kernel without CONFIG_CHECKPOINT_RESTORE: {e}")
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::MessageTooLarge, "{e}");
            assert!(e.to_string().contains("16-byte buffer"), "{e}");
        }
        Ok(r) => panic!("a 100-byte message copied into 16 bytes: {r:?}"),
    }
    assert_eq!(small, [0u8; 16], "nothing was copied");
    let mut exact = [0u8; 100];
    let r = q.peek(0, &mut exact).unwrap().unwrap();
    assert_eq!((r.mtype, r.len, r.truncated, exact), (3, 100, false, [5u8; 100]));
    assert_eq!(q.stat().unwrap().qnum, 1, "peek removes nothing");
}
