//! `ipckit rm` and `ipckit mk` against util-linux `ipcrm` and `ipcmk`: for each set of
//! arguments, a fresh private IPC namespace gets the same objects, the command runs
//! first as an unprivileged user (permission errors) and then as root, and the
//! transcripts (stdout, stderr after the program name, exit status, and the objects
//! left) must be identical.

use std::process::Command;

use crate::common::*;

const RM_ARGS: &[&str] = &[
    "",
    "-q 0",
    "-q 0 -q 0",
    "-q 5",
    "-q abc",
    "-q -5",
    "-m 0 -s 0 -q 0",
    "-q 1 -q 0",
    "-a",
    "-v -a",
    "--all=shm",
    "--all=sem",
    "--all=msg -v",
    "--all=foo",
    "-v -q 0 -m 0",
    "--queue-id 0 --shmem-id 0 --semaphore-id 0",
    "--sem 0",
    "shm 0",
    "shm",
    "msg 0 7",
    "msg -1",
    "sem x",
    "-q 0 extra",
    "-Q 0",
    "-Q 0x1234",
    "-Q 0x11111111",
    "-M 0x22222222 -S 0x33333333",
    "-Q 01234",
    "-Q zz",
    "-M 99999999999999999999",
    "-x",
    "--queue",
    "-q",
];

const MK_ARGS: &[&str] = &[
    "",
    "-Q -p 644",
    "-M 100 -Q -S 2 -p 644",
    "-M 1K -p 644",
    "-M 1.5K -p 640",
    "-M 4KB -p 644",
    "--shmem 1M --queue --semaphore 3 --mode 600",
    "-M abc",
    "-M 5Q",
    "-S x",
    "-M 0",
    "-S 0",
    "-S -1",
    "-Q -M 0 -p 644",
    "-x",
    "-M",
];

/// Objects to act on: queue 0, segment 0, set 0 owned by root with keys 0x11111111,
/// 0x22222222, 0x33333333; queue 1 owned by nobody, mode 0600.
const SETUP: &str = r#"
"$IPCKIT" mk -Q -k 0x11111111 -p 644 >/dev/null
"$IPCKIT" mk -M 100 -k 0x22222222 -p 644 >/dev/null
"$IPCKIT" mk -S 1 -k 0x33333333 -p 644 >/dev/null
setpriv --reuid=65534 --regid=65534 --clear-groups ipcmk -Q -p 600 >/dev/null
"#;

fn transcript(tool: &str, args: &str, setup: &str) -> String {
    let script = format!(
        "{setup}\necho '== as nobody'\nsetpriv --reuid=65534 --regid=65534 --clear-groups {tool} {args}; echo \"rc=$?\"\n\
         echo '== as root'\n{tool} {args}; echo \"rc=$?\"\necho '== left'\nipcs\n"
    );
    // Keep stdout and stderr apart (their interleaving depends on buffering).
    let dir = open_tempdir();
    let err = dir.path().join("err");
    let out = in_namespace(&format!("exec 2>'{}'\n{script}", err.display()), "UTC");
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    let norm = |s: &str| {
        s.lines()
            .map(|l| {
                let mut l = l.to_string();
                for p in ["ipcrm: ", "ipcmk: ", "ipckit: "] {
                    if let Some(r) = l.strip_prefix(p) {
                        l = format!("PROG: {r}");
                    }
                }
                for c in ["ipcrm", "ipcmk", "ipckit rm", "ipckit mk", "/bin/ipckit rm", "/bin/ipckit mk"] {
                    l = l.replace(&format!("Try '{c} --help'"), "Try 'CMD --help'");
                }
                // ipcmk's keys are random.
                if l.starts_with("0x") && l.len() > 10 {
                    l = format!("KEY{}", &l[10..]);
                }
                l
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!("{}\n--- stderr\n{}", norm(&String::from_utf8_lossy(&out.stdout)), norm(&stderr))
}

fn compare(tool: &str, ours: &str, list: &[&str], setup: &str) {
    let mut failures = Vec::new();
    for args in list {
        let theirs = transcript(tool, args, setup);
        let mine = transcript(ours, args, setup);
        assert!(theirs.contains("== left"), "the script did not run:\n{theirs}");
        if theirs != mine {
            failures.push(format!("[{args}]\n--- {tool}\n{theirs}\n--- ipckit\n{mine}"));
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n\n"));
}

fn ready() -> Option<String> {
    if let Some(why) = no_util_linux() {
        return Some(why);
    }
    if !Command::new("setpriv").arg("--version").output().map(|o| o.status.success()).unwrap_or(false) {
        return Some("util-linux `setpriv` is missing (needed to act as an unprivileged user)".into());
    }
    None
}

/// The binary, copied where the unprivileged user may run it.
fn copy_of_bin() -> (tempfile::TempDir, String) {
    let dir = open_tempdir();
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).unwrap();
    let path = bin_dir.join("ipckit");
    std::fs::copy(bin(), &path).unwrap();
    let p = path.display().to_string();
    (dir, p)
}

#[test]
fn rm_matches_ipcrm() {
    if let Some(why) = ready() {
        skip!("{why}");
    }
    let (_keep, b) = copy_of_bin();
    compare("ipcrm", &format!("{b} rm"), RM_ARGS, &SETUP.replace("\"$IPCKIT\"", &b));
}

#[test]
fn mk_matches_ipcmk() {
    if let Some(why) = ready() {
        skip!("{why}");
    }
    let (_keep, b) = copy_of_bin();
    compare("ipcmk", &format!("{b} mk"), MK_ARGS, "");
}

#[test]
fn rm_through_a_link_named_ipcrm() {
    if let Some(why) = ready() {
        skip!("{why}");
    }
    let (keep, b) = copy_of_bin();
    let link = keep.path().join("bin/ipcrm");
    std::os::unix::fs::symlink(&b, &link).unwrap();
    let link = link.display().to_string();
    for args in ["-q 0 -q 7", "-x", "shm 0 1"] {
        let theirs = transcript("ipcrm", args, &SETUP.replace("\"$IPCKIT\"", &b));
        let mine = transcript(&link, args, &SETUP.replace("\"$IPCKIT\"", &b));
        assert_eq!(theirs, mine, "[{args}]");
    }
}
