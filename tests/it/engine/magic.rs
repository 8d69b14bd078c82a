//! `.pragma "magic-transform"`: the magic-set rewrite changes how the relations it names are
//! computed, never what the outputs hold.

use super::differential::{Gen, facts, program};
use super::eval;
use bindlog::datalog::Rules;
use bindlog::datalog::eval::Limits;
use bindlog::datalog::provenance::{ExplainFormat, explain_text};
use std::collections::BTreeMap;

type Outputs = BTreeMap<String, Vec<Vec<String>>>;

/// The program without its `.pragma` lines.
fn as_written(p: &str) -> String {
    p.lines()
        .filter(|l| !l.trim_start().starts_with(".pragma"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What the rewrite did to a program: the relations it no longer computes in full, and the
/// relations it made (adorned copies and magic relations).
#[derive(Debug, Default)]
struct Rewrite {
    partial: Vec<String>,
    made: Vec<String>,
}

fn rewrite_of(p: &str) -> Rewrite {
    let rules =
        Rules::from_texts(&[("test.dl", p)]).unwrap_or_else(|f| panic!("{}", f.render(100)));
    let prog = &rules.program;
    match &prog.magic {
        None => Rewrite::default(),
        Some(m) => Rewrite {
            partial: m
                .partial
                .iter()
                .map(|&r| prog.relations[r].name.clone())
                .collect(),
            made: prog.relations[m.original.relations.len()..]
                .iter()
                .map(|r| r.name.clone())
                .collect(),
        },
    }
}

/// Evaluates `p` (every evaluator, which must agree) with its pragmas and without them: the
/// outputs must be the same. Returns them with what the rewrite did.
fn same_outputs(p: &str, facts: &[(&str, &str)]) -> (Outputs, Rewrite) {
    let with = eval(p, facts);
    let without = eval(&as_written(p), facts);
    assert_eq!(with, without, "the rewrite changed an output of\n{p}");
    (with, rewrite_of(p))
}

/// A complete binary tree of `n` nodes numbered from 1 top down: `parent(child, parent)`.
fn tree(n: usize) -> (String, String) {
    let nodes: String = (1..=n).map(|i| format!("{i}\n")).collect();
    let parents: String = (2..=n).map(|i| format!("{i}\t{}\n", i / 2)).collect();
    (nodes, parents)
}

const SAMEGEN: &str = r#"
.pragma "magic-transform" "*"
.decl node(x: number) .input node
.decl parent(x: number, y: number) .input parent
.decl samegen(x: number, y: number)
samegen(x, x) :- node(x).
samegen(x, y) :- parent(x, a), samegen(a, b), parent(y, b).
.decl yes() .output yes
yes() :- samegen(32, 63).
.decl no() .output no
no() :- samegen(32, 31).
.decl cousins(y: number) .output cousins
cousins(y) :- samegen(40, y), y < 44.
"#;

#[test]
fn samegen_queried_at_constants_is_computed_from_the_constants_only() {
    let (nodes, parents) = tree(63);
    let (out, rw) = same_outputs(SAMEGEN, &[("node", &nodes), ("parent", &parents)]);
    assert_eq!(out["yes"].len(), 1);
    assert!(out["no"].is_empty());
    // Every node at 40's depth (32 to 63), below 44.
    let cousins: Vec<String> = (32..44).map(|i| i.to_string()).collect();
    assert_eq!(out["cousins"].concat(), cousins);
    assert_eq!(rw.partial, vec!["samegen"]);
    assert_eq!(
        rw.made,
        vec![
            "samegen.{bb}",
            "@magic.samegen.{bb}",
            "samegen.{bf}",
            "@magic.samegen.{bf}"
        ]
    );
    // The restricted relations hold what the outputs ask, not all of `samegen` (63 + 2 * ...).
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("node.facts"), &nodes).unwrap();
    std::fs::write(dir.path().join("parent.facts"), &parents).unwrap();
    let mut rules = Rules::from_texts(&[("t.dl", SAMEGEN)]).unwrap();
    let inputs = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), false).unwrap();
    let e = rules
        .evaluate(
            &inputs,
            bindlog::datalog::Engine::Fast { parallel: false },
            Limits::default(),
        )
        .unwrap();
    let size = |name: &str| e.rows(&rules, name).map_or(0, |r| r.len());
    // The full relation: every pair of nodes at the same depth, 1 + 4 + 16 + 64 + 256 + 1024.
    let full: usize = (0..6).map(|d| 1usize << (2 * d)).sum();
    assert_eq!(size("samegen"), 0);
    assert!(size("samegen.{bf}") < full / 10, "{}", size("samegen.{bf}"));
}

