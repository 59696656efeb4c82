//! The channel over each backing (System V key, named POSIX object, memfd passed by
//! descriptor), across processes; loans, in-place reads, typed messages, sizes.
use crate::util;

use std::path::Path;

use ipckit::channel::{Channel, ChannelConfig};
use ipckit::{ErrorKind, Mode};

/// Sends three messages from a forked child and checks them here.
fn exchange(open_in_child: impl Fn() -> Channel, parent: &Channel) {
    let child = util::fork(|| {
        let chan = open_in_child();
        let mut tx = chan.sender().unwrap();
        tx.send(b"one").unwrap();
        let mut loan = tx.loan(5).unwrap();
        loan.write_at(0, b"two!!").unwrap();
        loan.commit_len(3).unwrap();
        tx.send_pod(&[3u32, 33, 333]).unwrap();
        0
    });
    let mut rx = parent.receiver().unwrap();
    assert_eq!(rx.recv_vec().unwrap(), b"one");
    assert_eq!(rx.recv_vec().unwrap(), b"two");
    assert_eq!(rx.recv_pod::<[u32; 3]>().unwrap(), [3, 33, 333]);
    util::wait_ok(child);
}

#[test]
fn over_a_sysv_segment_found_by_key() {
    let keys = util::KeyDir::new();
    let key = keys.key(b'c');
    let mut chan = Channel::create_sysv(key, &ChannelConfig::new(), Mode::OWNER_RW).unwrap();
    chan.set_remove_on_drop(true).unwrap();
    assert!(chan.segment_id().is_some() && chan.fd().is_none());
    exchange(|| Channel::open_sysv(key).unwrap(), &chan);
    let id = chan.segment_id().unwrap();
    drop(chan);
    // The creator removed the segment (IPC_RMID). A child that another test of this
    // binary forked meanwhile inherits every attachment of this process, so the segment
    // may live on, marked for removal, until that child exits.
    match ipckit::sysv::shm::ShmSegment::from_id(id) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound),
        Ok(seg) => match seg.stat() {
            Ok(st) => assert!(st.marked_for_removal, "removed on drop"),
            // The last attachment went away in between.
            Err(e) => assert_eq!(e.kind(), ErrorKind::NotFound),
        },
    }
}

#[test]
fn over_a_named_posix_object() {
    let name = format!("/ipckit-test-chan-{}", std::process::id());
    let mut chan = Channel::create_named(&name, &ChannelConfig::new(), Mode::OWNER_RW).unwrap();
    chan.set_remove_on_drop(true).unwrap();
    let file = format!("/dev/shm{name}");
    assert!(Path::new(&file).exists());
    exchange(|| Channel::open_named(&name).unwrap(), &chan);
    // Exclusive creation: the name is taken.
    let err = Channel::create_named(&name, &ChannelConfig::new(), Mode::OWNER_RW).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    drop(chan);
    assert!(!Path::new(&file).exists(), "the creator unlinks the name on drop");
    assert_eq!(Channel::open_named(&name).unwrap_err().kind(), ErrorKind::NotFound);
}

#[test]
fn over_a_memfd_passed_by_descriptor() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let fd = chan.shm_object().unwrap().try_clone_fd().unwrap();
    let fd = std::cell::Cell::new(Some(fd));
    exchange(|| Channel::from_fd(fd.take().unwrap()).unwrap(), &chan);
}

