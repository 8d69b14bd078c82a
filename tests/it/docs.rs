//! The documentation stays true: `docs/rules-reference.md` lists every relation of `rules/`
//! with its columns, every document a file cites exists in the repository (and every `§N` names
//! a section that exists), and the README's `console` examples print what they show.

use regex::Regex;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Files under `dir` (recursively), sorted, skipping build output and VCS data.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name == "target" || name == ".git" {
            continue;
        }
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

// ---- the rules reference ----------------------------------------------------------------

/// One `.decl` of a rules file: its signature as written and the comment above it.
#[derive(Debug, PartialEq)]
struct Decl {
    name: String,
    /// `name(col: type, ...)`, spaced the same way for every relation.
    signature: String,
    arity: usize,
    comment: String,
}

/// The relations a rules file declares, in file order, with the `//` lines right above each.
fn decls(text: &str) -> Vec<Decl> {
    let decl = Regex::new(r"^\.decl\s+([A-Za-z_][A-Za-z0-9_]*)\s*\(([^)]*)\)").unwrap();
    let mut out = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(c) = line.strip_prefix("//") {
            comment.push(c.trim());
            continue;
        }
        if let Some(m) = decl.captures(line) {
            let columns: Vec<String> = m[2]
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| c.split_whitespace().collect::<Vec<_>>().join(" "))
                .collect();
            out.push(Decl {
                name: m[1].to_string(),
                signature: format!("{}({})", &m[1], columns.join(", ")),
                arity: columns.len(),
                comment: comment.join(" "),
            });
        }
        comment.clear();
    }
    out
}

/// The rules files readers may use, in the order the reference lists them.
fn rule_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in ["rules/authentik", "rules/audit"] {
        files_under(&root().join(dir), &mut files);
    }
    let schema = root().join("rules/authentik/schema.dl");
    files.retain(|p| p.extension().is_some_and(|e| e == "dl"));
    // The input relations first: they are what every other file reads.
    files.sort_by_key(|p| {
        (
            p != &schema,
            p.starts_with(root().join("rules/audit")),
            p.clone(),
        )
    });
    files
}

const BEGIN: &str = "<!-- generated from rules/: BINDLOG_BLESS=1 cargo test --release --test it docs to refresh -->";
const END: &str = "<!-- end of the generated part -->";

/// The generated part of `docs/rules-reference.md`: per file, each relation's signature and
/// the comment that says what it means.
fn generated_reference() -> String {
    let mut out = String::new();
    for path in rule_files() {
        let rel = path.strip_prefix(root()).unwrap().display().to_string();
        out.push_str(&format!("\n### `{rel}`\n\n"));
        for d in decls(&read(&path)) {
            let comment = if d.comment.is_empty() {
                String::new()
            } else {
                format!(": {}", d.comment)
            };
            out.push_str(&format!("- `{}`{comment}\n", d.signature));
        }
    }
    out
}

#[test]
fn rules_reference_lists_every_relation_with_its_columns() {
    let path = root().join("docs/rules-reference.md");
    let doc = read(&path);
    // The generated part is exactly what the rules say today (comments included).
    let (Some(start), Some(end)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/rules-reference.md lacks the markers of its generated part");
    };
    let expected = format!("{}\n", generated_reference());
    if doc[start + BEGIN.len()..end] != expected {
        if std::env::var_os("BINDLOG_BLESS").is_some() {
            let fresh = format!("{}{BEGIN}{expected}{}", &doc[..start], &doc[end..]);
            std::fs::write(&path, fresh).unwrap();
            panic!("docs/rules-reference.md rewritten from rules/; run the test again");
        }
        panic!(
            "the generated part of docs/rules-reference.md differs from rules/ (a relation, a \
             column or a comment changed); refresh it with BINDLOG_BLESS=1 cargo test --release \
             --test it docs"
        );
    }
    // Read back independently: every relation of rules/ is listed once with its exact columns,
    // and nothing else is (a hand edit outside the generated part cannot list a stale one).
    let listed = Regex::new(r"(?m)^- `([A-Za-z_][A-Za-z0-9_]*)\(([^)]*)\)`").unwrap();
    let mut in_doc: std::collections::BTreeMap<String, Vec<usize>> = Default::default();
    for m in listed.captures_iter(&doc) {
        let arity = m[2].split(',').filter(|c| !c.trim().is_empty()).count();
        in_doc.entry(m[1].to_string()).or_default().push(arity);
    }
    let mut problems = Vec::new();
    let mut declared = std::collections::BTreeSet::new();
    for file in rule_files() {
        for d in decls(&read(&file)) {
            declared.insert(d.name.clone());
            match in_doc.get(&d.name).map(Vec::as_slice) {
                None => problems.push(format!("missing: {} ({})", d.signature, file.display())),
                Some([a]) if *a == d.arity => {}
                Some(found) => problems.push(format!(
                    "{} has {} columns in rules/; the reference lists it as {found:?}",
                    d.name, d.arity
                )),
            }
        }
    }
    for name in in_doc.keys().filter(|n| !declared.contains(*n)) {
        problems.push(format!("listed but declared nowhere in rules/: {name}"));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        declared.len() > 150,
        "rules/ was not read: {}",
        declared.len()
    );
}

