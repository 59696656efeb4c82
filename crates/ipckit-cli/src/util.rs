//! Helpers shared by the subcommands: output, number parsing as util-linux does it,
//! sizes, names, hex dumps.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

use crate::Fail;

/// Standard output: line-buffered on a terminal, block-buffered otherwise.
pub fn stdout() -> Box<dyn Write> {
    let out = io::stdout();
    if out.is_terminal() {
        Box::new(io::LineWriter::new(out))
    } else {
        Box::new(io::BufWriter::with_capacity(64 * 1024, out))
    }
}

/// How a standard descriptor is open: its access mode (`O_ACCMODE` of the flags in
/// `/proc/self/fdinfo/N`: 0 read, 1 write, 2 both), and whether it is `/dev/null`.
fn std_fd_state(fd: u8, file: &File) -> (Option<u32>, bool) {
    let flags = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).ok().and_then(|t| {
        t.lines().find_map(|l| l.strip_prefix("flags:")).and_then(|v| u32::from_str_radix(v.trim(), 8).ok())
    });
    let null = match (file.metadata(), std::fs::metadata("/dev/null")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    };
    (flags.map(|f| f & 0o3), null)
}

/// Whether a standard descriptor was closed when the program started: the Rust
/// runtime then puts `/dev/null` in its place, opened read-write (which a shell
/// redirection never does: `< /dev/null` reads, `> /dev/null` writes).
fn closed_at_start(fd: u8, file: &File) -> bool {
    std_fd_state(fd, file) == (Some(2), true)
}

/// Standard input as a file of its own (a duplicate of fd 0), read without `std`'s
/// habit of taking `EBADF` for end-of-file. Refuses a stdin that was closed (`<&-`)
/// or opened only for writing: reading "nothing" from it is not an empty input.
pub fn stdin_file() -> Result<File, Fail> {
    let file = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .map_err(|e| Fail::Msg(format!("cannot use stdin: {e}")))?;
    if closed_at_start(0, &file) {
        return Err(Fail::Msg(
            "stdin is closed (<&-); give the data as arguments, or redirect stdin from a file".into(),
        ));
    }
    if std_fd_state(0, &file).0 == Some(1) {
        return Err(Fail::Msg("cannot read stdin: it is open for writing only".into()));
    }
    Ok(file)
}

/// Reads `input` to its end, but no more than `max` bytes: `Ok(Err(max))` when there
/// is more. A read error is an error, never the end.
pub fn read_at_most(input: &mut File, max: u64) -> Result<Result<Vec<u8>, u64>, Fail> {
    let mut data = Vec::new();
    input
        .take(max.saturating_add(1))
        .read_to_end(&mut data)
        .map_err(|e| Fail::Msg(format!("cannot read stdin: {e}")))?;
    Ok(if data.len() as u64 > max { Err(max) } else { Ok(data) })
}

/// Standard output as a file of its own (a duplicate of fd 1), written without
/// buffering, for output that must be known to be written: refuses a stdout that was
/// closed (`>&-`) or opened only for reading. `lost` says what would be lost.
pub fn stdout_file(lost: &str) -> Result<File, Fail> {
    let file = io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(File::from)
        .map_err(|e| Fail::Msg(format!("cannot use stdout: {e}")))?;
    if closed_at_start(1, &file) {
        return Err(Fail::Msg(format!("stdout is closed (>&-): {lost}")));
    }
    if std_fd_state(1, &file).0 == Some(0) {
        return Err(Fail::Msg("cannot write to stdout: it is open for reading only".into()));
    }
    Ok(file)
}

/// Prints `prog: msg` on stderr (a warning: the command goes on).
pub fn warn(prog: &str, msg: impl std::fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{prog}: {msg}");
}

