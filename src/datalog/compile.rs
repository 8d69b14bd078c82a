//! From a checked program to a plan of datafrog operations: for each rule, a driver (the atom
//! whose new tuples drive the rule each round), then joins and filters, then the head. The plan
//! is plain data; `eval::fast` runs it and `render` prints it under the rules it implements.

use crate::datalog::diag::Sources;
use crate::datalog::ir::*;
use crate::datalog::schedule::schedule;
use crate::datalog::syntax::ast::AggKind;
use crate::datalog::value::format_literal;
use std::collections::BTreeSet;
use std::fmt::Write;

/// Where a value of an output row comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// A slot of the input row.
    Cur(usize),
    /// A column of the joined value row.
    Val(usize),
    /// A constant.
    Const(u32),
}

/// How a rule's first atom enters the pipeline.
#[derive(Clone, Debug)]
pub enum Driver {
    /// No positive atom: one empty row, once.
    Unit,
    /// An atom over a relation; `recursive` when it is defined in this stratum.
    Atom {
        /// The atom.
        atom: Atom,
        /// Whether its relation belongs to the stratum (a datafrog variable).
        recursive: bool,
        /// Whether the relation's rows are already in layout order (no copy needed).
        identity: bool,
    },
}

/// One operation after the driver.
#[derive(Clone, Debug)]
pub enum Step {
    /// Join with a relation of a lower stratum (a leapjoin, or a merge join in a rule that
    /// [runs once](RulePlan::runs_once)): `key` columns bound, `new` variables proposed (their
    /// columns in `val_cols`), then `filters` on the extended binding.
    Leap {
        atom: Atom,
        key_slots: Vec<usize>,
        key_cols: Vec<usize>,
        val_cols: Vec<usize>,
        filters: Vec<Lit>,
    },
    /// Join with a relation of this stratum (both sides change each round).
    Join {
        atom: Atom,
        key_slots: Vec<usize>,
        key_cols: Vec<usize>,
        val_cols: Vec<usize>,
    },
    /// Comparisons, tests, negations, assignments, aggregates, membership tests.
    Filter { lits: Vec<Lit> },
}

impl Step {
    /// The literals run on each row the step gives: a join's filters, a filter's literals.
    pub fn lits(&self) -> &[Lit] {
        match self {
            Step::Leap { filters, .. } => filters,
            Step::Filter { lits } => lits,
            Step::Join { .. } => &[],
        }
    }
}

/// A step with the layout (variables per slot) of the rows it produces.
#[derive(Clone, Debug)]
pub struct PlannedStep {
    /// The operation.
    pub step: Step,
    /// The layout of the rows before it.
    pub input: Vec<VarId>,
    /// The variables its output rows hold, slot by slot.
    pub output: Vec<VarId>,
}

/// The plan of one clause.
#[derive(Clone, Debug)]
pub struct RulePlan {
    /// The clause.
    pub clause: usize,
    /// Its first atom.
    pub driver: Driver,
    /// Layout of the driver's rows.
    pub driver_layout: Vec<VarId>,
    /// Operations in order.
    pub steps: Vec<PlannedStep>,
    /// The head row from the last layout.
    pub head: Vec<Out>,
}

impl RulePlan {
    /// Whether the rule reads only relations of lower strata: it then runs once, before the
    /// fixpoint, each join a sort-merge join of all its rows with the index (or, for a small
    /// index, a search of it per row: [`merge::probe_each`](super::eval::merge::probe_each)).
    pub fn runs_once(&self) -> bool {
        let static_driver = match &self.driver {
            Driver::Unit => true,
            Driver::Atom { recursive, .. } => !recursive,
        };
        static_driver
            && self
                .steps
                .iter()
                .all(|s| !matches!(s.step, Step::Join { .. }))
    }
}

/// The plan of one stratum.
#[derive(Clone, Debug)]
pub struct StratumPlan {
    /// Index in [`Program::strata`].
    pub index: usize,
    /// Rule plans.
    pub rules: Vec<RulePlan>,
    /// Columns of the rows this stratum evaluates with: its widest relation, layout, index
    /// part, negation key or aggregate group. Each stratum converts the relations it reads
    /// to rows of its own width, so a narrow stratum never pays for a wide one elsewhere.
    pub width: usize,
    /// The sorted copies its joins and negations read where a relation's own order does not
    /// serve them ([`Order::Index`] numbers them), chosen by [`cover`], in the order of their
    /// relations' first accesses.
    pub indexes: Vec<IndexPlan>,
}

/// A sorted copy of the rows of a relation of a lower stratum that match an atom's constants
/// and repeated variables: their values in the columns `cols`, in that order, each distinct
/// projection once.
#[derive(Clone, Debug)]
pub struct IndexPlan {
    /// An atom whose rows it holds (the first access it was chosen for).
    pub atom: Atom,
    /// Its columns, in its sort order.
    pub cols: Vec<usize>,
}

/// What a row must satisfy to match an atom: its constant columns and the columns that repeat
/// a variable of an earlier column. Atoms of one relation and one shape match the same rows.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct AtomShape {
    /// (column, value) for each constant.
    pub consts: Vec<(usize, u32)>,
    /// (first column, later column) for each repeat of a variable.
    pub eqs: Vec<(usize, usize)>,
}

impl AtomShape {
    /// The shape of `atom`.
    pub fn of(atom: &Atom) -> AtomShape {
        let mut consts = Vec::new();
        let mut eqs = Vec::new();
        let mut first: Vec<(VarId, usize)> = Vec::new();
        for (col, a) in atom.args.iter().enumerate() {
            match a {
                Arg::Const(c) => consts.push((col, *c)),
                Arg::Var(v) => match first.iter().find(|(x, _)| x == v) {
                    Some(&(_, f)) => eqs.push((f, col)),
                    None => first.push((*v, col)),
                },
                Arg::Wild => {}
            }
        }
        AtomShape { consts, eqs }
    }
    /// Whether a row matches.
    pub fn matches(&self, row: &[u32]) -> bool {
        self.consts.iter().all(|&(c, v)| row[c] == v)
            && self.eqs.iter().all(|&(a, b)| row[a] == row[b])
    }
    /// Whether every row matches (no constant, no repeat).
    pub fn all(&self) -> bool {
        self.consts.is_empty() && self.eqs.is_empty()
    }
}
#[derive(Clone, Debug)]
pub struct Plan {
    /// The widest row any stratum needs (at least every relation's arity).
    pub width: usize,
    /// Strata in order.
    pub strata: Vec<StratumPlan>,
}

