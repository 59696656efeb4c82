//! The classic parent–child pipe, done right: create a pipe, start a child that gets
//! one end, and close in each process the end it does not use, so that end-of-file
//! arrives.
//!
//! The rule behind it: a reader sees end-of-file only when **every** write end in
//! every process is closed, and a writer sees a broken pipe only when every read end
//! is. A parent that keeps the child's end open (or a child that keeps the parent's)
//! waits forever. The helpers here close the unused ends at once; with
//! `std::process::Command`, they also take the end back from the `Command`, which
//! would otherwise keep it open in the parent for as long as the `Command` lives.

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Child as StdChild, Command, Stdio};

use super::{Duplex, PipeReader, PipeWriter, duplex, pipe};
use crate::error::{Error, Object, Result};
use crate::process::{self, Child, Fork};
use crate::sys::Errno;

fn spawn_error(cmd: &Command, e: io::Error) -> Error {
    let obj = Object::Name(cmd.get_program().to_string_lossy().into_owned());
    let err = Error::io("spawn", obj, &e);
    match e.raw_os_error().map(Errno) {
        Some(Errno::ENOENT) => err.with_detail("no such program (not found, or not in PATH)"),
        Some(Errno::EACCES) => err.with_detail("the program is not executable by this user"),
        _ => err,
    }
}

/// Starts `cmd` with its stdin the read end of a new pipe, and returns the child and
/// the write end: the parent writes, the child reads.
///
/// The parent keeps no copy of the read end (it is taken back from `cmd`, whose
/// stdin is reset to inherit), so if the child exits early, the parent's writes fail
/// with [`ErrorKind::BrokenPipe`](crate::ErrorKind::BrokenPipe); when the parent drops the writer, the child reads
/// end-of-file. The child's stdout and stderr are whatever `cmd` says.
///
/// ```
/// use std::io::Write;
/// use std::process::{Command, Stdio};
///
/// let mut sort = Command::new("sort");
/// sort.stdout(Stdio::piped());
/// let (child, mut input) = ipckit::pipe::spawn_to_child(&mut sort)?;
/// input.write_all(b"pear\napple\n")?;
/// drop(input); // end-of-file: sort can answer
/// let out = child.wait_with_output()?;
/// assert_eq!(out.stdout, b"apple\npear\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_to_child(cmd: &mut Command) -> Result<(StdChild, PipeWriter)> {
    let (r, w) = pipe()?;
    cmd.stdin(r);
    let spawned = cmd.spawn();
    // Take the read end back from the Command: closing it here is what lets a write
    // fail with a broken pipe once the child is gone.
    cmd.stdin(Stdio::inherit());
    Ok((spawned.map_err(|e| spawn_error(cmd, e))?, w))
}

/// Starts `cmd` with its stdout the write end of a new pipe, and returns the child
/// and the read end: the child writes, the parent reads.
///
/// The parent keeps no copy of the write end (it is taken back from `cmd`, whose
/// stdout is reset to inherit), so the parent reads end-of-file as soon as the child
/// (and any process it passed its stdout to) has exited.
///
/// ```
/// use std::io::Read;
/// use std::process::Command;
///
/// let mut echo = Command::new("echo");
/// echo.arg("from the child");
/// let (mut child, mut output) = ipckit::pipe::spawn_from_child(&mut echo)?;
/// let mut text = String::new();
/// output.read_to_string(&mut text)?; // ends at the child's exit
/// assert_eq!(text, "from the child\n");
/// assert!(child.wait()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_from_child(cmd: &mut Command) -> Result<(StdChild, PipeReader)> {
    let (r, w) = pipe()?;
    cmd.stdout(w);
    let spawned = cmd.spawn();
    // Without this, the Command would keep a write end open in the parent, and the
    // parent would never read end-of-file.
    cmd.stdout(Stdio::inherit());
    Ok((spawned.map_err(|e| spawn_error(cmd, e))?, r))
}

/// Starts `cmd` with its stdin and stdout the far side of a new [`duplex`] channel,
/// and returns the child and the near side.
///
/// ```
/// use std::io::{Read, Write};
/// use std::process::Command;
///
/// let mut tr = Command::new("tr");
/// tr.args(["a-z", "A-Z"]);
/// let (mut child, chan) = ipckit::pipe::spawn_duplex(&mut tr)?;
/// let (mut from_tr, mut to_tr) = chan.into_parts();
/// to_tr.write_all(b"shout\n")?;
/// drop(to_tr);
/// let mut text = String::new();
/// from_tr.read_to_string(&mut text)?;
/// assert_eq!(text, "SHOUT\n");
/// assert!(child.wait()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn_duplex(cmd: &mut Command) -> Result<(StdChild, Duplex)> {
    let (near, far) = duplex()?;
    let (r, w) = far.into_parts();
    cmd.stdin(r).stdout(w);
    let spawned = cmd.spawn();
    cmd.stdin(Stdio::inherit()).stdout(Stdio::inherit());
    Ok((spawned.map_err(|e| spawn_error(cmd, e))?, near))
}

