//! Audit findings (docs/audit-catalogue.md): rules in `rules/audit/`, evaluated over a snapshot's facts and
//! the built-in derived relations, each finding with its objects, remediation and explanation.
//!
//! The rules write the `finding(rule, severity, kind, pk, message)` relation (and
//! `finding_object`, `finding_rule`; see `rules/audit/findings.dl`); [`audit`] evaluates them
//! and turns the tuples into [`Finding`]s, proving each emitted one as `explain` would.

pub mod render;
pub mod suppress;

use crate::analysis::views::ANON;
use crate::analysis::{Model, Subjects, label_text};
use crate::datalog::provenance::render_text;
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How bad a finding is, in increasing order; `--fail-on` compares against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Inventory, nothing wrong in itself.
    Info,
    /// Worth a look.
    Low,
    /// Likely a mistake.
    Medium,
    /// A security weakness.
    High,
    /// A security weakness affecting privileged or all users.
    Critical,
}

impl Severity {
    /// Every severity, least severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The lower-case name used in rules, flags and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a lower-case name (`info` ... `critical`).
    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// An object a finding is about, as docs/outputs.md names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// `flow`, `stage`, `flow_binding`, `policy`, `policy_binding`, `application`, `group`,
    /// `user`, `source`, `brand`.
    pub kind: String,
    /// Its primary key as the snapshot spells it.
    pub pk: String,
    /// Its name (slug, username, or name), for people.
    pub name: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The catalogue id, e.g. `AK-P01`, or a user rule's own id.
    pub rule: String,
    /// Its severity after escalation.
    pub severity: Severity,
    /// One sentence in authentik's terms.
    pub message: String,
    /// The objects involved, most specific first.
    pub objects: Vec<ObjectRef>,
    /// What to change.
    pub remediation: String,
    /// The derivation, as `explain` prints it (text, one step per line).
    pub explanation: String,
}

/// A rule of the catalogue (or of the user's rules), for SARIF and reports.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RuleInfo {
    /// Its id, e.g. `AK-B01`.
    pub id: String,
    /// A short name.
    pub name: String,
    /// What to change.
    pub remediation: String,
}

/// The audit rules, compiled into the binary and cited by their path in the repository.
pub const RULES: [(&str, &str); 9] = [
    (
        "rules/audit/findings.dl",
        include_str!("../../rules/audit/findings.dl"),
    ),
    (
        "rules/audit/bindings.dl",
        include_str!("../../rules/audit/bindings.dl"),
    ),
    (
        "rules/audit/planning.dl",
        include_str!("../../rules/audit/planning.dl"),
    ),
    (
        "rules/audit/mfa.dl",
        include_str!("../../rules/audit/mfa.dl"),
    ),
    (
        "rules/audit/directory.dl",
        include_str!("../../rules/audit/directory.dl"),
    ),
    (
        "rules/audit/notifications.dl",
        include_str!("../../rules/audit/notifications.dl"),
    ),
    (
        "rules/audit/devices.dl",
        include_str!("../../rules/audit/devices.dl"),
    ),
    (
        "rules/audit/sources.dl",
        include_str!("../../rules/audit/sources.dl"),
    ),
    (
        "rules/audit/providers.dl",
        include_str!("../../rules/audit/providers.dl"),
    ),
];

/// What an audit runs.
#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// The user's own rule files (`(name, text)`), which may add `finding` tuples.
    pub rules: Vec<(String, String)>,
    /// Prove every finding (as `explain` does); off saves the evaluation with heights.
    pub explain: bool,
    /// How deep a proof's why-not parts are followed.
    pub depth: usize,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            rules: Vec::new(),
            explain: true,
            depth: 4,
        }
    }
}

/// An audit's findings together with the rules that can produce them.
#[derive(Clone, Debug, Default)]
pub struct Audit {
    /// Findings, most severe first, then by rule, then by objects.
    pub findings: Vec<Finding>,
    /// Every rule declared by `finding_rule` (catalogue and user rules), by id.
    pub rules: Vec<RuleInfo>,
    /// Warnings about how the rules were evaluated (a count over users without `weight`).
    pub notes: Vec<String>,
}

/// The findings of a snapshot, most severe first (then by rule, then by objects).
pub fn audit(snapshot: &Snapshot, options: &AuditOptions) -> Result<Vec<Finding>, String> {
    run(snapshot, options).map(|a| a.findings)
}

/// The findings of a snapshot with the rule metadata (for SARIF).
pub fn run(snapshot: &Snapshot, options: &AuditOptions) -> Result<Audit, String> {
    let start = std::time::Instant::now();
    let model = evaluate_reading(snapshot, &options.rules, &[], &[], options.explain)?;
    crate::analysis::bulk::timing("audit: evaluated", start);
    let out = findings_of(&model, snapshot, options);
    crate::analysis::bulk::timing("audit: findings", start);
    out
}