/// How an aggregate runs. When every outer variable is bound by a positive atom of its body, it
/// is `precomputed`: its body runs once before the fixpoint with nothing bound, in `body`'s
/// order, into a table from outer values to the aggregate's value. Otherwise its body runs for
/// each row reaching it, outer variables bound.
#[derive(Clone, Debug)]
pub struct AggPlan {
    /// Whether it is computed once, for all groups.
    pub precomputed: bool,
    /// Its body in the order it runs.
    pub body: Vec<Lit>,
}

/// Plans an aggregate with body `body` and outer variables `outer` in a clause of `nvars`
/// variables.
pub fn plan_aggregate(body: &[Lit], outer: &[VarId], nvars: usize) -> AggPlan {
    let per_row = AggPlan {
        precomputed: false,
        body: body.to_vec(),
    };
    let inside: Vec<VarId> = body
        .iter()
        .filter(|l| matches!(l, Lit::Pos(_)))
        .flat_map(|l| l.binds())
        .collect();
    if !outer.iter().all(|v| inside.contains(v)) {
        return per_row;
    }
    let mut bound = vec![false; nvars];
    let (ordered, stuck) = schedule(body.to_vec(), &mut bound, None);
    if !stuck.is_empty() {
        return per_row;
    }
    AggPlan {
        precomputed: true,
        body: ordered,
    }
}

/// How one atom of an aggregate's body reads its relation: by the columns bound when it runs
/// (constants, variables bound before it), the key of the index it is looked up in; by none,
/// every row.
#[derive(Clone, Debug)]
pub struct Access {
    /// The atom.
    pub atom: Atom,
    /// Whether it is negated.
    pub negated: bool,
    /// Its bound columns, ascending.
    pub key_cols: Vec<usize>,
}

impl AggPlan {
    /// How each atom of the body reads its relation, in order; `outer` bound unless precomputed.
    pub fn accesses(&self, outer: &[VarId], nvars: usize) -> Vec<Access> {
        // A precomputed aggregate over one atom folds its rows in one pass over the relation.
        if let (true, [Lit::Pos(atom)]) = (self.precomputed, self.body.as_slice()) {
            return vec![Access {
                atom: atom.clone(),
                negated: false,
                key_cols: vec![],
            }];
        }
        let mut bound = vec![false; nvars];
        if !self.precomputed {
            for &v in outer {
                bound[v] = true;
            }
        }
        let mut out = Vec::new();
        for l in &self.body {
            if let Lit::Pos(atom) | Lit::Neg(atom) = l {
                let key_cols = atom
                    .args
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| match a {
                        Arg::Const(_) => true,
                        Arg::Var(v) => bound[*v],
                        Arg::Wild => false,
                    })
                    .map(|(c, _)| c)
                    .collect();
                out.push(Access {
                    atom: atom.clone(),
                    negated: matches!(l, Lit::Neg(_)),
                    key_cols,
                });
            }
            for v in l.binds() {
                bound[v] = true;
            }
        }
        out
    }
}

/// Which sorted order a join or a negation of a relation of a lower stratum reads. A relation
/// is kept sorted by all its columns, so it serves, without a copy, every access that binds its
/// leading columns (and, for a join, proposes the next ones). Every other access reads a sorted
/// copy ([`IndexPlan`]), and one copy serves every access of the stratum whose columns it
/// sorts first: an access binding the set of columns K and proposing V needs an order that
/// starts with K's columns (in any order) and continues with V's; a negation on columns N needs
/// one that starts with N's. Those column sets are chains under inclusion, and accesses whose
/// sets together still form a chain (say `e(x, _)` bound on {0}, `e(y, x)` bound on {1} then
/// proposing {0}, and `!e(_, y)` on {1}: {1} ⊂ {0, 1} for the last two) share one order, here
/// [1, 0]. This is Soufflé's index selection: the accesses the relation's own order serves
/// read it, and the others of each relation and atom shape get a minimum chain cover of their
/// sets ([`chain_cover`]), one sorted copy per chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    /// The relation's own rows: the columns looked up lead each row.
    Own,
    /// The stratum's index with this number ([`StratumPlan::indexes`]): its columns begin with
    /// the access's key columns and then its value columns, in the order the plan lists them.
    Index(usize),
}

/// The column sets an access of a relation needs to lead an order, as bit sets: the key
/// columns, then the key and value columns (either left out when empty or repeated).
fn access_sets(key_cols: &[usize], val_cols: &[usize]) -> Vec<u64> {
    let key = key_cols.iter().fold(0u64, |m, &c| m | 1 << c);
    let all = val_cols.iter().fold(key, |m, &c| m | 1 << c);
    let mut sets = vec![key, all];
    sets.retain(|&m| m != 0);
    sets.dedup();
    sets
}

/// Whether the columns `cols` begin with exactly the set `set`.
fn leads(cols: &[usize], set: u64) -> bool {
    let n = set.count_ones() as usize;
    n <= cols.len() && cols[..n].iter().fold(0u64, |m, &c| m | 1 << c) == set
}

