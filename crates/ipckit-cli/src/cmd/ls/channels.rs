//! `--channels`: the ipckit channels on the system (`ipckit::registry::channels`),
//! as a table or, with `--json`, as `{"channels": [...]}`; with `--stale` only the
//! stale ones, each with its reason. `ls --stale` adds the stale channels as a
//! section of its own, and `rm --stale` removes the named and System V ones.
//!
//! JSON fields of a channel: `kind` (`spsc`, `pubsub`, `merge`, `rpc`), `place`
//! (`named`, `sysv`, `memfd`), `name` (named: `/NAME`; memfd: its memfd name), `key`
//! and `id` (System V), `holders` (memfd: the pids holding it), `capacity_bytes`,
//! `max_message_bytes`, `slots`, `creator_pid`, `sent`, `received`,
//! `queued_messages`, `queued_bytes` (`null` where the header keeps no such count),
//! `in_use`, `ends` (each: `role`, `slot`, `pid`, `state` = `free`/`held`/`closed`,
//! `alive`), and `stale_reason` (only with `--stale`).

use std::io::Write;

use ipckit::registry::{self, ChannelEnd, ChannelEntry, ChannelPlace, EndHold};
use serde::Serialize;

use super::Res0;
use crate::Fail;

/// The stale channels, each with its reason.
pub fn find_stale() -> Result<Vec<(ChannelEntry, String)>, Fail> {
    Ok(registry::channels()?
        .into_iter()
        .filter_map(|c| {
            let why = c.stale_reason()?;
            Some((c, why))
        })
        .collect())
}

/// `ls --channels [--stale] [--json]`.
pub(super) fn print(out: &mut dyn Write, json: bool, stale: bool) -> Res0 {
    let list: Vec<(ChannelEntry, Option<String>)> = if stale {
        find_stale()?.into_iter().map(|(c, w)| (c, Some(w))).collect()
    } else {
        registry::channels()?.into_iter().map(|c| (c, None)).collect()
    };
    if json {
        let doc = Doc { channels: list.iter().map(|(c, w)| to_json(c, w.clone())).collect() };
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out)?;
    if stale {
        stale_section(out, &list)?;
        return Ok(());
    }
    writeln!(out, "------ ipckit Channels --------")?;
    writeln!(
        out,
        "{:<7} {:<32} {:<10} {:<10} {:<10} {:<10} {:<10} {:<10} ends",
        "kind", "place", "capacity", "max-msg", "sent", "received", "queued", "used-bytes"
    )?;
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    for (c, _) in &list {
        writeln!(
            out,
            "{:<7} {:<32} {:<10} {:<10} {:<10} {:<10} {:<10} {:<10} {}",
            c.kind.as_str(),
            place(c),
            c.capacity,
            c.max_message,
            opt(c.sent),
            opt(c.received),
            opt(c.queued_messages),
            opt(c.queued_bytes),
            ends(&c.ends)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The section `ls --stale` adds: the stale channels with their reasons.
pub(super) fn stale_section(out: &mut dyn Write, list: &[(ChannelEntry, Option<String>)]) -> Res0 {
    writeln!(out, "------ Stale ipckit Channels --------")?;
    writeln!(out, "{:<7} {:<32} reason", "kind", "place")?;
    for (c, why) in list {
        writeln!(out, "{:<7} {:<32} {}", c.kind.as_str(), place(c), why.as_deref().unwrap_or(""))?;
    }
    writeln!(out)?;
    Ok(())
}

/// `/NAME`, `shm key K id N` or `memfd:NAME pids P,Q`.
fn place(c: &ChannelEntry) -> String {
    match &c.place {
        ChannelPlace::Memfd { name, holders } => {
            let pids: Vec<String> = holders.iter().map(u32::to_string).collect();
            format!("memfd:{name} pids {}", pids.join(","))
        }
        _ => c.place_name(),
    }
}

/// `sender 123 live, receiver -`: each end, its pid and whether it lives.
fn ends(list: &[ChannelEnd]) -> String {
    let each: Vec<String> = list
        .iter()
        .map(|e| {
            let who = match e.slot {
                Some(s) => format!("{}#{s}", e.role),
                None => e.role.to_string(),
            };
            match (e.hold, e.alive) {
                (EndHold::Free, _) => format!("{who} -"),
                (EndHold::Closed, _) => format!("{who} {} closed", e.pid),
                (_, Some(true)) => format!("{who} {} live", e.pid),
                (_, Some(false)) => format!("{who} {} dead", e.pid),
                (_, None) => format!("{who} {} unknown", e.pid),
            }
        })
        .collect();
    each.join(", ")
}

#[derive(Serialize)]
struct Doc {
    channels: Vec<ChannelJson>,
}

#[derive(Serialize)]
struct EndJson {
    role: &'static str,
    slot: Option<u32>,
    pid: u32,
    state: &'static str,
    alive: Option<bool>,
}

#[derive(Serialize)]
pub(super) struct ChannelJson {
    kind: &'static str,
    place: &'static str,
    name: Option<String>,
    key: Option<String>,
    id: Option<i32>,
    holders: Option<Vec<u32>>,
    capacity_bytes: u64,
    max_message_bytes: u64,
    slots: u32,
    creator_pid: u32,
    sent: Option<u64>,
    received: Option<u64>,
    queued_messages: Option<u64>,
    queued_bytes: Option<u64>,
    in_use: Option<bool>,
    ends: Vec<EndJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

/// One channel as JSON (also used by `ls --stale --json`).
pub(super) fn to_json(c: &ChannelEntry, stale_reason: Option<String>) -> ChannelJson {
    let (place, name, key, id, holders) = match &c.place {
        ChannelPlace::Named(n) => ("named", Some(n.clone()), None, None, None),
        ChannelPlace::SysV { key, id } => ("sysv", None, Some(key.to_string()), Some(*id), None),
        ChannelPlace::Memfd { name, holders } => {
            ("memfd", Some(name.clone()), None, None, Some(holders.clone()))
        }
        _ => ("other", None, None, None, None),
    };
    ChannelJson {
        kind: c.kind.as_str(),
        place,
        name,
        key,
        id,
        holders,
        capacity_bytes: c.capacity,
        max_message_bytes: c.max_message,
        slots: c.slots,
        creator_pid: c.creator_pid,
        sent: c.sent,
        received: c.received,
        queued_messages: c.queued_messages,
        queued_bytes: c.queued_bytes,
        in_use: c.in_use,
        ends: c
            .ends
            .iter()
            .map(|e| EndJson {
                role: e.role,
                slot: e.slot,
                pid: e.pid,
                state: match e.hold {
                    EndHold::Free => "free",
                    EndHold::Held => "held",
                    _ => "closed",
                },
                alive: e.alive,
            })
            .collect(),
        stale_reason,
    }
}
