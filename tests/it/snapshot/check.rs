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
