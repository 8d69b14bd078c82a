//! Each language construct, and Soufflé's observable behaviour.

use super::{eval, eval_rel};

#[test]
fn declarations_types_and_inline_facts() {
    let p = r#"
        .type Name <: symbol
        .type Count = number
        .decl person(n: Name, age: Count)
        .decl adult(n: Name)
        .output adult
        person("ann", 31). person("bob", 12).
        person("cy", -5).
        adult(n) :- person(n, a), a >= 18.
    "#;
    assert_eq!(eval_rel(p, &[], "adult"), vec!["ann"]);
}

#[test]
fn multi_relation_decl_and_output_lists() {
    let p = ".decl a, b(x: number)\n.output a, b\na(1). b(x + 1) :- a(x).";
    let out = eval(p, &[]);
    assert_eq!(out["a"], vec![vec!["1".to_string()]]);
    assert_eq!(out["b"], vec![vec!["2".to_string()]]);
}

#[test]
fn multiple_heads_and_disjunction() {
    let p = r#"
        .decl e(x: symbol, y: symbol) .input e
        .decl src(x: symbol) .decl dst(x: symbol) .decl any(x: symbol)
        .output src, dst, any
        src(x), dst(y) :- e(x, y).
        any(x) :- e(x, _) ; e(_, x).
    "#;
    let out = eval(p, &[("e", "a\tb\nb\tc\n")]);
    assert_eq!(out["src"].concat(), vec!["a", "b"]);
    assert_eq!(out["dst"].concat(), vec!["b", "c"]);
    assert_eq!(out["any"].concat(), vec!["a", "b", "c"]);
}

#[test]
fn recursion_negation_wildcards_and_constants() {
    let p = r#"
        .decl e(x: symbol, y: symbol) .input e
        .decl path(x: symbol, y: symbol) .output path
        .decl from_a(y: symbol) .output from_a
        .decl sink(x: symbol) .output sink
        path(x, y) :- e(x, y).
        path(x, z) :- path(x, y), path(y, z).
        from_a(y) :- path("a", y).
        sink(y) :- e(_, y), !e(y, _).
    "#;
    let out = eval(p, &[("e", "a\tb\nb\tc\nc\tb\nc\td\n")]);
    assert_eq!(out["path"].len(), 9);
    assert_eq!(out["from_a"].concat(), vec!["b", "c", "d"]);
    assert_eq!(out["sink"].concat(), vec!["d"]);
}

#[test]
fn repeated_variables_in_an_atom() {
    let p = ".decl e(x: number, y: number) .input e\n.decl loop(x: number) .output loop\nloop(x) :- e(x, x).";
    assert_eq!(
        eval_rel(p, &[("e", "1\t1\n1\t2\n3\t3\n")], "loop"),
        vec!["1", "3"]
    );
}

#[test]
fn constraints_and_arithmetic() {
    let p = r#"
        .decl n(x: number) .input n
        .decl r(x: number, y: number) .output r
        r(x, y) :- n(x), y = (x * 3 + 1) / 2 - x % 2, x != 4, x < 6, x <= 5, x > 0, x >= 1.
    "#;
    assert_eq!(
        eval_rel(p, &[("n", "0\n1\n2\n3\n4\n5\n6\n")], "r"),
        vec!["1\t1", "2\t3", "3\t4", "5\t7"]
    );
}

#[test]
fn numbers_are_32_bit_signed_and_wrap() {
    let p = ".decl r(x: number) .output r\nr(x) :- x = 2147483647 + 1.\n.decl u(x: unsigned) .output u\nu(x) :- x = 0 - 1.";
    let out = eval(p, &[]);
    assert_eq!(out["r"].concat(), vec!["-2147483648"]);
    assert_eq!(out["u"].concat(), vec!["4294967295"]);
}

#[test]
fn division_by_zero_derives_nothing() {
    let p = ".decl n(x: number) .input n\n.decl r(x: number) .output r\nr(y) :- n(x), y = 10 / x.";
    assert_eq!(eval_rel(p, &[("n", "0\n5\n")], "r"), vec!["2"]);
}

#[test]
fn aggregates_count_sum_min_max() {
    let p = r#"
        .decl sal(d: symbol, who: symbol, s: number) .input sal
        .decl dept(d: symbol) .input dept
        .decl stats(d: symbol, n: number, total: number) .output stats
        .decl lo(d: symbol, s: number) .output lo
        .decl hi(d: symbol, s: number) .output hi
        stats(d, n, t) :- dept(d), n = count : { sal(d, _, _) }, t = sum s : { sal(d, _, s) }.
        lo(d, m) :- dept(d), m = min s : { sal(d, _, s) }.
        hi(d, m) :- dept(d), m = max s : sal(d, _, s).
    "#;
    let facts = [
        ("sal", "eng\tann\t10\neng\tbob\t10\nops\tcy\t7\n"),
        ("dept", "eng\nops\nhr\n"),
    ];
    let out = eval(p, &facts);
    // count and sum over nothing give 0; min and max give no row (Soufflé).
    assert_eq!(
        out["stats"].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        vec!["eng 2 20", "hr 0 0", "ops 1 7"]
    );
    assert_eq!(
        out["lo"].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        vec!["eng 10", "ops 7"]
    );
    assert_eq!(
        out["hi"].iter().map(|r| r.join(" ")).collect::<Vec<_>>(),
        vec!["eng 10", "ops 7"]
    );
}

#[test]
fn aggregate_with_outer_variable_only_in_a_constraint() {
    let p = r#"
        .decl n(x: number) .input n
        .decl below(x: number, c: number) .output below
        below(x, c) :- n(x), c = count : { n(y), y < x }.
    "#;
    assert_eq!(
        eval_rel(p, &[("n", "1\n5\n9\n")], "below"),
        vec!["1\t0", "5\t1", "9\t2"]
    );
}

