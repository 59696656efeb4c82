//! Every ipckit channel on the system: single-pair channels and the publish/subscribe,
//! many-to-one and request/response patterns, wherever their shared memory lives.
//!
//! Three places are searched:
//!
//! - **named**: the files of `/dev/shm` (POSIX shared memory), each opened read-only
//!   (`shm_open(O_RDONLY)`) and mapped read-only;
//! - **System V**: every shared-memory segment large enough to hold a channel,
//!   attached read-only (`shmat(SHM_RDONLY)`) and detached at once — the only trace
//!   is the kernel's last-attach pid and time of the segment;
//! - **memfd**: the descriptors in `/proc/PID/fd` whose link reads `/memfd:ipckit-...`
//!   (the names the channel gives its memfds), reopened read-only through that link
//!   where this process may. A memfd that is only mapped, with every descriptor
//!   closed, is not found.
//!
//! A piece of memory is a channel if its header carries a channel's magic number and
//! this ipckit's layout version, with sizes that fit. The header is read with atomic
//! loads from the read-only view (never as `&T`/`&[u8]`), and nothing is ever written:
//! listing a channel takes none of its ends. Objects this process may not open are
//! skipped.
//!
//! A channel is **stale** ([`ChannelEntry::stale_reason`]) when no end is held by a
//! live process (each end is free, closed, or held by a process that is gone — pid,
//! start time and zombie state from `/proc`), its creator is gone, and no process
//! keeps its memory (for a named channel: no process maps it or holds it open; for a
//! System V one: no attachment). Where an end's liveness cannot be told (another pid
//! namespace), the channel is not stale. Where some process could not be inspected for
//! its mappings, the ends and the creator decide, as the header records every end.
//!
//! ```
//! use ipckit::channel::{Channel, ChannelConfig};
//! use ipckit::registry::{self, ChannelKind};
//!
//! let chan = Channel::create_memfd(&ChannelConfig::new().with_capacity(4096))?;
//! let mut tx = chan.sender()?;
//! tx.send(b"hello")?;
//! let me = ipckit::process::current_pid();
//! let list = registry::channels()?;
//! let mine = list
//!     .iter()
//!     .find(|c| c.kind == ChannelKind::Spsc && c.ends.iter().any(|e| e.pid == me))
//!     .expect("listed");
//! assert_eq!((mine.capacity, mine.sent, mine.queued_messages), (4096, Some(1), Some(1)));
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [shmat(2)](https://man7.org/linux/man-pages/man2/shmat.2.html),
//! [memfd_create(2)](https://man7.org/linux/man-pages/man2/memfd_create.2.html),
//! [proc(5)](https://man7.org/linux/man-pages/man5/proc.5.html) (`/proc/PID/fd`, `/proc/PID/stat`).

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::posix_use::PosixUse;
use super::{ShmEntry, Source};
use crate::channel::inspect::{self, EndState, Kind, Snapshot, Words};
use crate::error::Result;
use crate::key::Key;
use crate::posix::shm::ShmObject;
use crate::sysv::shm::ShmSegment;

/// The smallest shared memory that can hold a channel: a page of header and the
/// smallest ring.
const MIN_CHANNEL_SIZE: u64 = 4096 + 1024;

/// What kind of channel, as its header says.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelKind {
    /// One sender, one receiver ([`Channel`](crate::channel::Channel)).
    Spsc,
    /// One publisher, many subscribers ([`pubsub`](crate::channel::pubsub)).
    PubSub,
    /// Many senders, one receiver ([`merge`](crate::channel::merge)).
    Merge,
    /// A server and its clients ([`rpc`](crate::channel::rpc)).
    Rpc,
}

impl ChannelKind {
    /// `"spsc"`, `"pubsub"`, `"merge"` or `"rpc"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Spsc => "spsc",
            ChannelKind::PubSub => "pubsub",
            ChannelKind::Merge => "merge",
            ChannelKind::Rpc => "rpc",
        }
    }
}

/// Where a channel's shared memory lives.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChannelPlace {
    /// A named POSIX object, `/dev/shm/NAME`; the name with its leading `/`.
    Named(String),
    /// A System V shared-memory segment.
    SysV {
        /// Its key (`0x00000000` for a private segment).
        key: Key,
        /// Its id.
        id: i32,
    },
    /// An anonymous memfd.
    Memfd {
        /// The memfd's name (`ipckit-channel`, `ipckit-pubsub`...).
        name: String,
        /// The processes that hold a descriptor of it, lowest first.
        holders: Vec<u32>,
    },
}

/// The state of one end of a channel.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndHold {
    /// Nobody has taken it (or the member slot is free).
    Free,
    /// A process holds it.
    Held,
    /// Its holder closed it.
    Closed,
}

