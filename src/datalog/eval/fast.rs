//! The fast path: each stratum is one datafrog `Iteration`, semi-naive. Tuples are fixed-width
//! arrays of `u32` (`[u32; W]`, W chosen per stratum), never one allocation per tuple. Between
//! strata a relation is kept as a [`Table`] of exactly its arity, and each stratum converts
//! what it reads to rows of its own width. A rule that reads only relations of lower strata
//! runs once, before the fixpoint, its joins sort-merge joins ([`merge_join`]); in the other
//! rules, joins with relations of lower strata are leapjoins over indexes built once, joins
//! between relations of the stratum are datafrog variable joins, and everything else is a
//! filter/map operator.

use super::column_index::{ColumnIndex, bound_mask, is_leading, mask_cols};
use super::merge::{merge_join_by, probe_each, probe_join_by};
use super::{EvalError, Guard, Runtime, Source, Table, enumerate_guarded};
use crate::datalog::compile::{
    AtomShape, Driver, Order, Out, Plan, PlannedStep, RulePlan, Step, StratumPlan, neg_cols,
    plan_aggregate,
};
use crate::datalog::frog::{PassThrough, join_while};
use crate::datalog::ir::*;
use datafrog::{Iteration, Relation, ValueFilter, Variable};
use rustc_hash::{FxHashMap, FxHashSet};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Row<const W: usize> = [u32; W];
/// Every relation known so far, complete: rows of exactly its arity, sorted, without
/// duplicates; none when it is empty.
type Store = Vec<Option<Arc<Table>>>;
/// What one stratum produces: each of its relations, complete, with its rows' heights when
/// they are recorded (see [`evaluate_with_heights`]).
type StratumResult = Result<Vec<(RelId, Table, Option<Vec<u32>>)>, EvalError>;
/// Per relation, the height of each row of its table, in the table's order; none when every
/// row is an input fact (height 0).
pub type Heights = Vec<Option<Vec<u32>>>;

/// The most columns a row may have.
const MAX_WIDTH: usize = 32;

/// Evaluates `prog` by `plan` over the input tables (one per relation, possibly empty).
/// `parallel` runs the strata on rayon's pool, each as soon as the strata it reads are done (see
/// [`dataflow`]), and sorts the input tables side by side. A stratum whose relations are all
/// `given` is not run: the input tables already hold those relations complete.
pub fn evaluate(
    prog: &Program,
    plan: &Plan,
    rt: &Runtime,
    inputs: &[Table],
    parallel: bool,
    given: Option<&[bool]>,
) -> Result<Vec<Table>, EvalError> {
    let opts = Opts {
        given,
        ..Opts::plain(parallel)
    };
    Ok(run(prog, plan, rt, None, normal_all(inputs, parallel), opts)?.0)
}

/// Every input table made [`normal`]; with `parallel`, the tables side by side.
fn normal_all(inputs: &[Table], parallel: bool) -> Store {
    use rayon::prelude::*;
    if parallel {
        inputs.par_iter().map(normal).collect()
    } else {
        inputs.iter().map(normal).collect()
    }
}

/// [`evaluate`] over input tables it owns: each is sorted in place, so the input rows are
/// never held twice (the caller's tables and the evaluation's sorted copy).
pub fn evaluate_owned(
    prog: &Program,
    plan: &Plan,
    rt: &Runtime,
    inputs: Vec<Table>,
    parallel: bool,
) -> Result<Vec<Table>, EvalError> {
    let store = if parallel {
        use rayon::prelude::*;
        inputs.into_par_iter().map(normal_owned).collect()
    } else {
        inputs.into_iter().map(normal_owned).collect()
    };
    Ok(run(prog, plan, rt, None, store, Opts::plain(parallel))?.0)
}

/// [`evaluate`], also giving every tuple a height: 0 for an input
/// fact, else the number of the semi-naive round in which it was first derived, rounds counted
/// on across strata. Every rule application reads only tuples known before its round, so a
/// derived tuple has a rule instance whose body tuples are all lower: proofs are read off the
/// fast engine's relations without deriving anything again.
pub fn evaluate_with_heights(
    prog: &Program,
    plan: &Plan,
    rt: &Runtime,
    inputs: &[Table],
    parallel: bool,
) -> Result<(Vec<Table>, Heights), EvalError> {
    let opts = Opts {
        heights: true,
        ..Opts::plain(parallel)
    };
    run(prog, plan, rt, None, normal_all(inputs, parallel), opts)
}

/// Fails when a relation or rule needs more columns than rows have.
fn supported(plan: &Plan) -> Result<(), EvalError> {
    if plan.width > MAX_WIDTH {
        return Err(EvalError::Unsupported(format!(
            "a relation or rule needs {} columns; at most {MAX_WIDTH} are supported",
            plan.width
        )));
    }
    Ok(())
}

/// Calls `$f::<W>` with the row width `W` that holds `$width` columns (at most [`MAX_WIDTH`]).
macro_rules! by_width {
    ($width:expr, $f:ident, ($($arg:expr),*)) => {
        match $width {
            0..=1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            5..=6 => $f::<6>($($arg),*),
            7..=8 => $f::<8>($($arg),*),
            9..=12 => $f::<12>($($arg),*),
            13..=16 => $f::<16>($($arg),*),
            _ => $f::<MAX_WIDTH>($($arg),*),
        }
    };
}

/// Relations converted once for many evaluations ([`evaluate_on`]), with the indexes those
/// evaluations build over them, kept for the next one.
pub struct Prebuilt {
    store: Store,
    /// Sorted copies read by joins and negations, by what they hold.
    indexes: Mutex<HashMap<SortedSig, Arc<Table>>>,
    columns: Mutex<HashMap<(RelId, u64), Arc<ColumnIndex>>>,
}

/// What a sorted copy holds: the rows of a relation of one shape, by these columns.
type SortedSig = (RelId, AtomShape, Vec<usize>);

/// Converts `tables` (one per relation) once, for [`evaluate_on`].
pub fn prebuild(plan: &Plan, tables: &[Table]) -> Result<Prebuilt, EvalError> {
    supported(plan)?;
    Ok(Prebuilt {
        store: tables.iter().map(normal).collect(),
        indexes: Mutex::default(),
        columns: Mutex::default(),
    })
}

/// Evaluates `prog` over the relations of `base` joined with the rows of `inputs`, strata one
/// after the other. Strata whose relations are all `given` are not run (see [`evaluate`]); only
/// the relations marked in `keep` are returned, the others are empty.
pub fn evaluate_on(
    prog: &Program,
    plan: &Plan,
    rt: &Runtime,
    base: &Prebuilt,
    inputs: &[Table],
    given: Option<&[bool]>,
    keep: &[bool],
) -> Result<Vec<Table>, EvalError> {
    let opts = Opts {
        given,
        keep: Some(keep),
        ..Opts::plain(false)
    };
    let inputs = inputs.iter().map(normal).collect();
    Ok(run(prog, plan, rt, Some(base), inputs, opts)?.0)
}

/// How [`run`] runs.
#[derive(Clone, Copy)]
struct Opts<'a> {
    /// Whether strata run on rayon's pool, each once the strata it reads are done.
    parallel: bool,
    /// Relations the inputs hold complete: their strata are not run.
    given: Option<&'a [bool]>,
    /// Relations to return (all when `None`).
    keep: Option<&'a [bool]>,
    /// Whether each tuple's height is recorded.
    heights: bool,
}

impl Opts<'_> {
    /// Every stratum run, every relation returned, no heights.
    fn plain(parallel: bool) -> Self {
        Opts {
            parallel,
            given: None,
            keep: None,
            heights: false,
        }
    }
}

/// A table as the store keeps it: sorted, without duplicates (none when it is empty).
fn normal(t: &Table) -> Option<Arc<Table>> {
    (t.len > 0).then(|| {
        let mut t = t.clone();
        t.normalize();
        Arc::new(t)
    })
}

/// [`normal`], sorting the table in place.
fn normal_owned(mut t: Table) -> Option<Arc<Table>> {
    (t.len > 0).then(|| {
        t.normalize();
        Arc::new(t)
    })
}

