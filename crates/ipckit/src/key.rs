//! System V keys: see [`Key`].

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Object, Result};

/// A System V IPC key (`key_t`): `ftok`, the private key, and the one text form ipckit
/// uses for keys.
///
/// Every System V object (message queue, semaphore set, shared-memory segment) is
/// found by a 32-bit **key**. Two unrelated processes that agree on a key reach the
/// same object; [`Key::ftok`] derives a key from an existing file and a one-byte
/// project id, so that they only need to agree on a path. [`Key::PRIVATE`]
/// (`IPC_PRIVATE`) always creates a new object that can only be reached by its id.
///
/// # Text form
///
/// Everywhere ipckit reads a key from text (the command line, configuration), it
/// accepts exactly these forms, parsed by [`KeySpec`]'s `FromStr`:
///
/// | text | meaning |
/// |---|---|
/// | `0x1b2c3d4e` | hexadecimal (any case, up to 8 digits) |
/// | `12345`, `-5` | decimal, anything that fits 32 bits (negative for the high half) |
/// | `PATH:PROJ` | `ftok(PATH, PROJ)`; `PROJ` is a number `0`–`255` (decimal or `0x`-hex) or one non-digit character taken as its byte value (`/etc/services:g`) |
///
/// Parsing only reads the text; `PATH:PROJ` becomes a key when
/// [`KeySpec::resolve`] calls `ftok`, which looks at the file. `Key`'s own `FromStr`
/// takes the numeric forms only, and points to [`KeySpec`] for `PATH:PROJ`.
///
/// A key prints as `0x%08x`, the way `ipcs` shows it.
///
/// ```
/// use ipckit::{Key, KeySpec};
///
/// let k: Key = "0x0000abcd".parse()?;
/// assert_eq!(k.raw(), 0xabcd);
/// assert_eq!(k.to_string(), "0x0000abcd");
///
/// // PATH:PROJ is ftok; 'A' is the byte 65. Parsing does not touch the file.
/// let dir = tempfile::tempdir()?;
/// let anchor = dir.path().join("anchor");
/// let spec: KeySpec = format!("{}:A", anchor.display()).parse()?;
/// assert_eq!(spec, KeySpec::Ftok { path: anchor.clone(), proj: 65 });
/// std::fs::write(&anchor, b"")?;
/// assert_eq!(spec.resolve()?, Key::ftok(&anchor, 65)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// References: [ftok(3)](https://man7.org/linux/man-pages/man3/ftok.3.html),
/// [sysvipc(7)](https://man7.org/linux/man-pages/man7/sysvipc.7.html).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Key(i32);

/// How an `ftok` key was formed; see [`Key::ftok_parts`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FtokParts {
    /// The key itself.
    pub key: Key,
    /// The project id: the key's top 8 bits.
    pub proj: u8,
    /// The file's device number (`st_dev`); its low 8 bits are the key's bits 16–23.
    pub dev: u64,
    /// The file's inode number (`st_ino`); its low 16 bits are the key's low 16 bits.
    pub ino: u64,
}

impl Key {
    /// `IPC_PRIVATE`: asks for a new object that no other key reaches.
    #[doc(alias = "IPC_PRIVATE")]
    pub const PRIVATE: Key = Key(0);

    /// Wraps a raw `key_t`.
    pub const fn from_raw(raw: i32) -> Key {
        Key(raw)
    }

    /// The raw `key_t` value.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// Whether this is [`Key::PRIVATE`].
    pub const fn is_private(self) -> bool {
        self.0 == 0
    }

    /// `ftok(path, proj)`—Derives a key from an existing file and a project id.
    ///
    /// The result is bit for bit what the GNU C library's `ftok` returns for the same
    /// arguments: `(proj << 24) | ((st_dev & 0xff) << 16) | (st_ino & 0xffff)`. Only
    /// the low 16 bits of the inode and the low 8 bits of the device are used, so two
    /// different files can give the same key; [`Key::ftok_parts`] shows the inputs.
    ///
    /// The file must exist (and is followed if it is a symbolic link, like `stat`).
    /// C's `ftok` quietly uses only the low 8 bits of `proj_id`; here the type makes
    /// that explicit. A `proj` of 0 is allowed, as in C, although ftok(3) advises a
    /// nonzero one.
    ///
    /// # Errors
    ///
    /// The file cannot be `stat`ed: [`ErrorKind::NotFound`] if it does not exist,
    /// [`ErrorKind::PermissionDenied`] if a directory on the way cannot be searched.
    pub fn ftok(path: impl AsRef<Path>, proj: u8) -> Result<Key> {
        Ok(Key::ftok_parts(path, proj)?.key)
    }