#[test]
fn transitive_closure_queried_at_a_constant() {
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: symbol, y: symbol) .input e
        .decl tc(x: symbol, y: symbol)
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        tc("z", "z").
        .decl from_b(y: symbol) .output from_b
        from_b(y) :- tc("b", y).
        .decl to_d(x: symbol) .output to_d
        to_d(x) :- tc(x, "d").
        .decl loop() .output loop
        loop() :- tc("z", "z").
    "#;
    let e = "a\tb\nb\tc\nc\td\nd\tb\nx\ty\n";
    let (out, rw) = same_outputs(p, &[("e", e)]);
    assert_eq!(out["from_b"].concat(), vec!["b", "c", "d"]);
    assert_eq!(out["to_d"].concat(), vec!["a", "b", "c", "d"]);
    assert_eq!(out["loop"].len(), 1);
    assert!(rw.made.contains(&"tc.{bf}".to_string()), "{rw:?}");
    assert!(rw.made.contains(&"tc.{fb}".to_string()), "{rw:?}");
    // `tc.{fb}`'s recursive rule reads `tc(x, y)` before `y` is bound, with every column free:
    // left-to-right information passing computes `tc` in full for it (as Soufflé's does).
    assert!(rw.partial.is_empty(), "{rw:?}");
    // Asked from the bound first column only, `tc` is restricted.
    let from_b_only = p.replace("to_d(x) :- tc(x, \"d\").", "");
    let (out, rw) = same_outputs(&from_b_only, &[("e", e)]);
    assert!(out["to_d"].is_empty());
    assert_eq!(rw.partial, vec!["tc"]);
    assert_eq!(
        rw.made,
        vec!["tc.{bf}", "@magic.tc.{bf}", "tc.{bb}", "@magic.tc.{bb}"]
    );
}

#[test]
fn negated_and_aggregated_relations_and_what_they_read_are_left_in_full() {
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: number, y: number) .input e
        .decl reach(x: number, y: number)
        reach(x, y) :- e(x, y).
        reach(x, z) :- reach(x, y), e(y, z).
        .decl hop(x: number, y: number)
        hop(x, y) :- e(x, y).
        .decl close(x: number, y: number)
        close(x, y) :- hop(x, y).
        .decl far(x: number, y: number)
        far(x, y) :- reach(x, y), !close(x, y).
        .decl fanout(x: number, n: number)
        fanout(x, n) :- e(x, _), n = count : { reach(x, _) }.
        .decl q(y: number, n: number) .output q
        q(y, n) :- far(1, y), fanout(y, n).
        .decl r(y: number) .output r
        r(y) :- reach(2, y).
    "#;
    let e = "1\t2\n2\t3\n3\t4\n4\t2\n5\t6\n";
    let (out, rw) = same_outputs(p, &[("e", e)]);
    assert!(!out["q"].is_empty());
    assert_eq!(out["r"].concat(), vec!["2", "3", "4"]);
    // `close` is negated and reads `hop`; `reach` is aggregated: all computed in full. `far`
    // and `fanout` are restricted.
    for kept in ["close", "hop", "reach"] {
        assert!(!rw.partial.contains(&kept.to_string()), "{rw:?}");
        assert!(
            !rw.made.iter().any(|m| m.contains(&format!("{kept}."))),
            "{rw:?}"
        );
    }
    assert_eq!(rw.partial, vec!["far", "fanout"]);
}

