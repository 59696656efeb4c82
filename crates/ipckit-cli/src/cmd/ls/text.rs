//! The text formats of `ipcs` (util-linux 2.38's `ipcs.c`), byte for byte: the
//! list of each kind in each format (`-l`, `-u`, `-c`, `-t`, `-p`, default), and
//! the small pieces they share (owner names clipped to 10 characters, `ctime`
//! dates, `ipc_print_size`, `ipc_print_perms`).
//!
//! Same headers, same column widths (`%-10d`, `%-10.10s`...), same trailing
//! spaces; a list that cannot be read prints its header and no rows, as ipcs does.

use std::io::Write;

use ipckit::limits::Limits;
use ipckit::registry::{self, Source};
use ipckit::sysv::{msg, sem, shm};

use super::Res0;
use super::opts::{Format, Unit};
use crate::util::{self, Names, human_size};

// ----- the pieces of ipcs's format ------------------------------------------------

/// `%-10.10s` of the user name, or `%-10u` of the uid.
pub(super) fn owner(names: &mut Names, uid: u32) -> String {
    match names.user(uid) {
        Some(n) => format!("{n:<10.10}"),
        None => format!("{uid:<10}"),
    }
}

/// The 24 characters of `ctime`, or `(null)` where C's `ctime` would fail.
pub(super) fn ctime(t: i64) -> String {
    util::ctime(t).unwrap_or_else(|| "(null)".into())
}

/// `%-20.16s` of `ctime(t) + 4`, or of `Not set`.
pub(super) fn short_time(t: i64) -> String {
    let s = if t != 0 { ctime(t).chars().skip(4).collect() } else { "Not set".to_string() };
    format!("{s:<20.16}")
}

/// `%-26.24s` of `ctime(t)`, or of `Not set`.
pub(super) fn long_time(t: i64) -> String {
    let s = if t != 0 { ctime(t) } else { "Not set".to_string() };
    format!("{s:<26.24}")
}

/// `ipc_print_size`: an optional label, then the size in the unit, padded to `width`
/// (negative: left-aligned), then `end`.
pub(super) fn print_size(
    out: &mut dyn Write,
    unit: Unit,
    label: Option<&str>,
    size: u64,
    end: &str,
    width: i32,
) -> std::io::Result<()> {
    if let Some(l) = label {
        if l.ends_with('=') {
            write!(out, "{l}")?;
        } else {
            match unit {
                Unit::Bytes => write!(out, "{l} (bytes) = ")?,
                Unit::Kb => write!(out, "{l} (kbytes) = ")?,
                _ => write!(out, "{l} = ")?,
            }
        }
    }
    let text = match unit {
        Unit::Default | Unit::Bytes => size.to_string(),
        Unit::Kb => (size / 1024).to_string(),
        Unit::Human => human_size(size),
    };
    let w = width.unsigned_abs() as usize;
    if width < 0 {
        write!(out, "{text:<w$}")?;
    } else {
        write!(out, "{text:>w$}")?;
    }
    write!(out, "{end}")
}

/// `ipc_print_perms`: id, permission bits, then creator and owner names unclipped.
pub(super) fn print_perms(
    out: &mut dyn Write,
    names: &mut Names,
    id: i32,
    mode: u32,
    ids: [u32; 4],
) -> std::io::Result<()> {
    let [cuid, cgid, uid, gid] = ids;
    write!(out, "{id:<10} {:<10o}", mode & 0o777)?;
    let user = |names: &mut Names, u: u32| names.user(u).unwrap_or_else(|| u.to_string());
    let group = |names: &mut Names, g: u32| names.group(g).unwrap_or_else(|| g.to_string());
    write!(out, " {:<10}", user(names, cuid))?;
    write!(out, " {:<10}", group(names, cgid))?;
    write!(out, " {:<10}", user(names, uid))?;
    writeln!(out, " {:<10}", group(names, gid))
}

// ----- the lists ------------------------------------------------------------------

