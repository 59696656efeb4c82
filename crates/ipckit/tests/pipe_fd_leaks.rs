//! No descriptor leaks: every pipe and FIFO operation, successful or failing, leaves
//! the process with exactly the descriptors it had (counted in `/proc/self/fd`), and
//! timed opens leave no thread behind.
//!
//! One test only, so that nothing else in this binary opens or closes descriptors
//! while it counts.

mod util;

use std::fs::OpenOptions;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Command;
use std::time::Duration;

use ipckit::fifo::Fifo;
use ipckit::pipe::{self, PipeOptions, PipeReader, PipeWriter};
use ipckit::{ErrorKind, Mode};
use util::{assert_no_fd_leak, thread_count, wait_ok};

#[test]
fn no_operation_leaks_a_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let threads = thread_count();

    assert_no_fd_leak("pipe and drop", || drop(pipe::pipe().unwrap()));
    assert_no_fd_leak("options", || {
        drop(PipeOptions::new().nonblocking(true).packet(true).capacity(1 << 16).create().unwrap())
    });
    assert_no_fd_leak("a refused capacity at creation", || {
        assert!(PipeOptions::new().capacity((1 << 31) + 1).create().is_err());
    });
    assert_no_fd_leak("clone and close", || {
        let (r, w) = pipe::pipe().unwrap();
        let w2 = w.try_clone().unwrap();
        w.close().unwrap();
        drop((r, w2));
    });
    assert_no_fd_leak("duplex", || drop(pipe::duplex().unwrap()));
    assert_no_fd_leak("from_fd refusing a file", || {
        let f: OwnedFd = tempfile::tempfile().unwrap().into();
        assert!(PipeReader::from_fd(f).is_err());
        let (r, _w) = pipe::pipe().unwrap();
        assert!(PipeWriter::try_from(OwnedFd::from(r)).is_err());
    });
    assert_no_fd_leak("splice, tee, the read/write fallback, and their errors", || {
        let (r, mut w) = pipe::pipe().unwrap();
        w.write_all(b"data").unwrap();
        assert!(r.tee_to(&w, 1).is_err(), "tee into the same pipe");
        let appending = OpenOptions::new().create(true).append(true).open(dir.path().join("log")).unwrap();
        assert!(r.splice_to(&appending, None, 4).is_err(), "splice into an O_APPEND file");
        drop(w);
        assert_eq!(r.copy_to(&appending).unwrap(), 4);
    });

    // FIFOs.
    let path = dir.path().join("fifo");
    assert_no_fd_leak("create and remove", || {
        let mut f = Fifo::create(&path, Mode::OWNER_RW).unwrap();
        f.set_remove_on_drop(true).unwrap();
    });
    let fifo = Fifo::create(&path, Mode::OWNER_RW).unwrap();
    assert_no_fd_leak("refused creation", || assert!(Fifo::create(&path, Mode::OWNER_RW).is_err()));
    assert_no_fd_leak("timed opens that give up", || {
        assert!(fifo.open_read_timeout(Duration::from_millis(20)).unwrap_err().is_not_now());
        assert!(fifo.open_write_timeout(Duration::from_millis(20)).unwrap_err().is_not_now());
        assert!(fifo.try_open_read().unwrap_err().is_not_now());
        assert!(fifo.try_open_write().unwrap_err().is_not_now());
    });
    assert_no_fd_leak("no reader", || {
        assert_eq!(fifo.open_write_nonblocking().unwrap_err().kind(), ErrorKind::NoReader)
    });
    assert_no_fd_leak("ends that meet", || {
        let r = fifo.open_read_nonblocking().unwrap();
        let w = fifo.try_open_write().unwrap();
        let r2 = fifo.try_open_read().unwrap();
        drop((r, w, r2));
        drop(fifo.open_read_write().unwrap());
    });
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert_no_fd_leak("paths that are not FIFOs", || {
        for p in [&file, &dir.path().to_path_buf()] {
            let f = Fifo::at(p).unwrap();
            assert!(f.open_read().is_err());
            assert!(f.open_read_nonblocking().is_err());
            assert!(f.open_read_timeout(Duration::from_millis(5)).is_err());
            assert!(f.open_write_nonblocking().is_err());
            assert!(f.open_write_timeout(Duration::from_millis(5)).is_err());
            assert!(f.open_read_write().is_err());
        }
        let strict = Fifo::at(&link).unwrap().nofollow(true);
        assert!(strict.open_read_timeout(Duration::from_millis(5)).is_err());
        assert!(Fifo::at(dir.path().join("missing")).unwrap().open_read_nonblocking().is_err());
    });
    drop(fifo);

    // Children.
    assert_no_fd_leak("a spawn that fails", || {
        assert!(pipe::spawn_to_child(&mut Command::new("/nonexistent/program")).is_err());
        assert!(pipe::spawn_from_child(&mut Command::new("/nonexistent/program")).is_err());
        assert!(pipe::spawn_duplex(&mut Command::new("/nonexistent/program")).is_err());
    });
    assert_no_fd_leak("spawned children", || {
        let mut cat = Command::new("cat");
        let (mut child, chan) = pipe::spawn_duplex(&mut cat).unwrap();
        let (mut r, mut w) = chan.into_parts();
        w.write_all(b"echo").unwrap();
        drop(w);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "echo");
        assert!(child.wait().unwrap().success());
    });
    assert_no_fd_leak("forked children", || {
        // SAFETY: the only test of this binary; the child returns at once.
        let (child, w) = unsafe { pipe::fork_to_child(|_r| 0) }.unwrap();
        drop(w);
        wait_ok(child);
    });

    #[cfg(feature = "tokio")]
    {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let fifo = Fifo::create(dir.path().join("async"), Mode::OWNER_RW).unwrap();
        assert_no_fd_leak("async ends", || {
            rt.block_on(async {
                let (r, w) = pipe::pipe().unwrap();
                drop((r.into_async().unwrap(), w.into_async().unwrap()));
                let r = fifo.open_read_async().unwrap();
                drop(tokio::time::timeout(Duration::from_millis(10), fifo.open_write_async()).await);
                drop(r);
            })
        });
    }

    assert_eq!(thread_count(), threads, "a thread was left behind");
}
