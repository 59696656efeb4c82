//! `ipckit ls --posix`: the POSIX objects, in columns as wide as the longest name
//! (libraries make `/dev/shm` names of over 100 characters), and a clear line, with
//! the command that mounts one, when no `mqueue` file system is mounted.

use std::io::Write;

use ipckit::registry;

use crate::Fail;
use crate::util::Names;

/// The name column: at least 30 wide (as before), else the longest name.
fn width<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(0).max(30)
}

fn owner(names: &mut Names, uid: u32) -> String {
    match names.user(uid) {
        Some(n) => format!("{n:<10.10}"),
        None => format!("{uid:<10}"),
    }
}

/// Writes the three POSIX sections.
pub fn text(out: &mut dyn Write, names: &mut Names) -> Result<(), Fail> {
    let p = registry::posix_objects()?;
    writeln!(out, "------ POSIX Shared Memory (/dev/shm) --------")?;
    let w = width(p.shm.iter().map(|o| o.name.as_str()));
    writeln!(out, "{:<w$} {:<10} {:<10} {:<10}", "name", "owner", "perms", "bytes")?;
    for o in &p.shm {
        writeln!(out, "{:<w$} {} {:<10o} {:<10}", o.name, owner(names, o.uid), o.mode & 0o777, o.size)?;
    }
    writeln!(out)?;
    writeln!(out, "------ POSIX Semaphores (/dev/shm/sem.*) --------")?;
    let w = width(p.sem.iter().map(|o| o.name.as_str()));
    writeln!(out, "{:<w$} {:<10} {:<10}", "name", "owner", "perms")?;
    for o in &p.sem {
        writeln!(out, "{:<w$} {} {:<10o}", o.name, owner(names, o.uid), o.mode & 0o777)?;
    }
    writeln!(out)?;
    writeln!(out, "------ POSIX Message Queues (/dev/mqueue) --------")?;
    match &p.mq {
        None => writeln!(
            out,
            "(no mqueue file system is mounted at /dev/mqueue, so queues cannot be listed; \
             mount one with: mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue)"
        )?,
        Some(list) => {
            let w = width(list.iter().map(|o| o.name.as_str()));
            writeln!(out, "{:<w$} {:<10} {:<10} {:<12}", "name", "owner", "perms", "used-bytes")?;
            for o in list {
                let q = o.qsize.map(|v| v.to_string()).unwrap_or_else(|| "?".into());
                writeln!(out, "{:<w$} {} {:<10o} {q:<12}", o.name, owner(names, o.uid), o.mode & 0o777)?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// `ls --stale --posix`: the POSIX objects `rm --stale --posix` would remove.
pub fn stale_text(out: &mut dyn Write) -> Result<(), Fail> {
    let s = super::posix_rm::find_stale()?;
    writeln!(out, "------ Stale POSIX Objects --------")?;
    if let Some(why) = &s.unknown {
        writeln!(out, "({why})")?;
        writeln!(out)?;
        return Ok(());
    }
    let w = width(s.found.iter().map(|(_, n, _)| n.as_str()));
    writeln!(out, "{:<20} {:<w$} reason", "kind", "name")?;
    for (kind, name, why) in &s.found {
        writeln!(out, "{:<20} {name:<w$} {why}", kind.what())?;
    }
    if s.no_mqueue {
        writeln!(out, "(message queues not judged: no mqueue file system is mounted at /dev/mqueue)")?;
    }
    writeln!(out)?;
    Ok(())
}
