//! Snapshot -> input relations of `rules/authentik/schema.dl`.
//!
//! [`facts_of`] turns a validated [`Snapshot`] into one row set per relation declared in the
//! schema; [`FactSet::write_dir`] writes them as Soufflé `.facts` files (tab-separated), so the
//! same rules also run in Soufflé.

use crate::expression::FieldReads;
use crate::snapshot::{PolicyFacts, Snapshot, Subject, TargetKind, User};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

/// The schema of the input relations, as shipped in `rules/authentik/schema.dl`.
pub const SCHEMA: &str = include_str!("../rules/authentik/schema.dl");

/// One value of a fact: a Soufflé symbol or a 32-bit number.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// A symbol (ids, names, enumerations).
    Sym(String),
    /// A number (orders, timeouts, version parts).
    Num(i32),
}

/// Input relations by name; each relation's rows are sorted and deduplicated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FactSet {
    /// Relation name -> rows.
    pub relations: BTreeMap<String, Vec<Vec<Value>>>,
}

/// The relations declared in [`SCHEMA`], with their arity, in declaration order.
pub fn schema_relations() -> Vec<(String, usize)> {
    SCHEMA
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix(".decl ")?;
            let (name, args) = rest.split_once('(')?;
            let args = args.split(')').next()?;
            let arity = if args.trim().is_empty() {
                0
            } else {
                args.split(',').count()
            };
            Some((name.trim().to_string(), arity))
        })
        .collect()
}

/// Whether the schema declares `relation`.
fn declared(relation: &str) -> bool {
    static NAMES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    NAMES
        .get_or_init(|| schema_relations().into_iter().map(|(n, _)| n).collect())
        .iter()
        .any(|n| n == relation)
}

fn sym(s: &str) -> Value {
    Value::Sym(s.to_string())
}

struct Builder(BTreeMap<String, Vec<Vec<Value>>>);

impl Builder {
    fn add(&mut self, relation: &str, row: Vec<Value>) {
        debug_assert!(
            declared(relation),
            "`{relation}` is not declared in schema.dl"
        );
        match self.0.get_mut(relation) {
            Some(rows) => rows.push(row),
            None => {
                self.0.insert(relation.to_string(), vec![row]);
            }
        }
    }

    /// The rows of one user; `more_groups` are groups that list the user as a member.
    fn user(&mut self, u: &User, more_groups: &[&str], reads: &FieldReads) {
        let pk = u.pk.to_string();
        user_rows(u, &pk, more_groups, reads, |rel, row| {
            self.add(rel, row.iter().map(|v| sym(v)).collect())
        });
    }
}

/// The pks of the groups that are their own ancestors. Ancestry as pairs grows with the square
/// of a chain's length, so the rules get the cycles from here (Tarjan's strongly connected
/// components, with an explicit stack: a hierarchy may be a million groups deep).
fn groups_on_cycles(snapshot: &Snapshot) -> Vec<&str> {
    let index: rustc_hash::FxHashMap<&str, usize> = snapshot
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (&*g.pk, i))
        .collect();
    let parents: Vec<Vec<usize>> = snapshot
        .groups
        .iter()
        .map(|g| {
            g.parents
                .iter()
                .filter_map(|p| index.get(&**p).copied())
                .collect()
        })
        .collect();
    let n = parents.len();
    const UNSEEN: usize = usize::MAX;
    let (mut order, mut low) = (vec![UNSEEN; n], vec![0usize; n]);
    let mut on_stack = vec![false; n];
    let (mut stack, mut cyclic) = (Vec::new(), vec![false; n]);
    let mut next = 0;
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        // (group, how many of its parents are done)
        let mut walk = vec![(root, 0usize)];
        order[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(top) = walk.last_mut() {
            let g = top.0;
            if let Some(&p) = parents[g].get(top.1) {
                top.1 += 1;
                if order[p] == UNSEEN {
                    order[p] = next;
                    low[p] = next;
                    next += 1;
                    stack.push(p);
                    on_stack[p] = true;
                    walk.push((p, 0));
                } else if on_stack[p] {
                    low[g] = low[g].min(order[p]);
                }
                continue;
            }
            walk.pop();
            if let Some(&(up, _)) = walk.last() {
                low[up] = low[up].min(low[g]);
            }
            if low[g] == order[g] {
                let mut component = Vec::new();
                while let Some(x) = stack.pop() {
                    on_stack[x] = false;
                    component.push(x);
                    if x == g {
                        break;
                    }
                }
                let own_parent = parents[g].contains(&g);
                if component.len() > 1 || own_parent {
                    for x in component {
                        cyclic[x] = true;
                    }
                }
            }
        }
    }
    snapshot
        .groups
        .iter()
        .zip(cyclic)
        .filter(|(_, c)| *c)
        .map(|(g, _)| &*g.pk)
        .collect()
}

