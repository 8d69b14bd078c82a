//! What-if: who gains or loses which stage and which application between two snapshots, and
//! which findings appear or disappear (`bindlog diff`, docs/outputs.md).

use super::Model;
use crate::audit::{Finding, Severity};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Every user's view of one snapshot: stage visibility per flow (entered the default way) and
/// application access, held per identity class (the model's rows) and read per user.
pub struct AllUsers {
    model: Model,
    /// Every user: pk -> username.
    users: BTreeMap<String, String>,
    /// (flow slug, stage name) -> the stage bindings showing it, with the flow's entry.
    stages: BTreeMap<(String, String), Vec<(String, String)>>,
    /// Application slug -> pk.
    apps: BTreeMap<String, String>,
    /// Stage binding -> subject -> shown, skipped or unknown (entered the flow's default way).
    visible: HashMap<String, HashMap<String, String>>,
    /// Application -> subject -> yes, no or unknown.
    access: HashMap<String, HashMap<String, &'static str>>,
    /// (flow slug, stage name) of the MFA validation stages.
    pub mfa: BTreeSet<(String, String)>,
}

/// The relations a diff reads per identity class.
pub const RELATIONS: [&str; 2] = ["visible", "decide"];

fn rank(v: &str) -> u8 {
    match v {
        "shown" => 2,
        "unknown" => 1,
        _ => 0,
    }
}

/// Every user's stages and applications, read from an evaluated model (every subject) of
/// `snapshot`, kept per identity class.
pub fn all_users_of(model: Model, snapshot: &crate::snapshot::Snapshot) -> AllUsers {
    let flows: BTreeMap<String, String> = model.names("flow");
    let stage_rows: BTreeMap<String, (String, String)> = model
        .rows("stage")
        .into_iter()
        .map(|r| (r[0].clone(), (r[1].clone(), r[2].clone())))
        .collect();
    let entry: BTreeMap<String, String> = model.names("default_entry");
    let mut mfa = BTreeSet::new();
    let mut stages: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for r in model.rows("fsb") {
        let (Some(flow), Some((stage, kind))) = (flows.get(&r[1]), stage_rows.get(&r[2])) else {
            continue;
        };
        if kind.ends_with("authenticatorvalidatestage") {
            mfa.insert((flow.clone(), stage.clone()));
        }
        let e = entry
            .get(&r[1])
            .cloned()
            .unwrap_or_else(|| "authenticated".into());
        stages
            .entry((flow.clone(), stage.clone()))
            .or_default()
            .push((r[0].clone(), e));
    }
    let entry_of: HashMap<&str, &str> = stages
        .values()
        .flatten()
        .map(|(x, e)| (x.as_str(), e.as_str()))
        .collect();
    let mut visible: HashMap<String, HashMap<String, String>> = HashMap::new();
    for r in model.rows("visible") {
        if entry_of.get(r[0].as_str()) == Some(&r[1].as_str()) {
            visible
                .entry(r[0].clone())
                .or_default()
                .insert(r[2].clone(), r[3].clone());
        }
    }
    let mut access: HashMap<String, HashMap<String, &'static str>> = HashMap::new();
    for r in model.rows("decide").into_iter().filter(|r| r[2] == "app") {
        let v = match r[3].as_str() {
            "pass" => "yes",
            "fail" => "no",
            _ => "unknown",
        };
        access
            .entry(r[0].clone())
            .or_default()
            .insert(r[1].clone(), v);
    }
    let apps = model
        .rows("application")
        .into_iter()
        .map(|r| (r[1].clone(), r[0].clone()))
        .collect();
    let users = snapshot
        .users
        .iter()
        .map(|u| (u.pk.to_string(), u.username.to_string()))
        .collect();
    AllUsers {
        model,
        users,
        stages,
        apps,
        visible,
        access,
        mfa,
    }
}

