//! Every user for any program, one flow or application at a time.
//!
//! The built-in rules answer each flow and application from that object's own facts (see
//! [`super::components`]), so within one of them users fall into few classes, while across all of
//! them the classes multiply: at a million users, 40,000 identity classes but a few per flow.
//! This module lets the rules a command adds (the audit catalogue, a user's own) run on those
//! per-scope classes as well:
//!
//! 1. The built-in rules are evaluated component by component ([`super::bulk`]); the per-user
//!    relations they derive about an object (a flow, a stage binding, an application, a binding
//!    on one of them) are gathered per local class. Each relation whose first column is such an
//!    object and whose rows name a user is *scoped*: its rows belong to the scope (the flow or
//!    application) that owns the object. Rows about objects no flow or application owns
//!    (policies, sources, groups) belong to the *global* scope, evaluated over every identity
//!    class.
//! 2. Per scope, users whose gathered rows are the same (up to their own id) and who agree on
//!    what every scope sees of them (their own facts, the groups named everywhere) form one
//!    *scope class*. Its representative's rows stand for every member.
//! 3. The whole program is evaluated once more with the scoped relations given: their rows for
//!    every scope class, each tagged with a hidden last column naming the scope. Rules that join
//!    a user's rows keep the tag, so a derived row knows which scope's class its user stands for,
//!    and a count over users sums `scope_weight`, the size of the class in that scope.
//!
//! This is exact only for rules that never join one user's rows from two scopes (a rule asking
//! "can open application A and application B" needs the user's classes in both at once). Such
//! rules are found here, before evaluation, and the caller then evaluates over every identity
//! class instead (correct, slower). What is checked, per rule, for each variable that stands for
//! a user in a scoped relation:
//! - every scoped atom about that user is provably about one scope: their first columns are one
//!   variable, or joined through a stage binding's flow, a binding's target or an entitlement's
//!   application;
//! - the user is bound by a positive scoped atom (a negation alone cannot say which scope);
//! - facts about the user outside the scoped relations are ones every scope class agrees on
//!   (the user's own facts, membership of groups named everywhere);
//! - an aggregate over users of a scope has the scope bound outside it;
//! - a derived row naming such a user is a row of one scope (the tag says which).

use super::classes::KeyContext;
use super::views::ANON;
use crate::datalog::Rules;
use crate::datalog::diag::Span;
use crate::datalog::ir::{Arg, Atom, Clause, Lit, Program, RelId, Ty, VarId};
use crate::facts::Value;
use std::collections::HashMap;

mod gather;
pub use gather::{Collect, Gathered, PartRows, Row, ScopeClasses, evaluate};

/// The tag of a derived row that names no user of a scope (it stands for itself).
pub const NO_SCOPE: &str = "\u{1}none";
/// The tag of rows about objects no flow or application owns, and of user-level rows.
pub const GLOBAL: &str = "";
/// Marks the user a gathered row is about (replaced by a class representative's pk).
pub const SUBJECT: &str = "\u{2}";

/// Relations that tie two objects to one scope: (relation, column, column).
const LINKS: [(&str, usize, usize); 4] = [
    ("fsb", 0, 1),
    ("binding", 0, 1),
    ("live", 0, 1),
    ("entitlement", 0, 1),
];

/// What a relation's rows say about users.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Nothing per user.
    None,
    /// Facts about users that hold in every scope.
    User,
    /// Facts about a user within one scope.
    Scoped,
    /// Both (a relation several kinds of rule write to): readable only without a user variable.
    Mixed,
}

impl Kind {
    fn join(self, other: Kind) -> Kind {
        match (self, other) {
            (a, b) if a == b => a,
            (Kind::None, b) => b,
            (a, Kind::None) => a,
            _ => Kind::Mixed,
        }
    }
    fn scoped(self) -> bool {
        matches!(self, Kind::Scoped | Kind::Mixed)
    }
}

/// The program to evaluate per scope class, and how to read it.
pub struct Scoping {
    /// The rules with the scope column added to the relations that carry one, and the given
    /// relations' rules emptied.
    pub rules: Rules,
    /// Relations whose rows come from the component evaluations (ids as in the original
    /// program, which the transformed one keeps).
    pub given: Vec<bool>,
    /// Relations with the hidden scope column (their last).
    pub has_scope: Vec<bool>,
    /// Per relation, the columns that may hold a user.
    pub users: Vec<Vec<bool>>,
    /// Relations the evaluated rules read (the given ones among them need gathering).
    pub read: Vec<bool>,
}

