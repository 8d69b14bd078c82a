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
use crate::datalog::Rules;
use crate::datalog::diag::Span;
use crate::datalog::ir::{Arg, Atom, Clause, Lit, Program, RelId, Ty, VarId};
use std::collections::HashMap;

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
            Some(Arg::Var(g)) => clause.body.iter().any(|l| {
                matches!(l, Lit::Pos(b) if self.kind[b.rel] == Kind::None
                    && !self.owned[b.rel]
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
        for lit in &c.body {
            if let Lit::Pos(a) | Lit::Neg(a) = lit {
                builtin_rel[a.rel] = true;
            }
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
        let mut stack: Vec<&Lit> = c.body.iter().collect();
        while let Some(lit) = stack.pop() {
            match lit {
                Lit::Pos(a) | Lit::Neg(a) => read[a.rel] = true,
                Lit::Agg { body, .. } => stack.extend(body),
                _ => {}
            }
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

/// The scope (index into `scopes`) of each object a flow or application owns, from the
/// components of `ctx`: flows first (in snapshot order), then applications.
pub fn scopes_of(ctx: &KeyContext<'_>) -> (HashMap<String, usize>, Vec<String>) {
    let comps = &ctx.components;
    let mut names: Vec<String> = comps.flows.iter().map(|f| f.pk.clone()).collect();
    let mut scope: HashMap<String, usize> = HashMap::new();
    for (c, part) in comps.parts.iter().enumerate() {
        let s = match part {
            super::components::Part::Stage { flow, .. } => *flow,
            super::components::Part::App(pk) => {
                names.push(pk.clone());
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
    (scope, names)
}

/// A gathered row: its relation (an id of the built-in program) and values, the user it is
/// about written [`SUBJECT`].
pub type Row = (usize, Vec<Value>);

/// What to gather from the built-in rules' component evaluations.
pub struct Collect<'c> {
    /// The relations (ids of the built-in program).
    pub rels: Vec<usize>,
    /// Per relation of the built-in program, the columns that may hold a user.
    pub users: Vec<Vec<bool>>,
    /// The scope of each object a flow or application owns.
    pub scope_of: &'c HashMap<String, usize>,
}

/// One component's gathered rows: each local class's signature (an index into `sigs`), the
/// distinct row sets, and the anonymous visitor's rows.
#[derive(Clone, Debug, Default)]
pub struct PartRows {
    /// Per local class, its row set.
    pub sig_of: Vec<u32>,
    /// The distinct row sets.
    pub sigs: Vec<Vec<Row>>,
    /// The anonymous visitor's rows.
    pub anon: Vec<Row>,
}

/// Everything the component evaluations gathered.
pub struct Gathered {
    /// Per component.
    pub parts: Vec<PartRows>,
    /// Per flow, the anonymous visitor's rows from the flow's own evaluation.
    pub flow_anon: Vec<Vec<Row>>,
    /// The local classes of the components.
    pub local: super::classes::Local,
}

impl Collect<'_> {
    /// The rows of the collected relations in `eval` about objects of `scope` (`None`: objects
    /// of no scope), per subject: `subjects` maps a representative's pk symbol to its index
    /// among `n`. Row sets are compared as stored (symbol ids, the user as `u32::MAX`) and
    /// spelled out once per distinct set.
    pub fn gather(
        &self,
        eval: &crate::datalog::Evaluation,
        rules: &Rules,
        scope: Option<usize>,
        subjects: &rustc_hash::FxHashMap<u32, usize>,
        n: usize,
    ) -> PartRows {
        let mut per: Vec<Vec<(usize, Vec<u32>)>> = vec![Vec::new(); n];
        let mut anon: Vec<(usize, Vec<u32>)> = Vec::new();
        let anon_sym = eval.symbols.get("anon");
        let mut in_scope: rustc_hash::FxHashMap<u32, bool> = rustc_hash::FxHashMap::default();
        for &r in &self.rels {
            let users = &self.users[r];
            for row in eval.tables[r].rows() {
                let here = *in_scope.entry(row[0]).or_insert_with(|| {
                    self.scope_of.get(eval.symbols.resolve(row[0])).copied() == scope
                });
                if !here {
                    continue;
                }
                let mut who = None;
                for (i, v) in row.iter().enumerate() {
                    if !users[i] {
                        continue;
                    }
                    if let Some(k) = subjects.get(v) {
                        who = Some(Some((*k, *v)));
                        break;
                    }
                    if Some(*v) == anon_sym && who.is_none() {
                        who = Some(None);
                    }
                }
                match who {
                    Some(Some((k, pk))) => {
                        let values = row
                            .iter()
                            .enumerate()
                            .map(|(i, v)| if users[i] && *v == pk { u32::MAX } else { *v })
                            .collect();
                        per[k].push((r, values));
                    }
                    Some(None) => anon.push((r, row.to_vec())),
                    None => {}
                }
            }
        }
        let mut pk_of: Vec<Option<&str>> = vec![None; n];
        for (sym, k) in subjects {
            pk_of[*k] = Some(eval.symbols.resolve(*sym));
        }
        let spell = |rows: &[(usize, Vec<u32>)], pk: Option<&str>| -> Vec<Row> {
            rows.iter()
                .map(|(r, row)| {
                    let types = &rules.program.relations[*r].types;
                    let values = row
                        .iter()
                        .zip(types)
                        .map(|(v, ty)| match ty {
                            _ if *v == u32::MAX => Value::Sym(SUBJECT.into()),
                            Ty::Symbol => {
                                let s = eval.symbols.resolve(*v);
                                Value::Sym(match pk {
                                    Some(pk) => {
                                        super::population::move_placeholders(s, pk, SUBJECT)
                                    }
                                    None => s.to_string(),
                                })
                            }
                            _ => Value::Num(*v as i32),
                        })
                        .collect();
                    (*r, values)
                })
                .collect()
        };
        let mut ids: HashMap<Vec<(usize, Vec<u32>)>, u32> = HashMap::new();
        let mut out = PartRows::default();
        for (k, mut rows) in per.into_iter().enumerate() {
            rows.sort_unstable();
            rows.dedup();
            let id = match ids.get(&rows) {
                Some(id) => *id,
                None => {
                    let next = ids.len() as u32;
                    out.sigs.push(spell(&rows, pk_of[k]));
                    ids.insert(rows, next);
                    next
                }
            };
            out.sig_of.push(id);
        }
        anon.sort_unstable();
        anon.dedup();
        out.anon = spell(&anon, None);
        out
    }
}

use crate::facts::Value;

/// The classes of every scope: per scope (flows, then applications), each scope class by the
/// identity class of its representative, with the identity classes it holds.
pub struct ScopeClasses {
    /// Per scope: representative's identity class -> the identity classes of its scope class.
    pub classes: Vec<rustc_hash::FxHashMap<u32, Vec<u32>>>,
    /// Each scope's tag (its flow's or application's pk).
    pub names: Vec<String>,
    /// Scope by tag.
    pub by_name: HashMap<String, usize>,
    /// The scope of each object a flow or application owns.
    pub scope_of: HashMap<String, usize>,
    /// Per scope, filled on first use: each identity class's representative there.
    reverse: Vec<std::sync::OnceLock<rustc_hash::FxHashMap<u32, u32>>>,
}

impl ScopeClasses {
    /// The identity class whose representative stands for identity class `k` where `object`
    /// is concerned (`k` itself for an object of no flow or application).
    pub fn representative(&self, object: &str, k: u32) -> u32 {
        let Some(&s) = self.scope_of.get(object) else {
            return k;
        };
        let map = self.reverse[s].get_or_init(|| {
            let mut m = rustc_hash::FxHashMap::default();
            for (rep, ks) in &self.classes[s] {
                for k in ks {
                    m.insert(*k, *rep);
                }
            }
            m
        });
        map.get(&k).copied().unwrap_or(k)
    }

    /// The identity classes the class of `rep` (an identity class) stands for in the scope with
    /// this tag; `None` for the global scope or a class that is no representative there.
    pub fn members(&self, tag: &str, rep: u32) -> Option<&[u32]> {
        let s = *self.by_name.get(tag)?;
        self.classes[s].get(&rep).map(Vec::as_slice)
    }
}

/// Evaluates `scoping`'s program for every user of `population`: the built-in rules
/// (`builtin`) component by component, then the whole program per scope class. Of the given
/// relations, only those the rules read or the caller `wants` are gathered (the others are
/// left empty: each relation gathered splits the scope classes further).
pub fn evaluate(
    snapshot: &crate::snapshot::Snapshot,
    scoping: &Scoping,
    wants: &[bool],
    ctx: &KeyContext<'_>,
    population: &super::population::Population,
    builtin: &Rules,
) -> Result<
    (
        crate::datalog::Inputs,
        crate::datalog::Evaluation,
        ScopeClasses,
    ),
    String,
> {
    use crate::datalog::eval::Limits;
    use crate::datalog::{Engine, FactValue, Inputs};
    use rayon::prelude::*;
    use rustc_hash::FxHashMap;
    let start = std::time::Instant::now();
    let rules = &scoping.rules;
    let comps = &ctx.components;
    let (scope_of, names) = scopes_of(ctx);
    let mut parts_of: Vec<Vec<usize>> = comps.flows.iter().map(|f| f.parts.clone()).collect();
    for (c, p) in comps.parts.iter().enumerate() {
        if let super::components::Part::App(_) = p {
            parts_of.push(vec![c]);
        }
    }
    // The given relations, by id in the built-in program.
    let per_user_builtin: Vec<bool> = builtin
        .program
        .relations
        .iter()
        .map(|r| super::PER_USER.contains(&r.name.as_str()))
        .collect();
    let mut to_combined: FxHashMap<usize, usize> = FxHashMap::default();
    for (r, g) in scoping.given.iter().enumerate() {
        if *g
            && (scoping.read[r] || wants[r])
            && let Some(b) = builtin.program.relation(&rules.program.relations[r].name)
        {
            to_combined.insert(b, r);
        }
    }
    let mut rels: Vec<usize> = to_combined.keys().copied().collect();
    rels.sort_unstable();
    let collect = Collect {
        rels,
        users: super::population::user_columns(&builtin.program, &per_user_builtin),
        scope_of: &scope_of,
    };
    let classes = &population.classes;
    let mut layout = super::bulk::Layout::of(snapshot);
    let (_, _, gathered) = super::bulk::by_component(
        snapshot,
        builtin,
        ctx,
        classes,
        &mut layout,
        super::bulk::Options::default(),
        &|_| {},
        Some(&collect),
    )?;
    let gathered = gathered.ok_or("no rows were gathered")?;
    super::bulk::timing("scoped: components", start);
    // What no flow or application owns, for every identity class at once.
    let pks: Vec<String> = snapshot.users.iter().map(|u| u.pk.to_string()).collect();
    let rep_pks: Vec<&str> = classes
        .representative
        .iter()
        .map(|i| pks[*i].as_str())
        .collect();
    let user_facts = population.facts(ctx);
    let (global_rows, global_anon) = {
        let mut inputs = Inputs::new(builtin);
        super::add_facts(builtin, &mut inputs, &comps.global)?;
        super::add_facts(builtin, &mut inputs, &user_facts)?;
        let eval = builtin
            .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
            .map_err(|e| e.to_string())?;
        let ids: FxHashMap<u32, usize> = rep_pks
            .iter()
            .enumerate()
            .filter_map(|(k, pk)| Some((eval.symbols.get(pk)?, k)))
            .collect();
        let part = collect.gather(&eval, builtin, None, &ids, rep_pks.len());
        let rows: Vec<Vec<Row>> = part
            .sig_of
            .iter()
            .map(|s| part.sigs[*s as usize].clone())
            .collect();
        (rows, part.anon)
    };
    super::bulk::timing("scoped: what no flow or application owns", start);
    // The scope classes: identity classes that agree on what every scope sees of them and on
    // the rows of each of the scope's components.
    let local = &gathered.local;
    let n = classes.len();
    let scope_classes: Vec<FxHashMap<u32, Vec<u32>>> = parts_of
        .par_iter()
        .map(|parts| {
            // Per identity class: its base, then its row set in each of the scope's components.
            let w = 1 + parts.len();
            let mut keys = vec![u32::MAX; n * w];
            for (k, b) in local.base.iter().enumerate().take(n) {
                keys[k * w] = *b;
            }
            for (j, &c) in parts.iter().enumerate() {
                let sig = &gathered.parts[c].sig_of;
                let of = |l: u32| sig.get(l as usize).copied().unwrap_or(u32::MAX);
                for (k, b) in local.base.iter().enumerate().take(n) {
                    keys[k * w + 1 + j] = of(local.by_base[c][*b as usize]);
                }
                for &(k, l) in &local.more[c] {
                    keys[k as usize * w + 1 + j] = of(l);
                }
            }
            let mut first: FxHashMap<&[u32], u32> = FxHashMap::default();
            let mut out: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
            for (k, key) in keys.chunks(w).enumerate() {
                let rep = *first.entry(key).or_insert(k as u32);
                out.entry(rep).or_default().push(k as u32);
            }
            out
        })
        .collect();
    super::bulk::timing("scoped: scope classes", start);
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let sizes: Vec<usize> = scope_classes.iter().map(|c| c.len()).collect();
        let sigs: usize = gathered.parts.iter().map(|p| p.sigs.len()).sum();
        let sig_rows: usize = gathered
            .parts
            .iter()
            .flat_map(|p| &p.sigs)
            .map(Vec::len)
            .sum();
        eprintln!(
            "timing: {} scope classes in {} scopes (largest {}); {sigs} row sets of {sig_rows} rows",
            sizes.iter().sum::<usize>(),
            sizes.len(),
            sizes.iter().max().unwrap_or(&0)
        );
    }
    // The whole program once more, the gathered rows given.
    let mut inputs = Inputs::new(rules);
    super::add_facts(rules, &mut inputs, &comps.global)?;
    for owned in &comps.owned {
        super::add_facts(rules, &mut inputs, owned)?;
    }
    super::add_facts(rules, &mut inputs, &user_facts)?;
    let bt = &builtin.program;
    let add = |row: &Row, pk: &str, tag: &str, inputs: &mut Inputs| -> Result<(), String> {
        let id = to_combined[&row.0];
        let held: Vec<String> = row
            .1
            .iter()
            .map(|v| match v {
                Value::Sym(s) if s == SUBJECT => pk.to_string(),
                Value::Sym(s) => super::population::move_placeholders(s, SUBJECT, pk),
                Value::Num(_) => String::new(),
            })
            .collect();
        let mut values: Vec<FactValue> = row
            .1
            .iter()
            .zip(&held)
            .zip(&bt.relations[row.0].types)
            .map(|((v, h), ty)| match (v, ty) {
                (Value::Num(x), Ty::Unsigned) => FactValue::Num(i64::from(*x as u32)),
                (Value::Num(x), _) => FactValue::Num(i64::from(*x)),
                _ => FactValue::Sym(h),
            })
            .collect();
        values.push(FactValue::Sym(tag));
        inputs.add_to(rules, id, &values)
    };
    let weight_of = |ks: &[u32]| -> i64 {
        ks.iter()
            .map(|k| i64::from(classes.members[*k as usize]))
            .sum()
    };
    let mut weights: Vec<(String, String, i64)> = Vec::new();
    for (s, parts) in parts_of.iter().enumerate() {
        let tag = names[s].as_str();
        for (rep, ks) in &scope_classes[s] {
            let pk = rep_pks[*rep as usize];
            let mut rows: Vec<&Row> = Vec::new();
            for &c in parts {
                let p = &gathered.parts[c];
                let lid = local_id(local, c, *rep);
                if let Some(sig) = p.sig_of.get(lid as usize) {
                    rows.extend(&p.sigs[*sig as usize]);
                }
            }
            rows.sort_unstable();
            rows.dedup();
            for row in rows {
                add(row, pk, tag, &mut inputs)?;
            }
            weights.push((tag.to_string(), pk.to_string(), weight_of(ks)));
        }
        let anon: &[Row] = if s < comps.flows.len() {
            &gathered.flow_anon[s]
        } else {
            &gathered.parts[parts[0]].anon
        };
        for row in anon {
            add(row, "anon", tag, &mut inputs)?;
        }
        weights.push((tag.to_string(), "anon".into(), 1));
    }
    for (k, rows) in global_rows.iter().enumerate() {
        for row in rows {
            add(row, rep_pks[k], GLOBAL, &mut inputs)?;
        }
        weights.push((GLOBAL.into(), rep_pks[k].into(), weight_of(&[k as u32])));
    }
    for row in &global_anon {
        add(row, "anon", GLOBAL, &mut inputs)?;
    }
    weights.push((GLOBAL.into(), "anon".into(), 1));
    for (tag, pk, w) in &weights {
        inputs.add(
            rules,
            "scope_weight",
            &[FactValue::Sym(tag), FactValue::Sym(pk), FactValue::Num(*w)],
        )?;
    }
    super::bulk::timing("scoped: inputs", start);
    let eval = rules
        .evaluate_given(
            &inputs,
            Engine::Fast { parallel: true },
            Limits::default(),
            Some(&scoping.given),
        )
        .map_err(|e| e.to_string())?;
    super::bulk::timing("scoped: the whole program", start);
    let by_name = names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i))
        .collect();
    let reverse = names.iter().map(|_| std::sync::OnceLock::new()).collect();
    Ok((
        inputs,
        eval,
        ScopeClasses {
            classes: scope_classes,
            names,
            by_name,
            scope_of,
            reverse,
        },
    ))
}

/// The local class of identity class `k` in component `c`.
fn local_id(local: &super::classes::Local, c: usize, k: u32) -> u32 {
    let more = &local.more[c];
    let i = more.partition_point(|x| x.0 < k);
    if i < more.len() && more[i].0 == k {
        return more[i].1;
    }
    local.by_base[c][local.base[k as usize] as usize]
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
