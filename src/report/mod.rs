//! Auditor reports: one table model built from a loaded snapshot, rendered as a self-contained
//! HTML page ([`html`]), CSV files ([`csv`]); and flow diagrams ([`diagram`]).
//!
//! Everything here is sorted and free of hash-map order, so two runs on the same input give the
//! same bytes; only [`Provenance::generated`] changes, and the caller fixes it for reproducible
//! output (`--timestamp`, `SOURCE_DATE_EPOCH`).

pub mod csv;
pub mod diagram;
pub mod html;

use crate::analysis::Model;
use crate::analysis::paths::Hierarchy;
use crate::audit::Finding;
use crate::snapshot::{Loaded, Snapshot, Subject};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A time stamp (seconds since 1970, UTC) in RFC 3339, as the report prints it.
pub use crate::time::rfc3339;

/// The analysis of every user at once. The one place the report asks for all-users data, so
/// that a faster bulk analysis can take its place.
pub fn all_users(snapshot: &Snapshot) -> Result<Model, String> {
    Model::everyone_reading(snapshot, &[], &RELATIONS, &BY_CLASS)
}

/// The relations the report reads per user (expanded from identity classes to every user).
pub const RELATIONS: [&str; 2] = ["member", "superuser"];

/// The relations the report reads per identity class, under each user's representative.
pub const BY_CLASS: [&str; 4] = ["decide", "val", "open_binding", "visible"];

/// Where the report's answers come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provenance {
    /// The files read, in the order read, with their SHA-256 (lower-case hex).
    pub files: Vec<(String, String)>,
    /// The authentik version, or `unknown`.
    pub version: String,
    /// Defaults assumed while loading: endpoint, field, value, why, how many objects.
    pub defaults: Vec<(String, String, String, String, usize)>,
    /// Warnings while loading.
    pub warnings: Vec<String>,
    /// When the report was made (RFC 3339, UTC).
    pub generated: String,
    /// bindlog's version.
    pub bindlog: String,
}

/// The findings a report shows, or why it shows none.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Findings {
    /// No finding engine ran; the text says why. The report says "not computed", never "none".
    NotComputed(String),
    /// The findings computed, in the order given.
    Computed(Vec<Finding>),
}

/// One user's access to one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRow {
    /// The username.
    pub user: String,
    /// yes, no or unknown.
    pub access: String,
    /// What grants it (`ada -> sre -> admins`), or what denies it.
    pub because: String,
    /// Why it is unknown: the bindings decided only at run time, with their reasons.
    pub reason: String,
}

/// Who may open one application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppAccess {
    /// The slug.
    pub slug: String,
    /// The display name.
    pub name: String,
    /// The engine mode, any or all.
    pub mode: String,
    /// How many bindings are in force.
    pub bindings: usize,
    /// One row per user, by username.
    pub rows: Vec<AccessRow>,
}

/// How many identities of a row see a stage shown, skipped or unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cell {
    /// Certainly runs.
    pub shown: usize,
    /// Certainly does not run.
    pub skipped: usize,
    /// Decided at run time.
    pub unknown: usize,
}

impl Cell {
    fn add(&mut self, visibility: &str) {
        match visibility {
            "shown" => self.shown += 1,
            "skipped" => self.skipped += 1,
            _ => self.unknown += 1,
        }
    }

    /// The single value when every identity agrees (`shown`), else the counts
    /// (`3 shown, 2 unknown`); `-` for nobody.
    pub fn text(&self) -> String {
        let parts: Vec<String> = [
            (self.shown, "shown"),
            (self.skipped, "skipped"),
            (self.unknown, "unknown"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        match parts.len() {
            0 => "-".into(),
            1 => parts[0]
                .split_once(' ')
                .map(|(_, w)| w)
                .unwrap_or("")
                .into(),
            _ => parts.join(", "),
        }
    }

    /// The one value every identity of the row agrees on, if any.
    pub fn uniform(&self) -> Option<&'static str> {
        match (self.shown > 0, self.skipped > 0, self.unknown > 0) {
            (true, false, false) => Some("shown"),
            (false, true, false) => Some("skipped"),
            (false, false, true) => Some("unknown"),
            _ => None,
        }
    }
}

/// One row of a stage matrix: a set of identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatrixRow {
    /// `all users`, a group's name, `no group` or `anonymous`.
    pub label: String,
    /// The group's pk for a group row.
    pub group: Option<String>,
    /// How these identities enter the flow (the anonymous visitor always without a session).
    pub entry: String,
    /// How many identities the row counts.
    pub members: usize,
    /// One cell per stage, in plan order.
    pub cells: Vec<Cell>,
}