/// Why a program cannot be evaluated per scope: where, and what.
pub type Refusal = (Span, String);

/// Term of the union-find over a clause's variables and constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Term {
    Var(VarId),
    Const(u32),
}

#[derive(Default)]
struct Union {
    parent: HashMap<Term, Term>,
}

impl Union {
    fn find(&mut self, t: Term) -> Term {
        let p = *self.parent.get(&t).unwrap_or(&t);
        if p == t {
            return t;
        }
        let r = self.find(p);
        self.parent.insert(t, r);
        r
    }
    fn join(&mut self, a: Term, b: Term) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            self.parent.insert(a, b);
        }
    }
}

fn term(a: &Arg) -> Option<Term> {
    match a {
        Arg::Var(v) => Some(Term::Var(*v)),
        Arg::Const(c) => Some(Term::Const(*c)),
        Arg::Wild => None,
    }
}

/// What the analysis knows of every relation.
struct Knowledge<'p> {
    program: &'p Program,
    kind: Vec<Kind>,
    /// For scoped relations: the column naming the object whose scope the row is in (`None`:
    /// only the hidden tag says).
    det: Vec<Option<usize>>,
    users: Vec<Vec<bool>>,
    /// User-level relations whose rows every scope class agrees on.
    uniform: Vec<bool>,
    /// Input relations some flow or application owns rows of.
    owned: Vec<bool>,
    links: Vec<Option<(usize, usize)>>,
    weight: Option<RelId>,
    scope_weight: Option<RelId>,
    member_rels: Vec<bool>,
}

/// One context of a clause: its outer body, or an aggregate's body.
struct Context<'c> {
    lits: &'c [Lit],
    /// Variables bound outside (for an aggregate).
    outer: &'c [VarId],
    aggregate: bool,
}

/// The per-clause outcome.
struct ClauseInfo {
    head: Kind,
    /// Head columns that name the scope's object (for a scoped head).
    head_det: Vec<usize>,
    /// Per subject variable group: its tag variable (allocated on transformation).
    groups: Vec<(Vec<VarId>, bool)>,
}

