//! The forms of an audit: text for people, JSON (docs/outputs.md), SARIF 2.1.0 for code-scanning
//! tools, Markdown for tickets and pull requests.

use super::{Finding, RuleInfo, Severity};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write;

/// How many findings of each severity, most severe first (`2 high, 1 low`).
pub fn summary(findings: &[Finding]) -> String {
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in findings {
        *counts.entry(f.severity).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .rev()
        .map(|(s, n)| format!("{n} {}", s.as_str()))
        .collect();
    let plural = if findings.len() == 1 { "" } else { "s" };
    if parts.is_empty() {
        "no findings".to_string()
    } else {
        format!("{} finding{plural}: {}", findings.len(), parts.join(", "))
    }
}

fn objects_line(f: &Finding) -> String {
    objects_up_to(f, usize::MAX)
}

/// The first `max` objects, then how many more.
fn objects_up_to(f: &Finding, max: usize) -> String {
    let mut line = f
        .objects
        .iter()
        .take(max)
        .map(|o| {
            if o.name.is_empty() {
                format!("{} {}", o.kind, o.pk)
            } else {
                format!("{} {} ({})", o.kind, o.name, o.pk)
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    if f.objects.len() > max {
        line.push_str(&format!(", and {} more", f.objects.len() - max));
    }
    line
}

/// Text for a terminal; with `explain`, each finding's proof under it.
pub fn text(findings: &[Finding], rules: &[RuleInfo], suppressed: usize, explain: bool) -> String {
    let names: BTreeMap<&str, &str> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let mut out = String::new();
    let _ = write!(out, "{}", summary(findings));
    if suppressed > 0 {
        let _ = write!(out, " ({suppressed} suppressed)");
    }
    out.push('\n');
    for f in findings {
        let name = names.get(f.rule.as_str()).copied().unwrap_or("");
        let _ = writeln!(
            out,
            "\n{:<8} {} {name}",
            f.severity.as_str().to_uppercase(),
            f.rule
        );
        let _ = writeln!(out, "  {}", f.message);
        let _ = writeln!(out, "  objects: {}", objects_up_to(f, 8));
        if !f.remediation.is_empty() {
            let _ = writeln!(out, "  fix: {}", f.remediation);
        }
        if explain && !f.explanation.is_empty() {
            let _ = writeln!(out, "  why:");
            for line in f.explanation.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    if !explain && !findings.is_empty() {
        out.push_str(
            "
(--explain shows the proof behind each finding)
",
        );
    }
    out
}

/// The JSON array of docs/outputs.md.
pub fn json(findings: &[Finding]) -> Value {
    serde_json::to_value(findings).unwrap_or(Value::Null)
}

/// Writes [`json`]'s array, pretty-printed as `serde_json` prints that tree (every object's keys
/// in sorted order), as it is serialized: at a million users one finding names most of them,
/// and a tree of them is not built first.
pub fn write_json(findings: &[Finding], out: &mut impl std::io::Write) -> serde_json::Result<()> {
    let findings: Vec<JsonFinding> = findings
        .iter()
        .map(|f| JsonFinding {
            explanation: &f.explanation,
            message: &f.message,
            objects: JsonObjects(&f.objects),
            remediation: &f.remediation,
            rule: &f.rule,
            severity: f.severity,
        })
        .collect();
    serde_json::to_writer_pretty(out, &findings)
}

/// A [`Finding`] as [`write_json`] writes it: its fields in sorted order.
#[derive(serde::Serialize)]
struct JsonFinding<'a> {
    explanation: &'a str,
    message: &'a str,
    objects: JsonObjects<'a>,
    remediation: &'a str,
    rule: &'a str,
    severity: Severity,
}

/// A finding's objects, each with its fields in sorted order.
struct JsonObjects<'a>(&'a [super::ObjectRef]);

impl serde::Serialize for JsonObjects<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Object<'a> {
            kind: &'a str,
            name: &'a str,
            pk: &'a str,
        }
        s.collect_seq(self.0.iter().map(|o| Object {
            kind: &o.kind,
            name: &o.name,
            pk: &o.pk,
        }))
    }
}

/// SARIF's level for a severity.
pub fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// A SARIF 2.1.0 log with one run; `artifact` is the snapshot's path, given as every result's
/// physical location (code-scanning services want one) beside the logical ones (the objects).
/// Serialized as it is written, without a JSON tree of a million objects first; every object's
/// keys are in sorted order, as the tree printed them.
pub fn sarif<'a>(findings: &'a [Finding], rules: &'a [RuleInfo], artifact: &'a str) -> Sarif<'a> {
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    for f in findings {
        if !ids.contains(&f.rule.as_str()) {
            ids.push(&f.rule);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let by_id: BTreeMap<&str, &RuleInfo> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let rules = ids
        .iter()
        .map(|id| match by_id.get(id) {
            Some(r) => SarifRule {
                help: Some(Text {
                    text: &r.remediation,
                }),
                id: &r.id,
                name: Some(&r.name),
                short_description: Text { text: &r.name },
            },
            None => SarifRule {
                help: None,
                id,
                name: None,
                short_description: Text { text: id },
            },
        })
        .collect();
    let results = findings
        .iter()
        .map(|f| SarifResult {
            level: sarif_level(f.severity),
            locations: [Location {
                logical_locations: &f.objects,
                physical_location: Physical {
                    artifact_location: Uri { uri: artifact },
                },
            }],
            message: Text { text: &f.message },
            properties: Properties {
                explanation: &f.explanation,
                remediation: &f.remediation,
                severity: f.severity.as_str(),
            },
            rule_id: &f.rule,
            rule_index: ids.iter().position(|i| *i == f.rule).unwrap_or(0),
        })
        .collect();
    Sarif {
        schema: "https://json.schemastore.org/sarif-2.1.0.json",
        runs: [Run {
            results,
            tool: Tool {
                driver: Driver {
                    information_uri: "https://github.com/goauthentik/authentik",
                    name: "bindlog",
                    rules,
                    version: env!("CARGO_PKG_VERSION"),
                },
            },
        }],
        version: "2.1.0",
    }
}

/// A SARIF log ([`sarif`]); its fields, and those of the types below, in the sorted order of
/// their JSON keys.
#[derive(serde::Serialize)]
pub struct Sarif<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    runs: [Run<'a>; 1],
    version: &'static str,
}

#[derive(serde::Serialize)]
struct Run<'a> {
    results: Vec<SarifResult<'a>>,
    tool: Tool<'a>,
}

