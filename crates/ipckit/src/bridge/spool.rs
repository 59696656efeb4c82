//! The POSIX exporter's spool: a file beside the state file (`<state>.spool`, mode
//! 0600) that holds every message taken from the queue and not yet acknowledged, so
//! that a killed exporter's successor publishes them again under the same ids.
//!
//! Contract:
//! - A POSIX queue cannot be read without removing, so each message is appended to
//!   the spool (one `write`) right after `mq_receive` returns it, before the next is
//!   taken. A kill between the two leaves the message in the landing without its
//!   length (the kernel gives it only as the call's result): the next exporter saves
//!   it to a lost file and says so (`landing.rs`, `export.rs`).
//! - The file starts with a 24-byte header, rewritten in place with one `pwrite`
//!   (so a kill leaves the old one or the new one): the magic `IPCKSPL2`, `base`, the
//!   id number of the first record, and `done`, how many records from the first on
//!   the server acknowledged. Records follow: type (8 bytes), length (8), body; a
//!   record cut short by the end of the file (a kill inside its `write`) is not there.
//! - A batch: [`Spool::begin`] (empty the file, then `base`), appends, publishing,
//!   [`Spool::published`] (`done`), then `begin` of the next batch. At every point a
//!   restart republishes records `done..` with ids `base + i` and carries on at
//!   `base + max(done, records)` ([`Spooled::next`]): a kill inside `begin`, between
//!   emptying the file and writing the new `base`, leaves no records and the old
//!   header, whose `done` covers the batch.
//! - A file without the magic comes from an older exporter, whose state record says
//!   how many messages it holds ([`read_old`]).
//! - Not `fsync`ed, as the state file: it survives the exporter, not a power loss.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::local::LocalMessage;
use super::state::{beside, file_err, open_private};
use crate::error::{Error, ErrorKind, Object, Result};

const MAGIC: &[u8; 8] = b"IPCKSPL2";
const HEADER: u64 = 24;

/// What a spool holds at the start of a run.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Spooled {
    /// The id number of the first record.
    pub(crate) base: u64,
    /// Records from the first on that were acknowledged.
    pub(crate) done: u64,
    /// Every whole record.
    pub(crate) msgs: Vec<LocalMessage>,
}

impl Spooled {
    /// The records still to publish, the first with id number `base + done`.
    pub(crate) fn todo(&self) -> &[LocalMessage] {
        &self.msgs[(self.done as usize).min(self.msgs.len())..]
    }

    /// The id number of the first message after the spool's.
    pub(crate) fn next(&self) -> u64 {
        self.base + self.done.max(self.msgs.len() as u64)
    }
}

/// The open spool file.
pub(crate) struct Spool {
    file: File,
    path: PathBuf,
    base: u64,
    /// Where the next record goes.
    end: u64,
}

impl Spool {
    /// Opens (creating, mode 0600: it holds messages) the spool beside `state`.
    pub(crate) fn open(state: &Path) -> Result<Spool> {
        let path = beside(state, ".spool");
        let file = open_private(&path, "open spool")?;
        Ok(Spool { file, path, base: 0, end: HEADER })
    }

    /// What a killed exporter left, if the file is in this layout.
    pub(crate) fn recover(&self) -> Result<Option<Spooled>> {
        let bytes = std::fs::read(&self.path).map_err(|e| file_err("read spool", &self.path, e))?;
        if bytes.len() < HEADER as usize || &bytes[..8] != MAGIC {
            return Ok(None);
        }
        let (base, done) = (word(&bytes, 8).unwrap_or(0), word(&bytes, 16).unwrap_or(0));
        let msgs = records(&bytes[HEADER as usize..], usize::MAX);
        Ok(Some(Spooled { base, done, msgs }))
    }

    /// Starts a batch whose first message gets id number `base`: empties the file,
    /// then writes the header.
    pub(crate) fn begin(&mut self, base: u64) -> Result<()> {
        self.file.set_len(HEADER).map_err(|e| file_err("empty spool", &self.path, e))?;
        self.base = base;
        self.end = HEADER;
        self.header(0)
    }

    /// Appends a message just taken, in one `write`.
    pub(crate) fn append(&mut self, m: &LocalMessage) -> Result<()> {
        let mut rec = Vec::with_capacity(16 + m.body.len());
        rec.extend_from_slice(&m.tag.to_le_bytes());
        rec.extend_from_slice(&(m.body.len() as u64).to_le_bytes());
        rec.extend_from_slice(&m.body);
        self.file.write_all_at(&rec, self.end).map_err(|e| file_err("write spool", &self.path, e))?;
        self.end += rec.len() as u64;
        Ok(())
    }

    /// Records that the batch's first `done` messages were acknowledged.
    pub(crate) fn published(&mut self, done: u64) -> Result<()> {
        self.header(done)
    }

    fn header(&mut self, done: u64) -> Result<()> {
        let mut h = [0u8; HEADER as usize];
        h[..8].copy_from_slice(MAGIC);
        h[8..16].copy_from_slice(&self.base.to_le_bytes());
        h[16..].copy_from_slice(&done.to_le_bytes());
        self.file.write_all_at(&h, 0).map_err(|e| file_err("write spool", &self.path, e))
    }
}

