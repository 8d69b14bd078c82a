//! Identity classes: users whose facts the rules can tell apart are in different classes; users
//! in one class get identical answers, so answers are computed once per class (and, within a
//! component, once per local class: see [`KeyContext::local_classes`]).
//!
//! A user's class key is derived from the input facts themselves, not from a list of fields:
//! every fact that mentions the user (with the user's id replaced by a placeholder), projected
//! onto the columns some rule can observe, with the user's `direct_member` facts replaced by the
//! effective groups (through the hierarchy) that some other fact or a rule constant names. Why
//! this is exact: if two users have equal keys, swapping their ids maps the (projected) facts onto
//! themselves, so every derived relation is symmetric under the swap and their answers agree.
//! Membership is the one relation read through a derived relation (`member`), whose only use is
//! to be joined with facts naming groups; a group no fact names cannot change an answer.
//!
//! When a rule starts reading a new user fact (say `user_active`), its columns become observed
//! and the classes split accordingly, with no change here.

use super::components::Components;
use crate::datalog::ir::{Arg, Expr, Lit, Program, Ty, VarId};
use crate::facts::{self, FactSet, Value};
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap};
use std::collections::HashMap;
use std::hash::BuildHasher;

/// The relation of direct membership, read by the rules only through `member`.
pub const MEMBERSHIP: &str = "direct_member";

/// Where [`MEMBERSHIP`]'s group is in its rows.
const MEMBERSHIP_GROUP: usize =
    super::views::columns::<super::views::DirectMember, 1>(["group"])[0];
/// Relations that describe the group structure itself (they name every group, so they do not
/// make a group observable).
const GROUP_STRUCTURE: [&str; 4] = ["group", "group_parent", "group_cycle", MEMBERSHIP];
/// Relations naming a group by its pk whose direct members the rules read (a notification rule
/// tells its destination group's direct members only), not only its effective ones.
const READ_DIRECTLY: [&str; 1] = ["notification_group"];