/// One end of a channel: a fixed role (sender, receiver, publisher, server) or a
/// member slot (subscriber, sender of a many-to-one channel, client).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelEnd {
    /// `"sender"`, `"receiver"`, `"publisher"`, `"subscriber"`, `"server"` or `"client"`.
    pub role: &'static str,
    /// The member slot, `None` for a fixed role.
    pub slot: Option<u32>,
    /// The pid recorded by its holder (0 if none).
    pub pid: u32,
    /// Free, held or closed.
    pub hold: EndHold,
    /// For a held end: whether its process lives (`None`: cannot be told, as in
    /// another pid namespace). `Some(false)` for free and closed ends.
    pub alive: Option<bool>,
}

impl ChannelEnd {
    /// Whether the end is held by a process that lives or may live.
    pub fn may_live(&self) -> bool {
        self.hold == EndHold::Held && self.alive != Some(false)
    }
}

/// One ipckit channel found on the system.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChannelEntry {
    /// The kind, from the magic number.
    pub kind: ChannelKind,
    /// Where it lives.
    pub place: ChannelPlace,
    /// Bytes of each ring.
    pub capacity: u64,
    /// The largest message, in bytes.
    pub max_message: u64,
    /// Member slots of a pattern (0 for a single-pair channel).
    pub slots: u32,
    /// The pid of the process that created it.
    pub creator_pid: u32,
    /// Its ends: the fixed roles, then every member slot in use.
    pub ends: Vec<ChannelEnd>,
    /// Messages sent: the count the sender keeps in the header (single-pair channel
    /// only; `None` for the patterns, which keep no count).
    pub sent: Option<u64>,
    /// Messages received: `sent` less those still queued (single-pair channel only).
    pub received: Option<u64>,
    /// Messages published and not yet taken (for many-to-one and request/response:
    /// summed over the members' rings; `None` for publish/subscribe).
    pub queued_messages: Option<u64>,
    /// Ring bytes the queued messages occupy (the fill level).
    pub queued_bytes: Option<u64>,
    /// Whether some process keeps the memory: maps or holds the named object open,
    /// is attached to the segment, holds the memfd. `None` if it cannot be known.
    pub in_use: Option<bool>,
}

impl ChannelEntry {
    /// Why the channel is stale (see the module docs), or `None` if it is not.
    pub fn stale_reason(&self) -> Option<String> {
        if self.ends.iter().any(ChannelEnd::may_live) {
            return None;
        }
        if self.creator_pid != 0 && crate::process::is_alive(self.creator_pid) {
            return None;
        }
        // Unknown use (a process that could not be inspected) does not keep a channel:
        // every end's holder is recorded in the header, and was checked above.
        if self.in_use == Some(true) {
            return None;
        }
        let held: Vec<String> = self
            .ends
            .iter()
            .filter(|e| e.hold != EndHold::Free)
            .map(|e| match e.hold {
                EndHold::Closed => format!("{} {} closed", e.role, e.pid),
                _ => format!("{} {} gone", e.role, e.pid),
            })
            .collect();
        Some(if held.is_empty() {
            format!("no end was ever taken and its creator (pid {}) is gone", self.creator_pid)
        } else {
            format!("every end is gone ({})", held.join(", "))
        })
    }

    /// A short name: `/NAME`, `key 0x... id N`, or `memfd:NAME`.
    pub fn place_name(&self) -> String {
        match &self.place {
            ChannelPlace::Named(n) => n.clone(),
            ChannelPlace::SysV { key, id } => format!("shm key {key} id {id}"),
            ChannelPlace::Memfd { name, .. } => format!("memfd:{name}"),
        }
    }

    fn from_snapshot(s: Snapshot, place: ChannelPlace, in_use: Option<bool>) -> ChannelEntry {
        let kind = match s.kind {
            Kind::Spsc => ChannelKind::Spsc,
            Kind::PubSub => ChannelKind::PubSub,
            Kind::Merge => ChannelKind::Merge,
            Kind::Rpc => ChannelKind::Rpc,
        };
        let ends = s
            .ends
            .iter()
            .map(|e| {
                let (hold, alive) = match e.state {
                    EndState::Free => (EndHold::Free, Some(false)),
                    EndState::Held(alive) => (EndHold::Held, alive),
                    EndState::Closed => (EndHold::Closed, Some(false)),
                };
                ChannelEnd { role: e.role, slot: e.slot, pid: e.pid, hold, alive }
            })
            .collect();
        let (queued_messages, queued_bytes) = match s.queued {
            Some((m, b)) => (Some(m), Some(b)),
            None => (None, None),
        };
        ChannelEntry {
            kind,
            place,
            capacity: s.capacity,
            max_message: s.max_message,
            slots: s.slots,
            creator_pid: s.creator_pid,
            ends,
            sent: s.sent,
            received: s.sent.zip(queued_messages).map(|(a, q)| a.saturating_sub(q)),
            queued_messages,
            queued_bytes,
            in_use,
        }
    }
}

