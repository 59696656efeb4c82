//! `ipckit sem --posix /NAME show|post|wait|value`: a POSIX named semaphore.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::process::ExitCode;

use ipckit::ErrorKind;
use ipckit::posix::sem::NamedSemaphore;

use crate::cli::{SemAction, SemArgs};
use crate::{Fail, Res, util};

/// The file glibc keeps a named semaphore in.
pub fn sem_path(name: &str) -> String {
    format!("/dev/shm/sem.{}", name.trim_start_matches('/'))
}

pub fn run(a: SemArgs) -> Res {
    let name = a.target.posix.as_deref().unwrap_or_default();
    let sem = NamedSemaphore::open(name)?;
    let mut out = util::stdout();
    match a.action {
        SemAction::Show => {
            let value = sem.value()?;
            write!(out, "POSIX semaphore {} value {value}", sem.name())?;
            if let Ok(m) = std::fs::metadata(sem_path(sem.name())) {
                write!(
                    out,
                    " (mode {:04o}, owner uid {} gid {}, file {})",
                    m.mode() & 0o777,
                    m.uid(),
                    m.gid(),
                    sem_path(sem.name())
                )?;
            }
            writeln!(out)?;
        }
        SemAction::Value => writeln!(out, "{}", sem.value()?)?,
        SemAction::Post => sem.post()?,
        SemAction::Wait { n, nowait, timeout } => {
            if n.is_some() {
                return Err(Fail::Usage("a POSIX semaphore is one counter: wait takes no number".into()));
            }
            let t = timeout.as_deref().map(util::parse_secs).transpose().map_err(Fail::Usage)?;
            let r = if nowait {
                sem.try_wait()
            } else if let Some(d) = t {
                sem.wait_timeout(d)
            } else {
                sem.wait()
            };
            match r {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return Err(Fail::Msg(format!(
                        "sem_trywait({}): the value is 0; nothing was taken (--nowait)",
                        sem.name()
                    )));
                }
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    return Err(Fail::Msg(format!(
                        "sem_clockwait({}): the value stayed 0 for {} s (--timeout); nothing was taken",
                        sem.name(),
                        timeout.as_deref().unwrap_or("")
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
        SemAction::Get { .. } | SemAction::Set { .. } | SemAction::Op { .. } => {
            return Err(Fail::Usage(
                "get, set and op are for System V sets; a POSIX semaphore has show, post, wait and value"
                    .into(),
            ));
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