/// For every relation of `program`, which of its columns some rule observes: a column holding a
/// constant, or a variable used more than once in the clause in a way that can tell two values
/// apart (a join, a comparison, a negation, a functor other than `cat`, an aggregate). A column
/// only ever matched by `_`, or whose values are only carried unexamined into a head (directly or
/// concatenated by `cat`) into columns nobody observes, cannot tell two facts apart.
pub fn observed_columns(program: &Program) -> Vec<Vec<bool>> {
    let mut observed: Vec<Vec<bool>> = program
        .relations
        .iter()
        .map(|r| vec![false; r.arity()])
        .collect();
    // (source relation, column) -> (head relation, column) a carried value reaches.
    let mut flows: Vec<((usize, usize), (usize, usize))> = Vec::new();
    for clause in &program.clauses {
        let mut uses = vec![0usize; clause.var_types.len()];
        for a in &clause.head.args {
            if let Arg::Var(v) = a {
                uses[*v] += 1;
            }
        }
        count_uses(&clause.body, &mut uses);
        let carried = carried_vars(clause);
        mark(&clause.body, &uses, &carried, &mut observed);
        for lit in &clause.body {
            let Lit::Pos(a) = lit else { continue };
            for (i, x) in a.args.iter().enumerate() {
                if let Arg::Var(v) = x
                    && carried[*v]
                {
                    for (j, h) in clause.head.args.iter().enumerate() {
                        if let Arg::Var(w) = h
                            && reaches(&clause.body, *v, *w)
                        {
                            flows.push(((a.rel, i), (clause.head.rel, j)));
                        }
                    }
                }
            }
        }
    }
    // A carried value that reaches an observed column is observed where it comes from.
    loop {
        let mut changed = false;
        for &((r, i), (h, j)) in &flows {
            if observed[h][j] && !observed[r][i] {
                observed[r][i] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    observed
}

/// For every relation of `program`, which of its columns may hold a user's id: a column of a
/// per-user relation, or one the rules join, compare, test or carry into a head together with
/// such a column, directly or through other columns. A value anywhere else is never read as a
/// user, even when spelled like one (the integer pk `5` of a provider beside the user whose pk
/// is 5), so it does not tell that user apart.
pub fn user_like_columns(program: &Program) -> Vec<Vec<bool>> {
    let mut offset = Vec::with_capacity(program.relations.len());
    let mut n = 0;
    for r in &program.relations {
        offset.push(n);
        n += r.arity();
    }
    let columns = n;
    n += program
        .clauses
        .iter()
        .map(|c| c.var_types.len())
        .sum::<usize>();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let union = |parent: &mut Vec<usize>, a: usize, b: usize| {
        let (a, b) = (find(parent, a), find(parent, b));
        if a != b {
            parent[a] = b;
        }
    };
    let mut base = columns;
    for clause in &program.clauses {
        let var = |v: VarId| base + v;
        let mut lits: Vec<&Lit> = clause.body.iter().collect();
        let mut atoms = vec![&clause.head];
        let mut together: Vec<Vec<VarId>> = Vec::new();
        while let Some(lit) = lits.pop() {
            match lit {
                Lit::Pos(a) | Lit::Neg(a) => atoms.push(a),
                Lit::Cmp { lhs, rhs, .. } => {
                    let mut vs = Vec::new();
                    lhs.vars(&mut vs);
                    rhs.vars(&mut vs);
                    together.push(vs);
                }
                Lit::Assign { var, expr, .. } => {
                    let mut vs = vec![*var];
                    expr.vars(&mut vs);
                    together.push(vs);
                }
                Lit::Test { args, .. } => {
                    let mut vs = Vec::new();
                    args.iter().for_each(|a| a.vars(&mut vs));
                    together.push(vs);
                }
                Lit::Agg {
                    var, target, body, ..
                } => {
                    let mut vs = vec![*var];
                    if let Some(t) = target {
                        t.vars(&mut vs);
                    }
                    together.push(vs);
                    lits.extend(body);
                }
                Lit::False(_) => {}
            }
        }
        for a in atoms {
            for (i, x) in a.args.iter().enumerate() {
                if let Arg::Var(v) = x {
                    union(&mut parent, offset[a.rel] + i, var(*v));
                }
            }
        }
        for vs in together {
            for w in vs.windows(2) {
                union(&mut parent, var(w[0]), var(w[1]));
            }
        }
        base += clause.var_types.len();
    }
    let seeds: Vec<usize> = program
        .relations
        .iter()
        .enumerate()
        .filter(|(_, r)| super::PER_USER.contains(&r.name.as_str()) && r.arity() > 0)
        .map(|(i, _)| find(&mut parent, offset[i]))
        .collect();
    program
        .relations
        .iter()
        .enumerate()
        .map(|(r, rel)| {
            (0..rel.arity())
                .map(|i| {
                    let root = find(&mut parent, offset[r] + i);
                    seeds.contains(&root)
                })
                .collect()
        })
        .collect()
}

/// Whether variable `v`'s value reaches variable `w`: the same variable, or through `cat`
/// assignments.
fn reaches(body: &[Lit], v: VarId, w: VarId) -> bool {
    if v == w {
        return true;
    }
    body.iter().any(|l| match l {
        Lit::Assign { var, expr, .. } => {
            let mut inside = Vec::new();
            cat_args(expr, &mut inside, &mut Vec::new());
            inside.contains(&v) && reaches(body, *var, w)
        }
        _ => false,
    })
}

/// Splits an expression's variables into those it concatenates unexamined (directly, or as
/// `cat` arguments, nested `cat`s included) and those it examines (`to_string(n)`, arithmetic).
fn cat_args(e: &Expr, carried: &mut Vec<VarId>, examined: &mut Vec<VarId>) {
    match e {
        Expr::Var(v) => carried.push(*v),
        Expr::Const(_) => {}
        Expr::Call(crate::datalog::ir::Func::Cat, _, args) => {
            args.iter().for_each(|a| cat_args(a, carried, examined));
        }
        other => other.vars(examined),
    }
}

/// Which variables of a clause are only carried: bound by one positive atom (or by an
/// assignment of `cat`s), then used only as head arguments or `cat` arguments of assignments to
/// variables that are themselves only carried.
fn carried_vars(clause: &crate::datalog::ir::Clause) -> Vec<bool> {
    let n = clause.var_types.len();
    let mut binds = vec![0usize; n];
    let mut examined = vec![false; n];
    // Assignments whose expression only concatenates: target -> the variables concatenated.
    let mut cats: Vec<(VarId, Vec<VarId>)> = Vec::new();
    for lit in &clause.body {
        match lit {
            Lit::Pos(a) => {
                for x in &a.args {
                    if let Arg::Var(v) = x {
                        binds[*v] += 1;
                    }
                }
            }
            Lit::Assign { var, expr, .. } => {
                binds[*var] += 1;
                let (mut inside, mut looked_at) = (Vec::new(), Vec::new());
                cat_args(expr, &mut inside, &mut looked_at);
                looked_at.iter().for_each(|v| examined[*v] = true);
                cats.push((*var, inside));
            }
            other => {
                let mut uses = vec![0usize; n];
                count_uses(std::slice::from_ref(other), &mut uses);
                for (v, u) in uses.iter().enumerate() {
                    if *u > 0 {
                        examined[v] = true;
                    }
                }
            }
        }
    }
    let mut carried: Vec<bool> = (0..n).map(|v| binds[v] == 1 && !examined[v]).collect();
    loop {
        let mut changed = false;
        for (target, inside) in &cats {
            if !carried[*target] {
                for v in inside {
                    if carried[*v] {
                        carried[*v] = false;
                        changed = true;
                    }
                }
            }
        }
        if !changed {
            break;
        }
    }
    carried
}

fn count_expr(e: &Expr, uses: &mut [usize]) {
    let mut vars = Vec::new();
    e.vars(&mut vars);
    for v in vars {
        uses[v] += 1;
    }
}

fn count_uses(body: &[Lit], uses: &mut [usize]) {
    for lit in body {
        match lit {
            Lit::Pos(a) | Lit::Neg(a) => {
                for x in &a.args {
                    if let Arg::Var(v) = x {
                        uses[*v] += 1;
                    }
                }
            }
            Lit::Cmp { lhs, rhs, .. } => {
                count_expr(lhs, uses);
                count_expr(rhs, uses);
            }
            Lit::Assign { var, expr, .. } => {
                uses[*var] += 1;
                count_expr(expr, uses);
            }
            Lit::Test { args, .. } => args.iter().for_each(|a| count_expr(a, uses)),
            Lit::Agg {
                var, target, body, ..
            } => {
                uses[*var] += 1;
                if let Some(t) = target {
                    count_expr(t, uses);
                }
                count_uses(body, uses);
            }
            Lit::False(_) => {}
        }
    }
}

fn mark(body: &[Lit], uses: &[usize], carried: &[bool], observed: &mut [Vec<bool>]) {
    for lit in body {
        match lit {
            Lit::Pos(a) | Lit::Neg(a) => {
                for (i, x) in a.args.iter().enumerate() {
                    let seen = match x {
                        Arg::Const(_) => true,
                        Arg::Var(v) => uses[*v] > 1 && !carried[*v],
                        Arg::Wild => false,
                    };
                    if seen {
                        observed[a.rel][i] = true;
                    }
                }
            }
            Lit::Agg { body, .. } => mark(body, uses, carried, observed),
            _ => {}
        }
    }
}

/// The users of a snapshot partitioned into identity classes.
#[derive(Clone, Debug)]
pub struct Classes {
    /// The class of each user (index into `snapshot.users`).
    pub of_user: Vec<u32>,
    /// Each class's representative: its first user in snapshot order.
    pub representative: Vec<usize>,
    /// How many users each class has.
    pub members: Vec<u32>,
}

impl Classes {
    /// Number of classes.
    pub fn len(&self) -> usize {
        self.representative.len()
    }

    /// Whether there are none (no users).
    pub fn is_empty(&self) -> bool {
        self.representative.is_empty()
    }

    /// Every user its own class: the per-user evaluation, for comparisons.
    pub fn singletons(users: usize) -> Classes {
        Classes {
            of_user: (0..users as u32).collect(),
            representative: (0..users).collect(),
            members: vec![1; users],
        }
    }
}

/// Per relation of `program` by name: its observed columns and its symbol columns, and the
/// columns that may hold a user's pk.
#[allow(clippy::type_complexity)]
fn program_columns(
    program: &Program,
) -> (
    FxHashMap<String, (Vec<bool>, Vec<bool>)>,
    FxHashMap<String, Vec<bool>>,
) {
    let columns = program
        .relations
        .iter()
        .zip(observed_columns(program))
        .map(|(r, o)| {
            let sym = r.types.iter().map(|t| *t == Ty::Symbol).collect();
            (r.name.clone(), (o, sym))
        })
        .collect();
    let user_like = program
        .relations
        .iter()
        .zip(user_like_columns(program))
        .map(|(r, u)| (r.name.clone(), u))
        .collect();
    (columns, user_like)
}

/// Per group of `snapshot`: whether a rule of `program` names it by its pk or its name.
fn named_by_rules(snapshot: &Snapshot, program: &Program) -> Vec<bool> {
    snapshot
        .groups
        .iter()
        .map(|g| program.symbols.get(&g.pk).is_some() || program.symbols.get(&g.name).is_some())
        .collect()
}

/// What the class keys need from the snapshot and the rules, computed once.
#[derive(Clone)]
pub struct KeyContext<'a> {
    snapshot: &'a Snapshot,
    program: &'a Program,
    /// Relation name -> observed columns and symbol columns.
    columns: FxHashMap<String, (Vec<bool>, Vec<bool>)>,
    /// Relation name -> the columns that may hold a user's pk ([`user_like_columns`]).
    user_like: FxHashMap<String, Vec<bool>>,
    /// Per group: whether a rule names it by its pk or its name.
    named_by_rules: Vec<bool>,
    /// Group pk -> index.
    group_index: FxHashMap<&'a str, u32>,
    /// Per group: the observable groups among itself and its ancestors, sorted.
    observable_up: Vec<Vec<u32>>,
    /// Per group: whether every component observes it (an unowned fact or a rule names it).
    observed_everywhere: Vec<bool>,
    /// Per group: the components whose own facts name it (when not observed everywhere).
    observers: Vec<Vec<u32>>,
    /// Per group: whether direct membership in it counts apart from the effective one.
    direct_counts: Vec<bool>,
    /// Per group someone is directly in: itself and all its ancestors, sorted (empty for the
    /// other groups).
    all_up: Vec<Vec<u32>>,
    /// Group-side memberships: user pk -> groups listing the user.
    group_side: FxHashMap<i64, Vec<u32>>,
    /// The user fields expression policies read, and their classes.
    field_reads: crate::expression::FieldReads,
    /// User pk -> facts of the user-independent part that mention the user, as key text, with
    /// the component owning the fact (`None`: unowned).
    base_mentions: FxHashMap<i64, Vec<(Option<u32>, String)>>,
    /// Whether some membership may be cut by the ancestry limit of older releases (a chain of
    /// 19 or more parents, or a cycle): then a user's direct groups all count.
    deep: bool,
    /// The facts of the snapshot without its users, split into components (shared by the
    /// contexts of several programs over one snapshot).
    pub components: std::sync::Arc<Components>,
}

/// What tells a user apart, in parts a component can project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct KeyParts {
    /// The user's own facts and the unowned facts naming the user, as sorted key text.
    pub own: String,
    /// Effective groups some fact or rule names, sorted.
    pub groups: Vec<u32>,
    /// Direct groups a fact names by name or a rule names (all direct groups when the hierarchy
    /// is deep), sorted: `ak_is_group_member` tells a direct member from an inherited one.
    pub direct: Vec<u32>,
    /// Facts owned by a component that name the user: (component, key text), sorted.
    pub scoped: Vec<(u32, String)>,
}

/// Entries of a table by relation, remembered by the address of the relation's name:
/// [`facts::user_rows`] names its few relations with the same constants for every user, so each
/// is looked up by name once per run of users instead of once per row. (A name met at another
/// address is looked up again, so the answers are the table's whatever the addresses.)
struct ByName<'c, T> {
    seen: Vec<(&'static str, Option<&'c T>)>,
}

