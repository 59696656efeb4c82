//! The bridge's state file: a fixed 80-byte record rewritten in place with one
//! `pwrite` at offset 0, so that a process killed at any instant leaves either the old
//! record or the new one (a write of fewer bytes than a page into the page cache is
//! not torn by a signal).
//!
//! The record is not `fsync`ed per message: it survives the death of the bridge
//! process (the page cache belongs to the kernel), not a crash of the whole machine.
//!
//! Layout (little endian): magic `IPCKBRG2`, the bridge's random name, the sequence
//! number, the phase, the type, length and hash of the message the phase is about, a
//! mark (the importer's: where in a channel's ring the message goes, plus one; 0 for
//! none), and the importer's source id (the exporter name and sequence number of the
//! last message put in, the number plus one; 0 for none). A 64-byte record of the
//! first layout (`IPCKBRG1`, without the source id) is read as having none, and is
//! rewritten in the new layout.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Object, Result};

const MAGIC: &[u8; 8] = b"IPCKBRG2";
const SIZE: usize = 80;
/// The first layout: the same fields without the source id.
const MAGIC_V1: &[u8; 8] = b"IPCKBRG1";
const SIZE_V1: usize = 64;

/// What the bridge was doing when the record was written.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Nothing in progress: `seq` is the next sequence number to use.
    Idle,
    /// About to move the message `seq` (type, length, hash below) out of the local
    /// object (exporter) or into it (importer); `seq` is not done yet.
    Moving,
    /// Exporter of an object that cannot be peeked, as an older version wrote it:
    /// `len` messages taken out, written to the spool file, to be published with ids
    /// from `seq` on. (This version's spool keeps that in its own header: spool.rs.)
    Spooled,
    /// Importer: about to put message `src` in, which came over core NATS ahead of
    /// its stream copy (early delivery); `seq` is unchanged.
    Ahead,
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
    /// Phase `Moving` (or `Ahead`) with a channel, plus one (0: none): for an
    /// importer, the ring position reserved for the message; for an exporter, the
    /// position of the message being freed. See [`ChannelEnd`](super::ChannelEnd).
    pub mark: u64,
    /// Importer: the source id (`Nats-Msg-Id`: the exporter's name and sequence
    /// number) of the last message put in, or, in phase `Moving` or `Ahead`, of the
    /// one being put in; `None` when that message had no such id.
    pub src: Option<(u64, u64)>,
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
            Record {
                name: fresh_name(),
                seq: 0,
                phase: Phase::Idle,
                mtype: 0,
                len: 0,
                hash: 0,
                mark: 0,
                src: None,
            }
        } else if (n == SIZE && &bytes[..8] == MAGIC) || (n == SIZE_V1 && &bytes[..8] == MAGIC_V1) {
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
        self.file.write_all_at(&bytes, 0).map_err(|e| file_err("write state file", &self.path, e))
    }

    /// Records that message `seq` (type, length, hash) is about to move, with a mark
    /// (see [`Record::mark`]; 0: none).
    pub fn moving_at(&mut self, seq: u64, mtype: i64, len: usize, hash: u64, mark: u64) -> Result<()> {
        self.rec = Record { seq, phase: Phase::Moving, mtype, len: len as u64, hash, mark, ..self.rec };
        self.write()
    }

    /// Records that everything before `seq` (exporter) or up to `seq` (importer) is done.
    pub fn idle(&mut self, seq: u64) -> Result<()> {
        self.rec = Record { seq, phase: Phase::Idle, mtype: 0, len: 0, hash: 0, mark: 0, ..self.rec };
        self.write()
    }

    /// Importer: records that every stream message up to `seq` is done and that the
    /// last message put in had source id `src`.
    pub fn done(&mut self, seq: u64, src: Option<(u64, u64)>) -> Result<()> {
        self.rec = Record { src, ..self.rec };
        self.idle(seq)
    }

    /// Importer: records that message `src`, come ahead of the stream, is about to be
    /// put in, with a mark (see [`Record::mark`]).
    pub fn ahead(&mut self, src: (u64, u64), mtype: i64, len: usize, hash: u64, mark: u64) -> Result<()> {
        self.rec =
            Record { phase: Phase::Ahead, mtype, len: len as u64, hash, mark, src: Some(src), ..self.rec };
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
    let (src_name, src_next) = r.src.map_or((0, 0), |(n, e)| (n, e.wrapping_add(1)));
    b[64..72].copy_from_slice(&src_name.to_le_bytes());
    b[72..80].copy_from_slice(&src_next.to_le_bytes());
    b
}

