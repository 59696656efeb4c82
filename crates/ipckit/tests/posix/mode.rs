//! Named objects get exactly the mode asked for, whatever the umask: POSIX shared
//! memory, message queues and semaphores, named channels (built on POSIX shared
//! memory) and FIFOs. Each is created in a forked child whose umask is 022, which
//! would turn 0666 into 0644; the parent checks the object's `st_mode`.

use std::os::unix::fs::PermissionsExt;

use crate::util::{fork, wait_ok};
use ipckit::channel::{Channel, ChannelConfig};
use ipckit::fifo::Fifo;
use ipckit::posix::mq::{MsgQueue, QueueAttr};
use ipckit::posix::sem::NamedSemaphore;
use ipckit::posix::shm::ShmObject;
use ipckit::{ErrorKind, Mode};

const ASKED: u32 = 0o666;

/// Runs `make` in a child whose umask is 022; the child leaves what it made behind
/// (it exits without running destructors), for the parent to inspect and remove.
fn made_under_umask(make: impl FnOnce() -> ipckit::Result<()>) {
    let child = fork(|| {
        // SAFETY: umask only sets this (single-threaded) child's file-creation mask.
        unsafe { libc::umask(0o022) };
        match make() {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("child: {e}");
                2
            }
        }
    });
    wait_ok(child);
}

fn name(tag: &str) -> String {
    format!("/ipckit-test-mode-{tag}-{}", std::process::id())
}

struct Cleanup<F: FnMut()>(F);
impl<F: FnMut()> Drop for Cleanup<F> {
    fn drop(&mut self) {
        (self.0)()
    }
}

fn file_mode(path: &str) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn posix_shared_memory_gets_the_mode_asked_for() {
    let n = name("shm");
    let _c = Cleanup(|| {
        let _ = ShmObject::unlink(&n);
    });
    made_under_umask(|| ShmObject::create(&n, 4096, Mode::new(ASKED)).map(std::mem::forget));
    assert_eq!(file_mode(&format!("/dev/shm{n}")), ASKED);
    assert_eq!(ShmObject::open(&n).unwrap().mode().unwrap(), Mode::new(ASKED));
}

#[test]
fn a_named_channel_gets_the_mode_asked_for() {
    let n = name("chan");
    let _c = Cleanup(|| {
        let _ = ShmObject::unlink(&n);
    });
    made_under_umask(|| {
        Channel::create_named(&n, &ChannelConfig::new(), Mode::new(ASKED)).map(std::mem::forget)
    });
    assert_eq!(file_mode(&format!("/dev/shm{n}")), ASKED);
}

#[test]
fn a_posix_message_queue_gets_the_mode_asked_for() {
    let n = name("mq");
    let _c = Cleanup(|| {
        let _ = MsgQueue::unlink(&n);
    });
    made_under_umask(|| {
        MsgQueue::create(&n, QueueAttr { maxmsg: 2, msgsize: 64 }, Mode::new(ASKED)).map(std::mem::forget)
    });
    assert_eq!(MsgQueue::open(&n).unwrap().mode().unwrap(), Mode::new(ASKED));
}

#[test]
fn a_named_semaphore_gets_the_mode_asked_for() {
    let n = name("sem");
    let _c = Cleanup(|| {
        let _ = NamedSemaphore::unlink(&n);
    });
    made_under_umask(|| NamedSemaphore::create(&n, 0, Mode::new(ASKED)).map(std::mem::forget));
    assert_eq!(file_mode(&format!("/dev/shm/sem.{}", &n[1..])), ASKED);
}

#[test]
fn a_fifo_gets_the_mode_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fifo");
    made_under_umask(|| Fifo::create(&path, Mode::new(ASKED)).map(std::mem::forget));
    assert_eq!(file_mode(path.to_str().unwrap()), ASKED);
}

#[test]
fn the_umask_still_does_not_widen_an_existing_object() {
    // Opening an existing object never changes its mode.
    let n = name("keep");
    let mut obj = ShmObject::create(&n, 4096, Mode::OWNER_RW).unwrap();
    obj.set_remove_on_drop(true).unwrap();
    made_under_umask(|| ShmObject::open(&n).map(drop));
    assert_eq!(file_mode(&format!("/dev/shm{n}")), 0o600);
    assert_eq!(ShmObject::create(&n, 4096, Mode::new(ASKED)).unwrap_err().kind(), ErrorKind::AlreadyExists);
}
