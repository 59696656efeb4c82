//! The Rust twin of the classic C `rcver.c`: the passive side, which receives first.
//!
//! ```text
//! msg_receiver PATH PROJ
//! ```
//!
//! Opens (or creates, mode 0600) the message queue whose key is `ftok(PATH, PROJ)`,
//! waits for one `struct msg_st` (see `common/proto.rs`), prints it as
//! `name=NAME math=M chinese=C`, and exits 0. If it created the queue, it removes it
//! when done (like the C `msgctl(id, IPC_RMID, NULL)`); a queue that existed before is
//! left alone.

#[path = "common/proto.rs"]
#[allow(dead_code)]
mod proto;

use std::io::Write;
use std::process::ExitCode;

use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::{Key, Mode, Wait};
use proto::MsgSt;

fn run(path: &str, proj: &str) -> Result<(), String> {
    let proj = proto::parse_proj(proj)?;
    // key = ftok(PATH, PROJ): the sender computes the same key from the same file.
    let key = Key::ftok(path, proj).map_err(|e| e.to_string())?;
    // msgget(key, IPC_CREAT | 0600)
    let mut queue = MsgQueue::open_or_create(key, Mode::OWNER_RW).map_err(|e| e.to_string())?;
    if queue.created() {
        // The creator cleans up: IPC_RMID when `queue` goes out of scope.
        queue.set_remove_on_drop(true).map_err(|e| e.to_string())?;
    }
    // msgrcv(id, &buf, sizeof(buf) - sizeof(long), 0, 0): any type, waiting.
    let (_mtype, msg): (i64, MsgSt) = queue.recv_pod(Select::Any, Wait::Block).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    out.write_all(b"name=").and_then(|_| out.write_all(msg.name_bytes())).map_err(|e| e.to_string())?;
    writeln!(out, " math={} chinese={}", msg.math, msg.chinese).map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, proj] = args.as_slice() else {
        eprintln!("usage: msg_receiver PATH PROJ");
        return ExitCode::from(2);
    };
    match run(path, proj) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msg_receiver: {e}");
            ExitCode::FAILURE
        }
    }
}
