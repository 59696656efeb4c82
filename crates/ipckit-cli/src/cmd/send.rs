//! `ipckit send`: one message, from the arguments or from stdin, as raw bytes.

use std::io::Read;
use std::process::ExitCode;

use ipckit::sysv::msg::MsgQueue;
use ipckit::{Mode, Wait};

use super::Which;
use crate::cli::SendArgs;
use crate::{Fail, Res};

/// The queue named by `-k`/`--id`; with `create`, made (mode 0600) if missing.
pub fn open_queue(which: Which, create: bool) -> Result<MsgQueue, Fail> {
    Ok(match which {
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
        let mut v = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut v)
            .map_err(|e| Fail::Msg(format!("cannot read stdin: {e}")))?;
        v
    } else {
        a.data.join(" ").into_bytes()
    };
    let wait = if a.nowait { Wait::NoWait } else { Wait::Block };
    if crate::util::not_now(q.send_with(&data, a.mtype, wait))?.is_none() {
        return Err(Fail::Msg(format!(
            "msgsnd(id {}): the queue is full; nothing was sent (--nowait)",
            q.id()
        )));
    }
    Ok(ExitCode::SUCCESS)
}
