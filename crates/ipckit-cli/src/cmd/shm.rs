//! `ipckit shm`: show a segment, copy bytes out of it or into it (bounds checked).

use std::io::{Read, Write};
use std::process::ExitCode;

use ipckit::registry::{self, Source};
use ipckit::sysv::shm::ShmSegment;

use super::Which;
use crate::cli::{Format, ShmAction, ShmArgs};
use crate::{Fail, Res, util};

pub fn run(a: ShmArgs) -> Res {
    let seg = match Which::from(&a.target)? {
        Which::Key(k) => ShmSegment::open(k)?,
        Which::Id(id) => ShmSegment::from_id(id)?,
    };
    let mut out = util::stdout();
    match a.action {
        ShmAction::Show => {
            let st = seg.stat()?;
            let t = |t: Option<std::time::SystemTime>| match t
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            {
                Some(d) => crate::util::rfc3339(d.as_secs() as i64),
                None => "never".to_string(),
            };
            writeln!(out, "shared memory segment id {} key {}", seg.id(), st.perm.key)?;
            writeln!(out, "size        {} bytes", st.size)?;
            writeln!(
                out,
                "mode        {:04o}{}{}",
                st.perm.mode & 0o777,
                if st.marked_for_removal { " (removed, freed after the last detach)" } else { "" },
                if st.locked { " (locked in memory)" } else { "" }
            )?;
            writeln!(
                out,
                "owner       uid {} gid {}; creator uid {} gid {}",
                st.perm.uid, st.perm.gid, st.perm.cuid, st.perm.cgid
            )?;
            writeln!(out, "attached    {} times now", st.nattch)?;
            writeln!(out, "creator pid {}; last attach/detach pid {}", st.cpid, st.lpid)?;
            writeln!(
                out,
                "attached at {}; detached at {}; changed at {}",
                t(st.atime),
                t(st.dtime),
                t(st.ctime)
            )?;
            if let Some(e) = registry::shared_memory(Source::Auto)?.into_iter().find(|e| e.id == seg.id())
                && let (Some(rss), Some(swap)) = (e.rss, e.swap)
            {
                writeln!(out, "resident    {rss} bytes; swapped {swap} bytes")?;
            }
        }
        ShmAction::Read { offset, len, format } => {
            let mem = seg.attach_read_only()?;
            let len = match len {
                Some(l) => l,
                None => mem.len().checked_sub(offset).ok_or_else(|| {
                    Fail::Msg(format!("offset {offset} is past the end of the {}-byte segment", mem.len()))
                })?,
            };
            let data = mem.read_vec(offset, len)?;
            match format {
                Format::Hex => util::hex_dump(&mut *out, &data, offset)?,
                Format::Json => return Err(Fail::Usage("shm read writes raw or hex, not json".into())),
                Format::Raw => out.write_all(&data)?,
            }
        }
        ShmAction::Write { offset } => {
            let mut data = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut data)
                .map_err(|e| Fail::Msg(format!("cannot read stdin: {e}")))?;
            let mem = seg.attach()?;
            mem.write_at(offset, &data)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
