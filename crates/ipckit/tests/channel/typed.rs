//! Typed ends across processes: typed loans written in place, in-place typed
//! receives, the wait family, and refusals (wrong sizes, types that do not fit).

use std::time::Duration;

use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{Channel, ChannelConfig, TypedReceiver, TypedSender};

#[derive(Copy, Clone, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Sample {
    seq: u64,
    values: [f32; 6],
    tag: u32,
    check: u32,
}

impl Sample {
    fn new(seq: u64) -> Sample {
        let values = std::array::from_fn(|i| seq as f32 + i as f32 / 8.0);
        Sample { seq, values, tag: (seq % 7) as u32, check: (seq as u32).wrapping_mul(2654435761) }
    }
}

#[test]
fn typed_loans_written_in_place_arrive_in_another_process() {
    const N: u64 = 20_000;
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(8192)).unwrap();
    let child = fork(|| {
        let mut rx = TypedReceiver::<Sample>::new(chan.receiver().unwrap()).unwrap();
        for seq in 0..N {
            // Alternate copies and in-place reads.
            let got = if seq % 2 == 0 {
                rx.recv().unwrap()
            } else {
                let g = rx.recv_in_place().unwrap();
                // One field straight from the ring, without copying the rest.
                // SAFETY: the guard keeps the value in place; the pointer is aligned.
                let seq_in_place = unsafe { std::ptr::addr_of!((*g.as_ptr()).seq).read() };
                if seq_in_place != seq {
                    return 2;
                }
                g.read()
            };
            if got != Sample::new(seq) {
                return 1;
            }
        }
        0
    });
    let mut tx = TypedSender::<Sample>::new(chan.sender().unwrap()).unwrap();
    for seq in 0..N {
        let mut loan = tx.loan_uninit().unwrap();
        if seq % 3 == 0 {
            loan.write(Sample::new(seq));
        } else {
            // Field by field through the raw pointer, as a producer filling a buffer.
            let p = loan.as_mut_ptr();
            let s = Sample::new(seq);
            // SAFETY: `p` is aligned for Sample and valid while the loan lives.
            unsafe {
                std::ptr::addr_of_mut!((*p).seq).write(s.seq);
                std::ptr::addr_of_mut!((*p).values).write(s.values);
                std::ptr::addr_of_mut!((*p).tag).write(s.tag);
                std::ptr::addr_of_mut!((*p).check).write(s.check);
            }
        }
        loan.publish();
    }
    wait_ok(child);
}

#[test]
fn a_dropped_typed_loan_sends_nothing() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut tx = TypedSender::<u64>::new(chan.sender().unwrap()).unwrap();
    let mut rx = TypedReceiver::<u64>::new(chan.receiver().unwrap()).unwrap();
    {
        let mut loan = tx.loan_uninit().unwrap();
        loan.write(1);
        // The loan ends here without publish.
    }
    tx.send(&2).unwrap();
    assert_eq!(rx.recv().unwrap(), 2);
    assert_eq!(rx.try_recv().unwrap_err().kind(), ErrorKind::WouldBlock);
}

#[test]
fn the_typed_wait_family_reports_not_now_as_errors() {
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_record_align(16)).unwrap();
    let mut tx = TypedSender::<[u64; 4]>::new(chan.sender().unwrap()).unwrap();
    let mut rx = TypedReceiver::<[u64; 4]>::new(chan.receiver().unwrap()).unwrap();
    assert_eq!(rx.try_recv().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(rx.try_recv_in_place().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(rx.recv_timeout(Duration::from_millis(2)).unwrap_err().kind(), ErrorKind::TimedOut);
    // Fill the ring: 48-byte records in 1024 bytes.
    let mut sent = 0u64;
    while tx.try_send(&[sent; 4]).is_ok() {
        sent += 1;
    }
    assert!(sent >= 10);
    assert_eq!(tx.try_send(&[0; 4]).unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(tx.try_loan_uninit().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(tx.send_timeout(&[0; 4], Duration::from_millis(2)).unwrap_err().kind(), ErrorKind::TimedOut);
    assert_eq!(tx.loan_uninit_timeout(Duration::from_millis(2)).unwrap_err().kind(), ErrorKind::TimedOut);
    for i in 0..sent {
        assert_eq!(rx.recv().unwrap(), [i; 4]);
    }
}

#[test]
fn a_message_of_another_size_is_a_codec_error_and_stays() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = TypedReceiver::<u64>::new(chan.receiver().unwrap()).unwrap();
    tx.send(b"three").unwrap();
    assert_eq!(rx.recv().unwrap_err().kind(), ErrorKind::Codec);
    assert_eq!(rx.recv_in_place().unwrap_err().kind(), ErrorKind::Codec);
    // Still there for the byte API.
    let mut buf = [0u8; 8];
    assert_eq!(rx.receiver().try_recv(&mut buf).unwrap(), 5);
}

#[test]
fn types_that_do_not_fit_are_refused() {
    #[derive(Copy, Clone, bytemuck::Pod, bytemuck::Zeroable)]
    #[repr(C, align(64))]
    struct Wide([u8; 64]);
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_max_message(100)).unwrap();
    let err = TypedSender::<Wide>::new(chan.sender().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    let err = TypedReceiver::<[u8; 4096]>::new(chan.receiver().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageTooLarge, "{err}");
}

#[test]
fn a_killed_typed_sender_gives_disconnected() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let child = fork(|| {
        let mut tx = TypedSender::<u64>::new(chan.sender().unwrap()).unwrap();
        tx.send(&42).unwrap();
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut rx = TypedReceiver::<u64>::new(chan.receiver().unwrap()).unwrap();
    assert_eq!(rx.recv().unwrap(), 42);
    child.kill(ipckit::process::Signal::Kill).unwrap();
    assert_eq!(rx.recv().unwrap_err().kind(), ErrorKind::Disconnected);
    let _ = child.wait().unwrap();
}
