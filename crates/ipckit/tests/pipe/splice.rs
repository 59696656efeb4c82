//! Zero copy: `splice` between pipes and files or sockets, `tee` between pipes,
//! `vmsplice` from user memory, on streams larger than the pipe and across processes.

use std::fs::{File, OpenOptions};
use std::io::{IoSlice, Read, Seek, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;

use crate::util::{serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::pipe;

/// Bytes that do not repeat with any short period.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn file_with(bytes: &[u8]) -> File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(bytes).unwrap();
    f.rewind().unwrap();
    f
}

fn contents(f: &mut File) -> Vec<u8> {
    f.rewind().unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn splice_moves_a_file_larger_than_the_pipe_across_processes() {
    let _g = serial();
    let src = data(3 * 1024 * 1024 + 123, 1);
    let file = file_with(&src);
    // SAFETY: other tests are held off by `serial`; the child makes system calls only.
    let (child, reader) = unsafe {
        pipe::fork_from_child(|w| match w.copy_from(&file) {
            Ok(n) if n == src.len() as u64 => 0,
            _ => 1,
        })
    }
    .unwrap();
    assert!(reader.capacity().unwrap() < src.len());
    let mut out = tempfile::tempfile().unwrap();
    assert_eq!(reader.copy_to(&out).unwrap(), src.len() as u64);
    wait_ok(child);
    assert!(contents(&mut out) == src, "the copy differs from the source");
}

#[test]
fn splice_with_offsets_leaves_file_positions_alone() {
    let _g = serial();
    let src = data(20_000, 2);
    let file = file_with(&src);
    let (r, w) = pipe::pipe().unwrap();
    let mut off = 1000;
    let n = w.splice_from(&file, Some(&mut off), 5000).unwrap();
    assert_eq!((n, off), (5000, 6000));
    assert_eq!((&file).stream_position().unwrap(), 0, "the file position must not move");
    // Without an offset, the position moves.
    assert_eq!(w.splice_from(&file, None, 100).unwrap(), 100);
    assert_eq!((&file).stream_position().unwrap(), 100);

    let mut out = tempfile::tempfile().unwrap();
    let mut out_off = 10;
    assert_eq!(r.splice_to(&out, Some(&mut out_off), 5000).unwrap(), 5000);
    assert_eq!(out_off, 5010);
    assert_eq!(out.stream_position().unwrap(), 0);
    assert_eq!(r.splice_to(&out, None, 100).unwrap(), 100);
    // The pipe held src[1000..6000] then src[0..100]: the first went to offset 10,
    // the second to the file position (0), over the start of the first.
    let got = contents(&mut out);
    assert_eq!(got.len(), 5010);
    assert_eq!(&got[..100], &src[..100]);
    assert_eq!(&got[100..], &src[1090..6000]);
}

#[test]
fn tee_duplicates_a_stream_larger_than_the_pipe() {
    let _g = serial();
    let src = data(2 * 1024 * 1024 + 7, 3);
    let file = file_with(&src);
    // SAFETY: other tests are held off by `serial`; the child makes system calls only.
    let (child, a) = unsafe {
        pipe::fork_from_child(|w| match w.copy_from(&file) {
            Ok(_) => 0,
            Err(_) => 1,
        })
    }
    .unwrap();
    let (b_r, b_w) = pipe::pipe().unwrap();
    let copier = std::thread::spawn(move || {
        let mut out2 = tempfile::tempfile().unwrap();
        b_r.copy_to(&out2).unwrap();
        contents(&mut out2)
    });
    // tee(1): duplicate n bytes into B, then consume exactly those n bytes from A.
    let mut out1 = tempfile::tempfile().unwrap();
    let mut rounds = 0;
    loop {
        let n = a.tee_to(&b_w, 1 << 20).unwrap();
        if n == 0 {
            break;
        }
        let mut left = n;
        while left > 0 {
            left -= a.splice_to(&out1, None, left).unwrap();
        }
        rounds += 1;
    }
    drop(b_w);
    wait_ok(child);
    let out2 = copier.join().unwrap();
    assert!(
        rounds > 1,
        "the stream should take several rounds through a {}-byte pipe",
        a.capacity().unwrap()
    );
    assert!(contents(&mut out1) == src, "the consumed copy differs");
    assert!(out2 == src, "the teed copy differs");
}

#[test]
fn splice_between_pipes_and_sockets() {
    let _g = serial();
    let src = data(1024 * 1024 + 1, 4);
    let (s_in, s_out) = UnixStream::pair().unwrap();
    let (t_in, t_out) = UnixStream::pair().unwrap();
    let (r, w) = pipe::pipe().unwrap();

    // socket -> pipe -> socket, with a thread at each end.
    let src2 = src.clone();
    let producer = std::thread::spawn(move || {
        (&s_in).write_all(&src2).unwrap();
        s_in.shutdown(Shutdown::Write).unwrap();
    });
    let consumer = std::thread::spawn(move || {
        let mut got = Vec::new();
        (&t_out).read_to_end(&mut got).unwrap();
        got
    });
    let forwarder = std::thread::spawn(move || {
        let n = r.copy_to(&t_in).unwrap();
        t_in.shutdown(Shutdown::Write).unwrap();
        n
    });
    let mut moved = 0u64;
    loop {
        match w.splice_from(&s_out, None, 1 << 16).unwrap() {
            0 => break,
            n => moved += n as u64,
        }
    }
    drop(w);
    producer.join().unwrap();
    assert_eq!(forwarder.join().unwrap(), src.len() as u64);
    assert_eq!(moved, src.len() as u64);
    assert!(consumer.join().unwrap() == src);
}

#[test]
fn vmsplice_hands_pages_to_a_reader_in_another_process() {
    let _g = serial();
    let src = data(1024 * 1024 + 5, 5);
    // SAFETY: other tests are held off by `serial`; the child makes system calls only.
    let (child, reader) = unsafe {
        pipe::fork_from_child(|w| {
            // `src` is never changed afterwards: the reader sees exactly these bytes,
            // even after this process has exited (the pipe holds the pages).
            match w.vmsplice_all(&src) {
                Ok(()) => 0,
                Err(_) => 1,
            }
        })
    }
    .unwrap();
    let mut got = Vec::new();
    (&reader).read_to_end(&mut got).unwrap();
    wait_ok(child);
    assert!(got == src, "vmspliced data differs");

    // Several slices at once.
    let (r, w) = pipe::pipe().unwrap();
    let n = w.vmsplice(&[IoSlice::new(b"abc"), IoSlice::new(b"defg")]).unwrap();
    assert_eq!(n, 7);
    let mut b = [0u8; 7];
    (&r).read_exact(&mut b).unwrap();
    assert_eq!(&b, b"abcdefg");
}

#[test]
fn copies_fall_back_to_read_and_write_where_splice_is_unsupported() {
    let _g = serial();
    let src = data(300_000, 6);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appended");
    std::fs::write(&path, b"head:").unwrap();
    // splice refuses files opened with O_APPEND.
    let appending = OpenOptions::new().append(true).open(&path).unwrap();
    let (r, mut w) = pipe::pipe().unwrap();
    w.write_all(b"x").unwrap();
    let e = r.splice_to(&appending, None, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("O_APPEND"), "{e}");
    let mut one = [0u8; 1];
    (&r).read_exact(&mut one).unwrap();

    let writer = std::thread::spawn(move || {
        w.write_all(&src).unwrap();
        src
    });
    assert_eq!(r.copy_to(&appending).unwrap(), 300_000);
    let src = writer.join().unwrap();
    let got = std::fs::read(&path).unwrap();
    assert_eq!(&got[..5], b"head:");
    assert!(got[5..] == src[..]);

    // copy_from gives the same bytes whether the source supports splice or not.
    let expected = std::fs::read("/proc/self/cmdline").unwrap();
    let proc_file = File::open("/proc/self/cmdline").unwrap();
    let (r, w) = pipe::pipe().unwrap();
    assert_eq!(w.copy_from(&proc_file).unwrap(), expected.len() as u64);
    drop(w);
    let mut got = Vec::new();
    (&r).read_to_end(&mut got).unwrap();
    assert_eq!(got, expected);
}

#[test]
fn splice_and_tee_errors_say_what_is_wrong() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    let (r2, _w2) = pipe::pipe().unwrap();
    // An offset for a pipe.
    let mut off = 0;
    let e = w.splice_from(&r2, Some(&mut off), 10).unwrap_err();
    assert!(e.to_string().contains("offset"), "{e}");
    // tee from a pipe into itself.
    w.write_atomic(b"data").unwrap();
    let e = r.tee_to(&w, 10).unwrap_err();
    assert!(e.to_string().contains("two different pipes"), "{e}");
}