impl<'c, T> ByName<'c, T> {
    fn new() -> Self {
        ByName { seen: Vec::new() }
    }

    /// The entry of relation `rel`, which `lookup` finds by name.
    fn get(
        &mut self,
        rel: &'static str,
        lookup: impl FnOnce(&str) -> Option<&'c T>,
    ) -> Option<&'c T> {
        if let Some((_, entry)) = self.seen.iter().find(|(r, _)| std::ptr::eq(*r, rel)) {
            return *entry;
        }
        let entry = lookup(rel);
        self.seen.push((rel, entry));
        entry
    }
}

/// Buffers for making users' [`KeyParts`] one after another, kept from user to user.
struct KeyScratch<'s> {
    /// The user's pk as the facts write it.
    pk: String,
    /// The groups that list the user as a member.
    listed: Vec<&'s str>,
    /// Per relation, its observed columns and its symbol columns.
    columns: ByName<'s, (Vec<bool>, Vec<bool>)>,
    /// The key texts of the user's facts.
    texts: Texts,
    /// The user's key.
    parts: KeyParts,
    /// The user's key as [`KeyParts::write_to`] writes it.
    bytes: Vec<u8>,
}

impl KeyScratch<'_> {
    fn new() -> Self {
        KeyScratch {
            pk: String::new(),
            listed: Vec::new(),
            columns: ByName::new(),
            texts: Texts::default(),
            parts: KeyParts::default(),
            bytes: Vec::new(),
        }
    }
}

/// Key texts of one user's facts, in strings kept for the next user.
#[derive(Default)]
struct Texts {
    /// The strings, the first `used` of them this user's texts.
    all: Vec<String>,
    used: usize,
}

impl Texts {
    /// Forgets the texts, keeping their strings.
    fn clear(&mut self) {
        self.used = 0;
    }

    /// An empty string for one more text.
    fn next(&mut self) -> &mut String {
        if self.used == self.all.len() {
            self.all.push(String::new());
        }
        let t = &mut self.all[self.used];
        self.used += 1;
        t.clear();
        t
    }

    /// Appends the distinct texts to `out`, sorted, with `sep` between them.
    fn join_distinct(&mut self, out: &mut String, sep: &str) {
        let texts = &mut self.all[..self.used];
        texts.sort_unstable();
        for (i, t) in texts.iter().enumerate() {
            if i > 0 && texts[i - 1] == *t {
                continue;
            }
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(t);
        }
    }
}

/// Distinct class keys, as [`KeyParts::write_to`] writes them, numbered in the order they are
/// added and found by a hash computed once per key where the key is made. The keys are kept back
/// to back in one buffer: comparing a key with one added reads one place in memory.
#[derive(Default)]
struct KeyTable {
    /// Per hash, the last key added with that hash.
    by_hash: FxHashMap<u64, u32>,
    /// The keys, back to back.
    bytes: Vec<u8>,
    /// Where each key ends in `bytes` (it starts where the one before it ends).
    ends: Vec<usize>,
    /// Per key, its hash.
    hashes: Vec<u64>,
    /// Per key, the key added before it with the same hash (`u32::MAX`: none).
    same_hash: Vec<u32>,
}

impl KeyTable {
    /// A table for up to `keys` keys.
    fn with_capacity(keys: usize) -> KeyTable {
        KeyTable {
            by_hash: FxHashMap::with_capacity_and_hasher(keys, Default::default()),
            ..KeyTable::default()
        }
    }

    /// How many keys were added.
    fn len(&self) -> usize {
        self.ends.len()
    }

    /// Key number `k`.
    fn key(&self, k: u32) -> &[u8] {
        let k = k as usize;
        let start = if k == 0 { 0 } else { self.ends[k - 1] };
        &self.bytes[start..self.ends[k]]
    }

    /// The number of `key`, whose hash is `hash`, if it was added.
    fn find(&self, hash: u64, key: &[u8]) -> Option<u32> {
        let mut k = *self.by_hash.get(&hash)?;
        while k != u32::MAX {
            if self.key(k) == key {
                return Some(k);
            }
            k = self.same_hash[k as usize];
        }
        None
    }

    /// Adds `key` (not added before), whose hash is `hash`, and gives its number.
    fn insert(&mut self, hash: u64, key: &[u8]) -> u32 {
        let k = self.len() as u32;
        let before = self.by_hash.insert(hash, k);
        self.same_hash.push(before.unwrap_or(u32::MAX));
        self.hashes.push(hash);
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
        k
    }
}

/// The class keys of a run of users, each distinct key once.
struct RunKeys {
    /// The distinct keys, in the order of their first users.
    keys: KeyTable,
    /// Each key's first user (index into `snapshot.users`).
    first: Vec<usize>,
    /// Per user of the run, in order: the number of its key in `keys`.
    of_user: Vec<u32>,
}

impl KeyParts {
    /// Appends the parts to `out` as bytes, each part after its length, so that different parts
    /// are written differently.
    fn write_to(&self, out: &mut Vec<u8>) {
        let len = |out: &mut Vec<u8>, n: usize| out.extend_from_slice(&(n as u64).to_le_bytes());
        len(out, self.own.len());
        out.extend_from_slice(self.own.as_bytes());
        for groups in [&self.groups, &self.direct] {
            len(out, groups.len());
            for g in groups {
                out.extend_from_slice(&g.to_le_bytes());
            }
        }
        len(out, self.scoped.len());
        for (c, text) in &self.scoped {
            out.extend_from_slice(&c.to_le_bytes());
            len(out, text.len());
            out.extend_from_slice(text.as_bytes());
        }
    }
}

