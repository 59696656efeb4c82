//! Helpers for the library's integration tests: unique keys, forked children, the C
//! sources and the examples. The helpers that know nothing of ipckit (skips, child
//! roles, descriptor counts, the `serial` lock, compiling C) come from the
//! `ipckit-testsupport` crate, shared with the CLI's tests, and are re-exported here.
//!
//! Every test makes its own objects (private keys, or keys from its own temp files,
//! created exclusively so that a test never touches an object it did not make) and
//! removes them through guards, also when it panics.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::process::Command;

use ipckit::Key;
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

/// Skips unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if ipckit::process::effective_uid() != 0 {
            ::ipckit_testsupport::skip!(
                "needs root (to act as a second user); run the suite as root to include it"
            );
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

/// The path of the example binary `name`, building it first if this test run did
/// not (`cargo test --test X` builds no examples).
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(Path::parent).expect("target profile dir");
    let bin = profile_dir.join("examples").join(name);
    static BUILD: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _lock = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", env!("CARGO_PKG_NAME"), "--example", name]);
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    bin
}

/// The directory of the C sources shared by the tests (`tests/c`).
pub fn c_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("c")
}

/// Compiles `tests/c/<name>.c` into `dir`, returning the executable.
pub fn compile_c_file(dir: &Path, name: &str) -> PathBuf {
    let src = std::fs::read_to_string(c_dir().join(format!("{name}.c"))).expect("read C source");
    let cc = cc().expect("a C compiler");
    let exe = dir.join(name);
    let out = Command::new(cc)
        .args(["-O1", "-Wall", "-I"])
        .arg(c_dir())
        .arg("-o")
        .arg(&exe)
        .arg("-x")
        .arg("c")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(src.as_bytes())?;
            child.wait_with_output()
        })
        .expect("run cc");
    assert!(out.status.success(), "cc failed for {name}:\n{}", String::from_utf8_lossy(&out.stderr));
    exe
}
