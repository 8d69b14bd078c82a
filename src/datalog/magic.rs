//! The magic-set rewrite asked for by `.pragma "magic-transform" "<relations>"` (Soufflé's
//! `MagicSetTransformer`, in bindlog's own form).
//!
//! Bottom-up evaluation computes every relation in full, even when the outputs only ever look
//! at a sliver of it: `query() :- samegen(16384, 32767)` needs one tuple of `samegen`, yet the
//! whole same-generation relation (hundreds of millions of tuples on a deep tree) is built
//! first. The rewrite makes the rules compute only what the outputs can ask for:
//!
//! 1. **Adornment.** Starting from the rules of the relations that are not transformed (the
//!    outputs and inputs among them, computed in full), each body atom over a transformed
//!    relation gets a bound/free pattern from left-to-right sideways information passing: a
//!    column is bound when it holds a constant or a variable bound before the atom (by the
//!    head's bound columns, by an earlier atom, or by an earlier `x = expr` or aggregate).
//!    The atom then reads an adorned copy of its relation, `r.{bf}`, whose rules are adorned
//!    the same way, with the head's pattern as the starting point; new patterns are explored
//!    until none is left. An all-free pattern reads the relation itself, computed in full.
//! 2. **Magic relations.** `@magic.r.{bf}` holds the values of the bound columns that are
//!    asked of `r.{bf}`. Each adorned rule gets it as a first literal (a guard), so that it
//!    only derives tuples somebody asks for; each atom over `r.{bf}` in a rule body adds a
//!    magic rule: its bound arguments are asked when the guard and the literals before the
//!    atom hold. Constants seed it: `query() :- samegen(16384, 32767)` gives the fact
//!    `@magic.samegen.{bb}(16384, 32767)`.
//!
//! Every tuple of `r.{bf}` is a tuple of `r`, and every tuple of `r` an adorned atom can match
//! is in `r.{bf}`: the rules reading the copies derive what they derived before. Outputs,
//! `.printsize` relations and inputs therefore keep exactly their contents; only the
//! transformed relations themselves change, holding what the outputs need (or nothing).
//!
//! Conservative on purpose; a relation is left as written (its rules unchanged, computed in
//! full) when neither the pragma nor a `magic` qualifier on its `.decl` names it,
//! `magic-transform-exclude` or a `no_magic` qualifier names it, it is an input, an output or
//! printed by size, it has no rule reading a relation (facts only), or it is negated or
//! aggregated anywhere, or is read (directly or not) by a relation that is: restricting a
//! relation a negation reads would make the negation true of tuples the restriction left
//! out. A program
//! calling `autoinc()` is not rewritten at all (the numbers depend on the rules run). Should
//! the rewrite go wrong in any way (too many patterns or rules, a program that no longer
//! stratifies), the program is kept as checked: the pragma is an optimisation, never an error.
//! The atoms of a body longer than [`MAX_BODY`] read their relations in full.
//!
//! The new relations' names (`r.{bf}`, `@magic.r.{bf}`, as Soufflé names them) cannot be
//! written in a program, so they cannot clash with a user's. They appear in `--print-plan`
//! and in proofs, never in outputs. The program as checked is kept on the rewritten one
//! ([`Program::magic`]) so that `--explain` of a tuple of a relation the rewrite restricted
//! is answered from the original rules.

use crate::datalog::check::{stratify, uses_autoinc};
use crate::datalog::ir::*;
use std::collections::{HashMap, VecDeque};

/// Most adorned copies one rewrite makes; past it, the program is kept as checked. The number
/// of patterns can grow with the arities (2^n per relation); real programs need a handful.
const MAX_ADORNED: usize = 4096;

/// Most clauses the rewritten program may have; past it, the program is kept as checked.
const MAX_CLAUSES: usize = 200_000;

/// Most body literals the rewritten program may have in all (a magic rule repeats the body
/// before its atom, so a long body costs its length squared); past it, the program is kept as
/// checked.
const MAX_LITERALS: usize = 1_000_000;

/// Longest body whose atoms are adorned. A magic rule repeats the body before its atom, so a
/// body of n atoms makes rules of n²/2 literals in all, which cost more still to plan and
/// run; the atoms of a longer body read their relations in full (no magic rules), which is
/// right, only not restricted.
const MAX_BODY: usize = 48;

/// The program rewritten as its `.pragma "magic-transform"` asks, or as it is when the pragma
/// is absent or leaves nothing to transform.
pub fn rewrite(prog: Program) -> Program {
    if prog.magic.is_some() || !prog.pragmas.wants_magic() {
        return prog;
    }
    if prog.clauses.iter().any(|c| c.body.iter().any(uses_autoinc)) {
        return prog;
    }
    let transform = transformable(&prog);
    if !transform.contains(&true) {
        return prog;
    }
    rewritten(&prog, transform).unwrap_or(prog)
}

