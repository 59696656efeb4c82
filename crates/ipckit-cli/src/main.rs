//! `ipckit`: the command-line tool. Subcommands live in `cmd/`, one file each.

fn main() -> std::process::ExitCode {
    eprintln!("ipckit: no subcommands yet");
    std::process::ExitCode::FAILURE
}