/// The C library's text for an errno value (`Invalid argument`), as `err(3)` prints it.
pub fn strerror(errno: i32) -> String {
    let text = io::Error::from_raw_os_error(errno).to_string();
    match text.rfind(" (os error ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

const ERANGE: i32 = 34;
const EINVAL: i32 = 22;

/// `strtos32_or_err(text, what)`: a decimal `int`, or util-linux's error
/// (`what: 'text'`, plus `: Numerical result out of range` on overflow).
pub fn strtos32(text: &str, what: &str) -> Result<i32, Fail> {
    match parse_signed(text, 10) {
        Some(Ok(v)) => {
            i32::try_from(v).map_err(|_| Fail::Msg(format!("{what}: '{text}': {}", strerror(ERANGE))))
        }
        Some(Err(())) => Err(Fail::Msg(format!("{what}: '{text}': {}", strerror(ERANGE)))),
        None => Err(Fail::Msg(format!("{what}: '{text}'"))),
    }
}

/// Parses like `strtoimax(text, &end, base)` with a check that all of `text` was
/// used: `None` for no number or trailing garbage, `Some(Err)` on overflow.
pub fn parse_signed(text: &str, base: u32) -> Option<Result<i128, ()>> {
    let t = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match base {
        0 if digits.len() > 2 && (digits.starts_with("0x") || digits.starts_with("0X")) => (16, &digits[2..]),
        0 if digits.len() > 1 && digits.starts_with('0') => (8, &digits[1..]),
        0 => (10, digits),
        b => (b, digits),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let mut v: i128 = 0;
    for c in digits.chars() {
        v = v * i128::from(radix) + i128::from(c.to_digit(radix).unwrap_or(0));
        if v > i128::from(u64::MAX) + 1 {
            return Some(Err(()));
        }
    }
    Some(Ok(if neg { -v } else { v }))
}

/// Parses like C's `strtoul(text, &end, base)` with a full-match check, wrapping
/// negative values as C does. `None` for garbage, `Some(Err)` on overflow.
pub fn strtoul(text: &str, base: u32) -> Option<Result<u64, ()>> {
    match parse_signed(text, base)? {
        Err(()) => Some(Err(())),
        Ok(v) if v > i128::from(u64::MAX) || v < -i128::from(u64::MAX) => Some(Err(())),
        Ok(v) if v < 0 => Some(Ok((v.unsigned_abs() as u64).wrapping_neg())),
        Ok(v) => Some(Ok(v as u64)),
    }
}

/// `strtosize`: a size with an optional binary (`K`, `KiB`: 1024) or decimal (`KB`:
/// 1000) suffix up to `E`, and an optional fraction (`1.5M`). `Err(errno)` on failure.
pub fn parse_size(text: &str) -> Result<u64, i32> {
    let t = text.trim_start();
    if t.starts_with('-') || t.is_empty() {
        return Err(EINVAL);
    }
    // The number part: base 0 (0x.., 0.., decimal), as strtoumax.
    let split = if t.starts_with("0x") || t.starts_with("0X") {
        2 + t[2..].find(|c: char| !c.is_ascii_hexdigit()).unwrap_or(t.len() - 2)
    } else {
        t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len())
    };
    let (num_text, rest) = t.split_at(split);
    let base: u64 = match strtoul(num_text, 0) {
        Some(Ok(v)) => v,
        Some(Err(())) => return Err(ERANGE),
        None => return Err(EINVAL),
    };
    let mut rest = rest;
    // An optional fraction, only before a suffix.
    let mut frac_digits = "";
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.find(|c: char| !c.is_ascii_digit()).unwrap_or(r.len());
        frac_digits = &r[..n];
        rest = &r[n..];
        if rest.is_empty() {
            return Err(EINVAL);
        }
    }
    if rest.is_empty() {
        return Ok(base);
    }
    let mut chars = rest.chars();
    let letter = chars.next().map(|c| c.to_ascii_uppercase()).ok_or(EINVAL)?;
    let power = "KMGTPE".find(letter).ok_or(EINVAL)? as u32 + 1;
    let unit: u64 = match chars.as_str() {
        "" | "iB" | "IB" | "ib" => 1024,
        "B" | "b" => 1000,
        _ => return Err(EINVAL),
    };
    let mult = unit.checked_pow(power).ok_or(ERANGE)?;
    let mut total = base.checked_mul(mult).ok_or(ERANGE)?;
    if !frac_digits.is_empty() {
        let mut frac: u128 = 0;
        let mut scale: u128 = 1;
        for d in frac_digits.chars().take(18) {
            frac = frac * 10 + u128::from(d.to_digit(10).unwrap_or(0));
            scale *= 10;
        }
        let add = (frac * u128::from(mult) / scale) as u64;
        total = total.checked_add(add).ok_or(ERANGE)?;
    }
    Ok(total)
}

/// util-linux's `size_to_human_string(SIZE_SUFFIX_1LETTER, n)`: `1K`, `1.5M`, `16E`.
pub fn human_size(bytes: u64) -> String {
    let mut exp = 0u32;
    for shift in (10..=60).step_by(10) {
        if bytes < (1u64 << shift) {
            break;
        }
        exp = shift;
    }
    let letter = b"BKMGTPE"[(exp / 10) as usize] as char;
    let (mut dec, mut frac) = if exp == 0 { (bytes, 0) } else { (bytes >> exp, bytes & ((1u64 << exp) - 1)) };
    if frac != 0 {
        frac =
            if frac >= u64::MAX / 1000 { ((frac / 1024) * 1000) >> (exp - 10) } else { (frac * 1000) >> exp };
        frac = ((frac + 50) / 100) * 10;
        if frac == 100 {
            dec += 1;
            frac = 0;
        }
    }
    if frac != 0 {
        let mut s = format!("{dec}.{frac:02}");
        if s.ends_with('0') {
            s.pop();
        }
        format!("{s}{letter}")
    } else {
        format!("{dec}{letter}")
    }
}

/// User and group names, looked up once each.
#[derive(Default)]
pub struct Names {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
}

impl Names {
    pub fn user(&mut self, uid: u32) -> Option<String> {
        self.users.entry(uid).or_insert_with(|| ipckit::process::user_name(uid)).clone()
    }

    pub fn group(&mut self, gid: u32) -> Option<String> {
        self.groups.entry(gid).or_insert_with(|| ipckit::process::group_name(gid)).clone()
    }
}

/// A canonical hex dump (`hexdump -C`): offset, 16 bytes in hex, the printable ones,
/// then the offset after the end.
pub fn hex_dump(out: &mut dyn Write, data: &[u8], base: usize) -> io::Result<()> {
    hex_lines(out, data, base)?;
    writeln!(out, "{:08x}", base + data.len())
}

/// The lines of [`hex_dump`] for `data` at `base`, without the final offset (for
/// dumping in pieces: every piece but the last a multiple of 16 bytes).
pub fn hex_lines(out: &mut dyn Write, data: &[u8], base: usize) -> io::Result<()> {
    for (i, chunk) in data.chunks(16).enumerate() {
        let mut hex = String::with_capacity(50);
        for j in 0..16 {
            if j == 8 {
                hex.push(' ');
            }
            match chunk.get(j) {
                Some(b) => hex.push_str(&format!("{b:02x} ")),
                None => hex.push_str("   "),
            }
        }
        let text: String =
            chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        writeln!(out, "{:08x}  {hex} |{text}|", base + i * 16)?;
    }
    Ok(())
}

/// A non-negative number of seconds, possibly fractional, as a duration.
pub fn parse_secs(text: &str) -> Result<std::time::Duration, String> {
    let v: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("'{text}' is not a non-negative number of seconds"));
    }
    std::time::Duration::try_from_secs_f64(v).map_err(|e| format!("'{text}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_match_util_linux() {
        assert_eq!(human_size(0), "0B");
        assert_eq!(human_size(100), "100B");
        assert_eq!(human_size(1024), "1K");
        assert_eq!(human_size(1075), "1K");
        assert_eq!(human_size(1100), "1.1K");
        assert_eq!(human_size(1536), "1.5K");
        assert_eq!(human_size(1_049_000), "1M");
        assert_eq!(human_size(8192), "8K");
        assert_eq!(human_size(18446744073692774399), "16E");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("4KB"), Ok(4000));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("1.5K"), Ok(1536));
        assert_eq!(parse_size("0x10"), Ok(16));
        assert_eq!(parse_size("abc"), Err(EINVAL));
        assert_eq!(parse_size("5Q"), Err(EINVAL));
        assert_eq!(parse_size("99999999999999999999"), Err(ERANGE));
    }

    #[test]
    fn c_numbers() {
        assert_eq!(strtoul("0x1f", 0), Some(Ok(31)));
        assert_eq!(strtoul("010", 0), Some(Ok(8)));
        assert_eq!(strtoul("10", 0), Some(Ok(10)));
        assert_eq!(strtoul("-1", 10), Some(Ok(u64::MAX)));
        assert_eq!(strtoul("1x", 10), None);
        assert_eq!(strtoul("", 10), None);
        assert_eq!(strtoul("99999999999999999999999", 10), Some(Err(())));
        assert!(strtos32(" 42", "x").is_ok());
        assert!(strtos32("4294967296", "x").is_err());
    }
}