impl Knowledge<'_> {
    fn subject_vars(&self, a: &Atom) -> Vec<VarId> {
        a.args
            .iter()
            .enumerate()
            .filter_map(|(i, x)| match x {
                Arg::Var(v) if self.users[a.rel][i] => Some(*v),
                _ => None,
            })
            .collect()
    }

    /// Checks one clause; returns its head's kind and determiner columns.
    fn clause(&self, clause: &Clause) -> Result<ClauseInfo, Refusal> {
        let refuse = |span: Span, what: String| Err((span, what));
        let mut contexts = vec![Context {
            lits: &clause.body,
            outer: &[],
            aggregate: false,
        }];
        for lit in &clause.body {
            if let Lit::Agg { body, outer, .. } = lit {
                if body.iter().any(|l| matches!(l, Lit::Agg { .. })) {
                    return refuse(clause.span, "a nested aggregate".into());
                }
                contexts.push(Context {
                    lits: body,
                    outer,
                    aggregate: true,
                });
            }
        }
        // Links between objects, from positive atoms anywhere in the clause.
        let mut union = Union::default();
        for ctx in &contexts {
            for lit in ctx.lits {
                if let Lit::Pos(a) = lit
                    && let Some((x, y)) = self.links[a.rel]
                    && let (Some(s), Some(t)) = (term(&a.args[x]), term(&a.args[y]))
                {
                    union.join(s, t);
                }
            }
        }
        // A user named by the rules is alone in its identity class, but not in a scope class:
        // a scoped atom about a constant user (other than the anonymous visitor) cannot be read
        // per scope.
        let anon = self.program.symbols.get(ANON);
        for ctx in &contexts {
            for lit in ctx.lits {
                if let Lit::Pos(a) | Lit::Neg(a) = lit
                    && self.kind[a.rel].scoped()
                    && a.args.iter().enumerate().any(|(i, x)| {
                        self.users[a.rel][i] && matches!(x, Arg::Const(c) if Some(*c) != anon)
                    })
                {
                    return refuse(
                        a.span,
                        "a user named by the rules is read from a flow's or application's answers"
                            .into(),
                    );
                }
            }
        }
        // Subject variables that share a scoped atom share a tag.
        let mut subjects = Union::default();
        let mut all_subjects: Vec<VarId> = Vec::new();
        for ctx in &contexts {
            for lit in ctx.lits {
                if let Lit::Pos(a) | Lit::Neg(a) = lit {
                    let vs = self.subject_vars(a);
                    if self.kind[a.rel] != Kind::None {
                        all_subjects.extend(&vs);
                    }
                    if self.kind[a.rel].scoped() {
                        for w in vs.windows(2) {
                            subjects.join(Term::Var(w[0]), Term::Var(w[1]));
                        }
                    }
                }
            }
        }
        all_subjects.sort_unstable();
        all_subjects.dedup();
        // Which subject variables are scoped, per context.
        let mut scoped_var = vec![false; clause.var_types.len()];
        for (ci, ctx) in contexts.iter().enumerate() {
            for &s in &all_subjects {
                let outer_bound = ctx.aggregate && ctx.outer.contains(&s);
                let atoms_in = |lits: &[Lit]| -> Vec<(bool, Atom)> {
                    lits.iter()
                        .filter_map(|l| match l {
                            Lit::Pos(a) if self.kind[a.rel].scoped() => Some((true, a.clone())),
                            Lit::Neg(a) if self.kind[a.rel].scoped() => Some((false, a.clone())),
                            _ => None,
                        })
                        .filter(|(_, a)| self.subject_vars(a).contains(&s))
                        .collect()
                };
                let here = atoms_in(ctx.lits);
                let outside = if outer_bound {
                    atoms_in(contexts[0].lits)
                } else {
                    Vec::new()
                };
                if here.is_empty() && outside.is_empty() {
                    continue;
                }
                if ci == 0 || !outer_bound {
                    scoped_var[s] = true;
                }
                let name = &clause.var_names[s];
                let all: Vec<&(bool, Atom)> = here.iter().chain(&outside).collect();
                if let Some((_, a)) = all.iter().find(|(_, a)| self.kind[a.rel] == Kind::Mixed) {
                    return refuse(
                        a.span,
                        format!(
                            "`{}` holds rows of several kinds; `{name}` cannot be read from it per flow or application",
                            self.program.relations[a.rel].name
                        ),
                    );
                }
                let hidden = all.iter().any(|(_, a)| self.det[a.rel].is_none());
                if hidden && all.len() > 1 {
                    return refuse(
                        clause.span,
                        format!(
                            "`{name}` is joined across relations that may be about different flows or applications"
                        ),
                    );
                }
                let across = ctx.aggregate && !outer_bound;
                let dets: Vec<Option<Term>> = all
                    .iter()
                    .map(|(_, a)| self.det[a.rel].and_then(|d| term(&a.args[d])))
                    .collect();
                match dets.first().copied().flatten() {
                    // One atom alone needs no object: its row's tag says which scope.
                    None if all.len() == 1 && !across => {}
                    None if across => {
                        return refuse(
                            clause.span,
                            format!(
                                "this aggregate ranges over `{name}` in every flow or application at once; bind the flow or application outside it"
                            ),
                        );
                    }
                    None => {
                        return refuse(
                            clause.span,
                            format!(
                                "`{name}` is read where no object says which flow or application"
                            ),
                        );
                    }
                    Some(first) => {
                        let root = union.find(first);
                        if dets.iter().any(|d| d.is_none_or(|d| union.find(d) != root)) {
                            return refuse(
                                clause.span,
                                format!(
                                    "`{name}` is joined across facts that are not provably about one flow or application"
                                ),
                            );
                        }
                        let consts: Vec<Term> = union
                            .parent
                            .keys()
                            .copied()
                            .filter(|t| matches!(t, Term::Const(_)))
                            .collect();
                        let fixed = matches!(root, Term::Const(_))
                            || ctx.outer.iter().any(|v| union.find(Term::Var(*v)) == root)
                            || consts.into_iter().any(|t| union.find(t) == root);
                        if across && !fixed {
                            return refuse(
                                clause.span,
                                format!(
                                    "this aggregate ranges over `{name}` in every flow or application at once; bind the flow or application outside it"
                                ),
                            );
                        }
                    }
                }
                let bound = here.iter().any(|(p, _)| *p) || outside.iter().any(|(p, _)| *p);
                if !bound {
                    return refuse(
                        clause.span,
                        format!(
                            "`{name}` is only negated in per-user relations of a flow or application; bind it with a positive one"
                        ),
                    );
                }
                // Everything else said about the user must hold alike for a whole scope class.
                let lits: Vec<&Lit> = ctx
                    .lits
                    .iter()
                    .chain(if outer_bound { contexts[0].lits } else { &[] })
                    .collect();
                for lit in lits {
                    let (Lit::Pos(a) | Lit::Neg(a)) = lit else {
                        continue;
                    };
                    if self.kind[a.rel].scoped() || Some(a.rel) == self.weight {
                        continue;
                    }
                    let mentions = a.args.contains(&Arg::Var(s));
                    if !mentions {
                        continue;
                    }
                    let ok = match self.kind[a.rel] {
                        Kind::User => {
                            self.uniform[a.rel]
                                || (self.member_rels[a.rel] && self.group_named(a, clause))
                        }
                        _ => !self.owned[a.rel],
                    };
                    if !ok {
                        return refuse(
                            a.span,
                            format!(
                                "`{}` tells users apart in ways one flow or application does not see; it cannot be joined with `{name}` there",
                                self.program.relations[a.rel].name
                            ),
                        );
                    }
                }
            }
        }
        // Groups of subject variables and whether they are scoped.
        let mut groups: Vec<(Vec<VarId>, bool)> = Vec::new();
        let mut group_of: HashMap<Term, usize> = HashMap::new();
        for &s in &all_subjects {
            let root = subjects.find(Term::Var(s));
            let g = *group_of.entry(root).or_insert_with(|| {
                groups.push((Vec::new(), false));
                groups.len() - 1
            });
            groups[g].0.push(s);
            groups[g].1 |= scoped_var[s];
        }
        // The head.
        let head = &clause.head;
        let mut kind = Kind::None;
        let mut tag_group = None;
        for (i, x) in head.args.iter().enumerate() {
            let Arg::Var(v) = x else { continue };
            if !self.users[head.rel][i] || !all_subjects.contains(v) {
                continue;
            }
            let g = group_of[&subjects.find(Term::Var(*v))];
            if groups[g].1 {
                if tag_group.is_some_and(|t| t != g) {
                    return refuse(
                        clause.span,
                        "the head names users of two flows or applications".into(),
                    );
                }
                tag_group = Some(g);
                kind = kind.join(Kind::Scoped);
            } else {
                kind = kind.join(Kind::User);
            }
        }
        if kind == Kind::Mixed {
            return refuse(
                clause.span,
                "the head names a user of a flow or application and a user of none".into(),
            );
        }
        let mut head_det = Vec::new();
        if let Some(g) = tag_group {
            // Head columns holding the object the group's scoped atoms are about.
            let dets: Vec<Term> = contexts[0]
                .lits
                .iter()
                .filter_map(|l| match l {
                    Lit::Pos(a) if self.kind[a.rel].scoped() => Some(a),
                    _ => None,
                })
                .filter(|a| self.subject_vars(a).iter().any(|v| groups[g].0.contains(v)))
                .filter_map(|a| self.det[a.rel].and_then(|d| term(&a.args[d])))
                .collect();
            if let Some(first) = dets.first() {
                let root = union.find(*first);
                for (i, x) in head.args.iter().enumerate() {
                    if let Arg::Var(v) = x
                        && union.find(Term::Var(*v)) == root
                    {
                        head_det.push(i);
                    }
                }
            }
        }
        Ok(ClauseInfo {
            head: kind,
            head_det,
            groups,
        })
    }

    /// Whether a membership atom's group is one every scope class agrees on: a constant, or
    /// a group named by a fact no flow or application owns.
    fn group_named(&self, a: &Atom, clause: &Clause) -> bool {
        match a.args.get(1) {
            Some(Arg::Const(_)) => true,
            // The group structure names every group: it tells no group apart.
            Some(Arg::Var(g)) => clause.body.iter().any(|l| {
                matches!(l, Lit::Pos(b) if self.kind[b.rel] == Kind::None
                    && !self.owned[b.rel]
                    && !matches!(self.program.relations[b.rel].name.as_str(), "group" | "group_parent")
                    && b.args.contains(&Arg::Var(*g)))
            }),
            _ => false,
        }
    }
}

