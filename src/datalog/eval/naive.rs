//! The reference evaluator: deliberately simple, kept forever to test the fast one against.
//! Every round re-runs every clause of the stratum over everything known so far (naive, not
//! semi-naive), until nothing new appears. It also records each tuple's proof height.

use super::{EvalError, Guard, Runtime, Source, enumerate_guarded, head_tuple};
use crate::datalog::ir::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

/// Relations as ordered maps from tuple to the height of its shortest proof (0 for input).
pub struct NaiveDb {
    /// One map per relation.
    pub rels: Vec<BTreeMap<Vec<u32>, u32>>,
    index: RefCell<HashMap<(RelId, u64), Index>>,
}

/// Tuples of one relation by the values of some of their columns.
type Index = HashMap<Vec<u32>, Vec<Vec<u32>>>;

impl NaiveDb {
    /// A database holding the given input tuples (height 0).
    pub fn new(inputs: Vec<Vec<Vec<u32>>>) -> NaiveDb {
        let rels = inputs
            .into_iter()
            .map(|rows| rows.into_iter().map(|r| (r, 0)).collect())
            .collect();
        NaiveDb {
            rels,
            index: RefCell::new(HashMap::new()),
        }
    }
    /// The height of a tuple, if it holds.
    pub fn height(&self, rel: RelId, tuple: &[u32]) -> Option<u32> {
        self.rels[rel].get(tuple).copied()
    }
}

impl Source for NaiveDb {
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32])) {
        let mask: u64 = pattern
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .fold(0, |m, (i, _)| m | (1 << (i % 64)));
        if mask == 0 {
            let rows: Vec<Vec<u32>> = self.rels[rel].keys().cloned().collect();
            rows.iter().for_each(|r| f(r));
            return;
        }
        let key: Vec<u32> = pattern.iter().flatten().copied().collect();
        let rows = {
            let mut index = self.index.borrow_mut();
            let idx = index.entry((rel, mask)).or_insert_with(|| {
                let mut m: HashMap<Vec<u32>, Vec<Vec<u32>>> = HashMap::new();
                for t in self.rels[rel].keys() {
                    let k: Vec<u32> = t
                        .iter()
                        .zip(pattern)
                        .filter(|(_, p)| p.is_some())
                        .map(|(x, _)| *x)
                        .collect();
                    m.entry(k).or_default().push(t.clone());
                }
                m
            });
            idx.get(&key).cloned().unwrap_or_default()
        };
        for r in &rows {
            if r.iter()
                .zip(pattern)
                .all(|(x, p)| p.is_none_or(|p| p == *x))
            {
                f(r);
            }
        }
    }
}

/// Evaluates the whole program naively, stratum by stratum.
pub fn evaluate(
    prog: &Program,
    rt: &Runtime,
    inputs: Vec<Vec<Vec<u32>>>,
) -> Result<NaiveDb, EvalError> {
    let mut db = NaiveDb::new(inputs);
    for stratum in &prog.strata {
        run_stratum(prog, rt, stratum, &mut db)?;
    }
    Ok(db)
}

fn run_stratum(
    prog: &Program,
    rt: &Runtime,
    stratum: &Stratum,
    db: &mut NaiveDb,
) -> Result<(), EvalError> {
    let guard = Guard::new(rt, &prog.relations[stratum.rels[0]].name);
    loop {
        guard.round(db.rels.iter().map(|r| r.len()).sum())?;
        // (relation, tuple, height) found this round, from the database as it stood.
        let mut found: Vec<(RelId, Vec<u32>, u32)> = Vec::new();
        for &ci in &stratum.clauses {
            let clause = &prog.clauses[ci];
            let arities: Vec<usize> = clause
                .body
                .iter()
                .filter_map(|l| {
                    if let Lit::Pos(a) = l {
                        Some(a.args.len())
                    } else {
                        None
                    }
                })
                .collect();
            let rels: Vec<RelId> = clause
                .body
                .iter()
                .filter_map(|l| {
                    if let Lit::Pos(a) = l {
                        Some(a.rel)
                    } else {
                        None
                    }
                })
                .collect();
            let mut env = vec![0; clause.var_names.len()];
            let mut bound = vec![false; clause.var_names.len()];
            enumerate_guarded(
                rt,
                Some(&guard),
                db,
                &clause.body,
                &mut env,
                &mut bound,
                &mut Vec::new(),
                &mut |e, witness| {
                    let mut h = 0;
                    let mut at = 0;
                    for (rel, n) in rels.iter().zip(&arities) {
                        h = h.max(db.height(*rel, &witness[at..at + n]).unwrap_or(0));
                        at += n;
                    }
                    let t = head_tuple(&clause.head, e);
                    // Every round derives again what is known; only what is new counts.
                    if db.rels[clause.head.rel].contains_key(&t) || guard.produce() {
                        found.push((clause.head.rel, t, h + 1));
                    }
                },
            );
        }
        guard.check()?;
        let mut changed = false;
        for (rel, t, h) in found {
            match db.rels[rel].get_mut(&t) {
                Some(old) if *old <= h => {}
                Some(old) => {
                    *old = h;
                    changed = true;
                }
                None => {
                    db.rels[rel].insert(t, h);
                    changed = true;
                }
            }
        }
        db.index.borrow_mut().clear();
        // A stratum that does not read itself is complete after one round (and `autoinc()`
        // numbers each binding once).
        if !changed || !stratum.recursive {
            return Ok(());
        }
    }
}