/// A moment as a calendar date and time of day (no time zone: the caller adds the
/// offset it wants first).
#[derive(Debug, PartialEq, Eq)]
struct Civil {
    year: i64,
    /// 1–12.
    month: i64,
    /// 1–31.
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    /// 0 (Sunday) to 6.
    weekday: i64,
}

/// `secs` since 1970-01-01 00:00 as a [`Civil`] date, by Howard Hinnant's
/// `civil_from_days`. The one date conversion of the CLI: RFC 3339 in UTC and
/// `ctime` in local time both use it.
fn civil(secs: i64) -> Civil {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    Civil {
        year: yoe + era * 400 + i64::from(month <= 2),
        month,
        day,
        hour: rem / 3600,
        minute: (rem / 60) % 60,
        second: rem % 60,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7),
    }
}

/// `epoch_secs` as RFC 3339 in UTC: `2026-11-26T15:41:21Z`. The one date format of
/// ipckit's own output (JSON, `shm show`, `bench`).
pub fn rfc3339(epoch_secs: i64) -> String {
    let t = civil(epoch_secs);
    format!("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", t.year, t.month, t.day, t.hour, t.minute, t.second)
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] =
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// The 24 characters of `ctime(3)` without its newline, in local time (`TZ`):
/// `Thu Nov 26 15:41:21 2026`, as `ipcs` prints times; `None` out of range.
pub fn ctime(epoch_secs: i64) -> Option<String> {
    let local = epoch_secs.checked_add(ipckit::process::utc_offset(epoch_secs)?)?;
    Some(ctime_of(&civil(local)))
}

fn ctime_of(t: &Civil) -> String {
    format!(
        "{} {}{:3} {:02}:{:02}:{:02} {}",
        DAYS[t.weekday as usize % 7],
        MONTHS[(t.month as usize + 11) % 12],
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.year
    )
}

#[cfg(test)]
mod date_tests {
    use super::*;

    #[test]
    fn rfc3339_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_707_668), "2026-11-26T15:41:08Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn ctime_layout() {
        // 2026-11-06 05:04:03 UTC, a Friday.
        assert_eq!(ctime_of(&civil(1_793_941_443)), "Fri Nov  6 05:04:03 2026");
        assert_eq!(ctime_of(&civil(0)), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime_of(&civil(-1)), "Wed Dec 31 23:59:59 1969");
    }
}
