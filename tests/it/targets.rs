//! The binding targets beyond flows and applications: each finding of `rules/audit/{
//! notifications,devices,sources,providers}.dl` fires on a small snapshot and not on a
//! near-identical one; bad input about them is located; `fetch` asks for the full RAC list.

use bindlog::audit::{self, AuditOptions, Finding};
use bindlog::snapshot::{self, LoadOptions};
use serde_json::{Value, json};

/// alice (staff), bob (admins), carol (oncall, a child of admins); authentik 2026.2.1.
fn base() -> Value {
    json!({
        "meta": {"version": "2026.2.1"},
        "core/users": [
            {"pk": 1, "username": "alice", "groups": ["g-staff"]},
            {"pk": 2, "username": "bob", "groups": ["g-admins"]},
            {"pk": 3, "username": "carol", "groups": ["g-oncall"]}
        ],
        "core/groups": [
            {"pk": "g-staff", "name": "staff"},
            {"pk": "g-admins", "name": "admins"},
            {"pk": "g-oncall", "name": "oncall", "parents": ["g-admins"]}
        ],
        "flows/instances": [], "flows/bindings": [], "stages/all": [],
        "policies/all": [], "policies/bindings": []
    })
}

fn bind(pk: &str, target: &str, field: &str, v: Value) -> Value {
    let mut b = json!({"pk": pk, "target": target, "policy": null, "group": null, "user": null,
        "negate": false, "enabled": true, "order": 0, "timeout": 30, "failure_result": false});
    b[field] = v;
    b
}

fn load(v: &Value) -> Result<snapshot::Loaded, snapshot::SnapshotErrors> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("snapshot.json");
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    snapshot::load(&p, &LoadOptions::default())
}

fn findings(v: &Value) -> Vec<Finding> {
    let loaded = load(v).unwrap_or_else(|e| panic!("{:?}", e.problems));
    let options = AuditOptions {
        explain: false,
        ..AuditOptions::default()
    };
    audit::audit(&loaded.snapshot, &options).unwrap()
}

/// The first objects (kind/pk) of rule `id`'s findings.
fn fired(v: &Value, id: &str) -> Vec<String> {
    findings(v)
        .into_iter()
        .filter(|f| f.rule == id)
        .map(|f| format!("{}/{}", f.objects[0].kind, f.objects[0].pk))
        .collect()
}

/// A notification rule on login_failed events, with transport `t` (or none) and group `g`.
fn notifying(transports: Value, group: &str) -> Value {
    let mut s = base();
    s["policies/all"] = json!([{"pk": "m1", "name": "m1", "meta_model_name": "authentik_policies_event_matcher.eventmatcherpolicy", "action": "login_failed"}]);
    s["policies/bindings"] = json!([bind("b1", "r1", "policy", json!("m1"))]);
    s["events/transports"] = json!([{"pk": "t1", "name": "mail", "mode": "email"}]);
    s["events/rules"] = json!([{"pk": "r1", "name": "failed", "transports": transports, "destination_group": group}]);
    s
}

#[test]
fn n01_security_events_nobody_hears_about() {
    let watched = notifying(json!(["t1"]), "g-admins");
    let got = fired(&watched, "AK-N01");
    assert!(
        !got.contains(&"event_action/login_failed".to_string()),
        "{got:?}"
    );
    assert!(
        got.contains(&"event_action/suspicious_request".to_string()),
        "{got:?}"
    );
    // A group with no direct member reaches nobody, so the action is unwatched again.
    let nobody = notifying(json!(["t1"]), "g-staff");
    let mut s = nobody.clone();
    s["core/users"][0]["groups"] = json!([]);
    assert!(fired(&s, "AK-N01").contains(&"event_action/login_failed".to_string()));
}

#[test]
fn n02_rule_without_transport() {
    assert_eq!(
        fired(&notifying(json!([]), "g-admins"), "AK-N02"),
        ["notification_rule/r1"]
    );
    assert!(fired(&notifying(json!(["t1"]), "g-admins"), "AK-N02").is_empty());
}

