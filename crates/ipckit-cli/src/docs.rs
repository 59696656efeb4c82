//! The whole command line as clap describes it, for shell completions and man pages.
//!
//! `ls`, `rm` and `mk` parse util-linux's syntax by hand (`getopt.rs`), so clap sees
//! them as opaque argument lists. Here each gets a clap description of its options,
//! used only to document them (`ipckit completions`, `ipckit man`); parsing stays in
//! `cmd/ls.rs`, `cmd/rm.rs` and `cmd/mk.rs`. An option added there is added here too;
//! `tests/bench_demo/completions_man.rs` checks that every long option of each tool's `--help`
//! appears in its man page.

use clap::{Arg, ArgAction, Command, CommandFactory};

use crate::cli::Cli;

/// `ipckit`'s clap command with `ls`, `rm` and `mk` described option by option, and
/// without the hidden internal subcommands (which completions would offer otherwise).
pub fn command() -> Command {
    let full = Cli::command()
        .mut_subcommand("ls", |_| ls())
        .mut_subcommand("rm", |_| rm())
        .mut_subcommand("mk", |_| mk());
    let visible: Vec<Command> = full.get_subcommands().filter(|s| !s.is_hide_set()).cloned().collect();
    let mut root = Command::new("ipckit")
        .version(env!("CARGO_PKG_VERSION"))
        .propagate_version(true)
        .subcommand_required(true)
        .subcommands(visible);
    if let Some(about) = full.get_about() {
        root = root.about(about.clone());
    }
    if let Some(long) = full.get_long_about() {
        root = root.long_about(long.clone());
    }
    if let Some(after) = full.get_after_help() {
        root = root.after_help(after.clone());
    }
    root
}

/// A flag: `-s, --long`, or only `--long` when `short` is `None`.
fn flag(long: &'static str, short: Option<char>, help: &'static str) -> Arg {
    Arg::new(long).long(long).short(short).action(ArgAction::SetTrue).help(help)
}

/// An option with a value.
fn opt(long: &'static str, short: Option<char>, value: &'static str, help: &'static str) -> Arg {
    Arg::new(long).long(long).short(short).value_name(value).action(ArgAction::Append).help(help)
}

fn ls() -> Command {
    Command::new("ls")
        .about("List IPC objects: ipcs, plus --json, --posix and --stale")
        .long_about(
            "Show information on IPC facilities, exactly as util-linux ipcs does \
             (the same options, output and exit status), plus JSON, POSIX objects and \
             leaked objects. Installed as a link named ipcs, ipckit behaves as ipcs.",
        )
        .args([
            opt("id", Some('i'), "ID", "Print details on the resource identified by ID"),
            flag("shmems", Some('m'), "Shared memory segments"),
            flag("queues", Some('q'), "Message queues"),
            flag("semaphores", Some('s'), "Semaphore sets"),
            flag("all", Some('a'), "All three (the default)"),
            flag("time", Some('t'), "Show attach, detach and change times"),
            flag("pid", Some('p'), "Show the PIDs of the creator and the last operator"),
            flag("creator", Some('c'), "Show creator and owner"),
            flag("limits", Some('l'), "Show resource limits"),
            flag("summary", Some('u'), "Show a status summary"),
            flag("human", None, "Show sizes in human-readable format"),
            flag("bytes", Some('b'), "Show sizes in bytes"),
            flag("json", None, "One JSON document with every field of every object (with -l the limits, with -u the summary)"),
            flag("posix", None, "Also list POSIX shared memory, named semaphores and message queues"),
            flag("stale", None, "Only the objects no live process uses any more, with the reason"),
            flag("sockets", None, "The Unix sockets instead (/proc/net/unix), with their owners"),
            flag("channels", None, "The ipckit channels instead (named, System V, memfd): kind, sizes, message counts, the pids of their ends (with --stale: only those whose every end is gone)"),
        ])
}

fn rm() -> Command {
    Command::new("rm")
        .about("Remove IPC objects: ipcrm, plus --stale")
        .long_about(
            "Remove IPC resources, exactly as util-linux ipcrm does (options act as they \
             are parsed; the old form `rm shm|msg|sem ID...` works too), plus --stale. Keys \
             are hexadecimal (0x...), octal (0...), decimal, or PATH:PROJ for ftok. \
             Installed as a link named ipcrm, ipckit behaves as ipcrm.",
        )
        .args([
            opt("shmem-id", Some('m'), "ID", "Remove the shared memory segment by id"),
            opt("shmem-key", Some('M'), "KEY", "Remove the shared memory segment by key"),
            opt("queue-id", Some('q'), "ID", "Remove the message queue by id"),
            opt("queue-key", Some('Q'), "KEY", "Remove the message queue by key"),
            opt("semaphore-id", Some('s'), "ID", "Remove the semaphore set by id"),
            opt("semaphore-key", Some('S'), "KEY", "Remove the semaphore set by key"),
            Arg::new("all")
                .long("all")
                .short('a')
                .value_name("shm|msg|sem")
                .num_args(0..=1)
                .require_equals(true)
                .value_parser(["shm", "msg", "sem", "pshm", "pmsg", "psem"])
                .help("Remove all (in the given category)"),
            flag("verbose", Some('v'), "Explain what is being done"),
            flag("stale", None, "Remove what `ipckit ls --stale` shows, with the named and System V ipckit channels whose every end is gone"),
            flag("dry-run", None, "With --stale: only say what would be removed"),
            opt("posix-shmem", None, "NAME", "Remove the POSIX shared memory object NAME"),
            opt("posix-mqueue", None, "NAME", "Remove the POSIX message queue NAME"),
            opt("posix-semaphore", None, "NAME", "Remove the POSIX named semaphore NAME"),
            flag("posix", None, "With --stale: also POSIX objects no live process maps or holds open"),
            Arg::new("old-form")
                .value_name("shm|msg|sem ID")
                .num_args(0..)
                .help("The old form: a kind, then ids"),
        ])
}

fn mk() -> Command {
    Command::new("mk")
        .about("Create IPC objects: ipcmk, plus -k KEY and --exclusive")
        .long_about(
            "Create IPC resources as util-linux ipcmk does, printing the same lines, plus \
             a chosen key and exclusive creation. The default mode is 0600. Sizes may end \
             in K, M, G, T, P or E (KiB...; KB, MB... are powers of 1000). Installed as a \
             link named ipcmk, ipckit behaves as ipcmk.",
        )
        .args([
            opt("shmem", Some('M'), "SIZE", "Create a shared memory segment of SIZE bytes"),
            opt("semaphore", Some('S'), "NUMBER", "Create a semaphore set of NUMBER elements"),
            flag("queue", Some('Q'), "Create a message queue"),
            opt(
                "posix-shmem",
                Some('m'),
                "SIZE",
                "Create a POSIX shared memory object of SIZE bytes (needs --name)",
            ),
            flag("posix-mqueue", Some('q'), "Create a POSIX message queue (needs --name)"),
            flag("posix-semaphore", Some('s'), "Create a POSIX named semaphore (needs --name)"),
            opt("name", Some('n'), "NAME", "The name of the POSIX object to create"),
            opt("mode", Some('p'), "MODE", "Permissions of the resource (default 0600)"),
            opt(
                "key",
                Some('k'),
                "KEY",
                "Use this key (0xHEX, decimal, or PATH:PROJ for ftok) instead of a random one",
            ),
            flag("exclusive", None, "With -k: fail if an object already has the key"),
        ])
}
