//! The command line, as clap sees it.
//!
//! `ls`, `rm` and `mk` accept util-linux's exact option syntax (`ipcrm shm ID`,
//! `-a`/`--all[=shm]`, abbreviated long options...), which they parse themselves
//! (see `getopt.rs`); they are declared here so that `ipckit --help` lists them.

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  ipckit demo                      every mechanism between real processes, narrated
  ipckit ls                        the same output as ipcs
  ipckit ls --json --stale         leaked objects, as JSON
  ipckit mk -Q -k /tmp/app:1       a message queue whose key is ftok(\"/tmp/app\", 1)
  ipckit send -k /tmp/app:1 hello  send \"hello\" as a type-1 message
  ipckit recv -k /tmp/app:1        receive it
  ipckit rm -Q /tmp/app:1          remove the queue

Installed as a link named ipcs, ipcrm or ipcmk, ipckit behaves as that tool.";

/// Unix IPC from the shell: a drop-in ipcs/ipcrm/ipcmk with JSON, keys, messages,
/// semaphores, shared memory and a guided demo.
#[derive(Parser, Debug)]
#[command(name = "ipckit", version, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    /// List IPC objects: ipcs, plus --json, --posix and --stale (see `ipckit ls --help`)
    #[command(disable_help_flag = true)]
    Ls(Raw),
    /// Remove IPC objects: ipcrm, plus --stale (see `ipckit rm --help`)
    #[command(disable_help_flag = true)]
    Rm(Raw),
    /// Create IPC objects: ipcmk, plus -k KEY and --exclusive (see `ipckit mk --help`)
    #[command(disable_help_flag = true)]
    Mk(Raw),
    /// Print the System V key ftok(PATH, PROJ) makes
    Key(KeyArgs),
    /// Send a message to a System V message queue
    Send(SendArgs),
    /// Receive messages from a System V message queue
    Recv(RecvArgs),
    /// Show or operate on a System V semaphore set
    Sem(SemArgs),
    /// Show, read or write a System V shared-memory segment
    Shm(ShmArgs),
    /// Show every IPC mechanism at work between real processes, step by step
    Demo(DemoArgs),
    /// Measure every IPC mechanism, ipckit's and raw libc, side by side
    #[cfg(feature = "bench")]
    Bench(crate::cmd::bench::BenchArgs),
    /// Carry a local message queue, FIFO or channel to or from a NATS JetStream subject (across hosts)
    Bridge(crate::cmd::bridge::BridgeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(crate::cmd::completions::CompletionsArgs),
    /// Write the man pages into a directory (for packagers).
    #[command(hide = true)]
    Man(crate::cmd::man::ManArgs),
    /// A part the demo plays in a child process (internal).
    #[command(hide = true, name = "__demo-role")]
    DemoRole(Raw),
}

/// Arguments passed through untouched.
#[derive(Args, Debug)]
pub struct Raw {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

/// Which object: by key or by id.
#[derive(Args, Debug, Clone)]
#[group(required = true, multiple = false)]
pub struct Target {
    /// The object's key: 0xHEX, decimal (negative too, as C's signed key_t prints),
    /// or PATH:PROJ (ftok)
    #[arg(short = 'k', long = "key", value_name = "KEY", allow_hyphen_values = true)]
    pub key: Option<String>,
    /// The object's id, as `ipckit ls` shows it
    #[arg(long = "id", value_name = "ID", allow_negative_numbers = true)]
    pub id: Option<i32>,
    /// A POSIX object instead (a message queue, semaphore or shared-memory object)
    #[arg(long = "posix", value_name = "/NAME")]
    pub posix: Option<String>,
}

const KEY_EXAMPLES: &str = "\
Examples:
  ipckit key /etc/passwd 65          0x41xxxxxx, as ftok(\"/etc/passwd\", 65) in C
  ipckit key /etc/passwd A           the same: 'A' is 65
  ipckit key --explain /tmp/app 1    how the key was formed, and why it may collide";

/// Print ftok's key for PATH and PROJ as 0x%08x, identical to C's ftok.
#[derive(Args, Debug)]
#[command(after_help = KEY_EXAMPLES)]
pub struct KeyArgs {
    /// An existing file (symbolic links are followed)
    pub path: std::path::PathBuf,
    /// The project id: 0-255 (decimal or 0x-hex) or one non-digit character
    pub proj: String,
    /// Show the inode, device and project bits the key is made of
    #[arg(long)]
    pub explain: bool,
}

const SEND_EXAMPLES: &str = "\
Examples:
  ipckit send -k /tmp/app:1 hello world         one message \"hello world\", type 1
  ipckit send --id 3 -t 7 < picture.png         stdin as one type-7 message, any bytes
  ipckit send -k 0x1234 --create --nowait ping  create the queue if missing; fail if full
  ipckit send --posix /jobs --priority 5 urgent  to a POSIX queue, priority 5";

/// Send one message: DATA (the arguments joined by single spaces) or, with no DATA,
/// all of stdin, as raw bytes.
#[derive(Args, Debug)]
#[command(after_help = SEND_EXAMPLES)]
pub struct SendArgs {
    #[command(flatten)]
    pub target: Target,
    /// The message type, a positive number
    #[arg(short = 't', long = "type", default_value_t = 1, value_name = "TYPE")]
    pub mtype: i64,
    /// Fail at once if the queue is full, instead of waiting for room
    #[arg(long)]
    pub nowait: bool,
    /// Create the queue (mode 0600) if no queue has the key (or name)
    #[arg(long)]
    pub create: bool,
    /// With --posix: the message's priority (0 to 32767; higher is received first)
    #[arg(long, value_name = "N")]
    pub priority: Option<u32>,
    /// The message; stdin when absent. Once DATA has begun, the rest is DATA; DATA
    /// that starts with '-' goes after `--`
    #[arg(trailing_var_arg = true)]
    pub data: Vec<String>,
}

/// How to print received bytes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The bytes unchanged
    Raw,
    /// A canonical hex dump
    Hex,
    /// One JSON object per message (recv only)
    Json,
}

const RECV_EXAMPLES: &str = "\
Examples:
  ipckit recv -k /tmp/app:1                  the first message, waiting for one
  ipckit recv --id 3 -t 2                    the first message of type 2
  ipckit recv --id 3 -t -5                   the lowest type <= 5 (a priority queue)
  ipckit recv --id 3 --except 1 --all        every message now queued but type 1
  ipckit recv --id 3 -n 3 --timeout 2.5      three messages, waiting 2.5 s at most for each
  ipckit recv --id 3 --nowait --format json  {\"type\":1,\"size\":5,\"encoding\":\"utf-8\",\"body\":\"hello\"}
  ipckit recv --posix /jobs --all            every message of a POSIX queue, highest priority first

Type rules (msgrcv): -t 0 any type, -t N exactly N, -t -N the lowest type <= N,
--except N any type but N.";

/// Receive messages and write their bodies to stdout.
#[derive(Args, Debug)]
#[command(after_help = RECV_EXAMPLES)]
pub struct RecvArgs {
    #[command(flatten)]
    pub target: Target,
    /// 0: any type; N: exactly N; -N: the lowest type <= N
    #[arg(
        short = 't',
        long = "type",
        default_value_t = 0,
        allow_negative_numbers = true,
        value_name = "TYPE"
    )]
    pub mtype: i64,
    /// Any type except this one (MSG_EXCEPT)
    #[arg(long, value_name = "TYPE", conflicts_with = "mtype")]
    pub except: Option<i64>,
    /// Do not wait: fail (exit 1) if no message matches now
    #[arg(long, conflicts_with = "timeout")]
    pub nowait: bool,
    /// Wait at most this many seconds for each message; fail (exit 1) if none came
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<String>,
    /// Cut messages longer than --max-bytes instead of failing (MSG_NOERROR)
    #[arg(long)]
    pub truncate: bool,
    /// The largest body to accept [default: msgmax]
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<usize>,
    /// How many messages to receive
    #[arg(short = 'n', long = "count", default_value_t = 1, value_name = "COUNT", conflicts_with = "all")]
    pub count: usize,
    /// Every matching message now in the queue (no waiting)
    #[arg(long)]
    pub all: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Raw)]
    pub format: Format,
}