#[derive(serde::Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver<'a> {
    information_uri: &'static str,
    name: &'static str,
    rules: Vec<SarifRule<'a>>,
    version: &'static str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifRule<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text<'a>>,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    short_description: Text<'a>,
}

#[derive(serde::Serialize)]
struct Text<'a> {
    text: &'a str,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    level: &'static str,
    locations: [Location<'a>; 1],
    message: Text<'a>,
    properties: Properties<'a>,
    rule_id: &'a str,
    rule_index: usize,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Location<'a> {
    #[serde(serialize_with = "logical_locations")]
    logical_locations: &'a [super::ObjectRef],
    physical_location: Physical<'a>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical<'a> {
    artifact_location: Uri<'a>,
}

#[derive(serde::Serialize)]
struct Uri<'a> {
    uri: &'a str,
}

#[derive(serde::Serialize)]
struct Properties<'a> {
    explanation: &'a str,
    remediation: &'a str,
    severity: &'static str,
}

/// The objects of a finding as SARIF's logical locations: `kind/pk`, the name (the pk where
/// there is none), `resource`.
fn logical_locations<S: serde::Serializer>(
    objects: &&[super::ObjectRef],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::{SerializeMap, SerializeSeq};
    struct Qualified<'o>(&'o super::ObjectRef);
    impl std::fmt::Display for Qualified<'_> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}/{}", self.0.kind, self.0.pk)
        }
    }
    struct One<'o>(&'o super::ObjectRef);
    impl serde::Serialize for One<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let o = self.0;
            let mut m = s.serialize_map(Some(3))?;
            m.serialize_entry("fullyQualifiedName", &format_args!("{}", Qualified(o)))?;
            m.serialize_entry("kind", "resource")?;
            let name = if o.name.is_empty() { &o.pk } else { &o.name };
            m.serialize_entry("name", name)?;
            m.end()
        }
    }
    let mut seq = s.serialize_seq(Some(objects.len()))?;
    for o in *objects {
        seq.serialize_element(&One(o))?;
    }
    seq.end()
}

