//! `ipckit sem`: show a semaphore set, read or set values, apply operations, wait.

use std::io::Write;
use std::process::ExitCode;

use ipckit::NotNow;
use ipckit::registry;
use ipckit::sysv::sem::{self, SemOp, SemSet};

use super::Which;
use crate::cli::{SemAction, SemArgs};
use crate::{Fail, Res, util};

fn open(which: Which) -> Result<SemSet, Fail> {
    Ok(match which {
        Which::Key(k) => SemSet::open(k)?,
        Which::Id(id) => SemSet::from_id(id)?,
    })
}

fn timeout(t: &Option<String>) -> Result<Option<std::time::Duration>, Fail> {
    t.as_deref().map(util::parse_secs).transpose().map_err(Fail::Usage)
}

/// Applies `ops` waiting as asked; an error if nothing could be applied in time.
fn apply(
    set: &SemSet,
    ops: &[SemOp],
    nowait: bool,
    t: Option<std::time::Duration>,
    what: &str,
) -> Result<(), Fail> {
    let done = if nowait {
        set.try_op(ops).now()?
    } else if let Some(d) = t {
        set.op_timeout(ops, d).now()?
    } else {
        set.op(ops)?;
        Some(())
    };
    if done.is_some() {
        return Ok(());
    }
    let why = if nowait {
        "would have to wait (--nowait)".to_string()
    } else {
        format!("timed out after {} s (--timeout)", t.unwrap_or_default().as_secs_f64())
    };
    Err(Fail::Msg(format!("semop(id {}): {what} {why}; nothing was applied", set.id())))
}

pub fn run(a: SemArgs) -> Res {
    // A malformed operation is reported as such, whether or not the set exists.
    if let SemAction::Op { ops, .. } = &a.action {
        sem::parse_ops(ops)?;
    }
    let set = open(Which::from(&a.target)?)?;
    let mut out = util::stdout();
    match a.action {
        SemAction::Show => {
            let st = set.stat()?;
            let values = registry::semaphore_values(set.id())?;
            writeln!(
                out,
                "semaphore set id {} key {} ({} semaphores, mode {:04o})",
                set.id(),
                st.perm.key,
                st.nsems,
                st.perm.mode & 0o777
            )?;
            writeln!(out, "{:<8} {:>6} {:>8} {:>6} {:>6}", "semnum", "value", "pid", "ncnt", "zcnt")?;
            for (i, v) in values.iter().enumerate() {
                writeln!(out, "{i:<8} {:>6} {:>8} {:>6} {:>6}", v.value, v.pid, v.ncnt, v.zcnt)?;
            }
        }
        SemAction::Post | SemAction::Value => {
            return Err(Fail::Usage(
                "post and value are for POSIX semaphores (--posix /NAME); here use op N+1 and get N".into(),
            ));
        }
        SemAction::Get { n } => writeln!(out, "{}", set.value(n)?)?,
        SemAction::Set { n, value } => set.set_value(n, value)?,
        SemAction::Op { ops, undo, nowait, timeout: t } => {
            let mut list = sem::parse_ops(&ops)?;
            if undo {
                list = list.into_iter().map(SemOp::undo).collect();
            }
            apply(&set, &list, nowait, timeout(&t)?, &format!("'{ops}'"))?;
        }
        SemAction::Wait { n, nowait, timeout: t } => {
            let n = n.ok_or_else(|| Fail::Usage("wait needs the semaphore's number N".into()))?;
            apply(
                &set,
                &[SemOp::wait_zero(n)],
                nowait,
                timeout(&t)?,
                &format!("waiting for semaphore {n} to be zero"),
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