/// The rows [`facts_of`] makes of one user (whose pk, as text, is `pk`), one `add(relation,
/// row)` each, plus a `direct_member` row for each of `more_groups` (groups that list the user
/// as a member), and the class of the fields each expression policy reads (`reads`). Every
/// value of a user's rows is a symbol.
pub fn user_rows(
    u: &User,
    pk: &str,
    more_groups: &[&str],
    reads: &FieldReads,
    mut add: impl FnMut(&'static str, &[&str]),
) {
    add("user", &[pk, &u.username, &u.name]);
    if u.is_active {
        add("user_active", &[pk]);
    }
    add("user_type", &[pk, &u.kind]);
    if let Some(t) = &u.last_login {
        add("user_last_login", &[pk, t]);
    }
    for g in u
        .groups
        .iter()
        .map(|g| &**g)
        .chain(more_groups.iter().copied())
    {
        add("direct_member", &[pk, g]);
    }
    reads.rows(u, pk, add);
}

/// The facts that mention these users, each with the groups that list it as a member: the rows
/// [`facts_of`] makes of them, sorted, and only the relations that have some.
pub fn user_facts<'a>(
    users: impl IntoIterator<Item = (&'a User, &'a [&'a str])>,
    reads: &FieldReads,
) -> FactSet {
    let mut b = Builder(BTreeMap::new());
    for (u, more) in users {
        b.user(u, more, reads);
    }
    let mut relations = b.0;
    for rows in relations.values_mut() {
        rows.sort_unstable();
        rows.dedup();
    }
    FactSet { relations }
}

/// The input relations of a snapshot (every relation of the schema present, maybe empty).
pub fn facts_of(snapshot: &Snapshot) -> FactSet {
    facts_about(snapshot, None)
}

/// [`facts_of`], with the rows about users (user, type, activity, last login, direct
/// membership, the class of the fields expression policies read) only for the users whose pk
/// (as text) is in `only`, when given. The built-in rules decide each user from that user's own
/// rows and the user-independent facts, so a question about a few users needs no other user's
/// rows: at a million users this is the difference between seconds and a membership closure
/// over every user.
pub fn facts_about(
    snapshot: &Snapshot,
    only: Option<&std::collections::HashSet<String>>,
) -> FactSet {
    // The classes of the fields expression bodies read are made from every user even for a
    // question about a few: how many classes there are decides whether a body's field reads are
    // decided at all, and the answer must not depend on who else was asked about.
    facts_built(snapshot, &snapshot.users, only)
}

/// The input relations of a snapshot whose expression policies read the fields of `users` (the
/// snapshot's own, or, for a snapshot stripped of its users, those it was stripped of: the
/// classes of field values must be the ones the users' own rows name).
pub fn facts_with_users(snapshot: &Snapshot, users: &[User]) -> FactSet {
    facts_built(snapshot, users, None)
}

fn facts_built(
    snapshot: &Snapshot,
    users: &[User],
    only: Option<&std::collections::HashSet<String>>,
) -> FactSet {
    let wanted = |pk: &str| only.is_none_or(|set| set.contains(pk));
    let mut b = Builder(
        schema_relations()
            .into_iter()
            .map(|(name, _)| (name, Vec::new()))
            .collect(),
    );
    match &snapshot.version {
        Some(v) => {
            b.add("version", vec![sym(&v.text)]);
            b.add(
                "version_number",
                vec![
                    Value::Num(v.year.into()),
                    Value::Num(v.month.into()),
                    Value::Num(v.patch.into()),
                ],
            );
        }
        None => b.add("version", vec![sym("unknown")]),
    }
    let reads = FieldReads::of(snapshot);
    // Users a binding names keep their `user` row when the others are left out, so that the
    // binding is still shown with a username.
    let named: std::collections::HashSet<String> = match only {
        Some(_) => snapshot
            .policy_bindings
            .iter()
            .filter_map(|x| match &x.subject {
                Subject::User(u) => Some(u.to_string()),
                _ => None,
            })
            .collect(),
        None => Default::default(),
    };
    // A notification rule tells every direct member of its destination group, whoever the
    // question is about: those memberships (and those users' names) are kept too.
    let destinations: std::collections::HashSet<&str> = match only {
        Some(_) => snapshot
            .notification_rules
            .iter()
            .filter_map(|r| r.destination_group.as_deref())
            .collect(),
        None => Default::default(),
    };
    let listed: std::collections::HashSet<String> = snapshot
        .groups
        .iter()
        .filter(|g| destinations.contains(&*g.pk))
        .flat_map(|g| g.users.iter().map(|u| u.to_string()))
        .collect();
    for u in &snapshot.users {
        match only {
            None => b.user(u, &[], &reads),
            Some(set) => {
                let pk = u.pk.to_string();
                if set.contains(&pk) {
                    b.user(u, &[], &reads);
                    continue;
                }
                let told: Vec<&str> = u
                    .groups
                    .iter()
                    .map(|g| &**g)
                    .filter(|g| destinations.contains(g))
                    .collect();
                if named.contains(&pk) || listed.contains(&pk) || !told.is_empty() {
                    b.add("user", vec![sym(&pk), sym(&u.username), sym(&u.name)]);
                }
                for g in told {
                    b.add("direct_member", vec![sym(&pk), sym(g)]);
                }
            }
        }
    }
    for g in groups_on_cycles(snapshot) {
        b.add("group_cycle", vec![sym(g)]);
    }
    for g in &snapshot.groups {
        b.add("group", vec![sym(&g.pk), sym(&g.name)]);
        for p in &g.parents {
            b.add("group_parent", vec![sym(&g.pk), sym(p)]);
        }
        if g.is_superuser {
            b.add("group_superuser", vec![sym(&g.pk)]);
        }
        let told = destinations.contains(&*g.pk);
        for u in &g.users {
            let pk = u.to_string();
            if wanted(&pk) || told {
                b.add("direct_member", vec![sym(&pk), sym(&g.pk)]);
            }
        }
    }
    for f in &snapshot.flows {
        b.add(
            "flow",
            vec![
                sym(&f.pk),
                sym(&f.slug),
                sym(&f.name),
                sym(f.designation.as_str()),
            ],
        );
        b.add("flow_pbm", vec![sym(&f.pk), sym(&f.pbm)]);
        b.add(
            "flow_authentication",
            vec![sym(&f.pk), sym(f.authentication.as_str())],
        );
        b.add(
            "flow_denied_action",
            vec![sym(&f.pk), sym(f.denied_action.as_str())],
        );
        b.add(
            "target",
            vec![
                sym(&f.pk),
                sym(TargetKind::Flow.as_str()),
                sym(f.policy_engine_mode.as_str()),
            ],
        );
    }
    for x in &snapshot.flow_bindings {
        b.add(
            "fsb",
            vec![
                sym(&x.pk),
                sym(&x.target),
                sym(&x.stage),
                Value::Num(x.order),
            ],
        );
        b.add("fsb_pbm", vec![sym(&x.pk), sym(&x.pbm)]);
        if x.evaluate_on_plan {
            b.add("fsb_evaluate_on_plan", vec![sym(&x.pk)]);
        }
        if x.re_evaluate_policies {
            b.add("fsb_re_evaluate_policies", vec![sym(&x.pk)]);
        }
        b.add(
            "fsb_invalid_response_action",
            vec![sym(&x.pk), sym(x.invalid_response_action.as_str())],
        );
        b.add(
            "target",
            vec![
                sym(&x.pk),
                sym(TargetKind::FlowStageBinding.as_str()),
                sym(x.policy_engine_mode.as_str()),
            ],
        );
    }
    for s in &snapshot.stages {
        b.add("stage", vec![sym(&s.pk), sym(&s.name), sym(&s.kind)]);
        if !s.component.is_empty() {
            b.add("stage_component", vec![sym(&s.pk), sym(&s.component)]);
        }
        // A passkey used at an identification stage sets `auth_method` (docs/semantics.md §5); the
        // stage offers one only with a `webauthn_stage` (absent: the model default, null).
        if s.kind.ends_with("identificationstage")
            && s.fields.get("webauthn_stage").is_some_and(|v| !v.is_null())
        {
            b.add("identification_passkey", vec![sym(&s.pk)]);
        }
        if let Some(serde_json::Value::Array(list)) = s.fields.get("validation_policies") {
            for p in list.iter().filter_map(serde_json::Value::as_str) {
                b.add("stage_validation_policy", vec![sym(&s.pk), sym(p)]);
            }
        }
        if s.kind.ends_with("authenticatorvalidatestage") {
            let text = |f: &str| match s.fields.get(f) {
                Some(serde_json::Value::String(t)) => t.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            b.add(
                "authenticator_validate",
                vec![
                    sym(&s.pk),
                    sym(&text("not_configured_action")),
                    sym(&text("last_auth_threshold")),
                ],
            );
        }
    }
    let world = crate::expression::world_of(snapshot);
    for p in &snapshot.policies {
        b.add("policy", vec![sym(&p.pk), sym(&p.name), sym(&p.kind)]);
        match &p.facts {
            PolicyFacts::Dummy {
                result,
                wait_min,
                wait_max,
            } => {
                let clamp = |n: i64| n.clamp(i32::MIN.into(), i32::MAX.into()) as i32;
                b.add(
                    "policy_dummy",
                    vec![
                        sym(&p.pk),
                        Value::Num(clamp(*wait_min)),
                        Value::Num(clamp(*wait_max)),
                    ],
                );
                if *result {
                    b.add("policy_dummy_result", vec![sym(&p.pk)]);
                }
            }
            PolicyFacts::Geoip { configured: false } => {
                b.add("policy_geoip_unconfigured", vec![sym(&p.pk)])
            }
            PolicyFacts::Expression { expression } => {
                b.add("policy_expression", vec![sym(&p.pk)]);
                if let Some(m) = auth_method_check(expression) {
                    b.add("policy_expression_reads_context", vec![sym(&p.pk)]);
                    b.add(
                        "policy_expression_auth_method",
                        vec![
                            sym(&p.pk),
                            sym(m.no_plan),
                            sym(m.method),
                            sym(m.if_equal),
                            sym(m.otherwise),
                        ],
                    );
                } else {
                    expression_rows(&mut b, &p.pk, expression, &world, users);
                }
            }
            PolicyFacts::Geoip { configured: true } | PolicyFacts::Other => {}
        }
    }
    for x in &snapshot.policy_bindings {
        b.add(
            "binding",
            vec![sym(&x.pk), sym(&x.target), Value::Num(x.order)],
        );
        match &x.subject {
            Subject::Policy(p) => b.add("binding_policy", vec![sym(&x.pk), sym(p)]),
            Subject::Group(g) => b.add("binding_group", vec![sym(&x.pk), sym(g)]),
            Subject::User(u) => b.add("binding_user", vec![sym(&x.pk), sym(&u.to_string())]),
        }
        if x.negate {
            b.add("binding_negate", vec![sym(&x.pk)]);
        }
        if x.enabled {
            b.add("binding_enabled", vec![sym(&x.pk)]);
        }
        if x.failure_result {
            b.add("binding_failure_result", vec![sym(&x.pk)]);
        }
        b.add("binding_timeout", vec![sym(&x.pk), Value::Num(x.timeout)]);
    }
    for a in &snapshot.applications {
        b.add("application", vec![sym(&a.pk), sym(&a.slug), sym(&a.name)]);
        b.add(
            "target",
            vec![
                sym(&a.pk),
                sym(TargetKind::Application.as_str()),
                sym(a.policy_engine_mode.as_str()),
            ],
        );
        if let Some(p) = &a.provider {
            b.add("application_provider", vec![sym(&a.pk), sym(p)]);
        }
    }
    for e in &snapshot.entitlements {
        b.add("entitlement", vec![sym(&e.pk), sym(&e.app), sym(&e.name)]);
        b.add(
            "target",
            vec![
                sym(&e.pk),
                sym(TargetKind::Entitlement.as_str()),
                sym("any"),
            ],
        );
    }
    b.add(
        "default_app_access",
        vec![sym(if snapshot.settings.default_app_access {
            "true"
        } else {
            "false"
        })],
    );
    for s in &snapshot.sources {
        b.add("source", vec![sym(&s.pk), sym(&s.slug), sym(&s.name)]);
        b.add(
            "target",
            vec![
                sym(&s.pk),
                sym(TargetKind::Source.as_str()),
                sym(s.policy_engine_mode.as_str()),
            ],
        );
        if let Some(f) = &s.authentication_flow {
            b.add("source_authentication_flow", vec![sym(&s.pk), sym(f)]);
        }
        if let Some(f) = &s.enrollment_flow {
            b.add("source_enrollment_flow", vec![sym(&s.pk), sym(f)]);
        }
        if s.enabled {
            b.add("source_enabled", vec![sym(&s.pk)]);
        }
        if !s.kind.is_empty() {
            b.add("source_type", vec![sym(&s.pk), sym(&s.kind)]);
        }
    }
    target_facts(snapshot, &mut b);
    for br in &snapshot.brands {
        b.add("brand", vec![sym(&br.pk), sym(&br.domain)]);
        if br.default {
            b.add("brand_default", vec![sym(&br.pk)]);
        }
        for (role, f) in &br.flows {
            b.add("brand_flow", vec![sym(&br.pk), sym(role), sym(f)]);
        }
    }
    let mut relations = b.0;
    // Sorting dominates at a million users; relations are independent, so sort them in parallel.
    relations.par_iter_mut().for_each(|(_, rows)| {
        rows.par_sort_unstable();
        rows.dedup();
    });
    FactSet { relations }
}

/// The `expr_*` rows of expression policy `pk`: its cases in every situation (see
/// [`crate::expression`]).
fn expression_rows(
    b: &mut Builder,
    pk: &str,
    expression: &str,
    world: &crate::expression::World,
    users: &[User],
) {
    let a = crate::expression::analyse(expression, world, users);
    if let Some(e) = &a.error {
        b.add(
            "policy_expression_error",
            vec![sym(pk), sym(&e.to_string())],
        );
    }
    if a.reads_context {
        b.add("policy_expression_reads_context", vec![sym(pk)]);
    }
    if expression.contains("ak_is_sso_flow") || expression.contains("is_sso") {
        b.add("policy_expression_reads_sso", vec![sym(pk)]);
    }
    for (s, cases) in &a.cases {
        let (entry, pending) = crate::expression::situation_names(*s);
        for (i, c) in cases.iter().enumerate() {
            let k = format!("{pk}#{}#{entry}#{pending}#{i}", s.ctx.as_str());
            b.add(
                "expr_case",
                vec![
                    sym(&k),
                    sym(pk),
                    sym(s.ctx.as_str()),
                    sym(entry),
                    sym(pending),
                    sym(c.outcome.as_str()),
                    sym(&c.why),
                ],
            );
            for d in &c.conds {
                let (kind, arg) = d.atom.kind_arg();
                b.add(
                    "expr_case_cond",
                    vec![
                        sym(&k),
                        sym(kind),
                        sym(arg),
                        sym(&crate::expression::cond_value(&d.atom, d.value)),
                        sym(&d.at),
                    ],
                );
            }
        }
    }
}

/// The facts of the optional binding targets: notification rules, RAC endpoints, devices and
/// their access groups, providers; and the fields of event matcher policies.
fn target_facts(snapshot: &Snapshot, b: &mut Builder) {
    for r in &snapshot.notification_rules {
        b.add(
            "notification_rule",
            vec![sym(&r.pk), sym(&r.name), sym(&r.severity)],
        );
        // authentik ignores the model's mode for notification rules: always `any`.
        b.add(
            "target",
            vec![
                sym(&r.pk),
                sym(TargetKind::NotificationRule.as_str()),
                sym("any"),
            ],
        );
        for t in &r.transports {
            b.add("notification_transport", vec![sym(&r.pk), sym(t)]);
        }
        if let Some(g) = &r.destination_group {
            b.add("notification_group", vec![sym(&r.pk), sym(g)]);
        }
        if r.destination_event_user {
            b.add("notification_event_user", vec![sym(&r.pk)]);
        }
    }
    for t in &snapshot.transports {
        b.add("transport", vec![sym(&t.pk), sym(&t.name), sym(&t.mode)]);
        if t.send_once {
            b.add("transport_send_once", vec![sym(&t.pk)]);
        }
    }
    for p in &snapshot.policies {
        if !p.kind.ends_with("eventmatcherpolicy") {
            continue;
        }
        for field in ["action", "app", "model", "client_ip", "query"] {
            match p.fields.get(field) {
                None | Some(serde_json::Value::Null) => {}
                Some(serde_json::Value::String(v)) => {
                    b.add("event_matcher", vec![sym(&p.pk), sym(field), sym(v)])
                }
                Some(other) => b.add(
                    "event_matcher",
                    vec![sym(&p.pk), sym(field), sym(&other.to_string())],
                ),
            }
        }
    }
    for e in &snapshot.rac_endpoints {
        b.add(
            "rac_endpoint",
            vec![sym(&e.pk), sym(&e.name), sym(&e.provider)],
        );
        b.add(
            "target",
            vec![
                sym(&e.pk),
                sym(TargetKind::RacEndpoint.as_str()),
                sym(e.policy_engine_mode.as_str()),
            ],
        );
    }
    for g in &snapshot.device_access_groups {
        b.add("device_access_group", vec![sym(&g.pk), sym(&g.name)]);
        b.add(
            "target",
            vec![
                sym(&g.pk),
                sym(TargetKind::DeviceAccessGroup.as_str()),
                sym(g.policy_engine_mode.as_str()),
            ],
        );
    }
    for d in &snapshot.devices {
        b.add("device", vec![sym(&d.pk), sym(&d.name)]);
        b.add(
            "target",
            vec![
                sym(&d.pk),
                sym(TargetKind::Device.as_str()),
                sym(d.policy_engine_mode.as_str()),
            ],
        );
        if let Some(g) = &d.access_group {
            b.add("device_in_group", vec![sym(&d.pk), sym(g)]);
        }
    }
    for p in &snapshot.providers {
        b.add("provider", vec![sym(&p.pk), sym(&p.name), sym(&p.kind)]);
        for (role, f) in &p.flows {
            b.add("provider_flow", vec![sym(&p.pk), sym(role), sym(f)]);
        }
        if let Some(a) = &p.backchannel_application {
            b.add("provider_backchannel", vec![sym(&p.pk), sym(a)]);
        }
        if p.mfa_support && (p.kind.ends_with("ldapprovider") || p.kind.ends_with("radiusprovider"))
        {
            b.add("provider_mfa_support", vec![sym(&p.pk)]);
        }
    }
}

/// A symbol as a `.facts` field, quoted where a tab, line break or leading `"` needs it (the
/// way `bindlog eval` reads it back, see [`crate::datalog::io`]).
fn field(s: &str) -> std::borrow::Cow<'_, str> {
    crate::datalog::io::quote_field(s, "\t")
}

impl FactSet {
    /// Writes `DIR/NAME.facts` for every relation of the schema (empty ones too), tab-separated.
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        for (name, _) in schema_relations() {
            let file = std::fs::File::create(dir.join(format!("{name}.facts")))?;
            let mut out = std::io::BufWriter::new(file);
            for row in self
                .relations
                .get(&name)
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                for (i, v) in row.iter().enumerate() {
                    if i > 0 {
                        out.write_all(b"\t")?;
                    }
                    match v {
                        Value::Sym(s) => out.write_all(field(s).as_bytes())?,
                        Value::Num(n) => write!(out, "{n}")?,
                    }
                }
                out.write_all(b"\n")?;
            }
            out.flush()?;
        }
        Ok(())
    }

    /// The rows of a relation (empty when it has none).
    pub fn rows(&self, relation: &str) -> &[Vec<Value>] {
        self.relations
            .get(relation)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// The lines of a Python body that matter: comments and blank lines dropped, each line trimmed,
/// single quotes read as double quotes.
fn code_lines(body: &str) -> Vec<String> {
    body.lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().replace('\'', "\""))
        .filter(|l| !l.is_empty())
        .collect()
}

/// An expression that decides on the `auth_method` the flow plan's context holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthMethodCheck {
    /// Its result when no flow plan is in its context (flow policies, application access).
    pub no_plan: &'static str,
    /// The method it compares with.
    pub method: &'static str,
    /// Its result when `auth_method` is `method`.
    pub if_equal: &'static str,
    /// Its result otherwise (absent included).
    pub otherwise: &'static str,
}

