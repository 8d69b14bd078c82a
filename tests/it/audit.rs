//! `bindlog audit` and `bindlog diff`: one small snapshot per finding that fires it and a
//! near-identical one that does not; exit codes, SARIF, suppressions, user rules, diff gates.

use crate::bindlog;
use bindlog::audit::{self, AuditOptions, Finding, Severity};
use bindlog::snapshot::{self, LoadOptions};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// A snapshot under construction: alice (pk 1, in `staff`) and bob (pk 2, in `admins`, a
/// superuser group), authentik 2026.2.1, nothing else.
struct Snap(Value);

fn base() -> Snap {
    Snap(json!({
        "meta": {"version": "2026.2.1"},
        "core/users": [
            {"pk": 1, "username": "alice", "name": "Alice", "is_active": true, "groups": ["g-staff"]},
            {"pk": 2, "username": "bob", "name": "Bob", "is_active": true, "groups": ["g-admins"]}
        ],
        "core/groups": [
            {"pk": "g-staff", "name": "staff", "is_superuser": false, "parents": []},
            {"pk": "g-admins", "name": "admins", "is_superuser": true, "parents": []},
            {"pk": "g-empty", "name": "empty", "is_superuser": false, "parents": []}
        ],
        "flows/instances": [], "flows/bindings": [], "stages/all": [],
        "policies/all": [], "policies/bindings": [], "core/applications": []
    }))
}

const PASSWORD: &str = "authentik_stages_password.passwordstage";
const MFA: &str = "authentik_stages_authenticator_validate.authenticatorvalidatestage";
const IDENT: &str = "authentik_stages_identification.identificationstage";
const PROMPT: &str = "authentik_stages_prompt.promptstage";

impl Snap {
    fn push(mut self, key: &str, v: Value) -> Snap {
        let slot = self
            .0
            .as_object_mut()
            .unwrap()
            .entry(key)
            .or_insert(json!([]));
        slot.as_array_mut().unwrap().push(v);
        self
    }
    fn version(mut self, v: &str) -> Snap {
        self.0["meta"]["version"] = json!(v);
        self
    }
    fn set(mut self, key: &str, v: Value) -> Snap {
        self.0[key] = v;
        self
    }
    fn app(self, pk: &str, mode: &str) -> Snap {
        self.push(
            "core/applications",
            json!({"pk": pk, "slug": pk, "name": pk, "policy_engine_mode": mode, "provider": null}),
        )
    }
    fn flow(self, pk: &str, designation: &str) -> Snap {
        self.push(
            "flows/instances",
            json!({"pk": pk, "policybindingmodel_ptr_id": format!("pbm-{pk}"), "slug": pk, "name": pk,
                   "designation": designation, "authentication": "none", "policy_engine_mode": "any",
                   "denied_action": "message_continue"}),
        )
    }
    fn flow_mode(mut self, pk: &str, mode: &str) -> Snap {
        for f in self.0["flows/instances"].as_array_mut().unwrap() {
            if f["pk"] == pk {
                f["policy_engine_mode"] = json!(mode);
            }
        }
        self
    }
    fn stage(self, pk: &str, kind: &str) -> Snap {
        let mut s = json!({"pk": pk, "name": pk, "meta_model_name": kind});
        if kind == MFA {
            s["not_configured_action"] = json!("deny");
        }
        self.push("stages/all", s)
    }
    fn stage_field(mut self, pk: &str, field: &str, v: Value) -> Snap {
        for s in self.0["stages/all"].as_array_mut().unwrap() {
            if s["pk"] == pk {
                s[field] = v.clone();
            }
        }
        self
    }
    #[allow(clippy::too_many_arguments)]
    fn fsb(self, pk: &str, flow: &str, stage: &str, order: i64, plan: bool, run: bool) -> Snap {
        self.push(
            "flows/bindings",
            json!({"pk": pk, "policybindingmodel_ptr_id": format!("pbm-{pk}"), "target": flow,
                   "stage": stage, "order": order, "evaluate_on_plan": plan, "re_evaluate_policies": run,
                   "policy_engine_mode": "any", "invalid_response_action": "retry"}),
        )
    }
    fn dummy(self, pk: &str, result: bool) -> Snap {
        self.push(
            "policies/all",
            json!({"pk": pk, "name": pk, "meta_model_name": "authentik_policies_dummy.dummypolicy",
                   "result": result, "wait_min": 0, "wait_max": 1}),
        )
    }
    fn expression(self, pk: &str, body: &str) -> Snap {
        self.push(
            "policies/all",
            json!({"pk": pk, "name": pk, "meta_model_name": "authentik_policies_expression.expressionpolicy",
                   "expression": body}),
        )
    }
    /// A binding: `on` is `("policy"|"group"|"user", value)`; flags negate, enabled, failure_result.
    fn bind(self, pk: &str, target: &str, on: (&str, Value), flags: (bool, bool, bool)) -> Snap {
        let mut b = json!({"pk": pk, "target": target, "policy": null, "group": null, "user": null,
                           "negate": flags.0, "enabled": flags.1, "order": 0, "timeout": 30,
                           "failure_result": flags.2});
        b[on.0] = on.1;
        self.push("policies/bindings", b)
    }
    fn brand_auth(self, flow: &str) -> Snap {
        self.push(
            "core/brands",
            json!({"brand_uuid": "br", "default": true, "domain": "auth.example", "flow_authentication": flow}),
        )
    }
    fn group(self, pk: &str, name: &str, superuser: bool, parents: &[&str]) -> Snap {
        self.push(
            "core/groups",
            json!({"pk": pk, "name": name, "is_superuser": superuser, "parents": parents}),
        )
    }
    fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, serde_json::to_string_pretty(&self.0).unwrap()).unwrap();
        p
    }
    fn findings_with(&self, rules: &[(&str, &str)]) -> Vec<Finding> {
        let dir = tempfile::tempdir().unwrap();
        let path = self.write(dir.path(), "snapshot.json");
        let loaded = snapshot::load(&path, &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{:?}", e.problems));
        let options = AuditOptions {
            rules: rules
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            explain: false,
            ..AuditOptions::default()
        };
        audit::audit(&loaded.snapshot, &options).unwrap()
    }
    /// The findings of rule `id`: severity, first object's kind and pk.
    fn fired(&self, id: &str) -> Vec<(Severity, String, String)> {
        self.findings_with(&[])
            .into_iter()
            .filter(|f| f.rule == id)
            .map(|f| {
                (
                    f.severity,
                    f.objects[0].kind.clone(),
                    f.objects[0].pk.clone(),
                )
            })
            .collect()
    }
}

