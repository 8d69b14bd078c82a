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
use crate::datalog::ir::{Arg, Expr, Lit, Program, Ty};
use crate::facts::{self, FactSet, Value};
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
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
    group_index: FxHashMap<&'a str, u32>,
    /// Per group: the observable groups among itself and its ancestors, sorted.
    observable_up: Vec<Vec<u32>>,
    /// Per group: whether every component observes it (an unowned fact or a rule names it).
    observed_everywhere: Vec<bool>,
    /// Per group: the components whose own facts name it (when not observed everywhere).
    observers: Vec<Vec<u32>>,
    /// Per group: whether direct membership in it counts apart from the effective one.
    direct_counts: Vec<bool>,
    /// Per group: itself and all its ancestors, sorted.
    all_up: Vec<Vec<u32>>,
    /// Group-side memberships: user pk -> groups listing the user.
    group_side: FxHashMap<i64, Vec<u32>>,
    /// User pk -> facts of the user-independent part that mention the user, as key text, with
    /// the component owning the fact (`None`: unowned).
    base_mentions: FxHashMap<i64, Vec<(Option<u32>, String)>>,
    /// Whether some membership may be cut by the ancestry limit of older releases (a chain of
    /// 19 or more parents, or a cycle): then a user's direct groups all count.
    deep: bool,
    /// The facts of the snapshot without its users, split into components.
    pub components: Components,
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

