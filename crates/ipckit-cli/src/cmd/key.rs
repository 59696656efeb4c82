//! `ipckit key PATH PROJ`: the key C's `ftok(PATH, PROJ)` returns, as `0x%08x`.

use std::io::Write;
use std::process::ExitCode;

use ipckit::Key;

use crate::cli::KeyArgs;
use crate::{Fail, Res, util};

/// A project id: `0`-`255` in decimal or `0x`-hex, or one non-digit character.
fn parse_proj(text: &str) -> Result<u8, Fail> {
    let mut chars = text.chars();
    if let (Some(c), None) = (chars.next(), chars.next())
        && !c.is_ascii_digit()
    {
        return u8::try_from(c)
            .ok()
            .filter(u8::is_ascii)
            .ok_or_else(|| Fail::Msg(format!("project id '{c}' is not a single ASCII character")));
    }
    let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => text.parse::<u32>(),
    };
    match value {
        Ok(v) if v <= 255 => Ok(v as u8),
        Ok(v) => Err(Fail::Msg(format!(
            "project id {v} does not fit 8 bits: ftok uses only its low 8 bits, so give 0-255"
        ))),
        Err(_) => Err(Fail::Msg(format!(
            "project id '{text}' is not a number 0-255 (decimal or 0x-hex) or a single character"
        ))),
    }
}

pub fn run(a: KeyArgs) -> Res {
    let proj = parse_proj(&a.proj)?;
    let parts = Key::ftok_parts(&a.path, proj)?;
    let mut out = util::stdout();
    writeln!(out, "{}", parts.key)?;
    if a.explain {
        let shown = if proj.is_ascii_graphic() { format!(" ('{}')", proj as char) } else { String::new() };
        let (major, minor) = dev_numbers(parts.dev);
        writeln!(
            out,
            "ftok({:?}, {proj}{shown}) = (proj << 24) | ((st_dev & 0xff) << 16) | (st_ino & 0xffff)",
            a.path
        )?;
        writeln!(out, "  bits 31-24  project id        0x{proj:02x}")?;
        writeln!(
            out,
            "  bits 23-16  st_dev & 0xff     0x{:02x}    (device 0x{:x}, {major}:{minor})",
            parts.dev & 0xff,
            parts.dev
        )?;
        writeln!(out, "  bits 15-0   st_ino & 0xffff   0x{:04x}  (inode {})", parts.ino & 0xffff, parts.ino)?;
        writeln!(
            out,
            "warning: only the low 16 bits of the inode and the low 8 bits of the device are used:\n\
             \x20        another file whose inode ends in 0x{:04x} on a device ending in 0x{:02x}\n\
             \x20        gives the same key with the same project id. Choose the file and the\n\
             \x20        project id so that the programs sharing the key are the only users.",
            parts.ino & 0xffff,
            parts.dev & 0xff
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// glibc's `major`/`minor` of a `dev_t`.
fn dev_numbers(dev: u64) -> (u64, u64) {
    let major = ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0x0000_0fff);
    let minor = ((dev >> 12) & 0xffff_ff00) | (dev & 0x0000_00ff);
    (major, minor)
}
