//! `ipckit send`: one message, from the arguments or from stdin, as raw bytes.

use std::process::ExitCode;

use ipckit::NotNow;
use ipckit::limits::Limit;
use ipckit::sysv::msg::MsgQueue;
use ipckit::{Mode, Wait};

use super::Which;
use crate::cli::SendArgs;
use crate::{Fail, Res, util};

/// The queue named by `-k`/`--id`; with `create`, made (mode 0600) if missing.
pub fn open_queue(which: Which, create: bool) -> Result<MsgQueue, Fail> {
    Ok(match which {
        // IPC_PRIVATE with IPC_CREAT makes a new queue on every call, and its id would
        // be printed nowhere: a leak each time.
        Which::Key(k) if create && k.is_private() => {
            return Err(Fail::Usage(format!(
                "--create with key {k} (IPC_PRIVATE) would make a new queue that nobody can find; \
                 give another key, or make a private queue with `ipckit mk -Q -k 0` and use its --id"
            )));
        }
        Which::Key(k) if create => MsgQueue::open_or_create(k, Mode::OWNER_RW)?,
        Which::Key(k) => MsgQueue::open(k)?,
        Which::Id(_) if create => {
            return Err(Fail::Usage("--create needs a key (-k KEY): a queue is created for a key".into()));
        }
        Which::Id(id) => MsgQueue::from_id(id)?,
    })
}

pub fn run(a: SendArgs) -> Res {
    let q = open_queue(Which::from(&a.target)?, a.create)?;
    let data = if a.data.is_empty() {
        // Read no more than one message can hold: `send < /dev/zero` must end.
        let max = Limit::MsgMax.current().unwrap_or(8192);
        match util::read_at_most(&mut util::stdin_file()?, max)? {
            Ok(data) => data,
            Err(max) => {
                return Err(Fail::Msg(format!(
                    "stdin holds more than {max} bytes, the largest message the kernel takes \
                     (msgmax, /proc/sys/kernel/msgmax); nothing was sent"
                )));
            }
        }
    } else {
        a.data.join(" ").into_bytes()
    };
    let wait = if a.nowait { Wait::NoWait } else { Wait::Block };
    if q.send_with(&data, a.mtype, wait).now()?.is_none() {
        return Err(Fail::Msg(format!(
            "msgsnd(id {}): the queue is full; nothing was sent (--nowait)",
            q.id()
        )));
    }
    Ok(ExitCode::SUCCESS)
}