fn one(sev: Severity, kind: &str, pk: &str) -> Vec<(Severity, String, String)> {
    vec![(sev, kind.to_string(), pk.to_string())]
}

fn group(g: &str) -> (&'static str, Value) {
    ("group", json!(g))
}
fn policy(p: &str) -> (&'static str, Value) {
    ("policy", json!(p))
}
const ON: (bool, bool, bool) = (false, true, false);
const NEGATED: (bool, bool, bool) = (true, true, false);
const DISABLED: (bool, bool, bool) = (false, false, false);
const FAIL_OPEN: (bool, bool, bool) = (false, true, true);

use Severity::*;

#[test]
fn b01_app_open_to_everyone() {
    let open = base().app("a1", "any");
    assert_eq!(open.fired("AK-B01"), one(High, "application", "a1"));
    let bound = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), ON);
    assert!(bound.fired("AK-B01").is_empty());
    // 2026.5+: with core_default_app_access off, an unbound app is closed...
    let off = |v: &str| {
        base().version(v).app("a1", "any").set(
            "admin/settings",
            json!({"flags": {"core_default_app_access": false}}),
        )
    };
    assert!(off("2026.5.0").fired("AK-B01").is_empty());
    // ...but before 2026.5 the flag did not exist and such an app is always open.
    assert_eq!(
        off("2026.2.1").fired("AK-B01"),
        one(High, "application", "a1")
    );
    // Declared public in the user's rules: inventory only.
    let public = base()
        .app("a1", "any")
        .findings_with(&[("public.dl", "public_application(\"a1\").")]);
    let b01: Vec<_> = public.iter().filter(|f| f.rule == "AK-B01").collect();
    assert_eq!(b01.len(), 1);
    assert_eq!(b01[0].severity, Info);
}

#[test]
fn b02_disabled_binding() {
    let alone = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), DISABLED);
    assert_eq!(alone.fired("AK-B02"), one(Medium, "policy_binding", "b1"));
    let beside = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), DISABLED)
        .bind("b2", "a1", group("g-admins"), ON);
    assert_eq!(beside.fired("AK-B02"), one(Low, "policy_binding", "b1"));
    let enabled = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), ON);
    assert!(enabled.fired("AK-B02").is_empty());
}

#[test]
fn b03_binding_to_an_empty_group() {
    let empty = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-empty"), ON);
    assert_eq!(empty.fired("AK-B03"), one(Medium, "policy_binding", "b1"));
    let staffed = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), ON);
    assert!(staffed.fired("AK-B03").is_empty());
}

#[test]
fn b04_negated_binding() {
    let any = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), NEGATED);
    assert_eq!(any.fired("AK-B04"), one(High, "policy_binding", "b1"));
    let all = base()
        .app("a1", "all")
        .bind("b1", "a1", group("g-staff"), NEGATED);
    assert_eq!(all.fired("AK-B04"), one(Info, "policy_binding", "b1"));
    let security = base()
        .flow("f", "authentication")
        .stage("pw", PASSWORD)
        .fsb("x", "f", "pw", 10, false, true)
        .expression("e", "return request.context.get('x')")
        .bind("b1", "x", policy("e"), NEGATED);
    assert_eq!(security.fired("AK-B04"), one(High, "policy_binding", "b1"));
    let plain = base()
        .app("a1", "any")
        .bind("b1", "a1", group("g-staff"), ON);
    assert!(plain.fired("AK-B04").is_empty());
}

