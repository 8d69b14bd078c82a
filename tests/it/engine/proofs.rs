//! Proofs of minimal height and why-not answers.

use bindlog::datalog::eval::Limits;
use bindlog::datalog::provenance::{ExplainFormat, explain_text};
use bindlog::datalog::{Inputs, Rules};
use insta::assert_snapshot;

const PATH: &str = ".decl edge(x: symbol, y: symbol)\n.input edge\n.decl path(x: symbol, y: symbol)\n.output path\npath(x, y) :- edge(x, y).\npath(x, z) :- path(x, y), edge(y, z).\n.decl blocked(x: symbol)\n.input blocked\n.decl ok(x: symbol, y: symbol)\nok(x, y) :- path(x, y), !blocked(y).\n";

fn explain(atom: &str, format: ExplainFormat) -> String {
    let dir = tempfile::tempdir().unwrap();
    // a -> b -> c -> d, and a shortcut a -> c: the proof of path(a, d) must use it.
    std::fs::write(dir.path().join("edge.facts"), "a\tb\nb\tc\nc\td\na\tc\n").unwrap();
    std::fs::write(dir.path().join("blocked.facts"), "c\n").unwrap();
    let mut rules = Rules::from_texts(&[("path.dl", PATH)]).unwrap();
    let inputs = Inputs::from_dir(&mut rules, dir.path(), true).unwrap();
    explain_text(&mut rules, &inputs, atom, Limits::default(), 3, format)
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR")
}

#[test]
fn proof_has_minimal_height_and_cites_rules_and_facts() {
    let text = explain("path(\"a\", \"d\")", ExplainFormat::Text);
    // Height 2 (via the shortcut a -> c), not 3.
    assert_eq!(text.matches("by path.dl").count(), 2, "{text}");
    assert_snapshot!(text);
}

#[test]
fn proof_includes_negation_leaves() {
    assert_snapshot!(explain("ok(\"a\", \"d\")", ExplainFormat::Text));
}

#[test]
fn why_not_names_the_failing_literal_and_follows_it() {
    assert_snapshot!(explain("ok(\"a\", \"c\")", ExplainFormat::Text));
    assert_snapshot!(explain("path(\"d\", \"a\")", ExplainFormat::Text));
}

#[test]
fn json_form_is_the_same_tree_as_data() {
    let v: serde_json::Value =
        serde_json::from_str(&explain("path(\"a\", \"d\")", ExplainFormat::Json)).unwrap();
    assert_eq!(v["holds"], true);
    assert_eq!(v["rule"]["location"], "path.dl:6");
    let kids = v["children"].as_array().unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[1]["tuple"], "edge(\"c\", \"d\")");
    assert_eq!(kids[1]["source"]["line"], 3);
    let w: serde_json::Value =
        serde_json::from_str(&explain("ok(\"a\", \"c\")", ExplainFormat::Json)).unwrap();
    assert_eq!(w["holds"], false);
    assert_eq!(w["rules"][0]["failed"], "!blocked(\"c\")");
}

#[test]
fn explain_rejects_a_bad_atom_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("edge.facts"), "").unwrap();
    std::fs::write(dir.path().join("blocked.facts"), "").unwrap();
    let mut rules = Rules::from_texts(&[("path.dl", PATH)]).unwrap();
    let inputs = Inputs::from_dir(&mut rules, dir.path(), true).unwrap();
    let err = explain_text(
        &mut rules,
        &inputs,
        "path(\"a\")",
        Limits::default(),
        3,
        ExplainFormat::Text,
    )
    .err()
    .unwrap();
    assert!(err.contains("takes 2 arguments"), "{err}");
    let err = explain_text(
        &mut rules,
        &inputs,
        "nope(1)",
        Limits::default(),
        3,
        ExplainFormat::Text,
    )
    .err()
    .unwrap();
    assert!(err.contains("not declared"), "{err}");
}
