//! `SIGPIPE`: what the process does when it gets one ([`SigpipeAction`]), and the guard
//! that keeps ipckit's own writes from raising it (see the module docs, `pipe/mod.rs`).

use crate::error::{Error, ErrorKind, Object, Result};
use crate::sys;

/// What a process does when it receives `SIGPIPE` (the signal's disposition).
///
/// ipckit's writes never raise `SIGPIPE` whatever this is (see the
/// [module docs](super#sigpipe)); it matters for other code in the process and for
/// children, which inherit an ignored signal across `exec`.
///
/// ```
/// use ipckit::pipe::{self, SigpipeAction};
///
/// match pipe::sigpipe_action()? {
///     SigpipeAction::Ignore => println!("a write without reader fails with EPIPE"),
///     SigpipeAction::Terminate => println!("a write without reader kills (except ipckit's)"),
///     SigpipeAction::Handler => println!("a handler runs"),
/// }
/// # Ok::<(), ipckit::Error>(())
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SigpipeAction {
    /// `SIG_DFL`: the process is terminated.
    Terminate,
    /// `SIG_IGN`: writes without a reader fail with `EPIPE`. Rust programs start so.
    Ignore,
    /// A signal handler is installed (read only: ipckit does not install handlers).
    Handler,
}

impl From<sys::pipe::SigpipeDisposition> for SigpipeAction {
    fn from(d: sys::pipe::SigpipeDisposition) -> SigpipeAction {
        match d {
            sys::pipe::SigpipeDisposition::Default => SigpipeAction::Terminate,
            sys::pipe::SigpipeDisposition::Ignore => SigpipeAction::Ignore,
            sys::pipe::SigpipeDisposition::Handler => SigpipeAction::Handler,
        }
    }
}

/// `sigaction(SIGPIPE, NULL, &old)`—What this process does on `SIGPIPE`.
///
/// ```
/// use ipckit::pipe::{sigpipe_action, SigpipeAction};
///
/// // The Rust runtime ignores SIGPIPE before `main` (and before tests) run.
/// assert_eq!(sigpipe_action()?, SigpipeAction::Ignore);
/// # Ok::<(), ipckit::Error>(())
/// ```
///
/// References: [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html).
pub fn sigpipe_action() -> Result<SigpipeAction> {
    sys::pipe::sigpipe_disposition()
        .map(SigpipeAction::from)
        .map_err(|e| Error::sys("sigaction", Object::Name("SIGPIPE".into()), e))
}

/// `sigaction(SIGPIPE, {SIG_DFL or SIG_IGN}, &old)`—Sets what this process does on
/// `SIGPIPE`; returns the previous action.
///
/// This is process-wide state, and an ignored `SIGPIPE` is inherited by every
/// program started afterwards (though Rust's `Command` resets it). ipckit itself
/// never needs it. Only [`SigpipeAction::Terminate`] and [`SigpipeAction::Ignore`]
/// can be set; [`SigpipeAction::Handler`] is [`ErrorKind::InvalidInput`].
///
/// References: [sigaction(2)](https://man7.org/linux/man-pages/man2/sigaction.2.html),
/// [signal(7)](https://man7.org/linux/man-pages/man7/signal.7.html).
pub fn set_sigpipe_action(action: SigpipeAction) -> Result<SigpipeAction> {
    let ignore = match action {
        SigpipeAction::Terminate => false,
        SigpipeAction::Ignore => true,
        SigpipeAction::Handler => {
            return Err(Error::new("sigaction", Object::Name("SIGPIPE".into()), ErrorKind::InvalidInput)
                .with_detail("ipckit sets SIGPIPE to Terminate or Ignore, never to a handler"));
        }
    };
    if !ignore {
        // Lethal again: from now on every write needs the guard.
        sys::pipe::set_sigpipe_guard(true);
    }
    sys::pipe::set_sigpipe_disposition(ignore)
        .map(SigpipeAction::from)
        .map_err(|e| Error::sys("sigaction", Object::Name("SIGPIPE".into()), e))
}

/// Whether ipckit blocks `SIGPIPE` around each write into a pipe (on unless turned
/// off with [`set_sigpipe_guard`]).
pub fn sigpipe_guard() -> bool {
    sys::pipe::sigpipe_guard()
}

/// Turns the per-write `SIGPIPE` guard on or off, process-wide (see the
/// [module docs](super#sigpipe)).
///
/// Off saves two system calls per write, and is only allowed while `SIGPIPE` is
/// ignored ([`ErrorKind::InvalidInput`] otherwise): without a reader, writes then fail
/// with `EPIPE` because the signal is ignored, not because ipckit holds it off. Turn it
/// off only in a program that never makes `SIGPIPE` lethal again, except through
/// [`set_sigpipe_action`] (which turns the guard back on).
///
/// ```
/// use ipckit::pipe::{self, SigpipeAction};
///
/// // A Rust program: SIGPIPE is ignored from the start.
/// assert_eq!(pipe::sigpipe_action()?, SigpipeAction::Ignore);
/// pipe::set_sigpipe_guard(false)?;
/// let (r, w) = pipe::pipe()?;
/// drop(r);
/// assert_eq!(w.write_atomic(b"x").unwrap_err().kind(), ipckit::ErrorKind::BrokenPipe);
/// pipe::set_sigpipe_guard(true)?;
/// # Ok::<(), ipckit::Error>(())
/// ```
pub fn set_sigpipe_guard(on: bool) -> Result<()> {
    if !on {
        let action = sigpipe_action()?;
        if action != SigpipeAction::Ignore {
            return Err(Error::new(
                "set_sigpipe_guard",
                Object::Name("SIGPIPE".into()),
                ErrorKind::InvalidInput,
            )
            .with_detail(format!(
                "SIGPIPE is {}, not ignored: without the guard a write with no reader would raise it",
                match action {
                    SigpipeAction::Terminate => "at its default (terminate)",
                    SigpipeAction::Handler => "handled by a signal handler",
                    SigpipeAction::Ignore => "ignored",
                }
            )));
        }
    }
    sys::pipe::set_sigpipe_guard(on);
    Ok(())
}
