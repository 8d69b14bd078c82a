//! Membership paths: how a user comes to be a member of a group, for answers that name the group
//! path that grants something (`alice -> sre -> admins`).

use crate::snapshot::{PolicyBinding, Snapshot, Subject, User};
use rustc_hash::FxHashMap as HashMap;

/// The group hierarchy of a snapshot, indexed once for many path questions. Groups are
/// numbered in the order of their pks, so that a path search that visits them by number
/// visits them by pk.
pub struct Hierarchy<'a> {
    /// Every group pk the snapshot names as a group or as a parent, sorted.
    pks: Vec<&'a str>,
    /// Group pk -> its number (its place in `pks`).
    number: HashMap<&'a str, u32>,
    /// Per group number: its parents' numbers, sorted.
    parents: Vec<Vec<u32>>,
    /// User pk -> the groups whose `users` list it.
    listed: HashMap<i64, Vec<&'a str>>,
    /// User pk -> index into the snapshot's users, whose own `groups` are read when asked: a
    /// million users' direct groups are not copied for the few a path is asked of.
    user_index: HashMap<i64, u32>,
    /// Group pk -> name.
    names: HashMap<&'a str, &'a str>,
    snapshot: &'a Snapshot,
}

impl<'a> Hierarchy<'a> {
    /// Indexes the snapshot's groups and direct memberships.
    pub fn new(snapshot: &'a Snapshot) -> Hierarchy<'a> {
        let mut pks: Vec<&'a str> = snapshot
            .groups
            .iter()
            .flat_map(|g| std::iter::once(&*g.pk).chain(g.parents.iter().map(|p| &**p)))
            .collect();
        pks.sort_unstable();
        pks.dedup();
        let number: HashMap<&'a str, u32> = pks
            .iter()
            .enumerate()
            .map(|(i, g)| (*g, i as u32))
            .collect();
        let mut parents = vec![Vec::new(); pks.len()];
        let mut names = HashMap::default();
        let mut listed: HashMap<i64, Vec<&'a str>> = HashMap::default();
        for g in &snapshot.groups {
            let ups = &mut parents[number[&*g.pk] as usize];
            ups.extend(g.parents.iter().map(|p| number[&**p]));
            ups.sort_unstable();
            ups.dedup();
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
            pks,
            number,
            parents,
            listed,
            user_index,
            names,
            snapshot,
        }
    }

    /// The user's direct groups (from the user's `groups` and the groups' `users`), in any
    /// order and possibly repeated; `None` when neither names the user.
    fn direct(&self, user: i64) -> Option<impl Iterator<Item = &'a str>> {
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
                .chain(listed.into_iter().flatten().copied()),
        )
    }

    /// Every group the user is an effective member of, each with its shortest chain from one of
    /// the user's direct groups (see [`Reach`]); `None` when no group names the user.
    pub fn reach(&self, user: i64) -> Option<Reach<'a>> {
        let mut starts: Vec<u32> = Vec::new();
        let mut unlisted = Vec::new();
        for g in self.direct(user)? {
            match self.number.get(g) {
                Some(n) => starts.push(*n),
                None => unlisted.push(g),
            }
        }
        starts.sort_unstable();
        starts.dedup();
        // Breadth first by number (so by pk): `seen` is the queue, each group with the index
        // of the one it was reached from.
        let mut seen: Vec<(u32, u32)> = starts.iter().map(|g| (*g, u32::MAX)).collect();
        let mut reached: rustc_hash::FxHashSet<u32> = starts.iter().copied().collect();
        let mut at = 0;
        while at < seen.len() {
            for p in &self.parents[seen[at].0 as usize] {
                if reached.insert(*p) {
                    seen.push((*p, at as u32));
                }
            }
            at += 1;
        }
        let mut by_number: Vec<(u32, u32)> = seen
            .iter()
            .enumerate()
            .map(|(i, (g, _))| (*g, i as u32))
            .collect();
        by_number.sort_unstable();
        Some(Reach {
            seen,
            by_number,
            unlisted,
        })
    }

    /// The shortest chain of groups from one of the user's direct groups up to `group` (both
    /// ends included), or `None` when the user is not a member. Among chains of equal length the
    /// one through the smallest group pks is taken, so the answer is deterministic.
    pub fn path(&self, user: i64, group: &str) -> Option<Vec<&'a str>> {
        self.path_in(&self.reach(user)?, group)
    }

    /// [`Hierarchy::path`] read from the user's [`Reach`].
    pub fn path_in(&self, reach: &Reach<'a>, group: &str) -> Option<Vec<&'a str>> {
        // A direct group the snapshot does not list has no parents: it is a path only to
        // itself.
        if let Some(g) = reach.unlisted.iter().find(|g| **g == group) {
            return Some(vec![*g]);
        }
        let target = *self.number.get(group)?;
        let at = reach
            .by_number
            .binary_search_by_key(&target, |(g, _)| *g)
            .ok()?;
        let mut chain = Vec::new();
        let mut i = reach.by_number[at].1;
        while i != u32::MAX {
            let (g, from) = reach.seen[i as usize];
            chain.push(self.pks[g as usize]);
            i = from;
        }
        chain.reverse();
        Some(chain)
    }

    /// Appends the numbers of [`Hierarchy::path_in`]'s chain to `out` (from the direct group up);
    /// false, with nothing appended, when the user is not a member through a listed group.
    pub fn chain_numbers(&self, reach: &Reach<'a>, group: &str, out: &mut Vec<u32>) -> bool {
        let Some(target) = self.number.get(group) else {
            return false;
        };
        let Ok(at) = reach.by_number.binary_search_by_key(target, |(g, _)| *g) else {
            return false;
        };
        let from = out.len();
        let mut i = reach.by_number[at].1;
        while i != u32::MAX {
            let (g, up) = reach.seen[i as usize];
            out.push(g);
            i = up;
        }
        out[from..].reverse();
        true
    }

    /// A group's name, or its pk when the snapshot does not know it.
    pub fn name(&self, group: &'a str) -> &'a str {
        self.names.get(group).copied().unwrap_or(group)
    }

    /// The path as names joined by ` -> `, starting with the username.
    pub fn path_text(&self, username: &str, user: i64, group: &str) -> Option<String> {
        Some(self.chain_text(username, self.path(user, group)?))
    }

    /// A chain of groups as names joined by ` -> `, starting with the username.
    fn chain_text(&self, username: &str, chain: Vec<&str>) -> String {
        let mut text = username.to_string();
        for g in chain {
            text.push_str(" -> ");
            text.push_str(self.name(g));
        }
        text
    }
}

/// Where one user's direct groups lead ([`Hierarchy::reach`]): each group reached, breadth
/// first from the direct groups in pk order, with the group it was first reached from, so
/// that its shortest path is read back without searching again.
pub struct Reach<'a> {
    /// Group numbers in the order reached, each with the index in `seen` of the group it was
    /// reached from (`u32::MAX` for a direct group).
    seen: Vec<(u32, u32)>,
    /// (group number, index in `seen`), sorted.
    by_number: Vec<(u32, u32)>,
    /// The user's direct groups that the snapshot does not list.
    unlisted: Vec<&'a str>,
}