#[test]
fn an_output_queried_at_a_constant_keeps_all_its_tuples() {
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: number, y: number) .input e
        .decl tc(x: number, y: number) .output tc
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        .decl mid(x: number, y: number)
        mid(x, y) :- tc(x, y).
        .decl q(y: number) .output q
        q(y) :- tc(2, y), mid(y, 4).
        .decl s(x: number) .output s
        s(x) :- tc(x, x).
        .decl sz(y: number) .printsize sz
        sz(y) :- mid(3, y).
    "#;
    let e = "1\t2\n2\t3\n3\t4\n4\t2\n";
    let (out, rw) = same_outputs(p, &[("e", e)]);
    assert_eq!(out["tc"].len(), 12);
    assert_eq!(out["q"].concat(), vec!["2", "3", "4"]);
    // `.printsize` relations keep their size: not restricted either.
    assert_eq!(rw.partial, vec!["mid"]);
    assert!(!rw.made.iter().any(|m| m.starts_with("tc.")), "{rw:?}");
}

#[test]
fn only_the_relations_the_pragma_names_are_transformed() {
    let base = r#"
        .decl e(x: number, y: number) .input e
        .decl tc(x: number, y: number)
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        .decl tc2(x: number, y: number)
        tc2(x, y) :- e(x, y).
        tc2(x, z) :- tc2(x, y), e(y, z).
        .decl q(y: number) .output q
        q(y) :- tc(2, y), tc2(3, y).
    "#;
    let e = "1\t2\n2\t3\n3\t4\n4\t5\n5\t3\n";
    let with = |pragmas: &str| same_outputs(&format!("{pragmas}\n{base}"), &[("e", e)]);
    let (out, rw) = with(r#".pragma "magic-transform" "tc2""#);
    assert_eq!(out["q"].concat(), vec!["3", "4", "5"]);
    assert_eq!(rw.partial, vec!["tc2"]);
    // A list, with blanks; `magic-transform-exclude` wins over it and over `*`.
    assert_eq!(
        with(r#".pragma "magic-transform" " tc , tc2""#).1.partial,
        vec!["tc", "tc2"]
    );
    let excluded = r#".pragma "magic-transform" "*"
        .pragma "magic-transform-exclude" "tc2""#;
    assert_eq!(with(excluded).1.partial, vec!["tc"]);
    // As in Soufflé, the last pragma of a key is the one that counts.
    let twice = r#".pragma "magic-transform" "tc"
        .pragma "magic-transform" "tc2""#;
    assert_eq!(with(twice).1.partial, vec!["tc2"]);
    // Other pragmas, and this one with no value, change nothing.
    let other = r#".pragma "legacy"
        .pragma "magic-transform""#;
    assert!(with(other).1.made.is_empty());
}

#[test]
fn magic_and_no_magic_qualifiers_and_relations_of_facts() {
    // As in Soufflé 2.5: `magic` on a `.decl` transforms it without the pragma, `no_magic`
    // keeps it out of `*`, and a relation of facts only (`e`) is left alone.
    let base = r#"
        .decl e(x: number, y: number)
        e(1, 2). e(2, 3). e(3, 4). e(4, 2).
        .decl tc(x: number, y: number) QUAL
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        .decl tc2(x: number, y: number)
        tc2(x, y) :- e(x, y).
        tc2(x, z) :- tc2(x, y), e(y, z).
        .decl q(y: number) .output q
        q(y) :- tc(2, y), tc2(2, y).
    "#;
    let (out, rw) = same_outputs(&base.replace("QUAL", "magic"), &[]);
    assert_eq!(out["q"].concat(), vec!["2", "3", "4"]);
    assert_eq!(rw.partial, vec!["tc"]);
    let star = format!(
        ".pragma \"magic-transform\" \"*\"\n{}",
        base.replace("QUAL", "btree no_magic")
    );
    let (_, rw) = same_outputs(&star, &[]);
    assert_eq!(rw.partial, vec!["tc2"]);
    assert!(!rw.made.iter().any(|m| m.starts_with("e.")), "{rw:?}");
}

#[test]
fn a_pragma_naming_an_undeclared_relation_ignores_it() {
    // Soufflé 2.5 accepts `.pragma "magic-transform" "nosuch,tc"` silently and transforms `tc`.
    let p = r#"
        .pragma "magic-transform" "nosuch,tc"
        .decl e(x: number, y: number) .input e
        .decl tc(x: number, y: number)
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        .decl q(y: number) .output q
        q(y) :- tc(2, y).
    "#;
    let (out, rw) = same_outputs(p, &[("e", "1\t2\n2\t3\n3\t4\n")]);
    assert_eq!(out["q"].concat(), vec!["3", "4"]);
    assert_eq!(rw.partial, vec!["tc"]);
    let only_unknown = p.replace("nosuch,tc", "nosuch");
    assert!(
        same_outputs(&only_unknown, &[("e", "1\t2\n")])
            .1
            .made
            .is_empty()
    );
}

#[test]
fn head_columns_bound_by_assignments_and_aggregates() {
    // `r(x, y)` asked with both columns bound: `y` comes from `y = x + 1` and `c` from an
    // aggregate, after the guard; both still give the right answers.
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: number, y: number) .input e
        .decl succ(x: number, y: number)
        succ(x, y) :- e(x, _), y = x + 1.
        .decl deg(x: number, c: number)
        deg(x, c) :- e(x, _), c = count : { e(x, _) }.
        .decl both(x: number, y: number)
        both(x, y) :- succ(x, y), deg(x, y).
        .decl q(x: number) .output q
        q(x) :- succ(x, 3), deg(x, 2), both(1, 2).
        .decl q2() .output q2
        q2() :- succ(1, 2), deg(3, 1).
    "#;
    let e = "1\t2\n1\t5\n2\t3\n2\t4\n3\t1\n";
    let (out, rw) = same_outputs(p, &[("e", e)]);
    assert_eq!(out["q"].concat(), vec!["2"]);
    assert_eq!(out["q2"].len(), 1);
    assert!(rw.partial.contains(&"succ".to_string()), "{rw:?}");
}

#[test]
fn symbols_facts_and_relations_asked_in_full_too() {
    // `anc` is asked with a constant and with nothing bound: the second computes it in full
    // (so it is not restricted), the first from the constant.
    let p = r#"
        .pragma "magic-transform" "*"
        .decl par(c: symbol, p: symbol) .input par
        .decl anc(c: symbol, a: symbol)
        anc("eve", "adam").
        anc(c, a) :- par(c, a).
        anc(c, a) :- par(c, p), anc(p, a).
        .decl of_cain(a: symbol) .output of_cain
        of_cain(a) :- anc("cain", a).
        .decl n(k: number) .output n
        n(k) :- k = count : { anc(_, _) }.
        .decl pairs(c: symbol) .output pairs
        pairs(c) :- anc(c, "adam").
    "#;
    let par = "cain\tadam\nabel\tadam\nenoch\tcain\n";
    let (out, rw) = same_outputs(p, &[("par", par)]);
    assert_eq!(out["of_cain"].concat(), vec!["adam"]);
    assert_eq!(out["n"].concat(), vec!["5"]);
    // `anc` is aggregated: left in full, nothing made.
    assert!(rw.made.is_empty(), "{rw:?}");
    let p2 = p.replace("n(k) :- k = count : { anc(_, _) }.", "n(1) :- anc(_, _).");
    let (out, rw) = same_outputs(&p2, &[("par", par)]);
    assert_eq!(out["pairs"].concat(), vec!["abel", "cain", "enoch", "eve"]);
    // Asked with every column free by `n`: computed in full, its copies besides.
    assert!(rw.partial.is_empty(), "{rw:?}");
    assert!(rw.made.contains(&"anc.{bf}".to_string()), "{rw:?}");
}

#[test]
fn programs_with_autoinc_are_not_rewritten() {
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: number) .input e
        .decl numbered(x: number, n: number)
        numbered(x, n) :- e(x), n = autoinc().
        .decl q(n: number) .output q
        q(n) :- numbered(3, n).
    "#;
    let (_, rw) = same_outputs(p, &[("e", "1\n2\n3\n")]);
    assert!(rw.made.is_empty());
}

