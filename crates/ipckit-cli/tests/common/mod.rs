//! Helpers for the tests that run the built `ipckit` binary. The helpers that know
//! nothing of ipckit (skips, compiling C, child roles, descriptor counts) come from the
//! `ipckit-testsupport` crate, shared with the library's tests, and are re-exported here.
#![allow(dead_code, unused_imports)]

use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

// Not a glob: `skip!` is defined below, for `#[macro_use]`.
pub use ipckit_testsupport::{
    ROLE_VAR, assert_no_fd_leak, cc, compile_c, fd_count, open_fds, open_tempdir, role, serial, spawn_role,
    test_name, thread_count, wait_blocked_in, works,
};

/// Skips the rest of a test (returning early) with a stated reason.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {
        ::ipckit_testsupport::skip!($($why)*)
    };
}

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ipckit")
}

/// `ipckit ARGS`, with the C locale and UTC.
pub fn ipckit(args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.args(args).env("LC_ALL", "C").env("TZ", "UTC");
    c
}

/// Runs `ipckit ARGS` with `input` on stdin.
pub fn run(args: &[&str], input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = ipckit(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ipckit");
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().expect("wait ipckit")
}

/// Runs `ipckit ARGS` and asserts success; returns stdout.
pub fn ok(args: &[&str]) -> Vec<u8> {
    let out = run(args, b"");
    assert!(out.status.success(), "ipckit {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Shell lines that give a new mount namespace its own, empty `/dev/shm` and
/// `/dev/mqueue` (the latter showing the new IPC namespace's queues): `/dev/shm` is not
/// part of an IPC namespace, so without them `rm --stale` in a test would judge, and
/// remove, POSIX objects and named channels that other programs left on the machine.
/// Both mounts vanish with the namespace's last process.
pub const PRIVATE_SHM: &str = "set -e; mount -t tmpfs -o mode=1777 ipckit-test /dev/shm; \
     if [ -d /dev/mqueue ]; then mount -t mqueue ipckit-test /dev/mqueue; fi; set +e";

/// Why a private IPC namespace (with its own `/dev/shm`, see [`PRIVATE_SHM`]) cannot
/// be had here, if it cannot.
pub fn no_namespace() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        if ipckit::process::effective_uid() != 0 {
            return Some("needs root for `unshare --ipc` (run the suite as root to include it)".into());
        }
        if !works("unshare", &["--ipc", "true"]) {
            return Some("`unshare --ipc` is missing or refused here".into());
        }
        if !works("unshare", &["--ipc", "--mount", "--propagation", "private", "--", "sh", "-c", PRIVATE_SHM])
        {
            return Some("a private /dev/shm (`unshare --mount` + a tmpfs mount) is refused here".into());
        }
        None
    })
    .clone()
}

/// Why util-linux's ipc tools cannot be compared with here, if they cannot.
pub fn no_util_linux() -> Option<String> {
    if let Some(why) = no_namespace() {
        return Some(why);
    }
    for tool in ["ipcs", "ipcrm", "ipcmk"] {
        if !works(tool, &["--version"]) {
            return Some(format!("util-linux `{tool}` is not installed"));
        }
    }
    None
}

/// Runs `script` with bash in a new, empty IPC namespace and a mount namespace with
/// its own `/dev/shm` and `/dev/mqueue` ([`PRIVATE_SHM`]), with `$IPCKIT` set to the
/// binary, `LC_ALL=C` and `TZ` set. Returns the output.
pub fn in_namespace(script: &str, tz: &str) -> Output {
    Command::new("unshare")
        .args(["--ipc", "--mount", "--propagation", "private", "--", "bash", "-c"])
        .arg(format!("{PRIVATE_SHM}\n{script}"))
        .env("IPCKIT", bin())
        .env("LC_ALL", "C")
        .env("TZ", tz)
        .output()
        .expect("run unshare")
}
