//! `ipckit demo`: every mechanism of Unix IPC at work between real processes,
//! narrated with the calls involved.
//!
//! It stays one file (~690 lines) because it is the demo's script, read top to bottom
//! in the order it runs; its larger parts (sockets, the bridge) already live in files
//! of their own.
//!
//! The other processes are this same binary started again with the hidden
//! subcommand `__demo-role ROLE ...`: real, separate processes, some of them not
//! related to the process that made the object they use (they find it by a key or a
//! path). Everything the demo makes is recorded in a registry; a handler of SIGINT,
//! SIGTERM and SIGHUP stops the helper processes and removes every object and file still recorded, and
//! each part also removes its objects itself (handles remove on drop), so the demo
//! leaves nothing behind, whichever way it ends.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use ipckit::NotNow;
use ipckit::process::{self, Signal};
use ipckit::sysv::msg::{MsgQueue, Select};
use ipckit::sysv::sem::SemSet;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{Key, Mode, Wait};

use crate::cli::DemoArgs;
use crate::{Fail, Res};

/// The parts, in order. Each doc comment's first line is the part's description, in
/// `--help`, `--list` and its title; clap checks the names.
#[derive(clap::ValueEnum, Copy, Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// a pipe from parent to child: pipe(), fork+exec, write(), read() until EOF
    Pipe,
    /// two pipes make a duplex channel: the child answers each line
    Duplex,
    /// a FIFO (named pipe) between two unrelated processes: mkfifo(), open()
    Fifo,
    /// a message queue found through an ftok key: msgsnd(), msgrcv() by type
    Msg,
    /// a shared-memory counter, protected by a semaphore, across several processes
    Shm,
    /// what the objects look like to `ipckit ls` (ipcs), then their removal
    Ls,
    /// the shared-memory channel: publish/subscribe and request/response between processes
    Channel,
    /// a Unix socket between unrelated processes: credentials, a pipe end and a memfd channel passed
    Socket,
    /// across the network: C struct messages over TCP, then two hosts' queues joined through NATS by `ipckit bridge`
    Net,
}

impl Part {
    /// The name and the description.
    fn describe(self) -> (String, String) {
        use clap::ValueEnum;
        let pv = self.to_possible_value().expect("no part is skipped");
        (pv.get_name().to_string(), pv.get_help().map(|h| h.to_string()).unwrap_or_default())
    }
}

#[path = "demo_socket.rs"]
mod socket;

#[path = "demo_bridge.rs"]
mod bridge_part;

// ----- the registry of what to remove on SIGINT, SIGTERM or SIGHUP ------------------

#[derive(Debug, Clone, PartialEq)]
enum Item {
    Pid(u32),
    Msg(i32),
    Sem(i32),
    Shm(i32),
    Dir(PathBuf),
}

static MADE: Mutex<Vec<Item>> = Mutex::new(Vec::new());

/// Set (under `MADE`'s lock) once a signal's clean-up has begun: anything made after
/// that is removed as soon as it is recorded, and the demo ends.
static STOPPING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Records `item` until the guard is dropped (by then the part has removed it).
struct Made(Item);

fn made(item: Item) -> Made {
    let mut v = MADE.lock().unwrap_or_else(|e| e.into_inner());
    if STOPPING.load(std::sync::atomic::Ordering::SeqCst) {
        // Made while the signal handler was cleaning up: it would be missed.
        remove_item(&item);
        if let Item::Pid(p) = item {
            let _ = process::kill(p, Signal::Kill);
        }
        drop(v);
        std::process::exit(130);
    }
    v.push(item.clone());
    Made(item)
}

impl Drop for Made {
    fn drop(&mut self) {
        let mut v = MADE.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = v.iter().position(|x| *x == self.0) {
            v.remove(i);
        }
    }
}

/// Stops every helper process and removes every object still recorded. Returns how
/// many things it cleaned up.
fn clean_up_everything() -> usize {
    let items = std::mem::take(&mut *MADE.lock().unwrap_or_else(|e| e.into_inner()));
    clean_up(items)
}

/// Removes one recorded object or directory; whether it was there to remove.
fn remove_item(item: &Item) -> bool {
    match item {
        Item::Msg(id) => MsgQueue::from_id(*id).and_then(MsgQueue::remove).is_ok(),
        Item::Sem(id) => SemSet::from_id(*id).and_then(SemSet::remove).is_ok(),
        Item::Shm(id) => ShmSegment::from_id(*id).and_then(ShmSegment::remove).is_ok(),
        Item::Dir(d) => std::fs::remove_dir_all(d).is_ok(),
        Item::Pid(_) => false,
    }
}

