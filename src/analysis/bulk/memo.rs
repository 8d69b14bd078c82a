//! Component evaluations remembered from one evaluation by scope for the next.
//!
//! `diff` evaluates two configurations that mostly agree: a change to one binding leaves
//! every other flow's and application's components as they were. Each component's results are
//! kept under a digest (SHA-256) of everything its evaluation reads: the rules, the facts no
//! component owns, which relations are given and kept, the component's own facts (and its
//! flow's, for a stage), the layout it answers into, the objects each scope owns, and each
//! local class's representative with all its rows. A component whose digest the first side
//! left is not evaluated again; any difference in what it reads gives another digest.

use super::{Codes, Layout, Slot};
use crate::analysis::classes::Classes;
use crate::analysis::components::{Components, Part};
use crate::datalog::Rules;
use crate::datalog::ir::Ty;
use crate::datalog::value::Interner;
use crate::facts::{FactSet, Value};
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use sha2::{Digest as _, Sha256};
use std::sync::Mutex;

/// One component's results: its answers, the rows gathered from it and, for an application,
/// the bindings deciding for each local class.
pub(super) type Done = (
    Codes,
    Option<crate::analysis::scoped::PartRows>,
    Option<Vec<Vec<String>>>,
);

/// Component results kept by digest, shared by the evaluations given it (see the module
/// documentation). Results are only ever added: a memo may be shared between threads.
#[derive(Default)]
pub struct Memo {
    done: Mutex<FxHashMap<[u8; 32], Done>>,
    /// How many evaluations were taken from the memo.
    found: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for Memo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Memo({} components, {} found)", self.len(), self.found())
    }
}