/// Evaluates the built-in and audit rules (plus the user's) for every user, by identity class;
/// the findings and the relations in `expand` are expanded to every user.
pub fn evaluate(
    snapshot: &Snapshot,
    user_rules: &[(String, String)],
    expand: &[&str],
) -> Result<Model, String> {
    evaluate_reading(snapshot, user_rules, expand, &[], true)
}

/// [`evaluate`], where the caller also reads the relations in `read` by identity class (see
/// [`Model::everyone_reading`]). With `proofs`, findings may be proved ([`findings_of`] with
/// `explain`): the evaluation keeps what proofs read, and the proofs evaluate nothing again.
pub fn evaluate_reading(
    snapshot: &Snapshot,
    user_rules: &[(String, String)],
    expand: &[&str],
    read: &[&str],
    proofs: bool,
) -> Result<Model, String> {
    let extra = with_audit_rules(user_rules);
    Model::everyone_reading(snapshot, &extra, &expanded(expand), read, proved(proofs))
}

/// [`evaluate_reading`], sharing component evaluations through `memo` with the other
/// evaluations given it (see [`Model::everyone_remembering`]).
pub fn evaluate_remembering(
    snapshot: &Snapshot,
    user_rules: &[(String, String)],
    read: &[&str],
    proofs: bool,
    memo: &'static crate::analysis::bulk::Memo,
) -> Result<Model, String> {
    let extra = with_audit_rules(user_rules);
    Model::everyone_remembering(
        snapshot,
        &extra,
        (&expanded(&[]), read, proved(proofs)),
        memo,
    )
}

/// The relations whose rows a caller may prove.
fn proved(proofs: bool) -> &'static [&'static str] {
    if proofs { &["finding"] } else { &[] }
}

/// The relations an audit expands to every user: the findings, and the caller's `expand`.
fn expanded<'a>(expand: &[&'a str]) -> Vec<&'a str> {
    ["finding", "finding_object"]
        .into_iter()
        .chain(expand.iter().copied())
        .collect()
}

/// [`evaluate_reading`], keeping too the bindings that carry each application's decision (see
/// [`Model::everyone_deciding`]): what the report names as the reason for each access.
pub fn evaluate_deciding(
    snapshot: &Snapshot,
    user_rules: &[(String, String)],
    expand: &[&str],
    read: &[&str],
    proofs: bool,
    idle: Option<&crate::analysis::bulk::Idle>,
) -> Result<Model, String> {
    let extra = with_audit_rules(user_rules);
    Model::everyone_deciding(
        snapshot,
        &extra,
        &expanded(expand),
        read,
        proved(proofs),
        idle,
    )
}

/// The same evaluation per user: the reference [`evaluate`] is tested against.
pub fn evaluate_per_user(
    snapshot: &Snapshot,
    user_rules: &[(String, String)],
) -> Result<Model, String> {
    Model::with_rules(snapshot, &Subjects::All, &with_audit_rules(user_rules))
}

/// The audit rules followed by the user's, as `(name, text)`.
fn with_audit_rules(user_rules: &[(String, String)]) -> Vec<(&str, &str)> {
    RULES
        .iter()
        .copied()
        .chain(user_rules.iter().map(|(n, t)| (n.as_str(), t.as_str())))
        .collect()
}

/// The `finding_object` rows with one rule, object and kind: those three, and the further
/// objects' pks, sorted.
type ObjectGroup<'r> = ([&'r str; 3], Vec<&'r str>);

