//! Every diagnostic, as the person holding the file sees it (snapshots without colour, 80 wide).

use super::errors_of;
use insta::assert_snapshot;

#[test]
fn syntax_errors_are_all_reported() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\ne(1\ne(2).\nr(x) :- e(x) e(x).\n.decl s(x: float)\n\"unterminated\n"
    ));
}

#[test]
fn undeclared_relation() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\nr(x) :- e(x).\n.output nowhere\n"
    ));
}

#[test]
fn wrong_arity_points_at_use_and_declaration() {
    assert_snapshot!(errors_of(
        ".decl e(x: number, y: number)\n.decl r(x: number)\nr(x) :- e(x).\n"
    ));
}

#[test]
fn symbol_number_mismatch() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\n.decl s(x: symbol)\ns(x) :- e(x).\ne(\"one\").\ns(x) :- e(y), x = y + 1.\n"
    ));
}

#[test]
fn unbound_variables_in_head_negation_constraint_and_aggregate() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\n.decl r(x: number)\nr(y) :- e(x).\nr(x) :- e(x), !e(z).\nr(x) :- e(x), w > 3.\nr(x) :- e(x), n = count : { e(w), w < v }, n > 0.\nr(_) :- e(1).\nr(x).\n"
    ));
}

#[test]
fn negation_through_recursion_names_the_cycle() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\n.decl a(x: number)\n.decl b(x: number)\na(x) :- e(x), !b(x).\nb(x) :- a(x).\n"
    ));
}

#[test]
fn aggregation_through_recursion_is_rejected() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\n.decl a(x: number)\na(x) :- e(x).\na(n) :- e(_), n = count : { a(_) }.\n"
    ));
}

#[test]
fn duplicate_declaration_and_unknown_type() {
    assert_snapshot!(errors_of(
        ".decl e(x: number)\n.decl e(x: number)\n.decl f(x: Name)\n"
    ));
}

#[test]
fn missing_and_malformed_facts_files() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.facts"), "1\t2\n3\nx\t4\n").unwrap();
    let p = ".decl e(x: number, y: number)\n.input e\n.decl f(x: symbol)\n.input f\n";
    let mut rules = bindlog::datalog::Rules::from_texts(&[("test.dl", p)]).unwrap();
    let failure = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), false)
        .err()
        .unwrap();
    let text = failure
        .render(80)
        .replace(&dir.path().display().to_string(), "DIR");
    assert_snapshot!(text);
}

#[test]
fn cli_exit_status_is_2_for_bad_programs() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("bad.dl");
    std::fs::write(&prog, ".decl e(x: number)\nr(x) :- e(x).\n").unwrap();
    let o = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .args(["eval", prog.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("relation `r` is not declared") && err.contains("bad.dl:2:1"),
        "{err}"
    );
    let o = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .args(["eval", dir.path().join("missing.dl").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));
}
