//! The chains of groups answers tell (`rules/authentik/paths.dl`, read by `Because`) against a
//! breadth-first search in Rust (`Hierarchy::path`), the slow reference: on generated
//! hierarchies with several parents, cycles, self-parents, groups listed only as parents and
//! direct groups the snapshot does not list; and the bound on a chain's length.

use bindlog::analysis::paths::{Because, Member};
use bindlog::snapshot::{Group, PolicyBinding, Snapshot, Subject, TargetKind, User, synth};
use proptest::prelude::*;
use std::sync::Arc;

fn user(pk: i64, groups: Vec<Arc<str>>) -> User {
    User {
        pk,
        username: format!("user{pk}").into(),
        name: format!("User {pk}").into(),
        is_active: true,
        is_superuser: false,
        groups,
        kind: Arc::from("internal"),
        last_login: None,
        extra: None,
    }
}

fn group_binding(pk: &str, group: &str) -> PolicyBinding {
    PolicyBinding {
        pk: Arc::from(pk),
        target: Arc::from("app"),
        target_kind: TargetKind::Application,
        subject: Subject::Group(Arc::from(group)),
        negate: false,
        enabled: true,
        failure_result: false,
        order: 0,
        timeout: 30,
    }
}

/// A random hierarchy: group pks whose order is not the order they were made in, up to three
/// parents each (cycles and self-parents allowed, some parents listed nowhere else), users with
/// up to three direct groups (some unlisted, some from the group's `users`), and group bindings
/// or superuser flags on some groups (the goals a chain is told to).
fn hierarchy(seed: u64) -> (Snapshot, Vec<Arc<str>>) {
    let mut rng = synth::Rng::new(seed);
    let n = 1 + rng.below(12);
    let pks: Vec<Arc<str>> = (0..n)
        .map(|i| Arc::from(format!("{:x}-{i}", rng.below(4096))))
        .collect();
    // Parents only named as parents, and direct groups no group lists.
    let outside: Vec<Arc<str>> = vec![Arc::from("0-parent-only"), Arc::from("ghost")];
    // Up to three groups, each one of `pks`, or `other` with probability `p`.
    let draw = |rng: &mut synth::Rng, other: &Arc<str>, p: f64| -> Vec<Arc<str>> {
        (0..rng.below(4))
            .map(|_| {
                if rng.chance(p) {
                    other.clone()
                } else {
                    pks[rng.below(n)].clone()
                }
            })
            .collect()
    };
    let mut s = Snapshot::default();
    for (i, pk) in pks.iter().enumerate() {
        let parents = draw(&mut rng, &outside[0], 0.1);
        s.groups.push(Group {
            pk: pk.clone(),
            name: format!("g{i}").into(),
            is_superuser: rng.chance(0.2),
            parents,
            users: Vec::new(),
        });
    }
    for u in 1..=1 + rng.below(6) as i64 {
        let direct = draw(&mut rng, &outside[1], 0.15);
        s.users.push(user(u, direct));
        if rng.chance(0.3) {
            let g = rng.below(n);
            s.groups[g].users.push(u);
        }
    }
    let mut every: Vec<Arc<str>> = pks.clone();
    every.extend(outside);
    for (i, g) in every.iter().enumerate() {
        if rng.chance(0.6) {
            s.policy_bindings.push(group_binding(&format!("b{i}"), g));
        }
    }
    (s, every)
}

/// The reference's chain, told as `Because` tells it.
fn reference(because: &Because, u: &User, goal: &str) -> Option<String> {
    let h = because.hierarchy();
    let chain = h.path(u.pk, goal)?;
    let names: Vec<&str> = chain.iter().map(|g| h.name(g)).collect();
    Some(format!("{} -> {}", u.username, names.join(" -> ")))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Toward every goal (a group a binding names, a superuser group), every user is told the
    /// reference's chain: the shortest, the first by pk among equals, from the direct group
    /// up; and no chain where the user is not a member.
    #[test]
    fn chains_told_by_the_rules_are_the_breadth_first_ones(seed in any::<u64>()) {
        let (s, groups) = hierarchy(seed);
        let because = Because::new(&s).unwrap();
        let goal = |g: &str| {
            s.policy_bindings.iter().any(|b| matches!(&b.subject, Subject::Group(x) if &**x == g))
                || s.groups.iter().any(|x| &*x.pk == g && x.is_superuser)
        };
        for u in &s.users {
            for g in groups.iter().filter(|g| goal(g)) {
                prop_assert_eq!(
                    because.chain_text(u, &u.username, g),
                    reference(&because, u, g),
                    "user {} to {}", u.pk, g
                );
                prop_assert_eq!(
                    because.chain_len(u, g),
                    because.hierarchy().path(u.pk, g).map(|c| c.len())
                );
            }
        }
    }
}

/// A chain of 32 groups (31 steps) is told; one of 33 is not, and a binding that lets the user in
/// through it says so without naming the groups between.
#[test]
fn chains_longer_than_the_bound_are_not_told() {
    let mut s = Snapshot::default();
    let pk = |i: usize| format!("g{i:02}");
    for i in 0..40 {
        s.groups.push(Group {
            pk: Arc::from(pk(i)),
            name: format!("level {i}").into(),
            is_superuser: false,
            parents: vec![Arc::from(pk(i + 1))],
            users: Vec::new(),
        });
    }
    s.users.push(user(1, vec![Arc::from(pk(0))]));
    s.policy_bindings.push(group_binding("b31", &pk(31)));
    s.policy_bindings.push(group_binding("b32", &pk(32)));
    let because = Because::new(&s).unwrap();
    let u = &s.users[0];
    let told = because.chain_text(u, "ada", &pk(31)).unwrap();
    assert_eq!(
        told,
        reference(&because, u, &pk(31))
            .unwrap()
            .replace("user1", "ada")
    );
    assert!(told.ends_with("-> level 30 -> level 31"), "{told}");
    assert_eq!(because.chain_len(u, &pk(31)), Some(32));
    // The reference finds the longer chain; the rules stop short of it.
    assert_eq!(
        because.hierarchy().path(u.pk, &pk(32)).map(|c| c.len()),
        Some(33)
    );
    assert_eq!(because.chain_text(u, "ada", &pk(32)), None);
    let b = &s.policy_bindings[1];
    assert_eq!(
        because.binding(b, u, "ada", Member::Yes),
        "ada -> (a chain of more than 32 groups) -> level 32"
    );
    assert_eq!(
        because.binding(b, u, "ada", Member::No),
        "not a member of group level 32"
    );
    assert_eq!(
        because.binding(&s.policy_bindings[0], u, "ada", Member::Yes),
        told
    );
}
