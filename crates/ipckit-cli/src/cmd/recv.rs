//! `ipckit recv`: messages by msgrcv's type rules, written raw, as hex or as JSON.

use std::io::Write;
use std::process::ExitCode;

use base64::Engine;
use ipckit::NotNow;
use ipckit::Wait;
use ipckit::limits::Limit;
use ipckit::sysv::msg::{Message, Oversize, Select};
use serde::Serialize;

use super::Which;
use crate::cli::{Format, RecvArgs};
use crate::{Fail, Res, util};

#[derive(Serialize)]
struct MessageJson<'a> {
    #[serde(rename = "type")]
    mtype: i64,
    size: usize,
    encoding: &'static str,
    body: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    truncated: bool,
}

/// The `Select` for `-t TYPE` / `--except TYPE`.
fn select(a: &RecvArgs) -> Result<Select, Fail> {
    if let Some(t) = a.except {
        if t <= 0 {
            return Err(Fail::Usage(format!("--except takes a positive message type, not {t}")));
        }
        return Ok(Select::Except(t));
    }
    Ok(match a.mtype {
        0 => Select::Any,
        t if t > 0 => Select::Type(t),
        t => Select::UpTo(t.checked_neg().ok_or_else(|| Fail::Usage(format!("type {t} is out of range")))?),
    })
}

/// The largest body any message in queue `q` can have: what `msgsnd` accepts is at
/// most msgmax and at most the queue's capacity when it was sent. A bigger buffer
/// would be memory for nothing (and an unchecked number from the user could abort).
fn largest_message(q: &ipckit::sysv::msg::MsgQueue) -> usize {
    let msgmax = Limit::MsgMax.current().unwrap_or(8192);
    let qbytes = q.stat().map(|st| st.qbytes).unwrap_or(0);
    usize::try_from(msgmax.max(qbytes)).unwrap_or(usize::MAX)
}

/// One message as it goes to stdout.
fn render(format: Format, msg: &Message, truncated: bool) -> Result<Vec<u8>, Fail> {
    let mut out = Vec::with_capacity(msg.data.len() + 64);
    match format {
        Format::Raw => out.extend_from_slice(&msg.data),
        Format::Hex => {
            writeln!(
                out,
                "# type {}, {} bytes{}",
                msg.mtype,
                msg.data.len(),
                if truncated { " (truncated)" } else { "" }
            )?;
            util::hex_dump(&mut out, &msg.data, 0)?;
        }
        Format::Json => {
            let (encoding, body) = match std::str::from_utf8(&msg.data) {
                Ok(s) => ("utf-8", std::borrow::Cow::Borrowed(s)),
                Err(_) => (
                    "base64",
                    std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(&msg.data)),
                ),
            };
            let j = MessageJson { mtype: msg.mtype, size: msg.data.len(), encoding, body, truncated };
            serde_json::to_writer(&mut out, &j)?;
            writeln!(out)?;
        }
    }
    Ok(out)
}

/// Writes all of `bytes`; on failure, how many were written and the error.
fn write_counted(out: &mut std::fs::File, bytes: &[u8]) -> Result<(), (usize, std::io::Error)> {
    let mut done = 0;
    while done < bytes.len() {
        match out.write(&bytes[done..]) {
            Ok(0) => return Err((done, std::io::ErrorKind::WriteZero.into())),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err((done, e)),
        }
    }
    Ok(())
}

/// Nothing received may be lost: stdout is checked before each message is taken
/// (a closed stdout, or a pipe whose reader has gone, takes nothing), each message
/// is written whole before the next is taken, and a message that could not be
/// written is put back at the end of the queue; either way the command fails,
/// saying how many were written.
pub fn run(a: RecvArgs) -> Res {
    let q = super::send::open_queue(Which::from(&a.target)?, false)?;
    let select = select(&a)?;
    let timeout = a.timeout.as_deref().map(util::parse_secs).transpose().map_err(Fail::Usage)?;
    let wait = if a.all || a.nowait {
        Wait::NoWait
    } else if let Some(d) = timeout {
        Wait::Timeout(d)
    } else {
        Wait::Block
    };
    let limit = match a.max_bytes {
        Some(n) => Some(n.min(largest_message(&q))),
        None if a.truncate => Some(Limit::MsgMax.current().unwrap_or(8192) as usize),
        None => None,
    };
    let mut out = util::stdout_file("the messages received would be lost")?;
    let mut got = 0usize;
    let mut buf = vec![0u8; limit.unwrap_or(0)];
    let wanted = if a.all { "every matching message".to_string() } else { format!("{}", a.count) };
    while a.all || got < a.count {
        if ipckit::pipe::wait_writable(&out, None)? == ipckit::pipe::WriteReady::ReaderGone {
            return Err(Fail::Msg(format!(
                "stdout has no reader any more (a closed pipe); wrote {got} of {wanted} messages \
                 and took no more from queue id {}",
                q.id()
            )));
        }
        let next = match limit {
            Some(_) => q
                .recv_with(
                    &mut buf,
                    select,
                    if a.truncate { Oversize::Truncate } else { Oversize::Refuse },
                    wait,
                )
                .now()?
                .map(|r| (Message { mtype: r.mtype, data: buf[..r.len].to_vec() }, r.truncated)),
            None => q.recv_vec(select, wait).now()?.map(|m| (m, false)),
        };
        let Some((msg, truncated)) = next else {
            if a.all {
                break;
            }
            let how = match timeout {
                Some(d) => format!("arrived within {} s (--timeout)", d.as_secs_f64()),
                None => "is queued (--nowait)".to_string(),
            };
            let progress = if got > 0 { format!("; received {got} of {}", a.count) } else { String::new() };
            return Err(Fail::Msg(format!("msgrcv(id {}): no message of {select} {how}{progress}", q.id())));
        };
        let bytes = render(a.format, &msg, truncated)?;
        if let Err((written, e)) = write_counted(&mut out, &bytes) {
            let part = if written > 0 {
                format!(" ({written} of its {} bytes)", bytes.len())
            } else {
                String::new()
            };
            let fate = match q.send_with(&msg.data, msg.mtype, Wait::NoWait) {
                Ok(()) => format!(
                    "it was put back at the end of queue id {}{}",
                    q.id(),
                    if truncated { ", truncated as received" } else { "" }
                ),
                Err(e) if e.is_not_now() => {
                    "it could not be put back (the queue is full) and is lost".to_string()
                }
                Err(e) => format!("it could not be put back ({e}) and is lost"),
            };
            return Err(Fail::Msg(format!(
                "cannot write to stdout: {e}; wrote {got} of {} messages received; the last \
                 (type {}, {} bytes) was not written{part}: {fate}",
                got + 1,
                msg.mtype,
                msg.data.len()
            )));
        }
        got += 1;
    }
    Ok(ExitCode::SUCCESS)
}
