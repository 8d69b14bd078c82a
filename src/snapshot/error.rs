//! What can be wrong with a snapshot, where, and what bindlog assumed or could not resolve.

use miette::Diagnostic;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use thiserror::Error;

/// Where something is in the input: a JSON pointer in a file, or a line and column.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Loc {
    /// A JSON file and a JSON pointer inside it (`""` is the whole document).
    Pointer {
        /// The file.
        file: Arc<str>,
        /// RFC 6901 pointer.
        pointer: String,
    },
    /// A text position (1-based line and column).
    Line {
        /// The file.
        file: Arc<str>,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        col: usize,
    },
    /// A whole file.
    File(Arc<str>),
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Pointer { file, pointer } => write!(f, "{file}#{pointer}"),
            Loc::Line { file, line, col } => write!(f, "{file}:{line}:{col}"),
            Loc::File(file) => f.write_str(file),
        }
    }
}

/// Escapes one JSON pointer segment (`~` and `/`).
pub fn pointer_segment(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// One problem that makes a snapshot unusable.
#[derive(Debug, Error, Diagnostic)]
pub enum SnapshotError {
    /// The file or directory cannot be read.
    #[error("cannot read `{path}`: {source}")]
    #[diagnostic(
        code(bindlog::snapshot::io),
        help("check the path and its permissions")
    )]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A directory that holds JSON files but no endpoint dump: not a snapshot itself.
    #[error(
        "`{path}` is not a snapshot: it holds no endpoint dump (such as `core/users.json`) and no `meta.json`"
    )]
    #[diagnostic(code(bindlog::snapshot::not_a_snapshot), help("{help}"))]
    NotASnapshot {
        /// The directory.
        path: String,
        /// What to give instead (the snapshots found below it, if any).
        help: String,
    },
    /// Not JSON / not YAML.
    #[error("{loc}: `{file}` is not valid {format}: {message}")]
    #[diagnostic(
        code(bindlog::snapshot::syntax),
        help("the file must be {format} as authentik's API or blueprint export produces it")
    )]
    Syntax {
        /// Where.
        loc: Loc,
        /// The file name.
        file: String,
        /// `JSON` or `YAML`.
        format: &'static str,
        /// The parser's message.
        message: String,
    },
    /// A required endpoint is absent from a bundle or directory.
    #[error("{loc}: required endpoint `{endpoint}` is missing")]
    #[diagnostic(
        code(bindlog::snapshot::missing_endpoint),
        help(
            "fetch `/api/v3/{endpoint}/` (e.g. with `bindlog fetch`) and add it as key `{endpoint}` or file `{endpoint}.json`"
        )
    )]
    MissingEndpoint {
        /// The snapshot.
        loc: Loc,
        /// The endpoint path.
        endpoint: &'static str,
    },
    /// A value of the wrong type or shape, a missing field, or an unknown enum value.
    #[error("{loc}: {what}")]
    #[diagnostic(code(bindlog::snapshot::shape), help("{expected}"))]
    Shape {
        /// Where.
        loc: Loc,
        /// What is wrong.
        what: String,
        /// What was expected.
        expected: String,
    },
    /// Two objects of one endpoint share a pk.
    #[error("{loc}: duplicate pk `{pk}` in `{endpoint}` (first at {first})")]
    #[diagnostic(
        code(bindlog::snapshot::duplicate_pk),
        help("each object of an endpoint needs its own `pk`; remove or renumber one of them")
    )]
    DuplicatePk {
        /// The second occurrence.
        loc: Loc,
        /// The endpoint.
        endpoint: &'static str,
        /// The pk.
        pk: String,
        /// The first occurrence.
        first: Loc,
    },
    /// A reference to an object that is not in the snapshot.
    #[error("{loc}: `{field}` refers to {kind} `{pk}`, which is not in the snapshot")]
    #[diagnostic(
        code(bindlog::snapshot::dangling),
        help("expected the pk of an object in `{endpoint}`; add it or remove the reference")
    )]
    Dangling {
        /// The reference.
        loc: Loc,
        /// The referring field.
        field: &'static str,
        /// The kind referred to.
        kind: &'static str,
        /// The endpoint that should hold it.
        endpoint: &'static str,
        /// The missing pk.
        pk: String,
    },
    /// A blueprint that authentik itself would refuse.
    #[error("{loc}: {what}")]
    #[diagnostic(code(bindlog::snapshot::blueprint), help("{help}"))]
    Blueprint {
        /// Where.
        loc: Loc,
        /// What is wrong.
        what: String,
        /// How to fix it.
        help: String,
    },
}

/// Every problem found in one phase, reported together.
#[derive(Debug, Error, Diagnostic)]
#[error("the snapshot has {} problem{}", problems.len(), if problems.len() == 1 { "" } else { "s" })]
#[diagnostic(
    code(bindlog::snapshot::invalid),
    help("fix the problems listed; nothing was loaded")
)]
pub struct SnapshotErrors {
    /// The problems, in input order.
    #[related]
    pub problems: Vec<SnapshotError>,
}

/// Something bindlog could not resolve or that looks wrong, but that does not stop loading.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Warning {
    /// Where.
    pub loc: Loc,
    /// What (lowercase, items in backticks).
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)
    }
}

/// What loading assumed and noticed: defaults filled in, warnings (unresolved tags, orphans).
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// `(endpoint, field, assumed value, why)` -> how many objects took that default.
    pub defaults: BTreeMap<(String, String, String, String), usize>,
    /// Warnings in the order found.
    pub warnings: Vec<Warning>,
    /// The files read, in order.
    pub files: Vec<String>,
}

impl LoadReport {
    /// Records that `count` objects of `endpoint` took `value` for the absent `field`.
    pub fn assumed(
        &mut self,
        endpoint: &str,
        field: &str,
        value: impl fmt::Display,
        why: &str,
        count: usize,
    ) {
        if count == 0 {
            return;
        }
        *self
            .defaults
            .entry((
                endpoint.to_string(),
                field.to_string(),
                value.to_string(),
                why.to_string(),
            ))
            .or_default() += count;
    }

    /// Records a warning.
    pub fn warn(&mut self, loc: Loc, message: impl Into<String>) {
        self.warnings.push(Warning {
            loc,
            message: message.into(),
        });
    }
}
