//! `ipckit rm`: util-linux `ipcrm`, with the same options, messages and exit status,
//! plus `--stale [--dry-run]`.
//!
//! As `ipcrm` does, options act as they are parsed: each failure is reported, the
//! other objects are still removed, and the exit status is 1 if anything failed.
//! Keys may also be given in any ipckit form (`PATH:PROJ`).

use std::io::Write;
use std::process::ExitCode;

use ipckit::posix::shm::ShmObject;
use ipckit::registry::ChannelPlace;
use ipckit::sysv::msg::MsgQueue;
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::sysv::{msg, sem, shm};
use ipckit::{Error, Key};

use super::posix_rm::{self, PKind};
use crate::getopt::{self, HasArg, Opt, Spec};
use crate::util::{self, strerror};
use crate::{Ctx, Fail, Res};

/// The options, by what they do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Flag {
    ShmemId,
    ShmemKey,
    QueueId,
    QueueKey,
    SemaphoreId,
    SemaphoreKey,
    All,
    Verbose,
    Version,
    Help,
    Stale,
    DryRun,
    PosixShmem,
    PosixMqueue,
    PosixSemaphore,
    Posix,
}

const OPTIONS: &[Spec<Flag>] = &[
    Spec::both('m', "shmem-id", HasArg::Required, Flag::ShmemId),
    Spec::both('M', "shmem-key", HasArg::Required, Flag::ShmemKey),
    Spec::both('q', "queue-id", HasArg::Required, Flag::QueueId),
    Spec::both('Q', "queue-key", HasArg::Required, Flag::QueueKey),
    Spec::both('s', "semaphore-id", HasArg::Required, Flag::SemaphoreId),
    Spec::both('S', "semaphore-key", HasArg::Required, Flag::SemaphoreKey),
    Spec::both('a', "all", HasArg::Optional, Flag::All),
    Spec::both('v', "verbose", HasArg::No, Flag::Verbose),
    Spec::both('V', "version", HasArg::No, Flag::Version),
    Spec::both('h', "help", HasArg::No, Flag::Help),
    Spec::long("stale", HasArg::No, Flag::Stale),
    Spec::long("dry-run", HasArg::No, Flag::DryRun),
    // util-linux 2.41's POSIX options (posix_rm.rs).
    Spec::long("posix-shmem", HasArg::Required, Flag::PosixShmem),
    Spec::long("posix-mqueue", HasArg::Required, Flag::PosixMqueue),
    Spec::long("posix-semaphore", HasArg::Required, Flag::PosixSemaphore),
    Spec::long("posix", HasArg::No, Flag::Posix),
];