impl Memo {
    /// How many components' results it holds.
    pub fn len(&self) -> usize {
        self.done.lock().map_or(0, |d| d.len())
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many component evaluations were taken from it instead of evaluated.
    pub fn found(&self) -> usize {
        self.found.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The results kept under `digest`.
    pub(super) fn get(&self, digest: &[u8; 32]) -> Option<Done> {
        let done = self.done.lock().ok()?.get(digest).cloned();
        if done.is_some() {
            self.found
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        done
    }

    /// Keeps `done` under `digest`.
    pub(super) fn put(&self, digest: [u8; 32], done: &Done) {
        if let Ok(mut d) = self.done.lock() {
            d.entry(digest).or_insert_with(|| done.clone());
        }
    }
}

/// A digest being written: every piece is written with its length, so no two sequences of
/// pieces write the same bytes.
#[derive(Clone)]
struct Digest(Sha256);

impl Digest {
    fn new(what: &str) -> Digest {
        let mut d = Digest(Sha256::new());
        d.text(what);
        d
    }
    fn number(&mut self, n: u64) {
        self.0.update(n.to_le_bytes());
    }
    fn text(&mut self, s: &str) {
        self.number(s.len() as u64);
        self.0.update(s.as_bytes());
    }
    fn flags(&mut self, flags: &[bool]) {
        self.number(flags.len() as u64);
        self.0
            .update(flags.iter().map(|f| u8::from(*f)).collect::<Vec<u8>>());
    }
    fn value(&mut self, v: &Value) {
        match v {
            Value::Sym(s) => {
                self.number(0);
                self.text(s);
            }
            Value::Num(n) => {
                self.number(1);
                self.number(u64::from(*n as u32));
            }
        }
    }
    fn facts(&mut self, facts: &FactSet) {
        self.number(facts.relations.len() as u64);
        for (name, rows) in &facts.relations {
            self.text(name);
            self.number(rows.len() as u64);
            for row in rows {
                self.number(row.len() as u64);
                for v in row {
                    self.value(v);
                }
            }
        }
    }
    fn digest(&mut self, d: &[u8; 32]) {
        self.0.update(d);
    }
    fn finish(self) -> [u8; 32] {
        self.0.finalize().into()
    }
}

/// What every component's evaluation reads alike.
pub(super) struct Common<'a> {
    pub rules: &'a Rules,
    pub comps: &'a Components,
    pub layout: &'a Layout,
    /// Per relation, how the evaluations treat it: given to components, to applications' and
    /// to stages' evaluations, kept from each, needed, shared.
    pub flags: [&'a [bool]; 6],
    /// The relations gathered, and the columns of each that may hold a user.
    pub gathered: Option<(&'a [usize], &'a [Vec<bool>])>,
    /// Scope of each object a flow or application owns, by the scope's name.
    pub scopes: Option<(&'a std::collections::HashMap<String, usize>, &'a [String])>,
    pub deciders: bool,
}

/// Per component, the digest of what its evaluation reads (see the module documentation).
#[allow(clippy::too_many_arguments)]
pub(super) fn digests(
    common: &Common<'_>,
    snapshot: &Snapshot,
    classes: &Classes,
    class_rows: &[Vec<(usize, Vec<u32>)>],
    symbols: &Interner,
    slots: &[Slot],
    wanted: &[bool],
    first: &[Vec<u32>],
) -> Vec<[u8; 32]> {
    let program = &common.rules.program;
    // The rules, the facts no component owns, and how the evaluations are set up.
    let mut all = Digest::new("bindlog components");
    all.text(&format!(
        "{:?}{:?}{:?}",
        program.relations, program.clauses, program.strata
    ));
    all.number(program.symbols.len() as u64);
    for id in 0..program.symbols.len() as u32 {
        all.text(program.symbols.resolve(id));
    }
    all.facts(&common.comps.global);
    for flags in common.flags {
        all.flags(flags);
    }
    match common.gathered {
        Some((rels, users)) => {
            all.number(rels.len() as u64);
            for &r in rels {
                all.number(r as u64);
                all.flags(&users[r]);
            }
        }
        None => all.number(u64::MAX),
    }
    match common.scopes {
        Some((scope_of, names)) => {
            let mut owned: Vec<(&str, &str)> = scope_of
                .iter()
                .map(|(o, s)| (o.as_str(), names[*s].as_str()))
                .collect();
            owned.sort_unstable();
            all.number(owned.len() as u64);
            for (o, s) in owned {
                all.text(o);
                all.text(s);
            }
        }
        None => all.number(u64::MAX),
    }
    all.number(u64::from(common.deciders));
    let all = all.finish();
    // Each flow: its facts, which stage owns which of its objects, how it is entered.
    let flows: Vec<[u8; 32]> = common
        .comps
        .flows
        .par_iter()
        .map(|f| {
            let mut d = Digest::new("flow");
            d.text(&f.pk);
            d.facts(&f.facts);
            let mut objects: Vec<(&String, &usize)> = f.stage_objects.iter().collect();
            objects.sort_unstable();
            d.number(objects.len() as u64);
            for (pk, c) in objects {
                d.text(pk);
                part(&mut d, common.comps, *c);
            }
            d.finish()
        })
        .collect();
    // Each identity class: its representative and every row the components are given of it.
    let types: Vec<&[Ty]> = program
        .relations
        .iter()
        .map(|r| r.types.as_slice())
        .collect();
    let by_class: Vec<[u8; 32]> = class_rows
        .par_iter()
        .enumerate()
        .map(|(k, rows)| {
            let mut d = Digest::new("class");
            d.text(&snapshot.users[classes.representative[k]].pk.to_string());
            d.number(rows.len() as u64);
            for (r, row) in rows {
                d.text(&program.relations[*r].name);
                for (v, ty) in row.iter().zip(types[*r]) {
                    match ty {
                        Ty::Symbol => d.text(symbols.resolve(*v)),
                        _ => d.number(u64::from(*v)),
                    }
                }
            }
            d.finish()
        })
        .collect();
    let layout = common.layout;
    (0..common.comps.parts.len())
        .into_par_iter()
        .map(|c| {
            let mut d = Digest::new("component");
            d.digest(&all);
            part(&mut d, common.comps, c);
            if let Part::Stage { flow, .. } = &common.comps.parts[c] {
                d.digest(&flows[*flow]);
            }
            d.facts(&common.comps.owned[c]);
            d.number(u64::from(wanted[c]));
            match slots[c] {
                Slot::Flow(f) | Slot::Stage(f, _) => {
                    let flow = &layout.flows[f];
                    d.text(&flow.pk);
                    d.text(flow.entry);
                    let read = match slots[c] {
                        Slot::Stage(_, Some(x)) => x..x + 1,
                        Slot::Stage(_, None) => 0..0,
                        _ => flow.stages.clone(),
                    };
                    d.number(read.len() as u64);
                    for x in &layout.stages[read] {
                        d.text(&x.pk);
                    }
                }
                Slot::App(a) => {
                    d.text("app");
                    d.text(&layout.apps[a].pk);
                }
                Slot::None => d.text("none"),
            }
            d.number(slots[c].width(layout) as u64);
            d.number(first[c].len() as u64);
            for k in &first[c] {
                d.digest(&by_class[*k as usize]);
            }
            d.finish()
        })
        .collect()
}

/// Writes a component's part, without indices.
fn part(d: &mut Digest, comps: &Components, c: usize) {
    match &comps.parts[c] {
        Part::Stage { flow, binding } => {
            d.text("stage");
            d.text(&comps.flows[*flow].pk);
            match binding {
                Some(b) => d.text(b),
                None => d.number(u64::MAX),
            }
        }
        Part::App(pk) => {
            d.text("app");
            d.text(pk);
        }
        Part::Target(pk) => {
            d.text("target");
            d.text(pk);
        }
    }
}
