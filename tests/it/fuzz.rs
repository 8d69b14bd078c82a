//! A bounded fuzz run on stable Rust: random mutations of real inputs fed to the rules parser
//! and checker, the JSON and YAML snapshot loaders and the suppressions reader. A panic fails
//! the test and leaves the input in `target/fuzz-crashes/`, to become a regression test. A
//! stack overflow aborts the test process, which fails the run as well.
//!
//! Each target runs for `FUZZ_SECONDS` (default 8, so CI spends about half a minute here);
//! before a release: `FUZZ_SECONDS=600 cargo test --release --test it fuzz -- --nocapture`.
//! `FUZZ_SEED` repeats a run.

use bindlog::datalog::Rules;
use bindlog::snapshot::{self, LoadOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// xorshift64*: small, seedable, good enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that mean something to one of the formats.
const TOKENS: &[&[u8]] = &[
    b"[",
    b"]",
    b"{",
    b"}",
    b"\"",
    b":",
    b",",
    b"- ",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!Find ",
    b"!KeyOf ",
    b"!Env ",
    b"!If ",
    b"\n",
    b"\t",
    b"  ",
    b"\\",
    b"\\u",
    b"\xef\xbb\xbf",
    b"\xff",
    b"0",
    b"-1",
    b"2147483648",
    b"1e999",
    b"null",
    b"true",
    b".decl ",
    b".output ",
    b".input ",
    b":-",
    b"!",
    b"(",
    b")",
    b"count : {",
    b"sum X : {",
    b"cat(",
    b"substr(",
    b"/",
    b"%",
    b"@",
    b"=",
    b"..",
    b"'",
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(6) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                data.splice(at..at, t.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 if !data.is_empty() => {
                // A chunk repeated: deep nesting, long lines, many errors.
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(16)).min(data.len());
                let chunk = data[start..end].to_vec();
                let times = 1 + rng.below(2000);
                let insert: Vec<u8> = chunk
                    .iter()
                    .copied()
                    .cycle()
                    .take(chunk.len() * times)
                    .collect();
                data.splice(at..at, insert);
            }
            4 if !data.is_empty() => {
                // A chunk copied elsewhere.
                let start = rng.below(data.len());
                let end = (start + rng.below(256)).min(data.len());
                let chunk = data[start..end].to_vec();
                data.splice(at..at, chunk);
            }
            _ => data.truncate(at),
        }
    }
    data.truncate(1 << 20);
    data
}

/// Feeds mutations of `seeds` to `run` for the time budget; fails on the first panic.
fn fuzz(name: &str, seeds: &[Vec<u8>], run: &dyn Fn(&[u8])) {
    let seconds: u64 = std::env::var("FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    let seed: u64 = std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_0000 + name.len() as u64);
    let mut rng = Rng(seed | 1);
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut runs = 0u64;
    while Instant::now() < until {
        let which = rng.below(seeds.len());
        let input = mutate(&mut rng, &seeds[which]);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&input)));
        runs += 1;
        if result.is_err() {
            let dir = root().join("target/fuzz-crashes");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{name}-{seed}-{runs}"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{name}: a panic on run {runs}; the input is in {}",
                path.display()
            );
        }
    }
    eprintln!("fuzz {name}: {runs} inputs in {seconds} s, no panic (seed {seed})");
    assert!(runs > 0);
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Loads `bytes` as a snapshot file named `name` in a fresh directory; errors are fine.
fn load_as(name: &str, bytes: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let _ = snapshot::load(&path, &LoadOptions::default());
}

#[test]
fn fuzz_the_json_loader() {
    let mut seeds = vec![];
    for case in [
        "require-authenticated-gate",
        "application-default-access-off",
    ] {
        seeds.push(read(
            &root().join("tests/cases").join(case).join("snapshot.json"),
        ));
    }
    fuzz("json", &seeds, &|b| load_as("snapshot.json", b));
}

#[test]
fn fuzz_the_blueprint_loader() {
    let dir = root().join("tests/fixtures/snapshot/blueprints");
    let seeds: Vec<Vec<u8>> = ["tags.yaml", "overlay.yaml", "unresolved.yaml"]
        .iter()
        .map(|f| read(&dir.join(f)))
        .collect();
    fuzz("yaml", &seeds, &|b| load_as("blueprint.yaml", b));
}

#[test]
fn fuzz_the_rules_parser_and_checker() {
    let seeds: Vec<Vec<u8>> = ["rules/authentik/deferral.dl", "rules/audit/findings.dl"]
        .iter()
        .map(|f| read(&root().join(f)))
        .collect();
    fuzz("rules", &seeds, &|b| {
        let text = String::from_utf8_lossy(b);
        if let Err(f) = Rules::from_texts(&[("fuzz.dl", &text)]) {
            // Rendering is part of the path a user sees: it must not panic either.
            let _ = f.render(100);
        }
    });
}

#[test]
fn fuzz_the_suppressions_reader() {
    let seeds = vec![
        b"# reviewed\n{\"rule\": \"AK-B01\", \"object\": \"status-page\", \"justification\": \"public\", \"expires\": \"2027-06-30\"}\n{\"rule\": \"AK-M02\", \"justification\": \"x\"}\n".to_vec(),
    ];
    fuzz("suppressions", &seeds, &|b| {
        let _ = bindlog::audit::suppress::parse("s.jsonl", &String::from_utf8_lossy(b));
    });
}
