//! Every user at once, for any program: the rules (built-in, audit, the user's own) evaluated
//! once over one representative per identity class, each representative weighing as many users
//! as its class holds (the `user_weight` relation), and the rows that name a representative
//! expanded to its class's members when they are read.
//!
//! Why this is exact: users of one class differ only in columns no rule observes (see
//! [`observed_columns`](super::classes::observed_columns)), so every derivation about a
//! representative is a derivation about each member with the ids swapped. Columns no rule examines (a username that a rule only copies into
//! a message) are not part of the class key; the representative's value is replaced by a
//! placeholder naming the column, and each member's own value is put back on expansion. Rules
//! that count users sum `weight` instead (see `rules/authentik/identity.dl`).

use super::classes::{Classes, KeyContext, MEMBERSHIP};
use crate::datalog::Evaluation;
use crate::datalog::eval::Table;
use crate::datalog::ir::{Program, RelId, Ty};
use crate::facts::{self, FactSet, Value};
use crate::snapshot::Snapshot;
use rustc_hash::FxHashMap;

/// A blanked column of a row being expanded (no symbol id is this large).
const BLANK: u32 = u32::MAX;

/// Marks a placeholder inside a symbol: `\u{1}relation\u{1f}column\u{1f}pk\u{1}`.
const MARK: char = '\u{1}';
/// Separates a placeholder's parts.
const SEP: char = '\u{1f}';

/// The identity classes of a snapshot for one program, and how to expand their rows.
pub struct Population {
    /// The classes (representatives, members, sizes).
    pub classes: Classes,
    /// The members of each class (indices into `snapshot.users`).
    members: Vec<Vec<u32>>,
    /// Every user's pk as the facts spell it.
    pks: Vec<String>,
    /// Every user's username.
    names: Vec<String>,
    /// Every user's pk to its index in `snapshot.users`.
    user_index: FxHashMap<i64, u32>,
}

/// For a scoped relation: the identity classes the class of a representative (second) stands
/// for in the scope with a tag (first); `None` where it stands for its own class.
pub type Within<'w> = dyn Fn(&str, u32) -> Option<Vec<u32>> + 'w;

/// The members an expanded row was told of: (class, member's index in `snapshot.users`).
pub type Chosen = Vec<(u32, u32)>;

/// One expanded row: the row, the class-level row it came from, and the members chosen.
pub type Expanded = (Vec<u32>, Vec<u32>, Chosen);

/// What a symbol says about representatives.
#[derive(Clone, Debug)]
enum Mention {
    /// Nothing: copied as it is.
    None,
    /// It is the pk of a representative of this class.
    Rep(u32),
    /// It holds placeholders of these classes' representatives.
    Holds(Vec<u32>),
}

/// The placeholder for column `col` of the user's row in `rel`, a column no rule observes.
pub(crate) fn placeholder(rel: &str, col: usize, pk: &str) -> String {
    format!("{MARK}{rel}{SEP}{col}{SEP}{pk}{MARK}")
}

/// `s` with every placeholder of the user with this pk made one of the user `to`.
/// Whether `s` holds a placeholder (else the functions below give it back unchanged).
pub(crate) fn has_placeholder(s: &str) -> bool {
    s.contains(MARK)
}

pub(crate) fn move_placeholders(s: &str, pk: &str, to: &str) -> String {
    if !s.contains(MARK) {
        return s.to_string();
    }
    s.replace(&format!("{SEP}{pk}{MARK}"), &format!("{SEP}{to}{MARK}"))
}

/// `s` with each placeholder `(relation, column, pk)` replaced by what `with` gives for it; a
/// placeholder it gives nothing for (or a malformed one) is kept as it is.
fn map_placeholders(s: &str, mut with: impl FnMut(&str, usize, &str) -> Option<String>) -> String {
    if !s.contains(MARK) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    for (i, part) in s.split(MARK).enumerate() {
        if i % 2 == 0 {
            out.push_str(part);
            continue;
        }
        let mut it = part.split(SEP);
        let (rel, col, pk) = (it.next(), it.next(), it.next());
        let given = match (rel, col.and_then(|c| c.parse::<usize>().ok()), pk) {
            (Some(rel), Some(col), Some(pk)) => with(rel, col, pk),
            _ => None,
        };
        match given {
            Some(v) => out.push_str(&v),
            None => {
                out.push(MARK);
                out.push_str(part);
                out.push(MARK);
            }
        }
    }
    out
}

