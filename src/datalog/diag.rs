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
        for (i, d) in sorted.into_iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&render_one(d, sources, width));
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