const SEM_EXAMPLES: &str = "\
Examples:
  ipckit sem --id 3 show                 every value, with its pid, ncnt and zcnt
  ipckit sem -k /tmp/app:2 set 0 1       semaphore 0 := 1
  ipckit sem -k /tmp/app:2 op 0-1,1+1    take 0 and give 1, atomically (waits)
  ipckit sem --id 3 op --nowait 0-1      fail at once if it would wait
  ipckit sem --id 3 wait 1 --timeout 5   wait until semaphore 1 is zero, 5 s at most
  ipckit sem --posix /lock post          a POSIX named semaphore: post, wait, value, show

Operations: N-D subtracts D (waiting until possible), N+D adds D, N=0 waits for zero;
D is 1-32767 (+0 and -0 are refused: they would wait for zero).";

/// Show or operate on a semaphore set.
#[derive(Args, Debug)]
#[command(after_help = SEM_EXAMPLES)]
pub struct SemArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: SemAction,
}

#[derive(Subcommand, Debug)]
pub enum SemAction {
    /// List every semaphore's value, last pid, ncnt and zcnt
    Show,
    /// With --posix: add one (sem_post)
    Post,
    /// With --posix: print the value (sem_getvalue)
    Value,
    /// Print semaphore N's value
    Get { n: u16 },
    /// Set semaphore N to VALUE (0-32767)
    Set { n: u16, value: u16 },
    /// Apply a list of operations atomically, like 0-1,1+1
    Op {
        ops: String,
        /// Undo the operations when ipckit exits (SEM_UNDO)
        #[arg(long)]
        undo: bool,
        /// Fail at once instead of waiting
        #[arg(long, conflicts_with = "timeout")]
        nowait: bool,
        /// Wait at most this many seconds
        #[arg(long, value_name = "SECS")]
        timeout: Option<String>,
    },
    /// Wait until semaphore N is zero (with --posix: take one unit, waiting while it is 0)
    Wait {
        n: Option<u16>,
        /// Fail at once instead of waiting
        #[arg(long, conflicts_with = "timeout")]
        nowait: bool,
        /// Wait at most this many seconds
        #[arg(long, value_name = "SECS")]
        timeout: Option<String>,
    },
}