/// `s` with every placeholder of the user `from` made one of the user `pk` (the user at `index`
/// of `snapshot.users`), except that a placeholder of a column `observed` lists
/// (`observed(relation, column)`) becomes that user's value: rows a program that does not
/// examine the column derived, given to one that does.
pub(crate) fn fill_placeholders(
    snapshot: &Snapshot,
    s: &str,
    from: &str,
    (index, pk): (usize, &str),
    observed: &dyn Fn(&str, usize) -> bool,
) -> String {
    map_placeholders(s, |rel, col, who| {
        (who == from).then(|| {
            if observed(rel, col) {
                user_value(snapshot, index, pk, rel, col)
            } else {
                placeholder(rel, col, pk)
            }
        })
    })
}

impl Population {
    /// The users of `snapshot` in `classes` (from [`KeyContext::classes`], or
    /// [`Classes::singletons`] for a program that cannot be evaluated by class).
    pub fn new(snapshot: &Snapshot, classes: Classes) -> Population {
        let mut members = vec![Vec::new(); classes.len()];
        for (u, c) in classes.of_user.iter().enumerate() {
            members[*c as usize].push(u as u32);
        }
        // A million users' pks, names and index, made side by side.
        use rayon::prelude::*;
        let users = &snapshot.users;
        let ((pks, names), user_index) = rayon::join(
            || {
                rayon::join(
                    || users.par_iter().map(|u| u.pk.to_string()).collect(),
                    || users.par_iter().map(|u| u.username.to_string()).collect(),
                )
            },
            || {
                users
                    .iter()
                    .enumerate()
                    .map(|(i, u)| (u.pk, i as u32))
                    .collect()
            },
        );
        Population {
            classes,
            members,
            pks,
            names,
            user_index,
        }
    }

    /// The class of the user whose pk the facts spell `pk`.
    fn user_class(&self, pk: &str) -> Option<u32> {
        let i = *self.user_index.get(&pk.parse::<i64>().ok()?)? as usize;
        (self.pks[i] == pk).then(|| self.classes.of_user[i])
    }

    /// The representatives' facts, with every user column no rule observes replaced by a
    /// placeholder, and each representative's weight.
    pub fn facts(&self, ctx: &KeyContext<'_>) -> FactSet {
        let mut set = ctx.user_facts(&self.classes.representative);
        for (rel, rows) in set.relations.iter_mut() {
            if rel == MEMBERSHIP {
                continue;
            }
            let Some(obs) = ctx.observed(rel) else {
                continue;
            };
            for row in rows.iter_mut() {
                let Some(Value::Sym(pk)) = row.first().cloned() else {
                    continue;
                };
                for (i, v) in row.iter_mut().enumerate().skip(1) {
                    if let Value::Sym(_) = v
                        && !obs.get(i).copied().unwrap_or(true)
                    {
                        *v = Value::Sym(placeholder(rel, i, &pk));
                    }
                }
            }
            rows.sort_unstable();
            rows.dedup();
        }
        let weights = self
            .classes
            .representative
            .iter()
            .zip(&self.classes.members)
            .map(|(r, n)| {
                vec![
                    Value::Sym(self.pks[*r].clone()),
                    Value::Num(i32::try_from(*n).unwrap_or(i32::MAX)),
                ]
            })
            .collect();
        set.relations.insert("user_weight".to_string(), weights);
        set
    }

    /// How many users the representative with this pk stands for (1 for anyone else, such as
    /// the anonymous visitor).
    pub fn weight(&self, pk: &str) -> u64 {
        self.rep_class(pk)
            .map_or(1, |c| u64::from(self.classes.members[c as usize]))
    }

    /// The pk of the representative of the class of the user with this pk (the pk itself for
    /// anyone else).
    pub fn representative<'s>(&'s self, pk: &'s str) -> &'s str {
        match self.user_class(pk) {
            Some(c) => &self.pks[self.classes.representative[c as usize]],
            None => pk,
        }
    }

