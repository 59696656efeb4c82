//! `ipckit send --posix /NAME` and `ipckit recv --posix /NAME`: a POSIX message
//! queue, with priorities, in the same raw, hex and JSON forms as System V messages.
//!
//! A receive always takes the oldest message of the highest priority. A message
//! taken off the queue is written, or the command fails (exit 1, even for a broken
//! pipe) saying how many were received and which one was not written.

use std::io::{Read, Write};
use std::process::ExitCode;

use base64::Engine;
use ipckit::posix::mq::{MsgQueue, QueueAttr};
use ipckit::{ErrorKind, Mode, NotNow, Wait};
use serde::Serialize;

use crate::cli::{Format, RecvArgs, SendArgs};
use crate::{Fail, Res, util};

/// `MQ_PRIO_MAX - 1` on Linux.
const PRIO_MAX: u32 = 32767;

/// The kernel's default size of a new queue (`msg_default`, `msgsize_default`), as
/// `mq_open` with no attributes would make it.
pub fn default_attr() -> QueueAttr {
    let read = |f: &str, d: usize| {
        std::fs::read_to_string(format!("/proc/sys/fs/mqueue/{f}"))
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(d)
    };
    QueueAttr { maxmsg: read("msg_default", 10), msgsize: read("msgsize_default", 8192) }
}

fn open(name: &str, create: bool) -> Result<MsgQueue, Fail> {
    match MsgQueue::open(name) {
        Err(e) if create && e.kind() == ErrorKind::NotFound => {
            match MsgQueue::create(name, default_attr(), Mode::OWNER_RW) {
                // Made by someone else meanwhile: use theirs.
                Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(MsgQueue::open(name)?),
                other => Ok(other?),
            }
        }
        other => Ok(other?),
    }
}

/// Reads all of stdin, at most `max` bytes: more is an error, and so is a read
/// error (a closed or write-only stdin is not an empty message).
pub fn read_stdin(max: usize, what: &str) -> Result<Vec<u8>, Fail> {
    let mut v = Vec::new();
    std::io::stdin()
        .lock()
        .take(max as u64 + 1)
        .read_to_end(&mut v)
        .map_err(|e| Fail::Msg(format!("cannot read stdin: {e}; nothing was {what}")))?;
    if v.len() > max {
        return Err(Fail::Msg(format!(
            "stdin holds more than {max} bytes, the most that fits; nothing was {what}"
        )));
    }
    Ok(v)
}

pub fn send(a: SendArgs) -> Res {
    let name = a.target.posix.as_deref().unwrap_or_default();
    let prio = a.priority.unwrap_or(0);
    if prio > PRIO_MAX {
        return Err(Fail::Usage(format!(
            "--priority {prio} is out of range: 0 to {PRIO_MAX} (MQ_PRIO_MAX - 1)"
        )));
    }
    let q = open(name, a.create)?;
    let data =
        if a.data.is_empty() { read_stdin(q.msgsize(), "sent")? } else { a.data.join(" ").into_bytes() };
    let wait = if a.nowait { Wait::NoWait } else { Wait::Block };
    match q.send_with(&data, prio, wait).now()? {
        Some(()) => Ok(ExitCode::SUCCESS),
        None => {
            Err(Fail::Msg(format!("mq_send({}): the queue is full; nothing was sent (--nowait)", q.name())))
        }
    }
}

#[derive(Serialize)]
struct MessageJson<'a> {
    priority: u32,
    size: usize,
    encoding: &'static str,
    body: std::borrow::Cow<'a, str>,
}

fn write_one(out: &mut dyn Write, format: Format, data: &[u8], prio: u32) -> std::io::Result<()> {
    match format {
        Format::Raw => out.write_all(data)?,
        Format::Hex => {
            writeln!(out, "# priority {prio}, {} bytes", data.len())?;
            util::hex_dump(out, data, 0)?;
        }
        Format::Json => {
            let (encoding, body) = match std::str::from_utf8(data) {
                Ok(s) => ("utf-8", std::borrow::Cow::Borrowed(s)),
                Err(_) => (
                    "base64",
                    std::borrow::Cow::Owned(base64::engine::general_purpose::STANDARD.encode(data)),
                ),
            };
            serde_json::to_writer(
                &mut *out,
                &MessageJson { priority: prio, size: data.len(), encoding, body },
            )?;
            writeln!(out)?;
        }
    }
    out.flush()
}

pub fn recv(a: RecvArgs) -> Res {
    let name = a.target.posix.as_deref().unwrap_or_default();
    if a.mtype != 0 || a.except.is_some() {
        return Err(Fail::Usage(
            "-t/--except select System V message types; a POSIX queue gives the highest priority first"
                .into(),
        ));
    }
    if a.truncate {
        return Err(Fail::Usage(
            "a POSIX queue cannot truncate messages (--truncate is for System V)".into(),
        ));
    }
    let q = open(name, false)?;
    let timeout = a.timeout.as_deref().map(util::parse_secs).transpose().map_err(Fail::Usage)?;
    let wait = if a.all || a.nowait {
        Wait::NoWait
    } else if let Some(d) = timeout {
        Wait::Timeout(d)
    } else {
        Wait::Block
    };
    let mut buf = vec![0u8; q.msgsize()];
    if let Some(max) = a.max_bytes
        && max < q.msgsize()
    {
        return Err(Fail::Usage(format!(
            "--max-bytes {max} is smaller than the queue's message size {}: mq_receive needs room for the largest",
            q.msgsize()
        )));
    }
    let mut out = util::stdout();
    let mut got = 0usize;
    while a.all || got < a.count {
        let got_one = q.recv_with(&mut buf, wait).now()?.map(|r| (r.len, r.priority));
        let Some((len, prio)) = got_one else {
            if a.all {
                break;
            }
            let how = match timeout {
                Some(_) => format!("arrived within {} s (--timeout)", a.timeout.as_deref().unwrap_or("")),
                None => "is queued (--nowait)".to_string(),
            };
            let progress = if got > 0 { format!("; received {got} of {}", a.count) } else { String::new() };
            return Err(Fail::Msg(format!("mq_receive({}): no message {how}{progress}", q.name())));
        };
        got += 1;
        if let Err(e) = write_one(&mut *out, a.format, &buf[..len], prio) {
            return Err(Fail::Msg(format!(
                "cannot write to stdout: {e}; {got} message(s) received from {}, the last ({len} bytes, priority {prio}) was not written",
                q.name()
            )));
        }
    }
    Ok(ExitCode::SUCCESS)
}
