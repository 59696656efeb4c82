//! `ipckit ls`: util-linux `ipcs`, byte for byte, plus `--json`, `--posix` and
//! `--stale`.
//!
//! The text formats follow util-linux 2.38's `ipcs.c` exactly: the same headers,
//! column widths (`%-10d`, `%-10.10s`...), trailing spaces, `ctime` dates, the
//! section order (queues, segments, sets) and the blank lines between them.

use std::io::Write;

use ipckit::limits::Limits;
use ipckit::registry::{self, MsgEntry, SemEntry, ShmEntry, Source};
use ipckit::sysv::{msg, sem, shm};
use serde::Serialize;

use crate::getopt::{self, HasArg, Opt, Spec};
use crate::util::{self, Names, human_size};
use crate::{Ctx, Fail, Res};

/// The options, by what they do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Flag {
    Id,
    Queues,
    Shmems,
    Semaphores,
    All,
    Time,
    Pid,
    Creator,
    Limits,
    Summary,
    Human,
    Bytes,
    Version,
    Help,
    Json,
    Posix,
    Stale,
    Sockets,
}

const OPTIONS: &[Spec<Flag>] = &[
    Spec::both('i', "id", HasArg::Required, Flag::Id),
    Spec::both('q', "queues", HasArg::No, Flag::Queues),
    Spec::both('m', "shmems", HasArg::No, Flag::Shmems),
    Spec::both('s', "semaphores", HasArg::No, Flag::Semaphores),
    Spec::both('a', "all", HasArg::No, Flag::All),
    Spec::both('t', "time", HasArg::No, Flag::Time),
    Spec::both('p', "pid", HasArg::No, Flag::Pid),
    Spec::both('c', "creator", HasArg::No, Flag::Creator),
    Spec::both('l', "limits", HasArg::No, Flag::Limits),
    Spec::both('u', "summary", HasArg::No, Flag::Summary),
    Spec::long("human", HasArg::No, Flag::Human),
    Spec::both('b', "bytes", HasArg::No, Flag::Bytes),
    Spec::both('V', "version", HasArg::No, Flag::Version),
    Spec::both('h', "help", HasArg::No, Flag::Help),
    Spec::long("json", HasArg::No, Flag::Json),
    Spec::long("posix", HasArg::No, Flag::Posix),
    Spec::long("stale", HasArg::No, Flag::Stale),
    Spec::long("sockets", HasArg::No, Flag::Sockets),
];

