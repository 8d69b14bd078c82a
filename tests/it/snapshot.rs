//! Reading authentik configurations: the three snapshot forms, blueprints and their tags,
//! bad input, facts, fetch (issue 3).

mod bad_input;
mod blueprints;
mod check;
mod corpus;
mod facts;
mod fetch;
mod forms;
mod hostile;

use bindlog::snapshot::{self, LoadOptions, Loaded, SnapshotErrors};
use std::path::{Path, PathBuf};

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// authentik's own blueprints, beside the repository (never copied into it), or where
/// `BINDLOG_CORPUS` said when the tests were built. Tests that read them carry
/// `#[cfg_attr(not(corpus), ignore = ...)]` (see build.rs): a fresh clone lists them as ignored.
pub fn corpus() -> PathBuf {
    option_env!("BINDLOG_CORPUS_DIR").map_or_else(
        || root().join("../shared/corpus/authentik-blueprints"),
        PathBuf::from,
    )
}

/// A fixture of this topic.
pub fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/snapshot").join(name)
}

/// The example organisation.
pub fn acme() -> PathBuf {
    root().join("examples/acme/snapshot.json")
}

/// Loads a snapshot with overlays and `!Env` values.
pub fn load_with(
    path: &Path,
    overlays: &[PathBuf],
    env: &[(&str, &str)],
) -> Result<Loaded, SnapshotErrors> {
    let options = LoadOptions {
        overlays: overlays.to_vec(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    snapshot::load(path, &options)
}

/// Loads a snapshot that must be valid.
pub fn load(path: &Path) -> Loaded {
    match load_with(path, &[], &[]) {
        Ok(l) => l,
        Err(e) => panic!("{} did not load: {:?}", path.display(), e.problems),
    }
}

/// Every problem of a failed load, one line each.
pub fn problems(result: Result<Loaded, SnapshotErrors>) -> Vec<String> {
    match result {
        Ok(_) => panic!("expected the snapshot to be refused"),
        Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
    }
}

/// Writes `value` as JSON to `dir/name`, returning the path.
/// A load's warnings, as printed.
pub fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded
        .report
        .warnings
        .iter()
        .map(|w| w.to_string())
        .collect()
}

/// Runs `bindlog check PATH`, expects exit 2 with nothing printed as if complete and no panic
/// (a hang is stopped at 30 s), returns stderr.
pub fn refused(path: &Path) -> String {
    let out = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .env("NO_COLOR", "1")
        .arg("check")
        .arg(path)
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(2);
    let out = out.get_output();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        out.stdout.is_empty(),
        "nothing printed as if complete: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

/// Asserts that every part appears in `stderr`.
pub fn has(stderr: &str, parts: &[&str]) {
    for p in parts {
        assert!(stderr.contains(p), "`{p}` not in:\n{stderr}");
    }
}

pub fn write_json(dir: &Path, name: &str, value: &serde_json::Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// A small valid bundle: one flow with two stages, two groups, three users, one application.
pub fn small_bundle() -> serde_json::Value {
    serde_json::json!({
        "meta": {"version": "2026.2.1"},
        "core/users": [
            {"pk": 1, "username": "alice", "name": "Alice", "is_active": true, "groups": ["g-admins"]},
            {"pk": 2, "username": "bob", "name": "Bob", "is_active": false, "groups": []},
            {"pk": 3, "username": "carol", "name": "Carol", "groups": ["g-staff"]}
        ],
        "core/groups": [
            {"pk": "g-staff", "name": "staff", "is_superuser": false, "parents": [], "users": [2]},
            {"pk": "g-admins", "name": "admins", "is_superuser": true, "parents": ["g-staff"]}
        ],
        "flows/instances": [
            {"pk": "f-login", "policybindingmodel_ptr_id": "p-login", "slug": "login", "name": "Login",
             "designation": "authentication", "authentication": "none", "policy_engine_mode": "any", "denied_action": "message_continue"}
        ],
        "flows/bindings": [
            {"pk": "x-ident", "policybindingmodel_ptr_id": "px-ident", "target": "f-login", "stage": "s-ident", "order": 10,
             "evaluate_on_plan": false, "re_evaluate_policies": true, "policy_engine_mode": "any", "invalid_response_action": "retry"},
            {"pk": "x-mfa", "policybindingmodel_ptr_id": "px-mfa", "target": "f-login", "stage": "s-mfa", "order": 20,
             "evaluate_on_plan": false, "re_evaluate_policies": true, "policy_engine_mode": "any", "invalid_response_action": "retry"}
        ],
        "stages/all": [
            {"pk": "s-ident", "name": "ident", "component": "ak-stage-identification-form", "meta_model_name": "authentik_stages_identification.identificationstage"},
            {"pk": "s-mfa", "name": "mfa", "component": "ak-stage-authenticator-validate-form", "meta_model_name": "authentik_stages_authenticator_validate.authenticatorvalidatestage"}
        ],
        "policies/all": [
            {"pk": "pol-1", "name": "always", "meta_model_name": "authentik_policies_dummy.dummypolicy", "result": true, "wait_min": 0, "wait_max": 1}
        ],
        "policies/bindings": [
            {"pk": "b-1", "target": "px-mfa", "group": "g-admins", "policy": null, "user": null, "negate": false, "enabled": true, "order": 0, "timeout": 30, "failure_result": false},
            {"pk": "b-2", "target": "p-login", "policy": "pol-1", "order": 0},
            {"pk": "b-3", "target": "app-1", "user": 3, "negate": true, "order": 1}
        ],
        "core/applications": [
            {"pk": "app-1", "slug": "wiki", "name": "Wiki", "policy_engine_mode": "all", "provider": 4}
        ]
    })
}
