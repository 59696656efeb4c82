//! Permission bits for the objects ipckit creates.
//!
//! ```
//! use ipckit::Mode;
//!
//! let m: Mode = "640".parse()?;
//! assert_eq!(m.bits(), 0o640);
//! assert_eq!(m.to_string(), "0640");
//! assert_eq!(m.symbolic(), "rw-r-----");
//! assert_eq!(Mode::default(), Mode::OWNER_RW);
//! # Ok::<(), ipckit::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Object};

/// The nine permission bits (`rwxrwxrwx`) of a new object.
///
/// ipckit creates everything with [`Mode::OWNER_RW`] (0600) unless told otherwise:
/// other users cannot read or write the object.
#[derive(Copy, Clone, PartialEq, Eq, Hash)]
pub struct Mode(u32);

impl Mode {
    /// `0600`: the owner may read and write; nobody else may do anything.
    pub const OWNER_RW: Mode = Mode(0o600);
    /// `0666`: everyone may read and write.
    pub const ALL_RW: Mode = Mode(0o666);

    /// The permission bits of `bits` (`0o640`); anything above `0o777` is ignored.
    pub const fn new(bits: u32) -> Mode {
        Mode(bits & 0o777)
    }

    /// The permission bits.
    pub const fn bits(self) -> u32 {
        self.0
    }

    /// The bits as `ls -l` shows them: `rw-r-----`.
    pub fn symbolic(self) -> String {
        let mut s = String::with_capacity(9);
        for shift in [6, 3, 0] {
            let b = (self.0 >> shift) & 7;
            s.push(if b & 4 != 0 { 'r' } else { '-' });
            s.push(if b & 2 != 0 { 'w' } else { '-' });
            s.push(if b & 1 != 0 { 'x' } else { '-' });
        }
        s
    }
}

impl Default for Mode {
    fn default() -> Mode {
        Mode::OWNER_RW
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04o}", self.0)
    }
}

impl fmt::Debug for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mode({:04o})", self.0)
    }
}

impl FromStr for Mode {
    type Err = Error;

    /// Parses octal digits (`"640"`, `"0640"`, `"0o640"`), at most `777`.
    fn from_str(s: &str) -> Result<Mode, Error> {
        let digits = s.strip_prefix("0o").unwrap_or(s);
        match u32::from_str_radix(digits, 8) {
            Ok(v) if v <= 0o777 && !digits.is_empty() => Ok(Mode(v)),
            _ => Err(Error::new("parse mode", Object::Name(s.into()), ErrorKind::InvalidInput)
                .with_detail("expected octal permission bits from 0 to 777, such as 600 or 0644")),
        }
    }
}
