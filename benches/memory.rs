//! Peak memory of the largest engine workload (transitive closure, ~1M tuples), in-process.
//! `cargo bench --bench memory`; the figure goes into README.md.

mod workloads;

use bindlog::datalog::eval::Limits;
use bindlog::datalog::{Engine, FactValue, Inputs, Rules};
use workloads::*;

fn main() {
    let which = std::env::args()
        .nth(1)
        .filter(|a| !a.starts_with('-'))
        .unwrap_or_else(|| "bindlog".into());
    let edges = clustered_graph(100, 100, 300, 7);
    let before = peak_kib();
    let start = std::time::Instant::now();
    let tuples = if which == "datafrog" {
        tc_datafrog(&edges)
    } else {
        let rules =
            Rules::from_texts(&[("tc.dl", TC)]).unwrap_or_else(|f| panic!("{}", f.render(100)));
        let mut inputs = Inputs::new(&rules);
        for &(a, b) in &edges {
            inputs
                .add(
                    &rules,
                    "edge",
                    &[FactValue::Num(a as i64), FactValue::Num(b as i64)],
                )
                .unwrap();
        }
        let e = rules
            .evaluate(&inputs, Engine::Fast { parallel: false }, Limits::default())
            .unwrap();
        e.tables[rules.program.relation("path").unwrap()].len
    };
    let elapsed = start.elapsed();
    println!(
        "{which}: transitive closure of {} edges -> {tuples} tuples in {:.0} ms; peak RSS {:.1} MiB (before: {:.1} MiB)",
        edges.len(),
        elapsed.as_secs_f64() * 1000.0,
        peak_kib() as f64 / 1024.0,
        before as f64 / 1024.0
    );
}
