//! Length-prefixed frames over Unix and TCP streams, between real processes: random
//! sizes intact and in order, a hostile length refused without allocating, a peer
//! that dies mid-frame, partial frames kept across non-blocking calls, typed messages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::util::{fork, serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::socket::{Framed, UnixStream};

/// Records the largest single allocation, to prove a refused length allocates nothing.
struct Largest;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only records sizes.
unsafe impl GlobalAlloc for Largest {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Largest = Largest;

/// A small deterministic generator (xorshift), so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const MAX: usize = 256 * 1024;
const FRAMES: usize = 300;

fn sizes() -> Vec<usize> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let mut v: Vec<usize> = (0..FRAMES).map(|_| (r.next() % (MAX as u64 + 1)) as usize).collect();
    v[0] = 0;
    v[1] = MAX;
    v[2] = 1;
    v
}

fn frame(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
}

fn send_all_frames<S: ipckit::socket::FrameSocket>(mut tx: Framed<S>) -> i32 {
    for (i, len) in sizes().into_iter().enumerate() {
        tx.send(&frame(i, len)).unwrap();
    }
    0
}

fn check_all_frames<S: ipckit::socket::FrameSocket>(rx: &mut Framed<S>) {
    for (i, len) in sizes().into_iter().enumerate() {
        let got = rx.recv().unwrap();
        assert_eq!(got.len(), len, "frame {i}");
        assert!(got == frame(i, len), "frame {i} of {len} bytes differs");
    }
    let end = rx.recv().unwrap_err();
    assert_eq!(end.kind(), ErrorKind::Disconnected, "{end}");
}

#[test]
fn random_frames_over_unix_arrive_intact_and_in_order() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let child = fork(move || send_all_frames(Framed::new(a).unwrap().with_max_frame(MAX).unwrap()));
    let mut rx = Framed::new(b).unwrap().with_max_frame(MAX).unwrap();
    check_all_frames(&mut rx);
    wait_ok(child);
}

#[test]
fn random_frames_over_tcp_arrive_intact_and_in_order() {
    let _g = serial();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let child = fork(move || {
        let tx = Framed::connect_tcp(addr).unwrap();
        if !tx.get_ref().nodelay().unwrap() {
            return 3;
        }
        send_all_frames(tx.with_max_frame(MAX).unwrap())
    });
    let (s, _) = listener.accept().unwrap();
    let mut rx = Framed::new(s).unwrap().with_max_frame(MAX).unwrap();
    assert!(rx.get_ref().nodelay().unwrap(), "TCP_NODELAY by default");
    check_all_frames(&mut rx);
    wait_ok(child);
}

#[test]
fn a_hostile_length_is_refused_before_allocating() {
    let _g = serial();
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut rx = Framed::new(b).unwrap();
    let hostile: u32 = 0xFFFF_FFF0;
    a.write_all(&hostile.to_le_bytes()).unwrap();
    a.write_all(&[0u8; 64]).unwrap();
    LARGEST.store(0, Ordering::Relaxed);
    let err = rx.recv().unwrap_err();
    let largest = LARGEST.load(Ordering::Relaxed);
    assert_eq!(err.kind(), ErrorKind::MessageTooLarge, "{err}");
    assert!(err.to_string().contains("4294967280"), "{err}");
    assert!(largest < (1 << 30), "a refused length allocated {largest} bytes");
    // The stream is out of step now; later calls say so instead of reading garbage.
    let again = rx.recv().unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Corrupted, "{again}");
}

#[test]
fn a_frame_longer_than_the_maximum_is_not_sent() {
    let (a, _b) = UnixStream::pair().unwrap();
    let mut tx = Framed::new(a).unwrap().with_max_frame(10).unwrap();
    let err = tx.send(&[0u8; 11]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::MessageTooLarge);
    tx.send(&[0u8; 10]).unwrap();
}