/// Methods whose setters bindlog knows, so that a comparison with them can be decided from
/// the stages placed before the check: `auth_webauthn_pwl` is set only by a passkey at an
/// identification stage with a `webauthn_stage` (`authentik/stages/identification/stage.py`,
/// `challenge_valid`) and by an authenticator-validate stage used without a pending user
/// (`authentik/stages/authenticator_validate/stage.py`, `challenge_valid`).
const KNOWN_METHODS: [&str; 1] = ["auth_webauthn_pwl"];

/// Recognises the stock MFA-stage policy of `blueprints/default/flow-default-authentication-flow.yaml`
/// and its plain variants:
///
/// ```text
/// flow_plan = request.context.get("flow_plan")
/// if not flow_plan:
///     return True
/// return not (flow_plan.context.get("auth_method") == "auth_webauthn_pwl")
/// ```
///
/// `request.context.get` never raises, and a `FlowPlan` is truthy, so the result is the literal
/// without a plan and the comparison with one (`==`, `!=`, or `not (... == ...)`).
pub fn auth_method_check(body: &str) -> Option<AuthMethodCheck> {
    let lines: Vec<String> = code_lines(body)
        .into_iter()
        .map(|l| l.replace(' ', ""))
        .collect();
    let [get, cond, early, ret] = lines.as_slice() else {
        return None;
    };
    let var = get.strip_suffix("=request.context.get(\"flow_plan\")")?;
    if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    if cond != &format!("ifnot{var}:") {
        return None;
    }
    let no_plan = match early.as_str() {
        "returnTrue" => "pass",
        "returnFalse" => "fail",
        _ => return None,
    };
    let ret = ret.strip_prefix("return")?;
    let (negated, cmp) = match ret.strip_prefix("not(").and_then(|r| r.strip_suffix(')')) {
        Some(inner) => (true, inner),
        None => (false, ret),
    };
    let lhs = format!("{var}.context.get(\"auth_method\")");
    let rest = cmp.strip_prefix(&lhs)?;
    let (equal, lit) = if let Some(l) = rest.strip_prefix("==") {
        (true, l)
    } else if let Some(l) = rest.strip_prefix("!=") {
        (false, l)
    } else {
        return None;
    };
    let lit = lit.strip_prefix('"')?.strip_suffix('"')?;
    let method = KNOWN_METHODS.into_iter().find(|m| *m == lit)?;
    let truth = |b: bool| if b { "pass" } else { "fail" };
    Some(AuthMethodCheck {
        no_plan,
        method,
        if_equal: truth(equal != negated),
        otherwise: truth(equal == negated),
    })
}

