//! Every kind of bad input: reported all at once, with file and position and what was
//! expected, exit status 2, never a panic.

use super::*;
use serde_json::json;

#[test]
fn not_json() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.json");
    std::fs::write(&path, "{\n  \"core/users\": [,]\n}").unwrap();
    has(
        &refused(&path),
        &["s.json:2:18", "is not valid JSON", "expected value"],
    );
}

#[test]
fn not_yaml() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.yaml");
    std::fs::write(&path, "version: 1\nentries:\n  - model: [unclosed\n").unwrap();
    has(&refused(&path), &["b.yaml:", "is not valid YAML"]);
}

#[test]
fn missing_required_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b.as_object_mut().unwrap().remove("flows/bindings");
    b.as_object_mut().unwrap().remove("policies/all");
    let stderr = refused(&write_json(dir.path(), "s.json", &b));
    has(
        &stderr,
        &[
            "required endpoint `flows/bindings` is missing",
            "required endpoint `policies/all` is missing",
            "s.json",
        ],
    );
}

#[test]
fn wrong_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["core/users"][1]["is_active"] = json!("yes");
    has(
        &refused(&write_json(dir.path(), "s.json", &b)),
        &[
            "s.json#/core~1users/1/is_active",
            "wrong type for `is_active`",
            "expected a boolean",
        ],
    );
}

#[test]
fn duplicate_pk() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["stages/all"][1]["pk"] = json!("s-ident");
    has(
        &refused(&write_json(dir.path(), "s.json", &b)),
        &[
            "s.json#/stages~1all/1",
            "duplicate pk `s-ident`",
            "first at",
            "#/stages~1all/0",
        ],
    );
}

#[test]
fn dangling_reference() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["flows/bindings"][0]["stage"] = json!("s-gone");
    has(
        &refused(&write_json(dir.path(), "s.json", &b)),
        &[
            "s.json#/flows~1bindings/0/stage",
            "`stage` refers to stage `s-gone`",
            "expected the pk of an object in `stages/all`",
        ],
    );
}

#[test]
fn unknown_enum_value() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["flows/instances"][0]["designation"] = json!("login");
    has(
        &refused(&write_json(dir.path(), "s.json", &b)),
        &[
            "s.json#/flows~1instances/0/designation",
            "unknown value `login` for `designation`",
            "`authentication`",
            "`stage_configuration`",
        ],
    );
}

#[test]
fn a_binding_with_no_subject() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["policies/bindings"][1]["policy"] = json!(null);
    has(
        &refused(&write_json(dir.path(), "s.json", &b)),
        &[
            "#/policies~1bindings/1",
            "sets none of `policy`, `group` and `user`",
        ],
    );
}

#[test]
fn all_problems_of_a_phase_are_reported_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = small_bundle();
    b["core/users"][0]["pk"] = json!("one");
    b["core/groups"][1]["is_superuser"] = json!(3);
    b["flows/bindings"][1]["invalid_response_action"] = json!("explode");
    b["core/applications"] = json!({"results": 5});
    let stderr = refused(&write_json(dir.path(), "s.json", &b));
    has(
        &stderr,
        &[
            "4 problems",
            "#/core~1users/0/pk",
            "#/core~1groups/1/is_superuser",
            "#/flows~1bindings/1/invalid_response_action",
            "#/core~1applications/results",
        ],
    );

    let mut b = small_bundle();
    b["core/users"][2]["pk"] = json!(1);
    b["core/users"][0]["groups"] = json!(["g-nope"]);
    b["policies/bindings"][0]["group"] = json!("g-missing");
    let stderr = refused(&write_json(dir.path(), "t.json", &b));
    has(
        &stderr,
        &[
            "4 problems",
            "duplicate pk `1`",
            "group `g-nope`",
            "group `g-missing`",
            "#/policies~1bindings/2/user",
        ],
    );
}

#[test]
fn a_missing_snapshot_or_overlay() {
    let dir = tempfile::tempdir().unwrap();
    has(
        &refused(&dir.path().join("nothing.json")),
        &["cannot read", "nothing.json"],
    );
    let base = write_json(dir.path(), "s.json", &small_bundle());
    let out = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .arg("check")
        .arg(&base)
        .arg("--overlay")
        .arg(dir.path().join("gone.yaml"))
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("gone.yaml"));
}

#[test]
fn a_blueprint_of_another_version_or_a_base_model() {
    let dir = tempfile::tempdir().unwrap();
    let v2 = dir.path().join("v2.yaml");
    std::fs::write(&v2, "version: 2\nentries: []\n").unwrap();
    has(
        &refused(&v2),
        &["v2.yaml:1:10", "blueprint `version` is not 1"],
    );
    let base = dir.path().join("base.yaml");
    std::fs::write(
        &base,
        "version: 1\nentries:\n  - model: authentik_policies.policy\n    identifiers: {name: x}\n",
    )
    .unwrap();
    has(
        &refused(&base),
        &[
            "base.yaml:3:5",
            "`authentik_policies.policy` is a base model",
        ],
    );
}

fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        "[a-z0-9/_-]{0,8}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]

    /// Whatever value sits where an object or field belongs, loading answers; it never panics.
    #[test]
    fn any_value_anywhere_is_answered_without_a_panic(slot in 0usize..12, value in arbitrary_json()) {
        let pointers = [
            "/core~1users", "/core~1users/0", "/core~1users/0/groups", "/core~1groups/1/parents",
            "/flows~1instances/0", "/flows~1bindings/0/order", "/stages~1all", "/policies~1all/0",
            "/policies~1bindings/0/target", "/core~1applications/0/provider", "/meta", "/admin~1settings",
        ];
        let mut bundle = small_bundle();
        let (parent, key) = pointers[slot].rsplit_once('/').unwrap();
        let key = key.replace("~1", "/");
        match bundle.pointer_mut(if parent.is_empty() { "" } else { parent }) {
            Some(serde_json::Value::Object(m)) => { m.insert(key, value); }
            Some(serde_json::Value::Array(a)) => { let i: usize = key.parse().unwrap(); a[i] = value; }
            _ => {}
        }
        let dir = tempfile::tempdir().unwrap();
        let _ = load_with(&write_json(dir.path(), "s.json", &bundle), &[], &[]);
    }

    /// Arbitrary text as a blueprint is parsed or refused, never a panic.
    #[test]
    fn any_text_as_a_blueprint_is_answered_without_a_panic(text in "(version: 1\nentries:\n)?([ -~\n]|!KeyOf |!Format |- ){0,80}") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.yaml");
        std::fs::write(&path, text).unwrap();
        let _ = load_with(&path, &[], &[]);
    }
}