#[test]
fn decls_are_read_with_their_comments() {
    let found = decls(
        "// A header.\n\n// What r means,\n// over two lines.\n.decl r(a: symbol,  b: number)\n\
         .decl s()\nr(\"x\", 1).\n",
    );
    assert_eq!(
        found,
        [
            Decl {
                name: "r".into(),
                signature: "r(a: symbol, b: number)".into(),
                arity: 2,
                comment: "What r means, over two lines.".into(),
            },
            Decl {
                name: "s".into(),
                signature: "s()".into(),
                arity: 0,
                comment: String::new(),
            },
        ]
    );
}

// ---- citations ---------------------------------------------------------------------------

/// The files whose text may cite documents: everything but build output, fixtures of hostile
/// input (their bytes are arbitrary), insta snapshots (they quote program output), data files
/// (the golden cases' `expect.json` excepted: their `about` names a section), and this file,
/// whose tests spell out the citations that must be refused.
fn citing_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    files_under(&root(), &mut files);
    let skip = [
        "tests/fixtures/",
        "tests/it/snapshots/",
        "docs/",
        "tests/it/docs.rs",
    ];
    let text = [".rs", ".dl", ".md", ".toml", ".sh", ".yaml", ".yml"];
    files
        .into_iter()
        .filter(|p| {
            let rel = p
                .strip_prefix(root())
                .unwrap()
                .to_string_lossy()
                .to_string();
            if skip.iter().any(|s| rel.starts_with(s)) {
                return false;
            }
            (rel.starts_with("tests/cases/") && rel.ends_with("/expect.json"))
                || text.iter().any(|e| rel.ends_with(e))
                || rel == ".ci/run"
        })
        .collect()
}

/// The section numbers a document's headings carry (`## 3. ...` gives 3, `### 3.4 ...` 3.4).
fn sections(doc: &str) -> Vec<String> {
    let heading = Regex::new(r"(?m)^#+\s+(\d+(?:\.\d+)*)\.?\s").unwrap();
    heading
        .captures_iter(doc)
        .map(|m| m[1].to_string())
        .collect()
}

/// Problems with the documents `text` (from `file`) cites: a `NAME.md` that is not in the
/// repository, a `§N` without the document it is in, or one the document does not have.
fn citation_problems(file: &Path, text: &str) -> Vec<String> {
    let md = Regex::new(r"([A-Za-z0-9_./-]*[A-Za-z0-9_-]+\.md)\b").unwrap();
    let section = Regex::new(r"§\s?(\d+(?:\.\d+)*)").unwrap();
    let dir = file.parent().unwrap();
    let shown = file
        .strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string();
    let resolve = |name: &str| -> Option<PathBuf> {
        let name = name.trim_start_matches("./");
        [
            dir.join(name),
            root().join(name),
            root().join("docs").join(name),
        ]
        .into_iter()
        .find(|p| p.is_file())
    };
    let mut problems = Vec::new();
    // JSON files write `§` as an escape.
    let text = text.replace("\\u00a7", "§");
    for (n, line) in text.lines().enumerate() {
        for m in md.captures_iter(line) {
            if resolve(&m[1]).is_none() {
                problems.push(format!(
                    "{shown}:{}: cites `{}`, which is not in the repository",
                    n + 1,
                    &m[1]
                ));
            }
        }
        for s in section.captures_iter(line) {
            let at = s.get(0).unwrap().start();
            let Some(doc) = md.captures_iter(&line[..at]).last() else {
                problems.push(format!(
                    "{shown}:{}: cites §{} without naming the document (write docs/semantics.md §{})",
                    n + 1,
                    &s[1],
                    &s[1]
                ));
                continue;
            };
            let Some(path) = resolve(&doc[1]) else {
                continue;
            };
            if !sections(&read(&path)).iter().any(|x| x == &s[1]) {
                problems.push(format!(
                    "{shown}:{}: cites {} §{}, which has no such section",
                    n + 1,
                    &doc[1],
                    &s[1]
                ));
            }
        }
        for phrase in ["the semantics document", "interfaces.md", "shared/docs"] {
            if line.contains(phrase) {
                problems.push(format!(
                    "{shown}:{}: cites `{phrase}`, which is not bindlog's",
                    n + 1
                ));
            }
        }
    }
    problems
}

