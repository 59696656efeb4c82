//! The Unix domain sockets on the system, from `/proc/net/unix`, with the processes
//! that hold them.
//!
//! The kernel lists every Unix socket of the caller's network namespace in
//! `/proc/net/unix`: one line per socket with its flags, type, state, inode and
//! address. [`parse_unix_sockets`] reads that text (a pure parser); the owners come
//! from the `socket:[INODE]` links in `/proc/PID/fd` ([`socket_owners`]), so they
//! are only as complete as what this process may read: another user's `/proc/PID/fd`
//! needs root (or `CAP_SYS_PTRACE`), and processes in other pid namespaces are not
//! seen. [`unix_sockets`] puts both together.
//!
//! ```
//! use ipckit::registry::{self, UnixSocketState};
//! use ipckit::socket::{UnixAddr, UnixListener};
//!
//! let name = format!("ipckit-doc-registry-{}", std::process::id());
//! let l = UnixListener::bind(UnixAddr::abstract_name(&name))?;
//! let all = registry::unix_sockets()?;
//! let mine = all.iter().find(|s| s.address == format!("@{name}")).expect("listed");
//! assert_eq!(mine.state, UnixSocketState::Listening);
//! assert!(mine.owners.iter().any(|o| o.pid == std::process::id()));
//! # drop(l);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [unix(7)](https://man7.org/linux/man-pages/man7/unix.7.html),
//! [proc_pid_fd(5)](https://man7.org/linux/man-pages/man5/proc_pid_fd.5.html),
//! [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`/proc/net/unix`).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::error::Result;

/// Where the kernel lists the Unix sockets.
pub const PROC_NET_UNIX: &str = "/proc/net/unix";

/// `__SO_ACCEPTCON` in the Flags column: the socket listens.
const ACCEPTCON: u32 = 1 << 16;

/// The type of a Unix socket (the Type column of `/proc/net/unix`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnixSocketType {
    /// `SOCK_STREAM` (1).
    Stream,
    /// `SOCK_DGRAM` (2).
    Datagram,
    /// `SOCK_SEQPACKET` (5).
    Seqpacket,
    /// Another type number.
    Other(u32),
}

impl fmt::Display for UnixSocketType {
    /// `stream`, `dgram`, `seqpacket`, or `type N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixSocketType::Stream => f.write_str("stream"),
            UnixSocketType::Datagram => f.write_str("dgram"),
            UnixSocketType::Seqpacket => f.write_str("seqpacket"),
            UnixSocketType::Other(n) => write!(f, "type {n}"),
        }
    }
}

/// The state of a Unix socket (the St column, and the listening flag).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnixSocketState {
    /// It listens for connections (`__SO_ACCEPTCON` in the flags).
    Listening,
    /// `SS_UNCONNECTED` (1): not connected (a bound datagram socket, say).
    Unconnected,
    /// `SS_CONNECTING` (2).
    Connecting,
    /// `SS_CONNECTED` (3).
    Connected,
    /// `SS_DISCONNECTING` (4).
    Disconnecting,
    /// Another state number.
    Unknown(u32),
}

impl fmt::Display for UnixSocketState {
    /// `listening`, `unconnected`, `connecting`, `connected`, `disconnecting`,
    /// `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnixSocketState::Listening => "listening",
            UnixSocketState::Unconnected => "unconnected",
            UnixSocketState::Connecting => "connecting",
            UnixSocketState::Connected => "connected",
            UnixSocketState::Disconnecting => "disconnecting",
            UnixSocketState::Unknown(_) => "unknown",
        })
    }
}

/// A process that holds a socket open.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketOwner {
    /// Process id.
    pub pid: u32,
    /// Its command name (`/proc/PID/comm`).
    pub command: String,
}

