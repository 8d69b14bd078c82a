//! The every-user model by identity class (`Model::everyone`, behind audit, report, diff,
//! deferred and query) against the per-user reference (`Model::with_rules` over every user):
//! the same rows, findings and counts on the golden corpus, the example and generated
//! organisations, with user rules that read unusual columns and count users.

use crate::bulk::{corpus, generated, root};
use bindlog::analysis::{Model, Subjects};
use bindlog::audit::{self, AuditOptions, Finding};
use bindlog::snapshot::{self, LoadOptions, Snapshot};
use proptest::prelude::*;
use std::collections::BTreeSet;

/// Rules of a user's own that observe columns the built-in rules do not: last logins, account
/// types, usernames compared and display names only copied into a message; and counts of users.
const USER_RULES: &str = r#"
.decl logged_in(u: symbol, t: symbol)
.output logged_in
logged_in(U, T) :- user_last_login(U, T), T != "".
.decl service_label(u: symbol, label: symbol)
.output service_label
service_label(U, cat("service account ", N, " (", D, ")")) :- user_type(U, "service_account"), user(U, N, D).
.decl admin_named(u: symbol)
.output admin_named
admin_named(U) :- user(U, N, _), contains("admin", N).
.decl users_in(g: symbol, n: number)
.output users_in
users_in(G, N) :- group(G, _), N = sum K : { member(U, G), weight(U, K) }.
.decl shown_to(x: symbol, n: number)
.output shown_to
shown_to(X, N) :- fsb(X, _, _, _), N = sum K : { visible(X, _, U, "shown"), known(U), weight(U, K) }.
.decl message(u: symbol, m: symbol)
.output message
message(U, cat("user ", N, " may open ", A)) :- decide(P, U, "app", "pass"), application(P, A, _), user(U, N, _).
"#;

/// A count over users without `weight`: the model must notice and evaluate every user.
const UNWEIGHTED: &str = r#"
.decl everyone(n: number)
.output everyone
everyone(N) :- N = count : { user(_, _, _) }.
"#;

fn load(path: &std::path::Path) -> Snapshot {
    snapshot::load(path, &LoadOptions::default())
        .unwrap()
        .snapshot
}

fn outputs(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.strip_prefix(".output "))
        .map(str::to_string)
        .collect()
}

/// Every output relation of `rules` (plus `extra_rels`) from both models, as sets of rows.
fn assert_same_rows(name: &str, s: &Snapshot, rules: &str, extra_rels: &[&str]) -> Model {
    let rels: Vec<String> = outputs(rules)
        .into_iter()
        .chain(extra_rels.iter().map(|r| r.to_string()))
        .collect();
    let rels: Vec<&str> = rels.iter().map(String::as_str).collect();
    let texts = [("user.dl", rules)];
    let fast = Model::everyone(s, &texts, &rels).unwrap();
    let reference = Model::with_rules(s, &Subjects::All, &texts).unwrap();
    for rel in &rels {
        let got: BTreeSet<Vec<String>> = fast.rows(rel).into_iter().collect();
        let want: BTreeSet<Vec<String>> = reference.rows(rel).into_iter().collect();
        assert_eq!(got, want, "{name}: relation `{rel}`");
    }
    fast
}

fn without_proofs(mut f: Vec<Finding>) -> Vec<Finding> {
    for x in &mut f {
        x.explanation.clear();
    }
    f
}

fn assert_same_findings(name: &str, s: &Snapshot) {
    let options = AuditOptions::default();
    let fast = audit::evaluate(s, &[], &[]).unwrap();
    let reference = audit::evaluate_per_user(s, &[]).unwrap();
    let got = audit::findings_of(&fast, s, &options).unwrap().findings;
    let want = audit::findings_of(&reference, s, &options)
        .unwrap()
        .findings;
    for f in &got {
        assert!(
            !f.explanation.contains('\u{1}') && !f.explanation.contains("u{1}"),
            "{name}: a placeholder is left in the proof of {} {}",
            f.rule,
            f.message
        );
    }
    assert_eq!(
        without_proofs(got),
        without_proofs(want),
        "{name}: findings"
    );
}

/// An audit that proves its findings keeps the heights of the evaluation's own tuples and reads
/// the proofs from them; the proofs equal those of evaluating the rules again (what a second
/// request does, the heights being taken by the first).
#[test]
fn findings_proved_from_the_kept_heights_equal_those_of_evaluating_again() {
    let example = root().join("examples/acme/snapshot.json");
    let mut proved = 0;
    for path in corpus().into_iter().chain([example]) {
        let name = path.display().to_string();
        let s = load(&path);
        let options = AuditOptions::default();
        let model = audit::evaluate_reading(&s, &[], &[], &[], true).unwrap();
        let kept = audit::findings_of(&model, &s, &options).unwrap().findings;
        let again = audit::findings_of(&model, &s, &options).unwrap().findings;
        assert_eq!(kept, again, "{name}");
        proved += kept.iter().filter(|f| f.explanation.contains(":-")).count();
    }
    assert!(proved > 0, "no finding was proved");
}