/// Why one user has the access to an application it has, in words: the bindings the rules
/// say carry the decision (`named_by`), read against the group paths of [`Hierarchy`].
pub struct Because<'a> {
    hierarchy: Hierarchy<'a>,
    users: HashMap<i64, &'a str>,
    policies: HashMap<&'a str, &'a str>,
    /// The reaches asked for so far, by user pk, shared by the threads that ask (a report asks
    /// for one user's paths once per application). At most [`REACHES_KEPT`] are kept.
    reaches: std::sync::Mutex<HashMap<i64, Option<std::sync::Arc<Reach<'a>>>>>,
}

/// How many users' reaches [`Because`] keeps; beyond that a reach is searched again.
const REACHES_KEPT: usize = 100_000;

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
            reaches: Default::default(),
        }
    }

    /// The user's [`Reach`], kept for the next question about the same user.
    fn reach(&self, user: i64) -> Option<std::sync::Arc<Reach<'a>>> {
        // A poisoned lock only means another thread panicked; what it holds is still whole.
        let lock = || self.reaches.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = lock().get(&user) {
            return r.clone();
        }
        let r = self.hierarchy.reach(user).map(std::sync::Arc::new);
        let mut reaches = lock();
        if reaches.len() < REACHES_KEPT {
            reaches.insert(user, r.clone());
        }
        r
    }

    /// The group hierarchy.
    pub fn hierarchy(&self) -> &Hierarchy<'a> {
        &self.hierarchy
    }

    /// How binding `b` reads in a sentence about `user`, who is called `label` in group paths.
    pub fn binding(&self, b: &PolicyBinding, user: &User, label: &str) -> String {
        let mut out = String::new();
        self.write_binding(b, self.reach(user.pk).as_deref(), label, &mut out);
        out
    }

    /// Appends how binding `b` reads for a user whose reach ([`Because::reach_of`]) is `reach`,
    /// called `label` in group paths.
    fn write_binding(
        &self,
        b: &PolicyBinding,
        reach: Option<&Reach<'a>>,
        label: &str,
        out: &mut String,
    ) {
        use std::fmt::Write;
        let h = &self.hierarchy;
        // Writing into a String cannot fail.
        let _ = match (&b.subject, b.negate) {
            (Subject::Group(g), false) => match reach.and_then(|r| h.path_in(r, g)) {
                Some(chain) => {
                    out.push_str(label);
                    for g in chain {
                        out.push_str(" -> ");
                        out.push_str(h.name(g));
                    }
                    Ok(())
                }
                None => write!(out, "not a member of group {}", h.name(g)),
            },
            (Subject::Group(g), true) => {
                write!(out, "not in group {} (negated group binding)", h.name(g))
            }
            (Subject::User(u), negate) => {
                let name = self.users.get(u).map_or(u.to_string(), |n| n.to_string());
                if negate {
                    write!(out, "not user {name} (negated user binding)")
                } else {
                    write!(out, "user binding on {name}")
                }
            }
            (Subject::Policy(p), negate) => {
                let name = self.policies.get(&**p).copied().unwrap_or(p);
                if negate {
                    write!(out, "policy {name} (negated)")
                } else {
                    write!(out, "policy {name}")
                }
            }
        };
    }

    /// [`Because::binding`] for a user whose reach ([`Because::reach_of`]) is `reach`: the
    /// kept reaches are not looked up.
    pub fn binding_in(&self, b: &PolicyBinding, reach: Option<&Reach<'a>>, label: &str) -> String {
        let mut out = String::new();
        self.write_binding(b, reach, label, &mut out);
        out
    }

    /// Why `user` (called `label` in group paths) has `access` ("yes", "no" or "unknown") to an
    /// application with mode `all` or `any`, where `decided` (pks, sorted) says which of its
    /// `bindings` (in binding order) carry the decision (the rules' `named_by`). A denial in mode `any`
    /// names no binding: every binding in force fails. Otherwise a decision no binding carries
    /// is the one of an application with no binding in force. Empty for unknown.
    pub fn access(
        &self,
        bindings: &[&PolicyBinding],
        all_mode: bool,
        decided: &[String],
        access: &str,
        user: &User,
        label: &str,
    ) -> String {
        self.tell(&Named::of(bindings, all_mode, decided, access), user, label)
    }

    /// What [`Named`] says, told for `user` (called `label` in group paths).
    pub fn tell(&self, named: &Named<'_>, user: &User, label: &str) -> String {
        match named {
            Named::Words(w) => WORDS[usize::from(*w)].to_string(),
            Named::Bindings { .. } => self.tell_in(named, self.reach(user.pk).as_deref(), label),
        }
    }

    /// [`Because::tell`] for a user whose reach ([`Because::reach_of`]) is `reach`: the kept
    /// reaches are not looked up, and the sentence is written in one string.
    pub fn tell_in(&self, named: &Named<'_>, reach: Option<&Reach<'a>>, label: &str) -> String {
        match named {
            Named::Words(w) => WORDS[usize::from(*w)].to_string(),
            Named::Bindings { fails, by } => {
                let mut out = String::new();
                if *fails {
                    out.push_str("fails: ");
                }
                for (i, (_, b)) in by.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" and ");
                    }
                    self.write_binding(b, reach, label, &mut out);
                }
                out
            }
        }
    }

    /// The user's [`Reach`] (kept for the next question about the same user): what
    /// [`Because::binding_key`] reads.
    pub fn reach_of(&self, user: &User) -> Option<std::sync::Arc<Reach<'a>>> {
        self.reach(user.pk)
    }

    /// Appends to `key` what of binding `b`'s sentence depends on a user whose reach
    /// ([`Because::reach_of`]) is `reach`: the group chain a group binding is reached through,
    /// by group number. Two users with the same key for a binding are told it in the same
    /// words (but for their own name).
    pub fn binding_key(&self, b: &PolicyBinding, reach: Option<&Reach<'a>>, key: &mut Vec<u32>) {
        /// Ends each binding's part; the values below it stand for chains without numbers.
        const END: u32 = u32::MAX;
        const NOT_MEMBER: u32 = u32::MAX - 1;
        const UNLISTED: u32 = u32::MAX - 2;
        if let (Subject::Group(g), false) = (&b.subject, b.negate) {
            let h = &self.hierarchy;
            match reach {
                Some(r) if r.unlisted.iter().any(|u| *u == &**g) => key.push(UNLISTED),
                Some(r) if h.chain_numbers(r, g, key) => {}
                _ => key.push(NOT_MEMBER),
            }
        }
        key.push(END);
    }
}

