//! Every user's answers about the other binding targets, counted: who may log in on each device,
//! who is offered each source, whom each RAC endpoint's own bindings let in, who is told of each
//! event action, and per application the login flow and how many users meet MFA in it.
//!
//! The counts come from `rules/authentik/coverage.dl`, evaluated over identity classes by
//! [`Model::everyone`]; [`Coverage::read`] reads them from any model that has them, so the
//! per-user reference ([`Model::with_rules`] over every user) reads the same way.
//!
//! Opening a RAC endpoint in full and binding to an LDAP or RADIUS provider join a user's
//! answers from several flows and applications, which the evaluation by scope keeps apart. The
//! rules decide each part within one object (`endpoint_part_in`, `bind_part_in`, with the
//! object's identity classes); [`journeys`] gives `journeys.dl` each identity class's parts,
//! those of the classes that stand for it in each object, and reads its answer.

use super::views::{
    ActionNotifies, AppLoginFlow, Application, Device, EventAction, FlowHasMfa, JourneyAnswer,
    LoginMfaUsers, OutpostProvider, PartAll, PartIn, RacEndpoint, RuleRecipients,
    RuleTellsEventUser, Source, UsersCount, view_of,
};
use super::{COVERAGE, JOURNEYS, Model, RULES};
use crate::datalog::eval::Limits;
use crate::datalog::ir::Ty;
use crate::datalog::{Engine, FactValue, Inputs, Rules};
use crate::snapshot::Snapshot;
use rustc_hash::FxHashMap;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::fmt::Write as _;

/// How many users get each answer about one target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetCount {
    /// The object's pk.
    pub pk: String,
    /// Its name (a source's slug).
    pub name: String,
    /// Users answered yes (pass), no (fail) and unknown.
    pub counts: [u64; 3],
}

/// One notification rule that may fire for an event action and tells someone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notifier {
    /// The rule's name.
    pub rule: String,
    /// How many users its destination group tells (direct members).
    pub recipients: u64,
    /// Whether it tells the event's user too.
    pub event_user: bool,
}

/// The login path of one application for a visitor without a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginPath {
    /// The application's slug.
    pub app: String,
    /// The authentication flow's slug; `None`: authentik answers 404.
    pub flow: Option<String>,
    /// What picked it: `provider`, `brand` or `slug`.
    pub via: String,
    /// Whether the flow has an MFA validation stage.
    pub has_mfa: bool,
    /// Users who certainly meet MFA in it, who may (run time), and who do not.
    pub mfa: [u64; 3],
}

/// The every-user answers about the other binding targets.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Coverage {
    /// Users counted.
    pub users: u64,
    /// Per device, by name: who may log in (yes, no, unknown).
    pub devices: Vec<TargetCount>,
    /// Per source, by slug: who is offered it to connect (yes, no, unknown).
    pub sources: Vec<TargetCount>,
    /// Per RAC endpoint, by name: whom its own bindings let in (pass, fail, unknown).
    pub endpoints: Vec<TargetCount>,
    /// Per RAC endpoint, by name: who may open it in full, through its provider's application
    /// (the application's access, the authorization flow, its own bindings: yes, no, unknown).
    pub endpoint_access: Vec<TargetCount>,
    /// Per LDAP or RADIUS provider, by name: who can bind (yes, no, unknown).
    pub binds: Vec<TargetCount>,
    /// Per event action authentik emits, the rules that may notify someone of it.
    pub actions: Vec<(String, Vec<Notifier>)>,
    /// Per application, by slug.
    pub logins: Vec<LoginPath>,
}

impl Coverage {
    /// Evaluates the coverage rules for every user by identity class.
    pub fn of(snapshot: &Snapshot) -> Result<Coverage, String> {
        let model = Model::everyone(snapshot, &[COVERAGE], &[])?;
        Coverage::read(&model, snapshot)
    }