/// Decodes either layout (a first-layout record is zero-padded by the caller).
fn decode(b: &[u8; SIZE]) -> Option<Record> {
    let word = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    let phase = match word(24) {
        0 => Phase::Idle,
        1 => Phase::Moving,
        2 => Phase::Spooled,
        3 => Phase::Ahead,
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
        src: match word(72) {
            0 => None,
            next => Some((word(64), next - 1)),
        },
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

/// The file `<state><suffix>` beside the state file `state` (a landing, a spool).
pub(crate) fn beside(state: &Path, suffix: &str) -> PathBuf {
    let mut p = state.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// Opens `path` for reading and writing, creating it with mode 0600 (a file that
/// holds messages is readable by its owner only) and keeping what it holds; `call`
/// names the open in the error.
pub(crate) fn open_private(path: &Path, call: &'static str) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| file_err(call, path, e))
}

/// `call` on the bridge's file `path` (state, landing, spool, lost message) failed
/// with `e`.
pub(crate) fn file_err(call: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::new(call, Object::Path(path.to_path_buf()), ErrorKind::Other).with_detail(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state file path of this test's own, removed when dropped.
    struct Temp(PathBuf);
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    fn temp(tag: &str) -> Temp {
        Temp(std::env::temp_dir().join(format!(
            "ipckit-state-{tag}-{}-{:x}",
            std::process::id(),
            fresh_name()
        )))
    }

    #[test]
    fn the_source_id_survives_a_reopen_in_every_phase() {
        let t = temp("src");
        let mut st = StateFile::open(&t.0).unwrap();
        assert_eq!(st.rec.src, None);
        st.done(41, Some((0xdead_beef, 0))).unwrap();
        let back = StateFile::open(&t.0).unwrap().rec;
        assert_eq!((back.seq, back.phase, back.src), (41, Phase::Idle, Some((0xdead_beef, 0))));
        st.ahead((0xdead_beef, 1), 7, 3, 99, 5).unwrap();
        let back = StateFile::open(&t.0).unwrap().rec;
        assert_eq!(back, st.rec);
        assert_eq!(
            (back.seq, back.phase, back.src, back.mark),
            (41, Phase::Ahead, Some((0xdead_beef, 1)), 5)
        );
        // `idle` keeps the source id; `done` sets it, also to none.
        st.idle(42).unwrap();
        assert_eq!(StateFile::open(&t.0).unwrap().rec.src, Some((0xdead_beef, 1)));
        st.done(43, None).unwrap();
        assert_eq!(StateFile::open(&t.0).unwrap().rec.src, None);
        assert_eq!(std::fs::metadata(&t.0).unwrap().len(), SIZE as u64);
    }

    #[test]
    fn a_first_layout_record_reads_without_a_source_id_and_is_rewritten() {
        let t = temp("v1");
        let mut old = [0u8; SIZE_V1];
        old[..8].copy_from_slice(MAGIC_V1);
        old[8..16].copy_from_slice(&7u64.to_le_bytes());
        old[16..24].copy_from_slice(&1234u64.to_le_bytes());
        std::fs::write(&t.0, old).unwrap();
        let mut st = StateFile::open(&t.0).unwrap();
        assert_eq!((st.rec.name, st.rec.seq, st.rec.phase, st.rec.src), (7, 1234, Phase::Idle, None));
        st.done(1235, Some((9, 3))).unwrap();
        let bytes = std::fs::read(&t.0).unwrap();
        assert_eq!((bytes.len(), &bytes[..8]), (SIZE, &MAGIC[..]));
        assert_eq!(StateFile::open(&t.0).unwrap().rec.src, Some((9, 3)));
    }

    #[test]
    fn a_short_or_foreign_file_is_refused() {
        let t = temp("bad");
        std::fs::write(&t.0, b"IPCKBRG2 but far too short").unwrap();
        let e = StateFile::open(&t.0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Corrupted);
    }
}
