//! `ipckit completions SHELL` prints a working completion script, and `ipckit man`
//! writes man pages that document every subcommand, the util-linux-compatible `ls`,
//! `rm` and `mk` option by option.

use std::collections::BTreeSet;
use std::process::Command;

use crate::common::{ipckit, ok};

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).expect("UTF-8 output")
}

/// Asks bash's completion function (from the generated script) for the words after
/// `line`, as if Tab were pressed at its end.
fn bash_complete(script: &std::path::Path, line: &[&str]) -> Vec<String> {
    let words: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let n = line.len() - 1;
    let prog = format!(
        "source '{}' || exit 3\n\
         complete -p ipckit >/dev/null || exit 4\n\
         COMP_WORDS=({})\nCOMP_CWORD={n}\nCOMP_LINE=\"${{COMP_WORDS[*]}}\"\nCOMP_POINT=${{#COMP_LINE}}\n\
         _ipckit ipckit \"${{COMP_WORDS[{n}]}}\" \"${{COMP_WORDS[{}]}}\"\n\
         printf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.join(" "),
        n.saturating_sub(1),
    );
    let out = Command::new("bash").arg("--norc").arg("-c").arg(prog).output().expect("run bash");
    assert!(out.status.success(), "bash failed ({:?}): {}", out.status, String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn bash_script_completes_subcommands_and_their_options() {
    if Command::new("bash").arg("--version").output().is_err() {
        skip!("no bash on this machine");
    }
    let script = text(ok(&["completions", "bash"]));
    assert!(script.contains("_ipckit()"), "no completion function:\n{script}");
    assert!(script.contains("complete -F _ipckit"), "the function is not registered for ipckit");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ipckit.bash");
    std::fs::write(&path, &script).unwrap();

    let subs = bash_complete(&path, &["ipckit", ""]);
    for want in ["ls", "rm", "mk", "key", "send", "recv", "sem", "shm", "demo", "completions"] {
        assert!(subs.iter().any(|s| s == want), "`ipckit <Tab>` does not offer {want}: {subs:?}");
    }
    assert!(!subs.iter().any(|s| s.starts_with("__")), "an internal subcommand is offered: {subs:?}");

    // The util-linux-compatible subcommands complete their hand-parsed options too.
    let rm = bash_complete(&path, &["ipckit", "rm", "--st"]);
    assert_eq!(rm, ["--stale"], "`ipckit rm --st<Tab>`");
    let ls = bash_complete(&path, &["ipckit", "ls", "--j"]);
    assert_eq!(ls, ["--json"], "`ipckit ls --j<Tab>`");
    let recv = bash_complete(&path, &["ipckit", "recv", "--for"]);
    assert_eq!(recv, ["--format"], "`ipckit recv --for<Tab>`");
}

#[test]
fn zsh_and_fish_scripts_name_the_subcommands() {
    let zsh = text(ok(&["completions", "zsh"]));
    assert!(zsh.starts_with("#compdef ipckit"), "zsh script header:\n{}", &zsh[..zsh.len().min(200)]);
    let fish = text(ok(&["completions", "fish"]));
    assert!(fish.contains("complete -c ipckit"), "fish script has no `complete -c ipckit`");
    for sub in ["ls", "rm", "mk", "recv", "demo"] {
        assert!(zsh.contains(&format!("'{sub}:")), "zsh script does not name {sub}");
        assert!(fish.contains(&format!("-a \"{sub}\"")), "fish script does not name {sub}");
    }
    assert!(fish.contains("-l stale"), "fish script lacks ls/rm --stale");
}

#[test]
fn unknown_shell_is_a_usage_error() {
    let out = ipckit(&["completions", "tcsh"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bash") && err.contains("zsh") && err.contains("fish"), "{err}");
}

/// The long options a tool's own `--help` lists (`--all[=...]` counts as `--all`).
fn long_options(help: &str) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for (i, _) in help.match_indices("--") {
        let name: String =
            help[i + 2..].chars().take_while(|c| c.is_ascii_lowercase() || *c == '-').collect();
        if !name.is_empty() {
            set.insert(name);
        }
    }
    set
}

#[test]
fn man_pages_document_every_subcommand_and_option() {
    let dir = tempfile::tempdir().unwrap();
    let listed = text(ok(&["man", "--dir", dir.path().to_str().unwrap()]));
    let page = |name: &str| {
        let path = dir.path().join(format!("{name}.1"));
        assert!(listed.lines().any(|l| l == path.to_str().unwrap()), "{name}.1 not reported: {listed}");
        // roff escapes hyphens as `\-`.
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}.1: {e}")).replace("\\-", "-")
    };

    let top = page("ipckit");
    for section in [".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH SUBCOMMANDS"] {
        assert!(top.contains(section), "ipckit.1 lacks {section}");
    }
    assert!(top.contains("ipckit-ls(1)") && top.contains("ipckit-completions(1)"), "{top}");
    assert!(!dir.path().join("ipckit-__demo-role.1").exists(), "a page for an internal subcommand");

    for sub in ["key", "send", "recv", "sem", "shm", "demo", "completions"] {
        let p = page(&format!("ipckit-{sub}"));
        assert!(p.contains(".SH NAME") && p.contains(".SH SYNOPSIS"), "ipckit-{sub}.1");
    }
    let recv = page("ipckit-recv");
    for opt in ["--key", "--id", "--type", "--except", "--nowait", "--timeout", "--format"] {
        assert!(recv.contains(opt), "ipckit-recv.1 lacks {opt}");
    }

    // ls, rm and mk parse their options by hand; their pages must still list each
    // long option their own --help shows.
    for sub in ["ls", "rm", "mk"] {
        let p = page(&format!("ipckit-{sub}"));
        assert!(p.contains(".SH NAME") && p.contains(".SH SYNOPSIS") && p.contains(".SH OPTIONS"));
        let help = text(ok(&[sub, "--help"]));
        let options = long_options(&help);
        assert!(options.len() >= 5, "too few options read from `ipckit {sub} --help`: {options:?}");
        for name in options {
            assert!(p.contains(&format!("--{name}")), "ipckit-{sub}.1 lacks --{name} (in its --help)");
        }
    }
}
