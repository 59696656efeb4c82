//! GNU `getopt_long`, as util-linux's `ipcs`, `ipcrm` and `ipcmk` parse their
//! arguments: short options clustered (`-qs`), arguments attached or separate
//! (`-i5`, `-i 5`), optional arguments only attached (`-ashm`, `--all=shm`), long
//! options abbreviated to any unique prefix (`--sh`), non-options moved after the
//! options, and `--` ending the options. Errors carry glibc's exact wording.
//!
//! Options come out in order, errors in their place among them, so that a tool can
//! act on each option as it comes (as `ipcrm` removes while it parses).
//!
//! A tool declares its options once, as a table of [`Spec`]s (short letter, long name,
//! argument) that each name a value of the tool's own option enum; `parse` reports
//! that value, so the tool's `match` is exhaustive: an option the table declares and
//! the tool forgets is a compile error, not a silent fallback.

/// Whether an option takes an argument.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    /// Only attached: `-aX`, `--all=X`.
    Optional,
}

/// One option: its short letter and/or long name, its argument, and the id it reports.
#[derive(Copy, Clone, Debug)]
pub struct Spec<Id> {
    pub short: Option<char>,
    pub long: Option<&'static str>,
    pub has_arg: HasArg,
    pub id: Id,
}

impl<Id> Spec<Id> {
    /// `-c` and `--long`.
    pub const fn both(short: char, long: &'static str, has_arg: HasArg, id: Id) -> Spec<Id> {
        Spec { short: Some(short), long: Some(long), has_arg, id }
    }

    /// Only `--long`.
    pub const fn long(long: &'static str, has_arg: HasArg, id: Id) -> Spec<Id> {
        Spec { short: None, long: Some(long), has_arg, id }
    }
}

/// One parsed option, or an error where one was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt<Id> {
    /// An option (by id) and its argument.
    Opt(Id, Option<String>),
    /// A usage error, worded as glibc words it (without the program name).
    Err(String),
}

/// The result of parsing: options in order, then the non-option arguments.
#[derive(Clone, Debug)]
pub struct Parsed<Id> {
    pub opts: Vec<Opt<Id>>,
    pub operands: Vec<String>,
}

/// Parses `args` (without the program name) against the options in `specs`.
pub fn parse<Id: Copy + PartialEq>(specs: &[Spec<Id>], args: &[String]) -> Parsed<Id> {
    let mut out = Parsed { opts: Vec::new(), operands: Vec::new() };
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            out.opts.push(parse_long(body, specs, args, &mut i));
        } else if arg.len() > 1 && arg.starts_with('-') {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                match specs.iter().find(|s| s.short == Some(c)) {
                    None => out.opts.push(Opt::Err(format!("invalid option -- '{c}'"))),
                    Some(&Spec { has_arg: HasArg::No, id, .. }) => out.opts.push(Opt::Opt(id, None)),
                    Some(&Spec { has_arg, id, .. }) => {
                        let rest: String = chars[k..].iter().collect();
                        k = chars.len();
                        if !rest.is_empty() {
                            out.opts.push(Opt::Opt(id, Some(rest)));
                        } else if has_arg == HasArg::Optional {
                            out.opts.push(Opt::Opt(id, None));
                        } else if i < args.len() {
                            out.opts.push(Opt::Opt(id, Some(args[i].clone())));
                            i += 1;
                        } else {
                            out.opts.push(Opt::Err(format!("option requires an argument -- '{c}'")));
                        }
                    }
                }
            }
        } else {
            out.operands.push(arg.clone());
        }
    }
    out
}