pub(super) fn do_msg(out: &mut dyn Write, format: Format, unit: Unit, names: &mut Names) -> Res0 {
    match format {
        Format::Limits => {
            let Ok(lim) = Limits::read() else {
                writeln!(out, "unable to fetch message limits")?;
                return Ok(());
            };
            writeln!(out, "------ Messages Limits --------")?;
            writeln!(out, "max queues system wide = {}", lim.msgmni as i32)?;
            let u = if unit == Unit::Default { Unit::Bytes } else { unit };
            print_size(out, u, Some("max size of message"), lim.msgmax, "\n", 0)?;
            print_size(out, u, Some("default max size of queue"), lim.msgmnb as i32 as u64, "\n", 0)?;
            return Ok(());
        }
        Format::Status => {
            let Ok((_, info)) = msg::info(msg::InfoKind::Usage) else {
                writeln!(out, "kernel not configured for message queues")?;
                return Ok(());
            };
            writeln!(out, "------ Messages Status --------")?;
            writeln!(out, "allocated queues = {}", info.msgpool)?;
            writeln!(out, "used headers = {}", info.msgmap)?;
            let end = if unit == Unit::Default { " bytes\n" } else { "\n" };
            print_size(out, unit, Some("used space"), info.msgtql as u32 as u64, end, 0)?;
            return Ok(());
        }
        Format::Creator => {
            writeln!(out, "------ Message Queues Creators/Owners --------")?;
            writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {:<10} {:<10}",
                "msqid", "perms", "cuid", "cgid", "uid", "gid"
            )?;
        }
        Format::Time => {
            writeln!(out, "------ Message Queues Send/Recv/Change Times --------")?;
            writeln!(out, "{:<8} {:<10} {:<20} {:<20} {:<20}", "msqid", "owner", "send", "recv", "change")?;
        }
        Format::Pid => {
            writeln!(out, "------ Message Queues PIDs --------")?;
            writeln!(out, "{:<10} {:<10} {:<10} {:<10}", "msqid", "owner", "lspid", "lrpid")?;
        }
        Format::Default => {
            writeln!(out, "------ Message Queues --------")?;
            let size = if unit == Unit::Human { "size" } else { "used-bytes" };
            writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {:<12} {:<12}",
                "key", "msqid", "owner", "perms", size, "messages"
            )?;
        }
    }
    for q in registry::messages(Source::Auto).unwrap_or_default() {
        match format {
            Format::Creator => print_perms(out, names, q.id, q.mode, [q.cuid, q.cgid, q.uid, q.gid])?,
            Format::Time => writeln!(
                out,
                "{:<8} {} {} {} {}",
                q.id,
                owner(names, q.uid),
                short_time(q.stime),
                short_time(q.rtime),
                short_time(q.ctime)
            )?,
            Format::Pid => writeln!(
                out,
                "{:<8} {}  {:>5}     {:>5}",
                q.id,
                owner(names, q.uid),
                q.lspid as i32,
                q.lrpid as i32
            )?,
            _ => {
                write!(out, "{} {:<10} {} {:<10o} ", q.key, q.id, owner(names, q.uid), q.mode & 0o777)?;
                if unit == Unit::Human {
                    print_size(out, unit, None, q.cbytes, "      ", 6)?;
                } else {
                    print_size(out, unit, None, q.cbytes, "", -12)?;
                }
                writeln!(out, " {:<12}", q.qnum)?;
            }
        }
    }
    Ok(())
}

pub(super) fn do_shm(out: &mut dyn Write, format: Format, unit: Unit, names: &mut Names) -> Res0 {
    match format {
        Format::Limits => {
            let Ok(lim) = Limits::read() else {
                writeln!(out, "unable to fetch shared memory limits")?;
                return Ok(());
            };
            let pgsz = registry::page_size();
            writeln!(out, "------ Shared Memory Limits --------")?;
            writeln!(out, "max number of segments = {}", lim.shmmni)?;
            let u = if unit == Unit::Default { Unit::Kb } else { unit };
            print_size(out, u, Some("max seg size"), lim.shmmax, "\n", 0)?;
            if unit == Unit::Kb || unit == Unit::Default {
                let k = pgsz / 1024;
                let tmp = lim.shmall.checked_mul(k).unwrap_or(u64::MAX - u64::MAX % k.max(1));
                print_size(out, Unit::Default, Some("max total shared memory (kbytes)"), tmp, "\n", 0)?;
            } else {
                let tmp = lim.shmall.checked_mul(pgsz).unwrap_or(u64::MAX - u64::MAX % pgsz);
                print_size(out, unit, Some("max total shared memory"), tmp, "\n", 0)?;
            }
            let u = if unit == Unit::Default { Unit::Bytes } else { unit };
            print_size(out, u, Some("min seg size"), lim.shmmin, "\n", 0)?;
            return Ok(());
        }
        Format::Status => {
            let Ok((_, i)) = shm::info() else {
                writeln!(out, "kernel not configured for shared memory")?;
                return Ok(());
            };
            writeln!(out, "------ Shared Memory Status --------")?;
            writeln!(out, "segments allocated {}", i.used_ids as i32)?;
            writeln!(out, "pages allocated {}", i.shm_tot as i64)?;
            writeln!(out, "pages resident  {}", i.shm_rss as i64)?;
            writeln!(out, "pages swapped   {}", i.shm_swp as i64)?;
            writeln!(
                out,
                "Swap performance: {} attempts\t {} successes",
                i.swap_attempts as i64, i.swap_successes as i64
            )?;
            return Ok(());
        }
        Format::Creator => {
            writeln!(out, "------ Shared Memory Segment Creators/Owners --------")?;
            writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {:<10} {:<10}",
                "shmid", "perms", "cuid", "cgid", "uid", "gid"
            )?;
        }
        Format::Time => {
            writeln!(out, "------ Shared Memory Attach/Detach/Change Times --------")?;
            writeln!(
                out,
                "{:<10} {:<10} {:<20} {:<20} {:<20}",
                "shmid", "owner", "attached", "detached", "changed"
            )?;
        }
        Format::Pid => {
            writeln!(out, "------ Shared Memory Creator/Last-op PIDs --------")?;
            writeln!(out, "{:<10} {:<10} {:<10} {:<10}", "shmid", "owner", "cpid", "lpid")?;
        }
        Format::Default => {
            writeln!(out, "------ Shared Memory Segments --------")?;
            let size = if unit == Unit::Human { "size" } else { "bytes" };
            writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {:<10} {:<10} {:<12}",
                "key", "shmid", "owner", "perms", size, "nattch", "status"
            )?;
        }
    }
    for m in registry::shared_memory(Source::Auto).unwrap_or_default() {
        match format {
            Format::Creator => print_perms(out, names, m.id, m.mode, [m.cuid, m.cgid, m.uid, m.gid])?,
            Format::Time => writeln!(
                out,
                "{:<10} {} {} {} {}",
                m.id,
                owner(names, m.uid),
                short_time(m.atime),
                short_time(m.dtime),
                short_time(m.ctime)
            )?,
            Format::Pid => {
                writeln!(out, "{:<10} {} {:<10} {:<10}", m.id, owner(names, m.uid), m.cpid, m.lpid)?
            }
            _ => {
                write!(out, "{} {:<10} {} {:<10o} ", m.key, m.id, owner(names, m.uid), m.mode & 0o777)?;
                if unit == Unit::Human {
                    print_size(out, unit, None, m.size, "    ", 6)?;
                } else {
                    print_size(out, unit, None, m.size, "", -10)?;
                }
                writeln!(
                    out,
                    " {:<10} {:<6} {:<6}",
                    m.nattch,
                    if m.marked_for_removal() { "dest" } else { " " },
                    if m.locked() { "locked" } else { " " }
                )?;
            }
        }
    }
    Ok(())
}

