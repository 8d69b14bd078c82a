//! The fast evaluator against the naive reference on generated programs and facts: they must
//! agree exactly, relation by relation.

use proptest::prelude::*;

/// A small deterministic generator (splitmix64), so that a failing seed reproduces.
pub(super) struct Gen(pub(super) u64);

impl Gen {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub(super) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub(super) fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

const VARS: [&str; 4] = ["x", "y", "z", "w"];

/// A random stratifiable program over inputs e0, e1 (binary), u0 (unary) and t0 (ternary), with derived relations r0..r3 that may recurse on themselves and negate
/// or aggregate lower ones.
pub(super) fn program(g: &mut Gen) -> String {
    let arity: Vec<usize> = (0..4).map(|_| 1 + g.below(2)).collect();
    let mut p = String::from(
        ".decl e0(a: number, b: number)\n.input e0\n.decl e1(a: number, b: number)\n.input e1\n.decl u0(a: number)\n.input u0\n.decl t0(a: number, b: number, c: number)\n.input t0\n",
    );
    for (i, a) in arity.iter().enumerate() {
        let cols: Vec<String> = (0..*a).map(|c| format!("c{c}: number")).collect();
        p.push_str(&format!(".decl r{i}({})\n.output r{i}\n", cols.join(", ")));
    }
    for i in 0..4 {
        for _ in 0..1 + g.below(3) {
            p.push_str(&rule(g, i, &arity));
        }
    }
    p
}

fn rel_choice(g: &mut Gen, i: usize, arity: &[usize], allow_self: bool) -> (String, usize) {
    // Three columns: joins and negations binding a prefix of them, or columns past a gap.
    if g.chance(15) {
        return ("t0".into(), 3);
    }
    let k = g.below(3 + if allow_self { i + 1 } else { i });
    match k {
        0 => ("e0".into(), 2),
        1 => ("e1".into(), 2),
        2 => ("u0".into(), 1),
        j => (format!("r{}", j - 3), arity[j - 3]),
    }
}

fn rule(g: &mut Gen, i: usize, arity: &[usize]) -> String {
    let mut body = Vec::new();
    let mut bound: Vec<&str> = Vec::new();
    let mut recursive = false;
    for _ in 0..1 + g.below(3) {
        let (rel, n) = rel_choice(g, i, arity, true);
        recursive |= rel == format!("r{i}");
        let args: Vec<String> = (0..n)
            .map(|_| match g.below(10) {
                0 => g.below(5).to_string(),
                1 => "_".into(),
                _ => {
                    let v = VARS[g.below(4)];
                    if !bound.contains(&v) {
                        bound.push(v);
                    }
                    v.into()
                }
            })
            .collect();
        body.push(format!("{rel}({})", args.join(", ")));
    }
    if bound.is_empty() {
        body.push("u0(x)".into());
        bound.push("x");
    }
    if g.chance(30) {
        let (rel, n) = rel_choice(g, i, arity, false);
        let args: Vec<String> = (0..n)
            .map(|_| {
                if g.chance(70) {
                    bound[g.below(bound.len())].to_string()
                } else if g.chance(50) {
                    "_".into()
                } else {
                    g.below(5).to_string()
                }
            })
            .collect();
        body.push(format!("!{rel}({})", args.join(", ")));
    }
    if g.chance(30) {
        let ops = ["<", "<=", ">", ">=", "!=", "="];
        let rhs = if g.chance(50) {
            bound[g.below(bound.len())].to_string()
        } else {
            g.below(5).to_string()
        };
        body.push(format!(
            "{} {} {rhs}",
            bound[g.below(bound.len())],
            ops[g.below(6)]
        ));
    }
    let mut head_pool: Vec<String> = bound.iter().map(|s| s.to_string()).collect();
    if !recursive && g.chance(25) {
        body.push(format!("s = {} + 1", bound[g.below(bound.len())]));
        head_pool.push("s".into());
    }
    if !recursive && g.chance(20) {
        let (o, o2) = (bound[g.below(bound.len())], bound[g.below(bound.len())]);
        // Computed once for all groups (the outer variables in a positive atom of the body) or
        // per row (an outer variable only in a constraint); binding leading columns, or others.
        let kinds = [
            format!("count : {{ e0({o}, v) }}"),
            format!("sum v : {{ e1(v, {o}) }}"),
            "min v : { e1(_, v) }".to_string(),
            format!("max v : e0({o}, v)"),
            format!("count : {{ e1(v, t), t = {o} }}"),
            format!("sum t : {{ e0(v, {o}), e1(t, v) }}"),
            format!("count : {{ u0(v), e1(t, v), t != {o} }}"),
            format!("max v : {{ t0(v, t, q), t = {o}, q = {o2} }}"),
            format!("count : {{ t0(v, {o}, q), u0(q), !e1(q, {o2}) }}"),
            format!("min q : {{ u0(v), t0(t, v, q), t < {o} }}"),
            // Bodies Soufflé materialises: `count` and `sum` over distinct bindings of the named
            // variables (several atoms with `_`, a repeated variable, a nested aggregate).
            format!("count : {{ e0(v, _), e1(_, {o}) }}"),
            format!("sum v : {{ t0(v, _, {o}), u0(_) }}"),
            "count : { t0(v, v, _) }".to_string(),
            format!("count : {{ t0({o}, {o}, _) }}"),
            format!("sum v : {{ e1(v, _), u0(t), t < {o} }}"),
            format!("count : {{ e0(v, _), v > min q : {{ e1(q, _) }}, v != {o} }}"),
            // Materialised bodies without `_`: each match is its own binding.
            format!("count : {{ t0(v, v, 2), e0(v, {o}) }}"),
            format!("sum t : {{ e1(t, {o}), e1(t, {o}), t = v }}"),
        ];
        let k = &kinds[g.below(kinds.len())];
        body.push(format!("a = {k}"));
        head_pool.push("a".into());
    }
    let head: Vec<String> = (0..arity[i])
        .map(|_| {
            if g.chance(85) {
                head_pool[g.below(head_pool.len())].clone()
            } else {
                g.below(5).to_string()
            }
        })
        .collect();
    format!("r{i}({}) :- {}.\n", head.join(", "), body.join(", "))
}

pub(super) fn facts(g: &mut Gen, arity: usize) -> String {
    let mut s = String::new();
    for _ in 0..g.below(12) {
        let row: Vec<String> = (0..arity).map(|_| g.below(5).to_string()).collect();
        s.push_str(&row.join("\t"));
        s.push('\n');
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn fast_and_naive_evaluators_agree(seed in any::<u64>()) {
        let mut g = Gen(seed);
        let p = program(&mut g);
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        // `eval` runs the fast evaluator (parallel and sequential) and the naive one and
        // requires identical relations.
        let out = std::panic::catch_unwind(|| {
            super::eval(&p, &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)])
        });
        prop_assert!(
            out.is_ok(),
            "seed {seed}\n{p}\ne0:\n{e0}\ne1:\n{e1}\nu0:\n{u0}\nt0:\n{t0}"
        );
    }
}

