//! Helpers for the tests that run the built `ipckit` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// Skips the rest of a test (returning early) with a stated reason.
#[macro_export]
macro_rules! skip {
    ($($why:tt)*) => {{
        eprintln!("SKIPPED {}: {}", module_path!(), format_args!($($why)*));
        return;
    }};
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

fn works(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Why a private IPC namespace cannot be had here, if it cannot.
pub fn no_namespace() -> Option<String> {
    static WHY: OnceLock<Option<String>> = OnceLock::new();
    WHY.get_or_init(|| {
        if ipckit::process::effective_uid() != 0 {
            return Some("needs root for `unshare --ipc` (run the suite as root to include it)".into());
        }
        if !works("unshare", &["--ipc", "true"]) {
            return Some("`unshare --ipc` is missing or refused here".into());
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

/// Runs `script` with bash in a new, empty IPC namespace, with `$IPCKIT` set to the
/// binary, `LC_ALL=C` and `TZ` set. Returns the output.
pub fn in_namespace(script: &str, tz: &str) -> Output {
    Command::new("unshare")
        .args(["--ipc", "--", "bash", "-c", script])
        .env("IPCKIT", bin())
        .env("LC_ALL", "C")
        .env("TZ", tz)
        .output()
        .expect("run unshare")
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