/// Plans the evaluation of `rules` (the built-in rules, the `builtin` first source files, then
/// any others) per scope class, or says which rule prevents it. `per_user` marks the input
/// relations with a row per user; `owned` whether an input relation has rows some flow or
/// application owns.
pub fn plan(
    rules: &Rules,
    builtin: u32,
    per_user: &[bool],
    owned: &dyn Fn(RelId) -> bool,
) -> Result<Scoping, Refusal> {
    let program = &rules.program;
    let n = program.relations.len();
    let users = super::population::user_columns(program, per_user);
    let dependent = super::components::user_dependent(program, per_user);
    let is_builtin = |c: &Clause| c.span.file < builtin;
    // Relations the built-in rules derive or read: the user's rules may not add to them.
    let mut builtin_rel = vec![false; n];
    for c in program.clauses.iter().filter(|c| is_builtin(c)) {
        builtin_rel[c.head.rel] = true;
        let mut reads = Vec::new();
        super::components::read_by(&c.body, &mut reads);
        for r in reads {
            builtin_rel[r] = true;
        }
    }
    if let Some(c) = program
        .clauses
        .iter()
        .find(|c| !is_builtin(c) && builtin_rel[c.head.rel])
    {
        return Err((
            c.span,
            format!(
                "this rule adds to `{}`, which the built-in rules read or derive",
                program.relations[c.head.rel].name
            ),
        ));
    }
    let derives: Vec<bool> = (0..n)
        .map(|r| program.clauses.iter().any(|c| c.head.rel == r))
        .collect();
    let given: Vec<bool> = (0..n)
        .map(|r| {
            builtin_rel[r]
                && derives[r]
                && dependent[r]
                && users[r].iter().any(|u| *u)
                && !users[r][0]
        })
        .collect();
    let mut k = Knowledge {
        program,
        kind: vec![Kind::None; n],
        det: vec![None; n],
        users: users.clone(),
        uniform: vec![false; n],
        owned: (0..n).map(|r| !derives[r] && owned(r)).collect(),
        links: program
            .relations
            .iter()
            .map(|r| {
                LINKS
                    .iter()
                    .find(|(name, _, _)| *name == r.name)
                    .map(|(_, a, b)| (*a, *b))
            })
            .collect(),
        weight: program.relation("weight"),
        scope_weight: program.relation("scope_weight"),
        member_rels: program
            .relations
            .iter()
            .map(|r| r.name == "member" || r.name == super::classes::MEMBERSHIP)
            .collect(),
    };
    let Some(scope_weight) = k.scope_weight else {
        return Err((
            Span::new(0, 0, 0),
            "the rules declare no `scope_weight`".into(),
        ));
    };
    for r in 0..n {
        if per_user[r] {
            k.kind[r] = Kind::User;
            k.uniform[r] = program.relations[r].name != super::classes::MEMBERSHIP;
        }
        if given[r] {
            k.kind[r] = Kind::Scoped;
            k.det[r] = Some(0);
        }
    }
    k.kind[scope_weight] = Kind::None;
    let derived: Vec<usize> = (0..n).filter(|r| derives[*r] && !given[*r]).collect();
    // Kinds and determiner columns of the derived relations, to a fixpoint.
    let mut dets: Vec<Option<Vec<usize>>> = vec![None; n];
    for _ in 0..64 {
        let mut kind = k.kind.clone();
        let mut next: Vec<Option<Vec<usize>>> = vec![None; n];
        for c in program.clauses.iter().filter(|c| !given[c.head.rel]) {
            let Ok(info) = k.clause(c) else { continue };
            let h = c.head.rel;
            kind[h] = kind[h].join(info.head);
            if info.head == Kind::Scoped {
                next[h] = Some(match next[h].take() {
                    None => info.head_det,
                    Some(d) => d
                        .into_iter()
                        .filter(|x| info.head_det.contains(x))
                        .collect(),
                });
            }
        }
        // Uniform user-level relations: derived only from uniform facts.
        let mut uniform = k.uniform.clone();
        for &r in &derived {
            if kind[r] != Kind::User {
                continue;
            }
            uniform[r] = program.clauses.iter().filter(|c| c.head.rel == r).all(|c| {
                c.body.iter().all(|l| match l {
                    Lit::Pos(a) | Lit::Neg(a) => match kind[a.rel] {
                        Kind::None => true,
                        Kind::User => {
                            k.uniform[a.rel] || (k.member_rels[a.rel] && k.group_named(a, c))
                        }
                        _ => false,
                    },
                    Lit::Agg { .. } => false,
                    _ => true,
                })
            });
        }
        let det: Vec<Option<usize>> = (0..n)
            .map(|r| {
                if given[r] {
                    Some(0)
                } else {
                    next[r].as_ref().and_then(|d| d.first().copied())
                }
            })
            .collect();
        let changed = kind != k.kind || det != k.det || uniform != k.uniform || next != dets;
        k.kind = kind;
        k.det = det;
        k.uniform = uniform;
        dets = next;
        if !changed {
            break;
        }
    }
    // Every clause the evaluation runs must pass.
    let mut infos = Vec::with_capacity(program.clauses.len());
    for c in &program.clauses {
        if given[c.head.rel] {
            infos.push(None);
        } else {
            infos.push(Some(k.clause(c)?));
        }
    }
    let has_scope: Vec<bool> = (0..n).map(|r| k.kind[r].scoped()).collect();
    let mut read = vec![false; n];
    for c in program.clauses.iter().filter(|c| !given[c.head.rel]) {
        let mut reads = Vec::new();
        super::components::read_by(&c.body, &mut reads);
        for r in reads {
            read[r] = true;
        }
    }
    let transformed = transform(program, &k, &infos, &has_scope, scope_weight)?;
    let plan = crate::datalog::compile::compile(&transformed);
    Ok(Scoping {
        rules: Rules {
            sources: rules.sources.clone(),
            program: transformed,
            plan,
        },
        given,
        has_scope,
        users,
        read,
    })
}

