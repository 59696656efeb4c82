//! The bridge's state file: a fixed 64-byte record rewritten in place with one
//! `pwrite` at offset 0, so that a process killed at any instant leaves either the old
//! record or the new one (a write of fewer bytes than a page into the page cache is
//! not torn by a signal).
//!
//! The record is not `fsync`ed per message: it survives the death of the bridge
//! process (the page cache belongs to the kernel), not a crash of the whole machine.
//!
//! Layout (little endian): magic `IPCKBRG1`, the bridge's random name, the sequence
//! number, the phase, the type, length and hash of the message the phase is about, and
//! a mark (the importer's: where in a channel's ring the message goes, plus one; 0 for
//! none).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::LocalMessage;
use crate::error::{Error, ErrorKind, Object, Result};

const MAGIC: &[u8; 8] = b"IPCKBRG1";
const SIZE: usize = 64;

/// What the bridge was doing when the record was written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing in progress: `seq` is the next sequence number to use.
    Idle,
    /// About to move the message `seq` (type, length, hash below) out of the local
    /// object (exporter) or into it (importer); `seq` is not done yet.
    Moving,
    /// Exporter of an object that cannot be peeked: `len` messages taken out, written
    /// to the spool file, to be published with ids from `seq` on.
    Spooled,
}

/// One record.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// A random name chosen when the file was made: the exporter's message ids start
    /// with it, so two exporters never share ids.
    pub name: u64,
    /// Exporter: the sequence number of the next message (its `Nats-Msg-Id` suffix).
    /// Importer: the last stream sequence delivered locally.
    pub seq: u64,
    pub phase: Phase,
    pub mtype: i64,
    pub len: u64,
    pub hash: u64,
    /// Importer into a channel, phase `Moving`: the ring position reserved for the
    /// message, plus one (0: none reserved yet). See [`ChannelEnd`](super::ChannelEnd).
    pub mark: u64,
}

/// An open state file.
#[derive(Debug)]
pub(crate) struct StateFile {
    file: File,
    path: PathBuf,
    pub rec: Record,
}

impl StateFile {
    /// Opens the file at `path`, creating it (and its directory) with a fresh random
    /// name when missing.
    pub fn open(path: &Path) -> Result<StateFile> {
        let err = |what: &str, e: std::io::Error| {
            Error::new("open state file", Object::Path(path.to_path_buf()), ErrorKind::Other)
                .with_detail(format!("{what}: {e}"))
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| err("cannot create its directory", e))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| err("cannot open", e))?;
        let mut bytes = [0u8; SIZE];
        let n = file.read_at(&mut bytes, 0).map_err(|e| err("cannot read", e))?;
        let rec = if n == 0 {
            Record { name: fresh_name(), seq: 0, phase: Phase::Idle, mtype: 0, len: 0, hash: 0, mark: 0 }
        } else if n == SIZE && &bytes[..8] == MAGIC {
            decode(&bytes).ok_or_else(|| {
                Error::new("open state file", Object::Path(path.to_path_buf()), ErrorKind::Corrupted)
                    .with_detail("unknown phase")
            })?
        } else {
            return Err(Error::new(
                "open state file",
                Object::Path(path.to_path_buf()),
                ErrorKind::Corrupted,
            )
            .with_detail(format!("not an ipckit bridge state file ({n} bytes)")));
        };
        let mut state = StateFile { file, path: path.to_path_buf(), rec };
        if n == 0 {
            state.write()?;
        }
        Ok(state)
    }

    /// Writes the current record in place.
    pub fn write(&mut self) -> Result<()> {
        let bytes = encode(&self.rec);
        self.file.write_all_at(&bytes, 0).map_err(|e| {
            Error::new("write state file", Object::Path(self.path.clone()), ErrorKind::Other)
                .with_detail(e.to_string())
        })
    }

    /// Records that message `seq` (type, length, hash) is about to move.
    pub fn moving(&mut self, seq: u64, mtype: i64, len: usize, hash: u64) -> Result<()> {
        self.moving_at(seq, mtype, len, hash, 0)
    }

    /// Records that message `seq` is about to move, with a mark (see [`Record::mark`]).
    pub fn moving_at(&mut self, seq: u64, mtype: i64, len: usize, hash: u64, mark: u64) -> Result<()> {
        self.rec = Record { seq, phase: Phase::Moving, mtype, len: len as u64, hash, mark, ..self.rec };
        self.write()
    }

    /// Records that `count` messages are in the spool, to get ids from `seq` on.
    pub fn spooled(&mut self, seq: u64, count: usize) -> Result<()> {
        self.rec =
            Record { seq, phase: Phase::Spooled, mtype: 0, len: count as u64, hash: 0, mark: 0, ..self.rec };
        self.write()
    }

    /// Records that everything before `seq` (exporter) or up to `seq` (importer) is done.
    pub fn idle(&mut self, seq: u64) -> Result<()> {
        self.rec = Record { seq, phase: Phase::Idle, mtype: 0, len: 0, hash: 0, mark: 0, ..self.rec };
        self.write()
    }
}

