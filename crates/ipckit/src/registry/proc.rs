//! Pure parsers of `/proc/sysvipc/{msg,sem,shm}`.
//!
//! Each file is a header line naming the columns, then one line per object with
//! whitespace-separated numbers: the key in signed decimal, the permissions in octal,
//! everything else in decimal. Columns are found by their header names, so that a
//! kernel adding a column (as `rss` and `swap` were added to `shm`) does not break
//! the parser; a line that lacks a needed column or holds a non-number is skipped,
//! as `ipcs` skips it.

use super::{MsgEntry, SemEntry, ShmEntry};
use crate::key::Key;

/// The columns of one file, by name.
struct Columns<'a> {
    names: Vec<&'a str>,
}

/// One data line, split into fields, read through the header's names.
struct Row<'a, 'b> {
    cols: &'b Columns<'a>,
    fields: Vec<&'a str>,
}

impl<'a> Row<'a, '_> {
    fn field(&self, name: &str) -> Option<&'a str> {
        let i = self.cols.names.iter().position(|n| *n == name)?;
        self.fields.get(i).copied()
    }

    fn num<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        self.field(name)?.parse().ok()
    }

    fn octal(&self, name: &str) -> Option<u32> {
        u32::from_str_radix(self.field(name)?, 8).ok()
    }

    fn key(&self) -> Option<Key> {
        // Printed with %10d from a signed key_t; accept the unsigned form too.
        let text = self.field("key")?;
        text.parse::<i32>().ok().or_else(|| text.parse::<u32>().ok().map(|v| v as i32)).map(Key::from_raw)
    }
}

fn rows<'a, T>(text: &'a str, mut f: impl FnMut(&Row<'a, '_>) -> Option<T>) -> Vec<T> {
    let mut lines = text.lines();
    let Some(header) = lines.next() else { return Vec::new() };
    let cols = Columns { names: header.split_whitespace().collect() };
    lines
        .filter_map(|line| {
            let row = Row { cols: &cols, fields: line.split_whitespace().collect() };
            if row.fields.is_empty() { None } else { f(&row) }
        })
        .collect()
}

/// Parses the text of `/proc/sysvipc/msg`. `qbytes` is not in the file and is left
/// `None`.
///
/// ```
/// let text = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
///             \x20 807440312         11   644          10          2   120     0     0     0     0     0 1795707700          0 1795707668\n";
/// let q = &ipckit::registry::parse_msg(text)[0];
/// assert_eq!((q.key.raw(), q.id, q.mode, q.qnum, q.lspid), (0x30208fb8, 11, 0o644, 2, 120));
/// ```
pub fn parse_msg(text: &str) -> Vec<MsgEntry> {
    rows(text, |r| {
        Some(MsgEntry {
            key: r.key()?,
            id: r.num("msqid")?,
            mode: r.octal("perms")?,
            cbytes: r.num("cbytes")?,
            qnum: r.num("qnum")?,
            lspid: r.num("lspid")?,
            lrpid: r.num("lrpid")?,
            uid: r.num("uid")?,
            gid: r.num("gid")?,
            cuid: r.num("cuid")?,
            cgid: r.num("cgid")?,
            stime: r.num("stime")?,
            rtime: r.num("rtime")?,
            ctime: r.num("ctime")?,
            qbytes: None,
        })
    })
}

/// Parses the text of `/proc/sysvipc/sem`.
pub fn parse_sem(text: &str) -> Vec<SemEntry> {
    rows(text, |r| {
        Some(SemEntry {
            key: r.key()?,
            id: r.num("semid")?,
            mode: r.octal("perms")?,
            nsems: r.num("nsems")?,
            uid: r.num("uid")?,
            gid: r.num("gid")?,
            cuid: r.num("cuid")?,
            cgid: r.num("cgid")?,
            otime: r.num("otime")?,
            ctime: r.num("ctime")?,
        })
    })
}

/// Parses the text of `/proc/sysvipc/shm`. `rss` and `swap` are `None` on kernels
/// whose file lacks them (before 2.6.32).
pub fn parse_shm(text: &str) -> Vec<ShmEntry> {
    rows(text, |r| {
        Some(ShmEntry {
            key: r.key()?,
            id: r.num("shmid")?,
            mode: r.octal("perms")?,
            size: r.num("size")?,
            cpid: r.num("cpid")?,
            lpid: r.num("lpid")?,
            nattch: r.num("nattch")?,
            uid: r.num("uid")?,
            gid: r.num("gid")?,
            cuid: r.num("cuid")?,
            cgid: r.num("cgid")?,
            atime: r.num("atime")?,
            dtime: r.num("dtime")?,
            ctime: r.num("ctime")?,
            rss: r.num("rss"),
            swap: r.num("swap"),
        })
    })
}