/// `--explain` of an output goes through the adorned and magic relations; of a relation the
/// rewrite restricted, it is answered from the program as checked.
#[test]
fn explain_on_a_rewritten_program() {
    let p = r#"
        .pragma "magic-transform" "*"
        .decl e(x: number, y: number) .input e
        .decl tc(x: number, y: number)
        tc(x, y) :- e(x, y).
        tc(x, z) :- tc(x, y), e(y, z).
        .decl q(y: number) .output q
        q(y) :- tc(2, y).
    "#;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("e.facts"), "1\t2\n2\t3\n3\t4\n").unwrap();
    let mut rules = Rules::from_texts(&[("tc.dl", p)]).unwrap();
    let inputs = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), true).unwrap();
    let mut explain = |atom: &str| {
        explain_text(
            &mut rules,
            &inputs,
            atom,
            Limits::default(),
            3,
            ExplainFormat::Text,
        )
        .unwrap()
        .replace(&dir.path().display().to_string(), "DIR")
    };
    let q = explain("q(4)");
    assert!(q.starts_with("q(4) holds"), "{q}");
    assert!(q.contains("tc.{bf}(2, 4)"), "{q}");
    assert!(q.contains("@magic.tc.{bf}(2)"), "{q}");
    // `tc(1, 4)` is not asked by any output (the rewritten program does not derive it), yet it
    // holds: the answer comes from the rules as written.
    let tc = explain("tc(1, 4)");
    assert!(tc.starts_with("tc(1, 4) holds"), "{tc}");
    assert!(!tc.contains("{bf}"), "{tc}");
    let not = explain("tc(4, 1)");
    assert!(not.starts_with("tc(4, 1) does not hold"), "{not}");
    // The rewrite's names cannot be asked for (they are not identifiers).
    let rules2 = Rules::from_texts(&[("tc.dl", p)]).unwrap();
    let plan = rules2.render_plan();
    assert!(
        plan.starts_with("magic-set rewrite (.pragma \"magic-transform\")"),
        "{plan}"
    );
    assert!(plan.contains("not computed in full: `tc`"), "{plan}");
}