impl StratumPlan {
    /// The order an access of `atom` needing the column sets `sets` (see [`access_sets`])
    /// reads: the relation's own when the sets are its leading columns and every row matches
    /// the atom, else the first index of the stratum whose rows match the atom and whose
    /// columns begin with each set.
    fn order_for(&self, atom: &Atom, sets: &[u64]) -> Option<Order> {
        let shape = AtomShape::of(atom);
        let own: Vec<usize> = (0..atom.args.len()).collect();
        if shape.all() && sets.iter().all(|&s| leads(&own, s)) {
            return Some(Order::Own);
        }
        self.indexes
            .iter()
            .position(|ix| {
                ix.atom.rel == atom.rel
                    && AtomShape::of(&ix.atom) == shape
                    && sets.iter().all(|&s| leads(&ix.cols, s))
            })
            .map(Order::Index)
    }
    /// The order a join with `atom` (binding `key_cols`, proposing `val_cols`) reads.
    pub fn join_order(&self, atom: &Atom, key_cols: &[usize], val_cols: &[usize]) -> Order {
        // `cover` made an index for every join of the stratum.
        self.order_for(atom, &access_sets(key_cols, val_cols))
            .unwrap_or(Order::Index(0))
    }
    /// The order a negated atom reads.
    pub fn neg_order(&self, atom: &Atom) -> Order {
        // `cover` made an index for every negation of the stratum.
        self.order_for(atom, &access_sets(&neg_cols(atom), &[]))
            .unwrap_or(Order::Index(0))
    }
    /// The index of the stratum, if any, that an aggregate's lookup of whole rows of `rel`
    /// (of `arity` columns) by the columns `key_cols` reads; without one it builds a
    /// [`ColumnIndex`](super::eval::column_index::ColumnIndex) of its own.
    pub fn lookup_order(&self, rel: RelId, arity: usize, key_cols: &[usize]) -> Option<usize> {
        let (atom, sets) = lookup_access(rel, arity, key_cols);
        match self.order_for(&atom, &sets) {
            Some(Order::Index(i)) => Some(i),
            _ => None,
        }
    }
}

/// An aggregate's lookup of whole rows of `rel` by `key_cols` (its bound columns, constants
/// among them) as an access: every row (an atom of wildcards), the key first, then all the
/// columns.
fn lookup_access(rel: RelId, arity: usize, key_cols: &[usize]) -> (Atom, Vec<u64>) {
    let atom = Atom {
        rel,
        args: vec![Arg::Wild; arity],
        span: Default::default(),
    };
    let all: Vec<usize> = (0..arity).collect();
    (atom, access_sets(key_cols, &all))
}

/// The columns a negated atom looks up: those of its variables.
pub fn neg_cols(atom: &Atom) -> Vec<usize> {
    (0..atom.args.len())
        .filter(|&c| matches!(atom.args[c], Arg::Var(_)))
        .collect()
}

/// An access of a relation of a lower stratum by a rule: its atom, the column sets it needs
/// to lead an order, and whether it is an aggregate's lookup (which takes an index only where
/// a join or negation has one to share, as its own [`ColumnIndex`] of row positions is
/// smaller than a copy of the rows).
///
/// [`ColumnIndex`]: super::eval::column_index::ColumnIndex
type Use = (Atom, Vec<u64>, bool);

/// The accesses of a stratum's rules to relations of lower strata that read a sorted order:
/// each join with one ([`Step::Leap`]), each negation, and each lookup of an aggregate's body
/// on columns that do not lead the relation's rows.
fn accesses(prog: &Program, sp: &StratumPlan) -> Vec<Use> {
    let mut out = Vec::new();
    for rp in &sp.rules {
        let nvars = prog.clauses[rp.clause].var_names.len();
        let lits_of = |lits: &[Lit], out: &mut Vec<Use>| {
            for l in lits {
                match l {
                    Lit::Neg(a) => out.push((a.clone(), access_sets(&neg_cols(a), &[]), false)),
                    Lit::Agg { body, outer, .. } => {
                        let plan = plan_aggregate(body, outer, nvars);
                        for a in plan.accesses(outer, nvars) {
                            let arity = a.atom.args.len();
                            let own: Vec<usize> = (0..a.key_cols.len()).collect();
                            if !a.key_cols.is_empty() && a.key_cols != own {
                                let (atom, sets) = lookup_access(a.atom.rel, arity, &a.key_cols);
                                out.push((atom, sets, true));
                            }
                        }
                    }
                    _ => {}
                }
            }
        };
        for ps in &rp.steps {
            if let Step::Leap {
                atom,
                key_cols,
                val_cols,
                ..
            } = &ps.step
            {
                out.push((atom.clone(), access_sets(key_cols, val_cols), false));
            }
            lits_of(ps.step.lits(), &mut out);
        }
    }
    out
}

/// Chooses the stratum's indexes (see [`Order`]) and lists each join's key and value columns
/// in the order of the index it reads, so that its key is that index's leading columns.
fn cover(prog: &Program, sp: &mut StratumPlan) {
    // The accesses no relation's own order serves, by relation and shape (atoms of one
    // relation and shape read the same rows), in the order they come; aggregates' lookups apart.
    let mut groups: Vec<(Atom, Vec<Vec<u64>>)> = Vec::new();
    let mut lookups = Vec::new();
    for (atom, sets, lookup) in accesses(prog, sp) {
        if sp.order_for(&atom, &sets) == Some(Order::Own) {
            continue;
        }
        if lookup {
            lookups.push((atom, sets));
            continue;
        }
        let shape = AtomShape::of(&atom);
        match groups
            .iter_mut()
            .find(|(a, _)| a.rel == atom.rel && AtomShape::of(a) == shape)
        {
            Some((_, group)) => group.push(sets),
            None => groups.push((atom, vec![sets])),
        }
    }
    // Chains of column sets, each growing by inclusion, with the atom of their group.
    let mut chains: Vec<(Atom, Vec<u64>)> = groups
        .into_iter()
        .flat_map(|(atom, group)| {
            chain_cover(&group)
                .into_iter()
                .map(move |chain| (atom.clone(), chain))
        })
        .collect();
    // An aggregate's lookup joins the first chain that can take its sets, or reads an index of
    // row positions of its own.
    for (atom, sets) in lookups {
        let shape = AtomShape::of(&atom);
        if let Some((_, chain)) = chains
            .iter_mut()
            .find(|(a, chain)| a.rel == atom.rel && AtomShape::of(a) == shape && fits(chain, &sets))
        {
            chain.extend(sets);
        }
    }
    sp.indexes = chains
        .into_iter()
        .map(|(atom, mut chain)| {
            chain.sort_by_key(|s| s.count_ones());
            chain.dedup();
            IndexPlan {
                atom,
                cols: chain_cols(&chain),
            }
        })
        .collect();
    // Each join's key and values in its index's order.
    let mut rules = std::mem::take(&mut sp.rules);
    for rp in &mut rules {
        for ps in &mut rp.steps {
            if let Step::Leap {
                atom,
                key_slots,
                key_cols,
                val_cols,
                ..
            } = &mut ps.step
                && let Order::Index(i) = sp.join_order(atom, key_cols, val_cols)
            {
                let at = |c: &usize| sp.indexes[i].cols.iter().position(|x| x == c);
                let mut key: Vec<(usize, usize)> = key_cols
                    .iter()
                    .copied()
                    .zip(key_slots.iter().copied())
                    .collect();
                key.sort_by_key(|(c, _)| at(c));
                (*key_cols, *key_slots) = key.into_iter().unzip();
                val_cols.sort_by_key(|c| at(c));
            }
        }
    }
    sp.rules = rules;
}

