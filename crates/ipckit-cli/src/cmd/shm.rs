//! `ipckit shm`: show a segment, copy bytes out of it or into it (bounds checked).

use std::io::Write;
use std::process::ExitCode;

use ipckit::registry::{self, Source};
use ipckit::sysv::shm::ShmSegment;

use super::Which;
use crate::cli::{Format, ShmAction, ShmArgs};
use crate::{Fail, Res, util};

/// How much `shm read` copies at a time.
const CHUNK: usize = 1 << 16;

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
            let room = mem.len().checked_sub(offset).ok_or_else(|| {
                Fail::Msg(format!("offset {offset} is past the end of the {}-byte segment", mem.len()))
            })?;
            let len = len.unwrap_or(room);
            if len > room {
                return Err(Fail::Msg(format!(
                    "{len} bytes from offset {offset} go past the end of the {}-byte segment",
                    mem.len()
                )));
            }
            if format == Format::Json {
                return Err(Fail::Usage("shm read writes raw or hex, not json".into()));
            }
            // In pieces: a segment may be larger than the memory this process may use.
            let mut buf = vec![0u8; len.min(CHUNK)];
            let mut done = 0;
            while done < len {
                let n = (len - done).min(CHUNK);
                mem.read_at(offset + done, &mut buf[..n])?;
                match format {
                    Format::Hex => util::hex_lines(&mut *out, &buf[..n], offset + done)?,
                    _ => out.write_all(&buf[..n])?,
                }
                done += n;
            }
            if format == Format::Hex {
                writeln!(out, "{:08x}", offset + len)?;
            }
        }
        ShmAction::Write { offset } => {
            let mut input = util::stdin_file()?;
            let mem = seg.attach()?;
            let room = mem.len().checked_sub(offset).ok_or_else(|| {
                Fail::Msg(format!("offset {offset} is past the end of the {}-byte segment", mem.len()))
            })?;
            // Never more than the room after the offset (`shm write < /dev/zero` must
            // end), and all of it or nothing.
            match util::read_at_most(&mut input, room as u64)? {
                Ok(data) => mem.write_at(offset, &data)?,
                Err(room) => {
                    return Err(Fail::Msg(format!(
                        "stdin holds more than the {room} bytes from offset {offset} to the end: they do \
                         not fit the {}-byte segment; nothing was written",
                        mem.len()
                    )));
                }
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