/// The words an access answer may say without naming a binding ([`Named::Words`]).
const WORDS: [&str; 4] = [
    "",
    "no binding passes",
    "no binding in force: open to every user",
    "no binding in force: closed by core_default_app_access",
];

/// The bindings an access answer names, before they are told for a user ([`Because::tell`]):
/// what [`Because::access`] says depends on the user only through these bindings.
pub enum Named<'b> {
    /// Words that name no binding (an index into [`WORDS`]).
    Words(u8),
    /// The bindings (each with its place in the application's bindings), each told for the
    /// user, joined by "and", after "fails: " where `fails`.
    Bindings {
        /// Whether the answer is a denial in mode `all`.
        fails: bool,
        /// In binding order.
        by: Vec<(u32, &'b PolicyBinding)>,
    },
}

impl<'b> Named<'b> {
    /// Words that name no binding.
    pub const NOTHING: Named<'static> = Named::Words(0);

    /// What [`Because::access`] names for these arguments.
    pub fn of(
        bindings: &[&'b PolicyBinding],
        all_mode: bool,
        decided: &[String],
        access: &str,
    ) -> Named<'b> {
        if (access, all_mode) == ("no", false) && !bindings.is_empty() {
            return Named::Words(1);
        }
        let decides = |pk: &str| decided.binary_search_by(|d| d.as_str().cmp(pk)).is_ok();
        let mut by = (0u32..)
            .zip(bindings.iter().copied())
            .filter(|(_, b)| decides(&b.pk))
            .peekable();
        if by.peek().is_none() {
            return Named::Words(match access {
                "yes" => 2,
                "no" => 3,
                _ => 0,
            });
        }
        match (access, all_mode) {
            ("yes", false) => Named::Bindings {
                fails: false,
                by: by.take(1).collect(),
            },
            ("yes", true) => Named::Bindings {
                fails: false,
                by: by.collect(),
            },
            ("no", true) => Named::Bindings {
                fails: true,
                by: by.take(1).collect(),
            },
            _ => Named::NOTHING,
        }
    }