/// The columns of the order a chain (sets growing by inclusion, smallest first) stands for:
/// each set's new columns after the smaller set's, ascending.
fn chain_cols(chain: &[u64]) -> Vec<usize> {
    let mut cols = Vec::new();
    let mut had = 0u64;
    for &s in chain {
        cols.extend((0..64).filter(|c| s & !had & (1 << c) != 0));
        had = s;
    }
    if cols.is_empty() {
        // An access binding and proposing nothing (only constants and wildcards): any one
        // column tells whether a matching row exists.
        cols.push(0);
    }
    cols
}

/// Whether each of `sets` is comparable (one includes the other) with each set of `chain`.
fn fits(chain: &[u64], sets: &[u64]) -> bool {
    let comparable = |a: u64, b: u64| a & b == a || a & b == b;
    sets.iter()
        .all(|&s| chain.iter().all(|&c| comparable(s, c)))
}

/// The fewest chains of column sets (each growing by inclusion: one sorted order) such that
/// every access's sets (its key, then its key and values; see [`access_sets`]) lie in one of
/// them, each chain listed from its smallest set. As Soufflé's index selection: by Dilworth's
/// theorem, the fewest chains that hold every distinct set are as many as the sets less the
/// edges of a maximum matching between a set and a strict superset of it (each matched edge
/// puts two sets in one chain), found by augmenting paths. A join also needs its key and its
/// key and values in one chain: the matching tries first the edges that keep a join's two sets
/// together, and a join whose sets still end in two chains has the missing one added to a
/// chain that can take it (a set may lie in several chains), or gets a chain of its own. That
/// is the minimum when no join needed a chain of its own, as when every join of the relation
/// proposes the rest of its columns (the usual case: its larger set then tops every chain).
/// Otherwise the first-fit cover ([`first_fit`]) is taken where it has fewer chains.
fn chain_cover(accesses: &[Vec<u64>]) -> Vec<Vec<u64>> {
    let mut sets: Vec<u64> = accesses.iter().flatten().copied().collect();
    let by_size = |s: &u64| (s.count_ones(), *s);
    sets.sort_by_key(by_size);
    sets.dedup();
    let n = sets.len();
    let below = |a: u64, b: u64| a != b && a & b == a;
    // How many joins' key and values the edge from set i to set j keeps in one chain.
    let spans = |i: usize, j: usize| {
        accesses
            .iter()
            .filter(|f| f.len() == 2 && f[0] & sets[i] == f[0] && sets[j] & f[1] == sets[j])
            .count()
    };
    let edges: Vec<Vec<usize>> = (0..n)
        .map(|i| {
            let mut js: Vec<usize> = (0..n).filter(|&j| below(sets[i], sets[j])).collect();
            js.sort_by_key(|&j| (std::cmp::Reverse(spans(i, j)), by_size(&sets[j])));
            js
        })
        .collect();
    // `prev[j]`: the set matched below set j.
    let mut prev: Vec<Option<usize>> = vec![None; n];
    for i in 0..n {
        augment(i, &edges, &mut prev, &mut vec![false; n]);
    }
    let mut next: Vec<Option<usize>> = vec![None; n];
    for (j, p) in prev.iter().enumerate() {
        if let Some(i) = p {
            next[*i] = Some(j);
        }
    }
    let mut chains: Vec<Vec<u64>> = Vec::new();
    for start in (0..n).filter(|&i| prev[i].is_none()) {
        let mut chain = vec![sets[start]];
        let mut at = start;
        while let Some(j) = next[at] {
            chain.push(sets[j]);
            at = j;
        }
        chains.push(chain);
    }
    for access in accesses {
        if chains.iter().any(|c| access.iter().all(|s| c.contains(s))) {
            continue;
        }
        match chains.iter_mut().find(|c| fits(c, access)) {
            Some(chain) => {
                chain.extend(access);
                chain.sort_by_key(by_size);
                chain.dedup();
            }
            None => chains.push(access.clone()),
        }
    }
    if chains.len() > n - prev.iter().flatten().count() {
        let other = first_fit(accesses);
        if other.len() < chains.len() {
            return other;
        }
    }
    chains
}

/// A cover by first fit: the accesses with the largest sets first, each into the first chain
/// that can take its sets, a new chain otherwise; each chain listed from its smallest set.
fn first_fit(accesses: &[Vec<u64>]) -> Vec<Vec<u64>> {
    let mut todo = accesses.to_vec();
    todo.sort_by_key(|sets| std::cmp::Reverse(sets.last().map_or(0, |s| s.count_ones())));
    let mut chains: Vec<Vec<u64>> = Vec::new();
    for sets in todo {
        match chains.iter_mut().find(|c| fits(c, &sets)) {
            Some(c) => c.extend(sets),
            None => chains.push(sets),
        }
    }
    for c in &mut chains {
        c.sort_by_key(|s| (s.count_ones(), *s));
        c.dedup();
    }
    chains
}

