//! Bindings whose outcome is left to run time, and how many users each concerns
//! (`bindlog deferred`).
//!
//! What counts as deferred, and why, is the rules' (`rules/authentik/deferral.dl`): `deferred`
//! for a flow's and its stages' bindings, `open_binding` for an application's. A binding left to
//! run time *decides* a subject's answer only where that answer is unknown (`applicable`,
//! `visible`, `decide`): where another binding already passes (mode any) or fails (mode all), it
//! changes nothing. This module counts, per binding and reason, the users whose answer waits on
//! it and the users it is evaluated for.
//!
//! [`Deferral::of_model`] reads any model that answers those relations for every user, one row
//! per user or per class: the reference. [`Deferral::everyone`] reads the same relations as the
//! built-in rules' component evaluations gather them, local class by local class, each weighed
//! by the users it holds: no scope classes and no second evaluation of the whole program, which
//! is what every other every-user command needs. A row is counted in the component that owns
//! its binding (a stage binding's component for the bindings on that stage binding, the flow's
//! first component for the flow's own bindings and its gate, which every component of the flow
//! derives alike), so that no user is counted twice.

use super::bulk::{self, Options};
use super::classes::{KeyContext, without_users};
use super::components::Part;
use super::scoped::{Collect, Row, scopes_of};
use super::views::columns;
use super::views::{ANON, Applicable, Binding, Decide, Deferred, OpenBinding, Visible};
use super::{Labels, Model, Subjects};
use crate::facts::Value;
use crate::snapshot::Snapshot;
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// A binding left to run time: `"flow"` or `"application"`, that object's slug, the binding
/// (`""` for a flow's gate: no binding is to blame) and the reason the rules give.
pub type Key = (&'static str, String, String, String);

/// Whom a binding left to run time concerns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Concerns {
    /// Users whose answer waits on it.
    pub waiting: u64,
    /// Users it is evaluated for: those, and those for whom another binding already decides.
    pub evaluated: u64,
    /// Whether the anonymous visitor's answer waits on it.
    pub anonymous: bool,
}

/// Every binding left to run time, by flow and application.
pub struct Deferral {
    /// Per binding and reason, whom it concerns (in key order: applications, then flows, each
    /// by slug, binding and reason).
    pub bindings: BTreeMap<Key, Concerns>,
    /// Names of the bindings and objects (no users).
    pub labels: Labels,
}

// The columns read, by name.
const DEFERRED: [usize; 5] = columns::<Deferred, 5>(["flow", "entry", "subject", "binding", "why"]);
const OPEN: [usize; 5] =
    columns::<OpenBinding, 5>(["target", "identity", "context", "binding", "why"]);
const DECIDE: [usize; 4] = columns::<Decide, 4>(["target", "identity", "context", "value"]);
const VISIBLE: [usize; 4] = columns::<Visible, 4>(["binding", "entry", "subject", "value"]);
const APPLICABLE: [usize; 4] = columns::<Applicable, 4>(["flow", "entry", "subject", "value"]);

/// What the configuration says, users aside: the names and targets the counts are read with.
struct Names {
    /// Flow pk -> slug.
    flows: BTreeMap<String, String>,
    /// Flow pk -> the entry users take into it.
    entries: BTreeMap<String, String>,
    /// Application pk -> slug.
    apps: BTreeMap<String, String>,
    /// Binding pk -> its target.
    target_of: BTreeMap<String, String>,
}

impl Names {
    fn of(model: &Model) -> Names {
        Names {
            flows: model.names("flow", "slug"),
            entries: model.names("default_entry", "e"),
            apps: model.names("application", "slug"),
            target_of: model
                .view::<Binding>()
                .into_iter()
                .map(|r| (r.binding, r.target))
                .collect(),
        }
    }
}

