//! An attach or map refused because the process's address space is limited
//! (`RLIMIT_AS`) says so, instead of blaming a kernel limit it cannot name.
use crate::util;

use std::process::Command;

use ipckit::posix::shm::ShmObject;
use ipckit::sysv::shm::ShmSegment;
use ipckit::{ErrorKind, Key, Mode};

const TEST: &str = "attaching_beyond_rlimit_as_names_the_limit";
/// Far more than the child's address-space limit below (nothing is ever touched,
/// so no memory is used).
const BIG: usize = 1 << 30;
const LIMIT: u64 = 512 << 20;

#[test]
fn attaching_beyond_rlimit_as_names_the_limit() {
    if let Some(role) = util::role() {
        // The child, started under `prlimit --as`: attach and map, expecting refusals.
        let id: i32 = role[1].parse().unwrap();
        let err = ShmSegment::from_id(id).unwrap().attach().expect_err("beyond RLIMIT_AS");
        assert_eq!(err.kind(), ErrorKind::LimitExceeded, "{err}");
        assert!(err.to_string().contains("RLIMIT_AS"), "{err}");
        let memfd = ShmObject::memfd("big", BIG).unwrap();
        let err = memfd.map().expect_err("beyond RLIMIT_AS");
        assert!(err.to_string().contains("RLIMIT_AS"), "{err}");
        println!("child: {err}");
        return;
    }
    if Command::new("prlimit").arg("--version").output().is_err() {
        skip!("prlimit (util-linux) is not installed");
    }
    let mut seg = ShmSegment::create(Key::PRIVATE, BIG, Mode::OWNER_RW).unwrap();
    seg.set_remove_on_drop(true).unwrap();
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("prlimit")
        .arg(format!("--as={LIMIT}"))
        .arg("--")
        .arg(exe)
        .args(["--exact", &util::test_name(TEST), "--nocapture", "--test-threads=1"])
        .env(util::ROLE_VAR, ["attach", &seg.id().to_string()].join("\u{1f}"))
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the child failed:\n{text}");
    assert!(text.contains("child: mmap"), "the child ran its checks:\n{text}");
}