/// The program with the scope column: added to the relations that carry it, to their atoms (a
/// variable per group of subject variables; `_` in negations and where no user is named) and to
/// heads; `weight` of a scoped user read as `scope_weight`; the given relations' rules emptied.
fn transform(
    program: &Program,
    k: &Knowledge<'_>,
    infos: &[Option<ClauseInfo>],
    has_scope: &[bool],
    scope_weight: RelId,
) -> Result<Program, Refusal> {
    let mut out = program.clone();
    let none = out.symbols.intern(NO_SCOPE);
    let global = out.symbols.intern(GLOBAL);
    for (r, rel) in out.relations.iter_mut().enumerate() {
        if has_scope[r] {
            rel.attrs.push("scope".into());
            rel.types.push(Ty::Symbol);
        }
    }
    for (clause, info) in out.clauses.iter_mut().zip(infos) {
        let Some(info) = info else {
            clause.body = vec![Lit::False(clause.span)];
            if has_scope[clause.head.rel] {
                clause.head.args.push(Arg::Const(none));
            }
            continue;
        };
        // A tag variable per scoped group.
        let mut tag: HashMap<VarId, VarId> = HashMap::new();
        for (vars, scoped) in &info.groups {
            if !scoped {
                continue;
            }
            let t = clause.var_types.len();
            clause.var_types.push(Ty::Symbol);
            clause
                .var_names
                .push(format!("scope of {}", clause.var_names[vars[0]]));
            for v in vars {
                tag.insert(*v, t);
            }
        }
        let rewrite = |lits: &mut Vec<Lit>| {
            for lit in lits.iter_mut() {
                match lit {
                    Lit::Pos(a) if has_scope[a.rel] => {
                        let t = k.subject_vars(a).iter().find_map(|v| tag.get(v).copied());
                        a.args.push(t.map_or(Arg::Wild, Arg::Var));
                    }
                    Lit::Neg(a) if has_scope[a.rel] => a.args.push(Arg::Wild),
                    Lit::Pos(a) if Some(a.rel) == k.weight => {
                        if let Some(Arg::Var(u)) = a.args.first()
                            && let Some(t) = tag.get(u)
                        {
                            let mut args = vec![Arg::Var(*t)];
                            args.extend(a.args.iter().copied());
                            *a = Atom {
                                rel: scope_weight,
                                args,
                                span: a.span,
                            };
                        }
                    }
                    _ => {}
                }
            }
        };
        rewrite(&mut clause.body);
        for lit in clause.body.iter_mut() {
            if let Lit::Agg { body, .. } = lit {
                rewrite(body);
            }
        }
        // Aggregates see the tags bound before them.
        let mut bound = vec![false; clause.var_types.len()];
        for lit in clause.body.iter_mut() {
            if let Lit::Agg { body, outer, .. } = lit {
                let mut used = Vec::new();
                for l in body.iter() {
                    if let Lit::Pos(a) | Lit::Neg(a) = l {
                        for x in &a.args {
                            if let Arg::Var(v) = x {
                                used.push(*v);
                            }
                        }
                    }
                }
                for v in used {
                    if bound[v] && !outer.contains(&v) {
                        outer.push(v);
                    }
                }
            }
            for v in lit.binds() {
                bound[v] = true;
            }
        }
        if has_scope[clause.head.rel] {
            let arg = match info.head {
                Kind::Scoped => {
                    let subject = clause
                        .head
                        .args
                        .iter()
                        .enumerate()
                        .find_map(|(i, x)| match x {
                            Arg::Var(v) if k.users[clause.head.rel][i] => tag.get(v).copied(),
                            _ => None,
                        });
                    match subject {
                        Some(t) if bound[t] => Arg::Var(t),
                        _ => {
                            return Err((
                                clause.span,
                                "the head's user is not bound to a flow or application".into(),
                            ));
                        }
                    }
                }
                Kind::User => Arg::Const(global),
                _ => Arg::Const(none),
            };
            clause.head.args.push(arg);
        }
    }
    Ok(out)
}

