//! `ipckit man --dir DIR` (hidden, for packagers): writes the man pages, generated
//! from the clap definition (`clap_mangen`): `ipckit.1` and one `ipckit-SUB.1` per
//! subcommand, the util-linux-compatible `ls`, `rm` and `mk` included.
//!
//! ```sh
//! ipckit man --dir /usr/local/share/man/man1
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Command};

use crate::{Fail, Res};

/// Write the man pages (section 1) into a directory.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// The directory to write ipckit.1 and ipckit-SUB.1 into (made if missing)
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
}

/// Runs `ipckit man`.
pub fn run(a: ManArgs) -> Res {
    std::fs::create_dir_all(&a.dir)
        .map_err(|e| Fail::Msg(format!("cannot create {}: {e}", a.dir.display())))?;
    let root = crate::docs::command();
    let mut written = Vec::new();
    write_page(&a.dir, root.clone(), "ipckit", &mut written)?;
    for sub in root.get_subcommands() {
        let name = format!("ipckit-{}", sub.get_name());
        let page = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("ipckit {}", sub.get_name()))
            .version(env!("CARGO_PKG_VERSION"));
        write_page(&a.dir, page, &name, &mut written)?;
    }
    let mut out = std::io::stdout().lock();
    for path in written {
        writeln!(out, "{}", path.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_page(
    dir: &std::path::Path,
    cmd: Command,
    name: &str,
    written: &mut Vec<PathBuf>,
) -> Result<(), Fail> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd).render(&mut page)?;
    let path = dir.join(format!("{name}.1"));
    std::fs::write(&path, page).map_err(|e| Fail::Msg(format!("cannot write {}: {e}", path.display())))?;
    written.push(path);
    Ok(())
}
