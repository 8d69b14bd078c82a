//! Identity classes: users whose facts the rules can tell apart are in different classes; users
//! in one class get identical answers, so the rules run once per class.
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

use crate::datalog::ir::{Arg, Expr, Lit, Program, Ty};
use crate::facts::{self, FactSet, Value};
use crate::snapshot::{Snapshot, User};
use rayon::prelude::*;
use std::collections::HashMap;

/// The relation of direct membership, read by the rules only through `member`.
pub const MEMBERSHIP: &str = "direct_member";
/// Relations that describe the group structure itself (they name every group, so they do not
/// make a group observable).
const GROUP_STRUCTURE: [&str; 3] = ["group", "group_parent", MEMBERSHIP];

/// For every relation of `program`, which of its columns some rule observes: a column holding a
/// constant, or a variable used more than once in the clause. A column only ever matched by `_`
/// (or a variable used once) cannot tell two facts apart.
pub fn observed_columns(program: &Program) -> Vec<Vec<bool>> {
    let mut observed: Vec<Vec<bool>> = program
        .relations
        .iter()
        .map(|r| vec![false; r.arity()])
        .collect();
    for clause in &program.clauses {
        let mut uses = vec![0usize; clause.var_types.len()];
        for a in &clause.head.args {
            if let Arg::Var(v) = a {
                uses[*v] += 1;
            }
        }
        count_uses(&clause.body, &mut uses);
        mark(&clause.body, &uses, &mut observed);
    }
    observed
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

fn mark(body: &[Lit], uses: &[usize], observed: &mut [Vec<bool>]) {
    for lit in body {
        match lit {
            Lit::Pos(a) | Lit::Neg(a) => {
                for (i, x) in a.args.iter().enumerate() {
                    let seen = match x {
                        Arg::Const(_) => true,
                        Arg::Var(v) => uses[*v] > 1,
                        Arg::Wild => false,
                    };
                    if seen {
                        observed[a.rel][i] = true;
                    }
                }
            }
            Lit::Agg { body, .. } => mark(body, uses, observed),
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

/// What the class keys need from the snapshot and the rules, computed once.
pub struct KeyContext<'a> {
    snapshot: &'a Snapshot,
    program: &'a Program,
    /// Relation name -> observed columns and symbol columns.
    columns: HashMap<String, (Vec<bool>, Vec<bool>)>,
    /// Group pk -> index.
    group_index: HashMap<&'a str, u32>,
    /// Per group: the observable groups among itself and its ancestors, sorted.
    observable_up: Vec<Vec<u32>>,
    /// Per group: itself and all its ancestors, sorted.
    all_up: Vec<Vec<u32>>,
    /// Group-side memberships: user pk -> groups listing the user.
    group_side: HashMap<i64, Vec<u32>>,
    /// User pk -> facts of the user-independent part that mention the user, as key text.
    base_mentions: HashMap<i64, Vec<String>>,
    /// The facts of the snapshot without its users (the same for every class).
    pub base: FactSet,
}

/// Key text of one value: the placeholder for the user itself.
fn value_text(v: &Value, out: &mut String) {
    match v {
        Value::Sym(s) => out.push_str(s),
        Value::Num(n) => out.push_str(&n.to_string()),
    }
}

fn fact_text(rel: &str, row: &[Value], observed: &[bool], me: &str) -> String {
    let mut t = String::with_capacity(32);
    t.push_str(rel);
    t.push('(');
    for (i, v) in row.iter().enumerate() {
        if i > 0 {
            t.push('\u{1f}');
        }
        if !observed.get(i).copied().unwrap_or(true) {
            t.push('_');
        } else if matches!(v, Value::Sym(s) if s == me) {
            t.push('\u{0}');
        } else {
            value_text(v, &mut t);
        }
    }
    t.push(')');
    t
}

fn closure(start: u32, parents: &[Vec<u32>]) -> Vec<u32> {
    let mut seen = vec![start];
    let mut stack = vec![start];
    while let Some(g) = stack.pop() {
        for &p in &parents[g as usize] {
            if !seen.contains(&p) {
                seen.push(p);
                stack.push(p);
            }
        }
    }
    seen.sort_unstable();
    seen
}

impl<'a> KeyContext<'a> {
    /// Indexes the snapshot and the rules' observed columns.
    pub fn new(snapshot: &'a Snapshot, program: &'a Program) -> KeyContext<'a> {
        let observed = observed_columns(program);
        let columns: HashMap<String, (Vec<bool>, Vec<bool>)> = program
            .relations
            .iter()
            .zip(observed)
            .map(|(r, o)| {
                let sym = r.types.iter().map(|t| *t == Ty::Symbol).collect();
                (r.name.clone(), (o, sym))
            })
            .collect();
        let group_index: HashMap<&str, u32> = snapshot
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (&*g.pk, i as u32))
            .collect();
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
        let mut group_side: HashMap<i64, Vec<u32>> = HashMap::new();
        for (i, g) in snapshot.groups.iter().enumerate() {
            for u in &g.users {
                group_side.entry(*u).or_default().push(i as u32);
            }
        }
        let base = facts::facts_of(&without_users(snapshot));
        let user_pks: HashMap<i64, ()> = snapshot.users.iter().map(|u| (u.pk, ())).collect();
        let mut observable = vec![false; snapshot.groups.len()];
        let mut base_mentions: HashMap<i64, Vec<String>> = HashMap::new();
        for (rel, rows) in &base.relations {
            let Some((obs, sym)) = columns.get(rel) else {
                continue;
            };
            let structure = GROUP_STRUCTURE.contains(&rel.as_str());
            for row in rows {
                for (i, v) in row.iter().enumerate() {
                    let Value::Sym(s) = v else { continue };
                    if !obs[i] || !sym[i] {
                        continue;
                    }
                    if !structure && let Some(&g) = group_index.get(s.as_str()) {
                        observable[g as usize] = true;
                    }
                    if let Ok(pk) = s.parse::<i64>()
                        && user_pks.contains_key(&pk)
                    {
                        base_mentions
                            .entry(pk)
                            .or_default()
                            .push(fact_text(rel, row, obs, s));
                    }
                }
            }
        }
        // A rule that names a group by its id observes membership in it.
        for (i, g) in snapshot.groups.iter().enumerate() {
            if program.symbols.get(&g.pk).is_some() {
                observable[i] = true;
            }
        }
        let all_up: Vec<Vec<u32>> = (0..snapshot.groups.len() as u32)
            .into_par_iter()
            .map(|g| closure(g, &parents))
            .collect();
        let observable_up = all_up
            .iter()
            .map(|up| {
                up.iter()
                    .copied()
                    .filter(|g| observable[*g as usize])
                    .collect()
            })
            .collect();
        KeyContext {
            snapshot,
            program,
            columns,
            group_index,
            observable_up,
            all_up,
            group_side,
            base_mentions,
            base,
        }
    }

    /// The user at `index` with its group-side memberships folded into its `groups`, so that the
    /// facts of this user alone carry all its direct memberships.
    pub fn user_alone(&self, index: usize) -> User {
        let u = &self.snapshot.users[index];
        let mut user = u.clone();
        if let Some(extra) = self.group_side.get(&u.pk) {
            for g in extra {
                let pk = &self.snapshot.groups[*g as usize].pk;
                if !user.groups.contains(pk) {
                    user.groups.push(pk.clone());
                }
            }
        }
        user
    }

    /// The facts that mention these users (every fact of a snapshot holding only them).
    pub fn user_facts(&self, users: &[usize]) -> FactSet {
        let mut s = Snapshot {
            version: self.snapshot.version.clone(),
            settings: self.snapshot.settings.clone(),
            ..Snapshot::default()
        };
        s.users = users.iter().map(|i| self.user_alone(*i)).collect();
        let mut f = facts::facts_of(&s);
        let pks: HashMap<String, ()> = s.users.iter().map(|u| (u.pk.to_string(), ())).collect();
        for rows in f.relations.values_mut() {
            rows.retain(|row| {
                row.iter()
                    .any(|v| matches!(v, Value::Sym(s) if pks.contains_key(s)))
            });
        }
        f
    }

    /// The class keys of these users (indices into `snapshot.users`), in the same order.
    pub fn keys(&self, users: &[usize]) -> Vec<String> {
        let facts = self.user_facts(users);
        let pks: Vec<String> = users
            .iter()
            .map(|i| self.snapshot.users[*i].pk.to_string())
            .collect();
        let local: HashMap<&str, usize> = pks
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        let mut texts: Vec<Vec<String>> = vec![Vec::new(); users.len()];
        let mut groups: Vec<Vec<u32>> = vec![Vec::new(); users.len()];
        for (rel, rows) in &facts.relations {
            let Some((obs, sym)) = self.columns.get(rel) else {
                continue;
            };
            let membership = rel == MEMBERSHIP;
            for row in rows {
                for (i, v) in row.iter().enumerate() {
                    let Value::Sym(s) = v else { continue };
                    if !sym[i] || !obs[i] {
                        continue;
                    }
                    let Some(&who) = local.get(s.as_str()) else {
                        continue;
                    };
                    if membership {
                        if let Some(Value::Sym(g)) = row.get(1)
                            && let Some(&g) = self.group_index.get(g.as_str())
                        {
                            groups[who].extend(&self.observable_up[g as usize]);
                        }
                    } else {
                        texts[who].push(fact_text(rel, row, obs, s));
                    }
                }
            }
        }
        let mut keys = Vec::with_capacity(users.len());
        for (k, pk) in pks.iter().enumerate() {
            let mut t = std::mem::take(&mut texts[k]);
            if let Some(more) = pk
                .parse()
                .ok()
                .and_then(|p: i64| self.base_mentions.get(&p))
            {
                t.extend(more.iter().cloned());
            }
            t.sort_unstable();
            t.dedup();
            let mut key = t.join("\u{1e}");
            let g = &mut groups[k];
            g.sort_unstable();
            g.dedup();
            key.push_str("\u{1d}member:");
            for x in g.iter() {
                key.push_str(&x.to_string());
                key.push(',');
            }
            // A user whose id is a constant of the rules is observed by name: alone in its class.
            if self.program.symbols.get(pk).is_some() {
                key.push_str("\u{1d}named:");
                key.push_str(pk);
            }
            keys.push(key);
        }
        keys
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
    pub fn classes(&self, chunk: usize) -> Classes {
        let n = self.snapshot.users.len();
        let indices: Vec<usize> = (0..n).collect();
        let mut ids: HashMap<String, u32> = HashMap::new();
        let mut of_user = Vec::with_capacity(n);
        let mut representative = Vec::new();
        let mut members: Vec<u32> = Vec::new();
        let window = chunk * rayon::current_num_threads().max(1) * 2;
        for win in indices.chunks(window.max(1)) {
            let keys: Vec<Vec<String>> =
                win.par_chunks(chunk.max(1)).map(|c| self.keys(c)).collect();
            for (i, key) in win.iter().zip(keys.into_iter().flatten()) {
                let next = representative.len() as u32;
                let id = *ids.entry(key).or_insert(next);
                if id == next {
                    representative.push(*i);
                    members.push(0);
                }
                members[id as usize] += 1;
                of_user.push(id);
            }
        }
        Classes {
            of_user,
            representative,
            members,
        }
    }
}

/// The snapshot without its users (and without the groups' member lists).
pub fn without_users(snapshot: &Snapshot) -> Snapshot {
    Snapshot {
        version: snapshot.version.clone(),
        users: Vec::new(),
        groups: snapshot
            .groups
            .iter()
            .map(|g| crate::snapshot::Group {
                users: Vec::new(),
                ..g.clone()
            })
            .collect(),
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
        others: snapshot.others.clone(),
    }
}