#[test]
fn every_cited_document_exists_in_the_repository() {
    let files = citing_files();
    assert!(
        files.iter().any(|p| p.ends_with("README.md"))
            && files.iter().any(|p| p.ends_with("flows.dl"))
            && files.iter().any(|p| p.ends_with("expect.json")),
        "the scan misses the README, the rules or the golden cases"
    );
    let problems: Vec<String> = files
        .iter()
        .flat_map(|f| citation_problems(f, &read(f)))
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The documents themselves link only to documents that exist.
    let mut docs = Vec::new();
    files_under(&root().join("docs"), &mut docs);
    let link = Regex::new(r"\]\(([^)#:]+\.md)(#[^)]*)?\)").unwrap();
    for d in docs
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
    {
        for m in link.captures_iter(&read(d)) {
            assert!(
                d.parent().unwrap().join(&m[1]).is_file(),
                "{} links to {}, which does not exist",
                d.display(),
                &m[1]
            );
        }
    }
}

#[test]
fn citation_check_finds_what_it_should() {
    let file = root().join("rules/authentik/flows.dl");
    let bad = citation_problems(
        &file,
        "// see snapshot.md\n// (semantics §2)\n// docs/semantics.md §99\n// the semantics document\n",
    );
    assert_eq!(bad.len(), 4, "{bad:?}");
    let good = citation_problems(
        &file,
        "// docs/semantics.md §2.3 and §10\n// docs/input.md, README.md\n\"about\": \"docs/semantics.md \\u00a73.4\"\n",
    );
    assert!(good.is_empty(), "{good:?}");
}

// ---- README examples ---------------------------------------------------------------------

/// One `$ command` of a ```console block and the output shown under it.
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    expected: Vec<String>,
}

/// The commands of every ```console block of `text`: `$ ` starts a command (a trailing `\`
/// continues it), the lines up to the next `$ ` or the end of the block are its stdout. A line
/// `...` stands for any number of lines.
fn console_examples(text: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    let mut continued = false;
    for (n, line) in text.lines().enumerate() {
        if !in_block {
            in_block = line.trim_end() == "```console";
            continue;
        }
        if line.starts_with("```") {
            in_block = false;
            continue;
        }
        if continued {
            let last = out.last_mut().unwrap();
            last.command.push(' ');
            last.command
                .push_str(line.trim().trim_end_matches('\\').trim_end());
            continued = line.trim_end().ends_with('\\');
        } else if let Some(cmd) = line.strip_prefix("$ ") {
            out.push(Example {
                line: n + 1,
                command: cmd.trim_end().trim_end_matches('\\').trim_end().to_string(),
                expected: Vec::new(),
            });
            continued = line.trim_end().ends_with('\\');
        } else if let Some(last) = out.last_mut() {
            last.expected.push(line.to_string());
        }
    }
    out
}

/// Whether `actual` matches `expected`, where a line `...` matches any run of lines.
fn matches(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((first, rest)) if first == "..." => {
            (0..=actual.len()).any(|skip| matches(rest, &actual[skip..]))
        }
        Some((first, rest)) => {
            actual
                .first()
                .is_some_and(|a| a.trim_end() == first.trim_end())
                && matches(rest, &actual[1..])
        }
    }
}

