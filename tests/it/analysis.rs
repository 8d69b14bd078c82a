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
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn authentiks_default_authentication_flow_for_an_anonymous_visitor() {
    let snap = snapshot::load(
        &crate::snapshot::corpus().join("default"),
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
    // The MFA stage's expression skips it only after a passkey login (`auth_method` is
    // auth_webauthn_pwl); no stage before it offers one, so it always passes.
    assert_eq!(
        stages[2],
        (
            "default-authentication-mfa-validation".into(),
            "shown".into()
        )
    );
    assert_eq!(
        stages[3],
        ("default-authentication-login".into(), "shown".into())
    );
    assert_eq!(stages.len(), 4);
    assert_eq!(plan.applicable, "yes");
    // Only the password stage's policy is left to run time, and the plan names it.
    assert_eq!(plan.deferred.len(), 1, "{:?}", plan.deferred);
    assert!(plan.deferred[0].1.contains("expression policy"));
    assert_eq!(
        plan.deferred_names[0].as_deref(),
        Some("policy default-authentication-flow-password-stage")
    );
    assert!(
        plan.to_text()
            .contains("  policy default-authentication-flow-password-stage: an expression policy"),
        "{}",
        plan.to_text()
    );
}

/// The same flow when its identification stage offers a passkey: the MFA check may then see
/// `auth_method` set, so it is decided at run time, and the reason names the stage.
#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn a_passkey_at_identification_leaves_the_stock_mfa_check_to_run_time() {
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("passkey.yaml");
    std::fs::write(
        &overlay,
        "version: 1\nentries:\n- model: authentik_stages_identification.identificationstage\n  identifiers:\n    name: default-authentication-identification\n  attrs:\n    webauthn_stage: 6e1b2c3d-0000-4000-8000-000000000001\n",
    )
    .unwrap();
    let snap = snapshot::load(
        &crate::snapshot::corpus().join("default"),
        &LoadOptions {
            overlays: vec![overlay],
            ..LoadOptions::default()
        },
    )
    .unwrap()
    .snapshot;
    let model = Model::new(&snap, &Subjects::Only(vec![])).unwrap();
    let plan = model
        .plan("default-authentication-flow", None, None)
        .unwrap();
    assert_eq!(plan.stages[2].visibility, "unknown");
    assert!(
        plan.deferred.iter().any(|(_, why)| why
            == "stage default-authentication-identification before it may set auth_method to auth_webauthn_pwl (a passkey login)"),
        "{:?}",
        plan.deferred
    );
}