    /// Every user's pk and username, as the facts spell them.
    pub fn users(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pks
            .iter()
            .map(String::as_str)
            .zip(self.names.iter().map(String::as_str))
    }

    /// The class of the user with this pk.
    pub(crate) fn class_of(&self, pk: &str) -> Option<u32> {
        self.user_class(pk)
    }

    /// The members of every class (indices into `snapshot.users`).
    pub(crate) fn class_members(&self) -> &[Vec<u32>] {
        &self.members
    }

    /// The pk of class `k`'s representative.
    pub(crate) fn rep_pk(&self, k: u32) -> &str {
        &self.pks[self.classes.representative[k as usize]]
    }

    /// The class whose representative has this pk.
    pub(crate) fn rep_class(&self, pk: &str) -> Option<u32> {
        let c = self.user_class(pk)?;
        (self.pks[self.classes.representative[c as usize]] == pk).then_some(c)
    }

    fn mention(&self, s: &str) -> Mention {
        if let Some(c) = self.rep_class(s) {
            return Mention::Rep(c);
        }
        if !s.contains(MARK) {
            return Mention::None;
        }
        let mut classes = Vec::new();
        for (i, part) in s.split(MARK).enumerate() {
            if i % 2 == 1
                && let Some(pk) = part.rsplit(SEP).next()
                && let Some(c) = self.rep_class(pk)
                && !classes.contains(&c)
            {
                classes.push(c);
            }
        }
        Mention::Holds(classes)
    }

    /// `s` with each placeholder of a class in `chosen` (class, member) replaced by that
    /// member's own value.
    fn substitute(&self, snapshot: &Snapshot, s: &str, chosen: &[(u32, u32)]) -> String {
        map_placeholders(s, |rel, col, pk| {
            // A representative no member was chosen for (a proof that passes through it) is
            // told as itself.
            let c = self.rep_class(pk)?;
            let m = chosen
                .iter()
                .find(|(k, _)| *k == c)
                .map_or(self.classes.representative[c as usize], |(_, m)| {
                    *m as usize
                });
            Some(user_value(snapshot, m, &self.pks[m], rel, col))
        })
    }