/// One subject's rows of the five relations, as text: enough to say which bindings are left
/// to run time for it and whether its answers wait on them.
#[derive(Default)]
struct Rows<'r> {
    /// `deferred`: (flow, entry, binding, why).
    deferred: Vec<[&'r str; 4]>,
    /// `open_binding`: (target, context, binding, why).
    open: Vec<[&'r str; 4]>,
    /// Unknown `decide` rows: (target, context).
    decide_unknown: FxHashSet<(&'r str, &'r str)>,
    /// Unknown `visible` and `applicable` rows: (stage binding or flow, entry).
    shown_unknown: FxHashSet<(&'r str, &'r str)>,
}

impl<'r> Rows<'r> {
    /// Adds a row of `rel` (`subject` at its user column, the others given).
    fn add(&mut self, rel: &str, r: &[&'r str]) {
        match rel {
            "deferred" => {
                let [f, e, _, b, w] = DEFERRED;
                self.deferred.push([r[f], r[e], r[b], r[w]]);
            }
            "open_binding" => {
                let [t, _, c, b, w] = OPEN;
                self.open.push([r[t], r[c], r[b], r[w]]);
            }
            "decide" => {
                let [t, _, c, v] = DECIDE;
                if r[v] == "unknown" {
                    self.decide_unknown.insert((r[t], r[c]));
                }
            }
            "visible" => {
                let [x, e, _, v] = VISIBLE;
                if r[v] == "unknown" {
                    self.shown_unknown.insert((r[x], r[e]));
                }
            }
            "applicable" => {
                let [f, e, _, v] = APPLICABLE;
                if r[v] == "unknown" {
                    self.shown_unknown.insert((r[f], r[e]));
                }
            }
            _ => {}
        }
    }

    /// The bindings left to run time for this subject, each with whether its answer waits on
    /// it and the flow or application the row is about; `flow_row(flow, binding)` says which
    /// of the `deferred` rows to count here.
    fn concerns(
        &self,
        names: &Names,
        flow_row: impl Fn(&str, &str) -> bool,
        anonymous: bool,
    ) -> BTreeMap<Key, (bool, &'r str)> {
        let mut out: BTreeMap<Key, (bool, &'r str)> = BTreeMap::new();
        for &[flow, entry, binding, why] in &self.deferred {
            if names.entries.get(flow).map(String::as_str) != Some(entry)
                || !flow_row(flow, binding)
            {
                continue;
            }
            let slug = names.flows.get(flow).cloned().unwrap_or_default();
            // The binding's target: the flow itself (or its gate, for no binding), or a stage
            // binding.
            let target = names.target_of.get(binding).map_or(flow, String::as_str);
            let waits = self.shown_unknown.contains(&(target, entry));
            let e = out
                .entry(("flow", slug, binding.into(), why.into()))
                .or_insert((false, flow));
            e.0 |= waits;
        }
        if anonymous {
            return out;
        }
        for &[target, context, binding, why] in &self.open {
            if let Some(slug) = names.apps.get(target)
                && context == "app"
            {
                let waits = self.decide_unknown.contains(&(target, context));
                let e = out
                    .entry(("application", slug.clone(), binding.into(), why.into()))
                    .or_insert((false, target));
                e.0 |= waits;
            }
        }
        out
    }
}

/// Adds one subject's bindings (from [`Rows::concerns`]), `weight(object)` users where a
/// row is about `object`; for the anonymous visitor, only whether its answer waits.
fn count<'r>(
    bindings: &mut BTreeMap<Key, Concerns>,
    concerns: BTreeMap<Key, (bool, &'r str)>,
    weight: impl Fn(&'r str) -> u64,
    anonymous: bool,
) {
    for (key, (waits, object)) in concerns {
        let c = bindings.entry(key).or_default();
        if anonymous {
            c.anonymous |= waits;
        } else {
            let w = weight(object);
            c.evaluated += w;
            if waits {
                c.waiting += w;
            }
        }
    }
}

/// The relations a deferral reads.
pub const READ: [&str; 5] = [
    "deferred",
    "open_binding",
    "decide",
    "visible",
    "applicable",
];

/// The subject's column of each relation of [`READ`], in its order.
const SUBJECT_AT: [usize; 5] = [DEFERRED[2], OPEN[1], DECIDE[1], VISIBLE[2], APPLICABLE[2]];

impl Deferral {
    /// From a model answering `deferred`, `open_binding`, `decide`, `visible` and
    /// `applicable` for every user: one row per user ([`Model::new`] with [`Subjects::All`],
    /// the reference) or per class, each subject weighed by [`Model::weight_in`].
    pub fn of_model(model: &Model) -> Deferral {
        let names = Names::of(model);
        let mut by_subject: BTreeMap<&str, Rows> = BTreeMap::new();
        for (rel, at) in READ.into_iter().zip(SUBJECT_AT) {
            model.each_symbol_row(rel, |r| by_subject.entry(r[at]).or_default().add(rel, r));
        }
        let mut bindings = BTreeMap::new();
        for (subject, rows) in &by_subject {
            let anonymous = *subject == ANON;
            let concerns = rows.concerns(&names, |_, _| true, anonymous);
            // A class's size differs from one flow or application to the next.
            let weight = |object: &str| model.weight_in(object, subject);
            count(&mut bindings, concerns, weight, anonymous);
        }
        Deferral {
            bindings,
            labels: model.labels_of(|_| false),
        }
    }

    /// For every user of `snapshot`: the built-in rules evaluated component by component,
    /// their rows read once per local class and weighed by the users it holds (see the module
    /// documentation); the anonymous visitor's rows and the names from the configuration
    /// without its users. `None` where a gathered row holds a placeholder for a user's value
    /// (the caller then reads a model of every user instead).
    pub fn everyone(snapshot: &Snapshot) -> Result<Option<Deferral>, String> {
        let start = std::time::Instant::now();
        let config = Model::new(&without_users(snapshot), &Subjects::Only(Vec::new()))?;
        let names = Names::of(&config);
        bulk::timing("deferral: the configuration", start);
        let builtin = bulk::builtin_rules()?;
        let program = &builtin.program;
        let ctx = KeyContext::new(snapshot, program);
        bulk::timing("deferral: key context", start);
        let classes = ctx.classes(4096);
        bulk::timing("deferral: identity classes", start);
        let (scope_of, scope_names, _) = scopes_of(&ctx);
        let per_user: Vec<bool> = program
            .relations
            .iter()
            .map(|r| super::PER_USER.contains(&r.name.as_str()))
            .collect();
        let rels: Vec<usize> = READ.iter().filter_map(|r| program.relation(r)).collect();
        let collect = Collect {
            rels,
            users: super::population::user_columns(program, &per_user),
            scope_of: &scope_of,
            names: &scope_names,
            targets: false,
        };
        let mut layout = bulk::Layout::of(snapshot);
        let run = bulk::by_component(
            snapshot,
            &builtin,
            &ctx,
            &classes,
            &mut layout,
            Options::default(),
            &|_| {},
            Some(&collect),
        )?;
        let gathered = run.gathered.ok_or("no rows were gathered")?;
        bulk::timing("deferral: components", start);
        let local = &gathered.local;
        // Users per base (what every component sees of a class), then per local class.
        let bases = local.base.iter().max().map_or(0, |b| *b as usize + 1);
        let mut per_base = vec![0u64; bases];
        for (k, b) in local.base.iter().enumerate() {
            per_base[*b as usize] += u64::from(classes.members[k]);
        }
        let comps = &ctx.components;
        // The component that counts a flow's row about `binding`: the stage binding's that owns
        // it, else the flow's first.
        let mut first_of: FxHashMap<&str, usize> = FxHashMap::default();
        let mut stage_owner: FxHashMap<&str, usize> = FxHashMap::default();
        for flow in &comps.flows {
            if let Some(c) = flow.parts.first() {
                first_of.insert(&flow.pk, *c);
            }
            for (pk, c) in &flow.stage_objects {
                stage_owner.insert(pk, *c);
            }
        }
        let mut bindings: BTreeMap<Key, Concerns> = BTreeMap::new();
        for (c, part) in gathered.parts.iter().enumerate() {
            if matches!(comps.parts[c], Part::Target(_)) || part.sig_of.is_empty() {
                continue;
            }
            // Users per local class, then per row set.
            let by_base = &local.by_base[c];
            let mut per_local = vec![0u64; local.first[c].len()];
            for (b, l) in by_base.iter().enumerate() {
                if let Some(w) = per_local.get_mut(*l as usize) {
                    *w += per_base[b];
                }
            }
            for &(k, l) in &local.more[c] {
                let m = u64::from(classes.members[k as usize]);
                per_local[l as usize] += m;
                let from = by_base.get(local.base[k as usize] as usize);
                if let Some(w) = from.and_then(|f| per_local.get_mut(*f as usize)) {
                    *w -= m;
                }
            }
            let mut per_sig = vec![0u64; part.sigs.len()];
            for (l, s) in part.sig_of.iter().enumerate() {
                per_sig[*s as usize] += per_local[l];
            }
            let here = |flow: &str, binding: &str| {
                stage_owner
                    .get(binding)
                    .or_else(|| first_of.get(flow))
                    .is_some_and(|o| *o == c)
            };
            for (sig, weight) in part.sigs.iter().zip(per_sig) {
                let Some(rows) = spelled(sig, program) else {
                    return Ok(None);
                };
                let mut one = Rows::default();
                for (rel, r) in &rows {
                    one.add(rel, r);
                }
                count(
                    &mut bindings,
                    one.concerns(&names, here, false),
                    |_| weight,
                    false,
                );
            }
        }
        // The anonymous visitor, from the configuration's own evaluation.
        let mut anon = Rows::default();
        for (rel, at) in READ.into_iter().zip(SUBJECT_AT) {
            config.each_symbol_row(rel, |r| {
                if r[at] == ANON {
                    anon.add(rel, r);
                }
            });
        }
        count(
            &mut bindings,
            anon.concerns(&names, |_, _| true, true),
            |_| 1,
            true,
        );
        bulk::timing("deferral: counted", start);
        Ok(Some(Deferral {
            bindings,
            labels: config.labels_of(|_| false),
        }))
    }
}

/// A row set's rows as text, each with its relation's name; `None` where a value holds a
/// placeholder for a user's value (which the row set's users may not share).
fn spelled<'r>(
    sig: &'r [Row],
    program: &'r crate::datalog::ir::Program,
) -> Option<Vec<(&'r str, Vec<&'r str>)>> {
    sig.iter()
        .map(|(rel, values)| {
            let texts = values
                .iter()
                .map(|v| match v {
                    Value::Sym(s) if super::population::has_placeholder(s) => None,
                    Value::Sym(s) => Some(s.as_str()),
                    Value::Num(_) => Some(""),
                })
                .collect::<Option<Vec<&str>>>()?;
            Some((program.relations[*rel].name.as_str(), texts))
        })
        .collect()
}
