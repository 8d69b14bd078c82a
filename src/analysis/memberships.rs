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

/// The membership rules evaluated for one member of each group of `snapshot`; `parallel` runs
/// their independent strata side by side.
pub fn memberships(snapshot: &Snapshot, parallel: bool) -> Result<Memberships, String> {
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
        .evaluate(&inputs, Engine::Fast { parallel }, Limits::default())
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

/// Every user's effective groups, each distinct set kept once: what [`by_class`] counts. It
/// reads the snapshot alone, so a report computes it while the model is evaluated (see
/// `report::Early`).
pub struct UserGroups {
    /// The distinct sets of effective groups (indices into `snapshot.groups`, sorted).
    sets: Vec<Vec<u32>>,
    /// Per user (by index in `snapshot.users`), its set's index in `sets`.
    of_user: Vec<u32>,
}

/// Every user's effective groups (see [`memberships`]), on the calling thread alone: the rules
/// run sequentially, and the users are read one after the other.
pub fn user_groups(snapshot: &Snapshot) -> Result<UserGroups, String> {
    let m = memberships(snapshot, false)?;
    // Each distinct set numbered as first met; the list of sets is read off the index after.
    let mut index: FxHashMap<Vec<u32>, u32> = FxHashMap::default();
    let mut of_user = Vec::with_capacity(snapshot.users.len());
    let mut groups = Vec::new();
    for i in 0..snapshot.users.len() {
        m.effective(snapshot, i, &mut groups);
        let set = match index.get(groups.as_slice()) {
            Some(set) => *set,
            None => {
                let set = index.len() as u32;
                index.insert(groups.clone(), set);
                set
            }
        };
        of_user.push(set);
    }
    let mut sets = vec![Vec::new(); index.len()];
    for (groups, set) in index {
        sets[set as usize] = groups;
    }
    Ok(UserGroups { sets, of_user })
}

/// Counts every user's effective groups (`groups`) per identity class (`of_user`: each user's
/// class, by its index in `snapshot.users`; `classes`: how many there are). Members of one
/// class may differ in groups no rule or binding names: each user's own groups count.
pub fn by_class(
    snapshot: &Snapshot,
    groups: &UserGroups,
    of_user: &[u32],
    classes: usize,
) -> Result<ByClass, String> {
    use rayon::prelude::*;
    if groups.of_user.len() != of_user.len() {
        return Err(format!(
            "internal error: {} users' groups for {} users' classes",
            groups.of_user.len(),
            of_user.len()
        ));
    }
    // Users counted in parallel by chunks, as (set of groups, class) keys, then added up: a
    // million users fall into far fewer such pairs.
    let chunk = of_user
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(1);
    let count = |(set, class): (&[u32], &[u32])| -> FxHashMap<u64, u32> {
        let mut pairs: FxHashMap<u64, u32> = FxHashMap::default();
        for (s, k) in set.iter().zip(class) {
            *pairs
                .entry(u64::from(*s) << 32 | u64::from(*k))
                .or_default() += 1;
        }
        pairs
    };
    let parts: Vec<FxHashMap<u64, u32>> = groups
        .of_user
        .par_chunks(chunk)
        .zip(of_user.par_chunks(chunk))
        .map(count)
        .collect();
    let mut by_set: FxHashMap<u64, u32> = FxHashMap::default();
    for part in parts {
        for (key, n) in part {
            *by_set.entry(key).or_default() += n;
        }
    }
    // Each (set, class) count added to every group of the set.
    let mut ungrouped: Vec<u32> = vec![0; classes];
    let mut pairs: Vec<(u64, u32)> = Vec::new();
    for (key, n) in by_set {
        let (set, k) = ((key >> 32) as usize, key as u32);
        let set = &groups.sets[set];
        if set.is_empty() {
            ungrouped[k as usize] += n;
        }
        pairs.extend(set.iter().map(|g| (u64::from(*g) << 32 | u64::from(k), n)));
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
