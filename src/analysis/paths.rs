//! Membership paths: how a user comes to be a member of a group, for answers that name the group
//! path that grants something (`alice -> sre -> admins`).

use crate::snapshot::Snapshot;
use std::collections::{BTreeSet, HashMap, VecDeque};

/// The group hierarchy of a snapshot, indexed once for many path questions.
pub struct Hierarchy<'a> {
    /// Group pk -> its parents' pks.
    parents: HashMap<&'a str, Vec<&'a str>>,
    /// User pk -> the groups whose `users` list it.
    listed: HashMap<i64, Vec<&'a str>>,
    /// User pk -> index into the snapshot's users, whose own `groups` are read when asked: a
    /// million users' direct groups are not copied for the few a path is asked of.
    user_index: rustc_hash::FxHashMap<i64, u32>,
    /// Group pk -> name.
    names: HashMap<&'a str, &'a str>,
    snapshot: &'a Snapshot,
}

impl<'a> Hierarchy<'a> {
    /// Indexes the snapshot's groups and direct memberships.
    pub fn new(snapshot: &'a Snapshot) -> Hierarchy<'a> {
        let mut parents = HashMap::new();
        let mut names = HashMap::new();
        let mut listed: HashMap<i64, Vec<&'a str>> = HashMap::new();
        for g in &snapshot.groups {
            parents.insert(&*g.pk, g.parents.iter().map(|p| &**p).collect());
            names.insert(&*g.pk, &*g.name);
            for u in &g.users {
                listed.entry(*u).or_default().push(&*g.pk);
            }
        }
        let user_index = snapshot
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.pk, i as u32))
            .collect();
        Hierarchy {
            parents,
            listed,
            user_index,
            names,
            snapshot,
        }
    }

    /// The user's direct groups (from the user's `groups` and the groups' `users`), sorted;
    /// `None` when neither names the user.
    fn direct(&self, user: i64) -> Option<BTreeSet<&'a str>> {
        let own = self
            .user_index
            .get(&user)
            .map(|i| &self.snapshot.users[*i as usize].groups);
        let listed = self.listed.get(&user);
        if own.is_none() && listed.is_none() {
            return None;
        }
        Some(
            own.into_iter()
                .flatten()
                .map(|g| &**g)
                .chain(listed.into_iter().flatten().copied())
                .collect(),
        )
    }

    /// The shortest chain of groups from one of the user's direct groups up to `group` (both
    /// ends included), or `None` when the user is not a member. Among chains of equal length the
    /// one through the smallest group pks is taken, so the answer is deterministic.
    pub fn path(&self, user: i64, group: &str) -> Option<Vec<&'a str>> {
        let starts = self.direct(user)?;
        let mut prev: HashMap<&'a str, Option<&'a str>> = HashMap::new();
        let mut queue = VecDeque::new();
        for g in starts {
            prev.insert(g, None);
            queue.push_back(g);
        }
        while let Some(g) = queue.pop_front() {
            if g == group {
                let mut chain = vec![g];
                let mut at = g;
                while let Some(Some(p)) = prev.get(at) {
                    chain.push(p);
                    at = p;
                }
                chain.reverse();
                return Some(chain);
            }
            let mut ups: Vec<&'a str> = self.parents.get(g).cloned().unwrap_or_default();
            ups.sort_unstable();
            for p in ups {
                if !prev.contains_key(p) {
                    prev.insert(p, Some(g));
                    queue.push_back(p);
                }
            }
        }
        None
    }

    /// A group's name, or its pk when the snapshot does not know it.
    pub fn name(&self, group: &'a str) -> &'a str {
        self.names.get(group).copied().unwrap_or(group)
    }

    /// The path as names joined by ` -> `, starting with the username.
    pub fn path_text(&self, username: &str, user: i64, group: &str) -> Option<String> {
        let chain = self.path(user, group)?;
        let mut text = username.to_string();
        for g in chain {
            text.push_str(" -> ");
            text.push_str(self.name(g));
        }
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::{Group, User};
    use std::sync::Arc;

    fn group(pk: &str, parents: &[&str], users: &[i64]) -> Group {
        Group {
            pk: Arc::from(pk),
            name: format!("{pk}-name").into(),
            is_superuser: false,
            parents: parents.iter().map(|p| Arc::from(*p)).collect(),
            users: users.to_vec(),
        }
    }

    #[test]
    fn shortest_path_through_several_parents_and_a_cycle() {
        let mut s = Snapshot::default();
        s.users.push(User {
            pk: 1,
            username: "alice".into(),
            name: "Alice".into(),
            is_active: true,
            is_superuser: false,
            groups: vec![Arc::from("sre")],
            kind: Arc::from("internal"),
            last_login: None,
            extra: None,
        });
        s.groups.push(group("sre", &["ops", "eng"], &[]));
        s.groups.push(group("ops", &["admins"], &[]));
        s.groups.push(group("eng", &["big"], &[]));
        s.groups.push(group("big", &["admins"], &[]));
        s.groups.push(group("admins", &["sre"], &[]));
        s.groups.push(group("other", &[], &[2]));
        let h = Hierarchy::new(&s);
        assert_eq!(h.path(1, "admins"), Some(vec!["sre", "ops", "admins"]));
        assert_eq!(
            h.path_text("alice", 1, "admins").as_deref(),
            Some("alice -> sre-name -> ops-name -> admins-name")
        );
        assert_eq!(h.path(1, "other"), None);
        assert_eq!(h.path(2, "other"), Some(vec!["other"]));
        assert_eq!(h.path(3, "other"), None);
    }
}
