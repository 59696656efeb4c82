//! `ipckit recv`: messages by msgrcv's type rules, written raw, as hex or as JSON.

use std::io::Write;
use std::process::ExitCode;

use base64::Engine;
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
        Some(n) => Some(n),
        None if a.truncate => Some(Limit::MsgMax.current().unwrap_or(8192) as usize),
        None => None,
    };
    let mut out = util::stdout();
    let mut got = 0usize;
    let mut buf = vec![0u8; limit.unwrap_or(0)];
    while a.all || got < a.count {
        let next = match limit {
            Some(_) => util::not_now(q.recv_with(
                &mut buf,
                select,
                if a.truncate { Oversize::Truncate } else { Oversize::Refuse },
                wait,
            ))?
            .map(|r| (Message { mtype: r.mtype, data: buf[..r.len].to_vec() }, r.truncated)),
            None => util::not_now(q.recv_vec(select, wait))?.map(|m| (m, false)),
        };
        let Some((msg, truncated)) = next else {
            if a.all {
                break;
            }
            out.flush()?;
            let how = match timeout {
                Some(_) => format!("arrived within {} s (--timeout)", a.timeout.as_deref().unwrap_or("")),
                None => "is queued (--nowait)".to_string(),
            };
            let progress = if got > 0 { format!("; received {got} of {}", a.count) } else { String::new() };
            return Err(Fail::Msg(format!("msgrcv(id {}): no message of {select} {how}{progress}", q.id())));
        };
        got += 1;
        match a.format {
            Format::Raw => out.write_all(&msg.data)?,
            Format::Hex => {
                writeln!(
                    out,
                    "# type {}, {} bytes{}",
                    msg.mtype,
                    msg.data.len(),
                    if truncated { " (truncated)" } else { "" }
                )?;
                util::hex_dump(&mut *out, &msg.data, 0)?;
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
                serde_json::to_writer(&mut *out, &j)?;
                writeln!(out)?;
            }
        }
        out.flush()?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
