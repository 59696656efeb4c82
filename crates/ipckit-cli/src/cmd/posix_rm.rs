//! The POSIX half of `ipckit rm` (util-linux 2.41 `ipcrm`): `--posix-shmem NAME`,
//! `--posix-mqueue NAME`, `--posix-semaphore NAME`, `-a pshm|pmsg|psem`, and
//! `--stale --posix`.
//!
//! Unlike ipcrm 2.41, a bare `-a` still removes System V objects only: `/dev/shm`
//! is not part of an IPC namespace, so "everything" would reach the POSIX objects of
//! every container and user session on the machine. Name the kind to remove them.
//! For the same reason `--stale` covers POSIX objects only with `--posix`.

use std::io::Write;
use std::path::Path;

use ipckit::posix::mq::MsgQueue;
use ipckit::posix::sem::NamedSemaphore;
use ipckit::posix::shm::ShmObject;
use ipckit::registry::{self, PosixUse};

use crate::util::{self, strerror};
use crate::{Ctx, Fail};

/// A kind of POSIX object.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PKind {
    Shm,
    Msg,
    Sem,
}

impl PKind {
    /// The kind `-a pshm|pmsg|psem` names.
    pub fn of_all(arg: &str) -> Option<PKind> {
        match arg {
            "pshm" => Some(PKind::Shm),
            "pmsg" => Some(PKind::Msg),
            "psem" => Some(PKind::Sem),
            _ => None,
        }
    }

    pub fn what(self) -> &'static str {
        match self {
            PKind::Shm => "POSIX shared memory",
            PKind::Msg => "POSIX message queue",
            PKind::Sem => "POSIX semaphore",
        }
    }
}

/// `remove_name`: unlinks one object; returns 1 on failure (reported as ipcrm does).
pub fn remove_name(
    ctx: &Ctx,
    out: &mut dyn Write,
    verbose: bool,
    kind: PKind,
    name: &str,
) -> Result<u32, Fail> {
    if verbose {
        writeln!(out, "removing {} `{name}'", kind.what())?;
        out.flush()?;
    }
    let r = match kind {
        PKind::Shm => ShmObject::unlink(name),
        PKind::Msg => MsgQueue::unlink(name),
        PKind::Sem => NamedSemaphore::unlink(name),
    };
    let Err(e) = r else { return Ok(0) };
    match e.raw_os_error() {
        Some(1 | 13) => util::warn(&ctx.prog, format_args!("permission denied for name `{name}'")),
        Some(2) => util::warn(&ctx.prog, format_args!("name `{name}' not found")),
        Some(36) => util::warn(&ctx.prog, format_args!("name `{name}' too long")),
        // Refused before any call: a name with a '/' inside, an empty or long name.
        None => util::warn(&ctx.prog, format_args!("invalid name `{name}': {e}")),
        Some(n) => return Err(Fail::Msg(format!("name failed: {}", strerror(n)))),
    }
    Ok(1)
}

fn mq_dir() -> Result<&'static Path, Fail> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    if registry::mqueue_mounted(&mounts, "/dev/mqueue") {
        Ok(Path::new("/dev/mqueue"))
    } else {
        Err(Fail::Msg(NO_MQUEUE.into()))
    }
}

/// Said when POSIX queues must be listed and cannot be.
pub const NO_MQUEUE: &str = "no mqueue file system is mounted at /dev/mqueue, so POSIX message queues cannot be listed; \
     mount one with: mkdir -p /dev/mqueue && mount -t mqueue none /dev/mqueue";

/// `remove_all` for one POSIX kind. Returns whether any removal failed.
pub fn remove_all(ctx: &Ctx, out: &mut dyn Write, verbose: bool, kind: PKind) -> Result<bool, Fail> {
    let mq = if kind == PKind::Msg { Some(mq_dir()?) } else { None };
    let objs = registry::posix_objects_in(Path::new("/dev/shm"), mq)?;
    let names: Vec<String> = match kind {
        PKind::Shm => objs.shm.into_iter().map(|o| o.name).collect(),
        PKind::Sem => objs.sem.into_iter().map(|o| o.name).collect(),
        PKind::Msg => objs.mq.unwrap_or_default().into_iter().map(|o| o.name).collect(),
    };
    let mut failed = false;
    for n in names {
        failed |= remove_name(ctx, out, verbose, kind, &n)? > 0;
    }
    Ok(failed)
}

/// Every POSIX object no live process maps or holds open, with the reason, or why
/// none can be judged.
pub struct StalePosix {
    pub found: Vec<(PKind, String, String)>,
    /// Set when staleness cannot be known (processes that could not be read).
    pub unknown: Option<String>,
    /// Set when no mqueue file system is mounted (queues were not judged).
    pub no_mqueue: bool,
}

pub fn find_stale() -> Result<StalePosix, Fail> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mq = registry::mqueue_mounted(&mounts, "/dev/mqueue").then_some(Path::new("/dev/mqueue"));
    let objs = registry::posix_objects_in(Path::new("/dev/shm"), mq)?;
    let users = PosixUse::scan();
    let mut s = StalePosix { found: Vec::new(), unknown: None, no_mqueue: mq.is_none() };
    if !users.unreadable.is_empty() {
        let mut pids: Vec<String> = users.unreadable.iter().take(5).map(u32::to_string).collect();
        if users.unreadable.len() > 5 {
            pids.push("...".into());
        }
        s.unknown = Some(format!(
            "cannot read /proc/PID/maps or /proc/PID/fd of {} process(es) (pid {}), which may use any POSIX object: \
             none can be judged stale (root can read most processes; not those of a more privileged container)",
            users.unreadable.len(),
            pids.join(", ")
        ));
        return Ok(s);
    }
    let why = "no live process maps it or holds it open".to_string();
    for o in objs.shm {
        if users.in_use(&Path::new("/dev/shm").join(&o.name[1..])) == Some(false) {
            s.found.push((PKind::Shm, o.name, format!("{why} ({} bytes)", o.size)));
        }
    }
    for o in objs.sem {
        if users.in_use(&Path::new("/dev/shm").join(format!("sem.{}", &o.name[1..]))) == Some(false) {
            s.found.push((PKind::Sem, o.name, why.clone()));
        }
    }
    for o in objs.mq.unwrap_or_default() {
        if users.in_use(&Path::new("/dev/mqueue").join(&o.name[1..])) == Some(false) {
            let q = o.qsize.map(|b| format!(" ({b} bytes queued)")).unwrap_or_default();
            s.found.push((PKind::Msg, o.name, format!("{why}{q}")));
        }
    }
    Ok(s)
}

/// `--stale --posix`: removes (or lists) the stale POSIX objects; returns failures.
pub fn remove_stale(ctx: &Ctx, out: &mut dyn Write, dry_run: bool) -> Result<u32, Fail> {
    let s = find_stale()?;
    if let Some(why) = &s.unknown {
        util::warn(&ctx.prog, format_args!("{why}"));
        return Ok(1);
    }
    if s.no_mqueue {
        util::warn(&ctx.prog, format_args!("{NO_MQUEUE}"));
    }
    let verb = if dry_run { "would remove" } else { "removing" };
    let mut failures = 0;
    for (kind, name, why) in &s.found {
        writeln!(out, "{verb} {} {name}: {why}", kind.what())?;
        out.flush()?;
        if !dry_run {
            failures += remove_name(ctx, out, false, *kind, name)?;
        }
    }
    Ok(failures)
}