/// One flow's stages by group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowMatrix {
    /// The slug.
    pub slug: String,
    /// The designation.
    pub designation: String,
    /// How users enter it (the flow's default way).
    pub entry: String,
    /// The flow-stage bindings in plan order: order, stage name.
    pub stages: Vec<(i64, String)>,
    /// All users, each group (by name), users in no group, the anonymous visitor.
    pub rows: Vec<MatrixRow>,
}

/// One superuser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Privileged {
    /// The username.
    pub user: String,
    /// Whether the account may log in.
    pub active: bool,
    /// The account type (internal, external, service_account, internal_service_account).
    pub kind: String,
    /// The group path that makes it a superuser.
    pub via: String,
}

impl Privileged {
    /// A service account: no person behind it.
    pub fn service_account(&self) -> bool {
        self.kind.contains("service_account")
    }
}

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Inputs, version, defaults, time.
    pub provenance: Provenance,
    /// Counts, as label and value.
    pub summary: Vec<(String, String)>,
    /// Per application, who may open it.
    pub apps: Vec<AppAccess>,
    /// Per flow, the stage matrix by group.
    pub flows: Vec<FlowMatrix>,
    /// Superusers, directly or through group ancestry.
    pub privileged: Vec<Privileged>,
    /// Groups with `is_superuser`: name and effective members (descendant groups included).
    pub superuser_groups: Vec<(String, usize)>,
    /// Findings, or why there are none.
    pub findings: Findings,
}

/// Reads each file and returns its SHA-256 in hex; a file that cannot be read is an error.
fn digests(files: &[String]) -> Result<Vec<(String, String)>, String> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(f).map_err(|e| format!("cannot read `{f}` again: {e}"))?;
            let hash = Sha256::digest(&bytes);
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            Ok((f.clone(), hex))
        })
        .collect()
}

/// Rows of a relation keyed by their first `n` columns, the rest as value.
fn index(model: &Model, rel: &str, n: usize) -> BTreeMap<Vec<String>, Vec<String>> {
    model
        .rows(rel)
        .into_iter()
        .map(|mut r| {
            let rest = r.split_off(n.min(r.len()));
            (r, rest)
        })
        .collect()
}

/// Builds the report of a loaded snapshot, with the findings given and the time stamp to print.
pub fn build(loaded: &Loaded, findings: Findings, generated: String) -> Result<Report, String> {
    build_from(loaded, &all_users(&loaded.snapshot)?, findings, generated)
}

/// Builds the report from a model already evaluated for every user (the audit's, say, so that
/// the rules run once for findings and tables alike).
pub fn build_from(
    loaded: &Loaded,
    model: &Model,
    findings: Findings,
    generated: String,
) -> Result<Report, String> {
    let snapshot = &loaded.snapshot;
    let provenance = Provenance {
        files: digests(&loaded.report.files)?,
        version: snapshot
            .version
            .as_ref()
            .map_or("unknown".to_string(), |v| v.to_string()),
        defaults: loaded
            .report
            .defaults
            .iter()
            .map(|((e, f, v, w), n)| (e.clone(), f.clone(), v.clone(), w.clone(), *n))
            .collect(),
        warnings: loaded
            .report
            .warnings
            .iter()
            .map(|w| w.to_string())
            .collect(),
        generated,
        bindlog: env!("CARGO_PKG_VERSION").to_string(),
    };
    let timing = crate::analysis::bulk::timing;
    let start = std::time::Instant::now();
    let hierarchy = Hierarchy::new(snapshot);
    let apps = app_access(snapshot, model, &hierarchy);
    timing("report: application access", start);
    let start = std::time::Instant::now();
    let flows = flow_matrices(snapshot, model);
    timing("report: flow matrices", start);
    let start = std::time::Instant::now();
    let privileged = privileged(snapshot, model, &hierarchy);
    let superuser_groups = superuser_groups(snapshot, model);
    timing("report: privileged", start);
    let summary = summary(snapshot, &apps, &flows, &privileged, &findings);
    Ok(Report {
        provenance,
        summary,
        apps,
        flows,
        privileged,
        superuser_groups,
        findings,
    })
}

fn superuser_groups(snapshot: &Snapshot, model: &Model) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for r in model.rows("member") {
        if r[0] != "anon" {
            *counts.entry(r[1].clone()).or_default() += 1;
        }
    }
    let mut out: Vec<(String, usize)> = snapshot
        .groups
        .iter()
        .filter(|g| g.is_superuser)
        .map(|g| (g.name.to_string(), counts.get(&*g.pk).copied().unwrap_or(0)))
        .collect();
    out.sort();
    out
}