/// The decisions as they read before `gives`, `all_mode_fail` and `some_given` were split out of
/// `val` and `some`: each binding's value read from `val`, every failure included.
const DECISIONS_OVER_VAL: &str = r#"
.decl pooled_pass_ref(t: symbol, i: symbol, c: symbol)
pooled_pass_ref(T, I, C) :- live(B, T), pooled(B), val(B, I, C, "pass").
.decl pooled_unknown_ref(t: symbol, i: symbol, c: symbol)
pooled_unknown_ref(T, I, C) :- live(B, T), pooled(B), val(B, I, C, "unknown").
.decl maybe_pooled_pass_ref(t: symbol, i: symbol, c: symbol)
maybe_pooled_pass_ref(T, I, C) :- live(B, T), maybe_pooled(B), val(B, I, C, "pass").
.decl some_ref(t: symbol, i: symbol, c: symbol, v: symbol)
some_ref(T, I, C, V) :- live(B, T), !pooled(B), !maybe_pooled(B), val(B, I, C, V).
some_ref(T, I, C, "pass") :- live(B, T), pooled(B), val(B, I, C, "pass").
some_ref(T, I, C, "unknown") :- live(B, T), pooled(B), val(B, I, C, "unknown"), !pooled_pass_ref(T, I, C).
some_ref(T, I, C, "fail") :- live(B, T), pooled(B), identity(I), ctx(C), !pooled_pass_ref(T, I, C), !pooled_unknown_ref(T, I, C).
some_ref(T, I, C, V) :- live(B, T), maybe_pooled(B), val(B, I, C, V), V != "fail".
some_ref(T, I, C, "fail") :- live(B, T), maybe_pooled(B), val(B, I, C, "fail"), !maybe_pooled_pass_ref(T, I, C).
some_ref(T, I, C, "unknown") :- live(B, T), maybe_pooled(B), val(B, I, C, "fail"), maybe_pooled_pass_ref(T, I, C).
.decl decide_ref(t: symbol, i: symbol, c: symbol, v: symbol)
decide_ref(T, I, C, V) :- target_ctx(T, C), identity(I), !has_live(T), empty_result(T, V).
decide_ref(T, I, C, "pass") :- target(T, _, "any"), target_ctx(T, C), some_ref(T, I, C, "pass").
decide_ref(T, I, C, "unknown") :- target(T, _, "any"), target_ctx(T, C), some_ref(T, I, C, "unknown"), !some_ref(T, I, C, "pass").
decide_ref(T, I, C, "fail") :- target(T, _, "any"), target_ctx(T, C), has_live(T), identity(I), !some_ref(T, I, C, "pass"), !some_ref(T, I, C, "unknown").
decide_ref(T, I, C, "fail") :- target(T, _, "all"), target_ctx(T, C), some_ref(T, I, C, "fail").
decide_ref(T, I, C, "unknown") :- target(T, _, "all"), target_ctx(T, C), some_ref(T, I, C, "unknown"), !some_ref(T, I, C, "fail").
decide_ref(T, I, C, "pass") :- target(T, _, "all"), target_ctx(T, C), has_live(T), identity(I), !some_ref(T, I, C, "fail"), !some_ref(T, I, C, "unknown").
.decl open_ref(t: symbol, i: symbol, c: symbol, b: symbol, why: symbol)
open_ref(T, I, C, B, W) :- live(B, T), binding_policy(B, P), val(B, I, C, "unknown"), runtime_reason(P, C, W).
open_ref(T, I, C, B, "a membership only through an ancestor 20 or more levels up, which authentik up to 2025.10 does not follow") :- live(B, T), binding_group(B, G), member_cut(I, G), val(B, I, C, "unknown").
open_ref(T, I, C, B, "mode all on 2025.12.5+: whether the 2025.8 bug (any passing group or user binding counts for all) is fixed there is not known") :- live(B, T), maybe_pooled(B), val(B, I, C, "fail"), maybe_pooled_pass(T, I, C).
open_ref(T, I, C, B, W) :- live(B, T), val(B, I, C, "unknown"), expr_why(B, C, I, W).
open_ref(T, I, C, B, W) :- live(B, T), val(B, I, C, "unknown"), expr_static_why(B, C, W), identity(I).
open_ref(T, I, "stage_run", B, W) :- live(B, T), val(B, I, "stage_run", "unknown"), placed_reason(B, W).
open_ref(T, I, "stage_plan", B, W) :- live(B, T), val(B, I, "stage_plan", "unknown"), placed_plan_reason(B, W).
"#;

/// The decisions read `some_given` (a group or user binding's failure only where mode `all`
/// reads it) and the deferral reasons `gives`; both must give what reading every binding's value
/// in `val` gives, `some` must keep its meaning, and `val` must be `gives` plus the failures.
#[test]
fn decisions_without_every_failure_equal_those_read_over_val() {
    let seeds = (0..12).map(|seed| (format!("seed {seed}"), generated(seed)));
    let files = corpus()
        .into_iter()
        .map(|p| (p.display().to_string(), load(&p)));
    let (mut decided, mut pooled) = (0, 0);
    for (name, s) in files.chain(seeds) {
        let m = Model::with_rules(&s, &Subjects::All, &[("ref.dl", DECISIONS_OVER_VAL)]).unwrap();
        let rows = |rel: &str| -> BTreeSet<Vec<String>> { m.rows(rel).into_iter().collect() };
        for (rel, reference) in [
            ("some", "some_ref"),
            ("decide", "decide_ref"),
            ("open_binding", "open_ref"),
            ("pooled_pass", "pooled_pass_ref"),
            ("pooled_unknown", "pooled_unknown_ref"),
            ("maybe_pooled_pass", "maybe_pooled_pass_ref"),
        ] {
            assert_eq!(rows(rel), rows(reference), "{name}: `{rel}`");
        }
        let mut val: BTreeSet<Vec<String>> = rows("gives");
        val.extend(rows("all_mode_fail").into_iter().map(|mut r| {
            r.push("fail".into());
            r
        }));
        assert!(
            val.is_subset(&rows("val")),
            "{name}: `gives` and `all_mode_fail` within `val`"
        );
        decided += rows("decide").len();
        pooled += rows("pooled").len() + rows("maybe_pooled").len();
    }
    assert!(
        decided > 0 && pooled > 0,
        "the corpus decides and pools: {decided}, {pooled}"
    );
}

