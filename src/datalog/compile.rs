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
}

/// A whole program's plan.
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

/// Which sorted order a join or a negation reads. A relation is kept sorted by all its columns,
/// so it serves, without a copy, every access that binds its leading columns: that order is
/// used wherever it serves, and an index of its own is built only for the other accesses.
/// Among those, a negation whose columns are exactly the key of a join index of its stratum
/// looks its tuples up in that index's keys (prefix reuse, greedy: Soufflé's minimal chain
/// cover would also merge indexes whose keys are prefixes of each other).
#[derive(Clone, Debug)]
pub enum Order {
    /// The relation's own rows: the columns looked up lead each row.
    Own,
    /// An index of (key columns, value columns) of the rows matching an atom.
    Index {
        /// The atom whose matching rows the index holds.
        atom: Atom,
        /// Its key columns.
        key_cols: Vec<usize>,
        /// Its value columns.
        val_cols: Vec<usize>,
    },
    /// A negation's own set of tuples, by its variable columns.
    Set,
}

/// Whether an atom's arguments are distinct variables (no constant, no repeat), wildcards
/// allowed only where `wild_ok`.
fn plain(atom: &Atom, wild_ok: bool) -> bool {
    let mut seen = Vec::new();
    atom.args.iter().all(|a| match a {
        Arg::Var(v) if !seen.contains(v) => {
            seen.push(*v);
            true
        }
        Arg::Wild => wild_ok,
        _ => false,
    })
}

/// The order a join with `atom` (binding `key_cols`, proposing `val_cols`) reads: the
/// relation's own when the key is its leading columns and the values the next ones, the rest
/// wildcards (rows then agreeing on key and values are adjacent, and read once).
pub fn join_order(atom: &Atom, key_cols: &[usize], val_cols: &[usize]) -> Order {
    let used = key_cols.len() + val_cols.len();
    let own = plain(atom, true)
        && key_cols
            .iter()
            .chain(val_cols)
            .enumerate()
            .all(|(i, &c)| i == c)
        && atom.args[used.min(atom.args.len())..]
            .iter()
            .all(|a| matches!(a, Arg::Wild));
    if own {
        Order::Own
    } else {
        Order::Index {
            atom: atom.clone(),
            key_cols: key_cols.to_vec(),
            val_cols: val_cols.to_vec(),
        }
    }
}

/// The columns a negated atom looks up: those of its variables.
pub fn neg_cols(atom: &Atom) -> Vec<usize> {
    (0..atom.args.len())
        .filter(|&c| matches!(atom.args[c], Arg::Var(_)))
        .collect()
}

/// The order a negated atom of stratum `sp` reads: the relation's own when its variables are
/// the leading columns (wildcards after them), else the keys of a join index of the stratum
/// on exactly its columns, else a set of its own.
pub fn neg_order(sp: &StratumPlan, atom: &Atom) -> Order {
    let cols = neg_cols(atom);
    if plain(atom, true) && cols.iter().enumerate().all(|(i, &c)| i == c) {
        return Order::Own;
    }
    if plain(atom, true) {
        for rp in &sp.rules {
            for ps in &rp.steps {
                if let Step::Leap {
                    atom: a,
                    key_cols,
                    val_cols,
                    ..
                } = &ps.step
                    && a.rel == atom.rel
                    && *key_cols == cols
                    && plain(a, true)
                    && !matches!(join_order(a, key_cols, val_cols), Order::Own)
                {
                    return join_order(a, key_cols, val_cols);
                }
            }
        }
    }
    Order::Set
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
        strata.push(StratumPlan {
            index: si,
            rules,
            width: here_width,
        });
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
        w = w.max(match &s.step {
            Step::Leap {
                key_cols,
                val_cols,
                filters,
                ..
            } => key_cols.len().max(val_cols.len()).max(lits_width(filters)),
            Step::Join {
                key_cols, val_cols, ..
            } => key_cols.len().max(val_cols.len()),
            Step::Filter { lits } => lits_width(lits),
        });
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
        if !out.is_empty() {
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
                        let idx = order_name(prog, atom.rel, &join_order(atom, key_cols, val_cols));
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
                            render_aggregate(&mut out, l, c, prog);
                        }
                    }
                }
            }
            let _ = writeln!(out, "    insert into `{}`", prog.relations[c.head.rel].name);
        }
    }
    out
}

/// How an access reads its relation, for the plan: `` `edge` (its own order) ``,
/// `` `edge_by_1_to_0` `` (an index), or `` `edge_by_1` `` (a negation's own set).
fn order_name(prog: &Program, rel: RelId, order: &Order) -> String {
    match order {
        Order::Own => format!("`{}` (its own order)", prog.relations[rel].name),
        Order::Index {
            atom,
            key_cols,
            val_cols,
        } => format!("`{}`", index_name(prog, atom, key_cols, val_cols)),
        Order::Set => String::new(),
    }
}

/// What each literal of a filter does, antijoins with the set or order they look up.
fn lit_kinds(lits: &[Lit], prog: &Program, sp: &StratumPlan) -> String {
    let kinds: Vec<String> = lits
        .iter()
        .map(|l| match l {
            Lit::Neg(a) => match neg_order(sp, a) {
                Order::Set => {
                    format!("antijoin `{}`", lookup_name(prog, a.rel, &neg_cols(a)))
                }
                Order::Index {
                    atom,
                    key_cols,
                    val_cols,
                } => format!(
                    "antijoin keys of `{}`",
                    index_name(prog, &atom, &key_cols, &val_cols)
                ),
                own => format!("antijoin {}", order_name(prog, a.rel, &own)),
            },
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
/// reads its relation.
fn render_aggregate(out: &mut String, lit: &Lit, c: &Clause, prog: &Program) {
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
                (neg, _) => format!(
                    "{} `{}` for `{text}`",
                    if neg { "antijoin" } else { "lookup" },
                    lookup_name(prog, a.atom.rel, &a.key_cols)
                ),
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

/// Index names after their key columns, as datapond does: `edge_by_0`.
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
