//! Suppressions: accepted findings, silenced until their expiry date.
//!
//! A suppression file is JSON Lines: one object per line, blank lines and lines starting with
//! `#` ignored:
//!
//! ```text
//! # the status page is public on purpose
//! {"rule": "AK-B01", "object": "status-page", "justification": "public by design", "expires": "2027-06-30"}
//! ```
//!
//! `rule` (required) is a finding id; `object` (optional: every finding of the rule) is the pk
//! or name of the finding's first object; `justification` (required) says why; `expires`
//! (optional, `YYYY-MM-DD`) is the last day the suppression holds. An expired suppression no
//! longer silences anything and is reported as a warning.

use super::Finding;
use serde::Deserialize;
use std::path::Path;

/// One accepted finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression {
    /// The file and line it was read from (`file:line`).
    pub origin: String,
    /// The finding id.
    pub rule: String,
    /// The pk or name of the finding's first object; `None` matches every finding of the rule.
    pub object: Option<String>,
    /// Why it is accepted.
    pub justification: String,
    /// The last day it holds.
    pub expires: Option<Date>,
}

/// A calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// Year.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day, 1-31.
    pub day: u32,
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl Date {
    /// Parses `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let mut parts = s.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Date {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        let leap = date.year % 4 == 0 && (date.year % 100 != 0 || date.year % 400 == 0);
        let days = match date.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days).contains(&date.day).then_some(date)
    }

    /// Today in UTC, from the system clock.
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Date::from_days((secs / 86_400) as i64)
    }

    /// The date `days` days after 1970-01-01.
    pub fn from_days(days: i64) -> Date {
        let (year, month, day) = crate::time::civil_from_days(days);
        Date {
            year: year as i32,
            month,
            day,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    rule: String,
    #[serde(default)]
    object: Option<String>,
    justification: String,
    #[serde(default)]
    expires: Option<String>,
}

/// Reads a suppression file; every malformed line is reported (`file:line: what was expected`).
pub fn load(path: &Path) -> Result<Vec<Suppression>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the suppression file `{}`: {e}", path.display()))?;
    parse(&path.display().to_string(), &text)
}

/// Parses suppressions from text read from `file`.
pub fn parse(file: &str, text: &str) -> Result<Vec<Suppression>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let origin = format!("{file}:{}", i + 1);
        let parsed: Line = match serde_json::from_str(line) {
            Ok(l) => l,
            Err(e) => {
                errors.push(format!(
                    "{origin}: {e}; expected one JSON object per line like {{\"rule\": \"AK-B01\", \"object\": \"status-page\", \"justification\": \"...\", \"expires\": \"2027-06-30\"}}"
                ));
                continue;
            }
        };
        if parsed.rule.trim().is_empty() || parsed.justification.trim().is_empty() {
            errors.push(format!(
                "{origin}: `rule` and `justification` must not be empty"
            ));
            continue;
        }
        let expires = match &parsed.expires {
            None => None,
            Some(d) => match Date::parse(d) {
                Some(d) => Some(d),
                None => {
                    errors.push(format!(
                        "{origin}: `expires` is `{d}`; expected a date YYYY-MM-DD"
                    ));
                    continue;
                }
            },
        };
        out.push(Suppression {
            origin,
            rule: parsed.rule,
            object: parsed.object,
            justification: parsed.justification,
            expires,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// Findings after suppressions.
#[derive(Clone, Debug, Default)]
pub struct Applied {
    /// Findings still reported.
    pub kept: Vec<Finding>,
    /// Findings silenced, each with the suppression that silenced it.
    pub suppressed: Vec<(Finding, Suppression)>,
    /// Expired suppressions and suppressions that match no finding, for stderr.
    pub warnings: Vec<String>,
}

impl Suppression {
    /// Whether it silences this finding (ignoring expiry).
    pub fn matches(&self, f: &Finding) -> bool {
        self.rule == f.rule
            && match &self.object {
                None => true,
                Some(o) => f
                    .objects
                    .first()
                    .is_some_and(|x| &x.pk == o || &x.name == o),
            }
    }
}

/// Silences the findings matched by a suppression that has not expired on `today`.
pub fn apply(findings: Vec<Finding>, suppressions: &[Suppression], today: Date) -> Applied {
    let mut applied = Applied::default();
    let mut used = vec![false; suppressions.len()];
    for f in findings {
        let mut silenced = None;
        for (i, s) in suppressions.iter().enumerate() {
            if s.matches(&f) {
                used[i] = true;
                if s.expires.is_none_or(|d| d >= today) && silenced.is_none() {
                    silenced = Some(s.clone());
                }
            }
        }
        match silenced {
            Some(s) => applied.suppressed.push((f, s)),
            None => applied.kept.push(f),
        }
    }
    for (s, used) in suppressions.iter().zip(used) {
        let what = match &s.object {
            Some(o) => format!("{} for `{o}`", s.rule),
            None => s.rule.clone(),
        };
        if let Some(d) = s.expires.filter(|d| *d < today) {
            applied.warnings.push(format!(
                "{}: the suppression of {what} expired on {d} (\"{}\"); it no longer silences anything",
                s.origin, s.justification
            ));
        } else if !used {
            applied.warnings.push(format!(
                "{}: the suppression of {what} matches no finding",
                s.origin
            ));
        }
    }
    applied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(Date::from_days(0).to_string(), "1970-01-01");
        assert_eq!(Date::from_days(19_782).to_string(), "2024-02-29");
        assert_eq!(Date::parse("2024-02-30"), None);
        assert_eq!(Date::parse("2027-6-30"), None);
        assert!(Date::parse("2027-06-30").unwrap() > Date::parse("2027-06-29").unwrap());
    }

    #[test]
    fn malformed_lines_name_file_and_line() {
        let err = parse("s.jsonl", "# c\n\n{\"rule\": \"AK-B01\"}\n{\"rule\": \"X\", \"justification\": \"j\", \"expires\": \"soon\"}\n").unwrap_err();
        assert!(
            err.contains("s.jsonl:3: missing field `justification`"),
            "{err}"
        );
        assert!(err.contains("s.jsonl:4: `expires` is `soon`"), "{err}");
    }
}