#[test]
fn n03_destination_group_with_members_only_in_child_groups() {
    // bob is a direct member of admins: he is told.
    assert!(fired(&notifying(json!(["t1"]), "g-admins"), "AK-N03").is_empty());
    // Without bob, admins has carol only, through its child group oncall: nobody is told.
    let mut s = notifying(json!(["t1"]), "g-admins");
    s["core/users"][1]["groups"] = json!(["g-staff"]);
    let f: Vec<Finding> = findings(&s)
        .into_iter()
        .filter(|f| f.rule == "AK-N03")
        .collect();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].objects[0].pk, "r1");
    assert!(
        f[0].objects
            .iter()
            .any(|o| o.kind == "group" && o.pk == "g-admins")
    );
    assert!(f[0].message.contains("1 member"), "{}", f[0].message);
    // A group with no member at all is AK-N01's concern (nobody is told), not this one's.
    let mut s = notifying(json!(["t1"]), "g-staff");
    s["core/users"][0]["groups"] = json!([]);
    assert!(fired(&s, "AK-N03").is_empty());
}

fn devices(bound: bool) -> Value {
    let mut s = base();
    s["endpoints/device_access_groups"] = json!([{"pbm_uuid": "dg", "name": "laptops"}]);
    s["endpoints/devices"] = json!([{"device_uuid": "d1", "name": "kiosk", "access_group": "dg"}]);
    if bound {
        s["policies/bindings"] = json!([bind("b1", "dg", "group", json!("g-staff"))]);
    }
    s
}

#[test]
fn e01_device_nobody_can_log_in_on() {
    assert_eq!(fired(&devices(false), "AK-E01"), ["device/d1"]);
    assert!(fired(&devices(true), "AK-E01").is_empty());
}

#[test]
fn s01_source_bindings_are_not_access_control() {
    let mut s = base();
    s["sources/all"] = json!([{"pk": "s1", "slug": "github", "name": "GitHub", "meta_model_name": "authentik_sources_oauth.oauthsource"}]);
    assert!(fired(&s, "AK-S01").is_empty());
    s["policies/bindings"] = json!([bind("b1", "s1", "group", json!("g-staff"))]);
    assert_eq!(fired(&s, "AK-S01"), ["source/s1"]);
}

fn ldap(stage_kind: &str) -> Value {
    let mut s = base();
    s["flows/instances"] = json!([{"pk": "f1", "slug": "bind", "designation": "authentication"}]);
    s["stages/all"] = json!([
        {"pk": "s-id", "name": "identify", "meta_model_name": "authentik_stages_identification.identificationstage"},
        {"pk": "s-x", "name": "extra", "meta_model_name": stage_kind}
    ]);
    s["flows/bindings"] = json!([
        {"pk": "x1", "target": "f1", "stage": "s-id", "order": 10},
        {"pk": "x2", "target": "f1", "stage": "s-x", "order": 20}
    ]);
    s["core/applications"] = json!([{"pk": "a1", "slug": "dir", "provider": 5}]);
    s["providers/all"] = json!([{"pk": 5, "name": "ldap", "meta_model_name": "authentik_providers_ldap.ldapprovider", "authorization_flow": "f1"}]);
    s
}

#[test]
fn l01_bind_flow_stage_the_outpost_cannot_answer() {
    assert_eq!(
        fired(&ldap("authentik_stages_captcha.captchastage"), "AK-L01"),
        ["provider/5"]
    );
    assert!(fired(&ldap("authentik_stages_password.passwordstage"), "AK-L01").is_empty());
}

fn rac(bound: bool) -> Value {
    let mut s = base();
    s["core/applications"] = json!([
        {"pk": "a1", "slug": "desktops", "provider": 7},
        {"pk": "a2", "slug": "lab", "provider": 8}
    ]);
    s["providers/all"] = json!([
        {"pk": 7, "name": "rac-a", "meta_model_name": "authentik_providers_rac.racprovider"},
        {"pk": 8, "name": "rac-b", "meta_model_name": "authentik_providers_rac.racprovider"}
    ]);
    s["rac/endpoints"] = json!([{"pk": "e1", "name": "db", "provider": 7}]);
    if bound {
        s["policies/bindings"] = json!([bind("b1", "e1", "group", json!("g-admins"))]);
    }
    s
}

#[test]
fn r01_rac_launch_not_tied_to_the_provider() {
    let open = findings(&rac(false));
    let f: Vec<&Finding> = open.iter().filter(|f| f.rule == "AK-R01").collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, audit::Severity::High);
    let bound = findings(&rac(true));
    let f: Vec<&Finding> = bound.iter().filter(|f| f.rule == "AK-R01").collect();
    assert_eq!(f[0].severity, audit::Severity::Medium);
    // With one RAC provider there is no other application to launch it through.
    let mut alone = rac(false);
    alone["core/applications"] = json!([{"pk": "a1", "slug": "desktops", "provider": 7}]);
    assert!(fired(&alone, "AK-R01").is_empty());
}

