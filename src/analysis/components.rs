//! Components: the parts of a configuration the rules answer independently of each other.
//!
//! A flow's answers (whether it applies, which of its stages are shown) come from the flow, its
//! stage bindings and the policy bindings on them; an application's access from the application
//! and its bindings. Nothing about one flow is read by the rules to answer for another: every
//! rule joins a binding to its own target, a stage binding to its own flow. So each component
//! can be evaluated with the facts *owned* by it (facts whose first column is the component's
//! flow, stage binding, application, entitlement or binding) plus the facts owned by none (groups,
//! stages, policies, sources, brands, settings), and without the other components' facts.
//!
//! A flow is split further, one component per stage binding: a stage's visibility for a user
//! reads the user's decisions on the flow and on that stage binding only. A stage binding and
//! the bindings on it belong to its own component; the flow and the bindings on the flow to all
//! of the flow's components. What the rules read across a flow's stages is derived once per flow
//! with all its facts and no users, and given to each stage's evaluation: every relation that is
//! the same for all users (which stage may set `auth_method` before another, whether a restart
//! keeps the context), and the relations only the anonymous visitor reads the other stages for
//! ([`ANONYMOUS`]: which identification stage the visitor is shown first). A derived row belongs
//! to the object in its first column like a fact, so a stage's evaluation gets the rows of its
//! own objects and of the flow, not those of the other stages. The property test in
//! `tests/it/bulk.rs` holds the result to a per-user evaluation of everything.
//!
//! The other binding targets (notification rules, RAC endpoints, sources, device access groups
//! with their devices) are components too, evaluated only for the every-user target counts:
//! were their bindings owned by none, every group and user they name would tell users apart in
//! every flow and application.
//!
//! Two more savings follow. Relations whose rules read only unowned, user-independent facts
//! (the group hierarchy, each policy's static result) are derived once and handed to every
//! component's evaluation as given. And within a component, users who differ only in groups
//! the component never names get the same answers (see [`super::classes`]).

use crate::datalog::ir::{Arg, Atom, Clause, Lit, Program, Ty};
use crate::facts::{FactSet, Value};
use crate::snapshot::Snapshot;
use rustc_hash::FxHashMap;
use std::collections::HashMap;

/// The relations of `flows.dl` that read the flow's other stage bindings, only ever for the
/// anonymous visitor: derived per flow with all its facts, given to each stage's evaluation.
/// (The relations that are the same for every user need no list: they are found from the rules.)
pub const ANONYMOUS: [&str; 5] = [
    "anon_part",
    "anon_visible",
    "first_ident",
    "identified_before",
    "maybe_identified_before",
];

/// What a component answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// One stage binding (its pk) of a flow (index into [`Components::flows`]), or the flow
    /// alone when it has no stage binding.
    Stage {
        /// The flow.
        flow: usize,
        /// The stage binding.
        binding: Option<String>,
    },
    /// An application (its pk) and its entitlements.
    App(String),
    /// One of the other binding targets (the pk of the first object it answers for): a
    /// notification rule, a RAC endpoint, a source, a device access group with its devices, or
    /// the devices in no access group. Only the every-user target counts read them.
    Target(String),
}

/// A flow with all its facts, split into its stages' components.
#[derive(Debug, Default)]
pub struct Flow {
    /// The flow's pk.
    pub pk: String,
    /// Every fact the flow owns (its stage bindings' and all their bindings' too).
    pub facts: FactSet,
    /// Its components (indices into [`Components::parts`]).
    pub parts: Vec<usize>,
    /// The objects owned by one of its stages (stage bindings, the policy bindings on them):
    /// pk -> the stage's component.
    pub stage_objects: HashMap<String, usize>,
}

/// The configuration's facts split into components.
#[derive(Debug, Default)]
pub struct Components {
    /// Each component: the stages of each flow in snapshot order, then applications.
    pub parts: Vec<Part>,
    /// The flows.
    pub flows: Vec<Flow>,
    /// Facts owned by no component, read by every evaluation.
    pub global: FactSet,
    /// Facts owned by each component.
    pub owned: Vec<FactSet>,
}

