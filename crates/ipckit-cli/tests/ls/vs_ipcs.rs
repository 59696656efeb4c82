//! `ipckit ls` against util-linux `ipcs` on the same objects, in a private IPC
//! namespace: every option, byte for byte (stdout, stderr after the program name,
//! and exit status). The same again through a link named `ipcs`, where even the
//! program name must match.

use std::path::Path;

use crate::common::*;

/// Option sets to compare. Each line is split on spaces.
const OPTIONS: &[&str] = &[
    "",
    "-a",
    "-q",
    "-m",
    "-s",
    "-t",
    "-p",
    "-c",
    "-l",
    "-u",
    "-b",
    "--human",
    "-l -b",
    "-l --human",
    "-u --human",
    "-u -b",
    "-m -t",
    "-q -t",
    "-s -t",
    "-m -p",
    "-q -p",
    "-s -p",
    "-m -c",
    "-q -c",
    "-s -c",
    "-m --human",
    "-q --human",
    "-q -b",
    "--queues --time",
    "--shmems --pid",
    "--semaphores --creator",
    "--all --limits",
    "--summary",
    "--sh --tim",
    "-qms -tp",
    "-q -i 0",
    "-q -i 1 -b",
    "-q -i 0 --human",
    "-m -i 0",
    "-m -i 1 --human",
    "-m -i 2",
    "-m -i 3",
    "-s -i 0",
    "-s -i 1",
    "--id 1 --semaphores",
    "-q -i 99",
    "-m -i 99",
    "-s -i 99",
    "-i 0",
    "-m -s -i 0",
    "-m -i abc",
    "-m -i 99999999999",
    "-m -i",
    "-x",
    "--nope",
    "--human=1",
    "--id",
];

/// Makes objects of every kind and state: messages queued and received, a set with
/// operations, segments attached, removed while attached and locked, owners with and
/// without a name.
const SETUP: &str = r#"
set -eu
q=$(ipcmk -Q | awk '{print $NF}')
"$IPCKIT" send --id "$q" hello
"$IPCKIT" send --id "$q" -t 5 "second message"
"$IPCKIT" recv --id "$q" -t 5 >/dev/null
ipcmk -Q -p 600 >/dev/null
if command -v setpriv >/dev/null; then
  setpriv --reuid=12345 --regid=12345 --clear-groups ipcmk -Q -p 666 >/dev/null
  setpriv --reuid=65534 --regid=65534 --clear-groups ipcmk -S 2 -p 640 >/dev/null
fi
s=$(ipcmk -S 3 | awk '{print $NF}')
"$IPCKIT" sem --id "$s" op 0+3,2+1
m0=$(ipcmk -M 4096 | awk '{print $NF}')
m1=$(ipcmk -M 1100 -p 600 | awk '{print $NF}')
m2=$(ipcmk -M 2M | awk '{print $NF}')
m3=$(ipcmk -M 5000 | awk '{print $NF}')
holders=
if [ -x "$DIR/holder" ]; then
  "$DIR/holder" "$m0" attach "$DIR/r0" & holders="$holders $!"
  "$DIR/holder" "$m2" rm "$DIR/r2" & holders="$holders $!"
  "$DIR/holder" "$m3" lock "$DIR/r3" & holders="$holders $!"
  while [ ! -e "$DIR/r0" ] || [ ! -e "$DIR/r2" ] || [ ! -e "$DIR/r3" ]; do sleep 0.01; done
fi
set +e
"#;

const HOLDER: &str = r#"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/shm.h>
#include <unistd.h>
int main(int argc, char **argv) {
    int id = atoi(argv[1]);
    if (shmat(id, NULL, 0) == (void *)-1) { perror("shmat"); return 1; }
    if (!strcmp(argv[2], "rm") && shmctl(id, IPC_RMID, NULL) < 0) { perror("rm"); return 1; }
    if (!strcmp(argv[2], "lock") && shmctl(id, SHM_LOCK, NULL) < 0) { perror("lock"); return 1; }
    fclose(fopen(argv[3], "w"));
    pause();
    return 0;
}
"#;

fn read(dir: &Path, name: &str) -> String {
    String::from_utf8_lossy(&std::fs::read(dir.join(name)).unwrap_or_default()).into_owned()
}