/// Rules that read only relations of lower strata run once, each join a sort-merge join: the
/// rows reaching `f` are sorted by `e`'s second column (not their leading one) before they meet
/// `f`'s index on its third; a key of two slots holding one variable, a constant column, a
/// negation and a comparison on the way. The plan says which joins merge and which leap.
#[test]
fn rules_over_lower_strata_merge_on_non_leading_columns() {
    let p = r#"
        .decl e(x: number, y: number) .input e
        .decl f(a: number, b: number, c: number) .input f
        .decl banned(z: number) .input banned
        .decl p(x: number, a: number) .output p
        .decl q(x: number, w: number) .output q
        .decl path(x: number, y: number) .output path
        p(x, a) :- e(x, y), f(a, 7, y), !banned(a), a != x.
        q(x, w) :- e(x, y), e(y, z), f(w, z, z).
        path(x, y) :- e(x, y).
        path(x, z) :- path(x, y), e(y, z).
    "#;
    let facts = [
        ("e", "1\t2\n2\t3\n3\t2\n4\t5\n5\t4\n"),
        (
            "f",
            "10\t7\t2\n11\t7\t2\n12\t8\t2\n13\t7\t3\n4\t7\t5\n20\t3\t3\n21\t2\t2\n22\t4\t4\n23\t4\t5\n",
        ),
        ("banned", "11\n"),
    ];
    assert_eq!(eval_rel(p, &facts, "p"), vec!["1\t10", "2\t13", "3\t10"]);
    assert_eq!(
        eval_rel(p, &facts, "q"),
        vec!["1\t20", "2\t21", "3\t20", "4\t22"]
    );
    assert_eq!(eval_rel(p, &facts, "path").len(), 3 * 2 + 2 * 2);
    plan_with(
        p,
        &[
            "merge join with `f_by_2_0_where_1=7` for `f(a, 7, y)` + value filters [antijoin `banned` (its own order), compare] -> (x, a)",
            "merge join with `e` (its own order) for `e(y, z)` -> (x, z)",
            "merge join with `f_by_1_2_0_where_2=c1` for `f(w, z, z)` -> (x, w)",
            "leapjoin with `e` (its own order) for `e(y, z)` -> (x, z)",
        ],
    );
}

/// Issue 18, item 2: each join and negation reads the relation's own sorted rows wherever the
/// columns it binds lead them, a negation on the leading columns of a join's index reads that
/// index, and only the other accesses get an index of their own; in rules run once and in the
/// fixpoint alike, with the reference evaluator's results.
#[test]
fn issue_18_2_indexes_are_shared_where_a_sorted_order_serves() {
    let p = r#"
        .decl e(x: number, y: number) .input e
        .decl t(a: number, b: number, c: number) .input t
        .decl u(x: number) .input u
        .decl once(x: number, y: number, z: number) .output once
        .decl orphan(x: number, y: number) .output orphan
        .decl reach(x: number, y: number) .output reach
        .decl skip(x: number, z: number) .output skip
        .decl hop(x: number, y: number) .output hop
        .decl has(x: number) .output has
        once(x, b, c) :- u(x), t(x, b, c), !t(c, _, _), !t(_, x, _).
        orphan(x, y) :- u(x), e(y, x), !e(_, y).
        reach(x, y) :- u(x), e(x, y).
        reach(x, z) :- reach(x, y), t(y, x, z), !e(z, _).
        reach(x, z) :- reach(x, y), t(y, _, z), z > x.
        skip(x, z) :- u(x), t(x, _, z).
        hop(x, y) :- u(x), e(x, y).
        hop(x, z) :- hop(x, y), t(y, z, _).
        has(x) :- u(x), t(x, _, _).
    "#;
    let facts = [
        ("e", "1\t2\n2\t3\n3\t1\n5\t1\n6\t5\n"),
        (
            "t",
            "1\t1\t4\n2\t1\t7\n1\t2\t3\n4\t9\t9\n7\t7\t8\n3\t3\t6\n5\t1\t8\n5\t2\t4\n2\t1\t0\n2\t1\t5\n",
        ),
        ("u", "1\n3\n5\n"),
    ];
    let out = eval(p, &facts);
    let rows = |rel: &str| -> Vec<String> { out[rel].iter().map(|r| r.join(" ")).collect() };
    assert_eq!(rows("once"), vec!["5 1 8"]);
    assert_eq!(rows("orphan"), vec!["5 6"]);
    assert_eq!(
        rows("reach"),
        vec![
            "1 0", "1 2", "1 4", "1 5", "1 7", "1 8", "1 9", "3 1", "3 4", "3 9", "5 1"
        ]
    );
    assert_eq!(rows("skip"), vec!["1 3", "1 4", "3 6", "5 4", "5 8"]);
    assert_eq!(rows("hop"), vec!["1 1", "1 2", "3 1", "3 2", "5 1", "5 2"]);
    assert_eq!(rows("has"), vec!["1", "3", "5"]);
    plan_with(
        p,
        &[
            // Rules run once: a negation on a column that leads nothing gets an index of its own; a
            // join whose key and values are the whole row in order reads the relation, as does a
            // negation binding its leading columns (wildcards after them).
            "filter/map [antijoin `t_by_1`] -> (x)",
            "merge join with `t` (its own order) for `t(x, b, c)` + value filters [antijoin `t` (its own order)] -> (x, b, c)",
            // A negation on the leading column of a join's index reads that index.
            "index `e_by_1_0`: 2 accesses",
            "merge join with `e_by_1_0` for `e(y, x)` + value filters [antijoin `e_by_1_0`] -> (x, y)",
            "merge join with `e` (its own order) for `e(x, y)` -> (x, y)",
            // Wildcards after the key and values: the rows that differ only there are read once.
            "merge join with `t` (its own order) for `t(x, _, _)` -> (x)",
            "leapjoin with `t` (its own order) for `t(y, z, _)` -> (x, z)",
            // Values past a skipped column: an index of its own.
            "merge join with `t_by_0_2` for `t(x, _, z)` -> (x, z)",
            // The fixpoint: leapjoins over the relation's rows (key columns bound in another
            // order than the row's), and over an index of its own.
            "leapjoin with `t` (its own order) for `t(y, x, z)` + value filters [antijoin `e` (its own order)] -> (x, z)",
            "leapjoin with `t_by_0_2` for `t(y, _, z)` + value filters [compare] -> (x, z)",
        ],
    );
}

/// Issue 18, item 2: accesses whose column sets form a chain share one sorted copy (Soufflé's
/// chain cover). `t(_, x, z)` binds {1} and proposes {2}, `t(a, x, z)` binds {1, 2} and proposes
/// {0}, `!t(_, a, _)` looks up {1}: {1} ⊂ {1, 2} ⊂ {0, 1, 2}, so one copy of `t` ordered by
/// columns 1, 2, 0 serves the three (the second reads its key in that order, not its own), in a
/// rule run once, in the fixpoint and in a negation, with every evaluator's results.
#[test]
fn issue_18_2_accesses_whose_columns_chain_share_one_index() {
    let p = r#"
        .decl t(a: number, b: number, c: number) .input t
        .decl u(x: number) .input u
        .decl r(x: number, z: number) .output r
        r(x, z) :- u(x), t(_, x, z).
        r(x, a) :- r(x, z), t(a, x, z), !t(_, a, _).
    "#;
    let facts = [
        (
            "t",
            "7\t1\t2\n8\t1\t2\n9\t1\t3\n3\t1\t7\n4\t2\t9\n5\t2\t4\n6\t2\t9\n1\t3\t3\n",
        ),
        ("u", "1\n2\n3\n"),
    ];
    let out = eval(p, &facts);
    let rows: Vec<String> = out["r"].iter().map(|r| r.join(" ")).collect();
    // From u: (1, 2), (1, 3), (1, 7), (2, 9), (2, 4), (3, 3). Then t(a, 1, 2) gives a = 7 and
    // 8, t(a, 1, 3) gives 9, t(a, 1, 7) gives 3 but `t(_, 3, _)` holds; t(a, 2, 9) gives 4 and
    // 6, t(a, 2, 4) gives 5; t(a, 3, 3) gives 1, but `t(_, 1, _)` holds. Then t(a, 1, 8),
    // t(a, 1, 9), ... are none.
    assert_eq!(
        rows,
        vec![
            "1 2", "1 3", "1 7", "1 8", "1 9", "2 4", "2 5", "2 6", "2 9", "3 3"
        ]
    );
    let plan = plan_with(
        p,
        &[
            "index `t_by_1_2_0`: 3 accesses",
            "merge join with `t_by_1_2_0` for `t(_, x, z)` -> (x, z)",
            "leapjoin with `t_by_1_2_0` for `t(a, x, z)` + value filters [antijoin `t_by_1_2_0`] -> (x, a)",
        ],
    );
    assert_eq!(plan.matches("index `").count(), 1, "one index in\n{plan}");
}

