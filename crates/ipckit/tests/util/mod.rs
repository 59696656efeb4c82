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

/// Waits until process `pid` sleeps in a kernel function whose name contains `wchan`
/// (such as `"msgrcv"` or `"semtimedop"`), read from `/proc/PID/wchan`. Panics after
/// two minutes: that is a hang guard, not a timing assertion.
pub fn wait_blocked_in(pid: u32, wchan: &str) {
    let start = std::time::Instant::now();
    loop {
        let w = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        if w.contains(wchan) {
            return;
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(120),
            "process {pid} never blocked in {wchan} (wchan now {w:?})"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
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

/// The descriptors this process has open, sorted (from `/proc/self/fd`; the listing
/// includes the directory's own descriptor, the same one each time when nothing
/// else changed).
pub fn open_fds() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    fds.sort_unstable();
    fds
}

/// How many descriptors this process has open.
pub fn fd_count() -> usize {
    open_fds().len()
}

/// How many threads this process has (from `/proc/self/task`).
pub fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").expect("/proc/self/task").count()
}

/// Runs `f` and asserts that it leaves exactly the descriptors that were open before
/// (none leaked, none closed). Only meaningful when no other test of the binary runs
/// at the same time.
pub fn assert_no_fd_leak<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let before = open_fds();
    let out = f();
    let after = open_fds();
    assert_eq!(before, after, "{what}: open descriptors changed (before vs after)");
    out
}

/// Serialises the tests of one binary that fork. A child forked while another test
/// holds pipe ends gets copies of them (fork ignores close-on-exec), which would delay
/// that test's end-of-file, or deadlock two tests that each wait for the other's
/// child to exit. Hold the guard for the whole test.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