/// Kuhn's augmenting path from set `i` along `edges` (to its strict supersets): whether it
/// found a superset unmatched, or one whose matched set could move to another; `prev` updated.
fn augment(i: usize, edges: &[Vec<usize>], prev: &mut [Option<usize>], seen: &mut [bool]) -> bool {
    for &j in &edges[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if prev[j].is_none_or(|k| augment(k, edges, prev, seen)) {
            prev[j] = Some(i);
            return true;
        }
    }
    false
}

/// Plans every clause of every stratum.
pub fn compile(prog: &Program) -> Plan {
    let mut width = prog
        .relations
        .iter()
        .map(|r| r.arity())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut strata = Vec::new();
    for (si, stratum) in prog.strata.iter().enumerate() {
        let here: BTreeSet<RelId> = stratum.rels.iter().copied().collect();
        let mut rules = Vec::new();
        let mut here_width = stratum
            .rels
            .iter()
            .map(|&r| prog.relations[r].arity())
            .max()
            .unwrap_or(0)
            .max(1);
        for &ci in &stratum.clauses {
            let plan = plan_clause(prog, ci, &here);
            here_width = here_width.max(rule_width(&plan));
            rules.push(plan);
        }
        width = width.max(here_width);
        let mut sp = StratumPlan {
            index: si,
            rules,
            width: here_width,
            indexes: Vec::new(),
        };
        cover(prog, &mut sp);
        strata.push(sp);
    }
    Plan { width, strata }
}