/// Issue 18, item 2: the indexes are a minimum chain cover. Negations of `t` on {1, 2},
/// {1, 3}, {1} and {2}: put greedily, {1} would join the chain of {1, 2}, the first it fits,
/// and {2} would need a third index; the minimum is two, `t_by_1_3` ({1} ⊂ {1, 3}) and
/// `t_by_2_1` ({2} ⊂ {1, 2}), each serving two negations, with every evaluator's results.
#[test]
fn issue_18_2_indexes_are_a_minimum_chain_cover() {
    let p = r#"
        .decl t(a: number, b: number, c: number, d: number) .input t
        .decl u(x: number) .input u
        .decl r(k: number, x: number, y: number) .output r
        r(1, x, y) :- u(x), u(y), !t(_, x, y, _).
        r(2, x, y) :- u(x), u(y), !t(_, x, _, y).
        r(3, x, x) :- u(x), !t(_, x, _, _).
        r(4, y, y) :- u(y), !t(_, _, y, _).
    "#;
    let facts = [
        ("t", "0\t1\t2\t0\n0\t2\t0\t3\n0\t1\t0\t1\n"),
        ("u", "1\n2\n3\n"),
    ];
    let out = eval(p, &facts);
    let rows: Vec<String> = out["r"].iter().map(|r| r.join(" ")).collect();
    // 1: every pair but (1, 2); 2: every pair but (2, 3) and (1, 1); 3: only 3 is in no
    // row's column 1; 4: 1 and 3 are in no row's column 2.
    assert_eq!(
        rows,
        vec![
            "1 1 1", "1 1 3", "1 2 1", "1 2 2", "1 2 3", "1 3 1", "1 3 2", "1 3 3", "2 1 2",
            "2 1 3", "2 2 1", "2 2 2", "2 3 1", "2 3 2", "2 3 3", "3 3 3", "4 1 1", "4 3 3"
        ]
    );
    let plan = plan_with(
        p,
        &[
            "index `t_by_1_3`: 2 accesses",
            "index `t_by_2_1`: 2 accesses",
            "filter/map [antijoin `t_by_1_3`] -> (x)",
            "filter/map [antijoin `t_by_2_1`] -> (y)",
            "merge join with `u` (its own order) for `u(y)` + value filters [antijoin `t_by_2_1`] -> (x, y)",
            "merge join with `u` (its own order) for `u(y)` + value filters [antijoin `t_by_1_3`] -> (x, y)",
        ],
    );
    assert_eq!(plan.matches("index `").count(), 2, "two indexes in\n{plan}");
}

/// Issue 18, item 2: an aggregate's lookup by a column that does not lead the rows reads the
/// index a join of its stratum has on that column (whole rows, put back in the relation's
/// column order), instead of an index of row positions of its own.
#[test]
fn issue_18_2_an_aggregate_lookup_shares_a_join_index() {
    let p = r#"
        .decl r(x: number) .input r
        .decl e(y: number, x: number) .input e
        .decl both(x: number, y: number, n: number) .output both
        both(x, y, n) :- r(x), e(y, x), n = count : { e(w, z), z = x, w > 10 }.
    "#;
    let facts = [
        ("r", "1\n2\n3\n"),
        ("e", "10\t1\n11\t1\n12\t1\n12\t2\n4\t2\n5\t7\n"),
    ];
    let out = eval(p, &facts);
    let rows: Vec<String> = out["both"].iter().map(|r| r.join(" ")).collect();
    assert_eq!(rows, vec!["1 10 2", "1 11 2", "1 12 2", "2 4 1", "2 12 1"]);
    plan_with(
        p,
        &[
            "index `e_by_1_0`: 2 accesses",
            "merge join with `e_by_1_0` for `e(y, x)`",
            "lookup `e_by_1_0` for `e(w, z)`",
        ],
    );
}

/// A rule run once joins on a column that does not lead its rows both ways: few rows against a
/// large index are sorted by the key and merged with it; many rows against a small index each
/// search it. Both give every pair, as a nested loop does (and as the other evaluators do).
#[test]
fn rules_run_once_join_small_and_large_indexes_alike() {
    let p = r#"
        .decl e(x: number, y: number) .input e
        .decl f(a: number, b: number) .input f
        .decl p(x: number, b: number) .output p
        p(x, b) :- e(x, y), f(y, b).
    "#;
    let text = |rows: &[(u32, u32)]| -> String {
        rows.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect()
    };
    for (e_rows, f_rows) in [(10u32, 1000u32), (2000, 20)] {
        let e: Vec<(u32, u32)> = (0..e_rows).map(|i| (i, (i * 7) % 50)).collect();
        let f: Vec<(u32, u32)> = (0..f_rows).map(|i| (i % 60, i)).collect();
        let mut want: Vec<String> = Vec::new();
        for (x, y) in &e {
            for (a, b) in &f {
                if y == a {
                    want.push(format!("{x}\t{b}"));
                }
            }
        }
        want.sort_by_key(|r| {
            let (x, b) = r.split_once('\t').unwrap();
            (x.parse::<u32>().unwrap(), b.parse::<u32>().unwrap())
        });
        want.dedup();
        assert!(!want.is_empty());
        let got = eval_rel(p, &[("e", &text(&e)), ("f", &text(&f))], "p");
        assert_eq!(got, want, "{e_rows} rows of e, {f_rows} of f");
    }
}

