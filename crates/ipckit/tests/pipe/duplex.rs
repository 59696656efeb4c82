//! A duplex channel from two pipes, used across fork and across spawn.

use std::io::{BufRead, BufReader, Read, Write};

use crate::util::{role, serial, spawn_role, wait_ok};
use ipckit::pipe;

const SPAWN_TEST: &str = "duplex_to_a_spawned_child";

#[test]
fn duplex_across_fork_in_both_directions() {
    let _g = serial();
    // SAFETY: other tests are held off by `serial`; the child makes system calls only.
    let (child, near) = unsafe {
        pipe::fork_duplex(|mut far| {
            let mut n = [0u8; 4];
            // Answer each number with its double until end-of-file...
            while far.read_exact(&mut n).is_ok() {
                let v = u32::from_le_bytes(n) * 2;
                if far.write_all(&v.to_le_bytes()).is_err() {
                    return 1;
                }
            }
            // ...then say goodbye on the other direction, which is still open.
            match far.write_all(b"bye") {
                Ok(()) => 0,
                Err(_) => 2,
            }
        })
    }
    .unwrap();
    let mut near = near;
    for i in 0..1000u32 {
        near.write_all(&i.to_le_bytes()).unwrap();
        let mut a = [0u8; 4];
        near.read_exact(&mut a).unwrap();
        assert_eq!(u32::from_le_bytes(a), i * 2);
    }
    // Close one direction only.
    let (reader, writer) = near.into_parts();
    drop(writer);
    let mut rest = String::new();
    (&reader).read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "bye");
    wait_ok(child);
}

#[test]
fn duplex_to_a_spawned_child() {
    if let Some(r) = role() {
        assert_eq!(r[0], "doubler");
        let stdin = std::io::stdin();
        let mut out = std::io::stdout().lock();
        // End the test harness's "test ... " line, so that replies start lines.
        writeln!(out).unwrap();
        for line in stdin.lock().lines() {
            let n: u64 = line.unwrap().trim().parse().unwrap();
            writeln!(out, "reply {}", n * 2).unwrap();
            out.flush().unwrap();
        }
        writeln!(out, "reply bye").unwrap();
        return;
    }
    let _g = serial();
    let mut cmd = spawn_role(SPAWN_TEST, &["doubler"]);
    let (mut child, chan) = pipe::spawn_duplex(&mut cmd).unwrap();
    let (reader, mut writer) = chan.into_parts();
    let mut replies = BufReader::new(reader)
        .lines()
        .map(|l| l.unwrap())
        .filter_map(|l| l.strip_prefix("reply ").map(str::to_string));
    for i in 0..200u64 {
        writeln!(writer, "{i}").unwrap();
        assert_eq!(replies.next().unwrap(), (i * 2).to_string());
    }
    drop(writer); // end-of-file for the child's stdin
    assert_eq!(replies.next().unwrap(), "bye");
    assert!(replies.next().is_none(), "end-of-file after the child exits");
    assert!(child.wait().unwrap().success());
    drop(cmd);
}

#[test]
fn duplex_sides_are_symmetric_in_one_process() {
    let _g = serial();
    let (a, b) = pipe::duplex().unwrap();
    a.write_atomic(b"a->b").unwrap();
    b.write_atomic(b"b->a").unwrap();
    let mut buf = [0u8; 4];
    (&b).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"a->b");
    (&a).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"b->a");
    // Each side's reader and writer belong to different pipes.
    assert_eq!(a.reader().bytes_queued().unwrap(), 0);
    let (r, w) = a.into_parts();
    let a = pipe::Duplex::from_parts(r, w);
    (&a).write_all(b"x").unwrap();
    assert_eq!(b.reader().bytes_queued().unwrap(), 1);
}
