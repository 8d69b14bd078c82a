//! Membership paths: how a user comes to be a member of a group, for answers that name the group
//! path that grants something (`alice -> sre -> admins`).

use crate::snapshot::{PolicyBinding, Snapshot, Subject, User};
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

/// Why one user has the access to an application it has, in words: the bindings the rules
/// say carry the decision (`decided_by`), read against the group paths of [`Hierarchy`].
pub struct Because<'a> {
    hierarchy: Hierarchy<'a>,
    users: HashMap<i64, &'a str>,
    policies: HashMap<&'a str, &'a str>,
}

impl<'a> Because<'a> {
    /// Indexes the snapshot's groups, usernames and policy names.
    pub fn new(snapshot: &'a Snapshot) -> Because<'a> {
        Because {
            hierarchy: Hierarchy::new(snapshot),
            users: snapshot
                .users
                .iter()
                .map(|u| (u.pk, &*u.username))
                .collect(),
            policies: snapshot
                .policies
                .iter()
                .map(|p| (&*p.pk, &*p.name))
                .collect(),
        }
    }

    /// The group hierarchy.
    pub fn hierarchy(&self) -> &Hierarchy<'a> {
        &self.hierarchy
    }

    /// How binding `b` reads in a sentence about `user`, who is called `label` in group paths.
    pub fn binding(&self, b: &PolicyBinding, user: &User, label: &str) -> String {
        let h = &self.hierarchy;
        match (&b.subject, b.negate) {
            (Subject::Group(g), false) => h
                .path_text(label, user.pk, g)
                .unwrap_or_else(|| format!("not a member of group {}", h.name(g))),
            (Subject::Group(g), true) => {
                format!("not in group {} (negated group binding)", h.name(g))
            }
            (Subject::User(u), negate) => {
                let name = self.users.get(u).map_or(u.to_string(), |n| n.to_string());
                if negate {
                    format!("not user {name} (negated user binding)")
                } else {
                    format!("user binding on {name}")
                }
            }
            (Subject::Policy(p), negate) => {
                let name = self.policies.get(&**p).copied().unwrap_or(p);
                if negate {
                    format!("policy {name} (negated)")
                } else {
                    format!("policy {name}")
                }
            }
        }
    }

    /// Why `user` (called `label` in group paths) has `access` ("yes", "no" or "unknown") to an
    /// application with mode `all` or `any`, where `decides` tells which of its `bindings`
    /// (in binding order) carry the decision. A decision no binding carries is the one of an
    /// application with no binding in force. Empty for unknown.
    pub fn access(
        &self,
        bindings: &[&PolicyBinding],
        all_mode: bool,
        decides: impl Fn(&str) -> bool,
        access: &str,
        user: &User,
        label: &str,
    ) -> String {
        let mut by = bindings.iter().filter(|b| decides(&b.pk)).peekable();
        if by.peek().is_none() {
            return match access {
                "yes" => "no binding in force: open to every user".to_string(),
                "no" => "no binding in force: closed by core_default_app_access".to_string(),
                _ => String::new(),
            };
        }
        match (access, all_mode) {
            ("yes", false) => by
                .next()
                .map(|b| self.binding(b, user, label))
                .unwrap_or_default(),
            ("yes", true) => by
                .map(|b| self.binding(b, user, label))
                .collect::<Vec<_>>()
                .join(" and "),
            ("no", false) => "no binding passes".to_string(),
            ("no", true) => by
                .next()
                .map(|b| format!("fails: {}", self.binding(b, user, label)))
                .unwrap_or_default(),
            _ => String::new(),
        }
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
