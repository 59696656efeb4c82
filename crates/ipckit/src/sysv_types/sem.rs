//! Semaphore data: see [`crate::sysv::sem`].

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use super::IpcPerm;
use crate::error::{Error, ErrorKind, Object, Result};

/// `SEM_UNDO` (`<linux/sem.h>`; `sys` checks it against the C library's).
pub(crate) const SEM_UNDO: i16 = 0x1000;
/// `IPC_NOWAIT` (`<linux/ipc.h>`; `sys` checks it against the C library's).
pub(crate) const IPC_NOWAIT: i16 = 0o4000;

/// One operation of a [`SemSet::op`](crate::sysv::sem::SemSet::op) call (`struct sembuf`).
///
/// Build with [`SemOp::new`] and add flags with [`undo`](Self::undo) and
/// [`nowait`](Self::nowait).
#[repr(C)]
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct SemOp {
    pub(crate) num: u16,
    pub(crate) op: i16,
    pub(crate) flg: i16,
}

impl SemOp {
    /// Adds `delta` to semaphore `num`: negative waits until it can subtract, positive
    /// never waits, zero waits until the value is zero.
    pub const fn new(num: u16, delta: i16) -> SemOp {
        SemOp { num, op: delta, flg: 0 }
    }

    /// P: subtract one, waiting until the value is at least one.
    pub const fn p(num: u16) -> SemOp {
        SemOp::new(num, -1)
    }

    /// V: add one.
    pub const fn v(num: u16) -> SemOp {
        SemOp::new(num, 1)
    }

    /// Wait until semaphore `num` is zero.
    pub const fn wait_zero(num: u16) -> SemOp {
        SemOp::new(num, 0)
    }

    /// With `SEM_UNDO`: the kernel reverses this operation when the process exits.
    #[doc(alias = "SEM_UNDO")]
    pub const fn undo(mut self) -> SemOp {
        self.flg |= SEM_UNDO;
        self
    }

    /// With `IPC_NOWAIT`: if this operation would wait, the whole call fails instead
    /// (`try_op` reports it as `false`).
    #[doc(alias = "IPC_NOWAIT")]
    pub const fn nowait(mut self) -> SemOp {
        self.flg |= IPC_NOWAIT;
        self
    }

    /// The semaphore's index in the set.
    pub const fn num(self) -> u16 {
        self.num
    }

    /// The delta.
    pub const fn delta(self) -> i16 {
        self.op
    }

    /// Whether `SEM_UNDO` is set.
    pub const fn has_undo(self) -> bool {
        self.flg & SEM_UNDO != 0
    }

    /// Whether `IPC_NOWAIT` is set.
    pub const fn has_nowait(self) -> bool {
        self.flg & IPC_NOWAIT != 0
    }
}

impl fmt::Debug for SemOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SemOp({self}")?;
        if self.has_undo() {
            f.write_str(" undo")?;
        }
        if self.has_nowait() {
            f.write_str(" nowait")?;
        }
        f.write_str(")")
    }
}

impl fmt::Display for SemOp {
    /// The text form read by [`parse_ops`](crate::sysv::sem::parse_ops): `0-1`, `1+2`, `2=0`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            0 => write!(f, "{}=0", self.num),
            d if d > 0 => write!(f, "{}+{}", self.num, d),
            d => write!(f, "{}-{}", self.num, d.unsigned_abs()),
        }
    }
}

impl FromStr for SemOp {
    type Err = Error;

    /// Parses one operation: `N+D` (add), `N-D` (subtract, waiting), `N=0` (wait for
    /// zero). `N` is the semaphore's index, `D` a count up to 32767.
    fn from_str(s: &str) -> Result<SemOp> {
        let bad = |why: &str| {
            Error::new("parse semaphore operation", Object::Name(s.into()), ErrorKind::InvalidInput)
                .with_detail(format!("{why}; expected N+D, N-D or N=0, such as 0-1 or 1+1"))
        };
        let t = s.trim();
        let pos = t.find(['+', '-', '=']).ok_or_else(|| bad("no +, - or ="))?;
        let num: u16 = t[..pos].parse().map_err(|_| bad("the semaphore index is not a number 0-65535"))?;
        let rest = &t[pos + 1..];
        // Digits only: `0++1` or `0+-1` is a typing slip, not an operation.
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the count is not a number of digits"));
        }
        let count: u16 = rest.parse().map_err(|_| bad("the count must be at most 32767"))?;
        let delta = match &t[pos..=pos] {
            "=" if count == 0 => 0,
            "=" => return Err(bad("only =0 (wait for zero) is an operation")),
            // A delta of 0 is the kernel's "wait for zero": not what `+0`/`-0` reads as.
            _ if count == 0 => return Err(bad("+0 and -0 do nothing (to wait for zero, write N=0)")),
            _ if count > 32767 => return Err(bad("the count must be at most 32767")),
            "+" => count as i16,
            _ => -(count as i16),
        };
        Ok(SemOp::new(num, delta))
    }
}

/// The status of a set (`struct semid_ds`, from `IPC_STAT`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SemStat {
    /// Ownership and permissions.
    pub perm: IpcPerm,
    /// Time of the last `semop`, if any. `None` on a set that nobody has operated on
    /// yet: for sets made by ipckit, one whose creator has not finished initialising.
    pub otime: Option<SystemTime>,
    /// Time of creation or of the last change by `semctl`.
    pub ctime: Option<SystemTime>,
    /// Number of semaphores in the set.
    pub nsems: u32,
}

/// System-wide semaphore figures (`struct seminfo` from `IPC_INFO` or `SEM_INFO`).
/// With `SEM_INFO`, `semusz` is the number of sets in use and `semaem` the number of
/// semaphores.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[allow(missing_docs)]
#[non_exhaustive]
pub struct SemInfo {
    pub semmap: i32,
    pub semmni: i32,
    pub semmns: i32,
    pub semmnu: i32,
    pub semmsl: i32,
    pub semopm: i32,
    pub semume: i32,
    pub semusz: i32,
    pub semvmx: i32,
    pub semaem: i32,
}
