//! `ipckit ls --sockets`: the Unix sockets on the system, from `/proc/net/unix`, with
//! the processes that hold them (found through the `socket:[INODE]` links in
//! `/proc/PID/fd`; other users' processes are visible to root only).
//!
//! One line per socket: type, state, inode, owners (`pid/command`, `-` when none can
//! be seen) and address (a path, `@name` for the abstract namespace, `(unnamed)`).
//! Named sockets come first, sorted by address; then unnamed ones by inode.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::{Fail, Res};

/// One row of `/proc/net/unix`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnixSocketRow {
    /// `stream`, `dgram`, `seqpacket` (or the number for another type).
    #[serde(rename = "type")]
    pub kind: String,
    /// `listening`, `unconnected`, `connecting`, `connected`, `disconnecting`.
    pub state: String,
    /// The socket's inode number (as in `/proc/PID/fd` links).
    pub inode: u64,
    /// The address as `/proc/net/unix` shows it: a path, `@name`, or empty.
    pub address: String,
    /// Whether the address is in the abstract namespace.
    #[serde(rename = "abstract")]
    pub is_abstract: bool,
    /// The processes that hold the socket open.
    pub owners: Vec<Owner>,
}

/// A process holding a socket.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// Process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub command: String,
}

/// `__SO_ACCEPTCON` in the Flags column: the socket listens.
const ACCEPTCON: u32 = 1 << 16;

/// Parses the text of `/proc/net/unix`. Lines that do not parse are skipped.
pub fn parse(text: &str) -> Vec<UnixSocketRow> {
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(_num), Some(_refs), Some(_proto), Some(flags), Some(ty), Some(st), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (Ok(flags), Ok(ty), Ok(st), Ok(inode)) = (
            u32::from_str_radix(flags, 16),
            u32::from_str_radix(ty, 16),
            u32::from_str_radix(st, 16),
            inode.parse::<u64>(),
        ) else {
            continue;
        };
        // The path is the rest of the line (it may hold spaces).
        let address = line.splitn(8, char::is_whitespace).filter(|s| !s.is_empty()).nth(7).unwrap_or("");
        let address = match line.find(&format!(" {inode} ")) {
            Some(i) => line[i + inode.to_string().len() + 2..].to_string(),
            None => address.trim().to_string(),
        };
        let kind = match ty {
            1 => "stream".to_string(),
            2 => "dgram".to_string(),
            5 => "seqpacket".to_string(),
            n => format!("type {n}"),
        };
        let state = if flags & ACCEPTCON != 0 {
            "listening"
        } else {
            match st {
                1 => "unconnected",
                2 => "connecting",
                3 => "connected",
                4 => "disconnecting",
                _ => "unknown",
            }
        }
        .to_string();
        let is_abstract = address.starts_with('@');
        rows.push(UnixSocketRow { kind, state, inode, address, is_abstract, owners: Vec::new() });
    }
    rows
}

/// Socket inode → the processes holding it, from every readable `/proc/PID/fd`.
fn owners() -> BTreeMap<u64, Vec<Owner>> {
    let mut map: BTreeMap<u64, Vec<Owner>> = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else { return map };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        let mut command = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let t = target.to_string_lossy();
            let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) else { continue };
            let Ok(inode) = inode.parse::<u64>() else { continue };
            let command = command
                .get_or_insert_with(|| {
                    std::fs::read_to_string(p.path().join("comm")).unwrap_or_default().trim_end().to_string()
                })
                .clone();
            let list = map.entry(inode).or_default();
            if !list.iter().any(|o| o.pid == pid) {
                list.push(Owner { pid, command });
            }
        }
    }
    map
}

/// The Unix sockets of the system with their owners, sorted: named first by address,
/// then by inode.
pub fn list() -> Result<Vec<UnixSocketRow>, Fail> {
    let text = std::fs::read_to_string("/proc/net/unix")
        .map_err(|e| Fail::Msg(format!("cannot read /proc/net/unix: {e}")))?;
    let mut rows = parse(&text);
    let mut who = owners();
    for r in &mut rows {
        if let Some(o) = who.remove(&r.inode) {
            r.owners = o;
        }
        r.owners.sort_by_key(|o| o.pid);
    }
    rows.sort_by(|a, b| {
        (a.address.is_empty(), &a.address, a.inode).cmp(&(b.address.is_empty(), &b.address, b.inode))
    });
    Ok(rows)
}

/// Prints the listing, as text or one JSON document.
pub fn print(out: &mut dyn Write, json: bool) -> Res {
    let rows = list()?;
    if json {
        serde_json::to_writer_pretty(&mut *out, &serde_json::json!({ "unix_sockets": rows }))?;
        writeln!(out)?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    writeln!(out, "------ Unix Sockets --------")?;
    writeln!(out, "{:<10} {:<13} {:<10} {:<24} address", "type", "state", "inode", "owners")?;
    for r in rows {
        let owners = if r.owners.is_empty() {
            "-".to_string()
        } else {
            r.owners.iter().map(|o| format!("{}/{}", o.pid, o.command)).collect::<Vec<_>>().join(",")
        };
        let address = if r.address.is_empty() { "(unnamed)" } else { r.address.as_str() };
        writeln!(out, "{:<10} {:<13} {:<10} {:<24} {address}", r.kind, r.state, r.inode, owners)?;
    }
    Ok(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 21870 /run/systemd/private
0000000000000000: 00000002 00000000 00000000 0002 01 11290 @abstract name
0000000000000000: 00000003 00000000 00000000 0001 03 33190
0000000000000000: 00000002 00000000 00010000 0005 01 40000 /tmp/dir with space/s
garbage line
";

    #[test]
    fn parses_types_states_and_addresses() {
        let rows = parse(SAMPLE);
        assert_eq!(rows.len(), 4);
        assert_eq!(
            (rows[0].kind.as_str(), rows[0].state.as_str(), rows[0].inode, rows[0].address.as_str()),
            ("stream", "listening", 21870, "/run/systemd/private")
        );
        assert_eq!(
            (rows[1].kind.as_str(), rows[1].address.as_str(), rows[1].is_abstract),
            ("dgram", "@abstract name", true)
        );
        assert_eq!((rows[2].state.as_str(), rows[2].address.as_str()), ("connected", ""));
        assert_eq!((rows[3].kind.as_str(), rows[3].address.as_str()), ("seqpacket", "/tmp/dir with space/s"));
    }
}