    /// Replaces the table of `rel` in `eval` by its rows for every user: a row that names
    /// representatives (as a value, or through placeholders) once per combination of their
    /// classes' members. Returns, for each new row, the class-level row it came from and the
    /// members chosen.
    pub fn expand(
        &self,
        snapshot: &Snapshot,
        program: &Program,
        eval: &mut Evaluation,
        rel: RelId,
        within: Option<&Within<'_>>,
        with_origins: bool,
    ) -> Vec<Expanded> {
        let types = &program.relations[rel].types;
        let table = std::mem::take(&mut eval.tables[rel]);
        let mut cache: FxHashMap<u32, Mention> = FxHashMap::default();
        let mut out = Table::new(table.arity);
        let mut origins = Vec::new();
        // Scoped rows that name one class (a user found in any flow), grouped by the row
        // without its tag and with the class's representative blanked: each identity class is
        // expanded once per group, over the classes its representative stands for in all of
        // them, whichever representative stood for it (a class has one in every scope).
        let mut merged: FxHashMap<Vec<u32>, Vec<(u32, u32, u32)>> = FxHashMap::default();
        let mut in_merged = vec![false; table.len];
        if let Some(w) = within {
            for (i, row) in table.rows().enumerate() {
                let mut only = None;
                let mut single = true;
                for (v, ty) in row.iter().zip(types) {
                    if *ty != Ty::Symbol {
                        continue;
                    }
                    match cache
                        .entry(*v)
                        .or_insert_with(|| self.mention(eval.symbols.resolve(*v)))
                    {
                        Mention::None => {}
                        Mention::Rep(c) if only.is_none_or(|o| o == *c) => only = Some(*c),
                        _ => single = false,
                    }
                }
                if let (true, Some(c)) = (single, only) {
                    let tag = eval.symbols.resolve(row[row.len() - 1]);
                    let shape: Vec<u32> = row[..row.len() - 1]
                        .iter()
                        .zip(types)
                        .map(|(v, ty)| match (ty, &cache[v]) {
                            (Ty::Symbol, Mention::Rep(_)) => BLANK,
                            _ => *v,
                        })
                        .collect();
                    let e = merged.entry(shape).or_default();
                    match w(tag, c) {
                        Some(ks) => e.extend(ks.into_iter().map(|k| (k, i as u32, c))),
                        None => e.push((c, i as u32, c)),
                    }
                    in_merged[i] = true;
                }
            }
        }
        let rows: Vec<&[u32]> = table.rows().collect();
        // A class's members' pks, interned together (their cache misses overlap).
        let (mut texts, mut ids): (Vec<&str>, Vec<u32>) = (Vec::new(), Vec::new());
        for (shape, ks) in &mut merged {
            ks.sort_unstable();
            ks.dedup_by_key(|(k, _, _)| *k);
            let mut new = shape.clone();
            new.push(0);
            for &(k, i, c) in ks.iter() {
                let from = rows[i as usize];
                new[shape.len()] = from[from.len() - 1];
                let members = &self.members[k as usize];
                texts.clear();
                texts.extend(members.iter().map(|m| self.pks[*m as usize].as_str()));
                ids.clear();
                eval.symbols.intern_all(&texts, &mut ids);
                for (&m, &pk) in members.iter().zip(&ids) {
                    for (j, v) in shape.iter().enumerate() {
                        if *v == BLANK {
                            new[j] = pk;
                        }
                    }
                    out.push(&new);
                    if with_origins {
                        origins.push((new.clone(), from.to_vec(), vec![(c, m)]));
                    }
                }
            }
        }
        for (i, row) in rows.iter().enumerate() {
            if in_merged[i] {
                continue;
            }
            let mut classes: Vec<u32> = Vec::new();
            for (v, ty) in row.iter().zip(types) {
                if *ty != Ty::Symbol {
                    continue;
                }
                let m = cache
                    .entry(*v)
                    .or_insert_with(|| self.mention(eval.symbols.resolve(*v)));
                match m {
                    Mention::None => {}
                    Mention::Rep(c) => classes.push(*c),
                    Mention::Holds(cs) => classes.extend(cs.iter().copied()),
                }
            }
            classes.sort_unstable();
            classes.dedup();
            if classes.is_empty() {
                out.push(row);
                continue;
            }
            // In a scoped row (see `super::scoped`), a representative stands for its class in
            // the row's scope, named by the last column.
            let tag = within.map(|_| eval.symbols.resolve(row[row.len() - 1]).to_string());
            let lists: Vec<std::borrow::Cow<'_, [u32]>> = classes
                .iter()
                .map(
                    |c| match within.zip(tag.as_deref()).and_then(|(w, t)| w(t, *c)) {
                        Some(ks) => std::borrow::Cow::Owned(
                            ks.iter()
                                .flat_map(|k| self.members[*k as usize].iter().copied())
                                .collect(),
                        ),
                        None => std::borrow::Cow::Borrowed(self.members[*c as usize].as_slice()),
                    },
                )
                .collect();
            let mut pick = vec![0usize; lists.len()];
            loop {
                let chosen: Vec<(u32, u32)> = classes
                    .iter()
                    .zip(&pick)
                    .zip(&lists)
                    .map(|((c, i), l)| (*c, l[*i]))
                    .collect();
                let new: Vec<u32> = row
                    .iter()
                    .zip(types)
                    .map(|(v, ty)| {
                        if *ty != Ty::Symbol {
                            return *v;
                        }
                        match &cache[v] {
                            Mention::None => *v,
                            Mention::Rep(c) => {
                                let m = chosen.iter().find(|(k, _)| k == c).map_or(0, |x| x.1);
                                eval.symbols.intern(&self.pks[m as usize])
                            }
                            Mention::Holds(_) => {
                                let s = eval.symbols.resolve(*v).to_string();
                                let t = self.substitute(snapshot, &s, &chosen);
                                eval.symbols.intern(&t)
                            }
                        }
                    })
                    .collect();
                out.push(&new);
                if with_origins {
                    origins.push((new, row.to_vec(), chosen));
                }
                // The next combination, odometer-wise.
                let mut k = 0;
                while k < pick.len() {
                    pick[k] += 1;
                    if pick[k] < lists[k].len() {
                        break;
                    }
                    pick[k] = 0;
                    k += 1;
                }
                if k == pick.len() {
                    break;
                }
            }
        }
        out.normalize();
        eval.tables[rel] = out;
        origins
    }