/// Per component, which identity classes it cannot tell apart.
#[derive(Clone, Debug, Default)]
pub struct Local {
    /// Per component: the local class of each identity class.
    pub of_class: Vec<Vec<u32>>,
    /// Per component: each local class's first identity class.
    pub first: Vec<Vec<u32>>,
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
        let group_index: FxHashMap<&str, u32> = snapshot
            .groups
            .iter()
            .enumerate()
            .map(|(i, g)| (&*g.pk, i as u32))
            .collect();
        // A group named by its name (`ak_is_group_member(request.user, name="...")`) is named
        // as surely as by its pk.
        let mut group_names: HashMap<&str, Vec<u32>> = HashMap::new();
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
        let mut group_side: FxHashMap<i64, Vec<u32>> = FxHashMap::default();
        for (i, g) in snapshot.groups.iter().enumerate() {
            for u in &g.users {
                group_side.entry(*u).or_default().push(i as u32);
            }
        }
        let components = Components::split(snapshot, facts::facts_of(&without_users(snapshot)));
        let user_pks: HashMap<i64, ()> = snapshot.users.iter().map(|u| (u.pk, ())).collect();
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
                for row in rows {
                    for (i, v) in row.iter().enumerate() {
                        let Value::Sym(s) = v else { continue };
                        if !obs[i] || !sym[i] {
                            continue;
                        }
                        if !structure {
                            let by_pk = group_index.get(s.as_str()).map(std::slice::from_ref);
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
                        if let Ok(pk) = s.parse::<i64>()
                            && user_pks.contains_key(&pk)
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
        // A rule that names a group by its id or name observes membership in it.
        for (i, g) in snapshot.groups.iter().enumerate() {
            if program.symbols.get(&g.pk).is_some() || program.symbols.get(&g.name).is_some() {
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
        let all_up: Vec<Vec<u32>> = (0..groups as u32)
            .into_par_iter()
            .map(|g| closure(g, &parents))
            .collect();
        let observable_up = all_up
            .iter()
            .map(|up| {
                up.iter()
                    .copied()
                    .filter(|g| {
                        observed_everywhere[*g as usize] || !observers[*g as usize].is_empty()
                    })
                    .collect()
            })
            .collect();
        KeyContext {
            snapshot,
            program,
            columns,
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

    /// The facts that mention these users (every fact of a snapshot holding only them).
    pub fn user_facts(&self, users: &[usize]) -> FactSet {
        let more: Vec<Vec<&str>> = users
            .iter()
            .map(|i| {
                let listed = self.group_side.get(&self.snapshot.users[*i].pk);
                listed
                    .into_iter()
                    .flatten()
                    .map(|g| &*self.snapshot.groups[*g as usize].pk)
                    .collect()
            })
            .collect();
        facts::user_facts(
            users
                .iter()
                .zip(&more)
                .map(|(i, m)| (&self.snapshot.users[*i], m.as_slice())),
        )
    }

    /// What tells each of these users (indices into `snapshot.users`) apart, in order.
    pub fn parts(&self, users: &[usize]) -> Vec<KeyParts> {
        let facts = self.user_facts(users);
        let pks: Vec<String> = users
            .iter()
            .map(|i| self.snapshot.users[*i].pk.to_string())
            .collect();
        let local: FxHashMap<&str, usize> = pks
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i))
            .collect();
        let mut texts: Vec<Vec<String>> = vec![Vec::new(); users.len()];
        let mut out: Vec<KeyParts> = vec![KeyParts::default(); users.len()];
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
                            let up = &self.observable_up[g as usize];
                            out[who].groups.extend(up);
                            if self.deep || self.direct_counts[g as usize] {
                                out[who].direct.push(g);
                            }
                        }
                    } else {
                        texts[who].push(fact_text(rel, row, obs, s));
                    }
                }
            }
        }
        for (k, pk) in pks.iter().enumerate() {
            let mut t = std::mem::take(&mut texts[k]);
            let parts = &mut out[k];
            if let Some(more) = self.base_mentions.get(&self.snapshot.users[users[k]].pk) {
                for (scope, text) in more {
                    match scope {
                        None => t.push(text.clone()),
                        Some(c) => parts.scoped.push((*c, text.clone())),
                    }
                }
            }
            t.sort_unstable();
            t.dedup();
            parts.own = t.join("\u{1e}");
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
        out
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
        let mut ids: FxHashMap<KeyParts, u32> = FxHashMap::default();
        let mut of_user = Vec::with_capacity(n);
        let mut representative = Vec::new();
        let mut members: Vec<u32> = Vec::new();
        let window = chunk * rayon::current_num_threads().max(1) * 2;
        for win in indices.chunks(window.max(1)) {
            let keys: Vec<Vec<KeyParts>> = win
                .par_chunks(chunk.max(1))
                .map(|c| self.parts(c))
                .collect();
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

    /// Per component, which of `classes` it can tell apart: two classes whose representatives
    /// differ only in groups and facts the component's own facts never name get one local class.
    pub fn local_classes(&self, classes: &Classes) -> Local {
        let start = std::time::Instant::now();
        let parts: Vec<KeyParts> = classes
            .representative
            .par_chunks(4096)
            .flat_map_iter(|c| self.parts(c))
            .collect();
        crate::analysis::bulk::timing("local classes: representatives' keys", start);
        let everywhere = |g: &u32| self.observed_everywhere[*g as usize];
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
            let direct_all: Vec<u32> = if self.deep {
                p.direct.clone()
            } else {
                p.direct.iter().copied().filter(everywhere).collect()
            };
            let key = (
                p.own.as_str(),
                p.groups.iter().copied().filter(everywhere).collect(),
                direct_all,
            );
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
        let per_component: Vec<(Vec<u32>, Vec<u32>)> = observed
            .into_par_iter()
            .zip(scoped)
            .map(|(groups, scoped)| {
                // What each class shows this component beyond the base, as a number: the
                // sequence of (kind, group or text) it has, in one order for all classes, built
                // one step at a time; equal sequences get equal numbers (0: nothing).
                let mut seen = vec![0u32; base.len()];
                let mut steps: FxHashMap<(u32, u32, u32), u32> = FxHashMap::default();
                let mut step = |k: u32, what: u32, kind: u32| {
                    let next = steps.len() as u32 + 1;
                    let s = &mut seen[k as usize];
                    *s = *steps.entry((*s, kind, what)).or_insert(next);
                };
                for g in groups {
                    for kind in [0, 1] {
                        for &k in &with_group[kind][g as usize] {
                            step(k, g, kind as u32);
                        }
                    }
                }
                for &(k, t) in &scoped {
                    step(k, t, 2);
                }
                let mut of_class = Vec::with_capacity(base.len());
                let mut first: Vec<u32> = Vec::new();
                let mut by_base: Vec<u32> = vec![u32::MAX; seen_by_all.len()];
                let mut by_seen: FxHashMap<(u32, u32), u32> = FxHashMap::default();
                for (k, (&b, &seen)) in base.iter().zip(&seen).enumerate() {
                    let slot = if seen == 0 {
                        &mut by_base[b as usize]
                    } else {
                        by_seen.entry((b, seen)).or_insert(u32::MAX)
                    };
                    if *slot == u32::MAX {
                        *slot = first.len() as u32;
                        first.push(k as u32);
                    }
                    of_class.push(*slot);
                }
                (of_class, first)
            })
            .collect();
        let (of_class, first) = per_component.into_iter().unzip();
        Local { of_class, first }
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