pub(super) fn do_sem(out: &mut dyn Write, format: Format, names: &mut Names) -> Res0 {
    match format {
        Format::Limits => {
            let Ok(lim) = Limits::read() else {
                writeln!(out, "unable to fetch semaphore limits")?;
                return Ok(());
            };
            writeln!(out, "------ Semaphore Limits --------")?;
            writeln!(out, "max number of arrays = {}", lim.semmni as i32)?;
            writeln!(out, "max semaphores per array = {}", lim.semmsl as i32)?;
            writeln!(out, "max semaphores system wide = {}", lim.semmns as i32)?;
            writeln!(out, "max ops per semop call = {}", lim.semopm as i32)?;
            writeln!(out, "semaphore max value = {}", lim.semvmx as u32)?;
            return Ok(());
        }
        Format::Status => {
            let Ok((_, i)) = sem::info(sem::InfoKind::Usage) else {
                writeln!(out, "kernel not configured for semaphores")?;
                return Ok(());
            };
            writeln!(out, "------ Semaphore Status --------")?;
            writeln!(out, "used arrays = {}", i.semusz)?;
            writeln!(out, "allocated semaphores = {}", i.semaem)?;
            return Ok(());
        }
        Format::Creator => {
            writeln!(out, "------ Semaphore Arrays Creators/Owners --------")?;
            writeln!(
                out,
                "{:<10} {:<10} {:<10} {:<10} {:<10} {:<10}",
                "semid", "perms", "cuid", "cgid", "uid", "gid"
            )?;
        }
        Format::Time => {
            writeln!(out, "------ Semaphore Operation/Change Times --------")?;
            writeln!(out, "{:<8} {:<10} {:<26.24} {:<26.24}", "semid", "owner", "last-op", "last-changed")?;
        }
        // ipcs prints nothing at all for semaphores with -p.
        Format::Pid => return Ok(()),
        Format::Default => {
            writeln!(out, "------ Semaphore Arrays --------")?;
            writeln!(out, "{:<10} {:<10} {:<10} {:<10} {:<10}", "key", "semid", "owner", "perms", "nsems")?;
        }
    }
    for s in registry::semaphores(Source::Auto).unwrap_or_default() {
        match format {
            Format::Creator => print_perms(out, names, s.id, s.mode, [s.cuid, s.cgid, s.uid, s.gid])?,
            Format::Time => writeln!(
                out,
                "{:<8} {}  {} {}",
                s.id,
                owner(names, s.uid),
                long_time(s.otime),
                long_time(s.ctime)
            )?,
            _ => writeln!(
                out,
                "{} {:<10} {} {:<10o} {:<10}",
                s.key,
                s.id,
                owner(names, s.uid),
                s.mode & 0o777,
                s.nsems
            )?,
        }
    }
    Ok(())
}
