//! Kernel limits on IPC objects, read from `/proc/sys` with the `*ctl(IPC_INFO)`
//! fallback.
//!
//! Each System V mechanism has limits set by the administrator: the largest message
//! (`msgmax`), the capacity of a queue (`msgmnb`), the number of queues (`msgmni`),
//! and so on. When a call fails because of one of them, ipckit's error names it (see
//! [`Error::limit`](crate::Error::limit)); this module reads them all.
//!
//! ```
//! let limits = ipckit::limits::Limits::read()?;
//! println!("largest message: {} bytes", limits.msgmax);
//! assert!(limits.msgmax > 0 && limits.semvmx == 32767);
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [proc_sys_kernel(5)](https://man7.org/linux/man-pages/man5/proc_sys_kernel.5.html),
//! [msgctl(2)](https://man7.org/linux/man-pages/man2/msgctl.2.html) `IPC_INFO`.

use std::fmt;

use crate::error::{Error, Object, Result};
use crate::sys;

/// One kernel limit.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Limit {
    /// Largest System V message body, in bytes.
    MsgMax,
    /// Default capacity of a new message queue, in bytes (`msg_qbytes`).
    MsgMnb,
    /// Most message queues in the system.
    MsgMni,
    /// Most semaphores in one set.
    SemMsl,
    /// Most semaphores in the system.
    SemMns,
    /// Most operations in one `semop` call.
    SemOpm,
    /// Most semaphore sets in the system.
    SemMni,
    /// Largest value of a semaphore (fixed at 32767 on Linux).
    SemVmx,
    /// Largest shared-memory segment, in bytes.
    ShmMax,
    /// Most shared memory in the system, in pages.
    ShmAll,
    /// Most shared-memory segments in the system.
    ShmMni,
    /// Smallest shared-memory segment, in bytes (1 on Linux).
    ShmMin,
    /// Largest pipe capacity an unprivileged process may set, in bytes.
    PipeMaxSize,
    /// Default largest number of messages in a new POSIX message queue.
    MqMsgMax,
    /// Default largest message in a new POSIX message queue, in bytes.
    MqMsgSizeMax,
    /// Most POSIX message queues in the system.
    MqQueuesMax,
}

impl Limit {
    /// All limits, in a stable order.
    pub const ALL: [Limit; 16] = [
        Limit::MsgMax,
        Limit::MsgMnb,
        Limit::MsgMni,
        Limit::SemMsl,
        Limit::SemMns,
        Limit::SemOpm,
        Limit::SemMni,
        Limit::SemVmx,
        Limit::ShmMax,
        Limit::ShmAll,
        Limit::ShmMni,
        Limit::ShmMin,
        Limit::PipeMaxSize,
        Limit::MqMsgMax,
        Limit::MqMsgSizeMax,
        Limit::MqQueuesMax,
    ];