/// One Unix socket, as `/proc/net/unix` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct UnixSocketEntry {
    /// Stream, datagram or seqpacket.
    pub kind: UnixSocketType,
    /// Listening, connected, ...
    pub state: UnixSocketState,
    /// The socket's inode number (as in the `socket:[INODE]` links of `/proc/PID/fd`).
    pub inode: u64,
    /// The address as the kernel shows it: a path, `@name` for the abstract namespace
    /// (with each NUL byte of the name shown as `@`), or empty for an unnamed socket.
    pub address: String,
    /// Whether the address is in the abstract namespace.
    pub is_abstract: bool,
    /// The reference count (the RefCount column).
    pub refcount: u32,
    /// The flags column (`__SO_ACCEPTCON` is 0x10000).
    pub flags: u32,
    /// The processes that hold the socket open, by pid ([`unix_sockets`] fills this
    /// in; [`parse_unix_sockets`] leaves it empty).
    pub owners: Vec<SocketOwner>,
}

/// Parses the text of `/proc/net/unix` (its header line first). Lines that do not
/// parse are skipped. Owners are left empty.
///
/// ```
/// use ipckit::registry::{UnixSocketState, UnixSocketType, parse_unix_sockets};
///
/// let text = "Num       RefCount Protocol Flags    Type St Inode Path\n\
///             0000000000000000: 00000002 00000000 00010000 0001 01 21870 /run/x.sock\n";
/// let rows = parse_unix_sockets(text);
/// assert_eq!((rows[0].kind, rows[0].state), (UnixSocketType::Stream, UnixSocketState::Listening));
/// assert_eq!((rows[0].inode, rows[0].address.as_str()), (21870, "/run/x.sock"));
/// ```
pub fn parse_unix_sockets(text: &str) -> Vec<UnixSocketEntry> {
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let mut f = line.split_whitespace();
        let (Some(_num), Some(refs), Some(_proto), Some(flags), Some(ty), Some(st), Some(inode)) =
            (f.next(), f.next(), f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let (Ok(refcount), Ok(flags), Ok(ty), Ok(st), Ok(inode)) = (
            u32::from_str_radix(refs, 16),
            u32::from_str_radix(flags, 16),
            u32::from_str_radix(ty, 16),
            u32::from_str_radix(st, 16),
            inode.parse::<u64>(),
        ) else {
            continue;
        };
        // The address is the rest of the line after the inode (a path may hold
        // spaces); the kernel puts one space before it.
        let address = match line.find(&format!(" {inode} ")) {
            Some(i) => line[i + inode.to_string().len() + 2..].to_string(),
            None => String::new(),
        };
        let kind = match ty {
            1 => UnixSocketType::Stream,
            2 => UnixSocketType::Datagram,
            5 => UnixSocketType::Seqpacket,
            n => UnixSocketType::Other(n),
        };
        let state = if flags & ACCEPTCON != 0 {
            UnixSocketState::Listening
        } else {
            match st {
                1 => UnixSocketState::Unconnected,
                2 => UnixSocketState::Connecting,
                3 => UnixSocketState::Connected,
                4 => UnixSocketState::Disconnecting,
                n => UnixSocketState::Unknown(n),
            }
        };
        let is_abstract = address.starts_with('@');
        rows.push(UnixSocketEntry {
            kind,
            state,
            inode,
            address,
            is_abstract,
            refcount,
            flags,
            owners: Vec::new(),
        });
    }
    rows
}

/// The inode of a socket from the target of a `/proc/PID/fd` link (`socket:[INODE]`).
///
/// ```
/// assert_eq!(ipckit::registry::parse_socket_link("socket:[4242]"), Some(4242));
/// assert_eq!(ipckit::registry::parse_socket_link("pipe:[4242]"), None);
/// ```
pub fn parse_socket_link(target: &str) -> Option<u64> {
    target.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

/// Socket inode → the processes holding it, from every readable `/proc/PID/fd`
/// (each process once per socket, in pid order). Processes that cannot be read
/// (another user's, without root) or that exit meanwhile are skipped.
pub fn socket_owners() -> BTreeMap<u64, Vec<SocketOwner>> {
    socket_owners_in(Path::new("/proc"))
}

/// [`socket_owners`] under another mount of procfs.
pub fn socket_owners_in(proc_root: &Path) -> BTreeMap<u64, Vec<SocketOwner>> {
    let mut map: BTreeMap<u64, Vec<SocketOwner>> = BTreeMap::new();
    let Ok(procs) = std::fs::read_dir(proc_root) else { return map };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        let mut command: Option<String> = None;
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else { continue };
            let Some(inode) = target.to_str().and_then(parse_socket_link) else { continue };
            let command = command
                .get_or_insert_with(|| {
                    std::fs::read_to_string(p.path().join("comm")).unwrap_or_default().trim_end().to_string()
                })
                .clone();
            let list = map.entry(inode).or_default();
            if !list.iter().any(|o| o.pid == pid) {
                list.push(SocketOwner { pid, command });
            }
        }
    }
    for list in map.values_mut() {
        list.sort_by_key(|o| o.pid);
    }
    map
}

