//! authentik versions (`2026.2.1`) and the defaults that depend on them (docs/semantics.md §6).

use std::fmt;

/// An authentik release number `YEAR.MONTH.PATCH` (a suffix such as `-rc1` is kept for display).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Year of the release train, e.g. 2026.
    pub year: u16,
    /// Month of the release train, e.g. 2.
    pub month: u8,
    /// Patch number.
    pub patch: u16,
    /// The string as given.
    pub text: String,
}

impl Version {
    /// Parses `2026.2.1`, `2025.12`, `2026.5.0-rc1`; `None` when it is not such a string.
    pub fn parse(text: &str) -> Option<Version> {
        let core = text
            .trim()
            .trim_start_matches('v')
            .split(['-', '+', ' '])
            .next()?;
        let mut parts = core.split('.');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let patch = match parts.next() {
            Some(p) => p.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            year,
            month,
            patch,
            text: text.trim().to_string(),
        })
    }

    /// Whether this version is `year.month` or later.
    pub fn at_least(&self, year: u16, month: u8) -> bool {
        (self.year, self.month) >= (year, month)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The defaults authentik gives absent fields, for one version (latest when unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Defaults {
    /// `evaluate_on_plan` of a flow-stage binding: false since 2023.3, true before.
    pub evaluate_on_plan: bool,
    /// `re_evaluate_policies` of a flow-stage binding: true since 2023.3, false before.
    pub re_evaluate_policies: bool,
}

impl Defaults {
    /// The defaults of `version`, or of the latest known behaviour when it is `None`.
    pub fn of(version: Option<&Version>) -> Defaults {
        let modern = version.is_none_or(|v| v.at_least(2023, 3));
        Defaults {
            evaluate_on_plan: !modern,
            re_evaluate_policies: modern,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_release_strings() {
        let v = Version::parse("2026.5.0-rc1").unwrap();
        assert_eq!((v.year, v.month, v.patch), (2026, 5, 0));
        assert!(Version::parse("2025.12").unwrap().at_least(2025, 12));
        assert!(!Version::parse("2023.2.9").unwrap().at_least(2023, 3));
        assert!(Version::parse("latest").is_none());
    }

    #[test]
    fn flow_stage_binding_defaults_flip_in_2023_3() {
        let old = Defaults::of(Version::parse("2023.2.1").as_ref());
        assert!(old.evaluate_on_plan && !old.re_evaluate_policies);
        let new = Defaults::of(Version::parse("2023.3.0").as_ref());
        assert!(!new.evaluate_on_plan && new.re_evaluate_policies);
    }
}
