//! `ipckit demo`: placeholder while the rest is built.

use crate::cli::DemoArgs;
use crate::{Fail, Res};

pub fn run(_a: DemoArgs) -> Res {
    Err(Fail::Msg("demo: not yet".into()))
}

pub fn role(_args: &[String]) -> Res {
    Err(Fail::Msg("demo role: not yet".into()))
}