#[test]
fn the_analysis_constructor_ignores_the_pragma() {
    let p = ".pragma \"magic-transform\" \"*\"\n.decl c(x: number)\nc(1).\n.decl a(x: number)\na(x) :- c(x).\n.decl b(x: number) .output b\nb(1) :- a(1).";
    let rules = Rules::from_texts_as_written(&[("t.dl", p)]).unwrap();
    assert!(rules.program.magic.is_none());
    assert!(rules.program.pragmas.magic_transform.is_some());
    assert!(
        Rules::from_texts(&[("t.dl", p)])
            .unwrap()
            .program
            .magic
            .is_some()
    );
}

/// Hostile input: many relations in a chain, wide relations with every pattern asked, and the
/// rewrite's bounds: it ends, and stays right or leaves the program as written.
#[test]
fn long_chains_and_many_patterns_are_bounded() {
    let mut p = String::from(
        ".pragma \"magic-transform\" \"*\"\n.decl e(x: number, y: number) .input e\n.decl r0(x: number, y: number)\nr0(x, y) :- e(x, y).\n",
    );
    for i in 1..400 {
        p.push_str(&format!(
            ".decl r{i}(x: number, y: number)\nr{i}(x, y) :- r{}(x, y).\nr{i}(x, z) :- r{i}(x, y), e(y, z).\n",
            i - 1
        ));
    }
    p.push_str(".decl q(y: number) .output q\nq(y) :- r399(1, y).\n");
    let (out, rw) = same_outputs(&p, &[("e", "1\t2\n2\t3\n")]);
    assert_eq!(out["q"].concat(), vec!["2", "3"]);
    assert_eq!(rw.partial.len(), 400);
    // Twelve columns asked with many patterns (each query binds a different pair).
    let cols: Vec<String> = (0..12).map(|i| format!("c{i}: number")).collect();
    let vars: Vec<String> = (0..12).map(|i| format!("v{i}")).collect();
    let mut w = format!(
        ".pragma \"magic-transform\" \"*\"\n.decl t({0}) .input t\n.decl w({0})\nw({1}) :- t({1}).\n.decl q(n: number) .output q\n",
        cols.join(", "),
        vars.join(", ")
    );
    for i in 0..12 {
        for j in 0..12 {
            let args: Vec<String> = (0..12)
                .map(|k| {
                    if k == i || k == j {
                        "1".into()
                    } else {
                        "_".into()
                    }
                })
                .collect();
            w.push_str(&format!("q({i}) :- w({}).\n", args.join(", ")));
        }
    }
    // A body of 300 atoms: its magic rules would repeat it 300 times over; its atoms read
    // their relations in full instead, and nothing is rewritten.
    let body: Vec<String> = (1..300).map(|i| format!("t(x{i}, x{})", i + 1)).collect();
    let long = format!(
        ".pragma \"magic-transform\" \"*\"\n.decl e(x: number, y: number) .input e\n.decl t(x: number, y: number)\nt(x, y) :- e(x, y).\n.decl q(x: number) .output q\nq(x300) :- t(1, x1), {}.\n",
        body.join(", ")
    );
    let start = std::time::Instant::now();
    let (out, rw) = same_outputs(&long, &[("e", "1\t1\n")]);
    assert_eq!(out["q"].concat(), vec!["1"]);
    assert!(rw.made.is_empty(), "{rw:?}");
    assert!(start.elapsed().as_secs() < 20);
    let row = ["1"; 12].join("\t");
    let (out, _) = same_outputs(&w, &[("t", &format!("{row}\n"))]);
    assert_eq!(out["q"].len(), 12);
}

