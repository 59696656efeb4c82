//! Pipe capacity: `F_GETPIPE_SZ` and `F_SETPIPE_SZ`, checked against what a
//! non-blocking writer can really put in, and the errors of the limits.

use std::io::{ErrorKind as IoKind, Read, Write};

use crate::util::{fork, serial, wait_ok};
use ipckit::pipe::{self, PIPE_BUF, PipeOptions, PipeWriter};
use ipckit::{ErrorKind, Limit};

/// How many bytes a non-blocking writer can put into the empty pipe.
fn fill(w: &PipeWriter) -> usize {
    w.set_nonblocking(true).unwrap();
    let chunk = vec![9u8; 64 * 1024];
    let mut total = 0;
    loop {
        match (&*w).write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == IoKind::WouldBlock => break,
            Err(e) => panic!("write: {e}"),
        }
    }
    w.set_nonblocking(false).unwrap();
    total
}

fn page_size() -> usize {
    // The smallest capacity the kernel gives is one page.
    let (_r, w) = pipe::pipe().unwrap();
    w.set_capacity(1).unwrap()
}

#[test]
fn capacity_reads_what_the_pipe_really_holds() {
    let _g = serial();
    let (r, w) = pipe::pipe().unwrap();
    let cap = w.capacity().unwrap();
    assert_eq!(r.capacity().unwrap(), cap, "both ends see the same pipe");
    assert!(cap >= PIPE_BUF && cap.is_power_of_two(), "capacity {cap}");
    assert_eq!(fill(&w), cap);
}

#[test]
fn set_capacity_rounds_up_to_pages_and_takes_effect() {
    let _g = serial();
    let page = page_size();
    assert!(page >= 4096 && page.is_power_of_two());

    let (r, w) = pipe::pipe().unwrap();
    let got = w.set_capacity(100_000).unwrap();
    assert_eq!(got, (100_000usize).div_ceil(page).next_power_of_two() * page);
    assert_eq!(w.capacity().unwrap(), got);
    assert_eq!(fill(&w), got);

    // From the read end too, and down to a single page once drained.
    let mut sink = vec![0u8; got];
    (&r).read_exact(&mut sink).unwrap();
    assert_eq!(r.set_capacity(page).unwrap(), page);
    assert_eq!(w.capacity().unwrap(), page);
    assert_eq!(fill(&w), page);

    // At creation.
    let (_r2, w2) = PipeOptions::new().capacity(3 * page).create().unwrap();
    assert_eq!(w2.capacity().unwrap(), 4 * page);
}

#[test]
fn shrinking_below_the_contents_is_refused_and_keeps_the_data() {
    let _g = serial();
    let (r, mut w) = pipe::pipe().unwrap();
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    w.write_all(&data).unwrap();
    let e = w.set_capacity(4096).unwrap_err();
    assert_eq!(e.raw_os_error(), Some(16), "EBUSY expected: {e}");
    assert!(e.to_string().contains("holds more data"), "{e}");
    drop(w);
    let mut back = Vec::new();
    (&r).read_to_end(&mut back).unwrap();
    assert_eq!(back, data);
}

#[test]
fn more_than_any_pipe_can_hold_is_invalid() {
    let _g = serial();
    let (_r, w) = pipe::pipe().unwrap();
    let e = w.set_capacity((1 << 31) + 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    // And the pipe is unchanged.
    assert_eq!(w.capacity().unwrap(), pipe::pipe().unwrap().1.capacity().unwrap());
}

/// The checks of an unprivileged process that asks for more than pipe-max-size.
fn check_limit_error() -> Result<(), String> {
    let max = Limit::PipeMaxSize.current().ok_or("cannot read /proc/sys/fs/pipe-max-size")? as usize;
    let (_r, w) = pipe::pipe().map_err(|e| e.to_string())?;
    let before = w.capacity().map_err(|e| e.to_string())?;
    let e = match w.set_capacity(max * 2) {
        Ok(n) => return Err(format!("an unprivileged process got a capacity of {n} > pipe-max-size {max}")),
        Err(e) => e,
    };
    let msg = e.to_string();
    if e.kind() != ErrorKind::LimitExceeded || e.limit() != Some(Limit::PipeMaxSize) {
        return Err(format!("wrong error: {e:?}"));
    }
    if !msg.contains("/proc/sys/fs/pipe-max-size") || !msg.contains(&format!("pipe-max-size = {max}")) {
        return Err(format!("the message does not name the limit: {msg}"));
    }
    // Exactly the limit is allowed.
    let at_max = w.set_capacity(max).map_err(|e| format!("capacity = pipe-max-size refused: {e}"))?;
    if at_max != max || before > max {
        return Err(format!("capacity {at_max}, limit {max}"));
    }
    Ok(())
}

/// Whether this process has `CAP_SYS_RESOURCE` (bit 24 of `CapEff`), which lets it
/// go beyond pipe-max-size. Root in a container often lacks it.
fn has_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    u64::from_str_radix(hex, 16).unwrap() & (1 << 24) != 0
}

#[test]
fn beyond_pipe_max_size_is_an_error_naming_the_limit() {
    let _g = serial();
    if has_cap_sys_resource() {
        // The privilege allows it, and ipckit does not stand in the way.
        let max = Limit::PipeMaxSize.current().unwrap() as usize;
        let (_r, w) = pipe::pipe().unwrap();
        assert_eq!(w.set_capacity(max * 2).unwrap(), max * 2);
    } else {
        check_limit_error().unwrap();
    }
    if ipckit::process::effective_uid() == 0 {
        // As an ordinary user, in a child that drops root.
        let child = fork(|| {
            if ipckit::process::set_ids(65534, 65534).is_err() {
                return 3;
            }
            match check_limit_error() {
                Ok(()) => 0,
                Err(msg) => {
                    eprintln!("{msg}");
                    1
                }
            }
        });
        wait_ok(child);
    }
}