fn normalise(err: &str, prog: &str, cmd: &str) -> String {
    err.lines()
        .map(|l| {
            let l =
                l.strip_prefix(&format!("{prog}: ")).map(|r| format!("PROG: {r}")).unwrap_or(l.to_string());
            l.replace(&format!("Try '{cmd} --help'"), "Try 'CMD --help'")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_option_matches_ipcs() {
    if let Some(why) = no_util_linux() {
        skip!("{why}");
    }
    compare_all("");
}

/// Without `/proc/sysvipc` (hidden under an empty tmpfs in a private mount
/// namespace), ipcs asks the kernel with `*_STAT`; ipckit must give the same output.
#[test]
fn every_option_matches_ipcs_without_proc_sysvipc() {
    if let Some(why) = no_util_linux() {
        skip!("{why}");
    }
    let probe = std::process::Command::new("unshare")
        .args(["--mount", "--", "mount", "-t", "tmpfs", "none", "/proc/sysvipc"])
        .output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        skip!("cannot hide /proc/sysvipc (unshare --mount and mount refused)");
    }
    compare_all("unshare --mount -- ");
}

/// Runs the comparison, with the script started through `wrap` (inside the IPC
/// namespace).
fn compare_all(wrap: &str) {
    let dir = open_tempdir();
    let d = dir.path();
    if cc().is_some() {
        compile_c(d, "holder", HOLDER);
    } else {
        eprintln!(
            "note: no C compiler: segments attached, removed while attached and locked are not covered"
        );
    }
    std::os::unix::fs::symlink(bin(), d.join("ipcs")).unwrap();
    std::fs::write(d.join("opts"), OPTIONS.join("\n") + "\n").unwrap();
    let inner = format!(
        "DIR='{}'\n{}{SETUP}\ni=0\nwhile IFS= read -r o; do\n\
         ipcs $o >$DIR/a.$i.out 2>$DIR/a.$i.err; echo $? >$DIR/a.$i.rc\n\
         \"$IPCKIT\" ls $o >$DIR/b.$i.out 2>$DIR/b.$i.err; echo $? >$DIR/b.$i.rc\n\
         \"$DIR/ipcs\" $o >$DIR/c.$i.out 2>$DIR/c.$i.err; echo $? >$DIR/c.$i.rc\n\
         i=$((i+1))\ndone <$DIR/opts\n\
         for p in $holders; do kill $p; done; wait\n",
        d.display(),
        if wrap.is_empty() {
            ""
        } else {
            "mount -t tmpfs none /proc/sysvipc\nif [ -e /proc/sysvipc/msg ]; then echo '/proc/sysvipc still visible' >&2; exit 1; fi\n"
        }
    );
    std::fs::write(d.join("script"), &inner).unwrap();
    let script = format!("{wrap}bash {}/script", d.display());
    // A zone with a half-hour offset and no tzdata needed: dates must follow TZ.
    let out = in_namespace(&script, "IST-5:30");
    assert!(out.status.success(), "setup failed: {}", String::from_utf8_lossy(&out.stderr));

    let mut failures = Vec::new();
    for (i, opts) in OPTIONS.iter().enumerate() {
        let (a_out, b_out, c_out) =
            (read(d, &format!("a.{i}.out")), read(d, &format!("b.{i}.out")), read(d, &format!("c.{i}.out")));
        let (a_err, b_err, c_err) =
            (read(d, &format!("a.{i}.err")), read(d, &format!("b.{i}.err")), read(d, &format!("c.{i}.err")));
        let (a_rc, b_rc, c_rc) =
            (read(d, &format!("a.{i}.rc")), read(d, &format!("b.{i}.rc")), read(d, &format!("c.{i}.rc")));
        assert!(!a_rc.is_empty(), "option set {i} was not run");
        if a_out != b_out {
            failures.push(format!("[{opts}] stdout differs:\n--- ipcs\n{a_out}--- ipckit ls\n{b_out}"));
        }
        let (an, bn) = (normalise(&a_err, "ipcs", "ipcs"), normalise(&b_err, "ipckit", "ipckit ls"));
        if an != bn {
            failures.push(format!("[{opts}] stderr differs:\n--- ipcs\n{a_err}--- ipckit ls\n{b_err}"));
        }
        if a_rc != b_rc {
            failures.push(format!(
                "[{opts}] exit status {} (ipcs) vs {} (ipckit ls)",
                a_rc.trim(),
                b_rc.trim()
            ));
        }
        if (&a_out, &a_err, &a_rc) != (&c_out, &c_err, &c_rc) {
            failures.push(format!(
                "[{opts}] as a link named ipcs:\n--- ipcs\n{a_out}{a_err}rc {a_rc}--- link\n{c_out}{c_err}rc {c_rc}"
            ));
        }
    }
    // The listing covered what it should.
    let listing = read(d, "a.0.out");
    assert!(listing.contains("hello") || listing.contains("12345") || listing.contains("0x"), "{listing}");
    if cc().is_some() {
        assert!(listing.contains("dest"), "a segment removed while attached shows as dest:\n{listing}");
        assert!(listing.contains("locked"), "{listing}");
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
}
