//! Helpers shared by the integration tests: unique keys, child processes, skips.
//!
//! Every test makes its own objects (private keys, or keys from its own temp files,
//! created exclusively so that a test never touches an object it did not make) and
//! removes them through guards, also when it panics.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ipckit::Key;

/// Skips the rest of a test (returning early) with a stated reason.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {{
        eprintln!("SKIPPED {}: {}", module_path!(), format_args!($($why)*));
        return;
    }};
}

/// Skips unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if ipckit::process::effective_uid() != 0 {
            $crate::skip!("needs root (to act as a second user); run the suite as root to include it");
        }
    };
}

/// A temp directory with an anchor file, and keys derived from it with `ftok`.
pub struct KeyDir {
    pub dir: tempfile::TempDir,
    pub anchor: PathBuf,
}

impl KeyDir {
    pub fn new() -> KeyDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let anchor = dir.path().join("anchor");
        std::fs::write(&anchor, b"ipckit test anchor").expect("anchor file");
        KeyDir { dir, anchor }
    }

    /// `ftok(anchor, proj)`.
    pub fn key(&self, proj: u8) -> Key {
        Key::ftok(&self.anchor, proj).expect("ftok")
    }

    pub fn path(&self) -> &Path {
        &self.anchor
    }
}

/// Runs `f` in a forked child and returns it. The child exits with `f`'s code (101
/// on panic) without running destructors.
pub fn fork(f: impl FnOnce() -> i32) -> ipckit::process::Child {
    // SAFETY: the children of these tests only make system calls through ipckit, use
    // memory that was allocated before the fork, and end with _exit; glibc's malloc
    // stays usable after fork through its atfork handlers.
    unsafe { ipckit::process::fork_with(f) }.expect("fork")
}

/// Waits for a child and asserts it exited with code 0.
pub fn wait_ok(child: ipckit::process::Child) {
    let pid = child.pid();
    let status = child.wait().expect("waitpid");
    assert!(status.success(), "child {pid} failed: {status:?}");
}

/// The environment variable that tells a re-executed test binary which role to play.
pub const ROLE_VAR: &str = "IPCKIT_TEST_ROLE";

/// If this process was started by [`spawn_role`], the role and its arguments.
pub fn role() -> Option<Vec<String>> {
    let v = std::env::var(ROLE_VAR).ok()?;
    Some(v.split('\u{1f}').map(str::to_string).collect())
}

/// A command that re-runs this test binary, running only `test` (which must start by
/// checking [`role`]), with `role` and its arguments.
pub fn spawn_role(test: &str, role: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args(["--exact", test, "--nocapture", "--test-threads=1"]);
    cmd.env(ROLE_VAR, role.join("\u{1f}"));
    cmd
}

/// The C compiler, if there is one.
pub fn cc() -> Option<&'static str> {
    static CC: OnceLock<Option<&'static str>> = OnceLock::new();
    *CC.get_or_init(|| {
        ["cc", "gcc", "clang"]
            .into_iter()
            .find(|c| Command::new(c).arg("--version").output().map(|o| o.status.success()).unwrap_or(false))
    })
}

/// Compiles C source `src` into an executable named `name` inside `dir`.
pub fn compile_c(dir: &Path, name: &str, src: &str) -> PathBuf {
    let cc = cc().expect("a C compiler");
    let c = dir.join(format!("{name}.c"));
    let exe = dir.join(name);
    std::fs::write(&c, src).expect("write C source");
    let out = Command::new(cc).arg("-O1").arg("-Wall").arg("-o").arg(&exe).arg(&c).output().expect("run cc");
    assert!(out.status.success(), "cc failed for {name}:\n{}", String::from_utf8_lossy(&out.stderr));
    exe
}