impl AllUsers {
    /// Whose rows answer for `who` (an identity class, or a user alone) about `object`.
    fn subject<'a>(&'a self, object: &str, who: &'a Result<u32, String>) -> &'a str {
        match who {
            Ok(k) => self.model.representative_of(object, *k).unwrap_or(""),
            Err(pk) => pk,
        }
    }

    /// What `who` sees of a stage (its most visible binding), if anything.
    fn stage(&self, key: &(String, String), who: &Result<u32, String>) -> Option<&str> {
        let mut best: Option<&str> = None;
        for (x, _) in self.stages.get(key)? {
            if let Some(v) = self
                .visible
                .get(x)
                .and_then(|m| m.get(self.subject(x, who)))
                && best.is_none_or(|b| rank(v) > rank(b))
            {
                best = Some(v);
            }
        }
        best
    }

    /// The access of `who` to an application, if known.
    fn app(&self, slug: &str, who: &Result<u32, String>) -> Option<&'static str> {
        let a = self.apps.get(slug)?;
        self.access.get(a)?.get(self.subject(a, who)).copied()
    }

    /// What tells users apart in this model: their identity class (each user alone in a model
    /// of every user one by one); `None` for a user the snapshot does not have.
    fn class(&self, pk: &str) -> Option<Result<u32, String>> {
        self.users.get(pk)?;
        Some(self.model.class_of(pk).ok_or_else(|| pk.to_string()))
    }
}

/// One user's stage that changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct StageChange {
    /// Username.
    pub user: String,
    /// Flow slug.
    pub flow: String,
    /// Stage name.
    pub stage: String,
    /// Visibility in the old snapshot (`skipped` when absent there).
    pub before: String,
    /// Visibility in the new snapshot (`skipped` when absent there).
    pub after: String,
}

/// One user's application access that changed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct AccessChange {
    /// Username.
    pub user: String,
    /// Application slug.
    pub app: String,
    /// Access in the old snapshot (`no` when absent there).
    pub before: String,
    /// Access in the new snapshot (`no` when absent there).
    pub after: String,
}

/// The difference between two snapshots.
#[derive(Clone, Debug, Default)]
pub struct Diff {
    /// Changed stages, sorted.
    pub stages: Vec<StageChange>,
    /// Changed access, sorted.
    pub access: Vec<AccessChange>,
    /// Findings only the new snapshot has (by rule, severity and first object).
    pub new_findings: Vec<Finding>,
    /// Findings only the old snapshot has.
    pub gone_findings: Vec<Finding>,
    /// (flow slug, stage name) of MFA validation stages on either side.
    pub mfa: BTreeSet<(String, String)>,
}

