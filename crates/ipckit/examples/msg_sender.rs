//! The Rust twin of the classic C `snder.c`: the active side, which sends to a queue the receiver made.
//!
//! ```text
//! msg_sender PATH PROJ NAME MATH CHINESE
//! ```
//!
//! Opens the existing queue whose key is `ftok(PATH, PROJ)` and sends one
//! `struct msg_st` (see `common/proto.rs`) with `mtype` 1.

#[path = "common/proto.rs"]
#[allow(dead_code)]
mod proto;

use std::process::ExitCode;

use ipckit::sysv::msg::MsgQueue;
use ipckit::{Key, Wait};
use proto::{MsgSt, NAMESIZE};

fn run(path: &str, proj: &str, name: &str, math: &str, chinese: &str) -> Result<(), String> {
    let proj = proto::parse_proj(proj)?;
    let math: i32 = math.parse().map_err(|_| format!("MATH must be an integer, not {math:?}"))?;
    let chinese: i32 = chinese.parse().map_err(|_| format!("CHINESE must be an integer, not {chinese:?}"))?;
    // The name must leave room for C's terminating NUL.
    if name.len() >= NAMESIZE || name.as_bytes().contains(&0) {
        return Err(format!(
            "NAME must be at most {} bytes without NUL, got {} bytes",
            NAMESIZE - 1,
            name.len()
        ));
    }
    let mut msg = MsgSt { name: [0; NAMESIZE], math, chinese };
    msg.name[..name.len()].copy_from_slice(name.as_bytes());

    let key = Key::ftok(path, proj).map_err(|e| e.to_string())?;
    // msgget(key, 0): the receiver created it.
    let queue = MsgQueue::open(key).map_err(|e| e.to_string())?;
    // msgsnd(id, &msg, sizeof(msg) - sizeof(long), 0) with mtype 1.
    queue.send_pod(&msg, 1, Wait::Block).map_err(|e| e.to_string())?;
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, proj, name, math, chinese] = args.as_slice() else {
        eprintln!("usage: msg_sender PATH PROJ NAME MATH CHINESE");
        return ExitCode::from(2);
    };
    match run(path, proj, name, math, chinese) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("msg_sender: {e}");
            ExitCode::FAILURE
        }
    }
}