/// Aggregates whose bodies bind columns that are not the leading ones: looked up in indexes on
/// those columns (the audit's `app_static_share` once scanned `decide` per outer row), with the
/// same results as the reference evaluator.
const NON_LEADING: &str = r#"
    .decl r(x: number) .input r
    .decl e(y: number, x: number) .input e
    .decl t(a: number, b: number, c: number) .input t
    .decl one(x: number, n: number) .output one
    .decl per_row(x: number, n: number) .output per_row
    .decl joined(x: number, n: number) .output joined
    .decl two(x: number, n: number) .output two
    one(x, n) :- r(x), n = count : { e(y, x) }.
    per_row(x, n) :- r(x), n = count : { e(y, z), z = x }.
    joined(x, n) :- r(x), n = count : { r(y), t(a, y, x) }.
    two(x, n) :- r(x), n = count : { t(a, b, c), a = x, c = x }.
"#;

#[test]
fn regression_aggregates_binding_non_leading_columns() {
    let facts = [
        ("r", "1\n2\n3\n"),
        ("e", "10\t1\n11\t1\n12\t2\n"),
        ("t", "1\t1\t1\n5\t1\t2\n6\t2\t2\n7\t9\t2\n2\t3\t2\n"),
    ];
    let out = eval(NON_LEADING, &facts);
    let rows = |rel: &str| -> Vec<String> { out[rel].iter().map(|r| r.join(" ")).collect() };
    assert_eq!(rows("one"), vec!["1 2", "2 1", "3 0"]);
    assert_eq!(rows("per_row"), vec!["1 2", "2 1", "3 0"]);
    assert_eq!(rows("joined"), vec!["1 1", "2 3", "3 0"]);
    assert_eq!(rows("two"), vec!["1 1", "2 1", "3 0"]);
}

#[test]
fn plan_names_the_index_each_aggregate_atom_uses() {
    plan_with(
        NON_LEADING,
        &[
            "aggregate count, once for all groups (x): scan `e(y, x)`",
            "aggregate count, per row (given x): lookup `e_by_1` for `e(y, z)`",
            "aggregate count, once for all groups (x): scan `r(y)`; lookup `t_by_1` for `t(a, y, x)`",
            "aggregate count, per row (given x): lookup `t_by_0_2` for `t(a, b, c)`",
        ],
    );
}

/// Two aggregates of one rule may use the same local name: each has its own (found while
/// writing the audit rules, which then had to rename them).
#[test]
fn sibling_aggregates_keep_their_locals_apart() {
    let p = r#"
        .decl e(x: number, y: number) .input e
        .decl r(d: number, a: number, b: number) .output r
        r(d, a, b) :- e(d, _), a = count : { e(x, _), x > d }, b = count : { e(x, 4), x >= d }.
    "#;
    assert_eq!(
        eval_rel(p, &[("e", "1\t2\n3\t4\n5\t4\n")], "r"),
        vec!["1\t2\t2", "3\t1\t2", "5\t0\t1"]
    );
}

#[test]
fn string_functors() {
    let p = r#"
        .decl w(s: symbol) .input w
        .decl r(s: symbol, len: number, sub: symbol, n: number, back: symbol) .output r
        r(cat(s, "!"), strlen(s), substr(s, 1, 2), n, to_string(n + 1)) :- w(s), n = to_number("0x10").
    "#;
    assert_eq!(
        eval_rel(p, &[("w", "hello\n")], "r"),
        vec!["hello!\t5\tel\t16\t17"]
    );
}

#[test]
fn to_number_accepts_hex_and_binary() {
    let p = r#".decl r(x: number) .output r
        r(to_number("0x1F")). r(to_number("0b101")). r(to_number("-12")). r(to_number("12abc"))."#;
    assert_eq!(eval_rel(p, &[], "r"), vec!["-12", "5", "31"]);
}

#[test]
fn contains_and_whole_string_match() {
    let p = r#"
        .decl w(s: symbol) .input w
        .decl c(s: symbol) .output c
        .decl m(s: symbol) .output m
        .decl nm(s: symbol) .output nm
        c(s) :- w(s), contains("ar", s).
        m(s) :- w(s), match("b.r", s).
        nm(s) :- w(s), !match("b.*", s).
    "#;
    let out = eval(p, &[("w", "bar\nbarn\nfoo\n")]);
    assert_eq!(out["c"].concat(), vec!["bar", "barn"]);
    // `match` is a whole-string match: `barn` does not match `b.r`.
    assert_eq!(out["m"].concat(), vec!["bar"]);
    assert_eq!(out["nm"].concat(), vec!["foo"]);
}

#[test]
fn invalid_regular_expression_is_false_with_a_warning() {
    let p =
        ".decl w(s: symbol) .input w\n.decl m(s: symbol) .output m\nm(s) :- w(s), match(\"(\", s).";
    let (rules, evals) = super::eval_all(p, &[("w", "a\n(\n")]);
    for e in &evals {
        assert!(e.rows(&rules, "m").unwrap().is_empty());
        assert!(
            e.warnings
                .iter()
                .any(|w| w.contains("invalid regular expression")),
            "{:?}",
            e.warnings
        );
    }
}

#[test]
fn nullary_relations() {
    let p = r#"
        .decl e(x: number) .input e
        .decl has_big() .output has_big
        .decl none() .output none
        .decl done() .output done
        has_big() :- e(x), x > 5.
        none() :- e(x), x > 100.
        done().
    "#;
    let out = eval(p, &[("e", "1\n7\n")]);
    assert_eq!(out["has_big"], vec![Vec::<String>::new()]);
    assert!(out["none"].is_empty());
    assert_eq!(out["done"].len(), 1);
}

#[test]
fn symbols_in_facts_are_taken_raw() {
    let p = ".decl r(a: symbol, b: symbol) .input r .output r";
    let out = eval_rel(p, &[("r", "hello, world\t \"quoted\" \nx y\tz\n")], "r");
    assert_eq!(out, vec!["hello, world\t \"quoted\" ", "x y\tz"]);
}

#[test]
fn input_parameters_filename_and_delimiter() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pairs.txt"), "a,b\nc,d\n").unwrap();
    let p = ".decl r(a: symbol, b: symbol)\n.input r(IO=file, filename=\"pairs.txt\", delimiter=\",\")\n.output r";
    let mut rules = bindlog::datalog::Rules::from_texts(&[("t.dl", p)]).unwrap();
    let inputs = bindlog::datalog::Inputs::from_dir(&mut rules, dir.path(), false).unwrap();
    let e = rules
        .evaluate(&inputs, bindlog::datalog::Engine::Naive, Default::default())
        .unwrap();
    assert_eq!(
        e.rows(&rules, "r").unwrap(),
        vec![vec!["a", "b"], vec!["c", "d"]]
    );
}

