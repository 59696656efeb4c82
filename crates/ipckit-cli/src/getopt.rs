//! GNU `getopt_long`, as util-linux's `ipcs`, `ipcrm` and `ipcmk` parse their
//! arguments: short options clustered (`-qs`), arguments attached or separate
//! (`-i5`, `-i 5`), optional arguments only attached (`-ashm`, `--all=shm`), long
//! options abbreviated to any unique prefix (`--sh`), non-options moved after the
//! options, and `--` ending the options. Errors carry glibc's exact wording.
//!
//! Options come out in order, errors in their place among them, so that a tool can
//! act on each option as it comes (as `ipcrm` removes while it parses).

/// Whether an option takes an argument.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum HasArg {
    No,
    Required,
    /// Only attached: `-aX`, `--all=X`.
    Optional,
}

/// A long option and the id it reports.
#[derive(Copy, Clone, Debug)]
pub struct Long {
    pub name: &'static str,
    pub has_arg: HasArg,
    pub id: char,
}

/// One parsed option, or an error where one was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Opt {
    /// An option (by id) and its argument.
    Opt(char, Option<String>),
    /// A usage error, worded as glibc words it (without the program name).
    Err(String),
}

/// The result of parsing: options in order, then the non-option arguments.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub opts: Vec<Opt>,
    pub operands: Vec<String>,
}

/// Parses `args` (without the program name) with a getopt string (`"i:qm"`, `:`
/// for a required argument, `::` for an optional one) and long options.
pub fn parse(short: &str, long: &[Long], args: &[String]) -> Parsed {
    let mut out = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            out.operands.extend(args[i..].iter().cloned());
            break;
        }
        if let Some(body) = arg.strip_prefix("--") {
            out.opts.push(parse_long(body, long, args, &mut i));
        } else if arg.len() > 1 && arg.starts_with('-') {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut k = 0;
            while k < chars.len() {
                let c = chars[k];
                k += 1;
                match short_kind(short, c) {
                    None => out.opts.push(Opt::Err(format!("invalid option -- '{c}'"))),
                    Some(HasArg::No) => out.opts.push(Opt::Opt(c, None)),
                    Some(kind) => {
                        let rest: String = chars[k..].iter().collect();
                        k = chars.len();
                        if !rest.is_empty() {
                            out.opts.push(Opt::Opt(c, Some(rest)));
                        } else if kind == HasArg::Optional {
                            out.opts.push(Opt::Opt(c, None));
                        } else if i < args.len() {
                            out.opts.push(Opt::Opt(c, Some(args[i].clone())));
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

fn short_kind(short: &str, c: char) -> Option<HasArg> {
    if c == ':' {
        return None;
    }
    let pos = short.find(c)?;
    let rest = &short[pos + c.len_utf8()..];
    Some(if rest.starts_with("::") {
        HasArg::Optional
    } else if rest.starts_with(':') {
        HasArg::Required
    } else {
        HasArg::No
    })
}

fn parse_long(body: &str, long: &[Long], args: &[String], i: &mut usize) -> Opt {
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (body, None),
    };
    let found = match long.iter().find(|l| l.name == name) {
        Some(l) => *l,
        None => {
            let candidates: Vec<&Long> = long.iter().filter(|l| l.name.starts_with(name)).collect();
            match candidates.as_slice() {
                [] => return Opt::Err(format!("unrecognized option '--{body}'")),
                [one] => **one,
                [first, rest @ ..] if rest.iter().all(|l| l.id == first.id && l.has_arg == first.has_arg) => {
                    **first
                }
                many => {
                    let list: String = many.iter().map(|l| format!(" '--{}'", l.name)).collect();
                    return Opt::Err(format!("option '--{body}' is ambiguous; possibilities:{list}"));
                }
            }
        }
    };
    match (found.has_arg, value) {
        (HasArg::No, Some(_)) => Opt::Err(format!("option '--{}' doesn't allow an argument", found.name)),
        (HasArg::No, None) | (HasArg::Optional, None) => Opt::Opt(found.id, None),
        (_, Some(v)) => Opt::Opt(found.id, Some(v)),
        (HasArg::Required, None) => {
            if *i < args.len() {
                *i += 1;
                Opt::Opt(found.id, Some(args[*i - 1].clone()))
            } else {
                Opt::Err(format!("option '--{}' requires an argument", found.name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: &[Long] = &[
        Long { name: "shmems", has_arg: HasArg::No, id: 'm' },
        Long { name: "semaphores", has_arg: HasArg::No, id: 's' },
        Long { name: "id", has_arg: HasArg::Required, id: 'i' },
        Long { name: "all", has_arg: HasArg::Optional, id: 'a' },
    ];

    fn p(args: &[&str]) -> Parsed {
        let v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse("i:msa::", LONG, &v)
    }

    fn o(c: char, a: Option<&str>) -> Opt {
        Opt::Opt(c, a.map(str::to_string))
    }

    #[test]
    fn shorts() {
        assert_eq!(
            p(&["-ms", "-i5", "-i", "6"]).opts,
            [o('m', None), o('s', None), o('i', Some("5")), o('i', Some("6"))]
        );
        assert_eq!(p(&["-a", "-ashm"]).opts, [o('a', None), o('a', Some("shm"))]);
        assert_eq!(p(&["-x"]).opts, [Opt::Err("invalid option -- 'x'".into())]);
        assert_eq!(p(&["-i"]).opts, [Opt::Err("option requires an argument -- 'i'".into())]);
    }

    #[test]
    fn longs() {
        assert_eq!(
            p(&["--sh", "--id=3", "--id", "4", "--all=sem"]).opts,
            [o('m', None), o('i', Some("3")), o('i', Some("4")), o('a', Some("sem"))]
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
        assert_eq!(r.opts, [o('m', None)]);
        assert_eq!(r.operands, ["x", "-", "-s"]);
    }
}