fn summary(
    snapshot: &Snapshot,
    apps: &[AppAccess],
    flows: &[FlowMatrix],
    privileged: &[Privileged],
    findings: &Findings,
) -> Vec<(String, String)> {
    let active = snapshot.users.iter().filter(|u| u.is_active).count();
    let service = snapshot
        .users
        .iter()
        .filter(|u| u.kind.contains("service_account"))
        .count();
    let mut access = Cell::default();
    let mut count = |v: &str| match v {
        "yes" => access.shown += 1,
        "no" => access.skipped += 1,
        _ => access.unknown += 1,
    };
    for a in apps {
        for r in &a.rows {
            count(&r.access);
        }
    }
    let mut stages = Cell::default();
    for f in flows {
        if let Some(all) = f.rows.first() {
            for c in &all.cells {
                stages.shown += c.shown;
                stages.skipped += c.skipped;
                stages.unknown += c.unknown;
            }
        }
    }
    let findings = match findings {
        Findings::NotComputed(_) => "not computed".to_string(),
        Findings::Computed(f) => f.len().to_string(),
    };
    vec![
        ("users".into(), snapshot.users.len().to_string()),
        ("active users".into(), active.to_string()),
        (
            "inactive users".into(),
            (snapshot.users.len() - active).to_string(),
        ),
        ("service accounts".into(), service.to_string()),
        ("groups".into(), snapshot.groups.len().to_string()),
        ("flows".into(), snapshot.flows.len().to_string()),
        (
            "flow-stage bindings".into(),
            snapshot.flow_bindings.len().to_string(),
        ),
        (
            "applications".into(),
            snapshot.applications.len().to_string(),
        ),
        ("superusers".into(), privileged.len().to_string()),
        (
            "user-application pairs: yes".into(),
            access.shown.to_string(),
        ),
        (
            "user-application pairs: no".into(),
            access.skipped.to_string(),
        ),
        (
            "user-application pairs: unknown".into(),
            access.unknown.to_string(),
        ),
        ("user-stage pairs: shown".into(), stages.shown.to_string()),
        (
            "user-stage pairs: skipped".into(),
            stages.skipped.to_string(),
        ),
        (
            "user-stage pairs: unknown".into(),
            stages.unknown.to_string(),
        ),
        ("findings".into(), findings),
    ]
}

/// Usernames and policy names by pk, indexed once for the many rows that name them.
struct Names<'a> {
    users: HashMap<i64, &'a str>,
    policies: HashMap<&'a str, &'a str>,
}