    /// A text about the class-level row (a proof), told of the chosen members instead: each
    /// representative's quoted pk and each placeholder replaced.
    pub fn retell(&self, snapshot: &Snapshot, text: &str, chosen: &[(u32, u32)]) -> String {
        // Proofs print control characters escaped: read the placeholders back first.
        let text = text.replace("\\u{1}", "\u{1}").replace("\\u{1f}", "\u{1f}");
        let mut t = self.substitute(snapshot, &text, chosen);
        for (c, m) in chosen {
            let rep = &self.pks[self.classes.representative[*c as usize]];
            let member = &self.pks[*m as usize];
            if rep != member {
                t = t.replace(&format!("\"{rep}\""), &format!("\"{member}\""));
            }
        }
        t
    }
}

/// The value of column `col` of the user's row in `rel`, as the facts spell it.
fn user_value(snapshot: &Snapshot, index: usize, pk: &str, rel: &str, col: usize) -> String {
    let mut found = String::new();
    let reads = crate::expression::FieldReads::default();
    facts::user_rows(&snapshot.users[index], pk, &[], &reads, |r, row| {
        if r == rel
            && let Some(v) = row.get(col)
        {
            found = (*v).to_string();
        }
    });
    found
}

/// The aggregates of `program` that range over users without weighing them: an aggregate whose
/// body reads a relation that differs between users (`per_user` marks the input relations with
/// per-user rows) with a column left open, unless it sums a `weight`. Evaluated once per class,
/// such an aggregate would count classes, not users. Each is given as its span.
pub fn unweighted_aggregates(
    program: &Program,
    per_user: &[bool],
) -> Vec<crate::datalog::diag::Span> {
    use crate::datalog::ir::{Arg, Lit};
    use crate::datalog::syntax::ast::AggKind;
    let varying = super::components::user_dependent(program, per_user);
    let weight = program.relation("weight");
    let users = user_columns(program, per_user);
    let mut out = Vec::new();
    for clause in &program.clauses {
        for lit in &clause.body {
            let Lit::Agg {
                kind,
                body,
                outer,
                span,
                ..
            } = lit
            else {
                continue;
            };
            let ranges = body.iter().any(|l| match l {
                Lit::Pos(a) | Lit::Neg(a) if varying[a.rel] => {
                    a.args.iter().enumerate().any(|(i, x)| {
                        users[a.rel][i]
                            && match x {
                                Arg::Var(v) => !outer.contains(v),
                                Arg::Wild => true,
                                Arg::Const(_) => false,
                            }
                    })
                }
                Lit::Agg { .. } => true,
                _ => false,
            });
            let weighed = matches!(kind, AggKind::Sum)
                && body
                    .iter()
                    .any(|l| matches!(l, Lit::Pos(a) if Some(a.rel) == weight));
            if ranges && !weighed {
                out.push(*span);
            }
        }
    }
    out
}

/// Which columns of each relation may hold a user: the first column of the relations with
/// per-user rows, and every head column a variable bound in such a column reaches.
pub(crate) fn user_columns(program: &Program, per_user: &[bool]) -> Vec<Vec<bool>> {
    use crate::datalog::ir::{Arg, Lit};
    let mut cols: Vec<Vec<bool>> = program
        .relations
        .iter()
        .enumerate()
        .map(|(i, r)| (0..r.arity()).map(|c| c == 0 && per_user[i]).collect())
        .collect();
    loop {
        let mut changed = false;
        for clause in &program.clauses {
            let mut user_vars = Vec::new();
            for lit in &clause.body {
                if let Lit::Pos(a) = lit {
                    for (i, x) in a.args.iter().enumerate() {
                        if let Arg::Var(v) = x
                            && cols[a.rel][i]
                        {
                            user_vars.push(*v);
                        }
                    }
                }
            }
            for (j, h) in clause.head.args.iter().enumerate() {
                if let Arg::Var(v) = h
                    && user_vars.contains(v)
                    && !cols[clause.head.rel][j]
                {
                    cols[clause.head.rel][j] = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return cols;
        }
    }
}
