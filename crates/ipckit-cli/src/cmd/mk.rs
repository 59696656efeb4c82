//! `ipckit mk`: util-linux `ipcmk`, printing the same lines, plus `-k KEY` and
//! `--exclusive`. Differences: the default mode is 0600 (not 0644), a random key
//! never opens an object that already has it, and a bad mode is an error.

use std::io::{Read, Write};
use std::process::ExitCode;

use ipckit::sysv::msg::MsgQueue;
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::{ShmFlags, ShmSegment};
use ipckit::sysv::{Create, IpcPerm};
use ipckit::{Error, ErrorKind, Key, Mode};

use super::posix_mk::PosixOpt;
use crate::getopt::{self, HasArg, Opt, Spec};
use crate::util::{self, strerror};
use crate::{Ctx, Fail, Res};

/// The options, by what they do.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Flag {
    Shmem,
    Semaphore,
    Queue,
    Mode,
    Key,
    Exclusive,
    Version,
    Help,
    Posix(PosixOpt),
}

const OPTIONS: &[Spec<Flag>] = &[
    Spec::both('M', "shmem", HasArg::Required, Flag::Shmem),
    Spec::both('m', "posix-shmem", HasArg::Required, Flag::Posix(PosixOpt::Shmem)),
    Spec::both('q', "posix-mqueue", HasArg::No, Flag::Posix(PosixOpt::Mqueue)),
    Spec::both('s', "posix-semaphore", HasArg::No, Flag::Posix(PosixOpt::Semaphore)),
    Spec::both('n', "name", HasArg::Required, Flag::Posix(PosixOpt::Name)),
    Spec::both('S', "semaphore", HasArg::Required, Flag::Semaphore),
    Spec::both('Q', "queue", HasArg::No, Flag::Queue),
    Spec::both('p', "mode", HasArg::Required, Flag::Mode),
    Spec::both('k', "key", HasArg::Required, Flag::Key),
    Spec::long("exclusive", HasArg::No, Flag::Exclusive),
    Spec::both('V', "version", HasArg::No, Flag::Version),
    Spec::both('h', "help", HasArg::No, Flag::Help),
];