fn help(ctx: &Ctx) -> String {
    let c = &ctx.cmd;
    format!(
        "
Usage:
 {c} [resource-option...] [output-option]
 {c} -m|-q|-s -i <id>

Show information on IPC facilities, exactly as util-linux ipcs does.

Options:
 -i, --id <id>  print details on resource identified by <id>
 -h, --help     display this help
 -V, --version  display version

Resource options:
 -m, --shmems      shared memory segments
 -q, --queues      message queues
 -s, --semaphores  semaphores
 -a, --all         all (default)

Output options:
 -t, --time        show attach, detach and change times
 -p, --pid         show PIDs of creator and last operator
 -c, --creator     show creator and owner
 -l, --limits      show resource limits
 -u, --summary     show status summary
     --human       show sizes in human-readable format
 -b, --bytes       show sizes in bytes

ipckit options:
     --json        one JSON document with every field of every object
                   (and the limits with -l, the summary with -u)
     --posix       also list POSIX shared memory, semaphores and message queues
     --stale       only the objects no live process uses any more, with the reason
                   (with --posix: also POSIX objects no process maps or holds open)
     --sockets     the Unix sockets instead (/proc/net/unix), with their owners

Examples:
 {c}                    queues, segments and semaphore sets, as ipcs
 {c} -m -t              segments with their attach/detach/change times
 {c} -q -i 3            details of queue 3
 {c} --json -l          everything and the limits, as JSON
 {c} --stale            leaked objects, and why they look leaked
"
    )
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Format {
    Default,
    Limits,
    Status,
    Creator,
    Time,
    Pid,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Unit {
    Default,
    Bytes,
    Kb,
    Human,
}

struct Opts {
    msg: bool,
    shm: bool,
    sem: bool,
    id: Option<i32>,
    format: Format,
    unit: Unit,
    json: bool,
    posix: bool,
    stale: bool,
}

pub fn run(ctx: &Ctx, args: &[String]) -> Res {
    let mut o = Opts {
        msg: false,
        shm: false,
        sem: false,
        id: None,
        format: Format::Default,
        unit: Unit::Default,
        json: false,
        posix: false,
        stale: false,
    };
    let mut out = util::stdout();
    let mut sockets = false;
    for opt in getopt::parse(OPTIONS, args).opts {
        match opt {
            Opt::Err(e) => return Err(Fail::Usage(e)),
            Opt::Opt(flag, arg) => match flag {
                Flag::Id => {
                    o.id = Some(util::strtos32(arg.as_deref().unwrap_or(""), "failed to parse id argument")?)
                }
                Flag::All => (o.msg, o.shm, o.sem) = (true, true, true),
                Flag::Queues => o.msg = true,
                Flag::Shmems => o.shm = true,
                Flag::Semaphores => o.sem = true,
                Flag::Time => o.format = Format::Time,
                Flag::Creator => o.format = Format::Creator,
                Flag::Pid => o.format = Format::Pid,
                Flag::Limits => o.format = Format::Limits,
                Flag::Summary => o.format = Format::Status,
                Flag::Human => o.unit = Unit::Human,
                Flag::Bytes => o.unit = Unit::Bytes,
                Flag::Json => o.json = true,
                Flag::Posix => o.posix = true,
                Flag::Stale => o.stale = true,
                Flag::Sockets => sockets = true,
                Flag::Help => {
                    out.write_all(help(ctx).as_bytes())?;
                    out.flush()?;
                    return Ok(std::process::ExitCode::SUCCESS);
                }
                Flag::Version => {
                    writeln!(out, "{} from ipckit {}", ctx.cmd, env!("CARGO_PKG_VERSION"))?;
                    out.flush()?;
                    return Ok(std::process::ExitCode::SUCCESS);
                }
            },
        }
    }
    if o.id.is_some() && (o.msg as u8 + o.shm as u8 + o.sem as u8) != 1 {
        return Err(Fail::Msg("when using an ID, a single resource must be specified".into()));
    }
    if !o.msg && !o.shm && !o.sem {
        (o.msg, o.shm, o.sem) = (true, true, true);
    }
    if sockets {
        let r = super::ls_sockets::print(&mut *out, o.json)?;
        out.flush()?;
        return Ok(r);
    }
    let mut names = Names::default();
    if o.json {
        json(&mut *out, &o, &mut names)?;
    } else if o.stale {
        stale_text(&mut *out, &o, &mut names)?;
        if o.posix {
            super::posix_ls::stale_text(&mut *out)?;
        }
    } else if let Some(id) = o.id {
        if o.msg {
            print_msg(ctx, &mut *out, id, o.unit)?;
        } else if o.shm {
            print_shm(ctx, &mut *out, id, o.unit)?;
        } else {
            print_sem(ctx, &mut *out, id)?;
        }
    } else {
        writeln!(out)?;
        if o.msg {
            do_msg(&mut *out, o.format, o.unit, &mut names)?;
            writeln!(out)?;
        }
        if o.shm {
            do_shm(&mut *out, o.format, o.unit, &mut names)?;
            writeln!(out)?;
        }
        if o.sem {
            do_sem(&mut *out, o.format, &mut names)?;
            writeln!(out)?;
        }
        if o.posix {
            posix_text(&mut *out, &mut names)?;
        }
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}

// ----- the pieces of ipcs's format ------------------------------------------------

/// `%-10.10s` of the user name, or `%-10u` of the uid.
fn owner(names: &mut Names, uid: u32) -> String {
    match names.user(uid) {
        Some(n) => format!("{n:<10.10}"),
        None => format!("{uid:<10}"),
    }
}

/// The 24 characters of `ctime`, or `(null)` where C's `ctime` would fail.
fn ctime(t: i64) -> String {
    util::ctime(t).unwrap_or_else(|| "(null)".into())
}

/// `%-20.16s` of `ctime(t) + 4`, or of `Not set`.
fn short_time(t: i64) -> String {
    let s = if t != 0 { ctime(t).chars().skip(4).collect() } else { "Not set".to_string() };
    format!("{s:<20.16}")
}

/// `%-26.24s` of `ctime(t)`, or of `Not set`.
fn long_time(t: i64) -> String {
    let s = if t != 0 { ctime(t) } else { "Not set".to_string() };
    format!("{s:<26.24}")
}

/// `ipc_print_size`: an optional label, then the size in the unit, padded to `width`
/// (negative: left-aligned), then `end`.
fn print_size(
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
fn print_perms(
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

fn do_msg(out: &mut dyn Write, format: Format, unit: Unit, names: &mut Names) -> Res0 {
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

type Res0 = Result<(), Fail>;

fn do_shm(out: &mut dyn Write, format: Format, unit: Unit, names: &mut Names) -> Res0 {
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

fn do_sem(out: &mut dyn Write, format: Format, names: &mut Names) -> Res0 {
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

// ----- -i ID ----------------------------------------------------------------------

/// `%#o`: octal with a leading 0, except for 0 itself.
fn alt_octal(v: u32) -> String {
    if v == 0 { "0".into() } else { format!("0{v:o}") }
}

fn not_found(ctx: &Ctx, id: i32) -> Res0 {
    // ipcs warns and still exits 0.
    util::warn(&ctx.prog, format_args!("id {id} not found"));
    Ok(())
}

fn print_msg(ctx: &Ctx, out: &mut dyn Write, id: i32, unit: Unit) -> Res0 {
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

fn print_shm(ctx: &Ctx, out: &mut dyn Write, id: i32, unit: Unit) -> Res0 {
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

fn print_sem(ctx: &Ctx, out: &mut dyn Write, id: i32) -> Res0 {
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

// ----- --stale --------------------------------------------------------------------

/// The stale objects of the selected kinds, each with the reason.
#[derive(Default)]
pub struct Stale {
    pub msg: Vec<(MsgEntry, String)>,
    pub shm: Vec<(ShmEntry, String)>,
    pub sem: Vec<(SemEntry, String)>,
}

/// Finds the objects nobody uses any more (see `ipckit::registry` for the rules).
pub fn find_stale(msg: bool, shm: bool, sem: bool) -> Result<Stale, Fail> {
    let alive = ipckit::process::is_alive;
    // Processes asleep in msgrcv/msgsnd/semop leave no pid on the object: look for them.
    let waiters = if msg || sem { registry::waiters() } else { registry::Waiters::default() };
    // The same without the tasks that could not be looked into: what differs is
    // unknown, and is left out with a word on stderr.
    let seen = registry::Waiters { waiting: waiters.waiting.clone(), unseen: Vec::new() };
    let mut undecided = 0;
    let mut s = Stale::default();
    if msg {
        for q in registry::messages(Source::Auto)? {
            if let Some(why) = registry::stale_msg(&q, alive, &waiters) {
                s.msg.push((q, why));
            } else if registry::stale_msg(&q, alive, &seen).is_some() {
                undecided += 1;
            }
        }
    }
    if shm {
        for m in registry::shared_memory(Source::Auto)? {
            if let Some(why) = registry::stale_shm(&m, alive) {
                s.shm.push((m, why));
            }
        }
    }
    if sem {
        for e in registry::semaphores(Source::Auto)? {
            // A set whose values we may not read cannot be judged: leave it out.
            let Ok(values) = registry::semaphore_values(e.id) else { continue };
            let pids: Vec<registry::SemPid> =
                values.iter().map(|v| registry::SemPid { pid: v.pid, waiters: v.ncnt + v.zcnt }).collect();
            if let Some(why) = registry::stale_sem(&e, &pids, alive, &waiters) {
                s.sem.push((e, why));
            } else if registry::stale_sem(&e, &pids, alive, &seen).is_some() {
                undecided += 1;
            }
        }
    }
    if undecided > 0 {
        let mut pids: Vec<String> = waiters.unseen.iter().map(|u| u.pid.to_string()).collect();
        pids.truncate(8);
        crate::util::warn(
            "ipckit",
            format_args!(
                "{undecided} {} stale but left out: processes ipckit may not inspect (pids {}{}) \
                 sleep in calls that could be on them (reading /proc/PID/syscall needs the right to \
                 trace them)",
                if undecided == 1 { "object looks" } else { "objects look" },
                pids.join(", "),
                if waiters.unseen.len() > 8 { ", ..." } else { "" }
            ),
        );
    }
    Ok(s)
}

fn stale_text(out: &mut dyn Write, o: &Opts, names: &mut Names) -> Res0 {
    let s = find_stale(o.msg, o.shm, o.sem)?;
    let head = |out: &mut dyn Write, title: &str, id: &str| -> std::io::Result<()> {
        writeln!(out, "------ {title} --------")?;
        writeln!(out, "{:<10} {:<10} {:<10} {:<10} reason", "key", id, "owner", "perms")
    };
    writeln!(out)?;
    if o.msg {
        head(out, "Stale Message Queues", "msqid")?;
        for (q, why) in &s.msg {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", q.key, q.id, owner(names, q.uid), q.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    if o.shm {
        head(out, "Stale Shared Memory Segments", "shmid")?;
        for (m, why) in &s.shm {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", m.key, m.id, owner(names, m.uid), m.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    if o.sem {
        head(out, "Stale Semaphore Arrays", "semid")?;
        for (e, why) in &s.sem {
            writeln!(out, "{} {:<10} {} {:<10o} {why}", e.key, e.id, owner(names, e.uid), e.mode & 0o777)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

// ----- --posix --------------------------------------------------------------------

fn posix_text(out: &mut dyn Write, names: &mut Names) -> Res0 {
    super::posix_ls::text(out, names)
}

// ----- --json ---------------------------------------------------------------------

#[derive(Serialize)]
struct Who {
    uid: u32,
    user: Option<String>,
    gid: u32,
    group: Option<String>,
}

#[derive(Serialize)]
struct Time {
    epoch: i64,
    rfc3339: String,
}

fn time(t: i64) -> Option<Time> {
    (t != 0).then(|| Time { epoch: t, rfc3339: util::rfc3339(t) })
}

fn who(names: &mut Names, uid: u32, gid: u32) -> Who {
    Who { uid, user: names.user(uid), gid, group: names.group(gid) }
}

#[derive(Serialize)]
struct MsgJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    used_bytes: u64,
    messages: u64,
    capacity_bytes: Option<u64>,
    last_send_pid: u32,
    last_recv_pid: u32,
    last_send: Option<Time>,
    last_recv: Option<Time>,
    changed: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct ShmJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    size_bytes: u64,
    attachments: u64,
    creator_pid: u32,
    last_pid: u32,
    last_attach: Option<Time>,
    last_detach: Option<Time>,
    changed: Option<Time>,
    marked_for_removal: bool,
    locked: bool,
    resident_bytes: Option<u64>,
    swapped_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct SemValueJson {
    num: usize,
    value: u16,
    waiting_to_take: u32,
    waiting_for_zero: u32,
    last_pid: u32,
}

#[derive(Serialize)]
struct SemJson {
    key: String,
    id: i32,
    owner: Who,
    creator: Who,
    mode: String,
    nsems: u64,
    last_op: Option<Time>,
    changed: Option<Time>,
    semaphores: Option<Vec<SemValueJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct LimitsJson {
    msgmax: u64,
    msgmnb: u64,
    msgmni: u64,
    semmsl: u64,
    semmns: u64,
    semopm: u64,
    semmni: u64,
    semvmx: u64,
    shmmax: u64,
    shmall_pages: u64,
    shmmni: u64,
    shmmin: u64,
    page_size: u64,
}

#[derive(Serialize, Default)]
struct SummaryJson {
    #[serde(skip_serializing_if = "Option::is_none")]
    message_queues: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_memory: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    semaphore_sets: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct PosixObjJson {
    name: String,
    owner: Who,
    mode: String,
    modified: Option<Time>,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_reason: Option<String>,
}

#[derive(Serialize)]
struct PosixJson {
    shared_memory: Vec<PosixObjJson>,
    semaphores: Vec<PosixObjJson>,
    message_queues: Option<Vec<PosixObjJson>>,
    /// With `--stale`: why no POSIX object could be judged, if none could.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale_unknown: Option<String>,
}

#[derive(Serialize, Default)]
struct Doc {
    #[serde(skip_serializing_if = "Option::is_none")]
    message_queues: Option<Vec<MsgJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shared_memory: Option<Vec<ShmJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    semaphore_sets: Option<Vec<SemJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<SummaryJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    posix: Option<PosixJson>,
}

fn mode(m: u32) -> String {
    format!("{:04o}", m & 0o7777)
}

fn msg_json(q: MsgEntry, names: &mut Names, why: Option<String>) -> MsgJson {
    MsgJson {
        key: q.key.to_string(),
        id: q.id,
        owner: who(names, q.uid, q.gid),
        creator: who(names, q.cuid, q.cgid),
        mode: mode(q.mode),
        used_bytes: q.cbytes,
        messages: q.qnum,
        capacity_bytes: q.qbytes,
        last_send_pid: q.lspid,
        last_recv_pid: q.lrpid,
        last_send: time(q.stime),
        last_recv: time(q.rtime),
        changed: time(q.ctime),
        stale_reason: why,
    }
}

fn shm_json(m: ShmEntry, names: &mut Names, why: Option<String>) -> ShmJson {
    ShmJson {
        key: m.key.to_string(),
        id: m.id,
        owner: who(names, m.uid, m.gid),
        creator: who(names, m.cuid, m.cgid),
        mode: mode(m.mode),
        size_bytes: m.size,
        attachments: m.nattch,
        creator_pid: m.cpid,
        last_pid: m.lpid,
        last_attach: time(m.atime),
        last_detach: time(m.dtime),
        changed: time(m.ctime),
        marked_for_removal: m.marked_for_removal(),
        locked: m.locked(),
        resident_bytes: m.rss,
        swapped_bytes: m.swap,
        stale_reason: why,
    }
}

fn sem_json(s: SemEntry, names: &mut Names, why: Option<String>) -> SemJson {
    let values = registry::semaphore_values(s.id).ok().map(|v| {
        v.iter()
            .enumerate()
            .map(|(num, v)| SemValueJson {
                num,
                value: v.value,
                waiting_to_take: v.ncnt,
                waiting_for_zero: v.zcnt,
                last_pid: v.pid,
            })
            .collect()
    });
    SemJson {
        key: s.key.to_string(),
        id: s.id,
        owner: who(names, s.uid, s.gid),
        creator: who(names, s.cuid, s.cgid),
        mode: mode(s.mode),
        nsems: s.nsems,
        last_op: time(s.otime),
        changed: time(s.ctime),
        semaphores: values,
        stale_reason: why,
    }
}

fn json(out: &mut dyn Write, o: &Opts, names: &mut Names) -> Res0 {
    let mut doc = Doc::default();
    let keep = |id: i32| o.id.is_none_or(|want| want == id);
    if o.stale {
        let s = find_stale(o.msg, o.shm, o.sem)?;
        if o.msg {
            doc.message_queues = Some(
                s.msg
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(q, w)| msg_json(q, names, Some(w)))
                    .collect(),
            );
        }
        if o.shm {
            doc.shared_memory = Some(
                s.shm
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(m, w)| shm_json(m, names, Some(w)))
                    .collect(),
            );
        }
        if o.sem {
            doc.semaphore_sets = Some(
                s.sem
                    .into_iter()
                    .filter(|e| keep(e.0.id))
                    .map(|(e, w)| sem_json(e, names, Some(w)))
                    .collect(),
            );
        }
    } else {
        if o.msg {
            let list = registry::messages(Source::Auto)?;
            doc.message_queues =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|q| msg_json(q, names, None)).collect());
        }
        if o.shm {
            let list = registry::shared_memory(Source::Auto)?;
            doc.shared_memory =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|m| shm_json(m, names, None)).collect());
        }
        if o.sem {
            let list = registry::semaphores(Source::Auto)?;
            doc.semaphore_sets =
                Some(list.into_iter().filter(|e| keep(e.id)).map(|s| sem_json(s, names, None)).collect());
        }
    }
    if o.format == Format::Limits {
        let l = Limits::read()?;
        doc.limits = Some(LimitsJson {
            msgmax: l.msgmax,
            msgmnb: l.msgmnb,
            msgmni: l.msgmni,
            semmsl: l.semmsl,
            semmns: l.semmns,
            semopm: l.semopm,
            semmni: l.semmni,
            semvmx: l.semvmx,
            shmmax: l.shmmax,
            shmall_pages: l.shmall,
            shmmni: l.shmmni,
            shmmin: l.shmmin,
            page_size: registry::page_size(),
        });
    }
    if o.format == Format::Status {
        let mut s = SummaryJson::default();
        if o.msg {
            let (_, i) = msg::info(msg::InfoKind::Usage)?;
            s.message_queues = Some(serde_json::json!({
                "queues": i.msgpool, "headers": i.msgmap, "used_bytes": i.msgtql as u32,
            }));
        }
        if o.shm {
            let (_, i) = shm::info()?;
            s.shared_memory = Some(serde_json::json!({
                "segments": i.used_ids, "pages_allocated": i.shm_tot,
                "pages_resident": i.shm_rss, "pages_swapped": i.shm_swp,
            }));
        }
        if o.sem {
            let (_, i) = sem::info(sem::InfoKind::Usage)?;
            s.semaphore_sets = Some(serde_json::json!({ "sets": i.semusz, "semaphores": i.semaem }));
        }
        doc.summary = Some(s);
    }
    if o.posix {
        let p = registry::posix_objects()?;
        let obj = |names: &mut Names, name: &str, uid, gid, m, mtime| PosixObjJson {
            name: name.to_string(),
            owner: who(names, uid, gid),
            mode: mode(m),
            modified: time(mtime),
            size_bytes: None,
            queued_bytes: None,
            notify_pid: None,
            stale_reason: None,
        };
        doc.posix = Some(PosixJson {
            shared_memory: p
                .shm
                .iter()
                .map(|o| PosixObjJson {
                    size_bytes: Some(o.size),
                    ..obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)
                })
                .collect(),
            semaphores: p.sem.iter().map(|o| obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)).collect(),
            message_queues: p.mq.as_ref().map(|list| {
                list.iter()
                    .map(|o| PosixObjJson {
                        queued_bytes: o.qsize,
                        notify_pid: o.notify_pid,
                        ..obj(names, &o.name, o.uid, o.gid, o.mode, o.mtime)
                    })
                    .collect()
            }),
            stale_unknown: None,
        });
        if o.stale
            && let Some(pj) = doc.posix.as_mut()
        {
            // Only the stale ones, with the reason (as rm --stale --posix sees them).
            let st = super::posix_rm::find_stale()?;
            pj.stale_unknown = st.unknown.clone();
            let keep = |list: &mut Vec<PosixObjJson>, kind: super::posix_rm::PKind| {
                list.retain_mut(|e| {
                    let why =
                        st.found.iter().find(|(k, n, _)| *k == kind && *n == e.name).map(|f| f.2.clone());
                    e.stale_reason = why;
                    e.stale_reason.is_some()
                })
            };
            keep(&mut pj.shared_memory, super::posix_rm::PKind::Shm);
            keep(&mut pj.semaphores, super::posix_rm::PKind::Sem);
            if let Some(mq) = pj.message_queues.as_mut() {
                keep(mq, super::posix_rm::PKind::Msg);
            }
        }
    }
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