/// Every channel found in `/dev/shm`, the System V segments and the memfds in
/// `/proc/*/fd` (see the module docs), named ones first, then System V, then memfds.
///
/// # Errors
/// Reading the list of System V segments fails (`/proc/sysvipc/shm` and `shmctl`
/// both refused). Objects that cannot be opened are skipped.
pub fn channels() -> Result<Vec<ChannelEntry>> {
    let mut out = named_channels_in(Path::new("/dev/shm"));
    out.extend(sysv_channels(&super::shared_memory(Source::Auto)?));
    out.extend(memfd_channels());
    Ok(out)
}

/// The named channels among the files of `dir` (`/dev/shm`).
fn named_channels_in(dir: &Path) -> Vec<ChannelEntry> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else { return out };
    let mut names: Vec<String> = rd
        .flatten()
        .filter(|e| e.metadata().is_ok_and(|m| m.is_file() && m.len() >= MIN_CHANNEL_SIZE))
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| !n.starts_with("sem."))
        .collect();
    names.sort();
    let mut users: Option<PosixUse> = None;
    for name in names {
        let full = format!("/{name}");
        let Ok(obj) = ShmObject::open_read_only(&full) else { continue };
        let Ok(map) = obj.map_read_only() else { continue };
        let Some(snap) = inspect::inspect(&map as &dyn Words) else { continue };
        drop(map);
        let in_use = users.get_or_insert_with(PosixUse::scan).in_use(&dir.join(&name));
        out.push(ChannelEntry::from_snapshot(snap, ChannelPlace::Named(full), in_use));
    }
    out
}

/// The channels among the System V segments `segments`.
fn sysv_channels(segments: &[ShmEntry]) -> Vec<ChannelEntry> {
    let mut out = Vec::new();
    for e in segments.iter().filter(|e| e.size >= MIN_CHANNEL_SIZE) {
        let Ok(seg) = ShmSegment::from_id(e.id) else { continue };
        let Ok(att) = seg.attach_read_only() else { continue };
        let snap = inspect::inspect(&att as &dyn Words);
        drop(att);
        if let Some(snap) = snap {
            let place = ChannelPlace::SysV { key: e.key, id: e.id };
            out.push(ChannelEntry::from_snapshot(snap, place, Some(e.nattch > 0)));
        }
    }
    out
}

/// The name of a memfd from its `/proc/PID/fd` link (`/memfd:NAME (deleted)`).
fn memfd_name(link: &str) -> Option<&str> {
    let name = link.strip_prefix("/memfd:")?;
    Some(name.strip_suffix(" (deleted)").unwrap_or(name))
}