/// Forks a child that runs `f` with the read end of a new pipe, and returns the child
/// and the write end: the parent writes, the child reads.
///
/// The classic C sequence: `pipe`, `fork`, then the child closes the write end and
/// the parent closes the read end, before anything else runs. The child exits with
/// the code `f` returns (101 if it panics), through `_exit`.
///
/// # Safety
/// The same as [`process::fork`]: if the program has other threads, `f` may only do
/// what is safe after `fork` in a multi-threaded program (no locks another thread
/// might hold, which in general excludes allocating), and the child gets copies of
/// every descriptor of the parent, including other threads' pipe ends.
///
/// ```
/// use std::io::{Read, Write};
///
/// // SAFETY: this example is single-threaded.
/// let (child, mut to_child) = unsafe {
///     ipckit::pipe::fork_to_child(|mut reader| {
///         let mut buf = [0u8; 12];
///         match reader.read_exact(&mut buf) {
///             Ok(()) if &buf == b"hello world\n" => 0,
///             _ => 1,
///         }
///     })
/// }?;
/// to_child.write_all(b"hello world\n")?;
/// drop(to_child);
/// assert_eq!(child.wait()?.code(), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(unsafe_code)]
pub unsafe fn fork_to_child<F: FnOnce(PipeReader) -> i32>(f: F) -> Result<(Child, PipeWriter)> {
    let (r, w) = pipe()?;
    // SAFETY: the caller accepts the rules of fork (above).
    unsafe { fork_with(w, r, f) }
}

/// Forks a child that runs `f` with the write end of a new pipe, and returns the
/// child and the read end: the child writes, the parent reads. The parent reads
/// end-of-file once the child has exited (or closed its end).
///
/// # Safety
/// The same as [`fork_to_child`].
///
/// ```
/// use std::io::{Read, Write};
///
/// // SAFETY: this example is single-threaded.
/// let (child, mut from_child) = unsafe {
///     ipckit::pipe::fork_from_child(|mut writer| match writer.write_all(b"from the child") {
///         Ok(()) => 0,
///         Err(_) => 1,
///     })
/// }?;
/// let mut text = String::new();
/// from_child.read_to_string(&mut text)?;
/// assert_eq!(text, "from the child");
/// assert_eq!(child.wait()?.code(), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(unsafe_code)]
pub unsafe fn fork_from_child<F: FnOnce(PipeWriter) -> i32>(f: F) -> Result<(Child, PipeReader)> {
    let (r, w) = pipe()?;
    // SAFETY: the caller accepts the rules of fork.
    unsafe { fork_with(r, w, f) }
}

/// Forks a child that runs `f` with one side of a new [`duplex`] channel, and returns
/// the child and the other side. Each process closes the two ends it does not use.
///
/// # Safety
/// The same as [`fork_to_child`].
///
/// ```
/// use std::io::{Read, Write};
///
/// // SAFETY: this example is single-threaded.
/// let (child, mut chan) = unsafe {
///     ipckit::pipe::fork_duplex(|mut chan| {
///         let mut n = [0u8; 1];
///         if chan.read_exact(&mut n).is_err() || chan.write_all(&[n[0] * 2]).is_err() {
///             return 1;
///         }
///         0
///     })
/// }?;
/// chan.write_all(&[21])?;
/// let mut answer = [0u8; 1];
/// chan.read_exact(&mut answer)?;
/// assert_eq!(answer, [42]);
/// assert_eq!(child.wait()?.code(), Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[allow(unsafe_code)]
pub unsafe fn fork_duplex<F: FnOnce(Duplex) -> i32>(f: F) -> Result<(Child, Duplex)> {
    let (near, far) = duplex()?;
    // SAFETY: the caller accepts the rules of fork.
    unsafe { fork_with(near, far, f) }
}

/// The fork behind the three helpers above: the child closes `ours` (the parent's
/// ends), runs `f` with `theirs` and exits with its code (101 if it panics) through
/// `_exit`; the parent closes `theirs` and returns the child and `ours`. Each process
/// closes what it does not use before anything else runs, so that end-of-file and
/// broken pipes arrive.
///
/// # Safety
/// The same as [`process::fork`] (see [`fork_to_child`]).
#[allow(unsafe_code)]
unsafe fn fork_with<Ours, Theirs>(
    ours: Ours,
    theirs: Theirs,
    f: impl FnOnce(Theirs) -> i32,
) -> Result<(Child, Ours)> {
    // SAFETY: the caller accepts the rules of fork.
    match unsafe { process::fork() }? {
        Fork::Child => {
            drop(ours);
            let code = catch_unwind(AssertUnwindSafe(move || f(theirs))).unwrap_or(101);
            process::exit_immediately(code)
        }
        Fork::Parent(child) => {
            drop(theirs);
            Ok((child, ours))
        }
    }
}
