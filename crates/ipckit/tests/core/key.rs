//! `ftok` keys: identical to the C library's, and the text form.

use crate::util::{KeyDir, cc, compile_c};
use ipckit::{ErrorKind, Key, KeySpec};

const FTOK_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <sys/ipc.h>
int main(int argc, char **argv) {
    for (int i = 2; i < argc; i++) {
        key_t k = ftok(argv[1], atoi(argv[i]));
        if (k == -1) { perror("ftok"); return 1; }
        printf("0x%08x\n", (unsigned)k);
    }
    return 0;
}
"#;

#[test]
fn ftok_matches_the_c_library() {
    if cc().is_none() {
        skip!("no C compiler (cc, gcc or clang) to build the reference program");
    }
    let kd = KeyDir::new();
    let exe = compile_c(kd.dir.path(), "ftok_ref", FTOK_C);
    let projs = [1u8, 7, b'A', b'g', 0x7f, 0x80, 0xff];
    // Several files: the anchor, the temp dir itself, and system paths on other file systems.
    let paths = [kd.path().to_path_buf(), kd.dir.path().to_path_buf(), "/".into(), "/usr/bin".into()];
    for path in &paths {
        let out = std::process::Command::new(&exe)
            .arg(path)
            .args(projs.iter().map(|p| p.to_string()))
            .output()
            .unwrap();
        assert!(out.status.success());
        let expected: Vec<String> =
            String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect();
        let ours: Vec<String> = projs.iter().map(|&p| Key::ftok(path, p).unwrap().to_string()).collect();
        assert_eq!(ours, expected, "ftok({}) differs from C", path.display());
    }
}

#[test]
fn ftok_parts_explain_the_key() {
    let kd = KeyDir::new();
    let parts = Key::ftok_parts(kd.path(), b'x').unwrap();
    let raw = parts.key.raw() as u32;
    assert_eq!(raw >> 24, u32::from(b'x'));
    assert_eq!((raw >> 16) & 0xff, (parts.dev & 0xff) as u32);
    assert_eq!(raw & 0xffff, (parts.ino & 0xffff) as u32);
}

#[test]
fn ftok_of_a_missing_file_names_the_path() {
    let kd = KeyDir::new();
    let missing = kd.dir.path().join("nope");
    let e = Key::ftok(&missing, 1).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("nope"), "{e}");
    assert_eq!(e.op(), "ftok");
}

#[test]
fn text_form_path_proj() {
    let kd = KeyDir::new();
    let p = kd.path().display().to_string();
    let want = Key::ftok(kd.path(), b'g').unwrap();
    assert_eq!(format!("{p}:g").parse::<KeySpec>().unwrap().resolve().unwrap(), want);
    assert_eq!(format!("{p}:103").parse::<KeySpec>().unwrap().resolve().unwrap(), want);
    assert_eq!(format!("{p}:0x67").parse::<KeySpec>().unwrap().resolve().unwrap(), want);
    // A path containing ':' splits at the last one.
    let odd = kd.dir.path().join("a:b");
    std::fs::write(&odd, b"").unwrap();
    assert_eq!(
        format!("{}:1", odd.display()).parse::<KeySpec>().unwrap().resolve().unwrap(),
        Key::ftok(&odd, 1).unwrap()
    );
    // Bad project ids say which forms are accepted.
    for bad in ["999", "ab", ""] {
        let e = format!("{p}:{bad}").parse::<KeySpec>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert!(e.to_string().contains("PATH:PROJ"), "{e}");
    }
}
