//! `plan` and `access` on the example organisation and on authentik's own default blueprints.

use bindlog::analysis::{Model, Subjects};
use bindlog::snapshot::{self, LoadOptions};
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn acme() -> bindlog::snapshot::Snapshot {
    snapshot::load(
        &root().join("examples/acme/snapshot.json"),
        &LoadOptions::default(),
    )
    .unwrap()
    .snapshot
}

const ADMINS: &str = "03c4cd30-c00c-4392-8e85-a98f0389c1de";

/// A member of `authentik Admins` (through any descendant group) and a user who is not.
fn admin_and_other(model: &Model) -> (String, String) {
    let members: Vec<String> = model
        .rows("member")
        .into_iter()
        .filter(|r| r[1] == ADMINS)
        .map(|r| r[0].clone())
        .collect();
    let users: Vec<String> = model
        .rows("user")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let other = users.iter().find(|u| !members.contains(u)).unwrap().clone();
    (members[0].clone(), other)
}

fn visibilities(model: &Model, flow: &str, user: Option<&str>, entry: Option<&str>) -> Vec<String> {
    let plan = model.plan(flow, user.map(|u| (u, u)), entry).unwrap();
    plan.stages
        .iter()
        .map(|s| format!("{} {}", s.order, s.visibility))
        .collect()
}

#[test]
fn default_login_flow_mfa_is_reevaluated_for_the_identified_user() {
    let model = Model::new(&acme(), &Subjects::All).unwrap();
    let (admin, other) = admin_and_other(&model);
    // The anonymous visitor never identifies: the admins binding fails at run time.
    assert_eq!(
        visibilities(&model, "default-authentication-flow", None, None),
        ["10 shown", "20 unknown", "30 skipped", "100 shown"]
    );
    // After identification, the run-time check sees the identified user.
    assert_eq!(
        visibilities(&model, "default-authentication-flow", Some(&admin), None),
        ["10 shown", "20 unknown", "30 shown", "100 shown"]
    );
    assert_eq!(
        visibilities(&model, "default-authentication-flow", Some(&other), None),
        ["10 shown", "20 unknown", "30 skipped", "100 shown"]
    );
    let plan = model
        .plan("default-authentication-flow", Some((&admin, "admin")), None)
        .unwrap();
    assert_eq!(plan.entry, "anonymous");
    assert_eq!(plan.applicable, "yes");
    assert_eq!(plan.deferred.len(), 1);
    assert!(plan.deferred[0].1.contains("expression policy"));
}

#[test]
fn plan_time_group_check_drops_mfa_for_everyone_entering_anonymously() {
    let model = Model::new(&acme(), &Subjects::All).unwrap();
    let (admin, _) = admin_and_other(&model);
    // evaluate_on_plan with a group binding: at plan time the visitor is still anonymous.
    assert_eq!(
        visibilities(&model, "acme-legacy-login", Some(&admin), None)[2],
        "30 skipped"
    );
    // A logged-in admin entering the same flow is planned as themselves.
    assert_eq!(
        visibilities(
            &model,
            "acme-legacy-login",
            Some(&admin),
            Some("authenticated")
        )[2],
        "30 shown"
    );
}

#[test]
fn an_app_without_bindings_is_open_to_everyone() {
    let model = Model::new(&acme(), &Subjects::All).unwrap();
    let (admin, other) = admin_and_other(&model);
    let bound: Vec<String> = model
        .rows("live")
        .into_iter()
        .map(|r| r[1].clone())
        .collect();
    let open: Vec<String> = model
        .rows("application")
        .into_iter()
        .filter(|r| !bound.contains(&r[0]))
        .map(|r| r[1].clone())
        .collect();
    assert!(
        !open.is_empty(),
        "the example has an application without bindings"
    );
    for app in &open {
        assert_eq!(model.access(app, &admin).unwrap(), "yes");
        assert_eq!(model.access(app, &other).unwrap(), "yes");
    }
    assert!(
        model
            .access("no-such-app", &admin)
            .unwrap_err()
            .contains("no application")
    );
}

#[test]
fn authentiks_default_authentication_flow_for_an_anonymous_visitor() {
    let snap = snapshot::load(
        &root().join("../shared/corpus/authentik-blueprints/default"),
        &LoadOptions::default(),
    )
    .unwrap()
    .snapshot;
    let model = Model::new(&snap, &Subjects::Only(vec![])).unwrap();
    let plan = model
        .plan("default-authentication-flow", None, None)
        .unwrap();
    let stages: Vec<(String, String)> = plan
        .stages
        .iter()
        .map(|s| (s.stage.clone(), s.visibility.clone()))
        .collect();
    assert_eq!(
        stages[0],
        (
            "default-authentication-identification".into(),
            "shown".into()
        )
    );
    // The password stage is gated by an expression policy: decided at run time.
    assert_eq!(
        stages[1],
        ("default-authentication-password".into(), "unknown".into())
    );
    // In this version of the blueprint the MFA stage carries an expression policy too.
    assert_eq!(
        stages[2],
        (
            "default-authentication-mfa-validation".into(),
            "unknown".into()
        )
    );
    assert_eq!(
        stages[3],
        ("default-authentication-login".into(), "shown".into())
    );
    assert_eq!(plan.deferred.len(), 2);
}

