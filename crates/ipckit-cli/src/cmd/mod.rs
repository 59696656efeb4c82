//! The subcommands, one file each.

#[cfg(feature = "bench")]
pub mod bench;
pub mod bridge;
pub mod completions;
pub mod demo;
pub mod demo_channel;
pub mod key;
pub mod ls;
pub mod ls_sockets;
pub mod man;
pub mod mk;
pub mod posix_ls;
pub mod posix_mk;
pub mod posix_msg;
pub mod posix_rm;
pub mod posix_sem;
pub mod posix_shm;
pub mod recv;
pub mod rm;
pub mod sem;
pub mod send;
pub mod shm;

use ipckit::{Key, KeySpec};

use crate::cli::{Cli, Cmd, Target};
use crate::{Fail, Res};

/// Runs a subcommand parsed by clap.
pub fn dispatch(cli: Cli) -> Res {
    match cli.cmd {
        // Reached only when `ls`/`rm`/`mk` is not the first argument (after a global
        // option): parse their own syntax all the same.
        Cmd::Ls(raw) => ls::run(&sub("ls"), &raw.args),
        Cmd::Rm(raw) => rm::run(&sub("rm"), &raw.args),
        Cmd::Mk(raw) => mk::run(&sub("mk"), &raw.args),
        Cmd::Key(a) => key::run(a),
        // `--posix /NAME`: the POSIX object of the same kind.
        Cmd::Send(a) if a.target.posix.is_some() => posix_msg::send(a),
        Cmd::Recv(a) if a.target.posix.is_some() => posix_msg::recv(a),
        Cmd::Sem(a) if a.target.posix.is_some() => posix_sem::run(a),
        Cmd::Shm(a) if a.target.posix.is_some() => posix_shm::run(a),
        Cmd::Send(a) => send::run(a),
        Cmd::Recv(a) => recv::run(a),
        Cmd::Sem(a) => sem::run(a),
        Cmd::Shm(a) => shm::run(a),
        Cmd::Demo(a) => demo::run(a),
        #[cfg(feature = "bench")]
        Cmd::Bench(a) => bench::run(a),
        Cmd::Bridge(a) => bridge::run(a),
        Cmd::Completions(a) => completions::run(a),
        Cmd::Man(a) => man::run(a),
        Cmd::DemoRole(raw) => demo::role(&raw.args),
    }
}

fn sub(name: &str) -> crate::Ctx {
    crate::Ctx { prog: "ipckit".into(), cmd: format!("ipckit {name}") }
}

/// Parses a key in any ipckit form (`0x1234`, `4660`, `PATH:PROJ`) and resolves it
/// (`ftok` for `PATH:PROJ`).
pub fn parse_key(text: &str) -> Result<Key, Fail> {
    Ok(text.parse::<KeySpec>()?.resolve()?)
}

/// A key or an id, from `-k`/`--id`.
#[derive(Copy, Clone, Debug)]
pub enum Which {
    Key(Key),
    Id(i32),
}

impl Which {
    pub fn from(target: &Target) -> Result<Which, Fail> {
        match (&target.key, target.id) {
            (Some(k), _) => Ok(Which::Key(parse_key(k)?)),
            (None, Some(id)) => Ok(Which::Id(id)),
            (None, None) => Err(Fail::Usage("give the object's key (-k KEY) or id (--id ID)".into())),
        }
    }
}
