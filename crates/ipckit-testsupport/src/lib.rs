//! Helpers shared by the integration tests of `ipckit-unix` and `ipckit-cli`: skips
//! with a reason, C compilation, child roles (re-running the test binary as another
//! process), descriptor and thread counts, and the lock that serialises the tests of
//! one binary that fork.
//!
//! It knows nothing of ipckit itself, so both crates can use it as a dev-dependency
//! without building the library twice; what needs ipckit (forking through
//! `ipckit::process`, `ftok` keys, running the `ipckit` binary) stays in each crate's
//! own helper module (`tests/util` for the library, `tests/common` for the CLI), which
//! re-exports everything here. Not published.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Skips the rest of a test (returning early) with a stated reason.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {{
        eprintln!("SKIPPED {}: {}", module_path!(), format_args!($($why)*));
        return;
    }};
}

/// Whether `cmd ARGS` runs and exits with success (its output discarded).
pub fn works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The C compiler, if there is one.
pub fn cc() -> Option<&'static str> {
    static CC: OnceLock<Option<&'static str>> = OnceLock::new();
    *CC.get_or_init(|| ["cc", "gcc", "clang"].into_iter().find(|c| works(c, &["--version"])))
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

/// A directory others may enter (for commands run as `nobody`), removed on drop.
pub fn open_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(d.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    d
}

/// The environment variable that tells a re-executed test binary which role to play.
pub const ROLE_VAR: &str = "IPCKIT_TEST_ROLE";

/// If this process was started by [`spawn_role`], the role and its arguments.
pub fn role() -> Option<Vec<String>> {
    let v = std::env::var(ROLE_VAR).ok()?;
    Some(v.split('\u{1f}').map(str::to_string).collect())
}

/// The full name of the test function `test` in this test binary, as the harness
/// lists it (`module::test` once the tests of an area share one binary). `test` may be
/// the bare function name when only one test has it; panics when none or several do.
pub fn test_name(test: &str) -> String {
    static LIST: OnceLock<Vec<String>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let out = Command::new(std::env::current_exe().expect("current exe"))
            .args(["--list", "--format=terse"])
            .env_remove(ROLE_VAR)
            .output()
            .expect("list the tests of this binary");
        assert!(out.status.success(), "listing the tests failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.strip_suffix(": test"))
            .map(str::to_string)
            .collect()
    });
    let found: Vec<&String> =
        list.iter().filter(|n| *n == test || n.ends_with(&format!("::{test}"))).collect();
    match found.as_slice() {
        [one] => one.to_string(),
        [] => panic!("no test named {test} in this binary"),
        many => panic!("several tests named {test}: {many:?}"),
    }
}

/// A command that re-runs this test binary, running only `test` (a function name,
/// see [`test_name`]; the test must start by checking [`role`]), with `role` and its
/// arguments.
pub fn spawn_role(test: &str, role: &[&str]) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current exe"));
    cmd.args(["--exact", &test_name(test), "--nocapture", "--test-threads=1"]);
    cmd.env(ROLE_VAR, role.join("\u{1f}"));
    cmd
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
/// at the same time: in a binary of its own, in a forked child, or with every test of
/// the binary holding [`serial`].
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
/// child to exit. Hold the guard for the whole test, and take it once: the lock is
/// one per test binary, shared by every module of an area binary, and not reentrant.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