/// Who owns the object with some pk.
#[derive(Clone, Copy, Debug)]
enum Owner {
    /// The flow itself or a binding on the flow: every component of the flow.
    Flow(usize),
    /// A stage binding or a binding on it: that stage's component (and the flow's facts).
    Stage(usize, usize),
    /// An application's component, or another binding target's.
    App(usize),
}

impl Components {
    /// Splits `facts` (the snapshot's facts without its users) by owner.
    pub fn split<'a>(snapshot: &'a Snapshot, facts: FactSet) -> Components {
        let mut parts = Vec::new();
        let mut flows: Vec<Flow> = Vec::new();
        let mut owner: FxHashMap<&'a str, Owner> = FxHashMap::default();
        for (i, f) in snapshot.flows.iter().enumerate() {
            owner.insert(&f.pk, Owner::Flow(i));
            flows.push(Flow {
                pk: f.pk.to_string(),
                ..Flow::default()
            });
        }
        for x in &snapshot.flow_bindings {
            if let Some(&Owner::Flow(f)) = owner.get(&*x.target) {
                owner.insert(&x.pk, Owner::Stage(f, parts.len()));
                flows[f].parts.push(parts.len());
                parts.push(Part::Stage {
                    flow: f,
                    binding: Some(x.pk.to_string()),
                });
            }
        }
        for (f, flow) in flows.iter_mut().enumerate() {
            if flow.parts.is_empty() {
                flow.parts.push(parts.len());
                parts.push(Part::Stage {
                    flow: f,
                    binding: None,
                });
            }
        }
        for a in &snapshot.applications {
            owner.insert(&a.pk, Owner::App(parts.len()));
            parts.push(Part::App(a.pk.to_string()));
        }
        // The other binding targets: each its own component, so that the groups and users their
        // bindings name tell users apart there only. A device is answered with its access
        // group (`device_access` joins the two); the devices in none share one component.
        let mut target = |pk: &'a str, parts: &mut Vec<Part>| {
            owner.insert(pk, Owner::App(parts.len()));
            parts.push(Part::Target(pk.to_string()));
        };
        for r in &snapshot.notification_rules {
            target(&r.pk, &mut parts);
        }
        for e in &snapshot.rac_endpoints {
            target(&e.pk, &mut parts);
        }
        for g in &snapshot.device_access_groups {
            target(&g.pk, &mut parts);
        }
        let mut lone = None;
        for d in &snapshot.devices {
            let o = match d.access_group.as_deref().and_then(|g| owner.get(g)) {
                Some(o) => *o,
                None => *lone.get_or_insert_with(|| {
                    parts.push(Part::Target(d.pk.to_string()));
                    Owner::App(parts.len() - 1)
                }),
            };
            owner.insert(&d.pk, o);
        }
        for e in &snapshot.entitlements {
            if let Some(&o) = owner.get(&*e.app) {
                owner.insert(&e.pk, o);
            }
        }
        // A source's own facts stay unowned: a flow reads them (whether it is entered through a
        // source login); only the bindings on it are its component's.
        let mut of_source: FxHashMap<&str, Owner> = FxHashMap::default();
        for x in &snapshot.sources {
            of_source.insert(&x.pk, Owner::App(parts.len()));
            parts.push(Part::Target(x.pk.to_string()));
        }
        for b in &snapshot.policy_bindings {
            if let Some(&o) = owner.get(&*b.target).or_else(|| of_source.get(&*b.target)) {
                owner.insert(&b.pk, o);
            }
        }
        for (pk, o) in &owner {
            if let Owner::Stage(f, c) = o {
                flows[*f].stage_objects.insert(pk.to_string(), *c);
            }
        }
        let mut global = FactSet::default();
        let mut owned: Vec<FactSet> = (0..parts.len()).map(|_| FactSet::default()).collect();
        for (rel, rows) in facts.relations {
            for row in rows {
                let o = match row.first() {
                    Some(Value::Sym(s)) => owner.get(s.as_str()).copied(),
                    _ => None,
                };
                // The row is moved to its last set and copied to the others.
                let put = |set: &mut FactSet, row: Vec<Value>| match set.relations.get_mut(&rel) {
                    Some(rows) => rows.push(row),
                    None => {
                        set.relations.insert(rel.clone(), vec![row]);
                    }
                };
                match o {
                    None => put(&mut global, row),
                    Some(Owner::App(c)) => put(&mut owned[c], row),
                    Some(Owner::Stage(f, c)) => {
                        put(&mut owned[c], row.clone());
                        put(&mut flows[f].facts, row);
                    }
                    Some(Owner::Flow(f)) => {
                        for &c in &flows[f].parts {
                            put(&mut owned[c], row.clone());
                        }
                        put(&mut flows[f].facts, row);
                    }
                }
            }
        }
        Components {
            parts,
            flows,
            global,
            owned,
        }
    }

    /// How many components there are.
    pub fn len(&self) -> usize {
        self.parts.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }
}