#[test]
fn b05_fail_open_access_binding() {
    let snap = |flags| {
        base()
            .app("a1", "any")
            .expression("e", "return request.context.get('x')")
            .bind("b1", "a1", policy("e"), flags)
    };
    assert_eq!(
        snap(FAIL_OPEN).fired("AK-B05"),
        one(Medium, "policy_binding", "b1")
    );
    assert!(snap(ON).fired("AK-B05").is_empty());
}

#[test]
fn b06_security_stage_skipped_on_error() {
    let snap = |flags| {
        base()
            .flow("f", "authentication")
            .stage("pw", PASSWORD)
            .fsb("x", "f", "pw", 10, false, true)
            .expression("e", "return request.context.get('x')")
            .bind("b1", "x", policy("e"), flags)
    };
    assert_eq!(snap(ON).fired("AK-B06"), one(High, "policy_binding", "b1"));
    assert!(snap(FAIL_OPEN).fired("AK-B06").is_empty());
}

#[test]
fn b07_constant_target() {
    let snap = |result| {
        base()
            .app("a1", "any")
            .dummy("d", result)
            .bind("b1", "a1", group("g-staff"), ON)
            .bind("b2", "a1", policy("d"), ON)
    };
    assert_eq!(snap(true).fired("AK-B07"), one(Medium, "application", "a1"));
    assert!(snap(false).fired("AK-B07").is_empty());
    // Mode all with two different users required at once: nobody passes.
    let users = |second: i64| {
        base()
            .app("a1", "all")
            .bind("b1", "a1", ("user", json!(1)), ON)
            .bind("b2", "a1", ("user", json!(second)), ON)
    };
    assert_eq!(users(2).fired("AK-B07"), one(Medium, "application", "a1"));
    assert!(users(1).fired("AK-B07").is_empty());
}

#[test]
fn p01_stage_policies_never_evaluated() {
    let snap = |run| {
        base()
            .flow("f", "authentication")
            .stage("s", PROMPT)
            .fsb("x", "f", "s", 10, false, run)
            .bind("b1", "x", group("g-staff"), ON)
    };
    assert_eq!(snap(false).fired("AK-P01"), one(High, "flow_binding", "x"));
    assert!(snap(true).fired("AK-P01").is_empty());
}

#[test]
fn p02_identity_check_at_plan_time_in_an_anonymous_flow() {
    let snap = |kind, plan| {
        base()
            .flow("f", "authentication")
            .stage("id", IDENT)
            .stage("s", kind)
            .fsb("x0", "f", "id", 10, false, true)
            .fsb("x", "f", "s", 20, plan, !plan)
            .bind("b1", "x", group("g-admins"), ON)
    };
    assert_eq!(
        snap(MFA, true).fired("AK-P02"),
        one(Critical, "flow_binding", "x")
    );
    assert_eq!(
        snap(PROMPT, true).fired("AK-P02"),
        one(High, "flow_binding", "x")
    );
    assert!(snap(MFA, false).fired("AK-P02").is_empty());
}

#[test]
fn p03_identity_binding_on_an_anonymous_entry_flow() {
    let snap = |designation| {
        base()
            .flow("f", designation)
            .stage("s", PROMPT)
            .fsb("x", "f", "s", 10, false, true)
            .bind("b1", "f", group("g-staff"), ON)
    };
    assert_eq!(
        snap("authentication").fired("AK-P03"),
        one(Medium, "policy_binding", "b1")
    );
    // Under mode all the flow becomes unusable: the same finding, its message says so.
    let all = snap("authentication")
        .flow_mode("f", "all")
        .findings_with(&[]);
    let p03: Vec<&Finding> = all.iter().filter(|f| f.rule == "AK-P03").collect();
    assert_eq!(p03.len(), 1);
    assert!(
        p03[0].message.contains("the flow is not applicable"),
        "{}",
        p03[0].message
    );
    assert!(snap("stage_configuration").fired("AK-P03").is_empty());
}

#[test]
fn p04_unreachable_stage() {
    let snap = |result| {
        base()
            .flow("f", "stage_configuration")
            .stage("s1", PROMPT)
            .stage("s2", PROMPT)
            .fsb("x1", "f", "s1", 10, false, true)
            .fsb("x2", "f", "s2", 20, false, true)
            .dummy("d", result)
            .bind("b1", "x2", policy("d"), ON)
    };
    assert_eq!(
        snap(false).fired("AK-P04"),
        one(Medium, "flow_binding", "x2")
    );
    assert!(snap(true).fired("AK-P04").is_empty());
    // After an unconditional Deny stage.
    let deny = |deny_order| {
        base()
            .flow("f", "stage_configuration")
            .stage("s1", PROMPT)
            .stage("d", "authentik_stages_deny.denystage")
            .fsb("x1", "f", "s1", 20, false, true)
            .fsb("xd", "f", "d", deny_order, false, true)
    };
    assert_eq!(deny(10).fired("AK-P04"), one(Medium, "flow_binding", "x1"));
    assert!(deny(30).fired("AK-P04").is_empty());
}