    /// Parses a project id as the [text form](Key#text-form) does: a number `0`-`255`
    /// (decimal or `0x`-hex), or one non-digit ASCII character taken as its byte value.
    pub fn parse_project_id(text: &str) -> Result<u8> {
        parse_proj(text).map_err(|why| {
            Error::new("parse project id", Object::Name(text.to_string()), ErrorKind::InvalidInput)
                .with_detail(why)
        })
    }

    /// Like [`Key::ftok`], also returning the device and inode the key was formed from.
    pub fn ftok_parts(path: impl AsRef<Path>, proj: u8) -> Result<FtokParts> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::io("ftok", Object::Path(path.into()), &e).with_detail(format!("cannot stat the file: {e}"))
        })?;
        let (dev, ino) = (meta.dev(), meta.ino());
        let raw = ((proj as u32) << 24) | (((dev & 0xff) as u32) << 16) | ((ino & 0xffff) as u32);
        Ok(FtokParts { key: Key(raw as i32), proj, dev, ino })
    }
}

impl fmt::Display for Key {
    /// Formats as `0x%08x`, like `ipcs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:08x}", self.0 as u32)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_private() { f.write_str("Key(IPC_PRIVATE)") } else { write!(f, "Key({self})") }
    }
}

impl fmt::LowerHex for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&(self.0 as u32), f)
    }
}

impl From<i32> for Key {
    fn from(raw: i32) -> Key {
        Key(raw)
    }
}

impl From<Key> for i32 {
    fn from(k: Key) -> i32 {
        k.0
    }
}

const FORMS: &str = "expected a key as 0xHEX (up to 8 hex digits), a decimal number that fits \
                     32 bits, or PATH:PROJ (PROJ a number 0-255, decimal or 0x-hex, or a single \
                     non-digit character)";

fn bad(text: &str, why: &str) -> Error {
    Error::new("parse key", Object::Name(text.to_string()), ErrorKind::InvalidInput)
        .with_detail(format!("{why}; {FORMS}"))
}

/// Parses a project id: `0`-`255` in decimal or `0x`-hex, or one non-digit character.
pub(crate) fn parse_proj(text: &str) -> std::result::Result<u8, String> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.clone().next())
        && !c.is_ascii_digit()
    {
        return if c.is_ascii() {
            Ok(c as u8)
        } else {
            Err(format!("project character '{c}' is not a single (ASCII) byte"))
        };
    }
    let value = if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else {
        text.parse::<u32>()
    };
    match value {
        Ok(v) if v <= 255 => Ok(v as u8),
        Ok(v) => Err(format!("project id {v} does not fit 8 bits (ftok uses only 0-255)")),
        Err(_) => Err(format!("project id '{text}' is not a number or a single character")),
    }
}

/// A key as written, before any file is looked at: a number, or `PATH:PROJ` to be
/// turned into a key by `ftok` (see [`Key`]'s text form).
///
/// Parsing (`"/tmp/app:1".parse::<KeySpec>()`) only reads the text, so it can happen
/// anywhere (a configuration loader, an argument parser); [`KeySpec::resolve`] is the
/// step that calls `ftok`, where its failure (no such file) can be handled.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    /// A key written as a number.
    Raw(Key),
    /// `ftok(path, proj)`.
    Ftok {
        /// The file the key is derived from; it must exist when resolved.
        path: PathBuf,
        /// The project id.
        proj: u8,
    },
}

impl KeySpec {
    /// The key: a number as it is, `PATH:PROJ` through [`Key::ftok`].
    ///
    /// # Errors
    ///
    /// For `PATH:PROJ`, those of [`Key::ftok`]: the file cannot be `stat`ed.
    pub fn resolve(&self) -> Result<Key> {
        match self {
            KeySpec::Raw(key) => Ok(*key),
            KeySpec::Ftok { path, proj } => Key::ftok(path, *proj),
        }
    }
}

impl From<Key> for KeySpec {
    fn from(key: Key) -> KeySpec {
        KeySpec::Raw(key)
    }
}

impl fmt::Display for KeySpec {
    /// The text form: `0x%08x` for a number, `PATH:PROJ` (the project id in decimal).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySpec::Raw(key) => fmt::Display::fmt(key, f),
            KeySpec::Ftok { path, proj } => write!(f, "{}:{proj}", path.display()),
        }
    }
}

impl FromStr for KeySpec {
    type Err = Error;

