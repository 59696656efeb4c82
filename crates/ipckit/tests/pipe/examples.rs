//! The pipe examples, run as their command lines say: `pipe_parent_child` and
//! `pipe_player FILE -- CMD [ARGS...]`.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::util::example_bin;

#[test]
fn pipe_parent_child_prints_hello_world() {
    let out = Command::new(example_bin("pipe_parent_child")).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello world\n");
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn big_file(dir: &std::path::Path, len: usize) -> (std::path::PathBuf, Vec<u8>) {
    let data: Vec<u8> = (0..len as u64).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let path = dir.join("song.mp3");
    std::fs::File::create(&path).unwrap().write_all(&data).unwrap();
    (path, data)
}

#[test]
fn pipe_player_streams_the_file_into_the_commands_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = big_file(dir.path(), 3 * 1024 * 1024 + 17);
    let out = Command::new(example_bin("pipe_player")).arg(&path).args(["--", "cat"]).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout == data, "cat's output (passed through) differs from the file");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("moved {} bytes", data.len())), "{stderr}");
    assert!(stderr.contains("(splice)"), "a regular file should go through splice: {stderr}");
}

#[test]
fn pipe_player_exits_with_the_commands_status() {
    let dir = tempfile::tempdir().unwrap();
    let (path, data) = big_file(dir.path(), 100_000);
    let out = Command::new(example_bin("pipe_player"))
        .arg(&path)
        .args(["--", "sh", "-c", "wc -c; exit 3"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), data.len().to_string());

    // A command that stops reading early: the stream ends quietly, status is the command's.
    let (path, _) = big_file(dir.path(), 8 * 1024 * 1024);
    let out = Command::new(example_bin("pipe_player"))
        .arg(&path)
        .args(["--", "head", "-c", "10"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout.len(), 10);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pipe_player: moved ") && !stderr.contains("Broken pipe"), "{stderr}");

    // A command killed by a signal: 128 + the signal.
    let out = Command::new(example_bin("pipe_player"))
        .arg(&path)
        .args(["--", "sh", "-c", "kill -9 $$"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(128 + 9));
}

#[test]
fn pipe_player_falls_back_where_splice_is_refused_and_reports_bad_use() {
    // Stdin as the FILE, fed by a pipe from this test: splice from a pipe works too, so
    // use a file that refuses splice where the kernel does (/proc); either way the bytes
    // must arrive.
    let expected = std::fs::read("/proc/version").unwrap();
    let out = Command::new(example_bin("pipe_player")).args(["/proc/version", "--", "cat"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, expected);

    let out = Command::new(example_bin("pipe_player")).args(["only-a-file"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: pipe_player FILE -- CMD"));

    let out =
        Command::new(example_bin("pipe_player")).args(["/nonexistent-file", "--", "cat"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent-file"));

    let out = Command::new(example_bin("pipe_player"))
        .args(["/proc/version", "--", "/nonexistent-program"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(127));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such program"));
}