fn peer_dies_mid_frame(mut tx: impl Write, rx: &mut Framed<impl ipckit::socket::FrameSocket>) {
    let _g = serial();
    let child = fork(|| {
        tx.write_all(&1000u32.to_le_bytes()).unwrap();
        tx.write_all(&[1u8; 10]).unwrap();
        ipckit::process::exit_immediately(0) // dies with the frame unfinished
    });
    drop(tx);
    wait_ok(child);
    let err = rx.recv().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected, "{err}");
    assert!(err.to_string().contains("10 of 1000"), "{err}");
}

#[test]
fn peer_death_mid_frame_over_unix_is_an_error() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut rx = Framed::new(b).unwrap();
    peer_dies_mid_frame(a, &mut rx);
}

#[test]
fn peer_death_mid_frame_over_tcp_is_an_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tx = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (s, _) = listener.accept().unwrap();
    let mut rx = Framed::new(s).unwrap();
    peer_dies_mid_frame(tx, &mut rx);
}

#[test]
fn peer_death_mid_header_is_an_error() {
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut rx = Framed::new(b).unwrap();
    a.write_all(&[5, 0]).unwrap();
    drop(a);
    let err = rx.recv().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Disconnected);
    assert!(err.to_string().contains("2 of 4"), "{err}");
}

#[test]
fn a_partial_frame_is_kept_across_try_recv() {
    let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut rx = Framed::new(b).unwrap();
    assert_eq!(rx.try_recv().unwrap_err().kind(), ErrorKind::WouldBlock);
    a.write_all(&6u32.to_le_bytes()).unwrap();
    a.write_all(b"hel").unwrap();
    assert_eq!(rx.try_recv().unwrap_err().kind(), ErrorKind::WouldBlock);
    assert_eq!(rx.recv_timeout(Duration::from_millis(10)).unwrap_err().kind(), ErrorKind::TimedOut);
    a.write_all(b"lo!").unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(60)).unwrap(), b"hello!");
}

#[derive(Copy, Clone, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Order {
    id: u64,
    item: String,
    tags: Vec<String>,
}

#[test]
fn typed_messages_cross_a_process_boundary() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let child = fork(move || {
        let mut tx = Framed::new(a).unwrap();
        tx.send_pod(&Point { x: 3, y: -4 }).unwrap();
        tx.send_value(&Order { id: 7, item: "tea".into(), tags: vec!["hot".into()] }).unwrap();
        0
    });
    let mut rx = Framed::new(b).unwrap();
    assert_eq!(rx.recv_pod::<Point>().unwrap(), Point { x: 3, y: -4 });
    assert_eq!(
        rx.recv_value::<Order>().unwrap(),
        Order { id: 7, item: "tea".into(), tags: vec!["hot".into()] }
    );
    wait_ok(child);
    // A frame of the wrong size for the type is an error, not garbage.
    let (a, b) = UnixStream::pair().unwrap();
    let (mut tx, mut rx) = (Framed::new(a).unwrap(), Framed::new(b).unwrap());
    tx.send(b"abc").unwrap();
    assert_eq!(rx.recv_pod::<Point>().unwrap_err().kind(), ErrorKind::Corrupted);
}

#[test]
fn recv_into_fills_a_buffer_and_leaves_a_frame_too_large_for_it() {
    let _g = serial();
    let (a, b) = UnixStream::pair().unwrap();
    let child = fork(move || send_all_frames(Framed::new(a).unwrap().with_max_frame(MAX).unwrap()));
    let mut rx = Framed::new(b).unwrap().with_max_frame(MAX).unwrap();
    let mut buf = vec![0u8; MAX];
    let mut small = [0u8; 0];
    for (i, len) in sizes().into_iter().enumerate() {
        if len > 0 {
            let err = rx.recv_into(&mut small).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::MessageTooLarge, "{err}");
        }
        let n = rx.recv_into(&mut buf).unwrap();
        assert!(n == len && buf[..n] == frame(i, len)[..], "frame {i}");
    }
    wait_ok(child);
}
