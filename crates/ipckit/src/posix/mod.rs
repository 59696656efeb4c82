//! POSIX IPC objects: named shared memory, message queues and semaphores.
//!
//! POSIX objects are found by a **name** such as `/jobs` rather than a numeric key.
//! Shared-memory objects are files in `/dev/shm`; message queues live in the `mqueue`
//! file system. Like System V objects they outlive the process that made them until
//! they are unlinked; a handle that created one can unlink it on drop
//! ([`set_remove_on_drop`](shm::ShmObject::set_remove_on_drop)).
//!
//! ```
//! use ipckit::Mode;
//! use ipckit::posix::shm::ShmObject;
//!
//! let name = format!("/ipckit-doc-posix-{}", std::process::id());
//! let mut obj = ShmObject::create(&name, 4096, Mode::OWNER_RW)?;
//! obj.set_remove_on_drop(true)?;
//! let map = obj.map()?;
//! map.write_at(0, b"hi")?;
//! # Ok::<(), ipckit::Error>(())
//! ```
//!
//! References: [shm_overview(7)](https://man7.org/linux/man-pages/man7/shm_overview.7.html),
//! [mq_overview(7)](https://man7.org/linux/man-pages/man7/mq_overview.7.html).

pub mod mq;
pub mod sem;
pub mod shm;

use std::ffi::CString;

use crate::error::{Error, ErrorKind, Object, Result};

/// Checks a POSIX object name and returns it with its leading `/` as a C string:
/// `"jobs"` and `"/jobs"` both name `/jobs`. A name holds no other `/`, no NUL, and
/// at most 255 bytes.
pub(crate) fn c_name(op: &'static str, name: &str) -> Result<(String, CString)> {
    let full = if name.starts_with('/') { name.to_string() } else { format!("/{name}") };
    let bad = |why: &str| {
        Err(Error::new(op, Object::Name(name.to_string()), ErrorKind::InvalidInput)
            .with_detail(why.to_string()))
    };
    if full.len() < 2 {
        return bad("a POSIX object name needs at least one character after '/'");
    }
    if full[1..].contains('/') {
        return bad("a POSIX object name holds no '/' after the first character");
    }
    if full.len() > 255 {
        return bad("a POSIX object name is at most 255 bytes (NAME_MAX)");
    }
    match CString::new(full.clone()) {
        Ok(c) => Ok((full, c)),
        Err(_) => bad("a POSIX object name holds no NUL byte"),
    }
}
