//! What-if: who gains or loses which stage and which application between two snapshots, and
//! which findings appear or disappear (`bindlog diff`, docs/outputs.md).

use super::Model;
use super::views::{self, Application, Decide, Fsb, Stage, Tri, View, Visible};
use crate::audit::{Finding, Severity};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Every user's view of one snapshot: stage visibility per flow (entered the default way) and
/// application access, one answer per identity class, read per user through its class.
pub struct AllUsers<'s> {
    /// Every user as (pk, username, identity class), sorted by pk.
    users: Vec<(i64, &'s str, u32)>,
    /// (flow slug, stage name) -> per identity class, what its users see there: the most
    /// visible of the stage's bindings ([`SKIPPED`] where none shows it).
    stages: BTreeMap<(String, String), Vec<u8>>,
    /// Application slug -> per identity class, its users' access ([`NO`] where none is known).
    apps: BTreeMap<String, Vec<u8>>,
    /// (flow slug, stage name) of the MFA validation stages.
    pub mfa: BTreeSet<(String, String)>,
}

/// The relations a diff reads per identity class.
pub const RELATIONS: [&str; 2] = ["visible", "decide"];

// Answers are stored by openness ([`Tri::openness`]), so that the most visible of a stage's
// bindings is their maximum.
/// A stage neither shown nor left to run time (or absent).
const SKIPPED: u8 = Tri::No.openness();
/// No access (or none known).
const NO: u8 = Tri::No.openness();

/// Per identity class, the answer of the class that answers for it where an object is
/// concerned, from `answer` (subject pk -> answer). Classes with the same answering class are
/// looked up once.
fn per_class(
    model: &Model,
    snapshot: &crate::snapshot::Snapshot,
    answering: &[u32],
    answer: impl Fn(&str) -> Option<u8>,
) -> Vec<Option<u8>> {
    // Answers are small numbers: NOT_YET marks a class not looked up, NONE one without answer.
    const NOT_YET: u8 = u8::MAX;
    const NONE: u8 = u8::MAX - 1;
    let mut seen = vec![NOT_YET; answering.len()];
    answering
        .iter()
        .map(|&a| {
            let slot = &mut seen[a as usize];
            if *slot == NOT_YET {
                *slot = answer(&model.class_pk(snapshot, a)).unwrap_or(NONE);
            }
            (*slot != NONE).then_some(*slot)
        })
        .collect()
}

/// [`Model::answering_in`] for one object after another, computed once per scope (objects
/// of one flow or application share it).
struct Answering<'m> {
    model: &'m Model,
    snapshot: &'m crate::snapshot::Snapshot,
    last: Option<(Option<usize>, Vec<u32>)>,
}

impl Answering<'_> {
    fn of(&mut self, object: &str) -> &[u32] {
        let scope = self.model.scope_of(object);
        let fresh = !matches!(&self.last, Some((s, _)) if scope.is_some() && *s == scope);
        if fresh {
            self.last = Some((scope, self.model.answering_in(self.snapshot, object)));
        }
        self.last.as_ref().map_or(&[], |(_, a)| a)
    }
}

