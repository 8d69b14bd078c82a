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

// Issue 18, item 5: proofs are read off the fast engine's relations (each tuple's height is the
// round that first derived it), not from a naive re-derivation. Every proof must be a real
// derivation: each node holds, each leaf is an input fact, and each rule node is an instance of
// its rule (the head's and the children's values agree on every variable).

use bindlog::datalog::ir::{Arg, Lit, Program};
use bindlog::datalog::provenance::{Because, Explainer, Explanation, Proof};
use std::collections::{BTreeMap, BTreeSet};

/// Binds the variables of `args` to `values`; false when a variable already has another value.
fn bind(args: &[Arg], values: &[String], env: &mut BTreeMap<usize, String>) -> bool {
    args.iter().zip(values).all(|(a, v)| match a {
        Arg::Var(x) => env.entry(*x).or_insert_with(|| v.clone()) == v,
        _ => true,
    })
}

/// Whether `children` can be handed to the positive atoms `atoms` (each once, relation names
/// equal) with every variable taking one value.
fn instance(
    prog: &Program,
    atoms: &[&bindlog::datalog::ir::Atom],
    children: &[&Proof],
    env: &BTreeMap<usize, String>,
) -> bool {
    let Some((first, rest)) = atoms.split_first() else {
        return children.is_empty();
    };
    (0..children.len()).any(|i| {
        let c = children[i];
        let mut e = env.clone();
        c.relation == prog.relations[first.rel].name && bind(&first.args, &c.values, &mut e) && {
            let mut others = children.to_vec();
            others.remove(i);
            instance(prog, rest, &others, &e)
        }
    })
}

/// Checks one proof node and everything under it; `path` holds the tuples above it.
fn check_proof(
    rules: &Rules,
    holds: &BTreeSet<String>,
    facts: &BTreeSet<String>,
    p: &Proof,
    path: &mut Vec<String>,
) -> Result<(), String> {
    if path.contains(&p.tuple) {
        return Err(format!("{} proves itself", p.tuple));
    }
    if !holds.contains(&p.tuple) {
        return Err(format!("{} does not hold", p.tuple));
    }
    match &p.because {
        Because::Input(_) if !facts.contains(&p.tuple) => {
            Err(format!("{} is shown as an input fact", p.tuple))
        }
        Because::Input(_) => Ok(()),
        Because::Rule { location, .. } => {
            let prog = &rules.program;
            let derived: Vec<&Proof> = p
                .children
                .iter()
                .filter(|c| matches!(c.because, Because::Input(_) | Because::Rule { .. }))
                .collect();
            let fits = prog.clauses.iter().any(|c| {
                let mut env = BTreeMap::new();
                let atoms: Vec<_> = c
                    .body
                    .iter()
                    .filter_map(|l| if let Lit::Pos(a) = l { Some(a) } else { None })
                    .collect();
                rules.sources.location(c.span) == *location
                    && prog.relations[c.head.rel].name == p.relation
                    && bind(&c.head.args, &p.values, &mut env)
                    && instance(prog, &atoms, &derived, &env)
            });
            if !fits {
                return Err(format!(
                    "{} is no instance of the rule at {location}",
                    p.tuple
                ));
            }
            path.push(p.tuple.clone());
            for c in derived {
                check_proof(rules, holds, facts, c, path)?;
            }
            path.pop();
            Ok(())
        }
        other => Err(format!("{}: unexpected {other:?}", p.tuple)),
    }
}

/// The height of a proof tree (an input fact is 0).
fn height(p: &Proof) -> usize {
    p.children.iter().map(|c| height(c) + 1).max().unwrap_or(0)
}

/// Proves every tuple of every relation from the fast engine's relations, checks each proof, and
/// returns the sum of the proofs' heights by the fast engine and by the reference.
pub(super) fn prove_everything(
    program: &str,
    facts: &[(&str, &str)],
) -> Result<(usize, usize), String> {
    use bindlog::datalog::eval::{Runtime, naive};
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in facts {
        std::fs::write(dir.path().join(format!("{name}.facts")), text).unwrap();
    }
    let mut rules = Rules::from_texts(&[("test.dl", program)]).map_err(|f| f.render(100))?;
    let inputs = Inputs::from_dir(&mut rules, dir.path(), true).map_err(|f| f.render(100))?;
    let rows = inputs
        .tables
        .iter()
        .map(|t| t.rows().map(|r| r.to_vec()).collect())
        .collect();
    let rt = Runtime::new(inputs.symbols.clone(), Limits::default());
    let db = naive::evaluate_by_deltas(&rules.program, &rt, rows).map_err(|e| e.to_string())?;
    let fast = Explainer::new(&rules, &inputs, inputs.symbols.clone(), Limits::default())
        .map_err(|e| e.to_string())?;
    let reference =
        Explainer::reference(&rules, &inputs, inputs.symbols.clone(), Limits::default())
            .map_err(|e| e.to_string())?;
    let mut holds = BTreeSet::new();
    let mut input = BTreeSet::new();
    for (rel, m) in db.rels.iter().enumerate() {
        for (t, h) in m {
            holds.insert(reference.tuple_text(rel, t));
            if *h == 0 {
                input.insert(reference.tuple_text(rel, t));
            }
        }
    }
    let (mut by_fast, mut by_reference) = (0, 0);
    for (rel, m) in db.rels.iter().enumerate() {
        for t in m.keys() {
            let Explanation::Holds(p) = fast.explain(rel, t, 0) else {
                return Err(format!(
                    "{} holds, the fast engine says not",
                    fast.tuple_text(rel, t)
                ));
            };
            check_proof(&rules, &holds, &input, &p, &mut Vec::new())?;
            by_fast += height(&p);
            if let Explanation::Holds(q) = reference.explain(rel, t, 0) {
                by_reference += height(&q);
            }
        }
    }
    Ok((by_fast, by_reference))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 120, ..Default::default() })]
    #[test]
    fn issue_18_5_every_proof_from_the_fast_engine_is_a_derivation(seed in proptest::prelude::any::<u64>()) {
        use super::differential::{Gen, facts, program};
        let mut g = Gen(seed);
        let p = program(&mut g);
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        let out = prove_everything(&p, &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)]);
        proptest::prop_assert!(out.is_ok(), "seed {seed}\n{p}\n{:?}", out.err());
        let (fast, reference) = out.unwrap_or_default();
        // Reference proofs are shortest; the fast engine's may be longer, never shorter.
        proptest::prop_assert!(fast >= reference, "seed {seed}\n{p}");
    }
}

/// A chain with shortcuts: proofs from the fast engine are derivations, and as short as the
/// reference's here, where each tuple's first round is also its shortest proof.
#[test]
fn issue_18_5_fast_proofs_of_a_closure_are_shortest() {
    let mut edges: Vec<String> = (0..30).map(|i| format!("n{i}\tn{}", i + 1)).collect();
    edges.extend(["n0\tn10".into(), "n3\tn25".into(), "n12\tn2".into()]);
    let (fast, reference) = prove_everything(
        PATH,
        &[("edge", &(edges.join("\n") + "\n")), ("blocked", "n7\n")],
    )
    .unwrap();
    assert!(reference > 1000, "{reference}");
    assert_eq!(fast, reference);
}
