//! `ipckit shm --posix /NAME show|read|write`: a POSIX shared-memory object in
//! `/dev/shm`, bounds checked.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use ipckit::posix::shm::ShmObject;
use ipckit::registry;

use crate::cli::{Format, ShmAction, ShmArgs};
use crate::{Fail, Res, util};

/// How much `read` copies at a time: the output streams, whatever the object's size.
const CHUNK: usize = 1 << 16;

pub fn run(a: ShmArgs) -> Res {
    let name = a.target.posix.as_deref().unwrap_or_default();
    let mut out = util::stdout();
    match a.action {
        ShmAction::Show => {
            let obj = ShmObject::open_read_only(name)?;
            let path = format!("/dev/shm/{}", name.trim_start_matches('/'));
            writeln!(out, "POSIX shared memory {}", obj.name().unwrap_or(name))?;
            writeln!(out, "size        {} bytes", obj.len()?)?;
            writeln!(out, "mode        {:04o}", obj.mode()?.bits())?;
            if let Ok(m) = std::fs::metadata(&path) {
                writeln!(out, "owner       uid {} gid {}", m.uid(), m.gid())?;
                writeln!(out, "modified    {}", crate::util::rfc3339(m.mtime()))?;
                let users = registry::PosixUse::scan();
                let state = match users.in_use(std::path::Path::new(&path)) {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "unknown (some processes could not be read)",
                };
                writeln!(out, "in use      {state}")?;
            }
        }
        ShmAction::Read { offset, len, format } => {
            if format == Format::Json {
                return Err(Fail::Usage("shm read writes raw or hex, not json".into()));
            }
            let obj = ShmObject::open_read_only(name)?;
            let map = obj.map_read_only()?;
            let len = match len {
                Some(l) => l,
                None => map.len().checked_sub(offset).ok_or_else(|| {
                    Fail::Msg(format!("offset {offset} is past the end of the {}-byte object", map.len()))
                })?,
            };
            if offset.checked_add(len).is_none_or(|end| end > map.len()) {
                return Err(Fail::Msg(format!(
                    "{len} bytes at offset {offset} pass the end of the {}-byte object {}",
                    map.len(),
                    obj.name().unwrap_or(name)
                )));
            }
            let mut buf = vec![0u8; len.min(CHUNK)];
            let mut at = offset;
            while at < offset + len {
                let n = (offset + len - at).min(CHUNK);
                map.read_at(at, &mut buf[..n])?;
                match format {
                    Format::Hex => util::hex_dump(&mut *out, &buf[..n], at)?,
                    _ => out.write_all(&buf[..n])?,
                }
                at += n;
            }
        }
        ShmAction::Write { offset } => {
            let obj = ShmObject::open(name)?;
            let map = obj.map()?;
            let room = map.len().checked_sub(offset).ok_or_else(|| {
                Fail::Msg(format!("offset {offset} is past the end of the {}-byte object", map.len()))
            })?;
            let data = super::posix_msg::read_stdin(room, "written")?;
            map.write_at(offset, &data)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