/// A relation of `rows`, sorted and without duplicates. Rows that come in long sorted runs (a
/// join emits each row's proposals in order) are merged by the stable sort, which finds runs
/// (on the component evaluations of a million users, 10% less time than the unstable sort);
/// scattered rows are sorted by the unstable one, faster on them (the negation workload's
/// closure: 6% less time). Rows of one or two columns, in the thousands, are radix sorted
/// ([`super::radix`]) unless they come in runs of a thousand or more: the negation workload's
/// 2.2 million node rows in a quarter of the time.
fn relation<T: Ord + Radix>(mut rows: Vec<T>) -> Relation<T> {
    let descents = rows.windows(2).filter(|w| w[0] > w[1]).count();
    let long_runs = descents.saturating_mul(1024) < rows.len();
    if T::RADIX && rows.len() >= super::radix::MIN_ROWS && !long_runs {
        T::radix_sort(&mut rows);
    } else if descents.saturating_mul(16) < rows.len() {
        rows.sort();
    } else {
        rows.sort_unstable();
    }
    rows.dedup();
    Relation { elements: rows }
}

/// What [`relation`] may radix sort: rows of one or two columns.
trait Radix: Sized {
    /// Whether [`Radix::radix_sort`] sorts.
    const RADIX: bool;
    /// Sorts `rows` where [`Radix::RADIX`] holds.
    fn radix_sort(rows: &mut [Self]);
}

impl<const W: usize> Radix for Row<W> {
    const RADIX: bool = W <= 2;
    fn radix_sort(rows: &mut [Self]) {
        if Self::RADIX {
            super::radix::sort_rows(rows);
        }
    }
}

impl<const W: usize> Radix for (Row<W>, Row<W>) {
    const RADIX: bool = false;
    fn radix_sort(_: &mut [Self]) {}
}

/// The rows of two normal tables of one arity, as one normal table.
fn merge(a: &Table, b: &Table) -> Table {
    let mut out = Table::new(a.arity);
    if a.arity == 0 {
        out.len = 1;
        return out;
    }
    out.data.reserve(a.data.len() + b.data.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len || j < b.len {
        let next = match (i < a.len, j < b.len) {
            (true, true) => match a.row(i).cmp(b.row(j)) {
                std::cmp::Ordering::Less => {
                    i += 1;
                    a.row(i - 1)
                }
                std::cmp::Ordering::Greater => {
                    j += 1;
                    b.row(j - 1)
                }
                std::cmp::Ordering::Equal => {
                    i += 1;
                    j += 1;
                    a.row(i - 1)
                }
            },
            (true, false) => {
                i += 1;
                a.row(i - 1)
            }
            _ => {
                j += 1;
                b.row(j - 1)
            }
        };
        out.push(next);
    }
    out
}

fn run(
    prog: &Program,
    plan: &Plan,
    rt: &Runtime,
    base: Option<&Prebuilt>,
    inputs: Store,
    Opts {
        parallel,
        given,
        keep,
        heights: record,
    }: Opts,
) -> Result<(Vec<Table>, Heights), EvalError> {
    supported(plan)?;
    let mut store: Store = match base {
        Some(b) => b.store.clone(),
        None => vec![None; inputs.len()],
    };
    for (slot, t) in store.iter_mut().zip(inputs) {
        if let Some(rel) = t {
            *slot = Some(match slot.take() {
                Some(b) => Arc::new(merge(&b, &rel)),
                None => rel,
            });
        }
    }
    // Level of each stratum: strata of one level do not read each other.
    let mut level = vec![0usize; prog.strata.len()];
    for (i, s) in prog.strata.iter().enumerate() {
        level[i] = s.deps.iter().map(|&d| level[d] + 1).max().unwrap_or(0);
    }
    let needed = needed_strata(prog, keep);
    // The strata that may run: those with rules, read by something kept, and not given
    // complete. A stratum without rules (input relations only) has nothing to derive.
    let mut plans: Vec<Option<&StratumPlan>> = vec![None; prog.strata.len()];
    for sp in &plan.strata {
        let given_all = given.is_some_and(|g| prog.strata[sp.index].rels.iter().all(|&r| g[r]));
        if !sp.rules.is_empty() && needed[sp.index] && !given_all {
            plans[sp.index] = Some(sp);
        }
    }
    // Heights are counted from 0 in each stratum, and moved up below.
    let from = record.then_some(0);
    let one = |sp: &StratumPlan, store: &Store| -> Option<StratumResult> {
        (!idle(prog, &prog.strata[sp.index], store))
            .then(|| by_width!(sp.width, run_stratum, (prog, sp, rt, store, base, from)))
    };
    let (store, ran) = if parallel {
        dataflow(prog, &plans, store, &one)?
    } else {
        // One stratum after the other, in the order of their levels.
        let mut order: Vec<usize> = (0..plans.len()).collect();
        order.sort_by_key(|&i| level[i]);
        let mut ran = vec![Vec::new(); plans.len()];
        for i in order {
            if let Some(r) = plans[i].and_then(|sp| one(sp, &store)) {
                ran[i] = keep_result(&mut store, r?);
            }
        }
        (store, ran)
    };
    let heights = heights_by_level(prog, &level, ran, record);
    let tables = store
        .into_iter()
        .zip(&prog.relations)
        .enumerate()
        .map(|(i, (t, r))| match (t, keep.is_none_or(|k| k[i])) {
            (Some(t), true) => Arc::try_unwrap(t).unwrap_or_else(|t| (*t).clone()),
            _ => Table::new(r.arity()),
        })
        .collect();
    Ok((tables, heights))
}

/// The relations each stratum derived (none for one that did not run), each with its rows'
/// heights counted from 0 in its stratum, where they are recorded.
type Ran = Vec<Vec<(RelId, Option<Vec<u32>>)>>;

/// Puts a stratum's relations into `store`, keeping their heights for `ran`.
fn keep_result(
    store: &mut Store,
    result: Vec<(RelId, Table, Option<Vec<u32>>)>,
) -> Vec<(RelId, Option<Vec<u32>>)> {
    result
        .into_iter()
        .map(|(rel, table, h)| {
            store[rel] = (table.len > 0).then(|| Arc::new(table));
            (rel, h)
        })
        .collect()
}

/// Runs every stratum of `plans` (`None`: not run) as soon as the strata it reads are done,
/// on rayon's pool: a stratum does not wait for a level of strata it does not read. Each runs
/// against the relations complete when it starts (`one` gives `None` for an idle one). After
/// an error no further stratum starts; the error of the lowest stratum that failed is
/// returned.
fn dataflow(
    prog: &Program,
    plans: &[Option<&StratumPlan>],
    store: Store,
    one: &(dyn Fn(&StratumPlan, &Store) -> Option<StratumResult> + Sync),
) -> Result<(Store, Ran), EvalError> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let n = prog.strata.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<AtomicUsize> = Vec::with_capacity(n);
    for (i, s) in prog.strata.iter().enumerate() {
        let mut deps = s.deps.clone();
        deps.sort_unstable();
        deps.dedup();
        deps.retain(|&d| d != i);
        for &d in &deps {
            dependents[d].push(i);
        }
        waiting.push(AtomicUsize::new(deps.len()));
    }
    struct Shared<'a> {
        plans: &'a [Option<&'a StratumPlan>],
        one: &'a (dyn Fn(&StratumPlan, &Store) -> Option<StratumResult> + Sync),
        dependents: Vec<Vec<usize>>,
        waiting: Vec<AtomicUsize>,
        store: Mutex<Store>,
        ran: Mutex<Ran>,
        failed: AtomicBool,
        errors: Mutex<Vec<(usize, EvalError)>>,
    }
    fn launch<'s>(scope: &rayon::Scope<'s>, shared: &'s Shared<'s>, i: usize) {
        scope.spawn(move |scope| {
            let lock = |m: &'s Mutex<Store>| m.lock().unwrap_or_else(|e| e.into_inner());
            if let (Some(sp), false) = (shared.plans[i], shared.failed.load(Ordering::Acquire)) {
                let now: Store = lock(&shared.store).clone();
                match (shared.one)(sp, &now) {
                    None => {}
                    Some(Ok(result)) => {
                        let kept = keep_result(&mut lock(&shared.store), result);
                        shared.ran.lock().unwrap_or_else(|e| e.into_inner())[i] = kept;
                    }
                    Some(Err(e)) => {
                        shared.failed.store(true, Ordering::Release);
                        let mut errors = shared.errors.lock().unwrap_or_else(|e| e.into_inner());
                        errors.push((i, e));
                    }
                }
            }
            for &d in &shared.dependents[i] {
                if shared.waiting[d].fetch_sub(1, Ordering::AcqRel) == 1 {
                    launch(scope, shared, d);
                }
            }
        });
    }
    let ready: Vec<usize> = (0..n).filter(|&i| *waiting[i].get_mut() == 0).collect();
    let shared = Shared {
        plans,
        one,
        dependents,
        waiting,
        store: Mutex::new(store),
        ran: Mutex::new(vec![Vec::new(); n]),
        failed: AtomicBool::new(false),
        errors: Mutex::new(Vec::new()),
    };
    rayon::scope(|scope| {
        for &i in &ready {
            launch(scope, &shared, i);
        }
    });
    let mut errors = shared
        .errors
        .into_inner()
        .unwrap_or_else(|e| e.into_inner());
    errors.sort_by_key(|(i, _)| *i);
    if let Some((_, e)) = errors.into_iter().next() {
        return Err(e);
    }
    Ok((
        shared.store.into_inner().unwrap_or_else(|e| e.into_inner()),
        shared.ran.into_inner().unwrap_or_else(|e| e.into_inner()),
    ))
}