/// The memfd channels held open by the processes in `/proc`.
fn memfd_channels() -> Vec<ChannelEntry> {
    // (dev, inode) -> (name, a path to open it by, holders)
    let mut found: HashMap<(u64, u64), (String, std::path::PathBuf, Vec<u32>)> = HashMap::new();
    let Ok(rd) = std::fs::read_dir("/proc") else { return Vec::new() };
    for p in rd.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let Ok(link) = std::fs::read_link(fd.path()) else { continue };
            let Some(name) = link.to_str().and_then(memfd_name) else { continue };
            if !name.starts_with("ipckit-") {
                continue;
            }
            let Ok(m) = std::fs::metadata(fd.path()) else { continue };
            if !m.file_type().is_file() || m.len() < MIN_CHANNEL_SIZE || m.file_type().is_fifo() {
                continue;
            }
            let entry =
                found.entry((m.dev(), m.ino())).or_insert_with(|| (name.to_string(), fd.path(), Vec::new()));
            if !entry.2.contains(&pid) {
                entry.2.push(pid);
            }
        }
    }
    let mut list: Vec<_> = found.into_values().collect();
    list.sort_by_key(|(_, _, holders)| holders.iter().min().copied());
    let mut out = Vec::new();
    for (name, path, mut holders) in list {
        // Reopening through /proc needs the right to inspect the holder.
        let Ok(file) = std::fs::File::open(&path) else { continue };
        let obj = ShmObject::from_fd(OwnedFd::from(file));
        let Ok(map) = obj.map_read_only() else { continue };
        let Some(snap) = inspect::inspect(&map as &dyn Words) else { continue };
        holders.sort_unstable();
        out.push(ChannelEntry::from_snapshot(snap, ChannelPlace::Memfd { name, holders }, Some(true)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channel::{Channel, ChannelConfig, PatternConfig, pubsub::PubSub};
    use crate::perm::Mode;

    fn unique(tag: &str) -> String {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        format!("/ipckit-reg-{tag}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
    }

    #[test]
    fn memfd_names() {
        assert_eq!(memfd_name("/memfd:ipckit-channel (deleted)"), Some("ipckit-channel"));
        assert_eq!(memfd_name("/memfd:x"), Some("x"));
        assert_eq!(memfd_name("/dev/shm/x"), None);
    }

    #[test]
    fn named_spsc_counts_and_fill() {
        let name = unique("spsc");
        let mut chan =
            Channel::create_named(&name, &ChannelConfig::new().with_capacity(8192), Mode::OWNER_RW)
                .expect("create");
        chan.set_remove_on_drop(true).expect("remove on drop");
        let mut tx = chan.sender().expect("sender");
        let mut rx = chan.receiver().expect("receiver");
        for i in 0..5u8 {
            tx.send(&[i; 40]).expect("send");
        }
        let mut buf = [0u8; 64];
        rx.recv(&mut buf).expect("recv");
        rx.recv(&mut buf).expect("recv");
        let list = named_channels_in(Path::new("/dev/shm"));
        let c = list.iter().find(|c| c.place == ChannelPlace::Named(name.clone())).expect("listed");
        assert_eq!(c.kind, ChannelKind::Spsc);
        assert_eq!(c.capacity, 8192);
        assert_eq!((c.sent, c.received, c.queued_messages), (Some(5), Some(2), Some(3)));
        // Three records of 16 + 40 bytes, aligned to the default 128.
        assert_eq!(c.queued_bytes, Some(3 * 128));
        let me = std::process::id();
        assert!(c.ends.iter().all(|e| e.pid == me && e.hold == EndHold::Held && e.alive == Some(true)));
        assert_eq!(c.stale_reason(), None);
    }

    #[test]
    fn named_pubsub_kind_and_members() {
        let name = unique("ps");
        let cfg = PatternConfig::new().with_capacity(16 * 1024).with_max_members(4);
        let ps = PubSub::create_named(&name, &cfg, Mode::OWNER_RW).expect("create");
        let _guard = Unlink(name.clone());
        let _p = ps.publisher().expect("publisher");
        let _s1 = ps.subscriber().expect("subscriber");
        let _s2 = ps.subscriber().expect("subscriber");
        let list = named_channels_in(Path::new("/dev/shm"));
        let c = list.iter().find(|c| c.place == ChannelPlace::Named(name.clone())).expect("listed");
        assert_eq!((c.kind, c.capacity, c.slots), (ChannelKind::PubSub, 16 * 1024, 4));
        let roles: Vec<_> = c.ends.iter().map(|e| e.role).collect();
        assert_eq!(roles, ["publisher", "subscriber", "subscriber"]);
        assert_eq!(c.sent, None);
    }

    #[test]
    fn memory_without_a_channel_header_is_not_a_channel() {
        let obj = ShmObject::memfd("ipckit-channel", 8192).expect("memfd");
        let rw = obj.map().expect("map");
        assert!(inspect::inspect(&obj.map_read_only().expect("map") as &dyn Words).is_none(), "zeros");
        rw.fill(0, 8192, 0xA5).expect("fill");
        assert!(inspect::inspect(&obj.map_read_only().expect("map") as &dyn Words).is_none(), "junk");
        // The right magic but another version.
        rw.write_at(0, b"ipckCHAN").expect("write");
        rw.write_at(8, &99u32.to_le_bytes()).expect("write");
        assert!(inspect::inspect(&obj.map_read_only().expect("map") as &dyn Words).is_none(), "version");
    }

    #[test]
    fn sysv_channel_found_by_id() {
        let mut chan =
            Channel::create_sysv(Key::PRIVATE, &ChannelConfig::new().with_capacity(4096), Mode::OWNER_RW)
                .expect("create");
        chan.set_remove_on_drop(true).expect("remove on drop");
        let id = chan.segment_id().expect("id");
        let mut tx = chan.sender().expect("sender");
        tx.send(b"one").expect("send");
        let list = sysv_channels(&super::super::shared_memory(Source::Auto).expect("list"));
        let c = list
            .iter()
            .find(|c| matches!(c.place, ChannelPlace::SysV { id: i, .. } if i == id))
            .expect("listed");
        assert_eq!(
            (c.kind, c.capacity, c.sent, c.queued_messages),
            (ChannelKind::Spsc, 4096, Some(1), Some(1))
        );
        // This process is attached: in use, and its sender lives.
        assert_eq!(c.in_use, Some(true));
        assert_eq!(c.ends[0].hold, EndHold::Held);
        assert_eq!(c.ends[1].hold, EndHold::Free);
        assert_eq!(c.stale_reason(), None);
    }

    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = ShmObject::unlink(&self.0);
        }
    }
}
