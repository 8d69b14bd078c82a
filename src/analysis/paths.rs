//! Membership paths: how a user comes to be a member of a group, for answers that name the group
//! chain that grants something (`alice -> sre -> admins`). Which chain is told is the rules'
//! (`rules/authentik/paths.dl`, read by [`Chains`]); this module follows it from the user's
//! direct groups and tells it.

use super::PATHS;
use crate::datalog::eval::Limits;
use crate::datalog::{Engine, Inputs, Rules};
use crate::snapshot::{PolicyBinding, Snapshot, Subject, User};
use rustc_hash::FxHashMap as HashMap;

/// The group hierarchy of a snapshot, indexed once for many path questions. Groups are
/// numbered in the order of their pks, so that comparing numbers compares pks.
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
    /// Per group number: its name (its pk when the snapshot gives none).
    named: Vec<&'a str>,
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
        let named = pks
            .iter()
            .map(|g| names.get(g).copied().unwrap_or(g))
            .collect();
        Hierarchy {
            pks,
            number,
            parents,
            listed,
            user_index,
            names,
            named,
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

    /// Where the user's chains start: its direct groups; `None` when no group names the user.
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
        Some(Reach { starts, unlisted })
    }

    /// The shortest chain of groups from one of the user's direct groups up to `group` (both
    /// ends included), or `None` when the user is not a member: among chains of equal length,
    /// the one whose groups come first by pk, from the direct group up. Searched breadth first
    /// here, without the rules: the slow reference [`Chains`] is tested against.
    pub fn path(&self, user: i64, group: &str) -> Option<Vec<&'a str>> {
        let reach = self.reach(user)?;
        // A direct group the snapshot does not list has no parents: it is a path only to
        // itself.
        if let Some(g) = reach.unlisted.iter().find(|g| **g == group) {
            return Some(vec![*g]);
        }
        let target = *self.number.get(group)?;
        // Breadth first by number (so by pk): `seen` is the queue, each group with the index
        // of the one it was reached from.
        let mut seen: Vec<(u32, u32)> = reach.starts.iter().map(|g| (*g, u32::MAX)).collect();
        let mut reached: rustc_hash::FxHashSet<u32> = reach.starts.iter().copied().collect();
        let mut at = 0;
        while at < seen.len() && seen[at].0 != target {
            for p in &self.parents[seen[at].0 as usize] {
                if reached.insert(*p) {
                    seen.push((*p, at as u32));
                }
            }
            at += 1;
        }
        let mut i = u32::try_from(at)
            .ok()
            .filter(|i| (*i as usize) < seen.len())?;
        let mut chain = Vec::new();
        while i != u32::MAX {
            let (g, from) = seen[i as usize];
            chain.push(self.pks[g as usize]);
            i = from;
        }
        chain.reverse();
        Some(chain)
    }

    /// A group's name, or its pk when the snapshot does not know it.
    pub fn name(&self, group: &'a str) -> &'a str {
        self.names.get(group).copied().unwrap_or(group)
    }
}

/// Where one user's chains of groups start ([`Hierarchy::reach`]): its direct groups.
pub struct Reach<'a> {
    /// The numbers of the user's direct groups the snapshot lists, sorted (so in pk order).
    starts: Vec<u32>,
    /// The user's direct groups that the snapshot does not list.
    unlisted: Vec<&'a str>,
}

/// The chains of groups `rules/authentik/paths.dl` tells, toward every goal it names (every
/// group a binding names, every superuser group): from each group that reaches a goal, how
/// many steps and which parent comes next.
pub struct Chains {
    /// Goal group pk -> its index.
    goals: HashMap<Box<str>, u32>,
    /// (goal, group number) -> the fewest steps up to the goal, and the number of the next
    /// group on the chain told (the group's own at the goal).
    steps: HashMap<(u32, u32), (u32, u32)>,
}

/// How many steps a chain may have at most: the bound written in [`PATHS`]'s `path_steps`,
/// which tells none longer (the words for a longer chain say it; a test holds the two together).
pub const CHAIN_STEPS: u32 = 31;

