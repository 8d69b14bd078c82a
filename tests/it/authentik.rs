//! The rules in `rules/authentik/`: membership and the three-valued policy engine, each case
//! taken from docs/semantics.md (§1, §3, §4) and checked on hand-made facts.

use bindlog::datalog::eval::Limits;
use bindlog::datalog::ir::Ty;
use bindlog::datalog::{Engine, FactValue, Inputs, Rules};

const RULES: [&str; 6] = [
    "schema.dl",
    "identity.dl",
    "membership.dl",
    "policies.dl",
    "context.dl",
    "engine.dl",
];

fn rules() -> Rules {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/authentik");
    let paths: Vec<_> = RULES.iter().map(|f| dir.join(f)).collect();
    Rules::from_files(&paths).unwrap_or_else(|f| panic!("{}", f.render(100)))
}

/// Facts written as `relation(a, b, 3)` lines, each value read as its column's type.
fn world(facts: &str) -> (Rules, Inputs) {
    let rules = rules();
    let mut inputs = Inputs::new(&rules);
    for line in facts.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (rel, rest) = line.split_once('(').unwrap();
        let args: Vec<&str> = rest
            .trim_end_matches(')')
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        let id = rules
            .program
            .relation(rel)
            .unwrap_or_else(|| panic!("{line}: no such relation"));
        let types = &rules.program.relations[id].types;
        let values: Vec<FactValue> = args
            .iter()
            .zip(types)
            .map(|(a, t)| {
                if *t == Ty::Symbol {
                    FactValue::Sym(a)
                } else {
                    FactValue::Num(a.parse().unwrap())
                }
            })
            .collect();
        inputs
            .add(&rules, rel, &values)
            .unwrap_or_else(|e| panic!("{line}: {e}"));
    }
    (rules, inputs)
}

/// `decide(target, identity, ctx)` under both evaluators (which must agree).
fn decide(facts: &str, target: &str, identity: &str, ctx: &str) -> String {
    let (rules, inputs) = world(facts);
    let mut answers = Vec::new();
    for engine in [Engine::Fast { parallel: false }, Engine::Naive] {
        let e = rules.evaluate(&inputs, engine, Limits::default()).unwrap();
        let rows = e.rows(&rules, "decide").unwrap();
        let vals: Vec<String> = rows
            .into_iter()
            .filter(|r| r[0] == target && r[1] == identity && r[2] == ctx)
            .map(|r| r[3].clone())
            .collect();
        assert_eq!(
            vals.len(),
            1,
            "exactly one decision for {target}/{identity}/{ctx}: {vals:?}"
        );
        answers.push(vals[0].clone());
    }
    assert_eq!(answers[0], answers[1], "evaluators disagree");
    answers.remove(0)
}

fn holds(facts: &str, relation: &str, tuple: &[&str]) -> bool {
    let (rules, inputs) = world(facts);
    let e = rules
        .evaluate(&inputs, Engine::Fast { parallel: false }, Limits::default())
        .unwrap();
    e.rows(&rules, relation).unwrap().iter().any(|r| r == tuple)
}

const PEOPLE: &str = "
    user(1, alice, Alice)
    user(2, bob, Bob)
    group(g-admins, admins)
    group(g-sre, sre)
    group(g-ops, ops)
    group_parent(g-sre, g-admins)
    direct_member(1, g-sre)
    direct_member(2, g-ops)
    application(app, app, App)
";

fn with(extra: &str) -> String {
    format!("{PEOPLE}\n{extra}")
}

#[test]
fn membership_flows_up_the_hierarchy_and_survives_cycles() {
    let f = with("group_parent(g-admins, g-sre)\ngroup_superuser(g-admins)");
    assert!(holds(&f, "member", &["1", "g-admins"]));
    assert!(holds(&f, "member", &["1", "g-sre"]));
    assert!(!holds(&f, "member", &["2", "g-admins"]));
    // Inherited superuser: alice is in sre, a child of the superuser group.
    assert!(holds(&f, "superuser", &["1"]));
    assert!(!holds(&f, "superuser", &["2"]));
}

#[test]
fn group_binding_passes_members_of_descendants_and_fails_anonymous() {
    let f = with(
        "target(app, application, any)\nbinding(b1, app, 0)\nbinding_enabled(b1)\nbinding_group(b1, g-admins)",
    );
    assert_eq!(decide(&f, "app", "1", "app"), "pass");
    assert_eq!(decide(&f, "app", "2", "app"), "fail");
    assert_eq!(decide(&f, "app", "anon", "app"), "fail");
}

