//! Configuration from environment variables, read one way in every function: blank counts as
//! unset, numbers are whole and within a range, and a bad value is one [`ConfigError`] that names
//! the variable, its value and what was expected, so a user can fix it from the message alone.
//!
//! Variables are read through a lookup (`Fn(&str) -> Option<String>`): [`process`] in a
//! function, a closure over a list in tests.

use std::ops::RangeInclusive;
use std::time::Duration;

/// The lookup that reads the process environment.
pub fn process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// A lookup over fixed pairs, as a test gives a function its environment.
pub fn pairs<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string())
}

/// What is wrong with a function's configuration. Every message starts `bad configuration: `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// One variable: `problem` says what was expected and, when it is set, its value.
    #[error("bad configuration: {variable} {problem}")]
    Bad { variable: &'static str, problem: String },
    /// The variables are each fine, but not together (e.g. none of those that are needed is set).
    #[error("bad configuration: {0}")]
    Combination(String),
}

impl ConfigError {
    pub fn bad(variable: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Bad { variable, problem: problem.into() }
    }
}

/// The whole numbers a variable may hold, both ends included.
type Range = RangeInclusive<u64>;

/// The variables, read through a lookup.
pub struct Env<L> {
    lookup: L,
}

impl<L: Fn(&str) -> Option<String>> Env<L> {
    pub fn new(lookup: L) -> Self {
        Env { lookup }
    }

    /// The value exactly as set, blank included: for a variable where blank means something.
    pub fn as_set(&self, name: &str) -> Option<String> {
        (self.lookup)(name)
    }

    /// The value without surrounding spaces; blank counts as unset.
    pub fn optional(&self, name: &str) -> Option<String> {
        self.as_set(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    /// The value, or an error saying it is not set and what it is for (`what`).
    pub fn required(&self, name: &'static str, what: &str) -> Result<String, ConfigError> {
        self.optional(name).ok_or_else(|| ConfigError::bad(name, format!("is not set: {what}")))
    }

    /// Whole seconds within `range`; unset: `default`.
    pub fn seconds(&self, name: &'static str, default: u64, range: Range) -> Result<Duration, ConfigError> {
        self.whole(name, "whole seconds", default, range).map(Duration::from_secs)
    }

    /// Whole milliseconds within `range`; unset: `default`.
    pub fn millis(&self, name: &'static str, default: u64, range: Range) -> Result<Duration, ConfigError> {
        self.whole(name, "whole milliseconds", default, range).map(Duration::from_millis)
    }

    /// A whole number within `range` (a count); unset: `default`.
    pub fn count(&self, name: &'static str, default: u64, range: Range) -> Result<u64, ConfigError> {
        self.whole(name, "a whole number", default, range)
    }

    /// `unit` says what is expected: "whole seconds" gives `must be whole seconds from 1 to 300, not `0``.
    fn whole(&self, name: &'static str, unit: &str, default: u64, range: Range) -> Result<u64, ConfigError> {
        let Some(value) = self.optional(name) else { return Ok(default) };
        match value.parse::<u64>() {
            Ok(n) if range.contains(&n) => Ok(n),
            _ => Err(ConfigError::bad(
                name,
                format!("must be {unit} from {} to {}, not `{value}`", range.start(), range.end()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> Env<impl Fn(&str) -> Option<String>> {
        Env::new(pairs(vars))
    }

    #[test]
    fn blank_counts_as_unset_except_as_set() {
        let env = env(&[("A", "  x "), ("B", "  ")]);
        assert_eq!((env.optional("A").as_deref(), env.optional("B"), env.optional("C")), (Some("x"), None, None));
        assert_eq!(env.as_set("B").as_deref(), Some("  "));
        assert_eq!(env.required("A", "the thing").as_deref(), Ok("x"));
        let unset = env.required("B", "the queue the next run reads").unwrap_err();
        assert_eq!(unset.to_string(), "bad configuration: B is not set: the queue the next run reads");
    }

    #[test]
    fn numbers_are_whole_and_within_their_range() {
        let env = env(&[("S", "60"), ("M", " 1500 "), ("N", "0"), ("BAD", "abc"), ("BIG", "901"), ("NEG", "-1")]);
        assert_eq!(env.seconds("S", 5, 0..=900), Ok(Duration::from_secs(60)));
        assert_eq!(env.seconds("UNSET", 5, 0..=900), Ok(Duration::from_secs(5)));
        assert_eq!(env.millis("M", 5000, 0..=900_000), Ok(Duration::from_millis(1500)));
        assert_eq!(env.count("N", 20, 0..=100), Ok(0));
        let cases = [
            (env.seconds("BAD", 5, 60..=900).unwrap_err(), "BAD must be whole seconds from 60 to 900, not `abc`"),
            (env.seconds("BIG", 5, 0..=900).unwrap_err(), "BIG must be whole seconds from 0 to 900, not `901`"),
            (env.millis("NEG", 5, 0..=10).unwrap_err(), "NEG must be whole milliseconds from 0 to 10, not `-1`"),
            (env.count("S", 5, 0..=10).unwrap_err(), "S must be a whole number from 0 to 10, not `60`"),
        ];
        for (error, expected) in cases {
            assert_eq!(error.to_string(), format!("bad configuration: {expected}"));
        }
    }
}