impl Chains {
    /// Evaluates [`PATHS`] over the snapshot's groups and group bindings, numbering the groups
    /// as `hierarchy` does.
    pub fn evaluate(snapshot: &Snapshot, hierarchy: &Hierarchy) -> Result<Chains, String> {
        let start = std::time::Instant::now();
        let texts = [super::RULES[0], PATHS];
        let rules = Rules::from_texts(&texts).map_err(|f| f.render(100))?;
        let mut inputs = Inputs::new(&rules);
        // The facts of the groups and bindings alone: nothing else is read.
        let groups_and_bindings = Snapshot {
            version: snapshot.version.clone(),
            groups: super::classes::groups_without_members(snapshot),
            policy_bindings: snapshot.policy_bindings.clone(),
            ..Snapshot::default()
        };
        let mut facts = crate::facts::facts_of(&groups_and_bindings);
        let read = ["group_parent", "group_superuser", "binding_group"];
        facts
            .relations
            .retain(|rel, _| read.contains(&rel.as_str()));
        super::add_facts(&rules, &mut inputs, &facts)?;
        let eval = rules
            .evaluate(&inputs, Engine::Fast { parallel: false }, Limits::default())
            .map_err(|e| format!("telling the chains of groups: {e}"))?;
        let rows = |rel: &str| eval.rows(&rules, rel).unwrap_or_default();
        let mut goals: HashMap<Box<str>, u32> = HashMap::default();
        let mut steps: HashMap<(u32, u32), (u32, u32)> = HashMap::default();
        for r in rows("path_length") {
            let next = goals.len() as u32;
            let t = *goals.entry(r[1].as_str().into()).or_insert(next);
            // A group no group lists (a goal named only by a binding) is told apart
            // ([`Reach`]'s `unlisted`).
            let Some(c) = hierarchy.number.get(r[0].as_str()) else {
                continue;
            };
            let d: u32 = r[2]
                .parse()
                .map_err(|_| format!("internal error: path_length `{}` is no count", r[2]))?;
            steps.insert((t, *c), (d, *c));
        }
        for r in rows("path_next") {
            let (Some(t), Some(c), Some(p)) = (
                goals.get(r[1].as_str()),
                hierarchy.number.get(r[0].as_str()),
                hierarchy.number.get(r[2].as_str()),
            ) else {
                return Err(format!(
                    "internal error: path_next {r:?} names no known group"
                ));
            };
            if let Some(step) = steps.get_mut(&(*t, *c)) {
                step.1 = *p;
            }
        }
        super::bulk::timing("chains of groups told", start);
        Ok(Chains { goals, steps })
    }

    /// Appends to `out` the numbers of the chain told from the user whose chains start at
    /// `reach` up to `goal` (from the direct group up): from the direct group with the fewest
    /// steps, the first by pk among equals, then as [`PATHS`] goes on. False, with nothing
    /// appended, when the rules tell no such chain (the user is not a member, or only through
    /// more than [`CHAIN_STEPS`] steps).
    fn chain(&self, reach: &Reach<'_>, goal: &str, out: &mut Vec<u32>) -> bool {
        let Some(t) = self.goals.get(goal) else {
            return false;
        };
        let from = reach
            .starts
            .iter()
            .filter_map(|s| Some((self.steps.get(&(*t, *s))?.0, *s)))
            .min();
        let Some((mut left, mut at)) = from else {
            return false;
        };
        let start = out.len();
        out.push(at);
        while left > 0 {
            // Each step is one closer: anything else is a broken table, told as no chain
            // rather than followed round a cycle.
            let next = self.steps.get(&(*t, at)).map(|(_, next)| *next);
            match next.and_then(|n| Some((n, self.steps.get(&(*t, n))?.0))) {
                Some((n, d)) if d + 1 == left => {
                    (at, left) = (n, d);
                    out.push(at);
                }
                _ => {
                    out.truncate(start);
                    return false;
                }
            }
        }
        true
    }
}