impl<'a> Names<'a> {
    fn new(snapshot: &'a Snapshot) -> Names<'a> {
        Names {
            users: snapshot
                .users
                .iter()
                .map(|u| (u.pk, &*u.username))
                .collect(),
            policies: snapshot
                .policies
                .iter()
                .map(|p| (&*p.pk, &*p.name))
                .collect(),
        }
    }
}

/// How one binding reads in a sentence about one user.
fn describe_binding(
    names: &Names,
    hierarchy: &Hierarchy,
    b: &crate::snapshot::PolicyBinding,
    user: &crate::snapshot::User,
) -> String {
    match (&b.subject, b.negate) {
        (Subject::Group(g), false) => hierarchy
            .path_text(&user.username, user.pk, g)
            .unwrap_or_else(|| format!("not a member of group {}", hierarchy.name(g))),
        (Subject::Group(g), true) => {
            format!("not in group {} (negated group binding)", hierarchy.name(g))
        }
        (Subject::User(u), negate) => {
            let name = names.users.get(u).map_or(u.to_string(), |n| n.to_string());
            if negate {
                format!("not user {name} (negated user binding)")
            } else {
                format!("user binding on {name}")
            }
        }
        (Subject::Policy(p), negate) => {
            let name = names.policies.get(&**p).copied().unwrap_or(p);
            if negate {
                format!("policy {name} (negated)")
            } else {
                format!("policy {name}")
            }
        }
    }
}

fn app_access(snapshot: &Snapshot, model: &Model, hierarchy: &Hierarchy) -> Vec<AppAccess> {
    let start = std::time::Instant::now();
    let decide: BTreeMap<(String, String), String> = model
        .rows("decide")
        .into_iter()
        .filter(|r| r[2] == "app")
        .map(|r| ((r[0].clone(), r[1].clone()), r[3].clone()))
        .collect();
    let val: BTreeMap<(String, String), String> = model
        .rows("val")
        .into_iter()
        .filter(|r| r[2] == "app")
        .map(|r| ((r[0].clone(), r[1].clone()), r[3].clone()))
        .collect();
    let names = Names::new(snapshot);
    let live: BTreeSet<String> = model
        .rows("live")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let mut open: BTreeMap<(String, String), BTreeSet<(String, String)>> = BTreeMap::new();
    for r in model.rows("open_binding") {
        if r[2] == "app" {
            open.entry((r[0].clone(), r[1].clone()))
                .or_default()
                .insert((r[3].clone(), r[4].clone()));
        }
    }
    crate::analysis::bulk::timing("report: access tables read", start);
    let mut users: Vec<&crate::snapshot::User> = snapshot.users.iter().collect();
    users.sort_by(|a, b| a.username.cmp(&b.username).then(a.pk.cmp(&b.pk)));
    let mut apps: Vec<&crate::snapshot::Application> = snapshot.applications.iter().collect();
    apps.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.pk.cmp(&b.pk)));
    let mut out = Vec::new();
    for app in apps {
        let mut bindings: Vec<&crate::snapshot::PolicyBinding> = snapshot
            .policy_bindings
            .iter()
            .filter(|b| b.target == app.pk && live.contains(&*b.pk))
            .collect();
        bindings.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
        let all_mode = app.policy_engine_mode.as_str() == "all";
        let mut rows = Vec::new();
        for user in &users {
            // The answers are per identity class: read them under the class's representative.
            let pk = model
                .representative_in(&app.pk, &user.pk.to_string())
                .to_string();
            let access = match decide
                .get(&(app.pk.to_string(), pk.clone()))
                .map(String::as_str)
            {
                Some("pass") => "yes",
                Some("fail") => "no",
                _ => "unknown",
            };
            let result = |b: &&crate::snapshot::PolicyBinding| {
                val.get(&(b.pk.to_string(), pk.clone()))
                    .map_or("unknown", String::as_str)
                    .to_string()
            };
            let say =
                |b: &crate::snapshot::PolicyBinding| describe_binding(&names, hierarchy, b, user);
            let because = if bindings.is_empty() {
                if access == "yes" {
                    "no binding in force: open to every user".to_string()
                } else {
                    "no binding in force: closed by core_default_app_access".to_string()
                }
            } else {
                match (access, all_mode) {
                    ("yes", false) => bindings
                        .iter()
                        .find(|b| result(b) == "pass")
                        .map(|b| say(b))
                        .unwrap_or_default(),
                    ("yes", true) => bindings
                        .iter()
                        .map(|b| say(b))
                        .collect::<Vec<_>>()
                        .join(" and "),
                    ("no", false) => "no binding passes".to_string(),
                    ("no", true) => bindings
                        .iter()
                        .find(|b| result(b) == "fail")
                        .map(|b| format!("fails: {}", say(b)))
                        .unwrap_or_default(),
                    _ => String::new(),
                }
            };
            let reason = if access == "unknown" {
                open.get(&(app.pk.to_string(), pk.clone()))
                    .map(|set| {
                        set.iter()
                            .map(|(b, why)| {
                                let who = bindings
                                    .iter()
                                    .find(|x| &*x.pk == b)
                                    .map_or(b.clone(), |x| say(x));
                                format!("{who}: {why}")
                            })
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_else(|| "decided at run time".into())
            } else {
                String::new()
            };
            rows.push(AccessRow {
                user: user.username.to_string(),
                access: access.to_string(),
                because,
                reason,
            });
        }
        out.push(AppAccess {
            slug: app.slug.to_string(),
            name: app.name.to_string(),
            mode: app.policy_engine_mode.as_str().to_string(),
            bindings: bindings.len(),
            rows,
        });
    }
    out
}

fn flow_matrices(snapshot: &Snapshot, model: &Model) -> Vec<FlowMatrix> {
    let entries = index(model, "default_entry", 1);
    // (fsb, entry, subject) -> visibility
    let visible = index(model, "visible", 3);
    let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in model.rows("member") {
        if r[0] != "anon" {
            members
                .entry(r[1].clone())
                .or_default()
                .insert(r[0].clone());
        }
    }
    let users: BTreeSet<String> = snapshot.users.iter().map(|u| u.pk.to_string()).collect();
    let grouped: BTreeSet<String> = members.values().flatten().cloned().collect();
    let ungrouped: BTreeSet<String> = users.difference(&grouped).cloned().collect();
    let mut groups: Vec<&crate::snapshot::Group> = snapshot.groups.iter().collect();
    groups.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.pk.cmp(&b.pk)));
    let stage_names: BTreeMap<&str, &str> =
        snapshot.stages.iter().map(|s| (&*s.pk, &*s.name)).collect();
    let mut flows: Vec<&crate::snapshot::Flow> = snapshot.flows.iter().collect();
    flows.sort_by(|a, b| a.slug.cmp(&b.slug).then_with(|| a.pk.cmp(&b.pk)));
    let empty = BTreeSet::new();
    let mut out = Vec::new();
    for flow in flows {
        let entry = entries
            .get(&vec![flow.pk.to_string()])
            .and_then(|v| v.first().cloned())
            .unwrap_or_else(|| "authenticated".into());
        let mut fsbs: Vec<&crate::snapshot::FlowStageBinding> = snapshot
            .flow_bindings
            .iter()
            .filter(|x| x.target == flow.pk)
            .collect();
        fsbs.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
        let row = |label: String, group: Option<String>, who: &BTreeSet<String>, e: &str| {
            let cells = fsbs
                .iter()
                .map(|x| {
                    let mut c = Cell::default();
                    for s in who {
                        // Answers are per identity class: read them under its representative.
                        let rep = model.representative_in(&x.pk, s).to_string();
                        let key = vec![x.pk.to_string(), e.to_string(), rep];
                        c.add(visible.get(&key).map_or("unknown", |v| v[0].as_str()));
                    }
                    c
                })
                .collect();
            MatrixRow {
                label,
                group,
                entry: e.to_string(),
                members: who.len(),
                cells,
            }
        };
        let mut rows = vec![row("all users".into(), None, &users, &entry)];
        for g in &groups {
            let who = members.get(&*g.pk).unwrap_or(&empty);
            // Names may repeat (before 2025.12): the pk's first 8 characters tell them apart.
            let label = if groups.iter().filter(|x| x.name == g.name).count() > 1 {
                format!("{} ({})", g.name, g.pk.chars().take(8).collect::<String>())
            } else {
                g.name.to_string()
            };
            rows.push(row(label, Some(g.pk.to_string()), who, &entry));
        }
        rows.push(row("no group".into(), None, &ungrouped, &entry));
        let anon: BTreeSet<String> = ["anon".to_string()].into();
        rows.push(row("anonymous".into(), None, &anon, "anonymous"));
        out.push(FlowMatrix {
            slug: flow.slug.to_string(),
            designation: flow.designation.as_str().to_string(),
            entry,
            stages: fsbs
                .iter()
                .map(|x| {
                    let name = stage_names.get(&*x.stage).copied().unwrap_or(&x.stage);
                    (i64::from(x.order), name.to_string())
                })
                .collect(),
            rows,
        });
    }
    out
}