fn help(ctx: &Ctx) -> String {
    let c = &ctx.cmd;
    format!(
        "
Usage:
 {c} [options]
 {c} shm|msg|sem <id>...

Remove certain IPC resources, exactly as util-linux ipcrm does.

Options:
 -m, --shmem-id <id>        remove shared memory segment by id
 -M, --shmem-key <key>      remove shared memory segment by key
 -q, --queue-id <id>        remove message queue by id
 -Q, --queue-key <key>      remove message queue by key
 -s, --semaphore-id <id>    remove semaphore by id
 -S, --semaphore-key <key>  remove semaphore by key
     --posix-shmem <name>   remove POSIX shared memory segment by name
     --posix-mqueue <name>  remove POSIX message queue by name
     --posix-semaphore <name>
                            remove POSIX semaphore by name
 -a, --all[=shm|pshm|msg|pmsg|sem|psem]
                            remove all (in the specified category); a bare -a
                            removes System V objects only (ipcrm 2.41 also takes
                            every POSIX object, which /dev/shm shares across IPC
                            namespaces): name pshm, pmsg or psem for those
 -v, --verbose              explain what is being done

 -h, --help                 display this help
 -V, --version              display version

ipckit options:
     --stale                remove what `ipckit ls --stale` shows (with the ipckit
                            channels whose every end is gone: named and System V)
     --dry-run              with --stale: only say what would be removed
     --posix                with --stale: also POSIX objects that no live process
                            maps or holds open (needs root to see every process)

Keys are hexadecimal (0x...), octal (0...) or decimal, or PATH:PROJ for ftok.

Examples:
 {c} -q 3 -m 5              remove queue 3 and segment 5
 {c} -M 0x1234              remove the segment with key 0x1234
 {c} -Q /tmp/app:1          remove the queue whose key is ftok(\"/tmp/app\", 1)
 {c} --all=sem              remove every semaphore set
 {c} shm 5 6                the old form: remove segments 5 and 6
 {c} --stale --dry-run      list the leaked objects that --stale would remove
 {c} --posix-mqueue /jobs   remove the POSIX message queue /jobs
 {c} -apsem                 remove every POSIX named semaphore
"
    )
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
enum Kind {
    Shm,
    Sem,
    Msg,
}

struct Remover<'a> {
    ctx: &'a Ctx,
    verbose: bool,
    out: Box<dyn Write>,
}

/// What `IPC_RMID` (or the lookup before it) said, as `ipcrm` tells it.
enum Outcome {
    Ok,
    /// Reported as a warning; counted as one failure.
    Warned,
}

impl Remover<'_> {
    /// `remove_id`: removes one object by id; a known failure is a warning, any
    /// other ends the command (as `err()` does in ipcrm).
    fn remove_id(&mut self, kind: Kind, iskey: bool, id: i32) -> Result<Outcome, Fail> {
        let what = match kind {
            Kind::Shm => "shared memory segment",
            Kind::Msg => "message queue",
            Kind::Sem => "semaphore",
        };
        if self.verbose {
            writeln!(self.out, "removing {what} id `{id}'")?;
        }
        let result: Result<(), Error> = match kind {
            Kind::Shm => ShmSegment::from_id(id).and_then(ShmSegment::remove),
            Kind::Msg => MsgQueue::from_id(id).and_then(MsgQueue::remove),
            Kind::Sem => SemSet::from_id(id).and_then(SemSet::remove),
        };
        let Err(e) = result else { return Ok(Outcome::Ok) };
        let errno = e.raw_os_error().unwrap_or(0);
        let msg = match errno {
            1 | 13 => {
                if iskey {
                    "permission denied for key"
                } else {
                    "permission denied for id"
                }
            }
            22 => {
                if iskey {
                    "invalid key"
                } else {
                    "invalid id"
                }
            }
            43 => {
                if iskey {
                    "already removed key"
                } else {
                    "already removed id"
                }
            }
            _ => {
                let label = if iskey { "key failed" } else { "id failed" };
                return Err(Fail::Msg(format!("{label}: {}", strerror(errno))));
            }
        };
        util::warn(&self.ctx.prog, format_args!("{msg} ({id})"));
        Ok(Outcome::Warned)
    }

    /// `key_to_id`: the id of the object with this key, or a warning.
    fn key_to_id(&mut self, kind: Kind, text: &str) -> Result<Option<i32>, Fail> {
        let key = parse_rm_key(text)?;
        if key.is_private() {
            util::warn(&self.ctx.prog, format_args!("illegal key ({text})"));
            return Ok(None);
        }
        let found = match kind {
            Kind::Shm => ShmSegment::open(key).map(|s| s.id()),
            Kind::Msg => MsgQueue::open(key).map(|q| q.id()),
            Kind::Sem => SemSet::open(key).map(|s| s.id()),
        };
        match found {
            Ok(id) => Ok(Some(id)),
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                let msg = match errno {
                    13 => "permission denied for key",
                    43 => "already removed key",
                    2 => "invalid key",
                    _ => return Err(Fail::Msg(format!("key failed: {}", strerror(errno)))),
                };
                util::warn(&self.ctx.prog, format_args!("{msg} ({text})"));
                Ok(None)
            }
        }
    }

    /// `remove_all`: every object of the kinds the caller may see (`*_STAT`, as
    /// ipcrm), segments first, then sets, then queues. Returns whether any failed.
    fn remove_all(&mut self, which: Option<Kind>) -> Result<bool, Fail> {
        let mut failed = false;
        let all = which.is_none();
        if all || which == Some(Kind::Shm) {
            let (max, _) =
                shm::info().map_err(|_| Fail::Msg("kernel not configured for shared memory".into()))?;
            for i in 0..=max {
                if let Ok((id, _)) = shm::stat_index(i, shm::StatAccess::CheckRead) {
                    failed |= matches!(self.remove_id(Kind::Shm, false, id)?, Outcome::Warned);
                }
            }
        }
        if all || which == Some(Kind::Sem) {
            let (max, _) = sem::info(sem::InfoKind::Usage)
                .map_err(|_| Fail::Msg("kernel not configured for semaphores".into()))?;
            for i in 0..=max {
                if let Ok((id, _)) = sem::stat_index(i, sem::StatAccess::CheckRead) {
                    failed |= matches!(self.remove_id(Kind::Sem, false, id)?, Outcome::Warned);
                }
            }
        }
        if all || which == Some(Kind::Msg) {
            let (max, _) = msg::info(msg::InfoKind::Usage)
                .map_err(|_| Fail::Msg("kernel not configured for message queues".into()))?;
            for i in 0..=max {
                if let Ok((id, _)) = msg::stat_index(i, msg::StatAccess::CheckRead) {
                    failed |= matches!(self.remove_id(Kind::Msg, false, id)?, Outcome::Warned);
                }
            }
        }
        Ok(failed)
    }
}