/// Whether the group binding a sentence tells is known to let the user in, to keep it out,
/// or neither (left to run time): what a binding's words say where no chain is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member {
    /// The binding passes: the user is a member.
    Yes,
    /// The binding fails: the user is not a member.
    No,
    /// Left to run time.
    Open,
}

/// Why one user has the access to an application it has, in words: the bindings the rules
/// say carry the decision (`named_by`), with the chains of groups the rules tell ([`Chains`]).
pub struct Because<'a> {
    hierarchy: Hierarchy<'a>,
    chains: Chains,
    users: HashMap<i64, &'a str>,
    policies: HashMap<&'a str, &'a str>,
}

impl<'a> Because<'a> {
    /// Indexes the snapshot's groups, usernames and policy names, and evaluates the chains of
    /// groups.
    pub fn new(snapshot: &'a Snapshot) -> Result<Because<'a>, String> {
        let hierarchy = Hierarchy::new(snapshot);
        let chains = Chains::evaluate(snapshot, &hierarchy)?;
        Ok(Because {
            hierarchy,
            chains,
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
        })
    }

    /// The group hierarchy.
    pub fn hierarchy(&self) -> &Hierarchy<'a> {
        &self.hierarchy
    }

    /// The chain told from `user` up to group `goal` as names joined by ` -> `, starting with
    /// `label`; `None` where the rules tell none.
    pub fn chain_text(&self, user: &User, label: &str, goal: &str) -> Option<String> {
        let mut out = String::new();
        self.write_chain(self.reach_of(user).as_ref(), label, goal, &mut out)
            .then_some(out)
    }

    /// The length of the chain told from `user` up to group `goal` (in groups); `None` where
    /// the rules tell none.
    pub fn chain_len(&self, user: &User, goal: &str) -> Option<usize> {
        let reach = self.reach_of(user)?;
        if reach.unlisted.contains(&goal) {
            return Some(1);
        }
        let mut numbers = Vec::new();
        self.chains
            .chain(&reach, goal, &mut numbers)
            .then_some(numbers.len())
    }

    /// Appends the chain told from `reach` up to `goal`, starting with `label`; false, with
    /// nothing appended, where the rules tell none.
    fn write_chain(
        &self,
        reach: Option<&Reach<'a>>,
        label: &str,
        goal: &str,
        out: &mut String,
    ) -> bool {
        let h = &self.hierarchy;
        let Some(reach) = reach else {
            return false;
        };
        if let Some(g) = reach.unlisted.iter().find(|g| **g == goal) {
            out.push_str(label);
            out.push_str(" -> ");
            out.push_str(h.name(g));
            return true;
        }
        let mut numbers = Vec::new();
        if !self.chains.chain(reach, goal, &mut numbers) {
            return false;
        }
        out.push_str(label);
        for n in numbers {
            out.push_str(" -> ");
            out.push_str(h.named[n as usize]);
        }
        true
    }

    /// How binding `b` reads in a sentence about `user`, who is called `label` in group
    /// paths, where `member` says whether the binding lets the user in.
    pub fn binding(&self, b: &PolicyBinding, user: &User, label: &str, member: Member) -> String {
        let mut out = String::new();
        self.write_binding(b, self.reach_of(user).as_ref(), label, member, &mut out);
        out
    }