/// Compares two views and two sets of findings.
pub fn compare(old: &AllUsers, new: &AllUsers, old_f: &[Finding], new_f: &[Finding]) -> Diff {
    let mut d = Diff {
        mfa: old.mfa.union(&new.mfa).cloned().collect(),
        ..Diff::default()
    };
    // Users who share an identity class on each side get the same answers: compare once per
    // pair of classes, then name every user of the pair.
    type Side = Option<Result<u32, String>>;
    let mut groups: BTreeMap<(Side, Side), Vec<(&str, &str)>> = BTreeMap::new();
    let pks: BTreeSet<&String> = old.users.keys().chain(new.users.keys()).collect();
    for pk in pks {
        let Some(name) = new.users.get(pk).or_else(|| old.users.get(pk)) else {
            continue;
        };
        groups
            .entry((old.class(pk), new.class(pk)))
            .or_default()
            .push((pk.as_str(), name.as_str()));
    }
    let keys: BTreeSet<&(String, String)> = old.stages.keys().chain(new.stages.keys()).collect();
    for k in keys {
        for ((o, n), members) in &groups {
            let before = o
                .as_ref()
                .and_then(|w| old.stage(k, w))
                .unwrap_or("skipped");
            let after = n
                .as_ref()
                .and_then(|w| new.stage(k, w))
                .unwrap_or("skipped");
            if before != after {
                for (_, user) in members {
                    d.stages.push(StageChange {
                        user: user.to_string(),
                        flow: k.0.clone(),
                        stage: k.1.clone(),
                        before: before.into(),
                        after: after.into(),
                    });
                }
            }
        }
    }
    d.stages.sort();
    let apps: BTreeSet<&String> = old.apps.keys().chain(new.apps.keys()).collect();
    for app in apps {
        for ((o, n), members) in &groups {
            let before = o.as_ref().and_then(|w| old.app(app, w)).unwrap_or("no");
            let after = n.as_ref().and_then(|w| new.app(app, w)).unwrap_or("no");
            if before != after {
                for (_, user) in members {
                    d.access.push(AccessChange {
                        user: user.to_string(),
                        app: app.clone(),
                        before: before.into(),
                        after: after.into(),
                    });
                }
            }
        }
    }
    d.access.sort();
    // A finding that changes severity disappears at the old one and appears at the new one.
    let key = |f: &Finding| {
        let o = f.objects.first();
        (
            f.rule.clone(),
            f.severity,
            o.map(|o| o.kind.clone()).unwrap_or_default(),
            o.map(|o| o.pk.clone()).unwrap_or_default(),
        )
    };
    let old_keys: BTreeSet<_> = old_f.iter().map(key).collect();
    let new_keys: BTreeSet<_> = new_f.iter().map(key).collect();
    d.new_findings = new_f
        .iter()
        .filter(|f| !old_keys.contains(&key(f)))
        .cloned()
        .collect();
    d.gone_findings = old_f
        .iter()
        .filter(|f| !new_keys.contains(&key(f)))
        .cloned()
        .collect();
    d
}

/// A CI gate of `bindlog diff --fail-on`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Some user no longer certainly sees an MFA validation stage they saw.
    LostMfa,
    /// Some user may now open an application they could not.
    GainedAccess,
    /// Some user can no longer open an application they could.
    LostAccess,
    /// A finding of this severity or above appears.
    NewFinding(Severity),
    /// Anything changed for anyone.
    AnyChange,
}

impl Gate {
    /// Parses `lost-mfa`, `gained-access`, `lost-access`, `new-finding=SEVERITY`, `any-change`.
    pub fn parse(s: &str) -> Result<Gate, String> {
        let expected = "expected lost-mfa, gained-access, lost-access, new-finding=SEVERITY (info, low, medium, high, critical) or any-change";
        Ok(match s {
            "lost-mfa" => Gate::LostMfa,
            "gained-access" => Gate::GainedAccess,
            "lost-access" => Gate::LostAccess,
            "any-change" => Gate::AnyChange,
            _ => match s.strip_prefix("new-finding=") {
                Some(level) => Gate::NewFinding(
                    Severity::parse(level)
                        .ok_or_else(|| format!("unknown severity `{level}`; {expected}"))?,
                ),
                None if s == "new-finding" => Gate::NewFinding(Severity::Info),
                None => return Err(format!("unknown gate `{s}`; {expected}")),
            },
        })
    }