#[test]
fn every_user_model_equals_the_per_user_model_on_the_corpus_and_the_example() {
    let builtin = [
        "member",
        "superuser",
        "visible",
        "applicable",
        "decide",
        "deferred",
        "open_binding",
        "val",
        "some",
    ];
    for path in corpus() {
        let name = path.display().to_string();
        let s = load(&path);
        assert_same_rows(&name, &s, USER_RULES, &builtin);
        assert_same_findings(&name, &s);
    }
}

#[test]
fn deferred_counts_weigh_each_class_by_its_members() {
    let s = load(&root().join("examples/acme/snapshot.json"));
    let fast = Model::everyone_reading(&s, &[], &[], &["deferred"], &[]).unwrap();
    let reference = Model::new(&s, &Subjects::All).unwrap();
    let count = |m: &Model| -> BTreeSet<(String, String, String, u64)> {
        let mut by: std::collections::BTreeMap<(String, String, String), u64> = Default::default();
        for r in m.rows("deferred") {
            // A class's size differs from one flow to the next: weigh it where the row is.
            *by.entry((r[0].clone(), r[1].clone(), r[3].clone()))
                .or_default() += m.weight_in(&r[0], &r[2]);
        }
        by.into_iter().map(|((a, b, c), n)| (a, b, c, n)).collect()
    };
    let got = count(&fast);
    assert!(!got.is_empty());
    assert_eq!(got, count(&reference));
    let classes: BTreeSet<String> = fast
        .rows("subject")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(
        classes.len() < s.users.len(),
        "the example has users that share a class, so the weights matter"
    );
}

/// `deferred`'s counts read local class by local class, each weighed by its users, equal those
/// of the per-user model and of the model by class (what `deferred` falls back to); returns
/// how many bindings wait for some users and are decided by another binding for others.
fn assert_same_deferral(name: &str, s: &Snapshot) -> usize {
    use bindlog::analysis::deferral::{Deferral, READ};
    let fast = Deferral::everyone(s)
        .unwrap()
        .unwrap_or_else(|| panic!("{name}: a gathered row holds a user's placeholder"));
    let reference = Deferral::of_model(&Model::new(s, &Subjects::All).unwrap());
    assert_eq!(fast.bindings, reference.bindings, "{name}: per local class");
    let by_class = Model::everyone_reading(s, &[], &[], &READ, &[]).unwrap();
    assert_eq!(
        Deferral::of_model(&by_class).bindings,
        reference.bindings,
        "{name}: by class"
    );
    assert_eq!(
        fast.labels.objects, reference.labels.objects,
        "{name}: labels"
    );
    reference
        .bindings
        .values()
        .filter(|c| c.waiting > 0 && c.evaluated > c.waiting)
        .count()
}

/// On the corpus and the example (and generated organisations, below).
#[test]
fn deferral_read_per_local_class_equals_the_per_user_one() {
    let mut both = 0;
    for path in corpus() {
        both += assert_same_deferral(&path.display().to_string(), &load(&path));
    }
    assert!(
        both > 0,
        "some binding both waits for some users and is decided by another for others"
    );
}

/// Ten users in one superuser group form one class: the superuser inventory counts ten, as
/// the per-user evaluation does, only because the class weighs ten.
#[test]
fn a_count_over_users_counts_members_not_classes() {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/cases/require-superuser-gate/snapshot.json"))
            .unwrap(),
    )
    .unwrap();
    let users = v["core/users"].as_array_mut().unwrap();
    let template = users[0].clone();
    for i in 0..10 {
        let mut u = template.clone();
        u["pk"] = (9000 + i).into();
        u["username"] = format!("twin{i}").into();
        u["name"] = format!("Twin {i}").into();
        users.push(u);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let s = load(&path);
    let fast = audit::evaluate(&s, &[], &[]).unwrap();
    let weights: u64 = fast
        .rows("subject")
        .iter()
        .map(|r| fast.weight(&r[0]))
        .sum();
    assert!(
        fast.rows("subject").len() < s.users.len(),
        "the twins share a class"
    );
    // Every subject but the anonymous visitor weighs its class: together, every user.
    assert_eq!(weights, s.users.len() as u64 + 1);
    assert_same_findings("twins", &s);
    let inventory: Vec<String> = fast
        .rows("finding")
        .into_iter()
        .filter(|r| r[0] == "AK-D01" && r[2] == "group")
        .map(|r| r[4].clone())
        .collect();
    let admins = s
        .users
        .iter()
        .filter(|u| {
            u.groups
                .iter()
                .any(|g| &**g == "g-sre" || &**g == "g-admins")
        })
        .count();
    assert!(admins > 10, "alice and her ten twins");
    let want = format!("group admins grants superuser rights to {admins} effective members");
    assert_eq!(inventory, vec![want]);
}