use crate::escape::markdown_cell as md_escape;

/// Markdown: a summary table, then one section per finding with its proof folded.
pub fn markdown(findings: &[Finding], rules: &[RuleInfo], suppressed: usize) -> String {
    let names: BTreeMap<&str, &str> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.name.as_str()))
        .collect();
    let mut out = String::from("# bindlog audit\n\n");
    let _ = write!(out, "{}", summary(findings));
    if suppressed > 0 {
        let _ = write!(out, " ({suppressed} suppressed)");
    }
    out.push_str("\n\n| severity | rule | finding | objects |\n|---|---|---|---|\n");
    for f in findings {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            f.severity.as_str(),
            md_escape(&f.rule),
            md_escape(&f.message),
            md_escape(&objects_line(f))
        );
    }
    for f in findings {
        let name = names.get(f.rule.as_str()).copied().unwrap_or("");
        let _ = writeln!(
            out,
            "\n## {} {} ({})\n\n{}\n",
            md_escape(&f.rule),
            md_escape(name),
            f.severity.as_str(),
            md_escape(&f.message)
        );
        for o in &f.objects {
            let _ = writeln!(
                out,
                "- {} {} ({})",
                md_escape(&o.kind),
                crate::escape::markdown_code(&o.name),
                md_escape(&o.pk)
            );
        }
        if !f.remediation.is_empty() {
            let _ = writeln!(out, "\n**Fix:** {}", md_escape(&f.remediation));
        }
        if !f.explanation.is_empty() {
            let fence = crate::escape::fence_for(&f.explanation);
            let _ = writeln!(
                out,
                "\n<details><summary>Why</summary>\n\n{fence}text\n{}{fence}\n</details>",
                f.explanation
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{Finding, ObjectRef, Severity};

    /// The array written as it is serialized is the tree `json` builds, printed as before: the
    /// same keys in the same order, the same escapes, byte for byte.
    #[test]
    fn written_json_is_the_tree_printed() {
        let object = |kind: &str, pk: &str, name: &str| ObjectRef {
            kind: kind.into(),
            pk: pk.into(),
            name: name.into(),
        };
        let findings = vec![
            Finding {
                rule: "AK-M02".into(),
                severity: Severity::High,
                message: "a \"quoted\" name, a tab\tand é".into(),
                objects: vec![
                    object("flow", "f-1", "default-authentication-flow"),
                    object("user", "7", "alice\n"),
                    object("user", "8", "bob"),
                ],
                remediation: "bind an MFA stage".into(),
                explanation: "finding(...) holds\n├─ a step".into(),
            },
            Finding {
                rule: "AK-B01".into(),
                severity: Severity::Info,
                message: String::new(),
                objects: Vec::new(),
                remediation: String::new(),
                explanation: String::new(),
            },
        ];
        let mut written = Vec::new();
        super::write_json(&findings, &mut written).expect("written");
        let tree = serde_json::to_string_pretty(&super::json(&findings)).expect("printed");
        assert_eq!(String::from_utf8(written).expect("UTF-8"), tree);
        assert!(tree.contains("\"objects\": []"), "{tree}");
    }
}