/// The scopes of the components of `ctx`, flows first (in snapshot order), then
/// applications: the scope of each object a flow or application owns, each scope's tag (its
/// pk) and each scope's components.
pub fn scopes_of(ctx: &KeyContext<'_>) -> (HashMap<String, usize>, Vec<String>, Vec<Vec<usize>>) {
    let comps = &ctx.components;
    let mut names: Vec<String> = comps.flows.iter().map(|f| f.pk.clone()).collect();
    let mut parts: Vec<Vec<usize>> = comps.flows.iter().map(|f| f.parts.clone()).collect();
    let mut scope: HashMap<String, usize> = HashMap::new();
    for (c, part) in comps.parts.iter().enumerate() {
        let s = match part {
            super::components::Part::Stage { flow, .. } => *flow,
            super::components::Part::App(pk) | super::components::Part::Target(pk) => {
                // A target's rows belong to its scope even where its own facts are unowned (a
                // source's: only the bindings on it are its component's).
                scope.insert(pk.clone(), names.len());
                names.push(pk.clone());
                parts.push(vec![c]);
                names.len() - 1
            }
        };
        for rows in comps.owned[c].relations.values() {
            for row in rows {
                if let Some(Value::Sym(key)) = row.first() {
                    scope.insert(key.clone(), s);
                }
            }
        }
    }
    for (f, flow) in comps.flows.iter().enumerate() {
        scope.insert(flow.pk.clone(), f);
    }
    (scope, names, parts)
}