    /// The bindings named, none for words alone.
    pub fn bindings(&self) -> impl Iterator<Item = &'b PolicyBinding> + '_ {
        let by: &[(u32, &'b PolicyBinding)] = match self {
            Named::Words(_) => &[],
            Named::Bindings { by, .. } => by,
        };
        by.iter().map(|(_, b)| *b)
    }

    /// Appends to `key` what is named (not how it is told): equal keys, equal words for the
    /// same user.
    pub fn key(&self, key: &mut Vec<u32>) {
        match self {
            Named::Words(w) => key.push(u32::from(*w)),
            Named::Bindings { fails, by } => {
                key.push(WORDS.len() as u32 + u32::from(*fails));
                key.push(by.len() as u32);
                key.extend(by.iter().map(|(i, _)| *i));
            }
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
        let mut bob = s.users[0].clone();
        bob.pk = 4;
        bob.groups = vec![Arc::from("ghost"), Arc::from("eng")];
        s.users.push(bob);
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
        // A direct group the snapshot does not list leads only to itself.
        assert_eq!(h.path(4, "ghost"), Some(vec!["ghost"]));
        assert_eq!(h.path(4, "admins"), Some(vec!["eng", "big", "admins"]));
        // Round the cycle: admins is a parent of sre.
        assert_eq!(
            h.path(4, "ops"),
            Some(vec!["eng", "big", "admins", "sre", "ops"])
        );
        assert_eq!(h.path(4, "other"), None);
        // Read from one reach, every group gives what its own search gives.
        let reach = h.reach(1).unwrap();
        for g in ["sre", "ops", "eng", "big", "admins", "other", "ghost"] {
            assert_eq!(h.path_in(&reach, g), h.path(1, g), "{g}");
        }
    }
}
