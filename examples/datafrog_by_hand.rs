//! The engine workloads of `benches/workloads` as whole programs written by hand against
//! datafrog: read the `.facts` file, evaluate, write the `.csv` file `bindlog eval` writes (the
//! same bytes), so that `scripts/measure-engine.sh` times both as whole processes.
//!
//! ```text
//! datafrog_by_hand gen WORKLOAD DIR        writes DIR/WORKLOAD.dl and the facts it reads
//! datafrog_by_hand run WORKLOAD DIR OUT    reads DIR's facts, writes OUT/<relation>.csv
//! ```
//! WORKLOAD is `closure`, `samegen`, `negation`, `aggregates` or `copy` (one rule copying a
//! relation of numbers and symbols: bindlog's reading and writing, to compare with `cat`).

#[path = "../benches/workloads/mod.rs"]
mod workloads;

use datafrog::{Iteration, Relation, RelationLeaper};
use std::io::Write;
use std::path::Path;
use workloads::*;

/// The `copy` workload: every row read is written again.
const COPY: &str = ".decl e(x: number, s: symbol)\n.input e\n.decl out(x: number, s: symbol)\n.output out\nout(x, s) :- e(x, s).\n";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| -> &str { args.get(i).map(String::as_str).unwrap_or_else(|| usage()) };
    match arg(0) {
        "gen" => generate(arg(1), Path::new(arg(2))),
        "run" => run(arg(1), Path::new(arg(2)), Path::new(arg(3))),
        _ => usage(),
    }
}

fn usage() -> ! {
    eprintln!("usage: datafrog_by_hand gen WORKLOAD DIR | run WORKLOAD DIR OUT");
    std::process::exit(2)
}

/// The workload's program, input relation and input rows: each large enough that a whole
/// `bindlog eval` takes at least 0.3 s on an idle machine (the closure and negation were made
/// larger when a faster machine ran them in less).
fn workload(name: &str) -> (&'static str, &'static str, Vec<(u32, u32)>) {
    match name {
        "closure" => (TC, "edge", clustered_graph(190, 100, 300, 7)),
        "samegen" => (SG, "parent", forest(4, 4, 5)),
        "negation" => (NEG, "edge", clustered_graph(1, 2_500_000, 2_750_000, 11)),
        "aggregates" => (AGG, "edge", clustered_graph(1, 200_000, 1_000_000, 13)),
        "copy" => (COPY, "e", clustered_graph(1, 1_000_000, 2_000_000, 17)),
        _ => usage(),
    }
}

fn generate(name: &str, dir: &Path) {
    let (program, input, rows) = workload(name);
    std::fs::create_dir_all(dir).expect("create the directory");
    std::fs::write(dir.join(format!("{name}.dl")), program).expect("write the program");
    let mut text = String::new();
    for (a, b) in rows {
        if name == "copy" {
            text.push_str(&format!("{a}\tsymbol-{b}\n"));
        } else {
            text.push_str(&format!("{a}\t{b}\n"));
        }
    }
    std::fs::write(dir.join(format!("{input}.facts")), text).expect("write the facts");
}

/// Reads a facts file of two unsigned numbers per line.
fn read_pairs(path: &Path) -> Vec<(u32, u32)> {
    let text = std::fs::read(path).expect("read the facts");
    let mut out = Vec::with_capacity(text.len() / 12);
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let tab = line.iter().position(|&b| b == b'\t').expect("two columns");
        out.push((number(&line[..tab]), number(&line[tab + 1..])));
    }
    out
}

fn number(field: &[u8]) -> u32 {
    field
        .iter()
        .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
}

/// Writes rows of numbers, tab-separated, through one large buffer.
fn write_rows<const N: usize>(path: &Path, rows: impl Iterator<Item = [u32; N]>) {
    let mut file = std::fs::File::create(path).expect("create the output");
    let mut buf = Vec::with_capacity(1 << 18);
    let mut num = itoa::Buffer::new();
    for row in rows {
        for (i, v) in row.iter().enumerate() {
            if i > 0 {
                buf.push(b'\t');
            }
            buf.extend_from_slice(num.format(*v).as_bytes());
        }
        buf.push(b'\n');
        if buf.len() >= 1 << 18 {
            file.write_all(&buf).expect("write");
            buf.clear();
        }
    }
    file.write_all(&buf).expect("write");
}

fn run(name: &str, dir: &Path, out: &Path) {
    std::fs::create_dir_all(out).expect("create the output directory");
    match name {
        "closure" => {
            let edges = read_pairs(&dir.join("edge.facts"));
            let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
            let mut iteration = Iteration::new();
            let path = iteration.variable::<(u32, u32)>("path");
            path.extend(edges.iter().copied());
            while iteration.changed() {
                path.from_leapjoin(&path, edge.extend_with(|&(_, y)| y), |&(x, _), &z| (x, z));
            }
            let path = path.complete();
            write_rows(&out.join("path.csv"), path.iter().map(|&(x, y)| [x, y]));
        }
        "samegen" => {
            let parent = read_pairs(&dir.join("parent.facts"));
            let children: Relation<(u32, u32)> = parent.iter().map(|&(c, p)| (p, c)).collect();
            let mut iteration = Iteration::new();
            let sg = iteration.variable::<(u32, u32)>("sg");
            let base: Relation<(u32, u32)> =
                Relation::from_join(&children, &children, |_, &x, &y| (x, y));
            sg.extend(base.iter().filter(|(x, y)| x != y).copied());
            let xb = iteration.variable::<(u32, u32)>("xb");
            while iteration.changed() {
                xb.from_leapjoin(&sg, children.extend_with(|&(a, _)| a), |&(_, b), &x| (b, x));
                sg.from_leapjoin(&xb, children.extend_with(|&(b, _)| b), |&(_, x), &y| (x, y));
            }
            let sg = sg.complete();
            write_rows(&out.join("sg.csv"), sg.iter().map(|&(x, y)| [x, y]));
        }
        "negation" => {
            let edges = read_pairs(&dir.join("edge.facts"));
            let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
            let mut iteration = Iteration::new();
            let reach = iteration.variable::<u32>("reach");
            reach.extend([0u32]);
            while iteration.changed() {
                reach.from_leapjoin(&reach, edge.extend_with(|&x| x), |_, &y| y);
            }
            let reach = reach.complete();
            let nodes: Relation<u32> = edges.iter().flat_map(|&(x, y)| [x, y]).collect();
            write_rows(
                &out.join("unreach.csv"),
                nodes
                    .iter()
                    .filter(|n| reach.binary_search(n).is_err())
                    .map(|&n| [n]),
            );
        }
        "aggregates" => {
            let edges = read_pairs(&dir.join("edge.facts"));
            let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
            let by_target: Relation<(u32, u32)> = edge.iter().map(|&(x, y)| (y, x)).collect();
            let two: Relation<(u32, u32)> =
                Relation::from_join(&edge, &by_target, |_, &z, &x| (x, z));
            let mut stats = std::collections::BTreeMap::new();
            for &(x, y) in edge.iter() {
                let e = stats.entry(x).or_insert((0u32, 0u32, 0u32));
                e.0 += 1;
                e.2 = e.2.max(y);
            }
            for &(x, _) in two.iter() {
                if let Some(e) = stats.get_mut(&x) {
                    e.1 += 1;
                }
            }
            write_rows(
                &out.join("stats.csv"),
                stats.iter().map(|(&x, &(d, n, m))| [x, d, n, m]),
            );
        }
        _ => usage(),
    }
}