#[test]
fn a_named_object_that_is_not_a_channel_is_refused() {
    let name = format!("/ipckit-test-notchan-{}", std::process::id());
    let mut obj = ipckit::posix::shm::ShmObject::create(&name, 8192, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    obj.map().unwrap().write_at(0, b"not a channel").unwrap();
    assert_eq!(Channel::open_named(&name).unwrap_err().kind(), ErrorKind::Corrupted);
    obj.set_len(100).unwrap();
    assert_eq!(Channel::open_named(&name).unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn sizes_are_checked_and_a_too_small_buffer_loses_nothing() {
    let chan =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(4096).with_max_message(1000)).unwrap();
    assert_eq!(chan.capacity(), 4096);
    assert_eq!(chan.max_message(), 1000);
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    assert_eq!(tx.send(&[0; 1001]).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    assert_eq!(tx.loan(1001).unwrap_err().kind(), ErrorKind::MessageTooLarge);
    tx.send(&[9; 1000]).unwrap();
    tx.send(b"").unwrap();
    let err = rx.recv(&mut [0u8; 10]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageTooLarge, "{err}");
    assert_eq!(rx.recv_pod::<u64>().unwrap_err().kind(), ErrorKind::Codec);
    assert_eq!(rx.recv_vec().unwrap(), vec![9; 1000], "the message stayed");
    assert_eq!(rx.recv_vec().unwrap(), b"", "empty messages travel too");
    // A larger max message grows the ring.
    let big =
        Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_max_message(100_000)).unwrap();
    assert!(big.capacity() >= 200_000 && big.max_message() == 100_000);
}

#[test]
fn loans_and_guards_work_in_place() {
    let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(8192)).unwrap();
    let mut tx = chan.sender().unwrap();
    let mut rx = chan.receiver().unwrap();
    // A dropped loan sends nothing.
    {
        let _unused = tx.loan(100).unwrap();
    }
    assert!(rx.try_recv_in_place().unwrap_err().is_not_now());
    let mut loan = tx.loan(3000).unwrap();
    assert_eq!(loan.len(), 3000);
    assert_eq!(loan.write_at(2999, b"xx").unwrap_err().kind(), ErrorKind::OutOfBounds);
    // SAFETY: the receiver in this test reads only committed messages.
    #[allow(unsafe_code)]
    let slice = unsafe { loan.as_mut_slice() };
    for (i, b) in slice.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    loan.commit();
    {
        let g = rx.recv_in_place().unwrap();
        assert_eq!(g.len(), 3000);
        let mut tail = [0u8; 4];
        g.read_at(2996, &mut tail).unwrap();
        assert_eq!(tail, [2996 % 251, 2997 % 251, 2998 % 251, 2999 % 251].map(|v| v as u8));
        assert_eq!(g.read_at(2999, &mut tail).unwrap_err().kind(), ErrorKind::OutOfBounds);
        // SAFETY: the sender in this test does not write the ring while the guard lives.
        #[allow(unsafe_code)]
        let all = unsafe { g.as_slice() };
        assert!(all.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        assert_eq!(g.to_vec(), all);
    }
    // The guard freed the message: the ring is empty again, and takes a full load.
    assert!(rx.try_recv_in_place().unwrap_err().is_not_now());
    for _ in 0..2 {
        tx.send(&[1; 3000]).unwrap();
    }
}

#[cfg(feature = "serde")]
#[test]
fn serde_values_travel() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Job {
        id: u64,
        name: String,
        tags: Vec<String>,
    }
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let child = util::fork(|| {
        let mut tx = chan.sender().unwrap();
        for id in 0..100 {
            tx.send_value(&Job { id, name: format!("job {id}"), tags: vec!["a".into(); id as usize % 4] })
                .unwrap();
        }
        tx.send(&[0xFF; 3]).unwrap(); // not postcard for a Job
        0
    });
    let mut rx = chan.receiver().unwrap();
    for id in 0..100u64 {
        let job: Job = rx.recv_value().unwrap();
        assert_eq!(job, Job { id, name: format!("job {id}"), tags: vec!["a".into(); id as usize % 4] });
    }
    assert_eq!(rx.recv_value::<Job>().unwrap_err().kind(), ErrorKind::Codec);
    util::wait_ok(child);
}

#[test]
fn record_alignment_is_checked_and_kept() {
    for align in [0, 8, 24, 8192] {
        let err = Channel::create_memfd(&ChannelConfig::new().with_record_align(align)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "align {align}: {err}");
    }
    for align in [16, 64, 4096] {
        let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(1024).with_record_align(align))
            .unwrap();
        assert!(chan.capacity() >= 4 * align);
        let mut tx = chan.sender().unwrap();
        let mut rx = chan.receiver().unwrap();
        for i in 0..100u32 {
            tx.send(&i.to_le_bytes()).unwrap();
            assert_eq!(rx.recv_pod::<u32>().unwrap(), i);
        }
    }
}