    /// Whether the snapshot has any of these targets (nothing to show otherwise).
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
            && self.sources.is_empty()
            && self.endpoints.is_empty()
            && self.binds.is_empty()
            && self.actions.iter().all(|(_, r)| r.is_empty())
            && self.logins.iter().all(|l| l.flow.is_none())
    }

    /// Reads the counts from a model of every user with `rules/authentik/coverage.dl`.
    pub fn read(model: &Model, snapshot: &Snapshot) -> Result<Coverage, String> {
        let users = snapshot.users.len() as u64;
        // Objects as (pk, name), and how many users get each of `words` from each.
        let counted = |objects: Vec<(String, String)>, rel: &str, words: [&str; 3]| {
            let mut n: BTreeMap<String, [u64; 3]> = BTreeMap::new();
            for r in model.view_in::<UsersCount>(rel) {
                if let Some(i) = words.iter().position(|w| *w == r.value) {
                    n.entry(r.object).or_default()[i] += r.count.parse::<u64>().unwrap_or(0);
                }
            }
            let mut out: Vec<TargetCount> = objects
                .into_iter()
                .map(|(pk, name)| TargetCount {
                    counts: n.get(&pk).copied().unwrap_or_default(),
                    name,
                    pk,
                })
                .collect();
            out.sort_by(|a, b| (&a.name, &a.pk).cmp(&(&b.name, &b.pk)));
            out
        };
        let tri = ["yes", "no", "unknown"];
        let rules = model.names("notification_rule", "name");
        let recipients: BTreeMap<String, u64> = model
            .view::<RuleRecipients>()
            .into_iter()
            .map(|r| (r.rule, r.count.parse().unwrap_or(0)))
            .collect();
        let tells: std::collections::BTreeSet<String> = model
            .view::<RuleTellsEventUser>()
            .into_iter()
            .map(|r| r.rule)
            .collect();
        let mut actions: BTreeMap<String, Vec<Notifier>> = model
            .view::<EventAction>()
            .into_iter()
            .map(|r| (r.action, Vec::new()))
            .collect();
        for r in model.view::<ActionNotifies>() {
            actions.entry(r.action).or_default().push(Notifier {
                rule: rules
                    .get(&r.rule)
                    .cloned()
                    .unwrap_or_else(|| r.rule.clone()),
                recipients: recipients.get(&r.rule).copied().unwrap_or(0),
                event_user: tells.contains(&r.rule),
            });
        }
        for list in actions.values_mut() {
            list.sort_by(|a, b| a.rule.cmp(&b.rule));
        }
        let flows: BTreeMap<String, String> = model.names("flow", "slug");
        let with_mfa: std::collections::BTreeSet<String> = model
            .view::<FlowHasMfa>()
            .into_iter()
            .map(|r| r.flow)
            .collect();
        let login_flow: BTreeMap<String, (String, String)> = model
            .view::<AppLoginFlow>()
            .into_iter()
            .map(|r| (r.app, (r.flow, r.via)))
            .collect();
        let mut mfa: BTreeMap<String, [u64; 2]> = BTreeMap::new();
        for r in model.view::<LoginMfaUsers>() {
            let i = usize::from(r.value != "shown");
            mfa.entry(r.app).or_default()[i] += r.count.parse::<u64>().unwrap_or(0);
        }
        let mut logins: Vec<LoginPath> = model
            .view::<Application>()
            .into_iter()
            .map(|r| {
                let (flow, via) = match login_flow.get(&r.app) {
                    Some((f, via)) => (Some(f.clone()), via.clone()),
                    None => (None, String::new()),
                };
                let has_mfa = flow.as_ref().is_some_and(|f| with_mfa.contains(f));
                let [shown, unknown] = mfa.get(&r.app).copied().unwrap_or_default();
                LoginPath {
                    app: r.slug,
                    flow: flow.map(|f| flows.get(&f).cloned().unwrap_or(f)),
                    via,
                    has_mfa,
                    mfa: [
                        shown,
                        unknown,
                        if has_mfa {
                            users.saturating_sub(shown + unknown)
                        } else {
                            0
                        },
                    ],
                }
            })
            .collect();
        logins.sort_by(|a, b| a.app.cmp(&b.app));
        let outpost: std::collections::BTreeSet<String> = model
            .view::<OutpostProvider>()
            .into_iter()
            .map(|r| r.provider)
            .collect();
        let devices = model.view::<Device>().into_iter();
        let sources = model.view::<Source>().into_iter();
        let endpoints = model.view::<RacEndpoint>().into_iter();
        Ok(Coverage {
            users,
            devices: counted(
                devices.map(|d| (d.pk, d.name)).collect(),
                "device_users",
                tri,
            ),
            sources: counted(
                sources.map(|s| (s.pk, s.slug)).collect(),
                "source_users",
                tri,
            ),
            endpoints: counted(
                endpoints.map(|e| (e.pk, e.name)).collect(),
                "endpoint_users",
                ["pass", "fail", "unknown"],
            ),
            endpoint_access: journey_counts(
                model,
                snapshot,
                Journey::Endpoint,
                &model.names("rac_endpoint", "name"),
            )?,
            binds: journey_counts(
                model,
                snapshot,
                Journey::Bind,
                &model
                    .names("provider", "name")
                    .into_iter()
                    .filter(|(pk, _)| outpost.contains(pk))
                    .collect(),
            )?,
            actions: actions.into_iter().collect(),
            logins,
        })
    }

    /// The JSON form (docs/outputs.md, "analyze --format targets").
    pub fn to_json(&self) -> Json {
        let counts = |list: &[TargetCount], words: [&str; 3]| -> Vec<Json> {
            list.iter()
                .map(|t| {
                    json!({"pk": t.pk, "name": t.name, words[0]: t.counts[0],
                           words[1]: t.counts[1], words[2]: t.counts[2]})
                })
                .collect()
        };
        json!({
            "users": self.users,
            "devices": counts(&self.devices, ["yes", "no", "unknown"]),
            "sources": counts(&self.sources, ["yes", "no", "unknown"]),
            "endpoints": counts(&self.endpoints, ["pass", "fail", "unknown"]),
            "endpoint_access": counts(&self.endpoint_access, ["yes", "no", "unknown"]),
            "binds": counts(&self.binds, ["yes", "no", "unknown"]),
            "notifications": self.actions.iter().map(|(a, rules)| json!({
                "action": a,
                "rules": rules.iter().map(|n| json!({
                    "rule": n.rule, "recipients": n.recipients, "event_user": n.event_user,
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "logins": self.logins.iter().map(|l| json!({
                "app": l.app,
                "flow": l.flow,
                "via": if l.flow.is_some() { Json::from(l.via.clone()) } else { Json::Null },
                "has_mfa": l.has_mfa,
                "mfa_shown": l.mfa[0],
                "mfa_unknown": l.mfa[1],
                "mfa_skipped": l.mfa[2],
            })).collect::<Vec<_>>(),
        })
    }

    /// The readable form, appended to `analyze`'s summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let table = |out: &mut String, title: &str, list: &[TargetCount], words: [&str; 3]| {
            if list.is_empty() {
                return;
            }
            let width = list.iter().map(|t| t.name.len()).max().unwrap_or(0).max(5);
            let _ = writeln!(
                out,
                "\n{title}:\n  {:<width$}  {:>9}  {:>9}  {:>9}",
                "name", words[0], words[1], words[2]
            );
            for t in list {
                let [a, b, c] = t.counts;
                let _ = writeln!(out, "  {:<width$}  {a:>9}  {b:>9}  {c:>9}", t.name);
            }
        };
        table(
            &mut out,
            "devices (who may log in)",
            &self.devices,
            ["yes", "no", "unknown"],
        );
        table(
            &mut out,
            "sources (who is offered to connect; never enforced)",
            &self.sources,
            ["yes", "no", "unknown"],
        );
        table(
            &mut out,
            "RAC endpoints (their own bindings; opening also needs the application)",
            &self.endpoints,
            ["pass", "fail", "unknown"],
        );
        table(
            &mut out,
            "RAC endpoints (who may open them: application, authorization flow and own bindings)",
            &self.endpoint_access,
            ["yes", "no", "unknown"],
        );
        table(
            &mut out,
            "LDAP/RADIUS providers (who can bind: bind flow and application)",
            &self.binds,
            ["yes", "no", "unknown"],
        );
        if self.actions.iter().any(|(_, r)| !r.is_empty()) {
            let _ = writeln!(
                out,
                "\nnotifications (per event action, the rules that tell someone):"
            );
            let nobody: Vec<&str> = self
                .actions
                .iter()
                .filter(|(_, r)| r.is_empty())
                .map(|(a, _)| a.as_str())
                .collect();
            for (action, rules) in self.actions.iter().filter(|(_, r)| !r.is_empty()) {
                let told: Vec<String> = rules
                    .iter()
                    .map(|n| {
                        let mut who = format!(
                            "{} user{}",
                            n.recipients,
                            if n.recipients == 1 { "" } else { "s" }
                        );
                        if n.event_user {
                            who.push_str(" and the event's user");
                        }
                        format!("{} ({who})", n.rule)
                    })
                    .collect();
                let _ = writeln!(out, "  {action}: {}", told.join(", "));
            }
            if !nobody.is_empty() {
                let _ = writeln!(out, "  nobody is told of: {}", nobody.join(", "));
            }
        }
        if self.logins.iter().any(|l| l.flow.is_some()) {
            let width = self
                .logins
                .iter()
                .map(|l| l.app.len())
                .max()
                .unwrap_or(0)
                .max(3);
            let fw = self
                .logins
                .iter()
                .filter_map(|l| l.flow.as_ref().map(String::len))
                .max()
                .unwrap_or(0)
                .max(10);
            let _ = writeln!(
                out,
                "\nlogin paths (a visitor without a session; MFA met in the login flow):\n  {:<width$}  {:<fw$}  {:<8}  {:>9}  {:>9}  {:>9}",
                "app", "login flow", "via", "MFA shown", "unknown", "skipped"
            );
            for l in &self.logins {
                let Some(flow) = l.flow.as_deref() else {
                    let _ = writeln!(out, "  {:<width$}  (none: authentik answers 404)", l.app);
                    continue;
                };
                if l.has_mfa {
                    let [a, b, c] = l.mfa;
                    let _ = writeln!(
                        out,
                        "  {:<width$}  {flow:<fw$}  {:<8}  {a:>9}  {b:>9}  {c:>9}",
                        l.app, l.via
                    );
                } else {
                    let _ = writeln!(
                        out,
                        "  {:<width$}  {flow:<fw$}  {:<8}  no MFA stage",
                        l.app, l.via
                    );
                }
            }
        }
        out
    }
}

/// A question joining a user's answers about several objects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Journey {
    /// Opening a RAC endpoint (`endpoint_part_in`, `endpoint_part_all`).
    Endpoint,
    /// Binding to an LDAP or RADIUS provider (`bind_part_in`, `bind_part_all`).
    Bind,
}

impl Journey {
    fn relations(self) -> (&'static str, &'static str) {
        match self {
            Journey::Endpoint => ("endpoint_part_in", "endpoint_part_all"),
            Journey::Bind => ("bind_part_in", "bind_part_all"),
        }
    }
}

/// A journey's answer for one identity class: yes, no, unknown.
pub const ANSWERS: [&str; 3] = ["yes", "no", "unknown"];

impl Journey {
    /// The relation of `journeys.dl` that says the answer, and the targets it answers for.
    fn answer(self) -> (&'static str, &'static str) {
        match self {
            Journey::Endpoint => ("endpoint_access", "rac_endpoint"),
            Journey::Bind => ("bind_access", "outpost_provider"),
        }
    }
}

/// The built-in rules with [`COVERAGE`] and [`JOURNEYS`], and which relations are given (all
/// but those `journeys.dl` declares): evaluated with [`Rules::evaluate_given`], only the
/// journeys' rules run.
fn journey_rules() -> Result<(Rules, Vec<bool>), String> {
    let texts: Vec<(&str, &str)> = RULES.iter().copied().chain([COVERAGE, JOURNEYS]).collect();
    let rules = Rules::from_texts(&texts).map_err(|f| f.render(100))?;
    let program = &rules.program;
    let file = program
        .relation("endpoint_access")
        .map(|r| program.relations[r].decl.file);
    let given = program
        .relations
        .iter()
        .map(|r| Some(r.decl.file) != file)
        .collect();
    Ok((rules, given))
}

/// Adds a row read from a model (as text) to relation `rel` of `inputs`.
fn add_row(rules: &Rules, inputs: &mut Inputs, rel: &str, row: &[&str]) -> Result<(), String> {
    let id = rules
        .program
        .relation(rel)
        .ok_or_else(|| format!("relation `{rel}` is not declared"))?;
    let values: Vec<FactValue> = row
        .iter()
        .zip(&rules.program.relations[id].types)
        .map(|(v, t)| match t {
            Ty::Symbol => Ok(FactValue::Sym(v)),
            Ty::Number | Ty::Unsigned => v
                .parse()
                .map(FactValue::Num)
                .map_err(|_| format!("relation `{rel}`: `{v}` is not a number")),
        })
        .collect::<Result<_, String>>()?;
    inputs.add_to(rules, id, &values)
}

/// For every target of `journey` in a model of every user with `rules/authentik/coverage.dl`,
/// each identity class's answer (an index into [`ANSWERS`]), as `journeys.dl` states it
/// (`endpoint_access`, `bind_access`).
///
/// A class's part in an object is the part of the class standing for it there (the object's
/// own identity classes). Classes that stand for one another in every object of a target share
/// a *combination*; `journeys.dl` is evaluated once more, over one subject per combination and
/// its parts, and each class reads the answer of its combination. Rust only gathers the parts
/// and counts.
pub fn journeys(
    model: &Model,
    snapshot: &Snapshot,
    journey: Journey,
) -> Result<HashMap<String, Vec<u8>>, String> {
    let (parts_in, parts_all) = journey.relations();
    let (answer, targets) = journey.answer();
    let n = model.identity_classes(snapshot).len();
    // In a model by class a row's user is the representative of a class; in the per-user
    // reference, the user.
    let user_index: HashMap<String, u32> = if model.by_class() {
        HashMap::new()
    } else {
        snapshot
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.pk.to_string(), i as u32))
            .collect()
    };
    // Per target and object, each local class's parts: (part, value).
    type Parts = FxHashMap<u32, Vec<(String, String)>>;
    let mut by_object: BTreeMap<String, BTreeMap<String, Parts>> = BTreeMap::new();
    for r in model.view_in::<PartIn>(parts_in) {
        let Some(k) = model
            .class_of(&r.user)
            .or_else(|| user_index.get(&r.user).copied())
        else {
            continue;
        };
        by_object
            .entry(r.target)
            .or_default()
            .entry(r.object)
            .or_default()
            .entry(k)
            .or_default()
            .push((r.part, r.value));
    }
    let all = model.view_in::<PartAll>(parts_all);
    for r in &all {
        by_object.entry(r.target.clone()).or_default();
    }
    let (rules, given) = journey_rules()?;
    let mut inputs = Inputs::new(&rules);
    let mut rows: Vec<[String; 5]> = Vec::new();
    for r in &all {
        add_row(
            &rules,
            &mut inputs,
            parts_all,
            &[&r.target, &r.part, &r.value],
        )?;
    }
    for r in model.rows(targets) {
        let row: Vec<&str> = r.iter().map(String::as_str).collect();
        add_row(&rules, &mut inputs, targets, &row)?;
    }
    // Per object, the class that answers for each identity class there.
    let mut answering: HashMap<&str, Vec<u32>> = HashMap::new();
    for objects in by_object.values() {
        for o in objects.keys() {
            if !answering.contains_key(o.as_str()) {
                answering.insert(o, model.answering_in(snapshot, o));
            }
        }
    }
    // Per target, each identity class's combination, named by its first class.
    let mut combination_of: Vec<(&str, Vec<u32>)> = Vec::new();
    let mut subjects: std::collections::BTreeSet<u32> = std::collections::BTreeSet::new();
    for (target, objects) in &by_object {
        let through: Vec<&[u32]> = objects.keys().map(|o| &answering[o.as_str()][..]).collect();
        let mut first: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut of = Vec::with_capacity(n);
        for k in 0..n {
            let key: Vec<u32> = through.iter().map(|t| t[k]).collect();
            let c = match first.get(&key) {
                Some(c) => *c,
                None => {
                    let c = k as u32;
                    let subject = format!("class {c}");
                    for ((object, parts), local) in objects.iter().zip(&key) {
                        for (part, v) in parts.get(local).into_iter().flatten() {
                            let row = [target.as_str(), object, part, &subject, v];
                            rows.push(row.map(str::to_string));
                        }
                    }
                    first.insert(key, c);
                    c
                }
            };
            subjects.insert(c);
            of.push(c);
        }
        combination_of.push((target, of));
    }
    for row in &rows {
        let row: Vec<&str> = row.iter().map(String::as_str).collect();
        add_row(&rules, &mut inputs, parts_in, &row)?;
    }
    for c in &subjects {
        add_row(&rules, &mut inputs, "known", &[&format!("class {c}")])?;
    }
    let eval = rules
        .evaluate_given(
            &inputs,
            Engine::Fast { parallel: false },
            Limits::default(),
            Some(&given),
        )
        .map_err(|e| e.to_string())?;
    let mut answers: HashMap<(String, String), u8> = HashMap::new();
    for r in view_of::<JourneyAnswer>(&eval, &rules, answer) {
        if let Some(i) = ANSWERS.iter().position(|a| *a == r.value) {
            answers.insert((r.target, r.user), i as u8);
        }
    }
    combination_of
        .into_iter()
        .map(|(target, of)| {
            let per_class = of
                .iter()
                .map(|c| answer_of(&answers, answer, target, *c))
                .collect::<Result<_, String>>()?;
            Ok((target.to_string(), per_class))
        })
        .collect()
}

