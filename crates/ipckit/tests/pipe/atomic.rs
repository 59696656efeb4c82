//! `PIPE_BUF` atomicity: frames of at most `PIPE_BUF` bytes from many concurrent
//! writer processes never interleave; larger frames are refused.

use std::io::{BufReader, IoSlice, Read};

use crate::util::{fork, serial, wait_ok};
use ipckit::ErrorKind;
use ipckit::pipe::{self, PIPE_BUF, PipeOptions};

const HEADER: usize = 12;

fn fnv1a(parts: &[&[u8]]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for p in parts {
        for &b in *p {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
    }
    h
}

/// The frame size of writer `w`'s frame `seq`: small, odd, and exactly `PIPE_BUF`.
fn frame_len(w: u16, seq: u32) -> usize {
    let sizes = [HEADER, HEADER + 1, 100, 1000, 2049, PIPE_BUF - 1, PIPE_BUF];
    let i = (seq as usize + w as usize * 3) % (sizes.len() + 1);
    if i == sizes.len() {
        // Something in between, different every time.
        HEADER + ((seq as usize * 7919 + w as usize * 104_729) % (PIPE_BUF - HEADER + 1))
    } else {
        sizes[i]
    }
}

/// The payload of writer `w`'s frame `seq`: bytes that depend on both.
fn payload(w: u16, seq: u32, len: usize) -> Vec<u8> {
    let mut x = (u64::from(w) << 32 | u64::from(seq)).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn header(len: usize, w: u16, seq: u32, body: &[u8]) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[0..2].copy_from_slice(&(len as u16).to_le_bytes());
    h[2..4].copy_from_slice(&w.to_le_bytes());
    h[4..8].copy_from_slice(&seq.to_le_bytes());
    let sum = fnv1a(&[&h[2..8], body]);
    h[8..12].copy_from_slice(&sum.to_le_bytes());
    h
}

#[test]
fn frames_from_concurrent_writers_never_interleave() {
    let _g = serial();
    const WRITERS: u16 = 6;
    const FRAMES: u32 = 400;
    // A small pipe, so that writers wait for room and race for it all the time.
    let (reader, writer) = PipeOptions::new().capacity(16 * 1024).create().unwrap();
    assert_eq!(writer.capacity().unwrap(), 16 * 1024);
    // Each child closes its copy of the read end first, so that if the parent stops
    // reading, the writers get a broken pipe instead of waiting for themselves.
    let reader = std::cell::Cell::new(Some(reader));

    let children: Vec<_> = (0..WRITERS)
        .map(|w| {
            fork(|| {
                drop(reader.take());
                for seq in 0..FRAMES {
                    let len = frame_len(w, seq);
                    let body = payload(w, seq, len - HEADER);
                    let h = header(len, w, seq, &body);
                    // Half as one buffer, half as header + body in one writev.
                    let r = if seq % 2 == 0 {
                        let mut frame = h.to_vec();
                        frame.extend_from_slice(&body);
                        writer.write_atomic(&frame)
                    } else {
                        writer.write_atomic_vectored(&[IoSlice::new(&h), IoSlice::new(&body)])
                    };
                    if r.is_err() {
                        return 1;
                    }
                }
                0
            })
        })
        .collect();
    drop(writer);

    let mut input = BufReader::with_capacity(1 << 16, reader.take().unwrap());
    let mut next = vec![0u32; WRITERS as usize];
    let mut frames = 0u32;
    let mut bytes = 0usize;
    loop {
        let mut h = [0u8; HEADER];
        // End-of-file must fall on a frame boundary.
        match input.read(&mut h[..1]).unwrap() {
            0 => break,
            _ => input.read_exact(&mut h[1..]).expect("a frame cut short"),
        }
        let len = u16::from_le_bytes([h[0], h[1]]) as usize;
        let w = u16::from_le_bytes([h[2], h[3]]);
        let seq = u32::from_le_bytes(h[4..8].try_into().unwrap());
        let sum = u32::from_le_bytes(h[8..12].try_into().unwrap());
        assert!((HEADER..=PIPE_BUF).contains(&len), "frame {frames}: bad length {len} (interleaved?)");
        assert!(w < WRITERS, "frame {frames}: bad writer {w}");
        let mut body = vec![0u8; len - HEADER];
        input.read_exact(&mut body).unwrap();
        assert_eq!(sum, fnv1a(&[&h[2..8], &body]), "frame {frames} from writer {w}: checksum mismatch");
        assert_eq!(seq, next[w as usize], "writer {w}: frames out of order or lost");
        assert_eq!(len, frame_len(w, seq));
        assert_eq!(body, payload(w, seq, len - HEADER), "writer {w} frame {seq}: payload differs");
        next[w as usize] += 1;
        frames += 1;
        bytes += len;
    }
    for c in children {
        wait_ok(c);
    }
    assert_eq!(next, vec![FRAMES; WRITERS as usize]);
    assert_eq!(frames, FRAMES * u32::from(WRITERS));
    // Many frames were large: the writers really competed for room.
    assert!(bytes > 16 * 1024 * 20, "only {bytes} bytes moved");
}

#[test]
fn a_frame_larger_than_pipe_buf_is_refused_and_nothing_is_written() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    let e = w.write_atomic(&vec![1u8; PIPE_BUF + 1]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let msg = e.to_string();
    assert!(msg.contains("4097 bytes") && msg.contains("PIPE_BUF = 4096"), "{msg}");
    let e = w.write_atomic_vectored(&[IoSlice::new(&[0u8; 4000]), IoSlice::new(&[0u8; 97])]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(r.bytes_queued().unwrap(), 0, "a refused frame must leave nothing in the pipe");
    // Exactly PIPE_BUF is fine, and so is an empty frame.
    w.write_atomic(&vec![2u8; PIPE_BUF]).unwrap();
    w.write_atomic(&[]).unwrap();
    assert_eq!(r.bytes_queued().unwrap(), PIPE_BUF);
}

#[test]
fn a_non_blocking_atomic_write_writes_all_or_nothing() {
    let _g = serial();
    let (r, w) = PipeOptions::new().nonblocking(true).create().unwrap();
    // Fill the pipe completely.
    let cap = w.capacity().unwrap();
    let mut filled = 0;
    while filled < cap {
        w.write_atomic(&vec![3u8; PIPE_BUF]).unwrap();
        filled += PIPE_BUF;
    }
    // Free a few bytes (not a whole page): still no room for a frame.
    let mut b = [0u8; 100];
    (&r).read_exact(&mut b).unwrap();
    let queued = r.bytes_queued().unwrap();
    let e = w.write_atomic(&[4u8; 200]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock);
    assert_eq!(r.bytes_queued().unwrap(), queued, "nothing of the refused frame may be in the pipe");
    // Read a whole page: now the frame goes in, whole.
    let mut page = vec![0u8; PIPE_BUF - 100];
    (&r).read_exact(&mut page).unwrap();
    w.write_atomic(&[4u8; 200]).unwrap();
    assert_eq!(r.bytes_queued().unwrap(), queued - page.len() + 200);
}