const SHM_EXAMPLES: &str = "\
Examples:
  ipckit shm --id 5 show                          size, attachments, pids and times
  ipckit shm --id 5 read --len 64 --format hex    the first 64 bytes, as a hex dump
  echo -n hello | ipckit shm -k /tmp/app:3 write --offset 128
  ipckit shm --posix /frame read --len 16 --format hex   a POSIX object in /dev/shm";

/// Show, read or write a shared-memory segment (bounds checked).
#[derive(Args, Debug)]
#[command(after_help = SHM_EXAMPLES)]
pub struct ShmArgs {
    #[command(flatten)]
    pub target: Target,
    #[command(subcommand)]
    pub action: ShmAction,
}

#[derive(Subcommand, Debug)]
pub enum ShmAction {
    /// Show the segment's status
    Show,
    /// Copy bytes out of the segment to stdout
    Read {
        /// Where to start
        #[arg(long, default_value_t = 0)]
        offset: usize,
        /// How many bytes [default: to the end]
        #[arg(long)]
        len: Option<usize>,
        /// Output format (raw or hex)
        #[arg(long, value_enum, default_value_t = Format::Raw)]
        format: Format,
    },
    /// Copy stdin into the segment
    Write {
        /// Where to start
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
}

const DEMO_EXAMPLES: &str = "\
Examples:
  ipckit demo              every part, in order
  ipckit demo msg          only the message-queue part
  ipckit demo --list       the parts

The demo removes everything it created, also when ended by Ctrl-C, SIGTERM or SIGHUP.";

/// Every mechanism between real processes, narrated step by step with the calls.
#[derive(Args, Debug)]
#[command(after_help = DEMO_EXAMPLES)]
pub struct DemoArgs {
    /// Run only this part
    #[arg(value_enum)]
    pub part: Option<crate::cmd::demo::Part>,
    /// List the parts
    #[arg(long)]
    pub list: bool,
    /// How many processes share the counter in the shm part
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub workers: u32,
    /// In the ls part, keep the objects until Ctrl-C, to look at them from elsewhere
    #[arg(long)]
    pub hold: bool,
}