/// Every user's stages and applications, read from an evaluated model (every subject) of
/// `snapshot`, kept per identity class.
pub fn all_users_of(model: Model, snapshot: &crate::snapshot::Snapshot) -> AllUsers<'_> {
    let start = std::time::Instant::now();
    let flows: BTreeMap<String, String> = model.names("flow", "slug");
    let stage_rows: BTreeMap<String, (String, String)> = model
        .view::<Stage>()
        .into_iter()
        .map(|r| (r.pk, (r.name, r.kind)))
        .collect();
    let entry: BTreeMap<String, String> = model.names("default_entry", "e");
    let mut mfa = BTreeSet::new();
    // (flow slug, stage name) -> the stage bindings showing it, with the flow's entry.
    let mut keys: BTreeMap<(String, String), Vec<(String, String)>> = BTreeMap::new();
    for r in model.view::<Fsb>() {
        let (Some(flow), Some((stage, kind))) = (flows.get(&r.flow), stage_rows.get(&r.stage))
        else {
            continue;
        };
        if kind.ends_with("authenticatorvalidatestage") {
            mfa.insert((flow.clone(), stage.clone()));
        }
        let e = entry
            .get(&r.flow)
            .cloned()
            .unwrap_or_else(|| "authenticated".into());
        keys.entry((flow.clone(), stage.clone()))
            .or_default()
            .push((r.binding, e));
    }
    let entry_of: HashMap<&str, &str> = keys
        .values()
        .flatten()
        .map(|(x, e)| (x.as_str(), e.as_str()))
        .collect();
    // Stage binding -> subject -> visibility (entered the flow's default way).
    let mut visible: HashMap<String, HashMap<String, u8>> = HashMap::new();
    for r in model.view::<Visible>() {
        if entry_of.get(r.binding.as_str()) == Some(&r.entry.as_str()) {
            visible
                .entry(r.binding)
                .or_default()
                .insert(r.subject, Tri::read(&r.value).openness());
        }
    }
    super::bulk::timing("diff: visible read", start);
    let classes = model.user_classes(snapshot);
    let n = classes.iter().max().map_or(0, |k| *k as usize + 1);
    let mut answering = Answering {
        model: &model,
        snapshot,
        last: None,
    };
    let mut stages = BTreeMap::new();
    for (key, bindings) in keys {
        let mut best = vec![SKIPPED; n];
        for (x, _) in &bindings {
            let Some(of) = visible.get(x) else { continue };
            let a = answering.of(x);
            for (b, v) in best
                .iter_mut()
                .zip(per_class(&model, snapshot, a, |s| of.get(s).copied()))
            {
                *b = (*b).max(v.unwrap_or(SKIPPED));
            }
        }
        stages.insert(key, best);
    }
    super::bulk::timing("diff: stages per class", start);
    // Application -> subject -> access.
    let mut access: HashMap<String, HashMap<String, u8>> = HashMap::new();
    let [context] = views::columns::<Decide, 1>(["context"]);
    for r in model.rows_matching("decide", context, "app") {
        let r = Decide::from_row(r);
        access
            .entry(r.target)
            .or_default()
            .insert(r.identity, Tri::read(&r.value).openness());
    }
    let mut apps = BTreeMap::new();
    for r in model.view::<Application>() {
        let of = access.remove(&r.app).unwrap_or_default();
        let a = answering.of(&r.app);
        let answers = per_class(&model, snapshot, a, |s| of.get(s).copied());
        apps.insert(
            r.slug,
            answers.into_iter().map(|v| v.unwrap_or(NO)).collect(),
        );
    }
    drop(answering);
    super::bulk::timing("diff: applications per class", start);
    let mut users: Vec<(i64, &str, u32)> = snapshot
        .users
        .iter()
        .zip(&classes)
        .map(|(u, k)| (u.pk, &*u.username, *k))
        .collect();
    users.sort_unstable_by_key(|u| u.0);
    AllUsers {
        users,
        stages,
        apps,
        mfa,
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
    // pair of classes (none where the user is missing on that side), then name every user of
    // the pair.
    type Pair = (Option<u32>, Option<u32>);
    let mut pairs: HashMap<Pair, Vec<&str>> = HashMap::new();
    // Both sides are sorted by pk: one merge pairs each user's classes.
    let (mut o, mut n) = (old.users.iter().peekable(), new.users.iter().peekable());
    loop {
        let (pair, name) = match (o.peek(), n.peek()) {
            (None, None) => break,
            (Some(a), Some(b)) if a.0 == b.0 => {
                let name = b.1;
                let pair = (Some(a.2), Some(b.2));
                o.next();
                n.next();
                (pair, name)
            }
            (Some(a), b) if b.is_none_or(|b| a.0 < b.0) => {
                let (name, k) = (a.1, a.2);
                o.next();
                ((Some(k), None), name)
            }
            (_, Some(b)) => {
                let (name, k) = (b.1, b.2);
                n.next();
                ((None, Some(k)), name)
            }
            (Some(_), None) => unreachable!("matched by the arm before"),
        };
        pairs.entry(pair).or_default().push(name);
    }
    let mut pairs: Vec<(Pair, Vec<&str>)> = pairs.into_iter().collect();
    pairs.sort_unstable_by_key(|(k, _)| *k);
    // What a side's class holds for a key: the default where the key or the user is missing.
    fn at(answers: Option<&Vec<u8>>, k: Option<u32>, default: u8) -> u8 {
        match (answers, k) {
            (Some(a), Some(k)) => a.get(k as usize).copied().unwrap_or(default),
            _ => default,
        }
    }
    // The pairs whose answers differ between two sides' per-class answers, with both answers.
    let changed = |before: Option<&Vec<u8>>, after: Option<&Vec<u8>>, default: u8| {
        pairs
            .iter()
            .filter_map(|((o, n), members)| {
                let (b, a) = (at(before, *o, default), at(after, *n, default));
                (b != a).then_some((members, b, a))
            })
            .collect::<Vec<_>>()
    };
    let keys: BTreeSet<&(String, String)> = old.stages.keys().chain(new.stages.keys()).collect();
    for key in keys {
        for (members, b, a) in changed(old.stages.get(key), new.stages.get(key), SKIPPED) {
            d.stages.extend(members.iter().map(|user| StageChange {
                user: user.to_string(),
                flow: key.0.clone(),
                stage: key.1.clone(),
                before: Tri::from_openness(b).visibility().into(),
                after: Tri::from_openness(a).visibility().into(),
            }));
        }
    }
    d.stages.sort();
    let apps: BTreeSet<&String> = old.apps.keys().chain(new.apps.keys()).collect();
    for app in apps {
        for (members, b, a) in changed(old.apps.get(app), new.apps.get(app), NO) {
            d.access.extend(members.iter().map(|user| AccessChange {
                user: user.to_string(),
                app: app.clone(),
                before: Tri::from_openness(b).yes_no().into(),
                after: Tri::from_openness(a).yes_no().into(),
            }));
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