/// Per component, which identity classes it cannot tell apart. Most classes show most
/// components nothing beyond what every component sees of them (their base), so a component
/// keeps a local class per base and lists only the classes that show it more: the local class
/// of class `k` in component `c` is its entry in `more[c]`, else `by_base[c][base[k]]`.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// Per identity class: what every component sees of it (its own facts, the groups every
    /// component observes), numbered.
    pub base: Vec<u32>,
    /// Per component: the local class of the identity classes that show it nothing beyond
    /// their base, by base number (`u32::MAX`: every class with that base shows it more).
    pub by_base: Vec<Vec<u32>>,
    /// Per component: the identity classes that show it more than their base, with their local
    /// class, in class order.
    pub more: Vec<Vec<(u32, u32)>>,
    /// Per component: each local class's first identity class, in class order.
    pub first: Vec<Vec<u32>>,
}

impl Local {
    /// The local class of identity class `k` in component `c` (`u32::MAX`: the component was
    /// not classified).
    pub fn id_in(&self, c: usize, k: u32) -> u32 {
        let more = &self.more[c];
        match more.binary_search_by_key(&k, |x| x.0) {
            Ok(i) => more[i].1,
            Err(_) => self.by_base[c]
                .get(self.base[k as usize] as usize)
                .copied()
                .unwrap_or(u32::MAX),
        }
    }

    /// The local class in component `c` of every identity class, in class order: what
    /// [`Local::id_in`] says of each, read in one pass.
    pub fn ids_in(&self, c: usize) -> Vec<u32> {
        let by_base = &self.by_base[c];
        let mut out: Vec<u32> = self
            .base
            .iter()
            .map(|b| by_base.get(*b as usize).copied().unwrap_or(u32::MAX))
            .collect();
        for (k, id) in &self.more[c] {
            out[*k as usize] = *id;
        }
        out
    }
}

/// A value of a fact, as it goes into key text.
trait KeyValue {
    /// Appends the value's text.
    fn push_to(&self, out: &mut String);
    /// Whether the value is the symbol `s`.
    fn is(&self, s: &str) -> bool;
}

impl KeyValue for Value {
    fn push_to(&self, out: &mut String) {
        match self {
            Value::Sym(s) => out.push_str(s),
            Value::Num(n) => out.push_str(&n.to_string()),
        }
    }
    fn is(&self, s: &str) -> bool {
        matches!(self, Value::Sym(v) if v == s)
    }
}

impl KeyValue for &str {
    fn push_to(&self, out: &mut String) {
        out.push_str(self);
    }
    fn is(&self, s: &str) -> bool {
        *self == s
    }
}

/// Key text of one fact: unobserved columns blanked, the user `me` replaced by a placeholder.
fn fact_text<V: KeyValue>(rel: &str, row: &[V], observed: &[bool], me: &str) -> String {
    let mut t = String::with_capacity(32);
    push_fact_text(&mut t, rel, row, observed, me);
    t
}

/// Appends [`fact_text`] of the fact to `t`.
fn push_fact_text<V: KeyValue>(t: &mut String, rel: &str, row: &[V], observed: &[bool], me: &str) {
    t.push_str(rel);
    t.push('(');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            t.push('\u{1f}');
        }
        if !observed.get(i).copied().unwrap_or(true) {
            t.push('_');
        } else if v.is(me) {
            t.push('\u{0}');
        } else {
            v.push_to(t);
        }
    }
    t.push(')');
}

/// The user a symbol names, if any: `users` are the user pks, sorted; a symbol names one as the
/// facts write it.
fn user_named(s: &str, users: &[i64]) -> Option<i64> {
    let pk = s.parse::<i64>().ok()?;
    (users.binary_search(&pk).is_ok() && itoa::Buffer::new().format(pk) == s).then_some(pk)
}

/// User pk -> the groups (indices into `snapshot.groups`) whose `users` list the user: direct
/// membership told on the group's side.
pub(crate) fn group_side(snapshot: &Snapshot) -> FxHashMap<i64, Vec<u32>> {
    let mut side: FxHashMap<i64, Vec<u32>> = FxHashMap::default();
    for (i, g) in snapshot.groups.iter().enumerate() {
        for u in &g.users {
            side.entry(*u).or_default().push(i as u32);
        }
    }
    side
}

/// Whether `a` and `b` are the same text; told at once when they are one string, as the pk a
/// user's rows are made with is in the rows that name the user.
fn same_text(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The pks of the groups that list the user `pk` as a member.
fn listed<'s>(
    snapshot: &'s Snapshot,
    group_side: &FxHashMap<i64, Vec<u32>>,
    pk: i64,
) -> Vec<&'s str> {
    let mut out = Vec::new();
    push_listed(&mut out, snapshot, group_side, pk);
    out
}

/// Replaces `out` with [`listed`]'s groups, keeping its buffer.
fn push_listed<'s>(
    out: &mut Vec<&'s str>,
    snapshot: &'s Snapshot,
    group_side: &FxHashMap<i64, Vec<u32>>,
    pk: i64,
) {
    out.clear();
    out.extend(
        group_side
            .get(&pk)
            .into_iter()
            .flatten()
            .map(|g| &*snapshot.groups[*g as usize].pk),
    );
}

/// `start` and every group above it, sorted.
fn closure(start: u32, parents: &[Vec<u32>]) -> Vec<u32> {
    let mut seen: rustc_hash::FxHashSet<u32> = std::iter::once(start).collect();
    let mut stack = vec![start];
    while let Some(g) = stack.pop() {
        for &p in &parents[g as usize] {
            if seen.insert(p) {
                stack.push(p);
            }
        }
    }
    let mut up: Vec<u32> = seen.into_iter().collect();
    up.sort_unstable();
    up
}

/// Per group, the groups of `tops` (sorted) among itself and its ancestors, sorted. Each top is
/// carried down to its descendants, so the work is what the tops have below them: a deep
/// hierarchy of which few groups are observed costs its length, not its length squared.
fn tops_above(tops: &[u32], parents: &[Vec<u32>]) -> Vec<Vec<u32>> {
    let n = parents.len();
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); n];
    for (c, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p as usize].push(c as u32);
        }
    }
    let mut out: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut seen = vec![usize::MAX; n];
    for (k, &t) in tops.iter().enumerate() {
        seen[t as usize] = k;
        let mut stack = vec![t];
        while let Some(g) = stack.pop() {
            out[g as usize].push(t);
            for &c in &children[g as usize] {
                if seen[c as usize] != k {
                    seen[c as usize] = k;
                    stack.push(c);
                }
            }
        }
    }
    out
}