    /// The limit's conventional name (`"msgmax"`).
    pub fn name(self) -> &'static str {
        match self {
            Limit::MsgMax => "msgmax",
            Limit::MsgMnb => "msgmnb",
            Limit::MsgMni => "msgmni",
            Limit::SemMsl => "semmsl",
            Limit::SemMns => "semmns",
            Limit::SemOpm => "semopm",
            Limit::SemMni => "semmni",
            Limit::SemVmx => "semvmx",
            Limit::ShmMax => "shmmax",
            Limit::ShmAll => "shmall",
            Limit::ShmMni => "shmmni",
            Limit::ShmMin => "shmmin",
            Limit::PipeMaxSize => "pipe-max-size",
            Limit::MqMsgMax => "mqueue msg_max",
            Limit::MqMsgSizeMax => "mqueue msgsize_max",
            Limit::MqQueuesMax => "mqueue queues_max",
        }
    }

    /// The file that shows and sets the limit, where there is one. The four semaphore
    /// limits share `/proc/sys/kernel/sem`; `semvmx` and `shmmin` are fixed.
    pub fn proc_path(self) -> Option<&'static str> {
        Some(match self {
            Limit::MsgMax => "/proc/sys/kernel/msgmax",
            Limit::MsgMnb => "/proc/sys/kernel/msgmnb",
            Limit::MsgMni => "/proc/sys/kernel/msgmni",
            Limit::SemMsl | Limit::SemMns | Limit::SemOpm | Limit::SemMni => "/proc/sys/kernel/sem",
            Limit::ShmMax => "/proc/sys/kernel/shmmax",
            Limit::ShmAll => "/proc/sys/kernel/shmall",
            Limit::ShmMni => "/proc/sys/kernel/shmmni",
            Limit::PipeMaxSize => "/proc/sys/fs/pipe-max-size",
            Limit::MqMsgMax => "/proc/sys/fs/mqueue/msg_max",
            Limit::MqMsgSizeMax => "/proc/sys/fs/mqueue/msgsize_max",
            Limit::MqQueuesMax => "/proc/sys/fs/mqueue/queues_max",
            Limit::SemVmx | Limit::ShmMin => return None,
        })
    }

    /// The limit's current value, read now; `None` if it cannot be read.
    pub fn current(self) -> Option<u64> {
        match self {
            Limit::SemVmx => return Some(u64::from(sys::sem::SEMVMX)),
            Limit::ShmMin => return Some(1),
            _ => {}
        }
        let path = self.proc_path()?;
        let text = std::fs::read_to_string(path).ok();
        let field = match self {
            Limit::SemMsl => 0,
            Limit::SemMns => 1,
            Limit::SemOpm => 2,
            Limit::SemMni => 3,
            _ => 0,
        };
        if let Some(v) = text.as_deref().and_then(|t| t.split_whitespace().nth(field)?.parse().ok()) {
            return Some(v);
        }
        // /proc not mounted or unreadable: ask the kernel through IPC_INFO.
        match self {
            Limit::MsgMax | Limit::MsgMnb | Limit::MsgMni => {
                let (_, i) = sys::msg::info(false).ok()?;
                Some(match self {
                    Limit::MsgMax => i.msgmax,
                    Limit::MsgMnb => i.msgmnb,
                    _ => i.msgmni,
                } as u64)
            }
            Limit::SemMsl | Limit::SemMns | Limit::SemOpm | Limit::SemMni => {
                let (_, i) = sys::sem::info(false).ok()?;
                Some(match self {
                    Limit::SemMsl => i.semmsl,
                    Limit::SemMns => i.semmns,
                    Limit::SemOpm => i.semopm,
                    _ => i.semmni,
                } as u64)
            }
            Limit::ShmMax | Limit::ShmAll | Limit::ShmMni => {
                let (_, i) = sys::shm::ipc_info().ok()?;
                Some(match self {
                    Limit::ShmMax => i.shmmax,
                    Limit::ShmAll => i.shmall,
                    _ => i.shmmni,
                })
            }
            _ => None,
        }
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every System V limit at once. See [`Limit`] for what each means.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Limits {
    pub msgmax: u64,
    pub msgmnb: u64,
    pub msgmni: u64,
    pub semmsl: u64,
    pub semmns: u64,
    pub semopm: u64,
    pub semmni: u64,
    pub semvmx: u64,
    pub shmmax: u64,
    /// In pages.
    pub shmall: u64,
    pub shmmni: u64,
    pub shmmin: u64,
}

impl Limits {
    /// Reads every System V limit from the kernel's `IPC_INFO` answers alone
    /// (`msgctl`, `semctl`, `shmctl`), ignoring `/proc`. `semvmx` and `shmmin` come from
    /// the same answers.
    pub fn read_ipc_info() -> Result<Limits> {
        let err = |op: &'static str| move |e| Error::sys(op, Object::None, e);
        let (_, m) = sys::msg::info(false).map_err(err("msgctl(IPC_INFO)"))?;
        let (_, s) = sys::sem::info(false).map_err(err("semctl(IPC_INFO)"))?;
        let (_, h) = sys::shm::ipc_info().map_err(err("shmctl(IPC_INFO)"))?;
        let n = |v: i32| u64::try_from(v).unwrap_or(0);
        Ok(Limits {
            msgmax: n(m.msgmax),
            msgmnb: n(m.msgmnb),
            msgmni: n(m.msgmni),
            semmsl: n(s.semmsl),
            semmns: n(s.semmns),
            semopm: n(s.semopm),
            semmni: n(s.semmni),
            semvmx: n(s.semvmx),
            shmmax: h.shmmax,
            shmall: h.shmall,
            shmmni: h.shmmni,
            shmmin: h.shmmin,
        })
    }

    /// Reads every System V limit from `/proc/sys/kernel`, falling back to
    /// `msgctl`/`semctl`/`shmctl(IPC_INFO)` for any file that cannot be read.
    pub fn read() -> Result<Limits> {
        let get = |l: Limit| {
            l.current().ok_or_else(|| {
                Error::new("read limits", Object::Name(l.name().into()), crate::ErrorKind::Other).with_detail(
                    format!(
                        "cannot read {} from {} nor from IPC_INFO",
                        l.name(),
                        l.proc_path().unwrap_or("the kernel")
                    ),
                )
            })
        };
        Ok(Limits {
            msgmax: get(Limit::MsgMax)?,
            msgmnb: get(Limit::MsgMnb)?,
            msgmni: get(Limit::MsgMni)?,
            semmsl: get(Limit::SemMsl)?,
            semmns: get(Limit::SemMns)?,
            semopm: get(Limit::SemOpm)?,
            semmni: get(Limit::SemMni)?,
            semvmx: get(Limit::SemVmx)?,
            shmmax: get(Limit::ShmMax)?,
            shmall: get(Limit::ShmAll)?,
            shmmni: get(Limit::ShmMni)?,
            shmmin: get(Limit::ShmMin)?,
        })
    }
}