/// The heights of every relation's rows (with `record`), counted on across strata level by
/// level: a stratum's rounds start above the highest height of every lower level, whether or
/// not it reads them, so that the heights do not depend on the order the strata ran in.
fn heights_by_level(prog: &Program, level: &[usize], mut ran: Ran, record: bool) -> Heights {
    let mut heights: Heights = vec![None; prog.relations.len()];
    if !record {
        return heights;
    }
    let mut by_level: Vec<(usize, usize)> = (0..ran.len()).map(|i| (level[i], i)).collect();
    by_level.sort_unstable();
    let mut top = 0u32;
    for same in by_level.chunk_by(|a, b| a.0 == b.0) {
        let from = top;
        for &(_, i) in same {
            for (rel, h) in std::mem::take(&mut ran[i]) {
                if let Some(mut h) = h {
                    for x in h.iter_mut().filter(|x| **x > 0) {
                        *x = from.saturating_add(*x);
                        top = top.max(*x);
                    }
                    heights[rel] = Some(h);
                }
            }
        }
    }
    heights
}

/// Per stratum, whether a relation in `keep` reads it, through any number of strata: the others
/// are not run, since nothing returned depends on them (all are, without `keep`).
fn needed_strata(prog: &Program, keep: Option<&[bool]>) -> Vec<bool> {
    let Some(keep) = keep else {
        return vec![true; prog.strata.len()];
    };
    let mut needed: Vec<bool> = prog
        .strata
        .iter()
        .map(|s| s.rels.iter().any(|&r| keep[r]))
        .collect();
    let mut work: Vec<usize> = (0..needed.len()).filter(|&i| needed[i]).collect();
    while let Some(i) = work.pop() {
        for &d in &prog.strata[i].deps {
            if !needed[d] {
                needed[d] = true;
                work.push(d);
            }
        }
    }
    needed
}

/// Whether a stratum cannot derive anything: its relations have no input rows and each of its
/// rules joins a relation of a lower stratum that is empty, or one of the stratum's own (which
/// then stay empty).
fn idle(prog: &Program, stratum: &Stratum, store: &Store) -> bool {
    let own = |r: RelId| stratum.rels.contains(&r);
    stratum.rels.iter().all(|&r| store[r].is_none())
        && stratum.clauses.iter().all(|&c| {
            prog.clauses[c].body.iter().any(|l| match l {
                Lit::Pos(a) => own(a.rel) || store[a.rel].is_none(),
                _ => false,
            })
        })
}

fn pad<const W: usize>(row: &[u32]) -> Row<W> {
    let mut r = [0; W];
    r[..row.len()].copy_from_slice(row);
    r
}

/// A normal table's rows padded to `W` columns, as a relation: still sorted, still distinct.
fn relation_of<const W: usize>(t: &Table) -> Relation<Row<W>> {
    let mut elements = Vec::with_capacity(t.len);
    if t.arity == 0 {
        elements.extend((0..t.len.min(1)).map(|_| [0; W]));
    } else {
        elements.extend(t.data.chunks_exact(t.arity).map(pad::<W>));
    }
    Relation { elements }
}

/// A complete relation's rows cut to `arity` columns: still sorted, still distinct, as the
/// columns past the arity are zero in every row. The rows are cut in place, in the relation's
/// own buffer, so that a stratum's result is never held twice.
fn table_of<const W: usize>(rel: Relation<Row<W>>, arity: usize) -> Table {
    let len = rel.len();
    let mut data = rel.elements.into_flattened();
    if arity < W {
        for i in 0..len {
            data.copy_within(i * W..i * W + arity, i * arity);
        }
        data.truncate(len * arity);
        data.shrink_to_fit();
    }
    Table { arity, len, data }
}

/// Builds a relation from rows taken in sorted order. When the rows come from a sorted relation
/// through a projection onto a prefix of its columns, they are still sorted and only adjacent
/// duplicates need removing, which saves a sort of the whole relation.
fn relation_from_sorted<T: Ord + Radix>(rows: Vec<T>, prefix: bool) -> Relation<T> {
    if prefix {
        let mut rows = rows;
        rows.dedup();
        Relation { elements: rows }
    } else {
        relation(rows)
    }
}

fn is_prefix(cols: &[usize]) -> bool {
    cols.iter().enumerate().all(|(i, &c)| i == c)
}

fn pick<const W: usize>(row: &[u32], cols: &[usize]) -> Row<W> {
    let mut r = [0; W];
    for (i, &c) in cols.iter().enumerate() {
        r[i] = row[c];
    }
    r
}

fn project<const W: usize>(outs: &[Out], cur: &[u32], val: &[u32]) -> Row<W> {
    let mut r = [0; W];
    for (i, o) in outs.iter().enumerate() {
        r[i] = match o {
            Out::Cur(s) => cur[*s],
            Out::Val(s) => val[*s],
            Out::Const(c) => *c,
        };
    }
    r
}

/// Column indexes of one stratum's evaluation, by relation and bound columns (a bit set).
type ColumnIndexes = RefCell<HashMap<(RelId, u64), Arc<ColumnIndex>>>;

/// Relations of lower strata as a [`Source`] for aggregates (complete, sorted rows). A pattern
/// binding the leading columns is a range of the relation; any other is looked up in the
/// stratum's index that its joins or negations share with it
/// ([`StratumPlan::lookup_order`]), else in an index on exactly its bound columns, built the
/// first time that (relation, columns) is asked for.
struct StoreSource<'a> {
    store: &'a Store,
    base: Option<&'a Prebuilt>,
    indexes: &'a ColumnIndexes,
    sorted: &'a Sorted<'a>,
}

impl StoreSource<'_> {
    fn index(&self, rel: RelId, rows: &Table, mask: u64) -> Arc<ColumnIndex> {
        if let Some(i) = self.indexes.borrow().get(&(rel, mask)) {
            return i.clone();
        }
        let build = || ColumnIndex::build(rows, mask_cols(mask));
        let index = match from_base(self.base, self.store, rel) {
            Some(b) => shared(&b.columns, (rel, mask), build),
            None => Arc::new(build()),
        };
        self.indexes.borrow_mut().insert((rel, mask), index.clone());
        index
    }
}

impl Source for StoreSource<'_> {
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32])) {
        let Some(rows) = &self.store[rel] else { return };
        let mut key = [0; MAX_WIDTH];
        let mut k = 0;
        for q in pattern.iter().flatten() {
            key[k] = *q;
            k += 1;
        }
        let mask = bound_mask(pattern);
        if is_leading(mask) {
            // The rows whose first `k` columns hold the key: a run found by binary search.
            for i in first_at_least(rows, &key[..k])..rows.len {
                let row = rows.row(i);
                if row[..k] != key[..k] {
                    break;
                }
                f(row);
            }
            return;
        }
        let cols = mask_cols(mask);
        if let Some(i) = self.sorted.sp.lookup_order(rel, rows.arity, &cols)
            && let Some(t) = self.sorted.rows(rel, Order::Index(i))
        {
            // The index holds whole rows, its columns in its own order: the key is put in that
            // order, and each matching row back in the relation's.
            let order = &self.sorted.sp.indexes[i].cols;
            for (j, &c) in order[..k].iter().enumerate() {
                key[j] = pattern[c].unwrap_or(0);
            }
            let mut row = [0; MAX_WIDTH];
            for i in first_at_least(&t, &key[..k])..t.len {
                let r = t.row(i);
                if r[..k] != key[..k] {
                    break;
                }
                for (j, &c) in order.iter().enumerate() {
                    row[c] = r[j];
                }
                f(&row[..rows.arity]);
            }
            return;
        }
        // The index is held by its own `Arc`: `f` may scan again (the next atom of the body).
        let index = self.index(rel, rows, mask);
        for row in index.matches(rows, &key[..k]) {
            f(row);
        }
    }
}