#[test]
fn negated_group_binding_fails_members_and_anonymous() {
    let f = with(
        "target(app, application, any)\nbinding(b1, app, 0)\nbinding_enabled(b1)\nbinding_group(b1, g-admins)\nbinding_negate(b1)",
    );
    assert_eq!(decide(&f, "app", "1", "app"), "fail");
    assert_eq!(decide(&f, "app", "2", "app"), "pass");
    assert_eq!(decide(&f, "app", "anon", "app"), "fail");
}

#[test]
fn negated_user_binding_and_the_anonymous_visitor_by_version() {
    let b = "target(app, application, any)\nbinding(b1, app, 0)\nbinding_enabled(b1)\nbinding_user(b1, 1)\nbinding_negate(b1)";
    let now = with(b);
    assert_eq!(decide(&now, "app", "1", "app"), "fail");
    assert_eq!(decide(&now, "app", "2", "app"), "pass");
    assert_eq!(decide(&now, "app", "anon", "app"), "fail");
    let old = with(&format!("{b}\nversion_number(2025, 6, 1)"));
    assert_eq!(decide(&old, "app", "anon", "app"), "pass");
}

#[test]
fn disabled_binding_is_no_binding_and_app_access_setting_decides_the_empty_result() {
    let f = with("target(app, application, any)\nbinding(b1, app, 0)\nbinding_group(b1, g-admins)");
    assert_eq!(decide(&f, "app", "2", "app"), "pass");
    let closed = with("target(app, application, any)\ndefault_app_access(false)");
    assert_eq!(decide(&closed, "app", "1", "app"), "fail");
    let flow = with("target(f1, flow, any)");
    assert_eq!(decide(&flow, "f1", "anon", "flow"), "pass");
}

#[test]
fn modes_any_and_all_with_an_unknown_policy() {
    let bindings = "binding(b1, t, 0)\nbinding_enabled(b1)\nbinding_group(b1, g-admins)\nbinding(b2, t, 1)\nbinding_enabled(b2)\nbinding_policy(b2, expr)\npolicy(expr, expr, authentik_policies_expression.expressionpolicy)";
    let any = with(&format!("target(t, application, any)\n{bindings}"));
    assert_eq!(decide(&any, "t", "1", "app"), "pass");
    assert_eq!(decide(&any, "t", "2", "app"), "unknown");
    let all = with(&format!("target(t, application, all)\n{bindings}"));
    assert_eq!(decide(&all, "t", "1", "app"), "unknown");
    assert_eq!(decide(&all, "t", "2", "app"), "fail");
}

#[test]
fn static_policies_dummy_password_and_crash() {
    let dummy = "target(t, flow_stage_binding, any)\nbinding(b1, t, 0)\nbinding_enabled(b1)\nbinding_policy(b1, p)\npolicy(p, p, authentik_policies_dummy.dummypolicy)";
    let pass = with(&format!(
        "{dummy}\npolicy_dummy(p, 5, 30)\npolicy_dummy_result(p)"
    ));
    assert_eq!(decide(&pass, "t", "anon", "stage_plan"), "pass");
    // Inconsistent waits: an error that fails the binding, negate or not.
    let crash = with(&format!(
        "{dummy}\npolicy_dummy(p, 30, 5)\npolicy_dummy_result(p)\nbinding_negate(b1)"
    ));
    assert_eq!(decide(&crash, "t", "1", "stage_run"), "fail");
    let pw = with(
        "target(t, flow_stage_binding, any)\nbinding(b1, t, 0)\nbinding_enabled(b1)\nbinding_policy(b1, p)\npolicy(p, p, authentik_policies_password.passwordpolicy)",
    );
    assert_eq!(decide(&pw, "t", "1", "stage_plan"), "fail");
    assert_eq!(decide(&pw, "t", "1", "stage_run"), "unknown");
}

#[test]
fn all_mode_bug_window_pools_identity_bindings() {
    let b = "target(t, application, all)\nbinding(b1, t, 0)\nbinding_enabled(b1)\nbinding_group(b1, g-admins)\nbinding(b2, t, 1)\nbinding_enabled(b2)\nbinding_group(b2, g-ops)";
    assert_eq!(decide(&with(b), "t", "1", "app"), "fail");
    let buggy = with(&format!("{b}\nversion_number(2025, 10, 2)"));
    assert_eq!(decide(&buggy, "t", "1", "app"), "pass");
    assert_eq!(decide(&buggy, "t", "anon", "app"), "fail");
}