#[test]
fn readme_console_examples_print_what_they_show() {
    let readme = read(&root().join("README.md"));
    let examples = console_examples(&readme);
    assert!(
        examples.len() >= 6,
        "the README shows fewer console examples than expected: {examples:?}"
    );
    let bin = assert_cmd::cargo::cargo_bin("bindlog");
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut failures = Vec::new();
    for ex in &examples {
        // Through a shell, as a reader would type it, with the built bindlog first on PATH.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&ex.command)
            .current_dir(root())
            .env("PATH", &path)
            .env_remove("BINDLOG_SNAPSHOT")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let actual: Vec<&str> = stdout.lines().collect();
        let mut expected = ex.expected.clone();
        while expected.last().is_some_and(|l| l.trim().is_empty()) {
            expected.pop();
        }
        if !out.status.success() || !matches(&expected, &actual) {
            failures.push(format!(
                "README.md:{}: `{}` (exit {:?}) printed:\n{stdout}{}\nwhere the README shows:\n{}",
                ex.line,
                ex.command,
                out.status.code(),
                String::from_utf8_lossy(&out.stderr),
                expected.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn console_examples_are_read_and_matched_as_shown() {
    let text = "```sh\n$ not this\n```\n```console\n$ bindlog a \\\n    --b c\nout 1\n...\nout 9\n$ bindlog d\n```\n";
    let ex = console_examples(text);
    assert_eq!(ex.len(), 2);
    assert_eq!(ex[0].command, "bindlog a --b c");
    assert_eq!(ex[0].expected, ["out 1", "...", "out 9"]);
    assert!(matches(&ex[0].expected, &["out 1", "x", "y", "out 9"]));
    assert!(matches(&ex[0].expected, &["out 1", "out 9"]));
    assert!(!matches(&ex[0].expected, &["out 1", "out 8"]));
    assert!(!matches(&ex[1].expected, &["extra"]));
}

// ---- the relations Rust reads ------------------------------------------------------------

/// Every relation that Rust code reads by name (`rows("x")`, `find("x", …)`, `has("x", …)`,
/// `names("x")`, `relation("x")`, `rows_matching("x", …)`, `index(model, "x", …)`) is declared
/// in `rules/`: a relation renamed or dropped in the rules would otherwise read as empty and
/// answer quietly wrong. The rules are the specification; Rust only reads and renders them.
/// (Rows read through a typed view, `view::<V>()`, are checked with their columns by
/// `every_view_has_the_columns_of_its_relations_decl`.)
#[test]
fn every_relation_rust_reads_by_name_is_declared_in_rules() {
    let decl = Regex::new(r"(?m)^\.decl\s+([a-z_0-9]+)\(").unwrap();
    let mut files = Vec::new();
    files_under(&root().join("rules"), &mut files);
    let declared: std::collections::BTreeSet<String> = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "dl"))
        .flat_map(|p| {
            decl.captures_iter(&read(p))
                .map(|c| c[1].to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let read_by_name = Regex::new(
        r#"\.(rows|rows_matching|find|has|names|relation)\("([a-z_0-9]+)"|index\([a-z_]+, "([a-z_0-9]+)""#,
    )
    .unwrap();
    let mut sources = Vec::new();
    files_under(&root().join("src"), &mut sources);
    let mut reads = 0;
    let mut missing = Vec::new();
    for p in sources
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        for c in read_by_name.captures_iter(&read(p)) {
            let name = c.get(2).or(c.get(3)).unwrap().as_str();
            reads += 1;
            if !declared.contains(name) {
                missing.push(format!(
                    "{}: {name}",
                    p.strip_prefix(root()).unwrap_or(p).display()
                ));
            }
        }
    }
    assert!(
        reads > 40,
        "only {reads} reads by name found: the pattern no longer matches the code"
    );
    assert!(
        missing.is_empty(),
        "relations read by Rust but declared nowhere in rules/:\n{}",
        missing.join("\n")
    );
}

/// Every typed view of `src/analysis/views.rs` reads a relation declared in `rules/` with the
/// columns it names, in that order: a column added, dropped or moved in a `.decl` would
/// otherwise shift every field of the view and answer quietly wrong.
#[test]
fn every_view_has_the_columns_of_its_relations_decl() {
    let declared = declared_columns();
    let problems = view_problems(bindlog::analysis::views::VIEWS, &declared);
    assert!(
        problems.is_empty(),
        "views that disagree with rules/:\n{}",
        problems.join("\n")
    );
    assert!(bindlog::analysis::views::VIEWS.len() > 50);
}

/// The columns of every relation declared in `rules/`, as the `.decl`s name them.
fn declared_columns() -> std::collections::BTreeMap<String, Vec<String>> {
    let mut declared = std::collections::BTreeMap::new();
    for path in rule_files() {
        for d in decls(&read(&path)) {
            let columns = d
                .signature
                .trim_end_matches(')')
                .split_once('(')
                .map(|(_, cols)| {
                    cols.split(',')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(|c| c.split(':').next().unwrap_or_default().trim().to_string())
                        .collect()
                })
                .unwrap_or_default();
            declared.insert(d.name, columns);
        }
    }
    declared
}

/// Every column Rust reads by its `.decl` name (`names("rel", "col")`, `object("rel", "col", …)`,
/// `column("rel", "col")`, the keys and column of `last_of`, and the keys of `explain`'s
/// `rows_of`/`answer`) is a column of that relation: a column renamed in a `.decl` would
/// otherwise be an error at run time only. (A column moved is found by name wherever it is.)
#[test]
fn every_column_rust_reads_by_name_is_in_its_relations_decl() {
    let declared = declared_columns();
    let one =
        Regex::new(r#"\.(names|object|column)\(\s*"([a-z_0-9]+)",\s*"([a-z_0-9]+)""#).unwrap();
    let keyed = Regex::new(
        r#"(?s)\b(last_of|rows_of|answer|rows_where|tuple)\(\s*"([a-z_0-9]+)",\s*&\[(.*?)\](?:,\s*"([a-z_0-9]+)")?"#,
    )
    .unwrap();
    let key = Regex::new(r#"\(\s*"([a-z_0-9]+)","#).unwrap();
    let mut sources = Vec::new();
    files_under(&root().join("src"), &mut sources);
    let (mut reads, mut wrong) = (0, Vec::new());
    for p in sources
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
    {
        let text = read(p);
        let mut found: Vec<(String, String)> = Vec::new();
        for c in one.captures_iter(&text) {
            found.push((c[2].to_string(), c[3].to_string()));
        }
        for c in keyed.captures_iter(&text) {
            for k in key.captures_iter(&c[3]) {
                found.push((c[2].to_string(), k[1].to_string()));
            }
            if let Some(col) = c.get(4) {
                found.push((c[2].to_string(), col.as_str().to_string()));
            }
        }
        for (rel, col) in found {
            reads += 1;
            if !declared.get(&rel).is_some_and(|cols| cols.contains(&col)) {
                wrong.push(format!(
                    "{}: {rel}.{col}",
                    p.strip_prefix(root()).unwrap_or(p).display()
                ));
            }
        }
    }
    assert!(
        reads > 60,
        "only {reads} columns read by name found: the patterns no longer match the code"
    );
    assert!(
        wrong.is_empty(),
        "columns read by name that their relation's .decl does not have:\n{}",
        wrong.join("\n")
    );
}

/// What is wrong with `views` against the declared columns of each relation.
fn view_problems(
    views: &[(&[&str], &[&str])],
    declared: &std::collections::BTreeMap<String, Vec<String>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (relations, columns) in views {
        for rel in *relations {
            match declared.get(*rel) {
                None => problems.push(format!("{rel}: declared nowhere in rules/")),
                Some(cols)
                    if cols.len() != columns.len()
                        || cols.iter().zip(*columns).any(|(d, v)| *v != "_" && d != v) =>
                {
                    problems.push(format!(
                        "{rel}: the view reads ({}), the .decl has ({})",
                        columns.join(", "),
                        cols.join(", ")
                    ));
                }
                Some(_) => {}
            }
        }
    }
    problems
}

#[test]
fn view_check_finds_a_column_moved_added_or_renamed() {
    let declared: std::collections::BTreeMap<String, Vec<String>> = [(
        "decide".to_string(),
        ["t", "i", "c", "v"].map(String::from).to_vec(),
    )]
    .into();
    let ok: &[(&[&str], &[&str])] = &[(&["decide"], &["t", "_", "c", "v"])];
    assert!(view_problems(ok, &declared).is_empty());
    for wrong in [
        &["t", "c", "i", "v"][..],
        &["t", "i", "c"][..],
        &["t", "i", "c", "v", "w"][..],
    ] {
        let views: &[(&[&str], &[&str])] = &[(&["decide"], wrong)];
        assert_eq!(view_problems(views, &declared).len(), 1, "{wrong:?}");
    }
    let views: &[(&[&str], &[&str])] = &[(&["decides"], &["t", "i", "c", "v"])];
    assert_eq!(view_problems(views, &declared).len(), 1);
}
