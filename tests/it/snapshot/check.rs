//! What `bindlog check` prints for people (reviewed with `cargo insta review`).

use super::*;

fn check(args: &[&str]) -> String {
    let out = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .current_dir(root())
        .arg("check")
        .args(args)
        .assert()
        .success();
    String::from_utf8_lossy(&out.get_output().stdout).to_string()
}

#[test]
fn check_of_the_example() {
    insta::assert_snapshot!(check(&["examples/acme/snapshot.json"]));
}

#[test]
fn check_of_a_blueprint_overlay_with_unresolved_tags() {
    insta::assert_snapshot!(check(&[
        "examples/acme/snapshot.json",
        "--overlay",
        "tests/fixtures/snapshot/blueprints/unresolved.yaml",
        "--env",
        "ALSO_NOT_GIVEN=ops"
    ]));
}

/// A repeated key is accepted (the last value wins, as with serde_json's reading) but named
/// with both places (issue 14, item 15), since it means the slower reading and maybe a value
/// nobody meant.
#[test]
fn a_repeated_key_is_a_warning_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dup.json");
    let example = std::fs::read_to_string(root().join("examples/acme/snapshot.json")).unwrap();
    let at = example.find("\"is_active\"").unwrap();
    let line = example[..at].lines().count();
    let doubled = format!("{}\"is_active\": false, {}", &example[..at], &example[at..]);
    std::fs::write(&path, doubled).unwrap();
    let out = check(&[path.to_str().unwrap()]);
    assert!(
        out.contains(&format!("dup.json:{line}:"))
            && out.contains(&format!(
                "duplicate key `is_active` (first at line {line}, column"
            )),
        "{out}"
    );
    let warnings = |s: &str| {
        s.lines()
            .find(|l| l.starts_with("warnings ("))
            .map(str::to_owned)
    };
    let plain = check(&["examples/acme/snapshot.json"]);
    assert_eq!(
        warnings(&plain).as_deref(),
        Some("warnings (1):"),
        "{plain}"
    );
    assert_eq!(warnings(&out).as_deref(), Some("warnings (2):"), "{out}");
}

/// The generator's bulk presets (full API-shaped users) read on the fast typed path: no
/// warning, in particular no repeated key.
#[test]
fn the_generated_preset_reads_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("1k.json");
    let p = path.to_str().unwrap();
    let out = crate::bindlog(&["generate", "--preset", "1k", "-o", p]);
    assert!(out.status.success(), "{out:?}");
    let out = check(&[p]);
    assert!(out.contains("warnings (0)"), "{out}");
}