    /// Parses the [text form](Key#text-form) of a key: `0xHEX` (up to 8 digits), a
    /// decimal number that fits 32 bits, or `PATH:PROJ`. Does not touch the file
    /// system.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`], naming the accepted forms.
    fn from_str(text: &str) -> Result<KeySpec> {
        let t = text.trim();
        if t.is_empty() {
            return Err(bad(text, "empty key"));
        }
        if let Some((path, proj)) = t.rsplit_once(':') {
            if path.is_empty() {
                return Err(bad(text, "missing PATH before ':'"));
            }
            let proj = parse_proj(proj).map_err(|why| bad(text, &why))?;
            return Ok(KeySpec::Ftok { path: PathBuf::from(path), proj });
        }
        if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
            if hex.is_empty() || hex.len() > 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(text, "not a hexadecimal key"));
            }
            let v = u32::from_str_radix(hex, 16).map_err(|_| bad(text, "not a hexadecimal key"))?;
            return Ok(KeySpec::Raw(Key(v as i32)));
        }
        if let Ok(v) = t.parse::<u32>() {
            return Ok(KeySpec::Raw(Key(v as i32)));
        }
        if let Ok(v) = t.parse::<i32>() {
            return Ok(KeySpec::Raw(Key(v)));
        }
        Err(bad(text, "not a key"))
    }
}

impl FromStr for Key {
    type Err = Error;

    /// Parses a key written as a number: `0xHEX` (up to 8 digits) or a decimal number
    /// that fits 32 bits. Does not touch the file system.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::InvalidInput`]; for `PATH:PROJ` too, which needs a file: parse a
    /// [`KeySpec`] and [`resolve`](KeySpec::resolve) it.
    fn from_str(text: &str) -> Result<Key> {
        match text.parse::<KeySpec>()? {
            KeySpec::Raw(key) => Ok(key),
            KeySpec::Ftok { .. } => {
                Err(Error::new("parse key", Object::Name(text.to_string()), ErrorKind::InvalidInput)
                    .with_detail("PATH:PROJ names a file: parse it as a KeySpec and resolve() it (ftok)"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numbers() {
        assert_eq!("0x1b2c3d4e".parse::<Key>().unwrap().raw(), 0x1b2c3d4e);
        assert_eq!("0XFFFFFFFF".parse::<Key>().unwrap().raw(), -1);
        assert_eq!("12345".parse::<Key>().unwrap().raw(), 12345);
        assert_eq!("4294967295".parse::<Key>().unwrap().raw(), -1);
        assert_eq!("-2".parse::<Key>().unwrap().raw(), -2);
        assert_eq!("0".parse::<Key>().unwrap(), Key::PRIVATE);
    }

    #[test]
    fn rejects_garbage_with_the_accepted_forms() {
        for bad in ["", "0x", "0x123456789", "zz", "4294967296", ":a", "0xg1", "/x:256"] {
            let e = bad.parse::<KeySpec>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{bad}");
            assert!(e.to_string().contains("PATH:PROJ"), "{e}");
            assert_eq!(bad.parse::<Key>().unwrap_err().kind(), ErrorKind::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn path_proj_is_parsed_without_the_file_and_refused_as_a_key() {
        // No such file: parsing succeeds all the same, resolving fails.
        let spec: KeySpec = "/nonexistent/ipckit-key-test:g".parse().unwrap();
        assert_eq!(spec, KeySpec::Ftok { path: "/nonexistent/ipckit-key-test".into(), proj: b'g' });
        assert_eq!(spec.to_string(), "/nonexistent/ipckit-key-test:103");
        assert_eq!(spec.resolve().unwrap_err().kind(), ErrorKind::NotFound);
        let e = "/nonexistent/ipckit-key-test:g".parse::<Key>().unwrap_err();
        assert!(e.to_string().contains("KeySpec"), "{e}");
        assert_eq!("0x10".parse::<KeySpec>().unwrap().resolve().unwrap(), Key::from_raw(16));
    }

    #[test]
    fn project_ids() {
        assert_eq!(parse_proj("g"), Ok(b'g'));
        assert_eq!(parse_proj("7"), Ok(7));
        assert_eq!(parse_proj("0x41"), Ok(0x41));
        assert_eq!(parse_proj("255"), Ok(255));
        assert!(parse_proj("256").is_err());
        assert!(parse_proj("é").is_err());
        assert!(parse_proj("ab").is_err());
        assert!(parse_proj("").is_err());
    }

    #[test]
    fn display_is_ipcs_style() {
        assert_eq!(Key::from_raw(0x12).to_string(), "0x00000012");
        assert_eq!(Key::from_raw(-1).to_string(), "0xffffffff");
    }
}
