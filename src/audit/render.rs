//! The forms of an audit: text for people, JSON (docs/outputs.md), SARIF 2.1.0 for code-scanning
//! tools, Markdown for tickets and pull requests.

use super::{Finding, RuleInfo, Severity};
use serde_json::{Value, json};
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
pub fn sarif(findings: &[Finding], rules: &[RuleInfo], artifact: &str) -> Value {
    let mut ids: Vec<&str> = rules.iter().map(|r| r.id.as_str()).collect();
    for f in findings {
        if !ids.contains(&f.rule.as_str()) {
            ids.push(&f.rule);
        }
    }
    ids.sort_unstable();
    ids.dedup();
    let by_id: BTreeMap<&str, &RuleInfo> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    let rule_objects: Vec<Value> = ids
        .iter()
        .map(|id| match by_id.get(id) {
            Some(r) => json!({
                "id": r.id,
                "name": r.name,
                "shortDescription": {"text": r.name},
                "help": {"text": r.remediation},
            }),
            None => json!({"id": id, "shortDescription": {"text": id}}),
        })
        .collect();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let logical: Vec<Value> = f
                .objects
                .iter()
                .map(|o| {
                    json!({
                        "name": if o.name.is_empty() { &o.pk } else { &o.name },
                        "fullyQualifiedName": format!("{}/{}", o.kind, o.pk),
                        "kind": "resource",
                    })
                })
                .collect();
            json!({
                "ruleId": f.rule,
                "ruleIndex": ids.iter().position(|i| *i == f.rule).unwrap_or(0),
                "level": sarif_level(f.severity),
                "message": {"text": f.message},
                "locations": [{
                    "physicalLocation": {"artifactLocation": {"uri": artifact}},
                    "logicalLocations": logical,
                }],
                "properties": {
                    "severity": f.severity.as_str(),
                    "remediation": f.remediation,
                    "explanation": f.explanation,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "bindlog",
                "version": env!("CARGO_PKG_VERSION"),
                "informationUri": "https://github.com/goauthentik/authentik",
                "rules": rule_objects,
            }},
            "results": results,
        }],
    })
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
