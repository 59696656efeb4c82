//! `ipckit ls`: util-linux `ipcs`, byte for byte, plus `--json`, `--posix` and
//! `--stale`.
//!
//! The text formats follow util-linux 2.38's `ipcs.c` exactly: the same headers,
//! column widths (`%-10d`, `%-10.10s`...), trailing spaces, `ctime` dates, the
//! section order (queues, segments, sets) and the blank lines between them.
//!
//! One file per part: `opts` (options and help), `text` (the ipcs lists),
//! `detail` (`-i ID`), `stale` (`--stale`), `json` (`--json`), `channels`
//! (`--channels`, and the stale channels of `--stale`). This file parses the options
//! and sends the work to the right part.

mod channels;
mod detail;
mod json;
mod opts;
mod stale;
mod text;

use std::io::Write;

pub use channels::find_stale as find_stale_channels;
pub use stale::find_stale;

use crate::getopt::{self, Opt};
use crate::util::{self, Names};
use crate::{Ctx, Fail, Res};
use opts::{Flag, Format, OPTIONS, Opts, Unit, help};

/// What the listing functions return.
type Res0 = Result<(), Fail>;

pub fn run(ctx: &Ctx, args: &[String]) -> Res {
    let mut o = Opts {
        msg: false,
        shm: false,
        sem: false,
        id: None,
        format: Format::Default,
        unit: Unit::Default,
        json: false,
        posix: false,
        stale: false,
    };
    let mut out = util::stdout();
    let (mut sockets, mut channels) = (false, false);
    for opt in getopt::parse(OPTIONS, args).opts {
        match opt {
            Opt::Err(e) => return Err(Fail::Usage(e)),
            Opt::Opt(flag, arg) => match flag {
                Flag::Id => {
                    o.id = Some(util::strtos32(arg.as_deref().unwrap_or(""), "failed to parse id argument")?)
                }
                Flag::All => (o.msg, o.shm, o.sem) = (true, true, true),
                Flag::Queues => o.msg = true,
                Flag::Shmems => o.shm = true,
                Flag::Semaphores => o.sem = true,
                Flag::Time => o.format = Format::Time,
                Flag::Creator => o.format = Format::Creator,
                Flag::Pid => o.format = Format::Pid,
                Flag::Limits => o.format = Format::Limits,
                Flag::Summary => o.format = Format::Status,
                Flag::Human => o.unit = Unit::Human,
                Flag::Bytes => o.unit = Unit::Bytes,
                Flag::Json => o.json = true,
                Flag::Posix => o.posix = true,
                Flag::Stale => o.stale = true,
                Flag::Sockets => sockets = true,
                Flag::Channels => channels = true,
                Flag::Help => {
                    out.write_all(help(ctx).as_bytes())?;
                    out.flush()?;
                    return Ok(std::process::ExitCode::SUCCESS);
                }
                Flag::Version => {
                    writeln!(out, "{} from ipckit {}", ctx.cmd, env!("CARGO_PKG_VERSION"))?;
                    out.flush()?;
                    return Ok(std::process::ExitCode::SUCCESS);
                }
            },
        }
    }
    if o.id.is_some() && (o.msg as u8 + o.shm as u8 + o.sem as u8) != 1 {
        return Err(Fail::Msg("when using an ID, a single resource must be specified".into()));
    }
    if !o.msg && !o.shm && !o.sem {
        (o.msg, o.shm, o.sem) = (true, true, true);
    }
    if sockets {
        let r = super::ls_sockets::print(&mut *out, o.json)?;
        out.flush()?;
        return Ok(r);
    }
    if channels {
        channels::print(&mut *out, o.json, o.stale)?;
        out.flush()?;
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let mut names = Names::default();
    if o.json {
        json::json(&mut *out, &o, &mut names)?;
    } else if o.stale {
        stale::stale_text(&mut *out, &o, &mut names)?;
        if o.shm {
            let list: Vec<_> = channels::find_stale()?.into_iter().map(|(c, w)| (c, Some(w))).collect();
            channels::stale_section(&mut *out, &list)?;
        }
        if o.posix {
            super::posix_ls::stale_text(&mut *out)?;
        }
    } else if let Some(id) = o.id {
        if o.msg {
            detail::print_msg(ctx, &mut *out, id, o.unit)?;
        } else if o.shm {
            detail::print_shm(ctx, &mut *out, id, o.unit)?;
        } else {
            detail::print_sem(ctx, &mut *out, id)?;
        }
    } else {
        writeln!(out)?;
        if o.msg {
            text::do_msg(&mut *out, o.format, o.unit, &mut names)?;
            writeln!(out)?;
        }
        if o.shm {
            text::do_shm(&mut *out, o.format, o.unit, &mut names)?;
            writeln!(out)?;
        }
        if o.sem {
            text::do_sem(&mut *out, o.format, &mut names)?;
            writeln!(out)?;
        }
        if o.posix {
            super::posix_ls::text(&mut *out, &mut names)?;
        }
    }
    out.flush()?;
    Ok(std::process::ExitCode::SUCCESS)
}