#[test]
fn p05_ambiguous_stage_order() {
    let snap = |second| {
        base()
            .flow("f", "stage_configuration")
            .stage("s1", PROMPT)
            .stage("s2", PROMPT)
            .fsb("x1", "f", "s1", 10, false, true)
            .fsb("x2", "f", "s2", second, false, true)
    };
    let tied = snap(10).findings_with(&[]);
    let p05: Vec<&Finding> = tied.iter().filter(|f| f.rule == "AK-P05").collect();
    assert_eq!(p05.len(), 1);
    assert_eq!((p05[0].severity, p05[0].objects[0].pk.as_str()), (Low, "f"));
    let others: Vec<&str> = p05[0].objects[1..].iter().map(|o| o.pk.as_str()).collect();
    assert_eq!(others, ["x1", "x2"]);
    assert!(snap(20).fired("AK-P05").is_empty());
}

#[test]
fn p06_empty_plan_for_some_identity() {
    let snap = |result| {
        base()
            .flow("f", "stage_configuration")
            .stage("s1", PROMPT)
            .fsb("x1", "f", "s1", 10, false, true)
            .dummy("d", result)
            .bind("b1", "x1", policy("d"), ON)
    };
    let empty = snap(false).findings_with(&[]);
    let p06: Vec<&Finding> = empty.iter().filter(|f| f.rule == "AK-P06").collect();
    assert_eq!(p06.len(), 1);
    assert_eq!(
        (p06[0].severity, p06[0].objects[0].pk.as_str()),
        (Medium, "f")
    );
    let users: Vec<&str> = p06[0].objects[1..]
        .iter()
        .map(|o| o.name.as_str())
        .collect();
    assert_eq!(users, ["alice", "bob"]);
    assert!(snap(true).fired("AK-P06").is_empty());
}

#[test]
fn p07_decision_deferred_to_run_time() {
    let snap = |body| {
        base()
            .app("a1", "any")
            .expression("e", body)
            .bind("b1", "a1", policy("e"), ON)
    };
    assert_eq!(
        snap("return request.context.get('x')").fired("AK-P07"),
        one(Info, "policy_binding", "b1")
    );
    assert!(snap("return True").fired("AK-P07").is_empty());
}

/// An authentication flow `f`: identification at 10, an MFA stage at 20 (with `mfa_binding` if
/// given), named by the brand.
fn login(mfa_binding: Option<&str>) -> Snap {
    let s = base()
        .flow("f", "authentication")
        .brand_auth("f")
        .stage("id", IDENT)
        .stage("mfa", MFA)
        .fsb("x0", "f", "id", 10, false, true)
        .fsb("x1", "f", "mfa", 20, false, true);
    match mfa_binding {
        Some(g) => s.bind("b1", "x1", group(g), ON),
        None => s,
    }
}

#[test]
fn m01_authentication_flow_without_mfa() {
    let without = base()
        .flow("f", "authentication")
        .brand_auth("f")
        .stage("id", IDENT)
        .fsb("x0", "f", "id", 10, false, true);
    assert_eq!(without.fired("AK-M01"), one(High, "flow", "f"));
    assert!(login(None).fired("AK-M01").is_empty());
    // Without a brand, authentik picks the first authentication flow by slug.
    let unbranded = base()
        .flow("b-login", "authentication")
        .flow("a-login", "authentication")
        .stage("id", IDENT)
        .stage("mfa", MFA)
        .fsb("x0", "a-login", "id", 10, false, true)
        .fsb("x1", "b-login", "mfa", 10, false, true);
    assert_eq!(unbranded.fired("AK-M01"), one(High, "flow", "a-login"));
}

#[test]
fn m02_some_identities_bypass_mfa() {
    // Only admins (bob) see MFA: alice bypasses it.
    assert_eq!(
        login(Some("g-admins")).fired("AK-M02"),
        one(High, "flow", "f")
    );
    // Only staff see it: bob, a superuser, bypasses it.
    assert_eq!(
        login(Some("g-staff")).fired("AK-M02"),
        one(Critical, "flow", "f")
    );
    assert!(login(None).fired("AK-M02").is_empty());
}

#[test]
fn m03_mfa_skipped_without_a_device() {
    let skip = login(None).stage_field("mfa", "not_configured_action", json!("skip"));
    assert_eq!(skip.fired("AK-M03"), one(High, "stage", "mfa"));
    // Only staff go through it: no superuser among them.
    let staff_only =
        login(Some("g-staff")).stage_field("mfa", "not_configured_action", json!("skip"));
    assert_eq!(staff_only.fired("AK-M03"), one(Medium, "stage", "mfa"));
    assert!(login(None).fired("AK-M03").is_empty());
}