/// `strtokey`: hexadecimal, octal or decimal (C's `strtoul(s, &end, 0)`); ipckit also
/// takes `PATH:PROJ`.
fn parse_rm_key(text: &str) -> Result<Key, Fail> {
    if text.contains(':') {
        return super::parse_key(text);
    }
    match util::strtoul(text, 0) {
        Some(Ok(v)) => Ok(Key::from_raw(v as u32 as i32)),
        Some(Err(())) => Err(Fail::Msg(format!("failed to parse argument: '{text}': {}", strerror(34)))),
        None => Err(Fail::Msg(format!("failed to parse argument: '{text}'"))),
    }
}

pub fn run(ctx: &Ctx, args: &[String]) -> Res {
    // Without arguments, ipcrm does nothing, successfully.
    if args.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let mut r = Remover { ctx, verbose: false, out: util::stdout() };
    if let Some(kind) = match args[0].as_str() {
        "shm" => Some(Kind::Shm),
        "msg" => Some(Kind::Msg),
        "sem" => Some(Kind::Sem),
        _ => None,
    } {
        return old_form(&mut r, kind, &args[1..]);
    }

    let parsed = getopt::parse(OPTIONS, args);
    let mut failures = 0u32;
    let mut rm_all: Option<Option<Kind>> = None;
    let (mut stale, mut dry_run) = (false, false);
    let (mut posix, mut posix_all) = (false, None);
    for opt in parsed.opts {
        let (flag, arg) = match opt {
            Opt::Err(e) => {
                r.out.flush()?;
                return Err(Fail::Usage(e));
            }
            Opt::Opt(flag, arg) => (flag, arg.unwrap_or_default()),
        };
        let (kind, iskey) = match flag {
            Flag::PosixShmem | Flag::PosixMqueue | Flag::PosixSemaphore => {
                let k = match flag {
                    Flag::PosixShmem => PKind::Shm,
                    Flag::PosixMqueue => PKind::Msg,
                    _ => PKind::Sem,
                };
                failures += posix_rm::remove_name(ctx, &mut *r.out, r.verbose, k, &arg)?;
                continue;
            }
            Flag::Posix => {
                posix = true;
                continue;
            }
            Flag::All if PKind::of_all(arg.trim_start_matches('=')).is_some() => {
                posix_all = PKind::of_all(arg.trim_start_matches('='));
                continue;
            }
            Flag::ShmemId => (Kind::Shm, false),
            Flag::ShmemKey => (Kind::Shm, true),
            Flag::QueueId => (Kind::Msg, false),
            Flag::QueueKey => (Kind::Msg, true),
            Flag::SemaphoreId => (Kind::Sem, false),
            Flag::SemaphoreKey => (Kind::Sem, true),
            Flag::All => {
                rm_all = Some(match arg.as_str() {
                    "" => None,
                    "shm" => Some(Kind::Shm),
                    "msg" => Some(Kind::Msg),
                    "sem" => Some(Kind::Sem),
                    other => {
                        r.out.flush()?;
                        return Err(Fail::Msg(format!("unknown argument: {other}")));
                    }
                });
                continue;
            }
            Flag::Verbose => {
                r.verbose = true;
                continue;
            }
            Flag::Stale => {
                stale = true;
                continue;
            }
            Flag::DryRun => {
                dry_run = true;
                continue;
            }
            Flag::Help => {
                r.out.write_all(help(ctx).as_bytes())?;
                r.out.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
            Flag::Version => {
                writeln!(r.out, "{} from ipckit {}", ctx.cmd, env!("CARGO_PKG_VERSION"))?;
                r.out.flush()?;
                return Ok(ExitCode::SUCCESS);
            }
        };
        let id = if iskey {
            match r.key_to_id(kind, &arg)? {
                Some(id) => id,
                None => {
                    failures += 1;
                    continue;
                }
            }
        } else {
            util::strtos32(&arg, "failed to parse argument")?
        };
        if let Outcome::Warned = r.remove_id(kind, iskey, id)? {
            failures += 1;
        }
    }
    if let Some(which) = rm_all
        && r.remove_all(which)?
    {
        failures += 1;
    }
    if let Some(k) = posix_all
        && posix_rm::remove_all(ctx, &mut *r.out, r.verbose, k)?
    {
        failures += 1;
    }
    if stale {
        failures += remove_stale(&mut r, dry_run)?;
        if posix {
            failures += posix_rm::remove_stale(ctx, &mut *r.out, dry_run)?;
        }
    } else if posix {
        r.out.flush()?;
        return Err(Fail::Usage("--posix goes with --stale".into()));
    } else if dry_run {
        r.out.flush()?;
        return Err(Fail::Usage("--dry-run goes with --stale".into()));
    }
    if let Some(extra) = parsed.operands.first() {
        r.out.flush()?;
        return Err(Fail::Usage(format!("unknown argument: {extra}")));
    }
    r.out.flush()?;
    Ok(if failures == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `ipcrm shm|msg|sem ID...`: the old form. Any failure: exit 1 without the final
/// line.
fn old_form(r: &mut Remover<'_>, kind: Kind, ids: &[String]) -> Res {
    if ids.is_empty() {
        return Err(Fail::Usage("not enough arguments".into()));
    }
    let mut errors = 0;
    for text in ids {
        match util::strtoul(text, 10) {
            Some(Ok(v)) => {
                if let Outcome::Warned = r.remove_id(kind, false, v as u32 as i32)? {
                    errors += 1;
                }
            }
            _ => {
                util::warn(&r.ctx.prog, format_args!("invalid id: {text}"));
                errors += 1;
            }
        }
    }
    if errors > 0 {
        r.out.flush()?;
        return Err(Fail::Exit(1));
    }
    writeln!(r.out, "resource(s) deleted")?;
    r.out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Removes (or, with `dry_run`, lists) every stale object. Returns the failures.
fn remove_stale(r: &mut Remover<'_>, dry_run: bool) -> Result<u32, Fail> {
    let found = super::ls::find_stale(true, true, true)?;
    let mut failures = 0;
    let verb = if dry_run { "would remove" } else { "removing" };
    let mut each = |r: &mut Remover<'_>, kind: Kind, what: &str, id: i32, why: &str| -> Result<(), Fail> {
        writeln!(r.out, "{verb} {what} id {id}: {why}")?;
        r.out.flush()?;
        if !dry_run {
            let verbose = std::mem::replace(&mut r.verbose, false);
            let outcome = r.remove_id(kind, false, id);
            r.verbose = verbose;
            if let Outcome::Warned = outcome? {
                failures += 1;
            }
        }
        Ok(())
    };
    for (e, why) in &found.shm {
        each(r, Kind::Shm, "shared memory segment", e.id, why)?;
    }
    for (e, why) in &found.sem {
        each(r, Kind::Sem, "semaphore", e.id, why)?;
    }
    for (e, why) in &found.msg {
        each(r, Kind::Msg, "message queue", e.id, why)?;
    }
    // ipckit channels whose every end is gone: the System V ones not removed above as
    // stale segments already, and the named ones. Never a memfd: it goes with the
    // last process that holds it.
    let mut named_failures = 0;
    for (c, why) in super::ls::find_stale_channels()? {
        match &c.place {
            ChannelPlace::SysV { id, .. } if !found.shm.iter().any(|(e, _)| e.id == *id) => {
                each(r, Kind::Shm, "channel in shared memory segment", *id, &why)?;
            }
            ChannelPlace::Named(name) => {
                writeln!(r.out, "{verb} channel {name}: {why}")?;
                r.out.flush()?;
                if !dry_run && let Err(e) = ShmObject::unlink(name) {
                    util::warn(&r.ctx.prog, e);
                    named_failures += 1;
                }
            }
            _ => {}
        }
    }
    Ok(failures + named_failures)
}