/// Per step: the sorted rows its antijoins read and the aggregate tables (if precomputed) its
/// aggregates read, in the order its literals name them.
#[derive(Default)]
struct StepIds {
    negs: Vec<usize>,
    aggs: Vec<Option<usize>>,
}

/// What a join with a relation of a lower stratum reads (see [`Order`]): sorted rows (the
/// relation's own or an index's), whose first `k` columns are the key, the next `v` the values.
#[derive(Clone)]
struct Served {
    table: Option<Arc<Table>>,
    k: usize,
    v: usize,
}

impl Served {
    /// How many entries it has.
    fn len(&self) -> usize {
        self.table.as_ref().map_or(0, |t| t.len)
    }
    /// The key of entry `i`.
    fn key_at<const W: usize>(&self, i: usize) -> Row<W> {
        self.table
            .as_ref()
            .map_or([0; W], |t| pad(&t.row(i)[..self.k]))
    }
    /// The values of entry `i`.
    fn val_at(&self, i: usize) -> &[u32] {
        let (k, v) = (self.k, self.v);
        self.table.as_ref().map_or(&[], |t| &t.row(i)[k..k + v])
    }
    /// Whether entry `i` has the key and values of the one before it: a row that differs from
    /// it only in columns the join does not read.
    fn repeats(&self, i: usize) -> bool {
        let n = self.k + self.v;
        self.table
            .as_ref()
            .is_some_and(|t| i > 0 && t.row(i)[..n] == t.row(i - 1)[..n])
    }
}

/// What a negation looks its tuples up in (see [`Order`]): sorted rows whose first columns are
/// its variables' columns, `perm[j]` the variable (in column order) that column `j` holds.
struct NegSet {
    table: Option<Arc<Table>>,
    perm: Vec<usize>,
    /// Where the last lookup ended: the next one, when its key is not lower, gallops on from
    /// there (the tuples a step looks up often come in order).
    finger: std::cell::Cell<usize>,
}

impl NegSet {
    /// Whether a tuple with the values `key` in its looked-up columns (in column order) holds.
    fn contains<const W: usize>(&self, key: &Row<W>) -> bool {
        let Some(t) = &self.table else { return false };
        let mut k = [0; W];
        for (j, &p) in self.perm.iter().enumerate() {
            k[j] = key[p];
        }
        let n = self.perm.len();
        let i = first_at_least_near(t, &k[..n], self.finger.get());
        self.finger.set(i);
        // One column, the usual case, compared as a value rather than as a slice.
        i < t.len
            && match n {
                1 => t.data[i * t.arity] == k[0],
                _ => t.data[i * t.arity..i * t.arity + n] == k[..n],
            }
    }
}

/// The first row of a normal table whose first columns are not below `key`.
fn first_at_least(t: &Table, key: &[u32]) -> usize {
    first_not_below(0, t.len, below_key(t, key))
}

/// Whether row `i` of a normal table is below `key` in its first columns. One column, the
/// usual case, is compared as a value rather than as a slice (a `memcmp` call each).
fn below_key<'a>(t: &'a Table, key: &'a [u32]) -> impl Fn(usize) -> bool + 'a {
    let n = key.len();
    move |i| match key {
        [k] => t.data[i * t.arity] < *k,
        _ => t.data[i * t.arity..i * t.arity + n] < *key,
    }
}

/// The first of the rows `lo..hi` for which `below` is false, where it is true for a prefix of
/// them: a binary search.
fn first_not_below(mut lo: usize, mut hi: usize, below: impl Fn(usize) -> bool) -> usize {
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if below(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// [`first_at_least`], searched from row `near` (a previous answer): galloping forward from it
/// when the rows before it are below `key`, as when keys come in ascending order, and by
/// binary search below it otherwise.
fn first_at_least_near(t: &Table, key: &[u32], near: usize) -> usize {
    let below = below_key(t, key);
    if near > t.len || (near > 0 && !below(near - 1)) {
        // The answer is at or before `near - 1`.
        return first_not_below(0, near.min(t.len), below);
    }
    // Every row before `near` is below the key: gallop from it, then search the last stride.
    if near == t.len || !below(near) {
        return near;
    }
    let (mut lo, mut step) = (near, 1);
    let hi = loop {
        let next = lo + step;
        if next >= t.len || !below(next) {
            break next.min(t.len);
        }
        lo = next;
        step *= 2;
    };
    // below(lo) holds; the answer is in lo + 1 ..= hi.
    first_not_below(lo + 1, hi, below)
}

/// The rows of a normal table whose first columns hold `key`, a range of row numbers, searched
/// from row `near` as [`first_at_least_near`] searches.
fn prefix_range_near(t: &Table, key: &[u32], near: usize) -> (usize, usize) {
    let start = first_at_least_near(t, key, near);
    let mut end = start;
    while end < t.len && t.data[end * t.arity..end * t.arity + key.len()] == *key {
        end += 1;
    }
    (start, end)
}

/// What an operator needs prepared before the fixpoint: what its joins and negations read, and
/// aggregate tables.
#[derive(Default)]
struct Prepared<const W: usize> {
    indexes: Vec<Served>,
    negsets: Vec<NegSet>,
    /// Aggregate tables (outer key -> value), for aggregates that could be precomputed.
    aggs: Vec<FxHashMap<Row<W>, u32>>,
}

/// Whether `rel` in `store` is the prebuilt relation of `base`: then what is built over it can
/// be shared with other evaluations over the same base.
fn from_base<'b>(base: Option<&'b Prebuilt>, store: &Store, rel: RelId) -> Option<&'b Prebuilt> {
    base.filter(|b| match (&b.store[rel], &store[rel]) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y),
        (None, None) => true,
        _ => false,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// Looks `key` up in a cache shared by evaluations, building and adding it when missing.
fn shared<K: std::hash::Hash + Eq, V>(
    cache: &Mutex<HashMap<K, Arc<V>>>,
    key: K,
    build: impl FnOnce() -> V,
) -> Arc<V> {
    if let Some(v) = lock(cache).get(&key) {
        return v.clone();
    }
    // Built outside the lock; two evaluations may both build it, the first one kept.
    let v = Arc::new(build());
    lock(cache).entry(key).or_insert(v).clone()
}

impl<const W: usize> Prepared<W> {
    /// The index a join step reads (a number in `indexes`).
    fn index(
        &mut self,
        sorted: &Sorted,
        atom: &Atom,
        key_cols: &[usize],
        val_cols: &[usize],
    ) -> usize {
        let order = sorted.sp.join_order(atom, key_cols, val_cols);
        let table = sorted.rows(atom.rel, order);
        self.indexes.push(Served {
            table,
            k: key_cols.len(),
            v: val_cols.len(),
        });
        self.indexes.len() - 1
    }
    /// The set a negation reads (a number in `negsets`).
    fn negset(&mut self, sorted: &Sorted, atom: &Atom) -> usize {
        let sp = sorted.sp;
        let order = sp.neg_order(atom);
        let cols = neg_cols(atom);
        let perm = match order {
            Order::Own => (0..cols.len()).collect(),
            Order::Index(i) => sp.indexes[i].cols[..cols.len()]
                .iter()
                .map(|c| cols.iter().position(|x| x == c).unwrap_or(0))
                .collect(),
        };
        let table = sorted.rows(atom.rel, order);
        self.negsets.push(NegSet {
            table,
            perm,
            finger: std::cell::Cell::new(0),
        });
        self.negsets.len() - 1
    }
}

/// The sorted rows a stratum's joins, negations and aggregates look up: the relations' own,
/// and the stratum's indexes ([`StratumPlan::indexes`]), each built the first time it is asked
/// for.
struct Sorted<'a> {
    store: &'a Store,
    base: Option<&'a Prebuilt>,
    sp: &'a StratumPlan,
    built: RefCell<HashMap<usize, Option<Arc<Table>>>>,
}

