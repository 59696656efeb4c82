//! The POSIX half of `ipckit mk` (util-linux 2.41 `ipcmk`): `-m/--posix-shmem SIZE`,
//! `-q/--posix-mqueue`, `-s/--posix-semaphore`, with `-n/--name NAME`.
//!
//! Differences from ipcmk: the default mode is 0600 and is applied exactly (not
//! narrowed by the umask); an object that already exists is opened, as ipcmk does,
//! but never resized, and a note says that it was not created; `--exclusive` makes
//! an existing name an error.

use std::io::Write;

use ipckit::posix::mq::MsgQueue;
use ipckit::posix::sem::NamedSemaphore;
use ipckit::posix::shm::ShmObject;
use ipckit::{Error, ErrorKind, Mode};

use crate::util::{self, strerror};
use crate::{Ctx, Fail};

/// What was asked for.
/// ipcmk's POSIX options: `-m/--posix-shmem SIZE`, `-q/--posix-mqueue`,
/// `-s/--posix-semaphore`, `-n/--name NAME`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PosixOpt {
    Shmem,
    Mqueue,
    Semaphore,
    Name,
}

#[derive(Default, Debug)]
pub struct PosixMk {
    shm: Option<u64>,
    mq: bool,
    sem: bool,
    name: Option<String>,
}

impl PosixMk {
    /// Takes one of util-linux 2.41's POSIX options.
    pub fn take(&mut self, opt: PosixOpt, arg: &str) -> Result<(), Fail> {
        match opt {
            PosixOpt::Shmem => {
                self.shm = Some(util::parse_size(arg).map_err(|errno| {
                    Fail::Msg(format!("failed to parse size: '{arg}': {}", strerror(errno)))
                })?)
            }
            PosixOpt::Mqueue => self.mq = true,
            PosixOpt::Semaphore => self.sem = true,
            PosixOpt::Name => self.name = Some(arg.to_string()),
        }
        Ok(())
    }

    /// Whether any POSIX object was asked for.
    pub fn any(&self) -> bool {
        self.shm.is_some() || self.mq || self.sem
    }

    /// Whether a name was given (for `--exclusive`).
    pub fn has_name(&self) -> bool {
        self.name.is_some()
    }

    /// ipcmk's check: a POSIX object needs `-n NAME`.
    pub fn check(&self) -> Result<(), Fail> {
        if self.any() && self.name.is_none() {
            return Err(Fail::Usage("name is required for POSIX IPC".into()));
        }
        Ok(())
    }

    fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// `-m SIZE`: creates (or opens) the shared-memory object.
    pub fn shm(&self, ctx: &Ctx, out: &mut dyn Write, mode: Mode, exclusive: bool) -> Result<(), Fail> {
        let Some(size) = self.shm else { return Ok(()) };
        const WHAT: &str = "create POSIX shared memory failed";
        let size = usize::try_from(size).map_err(|_| Fail::Msg(format!("{WHAT}: {}", strerror(27))))?;
        let name = self.name();
        if let Ok(room) = ShmObject::fs_size()
            && size as u64 > room
        {
            out.flush()?;
            return Err(Fail::Msg(format!(
                "{WHAT}: {}: {size} bytes is more than the {room} bytes of the file system at /dev/shm",
                strerror(27)
            )));
        }
        let obj = match ShmObject::create(name, size, mode) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists && !exclusive => {
                let obj = ShmObject::open(name).map_err(|e| failed(WHAT, &e))?;
                let have = obj.len().map_err(|e| failed(WHAT, &e))?;
                if have != size as u64 {
                    out.flush()?;
                    return Err(Fail::Msg(format!(
                        "{WHAT}: {}: {} exists with {have} bytes, not {size} (ipckit does not resize an existing object)",
                        strerror(17),
                        obj.name().unwrap_or(name)
                    )));
                }
                exists_note(ctx, obj.name().unwrap_or(name), obj.mode().ok(), mode);
                obj
            }
            other => other.map_err(|e| failed(WHAT, &e))?,
        };
        writeln!(out, "POSIX shared memory name: {}", obj.name().unwrap_or(name))?;
        Ok(())
    }

    /// `-q`: creates (or opens) the message queue, with the kernel's default size.
    pub fn mq(&self, ctx: &Ctx, out: &mut dyn Write, mode: Mode, exclusive: bool) -> Result<(), Fail> {
        if !self.mq {
            return Ok(());
        }
        const WHAT: &str = "create POSIX message queue failed";
        let name = self.name();
        let q = match MsgQueue::create(name, super::posix_msg::default_attr(), mode) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists && !exclusive => {
                let q = MsgQueue::open(name).map_err(|e| failed(WHAT, &e))?;
                exists_note(ctx, q.name(), q.mode().ok(), mode);
                q
            }
            other => other.map_err(|e| failed(WHAT, &e))?,
        };
        writeln!(out, "POSIX message queue name: {}", q.name())?;
        Ok(())
    }

    /// `-s`: creates (or opens) the named semaphore, with value 0.
    pub fn sem(&self, ctx: &Ctx, out: &mut dyn Write, mode: Mode, exclusive: bool) -> Result<(), Fail> {
        if !self.sem {
            return Ok(());
        }
        const WHAT: &str = "create POSIX semaphore failed";
        let name = self.name();
        let s = match NamedSemaphore::create(name, 0, mode) {
            Err(e) if e.kind() == ErrorKind::AlreadyExists && !exclusive => {
                let s = NamedSemaphore::open(name).map_err(|e| failed(WHAT, &e))?;
                let m = std::fs::metadata(super::posix_sem::sem_path(s.name()))
                    .ok()
                    .map(|m| Mode::new(std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777));
                exists_note(ctx, s.name(), m, mode);
                s
            }
            other => other.map_err(|e| failed(WHAT, &e))?,
        };
        writeln!(out, "POSIX semaphore name: {}", s.name())?;
        Ok(())
    }
}

/// Says on stderr that an existing object was opened rather than created, and
/// with which mode if it differs from the one asked for.
fn exists_note(ctx: &Ctx, name: &str, have: Option<Mode>, asked: Mode) {
    let mode = match have {
        Some(m) if m != asked => {
            format!("; its mode stays {:04o}, not the {:04o} asked for", m.bits(), asked.bits())
        }
        _ => String::new(),
    };
    util::warn(&ctx.prog, format_args!("{name} already exists: opened it, nothing was created{mode}"));
}

/// ipcmk's `what: strerror(errno)`, with ipckit's explanation where the library
/// refused the input before any call (a name with a `/` inside, say).
fn failed(what: &str, e: &Error) -> Fail {
    match e.raw_os_error() {
        Some(n) => Fail::Msg(format!("{what}: {}", strerror(n))),
        None => Fail::Msg(format!("{what}: {e}")),
    }
}
