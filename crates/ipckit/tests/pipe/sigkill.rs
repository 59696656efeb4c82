//! A writer killed with `SIGKILL` in the middle of a stream: the reader still gets
//! every byte the kernel accepted before, in order, and then end-of-file.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;

use crate::util::serial;
use ipckit::pipe;
use ipckit::process::Signal;

/// Larger than `PIPE_BUF`, so the kernel may have taken part of the last write.
const CHUNK: usize = 8192;

/// The stream: every 8-byte word holds its own index, so a gap or a repeat shows.
fn pattern_byte(i: u64) -> u8 {
    let word = (i / 8) ^ 0x5bd1_e995_0000_0000;
    word.to_le_bytes()[(i % 8) as usize]
}

#[test]
fn a_writer_killed_mid_stream_leaves_every_byte_written_before_then_eof() {
    let _g = serial();
    let (progress_r, progress_w) = pipe::pipe().unwrap();
    let progress_r = Cell::new(Some(progress_r));
    // SAFETY: the test binary's other tests are held off by `serial`; the child writes
    // from one buffer allocated after fork (glibc's malloc is usable after fork).
    let (child, data) = unsafe {
        pipe::fork_from_child(|mut out| {
            drop(progress_r.take()); // the child only writes
            let mut buf = vec![0u8; CHUNK];
            let mut total = 0u64;
            loop {
                for (k, b) in buf.iter_mut().enumerate() {
                    *b = pattern_byte(total + k as u64);
                }
                if out.write_all(&buf).is_err() {
                    return 1;
                }
                total += CHUNK as u64;
                // Reported only once the kernel has accepted the whole chunk.
                if progress_w.write_atomic(&total.to_le_bytes()).is_err() {
                    return 2;
                }
            }
        })
    }
    .unwrap();
    drop(progress_w);
    let progress_r = progress_r.take().unwrap();
    let capacity = data.capacity().unwrap();

    // Take a good part of the stream, then stop reading: the writer fills the pipe and
    // waits in `write`.
    let mut got = vec![0u8; 200 * 1024];
    (&data).read_exact(&mut got).unwrap();
    while data.bytes_queued().unwrap() < capacity {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child.kill(Signal::Kill).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "the writer should have died of SIGKILL: {status:?}");

    // Everything the kernel accepted is still there, then end-of-file (the dead
    // writer's descriptors were closed by the kernel).
    let before_kill = got.len();
    (&data).read_to_end(&mut got).unwrap();
    let mut progress = Vec::new();
    (&progress_r).read_to_end(&mut progress).unwrap();
    assert!(progress.len() >= 8 && progress.len() % 8 == 0, "progress reports: {} bytes", progress.len());
    let reported = u64::from_le_bytes(progress[progress.len() - 8..].try_into().unwrap());

    let n = got.len() as u64;
    assert!(
        got.len() >= before_kill + capacity,
        "the full pipe's {capacity} bytes should have survived the kill"
    );
    assert!(n >= reported, "got {n} bytes, but the writer had completed {reported}");
    assert!(
        n <= reported + CHUNK as u64,
        "got {n} bytes, more than the writer could have written ({reported} + one chunk)"
    );
    if let Some(i) = got.iter().enumerate().position(|(i, &b)| b != pattern_byte(i as u64)) {
        panic!("byte {i} of {n} is wrong: the stream has a gap or garbage");
    }
    // And end-of-file stays end-of-file.
    assert_eq!((&data).read(&mut [0u8; 16]).unwrap(), 0);
}