#[test]
fn an_unweighted_count_over_users_falls_back_to_every_user() {
    let s = load(&root().join("examples/acme/snapshot.json"));
    let fast = assert_same_rows("acme", &s, UNWEIGHTED, &[]);
    assert_eq!(fast.rows("everyone"), vec![vec![s.users.len().to_string()]]);
    assert_eq!(fast.notes().len(), 1, "{:?}", fast.notes());
    assert!(fast.notes()[0].contains("user.dl:4"), "{}", fast.notes()[0]);
    let weighted = Model::everyone(&s, &[("user.dl", USER_RULES)], &[]).unwrap();
    assert!(weighted.notes().is_empty(), "{:?}", weighted.notes());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// On generated organisations (gates, modes, versions, forests, user bindings), the user
    /// rules' outputs and the findings are those of the per-user evaluation.
    #[test]
    fn every_user_model_agrees_on_generated_organisations(seed in any::<u64>()) {
        let s = generated(seed);
        assert_same_rows(&format!("seed {seed}"), &s, USER_RULES, &["finding", "finding_object"]);
        assert_same_findings(&format!("seed {seed}"), &s);
        assert_same_deferral(&format!("seed {seed}"), &s);
    }
}

/// A rule that joins one user's answers about two applications: it cannot be evaluated one
/// flow or application at a time.
const ACROSS: &str = r#"
.decl opens_one_not_other(u: symbol, a: symbol, b: symbol)
.output opens_one_not_other
opens_one_not_other(U, A, B) :- decide(A, U, "app", "pass"), decide(B, U, "app", "fail"), application(A, _, _), application(B, _, _).
"#;

/// The audit catalogue and ordinary user rules are evaluated per flow and application (the
/// model leaves no note saying otherwise); a rule joining two applications per user is noticed,
/// said, and evaluated over every identity class, with the per-user answers.
#[test]
fn rules_are_evaluated_per_flow_and_application_unless_they_join_two() {
    let s = load(&root().join("examples/acme/snapshot.json"));
    let audit_model = audit::evaluate(&s, &[], &[]).unwrap();
    assert_eq!(audit_model.notes(), &[] as &[String]);
    let user_model = Model::everyone(&s, &[("user.dl", USER_RULES)], &[]).unwrap();
    assert_eq!(user_model.notes(), &[] as &[String]);
    let across = assert_same_rows("example", &s, ACROSS, &[]);
    assert!(
        across
            .notes()
            .iter()
            .any(|n| n.contains("not provably about one flow or application")),
        "{:?}",
        across.notes()
    );
    assert!(!across.rows("opens_one_not_other").is_empty());
}

