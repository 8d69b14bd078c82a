//! Expression policies: their Python body parsed as authentik compiles it, and evaluated in three
//! values over what the snapshot knows (see `docs/expression-policies.md`).
//!
//! [`analyse`] gives, for each situation a policy can be evaluated in, the cases of the body;
//! [`crate::facts`] turns them into the `expr_*` relations that `rules/authentik/expression.dl`
//! fits to each identity.

pub mod ast;
pub mod eval;
pub mod parse;

pub use eval::{Atom, Case, Cond, Ctx, FieldValue, Fields, Outcome, Pending, Situation, World};
pub use parse::{Body, BodyError, parse_body};

use crate::snapshot::{PolicyFacts, Snapshot, User};
use std::collections::HashMap;

/// The situations a body is evaluated in: each context, entered directly or through a source
/// (`is_sso`), with the pending user as that entry and the stage's place make it.
pub fn situations() -> Vec<Situation> {
    let s = |ctx, sso, pending| Situation { ctx, sso, pending };
    vec![
        s(Ctx::Flow, false, Pending::Absent),
        s(Ctx::Flow, true, Pending::IfKnown),
        s(Ctx::StagePlan, false, Pending::Absent),
        s(Ctx::StagePlan, true, Pending::IfKnown),
        s(Ctx::StageRun, false, Pending::Absent),
        s(Ctx::StageRun, false, Pending::Engine),
        s(Ctx::StageRun, true, Pending::IfKnown),
        s(Ctx::StageRun, true, Pending::Engine),
        s(Ctx::App, false, Pending::Absent),
        s(Ctx::Source, false, Pending::Absent),
    ]
}

/// The rules' spelling of an answer: `yes`/`no`, or `class N` for a field class (never a bare
/// number, which could be read as a user's pk).
pub fn cond_value(atom: &Atom, value: u32) -> String {
    match (atom, value) {
        (Atom::Fields, c) => format!("class {c}"),
        (_, 0) => "no".into(),
        _ => "yes".into(),
    }
}

/// The rules' names of an entry and a pending-user mode.
pub fn situation_names(s: Situation) -> (&'static str, &'static str) {
    (
        if s.sso { "sso" } else { "direct" },
        match s.pending {
            Pending::Absent => "absent",
            Pending::IfKnown => "if_known",
            Pending::Engine => "engine",
        },
    )
}

/// One expression policy, analysed.
#[derive(Clone, Debug)]
pub struct Analysis {
    /// The body does not compile or is too large: every evaluation raises.
    pub error: Option<BodyError>,
    /// The body reads how the flow was entered or the flow's context.
    pub reads_context: bool,
    /// The cases per situation.
    pub cases: Vec<(Situation, Vec<Case>)>,
    /// The user fields it reads and their classes.
    pub fields: Fields,
}

/// The field classes of every policy that reads user fields, for the per-user rows.
#[derive(Clone, Debug, Default)]
pub struct FieldReads {
    /// (policy pk, field names, class of each value combination).
    pub policies: Vec<(String, Vec<String>, HashMap<String, u32>)>,
}

impl FieldReads {
    /// The field classes of a snapshot's expression policies (those with at most
    /// [`eval::MAX_FIELD_CLASSES`] classes; beyond that, field reads are unknown).
    pub fn of(snapshot: &Snapshot) -> FieldReads {
        let mut policies = Vec::new();
        for p in &snapshot.policies {
            let PolicyFacts::Expression { expression } = &p.facts else {
                continue;
            };
            let Ok(body) = parse_body(expression) else {
                continue;
            };
            let names = eval::read_fields(&body);
            if names.is_empty() {
                continue;
            }
            let (fields, index) = field_classes(&names, &snapshot.users);
            if !fields.too_many {
                policies.push((p.pk.to_string(), names, index));
            }
        }
        FieldReads { policies }
    }