    /// Why this gate trips on a diff, if it does.
    pub fn trips(&self, d: &Diff) -> Option<String> {
        let users = |v: Vec<&String>| v.into_iter().collect::<BTreeSet<_>>().len();
        match self {
            Gate::LostMfa => {
                let lost: Vec<&StageChange> = d
                    .stages
                    .iter()
                    .filter(|c| {
                        c.before == "shown"
                            && c.after != "shown"
                            && d.mfa.contains(&(c.flow.clone(), c.stage.clone()))
                    })
                    .collect();
                (!lost.is_empty()).then(|| {
                    format!(
                        "lost-mfa: {} users no longer certainly see an MFA stage",
                        users(lost.iter().map(|c| &c.user).collect())
                    )
                })
            }
            Gate::GainedAccess => {
                let g: Vec<&String> = d
                    .access
                    .iter()
                    .filter(|c| c.after == "yes" || (c.before == "no" && c.after == "unknown"))
                    .map(|c| &c.user)
                    .collect();
                (!g.is_empty()).then(|| {
                    format!(
                        "gained-access: {} users may open an application they could not",
                        users(g)
                    )
                })
            }
            Gate::LostAccess => {
                let l: Vec<&String> = d
                    .access
                    .iter()
                    .filter(|c| c.before == "yes")
                    .map(|c| &c.user)
                    .collect();
                (!l.is_empty()).then(|| {
                    format!(
                        "lost-access: {} users can no longer certainly open an application",
                        users(l)
                    )
                })
            }
            Gate::NewFinding(level) => {
                let n = d
                    .new_findings
                    .iter()
                    .filter(|f| f.severity >= *level)
                    .count();
                (n > 0).then(|| {
                    format!(
                        "new-finding={}: {n} new findings at or above {}",
                        level.as_str(),
                        level.as_str()
                    )
                })
            }
            Gate::AnyChange => (!d.stages.is_empty() || !d.access.is_empty())
                .then(|| "any-change: some user's stages or access changed".to_string()),
        }
    }
}

impl Diff {
    /// The JSON form of docs/outputs.md (plus the findings that appear and disappear).
    pub fn to_json(&self) -> Value {
        json!({
            "stages": self.stages,
            "access": self.access,
            "findings": {
                "new": self.new_findings,
                "gone": self.gone_findings,
            },
        })
    }

    /// Changes grouped for people ("142 users no longer see ...").
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let mut stage_groups: BTreeMap<(&str, &str, &str, &str), Vec<&str>> = BTreeMap::new();
        for c in &self.stages {
            stage_groups
                .entry((&c.flow, &c.stage, &c.before, &c.after))
                .or_default()
                .push(&c.user);
        }
        let mut access_groups: BTreeMap<(&str, &str, &str), Vec<&str>> = BTreeMap::new();
        for c in &self.access {
            access_groups
                .entry((&c.app, &c.before, &c.after))
                .or_default()
                .push(&c.user);
        }
        if stage_groups.is_empty() && access_groups.is_empty() {
            out.push_str("no user's stages or access change\n");
        }
        let who = |users: &[&str]| {
            let n = users.len();
            let noun = if n == 1 { "user" } else { "users" };
            let shown: Vec<&str> = users.iter().take(5).copied().collect();
            let more = if n > 5 {
                format!(", and {} more", n - 5)
            } else {
                String::new()
            };
            (format!("{n} {noun}"), format!("{}{more}", shown.join(", ")))
        };
        for ((flow, stage, before, after), users) in &stage_groups {
            let (count, names) = who(users);
            let s = if users.len() == 1 { "s" } else { "" };
            let verb = match (*before, *after) {
                ("shown", "skipped") => format!("no longer see{s}"),
                ("skipped", "shown") => format!("now see{s}"),
                (b, a) => format!(
                    "go{} from {b} to {a} on",
                    if s.is_empty() { "" } else { "es" }
                ),
            };
            let _ = writeln!(out, "{count} {verb} {stage} (flow {flow}): {names}");
        }
        for ((app, before, after), users) in &access_groups {
            let (count, names) = who(users);
            let s = if users.len() == 1 { "s" } else { "" };
            let verb = match (*before, *after) {
                ("yes", "no") => format!("lose{s} access to"),
                ("no", "yes") => format!("gain{s} access to"),
                (b, a) => format!(
                    "go{} from {b} to {a} on access to",
                    if s.is_empty() { "" } else { "es" }
                ),
            };
            let _ = writeln!(out, "{count} {verb} application {app}: {names}");
        }
        for (label, list) in [("new", &self.new_findings), ("gone", &self.gone_findings)] {
            for f in list {
                let _ = writeln!(
                    out,
                    "{label} finding {} ({}): {}",
                    f.rule,
                    f.severity.as_str(),
                    f.message
                );
            }
        }
        out
    }
}
