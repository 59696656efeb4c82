//! `ipcs -q|-m|-s -i ID`: the details of one object, in util-linux's format.
//!
//! An id that does not exist is a warning on stderr and exit status 0, as in ipcs.

use std::io::Write;

use ipckit::registry::{self, Source};

use super::Res0;
use super::opts::Unit;
use super::text::{ctime, long_time, print_size};
use crate::Ctx;
use crate::util;

/// `%#o`: octal with a leading 0, except for 0 itself.
fn alt_octal(v: u32) -> String {
    if v == 0 { "0".into() } else { format!("0{v:o}") }
}

fn not_found(ctx: &Ctx, id: i32) -> Res0 {
    // ipcs warns and still exits 0.
    util::warn(&ctx.prog, format_args!("id {id} not found"));
    Ok(())
}

pub(super) fn print_msg(ctx: &Ctx, out: &mut dyn Write, id: i32, unit: Unit) -> Res0 {
    let Some(q) = registry::messages(Source::Auto).unwrap_or_default().into_iter().find(|q| q.id == id)
    else {
        return not_found(ctx, id);
    };
    writeln!(out, "\nMessage Queue msqid={id}")?;
    writeln!(
        out,
        "uid={}\tgid={}\tcuid={}\tcgid={}\tmode={}",
        q.uid,
        q.gid,
        q.cuid,
        q.cgid,
        alt_octal(q.mode)
    )?;
    let human = unit == Unit::Human;
    print_size(out, unit, Some(if human { "csize=" } else { "cbytes=" }), q.cbytes, "\t", 0)?;
    print_size(out, unit, Some(if human { "qsize=" } else { "qbytes=" }), q.qbytes.unwrap_or(0), "\t", 0)?;
    writeln!(out, "qnum={}\tlspid={}\tlrpid={}", q.qnum, q.lspid as i32, q.lrpid as i32)?;
    writeln!(out, "send_time={}", long_time(q.stime))?;
    writeln!(out, "rcv_time={}", long_time(q.rtime))?;
    writeln!(out, "change_time={}", long_time(q.ctime))?;
    writeln!(out)?;
    Ok(())
}

pub(super) fn print_shm(ctx: &Ctx, out: &mut dyn Write, id: i32, unit: Unit) -> Res0 {
    let Some(m) = registry::shared_memory(Source::Auto).unwrap_or_default().into_iter().find(|m| m.id == id)
    else {
        return not_found(ctx, id);
    };
    writeln!(out, "\nShared memory Segment shmid={id}")?;
    writeln!(out, "uid={}\tgid={}\tcuid={}\tcgid={}", m.uid, m.gid, m.cuid, m.cgid)?;
    writeln!(out, "mode={}\taccess_perms={}", alt_octal(m.mode), alt_octal(m.mode & 0o777))?;
    print_size(out, unit, Some(if unit == Unit::Human { "size=" } else { "bytes=" }), m.size, "\t", 0)?;
    writeln!(out, "lpid={}\tcpid={}\tnattch={}", m.lpid, m.cpid, m.nattch)?;
    writeln!(out, "att_time={}", long_time(m.atime))?;
    writeln!(out, "det_time={}", long_time(m.dtime))?;
    writeln!(out, "change_time={:<26.24}", ctime(m.ctime))?;
    writeln!(out)?;
    Ok(())
}

pub(super) fn print_sem(ctx: &Ctx, out: &mut dyn Write, id: i32) -> Res0 {
    let Some(s) = registry::semaphores(Source::Auto).unwrap_or_default().into_iter().find(|s| s.id == id)
    else {
        return not_found(ctx, id);
    };
    // ipcs reads every value before printing, and fails if it cannot.
    let values = registry::semaphore_values(id)?;
    writeln!(out, "\nSemaphore Array semid={id}")?;
    writeln!(out, "uid={}\t gid={}\t cuid={}\t cgid={}", s.uid, s.gid, s.cuid, s.cgid)?;
    writeln!(out, "mode={}, access_perms={}", alt_octal(s.mode), alt_octal(s.mode & 0o777))?;
    writeln!(out, "nsems = {}", s.nsems)?;
    writeln!(out, "otime = {}", long_time(s.otime))?;
    writeln!(out, "ctime = {:<26.24}", ctime(s.ctime))?;
    writeln!(out, "{:<10} {:<10} {:<10} {:<10} {:<10}", "semnum", "value", "ncount", "zcount", "pid")?;
    for (i, v) in values.iter().enumerate() {
        writeln!(out, "{i:<10} {:<10} {:<10} {:<10} {:<10}", v.value, v.ncnt, v.zcnt, v.pid)?;
    }
    writeln!(out)?;
    Ok(())
}