impl Sorted<'_> {
    /// The rows an access of `rel` reading `order` looks up.
    fn rows(&self, rel: RelId, order: Order) -> Option<Arc<Table>> {
        let (store, base) = (self.store, self.base);
        let i = match order {
            Order::Own => return store[rel].clone(),
            Order::Index(i) => i,
        };
        if let Some(t) = self.built.borrow().get(&i) {
            return t.clone();
        }
        let ix = &self.sp.indexes[i];
        let shape = AtomShape::of(&ix.atom);
        let build = || {
            let mut t = Table::new(ix.cols.len());
            if shape.all() {
                t.data
                    .reserve(store[rel].as_ref().map_or(0, |r| r.len) * ix.cols.len());
            }
            // Rows projected onto a prefix of their columns stay sorted: only their adjacent
            // repeats are dropped, and the table needs no sort.
            let prefix = is_prefix(&ix.cols);
            let mut row = vec![0; ix.cols.len()];
            for r in store[rel].iter().flat_map(|r| r.rows()) {
                if !shape.matches(r) {
                    continue;
                }
                for (j, &c) in ix.cols.iter().enumerate() {
                    row[j] = r[c];
                }
                if !(prefix && t.len > 0 && t.row(t.len - 1) == row.as_slice()) {
                    t.push(&row);
                }
            }
            t.normalize();
            t
        };
        let table = (store[rel].is_some()).then(|| match from_base(base, store, rel) {
            Some(b) => shared(&b.indexes, (rel, shape.clone(), ix.cols.clone()), build),
            None => Arc::new(build()),
        });
        self.built.borrow_mut().insert(i, table.clone());
        table
    }
}

/// An atom's shape up to variable names: relation, constants, wildcards and variable repeats.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct AtomSig {
    rel: RelId,
    /// Per argument: a constant, a wildcard or the variable's rank of first appearance.
    args: Vec<SigArg>,
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum SigArg {
    Const(u32),
    Wild,
    Var(usize),
}

impl AtomSig {
    fn of(atom: &Atom) -> AtomSig {
        let mut names: Vec<VarId> = Vec::new();
        let args = atom
            .args
            .iter()
            .map(|a| match a {
                Arg::Const(c) => SigArg::Const(*c),
                Arg::Wild => SigArg::Wild,
                Arg::Var(v) => {
                    SigArg::Var(names.iter().position(|x| x == v).unwrap_or_else(|| {
                        names.push(*v);
                        names.len() - 1
                    }))
                }
            })
            .collect();
        AtomSig {
            rel: atom.rel,
            args,
        }
    }
}

/// What identifies an index: the atom's shape, its key columns and its value columns.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
struct IndexSig {
    atom: AtomSig,
    key: Vec<usize>,
    val: Vec<usize>,
}

/// Sets `env` from a row of a join step (its slots hold `layout`) and the value its index
/// proposes (its columns hold `new`).
fn fill_step_env<const W: usize>(
    env: &mut [u32],
    layout: &[VarId],
    new: &[VarId],
    row: &Row<W>,
    val: &[u32],
) {
    fill_env(env, layout, row);
    for (i, v) in new.iter().enumerate() {
        env[*v] = val[i];
    }
}

/// Writes a row's values into the variables of its layout.
fn fill_env(env: &mut [u32], layout: &[VarId], row: &[u32]) {
    for (s, v) in layout.iter().enumerate() {
        env[*v] = row[s];
    }
}

/// Runs the filter literals of a step on one binding; false when the binding is dropped.
/// `env` holds every variable of the clause; assignments and aggregates write into it.
fn run_lits<const W: usize>(
    lits: &[Lit],
    env: &mut [u32],
    rt: &Runtime,
    prep: &Prepared<W>,
    ids: &StepIds,
    src: &StoreSource,
    guard: &Guard,
) -> bool {
    let (mut neg_i, mut agg_i) = (0, 0);
    for lit in lits {
        match lit {
            Lit::Neg(atom) => {
                let set = &prep.negsets[ids.negs[neg_i]];
                neg_i += 1;
                let mut key = [0; W];
                let mut k = 0;
                for a in &atom.args {
                    if let Arg::Var(v) = a {
                        key[k] = env[*v];
                        k += 1;
                    }
                }
                if set.contains(&key) {
                    return false;
                }
            }
            Lit::Assign { var, expr, .. } => match rt.eval(expr, env) {
                Some(v) => env[*var] = v,
                None => return false,
            },
            Lit::Agg {
                var,
                kind,
                ty,
                outer,
                ..
            } => {
                let table = ids.aggs[agg_i].map(|i| &prep.aggs[i]);
                agg_i += 1;
                let value = match table {
                    Some(table) => {
                        let mut key = [0; W];
                        for (i, &v) in outer.iter().enumerate() {
                            key[i] = env[v];
                        }
                        match table.get(&key) {
                            Some(&v) => Some(v),
                            None => rt.fold(*kind, *ty, std::iter::empty()),
                        }
                    }
                    None => {
                        let mut e = env.to_vec();
                        let mut bound = vec![false; env.len()];
                        for &v in outer {
                            bound[v] = true;
                        }
                        super::aggregate_guarded(rt, Some(guard), src, lit, &mut e, &mut bound)
                    }
                };
                match value {
                    Some(v) => env[*var] = v,
                    None => return false,
                }
            }
            other => {
                if !rt.holds(other, env) {
                    return false;
                }
            }
        }
    }
    true
}

/// Precomputes an aggregate as a table from its outer variables to its value, when its plan
/// says so ([`plan_aggregate`]). Each witness is folded in as it is found, so the table holds
/// one accumulator per group.
fn precompute_agg<const W: usize>(
    lit: &Lit,
    nvars: usize,
    rt: &Runtime,
    src: &StoreSource,
    guard: &Guard,
) -> Option<FxHashMap<Row<W>, u32>> {
    let Lit::Agg {
        kind,
        ty,
        target,
        body,
        outer,
        distinct,
        ..
    } = lit
    else {
        return None;
    };
    let plan = plan_aggregate(body, outer, nvars);
    if !plan.precomputed {
        return None;
    }
    let ordered = plan.body;
    let mut groups: FxHashMap<Row<W>, u32> = FxHashMap::default();
    // A materialised body: each distinct binding of its named variables (the group's outer
    // values among them) counts once.
    let mut seen: FxHashSet<Vec<u32>> = FxHashSet::default();
    let mut first = |env: &[u32]| match distinct {
        Some(vars) => seen.insert(vars.iter().map(|&v| env[v]).collect()),
        None => true,
    };
    let add = |groups: &mut FxHashMap<Row<W>, u32>, key: Row<W>, val: u32| {
        let acc = groups.get(&key).copied();
        groups.insert(key, rt.accumulate(*kind, *ty, acc, val));
    };
    let key_of = |env: &[u32]| {
        let mut k = [0; W];
        for (i, &v) in outer.iter().enumerate() {
            k[i] = env[v];
        }
        k
    };
    let mut env = vec![0; nvars];
    if let [Lit::Pos(atom)] = ordered.as_slice() {
        // One atom: its matching rows are the witnesses, read straight from the relation. When
        // the outer variables are its first columns, each group is a run of consecutive rows.
        let shape = AtomShape::of(atom);
        let runs = outer
            .iter()
            .enumerate()
            .all(|(i, v)| atom.args.get(i) == Some(&Arg::Var(*v)));
        let mut run: Option<(Row<W>, u32)> = None;
        if let Some(rel) = &src.store[atom.rel] {
            for row in rel.rows().filter(|r| shape.matches(r)) {
                if !guard.step() {
                    break;
                }
                for (col, a) in atom.args.iter().enumerate() {
                    if let Arg::Var(v) = a {
                        env[*v] = row[col];
                    }
                }
                if !first(&env) {
                    continue;
                }
                let val = match target {
                    Some(t) => rt.eval(t, &env),
                    None => Some(0),
                };
                let Some(val) = val else { continue };
                let key = key_of(&env);
                if !runs {
                    add(&mut groups, key, val);
                    continue;
                }
                run = match run {
                    Some((k, acc)) if k == key => {
                        Some((k, rt.accumulate(*kind, *ty, Some(acc), val)))
                    }
                    other => {
                        if let Some((k, acc)) = other {
                            groups.insert(k, acc);
                        }
                        Some((key, rt.accumulate(*kind, *ty, None, val)))
                    }
                };
            }
        }
        if let Some((k, acc)) = run {
            groups.insert(k, acc);
        }
    } else {
        let mut b = vec![false; nvars];
        enumerate_guarded(
            rt,
            Some(guard),
            src,
            &ordered,
            &mut env,
            &mut b,
            &mut Vec::new(),
            &mut |e, _| {
                if !first(e) {
                    return;
                }
                let val = match target {
                    Some(t) => rt.eval(t, e),
                    None => Some(0),
                };
                if let Some(val) = val {
                    add(&mut groups, key_of(e), val);
                }
            },
        );
    }
    Some(groups)
}

