//! `ipckit completions SHELL`: the shell's completion script for every subcommand and
//! option, generated from the clap definition (`clap_complete`), on stdout.
//!
//! ```sh
//! ipckit completions bash > ~/.local/share/bash-completion/completions/ipckit
//! ipckit completions zsh  > ~/.zfunc/_ipckit      # a directory on $fpath
//! ipckit completions fish > ~/.config/fish/completions/ipckit.fish
//! ```

use std::io::Write;
use std::process::ExitCode;

use clap::Args;
use clap_complete::Shell;

use crate::Res;

const EXAMPLES: &str = "\
Examples:
  ipckit completions bash > ~/.local/share/bash-completion/completions/ipckit
  ipckit completions zsh > ~/.zfunc/_ipckit       (a directory on $fpath)
  ipckit completions fish > ~/.config/fish/completions/ipckit.fish";

/// Print the shell completion script for ipckit.
#[derive(Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct CompletionsArgs {
    /// The shell to write the script for
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Runs `ipckit completions`.
pub fn run(a: CompletionsArgs) -> Res {
    let mut cmd = crate::docs::command();
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "ipckit", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}