/// Whether the parent graph has a cycle or a chain of at least `limit` parents.
fn deeper_than(parents: &[Vec<u32>], limit: usize) -> bool {
    // Longest chain by Kahn's order over child -> parent edges; a cycle leaves nodes unvisited.
    let n = parents.len();
    let mut children_left = vec![0usize; n];
    for ps in parents {
        for &p in ps {
            children_left[p as usize] += 1;
        }
    }
    let mut depth = vec![0usize; n];
    let mut ready: Vec<usize> = (0..n).filter(|g| children_left[*g] == 0).collect();
    let mut seen = 0;
    while let Some(g) = ready.pop() {
        seen += 1;
        for &p in &parents[g] {
            let p = p as usize;
            depth[p] = depth[p].max(depth[g] + 1);
            children_left[p] -= 1;
            if children_left[p] == 0 {
                ready.push(p);
            }
        }
    }
    seen < n || depth.iter().any(|d| *d >= limit)
}

impl<'a> KeyContext<'a> {
    /// Indexes the snapshot and the rules' observed columns.
    pub fn new(snapshot: &'a Snapshot, program: &'a Program) -> KeyContext<'a> {
        let components = Components::split(
            snapshot,
            facts::facts_with_users(&without_users(snapshot), &snapshot.users),
        );
        Self::with_components(snapshot, program, std::sync::Arc::new(components), None)
    }

    /// The context of another program over the same snapshot: the components are shared, what
    /// the program observes is its own.
    ///
    /// A program that observes what this context's program observes (the same columns, the
    /// same groups named) gets a copy: the built-in rules, say, against a command's program
    /// that adds no rules of its own.
    pub fn for_program<'p>(&self, program: &'p Program) -> KeyContext<'p>
    where
        'a: 'p,
    {
        let (columns, user_like) = program_columns(program);
        if columns == self.columns
            && user_like == self.user_like
            && named_by_rules(self.snapshot, program) == self.named_by_rules
        {
            return KeyContext {
                program,
                ..self.clone()
            };
        }
        KeyContext::with_components(self.snapshot, program, self.components.clone(), Some(self))
    }

    /// The context of `program` over the snapshot split into `components`; what depends on
    /// the snapshot alone (the group index, the groups listing each user, the expression
    /// fields read, each group's ancestry) is copied from `earlier` where given, not read from
    /// every user again.
    fn with_components(
        snapshot: &'a Snapshot,
        program: &'a Program,
        components: std::sync::Arc<Components>,
        earlier: Option<&KeyContext<'a>>,
    ) -> KeyContext<'a> {
        let (columns, user_like) = program_columns(program);
        let group_index: FxHashMap<&str, u32> = match earlier {
            Some(e) => e.group_index.clone(),
            None => snapshot
                .groups
                .iter()
                .enumerate()
                .map(|(i, g)| (&*g.pk, i as u32))
                .collect(),
        };
        // A group named by its name (`ak_is_group_member(request.user, name="...")`) is named
        // as surely as by its pk.
        let mut group_names: FxHashMap<&str, Vec<u32>> = FxHashMap::default();
        for (i, g) in snapshot.groups.iter().enumerate() {
            group_names.entry(&*g.name).or_default().push(i as u32);
        }
        let parents: Vec<Vec<u32>> = snapshot
            .groups
            .iter()
            .map(|g| {
                g.parents
                    .iter()
                    .filter_map(|p| group_index.get(&**p).copied())
                    .collect()
            })
            .collect();
        let group_side = match earlier {
            Some(e) => e.group_side.clone(),
            None => group_side(snapshot),
        };
        // The user pks, sorted, for telling which symbols name a user.
        let mut user_pks: Vec<i64> = snapshot.users.par_iter().map(|u| u.pk).collect();
        if !user_pks.is_sorted() {
            user_pks.par_sort_unstable();
        }
        let field_reads = match earlier {
            Some(e) => e.field_reads.clone(),
            None => crate::expression::FieldReads::of(snapshot),
        };
        let groups = snapshot.groups.len();
        let mut observed_everywhere = vec![false; groups];
        let mut observers: Vec<Vec<u32>> = vec![Vec::new(); groups];
        let mut base_mentions: FxHashMap<i64, Vec<(Option<u32>, String)>> = FxHashMap::default();
        // Groups whose direct membership counts, not only the effective one: those named by
        // name (`ak_is_group_member` tells a direct member from one through a child group) or
        // by a rule. A group named by its pk in a fact (a group binding) is read through
        // `member`, the effective membership.
        let mut direct_counts = vec![false; groups];
        let scopes = std::iter::once((None, &components.global)).chain(
            components
                .owned
                .iter()
                .enumerate()
                .map(|(c, f)| (Some(c as u32), f)),
        );
        for (scope, set) in scopes {
            for (rel, rows) in &set.relations {
                let Some((obs, sym)) = columns.get(rel) else {
                    continue;
                };
                let structure = GROUP_STRUCTURE.contains(&rel.as_str());
                let like = &user_like[rel];
                for row in rows {
                    for (i, v) in row.iter().enumerate() {
                        let Value::Sym(s) = v else { continue };
                        if !obs[i] || !sym[i] {
                            continue;
                        }
                        if !structure {
                            let by_pk = group_index.get(s.as_str()).map(std::slice::from_ref);
                            if READ_DIRECTLY.contains(&rel.as_str()) {
                                for &g in by_pk.into_iter().flatten() {
                                    direct_counts[g as usize] = true;
                                }
                            }
                            let by_name = group_names.get(s.as_str()).map(Vec::as_slice);
                            for &g in by_name.into_iter().flatten() {
                                direct_counts[g as usize] = true;
                            }
                            for &g in by_pk.into_iter().chain(by_name).flatten() {
                                match scope {
                                    None => observed_everywhere[g as usize] = true,
                                    Some(c) => observers[g as usize].push(c),
                                }
                            }
                        }
                        if like[i]
                            && let Some(pk) = user_named(s, &user_pks)
                        {
                            base_mentions
                                .entry(pk)
                                .or_default()
                                .push((scope, fact_text(rel, row, obs, s)));
                        }
                    }
                }
            }
        }
        // A user's row that names another user (in a column some rule observes) tells that
        // user apart too, as an unowned fact would. Per relation, its observed columns and the
        // columns where a row may name a user: observed symbol columns that may hold a user's pk.
        let naming: FxHashMap<&str, (&[bool], Vec<usize>)> = columns
            .iter()
            .filter_map(|(rel, (obs, sym))| {
                let like = user_like.get(rel)?;
                let at: Vec<usize> = (0..obs.len())
                    .filter(|&i| obs[i] && sym[i] && like[i])
                    .collect();
                (!at.is_empty()).then_some((rel.as_str(), (obs.as_slice(), at)))
            })
            .collect();
        let named_by_users: Vec<(i64, String)> = snapshot
            .users
            .par_chunks(4096)
            .flat_map_iter(|run| {
                let (mut pk, mut listed, mut naming_in) =
                    (String::new(), Vec::new(), ByName::new());
                let mut out = Vec::new();
                for u in run {
                    pk.clear();
                    pk.push_str(itoa::Buffer::new().format(u.pk));
                    push_listed(&mut listed, snapshot, &group_side, u.pk);
                    facts::user_rows(u, &pk, &listed, &field_reads, |rel, row| {
                        let Some((obs, at)) = naming_in.get(rel, |r| naming.get(r)) else {
                            return;
                        };
                        for &i in at {
                            let v = row[i];
                            if !same_text(v, &pk)
                                && let Some(other) = user_named(v, &user_pks)
                            {
                                out.push((other, fact_text(rel, row, obs, v)));
                            }
                        }
                    });
                }
                out
            })
            .collect();
        for (pk, text) in named_by_users {
            base_mentions.entry(pk).or_default().push((None, text));
        }
        // A rule that names a group by its id or name observes membership in it.
        let named_by_rules = named_by_rules(snapshot, program);
        for (i, named) in named_by_rules.iter().enumerate() {
            if *named {
                observed_everywhere[i] = true;
                direct_counts[i] = true;
            }
        }
        for (g, o) in observers.iter_mut().enumerate() {
            o.sort_unstable();
            o.dedup();
            if observed_everywhere[g] {
                o.clear();
            }
        }
        // Only groups someone is directly in start a user's ancestry.
        let all_up: Vec<Vec<u32>> = match earlier {
            Some(e) => e.all_up.clone(),
            None => {
                let mut populated = snapshot
                    .users
                    .par_chunks(4096)
                    .fold(
                        || vec![false; groups],
                        |mut populated, run| {
                            for u in run {
                                for g in u.groups.iter().filter_map(|g| group_index.get(&**g)) {
                                    populated[*g as usize] = true;
                                }
                            }
                            populated
                        },
                    )
                    .reduce(
                        || vec![false; groups],
                        |mut a, b| {
                            a.iter_mut().zip(b).for_each(|(a, b)| *a |= b);
                            a
                        },
                    );
                for gs in group_side.values() {
                    for g in gs {
                        populated[*g as usize] = true;
                    }
                }
                (0..groups as u32)
                    .into_par_iter()
                    .map(|g| {
                        if populated[g as usize] {
                            closure(g, &parents)
                        } else {
                            Vec::new()
                        }
                    })
                    .collect()
            }
        };
        let observable: Vec<u32> = (0..groups as u32)
            .filter(|g| observed_everywhere[*g as usize] || !observers[*g as usize].is_empty())
            .collect();
        let observable_up = tops_above(&observable, &parents);
        KeyContext {
            field_reads,
            snapshot,
            program,
            columns,
            user_like,
            named_by_rules,
            group_index,
            observable_up,
            observed_everywhere,
            observers,
            direct_counts,
            all_up,
            group_side,
            base_mentions,
            deep: deeper_than(&parents, 19),
            components,
        }
    }

    /// Which columns of relation `rel` some rule observes (see [`observed_columns`]).
    pub fn observed(&self, rel: &str) -> Option<&[bool]> {
        self.columns.get(rel).map(|(o, _)| o.as_slice())
    }

    /// The facts that mention these users (every fact of a snapshot holding only them).
    pub fn user_facts(&self, users: &[usize]) -> FactSet {
        let more: Vec<Vec<&str>> = users
            .iter()
            .map(|i| listed(self.snapshot, &self.group_side, self.snapshot.users[*i].pk))
            .collect();
        facts::user_facts(
            users
                .iter()
                .zip(&more)
                .map(|(i, m)| (&self.snapshot.users[*i], m.as_slice())),
            &self.field_reads,
        )
    }

    /// The rows of the user at `index` (as [`facts::user_rows`] makes them, with the groups that
    /// list the user), one `add(relation, row)` each.
    pub fn user_rows(&self, index: usize, add: impl FnMut(&'static str, &[&str])) {
        let u = &self.snapshot.users[index];
        let pk = u.pk.to_string();
        facts::user_rows(
            u,
            &pk,
            &listed(self.snapshot, &self.group_side, u.pk),
            &self.field_reads,
            add,
        );
    }

    /// What tells each of these users (indices into `snapshot.users`) apart, in order.
    pub fn parts(&self, users: &[usize]) -> Vec<KeyParts> {
        let mut scratch = KeyScratch::new();
        users
            .iter()
            .map(|i| {
                self.parts_into(*i, &mut scratch);
                scratch.parts.clone()
            })
            .collect()
    }

    /// Makes in `scratch.parts` what tells the user at `index` apart: its rows, as
    /// [`facts::user_rows`] makes them, each one naming the user in an observed column; and the
    /// facts of others naming the user.
    fn parts_into<'s>(&'s self, index: usize, scratch: &mut KeyScratch<'s>) {
        let u = &self.snapshot.users[index];
        let KeyScratch {
            pk,
            listed,
            columns,
            texts,
            parts,
            ..
        } = scratch;
        pk.clear();
        pk.push_str(itoa::Buffer::new().format(u.pk));
        let pk: &str = pk;
        push_listed(listed, self.snapshot, &self.group_side, u.pk);
        texts.clear();
        parts.own.clear();
        parts.groups.clear();
        parts.direct.clear();
        parts.scoped.clear();
        facts::user_rows(u, pk, listed, &self.field_reads, |rel, row| {
            let Some((obs, sym)) = columns.get(rel, |r| self.columns.get(r)) else {
                return;
            };
            let names_me = (0..row.len()).any(|i| obs[i] && sym[i] && same_text(row[i], pk));
            if !names_me {
                return;
            }
            if rel == MEMBERSHIP {
                if let Some(&g) = self.group_index.get(row[MEMBERSHIP_GROUP]) {
                    parts.groups.extend(&self.observable_up[g as usize]);
                    if self.deep || self.direct_counts[g as usize] {
                        parts.direct.push(g);
                    }
                }
            } else {
                push_fact_text(texts.next(), rel, row, obs, pk);
            }
        });
        if let Some(more) = self.base_mentions.get(&u.pk) {
            for (scope, text) in more {
                match scope {
                    None => texts.next().push_str(text),
                    Some(c) => parts.scoped.push((*c, text.clone())),
                }
            }
        }
        texts.join_distinct(&mut parts.own, "\u{1e}");
        // A user whose id is a constant of the rules is observed by name: alone in its class.
        if self.program.symbols.get(pk).is_some() {
            parts.own.push_str("\u{1d}named:");
            parts.own.push_str(pk);
        }
        for v in [&mut parts.groups, &mut parts.direct] {
            v.sort_unstable();
            v.dedup();
        }
        parts.scoped.sort_unstable();
        parts.scoped.dedup();
    }

    /// The class keys of the users `run` (indices into `snapshot.users`), each distinct key once.
    fn run_keys(&self, run: &[usize]) -> RunKeys {
        let mut scratch = KeyScratch::new();
        let mut keys = KeyTable::with_capacity(run.len());
        let mut first = Vec::new();
        let of_user = run
            .iter()
            .map(|&i| {
                self.parts_into(i, &mut scratch);
                scratch.bytes.clear();
                scratch.parts.write_to(&mut scratch.bytes);
                let hash = FxBuildHasher.hash_one(&scratch.bytes);
                keys.find(hash, &scratch.bytes).unwrap_or_else(|| {
                    first.push(i);
                    keys.insert(hash, &scratch.bytes)
                })
            })
            .collect();
        RunKeys {
            keys,
            first,
            of_user,
        }
    }

    /// Every group the user is a member of (direct or through the hierarchy), sorted.
    pub fn effective_groups(&self, index: usize) -> Vec<u32> {
        let u = &self.snapshot.users[index];
        let mut out: Vec<u32> = Vec::new();
        let direct = u
            .groups
            .iter()
            .filter_map(|g| self.group_index.get(&**g).copied())
            .chain(self.group_side.get(&u.pk).into_iter().flatten().copied());
        for g in direct {
            out.extend(&self.all_up[g as usize]);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Partitions the users into classes; class ids follow the order of each class's first user.
    ///
    /// Runs of `chunk` users are keyed in parallel, each key hashed and each distinct key of a
    /// run kept once; the runs' distinct keys are then numbered in order, so the one part that
    /// is not parallel looks up a few keys by a hash already computed.
    pub fn classes(&self, chunk: usize) -> Classes {
        let n = self.snapshot.users.len();
        let indices: Vec<usize> = (0..n).collect();
        let mut known = KeyTable::default();
        let mut of_user = Vec::with_capacity(n);
        let mut representative = Vec::new();
        let mut members: Vec<u32> = Vec::new();
        let window = chunk * rayon::current_num_threads().max(1) * 2;
        for win in indices.chunks(window.max(1)) {
            let runs: Vec<RunKeys> = win
                .par_chunks(chunk.max(1))
                .map(|run| self.run_keys(run))
                .collect();
            for run in runs {
                // A run's keys are in the order of their first users, so numbering the new ones
                // in that order numbers classes in the order of their first users.
                let ids: Vec<u32> = (0..run.keys.len() as u32)
                    .zip(run.first)
                    .map(|(k, first)| {
                        let (hash, key) = (run.keys.hashes[k as usize], run.keys.key(k));
                        known.find(hash, key).unwrap_or_else(|| {
                            representative.push(first);
                            members.push(0);
                            known.insert(hash, key)
                        })
                    })
                    .collect();
                for k in run.of_user {
                    let id = ids[k as usize];
                    members[id as usize] += 1;
                    of_user.push(id);
                }
            }
        }
        Classes {
            of_user,
            representative,
            members,
        }
    }

    /// What every component sees of a user with these parts (see [`Local::base`]).
    fn base_key<'p>(&self, p: &'p KeyParts) -> (&'p str, Vec<u32>, Vec<u32>) {
        let everywhere = |g: &u32| self.observed_everywhere[*g as usize];
        let direct_all: Vec<u32> = if self.deep {
            p.direct.clone()
        } else {
            p.direct.iter().copied().filter(everywhere).collect()
        };
        (
            p.own.as_str(),
            p.groups.iter().copied().filter(everywhere).collect(),
            direct_all,
        )
    }

    /// Per identity class of `classes`, its base as [`KeyContext::local_classes`] numbers it:
    /// what every component sees of it under this context's program.
    pub fn bases(&self, classes: &Classes) -> Vec<u32> {
        let parts: Vec<KeyParts> = classes
            .representative
            .par_chunks(4096)
            .flat_map_iter(|c| self.parts(c))
            .collect();
        let mut seen: HashMap<(&str, Vec<u32>, Vec<u32>), u32> = HashMap::new();
        parts
            .iter()
            .map(|p| {
                let next = seen.len() as u32;
                *seen.entry(self.base_key(p)).or_insert(next)
            })
            .collect()
    }

    /// Per component, which of `classes` it can tell apart: two classes whose representatives
    /// differ only in groups and facts the component's own facts never name get one local class.
    /// Only the `wanted` components are classified; the others get no local classes.
    pub fn local_classes(&self, classes: &Classes, wanted: &[bool]) -> Local {
        let start = std::time::Instant::now();
        let parts: Vec<KeyParts> = classes
            .representative
            .par_chunks(4096)
            .flat_map_iter(|c| self.parts(c))
            .collect();
        crate::analysis::bulk::timing("local classes: representatives' keys", start);
        // What every component sees of a class, numbered.
        let mut seen_by_all: HashMap<(&str, Vec<u32>, Vec<u32>), u32> = HashMap::new();
        let mut base: Vec<u32> = Vec::with_capacity(parts.len());
        // The classes with each group among their effective groups ([0]) and their counted
        // direct groups ([1]), in class order.
        let groups = self.observers.len();
        let mut with_group: [Vec<Vec<u32>>; 2] =
            [vec![Vec::new(); groups], vec![Vec::new(); groups]];
        // What only some components see beyond the groups: per component, (class, fact text).
        let mut texts: HashMap<&str, u32> = HashMap::new();
        let mut scoped: Vec<Vec<(u32, u32)>> = vec![Vec::new(); self.components.len()];
        for (k, p) in parts.iter().enumerate() {
            let key = self.base_key(p);
            let next = seen_by_all.len() as u32;
            base.push(*seen_by_all.entry(key).or_insert(next));
            let k = k as u32;
            for &g in &p.groups {
                if !self.observers[g as usize].is_empty() {
                    with_group[0][g as usize].push(k);
                }
            }
            if !self.deep {
                for &g in &p.direct {
                    if !self.observers[g as usize].is_empty() {
                        with_group[1][g as usize].push(k);
                    }
                }
            }
            for (c, text) in &p.scoped {
                let next = texts.len() as u32;
                let t = *texts.entry(text.as_str()).or_insert(next);
                scoped[*c as usize].push((k, t));
            }
        }
        // Per component, the groups only some components observe that it observes.
        let mut observed: Vec<Vec<u32>> = vec![Vec::new(); self.components.len()];
        for (g, cs) in self.observers.iter().enumerate() {
            for &c in cs {
                observed[c as usize].push(g as u32);
            }
        }
        if std::env::var_os("BINDLOG_TIMINGS").is_some() {
            let owns: std::collections::HashSet<&str> =
                parts.iter().map(|p| p.own.as_str()).collect();
            eprintln!(
                "timing: {} groups seen everywhere, {} distinct own parts, {} base keys",
                self.observed_everywhere.iter().filter(|b| **b).count(),
                owns.len(),
                seen_by_all.len()
            );
        }
        crate::analysis::bulk::timing("local classes: what each component sees", start);
        let bases = seen_by_all.len();
        let mut of_base: Vec<Vec<u32>> = vec![Vec::new(); bases];
        for (k, b) in base.iter().enumerate() {
            of_base[*b as usize].push(k as u32);
        }
        let per_component: Vec<Component> = observed
            .into_par_iter()
            .zip(scoped)
            .zip(wanted)
            .map_init(
                || Scratch::new(base.len(), bases),
                |scratch, ((groups, scoped), wanted)| {
                    if !wanted {
                        return (vec![u32::MAX; bases], Vec::new(), Vec::new());
                    }
                    local_component(&base, &of_base, &with_group, &groups, &scoped, scratch)
                },
            )
            .collect();
        let mut local = Local {
            base,
            ..Local::default()
        };
        for (by_base, more, first) in per_component {
            local.by_base.push(by_base);
            local.more.push(more);
            local.first.push(first);
        }
        local
    }
}