/// The columns a rule's rows need: its layouts, the key and value parts of its joins, the
/// keys of its negations (one per variable argument) and the groups of its aggregates.
fn rule_width(plan: &RulePlan) -> usize {
    let lits_width = |lits: &[Lit]| {
        lits.iter()
            .map(|l| match l {
                Lit::Neg(a) => a.args.iter().filter(|x| matches!(x, Arg::Var(_))).count(),
                Lit::Agg { outer, .. } => outer.len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0)
    };
    let mut w = plan.driver_layout.len().max(plan.head.len());
    for s in &plan.steps {
        w = w.max(s.input.len()).max(s.output.len());
        w = w.max(lits_width(s.step.lits()));
        if let Step::Leap {
            key_cols, val_cols, ..
        }
        | Step::Join {
            key_cols, val_cols, ..
        } = &s.step
        {
            w = w.max(key_cols.len()).max(val_cols.len());
        }
    }
    w
}

fn vars_of(atom: &Atom) -> Vec<VarId> {
    let mut out = Vec::new();
    for a in &atom.args {
        if let Arg::Var(v) = a
            && !out.contains(v)
        {
            out.push(*v);
        }
    }
    out
}

fn plan_clause(prog: &Program, ci: usize, here: &BTreeSet<RelId>) -> RulePlan {
    let clause = &prog.clauses[ci];
    let nvars = clause.var_names.len();
    let atoms: Vec<(usize, &Atom)> = clause
        .body
        .iter()
        .enumerate()
        .filter_map(|(i, l)| {
            if let Lit::Pos(a) = l {
                Some((i, a))
            } else {
                None
            }
        })
        .collect();
    // The driver: the first atom over this stratum if any (its new tuples drive the rule), else
    // the first atom.
    let first = atoms
        .iter()
        .find(|(_, a)| here.contains(&a.rel))
        .or(atoms.first())
        .map(|(i, _)| *i);
    // Order the remaining atoms greedily: next is the first that shares a bound variable.
    let mut bound = vec![false; nvars];
    let mut order: Vec<Lit> = Vec::new();
    let mut rest: Vec<Lit> = clause.body.clone();
    if let Some(f) = first {
        let lit = rest.remove(f);
        order.push(lit);
    }
    let mut b2 = bound.clone();
    for l in &order {
        for v in l.binds() {
            b2[v] = true;
        }
    }
    loop {
        let pick = rest
            .iter()
            .position(|l| matches!(l, Lit::Pos(a) if vars_of(a).iter().any(|&v| b2[v])))
            .or_else(|| rest.iter().position(|l| matches!(l, Lit::Pos(_))));
        let Some(p) = pick else { break };
        let lit = rest.remove(p);
        for v in lit.binds() {
            b2[v] = true;
        }
        order.push(lit);
    }
    order.extend(rest);
    let (body, _) = schedule(order, &mut bound, None);

    // Which variables each position still needs (the head and every later literal).
    let mut head_vars: Vec<VarId> = clause
        .head
        .args
        .iter()
        .filter_map(|a| if let Arg::Var(v) = a { Some(*v) } else { None })
        .collect();
    head_vars.dedup();
    let needed_after = |k: usize| -> BTreeSet<VarId> {
        let mut s: BTreeSet<VarId> = head_vars.iter().copied().collect();
        for l in &body[k..] {
            s.extend(l.needs());
            if let Lit::Pos(a) = l {
                s.extend(vars_of(a));
            }
        }
        s
    };

    let mut k = 0;
    let (driver, mut layout) = match body.first() {
        Some(Lit::Pos(a)) => {
            k = 1;
            let vars = vars_of(a);
            let live = needed_after(1);
            let layout: Vec<VarId> = vars.iter().copied().filter(|v| live.contains(v)).collect();
            let identity = a
                .args
                .iter()
                .map(|x| if let Arg::Var(v) = x { Some(*v) } else { None })
                .collect::<Option<Vec<_>>>()
                == Some(layout.clone());
            (
                Driver::Atom {
                    atom: a.clone(),
                    recursive: here.contains(&a.rel),
                    identity,
                },
                layout,
            )
        }
        _ => (Driver::Unit, vec![]),
    };
    let driver_layout = layout.clone();
    let mut steps = Vec::new();
    while k < body.len() {
        match &body[k] {
            Lit::Pos(a) => {
                let mut key_slots = Vec::new();
                let mut key_cols = Vec::new();
                let mut val_cols = Vec::new();
                let mut new_vars = Vec::new();
                for (col, arg) in a.args.iter().enumerate() {
                    if let Arg::Var(v) = arg {
                        if let Some(slot) = layout.iter().position(|x| x == v) {
                            key_slots.push(slot);
                            key_cols.push(col);
                        } else if !new_vars.contains(v) {
                            new_vars.push(*v);
                            val_cols.push(col);
                        }
                    }
                }
                let recursive = here.contains(&a.rel);
                k += 1;
                // Filters that can run right after a leapjoin join it as value filters.
                let mut filters = Vec::new();
                if !recursive {
                    while k < body.len()
                        && matches!(
                            body[k],
                            Lit::Cmp { .. } | Lit::Test { .. } | Lit::Neg(_) | Lit::False(_)
                        )
                    {
                        filters.push(body[k].clone());
                        k += 1;
                    }
                }
                let input = layout.clone();
                let output = next_layout(&layout, &new_vars, &needed_after(k));
                let step = if recursive {
                    Step::Join {
                        atom: a.clone(),
                        key_slots,
                        key_cols,
                        val_cols,
                    }
                } else {
                    Step::Leap {
                        atom: a.clone(),
                        key_slots,
                        key_cols,
                        val_cols,
                        filters,
                    }
                };
                steps.push(PlannedStep {
                    step,
                    input,
                    output: output.clone(),
                });
                layout = output;
            }
            _ => {
                let mut lits = Vec::new();
                while k < body.len() && !matches!(body[k], Lit::Pos(_)) {
                    lits.push(body[k].clone());
                    k += 1;
                }
                let input = layout.clone();
                let bound: Vec<VarId> = lits.iter().flat_map(|l| l.binds()).collect();
                let output = next_layout(&layout, &bound, &needed_after(k));
                steps.push(PlannedStep {
                    step: Step::Filter { lits },
                    input,
                    output: output.clone(),
                });
                layout = output;
            }
        }
    }
    let head = clause
        .head
        .args
        .iter()
        .map(|a| match a {
            Arg::Var(v) => Out::Cur(layout.iter().position(|x| x == v).unwrap_or(0)),
            Arg::Const(c) => Out::Const(*c),
            Arg::Wild => Out::Const(0),
        })
        .collect();
    RulePlan {
        clause: ci,
        driver,
        driver_layout,
        steps,
        head,
    }
}

/// The layout after a step: the variables of `layout` still needed, then the newly bound
/// ones still needed, each once.
fn next_layout(layout: &[VarId], new: &[VarId], live: &BTreeSet<VarId>) -> Vec<VarId> {
    let mut out: Vec<VarId> = layout
        .iter()
        .copied()
        .filter(|v| live.contains(v))
        .collect();
    for &v in new {
        if live.contains(&v) && !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// Prints the plan: each stratum, each rule (file:line and text), each step under it.
pub fn render(plan: &Plan, prog: &Program, sources: &Sources) -> String {
    let mut out = String::new();
    if let Some(m) = &prog.magic {
        // The magic-set rewrite (`.pragma "magic-transform"`): say which relations it
        // restricted, and how to read the names it made.
        let n = m.original.relations.len();
        let copies: Vec<&str> = prog.relations[n.min(prog.relations.len())..]
            .iter()
            .map(|r| r.name.as_str())
            .filter(|r| !r.starts_with("@magic."))
            .collect();
        let partial: Vec<String> = m
            .partial
            .iter()
            .map(|&r| format!("`{}`", prog.relations[r].name))
            .collect();
        let _ = writeln!(
            out,
            "magic-set rewrite (.pragma \"magic-transform\"): adorned copies {} (b: a bound \
             column, f: a free one), each guarded by its `@magic.` relation of the values asked; \
             not computed in full: {}. Rules the rewrite made are listed under the rule they come from.\n",
            if copies.is_empty() {
                "none".to_string()
            } else {
                copies
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            },
            if partial.is_empty() {
                "none".to_string()
            } else {
                partial.join(", ")
            }
        );
    }
    for sp in &plan.strata {
        let st = &prog.strata[sp.index];
        let names: Vec<&str> = st
            .rels
            .iter()
            .map(|&r| prog.relations[r].name.as_str())
            .collect();
        if sp.rules.is_empty() {
            // Input relations without rules: nothing to run.
            continue;
        }
        let kind = if st.recursive { " recursive" } else { "" };
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        let _ = writeln!(
            out,
            "stratum {} [{}]{kind}, rows of {} column{}",
            sp.index,
            names.join(", "),
            sp.width,
            if sp.width == 1 { "" } else { "s" }
        );
        for (i, ix) in sp.indexes.iter().enumerate() {
            let served = accesses(prog, sp)
                .iter()
                .filter(|(a, sets, _)| sp.order_for(a, sets) == Some(Order::Index(i)))
                .count();
            let _ = writeln!(
                out,
                "  index `{}`: {served} access{}",
                sorted_name(prog, ix),
                if served == 1 { "" } else { "es" }
            );
        }
        for rp in &sp.rules {
            let c = &prog.clauses[rp.clause];
            let text: String = sources
                .snippet(c.span)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            let _ = writeln!(out, "  {}  {}", sources.location(c.span), text);
            let var = |v: &VarId| c.var_names[*v].clone();
            let lay = |l: &[VarId]| l.iter().map(var).collect::<Vec<_>>().join(", ");
            match &rp.driver {
                Driver::Unit => {
                    let _ = writeln!(out, "    unit row, once");
                }
                Driver::Atom {
                    atom,
                    recursive,
                    identity,
                } => {
                    let kind = if *recursive {
                        "new tuples of variable"
                    } else {
                        "all tuples of relation"
                    };
                    let copy = if *identity {
                        ""
                    } else {
                        " (filtered, projected)"
                    };
                    let _ = writeln!(
                        out,
                        "    scan {kind} `{}`{copy} -> ({})",
                        atom_text(atom, c, prog),
                        lay(&rp.driver_layout)
                    );
                }
            }
            for s in &rp.steps {
                match &s.step {
                    Step::Leap {
                        atom,
                        key_cols,
                        val_cols,
                        filters,
                        ..
                    } => {
                        let idx =
                            order_name(prog, sp, atom.rel, sp.join_order(atom, key_cols, val_cols));
                        let f = if filters.is_empty() {
                            String::new()
                        } else {
                            format!(" + value filters [{}]", lit_kinds(filters, prog, sp))
                        };
                        let how = if rp.runs_once() {
                            "merge join"
                        } else {
                            "leapjoin"
                        };
                        let _ = writeln!(
                            out,
                            "    {how} with {idx} for `{}`{f} -> ({})",
                            atom_text(atom, c, prog),
                            lay(&s.output)
                        );
                    }
                    Step::Join {
                        atom,
                        key_cols,
                        val_cols,
                        ..
                    } => {
                        let idx = index_name(prog, atom, key_cols, val_cols);
                        let _ = writeln!(
                            out,
                            "    join variable `{idx}` for `{}` -> ({})",
                            atom_text(atom, c, prog),
                            lay(&s.output)
                        );
                    }
                    Step::Filter { lits } => {
                        let _ = writeln!(
                            out,
                            "    filter/map [{}] -> ({})",
                            lit_kinds(lits, prog, sp),
                            lay(&s.output)
                        );
                        for l in lits {
                            render_aggregate(&mut out, l, c, prog, sp);
                        }
                    }
                }
            }
            let _ = writeln!(out, "    insert into `{}`", prog.relations[c.head.rel].name);
        }
    }
    out
}

/// How an access reads its relation, for the plan: `` `edge` (its own order) `` or
/// `` `edge_by_1_0` `` (an index).
fn order_name(prog: &Program, sp: &StratumPlan, rel: RelId, order: Order) -> String {
    match order {
        Order::Own => format!("`{}` (its own order)", prog.relations[rel].name),
        Order::Index(i) => format!("`{}`", sorted_name(prog, &sp.indexes[i])),
    }
}

/// An index's name after its columns in order, then the constants and repeats its rows match:
/// `edge_by_1_0`, `f_by_2_0_where_1=7`, `f_by_1_0_where_2=c1` (column 2 equal to column 1).
pub fn sorted_name(prog: &Program, ix: &IndexPlan) -> String {
    let cols: Vec<String> = ix.cols.iter().map(|c| c.to_string()).collect();
    let shape = AtomShape::of(&ix.atom);
    let mut name = format!("{}_by_{}", prog.relations[ix.atom.rel].name, cols.join("_"));
    let conds: Vec<String> = (shape.consts.iter().map(|(c, v)| format!("{c}={v}")))
        .chain(shape.eqs.iter().map(|(a, b)| format!("{b}=c{a}")))
        .collect();
    if !conds.is_empty() {
        let _ = write!(name, "_where_{}", conds.join("_"));
    }
    name
}

/// What each literal of a filter does, antijoins with the order they look up.
fn lit_kinds(lits: &[Lit], prog: &Program, sp: &StratumPlan) -> String {
    let kinds: Vec<String> = lits
        .iter()
        .map(|l| match l {
            Lit::Neg(a) => format!("antijoin {}", order_name(prog, sp, a.rel, sp.neg_order(a))),
            Lit::Cmp { .. } => "compare".into(),
            Lit::Assign { .. } => "assign".into(),
            Lit::Test { .. } => "test".into(),
            Lit::Agg { .. } => "aggregate".into(),
            Lit::False(_) => "false".into(),
            Lit::Pos(_) => "member".into(),
        })
        .collect();
    kinds.join(", ")
}

/// One line for an aggregate: whether it runs once or per row, and how each atom of its body
/// reads its relation (a lookup in an index of the stratum's joins where one serves it).
fn render_aggregate(out: &mut String, lit: &Lit, c: &Clause, prog: &Program, sp: &StratumPlan) {
    let Lit::Agg {
        kind, body, outer, ..
    } = lit
    else {
        return;
    };
    let nvars = c.var_names.len();
    let plan = plan_aggregate(body, outer, nvars);
    let outer_names: Vec<&str> = outer.iter().map(|&v| c.var_names[v].as_str()).collect();
    let how = if outer.is_empty() {
        "once".to_string()
    } else if plan.precomputed {
        format!("once for all groups ({})", outer_names.join(", "))
    } else {
        format!("per row (given {})", outer_names.join(", "))
    };
    let reads: Vec<String> = plan
        .accesses(outer, nvars)
        .iter()
        .map(|a| {
            let text = atom_text(&a.atom, c, prog);
            match (a.negated, a.key_cols.is_empty()) {
                (false, true) => format!("scan `{text}`"),
                (neg, _) => {
                    let arity = a.atom.args.len();
                    let name = match sp.lookup_order(a.atom.rel, arity, &a.key_cols) {
                        Some(i) => sorted_name(prog, &sp.indexes[i]),
                        None => lookup_name(prog, a.atom.rel, &a.key_cols),
                    };
                    let how = if neg { "antijoin" } else { "lookup" };
                    format!("{how} `{name}` for `{text}`")
                }
            }
        })
        .collect();
    let _ = writeln!(
        out,
        "      aggregate {}, {how}: {}",
        kind_name(*kind),
        reads.join("; ")
    );
}

fn kind_name(kind: AggKind) -> &'static str {
    match kind {
        AggKind::Count => "count",
        AggKind::Sum => "sum",
        AggKind::Min => "min",
        AggKind::Max => "max",
    }
}

/// The name of a lookup of whole rows by some columns: `edge_by_1`.
pub fn lookup_name(prog: &Program, rel: RelId, key_cols: &[usize]) -> String {
    let k: Vec<String> = key_cols.iter().map(|c| c.to_string()).collect();
    format!(
        "{}_by_{}",
        prog.relations[rel].name,
        if k.is_empty() {
            "none".into()
        } else {
            k.join("_")
        }
    )
}

/// The name of a variable join's index of (key, value) pairs, after its key and value columns,
/// as datapond names them: `edge_by_0_to_1`.
pub fn index_name(prog: &Program, atom: &Atom, key_cols: &[usize], val_cols: &[usize]) -> String {
    let k: Vec<String> = key_cols.iter().map(|c| c.to_string()).collect();
    let v: Vec<String> = val_cols.iter().map(|c| c.to_string()).collect();
    format!(
        "{}_by_{}_to_{}",
        prog.relations[atom.rel].name,
        if k.is_empty() {
            "none".into()
        } else {
            k.join("_")
        },
        if v.is_empty() {
            "none".into()
        } else {
            v.join("_")
        }
    )
}

fn atom_text(atom: &Atom, c: &Clause, prog: &Program) -> String {
    let rel = &prog.relations[atom.rel];
    let args: Vec<String> = atom
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| match a {
            Arg::Var(v) => c.var_names[*v].clone(),
            Arg::Wild => "_".into(),
            Arg::Const(x) => format_literal(rel.types[i], *x, &prog.symbols),
        })
        .collect();
    format!("{}({})", rel.name, args.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(cols: &[usize]) -> u64 {
        cols.iter().fold(0, |m, &c| m | 1 << c)
    }

    /// The fewest chains, by trying every way to put the accesses into groups.
    fn fewest(accesses: &[Vec<u64>]) -> usize {
        fn go(rest: &[Vec<u64>], groups: &mut Vec<Vec<u64>>, best: &mut usize) {
            if groups.len() >= *best {
                return;
            }
            let Some((first, rest)) = rest.split_first() else {
                *best = groups.len();
                return;
            };
            for i in 0..groups.len() {
                if fits(&groups[i], first) {
                    let n = groups[i].len();
                    groups[i].extend(first);
                    go(rest, groups, best);
                    groups[i].truncate(n);
                }
            }
            groups.push(first.clone());
            go(rest, groups, best);
            groups.pop();
        }
        let mut best = usize::MAX;
        go(accesses, &mut Vec::new(), &mut best);
        if accesses.is_empty() { 0 } else { best }
    }

    /// Every access finds a chain whose order begins with each of its sets.
    fn serves(chains: &[Vec<u64>], accesses: &[Vec<u64>]) -> bool {
        accesses.iter().all(|sets| {
            chains.iter().any(|c| {
                let mut c = c.clone();
                c.sort_by_key(|s| s.count_ones());
                fits(&c, &c) && sets.iter().all(|&s| leads(&chain_cols(&c), s))
            })
        })
    }

    #[test]
    fn the_cover_is_smaller_than_first_fit_where_first_fit_misses() {
        // Negations of one relation on {1, 2}, {1, 3}, {1} and {2}. First fit puts {1} into the
        // chain of {1, 2}, the first it meets, and {2} then fits nowhere: three chains. The
        // minimum is two: {1} ⊂ {1, 3} and {2} ⊂ {1, 2}.
        let accesses = [
            vec![set(&[1, 2])],
            vec![set(&[1, 3])],
            vec![set(&[1])],
            vec![set(&[2])],
        ];
        assert_eq!(first_fit(&accesses).len(), 3);
        let chains = chain_cover(&accesses);
        assert_eq!(
            chains,
            vec![vec![set(&[1]), set(&[1, 3])], vec![set(&[2]), set(&[1, 2])]]
        );
        assert!(serves(&chains, &accesses));
        assert_eq!(chain_cols(&chains[0]), vec![1, 3]);
        assert_eq!(chain_cols(&chains[1]), vec![2, 1]);
    }

    #[test]
    fn a_join_keeps_its_key_and_values_in_one_chain() {
        // Joins keyed on {0} proposing {1}, and on {0} proposing {2}: {0} is in both chains.
        let accesses = [vec![set(&[0]), set(&[0, 1])], vec![set(&[0]), set(&[0, 2])]];
        let chains = chain_cover(&accesses);
        assert_eq!(chains.len(), 2);
        assert!(serves(&chains, &accesses));
        // An access that binds and proposes nothing still gets an order.
        let chains = chain_cover(&[vec![]]);
        assert_eq!(chains, vec![Vec::<u64>::new()]);
        assert_eq!(chain_cols(&chains[0]), vec![0]);
        assert_eq!(chain_cover(&[]), Vec::<Vec<u64>>::new());
    }

    /// An access over four columns: a negation's set, or a join's key and its key and values.
    fn access() -> impl Strategy<Value = Vec<u64>> {
        (0u64..16, 0u64..16, any::<bool>()).prop_map(|(k, v, join)| {
            if join {
                access_sets(&bits(k), &bits(v & !k))
            } else {
                access_sets(&bits(k), &[])
            }
        })
    }

    fn bits(m: u64) -> Vec<usize> {
        (0..4).filter(|c| m & 1 << c != 0).collect()
    }

    proptest! {
        /// Every access finds an order that begins with each of its sets, in no more chains
        /// than first fit takes; in the fewest possible when each access has one set (Dilworth)
        /// or every join proposes the rest of the columns.
        #[test]
        fn every_access_finds_its_order_in_the_fewest_chains(
            accesses in proptest::collection::vec(access(), 0..7)
        ) {
            let chains = chain_cover(&accesses);
            prop_assert!(serves(&chains, &accesses), "{chains:?} for {accesses:?}");
            prop_assert!(chains.len() <= first_fit(&accesses).len());
            let top = accesses.iter().flatten().fold(0, |m, s| m | s);
            if accesses.iter().all(|a| a.len() < 2 || a[1] == top) {
                prop_assert_eq!(chains.len(), fewest(&accesses), "{:?} for {:?}", chains, accesses);
            }
        }

        #[test]
        fn every_set_is_an_access_of_one_set_or_the_top(
            accesses in proptest::collection::vec(access(), 0..7)
        ) {
            // Joins proposing the rest of four columns, and negations.
            let full: Vec<Vec<u64>> = accesses
                .into_iter()
                .map(|a| if a.len() == 2 { access_sets(&bits(a[0]), &bits(15 & !a[0])) } else { a })
                .collect();
            let chains = chain_cover(&full);
            prop_assert!(serves(&chains, &full));
            prop_assert_eq!(chains.len(), fewest(&full), "{:?} for {:?}", chains, full);
        }
    }
}
