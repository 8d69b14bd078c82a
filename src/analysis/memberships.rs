//! Every user's effective groups, as the membership rules (`rules/authentik/membership.dl`)
//! derive them, for counting group members at any size.
//!
//! Membership is derived one direct membership at a time (`member(U, P) :- member(U, C),
//! group_parent(C, P)` never joins two of a user's memberships), so a user's effective groups
//! are the union, over its direct groups, of the effective groups of someone in that group
//! alone. The rules run once per group someone is directly in, not once per user.
//!
//! The every-user model cannot give these counts: it keeps a representative per identity
//! class, and members of one class may differ in groups no rule or binding names.

use super::{RULES, add_facts};
use crate::datalog::eval::Limits;
use crate::datalog::{Engine, FactValue, Inputs, Rules};
use crate::snapshot::Snapshot;
use rustc_hash::FxHashMap;
use std::collections::HashMap;

/// Each group's effective groups for one of its members, and the groups listing each user.
pub struct Memberships {
    /// Per group (index into `snapshot.groups`): the groups a member of it alone is a member
    /// of, sorted; empty for a group nobody is directly in.
    pub up: Vec<Vec<u32>>,
    /// Group pk -> index.
    index: FxHashMap<String, u32>,
    /// User pk -> the groups that list the user (membership on the group side).
    listed: FxHashMap<i64, Vec<u32>>,
}

impl Memberships {
    /// The effective groups (indices into `snapshot.groups`) of the user at `i`, sorted, into
    /// `out` (cleared first).
    pub fn effective(&self, snapshot: &Snapshot, i: usize, out: &mut Vec<u32>) {
        out.clear();
        let u = &snapshot.users[i];
        let direct = u
            .groups
            .iter()
            .filter_map(|g| self.index.get(&**g).copied());
        let listed = self.listed.get(&u.pk).into_iter().flatten().copied();
        for g in direct.chain(listed) {
            out.extend(&self.up[g as usize]);
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// The schema, the identities and membership: the rule files `membership.dl` needs, as
/// `(name, text)`.
pub(crate) fn membership_files() -> Vec<(&'static str, &'static str)> {
    RULES
        .iter()
        .copied()
        .filter(|(name, _)| {
            ["schema.dl", "identity.dl", "membership.dl"]
                .iter()
                .any(|f| name.ends_with(&format!("/{f}")))
        })
        .collect()
}

/// The membership rules evaluated for one member of each group of `snapshot`.
pub fn memberships(snapshot: &Snapshot) -> Result<Memberships, String> {
    let index: FxHashMap<String, u32> = snapshot
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.pk.to_string(), i as u32))
        .collect();
    let listed = super::classes::group_side(snapshot);
    let rules = Rules::from_texts(&membership_files()).map_err(|f| f.render(100))?;
    let mut inputs = Inputs::new(&rules);
    let no_users = std::collections::HashSet::new();
    add_facts(
        &rules,
        &mut inputs,
        &crate::facts::facts_about(snapshot, Some(&no_users)),
    )?;
    let names: Vec<String> = (0..snapshot.groups.len())
        .map(|g| format!("a member of group {g}"))
        .collect();
    // Only the groups someone is directly in: the others' ancestry is never asked for, and on a
    // deep hierarchy every group's ancestry together grows with the square of its depth.
    let mut populated = vec![false; snapshot.groups.len()];
    for u in &snapshot.users {
        for g in u.groups.iter().filter_map(|g| index.get(&**g)) {
            populated[*g as usize] = true;
        }
    }
    for g in listed.values().flatten() {
        populated[*g as usize] = true;
    }
    for ((name, g), _) in names
        .iter()
        .zip(&snapshot.groups)
        .zip(&populated)
        .filter(|(_, p)| **p)
    {
        inputs.add(
            &rules,
            "direct_member",
            &[FactValue::Sym(name), FactValue::Sym(&g.pk)],
        )?;
    }
    let eval = rules
        .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
        .map_err(|e| e.to_string())?;
    let by_name: FxHashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(g, n)| (n.as_str(), g))
        .collect();
    let mut up: Vec<Vec<u32>> = vec![Vec::new(); snapshot.groups.len()];
    for row in eval.rows(&rules, "member").unwrap_or_default() {
        if let (Some(&g), Some(&p)) = (by_name.get(row[0].as_str()), index.get(&row[1])) {
            up[g].push(p);
        }
    }
    for u in &mut up {
        u.sort_unstable();
        u.dedup();
    }
    Ok(Memberships { up, index, listed })
}

/// Each group's effective members counted per identity class: what a report's tables count
/// over, so that their cost grows with the classes and the groups, not with the users.
#[derive(Clone, Debug, Default)]
pub struct ByClass {
    /// Per group pk: (identity class, how many of the class's users are effective members of
    /// the group), by class.
    pub members: HashMap<String, Vec<(u32, u32)>>,
    /// Per identity class: how many of its users are in no group.
    pub ungrouped: Vec<u32>,
}

/// Counts every user's effective groups (see [`memberships`]) per identity class (`of_user`:
/// each user's class, by its index in `snapshot.users`; `classes`: how many there are). Members
/// of one class may differ in groups no rule or binding names: each user's own groups count.
pub fn by_class(snapshot: &Snapshot, of_user: &[u32], classes: usize) -> Result<ByClass, String> {
    use rayon::prelude::*;
    let start = std::time::Instant::now();
    let m = memberships(snapshot)?;
    super::bulk::timing("report: each group's ancestry", start);
    // Counted in parallel by chunks of users, as (group, class) keys, then added up.
    let chunk = of_user
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    type Counts = (FxHashMap<u64, u32>, Vec<u32>);
    let count = |(c, ks): (usize, &[u32])| -> Counts {
        let mut pairs: FxHashMap<u64, u32> = Default::default();
        let mut ungrouped: Vec<u32> = vec![0; classes];
        let mut groups = Vec::new();
        for (j, k) in ks.iter().enumerate() {
            m.effective(snapshot, c * chunk + j, &mut groups);
            if groups.is_empty() {
                ungrouped[*k as usize] += 1;
            }
            for g in &groups {
                *pairs
                    .entry(u64::from(*g) << 32 | u64::from(*k))
                    .or_default() += 1;
            }
        }
        (pairs, ungrouped)
    };
    let parts: Vec<Counts> = of_user.par_chunks(chunk).enumerate().map(count).collect();
    let mut ungrouped: Vec<u32> = vec![0; classes];
    let mut pairs: Vec<(u64, u32)> = Vec::new();
    for (part, none) in parts {
        for (total, n) in ungrouped.iter_mut().zip(none) {
            *total += n;
        }
        pairs.extend(part);
    }
    pairs.par_sort_unstable();
    let mut members: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
    for run in pairs.chunk_by(|a, b| a.0 >> 32 == b.0 >> 32) {
        let mut list: Vec<(u32, u32)> = Vec::with_capacity(run.len());
        for (key, n) in run {
            let k = *key as u32;
            match list.last_mut() {
                Some((last, total)) if *last == k => *total += n,
                _ => list.push((k, *n)),
            }
        }
        let g = &snapshot.groups[(run[0].0 >> 32) as usize];
        members.insert(g.pk.to_string(), list);
    }
    Ok(ByClass { members, ungrouped })
}
