//! `ipckit ls --sockets`: the Unix sockets on the system, with the processes that
//! hold them, as the library's [`ipckit::registry::unix_sockets`] finds them (from
//! `/proc/net/unix` and the `socket:[INODE]` links in `/proc/PID/fd`; other users'
//! processes are visible to root only). This file only formats.
//!
//! One line per socket: type, state, inode, owners (`pid/command`, `-` when none can
//! be seen) and address (a path, `@name` for the abstract namespace, `(unnamed)`).
//! Named sockets come first, sorted by address; then unnamed ones by inode.

use std::io::Write;

use ipckit::registry::{self, UnixSocketEntry};
use serde::Serialize;

use crate::{Fail, Res};

/// One row of the listing as `--json` prints it (the library's
/// [`UnixSocketEntry`] in the CLI's words).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UnixSocketRow {
    /// `stream`, `dgram`, `seqpacket` (or `type N` for another type).
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

impl From<&UnixSocketEntry> for UnixSocketRow {
    fn from(e: &UnixSocketEntry) -> UnixSocketRow {
        UnixSocketRow {
            kind: e.kind.to_string(),
            state: e.state.to_string(),
            inode: e.inode,
            address: e.address.clone(),
            is_abstract: e.is_abstract,
            owners: e.owners.iter().map(|o| Owner { pid: o.pid, command: o.command.clone() }).collect(),
        }
    }
}

/// The Unix sockets of the system with their owners, sorted: named first by address,
/// then by inode.
pub fn list() -> Result<Vec<UnixSocketRow>, Fail> {
    let rows = registry::unix_sockets()?;
    Ok(rows.iter().map(UnixSocketRow::from).collect())
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
