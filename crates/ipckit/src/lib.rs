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
//! | a shared-memory channel near the hardware's limit (SPSC ring, futex wake-ups) | [`channel`] |
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
//! sender.send(1, b"hello")?;
//!
//! let mut buf = [0u8; 16];
//! let got = receiver.recv(Select::Any, &mut buf)?;
//! assert_eq!(&buf[..got.len], b"hello");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Safety
//!
//! All calls into the C library live in one private module; `unsafe` is denied
//! everywhere else, and allowed only on the few lines that must touch memory shared
//! with other processes. That memory is never exposed as `&[u8]`/`&mut [u8]`: another
//! process can change it at any time, which Rust references forbid. It is reached
//! through bounds-checked copies, atomics, or raw pointers behind `unsafe`.
#![cfg(target_os = "linux")]
#![deny(unsafe_code)]
#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

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
mod sys;
pub mod sysv;
mod wait;

pub use bytemuck;
pub use error::{Error, ErrorKind, Object, Result};
pub use key::{FtokParts, Key};
pub use limits::Limit;
pub use perm::Mode;
pub use wait::Wait;
