//! The protocol shared by `msg_sender` and `msg_receiver`: the Rust side of the
//! C header `proto.h`, which the C programs include (see `tests/c/proto.h`).
//!
//! ```c
//! #define NAMESIZE 32
//! struct msg_st {
//!     long mtype;
//!     char name[NAMESIZE];
//!     int math;
//!     int chinese;
//! };
//! ```
//!
//! `msgsnd` takes the `long mtype` separately (ipckit passes it as an argument), so the
//! Rust struct is the body that follows it, with the same native layout: 32 bytes of
//! name, then two C `int`s. `#[repr(C)]` fixes the layout, and `Pod` proves it has no
//! padding, so sending it byte for byte is exactly what C sends.

/// `NAMESIZE` in `proto.h`.
pub const NAMESIZE: usize = 32;

/// The body of `struct msg_st`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ipckit::bytemuck::Pod, ipckit::bytemuck::Zeroable)]
#[bytemuck(crate = "ipckit::bytemuck")]
#[repr(C)]
pub struct MsgSt {
    /// A NUL-terminated name, NUL-padded to 32 bytes.
    pub name: [u8; NAMESIZE],
    pub math: i32,
    pub chinese: i32,
}

impl MsgSt {
    /// The name up to its first NUL byte.
    pub fn name_bytes(&self) -> &[u8] {
        let end = self.name.iter().position(|&b| b == 0).unwrap_or(NAMESIZE);
        &self.name[..end]
    }
}

/// Parses a project id the way the C programs do: one non-digit character is its byte
/// value, anything else a number (decimal or 0x-hex, 0-255).
pub fn parse_proj(text: &str) -> Result<u8, String> {
    ipckit::Key::parse_project_id(text).map_err(|e| e.to_string())
}