/// `program`'s outputs, evaluated as checked and with every materialised `count` and `sum`
/// telling its matches apart by their named variables, as a body with a `_` must. The checker
/// leaves that out where no atom of the body has a `_`; the two must agree.
fn with_and_without_telling_apart(
    program: &str,
    facts: &[(&str, &str)],
) -> [Vec<Vec<Vec<String>>>; 2] {
    use bindlog::datalog::ir::{Lit, materialised};
    use bindlog::datalog::syntax::ast::AggKind;
    fn tell_apart(body: &mut [Lit]) {
        for l in body.iter_mut() {
            if let Lit::Agg {
                kind,
                body,
                outer,
                distinct,
                ..
            } = l
            {
                tell_apart(body);
                if matches!(kind, AggKind::Count | AggKind::Sum) && materialised(body) {
                    let mut vars = outer.clone();
                    for b in body.iter().filter(|b| !matches!(b, Lit::Agg { .. })) {
                        vars.extend(b.binds());
                    }
                    vars.sort_unstable();
                    vars.dedup();
                    *distinct = Some(vars);
                }
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in facts {
        std::fs::write(dir.path().join(format!("{name}.facts")), text).unwrap();
    }
    let run = |apart: bool| {
        let mut rules = bindlog::datalog::Rules::from_texts(&[("test.dl", program)])
            .unwrap_or_else(|f| panic!("{}", f.render(100)));
        if apart {
            for c in &mut rules.program.clauses {
                tell_apart(&mut c.body);
            }
            rules.plan = bindlog::datalog::compile::compile(&rules.program);
        }
        let inputs = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), false)
            .unwrap_or_else(|f| panic!("{}", f.render(100)));
        let engine = bindlog::datalog::Engine::Fast { parallel: false };
        let eval = rules
            .evaluate(&inputs, engine, bindlog::datalog::eval::Limits::default())
            .unwrap();
        (0..4)
            .map(|i| eval.rows(&rules, &format!("r{i}")).unwrap())
            .collect::<Vec<_>>()
    };
    [run(false), run(true)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn matches_without_a_wildcard_need_not_be_told_apart(seed in any::<u64>()) {
        let mut g = Gen(seed);
        let p = program(&mut g);
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        let [checked, apart] = with_and_without_telling_apart(
            &p,
            &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)],
        );
        prop_assert!(checked == apart, "seed {seed}\n{p}");
    }
}

