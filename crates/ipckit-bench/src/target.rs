//! A performance target: a bound a measured figure (a ratio, a rate) should meet.
//!
//! Contract: a [`Target`] shows and serializes as the text of the report (`<= 1.3`,
//! `>= 50000`, `-` for information only); [`Target::met`] says whether a figure meets
//! it, and is `true` for [`Target::Info`].

use serde::{Serialize, Serializer};

/// What a figure should be.
#[derive(Copy, Clone, Debug, PartialEq)]
pub enum Target {
    /// No target: the figure is for information.
    Info,
    /// At most this (`<=`).
    AtMost(f64),
    /// At least this (`>=`).
    AtLeast(f64),
    /// More than this (`>`).
    Above(f64),
    /// Less than this (`<`).
    Below(f64),
}

impl Target {
    /// Whether `value` meets the target.
    pub fn met(self, value: f64) -> bool {
        match self {
            Target::Info => true,
            Target::AtMost(t) => value <= t,
            Target::AtLeast(t) => value >= t,
            Target::Above(t) => value > t,
            Target::Below(t) => value < t,
        }
    }

    /// Whether there is a bound to meet.
    pub fn is_info(self) -> bool {
        self == Target::Info
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Info => f.write_str("-"),
            Target::AtMost(t) => write!(f, "<= {t}"),
            Target::AtLeast(t) => write!(f, ">= {t}"),
            Target::Above(t) => write!(f, "> {t}"),
            Target::Below(t) => write!(f, "< {t}"),
        }
    }
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_as_the_report_text_and_checks_the_bound() {
        assert_eq!(Target::AtMost(1.3).to_string(), "<= 1.3");
        assert_eq!(Target::AtMost(2.0).to_string(), "<= 2");
        assert_eq!(Target::AtLeast(50000.0).to_string(), ">= 50000");
        assert_eq!(Target::Info.to_string(), "-");
        assert!(Target::AtMost(1.3).met(1.3) && !Target::AtMost(1.3).met(1.31));
        assert!(Target::Above(1.0).met(1.01) && !Target::Above(1.0).met(1.0));
        assert!(Target::Below(1.0).met(0.5) && Target::Info.met(f64::NAN));
    }
}