fn encode(r: &Record) -> [u8; SIZE] {
    let mut b = [0u8; SIZE];
    b[..8].copy_from_slice(MAGIC);
    b[8..16].copy_from_slice(&r.name.to_le_bytes());
    b[16..24].copy_from_slice(&r.seq.to_le_bytes());
    b[24..32].copy_from_slice(&(r.phase as u64).to_le_bytes());
    b[32..40].copy_from_slice(&r.mtype.to_le_bytes());
    b[40..48].copy_from_slice(&r.len.to_le_bytes());
    b[48..56].copy_from_slice(&r.hash.to_le_bytes());
    b[56..64].copy_from_slice(&r.mark.to_le_bytes());
    b
}

fn decode(b: &[u8; SIZE]) -> Option<Record> {
    let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let phase = match word(24) {
        0 => Phase::Idle,
        1 => Phase::Moving,
        2 => Phase::Spooled,
        _ => return None,
    };
    Some(Record {
        name: word(8),
        seq: word(16),
        phase,
        mtype: word(32) as i64,
        len: word(40),
        hash: word(48),
        mark: word(56),
    })
}

/// A name unlikely to repeat: the clock, the process id and a stack address, mixed.
fn fresh_name() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let local = 0u8;
    let addr = &local as *const u8 as u64;
    let mut x = now ^ (u64::from(std::process::id()) << 32) ^ addr.rotate_left(17);
    // splitmix64's finaliser spreads the bits.
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// FNV-1a over the type and the body: how a restarted bridge recognises the message
/// its record is about.
pub(crate) fn hash(mtype: i64, body: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in mtype.to_le_bytes().iter().chain(body) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

fn spool_path(state: &Path) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(".spool");
    PathBuf::from(p)
}

/// Writes taken messages to the spool file beside the state file (tag, length, body
/// each), before the state record says they are there.
pub(crate) fn write_spool(state: &Path, batch: &[LocalMessage]) -> Result<()> {
    let mut bytes = Vec::new();
    for m in batch {
        bytes.extend_from_slice(&m.tag.to_le_bytes());
        bytes.extend_from_slice(&(m.body.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&m.body);
    }
    let path = spool_path(state);
    std::fs::write(&path, &bytes).map_err(|e| {
        Error::new("write spool", Object::Path(path.clone()), ErrorKind::Other).with_detail(e.to_string())
    })
}

/// Reads back `count` spooled messages.
pub(crate) fn read_spool(state: &Path, count: usize) -> Result<Vec<LocalMessage>> {
    let path = spool_path(state);
    let corrupt = |why: &str| {
        Error::new("read spool", Object::Path(path.clone()), ErrorKind::Corrupted)
            .with_detail(why.to_string())
    };
    let bytes = std::fs::read(&path).map_err(|e| corrupt(&e.to_string()))?;
    let mut out = Vec::with_capacity(count);
    let mut at = 0usize;
    let word = |at: usize| bytes.get(at..at + 8).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
    while out.len() < count {
        let tag = word(at).ok_or_else(|| corrupt("short spool"))? as i64;
        let len = word(at + 8).ok_or_else(|| corrupt("short spool"))? as usize;
        let body = bytes.get(at + 16..at + 16 + len).ok_or_else(|| corrupt("short spool"))?.to_vec();
        out.push(LocalMessage { tag, body });
        at += 16 + len;
    }
    Ok(out)
}