/// The findings an evaluated model holds.
pub fn findings_of(
    model: &Model,
    snapshot: &Snapshot,
    options: &AuditOptions,
) -> Result<Audit, String> {
    let rules: Vec<RuleInfo> = model
        .rows("finding_rule")
        .into_iter()
        .map(|r| RuleInfo {
            id: r[0].clone(),
            name: r[1].clone(),
            remediation: r[2].clone(),
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let remedy: BTreeMap<&str, &str> = rules
        .iter()
        .map(|r| (r.id.as_str(), r.remediation.as_str()))
        .collect();
    // One finding per rule and object: the most severe tuple, then the first message.
    let mut chosen: BTreeMap<(String, String, String), (Severity, String, String)> =
        BTreeMap::new();
    for r in model.rows("finding") {
        let sev = Severity::parse(&r[1]).ok_or_else(|| {
            format!(
                "rule `{}` gives the severity `{}` for {} `{}`; expected info, low, medium, high or critical",
                r[0], r[1], r[2], r[3]
            )
        })?;
        let key = (r[0].clone(), r[2].clone(), r[3].clone());
        let better = match chosen.get(&key) {
            None => true,
            Some((s, m, _)) => sev > *s || (sev == *s && r[4] < *m),
        };
        if better {
            chosen.insert(key, (sev, r[4].clone(), r[1].clone()));
        }
    }
    // Read as borrowed text and sorted once: a finding may name every user (some identities
    // bypass MFA). Each finding's further objects are a run of the sorted rows, in the order
    // of their kind, then pk. The rows are grouped by their first three columns (few groups),
    // and each group's last column is sorted on its own: one string compared per step, not
    // up to four.
    let mut by_start: FxHashMap<[&str; 3], Vec<&str>> = FxHashMap::default();
    model.each_symbol_row("finding_object", |r| {
        by_start.entry([r[0], r[1], r[2]]).or_default().push(r[3]);
    });
    let mut by_start: Vec<ObjectGroup> = by_start.into_iter().collect();
    by_start.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    by_start.par_iter_mut().for_each(|(_, last)| {
        last.par_sort_unstable();
        last.dedup();
    });
    // Each finding's further objects: its groups (one per kind, in kind order), read in place.
    let mut extra: FxHashMap<(&str, &str), &[ObjectGroup]> = FxHashMap::default();
    for run in by_start.chunk_by(|a, b| a.0[..2] == b.0[..2]) {
        extra.insert((run[0].0[0], run[0].0[1]), run);
    }
    // Users are named only where a finding names them: a million users need not be indexed.
    let users: FxHashSet<i64> = chosen
        .keys()
        .filter(|(_, kind, _)| kind == "user")
        .map(|(_, _, pk)| pk.as_str())
        .chain(
            by_start
                .iter()
                .filter(|(start, _)| start[2] == "user")
                .flat_map(|(_, last)| last.iter().copied()),
        )
        .filter_map(|pk| pk.parse().ok())
        .collect();
    let names = Names::new(snapshot, &users);
    let mut findings: Vec<(Finding, Vec<String>)> = chosen
        .into_iter()
        .map(|((rule, kind, pk), (severity, message, sev_text))| {
            let mut objects = vec![names.object(&kind, &pk)];
            for ([_, _, k], last) in extra
                .get(&(rule.as_str(), pk.as_str()))
                .copied()
                .unwrap_or(&[])
            {
                // The finding's own object is not named twice.
                let (before, after) = match last.binary_search(&pk.as_str()) {
                    Ok(i) if *k == kind => (&last[..i], &last[i + 1..]),
                    _ => (&last[..], &[][..]),
                };
                // In parallel, in order, straight into place: a finding may name most users.
                objects.par_extend(
                    before
                        .par_iter()
                        .chain(after.par_iter())
                        .map(|p| names.object(k, p)),
                );
            }
            let tuple = vec![rule.clone(), sev_text, kind, pk, message.clone()];
            let finding = Finding {
                remediation: remedy.get(rule.as_str()).copied().unwrap_or("").to_string(),
                rule,
                severity,
                message,
                objects,
                explanation: String::new(),
            };
            (finding, tuple)
        })
        .collect();
    findings.sort_by(|(a, _), (b, _)| order(a, b));
    if options.explain && !findings.is_empty() {
        let queries: Vec<(&str, Vec<String>)> = findings
            .iter()
            .map(|(_, t)| ("finding", t.clone()))
            .collect();
        let start = std::time::Instant::now();
        let proofs = model.explain_all(&queries, options.depth)?;
        crate::analysis::bulk::timing("audit: proofs", start);
        let texts: Vec<String> = findings
            .iter()
            .zip(&proofs)
            .map(|((_, t), p)| model.retell(snapshot, "finding", t, render_text(p)))
            .collect();
        // Labels for the users the proofs name, not for every user.
        let quoted: std::collections::HashSet<&str> = texts
            .iter()
            .flat_map(|t| t.split('"').skip(1).step_by(2))
            .collect();
        let labels = model.labels_of(|pk| quoted.contains(pk));
        for ((f, _), text) in findings.iter_mut().zip(&texts) {
            f.explanation = label_text(text, &labels);
        }
        crate::analysis::bulk::timing("audit: proofs told", start);
    }
    Ok(Audit {
        findings: findings.into_iter().map(|(f, _)| f).collect(),
        rules,
        notes: model.notes().to_vec(),
    })
}

/// The order docs/outputs.md fixes: severity (most severe first), then rule, then objects.
pub fn order(a: &Finding, b: &Finding) -> std::cmp::Ordering {
    b.severity
        .cmp(&a.severity)
        .then_with(|| a.rule.cmp(&b.rule))
        .then_with(|| a.objects.cmp(&b.objects))
        .then_with(|| a.message.cmp(&b.message))
}

/// Names of the snapshot's objects by kind, then pk; users' by their pk, borrowed.
struct Names<'s> {
    by_kind: FxHashMap<&'static str, FxHashMap<String, String>>,
    users: FxHashMap<i64, &'s str>,
}

impl<'s> Names<'s> {
    /// The names of the snapshot's objects; of its users, only those with a pk in `users`.
    fn new(s: &'s Snapshot, users: &FxHashSet<i64>) -> Names<'s> {
        let mut m: BTreeMap<(&'static str, String), String> = BTreeMap::new();
        let flows: BTreeMap<&str, &str> = s.flows.iter().map(|f| (&*f.pk, &*f.slug)).collect();
        let stages: BTreeMap<&str, &str> = s.stages.iter().map(|x| (&*x.pk, &*x.name)).collect();
        // Read in parallel: a finding may name most of a million users.
        let user_names: FxHashMap<i64, &str> = if users.is_empty() {
            FxHashMap::default()
        } else {
            s.users
                .par_iter()
                .filter(|u| users.contains(&u.pk))
                .map(|u| (u.pk, &*u.username))
                .collect::<Vec<_>>()
                .into_iter()
                .collect()
        };
        m.insert(("user", ANON.into()), "anonymous visitor".into());
        for g in &s.groups {
            m.insert(("group", g.pk.to_string()), g.name.to_string());
        }
        for f in &s.flows {
            m.insert(("flow", f.pk.to_string()), f.slug.to_string());
        }
        for x in &s.stages {
            m.insert(("stage", x.pk.to_string()), x.name.to_string());
        }
        for x in &s.flow_bindings {
            let flow = flows.get(&*x.target).copied().unwrap_or("?");
            let stage = stages.get(&*x.stage).copied().unwrap_or("?");
            m.insert(
                ("flow_binding", x.pk.to_string()),
                format!("{flow} #{} {stage}", x.order),
            );
        }
        for p in &s.policies {
            m.insert(("policy", p.pk.to_string()), p.name.to_string());
        }
        for a in &s.applications {
            m.insert(("application", a.pk.to_string()), a.slug.to_string());
        }
        for x in &s.sources {
            m.insert(("source", x.pk.to_string()), x.slug.to_string());
        }
        for b in &s.brands {
            m.insert(("brand", b.pk.to_string()), b.domain.to_string());
        }
        for r in &s.notification_rules {
            m.insert(("notification_rule", r.pk.to_string()), r.name.to_string());
        }
        for e in &s.rac_endpoints {
            m.insert(("rac_endpoint", e.pk.to_string()), e.name.to_string());
        }
        for d in &s.devices {
            m.insert(("device", d.pk.to_string()), d.name.to_string());
        }
        for p in &s.providers {
            m.insert(("provider", p.pk.to_string()), p.name.to_string());
        }
        let targets: BTreeMap<String, String> = m
            .iter()
            .filter(|((k, _), _)| matches!(*k, "flow" | "flow_binding" | "application" | "source"))
            .map(|((k, pk), n)| (pk.clone(), format!("{k} {n}")))
            .collect();
        for b in &s.policy_bindings {
            let on = targets
                .get(&*b.target)
                .cloned()
                .unwrap_or_else(|| b.target.to_string());
            m.insert(
                ("policy_binding", b.pk.to_string()),
                format!("#{} on {on}", b.order),
            );
        }
        let mut by_kind: FxHashMap<&'static str, FxHashMap<String, String>> = FxHashMap::default();
        for ((k, p), n) in m {
            by_kind.entry(k).or_default().insert(p, n);
        }
        Names {
            by_kind,
            users: user_names,
        }
    }

    /// A user's name by its pk as the facts spell it (`anon` is in `by_kind`).
    fn user(&self, pk: &str) -> Option<&str> {
        let n: i64 = pk.parse().ok()?;
        // The facts spell a pk in decimal, as `to_string` does: another spelling names nobody.
        if itoa::Buffer::new().format(n) != pk {
            return None;
        }
        self.users.get(&n).copied()
    }

    fn object(&self, kind: &str, pk: &str) -> ObjectRef {
        // A user is named from the users' index (only the anonymous visitor is in `by_kind`).
        let user = (kind == "user" && pk != ANON).then(|| self.user(pk));
        let name = match user {
            Some(name) => name.map(str::to_string),
            None => self.by_kind.get(kind).and_then(|m| m.get(pk)).cloned(),
        }
        // An event action is named by itself.
        .unwrap_or_else(|| {
            if kind == "event_action" {
                pk.to_string()
            } else {
                String::new()
            }
        });
        ObjectRef {
            kind: kind.to_string(),
            pk: pk.to_string(),
            name,
        }
    }
}