fn login_paths(provider_flow: &str) -> Value {
    let mut s = base();
    s["flows/instances"] = json!([
        {"pk": "f-main", "slug": "main", "designation": "authentication"},
        {"pk": "f-quick", "slug": "quick", "designation": "authentication"}
    ]);
    s["stages/all"] = json!([
        {"pk": "s-id", "name": "identify", "meta_model_name": "authentik_stages_identification.identificationstage"},
        {"pk": "s-mfa", "name": "mfa", "meta_model_name": "authentik_stages_authenticator_validate.authenticatorvalidatestage", "not_configured_action": "deny"}
    ]);
    s["flows/bindings"] = json!([
        {"pk": "x1", "target": "f-main", "stage": "s-id", "order": 10},
        {"pk": "x2", "target": "f-main", "stage": "s-mfa", "order": 20},
        {"pk": "x3", "target": "f-quick", "stage": "s-id", "order": 10}
    ]);
    s["core/brands"] = json!([{"brand_uuid": "br", "domain": "auth.example", "default": true, "flow_authentication": "f-main"}]);
    s["core/applications"] = json!([{"pk": "a1", "slug": "wiki", "provider": 1}]);
    s["providers/all"] = json!([{"pk": 1, "name": "wiki", "meta_model_name": "authentik_providers_oauth2.oauth2provider", "authentication_flow": provider_flow}]);
    s
}

#[test]
fn m07_login_path_without_the_brands_mfa() {
    assert_eq!(fired(&login_paths("f-quick"), "AK-M07"), ["application/a1"]);
    assert!(fired(&login_paths("f-main"), "AK-M07").is_empty());
    // The provider's flow is reachable: AK-M01 names it, with the provider.
    let m01: Vec<Finding> = findings(&login_paths("f-quick"))
        .into_iter()
        .filter(|f| f.rule == "AK-M01")
        .collect();
    assert!(m01.iter().any(|f| f.objects[0].pk == "f-quick"
        && f.objects.iter().any(|o| o.kind == "provider")));
}

#[test]
fn bad_target_input_is_located_and_a_missing_flow_is_a_warning() {
    let mut s = base();
    s["events/rules"] = json!([{"pk": "r1", "name": 5}]);
    let text = format!("{:?}", load(&s).unwrap_err().problems);
    assert!(text.contains("/events~1rules/0/name"), "{text}");
    let mut s = base();
    s["endpoints/devices"] =
        json!([{"device_uuid": "d1", "name": "kiosk", "access_group": "nope"}]);
    let text = format!("{:?}", load(&s).unwrap_err().problems);
    assert!(
        text.contains("access_group") && text.contains("nope"),
        "{text}"
    );
    let mut s = base();
    s["providers/all"] = json!([{"pk": 1, "name": "wiki", "authentication_flow": "gone"}]);
    let loaded = load(&s).unwrap();
    let w: Vec<String> = loaded
        .report
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect();
    assert!(
        w.iter().any(|w| w.contains("wiki") && w.contains("gone")),
        "{w:?}"
    );
}

#[test]
fn device_user_bindings_listed_twice_count_once() {
    let mut s = devices(false);
    let b = bind("db1", "d1", "user", json!(1));
    s["policies/bindings"] = json!([b.clone()]);
    s["endpoints/device_bindings"] = json!([b]);
    let loaded = load(&s).unwrap();
    assert_eq!(loaded.snapshot.policy_bindings.len(), 1);
    assert!(fired(&s, "AK-E01").is_empty());
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn stock_blueprints_get_no_finding_about_a_new_target_object() {
    let corpus = crate::snapshot::corpus();
    let loaded = snapshot::load(&corpus.join("default"), &LoadOptions::default()).unwrap();
    assert_eq!(loaded.snapshot.notification_rules.len(), 4);
    let options = AuditOptions {
        explain: false,
        ..AuditOptions::default()
    };
    let f = audit::audit(&loaded.snapshot, &options).unwrap();
    for x in &f {
        let new = [
            "AK-N02", "AK-N03", "AK-E01", "AK-S01", "AK-L01", "AK-R01", "AK-M07",
        ];
        assert!(!new.contains(&x.rule.as_str()), "{} {}", x.rule, x.message);
    }
    // No stock rule watches failed logins.
    let n01: Vec<&str> = f
        .iter()
        .filter(|x| x.rule == "AK-N01")
        .map(|x| x.objects[0].pk.as_str())
        .collect();
    assert!(n01.contains(&"login_failed"), "{n01:?}");
}

/// Writes `v` as a snapshot file in a fresh directory (kept alive by the returned guard).
fn written(v: &Value) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("snapshot.json");
    std::fs::write(&p, serde_json::to_string(v).unwrap()).unwrap();
    let p = p.display().to_string();
    (dir, p)
}

