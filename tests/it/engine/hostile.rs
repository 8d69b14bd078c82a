//! Issue 14: rules and facts written by someone else, as an attacker would write them. Each
//! test names the item of the issue it holds.

use crate::bindlog;
use std::path::Path;

/// Writes `files` (name, text) into a fresh directory.
fn dir_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Asserts that a run exited 0, showing its stderr if not.
fn succeeded(o: &std::process::Output) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn path(dir: &Path, name: &str) -> String {
    dir.join(name).display().to_string()
}

/// Asserts exit status 2 with every part in stderr (`case` names the run); returns stderr.
fn refused_with(o: &std::process::Output, parts: &[&str], case: &str) -> String {
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{case}: {err}");
    for p in parts {
        assert!(err.contains(p), "{case}: `{p}` not in {err}");
    }
    err
}

/// Runs `bindlog eval DIR/PROGRAM -F DIR` with these further arguments.
fn eval_in(dir: &Path, program: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "eval".to_string(),
        path(dir, program),
        "-F".into(),
        path(dir, ""),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    bindlog(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

const PRODUCT: &str = ".decl n(x: number)\n.input n\n.decl p(x: number, y: number, z: number)\n\
                       .output p\np(x, y, z) :- n(x), n(y), n(z).\n";

fn numbers(n: usize) -> String {
    (0..n).map(|i| format!("{i}\n")).collect()
}

#[test]
fn issue_14_1_max_tuples_holds_inside_one_round() {
    let dir = dir_with(&[("p.dl", PRODUCT), ("n.facts", &numbers(10))]);
    let out = dir.path().join("out");
    let out_dir = out.display().to_string();
    for engine in ["fast", "naive"] {
        let o = eval_in(
            dir.path(),
            "p.dl",
            &["-D", &out_dir, "--max-tuples", "50", "--engine", engine],
        );
        refused_with(&o, &["more than 50 tuples"], engine);
        // No partial result presented as complete.
        assert!(!out.join("p.csv").exists(), "{engine}");
    }
    // The same program within its bound runs.
    let o = eval_in(dir.path(), "p.dl", &["-D", "-", "--max-tuples", "2000"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 1000 + 4);
}

#[test]
fn issue_14_1_timeout_stops_a_huge_product() {
    // 600^3 = 216 million rows: minutes and gigabytes without the bound.
    let dir = dir_with(&[("p.dl", PRODUCT), ("n.facts", &numbers(600))]);
    let out = path(dir.path(), "out");
    for engine in ["fast", "naive"] {
        let o = eval_in(
            dir.path(),
            "p.dl",
            &["-D", &out, "--timeout", "1", "--engine", engine],
        );
        refused_with(&o, &["time limit of 1s reached"], engine);
    }
}

#[test]
fn issue_14_1_every_command_that_evaluates_rules_takes_the_bounds() {
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme/snapshot.json");
    let rules = dir_with(&[(
        "q.dl",
        ".decl q(n: symbol, m: symbol, o: symbol)\n.output q\n\
         q(N, M, O) :- user(_, N, _), user(_, M, _), user(_, O, _).\n",
    )]);
    let q = path(rules.path(), "q.dl");
    let report = path(rules.path(), "r.html");
    let commands: Vec<Vec<&str>> = vec![
        vec!["query", snapshot, "--rules", &q],
        vec!["audit", snapshot, "--rules", &q],
        vec!["analyze", snapshot],
        vec!["report", snapshot, "-o", &report],
    ];
    for c in &commands {
        let mut args = c.clone();
        args.extend(["--max-tuples", "100"]);
        refused_with(
            &bindlog(&args),
            &["more than 100 tuples"],
            &format!("{c:?}"),
        );
    }
    // 600 numbers cubed: the time bound stops the user's rule inside its round.
    std::fs::write(
        rules.path().join("big.dl"),
        ".decl n(x: number)\nn(0).\nn(x + 1) :- n(x), x < 600.\n\
         .decl big(x: number, y: number, z: number)\n.output big\n\
         big(x, y, z) :- n(x), n(y), n(z).\n",
    )
    .unwrap();
    let big = path(rules.path(), "big.dl");
    let o = bindlog(&[
        "query",
        snapshot,
        "--rules",
        &big,
        "--timeout",
        "1",
        "-D",
        &report,
    ]);
    refused_with(&o, &["time limit of 1s reached"], "query");
    let o = bindlog(&["query", snapshot, "--rules", &q, "--timeout", "-1"]);
    assert_eq!(o.status.code(), Some(2));
}

/// Issue 14, item 16: user rules whose arithmetic wraps or divides by zero warn under every
/// command that runs them, not only under `eval`; each warning once.
#[test]
fn issue_14_16_arithmetic_warnings_reach_every_command_with_rules() {
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme/snapshot.json");
    let rules = dir_with(&[(
        "w.dl",
        ".decl wrapped(x: number)\n.output wrapped\n\
         wrapped(2147483647 + 1) :- user(_, _, _).\n\
         .decl halved(x: number)\n.output halved\nhalved(1 / 0) :- user(_, _, _).\n",
    )]);
    let w = path(rules.path(), "w.dl");
    let report = path(rules.path(), "r.html");
    let commands: Vec<Vec<&str>> = vec![
        vec!["query", snapshot, "--rules", &w],
        vec!["audit", snapshot, "--rules", &w],
        vec!["report", snapshot, "--rules", &w, "-o", &report],
    ];
    for c in &commands {
        let o = bindlog(c);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{c:?}: {err}");
        for warning in ["warning: `+` overflowed", "warning: `/` by zero"] {
            assert_eq!(err.matches(warning).count(), 1, "{c:?}: {err}");
        }
    }
    // The built-in rules alone raise none.
    let o = bindlog(&["analyze", snapshot]);
    succeeded(&o);
    assert!(!String::from_utf8_lossy(&o.stderr).contains("overflowed"));
}

/// Runs `bindlog eval` on one program (and facts) in a fresh directory, output to stdout.
fn eval_cli(program: &str, facts: &[(&str, &str)], extra: &[&str]) -> std::process::Output {
    let mut files = vec![("p.dl", program)];
    files.extend_from_slice(facts);
    let dir = dir_with(&files);
    let mut args = vec!["-D", "-"];
    args.extend_from_slice(extra);
    eval_in(dir.path(), "p.dl", &args)
}

#[test]
fn issue_14_4_a_diagnostic_past_column_65535_is_windowed_not_a_panic() {
    let program = format!("{}@\n", " ".repeat(70_000));
    let err = refused_with(
        &eval_cli(&program, &[], &[]),
        &[
            "unexpected character `@`",
            "p.dl:1:70001",
            "line 1 is 70001 bytes long; showing bytes 69960..70001 of it",
        ],
        "a long line of rules",
    );
    assert!(err.len() < 2_000, "{} bytes of stderr", err.len());
    // A long line in a `.facts` file: located, bounded, its text not reprinted.
    let long = format!("{}\n", "9".repeat(70_000) + "x");
    let o = eval_cli(
        ".decl n(x: number)\n.input n\n.output n\n",
        &[("n.facts", &long)],
        &[],
    );
    let err = refused_with(&o, &["n.facts:1:1"], "a long line of facts");
    // The message may be wrapped where the temporary path makes it long.
    let flat: Vec<&str> = err.split_whitespace().filter(|w| *w != "│").collect();
    assert!(
        flat.join(" ")
            .contains("found 70001 bytes that are not one"),
        "{err}"
    );
    assert!(err.len() < 2_000, "{} bytes of stderr", err.len());
}

#[test]
fn issue_14_5_an_error_flood_is_capped_per_file() {
    let program = format!(".decl r(x: number)\n{}\n", "@".repeat(20_000));
    let err = refused_with(&eval_cli(&program, &[], &[]), &[], "an error flood");
    assert_eq!(err.matches("unexpected character `@`").count(), 50, "{err}");
    assert!(
        err.contains("and 19950 more errors in `")
            && err.contains("not shown (at most 50 per file)"),
        "{err}"
    );
    assert!(err.len() < 40_000, "{} bytes of stderr", err.len());
}

#[test]
fn issue_14_7_filenames_stay_in_the_facts_and_output_directories() {
    let root = tempfile::tempdir().unwrap();
    let facts = root.path().join("facts");
    let out = root.path().join("out");
    std::fs::create_dir_all(&facts).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(root.path().join("secret.txt"), "root:x:0:0:TOPSECRET\n").unwrap();
    std::fs::write(facts.join("ok.facts"), "1\n").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(root.path().join("secret.txt"), facts.join("link.facts")).unwrap();
    let secret = root.path().join("secret.txt").display().to_string();
    let run = |program: &str, extra: &[&str]| {
        let p = root.path().join("p.dl");
        std::fs::write(&p, program).unwrap();
        let mut args = vec![
            "eval",
            p.to_str().unwrap(),
            "-F",
            facts.to_str().unwrap(),
            "-D",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let o = bindlog(&args);
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let reads = [
        "../secret.txt".to_string(),
        secret.clone(),
        "sub/../../secret.txt".to_string(),
        "link.facts".to_string(),
    ];
    for name in &reads {
        let program = format!(
            ".decl p(a: symbol, b: symbol)\n.input p(filename=\"{name}\", delimiter=\":\")\n"
        );
        let (code, err) = run(&program, &[]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains("is outside"), "{name}: {err}");
        assert!(!err.contains("TOPSECRET"), "{name}: {err}");
    }
    // Lifted by the flag; the malformed file's error still does not quote it.
    let program = format!(
        ".decl p(a: symbol, b: symbol)\n.input p(filename=\"{secret}\", delimiter=\":\")\n"
    );
    let (code, err) = run(&program, &["--allow-any-path"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("secret.txt:1:1"), "{err}");
    assert!(!err.contains("TOPSECRET") && !err.contains("root"), "{err}");
    // Inside the directory is fine, `..` that stays inside too.
    let (code, err) = run(
        ".decl p(x: number)\n.input p(filename=\"sub/../ok.facts\")\n.output p\n",
        &[],
    );
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(out.join("p.csv")).unwrap(), "1\n");
    // Writes.
    for name in [
        "../x.csv",
        "../../x.csv",
        &root.path().join("y.csv").display().to_string(),
    ] {
        let program = format!(".decl r(x: number)\nr(1).\n.output r(filename=\"{name}\")\n");
        let (code, err) = run(&program, &[]);
        assert_eq!(code, Some(2), "{name}: {err}");
        assert!(err.contains("is outside"), "{name}: {err}");
    }
    assert!(!root.path().join("x.csv").exists() && !root.path().join("y.csv").exists());
    let (code, err) = run(
        ".decl r(x: number)\nr(1).\n.output r(filename=\"../x.csv\")\n",
        &["--allow-any-path"],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(root.path().join("x.csv").exists());
    // query: `-D` confined too, and `.input` is an error, not silently ignored.
    let snapshot = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/acme/snapshot.json");
    let q = root.path().join("q.dl");
    std::fs::write(
        &q,
        ".decl q(x: number)\nq(1).\n.output q(filename=\"../z.csv\")\n",
    )
    .unwrap();
    let o = bindlog(&[
        "query",
        snapshot,
        "--rules",
        q.to_str().unwrap(),
        "-D",
        out.to_str().unwrap(),
    ]);
    refused_with(&o, &["is outside"], "query -D");
    assert!(!root.path().join("z.csv").exists());
    std::fs::write(&q, ".decl q(x: number)\n.input q\n.output q\n").unwrap();
    let o = bindlog(&["query", snapshot, "--rules", q.to_str().unwrap()]);
    refused_with(
        &o,
        &["query reads the snapshot's facts, not `.facts` files"],
        "query .input",
    );
    // And the help says so.
    let help = String::from_utf8_lossy(&bindlog(&["eval", "--help"]).stdout).into_owned();
    assert!(help.contains("--allow-any-path") && help.contains("only inside the -F directory"));
}

#[test]
fn issue_14_13_symbols_with_tabs_and_newlines_round_trip() {
    let program = ".decl r(a: symbol, n: number)\n\
                   r(\"tab\\there\", 1). r(\"line\\nbreak\", 2). r(\"\\\"quoted\\\"\", 3). r(\"cr\\r\", 4).\n\
                   r(\"plain\", 5).\n.output r\n";
    let dir = dir_with(&[("p.dl", program)]);
    succeeded(&eval_in(dir.path(), "p.dl", &["-D", &path(dir.path(), "")]));
    let written = std::fs::read_to_string(dir.path().join("r.csv")).unwrap();
    assert_eq!(
        written,
        "\"\"\"quoted\"\"\"\t3\n\"cr\r\"\t4\n\"line\nbreak\"\t2\nplain\t5\n\"tab\there\"\t1\n"
    );
    // Read back: the same five symbols.
    std::fs::rename(dir.path().join("r.csv"), dir.path().join("s.facts")).unwrap();
    let back = ".decl s(a: symbol, n: number)\n.input s\n.decl t(n: number, k: number)\n\
                .output t\nt(n, strlen(a)) :- s(a, n).\n";
    std::fs::write(dir.path().join("q.dl"), back).unwrap();
    let o = eval_in(dir.path(), "q.dl", &["-D", "-"]);
    let out = String::from_utf8_lossy(&o.stdout);
    succeeded(&o);
    assert!(out.contains("1\t8\n2\t10\n3\t8\n4\t3\n5\t5\n"), "{out}");
    // `bindlog facts` quotes the same way (it used to turn tabs into spaces).
    let snap = dir_with(&[]);
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/acme/snapshot.json"
    ))
    .unwrap()
    .replacen("\"ada.nguyen\"", "\"ada\\tnguyen\"", 1);
    std::fs::write(snap.path().join("s.json"), text).unwrap();
    let o = bindlog(&[
        "facts",
        &path(snap.path(), "s.json"),
        "-D",
        &path(snap.path(), "f"),
    ]);
    succeeded(&o);
    let users = std::fs::read_to_string(snap.path().join("f/user.facts")).unwrap();
    assert!(users.contains("\"ada\tnguyen\""), "{users}");
    // A quoted field that is not closed is an error at its place.
    let o = eval_cli(
        ".decl s(a: symbol)\n.input s\n.output s\n",
        &[("s.facts", "ok\n\"open\n")],
        &[],
    );
    refused_with(
        &o,
        &["s.facts:2:1: a quoted field is not closed"],
        "open quote",
    );
}

#[test]
fn issue_14_16_arithmetic_edges_are_pinned() {
    let program = ".decl r(k: symbol, v: number)\n.output r\n\
        r(\"add\", 2147483647 + 1).\n\
        r(\"mul\", 65536 * 65536 + 7).\n\
        r(\"sub\", -2147483647 - 2).\n\
        r(\"div0\", 1 / 0).\n\
        r(\"mod0\", 1 % 0).\n\
        r(\"min_div\", (-2147483647 - 1) / -1).\n\
        r(\"min_mod\", (-2147483647 - 1) % -1).\n\
        r(\"substr\", strlen(substr(\"é\", 1, 1))).\n\
        r(\"substr2\", strlen(substr(\"aéb\", 0, 2))).\n";
    let o = eval_cli(program, &[], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Wrapping, as Soufflé's 32-bit arithmetic; no value (no tuple) for a division by zero.
    for row in [
        "add\t-2147483648",
        "mul\t7",
        "sub\t2147483647",
        "min_div\t-2147483648",
        "min_mod\t0",
        "substr\t0",
        "substr2\t1",
    ] {
        assert!(out.contains(&format!("{row}\n")), "{row}: {out}");
    }
    assert!(!out.contains("div0") && !out.contains("mod0"), "{out}");
    for warning in [
        "`+` overflowed on number values",
        "`*` overflowed",
        "`-` overflowed",
        "`/` overflowed",
        "`/` by zero has no value",
        "`%` by zero has no value",
        "cut a UTF-8 character",
    ] {
        assert!(err.contains(warning), "{warning}: {err}");
    }
    // `\u202e` is not an escape (in Soufflé neither): an error, not the text `u202e`.
    let o = eval_cli(
        ".decl r(s: symbol)\n.output r\nr(\"a\\u202eb\").\n",
        &[],
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("unknown escape sequence `\\u`"), "{err}");
    // Soufflé's escapes are all understood.
    let o = eval_cli(
        ".decl r(n: number)\n.output r\nr(strlen(\"\\a\\b\\f\\n\\r\\t\\v\\\\\\'\\\"\")).\n",
        &[],
        &[],
    );
    succeeded(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("\n10\n"));
}