/// One component's local classes: by base, the classes that show it more, the first classes.
type Component = (Vec<u32>, Vec<(u32, u32)>, Vec<u32>);

/// Per-thread scratch space for [`local_component`], all zeros between calls: per identity
/// class its number, per base its starting number, and a bit per class the component observes
/// something of.
struct Scratch {
    seen: Vec<u32>,
    start: Vec<u32>,
    marks: Vec<u64>,
}

impl Scratch {
    fn new(classes: usize, bases: usize) -> Scratch {
        Scratch {
            seen: vec![0; classes],
            start: vec![0; bases],
            marks: vec![0; classes.div_ceil(64)],
        }
    }
}

/// The numbering walk of [`local_component`].
struct Walk<'s> {
    base: &'s [u32],
    scratch: &'s mut Scratch,
    /// Bases given a starting number.
    started: Vec<u32>,
    /// Per number: the step that last moved it, and where to.
    moved_by: Vec<usize>,
    moved_to: Vec<u32>,
}

impl Walk<'_> {
    fn fresh(&mut self) -> u32 {
        self.moved_by.push(usize::MAX);
        self.moved_to.push(0);
        (self.moved_by.len() - 1) as u32
    }

    /// Moves each of `classes` (each at most once) by step number `step`.
    fn take(&mut self, classes: impl Iterator<Item = u32>, step: usize) {
        for k in classes {
            let k = k as usize;
            if self.scratch.seen[k] == 0 {
                self.scratch.marks[k / 64] |= 1 << (k % 64);
                let b = self.base[k] as usize;
                if self.scratch.start[b] == 0 {
                    self.scratch.start[b] = self.fresh();
                    self.started.push(b as u32);
                }
                self.scratch.seen[k] = self.scratch.start[b];
            }
            let from = self.scratch.seen[k] as usize;
            if self.moved_by[from] != step {
                self.moved_by[from] = step;
                self.moved_to[from] = self.fresh();
            }
            self.scratch.seen[k] = self.moved_to[from];
        }
    }
}