/// A proof from the per-scope evaluation told as of the original rules: the scope column
/// dropped from every tuple that carries it, and the rows the built-in rules gave said to be
/// theirs rather than input facts.
pub fn tell_plainly(
    e: &mut crate::datalog::provenance::Explanation,
    has_scope: &dyn Fn(&str) -> bool,
    given: &dyn Fn(&str) -> bool,
) {
    use crate::datalog::provenance::{Because, Explanation, Proof};
    fn proof(p: &mut Proof, has_scope: &dyn Fn(&str) -> bool, given: &dyn Fn(&str) -> bool) {
        if has_scope(&p.relation) {
            p.values.pop();
            p.tuple = without_last_argument(&p.tuple);
            if given(&p.relation) && matches!(p.because, Because::Input(_)) {
                p.because = Because::Rule {
                    location: "the built-in rules".into(),
                    text: "(derived for this flow or application; `bindlog explain` derives it for one user)".into(),
                };
            }
        }
        for c in &mut p.children {
            proof(c, has_scope, given);
        }
    }
    match e {
        Explanation::Holds(p) => proof(p, has_scope, given),
        Explanation::DoesNotHold(w) => {
            if has_scope(&w.relation) {
                w.tuple = without_last_argument(&w.tuple);
            }
        }
    }
}

/// `rel(a, b, c)` as `rel(a, b)` (`!rel(...)` alike).
fn without_last_argument(tuple: &str) -> String {
    match (tuple.rfind(", "), tuple.ends_with(')')) {
        (Some(i), true) => format!("{})", &tuple[..i]),
        _ => tuple.to_string(),
    }
}