/// Per relation, whether the rewrite may restrict it (see the module documentation).
pub fn transformable(prog: &Program) -> Vec<bool> {
    let n = prog.relations.len();
    let mut defined = vec![false; n];
    // Relations made of facts only are left as they are (Soufflé too): nothing to restrict.
    for c in &prog.clauses {
        defined[c.head.rel] |= c
            .body
            .iter()
            .any(|l| matches!(l, Lit::Pos(_) | Lit::Neg(_) | Lit::Agg { .. }));
    }
    let mut out: Vec<bool> = prog
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| {
            defined[i]
                && prog.pragmas.magic_allows(&r.name)
                && r.input.is_none()
                && r.output.is_none()
                && r.also_output.is_empty()
                && !r.printsize
        })
        .collect();
    // What each relation's rules read, and which relations are negated or aggregated.
    let mut reads: Vec<Vec<RelId>> = vec![Vec::new(); n];
    let mut blocked = vec![false; n];
    let mut todo = Vec::new();
    for c in &prog.clauses {
        // Aggregates nest; walked with a stack, not by recursion.
        let mut stack: Vec<(&[Lit], bool)> = vec![(&c.body, false)];
        while let Some((lits, in_aggregate)) = stack.pop() {
            for l in lits {
                let (rel, restricts) = match l {
                    Lit::Pos(a) => (a.rel, in_aggregate),
                    Lit::Neg(a) => (a.rel, true),
                    Lit::Agg { body, .. } => {
                        stack.push((body, true));
                        continue;
                    }
                    _ => continue,
                };
                reads[c.head.rel].push(rel);
                if restricts && !blocked[rel] {
                    blocked[rel] = true;
                    todo.push(rel);
                }
            }
        }
    }
    while let Some(r) = todo.pop() {
        for &b in &reads[r] {
            if !blocked[b] {
                blocked[b] = true;
                todo.push(b);
            }
        }
    }
    for (t, b) in out.iter_mut().zip(&blocked) {
        *t &= !b;
    }
    out
}

/// A bound/free pattern: `true` where the column is bound.
type Adornment = Vec<bool>;

struct Rewriter<'p> {
    prog: &'p Program,
    transform: Vec<bool>,
    relations: Vec<Relation>,
    /// (relation, pattern with a bound column) -> (adorned copy, magic relation).
    adorned: HashMap<(RelId, Adornment), (RelId, RelId)>,
    /// Transformed relations some atom reads with every column free (computed in full).
    in_full: Vec<bool>,
    /// Patterns whose rules are still to be adorned.
    queue: VecDeque<(RelId, Adornment)>,
    clauses: Vec<Clause>,
    /// Body literals in `clauses`, against [`MAX_LITERALS`].
    literals: usize,
}