#[cfg(test)]
mod expression_tests {
    use super::{AuthMethodCheck, auth_method_check};

    #[test]
    fn auth_method_checks() {
        let stock = "flow_plan = request.context.get(\"flow_plan\")\nif not flow_plan:\n    return True\n# skip MFA after a passkey\nreturn not (flow_plan.context.get(\"auth_method\") == \"auth_webauthn_pwl\")\n";
        assert_eq!(
            auth_method_check(stock),
            Some(AuthMethodCheck {
                no_plan: "pass",
                method: "auth_webauthn_pwl",
                if_equal: "fail",
                otherwise: "pass",
            })
        );
        let eq = "plan = request.context.get('flow_plan')\nif not plan:\n  return False\nreturn plan.context.get('auth_method') == 'auth_webauthn_pwl'";
        assert_eq!(
            auth_method_check(eq).map(|c| (c.no_plan, c.if_equal, c.otherwise)),
            Some(("fail", "pass", "fail"))
        );
        // A method whose setters bindlog does not know, or another shape: not recognised.
        assert_eq!(
            auth_method_check(&stock.replace("auth_webauthn_pwl", "password")),
            None
        );
        assert_eq!(
            auth_method_check(&stock.replace("if not flow_plan", "if flow_plan")),
            None
        );
    }
}