/// `explain` says why each stage of the stock login flow has its visibility, in authentik's terms.
#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn explain_on_the_stock_login_flow_says_why_for_each_stage() {
    let corpus = crate::snapshot::corpus().join("default");
    let explain = |stage: &str| {
        let o = assert_cmd::Command::cargo_bin("bindlog")
            .unwrap()
            .args([
                "explain",
                corpus.to_str().unwrap(),
                "--flow",
                "default-authentication-flow",
                "--stage",
                stage,
                "--full",
                "--width",
                "1000",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let ident = explain("default-authentication-identification");
    assert!(ident.contains("\"anon\", \"shown\") holds"), "{ident}");
    assert!(ident.contains("applicable("), "{ident}");
    let password = explain("default-authentication-password");
    assert!(password.contains("\"unknown\") holds"), "{password}");
    assert!(
        password.contains("policy default-authentication-flow-password-stage")
            && password.contains("raw("),
        "the proof reaches the expression policy: {password}"
    );
    let mfa = explain("default-authentication-mfa-validation");
    assert!(mfa.contains("\"anon\", \"shown\") holds"), "{mfa}");
    assert!(
        mfa.contains("placed_raw(") && mfa.contains("rules/authentik/context.dl:"),
        "the proof says the check passes because of where it sits: {mfa}"
    );
    let login = explain("default-authentication-login");
    assert!(login.contains("\"anon\", \"shown\") holds"), "{login}");
}

#[test]
fn cli_plan_and_access_json_forms() {
    let acme = root().join("examples/acme/snapshot.json");
    let run = crate::bindlog;
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
        serde_json::json!({"app": "status-page", "user": "ada.nguyen", "access": "yes", "entitlements": []})
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
    let run = crate::bindlog;
    let base = [
        "explain",
        acme.to_str().unwrap(),
        "--full",
        "--width",
        "1000",
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
            "live(\"policy binding at order 0 on stage binding default-authentication-mfa-validation"
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
    let run = crate::bindlog;
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
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn recognised_expression_bodies_are_decided_statically() {
    // authentik's recovery example gates identification with `return bool(request.context.get(
    // 'is_restored', True))`, which always passes (docs/semantics.md §5): nothing is left to run time.
    let path = crate::snapshot::corpus().join("example/flows-recovery-email-verification.yaml");
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

/// `access` lists the application's entitlements and whether the user holds each, and
/// `explain --app` says why for each; an entitlement naming an application that is not in the
/// snapshot is bad input.
#[test]
fn cli_access_and_explain_show_entitlements() {
    let snap = root().join("tests/cases/application-entitlements/snapshot.json");
    let run = crate::bindlog;
    let base = [
        "access",
        snap.to_str().unwrap(),
        "--app",
        "grafana",
        "--user",
    ];
    let o = run(&[&base[..], &["bob", "--format", "json"]].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["access"], "no");
    let held: Vec<(String, String)> = v["entitlements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["granted"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(held.len(), 7);
    assert!(held.contains(&("bob-only".into(), "yes".into())));
    assert!(held.contains(&("admin".into(), "no".into())));
    let o = run(&[&base[..], &["alice"]].concat());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("alice may open grafana"), "{text}");
    assert!(
        text.contains("entitlements: admin yes, bob-only no"),
        "{text}"
    );
    let o = run(&[
        "explain",
        snap.to_str().unwrap(),
        "--app",
        "grafana",
        "--user",
        "alice",
        "--full",
        "--width",
        "1000",
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("and its entitlements:"), "{text}");
    assert!(
        text.contains("entitled(\"entitlement admin of grafana\", \"user alice\", \"yes\") holds"),
        "{text}"
    );
    assert!(text.contains("rules/authentik/entitlements.dl:"), "{text}");
    // A dangling `app` is reported with the place and what was expected, exit 2.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("snapshot.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&snap).unwrap()).unwrap();
    v["core/application_entitlements"][0]["app"] = serde_json::json!("no-such-app");
    std::fs::write(&bad, v.to_string()).unwrap();
    let o = run(&[
        "access",
        bad.to_str().unwrap(),
        "--app",
        "grafana",
        "--user",
        "bob",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("core~1application_entitlements/0/app") && err.contains("no-such-app"),
        "{err}"
    );
}

/// Entitlements written as blueprint entries (`authentik_core.applicationentitlement`), bound
/// with `!KeyOf`, load and decide like the API form.
#[test]
fn entitlements_from_a_blueprint() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ents.yaml");
    std::fs::write(
        &file,
        r#"version: 1
entries:
- model: authentik_core.group
  id: admins
  identifiers: {name: admins}
- model: authentik_core.user
  identifiers: {username: alice}
  attrs: {name: Alice, groups: [!KeyOf admins]}
- model: authentik_core.user
  identifiers: {username: bob}
  attrs: {name: Bob}
- model: authentik_core.application
  id: app
  identifiers: {slug: wiki}
  attrs: {name: Wiki}
- model: authentik_core.applicationentitlement
  id: editor
  identifiers: {name: editor, app: !KeyOf app}
- model: authentik_policies.policybinding
  identifiers: {target: !KeyOf editor, group: !KeyOf admins, order: 0}
"#,
    )
    .unwrap();
    let snap = snapshot::load(&file, &LoadOptions::default())
        .unwrap()
        .snapshot;
    assert_eq!(snap.entitlements.len(), 1);
    let model = Model::new(&snap, &Subjects::All).unwrap();
    let pk = |name: &str| {
        model
            .rows("user")
            .into_iter()
            .find(|r| r[1] == name)
            .unwrap()[0]
            .clone()
    };
    let held = |user: &str| {
        model.entitlements("wiki", &pk(user)).unwrap()[0]
            .granted
            .clone()
    };
    assert_eq!(held("alice"), "yes");
    assert_eq!(held("bob"), "no");
}

/// The deferred reason of the stock MFA check names the stage that may set `auth_method`, and
/// says when a restart that keeps the context is to blame.
#[test]
fn mfa_check_reasons_name_the_stage_and_the_restart() {
    let load = |case: &str| {
        let snap = snapshot::load(
            &root().join(format!("tests/cases/{case}/snapshot.json")),
            &LoadOptions::default(),
        )
        .unwrap()
        .snapshot;
        let model = Model::new(&snap, &Subjects::Only(vec![])).unwrap();
        model.plan("login", None, None).unwrap().deferred
    };
    let before = load("mfa-check-after-passkey-identification");
    assert!(
        before.iter().any(|(_, why)| why
            == "stage ident before it may set auth_method to auth_webauthn_pwl (a passkey login)"),
        "{before:?}"
    );
    let kept = load("mfa-check-context-kept-across-restart");
    assert!(
        kept.iter().any(|(_, why)| why
            == "a restart keeps the context, in which stage late-ident may have set auth_method to auth_webauthn_pwl"),
        "{kept:?}"
    );
    assert!(
        kept.iter().any(|(_, why)| why
            == "a restart keeps the context, in which a stage of the flow may have set auth_method to auth_webauthn_pwl"),
        "the plan-time check too: {kept:?}"
    );
    assert!(load("mfa-check-passkey-stage-after-it").is_empty());
}

/// A question about one user evaluates the policy engine for that user and the anonymous visitor
/// only, not for everyone: before this, `plan` on a 100,000-user snapshot ran out of 24 GiB.
#[test]
fn one_user_question_decides_bindings_for_that_user_only() {
    let snap = acme();
    let all = Model::new(&snap, &Subjects::All).unwrap();
    let (admin, _) = admin_and_other(&all);
    let one = Model::new(&snap, &Subjects::Only(vec![admin.clone()])).unwrap();
    let identities = |m: &Model, rel: &str, col: usize| -> std::collections::BTreeSet<String> {
        m.rows(rel).into_iter().map(|r| r[col].clone()).collect()
    };
    assert_eq!(identities(&one, "known", 0), [admin.clone()].into());
    let who = identities(&one, "id_pass", 1);
    assert!(who.iter().all(|i| *i == admin || i == "anon"), "{who:?}");
    assert!(who.contains(&admin));
    // Not even membership is computed for other users (at a million users that closure was
    // 14 GB), except the direct members of notification rules' destination groups, whom a
    // rule tells whoever the event is about; the everyone-model decides for all users.
    let told = identities(&all, "rule_recipient", 1);
    assert!(!told.is_empty() && !told.contains(&admin), "{told:?}");
    let mut expected = told.clone();
    expected.insert(admin.clone());
    assert_eq!(identities(&one, "member", 0), expected);
    assert_eq!(identities(&one, "rule_recipient", 1), told);
    assert!(identities(&all, "id_pass", 1).len() > 2);
    // The answers for that user are the same either way.
    for flow in ["default-authentication-flow", "acme-legacy-login"] {
        assert_eq!(
            visibilities(&one, flow, Some(&admin), None),
            visibilities(&all, flow, Some(&admin), None)
        );
    }
}