/// `query` prints the rows the rules declare, with the per-user answers: a user read from one
/// stage of any flow (which the evaluation tags with that flow) is printed once, untagged.
#[test]
fn query_prints_the_declared_columns_and_the_per_user_rows() {
    let path = root().join("examples/acme/snapshot.json");
    let rules = ".decl skips(u: symbol)\n.output skips\nskips(U) :- visible(_, _, U, \"skipped\"), known(U).\n";
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.dl");
    std::fs::write(&file, rules).unwrap();
    let o = crate::bindlog(&[
        "query",
        path.to_str().unwrap(),
        "--rules",
        file.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let printed: Vec<String> = text
        .split("===============\n")
        .nth(1)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let reference = Model::with_rules(&load(&path), &Subjects::All, &[("q.dl", rules)]).unwrap();
    let want: Vec<String> = reference
        .rows("skips")
        .into_iter()
        .map(|r| r.join("\t"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(printed, want);
}

/// `diff` compares identity classes, not users: between the example and the example with every
/// binding negated, the changes are those of two per-user evaluations, user by user.
#[test]
fn diff_by_class_equals_the_per_user_diff() {
    use bindlog::analysis::diff;
    let old = load(&root().join("examples/acme/snapshot.json"));
    let mut new = old.clone();
    for b in new.policy_bindings.iter_mut() {
        b.negate = !b.negate;
    }
    // A user only the old side has, and one only the new side has (a copy under a new pk).
    let gone = new.users.remove(0);
    let mut came = new.users[0].clone();
    came.pk = new.users.iter().map(|u| u.pk).max().unwrap() + 1;
    came.username = format!("{}-copy", came.username).into();
    new.users.push(came.clone());
    fn by_class(s: &Snapshot) -> diff::AllUsers<'_> {
        let m = Model::everyone_reading(s, &[], &[], &diff::RELATIONS, &[]).unwrap();
        diff::all_users_of(m, s)
    }
    fn per_user(s: &Snapshot) -> diff::AllUsers<'_> {
        diff::all_users_of(Model::new(s, &Subjects::All).unwrap(), s)
    }
    let got = diff::compare(&by_class(&old), &by_class(&new), &[], &[]);
    let want = diff::compare(&per_user(&old), &per_user(&new), &[], &[]);
    assert!(!want.stages.is_empty() && !want.access.is_empty());
    // The users on one side only are compared with nothing: all they had is lost, all they
    // have is gained.
    for (user, lost) in [(&gone.username, true), (&came.username, false)] {
        let theirs: Vec<_> = want.access.iter().filter(|c| *c.user == **user).collect();
        assert!(!theirs.is_empty(), "{user} has no access change");
        for c in theirs {
            let (absent, present) = if lost {
                (&c.after, &c.before)
            } else {
                (&c.before, &c.after)
            };
            assert_eq!(absent, "no", "{c:?}");
            assert_ne!(present, "no", "{c:?}");
        }
    }
    assert_eq!(got.stages, want.stages);
    assert_eq!(got.access, want.access);
}

/// `diff`'s second side takes the components it shares with the first from a memo: its answers
/// and findings are those of evaluating every component, while the components of a negated
/// binding, of a flow entered otherwise and of a user in another group are evaluated again.
#[test]
fn components_taken_from_another_evaluation_answer_as_evaluated_ones() {
    use bindlog::analysis::bulk::Memo;
    use bindlog::analysis::diff;
    type Read<'s> = (Vec<BTreeSet<Vec<String>>>, Vec<Finding>, diff::AllUsers<'s>);
    fn read<'s>(s: &'s Snapshot, memo: Option<&'static Memo>) -> Read<'s> {
        let model = match memo {
            Some(m) => audit::evaluate_remembering(s, &[], &diff::RELATIONS, false, m),
            None => audit::evaluate_reading(s, &[], &[], &diff::RELATIONS, false),
        }
        .unwrap();
        let rows = ["finding", "decide", "visible", "applicable"]
            .iter()
            .map(|r| model.rows(r).into_iter().collect())
            .collect();
        let findings = audit::findings_of(&model, s, &AuditOptions::default())
            .unwrap()
            .findings;
        (rows, findings, diff::all_users_of(model, s))
    }
    // The number of components the second side took from the memo.
    let check = |what: &str, old: &Snapshot, new: &Snapshot| -> usize {
        let (_, _, before) = read(old, None);
        let memo: &'static Memo = Box::leak(Box::default());
        read(old, Some(memo));
        let evaluated = memo.len();
        assert!(evaluated > 0, "{what}: the memo holds no component");
        assert_eq!(memo.found(), 0, "{what}");
        let (rows, findings, after) = read(new, Some(memo));
        let (want_rows, want_findings, want_after) = read(new, None);
        assert_eq!(rows, want_rows, "{what}");
        assert_eq!(findings, want_findings, "{what}");
        let got = diff::compare(&before, &after, &[], &[]);
        let want = diff::compare(&before, &want_after, &[], &[]);
        assert_eq!(got.stages, want.stages, "{what}");
        assert_eq!(got.access, want.access, "{what}");
        assert!(
            memo.len() > evaluated,
            "{what}: every component was taken from the memo"
        );
        memo.found()
    };
    let old = load(&root().join("examples/acme/snapshot.json"));
    // A binding of a flow or stage, and one of an application.
    let mut new = old.clone();
    new.policy_bindings[0].negate = !new.policy_bindings[0].negate;
    assert!(check("a binding negated", &old, &new) > 0);
    let mut new = old.clone();
    let b = new
        .policy_bindings
        .iter()
        .position(|b| new.applications.iter().any(|a| a.pk == b.target))
        .expect("a binding of an application");
    new.policy_bindings[b].negate = !new.policy_bindings[b].negate;
    assert!(check("an application's binding negated", &old, &new) > 0);
    let mut new = old.clone();
    let f = new
        .flows
        .iter()
        .position(|f| f.authentication != bindlog::snapshot::Authentication::None)
        .expect("a flow with an authentication gate");
    new.flows[f].authentication = bindlog::snapshot::Authentication::None;
    assert!(check("a flow's gate opened", &old, &new) > 0);
    // A user moved to another group: in the example, almost every user is a class of its own
    // in every component, so the components that see the user are evaluated again. The first
    // user stays the first of its class: only its rows tell the two sides apart.
    let mut new = old.clone();
    let other = new
        .groups
        .iter()
        .find(|g| !new.users[0].groups.contains(&g.pk))
        .expect("a group the first user is not in")
        .pk
        .clone();
    new.users[0].groups = vec![other];
    check("a user in another group", &old, &new);
}

/// A rule that names one user by pk in a flow's or application's answers: that user is alone
/// in its identity class but may share a scope class, so the rule is evaluated per identity
/// class (with a note), and answers as the per-user evaluation does.
#[test]
fn a_rule_naming_a_user_reads_that_users_own_answers() {
    let s = load(&root().join("examples/acme/snapshot.json"));
    let pk = s.users[0].pk.to_string();
    let rules = format!(
        ".decl opens(a: symbol)\n.output opens\nopens(S) :- decide(A, \"{pk}\", \"app\", \"pass\"), application(A, S, _).\n"
    );
    let m = assert_same_rows("example", &s, &rules, &[]);
    assert!(!m.rows("opens").is_empty());
    assert!(
        m.notes()
            .iter()
            .any(|n| n.contains("a user named by the rules")),
        "{:?}",
        m.notes()
    );
}

/// A user's groups joined with an application's answers: every group (read through `group`,
/// which names them all) tells the users of a scope class apart, so the rule is evaluated per
/// identity class, with the per-user rows.
#[test]
fn groups_joined_with_answers_keep_every_users_groups() {
    let s = load(&root().join("examples/acme/snapshot.json"));
    let rules = ".decl opens_in(a: symbol, u: symbol, g: symbol)\n.output opens_in\nopens_in(A, U, G) :- decide(A, U, \"app\", \"pass\"), member(U, G), group(G, _).\n";
    let m = assert_same_rows("example", &s, rules, &[]);
    assert!(!m.rows("opens_in").is_empty());
}

/// The report's tables from the every-user model equal those from the per-user model: every
/// user's row, every group's counts and every flow's matrix; above the per-user limit, the
/// summaries count the same users.
#[test]
fn report_by_class_equals_the_per_user_report() {
    use bindlog::report::{self, Detail, Findings};
    for path in corpus() {
        let name = path.display().to_string();
        let loaded = snapshot::load(&path, &LoadOptions::default()).unwrap();
        let s = &loaded.snapshot;
        let per_user =
            Model::with_rules(s, &Subjects::All, &[bindlog::analysis::COVERAGE]).unwrap();
        let by_class = report::all_users(s).unwrap();
        for detail in [
            Detail {
                per_user_limit: usize::MAX,
                largest_groups: 0,
                ..Detail::HTML
            },
            Detail {
                per_user_limit: 0,
                largest_groups: 2,
                ..Detail::HTML
            },
        ] {
            let build = |m: &Model| {
                let none = Findings::NotComputed("test".into());
                report::build_from(&loaded, m, none, "t".into(), &detail, Default::default())
                    .unwrap()
            };
            let (got, want) = (build(&by_class), build(&per_user));
            assert_eq!(got.summary, want.summary, "{name}");
            assert_eq!(got.left_out, want.left_out, "{name}");
            assert_eq!(got.targets, want.targets, "{name}");
            assert_eq!(got.superuser_groups, want.superuser_groups, "{name}");
            assert_eq!(got.privileged, want.privileged, "{name}");
            assert_eq!(got.privileged_unknown, want.privileged_unknown, "{name}");
            for (g, w) in got.apps.iter().zip(&want.apps) {
                assert_eq!(g.access, w.access, "{name}: {}", g.slug);
                assert_eq!(g.groups, w.groups, "{name}: {}", g.slug);
                assert_eq!(g.rows, w.rows, "{name}: {}", g.slug);
                // Classes are told for one user each: the users they count agree per answer.
                let per_answer = |a: &report::AppAccess| {
                    let mut n = std::collections::BTreeMap::new();
                    for c in &a.classes {
                        *n.entry(c.access.clone()).or_insert(0) += c.users;
                    }
                    n
                };
                assert_eq!(per_answer(g), per_answer(w), "{name}: {}", g.slug);
            }
            for (g, w) in got.flows.iter().zip(&want.flows) {
                assert_eq!(g.rows, w.rows, "{name}: {}", g.slug);
                let ways = |f: &report::FlowMatrix| {
                    f.classes
                        .iter()
                        .map(|c| (c.values.clone(), c.users))
                        .collect::<BTreeSet<_>>()
                };
                assert_eq!(ways(g), ways(w), "{name}: {}", g.slug);
            }
            if detail.per_user_limit == 0 {
                assert!(got.apps.iter().all(|a| a.rows.is_empty()), "{name}");
                assert!(got.apps.iter().all(|a| a.groups.len() <= 2), "{name}");
            } else {
                assert!(
                    got.apps.iter().all(|a| a.rows.len() == s.users.len()),
                    "{name}"
                );
            }
        }
    }
}

/// Every relation of a model about the users `only`, with the rows that name any other user
/// left out (relations that say who was asked are skipped: they differ by design).
fn rows_about(
    model: &Model,
    users: &BTreeSet<String>,
    only: &[String],
) -> Vec<(String, BTreeSet<Vec<String>>)> {
    model
        .rules()
        .program
        .relations
        .iter()
        .map(|r| r.name.clone())
        .filter(|r| r != "query_subject" && r != "restricted")
        .map(|rel| {
            let rows = model
                .rows(&rel)
                .into_iter()
                .filter(|row| !row.iter().any(|v| users.contains(v) && !only.contains(v)))
                .collect();
            (rel, rows)
        })
        .collect()
}

/// A question about a few users (`plan`, `access`, `explain`, `diagram`) is evaluated over
/// their own rows and the user-independent facts only; every relation it derives about them
/// equals the per-user model's rows about them.
/// Relations that hold when the rows of *some* user give them (an event of any user fires a
/// rule): a model of fewer users derives some of their rows, never others.
const SOME_USER: [&str; 1] = ["action_notifies"];

/// Relations that count every user (`coverage.dl`, loaded with `journeys.dl` for the parts it
/// joins): a model of fewer users counts fewer, by design.
const COUNTS: [&str; 5] = [
    "device_users",
    "source_users",
    "endpoint_users",
    "rule_recipients",
    "login_mfa_users",
];

fn assert_one_user_equals_every_user(name: &str, s: &Snapshot) {
    // With the journeys too: the answers about the other binding targets (RAC endpoints,
    // outposts' binds, login paths) come from the same rows.
    let reference = Model::answering(s, &Subjects::All, &[]).unwrap();
    let users: BTreeSet<String> = s.users.iter().map(|u| u.pk.to_string()).collect();
    // A few users from each end, and a user bindings name, if any.
    let mut asked: Vec<String> = users
        .iter()
        .take(3)
        .chain(users.iter().rev().take(2))
        .cloned()
        .collect();
    asked.sort();
    asked.dedup();
    for pk in &asked {
        let only = [pk.clone()];
        let one = Model::answering(s, &Subjects::Only(only.to_vec()), &[]).unwrap();
        for ((rel, got), (_, want)) in rows_about(&one, &users, &only)
            .into_iter()
            .zip(rows_about(&reference, &users, &only))
        {
            if COUNTS.contains(&rel.as_str()) {
                continue;
            }
            if SOME_USER.contains(&rel.as_str()) {
                assert!(got.is_subset(&want), "{name}: user {pk}, relation `{rel}`");
            } else {
                assert_eq!(got, want, "{name}: user {pk}, relation `{rel}`");
            }
        }
    }
}

/// Users whose fields expression policies read: the department in `attributes` (`.get` and
/// indexing), and the email domain.
const FIELD_READS: &str = r#"version: 1
entries:
  - model: authentik_core.group
    id: admins
    identifiers: {name: admins}
  - model: authentik_core.user
    identifiers: {username: ada}
    attrs: {name: Ada, email: ada@corp.example, attributes: {dept: eng, reset_password: true}, groups: [!KeyOf admins]}
  - model: authentik_core.user
    identifiers: {username: bob}
    attrs: {name: Bob, email: bob@partner.example, attributes: {dept: sales}}
  - model: authentik_core.user
    identifiers: {username: cy}
    attrs: {name: Cy, email: cy@corp.example}
  - model: authentik_policies_expression.expressionpolicy
    id: dept
    identifiers: {name: eng-only}
    attrs: {expression: "return request.user.attributes.get('dept') == 'eng'"}
  - model: authentik_policies_expression.expressionpolicy
    id: mail
    identifiers: {name: corp-mail}
    attrs: {expression: "return request.user.email.endswith('@corp.example')"}
  - model: authentik_policies_expression.expressionpolicy
    id: strict
    identifiers: {name: strict-key}
    attrs: {expression: "return request.user.attributes['reset_password']"}
  - model: authentik_core.application
    id: wiki
    identifiers: {slug: wiki}
    attrs: {name: Wiki}
  - model: authentik_core.application
    id: mailapp
    identifiers: {slug: mailer}
    attrs: {name: Mailer}
  - model: authentik_core.application
    id: vault
    identifiers: {slug: vault}
    attrs: {name: Vault}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf wiki, policy: !KeyOf dept, order: 0}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf mailapp, policy: !KeyOf mail, order: 0}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf vault, policy: !KeyOf strict, order: 0}