    /// The rows `expr_user_fields(policy, user, class)` of one user.
    pub fn rows(&self, u: &User, pk: &str, mut add: impl FnMut(&'static str, &[&str])) {
        for (p, names, index) in &self.policies {
            let key = field_key(&field_values(names, u));
            if let Some(c) = index.get(&key) {
                add("expr_user_fields", &[p, pk, &cond_value(&Atom::Fields, *c)]);
            }
        }
    }
}

fn field_key(values: &[Option<FieldValue>]) -> String {
    format!("{values:?}")
}

/// The class of user `u` among `fields` (`None` when its values form no class, as for a user
/// not in the snapshot the classes were made from).
pub fn class_of(fields: &Fields, u: &User) -> Option<u32> {
    let mine = field_values(&fields.names, u);
    fields
        .classes
        .iter()
        .position(|c| *c == mine)
        .and_then(|i| u32::try_from(i).ok())
}

/// What user `u` holds in each of the fields `names`.
pub fn field_values(names: &[String], u: &User) -> Vec<Option<FieldValue>> {
    names
        .iter()
        .map(|n| match n.as_str() {
            "username" => Some(FieldValue::Str(u.username.to_string())),
            "name" => Some(FieldValue::Str(u.name.to_string())),
            "email" => Some(FieldValue::Str(
                u.extra
                    .as_ref()
                    .map(|x| x.email.to_string())
                    .unwrap_or_default(),
            )),
            "is_active" => Some(FieldValue::Bool(u.is_active)),
            "type" => Some(FieldValue::Str(u.kind.to_string())),
            "pk" => Some(FieldValue::Int(u.pk)),
            other => {
                let key = other.strip_prefix("attributes.")?;
                let v = u.extra.as_ref()?.attributes.get(key)?;
                Some(json_field(v, 0))
            }
        })
        .collect()
}

fn json_field(v: &serde_json::Value, depth: usize) -> FieldValue {
    match v {
        serde_json::Value::Null => FieldValue::None,
        serde_json::Value::Bool(b) => FieldValue::Bool(*b),
        serde_json::Value::Number(n) => n.as_i64().map_or(FieldValue::Other, FieldValue::Int),
        serde_json::Value::String(s) => FieldValue::Str(s.clone()),
        serde_json::Value::Array(a) if depth < 8 && a.len() <= 1000 => {
            FieldValue::List(a.iter().map(|x| json_field(x, depth + 1)).collect())
        }
        _ => FieldValue::Other,
    }
}

/// The classes of value combinations among `users`, and each combination's class.
pub fn field_classes(names: &[String], users: &[User]) -> (Fields, HashMap<String, u32>) {
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut classes = Vec::new();
    for u in users {
        let values = field_values(names, u);
        let key = field_key(&values);
        if let std::collections::hash_map::Entry::Vacant(slot) = index.entry(key) {
            if classes.len() >= eval::MAX_FIELD_CLASSES {
                return (
                    Fields {
                        names: names.to_vec(),
                        classes: Vec::new(),
                        too_many: true,
                    },
                    HashMap::new(),
                );
            }
            slot.insert(u32::try_from(classes.len()).unwrap_or(u32::MAX));
            classes.push(values);
        }
    }
    (
        Fields {
            names: names.to_vec(),
            classes,
            too_many: false,
        },
        index,
    )
}

/// Analyses one body in every situation.
pub fn analyse(expression: &str, world: &World, users: &[User]) -> Analysis {
    let body = match parse_body(expression) {
        Ok(b) => b,
        Err(e) => {
            let why = format!("{e}: authentik cannot compile it, so every evaluation raises");
            return Analysis {
                cases: situations()
                    .into_iter()
                    .map(|s| {
                        (
                            s,
                            vec![Case {
                                conds: Vec::new(),
                                outcome: Outcome::Raise,
                                why: why.clone(),
                                open: None,
                            }],
                        )
                    })
                    .collect(),
                error: Some(e),
                reads_context: false,
                fields: Fields::default(),
            };
        }
    };
    let names = eval::read_fields(&body);
    let fields = if names.is_empty() {
        Fields::default()
    } else {
        field_classes(&names, users).0
    };
    let cases = situations()
        .into_iter()
        .map(|s| (s, eval::evaluate(&body, s, world, &fields)))
        .collect();
    Analysis {
        error: None,
        reads_context: reads_context(expression),
        cases,
        fields,
    }
}

/// Whether a body reads how its flow was entered or what the flow's context holds.
fn reads_context(expression: &str) -> bool {
    ["ak_is_sso_flow", "context", "flow_plan"]
        .iter()
        .any(|w| expression.contains(w))
}

/// The user fields the snapshot's expression bodies read, so that loading keeps only those.
#[derive(Clone, Debug, Default)]
pub struct KeptFields {
    /// Some body reads `email`.
    pub email: bool,
    /// The attribute keys some body reads.
    pub attributes: Vec<String>,
}

/// The fields `bodies` read (bodies that do not parse read nothing).
pub fn kept_user_fields<'a>(bodies: impl Iterator<Item = &'a str>) -> KeptFields {
    let mut kept = KeptFields::default();
    for body in bodies {
        let Ok(b) = parse_body(body) else { continue };
        for f in eval::read_fields(&b) {
            if f == "email" {
                kept.email = true;
            } else if let Some(k) = f.strip_prefix("attributes.")
                && !kept.attributes.iter().any(|a| a == k)
            {
                kept.attributes.push(k.to_string());
            }
        }
    }
    kept
}

impl KeptFields {
    /// What a user keeps of its `email` and `attributes`: nothing when no body reads them.
    pub fn extra(
        &self,
        email: Option<Box<str>>,
        attributes: Option<Box<str>>,
    ) -> Option<Box<crate::snapshot::UserExtra>> {
        let email = if self.email { email } else { None };
        let mut kept = serde_json::Map::new();
        // Only a user's own attributes are parsed, one user at a time, and only when some body
        // reads them; the keys no body reads are dropped at once.
        if let (false, Some(text)) = (self.attributes.is_empty(), attributes)
            && let Ok(serde_json::Value::Object(mut all)) = serde_json::from_str(&text)
        {
            for k in &self.attributes {
                if let Some(v) = all.remove(k) {
                    kept.insert(k.clone(), v);
                }
            }
        }
        if email.is_none() && kept.is_empty() {
            return None;
        }
        Some(Box::new(crate::snapshot::UserExtra {
            email: email.unwrap_or_default(),
            attributes: serde_json::Value::Object(kept),
        }))
    }
}

/// The world every evaluation shares: the snapshot's policy names.
pub fn world_of(snapshot: &Snapshot) -> World {
    World {
        policy_names: snapshot
            .policies
            .iter()
            .map(|p| p.name.to_string())
            .collect(),
    }
}