/// Provider pk 5 and user pk 5 both exist: explain names each value after its column's kind.
#[test]
fn explain_names_a_provider_pk_equal_to_a_user_pk_as_the_provider() {
    let mut s = ldap("authentik_stages_password.passwordstage");
    s["core/users"][0]["pk"] = json!(5);
    s["policies/bindings"] = json!([bind("b1", "a1", "user", json!(5))]);
    let (_dir, path) = written(&s);
    let out = crate::bindlog(&[
        "explain",
        &path,
        "--provider",
        "ldap",
        "--user",
        "alice",
        "--width",
        "200",
    ]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.starts_with("can alice bind through provider ldap: yes"),
        "{text}"
    );
    assert!(
        text.contains("bind_access(\"provider ldap\", \"user alice\", \"yes\")"),
        "{text}"
    );
    assert!(!text.contains("\"user alice\", \"user alice\""), "{text}");
    assert!(
        text.contains("application_provider(\"application dir\", \"provider ldap\")"),
        "{text}"
    );
    let out = crate::bindlog(&[
        "explain",
        &path,
        "--provider",
        "5",
        "--user",
        "5",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["labels"]["5"], "provider ldap");
    assert_eq!(v["user_labels"]["5"], "user alice");
}

/// `who` with these arguments after the snapshot: stdout, asserting success.
fn who(v: &Value, args: &[&str]) -> String {
    let (_dir, path) = written(v);
    let out = crate::bindlog(&[&["who", &path][..], args].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn who_may_open_a_rac_endpoint_in_full() {
    // The application is open to everyone; the endpoint admits admins (carol through oncall).
    let s = rac(true);
    assert_eq!(who(&s, &["--endpoint", "db"]), "bob\ncarol\n");
    assert_eq!(who(&s, &["--endpoint", "e1", "--access", "no"]), "alice\n");
    // The application's own bindings count too: only staff may open it, so nobody opens db.
    let mut s = rac(true);
    s["policies/bindings"].as_array_mut().unwrap().push(bind(
        "b2",
        "a1",
        "group",
        json!("g-staff"),
    ));
    assert_eq!(who(&s, &["--endpoint", "db"]), "");
    assert_eq!(
        who(&s, &["--endpoint", "db", "--access", "no", "--count"]),
        "3\n"
    );
}

#[test]
fn who_can_bind_through_an_ldap_provider() {
    let mut s = ldap("authentik_stages_password.passwordstage");
    s["policies/bindings"] = json!([bind("b1", "a1", "group", json!("g-staff"))]);
    assert_eq!(who(&s, &["--provider", "ldap"]), "alice\n");
    assert_eq!(
        who(&s, &["--provider", "5", "--access", "no"]),
        "bob\ncarol\n"
    );
    // A stage the outpost cannot answer fails every bind it is shown in.
    let mut s = ldap("authentik_stages_captcha.captchastage");
    s["policies/bindings"] = json!([bind("b1", "a1", "group", json!("g-staff"))]);
    assert_eq!(who(&s, &["--provider", "ldap"]), "");
    // A provider of another type has no binds: refused, with exit status 2.
    let (_dir, path) = written(&rac(false));
    let out = crate::bindlog(&["who", &path, "--provider", "rac-a"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither an LDAP nor a RADIUS"));
}

#[test]
fn who_notifies_names_the_rules_and_actions_that_reach_a_user() {
    let s = notifying(json!(["t1"]), "g-admins");
    let v: Value = serde_json::from_str(&who(&s, &["--notifies", "bob"])).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["rule"], "failed");
    assert_eq!(v[0]["told_as"], json!(["destination_group"]));
    assert_eq!(
        v[0]["actions"],
        json!([{"action": "login_failed", "as_member": "yes", "as_event_user": "no"}])
    );
    // carol is in admins only through its child group: authentik tells direct members only.
    assert_eq!(who(&s, &["--notifies", "carol"]), "[]\n");
    assert_eq!(who(&s, &["--notifies", "alice", "--count"]), "0\n");
    // With destination_event_user, alice is told of her own failed logins.
    let mut s = notifying(json!(["t1"]), "g-admins");
    s["events/rules"][0]["destination_event_user"] = json!(true);
    let v: Value = serde_json::from_str(&who(&s, &["--notifies", "alice"])).unwrap();
    assert_eq!(v[0]["told_as"], json!(["event_user"]));
    assert_eq!(
        v[0]["actions"],
        json!([{"action": "login_failed", "as_member": "no", "as_event_user": "yes"}])
    );
    // Without a transport nobody is told, as a member or as the event's user.
    let s = notifying(json!([]), "g-admins");
    assert_eq!(who(&s, &["--notifies", "bob"]), "[]\n");
}

/// An event without a user is evaluated for authentik's AnonymousUser, who is in no group. A rule
/// bound only to a negated group that every user is in fires for such events alone: the
/// every-user audit counts it, as the per-user evaluation does (AK-N01 stays quiet), and
/// `who --notifies` says its members are told.
#[test]
fn a_rule_that_fires_only_for_events_without_a_user_notifies() {
    let mut s = notifying(json!(["t1"]), "g-admins");
    for (i, groups) in [
        json!(["g-staff"]),
        json!(["g-admins", "g-staff"]),
        json!(["g-oncall", "g-staff"]),
    ]
    .into_iter()
    .enumerate()
    {
        s["core/users"][i]["groups"] = groups;
    }
    let mut negated = bind("b1", "r1", "group", json!("g-staff"));
    negated["negate"] = json!(true);
    s["policies/bindings"] = json!([negated]);
    let got = fired(&s, "AK-N01");
    assert!(
        !got.contains(&"event_action/login_failed".to_string()),
        "{got:?}"
    );
    let loaded = load(&s).unwrap();
    let options = AuditOptions::default();
    let reference = audit::evaluate_per_user(&loaded.snapshot, &[]).unwrap();
    let want: Vec<String> = audit::findings_of(&reference, &loaded.snapshot, &options)
        .unwrap()
        .findings
        .into_iter()
        .filter(|f| f.rule == "AK-N01")
        .map(|f| format!("{}/{}", f.objects[0].kind, f.objects[0].pk))
        .collect();
    assert_eq!(got, want);
    // The control: bound to a group nobody is in, the rule fires for no event (no user is a
    // member, nor is the anonymous one), and login_failed is unwatched.
    let mut nobody = s.clone();
    nobody["policies/bindings"] = json!([bind("b1", "r1", "group", json!("g-none"))]);
    nobody["core/groups"]
        .as_array_mut()
        .unwrap()
        .push(json!({"pk": "g-none", "name": "none"}));
    assert!(
        fired(&nobody, "AK-N01").contains(&"event_action/login_failed".to_string()),
        "a rule that fires for no event leaves login_failed unwatched"
    );
    let v: Value = serde_json::from_str(&who(&s, &["--notifies", "bob"])).unwrap();
    let failed = v[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "login_failed")
        .cloned();
    assert_eq!(
        failed.map(|a| a["as_member"].clone()),
        Some(json!("yes")),
        "{v}"
    );
}

/// `analyze --targets` evaluates once: the targets' evaluation by scope also gives the summary
/// (one component evaluation where there were two), and the summary's counts and the targets'
/// are those of the separate evaluations (`analyze`, and `--by group --targets`, which still
/// evaluates each on its own).
#[test]
fn analyze_targets_shares_one_evaluation_with_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.json");
    let path = file.to_str().unwrap();
    let o = crate::bindlog(&["generate", "--users", "400", "--targets", "-o", path]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = |o: &std::process::Output| {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    // Everything after the first line (which counts the identity classes evaluated).
    let after_first = |t: &str| t.split_once('\n').map(|(_, r)| r.to_string()).unwrap();
    let plain = after_first(&stdout(&crate::bindlog(&["analyze", path])));
    let shared = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .env("BINDLOG_TIMINGS", "1")
        .args(["analyze", path, "--targets", "--no-progress"])
        .output()
        .unwrap();
    let timings = String::from_utf8_lossy(&shared.stderr).to_string();
    let shared = after_first(&stdout(&shared));
    let targets = shared
        .strip_prefix(&plain)
        .unwrap_or_else(|| panic!("the summary differs:\n{shared}\n---\n{plain}"));
    assert!(
        targets.contains("RAC endpoints (who may open them"),
        "{targets}"
    );
    let separate = after_first(&stdout(&crate::bindlog(&[
        "analyze",
        path,
        "--targets",
        "--by",
        "group",
    ])));
    let separate = separate.strip_prefix(&plain).unwrap();
    assert!(
        separate.starts_with(targets) && separate[targets.len()..].starts_with("\n== group"),
        "{separate}"
    );
    let evaluations = timings
        .lines()
        .filter(|l| l.starts_with("timing: components:"))
        .count();
    assert_eq!(evaluations, 1, "{timings}");
}

/// `who --notified-of` on the command line: per rule, whether it fires for the event and who is
/// told: the destination group's direct members (not carol, in a child group), plus the event's
/// user where `destination_event_user` is set (the anonymous user for an event without one).
#[test]
fn who_notified_of_names_the_direct_members_and_the_event_user() {
    let mut s = notifying(json!(["t1"]), "g-admins");
    let rules = |args: &[&str]| -> Value {
        serde_json::from_str(&who(
            &s,
            &[&["--notified-of", "login_failed"][..], args].concat(),
        ))
        .unwrap()
    };
    let v = rules(&["--event-user", "alice"]);
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["rule"], "failed");
    assert_eq!(v[0]["fires"], "yes");
    assert_eq!(v[0]["notified"], json!(["bob"]));
    assert_eq!(v[0]["transports"], json!(["mail"]));
    s["events/rules"][0]["destination_event_user"] = json!(true);
    let rules = |args: &[&str]| -> Value {
        serde_json::from_str(&who(
            &s,
            &[&["--notified-of", "login_failed"][..], args].concat(),
        ))
        .unwrap()
    };
    assert_eq!(
        rules(&["--event-user", "alice"])[0]["notified"],
        json!(["alice", "bob"])
    );
    assert_eq!(
        rules(&["--anonymous"])[0]["notified"],
        json!(["anonymous", "bob"])
    );
    // Another action: the event matcher does not match, the rule does not fire.
    let v: Value =
        serde_json::from_str(&who(&s, &["--notified-of", "model_created", "--anonymous"])).unwrap();
    assert!(
        v.as_array().unwrap().iter().all(|r| r["fires"] == "no"),
        "{v}"
    );
}

/// `check` says which questions need target endpoints the snapshot lacks (an older authentik, or
/// an endpoint left out), and says nothing of the kind when they are there.
#[test]
fn check_names_the_questions_that_need_endpoints_the_snapshot_lacks() {
    let (_dir, path) = written(&base());
    let out = crate::bindlog(&["check", &path]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("questions this snapshot cannot answer:"),
        "{text}"
    );
    for (question, endpoint) in [
        ("who --notified-of", "events/rules"),
        ("access --endpoint", "rac/endpoints"),
        ("access --device, who --device", "endpoints/devices"),
        ("access --source", "sources/all"),
        ("access --provider", "providers/all"),
        ("plan --host", "core/brands"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.contains(question) && l.contains(&format!("`{endpoint}`"))),
            "{question} / {endpoint}:\n{text}"
        );
    }
    // The example has every one of them.
    let example = crate::bulk::root().join("examples/acme/snapshot.json");
    let out = crate::bindlog(&["check", example.to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains("cannot answer"), "{text}");
}

/// The other binding targets read from a blueprint, as an administrator writes them: a device
/// access group and a device with a user binding, a notification rule with its transport and
/// event matcher, a RAC provider, its application and an endpoint bound to a group. Every
/// question about them is answered from the blueprint as from the API's JSON.
#[test]
fn every_binding_target_reads_from_a_blueprint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.yaml");
    std::fs::write(&path, BLUEPRINT_WITH_TARGETS).unwrap();
    let path = path.to_str().unwrap();
    let run = |args: &[&str]| {
        let out = crate::bindlog(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let check = run(&["check", path]);
    for endpoint in [
        "events/rules",
        "rac/endpoints",
        "endpoints/devices",
        "providers/all",
    ] {
        assert!(
            !check.contains(&format!("`{endpoint}`")),
            "{endpoint}:\n{check}"
        );
    }
    // alice through the access group's group binding, bob through the device's user binding.
    let alice = run(&[
        "access",
        path,
        "--device",
        "alice-laptop",
        "--user",
        "alice",
    ]);
    assert!(
        alice.contains("access: yes") && alice.contains("group_result: yes"),
        "{alice}"
    );
    assert!(alice.contains("device_result: no"), "{alice}");
    let bob = run(&["access", path, "--device", "alice-laptop", "--user", "bob"]);
    assert!(
        bob.contains("device_result: yes") && bob.contains("group_result: no"),
        "{bob}"
    );
    assert_eq!(
        run(&["who", path, "--device", "alice-laptop"]),
        "alice\nbob\n"
    );
    // The rule tells the direct members of admins of failed logins.
    let told: Value = serde_json::from_str(&run(&[
        "who",
        path,
        "--notified-of",
        "login_failed",
        "--anonymous",
    ]))
    .unwrap();
    assert_eq!(told[0]["rule"], "tell-admins");
    assert_eq!(told[0]["notified"], json!(["bob"]));
    assert_eq!(told[0]["transports"], json!(["mail"]));
    // The endpoint admits admins; its application is open to everyone.
    let endpoint = run(&["access", path, "--endpoint", "db", "--user", "bob"]);
    assert!(
        endpoint.contains("endpoint_access: yes") && endpoint.contains("access: yes"),
        "{endpoint}"
    );
    let endpoint = run(&["access", path, "--endpoint", "db", "--user", "alice"]);
    assert!(endpoint.contains("endpoint_access: no"), "{endpoint}");
    assert_eq!(run(&["who", path, "--endpoint", "db"]), "bob\n");
}

const BLUEPRINT_WITH_TARGETS: &str = r#"version: 1
metadata:
  name: targets
entries:
  - model: authentik_core.group
    id: admins
    identifiers: {name: admins}
  - model: authentik_core.group
    id: staff
    identifiers: {name: staff}
  - model: authentik_core.user
    id: alice
    identifiers: {username: alice}
    attrs: {name: Alice, groups: [!KeyOf staff]}
  - model: authentik_core.user
    id: bob
    identifiers: {username: bob}
    attrs: {name: Bob, groups: [!KeyOf admins]}
  - model: authentik_endpoints.deviceaccessgroup
    id: laptops
    identifiers: {name: laptops}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf laptops, order: 0}
    attrs: {group: !KeyOf staff}
  - model: authentik_endpoints.device
    id: alice-laptop
    identifiers: {name: alice-laptop}
    attrs: {access_group: !KeyOf laptops}
  - model: authentik_endpoints.deviceuserbinding
    identifiers: {target: !KeyOf alice-laptop, order: 0}
    attrs: {user: !KeyOf bob}
  - model: authentik_events.notificationtransport
    id: mail
    identifiers: {name: mail}
    attrs: {mode: email}
  - model: authentik_policies_event_matcher.eventmatcherpolicy
    id: failed
    identifiers: {name: failed-logins}
    attrs: {action: login_failed}
  - model: authentik_events.notificationrule
    id: rule
    identifiers: {name: tell-admins}
    attrs: {transports: [!KeyOf mail], destination_group: !KeyOf admins, severity: alert}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf rule, policy: !KeyOf failed, order: 0}
  - model: authentik_flows.flow
    id: authz
    identifiers: {slug: authz}
    attrs: {name: authz, title: authz, designation: authorization}
  - model: authentik_providers_rac.racprovider
    id: rac
    identifiers: {name: desktops}
    attrs: {authorization_flow: !KeyOf authz}
  - model: authentik_core.application
    id: app
    identifiers: {slug: desktops}
    attrs: {name: desktops, provider: !KeyOf rac}
  - model: authentik_providers_rac.endpoint
    id: db
    identifiers: {name: db}
    attrs: {provider: !KeyOf rac, protocol: rdp, host: db.internal}
  - model: authentik_policies.policybinding
    identifiers: {target: !KeyOf db, order: 0}
    attrs: {group: !KeyOf admins}
"#;
