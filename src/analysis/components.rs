//! Components: the parts of a configuration the rules answer independently of each other.
//!
//! A flow's answers (whether it applies, which of its stages are shown) come from the flow, its
//! stage bindings and the policy bindings on them; an application's access from the application
//! and its bindings. Nothing about one flow is read by the rules to answer for another: every
//! rule joins a binding to its own target, a stage binding to its own flow. So each component
//! can be evaluated with the facts *owned* by it (facts whose first column is the component's
//! flow, stage binding, application, entitlement or binding) plus the facts owned by none (groups,
//! stages, policies, sources, brands, settings), and without the other components' facts. The
//! property test in `tests/it/bulk.rs` holds the result to a per-user evaluation of everything.
//!
//! Two more savings follow. Relations whose rules read only unowned, user-independent facts
//! (the group hierarchy, each policy's static result) are derived once and handed to every
//! component's evaluation as given. And within a component, users who differ only in groups
//! the component never names get the same answers (see [`super::classes`]).

use crate::datalog::ir::{Lit, Program};
use crate::facts::{FactSet, Value};
use crate::snapshot::Snapshot;
use std::collections::HashMap;

/// What a component answers for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// A flow (its pk) and its stage bindings.
    Flow(String),
    /// An application (its pk) and its entitlements.
    App(String),
}

/// The configuration's facts split into components.
#[derive(Debug, Default)]
pub struct Components {
    /// Each component: flows in snapshot order, then applications.
    pub parts: Vec<Part>,
    /// Facts owned by no component, read by every evaluation.
    pub global: FactSet,
    /// Facts owned by each component.
    pub owned: Vec<FactSet>,
    /// The owning component of each owned object's pk.
    owner: HashMap<String, u32>,
}

impl Components {
    /// Splits `facts` (the snapshot's facts without its users) by owner.
    pub fn split(snapshot: &Snapshot, facts: FactSet) -> Components {
        let mut parts = Vec::new();
        let mut owner: HashMap<String, u32> = HashMap::new();
        for f in &snapshot.flows {
            owner.insert(f.pk.to_string(), parts.len() as u32);
            parts.push(Part::Flow(f.pk.to_string()));
        }
        for a in &snapshot.applications {
            owner.insert(a.pk.to_string(), parts.len() as u32);
            parts.push(Part::App(a.pk.to_string()));
        }
        for x in &snapshot.flow_bindings {
            if let Some(&c) = owner.get(&*x.target) {
                owner.insert(x.pk.to_string(), c);
            }
        }
        for e in &snapshot.entitlements {
            if let Some(&c) = owner.get(&*e.app) {
                owner.insert(e.pk.to_string(), c);
            }
        }
        for b in &snapshot.policy_bindings {
            if let Some(&c) = owner.get(&*b.target) {
                owner.insert(b.pk.to_string(), c);
            }
        }
        let mut global = FactSet::default();
        let mut owned: Vec<FactSet> = (0..parts.len()).map(|_| FactSet::default()).collect();
        for (rel, rows) in facts.relations {
            for row in rows {
                let c = match row.first() {
                    Some(Value::Sym(s)) => owner.get(s.as_str()).copied(),
                    _ => None,
                };
                let set = match c {
                    Some(c) => &mut owned[c as usize],
                    None => &mut global,
                };
                set.relations.entry(rel.clone()).or_default().push(row);
            }
        }
        Components {
            parts,
            global,
            owned,
            owner,
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

    /// The component owning the object with this pk, if any.
    pub fn owner_of(&self, pk: &str) -> Option<u32> {
        self.owner.get(pk).copied()
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

fn reads_only(body: &[Lit], shared: &[bool]) -> bool {
    body.iter().all(|lit| match lit {
        Lit::Pos(a) | Lit::Neg(a) => shared[a.rel],
        Lit::Agg { body, .. } => reads_only(body, shared),
        _ => true,
    })
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

fn read_by(body: &[Lit], out: &mut Vec<usize>) {
    for lit in body {
        match lit {
            Lit::Pos(a) | Lit::Neg(a) => out.push(a.rel),
            Lit::Agg { body, .. } => read_by(body, out),
            _ => {}
        }
    }
}
