//! Bulk analysis: identity classes against a per-user evaluation of the same rules.
//!
//! `cargo bench --bench analyze` generates the `1k` preset (1,000 users) and measures the whole
//! class-based run (classes, rules once per class, the stage CSV written to a sink) and the same
//! rules evaluated once per user (what a per-request evaluation costs, one user at a time).
//!
//! `BINDLOG_BENCH_SNAPSHOT=FILE BINDLOG_BENCH_SAMPLE=N cargo bench --bench analyze` instead
//! loads FILE once, times the class-based run over every user, times the per-user evaluation on
//! N users spread over the snapshot and extrapolates it to every user (said so in the output).

mod workloads;

use bindlog::analysis::bulk::{self, Bulk, Form, Options};
use bindlog::analysis::classes::{Classes, KeyContext};
use bindlog::snapshot::{self, LoadOptions, Snapshot, synth};
use criterion::Criterion;
use std::time::{Duration, Instant};

/// The bulk run, and with `write` the per-user stage CSV formatted into a sink (past a few
/// hundred thousand users that CSV runs to a hundred gigabytes, so it is left out there).
fn class_run(s: &Snapshot, write: bool) -> usize {
    let b = Bulk::new(s, Options::default(), &|_| {}).expect("bulk run");
    if write {
        let mut sink = std::io::sink();
        b.write_users(Form::StagesCsv, &mut sink, &|_| {})
            .expect("write");
    }
    b.classes.len()
}

/// The rules evaluated once per user of `sample` (each user alone with the rest of the
/// configuration, as one request would see it).
fn per_user_run(s: &Snapshot, sample: &[usize]) -> usize {
    let rules = bulk::builtin_rules().expect("rules");
    let ctx = KeyContext::new(s, &rules.program);
    let classes = Classes {
        of_user: vec![0; s.users.len()],
        representative: sample.to_vec(),
        members: vec![1; sample.len()],
    };
    let options = Options {
        chunk: 1,
        whole: true,
        ..Options::default()
    };
    let b = Bulk::with_classes(s, &rules, &ctx, classes, options, &|_| {}).expect("per-user run");
    b.answers.len()
}

fn main() {
    if let Ok(path) = std::env::var("BINDLOG_BENCH_SNAPSHOT") {
        let sample: usize = std::env::var("BINDLOG_BENCH_SAMPLE")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(200);
        let start = Instant::now();
        let s = snapshot::load(path.as_ref(), &LoadOptions::default())
            .expect("snapshot loads")
            .snapshot;
        let load = start.elapsed();
        let start = Instant::now();
        let write = s.users.len() <= 200_000;
        let classes = class_run(&s, write);
        let by_class = start.elapsed();
        let n = s.users.len();
        let step = (n / sample.max(1)).max(1);
        let picked: Vec<usize> = (0..n).step_by(step).take(sample).collect();
        let start = Instant::now();
        per_user_run(&s, &picked);
        let took = start.elapsed();
        let per_user = took.as_secs_f64() / picked.len().max(1) as f64;
        println!(
            "{n} users, load {load:.2?}; by class ({classes} classes{}): {by_class:.2?}; \
             per user: {took:.2?} for {} users = {:.2} ms each, extrapolated to {n} users: {:.0} s ({:.0}x the class run)",
            if write {
                ", stage CSV to a sink"
            } else {
                ", no per-user output"
            },
            picked.len(),
            per_user * 1000.0,
            per_user * n as f64,
            per_user * n as f64 / by_class.as_secs_f64()
        );
        println!("peak RSS {} KiB", workloads::peak_kib());
        return;
    }
    let mut bytes = Vec::new();
    let p = synth::Params::preset("1k", 1).expect("preset");
    synth::write_bundle(&p, &mut bytes).expect("generate");
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("1k.json");
    std::fs::write(&path, bytes).expect("write snapshot");
    let s = snapshot::load(&path, &LoadOptions::default())
        .expect("generated snapshot loads")
        .snapshot;
    let all: Vec<usize> = (0..s.users.len()).collect();
    let mut c = Criterion::default().configure_from_args();
    let mut group = c.benchmark_group("analyze_1k_users");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10))
        .warm_up_time(Duration::from_secs(1));
    group.bench_function("by_class", |b| b.iter(|| class_run(&s, true)));
    group.bench_function("per_user", |b| b.iter(|| per_user_run(&s, &all)));
    group.finish();
    c.final_summary();
}