#[test]
fn pragma_comments_and_qualifiers_are_accepted() {
    let p = "// line comment\n/* block\ncomment */\n.pragma \"legacy\" \"true\"\n.decl r(x: number) btree\n.output r\nr(1).";
    assert_eq!(eval_rel(p, &[], "r"), vec!["1"]);
}

#[test]
fn true_and_false_literals() {
    let p = ".decl r(x: number) .output r\nr(1) :- true.\nr(2) :- false.";
    assert_eq!(eval_rel(p, &[], "r"), vec!["1"]);
}

#[test]
fn same_generation_on_a_tree() {
    let p = r#"
        .decl parent(c: number, p: number) .input parent
        .decl sg(x: number, y: number) .output sg
        sg(x, y) :- parent(x, p), parent(y, p), x != y.
        sg(x, y) :- parent(x, a), sg(a, b), parent(y, b).
    "#;
    // 1 is the root; 2,3 its children; 4,5 under 2; 6 under 3.
    let out = eval_rel(p, &[("parent", "2\t1\n3\t1\n4\t2\n5\t2\n6\t3\n")], "sg");
    assert_eq!(
        out,
        vec![
            "2\t3", "3\t2", "4\t5", "4\t6", "5\t4", "5\t6", "6\t4", "6\t5"
        ]
    );
}

#[test]
fn mutual_recursion_and_independent_strata() {
    let p = r#"
        .decl n(x: number) .input n
        .decl even(x: number) .output even
        .decl odd(x: number) .output odd
        .decl big(x: number) .output big
        even(0).
        odd(y) :- even(x), n(y), y = x + 1.
        even(y) :- odd(x), n(y), y = x + 1.
        big(x) :- n(x), x > 3.
    "#;
    let out = eval(p, &[("n", "0\n1\n2\n3\n4\n5\n")]);
    assert_eq!(out["even"].concat(), vec!["0", "2", "4"]);
    assert_eq!(out["odd"].concat(), vec!["1", "3", "5"]);
    assert_eq!(out["big"].concat(), vec!["4", "5"]);
}

