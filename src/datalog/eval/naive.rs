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

impl NaiveDb {
    /// How many tuples of `rel` match `pattern` (through the same index as [`Source::scan`]).
    pub fn count(&self, rel: RelId, pattern: &[Option<u32>]) -> usize {
        if pattern.iter().all(Option::is_none) {
            return self.rels[rel].len();
        }
        let mut n = 0;
        self.with_bucket(rel, pattern, &mut |rows| n = rows.len());
        n
    }

    /// Calls `f` with the indexed tuples of `rel` that agree with `pattern` on its bound columns
    /// (a column index past 63 shares a bit, so callers still filter).
    fn with_bucket(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[Vec<u32>])) {
        let mask: u64 = pattern
            .iter()
            .enumerate()
            .filter(|(_, p)| p.is_some())
            .fold(0, |m, (i, _)| m | (1 << (i % 64)));
        let key: Vec<u32> = pattern.iter().flatten().copied().collect();
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
        f(idx.get(&key).map_or(&[], Vec::as_slice));
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
        let mut rows = Vec::new();
        self.with_bucket(rel, pattern, &mut |b| rows = b.to_vec());
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

/// Evaluates the whole program stratum by stratum, each round joining only with what the round
/// before changed (semi-naive): the same tuples with the same proof heights as [`evaluate`],
/// without re-reading everything each round, for proofs over a chain of a hundred thousand
/// groups (a round per group). Tested against [`evaluate`].
pub fn evaluate_by_deltas(
    prog: &Program,
    rt: &Runtime,
    inputs: Vec<Vec<Vec<u32>>>,
) -> Result<NaiveDb, EvalError> {
    let mut db = NaiveDb::new(inputs);
    for stratum in &prog.strata {
        run_stratum_by_deltas(prog, rt, stratum, &mut db)?;
    }
    Ok(db)
}

/// The database, with relation `n + r` (`n` the number of relations) standing for what changed
/// of relation `r` in the last round.
struct WithDelta<'a> {
    db: &'a NaiveDb,
    delta: &'a NaiveDb,
}

impl Source for WithDelta<'_> {
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32])) {
        match rel.checked_sub(self.db.rels.len()) {
            Some(r) => self.delta.scan(r, pattern, f),
            None => self.db.scan(rel, pattern, f),
        }
    }
}

fn run_stratum_by_deltas(
    prog: &Program,
    rt: &Runtime,
    stratum: &Stratum,
    db: &mut NaiveDb,
) -> Result<(), EvalError> {
    let guard = Guard::new(rt, &prog.relations[stratum.rels[0]].name);
    let n = db.rels.len();
    let here = |rel: RelId| stratum.rels.contains(&rel);
    // Per clause, the bodies to run after the first round: one per atom of this stratum, that
    // atom reading only the last round's changes. A clause reading no relation of this stratum
    // has nothing new to join with after the first round.
    let variants: Vec<(usize, Vec<Vec<Lit>>)> = stratum
        .clauses
        .iter()
        .map(|&ci| {
            let body = &prog.clauses[ci].body;
            let bodies = (0..body.len())
                .filter(|&j| matches!(&body[j], Lit::Pos(a) if here(a.rel)))
                .map(|j| {
                    let mut b = body.clone();
                    if let Lit::Pos(a) = &mut b[j] {
                        a.rel += n;
                    }
                    b
                })
                .collect();
            (ci, bodies)
        })
        .collect();
    let mut delta: Option<NaiveDb> = None;
    loop {
        guard.round(db.rels.iter().map(|r| r.len()).sum())?;
        let mut found: Vec<(RelId, Vec<u32>, u32)> = Vec::new();
        for (ci, bodies) in &variants {
            let clause = &prog.clauses[*ci];
            let atoms = positive_atoms(clause);
            let runs: Vec<&[Lit]> = match &delta {
                None => vec![&clause.body],
                Some(_) => bodies.iter().map(Vec::as_slice).collect(),
            };
            let empty = NaiveDb::new(Vec::new());
            let src = WithDelta {
                db,
                delta: delta.as_ref().unwrap_or(&empty),
            };
            for body in runs {
                derive(rt, &guard, &src, body, clause, &atoms, db, &mut found);
            }
        }
        guard.check()?;
        let mut changed = NaiveDb::new(vec![Vec::new(); n]);
        for (rel, t, h) in found {
            match db.rels[rel].get_mut(&t) {
                Some(old) if *old <= h => continue,
                Some(old) => *old = h,
                None => {
                    db.rels[rel].insert(t.clone(), h);
                }
            }
            changed.rels[rel].insert(t, h);
        }
        let touched: Vec<bool> = changed.rels.iter().map(|r| !r.is_empty()).collect();
        db.index.borrow_mut().retain(|(rel, _), _| !touched[*rel]);
        if !touched.contains(&true) || !stratum.recursive {
            return Ok(());
        }
        delta = Some(changed);
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

/// The relation and arity of each positive atom of a clause's body, in order: how a witness
/// (the matched tuples, one after another) splits into tuples.
fn positive_atoms(clause: &Clause) -> Vec<(RelId, usize)> {
    clause
        .body
        .iter()
        .filter_map(|l| match l {
            Lit::Pos(a) => Some((a.rel, a.args.len())),
            _ => None,
        })
        .collect()
}

/// Runs `body` (the clause's own, or a variant of it reading a round's changes) over `src`,
/// adding each head tuple it derives to `found` with its height: one above the tallest tuple
/// of its witness in `db`. Every round derives again what is known; only a tuple `db` does
/// not hold yet counts against the guard's bound.
#[allow(clippy::too_many_arguments)]
fn derive(
    rt: &Runtime,
    guard: &Guard,
    src: &dyn Source,
    body: &[Lit],
    clause: &Clause,
    atoms: &[(RelId, usize)],
    db: &NaiveDb,
    found: &mut Vec<(RelId, Vec<u32>, u32)>,
) {
    let mut env = vec![0; clause.var_names.len()];
    let mut bound = vec![false; clause.var_names.len()];
    enumerate_guarded(
        rt,
        Some(guard),
        src,
        body,
        &mut env,
        &mut bound,
        &mut Vec::new(),
        &mut |e, witness| {
            let h = witness_height(db, atoms, witness);
            let t = head_tuple(&clause.head, e);
            if db.rels[clause.head.rel].contains_key(&t) || guard.produce() {
                found.push((clause.head.rel, t, h + 1));
            }
        },
    );
}

/// The greatest height among a witness's tuples (0 for none): a tuple derived from them is
/// one higher.
fn witness_height(db: &NaiveDb, atoms: &[(RelId, usize)], witness: &[u32]) -> u32 {
    let mut h = 0;
    let mut at = 0;
    for (rel, k) in atoms {
        h = h.max(db.height(*rel, &witness[at..at + k]).unwrap_or(0));
        at += k;
    }
    h
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
            let atoms = positive_atoms(clause);
            derive(rt, &guard, db, &clause.body, clause, &atoms, db, &mut found);
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
