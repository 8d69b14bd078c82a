//! The Datalog engine: language, Soufflé behaviour, diagnostics, proofs, bounds, evaluators.

mod diagnostics;
mod differential;
mod hostile;
mod io;
mod language;
mod magic;
mod proofs;

use bindlog::datalog::eval::{Limits, Table};
use bindlog::datalog::{Engine, Evaluation, Inputs, Rules};
use std::collections::BTreeMap;

/// Evaluates `program` over `facts` (relation name, tab-separated text) with every evaluator,
/// requires them to agree, and returns each `.output` relation's rows.
pub fn eval(program: &str, facts: &[(&str, &str)]) -> BTreeMap<String, Vec<Vec<String>>> {
    let (rules, evals) = eval_all(program, facts);
    let first = &evals[0];
    let mut out = BTreeMap::new();
    for r in rules
        .program
        .relations
        .iter()
        .filter(|r| r.output.is_some())
    {
        let rows = first.rows(&rules, &r.name).unwrap();
        for other in &evals[1..] {
            assert_eq!(
                other.rows(&rules, &r.name).unwrap(),
                rows,
                "evaluators disagree on `{}`",
                r.name
            );
        }
        out.insert(r.name.clone(), rows);
    }
    out
}

/// The rows of one output relation, each row joined with tabs.
pub fn eval_rel(program: &str, facts: &[(&str, &str)], rel: &str) -> Vec<String> {
    eval(program, facts)
        .remove(rel)
        .unwrap_or_default()
        .into_iter()
        .map(|r| r.join("\t"))
        .collect()
}

/// Runs every evaluator setting and returns the evaluations (fast parallel first).
pub fn eval_all(program: &str, facts: &[(&str, &str)]) -> (Rules, Vec<Evaluation>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in facts {
        std::fs::write(dir.path().join(format!("{name}.facts")), text).unwrap();
    }
    let mut rules =
        Rules::from_texts(&[("test.dl", program)]).unwrap_or_else(|f| panic!("{}", f.render(100)));
    let inputs = Inputs::from_dir(&mut rules, dir.path(), false)
        .unwrap_or_else(|f| panic!("{}", f.render(100)));
    let mut evals: Vec<Evaluation> = [
        Engine::Fast { parallel: true },
        Engine::Fast { parallel: false },
        Engine::Naive,
    ]
    .into_iter()
    .map(|e| rules.evaluate(&inputs, e, Limits::default()).unwrap())
    .collect();
    evals.push(on_prebuilt(&rules, &inputs));
    // The inputs moved into the evaluation, sorted in place (what `bindlog eval` does).
    let owned = Inputs {
        tables: inputs.tables.clone(),
        symbols: inputs.symbols.clone(),
        origins: Vec::new(),
    };
    evals.push(
        rules
            .evaluate_owned(owned, Engine::Fast { parallel: true }, Limits::default())
            .unwrap(),
    );
    (rules, evals)
}

/// The fast evaluator over prebuilt relations: every other input row prebuilt, the rest given
/// to the evaluation. It runs twice, the second time over the indexes the first one kept.
fn on_prebuilt(rules: &Rules, inputs: &Inputs) -> Evaluation {
    let split = |keep_even: bool| -> Vec<Table> {
        inputs
            .tables
            .iter()
            .map(|t| {
                let mut part = Table::new(t.arity);
                for (i, row) in t.rows().enumerate() {
                    if (i % 2 == 0) == keep_even {
                        part.push(row);
                    }
                }
                part
            })
            .collect()
    };
    let base = rules.prebuild(&split(true)).unwrap();
    let rest = Inputs {
        tables: split(false),
        symbols: inputs.symbols.clone(),
        origins: Vec::new(),
    };
    let keep = vec![true; rules.program.relations.len()];
    let first = rules
        .evaluate_on(&base, &rest, Limits::default(), None, &keep)
        .unwrap();
    let second = rules
        .evaluate_on(&base, &rest, Limits::default(), None, &keep)
        .unwrap();
    assert_eq!(
        first.tables, second.tables,
        "the kept indexes changed the result"
    );
    second
}

/// The rendered diagnostics of a program that must not check.
pub fn errors_of(program: &str) -> String {
    match Rules::from_texts(&[("test.dl", program)]) {
        Ok(_) => panic!("expected the program to be rejected"),
        Err(f) => f.render(80),
    }
}