#[test]
fn cli_writes_empty_output_files_and_printsize() {
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("p.dl");
    std::fs::write(&prog, ".decl e(x: number)\n.input e\n.decl r(x: number)\n.output r\n.printsize e\nr(x) :- e(x), x > 10.").unwrap();
    std::fs::write(dir.path().join("e.facts"), "1\n2\n").unwrap();
    let out = dir.path().join("out");
    let o = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .args([
            "eval",
            prog.to_str().unwrap(),
            "-F",
            dir.path().to_str().unwrap(),
            "-D",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(std::fs::read_to_string(out.join("r.csv")).unwrap(), "");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "e\t2\n");
}

#[test]
fn cli_stdout_form_and_thread_count_do_not_change_output() {
    let root = env!("CARGO_MANIFEST_DIR");
    let run = |jobs: &str| {
        let o = assert_cmd::Command::cargo_bin("bindlog")
            .unwrap()
            .current_dir(root)
            .args([
                "eval",
                "examples/datalog/path.dl",
                "-F",
                "examples/datalog",
                "-D",
                "-",
                "-j",
                jobs,
            ])
            .output()
            .unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let one = run("1");
    assert_eq!(one, run("2"));
    assert!(
        one.starts_with("---------------\npath\n===============\na\tb\n"),
        "{one}"
    );
}

#[test]
fn bounds_stop_runaway_programs_cleanly() {
    let p = ".decl n(x: number) .output n\nn(0).\nn(y) :- n(x), y = x + 1.";
    let rules = bindlog::datalog::Rules::from_texts(&[("t.dl", p)]).unwrap();
    let inputs = bindlog::datalog::Inputs::new(&rules);
    for engine in [
        bindlog::datalog::Engine::Fast { parallel: false },
        bindlog::datalog::Engine::Naive,
    ] {
        let limits = bindlog::datalog::eval::Limits {
            max_tuples: 1000,
            timeout: None,
        };
        let err = rules.evaluate(&inputs, engine, limits).err().unwrap();
        assert!(err.to_string().contains("more than 1000 tuples"), "{err}");
        let limits = bindlog::datalog::eval::Limits {
            max_tuples: usize::MAX,
            timeout: Some(std::time::Duration::from_millis(50)),
        };
        let err = rules.evaluate(&inputs, engine, limits).err().unwrap();
        assert!(err.to_string().contains("time limit"), "{err}");
    }
}

// Found by running Soufflé's own evaluation tests and probes against bindlog.

#[test]
fn regression_escape_before_a_non_ascii_character_does_not_panic() {
    // Not one of Soufflé's escapes: an error (issue 14, item 16), never a panic.
    let err = super::errors_of(".decl r(s: symbol) .output r\nr(\"a\\éb\").");
    assert!(err.contains("unknown escape sequence `\\é`"), "{err}");
}

#[test]
fn regression_deep_nesting_is_an_error_not_a_crash() {
    let p = format!(
        ".decl r(x: number) .output r\nr({}1{}).",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert!(super::errors_of(&p).contains("nested too deeply"));
}

#[test]
fn regression_facts_back_to_back_on_one_line() {
    assert_eq!(
        eval_rel(".decl r(x: number) .output r\nr(1).r(2).", &[], "r"),
        vec!["1", "2"]
    );
}

#[test]
fn regression_input_headers_skip_the_first_line() {
    let p = ".decl p(name: symbol, n: number)\n.input p(headers=true)\n.output p";
    assert_eq!(
        eval_rel(p, &[("p", "name\tn\nalice\t3\n")], "p"),
        vec!["alice\t3"]
    );
}

#[test]
fn regression_substr_and_strlen_as_souffle() {
    let p = r#".decl r(k: number, s: symbol) .output r
        r(1, substr("hello", 10, 2)). r(2, substr("hello", 1, -1)). r(3, substr("hello", -1, 2)).
        r(4, to_string(strlen("héllo")))."#;
    // Out-of-range starts give "" (with a warning), a negative length runs to the end, and
    // lengths count bytes.
    assert_eq!(eval_rel(p, &[], "r"), vec!["1\t", "2\tello", "3\t", "4\t6"]);
}

#[test]
fn regression_legacy_type_declarations() {
    let p = ".symbol_type Name\n.number_type Age\n.decl p(n: Name, a: Age) .output p\np(\"x\", 3).";
    assert_eq!(eval_rel(p, &[], "p"), vec!["x\t3"]);
}

/// An equality on an aggregate's variable, written after it, compares with the aggregate's
/// value: it is not an assignment that the aggregate then overwrites (found when the audit's
/// counts became sums of class weights: `C = sum .., (C = 1, W = "one" ; C != 1, W = "many")`
/// gave both rows).
#[test]
fn regression_an_equality_on_an_aggregate_variable_compares() {
    let p = r#"
        .decl m(u: symbol, g: symbol) .input m
        .decl w(u: symbol, k: number) .input w
        .decl r(g: symbol, c: number, w: symbol) .output r
        r(G, C, W) :- m(_, G), C = sum K : { m(U, G), w(U, K) }, (C = 1, W = "one" ; C != 1, W = "many").
    "#;
    assert_eq!(
        eval_rel(p, &[("m", "a\tg\nb\th\n"), ("w", "a\t11\nb\t1\n")], "r"),
        vec!["g\t11\tmany", "h\t1\tone"]
    );
}

// Issue 18, item 4: the rest of Soufflé's language that its own evaluation tests use. The
// expected rows are those of Soufflé's tests (`aggregate_witnesses`, `aggregates`,
// `aggregates_nested`, `counter`, `bad_regex`).

/// A variable bound only inside a `min`/`max` aggregate and used in the head is a witness: a
/// tuple of the body that reaches the extremum (Soufflé's `aggregate_witnesses`).
#[test]
fn aggregate_witnesses_as_souffle() {
    let p = r#"
        .decl Student(name: symbol, height: number)
        .decl Tallest(student: symbol, height: number)
        Student("Anna", 170). Student("Rachel", 177). Student("Quarantina", 180).
        Tallest(student, n) :- n = max height : { Student(student, height) }.
        .decl A(x: number, y: number)
        .decl MinSum, MinSumNotReduced(x: number, y: number, s: number)
        A(1, 2). A(5, 6). A(-50, 3). A(54, 5).
        MinSum(x, y, s) :- s = min w : { A(x, y), w = x + y }.
        MinSumNotReduced(x, y, s) :- s = min x + y : { A(x, y) }.
        .decl D(x: number, y: number) .decl H(x: number, y: number, z: number)
        .decl F(s: symbol, x: number, y: number)
        .decl G(s: symbol, groupby: number, x: number, y: number)
        D(1, 1). D(1, 2). D(1, 3). D(1, 4).
        H(1, 2, 3). H(24, 5, 6). H(7, 8, 9). H(10, 11, 12).
        F("Two witnesses", x, y) :- _ = min x + y : { D(x, y) }.
        F("One witness", result, witness) :- result = min 2 * witness : { D(witness, _) }.
        G("Two side witnesses", result, w1, w2) :- result = max x : { H(x, w1, w2) }.
        F("two side-by-side aggregates", res1, res2) :-
            res1 = count : { D(_, y), y > 1 }, res2 = count : { D(_, y), y < 4 }.
        .decl B(x: number, y: number)
        B(2, 1). B(2, 2). B(2, 3). B(2, 4).
        F("Reaching witness", result, witness) :-
            result = count : { B(x, _), x > min y : { D(y, witness) } }.
        .output Tallest, MinSum, MinSumNotReduced, F, G
    "#;
    let out = eval(p, &[]);
    let rows = |r: &str| -> Vec<String> { out[r].iter().map(|x| x.join("\t")).collect() };
    assert_eq!(rows("Tallest"), vec!["Quarantina\t180"]);
    assert_eq!(rows("MinSum"), vec!["-50\t3\t-47"]);
    assert_eq!(rows("MinSumNotReduced"), vec!["-50\t3\t-47"]);
    assert_eq!(
        rows("F"),
        vec![
            "One witness\t2\t1",
            "Reaching witness\t1\t1",
            "Reaching witness\t1\t2",
            "Reaching witness\t1\t3",
            "Reaching witness\t1\t4",
            "Two witnesses\t1\t1",
            "two side-by-side aggregates\t3\t3"
        ]
    );
    assert_eq!(rows("G"), vec!["Two side witnesses\t24\t5\t6"]);
}

/// Soufflé evaluates an aggregate body with several atoms, a nested aggregate or a variable
/// repeated in its one atom as a relation of the body's named variables, so `count` and `sum`
/// go over their distinct bindings: matches that differ only under `_` count once. A body of one
/// atom (with negations and constraints beside it) counts its matching tuples. Expected rows
/// are Soufflé 2.5's (`souffle -D-`); its `aggregate_witnesses` test checks the same through
/// "Reaching witness".
#[test]
fn materialised_aggregate_bodies_count_distinct_bindings_as_souffle() {
    let p = r#"
        .decl B(x: number, y: number)
        B(2, 1). B(2, 2). B(3, 3).
        .decl D(x: number, y: number)
        D(1, 1). D(1, 2).
        .decl R(s: symbol, n: number) .output R
        R("one atom", n) :- n = count : { B(x, _) }.
        R("two atoms", n) :- n = count : { B(x, _), D(_, _) }.
        R("sum, two atoms", n) :- n = sum x : { B(x, _), D(_, _) }.
        R("nested", n) :- n = count : { B(x, _), x > min y : { D(y, _) } }.
    "#;
    assert_eq!(
        eval_rel(p, &[], "R"),
        vec![
            "nested\t2",
            "one atom\t3",
            "sum, two atoms\t5",
            "two atoms\t2"
        ]
    );
    let p = r#"
        .decl B(x: number, y: number)
        B(2, 1). B(2, 2). B(3, 3).
        .decl D(x: number, y: number)
        D(1, 1). D(1, 2).
        .decl T(x: number, y: number, z: number)
        T(1, 1, 1). T(1, 1, 2). T(2, 2, 5). T(2, 3, 5).
        .decl E(x: number) E(3).
        .decl A(z: number) A(1). A(2). A(3).
        .decl F() F().
        .decl R(s: symbol, n: number) .output R
        R("negation", n) :- n = count : { B(x, _), !E(x) }.
        R("constraint", n) :- n = count : { B(x, _), x > 1 }.
        R("repeated", n) :- n = count : { T(x, x, _) }.
        R("repeated sum", n) :- n = sum x : { T(x, x, _) }.
        R("sum y two atoms", n) :- n = sum y : { B(_, y), D(_, _) }.
        R("nested no atom", n) :- n = count : { 1 < count : { B(_, _) } }.
        R("nullary", n) :- n = count : { B(x, _), F() }.
        R("assign", n) :- n = count : { B(x, _), D(_, _), z = x + 1 }.
        .decl S(s: symbol, z: number, n: number) .output S
        S("injected", z, n) :- A(z), n = count : { B(z, _), D(_, _) }.
        S("grouped", z, n) :- B(z, _), n = count : { B(z, _), D(_, _) }.
        S("grouped sum", z, n) :- B(z, _), n = sum w : { B(z, w), D(_, _) }.
        S("repeated injected", z, n) :- A(z), n = count : { T(z, z, _) }.
        S("nested injected", z, n) :- A(z), n = count : { T(x, _, _), x < z + count : { B(_, _) } }.
        S("inner injected", z, n) :- A(z), n = count : { T(x, _, _), x < count : { B(z, _) } }.
        S("grouped repeated", z, n) :- T(z, _, _), n = count : { T(z, y, _), D(_, y) }.
        S("min two", z, n) :- A(z), n = min y : { B(z, y), D(_, _) }.
        .decl W(s: symbol, w: number, n: number) .output W
        W("Reaching witness", w, n) :- n = count : { B(x, _), x > min y : { D(y, w) } }.
    "#;
    let out = eval(p, &[]);
    let rows = |r: &str| -> Vec<String> { out[r].iter().map(|x| x.join("\t")).collect() };
    assert_eq!(
        rows("R"),
        vec![
            "assign\t2",
            "constraint\t3",
            "negation\t2",
            "nested no atom\t1",
            "nullary\t2",
            "repeated\t2",
            "repeated sum\t3",
            "sum y two atoms\t6",
        ]
    );
    assert_eq!(
        rows("S"),
        vec![
            "grouped\t2\t1",
            "grouped\t3\t1",
            "grouped repeated\t1\t1",
            "grouped repeated\t2\t1",
            "grouped sum\t2\t3",
            "grouped sum\t3\t3",
            "injected\t1\t0",
            "injected\t2\t1",
            "injected\t3\t1",
            "inner injected\t1\t0",
            "inner injected\t2\t1",
            "inner injected\t3\t0",
            "min two\t2\t1",
            "min two\t3\t3",
            "nested injected\t1\t2",
            "nested injected\t2\t2",
            "nested injected\t3\t2",
            "repeated injected\t1\t1",
            "repeated injected\t2\t1",
            "repeated injected\t3\t0",
        ]
    );
    assert_eq!(
        rows("W"),
        vec!["Reaching witness\t1\t2", "Reaching witness\t2\t2"]
    );
}

/// Several tuples reaching the extremum are all witnesses.
#[test]
fn every_witness_of_a_tie_is_kept() {
    let p = r#"
        .decl score(p: symbol, s: number) .input score
        .decl best(p: symbol, s: number) .output best
        best(p, s) :- s = max x : { score(p, x) }.
    "#;
    assert_eq!(
        eval_rel(p, &[("score", "a\t3\nb\t7\nc\t7\n")], "best"),
        vec!["b\t7", "c\t7"]
    );
}

/// A witness of `count` or `sum` means nothing: rejected, naming the variable, as Soufflé does.
#[test]
fn a_witness_of_count_is_rejected_with_a_rewrite() {
    let err = super::errors_of(
        ".decl e(x: number, y: number) .decl r(x: number, n: number) .output r\n\
         r(x, n) :- n = count : { e(x, _) }.",
    );
    assert!(
        err.contains("variable `x` is bound only inside this `count` aggregate"),
        "{err}"
    );
    assert!(
        err.contains("bind the variable outside the aggregate"),
        "{err}"
    );
}

/// A variable of an aggregate's body named as the aggregate's result is the body's own
/// (Soufflé's `aggregates`: `Y = min Z + Y : ..`).
#[test]
fn shadowed_aggregate_variables_are_local() {
    let p = r#"
        .decl a(n: symbol, x: number)
        a("A", 3). a("A", 4). a("A", 5). a("A", 6). a("B", 2). a("B", 3). a("B", 4). a("D", 4).
        .decl res(n: symbol, x: number) .output res
        res("minAB+", Y) :- Y = min Z + Y : { a(A, Z), a(B, Y), A != B }.
        res("maxAB+", Y) :- Y = max Z + Y : { a(A, Z), a(B, Y), A != B }.
        .decl t(a: number, b: number, c: number) .decl m(a: number) .output m
        t(1, 2, 3). t(5, 0, 0).
        m(a) :- a = max a : t(a, _, _).
    "#;
    let out = eval(p, &[]);
    assert_eq!(out["res"].concat(), vec!["maxAB+", "10", "minAB+", "5"]);
    assert_eq!(out["m"].concat(), vec!["5"]);
}

/// Aggregates inside aggregates (Soufflé's `aggregates_nested`), inner ones reading variables
/// of the outer body and of the rule.
#[test]
fn nested_aggregates_as_souffle() {
    let p = r#"
        .decl InitialStock(product: symbol, qty: number)
        .decl Sales(product: symbol, month: number, qty: number)
        .decl ProductHalfGoneBy(product: symbol, month: number)
        InitialStock("iPhone X", 500). InitialStock("Samsung Galaxy S8", 700).
        Sales("iPhone X", 1, 50). Sales("Samsung Galaxy S8", 1, 100).
        Sales("iPhone X", 2, 50). Sales("Samsung Galaxy S8", 2, 100).
        Sales("iPhone X", 3, 50). Sales("Samsung Galaxy S8", 3, 100).
        Sales("iPhone X", 4, 50). Sales("Samsung Galaxy S8", 4, 100).
        Sales("iPhone X", 5, 50). Sales("Samsung Galaxy S8", 5, 100).
        Sales("iPhone X", 6, 50). Sales("Samsung Galaxy S8", 6, 100).
        ProductHalfGoneBy(product, month) :-
            InitialStock(product, initialStock),
            month = min candidateMonth : {
                Sales(_, candidateMonth, _),
                totalSales = sum sales : { Sales(product, m, sales), m <= candidateMonth },
                2 * totalSales >= initialStock
            }.
        .decl Person(p: symbol) .decl Friends(p: symbol, o: symbol)
        .decl AverageNumberOfFriends(x: number) .decl MostPopular(person: symbol, n: number)
        Person("Jane"). Person("Joseph"). Person("Tamara"). Person("Alex").
        Friends("Jane", "Tamara"). Friends("Joseph", "Alex"). Friends("Tamara", "Alex").
        Friends("Tamara", "Joseph").
        Friends(x, y) :- Friends(y, x).
        AverageNumberOfFriends(x) :-
            s = sum numFriends : { Person(person), numFriends = count : Friends(_, person) },
            c = count : Person(_),
            x = s / c.
        MostPopular(person, numFriends) :-
            numFriends = max n : { Person(p), n = count : { Friends(_, p) } },
            Person(person),
            numFriends = count : { Friends(_, person) }.
        .decl M, Y(x: number) .decl P(p: symbol)
        .decl H(a: symbol, b: symbol, y: number, m: number) .decl W(a: symbol, n: number)
        Y(2019). Y(2020). M(1). M(n + 1) :- M(n), n + 1 <= 12.
        P("Anna"). P("Rachel"). P("Shelby").
        H("Anna", "Gringo", 2019, 1). H("Anna", "Celine", 2019, 1).
        H("Rachel", "Howard", 2019, 3). H("Rachel", "Sandra", 2020, 5).
        H("Rachel", "Holland", 2020, 6). H("Shelby", "George", 2020, 2).
        H("Shelby", "Tim", 2020, 2). H("Shelby", "Rafael", 2020, 2).
        W(a, n) :-
            n = min worstNPart : {
                P(a),
                worstNPart = max part : { Y(y), M(m), part = count : { H(a, _, y, m) } }
            }.
        .output ProductHalfGoneBy, AverageNumberOfFriends, MostPopular, W
    "#;
    let out = eval(p, &[]);
    let rows = |r: &str| -> Vec<String> { out[r].iter().map(|x| x.join("\t")).collect() };
    assert_eq!(
        rows("ProductHalfGoneBy"),
        vec!["Samsung Galaxy S8\t4", "iPhone X\t5"]
    );
    assert_eq!(rows("AverageNumberOfFriends"), vec!["2"]);
    assert_eq!(rows("MostPopular"), vec!["Tamara\t3"]);
    assert_eq!(rows("W"), vec!["Rachel\t1"]);
}

/// `autoinc()` gives each derived tuple its own number, from 0 (Soufflé's `counter`); the
/// order is the evaluator's, so each evaluator is checked on its own.
#[test]
fn autoinc_numbers_each_tuple_once() {
    let p = r#"
        .decl A(n: number) .decl B(a: number, b: number) .decl C(a: number, b: number)
        .output B, C
        A(0). A(i + 1) :- A(i), i < 100.
        B(autoinc(), i) :- A(i).
        C(i, j) :- B(c, i), B(c, j), i != j.
    "#;
    let (rules, evals) = super::eval_all(p, &[]);
    for e in &evals {
        assert!(e.rows(&rules, "C").unwrap().is_empty());
        let mut ids: Vec<i64> = e
            .rows(&rules, "B")
            .unwrap()
            .iter()
            .map(|r| r[0].parse().unwrap())
            .collect();
        ids.sort();
        assert_eq!(ids, (0..101).collect::<Vec<i64>>());
    }
    let err = super::errors_of(".decl r(x: number) .output r\nr(0). r(autoinc()) :- r(x), x < 3.");
    assert!(err.contains("`autoinc()` in a recursive rule"), "{err}");
}

/// An invalid regular expression makes `match` and `!match` both false, with a warning
/// (Soufflé's `bad_regex`).
#[test]
fn invalid_regex_is_false_in_both_polarities() {
    let p = r#"
        .decl A(x: symbol) .input A
        .decl B(x: symbol) .output B
        B(x) :- A(x), match("fo{2}b.*", x).
        B(x) :- A(x), !match("fo{x}b.*", x).
    "#;
    let (rules, evals) = super::eval_all(p, &[("A", "foobar\nbar\n")]);
    for e in &evals {
        assert_eq!(
            e.rows(&rules, "B").unwrap(),
            vec![vec!["foobar".to_string()]]
        );
        assert!(
            e.warnings
                .iter()
                .any(|w| w.contains("invalid regular expression")),
            "{:?}",
            e.warnings
        );
    }
}

/// Several `.output` directives for one relation write each file.
#[test]
fn several_outputs_for_one_relation() {
    let p = r#"
        .decl r(x: number)
        r(1). r(2).
        .output r(IO=file, filename="first.csv")
        .output r(IO=file, filename="second.csv", delimiter=",")
        .output r
    "#;
    let (rules, evals) = super::eval_all(p, &[]);
    let dir = tempfile::tempdir().unwrap();
    bindlog::datalog::io::write_outputs(
        &rules.program,
        &evals[0].tables,
        &evals[0].symbols,
        dir.path(),
        &mut Vec::new(),
        bindlog::datalog::io::PathPolicy::Confined,
    )
    .unwrap();
    for f in ["first.csv", "second.csv", "r.csv"] {
        assert_eq!(
            std::fs::read_to_string(dir.path().join(f)).unwrap(),
            "1\n2\n",
            "{f}"
        );
    }
}

/// Issue 18.1: each stratum evaluates with rows as wide as it needs. Narrow strata read a wide
/// relation through projections, joins, negations and aggregates (constants bound past their
/// own width), and one stratum mixes a narrow and a wide relation; every evaluator agrees.
#[test]
fn issue_18_1_narrow_and_wide_strata_agree_with_the_naive_evaluator() {
    let p = r#"
        .decl wide(a: number, b: number, c: number, d: number, e: number, f: number)
        .input wide
        .decl narrow(x: number)
        .decl pair(x: number, y: number)
        .decl mixed(x: number, y: number, z: number, w: number, v: number)
        .decl lonely(x: number)
        .decl odd(x: number)
        .decl counted(x: number, n: number, m: number, s: number, below: number)
        .output narrow, pair, mixed, lonely, odd, counted
        narrow(a) :- wide(a, _, _, _, _, _).
        pair(x, y) :- narrow(x), wide(x, y, _, _, _, _).
        mixed(x, y, x, y, 0) :- pair(x, y).
        pair(y, x) :- mixed(x, y, _, _, v), v = 0, x < 5.
        lonely(x) :- narrow(x), !wide(x, x, _, _, _, _).
        odd(x) :- narrow(x), !wide(x, 1, 1, 0, 0, _), !pair(x, x).
        counted(x, n, m, s, below) :- narrow(x),
            n = count : { wide(x, _, 1, _, 2, _) },
            m = count : { wide(x, 1, _, _, _, _) },
            s = sum f : { wide(x, _, _, _, _, f) },
            below = count : { wide(a, _, 1, _, _, _), a < x }.
    "#;
    let facts: String = (0..90u32)
        .map(|i| {
            format!(
                "{}\t{}\t{}\t{}\t{}\t{}\n",
                i % 11,
                i % 5,
                i % 2,
                i % 3,
                (i * 7) % 3,
                i
            )
        })
        .collect();
    let out = eval(p, &[("wide", &facts)]);
    assert_eq!(out["narrow"].len(), 11);
    assert!(!out["mixed"].is_empty() && !out["lonely"].is_empty() && !out["odd"].is_empty());
    assert!(
        out["pair"].iter().any(|r| r[0] > r[1]),
        "the recursive rule derives"
    );
    assert!(
        out["counted"].iter().any(|r| r[1] != "0") && out["counted"].iter().any(|r| r[4] != "0")
    );
    plan_with(
        p,
        &[
            "stratum 1 [narrow], rows of 1 column",
            "[pair, mixed] recursive, rows of 5 columns",
            "[lonely], rows of 2 columns",
        ],
    );
}

/// The plan of program `p`, which must show each of `lines`.
fn plan_with(p: &str, lines: &[&str]) -> String {
    let plan = bindlog::datalog::Rules::from_texts(&[("test.dl", p)])
        .unwrap()
        .render_plan();
    for line in lines {
        assert!(plan.contains(line), "no `{line}` in\n{plan}");
    }
    plan
}