"#;

/// A question about one user carries that user's expression facts (the class of the attribute
/// keys and email its bodies read): the answers differ per user and equal every user's model.
#[test]
fn a_question_about_one_user_reads_its_expression_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bp.yaml");
    std::fs::write(&path, FIELD_READS).unwrap();
    assert_one_user_equals_every_user("field reads", &load(&path));
    for (app, user, want) in [
        ("wiki", "ada", "yes"),
        ("wiki", "bob", "no"),
        ("mailer", "cy", "yes"),
        ("mailer", "bob", "no"),
        ("vault", "ada", "yes"),
        ("vault", "cy", "no"),
    ] {
        let o = crate::bindlog(&[
            "access",
            path.to_str().unwrap(),
            "--app",
            app,
            "--user",
            user,
            "--format",
            "json",
        ]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["access"], want, "{app} for {user}");
    }
}

#[test]
fn a_question_about_one_user_needs_only_that_users_rows() {
    for path in corpus() {
        assert_one_user_equals_every_user(&path.display().to_string(), &load(&path));
    }
    for seed in 0..6 {
        assert_one_user_equals_every_user(&format!("generated {seed}"), &generated(seed));
    }
}

/// Group sizes count each user's own effective groups, as the membership rules derive them per
/// user: members of one identity class may be in different groups that nothing names.
#[test]
fn group_members_are_counted_per_user() {
    use bindlog::report::{self, Detail, Findings};
    use std::collections::BTreeMap;
    let mut snapshots: Vec<(String, snapshot::Loaded)> = corpus()
        .iter()
        .map(|p| {
            let loaded = snapshot::load(p, &LoadOptions::default()).unwrap();
            (p.display().to_string(), loaded)
        })
        .collect();
    for seed in 0..6 {
        let mut loaded = snapshot::load(&corpus()[0], &LoadOptions::default()).unwrap();
        loaded.snapshot = generated(seed);
        snapshots.push((format!("generated {seed}"), loaded));
    }
    let mut differing = 0;
    for (name, loaded) in &snapshots {
        let s = &loaded.snapshot;
        let per_user = Model::new(s, &Subjects::All).unwrap();
        let mut want: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut want_size: BTreeMap<String, usize> = BTreeMap::new();
        for r in per_user.rows("member") {
            if r[0] != "anon" {
                *want_size.entry(r[1].clone()).or_default() += 1;
            }
            want.entry(r[0].clone()).or_default().insert(r[1].clone());
        }
        let m = bindlog::analysis::memberships::memberships(s, true).unwrap();
        let mut effective: Vec<Vec<u32>> = vec![Vec::new(); s.users.len()];
        for (i, u) in s.users.iter().enumerate() {
            m.effective(s, i, &mut effective[i]);
            let got: BTreeSet<String> = effective[i]
                .iter()
                .map(|g| s.groups[*g as usize].pk.to_string())
                .collect();
            assert_eq!(
                got,
                want.remove(&u.pk.to_string()).unwrap_or_default(),
                "{name}: user {}",
                u.username
            );
        }
        // The report's group sizes, from the model by class.
        let by_class = report::all_users(s).unwrap();
        let detail = Detail {
            per_user_limit: usize::MAX,
            largest_groups: 0,
            ..Detail::HTML
        };
        let none = Findings::NotComputed("test".into());
        let built = report::build_from(
            loaded,
            &by_class,
            none,
            "t".into(),
            &detail,
            Default::default(),
        )
        .unwrap();
        for app in &built.apps {
            for g in &app.groups {
                let size = want_size.get(&g.group).copied().unwrap_or(0);
                assert_eq!(g.members, size, "{name}: {}", g.label);
            }
        }
        // The report that reads the users' groups on a thread of its own, beside the
        // evaluation, builds the same tables.
        let none = Findings::NotComputed("test".into());
        let beside = report::build(loaded, none, "t".into(), &detail, Default::default()).unwrap();
        assert_eq!(beside.apps, built.apps, "{name}");
        assert_eq!(beside.flows, built.flows, "{name}");
        // Users of one class in different groups: the case a count by class would get wrong.
        let classes = by_class.user_classes(s);
        let mut first: BTreeMap<u32, usize> = BTreeMap::new();
        for (i, k) in classes.iter().enumerate() {
            let f = *first.entry(*k).or_insert(i);
            if effective[f] != effective[i] {
                differing += 1;
            }
        }
    }
    assert!(
        differing > 0,
        "no class had members in different groups: the test shows nothing"
    );
}

