//! Diagnostics: byte spans in the tree, file:line:column and carets computed only when printing.

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan};
use std::fmt;
use std::sync::Arc;

/// Index of a source text in a [`Sources`] table.
pub type FileId = u32;

/// A byte range in one source text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The source text the range points into.
    pub file: FileId,
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` in `file`.
    pub fn new(file: FileId, start: usize, end: usize) -> Span {
        Span {
            file,
            start: start as u32,
            end: end as u32,
        }
    }
    /// The smallest span covering both (same file assumed).
    pub fn to(self, other: Span) -> Span {
        Span {
            file: self.file,
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
}

/// One source text: rules, a `.facts` file or a command-line argument.
#[derive(Clone, Debug)]
pub struct Source {
    /// The name shown to the user (a path, or `<command line>`).
    pub name: String,
    /// The whole text.
    pub text: Arc<String>,
    line_starts: Vec<usize>,
}

/// Every source text a run has read, so that spans can be printed as file:line:column.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    files: Vec<Source>,
}

impl Sources {
    /// Adds a text and returns its id.
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> FileId {
        let text: String = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        self.files.push(Source {
            name: name.into(),
            text: Arc::new(text),
            line_starts,
        });
        (self.files.len() - 1) as FileId
    }
    /// The source text with this id.
    pub fn get(&self, id: FileId) -> &Source {
        &self.files[id as usize]
    }
    /// 1-based line and column of a span's start.
    pub fn line_col(&self, span: Span) -> (usize, usize) {
        let src = self.get(span.file);
        let line = src
            .line_starts
            .partition_point(|&s| s <= span.start as usize);
        let col = span.start as usize - src.line_starts[line - 1];
        (line, col + 1)
    }
    /// `file:line` of a span, as rules and proofs are cited.
    pub fn location(&self, span: Span) -> String {
        let (line, _) = self.line_col(span);
        format!("{}:{}", self.get(span.file).name, line)
    }
    /// First byte and end (before the newline) of the line a span starts on.
    pub fn line_bounds(&self, span: Span) -> (usize, usize) {
        let src = self.get(span.file);
        let line = src
            .line_starts
            .partition_point(|&s| s <= span.start as usize);
        let start = src.line_starts[line - 1];
        let end = src
            .line_starts
            .get(line)
            .map_or(src.text.len(), |&next| next - 1);
        (start, end)
    }
    /// Length in bytes of the longest line a span touches, or of the lines around it (which
    /// the graphical renderer shows as context).
    pub fn line_len(&self, span: Span) -> usize {
        let src = self.get(span.file);
        let first = src
            .line_starts
            .partition_point(|&s| s <= span.start as usize);
        let last = src.line_starts.partition_point(|&s| s <= span.end as usize);
        let lines = src.line_starts.len();
        (first.saturating_sub(1).max(1)..=(last.max(first) + 1).min(lines))
            .map(|l| {
                let start = src.line_starts[l - 1];
                let end = src.line_starts.get(l).map_or(src.text.len(), |&n| n - 1);
                end - start
            })
            .max()
            .unwrap_or(0)
    }
    /// The text a span covers.
    pub fn snippet(&self, span: Span) -> &str {
        &self.get(span.file).text[span.start as usize..span.end as usize]
    }
}

/// A label under a source line.
#[derive(Clone, Debug)]
pub struct Label {
    /// Where it points.
    pub span: Span,
    /// What it says there.
    pub text: String,
}

/// One problem found in one phase: a message, labelled places and an optional help.
#[derive(Clone, Debug)]
pub struct Diagnostic {
    /// Lowercase message naming the item in backticks.
    pub message: String,
    /// The places involved; the first is the primary one.
    pub labels: Vec<Label>,
    /// What to do about it.
    pub help: Option<String>,
    /// Whether this is only a warning.
    pub warning: bool,
}

impl Diagnostic {
    /// An error with a primary label.
    pub fn error(message: impl Into<String>, span: Span, label: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            labels: vec![Label {
                span,
                text: label.into(),
            }],
            help: None,
            warning: false,
        }
    }
    /// An error about no particular place.
    pub fn plain(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            message: message.into(),
            labels: vec![],
            help: None,
            warning: false,
        }
    }
    /// Adds a secondary label (e.g. the declaration of the relation used wrongly).
    pub fn with_label(mut self, span: Span, text: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }
    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
    /// Turns the diagnostic into a warning.
    pub fn warn(mut self) -> Diagnostic {
        self.warning = true;
        self
    }
}

/// Diagnostics shown per file; the others are counted in one line.
pub const MAX_PER_FILE: usize = 50;

/// Lines longer than this (in bytes) are shown as a window around the span, never whole.
pub const LONG_LINE: usize = 200;

/// Bytes shown on each side of a span in a long line.
const WINDOW_MARGIN: usize = 40;

/// All the errors of one phase, reported together.
#[derive(Debug, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Renders every diagnostic without colour at the given width, one after the other.
    pub fn render(&self, sources: &Sources, width: usize) -> String {
        let mut out = String::new();
        // In file order, whatever phase found them.
        let mut sorted: Vec<&Diagnostic> = self.0.iter().collect();
        sorted.sort_by_key(|d| d.labels.first().map(|l| (l.span.file, l.span.start)));
        // A flood of errors (20,000 stray characters) prints the first ones of each file only.
        let mut shown: std::collections::BTreeMap<Option<FileId>, (usize, usize)> =
            Default::default();
        for d in sorted {
            let file = d.labels.first().map(|l| l.span.file);
            let (n, hidden) = shown.entry(file).or_default();
            if *n == MAX_PER_FILE {
                *hidden += 1;
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            *n += 1;
            out.push_str(&render_one(d, sources, width));
        }
        for (file, (_, hidden)) in shown {
            if hidden > 0 {
                let name = file.map_or("the command line".to_string(), |f| {
                    format!("`{}`", sources.get(f).name)
                });
                out.push_str(&format!(
                    "\nand {hidden} more error{} in {name}, not shown (at most {MAX_PER_FILE} per file)\n",
                    if hidden == 1 { "" } else { "s" }
                ));
            }
        }
        let errors = self.0.iter().filter(|d| !d.warning).count();
        if errors > 1 {
            out.push_str(&format!("error: {errors} errors\n"));
        }
        out
    }
    /// Whether any of them is an error (not just a warning).
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|d| !d.warning)
    }
}

struct Rendered<'a> {
    diag: &'a Diagnostic,
    source: Option<NamedSource<Arc<String>>>,
    labels: Vec<LabeledSpan>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl fmt::Display for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.diag.message)
    }
}
impl std::error::Error for Rendered<'_> {}
impl miette::Diagnostic for Rendered<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        Some(if self.diag.warning {
            miette::Severity::Warning
        } else {
            miette::Severity::Error
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diag
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.source.as_ref().map(|s| s as &dyn miette::SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.labels.is_empty() {
            None
        } else {
            Some(Box::new(self.labels.iter().cloned()))
        }
    }
}

/// Renders one diagnostic; labels in other files than the primary one become `note:` lines.
fn render_one(d: &Diagnostic, sources: &Sources, width: usize) -> String {
    if d.labels
        .iter()
        .any(|l| sources.line_len(l.span) > LONG_LINE)
    {
        return render_windowed(d, sources, width);
    }
    let primary = d.labels.first().map(|l| l.span.file);
    let mut notes = String::new();
    let mut labels = Vec::new();
    for (i, l) in d.labels.iter().enumerate() {
        if Some(l.span.file) == primary {
            let span = SourceSpan::new(
                (l.span.start as usize).into(),
                (l.span.end - l.span.start) as usize,
            );
            labels.push(if i == 0 {
                LabeledSpan::new_primary_with_span(Some(l.text.clone()), span)
            } else {
                LabeledSpan::new_with_span(Some(l.text.clone()), span)
            });
        } else {
            let (line, col) = sources.line_col(l.span);
            notes.push_str(&format!(
                "  note: {} ({}:{}:{})\n",
                l.text,
                sources.get(l.span.file).name,
                line,
                col
            ));
        }
    }
    let source = primary.map(|f| {
        let s = sources.get(f);
        NamedSource::new(s.name.clone(), s.text.clone())
    });
    let r = Rendered {
        diag: d,
        source,
        labels,
    };
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(width)
        .with_links(false);
    let mut out = String::new();
    let _ = handler.render_report(&mut out, &r);
    out.push_str(&notes);
    out
}

/// Renders a diagnostic that points into a long line: the message and help as usual, then each
/// label as its location and a window of at most a few dozen characters around its span,
/// saying so. Neither a long line nor a column past what the graphical renderer handles
/// (miette panics past column 65,535) reaches miette.
fn render_windowed(d: &Diagnostic, sources: &Sources, width: usize) -> String {
    let bare = Diagnostic {
        labels: Vec::new(),
        ..d.clone()
    };
    let mut out = render_one(&bare, sources, width);
    // miette ends with the help; the windows go between the message and a trailing blank line.
    while out.ends_with('\n') {
        out.pop();
    }
    out.push('\n');
    for l in &d.labels {
        out.push_str(&window(sources, l));
    }
    out
}

/// A label as `file:line:column` and, below, a bounded window of its line with carets.
fn window(sources: &Sources, label: &Label) -> String {
    let (line, col) = sources.line_col(label.span);
    let src = sources.get(label.span.file);
    let text = src.text.as_str();
    let (line_start, line_end) = sources.line_bounds(label.span);
    let start = (label.span.start as usize).clamp(line_start, line_end);
    // A span running past its line, or very long, is shown up to a margin's worth.
    let end = (label.span.end as usize).clamp(start, line_end.min(start + WINDOW_MARGIN));
    let from = floor_char(text, start.saturating_sub(WINDOW_MARGIN).max(line_start));
    let to = ceil_char(text, (end + WINDOW_MARGIN).min(line_end));
    let shown = |s: &str| -> String {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let before = format!(
        "{}{}",
        if from > line_start { "…" } else { "" },
        shown(&text[from..start])
    );
    let marked = shown(&text[start..end]);
    let mut out = format!(
        "  at {}:{line}:{col}: {} (line {line} is {} bytes long; showing bytes {}..{} of it)\n",
        src.name,
        label.text,
        line_end - line_start,
        from - line_start,
        to - line_start,
    );
    out.push_str(&format!(
        "    {before}{marked}{}{}\n",
        shown(&text[end..to]),
        if to < line_end { "…" } else { "" }
    ));
    out.push_str(&format!(
        "    {}{}\n",
        " ".repeat(before.chars().count()),
        "^".repeat(marked.chars().count().max(1))
    ));
    out
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}