/// The little-endian word at `at`, if `bytes` holds it.
fn word(bytes: &[u8], at: usize) -> Option<u64> {
    bytes.get(at..at.checked_add(8)?).map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
}

/// Up to `most` whole records (type, length, body) from the start of `bytes`; a record
/// cut short by the end (a kill inside its `write`) is not there.
fn records(bytes: &[u8], most: usize) -> Vec<LocalMessage> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while out.len() < most {
        let (Some(tag), Some(len)) = (word(bytes, at), word(bytes, at + 8)) else { break };
        let Some(body) =
            usize::try_from(len).ok().and_then(|l| bytes.get(at + 16..(at + 16).checked_add(l)?))
        else {
            break;
        };
        at += 16 + body.len();
        out.push(LocalMessage { tag: tag as i64, body: body.to_vec() });
    }
    out
}

/// Reads back the `count` messages an older exporter spooled (type, length, body
/// each, no header), its state record saying how many.
pub(crate) fn read_old(state: &Path, count: usize) -> Result<Vec<LocalMessage>> {
    let path = beside(state, ".spool");
    let corrupt = |why: String| {
        Error::new("read spool", Object::Path(path.clone()), ErrorKind::Corrupted).with_detail(why)
    };
    let bytes = std::fs::read(&path).map_err(|e| corrupt(e.to_string()))?;
    let out = records(&bytes, count);
    if out.len() < count {
        return Err(corrupt(format!("{} of the {count} messages recorded are there", out.len())));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state path of this test's own; its spool is removed when dropped.
    struct Temp(PathBuf);
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(beside(&self.0, ".spool"));
        }
    }
    fn temp(tag: &str) -> Temp {
        Temp(std::env::temp_dir().join(format!("ipckit-spool-{tag}-{}.state", std::process::id())))
    }
    fn msg(tag: i64, body: &[u8]) -> LocalMessage {
        LocalMessage { tag, body: body.to_vec() }
    }

    /// What a successor finds after a kill at each point of a batch: exactly the
    /// unacknowledged messages, with the ids they were published under, and the id
    /// to go on with.
    #[test]
    fn every_kill_point_of_a_batch_leaves_what_to_publish_and_where_to_go_on() {
        let t = temp("points");
        let (a, b, c) = (msg(1, b"first"), msg(7, b""), msg(3, b"third"));
        let mut s = Spool::open(&t.0).unwrap();
        assert_eq!(s.recover().unwrap(), None, "a new file says nothing");
        s.begin(40).unwrap();
        let at = |s: &Spool| {
            let r = s.recover().unwrap().expect("this layout");
            (r.todo().to_vec(), r.base + r.done, r.next())
        };
        assert_eq!(at(&s), (vec![], 40, 40));
        s.append(&a).unwrap();
        s.append(&b).unwrap();
        // Killed while taking: the two taken go again as 40 and 41.
        assert_eq!(at(&s), (vec![a.clone(), b.clone()], 40, 42));
        s.append(&c).unwrap();
        s.published(3).unwrap();
        // Killed after the acknowledgements: nothing again, on at 43.
        assert_eq!(at(&s), (vec![], 43, 43));
        // Killed inside `begin`, the file emptied, the new header not yet written.
        s.file.set_len(HEADER).unwrap();
        assert_eq!(at(&s), (vec![], 43, 43));
        s.begin(43).unwrap();
        assert_eq!(at(&s), (vec![], 43, 43));
    }

    #[test]
    fn a_record_cut_short_by_a_kill_is_not_there_and_the_rest_is() {
        let t = temp("torn");
        let mut s = Spool::open(&t.0).unwrap();
        s.begin(5).unwrap();
        s.append(&msg(1, b"whole")).unwrap();
        s.append(&msg(2, b"cut short")).unwrap();
        let len = s.file.metadata().unwrap().len();
        for cut in [1, 5, 9, 17, 20] {
            s.file.set_len(len - cut).unwrap();
            let r = s.recover().unwrap().unwrap();
            assert_eq!(r.msgs, vec![msg(1, b"whole")], "cut by {cut}");
            assert_eq!(r.next(), 6);
        }
    }

    #[test]
    fn the_spool_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let t = temp("perms");
        let mut s = Spool::open(&t.0).unwrap();
        s.begin(0).unwrap();
        s.append(&msg(1, b"secret")).unwrap();
        let mode = std::fs::metadata(beside(&t.0, ".spool")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn an_older_exporters_spool_reads_back_by_its_count() {
        let t = temp("old");
        let mut bytes = Vec::new();
        for (tag, body) in [(4i64, &b"one"[..]), (9, b"two!")] {
            bytes.extend_from_slice(&tag.to_le_bytes());
            bytes.extend_from_slice(&(body.len() as u64).to_le_bytes());
            bytes.extend_from_slice(body);
        }
        std::fs::write(beside(&t.0, ".spool"), &bytes).unwrap();
        assert_eq!(Spool::open(&t.0).unwrap().recover().unwrap(), None, "no magic: not this layout");
        assert_eq!(read_old(&t.0, 2).unwrap(), vec![msg(4, b"one"), msg(9, b"two!")]);
        assert!(read_old(&t.0, 3).is_err(), "a third was never there");
    }
}