/// The signal handler's clean-up: from now on nothing new is recorded (see [`made`]).
fn clean_up_for_signal() -> usize {
    let items = {
        let mut v = MADE.lock().unwrap_or_else(|e| e.into_inner());
        STOPPING.store(true, std::sync::atomic::Ordering::SeqCst);
        std::mem::take(&mut *v)
    };
    clean_up(items)
}

fn clean_up(items: Vec<Item>) -> usize {
    let mut n = 0;
    // Processes first, so that none is left using an object.
    for item in &items {
        if let Item::Pid(p) = item {
            let _ = process::kill(*p, Signal::Kill);
            n += 1;
        }
    }
    for item in &items {
        n += usize::from(remove_item(item));
    }
    n
}

// ----- narration --------------------------------------------------------------------

/// Prints one narrated line, flushed at once (helper processes share the output).
pub(super) fn say(who: &str, text: impl std::fmt::Display) -> Result<(), Fail> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "  [{who} {}] {text}", process::current_pid())?;
    out.flush()?;
    Ok(())
}

fn title(n: usize, part: Part) -> Result<(), Fail> {
    let (name, desc) = part.describe();
    let mut out = std::io::stdout().lock();
    writeln!(out, "\n== {n}. {name}: {desc}")?;
    out.flush()?;
    Ok(())
}

/// This binary, to start helper processes.
fn me() -> Result<PathBuf, Fail> {
    std::env::current_exe()
        .map_err(|e| Fail::Msg(format!("cannot find the ipckit binary to start helpers: {e}")))
}

/// A helper process, killed and reaped if the part ends before it does.
pub(super) struct Kid {
    child: Child,
    _made: Made,
}

impl Kid {
    /// The command that starts this binary in a helper role.
    fn command(role: &str, args: &[String]) -> Result<Command, Fail> {
        let mut cmd = Command::new(me()?);
        cmd.arg("__demo-role").arg(role).args(args);
        Ok(cmd)
    }

    pub(super) fn start(role: &str, args: &[String], stdin: Stdio, stdout: Stdio) -> Result<Kid, Fail> {
        let child = Kid::command(role, args)?
            .stdin(stdin)
            .stdout(stdout)
            .spawn()
            .map_err(|e| Fail::Msg(format!("cannot start the {role} helper: {e}")))?;
        Ok(Kid::adopt(child))
    }

    /// Records a helper started some other way.
    fn adopt(child: Child) -> Kid {
        let pid = child.id();
        Kid { child, _made: made(Item::Pid(pid)) }
    }

    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the helper and checks that it succeeded.
    pub(super) fn finish(mut self, what: &str) -> Result<(), Fail> {
        let status = self.child.wait().map_err(|e| Fail::Msg(format!("waiting for the {what}: {e}")))?;
        if !status.success() {
            return Err(Fail::Msg(format!("the {what} (pid {}) failed: {status}", self.child.id())));
        }
        Ok(())
    }
}

