//! Creating and removing FIFOs: mode, exclusive creation, open-or-create, removal only
//! by the creator and only of what it created.

use std::cell::Cell;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};

use crate::util::{fork, serial, wait_ok};
use ipckit::fifo::Fifo;
use ipckit::{ErrorKind, Mode};

#[test]
fn create_makes_a_fifo_with_the_mode() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    for bits in [0o600, 0o640, 0o666] {
        let path = dir.path().join(format!("f{bits:o}"));
        let fifo = Fifo::create(&path, Mode::new(bits)).unwrap();
        assert!(fifo.created());
        assert_eq!(fifo.path(), path);
        let meta = std::fs::symlink_metadata(&path).unwrap();
        assert!(meta.file_type().is_fifo());
        // Exactly the mode asked for: the umask does not narrow it.
        assert_eq!(meta.permissions().mode() & 0o777, bits, "mode {bits:o}");
    }
}

#[test]
fn create_refuses_anything_already_at_the_path() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"precious").unwrap();
    let e = Fifo::create(&file, Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AlreadyExists);
    let msg = e.to_string();
    assert!(msg.contains("already exists") && msg.contains(&*file.to_string_lossy()), "{msg}");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");

    let fifo = dir.path().join("fifo");
    let _first = Fifo::create(&fifo, Mode::OWNER_RW).unwrap();
    assert_eq!(Fifo::create(&fifo, Mode::OWNER_RW).unwrap_err().kind(), ErrorKind::AlreadyExists);
}

#[test]
fn open_or_create_uses_a_fifo_and_refuses_other_files_when_opening() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let a = Fifo::open_or_create(&path, Mode::OWNER_RW).unwrap();
    assert!(a.created());
    let b = Fifo::open_or_create(&path, Mode::OWNER_RW).unwrap();
    assert!(!b.created());
    // Both name the same FIFO.
    let r = a.open_read_nonblocking().unwrap();
    let w = b.open_write_nonblocking().unwrap();
    w.write_atomic(b"same").unwrap();
    assert_eq!(r.bytes_queued().unwrap(), 4);

    // A regular file at the path: accepted by open_or_create (it does not look), refused
    // when an end is opened, by fstat on the opened descriptor.
    let file = dir.path().join("file");
    std::fs::write(&file, b"data").unwrap();
    let c = Fifo::open_or_create(&file, Mode::OWNER_RW).unwrap();
    assert!(!c.created());
    for e in [
        c.open_read().unwrap_err(),
        c.open_read_nonblocking().unwrap_err(),
        c.open_write_nonblocking().unwrap_err(),
    ] {
        assert_eq!(e.kind(), ErrorKind::WrongType);
        assert!(e.to_string().contains("names a regular file, not a FIFO"), "{e}");
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"data", "opening for writing must not touch the file");
}

#[test]
fn remove_on_drop_is_opt_in_and_only_for_the_creator() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");

    // Not asked: the FIFO stays.
    drop(Fifo::create(&path, Mode::OWNER_RW).unwrap());
    assert!(path.exists());

    // Only a creator may ask.
    let mut opener = Fifo::at(&path).unwrap();
    let e = opener.set_remove_on_drop(true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    drop(opener);
    assert!(path.exists());
    // But anyone may remove explicitly.
    Fifo::at(&path).unwrap().remove().unwrap();
    assert!(!path.exists());

    let mut creator = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    creator.set_remove_on_drop(true).unwrap();
    drop(creator);
    assert!(!path.exists());
}

#[test]
fn removal_touches_only_the_fifo_this_handle_created() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let mut first = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    first.set_remove_on_drop(true).unwrap();
    // Someone replaces it with a FIFO of their own.
    std::fs::remove_file(&path).unwrap();
    let _theirs = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    drop(first);
    assert!(path.exists(), "dropping the first handle removed someone else's FIFO");

    let second = Fifo::create(dir.path().join("g"), Mode::OWNER_RW).unwrap();
    std::fs::remove_file(second.path()).unwrap();
    std::fs::write(second.path(), b"not a fifo").unwrap();
    let p = second.path().to_path_buf();
    let e = second.remove().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WrongType);
    assert!(e.to_string().contains("not a FIFO"), "{e}");
    assert_eq!(std::fs::read(&p).unwrap(), b"not a fifo");

    let third = Fifo::create(dir.path().join("h"), Mode::OWNER_RW).unwrap();
    std::fs::remove_file(third.path()).unwrap();
    Fifo::create(third.path(), Mode::OWNER_RW).unwrap();
    let e = third.remove().unwrap_err();
    assert!(e.to_string().contains("different FIFO"), "{e}");
}

#[test]
fn a_forked_child_never_removes_the_parents_fifo() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f");
    let mut fifo = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    fifo.set_remove_on_drop(true).unwrap();
    let fifo = Cell::new(Some(fifo));
    let child = fork(|| {
        drop(fifo.take()); // the child's copy of the handle
        0
    });
    wait_ok(child);
    assert!(path.exists(), "the child's drop removed the FIFO");
    drop(fifo.take());
    assert!(!path.exists(), "the creating process's drop should remove it");
}

#[test]
fn ends_keep_working_after_the_name_is_removed() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let fifo = Fifo::create(dir.path().join("f"), Mode::OWNER_RW).unwrap();
    let (mut r, mut w) = fifo.open_read_write().unwrap();
    fifo.remove().unwrap();
    w.write_all(b"still here").unwrap();
    let mut buf = [0u8; 10];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"still here");
}

#[test]
fn bad_paths_are_clear_errors() {
    let _g = serial();
    let e = Fifo::create("/tmp/a\0b", Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("NUL"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let e = Fifo::create(dir.path().join("missing/f"), Mode::OWNER_RW).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("directory in the path does not exist"), "{e}");
    let e = Fifo::at(dir.path().join("nothing")).unwrap().open_read_nonblocking().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("nothing exists at this path"), "{e}");
}
