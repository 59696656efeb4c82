//! The options of `ipckit ls` (and of `ipcs`): util-linux's short and long names,
//! the help text, and what they select (`Opts`: which kinds, which format, which
//! unit, and ipckit's own `--json`, `--posix`, `--stale`).
//!
//! `getopt` parses them the way util-linux does, so `ipcs` scripts keep working.

use crate::Ctx;
use crate::getopt::{HasArg, Spec};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Flag {
    Id,
    Queues,
    Shmems,
    Semaphores,
    All,
    Time,
    Pid,
    Creator,
    Limits,
    Summary,
    Human,
    Bytes,
    Version,
    Help,
    Json,
    Posix,
    Stale,
    Sockets,
    Channels,
}

pub(super) const OPTIONS: &[Spec<Flag>] = &[
    Spec::both('i', "id", HasArg::Required, Flag::Id),
    Spec::both('q', "queues", HasArg::No, Flag::Queues),
    Spec::both('m', "shmems", HasArg::No, Flag::Shmems),
    Spec::both('s', "semaphores", HasArg::No, Flag::Semaphores),
    Spec::both('a', "all", HasArg::No, Flag::All),
    Spec::both('t', "time", HasArg::No, Flag::Time),
    Spec::both('p', "pid", HasArg::No, Flag::Pid),
    Spec::both('c', "creator", HasArg::No, Flag::Creator),
    Spec::both('l', "limits", HasArg::No, Flag::Limits),
    Spec::both('u', "summary", HasArg::No, Flag::Summary),
    Spec::long("human", HasArg::No, Flag::Human),
    Spec::both('b', "bytes", HasArg::No, Flag::Bytes),
    Spec::both('V', "version", HasArg::No, Flag::Version),
    Spec::both('h', "help", HasArg::No, Flag::Help),
    Spec::long("json", HasArg::No, Flag::Json),
    Spec::long("posix", HasArg::No, Flag::Posix),
    Spec::long("stale", HasArg::No, Flag::Stale),
    Spec::long("sockets", HasArg::No, Flag::Sockets),
    Spec::long("channels", HasArg::No, Flag::Channels),
];

pub(super) fn help(ctx: &Ctx) -> String {
    let c = &ctx.cmd;
    format!(
        "
Usage:
 {c} [resource-option...] [output-option]
 {c} -m|-q|-s -i <id>

Show information on IPC facilities, exactly as util-linux ipcs does.

Options:
 -i, --id <id>  print details on resource identified by <id>
 -h, --help     display this help
 -V, --version  display version

Resource options:
 -m, --shmems      shared memory segments
 -q, --queues      message queues
 -s, --semaphores  semaphores
 -a, --all         all (default)

Output options:
 -t, --time        show attach, detach and change times
 -p, --pid         show PIDs of creator and last operator
 -c, --creator     show creator and owner
 -l, --limits      show resource limits
 -u, --summary     show status summary
     --human       show sizes in human-readable format
 -b, --bytes       show sizes in bytes

ipckit options:
     --json        one JSON document with every field of every object
                   (and the limits with -l, the summary with -u)
     --posix       also list POSIX shared memory, semaphores and message queues
     --stale       only the objects no live process uses any more, with the reason
                   (with --posix: also POSIX objects no process maps or holds open)
     --sockets     the Unix sockets instead (/proc/net/unix), with their owners
     --channels    the ipckit channels instead (named, System V, memfd): kind,
                   place, sizes, message counts, and the pids of their ends
                   (with --stale: only those whose every end is gone)

Examples:
 {c}                    queues, segments and semaphore sets, as ipcs
 {c} -m -t              segments with their attach/detach/change times
 {c} -q -i 3            details of queue 3
 {c} --json -l          everything and the limits, as JSON
 {c} --stale            leaked objects, and why they look leaked
 {c} --channels --json  every ipckit channel, as JSON
"
    )
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum Format {
    Default,
    Limits,
    Status,
    Creator,
    Time,
    Pid,
}

#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(super) enum Unit {
    Default,
    Bytes,
    Kb,
    Human,
}

pub(super) struct Opts {
    pub(super) msg: bool,
    pub(super) shm: bool,
    pub(super) sem: bool,
    pub(super) id: Option<i32>,
    pub(super) format: Format,
    pub(super) unit: Unit,
    pub(super) json: bool,
    pub(super) posix: bool,
    pub(super) stale: bool,
}
