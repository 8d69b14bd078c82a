//! Engine workloads shared by the criterion bench and the README's measurement commands:
//! each has a Datalog program, its input facts, and a hand-written datafrog version.

#![allow(dead_code)]

use datafrog::{Iteration, Relation, RelationLeaper};

/// The process's peak resident set so far (VmHWM), in KiB.
pub fn peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// A deterministic pseudo-random sequence (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    /// Next value below `n`.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) % n as u64) as u32
    }
}

/// Transitive closure.
pub const TC: &str = ".decl edge(x: number, y: number)\n.input edge\n.decl path(x: number, y: number)\n.output path\npath(x, y) :- edge(x, y).\npath(x, z) :- path(x, y), edge(y, z).\n";

/// Random graph: `clusters` clusters of `size` nodes, `per` edges inside each cluster.
pub fn clustered_graph(clusters: u32, size: u32, per: u32, seed: u64) -> Vec<(u32, u32)> {
    let mut rng = Rng(seed);
    let mut edges = Vec::new();
    for c in 0..clusters {
        let base = c * size;
        for _ in 0..per {
            edges.push((base + rng.below(size), base + rng.below(size)));
        }
    }
    edges.sort();
    edges.dedup();
    edges
}

/// Transitive closure written by hand against datafrog.
pub fn tc_datafrog(edges: &[(u32, u32)]) -> usize {
    let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
    let mut iteration = Iteration::new();
    let path = iteration.variable::<(u32, u32)>("path");
    path.extend(edges.iter().copied());
    while iteration.changed() {
        path.from_leapjoin(&path, edge.extend_with(|&(_, y)| y), |&(x, _), &z| (x, z));
    }
    path.complete().len()
}

/// Same generation: two nodes at the same depth whose parents are of the same generation.
pub const SG: &str = ".decl parent(c: number, p: number)\n.input parent\n.decl sg(x: number, y: number)\n.output sg\nsg(x, y) :- parent(x, p), parent(y, p), x != y.\nsg(x, y) :- parent(x, a), sg(a, b), parent(y, b).\n";

/// A complete tree with `fanout` children per node and `depth` levels: (child, parent).
pub fn tree(fanout: u32, depth: u32) -> Vec<(u32, u32)> {
    let mut edges = Vec::new();
    let mut level = vec![0u32];
    let mut next = 1;
    for _ in 0..depth {
        let mut nl = Vec::new();
        for &p in &level {
            for _ in 0..fanout {
                edges.push((next, p));
                nl.push(next);
                next += 1;
            }
        }
        level = nl;
    }
    edges
}

/// `trees` copies of [`tree`], each numbered after the one before: same generation relates
/// nodes of one tree only, so its output grows with the number of trees.
pub fn forest(trees: u32, fanout: u32, depth: u32) -> Vec<(u32, u32)> {
    let one = tree(fanout, depth);
    // A tree's nodes are numbered 0 (its root) to the number of its edges.
    let nodes = one.len() as u32 + 1;
    (0..trees)
        .flat_map(|t| {
            one.iter()
                .map(move |&(c, p)| (c + t * nodes, p + t * nodes))
        })
        .collect()
}

/// Same generation written by hand against datafrog.
pub fn sg_datafrog(parent: &[(u32, u32)]) -> usize {
    let by_parent: Relation<(u32, u32)> = parent.iter().map(|&(c, p)| (p, c)).collect();
    let by_child: Relation<(u32, u32)> = parent.iter().copied().collect();
    let mut iteration = Iteration::new();
    let sg = iteration.variable::<(u32, u32)>("sg");
    let base: Relation<(u32, u32)> =
        Relation::from_join(&by_parent, &by_parent, |_, &x, &y| (x, y));
    sg.extend(base.iter().filter(|(x, y)| x != y).copied());
    // sg(x, y) :- parent(x, a), sg(a, b), parent(y, b): first (a,b) -> (x,b), then (b,x) -> (x,y).
    let xb = iteration.variable::<(u32, u32)>("xb");
    let children: Relation<(u32, u32)> = parent.iter().map(|&(c, p)| (p, c)).collect();
    while iteration.changed() {
        xb.from_leapjoin(&sg, children.extend_with(|&(a, _)| a), |&(_, b), &x| (b, x));
        sg.from_leapjoin(&xb, children.extend_with(|&(b, _)| b), |&(_, x), &y| (x, y));
    }
    let _ = by_child;
    sg.complete().len()
}

/// Stratified negation: nodes reachable from a root, then nodes not reachable.
pub const NEG: &str = ".decl edge(x: number, y: number)\n.input edge\n.decl node(x: number)\n.decl reach(x: number)\n.decl unreach(x: number)\n.output unreach\nnode(x) :- edge(x, _).\nnode(y) :- edge(_, y).\nreach(0).\nreach(y) :- reach(x), edge(x, y).\nunreach(x) :- node(x), !reach(x).\n";

/// Stratified negation written by hand against datafrog (with a correct antijoin).
pub fn neg_datafrog(edges: &[(u32, u32)]) -> usize {
    let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
    let mut iteration = Iteration::new();
    let reach = iteration.variable::<u32>("reach");
    reach.extend([0u32]);
    while iteration.changed() {
        reach.from_leapjoin(&reach, edge.extend_with(|&x| x), |_, &y| y);
    }
    let reach = reach.complete();
    let nodes: Relation<u32> = edges.iter().flat_map(|&(x, y)| [x, y]).collect();
    nodes
        .iter()
        .filter(|n| reach.binary_search(n).is_err())
        .count()
}

/// An aggregate: each node's out-degree and the number of nodes it reaches in one or two steps.
pub const AGG: &str = ".decl edge(x: number, y: number)\n.input edge\n.decl node(x: number)\n.decl two(x: number, y: number)\n.decl stats(x: number, deg: number, near: number, far: number)\n.output stats\nnode(x) :- edge(x, _).\ntwo(x, z) :- edge(x, y), edge(y, z).\nstats(x, d, n, m) :- node(x), d = count : { edge(x, _) }, n = count : { two(x, _) }, m = max y : { edge(x, y) }.\n";

/// The aggregate workload written by hand (datafrog for the join, plain Rust for the counts).
pub fn agg_datafrog(edges: &[(u32, u32)]) -> usize {
    let edge: Relation<(u32, u32)> = edges.iter().copied().collect();
    let two: Relation<(u32, u32)> = Relation::from_join(
        &edge,
        &edge.iter().map(|&(x, y)| (y, x)).collect::<Relation<_>>(),
        |_, &z, &x| (x, z),
    );
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
    stats.len()
}