impl Drop for Kid {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A private temporary directory, recorded for Ctrl-C.
fn temp_dir() -> Result<(tempfile::TempDir, Made), Fail> {
    let dir = tempfile::Builder::new()
        .prefix("ipckit-demo-")
        .tempdir()
        .map_err(|e| Fail::Msg(format!("cannot make a temporary directory: {e}")))?;
    let m = made(Item::Dir(dir.path().to_path_buf()));
    Ok((dir, m))
}

// ----- the parts ------------------------------------------------------------------

fn part_pipe() -> Result<(), Fail> {
    say("parent", "pipe(fds): the kernel makes a one-way channel, fds[0] to read, fds[1] to write")?;
    let mut cmd = Kid::command("pipe-reader", &[])?;
    let (child, mut w) = ipckit::pipe::spawn_to_child(&mut cmd)?;
    let kid = Kid::adopt(child);
    say(
        "parent",
        format!("fork()+exec(): child {} reads the pipe as its stdin; the parent closes fds[0]", kid.pid()),
    )?;
    let msg = b"hello world\n";
    w.write_all(msg)?;
    say("parent", format!("write(fds[1], \"hello world\\n\", {}) = {}", msg.len(), msg.len()))?;
    w.close()?;
    say("parent", "close(fds[1]): the last writer is gone, so the reader will see end-of-file")?;
    kid.finish("pipe reader")?;
    say("parent", "waitpid(child): done")
}

fn part_duplex() -> Result<(), Fail> {
    say("parent", "pipe(down) and pipe(up): two one-way pipes, one for each direction")?;
    let mut cmd = Kid::command("duplex-echo", &[])?;
    let (child, chan) = ipckit::pipe::spawn_duplex(&mut cmd)?;
    let kid = Kid::adopt(child);
    say(
        "parent",
        format!("fork()+exec(): child {} reads `down` as stdin and writes `up` as stdout", kid.pid()),
    )?;
    let (up, mut down) = chan.into_parts();
    let mut up = BufReader::new(up);
    for line in ["ping", "hello from the parent", "bye"] {
        writeln!(down, "{line}")?;
        say("parent", format!("write(down, \"{line}\\n\")"))?;
        let mut reply = String::new();
        up.read_line(&mut reply)?;
        say(
            "parent",
            format!("read(up) = \"{}\\n\"  (the child answered on the other pipe)", reply.trim_end()),
        )?;
    }
    down.close()?;
    say("parent", "close(down): the child sees end-of-file and exits")?;
    kid.finish("duplex child")
}

fn part_fifo() -> Result<(), Fail> {
    let (dir, _made_dir) = temp_dir()?;
    let path = dir.path().join("fifo");
    let fifo = ipckit::fifo::Fifo::create(&path, Mode::OWNER_RW)?;
    say("parent", format!("mkfifo(\"{}\", 0600): a pipe with a name in the file system", path.display()))?;
    let p = path.display().to_string();
    let reader = Kid::start("fifo-reader", std::slice::from_ref(&p), Stdio::null(), Stdio::inherit())?;
    let writer = Kid::start("fifo-writer", &[p], Stdio::null(), Stdio::inherit())?;
    say(
        "parent",
        format!(
            "started reader {} and writer {}: neither is the other's parent; they share only the path",
            reader.pid(),
            writer.pid()
        ),
    )?;
    writer.finish("FIFO writer")?;
    reader.finish("FIFO reader")?;
    fifo.remove()?;
    say("parent", format!("unlink(\"{}\")", path.display()))
}

/// The record of the examples' `proto.h`: a name and two scores, sent byte for byte.
#[derive(Copy, Clone, ipckit::bytemuck::Pod, ipckit::bytemuck::Zeroable)]
#[bytemuck(crate = "ipckit::bytemuck")]
#[repr(C)]
struct Score {
    name: [u8; 32],
    math: i32,
    chinese: i32,
}

fn part_msg() -> Result<(), Fail> {
    let (dir, _made_dir) = temp_dir()?;
    let anchor = dir.path().join("proto");
    std::fs::write(&anchor, b"both sides agree on this file\n")?;
    let parts = Key::ftok_parts(&anchor, b'q')?;
    say(
        "receiver",
        format!(
            "ftok(\"{}\", 'q') = {}  (project 0x71, device 0x{:02x}, inode 0x{:04x})",
            anchor.display(),
            parts.key,
            parts.dev & 0xff,
            parts.ino & 0xffff
        ),
    )?;
    let mut q = MsgQueue::create(parts.key, Mode::OWNER_RW)?;
    let _made_q = made(Item::Msg(q.id()));
    q.set_remove_on_drop(true)?;
    say(
        "receiver",
        format!(
            "msgget({}, IPC_CREAT|IPC_EXCL|0600) = {}  (the passive side creates the queue)",
            parts.key,
            q.id()
        ),
    )?;
    let sender = Kid::start("msg-sender", &[anchor.display().to_string()], Stdio::null(), Stdio::inherit())?;
    sender.finish("sender")?;
    let st = q.stat()?;
    say(
        "receiver",
        format!("the sender has exited; its {} messages ({} bytes) wait in the kernel", st.qnum, st.cbytes),
    )?;

    let (t, s): (i64, Score) = q
        .recv_pod(Select::Type(2), Wait::NoWait)
        .now()?
        .ok_or_else(|| Fail::Msg("the score record is missing".into()))?;
    let name = String::from_utf8_lossy(&s.name).trim_end_matches('\0').to_string();
    say(
        "receiver",
        format!(
            "msgrcv(id, &rec, sizeof rec - sizeof(long), 2, 0): exactly type 2 -> type {t}: {name} math {} chinese {}",
            s.math, s.chinese
        ),
    )?;
    let show =
        |m: ipckit::sysv::msg::Message| format!("type {} \"{}\"", m.mtype, String::from_utf8_lossy(&m.data));
    let m = q
        .recv_vec(Select::UpTo(3), Wait::NoWait)
        .now()?
        .ok_or_else(|| Fail::Msg("message missing".into()))?;
    say("receiver", format!("msgrcv(..., -3, 0): the lowest type <= 3 -> {}", show(m)))?;
    let m =
        q.recv_vec(Select::Any, Wait::NoWait).now()?.ok_or_else(|| Fail::Msg("message missing".into()))?;
    say("receiver", format!("msgrcv(..., 0, 0): the first message left -> {}", show(m)))?;
    let none = q.recv_vec(Select::Any, Wait::NoWait).now()?;
    say(
        "receiver",
        format!(
            "msgrcv(..., 0, IPC_NOWAIT) -> {}",
            if none.is_none() { "ENOMSG: the queue is empty" } else { "another message?" }
        ),
    )?;
    let id = q.id();
    q.set_remove_on_drop(false)?;
    q.remove()?;
    say("receiver", format!("msgctl({id}, IPC_RMID, NULL): the queue is gone"))
}

/// Where the counter lives in the segment.
const COUNTER: usize = 0;

fn part_shm(workers: u32) -> Result<(), Fail> {
    const ROUNDS: u32 = 500;
    let mut seg = ShmSegment::create(Key::PRIVATE, 4096, Mode::OWNER_RW)?;
    let made_seg = made(Item::Shm(seg.id()));
    seg.set_remove_on_drop(true)?;
    say(
        "parent",
        format!(
            "shmget(IPC_PRIVATE, 4096, 0600) = {}: a zero-filled segment; the counter is its first 8 bytes",
            seg.id()
        ),
    )?;
    // Marked for removal as soon as it is attached: the kernel frees it with the last
    // detach, so not even SIGKILL can leak it. (Not removed again by id later: by
    // then the id may name someone else's segment.)
    let mem = seg.attach_read_only()?;
    seg.set_remove_on_drop(false)?;
    let sid = seg.id();
    seg.remove()?;
    drop(made_seg);
    say(
        "parent",
        format!(
            "shmat({sid}, SHM_RDONLY), then shmctl({sid}, IPC_RMID) at once: freed with the last detach, \
             whatever happens (Linux still lets the workers attach it by id)"
        ),
    )?;
    let mut lock = SemSet::create(Key::PRIVATE, &[1], Mode::OWNER_RW)?;
    let _made_sem = made(Item::Sem(lock.id()));
    lock.set_remove_on_drop(true)?;
    say(
        "parent",
        format!("semget(IPC_PRIVATE, 1, 0600) = {}, semctl(SETVAL, 1): a lock, 1 = free", lock.id()),
    )?;
    say(
        "parent",
        format!(
            "starting {workers} workers; each adds 1 to the counter {ROUNDS} times with a plain read and write, \
             between semop(-1, SEM_UNDO) and semop(+1, SEM_UNDO)"
        ),
    )?;
    let args = |i: u32| vec![sid.to_string(), lock.id().to_string(), ROUNDS.to_string(), i.to_string()];
    let kids = (0..workers)
        .map(|i| Kid::start("shm-worker", &args(i), Stdio::null(), Stdio::inherit()))
        .collect::<Result<Vec<_>, _>>()?;
    for k in kids {
        k.finish("worker")?;
    }
    let mut b = [0u8; 8];
    mem.read_at(COUNTER, &mut b)?;
    let total = u64::from_ne_bytes(b);
    let expect = u64::from(workers) * u64::from(ROUNDS);
    say(
        "parent",
        format!(
            "read: counter = {total} (expected {workers} x {ROUNDS} = {expect}){}",
            if total == expect { ": no increment was lost" } else { ": INCREMENTS WERE LOST" }
        ),
    )?;
    drop(mem);
    let lid = lock.id();
    lock.set_remove_on_drop(false)?;
    lock.remove()?;
    say(
        "parent",
        format!("shmdt: the last detach freed segment {sid}; semctl({lid}, 0, IPC_RMID): both gone"),
    )?;
    if total != expect {
        return Err(Fail::Msg(format!("the counter is {total}, not {expect}")));
    }
    Ok(())
}

fn part_ls(hold: bool) -> Result<(), Fail> {
    let (dir, _made_dir) = temp_dir()?;
    let anchor = dir.path().join("anchor");
    std::fs::write(&anchor, b"")?;
    let mut q = MsgQueue::create(Key::ftok(&anchor, b'm')?, Mode::OWNER_RW)?;
    let _m1 = made(Item::Msg(q.id()));
    q.set_remove_on_drop(true)?;
    q.send(b"one message of 25 bytes..", 1)?;
    let mut seg = ShmSegment::create(Key::ftok(&anchor, b's')?, 8192, Mode::new(0o640))?;
    let _m2 = made(Item::Shm(seg.id()));
    seg.set_remove_on_drop(true)?;
    let mem = seg.attach()?;
    let mut set = SemSet::create(Key::ftok(&anchor, b'e')?, &[1, 0, 5], Mode::OWNER_RW)?;
    let _m3 = made(Item::Sem(set.id()));
    set.set_remove_on_drop(true)?;
    say(
        "parent",
        format!(
            "made queue {} (one message), segment {} (8192 bytes, attached), set {} (3 semaphores)",
            q.id(),
            seg.id(),
            set.id()
        ),
    )?;
    say("parent", "ipckit ls  (the same output as ipcs; other objects on this system show too):")?;
    let status = Command::new(me()?).arg("ls").status()?;
    if !status.success() {
        return Err(Fail::Msg(format!("ipckit ls failed: {status}")));
    }
    if hold {
        say(
            "parent",
            "holding the objects: look at them with `ipckit ls` or `ipcs` elsewhere; Ctrl-C removes them and ends",
        )?;
        loop {
            std::thread::sleep(Duration::from_secs(3600));
        }
    }
    drop(mem);
    let ids = (q.id(), seg.id(), set.id());
    q.set_remove_on_drop(false)?;
    q.remove()?;
    seg.set_remove_on_drop(false)?;
    seg.remove()?;
    set.set_remove_on_drop(false)?;
    set.remove()?;
    say(
        "parent",
        format!(
            "removed queue {}, segment {} and set {} (what `ipckit rm -q {} -m {} -s {}` does)",
            ids.0, ids.1, ids.2, ids.0, ids.1, ids.2
        ),
    )
}

pub fn run(a: DemoArgs) -> Res {
    if a.list {
        let mut out = std::io::stdout().lock();
        for part in <Part as clap::ValueEnum>::value_variants() {
            let (name, desc) = part.describe();
            writeln!(out, "{name:<8} {desc}")?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let selected: Vec<Part> = match a.part {
        Some(p) => vec![p],
        None => <Part as clap::ValueEnum>::value_variants().to_vec(),
    };
    if a.hold && !selected.contains(&Part::Ls) {
        return Err(Fail::Usage("--hold applies to the ls part".into()));
    }
    // SIGINT, SIGTERM and SIGHUP (ctrlc's "termination" feature).
    ctrlc::set_handler(|| {
        let n = clean_up_for_signal();
        let _ = writeln!(
            std::io::stderr(),
            "\nipckit: interrupted; stopped the helpers and removed what the demo made ({n})"
        );
        // An object the main thread is making right now is recorded in a moment, and
        // removed at once by `made` (which then ends the demo itself).
        std::thread::sleep(Duration::from_millis(100));
        std::process::exit(130);
    })
    .map_err(|e| Fail::Msg(format!("cannot handle signals: {e}")))?;

    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "ipckit demo: Unix IPC between real processes. Each line is [who pid] and the call made."
        )?;
        out.flush()?;
    }
    let mut result = Ok(());
    for (i, &part) in selected.iter().enumerate() {
        title(i + 1, part)?;
        result = match part {
            Part::Pipe => part_pipe(),
            Part::Duplex => part_duplex(),
            Part::Fifo => part_fifo(),
            Part::Msg => part_msg(),
            Part::Shm => part_shm(a.workers),
            Part::Ls => part_ls(a.hold),
            Part::Channel => super::demo_channel::part(),
            Part::Socket => socket::part_socket(),
            Part::Net => socket::part_net().and_then(|()| bridge_part::part_bridge()),
        };
        if result.is_err() {
            break;
        }
    }
    // Anything a failed part left recorded goes now.
    clean_up_everything();
    result?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nDone: every object and file the demo made has been removed.")?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

// ----- the helper processes ----------------------------------------------------------

/// Runs one helper role (started by the demo as `ipckit __demo-role ROLE ARGS`).
pub fn role(args: &[String]) -> Res {
    let arg =
        |i: usize| args.get(i).cloned().ok_or_else(|| Fail::Msg(format!("demo role: argument {i} missing")));
    let num = |i: usize| -> Result<i64, Fail> {
        arg(i)?.parse().map_err(|_| Fail::Msg(format!("demo role: argument {i} is not a number")))
    };
    if let Some(r) = socket::role(&arg(0)?, &args[1..]) {
        return r.map(|()| ExitCode::SUCCESS);
    }
    match arg(0)?.as_str() {
        "pipe-reader" => {
            let mut buf = [0u8; 1024];
            let mut stdin = std::io::stdin().lock();
            loop {
                let n = stdin.read(&mut buf)?;
                if n == 0 {
                    say("child", "read(fds[0]) = 0: end-of-file, every write end is closed")?;
                    break;
                }
                say(
                    "child",
                    format!("read(fds[0], buf, 1024) = {n}: {:?}", String::from_utf8_lossy(&buf[..n])),
                )?;
            }
        }
        "duplex-echo" => {
            let mut out = std::io::stdout().lock();
            for line in std::io::stdin().lock().lines() {
                writeln!(out, "{}", line?.to_uppercase())?;
                out.flush()?;
            }
        }
        "fifo-writer" => {
            let path = arg(1)?;
            say("writer", format!("open(\"{path}\", O_WRONLY): blocks until a reader opens it too"))?;
            let mut f = ipckit::fifo::Fifo::at(&path)?.open_write()?;
            say("writer", "opened")?;
            for line in ["first line through the FIFO", "second line"] {
                writeln!(f, "{line}")?;
                say("writer", format!("write(fd, \"{line}\\n\")"))?;
            }
            say("writer", "close(fd)")?;
        }
        "fifo-reader" => {
            let path = arg(1)?;
            say("reader", format!("open(\"{path}\", O_RDONLY): blocks until a writer opens it too"))?;
            let f = ipckit::fifo::Fifo::at(&path)?.open_read()?;
            for line in BufReader::new(f).lines() {
                say("reader", format!("read() -> \"{}\"", line?))?;
            }
            say("reader", "read() = 0: the writer closed its end")?;
        }
        "msg-sender" => {
            let anchor = arg(1)?;
            let key = Key::ftok(&anchor, b'q')?;
            say("sender", format!("ftok(\"{anchor}\", 'q') = {key}: the same key, from the same file"))?;
            let q = MsgQueue::open(key)?;
            say(
                "sender",
                format!("msgget({key}, 0) = {}  (found by key: no fork, no shared parent needed)", q.id()),
            )?;
            q.send(b"a type-3 note", 3)?;
            say("sender", "msgsnd(id, {mtype 3, \"a type-3 note\"}, 13, 0)")?;
            let mut name = [0u8; 32];
            name[..4].copy_from_slice(b"alan");
            q.send_pod(&Score { name, math: 90, chinese: 80 }, 2, Wait::Block)?;
            say(
                "sender",
                format!(
                    "msgsnd(id, &rec, {}, 0): a struct {{ name \"alan\", math 90, chinese 80 }}, type 2",
                    std::mem::size_of::<Score>()
                ),
            )?;
            q.send(b"hello from the sender", 1)?;
            say("sender", "msgsnd(id, {mtype 1, \"hello from the sender\"}, 21, 0); exit")?;
        }
        "shm-worker" => {
            let (shm_id, sem_id, rounds) = (num(1)? as i32, num(2)? as i32, num(3)?);
            let seg = ShmSegment::from_id(shm_id)?;
            let mem = seg.attach()?;
            let lock = SemSet::from_id(sem_id)?;
            for _ in 0..rounds {
                let guard = lock.lock(0)?;
                let mut b = [0u8; 8];
                mem.read_at(COUNTER, &mut b)?;
                let v = u64::from_ne_bytes(b) + 1;
                // Give the others a chance to interleave: without the lock, they would.
                std::thread::yield_now();
                mem.write_at(COUNTER, &v.to_ne_bytes())?;
                guard.release()?;
            }
            say(
                "worker",
                format!("shmat({shm_id}), {rounds} x [semop(P); counter += 1; semop(V)], shmdt: done"),
            )?;
        }
        r if r.starts_with("chan-") => return super::demo_channel::role(args),
        other => return Err(Fail::Msg(format!("unknown demo role '{other}'"))),
    }
    Ok(ExitCode::SUCCESS)
}