#[test]
fn d01_superuser_inventory() {
    assert_eq!(base().fired("AK-D01"), one(Info, "group", "g-admins"));
    let mut svc = base();
    svc.0["core/users"][1]["type"] = json!("service_account");
    let mut got = svc.fired("AK-D01");
    got.sort();
    assert_eq!(
        got,
        [
            (Info, "group".to_string(), "g-admins".to_string()),
            (High, "user".to_string(), "2".to_string())
        ]
    );
    let mut none = base();
    none.0["core/groups"][1]["is_superuser"] = json!(false);
    assert!(none.fired("AK-D01").is_empty());
}

#[test]
fn d02_group_cycle_or_excessive_depth() {
    let cycle = base()
        .group("g1", "one", false, &["g2"])
        .group("g2", "two", false, &["g1"]);
    let mut got = cycle.fired("AK-D02");
    got.sort();
    assert_eq!(
        got,
        [
            (Medium, "group".to_string(), "g1".to_string()),
            (Medium, "group".to_string(), "g2".to_string())
        ]
    );
    let chain = base()
        .group("g1", "one", false, &["g2"])
        .group("g2", "two", false, &[]);
    assert!(chain.fired("AK-D02").is_empty());
    // d0 has 22 levels of ancestors and d1 has 21: cut off on 2025.10, fine on 2026.2.
    let deep = |version: &str| {
        let mut s = base().version(version);
        for i in 0..22 {
            let parent = format!("d{}", i + 1);
            s = s.push(
                "core/groups",
                json!({"pk": format!("d{i}"), "name": format!("d{i}"), "is_superuser": false, "parent": parent}),
            );
        }
        s.push(
            "core/groups",
            json!({"pk": "d22", "name": "d22", "is_superuser": false, "parent": null}),
        )
    };
    let mut got = deep("2025.10.1").fired("AK-D02");
    got.sort();
    assert_eq!(
        got,
        [
            (Medium, "group".to_string(), "d0".to_string()),
            (Medium, "group".to_string(), "d1".to_string())
        ]
    );
    assert!(deep("2026.2.1").fired("AK-D02").is_empty());
}