/// The local classes of the component that observes `groups` (beyond those every component
/// observes) and the `scoped` (class, text) facts: classes differ when their base differs or
/// when they show it different groups or texts.
///
/// What a class shows is a number, taken one step at a time: a class the component observes
/// something of starts at its base's own number, then every class takes the steps (kind, group
/// or text) it has in one order, and a step takes the classes at one number to one new number.
/// So two classes end at the same number exactly when they have the same base and the same
/// steps; a class that shows the component nothing stays at 0 and is told apart by its base.
fn local_component(
    base: &[u32],
    of_base: &[Vec<u32>],
    with_group: &[Vec<Vec<u32>>; 2],
    groups: &[u32],
    scoped: &[(u32, u32)],
    scratch: &mut Scratch,
) -> Component {
    let mut walk = Walk {
        base,
        scratch,
        started: Vec::new(),
        moved_by: vec![usize::MAX],
        moved_to: vec![0],
    };
    let mut step = 0usize;
    for &g in groups {
        for with in with_group {
            walk.take(with[g as usize].iter().copied(), step);
            step += 1;
        }
    }
    let mut scoped = scoped.to_vec();
    scoped.sort_unstable_by_key(|&(k, t)| (t, k));
    for same in scoped.chunk_by(|a, b| a.1 == b.1) {
        walk.take(same.iter().map(|x| x.0), step);
        step += 1;
    }
    let Walk {
        scratch,
        started,
        moved_to,
        ..
    } = walk;
    let Scratch { seen, start, marks } = scratch;
    // The classes it observes something of, in class order; the marks are cleared.
    let mut touched: Vec<u32> = Vec::new();
    for (w, word) in marks.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        while bits != 0 {
            touched.push((w * 64) as u32 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    // Each local class by its first identity class: a base's first class that shows nothing
    // more (number 0), and the first class at each number.
    let mut firsts: Vec<(u32, u32, u32)> = Vec::new();
    for (b, ks) in of_base.iter().enumerate() {
        if let Some(&k) = ks.iter().find(|k| seen[**k as usize] == 0) {
            firsts.push((k, b as u32, 0));
        }
    }
    let mut id_of: Vec<u32> = vec![u32::MAX; moved_to.len()];
    for &k in &touched {
        let s = seen[k as usize];
        if id_of[s as usize] == u32::MAX {
            id_of[s as usize] = 0;
            firsts.push((k, 0, s));
        }
    }
    firsts.sort_unstable();
    let mut by_base = vec![u32::MAX; of_base.len()];
    let mut first = Vec::with_capacity(firsts.len());
    for (id, &(k, b, s)) in firsts.iter().enumerate() {
        first.push(k);
        if s == 0 {
            by_base[b as usize] = id as u32;
        } else {
            id_of[s as usize] = id as u32;
        }
    }
    let more = touched
        .iter()
        .map(|&k| {
            let s = std::mem::take(&mut seen[k as usize]);
            (k, id_of[s as usize])
        })
        .collect();
    for &b in &started {
        start[b as usize] = 0;
    }
    (by_base, more, first)
}

/// The snapshot's groups without their member lists.
pub fn groups_without_members(snapshot: &Snapshot) -> Vec<crate::snapshot::Group> {
    snapshot
        .groups
        .iter()
        .map(|g| crate::snapshot::Group {
            pk: g.pk.clone(),
            name: g.name.clone(),
            is_superuser: g.is_superuser,
            parents: g.parents.clone(),
            users: Vec::new(),
        })
        .collect()
}

/// The snapshot without its users (and without the groups' member lists).
pub fn without_users(snapshot: &Snapshot) -> Snapshot {
    Snapshot {
        version: snapshot.version.clone(),
        users: Vec::new(),
        groups: groups_without_members(snapshot),
        flows: snapshot.flows.clone(),
        flow_bindings: snapshot.flow_bindings.clone(),
        stages: snapshot.stages.clone(),
        policies: snapshot.policies.clone(),
        policy_bindings: snapshot.policy_bindings.clone(),
        applications: snapshot.applications.clone(),
        entitlements: snapshot.entitlements.clone(),
        sources: snapshot.sources.clone(),
        brands: snapshot.brands.clone(),
        settings: snapshot.settings.clone(),
        notification_rules: snapshot.notification_rules.clone(),
        transports: snapshot.transports.clone(),
        rac_endpoints: snapshot.rac_endpoints.clone(),
        devices: snapshot.devices.clone(),
        device_access_groups: snapshot.device_access_groups.clone(),
        providers: snapshot.providers.clone(),
        present: snapshot.present.clone(),
        others: snapshot.others.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::Local;

    /// Reading every class's local class at once says what asking class by class says: the
    /// classes that show a component more than their base keep their own local class, the
    /// others take their base's, and a base no local class stands for reads as none.
    #[test]
    fn local_classes_read_at_once_equal_those_read_one_by_one() {
        let local = Local {
            base: vec![0, 1, 0, 2, 1, 0],
            by_base: vec![vec![0, 1, u32::MAX], vec![3]],
            more: vec![vec![(2, 5), (3, 6)], vec![]],
            first: vec![vec![], vec![]],
        };
        for c in 0..2 {
            let one_by_one: Vec<u32> = (0..6).map(|k| local.id_in(c, k)).collect();
            assert_eq!(local.ids_in(c), one_by_one);
        }
        assert_eq!(local.ids_in(0), [0, 1, 5, 6, 1, 0]);
        assert_eq!(local.ids_in(1), [3, u32::MAX, 3, u32::MAX, u32::MAX, 3]);
    }
}