impl Rewriter<'_> {
    /// The relation an atom over `rel` with bound columns `ad` reads, created (with its magic
    /// relation) and queued if new; `None` past [`MAX_ADORNED`].
    fn request(&mut self, rel: RelId, ad: &[bool]) -> Option<RelId> {
        if !ad.contains(&true) {
            if !self.in_full[rel] {
                self.in_full[rel] = true;
                self.queue.push_back((rel, ad.to_vec()));
            }
            return Some(rel);
        }
        if let Some(&(copy, _)) = self.adorned.get(&(rel, ad.to_vec())) {
            return Some(copy);
        }
        if self.adorned.len() >= MAX_ADORNED {
            return None;
        }
        let r = &self.prog.relations[rel];
        let pattern: String = ad.iter().map(|&b| if b { 'b' } else { 'f' }).collect();
        let plain = |name: String, cols: &[usize]| Relation {
            name,
            attrs: cols.iter().map(|&i| r.attrs[i].clone()).collect(),
            types: cols.iter().map(|&i| r.types[i]).collect(),
            decl: r.decl,
            input: None,
            output: None,
            also_output: Vec::new(),
            printsize: false,
        };
        let all: Vec<usize> = (0..ad.len()).collect();
        let bound: Vec<usize> = all.iter().copied().filter(|&i| ad[i]).collect();
        let copy = plain(format!("{}.{{{pattern}}}", r.name), &all);
        let magic = plain(format!("@magic.{}.{{{pattern}}}", r.name), &bound);
        let copy_id = self.relations.len();
        self.relations.push(copy);
        self.relations.push(magic);
        self.adorned
            .insert((rel, ad.to_vec()), (copy_id, copy_id + 1));
        self.queue.push_back((rel, ad.to_vec()));
        Some(copy_id)
    }

    /// Adds clause `c` with head relation `head`, its head's bound columns `ad` (`None`, or
    /// all free: computed in full, no guard), each body atom over a transformed relation
    /// reading its adorned copy, and the magic rules those atoms ask.
    fn clause(&mut self, c: &Clause, head: RelId, ad: Option<&[bool]>) -> Option<()> {
        let n = c.var_names.len();
        let mut bound = vec![false; n];
        let mut body = Vec::with_capacity(c.body.len() + 1);
        if let Some(ad) = ad.filter(|ad| ad.contains(&true)) {
            let magic = self.adorned.get(&(c.head.rel, ad.to_vec()))?.1;
            // A head variable the body binds by `x = expr` or an aggregate must stay unbound
            // until then: the guard leaves its column open (it filters a little less).
            let late: Vec<VarId> = c
                .body
                .iter()
                .filter_map(|l| match l {
                    Lit::Assign { var, .. } | Lit::Agg { var, .. } => Some(*var),
                    _ => None,
                })
                .collect();
            let mut args = Vec::new();
            for (x, &b) in c.head.args.iter().zip(ad) {
                if !b {
                    continue;
                }
                args.push(match *x {
                    Arg::Var(v) if v < n && !late.contains(&v) => {
                        bound[v] = true;
                        Arg::Var(v)
                    }
                    Arg::Var(_) | Arg::Wild => Arg::Wild,
                    Arg::Const(k) => Arg::Const(k),
                });
            }
            body.push(Lit::Pos(Atom {
                rel: magic,
                args,
                span: c.head.span,
            }));
        }
        let long = c.body.len() > MAX_BODY;
        for lit in &c.body {
            match lit {
                Lit::Pos(a) if self.transform.get(a.rel).copied().unwrap_or(false) => {
                    let sub: Adornment = a
                        .args
                        .iter()
                        .map(|x| match x {
                            _ if long => false,
                            Arg::Const(_) => true,
                            Arg::Var(v) => bound.get(*v).copied().unwrap_or(false),
                            Arg::Wild => false,
                        })
                        .collect();
                    let target = self.request(a.rel, &sub)?;
                    if sub.contains(&true) {
                        self.literals += body.len();
                        if self.literals > MAX_LITERALS {
                            return None;
                        }
                        let magic = self.adorned.get(&(a.rel, sub.clone()))?.1;
                        let args = a
                            .args
                            .iter()
                            .zip(&sub)
                            .filter(|(_, b)| **b)
                            .map(|(x, _)| *x)
                            .collect();
                        self.clauses.push(Clause {
                            head: Atom {
                                rel: magic,
                                args,
                                span: a.span,
                            },
                            body: body.clone(),
                            var_names: c.var_names.clone(),
                            var_types: c.var_types.clone(),
                            span: c.span,
                            stratum: 0,
                        });
                    }
                    body.push(Lit::Pos(Atom {
                        rel: target,
                        args: a.args.clone(),
                        span: a.span,
                    }));
                }
                other => body.push(other.clone()),
            }
            for v in lit.binds() {
                if let Some(b) = bound.get_mut(v) {
                    *b = true;
                }
            }
        }
        self.literals += body.len();
        self.clauses.push(Clause {
            head: Atom {
                rel: head,
                args: c.head.args.clone(),
                span: c.head.span,
            },
            body,
            var_names: c.var_names.clone(),
            var_types: c.var_types.clone(),
            span: c.span,
            stratum: 0,
        });
        (self.clauses.len() <= MAX_CLAUSES && self.literals <= MAX_LITERALS).then_some(())
    }
}

/// The rewrite of `prog` restricting the relations marked in `transform`, or `None` when it
/// cannot be done (the program is then evaluated as checked).
fn rewritten(prog: &Program, transform: Vec<bool>) -> Option<Program> {
    let n = prog.relations.len();
    let mut by_head: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, c) in prog.clauses.iter().enumerate() {
        by_head[c.head.rel].push(i);
    }
    let mut rw = Rewriter {
        prog,
        transform,
        relations: prog.relations.clone(),
        adorned: HashMap::new(),
        in_full: vec![false; n],
        queue: VecDeque::new(),
        clauses: Vec::new(),
        literals: 0,
    };
    // The relations computed in full: their rules as written, body atoms adorned.
    for c in &prog.clauses {
        if !rw.transform[c.head.rel] {
            rw.clause(c, c.head.rel, None)?;
        }
    }
    // Each pattern asked of a transformed relation: its rules adorned (one pass per pattern,
    // a worklist rather than recursion).
    while let Some((rel, ad)) = rw.queue.pop_front() {
        let head = if ad.contains(&true) {
            rw.adorned.get(&(rel, ad.clone()))?.0
        } else {
            rel
        };
        for &i in &by_head[rel] {
            rw.clause(&prog.clauses[i], head, Some(&ad))?;
        }
    }
    if rw.adorned.is_empty() {
        // Every atom asks its relation in full: the rewrite would change nothing.
        return None;
    }
    let Rewriter {
        transform,
        relations,
        in_full,
        mut clauses,
        ..
    } = rw;
    let mut errors = Vec::new();
    let strata = stratify(&relations, &mut clauses, &mut errors);
    if errors.iter().any(|e| !e.warning) {
        return None;
    }
    let partial = (0..n).filter(|&r| transform[r] && !in_full[r]).collect();
    Some(Program {
        relations,
        clauses,
        strata,
        symbols: prog.symbols.clone(),
        pragmas: prog.pragmas.clone(),
        magic: Some(Box::new(Rewritten {
            original: prog.clone(),
            partial,
        })),
    })
}