#[test]
fn d03_duplicate_group_names() {
    let dup = base().group("g-x", "staff", false, &[]);
    let found = dup.findings_with(&[]);
    let d03: Vec<&Finding> = found.iter().filter(|f| f.rule == "AK-D03").collect();
    assert_eq!(d03.len(), 1);
    assert_eq!(
        (
            d03[0].severity,
            d03[0].objects[0].pk.as_str(),
            d03[0].objects[1].pk.as_str()
        ),
        (Low, "g-staff", "g-x")
    );
    assert!(
        base()
            .group("g-x", "other", false, &[])
            .fired("AK-D03")
            .is_empty()
    );
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn cli_fail_on_sets_the_exit_status() {
    let dir = tempfile::tempdir().unwrap();
    // One high finding (an unbound app) and info ones (the superuser inventory).
    let path = base().app("a1", "any").write(dir.path(), "s.json");
    let p = path.to_str().unwrap();
    let o = bindlog(&["audit", p, "--fail-on", "high"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("AK-B01"));
    assert_eq!(
        bindlog(&["audit", p, "--fail-on", "critical"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(bindlog(&["audit", p]).status.code(), Some(0));
    let o = bindlog(&["audit", p, "--fail-on", "severe"]);
    assert_eq!(o.status.code(), Some(2));
    let o = bindlog(&["audit", &dir.path().join("missing.json").to_string_lossy()]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_json_is_sorted_by_severity_then_rule_and_carries_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let path = login(Some("g-staff"))
        .app("a1", "any")
        .app("a2", "any")
        .write(dir.path(), "s.json");
    let o = bindlog(&["audit", path.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let rank = |s: &str| {
        ["critical", "high", "medium", "low", "info"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let keys: Vec<(usize, String, String)> = v
        .iter()
        .map(|f| {
            (
                rank(f["severity"].as_str().unwrap()),
                f["rule"].as_str().unwrap().to_string(),
                f["objects"][0]["pk"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert_eq!(v[0]["rule"], "AK-M02");
    assert_eq!(v[0]["severity"], "critical");
    let b01: Vec<&Value> = v.iter().filter(|f| f["rule"] == "AK-B01").collect();
    assert_eq!(b01.len(), 2);
    assert_eq!(
        b01[0]["objects"][0],
        json!({"kind": "application", "pk": "a1", "name": "a1"})
    );
    // The explanation is the proof of the finding tuple, rule by rule down to the facts.
    let why = b01[0]["explanation"].as_str().unwrap();
    assert!(why.starts_with("finding(\"AK-B01\", \"high\""), "{why}");
    assert!(why.contains("rules/audit/bindings.dl"), "{why}");
    assert!(why.contains("[input fact"), "{why}");
    assert!(!b01[0]["remediation"].as_str().unwrap().is_empty());
}

#[test]
fn cli_sarif_is_a_sarif_2_1_0_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = login(Some("g-admins"))
        .app("a1", "any")
        .write(dir.path(), "s.json");
    let o = bindlog(&["audit", path.to_str().unwrap(), "--format", "sarif"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "bindlog");
    let ids: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for id in ["AK-B01", "AK-P07", "AK-M03", "AK-D03"] {
        assert!(ids.contains(&id), "{id} missing from {ids:?}");
    }
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(ids[index], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let logical = r["locations"][0]["logicalLocations"].as_array().unwrap();
        assert!(!logical.is_empty());
        assert!(
            logical[0]["fullyQualifiedName"]
                .as_str()
                .unwrap()
                .contains('/')
        );
    }
    let b01 = results.iter().find(|r| r["ruleId"] == "AK-B01").unwrap();
    assert_eq!(b01["level"], "error");
    assert_eq!(
        b01["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        "application/a1"
    );
    // Written as it is serialized, the log is what a JSON tree of it prints: every object's keys
    // in sorted order, the same indentation, one newline at the end.
    let tree = serde_json::to_string_pretty(&v).unwrap() + "\n";
    assert_eq!(String::from_utf8(o.stdout).unwrap(), tree);
}

#[test]
fn cli_suppressions_silence_until_they_expire() {
    let dir = tempfile::tempdir().unwrap();
    let path = base()
        .app("a1", "any")
        .app("a2", "any")
        .write(dir.path(), "s.json");
    let p = path.to_str().unwrap();
    let sup = dir.path().join("accepted.jsonl");
    std::fs::write(
        &sup,
        "# accepted risks\n\
         {\"rule\": \"AK-B01\", \"object\": \"a1\", \"justification\": \"public status page\", \"expires\": \"2999-12-31\"}\n\
         {\"rule\": \"AK-B01\", \"object\": \"a2\", \"justification\": \"was public\", \"expires\": \"2020-01-01\"}\n",
    )
    .unwrap();
    let o = bindlog(&[
        "audit",
        p,
        "--format",
        "json",
        "--suppressions",
        sup.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let b01: Vec<&str> = v
        .iter()
        .filter(|f| f["rule"] == "AK-B01")
        .map(|f| f["objects"][0]["pk"].as_str().unwrap())
        .collect();
    // a1 is silenced; a2's suppression has expired: reported again, with a warning.
    assert_eq!(b01, ["a2"]);
    let err = stderr(&o);
    assert!(err.contains("accepted.jsonl:3"), "{err}");
    assert!(err.contains("expired on 2020-01-01"), "{err}");
    // The gate sees only what is left.
    let o = bindlog(&[
        "audit",
        p,
        "--fail-on",
        "high",
        "--suppressions",
        sup.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    // A malformed file: exit 2, naming the file and line.
    std::fs::write(
        &sup,
        "{\"rule\": \"AK-B01\", \"justification\": \"x\"}\n{\"rule\": \"AK-B01\"\n",
    )
    .unwrap();
    let o = bindlog(&["audit", p, "--suppressions", sup.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("accepted.jsonl:2"), "{}", stderr(&o));
}

#[test]
fn cli_user_rules_add_findings() {
    let dir = tempfile::tempdir().unwrap();
    let path = base().write(dir.path(), "s.json");
    let p = path.to_str().unwrap();
    let rules = dir.path().join("my.dl");
    std::fs::write(
        &rules,
        "finding_rule(\"MY-01\", \"superuser\", \"Remove the account from superuser groups.\").\n\
         finding(\"MY-01\", \"critical\", \"user\", U, cat(\"user \", N, \" is a superuser\")) :- superuser(U), user(U, N, _).\n",
    )
    .unwrap();
    let o = bindlog(&[
        "audit",
        p,
        "--format",
        "json",
        "--rules",
        rules.to_str().unwrap(),
        "--fail-on",
        "critical",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["rule"], "MY-01");
    assert_eq!(v[0]["message"], "user bob is a superuser");
    assert_eq!(
        v[0]["objects"][0],
        json!({"kind": "user", "pk": "2", "name": "bob"})
    );
    assert_eq!(
        v[0]["remediation"],
        "Remove the account from superuser groups."
    );
    // A user finding without a catalogue entry still gets a SARIF rule its results point at.
    std::fs::write(
        &rules,
        "finding(\"MY-02\", \"low\", \"user\", U, N) :- user(U, N, _).\n",
    )
    .unwrap();
    let o = bindlog(&[
        "audit",
        p,
        "--format",
        "sarif",
        "--rules",
        rules.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let run = &v["runs"][0];
    let my: Vec<&Value> = run["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["ruleId"] == "MY-02")
        .collect();
    assert_eq!(my.len(), 2);
    let index = my[0]["ruleIndex"].as_u64().unwrap() as usize;
    assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "MY-02");
    assert_eq!(my[0]["level"], "note");
    // A severity outside the scale, and a rule that does not parse: exit 2.
    std::fs::write(
        &rules,
        "finding(\"MY-02\", \"severe\", \"user\", U, N) :- user(U, N, _).\n",
    )
    .unwrap();
    let o = bindlog(&["audit", p, "--rules", rules.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("severity `severe`"), "{}", stderr(&o));
    std::fs::write(&rules, "finding(\"MY-03\", \"low\") :- user(U, N, _).\n").unwrap();
    assert_eq!(
        bindlog(&["audit", p, "--rules", rules.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn cli_diff_reports_who_loses_mfa_and_gates_on_it() {
    let dir = tempfile::tempdir().unwrap();
    // MFA for admins (bob); after the change, for staff (alice) instead.
    let old = login(Some("g-admins")).write(dir.path(), "old.json");
    let mut after = login(Some("g-admins"));
    after.0["policies/bindings"][0]["group"] = json!("g-staff");
    let new = after.write(dir.path(), "new.json");
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = bindlog(&["diff", o, n, "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["stages"],
        json!([
            {"user": "alice", "flow": "f", "stage": "mfa", "before": "skipped", "after": "shown"},
            {"user": "bob", "flow": "f", "stage": "mfa", "before": "shown", "after": "skipped"}
        ])
    );
    assert_eq!(v["access"], json!([]));
    // bob, a superuser, now bypasses MFA: AK-M02 turns critical.
    let new_rules: Vec<(&str, &str)> = v["findings"]["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["rule"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert!(new_rules.contains(&("AK-M02", "critical")), "{new_rules:?}");
    let gate = bindlog(&["diff", o, n, "--fail-on", "lost-mfa"]);
    assert_eq!(gate.status.code(), Some(1));
    assert!(
        stdout(&gate).contains("1 user no longer sees mfa (flow f): bob"),
        "{}",
        stdout(&gate)
    );
    assert!(stderr(&gate).contains("lost-mfa"));
    assert_eq!(
        bindlog(&["diff", o, n, "--fail-on", "gained-access"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        bindlog(&["diff", o, o, "--fail-on", "lost-mfa"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        bindlog(&["diff", o, n, "--fail-on", "lost-everything"])
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn cli_diff_with_an_overlay_blueprint() {
    let dir = tempfile::tempdir().unwrap();
    let old = login(Some("g-admins")).write(dir.path(), "old.json");
    // Planning the admins check (before anyone is identified) drops MFA for bob.
    let overlay = dir.path().join("change.yaml");
    std::fs::write(
        &overlay,
        "version: 1\nentries:\n  - model: authentik_flows.flowstagebinding\n    identifiers:\n      pk: x1\n    attrs:\n      evaluate_on_plan: true\n      re_evaluate_policies: false\n",
    )
    .unwrap();
    let o = old.to_str().unwrap();
    let out = bindlog(&[
        "diff",
        o,
        "--overlay",
        overlay.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "new-finding=critical",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["stages"],
        json!([{"user": "bob", "flow": "f", "stage": "mfa", "before": "shown", "after": "skipped"}])
    );
    let new: Vec<&str> = v["findings"]["new"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(new.contains(&"AK-P02"), "{new:?}");
    // Nothing to compare with.
    assert_eq!(bindlog(&["diff", o]).status.code(), Some(2));
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn the_corpus_and_the_example_are_audited() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let corpus = crate::snapshot::corpus();
    for dir in ["default", "example"] {
        let o = bindlog(&[
            "audit",
            corpus.join(dir).to_str().unwrap(),
            "--format",
            "json",
        ]);
        assert!(o.status.success(), "{dir}: {}", stderr(&o));
        let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
        assert!(
            v.iter()
                .all(|f| !f["explanation"].as_str().unwrap().is_empty())
        );
    }
    // authentik's own login flow gates MFA with an expression policy: left to run time.
    let o = bindlog(&[
        "audit",
        corpus.join("default").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v.iter().any(|f| f["rule"] == "AK-P07"));
    // The example organisation's deliberate misconfigurations (examples/acme/README.md).
    let o = bindlog(&[
        "audit",
        root.join("examples/acme/snapshot.json").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let v: Vec<Value> = serde_json::from_slice(&o.stdout).unwrap();
    let found = |rule: &str, name: &str| {
        v.iter().any(|f| {
            f["rule"] == rule
                && f["objects"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o["name"] == name)
        })
    };
    for (rule, name) in [
        ("AK-B02", "#0 on application wiki"),
        ("AK-B04", "payroll"),
        ("AK-B03", "Legacy VPN"),
        (
            "AK-P01",
            "default-enrollment-flow #15 default-enrollment-captcha",
        ),
        ("AK-B01", "status-page"),
        ("AK-D02", "Platform"),
        ("AK-D02", "SRE"),
        ("AK-D03", "Marketing"),
        ("AK-B05", "grafana"),
        ("AK-P02", "acme-legacy-login"),
        ("AK-M03", "default-authentication-mfa-validation"),
        ("AK-B04", "argocd"),
        ("AK-B07", "nextcloud"),
        ("AK-M05", "google"),
        ("AK-B09", "old-password-rules"),
    ] {
        assert!(found(rule, name), "{rule} on {name} not found");
    }
}

#[test]
fn b09_unused_policy() {
    let unused = base().dummy("d", true);
    assert_eq!(unused.fired("AK-B09"), one(Info, "policy", "d"));
    let bound = base()
        .dummy("d", true)
        .app("a1", "any")
        .bind("b1", "a1", policy("d"), DISABLED);
    assert!(bound.fired("AK-B09").is_empty());
    // A prompt stage's validation policy is used without a binding.
    let validating = base().dummy("d", true).stage("p", PROMPT).stage_field(
        "p",
        "validation_policies",
        json!(["d"]),
    );
    assert!(validating.fired("AK-B09").is_empty());
}

#[test]
fn m05_source_login_bypasses_mfa() {
    let source = |flow: &str| {
        login(None)
            .flow("src-login", "authentication")
            .stage("id2", IDENT)
            .fsb("y0", "src-login", "id2", 10, false, true)
            .push(
                "sources/all",
                json!({"pk": "s1", "slug": "google", "name": "Google", "policy_engine_mode": "any",
                       "meta_model_name": "authentik_sources_oauth.oauthsource",
                       "authentication_flow": flow, "enrollment_flow": null}),
            )
    };
    assert_eq!(
        source("src-login").fired("AK-M05"),
        one(High, "source", "s1")
    );
    assert!(source("f").fired("AK-M05").is_empty());
}

#[test]
fn text_forms_for_people() {
    let dir = tempfile::tempdir().unwrap();
    let old = login(Some("g-admins"))
        .app("a1", "any")
        .write(dir.path(), "old.json");
    let mut after = login(Some("g-admins"))
        .app("a1", "any")
        .bind("b2", "a1", group("g-staff"), ON);
    after.0["policies/bindings"][0]["group"] = json!("g-staff");
    let new = after.write(dir.path(), "new.json");
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    insta::assert_snapshot!("audit_text", stdout(&bindlog(&["audit", o])));
    // Rule line numbers move whenever a rules file is edited: the proofs cite them as `.dl:N`.
    let markdown = stdout(&bindlog(&["audit", o, "--format", "markdown"]));
    let lines = regex::Regex::new(r"\.dl:\d+").unwrap();
    insta::assert_snapshot!("audit_markdown", lines.replace_all(&markdown, ".dl:N"));
    insta::assert_snapshot!("diff_text", stdout(&bindlog(&["diff", o, n])));
}

#[test]
fn m04_mfa_grace_window() {
    let window = |t: &str| login(None).stage_field("mfa", "last_auth_threshold", json!(t));
    assert_eq!(
        window("hours=12").fired("AK-M04"),
        one(Info, "stage", "mfa")
    );
    assert!(window("seconds=0").fired("AK-M04").is_empty());
}

#[test]
fn m06_password_stage_gated_by_a_policy() {
    let snap = |kind| {
        base()
            .flow("f", "authentication")
            .stage("s", kind)
            .fsb("x", "f", "s", 10, false, true)
            .expression("e", "return request.context.get('x')")
            .bind("b1", "x", policy("e"), FAIL_OPEN)
    };
    assert_eq!(
        snap(PASSWORD).fired("AK-M06"),
        one(Info, "policy_binding", "b1")
    );
    assert!(snap(PROMPT).fired("AK-M06").is_empty());
}

/// The counts a finding's message states ("for 296 users", "4 effective members", "3
/// identities"), each with the kind of object it counts.
fn stated_counts(message: &str) -> Vec<(usize, &'static str)> {
    let re = regex::Regex::new(
        r"\b(\d+) (?:effective )?(users?|members?|identity|identities|accounts?)\b",
    )
    .unwrap();
    re.captures_iter(message)
        .map(|c| (c[1].parse().unwrap(), "user"))
        .collect()
}

/// Issue 15 item 7: a message that counts users says as many as the finding lists (AK-M02 once
/// said "for 1 user" and listed 296), on every golden case, the example and generated
/// organisations.
#[test]
fn finding_messages_count_their_objects() {
    let mut snapshots: Vec<(String, snapshot::Snapshot)> = crate::bulk::corpus()
        .into_iter()
        .map(|p| {
            let loaded = snapshot::load(&p, &LoadOptions::default())
                .unwrap_or_else(|e| panic!("{}: {:?}", p.display(), e.problems));
            (p.display().to_string(), loaded.snapshot)
        })
        .collect();
    for seed in 1..=6 {
        snapshots.push((
            format!("generated seed {seed}"),
            crate::bulk::generated(seed),
        ));
    }
    let options = AuditOptions {
        explain: false,
        ..AuditOptions::default()
    };
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (name, snap) in &snapshots {
        for f in audit::audit(snap, &options).unwrap() {
            for (n, kind) in stated_counts(&f.message) {
                checked += 1;
                let listed = f.objects.iter().filter(|o| o.kind == kind).count();
                if n != listed {
                    wrong.push(format!(
                        "{name}: {} says {n} but lists {listed} {kind} object(s): {}",
                        f.rule, f.message
                    ));
                }
            }
        }
    }
    assert!(
        checked >= 5,
        "only {checked} counted messages: the check ran on too little"
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
