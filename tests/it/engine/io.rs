//! Issue 18: `.facts` in and `.csv` out, read and written without an allocation per field or
//! per row. What the faster reader and writer must keep: every symbol round-trips, and rows
//! are listed by meaning (numbers numerically, symbols by their text).

use crate::bindlog;

/// A symbol as one tab-separated field, quoted as RFC 4180 does where needed.
fn field(s: &str) -> String {
    if s.starts_with('"') || s.contains(['\t', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Thousands of symbols, among them the awkward ones, each with a number (negative ones too).
fn rows() -> Vec<(i32, String)> {
    let odd = [
        "",
        "tab\there",
        "line\nbreak",
        "\"quoted\" at the start",
        "a \"quote\" inside",
        "cr\r",
        "comma, and space",
        "é accent",
        "\u{1F600} emoji",
        "\"",
        "\t",
    ];
    let mut rows = Vec::new();
    for i in 0..4000u32 {
        let n = (i.wrapping_mul(7919) % 97) as i32 - 40;
        let s = if i % 10 == 0 {
            format!("{}{}", odd[(i / 10) as usize % odd.len()], i % 7)
        } else {
            format!("sym-{}", i.wrapping_mul(2_654_435_761) % 5000)
        };
        rows.push((n, s));
    }
    rows
}

/// Runs `bindlog eval` of `program` over `e.facts` holding `facts`, writing to standard
/// output; its exit status and what it said on standard error.
fn eval_stdout(program: &str, facts: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.dl"), program).unwrap();
    std::fs::write(dir.path().join("e.facts"), facts).unwrap();
    let d = dir.path().to_str().unwrap();
    let p = dir.path().join("p.dl");
    let out = bindlog(&["eval", p.to_str().unwrap(), "-F", d, "-D", "-"]);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `bindlog eval` of `program` over `e.facts` holding `facts`, in a new directory; the
/// directory (kept while the result lives) and the output directory in it.
fn eval_dir(program: &str, facts: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.dl"), program).unwrap();
    std::fs::write(dir.path().join("e.facts"), facts).unwrap();
    let out = dir.path().join("out");
    let o = bindlog(&[
        "eval",
        &dir.path().join("p.dl").display().to_string(),
        "-F",
        &dir.path().display().to_string(),
        "-D",
        &out.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (dir, out)
}

#[test]
fn issue_18_3_symbols_round_trip_and_are_listed_by_text() {
    let rows = rows();
    let facts: String = rows
        .iter()
        .map(|(n, s)| format!("{n}\t{}\n", field(s)))
        .collect();
    let program = ".decl e(n: number, s: symbol)\n.input e\n.decl out(n: number, s: symbol)\n\
                   .output out\nout(n, s) :- e(n, s).\n\
                   .decl few(s: symbol, n: number)\n.output few\nfew(s, n) :- e(n, s), n < -38.\n";
    let (dir, out) = eval_dir(program, &facts);

    // `out` holds nearly every symbol, `few` a handful of them: both listed by meaning.
    let mut expected = rows.clone();
    expected.sort();
    expected.dedup();
    let text: String = expected
        .iter()
        .map(|(n, s)| format!("{n}\t{}\n", field(s)))
        .collect();
    assert_eq!(std::fs::read_to_string(out.join("out.csv")).unwrap(), text);
    let mut few: Vec<(String, i32)> = expected
        .iter()
        .filter(|(n, _)| *n < -38)
        .map(|(n, s)| (s.clone(), *n))
        .collect();
    few.sort();
    assert!(few.len() > 10, "the test needs a few rows in `few`");
    let text: String = few
        .iter()
        .map(|(s, n)| format!("{}\t{n}\n", field(s)))
        .collect();
    assert_eq!(std::fs::read_to_string(out.join("few.csv")).unwrap(), text);

    // What was written reads back as the same rows: written again, the same bytes.
    std::fs::rename(out.join("out.csv"), dir.path().join("e.facts")).unwrap();
    let again = dir.path().join("again");
    let o = bindlog(&[
        "eval",
        &dir.path().join("p.dl").display().to_string(),
        "-F",
        &dir.path().display().to_string(),
        "-D",
        &again.display().to_string(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(again.join("out.csv")).unwrap(),
        std::fs::read_to_string(dir.path().join("e.facts")).unwrap()
    );
}

/// A file of numbers only is read in one pass over its bytes; anything that pass does not know
/// (a carriage return, a quote, hexadecimal, ten digits, a value out of range, a short line)
/// sends the rest of the file to the general reader, with the same rows or the same diagnostic.
#[test]
fn issue_18_3_number_files_read_fast_or_by_the_general_reader_alike() {
    let p = ".decl e(x: number, y: unsigned) .input e .output e";
    let cases: [(&str, &[&str]); 7] = [
        ("1\t2\n\n-3\t4\n5\t6", &["-3\t4", "1\t2", "5\t6"]),
        ("1\t2\r\n-3\t4\r\n", &["-3\t4", "1\t2"]),
        ("1\t0x10\n", &["1\t16"]),
        ("\"7\"\t8\n", &["7\t8"]),
        ("1234567890\t1\n", &["1234567890\t1"]),
        ("-2147483648\t4294967295\n", &["-2147483648\t4294967295"]),
        ("", &[]),
    ];
    for (text, rows) in cases {
        assert_eq!(
            super::eval_rel(p, &[("e", text)], "e"),
            rows.to_vec(),
            "{text:?}"
        );
    }
    for bad in ["1\t-2\n", "1\n", "1\t2\t3\n", "1\t2\n3\t\n"] {
        let (code, stderr) = eval_stdout(p, bad);
        assert_eq!(code, Some(2), "{bad:?}: {stderr}");
        assert!(
            stderr.contains("malformed fact of `e`"),
            "{bad:?}: {stderr}"
        );
    }
}

/// Plain rows of symbols are read in one pass and the general reader reads on from the first
/// row that pass does not know: a malformed row after them is reported at its own line and
/// column, and a quoted symbol after them is read as the general reader reads it.
#[test]
fn issue_18_3_symbol_files_hand_over_to_the_general_reader_where_they_stop_being_plain() {
    let p = ".decl e(s: symbol, n: number) .input e .output e";
    let rows = super::eval_rel(p, &[("e", "b\t1\n\na\t2\n\"q\t\"\"\"\t3\nc\t4")], "e");
    assert_eq!(rows, ["a\t2", "b\t1", "c\t4", "q\t\"\t3"]);
    let (code, stderr) = eval_stdout(p, "a\t1\nb\t2\n\nc\tx\n");
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("e.facts:4:3: column 2"), "{stderr}");
}

/// A large file sorted by its first column, the rows of one number in no order, with symbols
/// that share a long prefix, many of them the same for eight bytes after it, one a prefix of
/// others, some with a NUL byte: read and written by the paths large tables take (rows sorted
/// run by run, symbols ranked by a key after their shared prefix, output formatted by several
/// threads), listed by meaning as the standard library orders the rows.
#[test]
fn issue_18_3_large_sorted_files_with_shared_prefixes_are_listed_by_text() {
    let prefix = "https://example.org/users/";
    let tails = [
        "",
        "\0",
        "a\0b",
        "abcdefgh",
        "abcdefgh\0",
        "abcdefghij",
        "é",
        "z",
    ];
    let mut rows: Vec<(i32, String)> = (0..150_000u32)
        .map(|i| {
            let k = i.wrapping_mul(2_654_435_761) % 150_000;
            let tail = tails[(k % tails.len() as u32) as usize];
            let s = if k % 5 == 0 {
                format!("{prefix}{tail}")
            } else {
                format!("{prefix}{tail}{k}")
            };
            (i as i32 / 3, s)
        })
        .collect();
    // Enough distinct symbols and rows for the paths of large tables.
    let distinct: std::collections::BTreeSet<&str> = rows.iter().map(|(_, s)| s.as_str()).collect();
    assert!(distinct.len() > 100_000 && rows.len() > 100_000);
    let facts: String = rows.iter().map(|(n, s)| format!("{n}\t{s}\n")).collect();
    let program = ".decl e(n: number, s: symbol)\n.input e\n.decl out(n: number, s: symbol)\n\
                   .output out\nout(n, s) :- e(n, s).\n\
                   .decl by_s(s: symbol, n: number)\n.output by_s\nby_s(s, n) :- e(n, s).\n";
    let (_dir, out) = eval_dir(program, &facts);
    rows.sort();
    rows.dedup();
    let text: String = rows.iter().map(|(n, s)| format!("{n}\t{s}\n")).collect();
    assert_eq!(std::fs::read_to_string(out.join("out.csv")).unwrap(), text);
    let mut by_s: Vec<(&str, i32)> = rows.iter().map(|(n, s)| (s.as_str(), *n)).collect();
    by_s.sort();
    let text: String = by_s.iter().map(|(s, n)| format!("{s}\t{n}\n")).collect();
    assert_eq!(std::fs::read_to_string(out.join("by_s.csv")).unwrap(), text);
}

/// A file large enough to be read by two threads gives the rows and, past its plain rows, the
/// diagnostics of the general reader at the same line and column.
#[test]
fn issue_18_3_large_files_read_by_two_threads_keep_their_places() {
    let rows = 300_000;
    let mut facts: String = (0..rows)
        .map(|i| format!("{i}\tsym-{}\n", i % 1000))
        .collect();
    assert!(facts.len() > 1 << 22, "the test needs a file of 4 MiB");
    facts.push_str("7\t\"quoted\tsymbol\"\n\nx\ty\n");
    let p = ".decl e(n: number, s: symbol) .input e .output e";
    let (code, stderr) = eval_stdout(p, &facts);
    assert_eq!(code, Some(2), "{stderr}");
    let place = format!("e.facts:{}:1: column 1 (`n`) expects a number", rows + 3);
    assert!(stderr.contains(&place), "no `{place}` in {stderr}");
    // Without the bad line: every row, the quoted one among them.
    facts.truncate(facts.len() - "\nx\ty\n".len());
    let (_dir, out) = eval_dir(p, &facts);
    let written = std::fs::read_to_string(out.join("e.csv")).unwrap();
    assert_eq!(written.lines().count(), rows + 1);
    assert!(written.starts_with("0\tsym-0\n1\tsym-1\n"));
    assert!(written.contains("\n6\tsym-6\n7\t\"quoted\tsymbol\"\n7\tsym-7\n8\tsym-8\n"));
}

/// A file of numbers alone, large enough to be read in two halves at once, gives every row and,
/// where a row in another form stops the plain reading in either half (a CRLF line, which the
/// general reader takes), the general reader's rows and diagnostics at the same line.
#[test]
fn issue_18_3_number_files_read_in_two_halves_keep_their_places() {
    let rows = 500_000;
    let plain: Vec<String> = (0..rows).map(|i| format!("{i}\t{}\n", i * 3)).collect();
    assert!(
        plain.concat().len() > 1 << 22,
        "the test needs a file of 4 MiB"
    );
    let p = ".decl e(a: number, b: number) .input e .decl n(c: number) .output n\n\
             n(c) :- e(_, c).";
    // Each variant: the line replaced (0-based) and its new text; the expected third columns.
    for (at, line) in [
        (None, String::new()),
        (Some(10), "10\t30\r\n".to_string()),
        (
            Some(rows - 10),
            format!("{}\t{}\r\n", rows - 10, (rows - 10) * 3),
        ),
        (
            Some(rows / 2),
            format!("{}\t{}\r\n", rows / 2, rows / 2 * 3),
        ),
    ] {
        let mut lines = plain.clone();
        if let Some(at) = at {
            lines[at] = line;
        }
        let (_dir, out) = eval_dir(p, &lines.concat());
        let written = std::fs::read_to_string(out.join("n.csv")).unwrap();
        let mut expected: Vec<u64> = (0..rows as u64).map(|i| i * 3).collect();
        expected.sort_unstable();
        let got: Vec<u64> = written.lines().map(|l| l.parse().unwrap()).collect();
        assert_eq!(got, expected, "variant {at:?}");
    }
    // Text that is not a number, in characters of several bytes around the middle of the file
    // (where it is split), is told as such, not a panic.
    let mut lines = plain.clone();
    let mut facts = lines.concat();
    // The line holding the middle byte, and a few around it, become two-byte characters; the
    // first line is padded until the middle falls inside one.
    let middle_line = facts[..facts.len() / 2].matches('\n').count();
    for line in &mut lines[middle_line - 3..middle_line + 3] {
        *line = format!("{}\n", "é".repeat(40));
    }
    for pad in 0..4 {
        lines[0] = format!("{}0\t0\n", "0".repeat(pad));
        facts = lines.concat();
        if !facts.is_char_boundary(facts.len() / 2) {
            break;
        }
    }
    assert!(
        !facts.is_char_boundary(facts.len() / 2),
        "the middle is inside a character"
    );
    let (code, stderr) = eval_stdout(p, &facts);
    assert_eq!(code, Some(2), "{stderr}");
    let place = format!("e.facts:{}:1: expected 2 columns", middle_line - 2);
    assert!(stderr.contains(&place), "no `{place}` in {stderr}");
    // A bad row in the second half is told at its line.
    let mut lines = plain.clone();
    lines[rows - 5] = "x\t1\n".into();
    let (code, stderr) = eval_stdout(p, &lines.concat());
    assert_eq!(code, Some(2), "{stderr}");
    let place = format!("e.facts:{}:1: column 1 (`a`) expects a number", rows - 4);
    assert!(stderr.contains(&place), "no `{place}` in {stderr}");
}