/// Every Unix socket of this network namespace with its owners, sorted: named ones
/// first by address, then unnamed ones by inode.
///
/// Fails only if `/proc/net/unix` cannot be read (procfs not mounted).
pub fn unix_sockets() -> Result<Vec<UnixSocketEntry>> {
    let text = super::read_text(Path::new(PROC_NET_UNIX))?;
    let mut rows = parse_unix_sockets(&text);
    let mut who = socket_owners();
    for r in &mut rows {
        if let Some(o) = who.remove(&r.inode) {
            r.owners = o;
        }
    }
    rows.sort_by(|a, b| {
        (a.address.is_empty(), &a.address, a.inode).cmp(&(b.address.is_empty(), &b.address, b.inode))
    });
    Ok(rows)
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
0000000000000000: 00000002 00000000 00000000 0003 07 40001 @x@y
garbage line
0000000000000000: 0000000Z 00000000 00000000 0001 01 40002 /bad/refcount
";

    #[test]
    fn parses_types_states_and_addresses() {
        let rows = parse_unix_sockets(SAMPLE);
        assert_eq!(rows.len(), 5);
        let r = &rows[0];
        assert_eq!(
            (r.kind, r.state, r.inode, r.address.as_str(), r.is_abstract, r.refcount, r.flags),
            (
                UnixSocketType::Stream,
                UnixSocketState::Listening,
                21870,
                "/run/systemd/private",
                false,
                2,
                0x10000
            )
        );
        assert_eq!(
            (rows[1].kind, rows[1].state, rows[1].address.as_str(), rows[1].is_abstract),
            (UnixSocketType::Datagram, UnixSocketState::Unconnected, "@abstract name", true)
        );
        assert_eq!(
            (rows[2].state, rows[2].address.as_str(), rows[2].refcount),
            (UnixSocketState::Connected, "", 3)
        );
        assert_eq!(
            (rows[3].kind, rows[3].address.as_str()),
            (UnixSocketType::Seqpacket, "/tmp/dir with space/s")
        );
        assert_eq!((rows[4].kind, rows[4].state), (UnixSocketType::Other(3), UnixSocketState::Unknown(7)));
        assert!(rows.iter().all(|r| r.owners.is_empty()));
    }

    #[test]
    fn names_as_the_cli_prints_them() {
        let rows = parse_unix_sockets(SAMPLE);
        let shown: Vec<String> = rows.iter().map(|r| format!("{} {}", r.kind, r.state)).collect();
        assert_eq!(
            shown,
            [
                "stream listening",
                "dgram unconnected",
                "stream connected",
                "seqpacket listening",
                "type 3 unknown"
            ]
        );
    }

    #[test]
    fn empty_and_header_only_texts_give_nothing() {
        assert!(parse_unix_sockets("").is_empty());
        assert!(parse_unix_sockets("Num       RefCount Protocol Flags    Type St Inode Path\n").is_empty());
    }

    #[test]
    fn socket_links() {
        assert_eq!(parse_socket_link("socket:[1]"), Some(1));
        assert_eq!(parse_socket_link("socket:[]"), None);
        assert_eq!(parse_socket_link("socket:[12"), None);
        assert_eq!(parse_socket_link("anon_inode:[eventfd]"), None);
    }
}