/// Per relation, every tuple with its proof height.
type Heights = Vec<Vec<(Vec<u32>, u32)>>;

/// A generated program and its input facts (`e0`, `e1`, `u0`, `t0`, as tab-separated rows),
/// from `seed`.
fn generated(seed: u64) -> (String, [(&'static str, String); 4]) {
    let mut g = Gen(seed);
    let p = program(&mut g);
    let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
    let t0 = facts(&mut g, 3);
    (p, [("e0", e0), ("e1", e1), ("u0", u0), ("t0", t0)])
}

/// A program's rules and its input facts (each `(relation, tab-separated rows)`).
fn compiled(
    program: &str,
    facts: &[(&str, &str)],
) -> (bindlog::datalog::Rules, bindlog::datalog::Inputs) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in facts {
        std::fs::write(dir.path().join(format!("{name}.facts")), text).unwrap();
    }
    let mut rules = bindlog::datalog::Rules::from_texts(&[("test.dl", program)])
        .unwrap_or_else(|f| panic!("{}", f.render(100)));
    let inputs = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), false)
        .unwrap_or_else(|f| panic!("{}", f.render(100)));
    (rules, inputs)
}

/// The proof heights of every tuple, as the naive reference and the semi-naive evaluator that
/// proofs use find them.
fn heights_by_both(program: &str, facts: &[(&str, &str)]) -> [Heights; 2] {
    use bindlog::datalog::eval::{Limits, Runtime, naive};
    let (rules, inputs) = compiled(program, facts);
    let rows = || -> Vec<Vec<Vec<u32>>> {
        inputs
            .tables
            .iter()
            .map(|t| t.rows().map(|r| r.to_vec()).collect())
            .collect()
    };
    let flat = |db: naive::NaiveDb| -> Heights {
        db.rels
            .into_iter()
            .map(|m| m.into_iter().collect())
            .collect()
    };
    let rt = || Runtime::new(inputs.symbols.clone(), Limits::default());
    [
        flat(naive::evaluate(&rules.program, &rt(), rows()).unwrap()),
        flat(naive::evaluate_by_deltas(&rules.program, &rt(), rows()).unwrap()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn semi_naive_proof_heights_match_the_naive_reference(seed in any::<u64>()) {
        let (p, facts) = generated(seed);
        let [naive, deltas] = heights_by_both(&p, &facts.each_ref().map(|(n, t)| (*n, t.as_str())));
        prop_assert!(naive == deltas, "seed {seed}\n{p}");
    }
}

/// Per relation, the fast engine's rows and their heights, with the strata run in parallel
/// (each as soon as what it reads is done) or one after the other.
fn fast_heights(
    program: &str,
    facts: &[(&str, &str)],
    parallel: bool,
) -> Vec<(Vec<u32>, Vec<u32>)> {
    use bindlog::datalog::eval::{Limits, Runtime, fast};
    let (rules, inputs) = compiled(program, facts);
    let rt = Runtime::new(inputs.symbols.clone(), Limits::default());
    let (tables, heights) =
        fast::evaluate_with_heights(&rules.program, &rules.plan, &rt, &inputs.tables, parallel)
            .unwrap();
    tables
        .iter()
        .zip(heights)
        .map(|(t, h)| {
            let rows = t.rows().flatten().copied().collect();
            (rows, h.unwrap_or_default())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]
    #[test]
    fn strata_run_side_by_side_give_the_heights_of_a_sequential_run(seed in any::<u64>()) {
        let (p, facts) = generated(seed);
        let facts = facts.each_ref().map(|(n, t)| (*n, t.as_str()));
        let sequential = fast_heights(&p, &facts, false);
        let parallel = fast_heights(&p, &facts, true);
        prop_assert!(sequential == parallel, "seed {seed}\n{p}");
    }
}

/// Issue 14, item 6: a recursive relation first found through a deep proof in a lower stratum,
/// then through a shallow one of its own: the lowered height must travel on to what it derives.
#[test]
fn issue_14_6_semi_naive_heights_follow_a_lowered_height() {
    let program = ".decl e(x: number, y: number)\n.input e\n.decl f(x: number, y: number)\n\
                   .input f\n.decl r(x: number, y: number)\nr(X, Y) :- e(X, Y).\n\
                   r(X, Z) :- r(X, Y), e(Y, Z).\n.decl s(x: number, y: number)\n\
                   s(X, Y) :- r(X, Y).\ns(X, Z) :- s(X, Y), f(Y, Z).\n";
    let mut edges: Vec<String> = (0..45).map(|i| format!("{i}\t{}", i + 1)).collect();
    edges.extend(["0\t20".into(), "5\t30".into(), "30\t5".into()]);
    let e = edges.join("\n") + "\n";
    let [naive, deltas] = heights_by_both(program, &[("e", &e), ("f", "1\t40\n40\t41\n")]);
    assert!(naive.iter().map(Vec::len).sum::<usize>() > 1000);
    assert_eq!(naive, deltas);
}

#[test]
fn generated_programs_are_not_trivial() {
    // The generator must exercise recursion, negation and aggregates (some binding columns that
    // are not the leading ones), and derive tuples.
    let (mut rec, mut neg, mut agg, mut nonempty) = (0, 0, 0, 0);
    let (mut non_leading, mut materialised) = (0, 0);
    for seed in 0..200 {
        let mut g = Gen(seed);
        let p = program(&mut g);
        neg += p.contains('!') as usize;
        agg += p.contains(" : ") as usize;
        non_leading += (p.contains("t0(") || p.contains("e1(t, v)")) as usize;
        materialised += (p.contains("e0(v, _), ")
            || p.contains("u0(_) }")
            || p.contains("u0(t), t <")
            || p.contains(", _) }")) as usize;
        rec += (0..4).any(|i| {
            p.lines().any(|l| {
                l.starts_with(&format!("r{i}("))
                    && l.split(":-")
                        .nth(1)
                        .is_some_and(|b| b.contains(&format!("r{i}(")))
            })
        }) as usize;
        let (e0, e1, u0) = (facts(&mut g, 2), facts(&mut g, 2), facts(&mut g, 1));
        let t0 = facts(&mut g, 3);
        let out = super::eval(&p, &[("e0", &e0), ("e1", &e1), ("u0", &u0), ("t0", &t0)]);
        nonempty += out.values().any(|rows| !rows.is_empty()) as usize;
    }
    assert!(
        rec > 50 && neg > 50 && agg > 30 && non_leading > 15 && nonempty > 100 && materialised > 10,
        "rec {rec} neg {neg} agg {agg} non-leading {non_leading} nonempty {nonempty} \
         materialised {materialised}"
    );
}