fn parse_long<Id: Copy + PartialEq>(
    body: &str,
    specs: &[Spec<Id>],
    args: &[String],
    i: &mut usize,
) -> Opt<Id> {
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (body, None),
    };
    let long: Vec<(&'static str, &Spec<Id>)> = specs.iter().filter_map(|s| Some((s.long?, s))).collect();
    let (found_name, found) = match long.iter().find(|(l, _)| *l == name) {
        Some(&(l, s)) => (l, *s),
        None => {
            let candidates: Vec<&(&str, &Spec<Id>)> =
                long.iter().filter(|(l, _)| l.starts_with(name)).collect();
            match candidates.as_slice() {
                [] => return Opt::Err(format!("unrecognized option '--{body}'")),
                [(l, s)] => (*l, **s),
                [(l, first), rest @ ..]
                    if rest.iter().all(|(_, s)| s.id == first.id && s.has_arg == first.has_arg) =>
                {
                    (*l, **first)
                }
                many => {
                    let list: String = many.iter().map(|(l, _)| format!(" '--{l}'")).collect();
                    return Opt::Err(format!("option '--{body}' is ambiguous; possibilities:{list}"));
                }
            }
        }
    };
    match (found.has_arg, value) {
        (HasArg::No, Some(_)) => Opt::Err(format!("option '--{found_name}' doesn't allow an argument")),
        (HasArg::No, None) | (HasArg::Optional, None) => Opt::Opt(found.id, None),
        (_, Some(v)) => Opt::Opt(found.id, Some(v)),
        (HasArg::Required, None) => {
            if *i < args.len() {
                *i += 1;
                Opt::Opt(found.id, Some(args[*i - 1].clone()))
            } else {
                Opt::Err(format!("option '--{found_name}' requires an argument"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Copy, Clone, Debug, PartialEq, Eq)]
    enum Flag {
        Shm,
        Sem,
        Id,
        All,
    }
    use Flag::*;

    const SPECS: &[Spec<Flag>] = &[
        Spec::both('m', "shmems", HasArg::No, Shm),
        Spec::both('s', "semaphores", HasArg::No, Sem),
        Spec::both('i', "id", HasArg::Required, Id),
        Spec::both('a', "all", HasArg::Optional, All),
    ];

    fn p(args: &[&str]) -> Parsed<Flag> {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(SPECS, &v)
    }

    fn o(id: Flag, a: Option<&str>) -> Opt<Flag> {
        Opt::Opt(id, a.map(str::to_string))
    }

    #[test]
    fn shorts() {
        assert_eq!(
            p(&["-ms", "-i5", "-i", "6"]).opts,
            [o(Shm, None), o(Sem, None), o(Id, Some("5")), o(Id, Some("6"))]
        );
        assert_eq!(p(&["-a", "-ashm"]).opts, [o(All, None), o(All, Some("shm"))]);
        assert_eq!(p(&["-x"]).opts, [Opt::Err("invalid option -- 'x'".into())]);
        assert_eq!(p(&["-i"]).opts, [Opt::Err("option requires an argument -- 'i'".into())]);
    }

    #[test]
    fn longs() {
        assert_eq!(
            p(&["--sh", "--id=3", "--id", "4", "--all=sem"]).opts,
            [o(Shm, None), o(Id, Some("3")), o(Id, Some("4")), o(All, Some("sem"))]
        );
        assert_eq!(
            p(&["--s"]).opts,
            [Opt::Err("option '--s' is ambiguous; possibilities: '--shmems' '--semaphores'".into())]
        );
        assert_eq!(p(&["--nope=1"]).opts, [Opt::Err("unrecognized option '--nope=1'".into())]);
        assert_eq!(p(&["--shmems=1"]).opts, [Opt::Err("option '--shmems' doesn't allow an argument".into())]);
        assert_eq!(p(&["--id"]).opts, [Opt::Err("option '--id' requires an argument".into())]);
    }

    #[test]
    fn operands_are_moved_after_options() {
        let r = p(&["x", "-m", "-", "--", "-s"]);
        assert_eq!(r.opts, [o(Shm, None)]);
        assert_eq!(r.operands, ["x", "-", "-s"]);
    }
}