/// The relations of `program` that are the same in every component's evaluation: those whose
/// rules read only relations with no owned or per-user rows (`varying` marks the input
/// relations that have such rows). Indexed by relation id.
pub fn shared_relations(program: &Program, varying: &[bool]) -> Vec<bool> {
    let mut shared: Vec<bool> = varying.iter().map(|v| !v).collect();
    loop {
        let mut changed = false;
        for clause in &program.clauses {
            let head = clause.head.rel;
            if shared[head] && !reads_only(&clause.body, &shared) {
                shared[head] = false;
                changed = true;
            }
        }
        if !changed {
            return shared;
        }
    }
}

/// The relations of `program` whose rows may differ from one user to another: those with
/// per-user input rows (`per_user`, indexed by relation id) and those whose rules read one.
pub fn user_dependent(program: &Program, per_user: &[bool]) -> Vec<bool> {
    shared_relations(program, per_user)
        .into_iter()
        .map(|s| !s)
        .collect()
}

fn reads_only(body: &[Lit], shared: &[bool]) -> bool {
    body.iter().all(|lit| match lit {
        Lit::Pos(a) | Lit::Neg(a) => shared[a.rel],
        Lit::Agg { body, .. } => reads_only(body, shared),
        _ => true,
    })
}

/// The relations derived for one user at a time, indexed by relation id. Each rule of such a
/// relation names the user in its head's first column and reads, besides relations that are the
/// same for everyone (`shared`), only rows of that same user, by their first column: per-user
/// input rows (`per_user`) or another such relation, at least one of them positively. It makes
/// no symbol (no symbol-valued assignment) and has no aggregate. So a user's rows follow from
/// the user's own facts and the shared relations alone, whatever else an evaluation holds
/// (group membership through the hierarchy, superuser rights): derived once per identity class,
/// they are given to every component's evaluation instead of derived again per local class.
pub fn per_user_derived(program: &Program, per_user: &[bool], shared: &[bool]) -> Vec<bool> {
    let mut derived: Vec<bool> = (0..program.relations.len())
        .map(|r| {
            !per_user[r]
                && !shared[r]
                && program.relations[r].input.is_none()
                && program.clauses.iter().any(|c| c.head.rel == r)
        })
        .collect();
    loop {
        let mut changed = false;
        for clause in &program.clauses {
            let head = clause.head.rel;
            if derived[head] && !for_one_user(clause, per_user, shared, &derived) {
                derived[head] = false;
                changed = true;
            }
        }
        if !changed {
            return derived;
        }
    }
}