/// The answer `answers` holds for `target` and the combination named by identity class `c` (an
/// index into [`ANSWERS`]). `journeys.dl` answers every target for every subject it is given
/// (each of its answer relations is yes, no or unknown for any target and known subject), so a
/// missing answer is bindlog's error, never a default.
fn answer_of(
    answers: &HashMap<(String, String), u8>,
    relation: &str,
    target: &str,
    c: u32,
) -> Result<u8, String> {
    answers
        .get(&(target.to_string(), format!("class {c}")))
        .copied()
        .ok_or_else(|| {
            format!(
                "internal error: `{relation}` gives no answer for `{target}` and identity class \
                 {c}, though rules/authentik/journeys.dl answers every target for every class \
                 (a bug in bindlog)"
            )
        })
}

/// How many users each target of `journey` (pk -> name) gets each answer from, by name.
fn journey_counts(
    model: &Model,
    snapshot: &Snapshot,
    journey: Journey,
    targets: &std::collections::BTreeMap<String, String>,
) -> Result<Vec<TargetCount>, String> {
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let classes = model.identity_classes(snapshot);
    let answers = journeys(model, snapshot, journey)?;
    let mut out: Vec<TargetCount> = targets
        .iter()
        .map(|(pk, name)| {
            let mut counts = [0u64; 3];
            if let Some(a) = answers.get(pk) {
                for (k, members) in classes.iter().enumerate() {
                    counts[usize::from(a[k])] += members.len() as u64;
                }
            }
            TargetCount {
                pk: pk.clone(),
                name: name.clone(),
                counts,
            }
        })
        .collect();
    out.sort_by(|a, b| (&a.name, &a.pk).cmp(&(&b.name, &b.pk)));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journey_without_an_answer_is_an_error_not_a_yes() {
        let answers: HashMap<(String, String), u8> =
            [(("e1".to_string(), "class 0".to_string()), 2)].into();
        assert_eq!(answer_of(&answers, "endpoint_access", "e1", 0), Ok(2));
        let missing = answer_of(&answers, "endpoint_access", "e1", 3).unwrap_err();
        assert!(missing.contains("`endpoint_access`"), "{missing}");
        assert!(missing.contains("`e1` and identity class 3"), "{missing}");
        assert!(answer_of(&answers, "endpoint_access", "e2", 0).is_err());
    }
}