/// A generated program (see `differential`) with some of its relations no longer outputs and
/// a relation asking them at constants.
fn queried_program(g: &mut Gen) -> String {
    let base = program(g);
    let mut arity = [0usize; 4];
    let mut p = String::new();
    let pragma = match g.below(4) {
        0 => "\"r0,r2\"".to_string(),
        1 => "\"*\"\n.pragma \"magic-transform-exclude\" \"r1\"".to_string(),
        _ => "\"*\"".to_string(),
    };
    p.push_str(&format!(".pragma \"magic-transform\" {pragma}\n"));
    for line in base.lines() {
        if let Some(rest) = line.strip_prefix(".decl r") {
            let i: usize = rest[..1].parse().unwrap_or(0);
            arity[i] = line.matches(": number").count();
        }
        let hidden = line.strip_prefix(".output r").is_some_and(|_| g.chance(60));
        if !hidden {
            p.push_str(line);
            p.push('\n');
        }
    }
    p.push_str(".decl q(a: number, b: number)\n.output q\n");
    for _ in 0..1 + g.below(3) {
        let mut used: Vec<&str> = Vec::new();
        let mut body = Vec::new();
        for _ in 0..1 + g.below(2) {
            let i = g.below(4);
            let args: Vec<String> = (0..arity[i])
                .map(|_| match g.below(3) {
                    0 => g.below(5).to_string(),
                    1 if g.chance(30) => "_".into(),
                    _ => {
                        let v = ["x", "y"][g.below(2)];
                        if !used.contains(&v) {
                            used.push(v);
                        }
                        v.into()
                    }
                })
                .collect();
            body.push(format!("r{i}({})", args.join(", ")));
        }
        let head: Vec<&str> = (0..2)
            .map(|k| used.get(k).copied().unwrap_or("0"))
            .collect();
        p.push_str(&format!("q({}) :- {}.\n", head.join(", "), body.join(", ")));
    }
    p
}

#[test]
fn generated_queries_are_rewritten_often() {
    let (mut rewritten, mut restricted) = (0, 0);
    for seed in 0..100 {
        let p = queried_program(&mut Gen(seed));
        let rw = rewrite_of(&p);
        rewritten += !rw.made.is_empty() as usize;
        restricted += !rw.partial.is_empty() as usize;
    }
    assert!(
        rewritten > 30 && restricted > 30,
        "rewritten {rewritten} restricted {restricted}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 200, ..Default::default() })]
    #[test]
    fn the_rewrite_keeps_every_output(seed in proptest::prelude::any::<u64>()) {
        let mut g = Gen(seed);
        let p = queried_program(&mut g);
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        let out = std::panic::catch_unwind(|| {
            same_outputs(&p, &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)])
        });
        proptest::prop_assert!(
            out.is_ok(),
            "seed {seed}\n{p}\ne0:\n{e0}\ne1:\n{e1}\nu0:\n{u0}\nt0:\n{t0}"
        );
    }

    #[test]
    fn proofs_in_a_rewritten_program_are_derivations(seed in proptest::prelude::any::<u64>()) {
        let mut g = Gen(seed);
        let p = queried_program(&mut g);
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        let out = super::proofs::prove_everything(
            &p,
            &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)],
        );
        proptest::prop_assert!(out.is_ok(), "seed {seed}\n{p}\n{:?}", out.err());
    }
}
