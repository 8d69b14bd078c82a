//! The Datalog engine against hand-written datafrog, with the naive evaluator for contrast.
//! `cargo bench --bench engine`; figures go into README.md.

mod workloads;

use bindlog::datalog::eval::Limits;
use bindlog::datalog::{Engine, FactValue, Inputs, Rules};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;
use workloads::*;

fn setup(program: &str, rel: &str, pairs: &[(u32, u32)]) -> (Rules, Inputs) {
    let rules =
        Rules::from_texts(&[("bench.dl", program)]).unwrap_or_else(|f| panic!("{}", f.render(100)));
    let mut inputs = Inputs::new(&rules);
    for &(a, b) in pairs {
        inputs
            .add(
                &rules,
                rel,
                &[FactValue::Num(a as i64), FactValue::Num(b as i64)],
            )
            .unwrap();
    }
    (rules, inputs)
}

fn total(rules: &Rules, inputs: &Inputs, engine: Engine, rel: &str) -> usize {
    let e = rules.evaluate(inputs, engine, Limits::default()).unwrap();
    e.tables[rules.program.relation(rel).unwrap()].len
}

fn bench(c: &mut Criterion) {
    let fast = Engine::Fast { parallel: false };

    // Transitive closure: 10,000 nodes in clusters of 100, 30,000 edges: ~1M path tuples.
    let edges = clustered_graph(100, 100, 300, 7);
    let (rules, inputs) = setup(TC, "edge", &edges);
    assert_eq!(total(&rules, &inputs, fast, "path"), tc_datafrog(&edges));
    let mut g = c.benchmark_group("transitive_closure_1M");
    g.sample_size(10).measurement_time(Duration::from_secs(20));
    g.bench_function("bindlog", |b| {
        b.iter(|| black_box(total(&rules, &inputs, fast, "path")))
    });
    g.bench_function("datafrog_by_hand", |b| {
        b.iter(|| black_box(tc_datafrog(&edges)))
    });
    g.finish();
    // The naive evaluator on a 100x smaller instance (one cluster), for contrast.
    let small = clustered_graph(1, 100, 300, 7);
    let (rules_s, inputs_s) = setup(TC, "edge", &small);
    let mut g = c.benchmark_group("transitive_closure_10k");
    g.sample_size(10);
    g.bench_function("bindlog", |b| {
        b.iter(|| black_box(total(&rules_s, &inputs_s, fast, "path")))
    });
    g.bench_function("datafrog_by_hand", |b| {
        b.iter(|| black_box(tc_datafrog(&small)))
    });
    g.bench_function("naive_reference", |b| {
        b.iter(|| black_box(total(&rules_s, &inputs_s, Engine::Naive, "path")))
    });
    g.finish();

    // Same generation on a complete 4-ary tree of depth 5 (1,365 nodes, ~1.1M sg tuples).
    let parent = tree(4, 5);
    let (rules, inputs) = setup(SG, "parent", &parent);
    assert_eq!(total(&rules, &inputs, fast, "sg"), sg_datafrog(&parent));
    let mut g = c.benchmark_group("same_generation");
    g.sample_size(10);
    g.bench_function("bindlog", |b| {
        b.iter(|| black_box(total(&rules, &inputs, fast, "sg")))
    });
    g.bench_function("datafrog_by_hand", |b| {
        b.iter(|| black_box(sg_datafrog(&parent)))
    });
    g.finish();

    // Stratified negation over a sparse random graph of 200,000 nodes.
    let sparse = clustered_graph(1, 200_000, 220_000, 11);
    let (rules, inputs) = setup(NEG, "edge", &sparse);
    assert_eq!(
        total(&rules, &inputs, fast, "unreach"),
        neg_datafrog(&sparse)
    );
    let mut g = c.benchmark_group("stratified_negation");
    g.sample_size(10);
    g.bench_function("bindlog", |b| {
        b.iter(|| black_box(total(&rules, &inputs, fast, "unreach")))
    });
    g.bench_function("datafrog_by_hand", |b| {
        b.iter(|| black_box(neg_datafrog(&sparse)))
    });
    g.finish();

    // Aggregates over 100,000 edges among 20,000 nodes.
    let agg = clustered_graph(1, 20_000, 100_000, 13);
    let (rules, inputs) = setup(AGG, "edge", &agg);
    assert_eq!(total(&rules, &inputs, fast, "stats"), agg_datafrog(&agg));
    let mut g = c.benchmark_group("aggregates");
    g.sample_size(10);
    g.bench_function("bindlog", |b| {
        b.iter(|| black_box(total(&rules, &inputs, fast, "stats")))
    });
    g.bench_function("datafrog_by_hand", |b| {
        b.iter(|| black_box(agg_datafrog(&agg)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