    /// Appends how binding `b` reads for a user whose reach ([`Because::reach_of`]) is `reach`,
    /// called `label` in group paths.
    fn write_binding(
        &self,
        b: &PolicyBinding,
        reach: Option<&Reach<'a>>,
        label: &str,
        member: Member,
        out: &mut String,
    ) {
        use std::fmt::Write;
        let h = &self.hierarchy;
        // Writing into a String cannot fail.
        let _ = match (&b.subject, b.negate) {
            (Subject::Group(g), false) => {
                if self.write_chain(reach, label, g, out) {
                    Ok(())
                } else {
                    match member {
                        Member::Yes => write!(
                            out,
                            "{label} -> (a chain of more than {} groups) -> {}",
                            CHAIN_STEPS + 1,
                            h.name(g)
                        ),
                        Member::No => write!(out, "not a member of group {}", h.name(g)),
                        Member::Open => write!(
                            out,
                            "not a member of group {} within {} groups",
                            h.name(g),
                            CHAIN_STEPS + 1
                        ),
                    }
                }
            }
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

    /// [`Because::binding`] for a user whose reach ([`Because::reach_of`]) is `reach`.
    pub fn binding_in(
        &self,
        b: &PolicyBinding,
        reach: Option<&Reach<'a>>,
        label: &str,
        member: Member,
    ) -> String {
        let mut out = String::new();
        self.write_binding(b, reach, label, member, &mut out);
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
            Named::Bindings { .. } => self.tell_in(named, self.reach_of(user).as_ref(), label),
        }
    }

    /// [`Because::tell`] for a user whose reach ([`Because::reach_of`]) is `reach`, written in
    /// one string.
    pub fn tell_in(&self, named: &Named<'_>, reach: Option<&Reach<'a>>, label: &str) -> String {
        match named {
            Named::Words(w) => WORDS[usize::from(*w)].to_string(),
            Named::Bindings { fails, by } => {
                let mut out = String::new();
                if *fails {
                    out.push_str("fails: ");
                }
                // A denial names the binding that fails; otherwise every binding named passes.
                let member = if *fails { Member::No } else { Member::Yes };
                for (i, (_, b)) in by.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" and ");
                    }
                    self.write_binding(b, reach, label, member, &mut out);
                }
                out
            }
        }
    }

    /// Where the user's chains of groups start: what [`Because::binding_key`] and the
    /// sentences read.
    pub fn reach_of(&self, user: &User) -> Option<Reach<'a>> {
        self.hierarchy.reach(user.pk)
    }

    /// Appends to `key` what of binding `b`'s sentence depends on a user whose reach
    /// ([`Because::reach_of`]) is `reach`: the chain of groups a group binding is told
    /// through, by group number. Two users with the same key for a binding are told it in the
    /// same words (but for their own name).
    pub fn binding_key(&self, b: &PolicyBinding, reach: Option<&Reach<'a>>, key: &mut Vec<u32>) {
        /// Ends each binding's part; the values below it stand for chains without numbers.
        const END: u32 = u32::MAX;
        const NO_CHAIN: u32 = u32::MAX - 1;
        const UNLISTED: u32 = u32::MAX - 2;
        if let (Subject::Group(g), false) = (&b.subject, b.negate) {
            match reach {
                Some(r) if r.unlisted.iter().any(|u| *u == &**g) => key.push(UNLISTED),
                Some(r) if self.chains.chain(r, g, key) => {}
                _ => key.push(NO_CHAIN),
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
        // The rules tell the same chains, once a binding names each group.
        for (i, g) in ["sre", "ops", "eng", "big", "admins", "other", "ghost"]
            .into_iter()
            .enumerate()
        {
            s.policy_bindings.push(PolicyBinding {
                pk: Arc::from(format!("b{i}")),
                target: Arc::from("app"),
                target_kind: crate::snapshot::TargetKind::Application,
                subject: Subject::Group(Arc::from(g)),
                negate: false,
                enabled: true,
                failure_result: false,
                order: 0,
                timeout: 30,
            });
        }
        let because = Because::new(&s).unwrap();
        let h = because.hierarchy();
        for u in &s.users {
            for g in ["sre", "ops", "eng", "big", "admins", "other", "ghost"] {
                let told = h.path(u.pk, g).map(|chain| {
                    let names: Vec<&str> = chain.iter().map(|g| h.name(g)).collect();
                    format!("{} -> {}", u.username, names.join(" -> "))
                });
                assert_eq!(because.chain_text(u, &u.username, g), told, "{g}");
            }
        }
        assert_eq!(
            because
                .chain_text(&s.users[0], "alice", "admins")
                .as_deref(),
            Some("alice -> sre-name -> ops-name -> admins-name")
        );
    }
}