type Op<'a> = Box<dyn Fn() + 'a>;

fn run_stratum<const W: usize>(
    prog: &Program,
    sp: &StratumPlan,
    rt: &Runtime,
    store: &Store,
    base: Option<&Prebuilt>,
    heights_from: Option<u32>,
) -> StratumResult {
    let stratum = &prog.strata[sp.index];
    let guard = Guard::new(rt, &prog.relations[stratum.rels[0]].name);
    // Prepare indexes and aggregate tables over the lower strata.
    let indexes = ColumnIndexes::default();
    let sorted = Sorted {
        store,
        base,
        sp,
        built: RefCell::default(),
    };
    let src = StoreSource {
        store,
        base,
        indexes: &indexes,
        sorted: &sorted,
    };
    let mut prep: Prepared<W> = Prepared::default();
    let mut leap_index: HashMap<(usize, usize), usize> = HashMap::new();
    let mut step_ids: HashMap<(usize, usize), StepIds> = HashMap::new();
    // A rule that joins an empty relation of a lower stratum, or whose body is false (as the
    // rules of relations given complete are made), derives nothing: neither its indexes nor
    // its joins are built.
    let dead: Vec<bool> = sp
        .rules
        .iter()
        .map(|rp| {
            prog.clauses[rp.clause].body.iter().any(|l| match l {
                Lit::Pos(a) => {
                    !stratum.rels.contains(&a.rel)
                        && store[a.rel].as_ref().is_none_or(|r| r.len == 0)
                }
                Lit::False(_) => true,
                _ => false,
            })
        })
        .collect();
    for (ri, rp) in sp.rules.iter().enumerate() {
        if dead[ri] {
            continue;
        }
        let nvars = prog.clauses[rp.clause].var_names.len();
        for (si, ps) in rp.steps.iter().enumerate() {
            if let Step::Leap {
                atom,
                key_cols,
                val_cols,
                ..
            } = &ps.step
            {
                let i = prep.index(&sorted, atom, key_cols, val_cols);
                leap_index.insert((ri, si), i);
            }
            let lits = ps.step.lits();
            let mut ids = StepIds::default();
            for l in lits {
                if let Lit::Neg(a) = l {
                    ids.negs.push(prep.negset(&sorted, a));
                }
                if let Lit::Agg { .. } = l {
                    ids.aggs
                        .push(precompute_agg(l, nvars, rt, &src, &guard).map(|t| {
                            prep.aggs.push(t);
                            prep.aggs.len() - 1
                        }));
                }
            }
            step_ids.insert((ri, si), ids);
        }
    }
    guard.check()?;
    let prep = prep;

    let mut iteration = Iteration::new();
    let vars: HashMap<RelId, Variable<Row<W>>> = stratum
        .rels
        .iter()
        .map(|&r| (r, iteration.variable::<Row<W>>(&prog.relations[r].name)))
        .collect();
    for &r in &stratum.rels {
        if let Some(rel) = &store[r] {
            vars[&r].insert(relation_of::<W>(rel));
        }
    }
    let mut ops: Vec<Op> = Vec::new();
    let mut join_idx: HashMap<IndexSig, Variable<(Row<W>, Row<W>)>> = HashMap::new();
    // The variables of rules' intermediate rows.
    let mut transient: Vec<Variable<Row<W>>> = Vec::new();
    for (ri, rp) in sp.rules.iter().enumerate() {
        if dead[ri] {
            continue;
        }
        build_rule::<W>(
            prog,
            rp,
            ri,
            rt,
            store,
            &src,
            &prep,
            &leap_index,
            &step_ids,
            &vars,
            &mut iteration,
            &mut join_idx,
            &mut transient,
            &mut ops,
            &guard,
        );
    }
    // Rules run once (see `run_once`) may have stopped at a bound already.
    guard.check()?;
    // The bounds are checked as each join produces (see `Guard`), not only between rounds:
    // one round of a product can be far larger than all the rounds before it.
    // With heights recorded, each round's new tuples of each relation are kept, numbered.
    let mut rounds: Vec<(RelId, u32, Vec<Row<W>>)> = Vec::new();
    let mut round = 0u32;
    while iteration.changed() {
        round += 1;
        // A rule's intermediate rows are read only as the round's new ones (`recent`), by the
        // rule's next step: they are not kept across rounds, as a Soufflé loop nest keeps
        // none. A row derived again later flows on again, and the rule's head drops it.
        for v in &transient {
            v.stable.borrow_mut().clear();
        }
        if heights_from.is_some() {
            for &r in &stratum.rels {
                let recent = vars[&r].recent.borrow();
                if !recent.is_empty() {
                    rounds.push((r, round, recent.elements.clone()));
                }
            }
        }
        let held: usize = vars
            .values()
            .map(|v| {
                v.stable.borrow().iter().map(|b| b.len()).sum::<usize>() + v.recent.borrow().len()
            })
            .sum();
        guard.round(held)?;
        for op in &ops {
            op();
            if guard.stopped() {
                break;
            }
        }
        guard.check()?;
    }
    drop(ops);
    drop(join_idx);
    for v in transient {
        v.stable.borrow_mut().clear();
    }
    let mut out = Vec::new();
    let mut vars = vars;
    for &r in &stratum.rels {
        if let Some(v) = vars.remove(&r) {
            let all = v.complete();
            let heights = heights_from.map(|from| {
                let new = rounds.iter().filter(|(x, ..)| *x == r);
                heights_of(&all, store[r].as_deref(), new, from)
            });
            out.push((r, table_of(all, prog.relations[r].arity()), heights));
        }
    }
    Ok(out)
}

/// The height of each row of `all`: 0 for a row of `input`, else `from` plus the round in
/// which it was new.
fn heights_of<'a, const W: usize>(
    all: &Relation<Row<W>>,
    input: Option<&Table>,
    rounds: impl Iterator<Item = &'a (RelId, u32, Vec<Row<W>>)>,
    from: u32,
) -> Vec<u32> {
    let mut heights = vec![0; all.len()];
    // Each round's rows and the input rows are sorted, as `all` is: each is found galloping on
    // from the one before.
    for (_, round, rows) in rounds {
        let mut at = 0;
        for row in rows {
            at = gallop_to(all, at, row);
            if all.get(at) == Some(row) {
                heights[at] = from.saturating_add(*round);
            }
        }
    }
    let mut at = 0;
    for row in input.iter().flat_map(|t| t.rows()) {
        let row = pad::<W>(row);
        at = gallop_to(all, at, &row);
        if all.get(at) == Some(&row) {
            heights[at] = 0;
        }
    }
    heights
}

/// The first position from `at` on whose row of `all` (sorted) is not below `row`: steps of
/// doubling length, then a binary search within the last step.
fn gallop_to<T: Ord>(all: &[T], at: usize, row: &T) -> usize {
    let mut step = 1;
    let mut lo = at;
    while lo + step < all.len() && all[lo + step] < *row {
        lo += step;
        step <<= 1;
    }
    let hi = (lo + step + 1).min(all.len());
    lo + all[lo..hi].partition_point(|x| x < row)
}