/// Whether `clause` derives rows of one user from that user's rows (see [`per_user_derived`]).
fn for_one_user(clause: &Clause, per_user: &[bool], shared: &[bool], derived: &[bool]) -> bool {
    let Some(Arg::Var(user)) = clause.head.args.first() else {
        return false;
    };
    let of_user = |a: &Atom| {
        (per_user[a.rel] || derived[a.rel])
            && matches!(a.args.first(), Some(Arg::Var(v)) if v == user)
    };
    let mut reads_user = false;
    for lit in &clause.body {
        match lit {
            Lit::Pos(a) if of_user(a) => reads_user = true,
            Lit::Pos(a) | Lit::Neg(a) if !shared[a.rel] && !of_user(a) => return false,
            Lit::Assign { var, .. } if clause.var_types[*var] == Ty::Symbol => return false,
            Lit::Agg { .. } => return false,
            _ => {}
        }
    }
    reads_user
}

/// The relations `outputs` are derived from (themselves included), indexed by relation id.
pub fn needed_for(program: &Program, outputs: &[usize]) -> Vec<bool> {
    let mut needed = vec![false; program.relations.len()];
    let mut stack: Vec<usize> = outputs.to_vec();
    while let Some(r) = stack.pop() {
        if std::mem::replace(&mut needed[r], true) {
            continue;
        }
        for clause in program.clauses.iter().filter(|c| c.head.rel == r) {
            read_by(&clause.body, &mut stack);
        }
    }
    needed
}

/// Pushes the relations `body` reads (inside aggregates too) onto `out`.
pub(crate) fn read_by(body: &[Lit], out: &mut Vec<usize>) {
    for lit in body {
        match lit {
            Lit::Pos(a) | Lit::Neg(a) => out.push(a.rel),
            Lit::Agg { body, .. } => read_by(body, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::per_user_derived;
    use crate::datalog::Rules;

    /// Which relations are derived once per user: those whose every rule reads, through the
    /// head's user, only that user's rows and relations the same for everyone.
    #[test]
    fn relations_derived_for_one_user_at_a_time() {
        let text = "
            .decl dm(u: symbol, g: symbol)
            .input dm
            .decl parent(c: symbol, p: symbol)
            .input parent
            .decl su(g: symbol)
            .input su
            .decl owned(g: symbol)
            .input owned
            .decl m(u: symbol, g: symbol)
            m(U, G) :- dm(U, G).
            m(U, P) :- m(U, C), parent(C, P).
            .decl s(u: symbol)
            s(U) :- m(U, G), su(G).
            .decl lone(u: symbol, g: symbol)
            lone(U, G) :- dm(U, G), !m(U, \"x\"), !su(G).
            .decl pair(u: symbol, v: symbol)
            pair(U, V) :- dm(U, G), dm(V, G).
            .decl o(u: symbol)
            o(U) :- m(U, G), owned(G).
            .decl n(u: symbol, x: symbol)
            n(U, X) :- dm(U, G), X = cat(U, G).
            .decl c(u: symbol, k: number)
            c(U, K) :- dm(U, _), K = count : { dm(U, _) }.
            .decl k(u: symbol)
            k(U) :- parent(U, _).
            .decl via(u: symbol)
            via(U) :- pair(U, _).
        ";
        let rules = Rules::from_texts(&[("t.dl", text)]).expect("the program checks");
        let p = &rules.program;
        let id = |name: &str| p.relation(name).expect(name);
        let mut per_user = vec![false; p.relations.len()];
        per_user[id("dm")] = true;
        let mut shared = vec![false; p.relations.len()];
        for r in ["parent", "su", "k"] {
            shared[id(r)] = true;
        }
        let once = per_user_derived(p, &per_user, &shared);
        let named = |yes: bool| -> Vec<&str> {
            let mut v: Vec<&str> = (0..once.len())
                .filter(|r| once[*r] == yes && !per_user[*r] && !shared[*r])
                .map(|r| p.relations[r].name.as_str())
                .collect();
            v.sort_unstable();
            v
        };
        assert_eq!(named(true), ["lone", "m", "s"]);
        assert_eq!(named(false), ["c", "n", "o", "owned", "pair", "via"]);
    }
}