/// The every-user counts of the other binding targets (`analyze`, `report`), evaluated per scope
/// class, equal the per-user model's on every golden case, the example and generated
/// organisations; and the scoped evaluation takes them (no fallback to every class). Opening a
/// RAC endpoint in full and LDAP/RADIUS binds, joined per identity class from parts decided in
/// several objects, equal `journeys.dl`'s `endpoint_access` and `bind_access` counted user by user.
#[test]
fn target_counts_for_every_user_equal_the_per_user_model() {
    use bindlog::analysis::coverage::{Coverage, TargetCount};
    use bindlog::analysis::{COVERAGE, JOURNEYS};
    use std::collections::BTreeMap;
    let mut snapshots: Vec<(String, Snapshot)> = corpus()
        .into_iter()
        .map(|p| (p.display().to_string(), load(&p)))
        .collect();
    for seed in 0..6 {
        snapshots.push((format!("generated {seed}"), generated(seed)));
    }
    let mut seen = [0u64; 7];
    let mut mixed = 0;
    for (name, s) in &snapshots {
        let model = Model::everyone(s, &[COVERAGE], &[]).unwrap();
        assert!(model.notes().is_empty(), "{name}: {:?}", model.notes());
        let got = Coverage::read(&model, s).unwrap();
        let reference = Model::with_rules(s, &Subjects::All, &[COVERAGE, JOURNEYS]).unwrap();
        let want = Coverage::read(&reference, s).unwrap();
        assert_eq!(got, want, "{name}");
        assert_eq!(Coverage::of(s).unwrap(), want, "{name}");
        // The joined answers, counted straight from the rules that join one user's parts.
        for (rel, list) in [
            ("endpoint_access", &got.endpoint_access),
            ("bind_access", &got.binds),
        ] {
            let mut counted: BTreeMap<String, [u64; 3]> = BTreeMap::new();
            for r in reference.rows(rel) {
                let i = ["yes", "no", "unknown"]
                    .iter()
                    .position(|w| *w == r[2])
                    .unwrap();
                counted.entry(r[0].clone()).or_default()[i] += 1;
            }
            let joined: BTreeMap<String, [u64; 3]> =
                list.iter().map(|t| (t.pk.clone(), t.counts)).collect();
            assert_eq!(joined, counted, "{name}: {rel}");
            mixed += list
                .iter()
                .filter(|t| t.counts.iter().filter(|n| **n > 0).count() > 1)
                .count();
        }
        let sum = |l: &[TargetCount]| l.iter().map(|t| t.counts.iter().sum::<u64>()).sum::<u64>();
        seen[0] += sum(&got.devices);
        seen[1] += sum(&got.sources);
        seen[2] += sum(&got.endpoints);
        seen[3] += got.actions.iter().map(|(_, r)| r.len() as u64).sum::<u64>();
        seen[4] += got.logins.iter().map(|l| l.mfa[0] + l.mfa[1]).sum::<u64>();
        seen[5] += sum(&got.endpoint_access);
        seen[6] += sum(&got.binds);
    }
    // Every kind of count was exercised with users behind it somewhere, and some joined answer
    // differs between users.
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    assert!(
        mixed > 0,
        "no endpoint or bind splits its users: the join shows nothing"
    );
}