#[allow(clippy::too_many_arguments)]
fn build_rule<'a, const W: usize>(
    prog: &'a Program,
    rp: &'a RulePlan,
    ri: usize,
    rt: &'a Runtime,
    store: &'a Store,
    src: &'a StoreSource<'a>,
    prep: &'a Prepared<W>,
    leap_index: &HashMap<(usize, usize), usize>,
    step_ids: &'a HashMap<(usize, usize), StepIds>,
    vars: &HashMap<RelId, Variable<Row<W>>>,
    iteration: &mut Iteration,
    join_idx: &mut HashMap<IndexSig, Variable<(Row<W>, Row<W>)>>,
    transient: &mut Vec<Variable<Row<W>>>,
    ops: &mut Vec<Op<'a>>,
    guard: &'a Guard<'a>,
) {
    let clause = &prog.clauses[rp.clause];
    let nvars = clause.var_names.len();
    let head_var = vars[&clause.head.rel].clone();
    let tmp_name = |k: usize| {
        format!(
            "{}_r{}_s{}",
            prog.relations[clause.head.rel].name, rp.clause, k
        )
    };
    let last = rp.steps.len();

    if let Some(rows) = run_once::<W>(
        prog, rp, ri, rt, store, src, prep, leap_index, step_ids, guard,
    ) {
        // Already sorted and distinct.
        head_var.insert(Relation { elements: rows });
        return;
    }

    // The driver.
    let driver_target: Variable<Row<W>> = if rp.steps.is_empty() {
        head_var.clone()
    } else {
        let v = iteration.variable(&tmp_name(0));
        transient.push(v.clone());
        v
    };
    let driver_outs: Vec<Out> = if rp.steps.is_empty() {
        rp.head.clone()
    } else {
        (0..rp.driver_layout.len()).map(Out::Cur).collect()
    };
    let mut cur: Variable<Row<W>> = match &rp.driver {
        Driver::Unit => {
            let row = project::<W>(&driver_outs, &[0; W], &[0; W]);
            driver_target.insert(relation(vec![row]));
            driver_target.clone()
        }
        Driver::Atom {
            atom,
            recursive,
            identity,
        } => {
            let shape = AtomShape::of(atom);
            let outs = driver_atom_outs(rp, atom, &driver_outs);
            if *recursive {
                let source = vars[&atom.rel].clone();
                if *identity && !rp.steps.is_empty() {
                    source
                } else {
                    let target = driver_target.clone();
                    ops.push(Box::new(move || {
                        let rows: Vec<Row<W>> = source
                            .recent
                            .borrow()
                            .iter()
                            .filter(|r| shape.matches(&r[..]))
                            .map(|r| project::<W>(&outs, r, &[0; W]))
                            .collect();
                        target.insert(relation(rows));
                    }));
                    driver_target.clone()
                }
            } else {
                driver_target.insert(Relation {
                    elements: static_driver_rows::<W>(atom, &outs, store),
                });
                driver_target.clone()
            }
        }
    };

    for (k, ps) in rp.steps.iter().enumerate() {
        let PlannedStep { step, input, .. } = ps;
        let target: Variable<Row<W>> = if k + 1 == last {
            head_var.clone()
        } else {
            let v = iteration.variable(&tmp_name(k + 1));
            transient.push(v.clone());
            v
        };
        match step {
            Step::Leap {
                atom,
                key_slots,
                val_cols,
                filters,
                ..
            } => {
                let new = proposed_vars(atom, val_cols);
                let outs = step_outs(rp, k, &new);
                let key_slots = key_slots.clone();
                let ids = &step_ids[&(ri, k)];
                let layout = input.clone();
                let env = RefCell::new(vec![0u32; nvars]);
                let source = cur.clone();
                let target = target.clone();
                let filters: &'a [Lit] = filters;
                // A leapjoin of one proposer, by hand: each row's key is looked up in the
                // sorted rows its index holds, and each distinct value after it proposed.
                let Served {
                    table,
                    k: key_len,
                    v: val_len,
                } = prep.indexes[leap_index[&(ri, k)]].clone();
                ops.push(Box::new(move || {
                    let Some(table) = &table else { return };
                    // Rows past the key and values (a longer index, or the relation's own
                    // wider rows) may repeat them: then only the first of each run is read.
                    let repeats = table.arity > key_len + val_len;
                    let mut e = env.borrow_mut();
                    let mut out = Vec::new();
                    // Consecutive rows often share their key: its range is found once.
                    let mut last: Option<(Row<W>, usize, usize)> = None;
                    for row in source.recent.borrow().iter() {
                        if guard.stopped() {
                            break;
                        }
                        let key = pick::<W>(row, &key_slots);
                        let (lo, hi) = match last {
                            Some((k, lo, hi)) if k == key => (lo, hi),
                            // Searched on from the last key's rows (from the start at first).
                            _ => prefix_range_near(
                                table,
                                &key[..key_len],
                                last.map_or(0, |(_, _, hi)| hi),
                            ),
                        };
                        last = Some((key, lo, hi));
                        let values = key_len..key_len + val_len;
                        for i in lo..hi {
                            let val = &table.row(i)[values.clone()];
                            if repeats && i > lo && *val == table.row(i - 1)[values.clone()] {
                                continue;
                            }
                            if !filters.is_empty() {
                                if !guard.step() {
                                    break;
                                }
                                fill_step_env(&mut e, &layout, &new, row, val);
                                if !run_lits::<W>(filters, &mut e, rt, prep, ids, src, guard) {
                                    continue;
                                }
                            }
                            if !guard.produce() {
                                break;
                            }
                            out.push(project::<W>(&outs, row, val));
                        }
                    }
                    target.insert(relation(out));
                }));
            }
            Step::Join {
                atom,
                key_slots,
                key_cols,
                val_cols,
            } => {
                let new = proposed_vars(atom, val_cols);
                let outs = step_outs(rp, k, &new);
                let name = crate::datalog::compile::index_name(prog, atom, key_cols, val_cols);
                let sig = IndexSig {
                    atom: AtomSig::of(atom),
                    key: key_cols.clone(),
                    val: val_cols.clone(),
                };
                let rel_idx = join_idx
                    .entry(sig)
                    .or_insert_with(|| {
                        let idx = iteration.variable::<(Row<W>, Row<W>)>(&name);
                        let source = vars[&atom.rel].clone();
                        let shape = AtomShape::of(atom);
                        let (kc, vc) = (key_cols.clone(), val_cols.clone());
                        let target = idx.clone();
                        ops.push(Box::new(move || {
                            let rows: Vec<(Row<W>, Row<W>)> = source
                                .recent
                                .borrow()
                                .iter()
                                .filter(|r| shape.matches(&r[..]))
                                .map(|r| (pick(r, &kc), pick(r, &vc)))
                                .collect();
                            target.insert(relation(rows));
                        }));
                        idx
                    })
                    .clone();
                let keyed =
                    iteration.variable::<(Row<W>, Row<W>)>(&format!("{}_keyed", tmp_name(k)));
                let (source, ks, kt) = (cur.clone(), key_slots.clone(), keyed.clone());
                ops.push(Box::new(move || {
                    let rows: Vec<(Row<W>, Row<W>)> = source
                        .recent
                        .borrow()
                        .iter()
                        .map(|r| (pick(r, &ks), *r))
                        .collect();
                    kt.insert(relation(rows));
                }));
                let target2 = target.clone();
                ops.push(Box::new(move || {
                    join_while(
                        &keyed,
                        &rel_idx,
                        &target2,
                        || guard.produce(),
                        |_, row, val| project::<W>(&outs, row, val),
                    );
                }));
            }
            Step::Filter { lits } => {
                let ids = &step_ids[&(ri, k)];
                let layout = input.clone();
                let source = cur.clone();
                let target = target.clone();
                let pure = lits.iter().all(|l| {
                    matches!(
                        l,
                        Lit::Cmp { .. } | Lit::Test { .. } | Lit::Neg(_) | Lit::False(_)
                    )
                });
                let build = filter_output::<W>(rp, k);
                if pure {
                    // Only filters: a leapjoin of value filters behind a pass-through leaper.
                    let env = RefCell::new(vec![0u32; nvars]);
                    ops.push(Box::new(move || {
                        let check = ValueFilter::from(|row: &Row<W>, _: &()| {
                            if !guard.step() {
                                return false;
                            }
                            let mut e = env.borrow_mut();
                            fill_env(&mut e, &layout, row);
                            run_lits::<W>(lits, &mut e, rt, prep, ids, src, guard)
                        });
                        let env2 = RefCell::new(vec![0u32; nvars]);
                        target.from_leapjoin(&source, (PassThrough, check), |row, _| {
                            guard.produce();
                            let mut e = env2.borrow_mut();
                            fill_env(&mut e, &layout, row);
                            build(&e)
                        });
                    }));
                } else {
                    ops.push(Box::new(move || {
                        let rows = filter_rows(
                            &source.recent.borrow(),
                            &layout,
                            nvars,
                            &build,
                            |e| run_lits::<W>(lits, e, rt, prep, ids, src, guard),
                            guard,
                        );
                        target.insert(relation(rows));
                    }));
                }
            }
        }
        cur = target;
    }
}

/// The row a filter step outputs from the clause's variables: the next layout, or the head
/// (its constants included) when it is the rule's last step.
fn filter_output<const W: usize>(rp: &RulePlan, k: usize) -> impl Fn(&[u32]) -> Row<W> + use<W> {
    let ps = &rp.steps[k];
    let last = k + 1 == rp.steps.len();
    let outs: Vec<Out> = if last {
        rp.head
            .iter()
            .map(|o| match o {
                Out::Cur(s) => Out::Cur(ps.output[*s]),
                other => *other,
            })
            .collect()
    } else {
        ps.output.iter().map(|&v| Out::Cur(v)).collect()
    };
    move |e: &[u32]| project::<W>(&outs, e, &[])
}