fn help(ctx: &Ctx) -> String {
    let c = &ctx.cmd;
    format!(
        "
Usage:
 {c} [options]

Create various IPC resources, as util-linux ipcmk does.

Options:
 -M, --shmem <size>       create shared memory segment of size <size>
 -m, --posix-shmem <size> create POSIX shared memory segment of size <size>
 -S, --semaphore <number> create semaphore array with <number> elements
 -s, --posix-semaphore    create POSIX semaphore
 -Q, --queue              create message queue
 -q, --posix-mqueue       create POSIX message queue
 -p, --mode <mode>        permission for the resource (default is 0600, not
                          ipcmk's 0644; applied exactly, whatever the umask)
 -n, --name <name>        name of the POSIX resource

 -h, --help               display this help
 -V, --version            display version

ipckit options:
 -k, --key <key>          use this key (0xHEX, decimal, or PATH:PROJ for ftok)
                          instead of a random one; opens the object if it exists
     --exclusive          with -k or -n: fail if an object already has the key
                          or name (otherwise it is opened, never resized)

Arguments:
 <size> arguments may be followed by the suffixes for
   KiB, MiB, GiB, TiB, PiB and EiB (the \"iB\" is optional; KB, MB... are powers of 1000)

 -n, --name <name> option is required for POSIX IPC

Examples:
 {c} -Q                       a message queue with a random key
 {c} -M 4K -p 640             a 4096-byte segment, mode 0640
 {c} -S 2 -k /tmp/app:1       a set of 2 semaphores with key ftok(\"/tmp/app\", 1)
 {c} -M 1M -Q -S 1            all three (printed in that order, like ipcmk)
 {c} -q -n /jobs -p 660       a POSIX message queue /jobs, mode 0660
 {c} -m 1M -s -n /frame       a POSIX shared-memory object and a semaphore, both /frame
"
    )
}

/// A random key that is not `IPC_PRIVATE`, from `/dev/urandom`.
fn random_key() -> Result<Key, Fail> {
    let mut f = std::fs::File::open("/dev/urandom")
        .map_err(|e| Fail::Msg(format!("cannot open /dev/urandom for a random key: {e}")))?;
    loop {
        let mut b = [0u8; 4];
        f.read_exact(&mut b).map_err(|e| Fail::Msg(format!("cannot read /dev/urandom: {e}")))?;
        let k = Key::from_raw(i32::from_ne_bytes(b));
        if !k.is_private() {
            return Ok(k);
        }
    }
}

/// ipcmk's message for a failed creation, `what: strerror(errno)`, followed by the
/// kernel limit behind it where ipckit knows it.
fn failed(what: &str, e: &Error) -> Fail {
    let Some(n) = e.raw_os_error() else { return Fail::Msg(format!("{what}: {e}")) };
    let mut msg = format!("{what}: {}", strerror(n));
    if let Some(limit) = e.limit() {
        let value = limit.current().map(|v| v.to_string()).unwrap_or_else(|| "?".into());
        msg.push_str(&format!(" (limit {} = {value}", limit.name()));
        if let Some(path) = limit.proc_path() {
            msg.push_str(&format!(", {path}"));
        }
        msg.push(')');
    }
    Fail::Msg(msg)
}

/// Creates with `make(key, how)`: with the chosen key as asked, or with random keys
/// until one is free.
fn create<T>(
    chosen: Option<Key>,
    exclusive: bool,
    mut make: impl FnMut(Key, Create) -> Result<T, Error>,
) -> Result<Result<T, Error>, Fail> {
    if let Some(k) = chosen {
        let how = if exclusive || k.is_private() { Create::Exclusive } else { Create::OpenOrCreate };
        return Ok(make(k, how));
    }
    loop {
        match make(random_key()?, Create::Exclusive) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            other => return Ok(other),
        }
    }
}

/// An object that already had the key given with `-k`: what `mk` found instead of
/// creating, to be told rather than passed over.
struct Existing {
    /// `shared memory segment`, `message queue`, `semaphore set`.
    what: &'static str,
    key: Key,
    id: i32,
    /// Its size (bytes of a segment, semaphores in a set) and unit; `None` for a queue.
    size: Option<(u64, &'static str)>,
    perm: Option<IpcPerm>,
    /// The mode `-p` asked for.
    asked: Mode,
}

impl Existing {
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some((n, unit)) = self.size {
            parts.push(if n == 1 {
                format!("1 {}", unit.trim_end_matches('s'))
            } else {
                format!("{n} {unit}")
            });
        }
        if let Some(p) = &self.perm {
            parts.push(format!("mode {:04o}, owner uid {}", p.mode & 0o777, p.uid));
        }
        format!("key {} already exists: {} id {} ({})", self.key, self.what, self.id, parts.join(", "))
    }

    /// The existing object's permissions, or why this user may not use it.
    fn usable(mut self, stat: Result<IpcPerm, Error>, wanted: &str) -> Result<Existing, Fail> {
        let denied = |e: &Existing| {
            Fail::Msg(format!("{wanted}: {}, which you may not use: {}", e.describe(), strerror(13)))
        };
        match stat {
            Ok(p) => self.perm = Some(p),
            Err(e) if matches!(e.raw_os_error(), Some(1 | 13)) => return Err(denied(&self)),
            Err(e) => return Err(failed(wanted, &e)),
        }
        let p = self.perm.expect("set above");
        let uid = ipckit::process::effective_uid();
        let granted = if uid == 0 {
            0o7
        } else if uid == p.uid || uid == p.cuid {
            p.mode >> 6
        } else if ipckit::process::effective_gid() == p.gid || ipckit::process::effective_gid() == p.cgid {
            p.mode >> 3
        } else {
            p.mode
        };
        if granted & 0o6 != 0o6 {
            return Err(denied(&self));
        }
        Ok(self)
    }

    /// What to tell on stderr when the object is opened as it is.
    fn note(&self) -> String {
        let mut note = format!("{}; opened it as it is", self.describe());
        if let Some(p) = &self.perm
            && p.mode & 0o777 != self.asked.bits() & 0o777
        {
            note.push_str(&format!(", not with the mode {:04o} asked for", self.asked.bits() & 0o777));
        }
        note
    }
}

/// With a key from `-k` and no `--exclusive`: creates the object, or, when one
/// already has the key, opens it with `open` and checks it with `check` (which says
/// whether it is too small for what was asked). Random keys and `--exclusive` go
/// through [`create`].
fn create_or_open<T>(
    ctx: &Ctx,
    key: Option<Key>,
    exclusive: bool,
    wanted: &str,
    mut make: impl FnMut(Key, Create) -> Result<T, Error>,
    open: impl FnOnce(Key) -> Result<(T, Existing, Result<IpcPerm, Error>), Error>,
    check: impl FnOnce(&Existing) -> Option<String>,
) -> Result<T, Fail> {
    let Some(k) = key.filter(|k| !exclusive && !k.is_private()) else {
        return create(key, exclusive, make)?.map_err(|e| failed(wanted, &e));
    };
    match make(k, Create::Exclusive) {
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
        other => return other.map_err(|e| failed(wanted, &e)),
    }
    let (obj, existing, stat) = open(k).map_err(|e| failed(wanted, &e))?;
    let existing = existing.usable(stat, wanted)?;
    if let Some(why) = check(&existing) {
        return Err(Fail::Msg(format!("{wanted}: {}, {why}", existing.describe())));
    }
    util::warn(&ctx.prog, existing.note());
    Ok(obj)
}

/// Prints the line that tells a new object's id, at once. If it cannot be written,
/// the object would be a leak nobody knows of: one this command created is removed
/// with `remove`, and the command fails.
fn announce(
    out: &mut dyn Write,
    line: &str,
    created: bool,
    remove: impl FnOnce() -> Result<(), Error>,
) -> Result<(), Fail> {
    let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) else { return Ok(()) };
    let fate = if !created {
        "it existed before and stays".to_string()
    } else {
        match remove() {
            Ok(()) => "the object made was removed again".to_string(),
            Err(r) => format!("the object made could not be removed: {r}"),
        }
    };
    Err(Fail::Msg(format!("cannot write '{line}' to stdout: {e}; {fate}")))
}

pub fn run(ctx: &Ctx, args: &[String]) -> Res {
    let mut out = util::stdout();
    let (mut size, mut nsems): (Option<u64>, Option<i32>) = (None, None);
    let mut queue = false;
    let mut mode = Mode::OWNER_RW;
    let mut key: Option<Key> = None;
    let mut exclusive = false;
    let mut posix = super::posix_mk::PosixMk::default();
    for opt in getopt::parse(OPTIONS, args).opts {
        match opt {
            Opt::Err(e) => return Err(Fail::Usage(e)),
            Opt::Opt(flag, arg) => {
                let arg = arg.unwrap_or_default();
                match flag {
                    Flag::Posix(opt) => posix.take(opt, &arg)?,
                    Flag::Shmem => {
                        size = Some(util::parse_size(&arg).map_err(|errno| {
                            Fail::Msg(format!("failed to parse size: '{arg}': {}", strerror(errno)))
                        })?)
                    }
                    Flag::Semaphore => nsems = Some(util::strtos32(&arg, "failed to parse elements")?),
                    Flag::Queue => queue = true,
                    Flag::Mode => {
                        mode = arg.parse().map_err(|_| {
                            Fail::Msg(format!(
                                "failed to parse mode: '{arg}' (expected octal permission bits, such as 600)"
                            ))
                        })?
                    }
                    Flag::Key => key = Some(super::parse_key(&arg)?),
                    Flag::Exclusive => exclusive = true,
                    Flag::Help => {
                        out.write_all(help(ctx).as_bytes())?;
                        out.flush()?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    Flag::Version => {
                        writeln!(out, "{} from ipckit {}", ctx.cmd, env!("CARGO_PKG_VERSION"))?;
                        out.flush()?;
                        return Ok(ExitCode::SUCCESS);
                    }
                }
            }
        }
    }
    if size.is_none() && nsems.is_none() && !queue && !posix.any() {
        return Err(Fail::Usage("bad usage".into()));
    }
    posix.check()?;
    if exclusive && key.is_none() && !posix.has_name() {
        return Err(Fail::Usage("--exclusive needs a key (-k KEY) or a name (-n NAME)".into()));
    }
    // An id printed nowhere is an object nobody will remove: check stdout first.
    util::stdout_file("the new object's id would be printed nowhere")?;
    let einval = |what: &str| Fail::Msg(format!("{what}: {}", strerror(22)));

    if let Some(size) = size {
        const WHAT: &str = "create share memory failed";
        let size = usize::try_from(size).map_err(|_| einval(WHAT))?;
        if size == 0 {
            out.flush()?;
            return Err(einval(WHAT));
        }
        let seg = create_or_open(
            ctx,
            key,
            exclusive,
            WHAT,
            |k, how| ShmSegment::get(k, how, size, mode, ShmFlags::default()),
            |k| {
                let seg = ShmSegment::open(k)?;
                let st = seg.stat();
                let size = st.as_ref().ok().map(|st| (st.size, "bytes"));
                let e = Existing {
                    what: "shared memory segment",
                    key: k,
                    id: seg.id(),
                    size,
                    perm: None,
                    asked: mode,
                };
                Ok((seg, e, st.map(|st| st.perm)))
            },
            |e| {
                let have = e.size.map_or(0, |(n, _)| n);
                (have < size as u64).then(|| format!("smaller than the {size} bytes asked for"))
            },
        )?;
        let line = format!("Shared memory id: {}", seg.id());
        announce(&mut *out, &line, seg.created(), || seg.remove())?;
    }
    posix.shm(ctx, &mut *out, mode, exclusive)?;
    if queue {
        const WHAT: &str = "create message queue failed";
        let q = create_or_open(
            ctx,
            key,
            exclusive,
            WHAT,
            |k, how| MsgQueue::get(k, how, mode),
            |k| {
                let q = MsgQueue::open(k)?;
                let st = q.stat().map(|st| st.perm);
                let e = Existing {
                    what: "message queue",
                    key: k,
                    id: q.id(),
                    size: None,
                    perm: None,
                    asked: mode,
                };
                Ok((q, e, st))
            },
            |_| None,
        );
        let q = match q {
            Ok(q) => q,
            Err(e) => {
                out.flush()?;
                return Err(e);
            }
        };
        let line = format!("Message queue id: {}", q.id());
        announce(&mut *out, &line, q.created(), || q.remove())?;
    }
    posix.mq(ctx, &mut *out, mode, exclusive)?;
    if let Some(n) = nsems {
        const WHAT: &str = "create semaphore failed";
        if n <= 0 {
            out.flush()?;
            return Err(einval(WHAT));
        }
        let set = create_or_open(
            ctx,
            key,
            exclusive,
            WHAT,
            |k, how| SemSet::get(k, how, n as usize, mode),
            |k| {
                let set = SemSet::open(k)?;
                let st = set.stat();
                let size = st.as_ref().ok().map(|st| (u64::from(st.nsems), "semaphores"));
                let e =
                    Existing { what: "semaphore set", key: k, id: set.id(), size, perm: None, asked: mode };
                Ok((set, e, st.map(|st| st.perm)))
            },
            |e| {
                let have = e.size.map_or(0, |(n, _)| n);
                (have < n as u64).then(|| format!("fewer than the {n} asked for"))
            },
        );
        let set = match set {
            Ok(s) => s,
            Err(e) => {
                out.flush()?;
                return Err(e);
            }
        };
        let line = format!("Semaphore id: {}", set.id());
        announce(&mut *out, &line, set.created(), || set.remove())?;
    }
    posix.sem(ctx, &mut *out, mode, exclusive)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
