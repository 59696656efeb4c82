//! `ipckit mk`: util-linux `ipcmk`, printing the same lines, plus `-k KEY` and
//! `--exclusive`. Differences: the default mode is 0600 (not 0644), a random key
//! never opens an object that already has it, and a bad mode is an error.

use std::io::{Read, Write};
use std::process::ExitCode;

use ipckit::sysv::Create;
use ipckit::sysv::msg::MsgQueue;
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::{ShmFlags, ShmSegment};
use ipckit::{Error, ErrorKind, Key, Mode};

use crate::getopt::{self, HasArg, Long, Opt};
use crate::util::{self, strerror};
use crate::{Ctx, Fail, Res};

const SHORT: &str = "hM:m:QqS:sp:k:n:Vh";
const LONG: &[Long] = &[
    Long { name: "shmem", has_arg: HasArg::Required, id: 'M' },
    Long { name: "posix-shmem", has_arg: HasArg::Required, id: 'm' },
    Long { name: "posix-mqueue", has_arg: HasArg::No, id: 'q' },
    Long { name: "posix-semaphore", has_arg: HasArg::No, id: 's' },
    Long { name: "name", has_arg: HasArg::Required, id: 'n' },
    Long { name: "semaphore", has_arg: HasArg::Required, id: 'S' },
    Long { name: "queue", has_arg: HasArg::No, id: 'Q' },
    Long { name: "mode", has_arg: HasArg::Required, id: 'p' },
    Long { name: "key", has_arg: HasArg::Required, id: 'k' },
    Long { name: "exclusive", has_arg: HasArg::No, id: 'x' },
    Long { name: "version", has_arg: HasArg::No, id: 'V' },
    Long { name: "help", has_arg: HasArg::No, id: 'h' },
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

pub fn run(ctx: &Ctx, args: &[String]) -> Res {
    let mut out = util::stdout();
    let (mut size, mut nsems): (Option<u64>, Option<i32>) = (None, None);
    let mut queue = false;
    let mut mode = Mode::OWNER_RW;
    let mut key: Option<Key> = None;
    let mut exclusive = false;
    let mut posix = super::posix_mk::PosixMk::default();
    for opt in getopt::parse(SHORT, LONG, args).opts {
        match opt {
            Opt::Err(e) => return Err(Fail::Usage(e)),
            Opt::Opt(c, arg) => {
                let arg = arg.unwrap_or_default();
                if posix.take(c, &arg)? {
                    continue;
                }
                match c {
                    'M' => {
                        size = Some(util::parse_size(&arg).map_err(|errno| {
                            Fail::Msg(format!("failed to parse size: '{arg}': {}", strerror(errno)))
                        })?)
                    }
                    'S' => nsems = Some(util::strtos32(&arg, "failed to parse elements")?),
                    'Q' => queue = true,
                    'p' => {
                        mode = arg.parse().map_err(|_| {
                            Fail::Msg(format!(
                                "failed to parse mode: '{arg}' (expected octal permission bits, such as 600)"
                            ))
                        })?
                    }
                    'k' => key = Some(super::parse_key(&arg)?),
                    'x' => exclusive = true,
                    'h' => {
                        out.write_all(help(ctx).as_bytes())?;
                        out.flush()?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    _ => {
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
    let einval = |what: &str| Fail::Msg(format!("{what}: {}", strerror(22)));

    if let Some(size) = size {
        const WHAT: &str = "create share memory failed";
        let size = usize::try_from(size).map_err(|_| einval(WHAT))?;
        if size == 0 {
            out.flush()?;
            return Err(einval(WHAT));
        }
        let seg = create(key, exclusive, |k, how| ShmSegment::get(k, how, size, mode, ShmFlags::default()))?;
        let seg = seg.map_err(|e| failed(WHAT, &e))?;
        writeln!(out, "Shared memory id: {}", seg.id())?;
    }
    posix.shm(ctx, &mut *out, mode, exclusive)?;
    if queue {
        const WHAT: &str = "create message queue failed";
        let q = create(key, exclusive, |k, how| MsgQueue::get(k, how, mode));
        let q = match q? {
            Ok(q) => q,
            Err(e) => {
                out.flush()?;
                return Err(failed(WHAT, &e));
            }
        };
        writeln!(out, "Message queue id: {}", q.id())?;
    }
    posix.mq(ctx, &mut *out, mode, exclusive)?;
    if let Some(n) = nsems {
        const WHAT: &str = "create semaphore failed";
        if n <= 0 {
            out.flush()?;
            return Err(einval(WHAT));
        }
        let set = match create(key, exclusive, |k, how| SemSet::get(k, how, n as usize, mode))? {
            Ok(s) => s,
            Err(e) => {
                out.flush()?;
                return Err(failed(WHAT, &e));
            }
        };
        writeln!(out, "Semaphore id: {}", set.id())?;
    }
    posix.sem(ctx, &mut *out, mode, exclusive)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