/// The rows of `rows` (laid out as `layout`) that pass `keep`, each built by `build` from the
/// clause's variables (which `keep` may extend: assignments, aggregates).
fn filter_rows<const W: usize>(
    rows: &[Row<W>],
    layout: &[VarId],
    nvars: usize,
    build: &impl Fn(&[u32]) -> Row<W>,
    mut keep: impl FnMut(&mut [u32]) -> bool,
    guard: &Guard,
) -> Vec<Row<W>> {
    let mut e = vec![0u32; nvars];
    let mut out = Vec::new();
    for row in rows {
        if !guard.step() {
            break;
        }
        fill_env(&mut e, layout, row);
        if keep(&mut e) {
            if !guard.produce() {
                break;
            }
            out.push(build(&e));
        }
    }
    out
}

/// The driver's outputs as columns of its atom: `driver_outs` name slots of the driver's
/// layout, each the column where the atom first binds that slot's variable.
fn driver_atom_outs(rp: &RulePlan, atom: &Atom, driver_outs: &[Out]) -> Vec<Out> {
    driver_outs
        .iter()
        .map(|o| match o {
            Out::Cur(s) => Out::Cur(
                atom.args
                    .iter()
                    .position(|a| *a == Arg::Var(rp.driver_layout[*s]))
                    .unwrap_or(0),
            ),
            other => *other,
        })
        .collect()
}

/// The rows a driver over a relation of a lower stratum starts from: the rows matching its
/// atom, projected by `outs` (columns of the atom), sorted and distinct.
fn static_driver_rows<const W: usize>(atom: &Atom, outs: &[Out], store: &Store) -> Vec<Row<W>> {
    let Some(rel) = &store[atom.rel] else {
        return Vec::new();
    };
    let shape = AtomShape::of(atom);
    let rows: Vec<Row<W>> = rel
        .rows()
        .filter(|r| shape.matches(r))
        .map(|r| project::<W>(outs, r, &[]))
        .collect();
    let prefix = outs.iter().enumerate().all(|(i, o)| *o == Out::Cur(i));
    relation_from_sorted(rows, prefix).elements
}

/// The rows of a rule that reads only relations of lower strata, computed once before the
/// fixpoint (`None` for any other rule): the driver's rows go through each step in turn, and a
/// join sorts them by its key and merges them with its index ([`merge_join`]).
#[allow(clippy::too_many_arguments)]
fn run_once<const W: usize>(
    prog: &Program,
    rp: &RulePlan,
    ri: usize,
    rt: &Runtime,
    store: &Store,
    src: &StoreSource,
    prep: &Prepared<W>,
    leap_index: &HashMap<(usize, usize), usize>,
    step_ids: &HashMap<(usize, usize), StepIds>,
    guard: &Guard,
) -> Option<Vec<Row<W>>> {
    if !rp.runs_once() {
        return None;
    }
    let nvars = prog.clauses[rp.clause].var_names.len();
    let driver_outs: Vec<Out> = if rp.steps.is_empty() {
        rp.head.clone()
    } else {
        (0..rp.driver_layout.len()).map(Out::Cur).collect()
    };
    let mut rows: Vec<Row<W>> = match &rp.driver {
        Driver::Unit => vec![project::<W>(&driver_outs, &[0; W], &[0; W])],
        Driver::Atom { atom, .. } => {
            static_driver_rows::<W>(atom, &driver_atom_outs(rp, atom, &driver_outs), store)
        }
    };
    for (k, ps) in rp.steps.iter().enumerate() {
        if guard.stopped() {
            return Some(Vec::new());
        }
        let ids = &step_ids[&(ri, k)];
        let next = match &ps.step {
            Step::Leap {
                atom,
                key_slots,
                val_cols,
                filters,
                ..
            } => {
                let new = proposed_vars(atom, val_cols);
                let outs = step_outs(rp, k, &new);
                let mut env = vec![0u32; nvars];
                let mut out = Vec::new();
                let mut emit = |row: &Row<W>, val: &[u32]| {
                    if !filters.is_empty() {
                        if !guard.step() {
                            return false;
                        }
                        fill_step_env(&mut env, &ps.input, &new, row, val);
                        if !run_lits::<W>(filters, &mut env, rt, prep, ids, src, guard) {
                            return !guard.stopped();
                        }
                    }
                    if !guard.produce() {
                        return false;
                    }
                    out.push(project::<W>(&outs, row, val));
                    true
                };
                let index = &prep.indexes[leap_index[&(ri, k)]];
                let key_at = |i| index.key_at(i);
                // An entry repeating the one before (only wildcards differ) is read once.
                let mut visit = |r: &Row<W>, i| index.repeats(i) || emit(r, index.val_at(i));
                let key = |r: &Row<W>| pick::<W>(r, key_slots);
                if is_prefix(key_slots) {
                    // Sorted rows are sorted by their first slots too.
                    merge_join_by(&rows, key, index.len(), key_at, &mut visit);
                } else if probe_each(rows.len(), index.len()) {
                    probe_join_by(&rows, key, index.len(), key_at, &mut visit);
                } else {
                    let mut keyed: Vec<(Row<W>, Row<W>)> =
                        rows.iter().map(|r| (key(r), *r)).collect();
                    drop(std::mem::take(&mut rows));
                    keyed.sort_unstable();
                    merge_join_by(&keyed, |p| p.0, index.len(), key_at, |p, i| visit(&p.1, i));
                }
                out
            }
            Step::Filter { lits } => {
                let build = filter_output::<W>(rp, k);
                filter_rows(
                    &rows,
                    &ps.input,
                    nvars,
                    &build,
                    |e| run_lits::<W>(lits, e, rt, prep, ids, src, guard),
                    guard,
                )
            }
            Step::Join { .. } => unreachable!("a rule run once joins no relation of its stratum"),
        };
        rows = relation(next).elements;
    }
    Some(rows)
}

/// The output of join step `k` of a rule whose value columns bind `new`: the next layout, or
/// the head when it is the last step.
fn step_outs(rp: &RulePlan, k: usize, new: &[VarId]) -> Vec<Out> {
    let input = &rp.steps[k].input;
    let slot = |v: &VarId| {
        input
            .iter()
            .position(|x| x == v)
            .map(Out::Cur)
            .or_else(|| new.iter().position(|x| x == v).map(Out::Val))
            .unwrap_or(Out::Const(0))
    };
    if k + 1 == rp.steps.len() {
        rp.head
            .iter()
            .map(|o| match o {
                Out::Cur(s) => slot(&rp.steps[k].output[*s]),
                other => *other,
            })
            .collect()
    } else {
        rp.steps[k].output.iter().map(slot).collect()
    }
}

/// The variables a join's value columns bind, in column order.
fn proposed_vars(atom: &Atom, val_cols: &[usize]) -> Vec<VarId> {
    val_cols
        .iter()
        .map(|&c| if let Arg::Var(v) = atom.args[c] { v } else { 0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Table, first_at_least, first_at_least_near, prefix_range_near};
    use proptest::prelude::*;

    proptest! {
        /// A search from any row finds what a binary search over the whole table finds, for
        /// keys of every length, above, below and between the rows.
        #[test]
        fn a_search_from_any_row_finds_the_same_row(
            arity in 1usize..4,
            values in proptest::collection::vec(0u32..6, 0..90),
            key in proptest::collection::vec(0u32..7, 1..4),
            near in 0usize..40,
        ) {
            let mut t = Table::new(arity);
            for row in values.chunks_exact(arity) {
                t.push(row);
            }
            t.normalize();
            let key = &key[..key.len().min(arity)];
            prop_assert_eq!(first_at_least_near(&t, key, near), first_at_least(&t, key));
            // The rows holding the key, found by reading every row.
            let holding: Vec<usize> =
                (0..t.len).filter(|&i| t.row(i)[..key.len()] == *key).collect();
            let (lo, hi) = prefix_range_near(&t, key, near);
            prop_assert_eq!((lo..hi).collect::<Vec<_>>(), holding.clone());
            if holding.is_empty() {
                prop_assert_eq!(lo, first_at_least(&t, key));
            }
        }
    }
}
