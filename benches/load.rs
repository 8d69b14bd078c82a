//! Loading a generated 1,000,000-user snapshot, against serde_json parsing the same file into
//! `serde_json::Value` (the target: loading within 2x of that).
//!
//! `cargo bench --bench load` generates the snapshot into a temporary directory first
//! (`BINDLOG_BENCH_USERS` changes the size). Peak memory of one operation alone:
//! `BINDLOG_BENCH_PEAK=load cargo bench --bench load` (or `=value`) runs it once and prints
//! the process's peak resident memory (VmHWM) and the file size instead of benchmarking.

mod workloads;

use bindlog::snapshot::{self, LoadOptions, synth};
use criterion::Criterion;
use std::path::{Path, PathBuf};
use std::time::Duration;
use workloads::peak_kib;

fn generate(dir: &Path) -> PathBuf {
    let users = std::env::var("BINDLOG_BENCH_USERS")
        .ok()
        .and_then(|u| u.parse().ok())
        .unwrap_or(1_000_000);
    let path = dir.join(format!("snapshot-{users}.json"));
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create snapshot"));
    synth::write_bundle(&synth::Params::scaled(users, 1), file).expect("write snapshot");
    path
}

fn load(path: &Path) -> usize {
    let loaded = snapshot::load(path, &LoadOptions::default()).expect("generated snapshot loads");
    loaded.snapshot.users.len()
}

fn parse_value(path: &Path) -> usize {
    let bytes = std::fs::read(path).expect("read snapshot");
    let value: serde_json::Value = serde_json::from_slice(&bytes).expect("valid JSON");
    value["core/users"].as_array().map_or(0, Vec::len)
}

fn bench(c: &mut Criterion, path: &Path) {
    let mut group = c.benchmark_group("load_1m_users");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(40))
        .warm_up_time(Duration::from_secs(3));
    group.bench_function("bindlog_load", |b| b.iter(|| load(path)));
    group.bench_function("serde_json_value", |b| b.iter(|| parse_value(path)));
    group.finish();
}

fn main() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = generate(dir.path());
    if let Ok(which) = std::env::var("BINDLOG_BENCH_PEAK") {
        if which == "repeat" {
            for _ in 0..4 {
                let start = std::time::Instant::now();
                let users = load(&path);
                let mid = start.elapsed();
                let start = std::time::Instant::now();
                let value = parse_value(&path);
                println!(
                    "load {users} in {mid:.2?}, value {value} in {:.2?}",
                    start.elapsed()
                );
            }
            return;
        }
        let before = peak_kib();
        let start = std::time::Instant::now();
        let users = if which == "value" {
            parse_value(&path)
        } else {
            load(&path)
        };
        let took = start.elapsed();
        let size = std::fs::metadata(&path).map_or(0, |m| m.len()) / 1024;
        println!(
            "{which}: {users} users in {took:.2?}, file {size} KiB, peak RSS {} KiB (after generating: {before} KiB), ratio {:.2}",
            peak_kib(),
            peak_kib() as f64 / size as f64
        );
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c, &path);
    c.final_summary();
}
