//! `AsyncReceiver::set_spin`: a receive that first looks for a while without arming its
//! eventfd loses, repeats and misses nothing, whether the message comes during the spin
//! (a fast echo) or after it (an echo that pauses, so the receive parks), across real
//! processes; with the spin, a killed sender still gives `Disconnected`.
#![cfg(feature = "tokio")]

use std::time::Duration;

use super::with_tokio::{echo, runtime};
use crate::util::{fork, wait_ok};
use ipckit::ErrorKind;
use ipckit::channel::{AsyncReceiver, AsyncSender, Channel, ChannelConfig};
use ipckit::process::Signal;

#[test]
fn spinning_receives_get_every_reply_in_order() {
    const N: u64 = 3000;
    let there = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    let back = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096)).unwrap();
    // A blocking echo that pauses now and then, longer than the spin.
    let child = fork(|| echo(&there, &back, 8, Duration::from_micros(200)));
    runtime().block_on(async {
        let mut tx = AsyncSender::new(there.sender().unwrap()).unwrap();
        let mut rx = AsyncReceiver::new(back.receiver().unwrap()).unwrap();
        rx.set_spin(Duration::from_micros(50));
        let mut buf = [0u8; 512];
        for seq in 0..N {
            let len = 8 + (seq as usize * 53) % 400;
            let mut msg = vec![(seq % 251) as u8; len];
            msg[..8].copy_from_slice(&seq.to_le_bytes());
            tx.send(&msg).await.unwrap();
            // The three receive calls in turn: each spins, then may park.
            match seq % 3 {
                0 => {
                    let n = rx.recv(&mut buf).await.unwrap();
                    assert_eq!(&buf[..n], &msg[..], "message {seq}");
                }
                1 => assert_eq!(rx.recv_vec().await.unwrap(), msg, "message {seq}"),
                _ => {
                    let n = rx.recv(&mut buf).await.unwrap();
                    assert_eq!(&buf[..n], &msg[..], "message {seq}");
                }
            }
        }
        // Nothing more than was sent.
        assert!(rx.get_mut().try_recv(&mut buf).unwrap_err().is_not_now());
    });
    wait_ok(child);
}

#[test]
fn a_spinning_receive_reports_a_killed_sender() {
    let chan = Channel::create_memfd(&ChannelConfig::new()).unwrap();
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let child = fork(|| {
        use std::io::Write;
        let mut tx = chan.sender().unwrap();
        tx.send(b"one").unwrap();
        b.write_all(b"x").unwrap();
        std::thread::sleep(Duration::from_secs(3600));
        0
    });
    runtime().block_on(async {
        let mut rx = AsyncReceiver::new(chan.receiver().unwrap()).unwrap();
        rx.set_spin(Duration::from_micros(50));
        {
            use std::io::Read;
            let mut x = [0u8; 1];
            a.read_exact(&mut x).unwrap();
        }
        assert_eq!(rx.recv_vec().await.unwrap(), b"one");
        child.kill(Signal::Kill).unwrap();
        let _ = child.wait();
        let e = rx.recv_vec().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Disconnected, "{e}");
    });
}