fn privileged(snapshot: &Snapshot, model: &Model, hierarchy: &Hierarchy) -> Vec<Privileged> {
    let superusers: BTreeSet<String> = model
        .rows("superuser")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let mut groups: Vec<&str> = snapshot
        .groups
        .iter()
        .filter(|g| g.is_superuser)
        .map(|g| &*g.pk)
        .collect();
    groups.sort_unstable();
    let mut out: Vec<Privileged> = snapshot
        .users
        .iter()
        .filter(|u| superusers.contains(&u.pk.to_string()))
        .map(|u| {
            // The shortest path to any superuser group; ties by group pk.
            let via = groups
                .iter()
                .filter_map(|g| hierarchy.path(u.pk, g).map(|p| (p.len(), *g)))
                .min()
                .and_then(|(_, g)| hierarchy.path_text(&u.username, u.pk, g))
                .unwrap_or_else(|| "superuser (no group path found)".into());
            Privileged {
                user: u.username.to_string(),
                active: u.is_active,
                kind: u.kind.to_string(),
                via,
            }
        })
        .collect();
    out.sort_by(|a, b| a.user.cmp(&b.user));
    out
}

/// HTML-escapes text for element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_820_400), "2026-11-27T23:00:00Z");
    }

    #[test]
    fn cell_text_is_the_value_when_uniform() {
        let c = Cell {
            shown: 3,
            ..Cell::default()
        };
        assert_eq!(c.text(), "shown");
        let c = Cell {
            shown: 3,
            unknown: 2,
            ..Cell::default()
        };
        assert_eq!(c.text(), "3 shown, 2 unknown");
        assert_eq!(Cell::default().text(), "-");
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape_html("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }
}
