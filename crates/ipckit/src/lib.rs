//! # ipckit — Unix inter-process communication, complete and safe
//!
//! One module per mechanism, each a safe and documented layer over the system calls,
//! with every flag and control command, handles that clean up after themselves, and
//! errors that say which call failed, on which object, and why.
//!
//! | mechanism | module |
//! |---|---|
//! | anonymous pipes (`pipe2`, `F_SETPIPE_SZ`, `splice`/`tee`/`vmsplice`) | [`pipe`] |
//! | named pipes, FIFOs (`mkfifo`, `open`) | [`fifo`] |
//! | System V keys (`ftok`) | [`Key`] |
//! | System V message queues (`msgget`/`msgsnd`/`msgrcv`/`msgctl`) | [`sysv::msg`] |
//! | System V semaphore sets (`semget`/`semop`/`semctl`) | [`sysv::sem`] |
//! | System V shared memory (`shmget`/`shmat`/`shmdt`/`shmctl`) | [`sysv::shm`] |
//! | kernel limits (`/proc/sys/kernel/*`, `IPC_INFO`) | [`limits`] |
//! | POSIX shared memory and memfds (`shm_open`/`memfd_create`/`mmap`) | [`posix::shm`] |
//! | POSIX message queues (`mq_open`/`mq_send`/`mq_receive`) | [`posix::mq`] |
//! | POSIX semaphores, named and in shared memory (`sem_open`/`sem_init`/`sem_wait`/`sem_post`) | [`posix::sem`] |
//! | a shared-memory channel near the hardware's limit (SPSC ring, futex wake-ups) | [`channel`] |
//! | Unix sockets with descriptor passing and credentials; framed messages over Unix and TCP streams | [`socket`] |
//! | processes (`fork`, `waitpid`, `kill`) | [`process`] |
//! | listing every object (`/proc/sysvipc`, `/dev/shm`, `/dev/mqueue`), like `ipcs` | [`registry`] |
//!
//! ```
//! use ipckit::{Key, Mode};
//! use ipckit::sysv::msg::{MsgQueue, Select};
//!
//! // Two processes that agree on a file and a project id reach the same queue.
//! let dir = tempfile::tempdir()?;
//! let anchor = dir.path().join("proto");
//! std::fs::write(&anchor, b"")?;
//! let key = Key::ftok(&anchor, b'q')?;
//!
//! let mut receiver = MsgQueue::open_or_create(key, Mode::OWNER_RW)?;
//! receiver.set_remove_on_drop(true)?;
//! let sender = MsgQueue::open(key)?;          // in the other process
//! sender.send(b"hello", 1)?;
//!
//! let mut buf = [0u8; 16];
//! let got = receiver.recv(&mut buf, Select::Any)?;
//! assert_eq!(&buf[..got.len], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Safety
//!
//! All calls into the C library live in one private module (`sys`). `unsafe` is
//! denied everywhere else and allowed, item by item and each block with a
//! `// SAFETY:` comment saying why it is sound, in three places only:
//!
//! - the code that touches memory shared with other processes (System V and POSIX
//!   shared memory, POSIX semaphores, which live in such memory, the channel's
//!   ring). That memory is never exposed as
//!   `&[u8]`/`&mut [u8]`: another process can change it at any time, which Rust
//!   references forbid. It is reached through bounds-checked copies, atomics, or raw
//!   pointers behind `unsafe`;
//! - `fork` ([`process::fork`] and the [`pipe`] helpers built on it), which are
//!   `unsafe fn`: what a forked child of a multi-threaded program may do is the
//!   caller's promise;
//! - with the `tokio` feature, registering a descriptor with tokio's reactor (pipe
//!   ends, sockets, POSIX message queues, the channel's eventfds):
//!   `AsyncFd::register_with_interest` is `unsafe` because the descriptor must stay
//!   open while registered, which the ipckit type that owns it guarantees.
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]
#![cfg_attr(docsrs, feature(doc_cfg))]

// ipckit wraps Linux system calls and files (`/proc/sysvipc`, `/dev/mqueue`, futexes,
// `pipe2`...): elsewhere this is the first error, before those of missing symbols.
#[cfg(not(target_os = "linux"))]
compile_error!("ipckit supports Linux only: it is built on Linux system calls and /proc files");

#[macro_use]
mod fd_wrapper;
#[cfg(feature = "nats")]
pub mod bridge;
pub mod channel;
mod error;
pub mod fifo;
mod key;
pub mod limits;
mod perm;
pub mod pipe;
pub mod posix;
pub mod process;
mod region;
pub mod registry;
pub mod socket;
mod sys;
pub mod sysv;
mod sysv_types;
mod wait;

pub use bytemuck;
pub use error::{Error, ErrorKind, NotNow, Object, Result};
pub use key::{FtokParts, Key, KeySpec};
pub use limits::Limit;
pub use perm::Mode;
pub use sys::Errno;
pub use wait::Wait;