#[test]
fn cli_plan_and_access_json_forms() {
    let acme = root().join("examples/acme/snapshot.json");
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("bindlog")
            .unwrap()
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&[
        "plan",
        acme.to_str().unwrap(),
        "--flow",
        "default-authentication-flow",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["flow"], "default-authentication-flow");
    assert_eq!(v["user"], serde_json::Value::Null);
    assert_eq!(v["entry"], "anonymous");
    assert_eq!(v["applicable"], "yes");
    let stages = v["stages"].as_array().unwrap();
    assert_eq!(stages.len(), 4);
    assert_eq!(stages[0]["order"], 10);
    assert_eq!(stages[0]["evaluated"], serde_json::json!(["run"]));
    assert!(
        stages
            .iter()
            .all(|s| s["binding"].as_str().is_some_and(|b| !b.is_empty()))
    );
    assert_eq!(v["deferred"].as_array().unwrap().len(), 1);
    let o = run(&[
        "access",
        acme.to_str().unwrap(),
        "--app",
        "status-page",
        "--user",
        "ada.nguyen",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"app": "status-page", "user": "ada.nguyen", "access": "yes"})
    );
    let o = run(&["plan", acme.to_str().unwrap(), "--flow", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no flow with the slug `nope`"));
    let o = run(&[
        "plan",
        acme.to_str().unwrap(),
        "--flow",
        "default-authentication-flow",
        "--user",
        "nobody",
    ]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_explain_proves_down_to_the_membership_that_made_the_binding_pass() {
    let acme = root().join("examples/acme/snapshot.json");
    let model = Model::new(&acme_snapshot_for_cli(), &Subjects::All).unwrap();
    let (admin, other) = admin_and_other(&model);
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("bindlog")
            .unwrap()
            .args(args)
            .output()
            .unwrap()
    };
    let base = [
        "explain",
        acme.to_str().unwrap(),
        "--flow",
        "default-authentication-flow",
        "--stage",
        "default-authentication-mfa-validation",
        "--user",
    ];
    let o = run(&[&base[..], &[admin.as_str()]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"shown\") holds"), "{text}");
    assert!(
        text.contains("rules/authentik/engine.dl:"),
        "every step names its rule: {text}"
    );
    assert!(
        text.contains("member(\"user ") && text.contains("\"group authentik Admins\")"),
        "{text}"
    );
    // For a user outside the group the stage is skipped, and the proof names the failing binding.
    let o = run(&[&base[..], &[other.as_str()]].concat());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("\"skipped\") holds"), "{text}");
    assert!(
        text.contains(
            "live(\"policy binding 0 on stage binding default-authentication-mfa-validation"
        ),
        "{text}"
    );
    assert!(
        text.contains("binding_group(") && text.contains("\"group authentik Admins\")"),
        "{text}"
    );
    let o = run(&[
        "explain",
        acme.to_str().unwrap(),
        "--app",
        "status-page",
        "--user",
        &admin,
        "--format",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["holds"], true);
    assert_eq!(
        v["rule"]["location"].as_str().unwrap().split(':').next(),
        Some("rules/authentik/engine.dl")
    );
}

fn acme_snapshot_for_cli() -> bindlog::snapshot::Snapshot {
    acme()
}

#[test]
fn cli_deferred_and_query() {
    let acme = root().join("examples/acme/snapshot.json");
    let run = |args: &[&str]| {
        assert_cmd::Command::cargo_bin("bindlog")
            .unwrap()
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["deferred", acme.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    let password = rows
        .iter()
        .find(|r| r["flow"] == "default-authentication-flow")
        .unwrap();
    assert_eq!(password["users"], 300);
    assert_eq!(password["anonymous"], true);
    assert!(password["reason"].as_str().unwrap().contains("expression"));
    let dir = tempfile::tempdir().unwrap();
    let mine = dir.path().join("mine.dl");
    std::fs::write(&mine, ".decl superusers(n: number)\n.output superusers\nsuperusers(C) :- C = count : { superuser(_) }.\n").unwrap();
    let o = run(&[
        "query",
        acme.to_str().unwrap(),
        "--rules",
        mine.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let model = Model::new(&acme_snapshot_for_cli(), &Subjects::All).unwrap();
    let expected = model.rows("superuser").len();
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("===============\n{expected}\n")));
    std::fs::write(&mine, ".decl broken(x: symbol)\nbroken(x) :- nosuch(x).\n").unwrap();
    let o = run(&[
        "query",
        acme.to_str().unwrap(),
        "--rules",
        mine.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("relation `nosuch` is not declared"));
}

#[test]
fn recognised_expression_bodies_are_decided_statically() {
    // authentik's recovery example gates identification with `return bool(request.context.get(
    // 'is_restored', True))`, which always passes (semantics §5): nothing is left to run time.
    let path = root().join(
        "../shared/corpus/authentik-blueprints/example/flows-recovery-email-verification.yaml",
    );
    let snap = snapshot::load(&path, &LoadOptions::default())
        .unwrap()
        .snapshot;
    let model = Model::new(&snap, &Subjects::Only(vec![])).unwrap();
    let plan = model.plan("default-recovery-flow", None, None).unwrap();
    assert_eq!(plan.stages[0].stage, "default-recovery-identification");
    assert_eq!(plan.stages[0].visibility, "shown");
    assert!(plan.deferred.is_empty(), "{:?}", plan.deferred);
}

#[test]
fn without_a_user_the_visitor_arrives_anonymously() {
    let model = Model::new(&acme(), &Subjects::Only(vec![])).unwrap();
    // An invalidation flow is entered logged in by default; an anonymous visitor has no session.
    let plan = model.plan("default-invalidation-flow", None, None).unwrap();
    assert_eq!(plan.entry, "anonymous");
    assert!(
        model
            .plan("default-invalidation-flow", None, Some("authenticated"))
            .unwrap_err()
            .contains("needs a user")
    );
}
