//! Soufflé's file conventions: tab-separated `.facts` in, `.csv` out (or stdout).
//!
//! Fields are quoted as RFC 4180 does (Soufflé's `rfc4180=true`), but only where needed: a
//! symbol holding the delimiter, a line break or a leading `"` is written `"..."` with each `"`
//! doubled, and a field starting with `"` is read back that way, so every symbol survives a
//! round trip. Soufflé without `rfc4180=true` writes such symbols unquoted, which splits the
//! row; any other symbol is written byte for byte as Soufflé writes it.
//!
//! `filename=` of `.input` and `.output` stays inside the facts and output directories unless
//! [`PathPolicy::Any`] is given: rules are shared, and must not read or write elsewhere.

use crate::datalog::diag::Diagnostic;
use crate::datalog::eval::{Table, sort_packed, sort_rows};
use crate::datalog::ir::{Program, RelId, Ty};
use crate::datalog::value::{Interner, hash_of, in_range, parse_number};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Where an input tuple came from, for proofs: file and 1-based line.
pub type Origin = (String, usize);

/// Input tables read from files, with each row's origin (when asked for).
pub struct Loaded {
    /// One table per relation (empty for relations that are not `.input`).
    pub tables: Vec<Table>,
    /// Per relation, each row's origin, in file order (only when origins were requested).
    pub origins: Vec<Vec<(Vec<u32>, Origin)>>,
}

fn delimiter(params: &std::collections::BTreeMap<String, String>) -> String {
    params
        .get("delimiter")
        .cloned()
        .unwrap_or_else(|| "\t".to_string())
}

/// Where `filename=` of `.input` and `.output` may point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PathPolicy {
    /// Inside the facts (`-F`) or output (`-D`) directory only, after resolving `..` and
    /// symbolic links.
    #[default]
    Confined,
    /// Anywhere (Soufflé's behaviour; `--allow-any-path`).
    Any,
}

/// The file an `.input` relation reads (not checked against a [`PathPolicy`]).
pub fn input_path(prog: &Program, rel: RelId, fact_dir: &Path) -> PathBuf {
    let r = &prog.relations[rel];
    let name = r
        .input
        .as_ref()
        .and_then(|s| s.params.get("filename").cloned())
        .unwrap_or_else(|| format!("{}.facts", r.name));
    fact_dir.join(name)
}

/// `dir/name` when the policy allows it: with [`PathPolicy::Confined`], the path (`..`
/// resolved, then symbolic links, as far as it exists) must stay inside `dir`, and the path
/// returned has its `..` resolved.
pub fn confined(dir: &Path, name: &str, policy: PathPolicy) -> Result<PathBuf, String> {
    let path = dir.join(name);
    if policy == PathPolicy::Any {
        return Ok(path);
    }
    let outside = || {
        format!(
            "`filename=\"{name}\"` is outside `{}`; rules may only name files in that directory \
             (`--allow-any-path` lifts this)",
            dir.display()
        )
    };
    let absolute = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let base = normalise(&absolute(dir));
    if !normalise(&absolute(&path)).starts_with(&base) {
        return Err(outside());
    }
    // Symbolic links: the longest part of the path that exists, resolved, must stay inside the
    // resolved directory.
    let real_base = std::fs::canonicalize(dir).unwrap_or(base);
    let mut existing = normalise(&absolute(&path));
    loop {
        if let Ok(real) = std::fs::canonicalize(&existing) {
            if !real.starts_with(&real_base) {
                return Err(outside());
            }
            break;
        }
        if !existing.pop() {
            break;
        }
    }
    Ok(normalise(&absolute(&path)))
}

/// A path with `.` and `..` resolved by its text alone.
fn normalise(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Whether a symbol must be quoted to be one field: it holds the delimiter or a line break,
/// or starts with `"`.
fn needs_quotes(s: &str, delim: &str) -> bool {
    let bytes = s.as_bytes();
    match delim.as_bytes() {
        [d] => {
            bytes.first() == Some(&b'"')
                || bytes.iter().any(|&b| b == b'\n' || b == b'\r' || b == *d)
        }
        _ => {
            s.starts_with('"')
                || s.contains(['\n', '\r'])
                || (!delim.is_empty() && s.contains(delim))
        }
    }
}

/// A symbol as one field: quoted (RFC 4180) when it holds the delimiter, a line break or a
/// leading `"`, as it is otherwise.
pub fn quote_field<'s>(s: &'s str, delim: &str) -> std::borrow::Cow<'s, str> {
    if needs_quotes(s, delim) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// Appends a symbol as one field ([`quote_field`]) to `buf`.
fn push_field(buf: &mut Vec<u8>, s: &str, delim: &str) {
    if needs_quotes(s, delim) {
        buf.extend_from_slice(quote_field(s, delim).as_bytes());
    } else {
        buf.extend_from_slice(s.as_bytes());
    }
}

/// A field of a facts file and its byte offset: borrowed from the text unless it was quoted.
type Field<'t> = (std::borrow::Cow<'t, str>, usize);

/// Where one record of a facts file ends (its fields are left in a buffer the caller reuses).
struct Record {
    /// Offset of the line break that ends it (or the end of the text).
    end: usize,
    /// Line breaks inside quoted fields.
    inner_lines: usize,
    /// A quoted field that is not closed, or text after a closing quote: where, and what.
    error: Option<(usize, &'static str)>,
}

/// Where `delim` first occurs in `hay`: a one-character delimiter (the usual tab) is searched
/// for as a character, which is far faster than as a string.
fn find_delim(hay: &str, delim: &str) -> Option<usize> {
    let mut chars = delim.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => hay.find(c),
        _ => hay.find(delim),
    }
}

/// Reads the record starting at `pos` into `fields` (cleared first).
fn record<'t>(text: &'t str, pos: usize, delim: &str, fields: &mut Vec<Field<'t>>) -> Record {
    fields.clear();
    let mut at = pos;
    // The end of the line the unquoted fields are on (found again after a quoted field, which
    // may span lines).
    let mut line_end: Option<usize> = None;
    let mut inner_lines = 0;
    loop {
        let rest = &text[at..];
        if let Some(body) = rest.strip_prefix('"') {
            // A quoted field: `""` is a quote; it may hold delimiters and line breaks.
            let mut value = String::new();
            let mut i = 0;
            let closed = loop {
                match body[i..].find('"') {
                    None => break None,
                    Some(q) => {
                        value.push_str(&body[i..i + q]);
                        if body[i + q + 1..].starts_with('"') {
                            value.push('"');
                            i += q + 2;
                        } else {
                            break Some(i + q + 1);
                        }
                    }
                }
            };
            let Some(close) = closed else {
                let end = text.len();
                return Record {
                    end,
                    inner_lines: text[at..end].matches('\n').count(),
                    error: Some((at, "a quoted field is not closed")),
                };
            };
            inner_lines += value.matches('\n').count();
            fields.push((value.into(), at));
            at += 1 + close;
            line_end = None;
            let after = &text[at..];
            if !delim.is_empty() && after.starts_with(delim) {
                at += delim.len();
                continue;
            }
            let after = after.strip_prefix('\r').unwrap_or(after);
            if after.is_empty() || after.starts_with('\n') {
                let end = text.len() - after.len();
                return Record {
                    end,
                    inner_lines,
                    error: None,
                };
            }
            let end = at + after.find('\n').unwrap_or(after.len());
            return Record {
                end,
                inner_lines,
                error: Some((at, "text follows a closing quote")),
            };
        }
        let (field_end, end_here) = match delim.as_bytes() {
            // One byte (the usual tab): the field ends at it or at the line break, whichever
            // comes first, found in one pass over the field's bytes.
            [d] if *d != b'\n' => {
                let bytes = text.as_bytes();
                let stop = bytes[at..]
                    .iter()
                    .position(|&b| b == *d || b == b'\n')
                    .map_or(text.len(), |n| at + n);
                if stop < text.len() && bytes[stop] == *d {
                    (Some(stop), text.len())
                } else {
                    (None, stop)
                }
            }
            _ => {
                let line_end =
                    *line_end.get_or_insert_with(|| rest.find('\n').map_or(text.len(), |n| at + n));
                let field_end = if delim.is_empty() {
                    None
                } else {
                    find_delim(&text[at..line_end], delim).map(|n| at + n)
                };
                (field_end, line_end)
            }
        };
        match field_end {
            Some(e) => {
                fields.push((text[at..e].into(), at));
                at = e + delim.len();
            }
            None => {
                let line_end = end_here;
                let field = &text[at..line_end];
                fields.push((field.strip_suffix('\r').unwrap_or(field).into(), at));
                return Record {
                    end: line_end,
                    inner_lines,
                    error: None,
                };
            }
        }
    }
}

/// Reads every `.input` relation from `fact_dir`. All problems are collected; each points at
/// the relation's declaration and gives the file's line and column, never its text.
pub fn read_inputs(
    prog: &Program,
    fact_dir: &Path,
    symbols: &mut Interner,
    with_origins: bool,
    policy: PathPolicy,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let mut tables: Vec<Table> = prog
        .relations
        .iter()
        .map(|r| Table::new(r.arity()))
        .collect();
    let mut origins = vec![Vec::new(); prog.relations.len()];
    for (rel, r) in prog.relations.iter().enumerate() {
        let Some(spec) = &r.input else { continue };
        let name = spec
            .params
            .get("filename")
            .cloned()
            .unwrap_or_else(|| format!("{}.facts", r.name));
        let path = match confined(fact_dir, &name, policy) {
            Ok(p) => p,
            Err(why) => {
                errors.push(
                    Diagnostic::error(
                        format!("the facts of `{}` cannot be read: {why}", r.name),
                        spec.span,
                        "input declared here",
                    )
                    .with_help("put the file in the facts directory given with `-F DIR`"),
                );
                continue;
            }
        };
        // Proofs name the file as the user gave its directory (`-F examples/datalog`), not the
        // absolute path it was checked and read under.
        let shown = fact_dir.join(&name).display().to_string();
        // Only the error's kind: a message must not quote what the file holds.
        let text = match std::fs::read(&path).and_then(|b| {
            String::from_utf8(b).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "it is not UTF-8 text")
            })
        }) {
            Ok(t) => t,
            Err(e) => {
                errors.push(
                    Diagnostic::error(
                        format!(
                            "cannot read the facts of `{}` from `{}`: {e}",
                            r.name,
                            path.display()
                        ),
                        spec.span,
                        "input declared here",
                    )
                    .with_help("pass the directory holding the `.facts` files with `-F DIR`"),
                );
                continue;
            }
        };
        let delim = delimiter(&spec.params);
        // `headers=true`: the first line names the columns and is skipped, as Soufflé does.
        let skip = usize::from(spec.params.get("headers").is_some_and(|v| v == "true"));
        // Errors name the place and what was expected, never the text found: the file may
        // be one the rules' author wanted to see (with `--allow-any-path`).
        let mut file_errors: Vec<(usize, String)> = Vec::new();
        let (mut pos, mut line) = (0, 0);
        // Room for a row per line at once: grown by doubling, the table of a large file
        // would take up to twice its size, and more while it is copied to grow.
        let lines = text.bytes().filter(|&b| b == b'\n').count() + 1;
        tables[rel].data.reserve_exact(lines * r.arity());
        if skip == 0 && !with_origins && delim == "\t" && r.arity() > 0 {
            (pos, line) = plain_rows(&text, &r.types, symbols, &mut tables[rel]);
        }
        let mut fields: Vec<Field> = Vec::with_capacity(r.arity());
        let mut row: Vec<u32> = Vec::with_capacity(r.arity());
        while pos < text.len() || (line == 0 && r.arity() == 0) {
            let rec = record(&text, pos, &delim, &mut fields);
            let (start, first_line) = (pos, line);
            line += 1 + rec.inner_lines;
            pos = rec.end + 1;
            if first_line < skip {
                continue;
            }
            if r.arity() == 0 {
                if rec.end > start || first_line == 0 && !text.is_empty() {
                    tables[rel].push(&[]);
                }
                continue;
            }
            if fields.len() == 1 && fields[0].0.is_empty() && rec.error.is_none() {
                continue;
            }
            if let Some((at, what)) = rec.error {
                file_errors.push((at, what.to_string()));
                continue;
            }
            if fields.len() != r.arity() {
                file_errors.push((
                    start,
                    format!(
                        "expected {} column{} separated by {:?}, found {}",
                        r.arity(),
                        if r.arity() == 1 { "" } else { "s" },
                        delim,
                        fields.len()
                    ),
                ));
                continue;
            }
            row.clear();
            let mut ok = true;
            for (c, ((field, at), ty)) in fields.iter().zip(&r.types).enumerate() {
                match ty {
                    Ty::Symbol => row.push(symbols.intern(field)),
                    _ => match parse_number(field, *ty) {
                        Some(v) => row.push(v),
                        None => {
                            file_errors.push((
                                *at,
                                format!(
                                    "column {} (`{}`) expects a {}, found {} bytes that are not one",
                                    c + 1,
                                    r.attrs[c],
                                    ty.name(),
                                    field.len()
                                ),
                            ));
                            ok = false;
                        }
                    },
                }
            }
            if ok {
                tables[rel].push(&row);
                if with_origins {
                    origins[rel].push((row.clone(), (shown.clone(), first_line + 1)));
                }
            }
        }
        if !file_errors.is_empty() {
            let line_starts: Vec<usize> = std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect();
            for (at, msg) in file_errors {
                let l = line_starts.partition_point(|&s| s <= at);
                let col = text[line_starts[l - 1]..at].chars().count() + 1;
                errors.push(
                    Diagnostic::error(
                        format!(
                            "malformed fact of `{}` at {}:{l}:{col}: {msg}",
                            r.name,
                            path.display()
                        ),
                        r.decl,
                        "declared here",
                    )
                    .with_help("the file is not quoted here; open it at that line and column"),
                );
            }
        }
    }
    // Sorted once every file's text is gone.
    for t in &mut tables {
        t.normalize();
    }
    if errors.is_empty() {
        Ok(Loaded { tables, origins })
    } else {
        Err(errors)
    }
}

/// Reads the leading rows of a tab-separated file that are in the plain form of large fact
/// files, in one pass over their bytes with no field copied: numbers of one to nine decimal
/// digits (perhaps after a `-`) in range, symbols that do not start with `"`, no carriage
/// return, as many fields as columns. Empty lines are skipped, as the general reader does.
/// Symbols are interned a batch of rows at a time ([`Interner::intern_all`]), in file order,
/// so they get the ids the general reader would give them; a large file's batches are read by
/// another thread meanwhile. Stops before the first row in any
/// other form, for the general reader to read on from there with its diagnostics; answers
/// where it stopped and how many lines it read.
fn plain_rows(
    text: &str,
    types: &[Ty],
    symbols: &mut Interner,
    table: &mut Table,
) -> (usize, usize) {
    let (mut pos, mut lines) = (0, 0);
    let mut ids = Vec::new();
    // A batch's rows go onto the table with a 0 for each symbol, replaced by its id once the
    // batch's symbols are interned.
    let mut add = |batch: &Batch, table: &mut Table| {
        let first = table.data.len();
        table.data.extend_from_slice(&batch.data);
        table.len += batch.rows;
        (pos, lines) = (batch.end, lines + batch.lines);
        if batch.symbols.is_empty() {
            return;
        }
        ids.clear();
        symbols.intern_all_hashed(&batch.symbols, &batch.hashes, &mut ids);
        let mut ids = ids.iter();
        for row in table.data[first..].chunks_exact_mut(types.len()) {
            for (v, ty) in row.iter_mut().zip(types) {
                if *ty == Ty::Symbol {
                    *v = *ids.next().expect("an id per symbol");
                }
            }
        }
    };
    // A large file is read by a second thread, a batch ahead of the one interning its symbols
    // (which must go in file order, for the ids): reading and interning overlap.
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let large = threads > 1 && text.len() >= 1 << 22;
    let numbers_only = !types.contains(&Ty::Symbol);
    // Rows of numbers alone need no interning in file order: the file's second half is read
    // by a second thread while this one reads the first, each from the start of a line. The
    // second half's rows count only when the first half was read to its end in this form.
    if large && numbers_only {
        // Found in bytes: the middle may fall inside a character; past a line break it cannot.
        let split = text.as_bytes()[text.len() / 2..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(text.len(), |i| text.len() / 2 + i + 1);
        std::thread::scope(|scope| {
            let second =
                scope.spawn(move || Batch::all_from(text, split, types).collect::<Vec<_>>());
            let (mut stopped, mut end) = (false, 0);
            for batch in Batch::all(&text[..split], types) {
                (stopped, end) = (stopped || batch.stopped, batch.end);
                add(&batch, table);
            }
            let second = second.join().expect("reading a facts file's second half");
            if !stopped && end == split {
                for batch in &second {
                    add(batch, table);
                }
            }
        });
    } else if large {
        std::thread::scope(|scope| {
            let (send, receive) = std::sync::mpsc::sync_channel::<Batch>(4);
            scope.spawn(move || {
                for batch in Batch::all(text, types) {
                    if send.send(batch).is_err() {
                        break;
                    }
                }
            });
            for batch in receive {
                add(&batch, table);
            }
        });
    } else {
        for batch in Batch::all(text, types) {
            add(&batch, table);
        }
    }
    (pos.min(text.len()), lines)
}

/// Rows of a facts file read by [`plain_rows`], their symbols not yet interned.
struct Batch<'t> {
    /// The rows, a 0 for each symbol.
    data: Vec<u32>,
    /// How many.
    rows: usize,
    /// Their symbols in order, and each one's hash.
    symbols: Vec<&'t str>,
    hashes: Vec<u32>,
    /// Where the next batch starts (the row in another form, when `stopped`).
    end: usize,
    /// The lines read, empty ones among them.
    lines: usize,
    /// Whether a row in another form ended it.
    stopped: bool,
}

impl<'t> Batch<'t> {
    /// Rows per batch.
    const ROWS: usize = 4096;

    /// The batches of `text` from its start, up to the end or the first row in another form
    /// (the last batch ends there).
    fn all(text: &'t str, types: &'t [Ty]) -> impl Iterator<Item = Batch<'t>> {
        Batch::all_from(text, 0, types)
    }

    /// [`Batch::all`] from byte `at` (the start of a line) on.
    fn all_from(text: &'t str, at: usize, types: &'t [Ty]) -> impl Iterator<Item = Batch<'t>> {
        let (mut at, mut done) = (at, at >= text.len());
        std::iter::from_fn(move || {
            if done {
                return None;
            }
            let batch = Batch::read(text, at, types);
            at = batch.end;
            done = batch.stopped || at >= text.len();
            Some(batch)
        })
    }

    /// Reads up to [`Batch::ROWS`] rows from `pos` on.
    fn read(text: &'t str, pos: usize, types: &[Ty]) -> Batch<'t> {
        let bytes = text.as_bytes();
        let mut b = Batch {
            data: Vec::with_capacity(Batch::ROWS * types.len()),
            rows: 0,
            symbols: Vec::new(),
            hashes: Vec::new(),
            end: pos,
            lines: 0,
            stopped: false,
        };
        while b.rows < Batch::ROWS && b.end < bytes.len() {
            if bytes[b.end] == b'\n' {
                (b.end, b.lines) = (b.end + 1, b.lines + 1);
                continue;
            }
            let Some(end) = plain_row(text, b.end, types, &mut b.data, &mut b.symbols) else {
                b.stopped = true;
                break;
            };
            (b.end, b.lines, b.rows) = (end + 1, b.lines + 1, b.rows + 1);
        }
        b.hashes = b.symbols.iter().map(|s| hash_of(s.as_bytes())).collect();
        b
    }
}

/// Reads the row at `pos` in the form [`plain_rows`] reads: its numbers, and a 0 for each
/// symbol, onto `data`, its symbols onto `batch`; answers where its line ends. For a row in
/// any other form, adds nothing and answers `None`.
fn plain_row<'t>(
    text: &'t str,
    pos: usize,
    types: &[Ty],
    data: &mut Vec<u32>,
    batch: &mut Vec<&'t str>,
) -> Option<usize> {
    let bytes = text.as_bytes();
    let (data_len, batch_len) = (data.len(), batch.len());
    let mut i = pos;
    for (c, ty) in types.iter().enumerate() {
        let start = i;
        let value = if *ty == Ty::Symbol {
            while i < bytes.len() && !matches!(bytes[i], b'\t' | b'\n' | b'\r') {
                i += 1;
            }
            batch.push(&text[start..i]);
            (bytes.get(start) != Some(&b'"')).then_some(0)
        } else {
            let neg = bytes.get(i) == Some(&b'-');
            i += usize::from(neg);
            let digits = i;
            let mut v: i64 = 0;
            // Ten digits at most: one more than any value read here has, and none that
            // overflow.
            while i < bytes.len() && bytes[i].is_ascii_digit() && i - digits < 10 {
                v = v * 10 + i64::from(bytes[i] - b'0');
                i += 1;
            }
            (1..=9)
                .contains(&(i - digits))
                .then(|| in_range(if neg { -v } else { v }, *ty))
                .flatten()
        };
        let last = c + 1 == types.len();
        let ends_well = match bytes.get(i) {
            Some(b'\t') => !last,
            Some(b'\n') | None => last,
            _ => false,
        };
        match value {
            Some(v) if ends_well => data.push(v),
            _ => {
                data.truncate(data_len);
                batch.truncate(batch_len);
                return None;
            }
        }
        i += usize::from(!last);
    }
    Some(i)
}

/// The order rows are listed in: by meaning (numbers numerically, symbols by their text).
/// `None` when the stored order is already that order (the common case of numbers that are
/// not negative), else the rows' positions in that order.
pub fn listing_order(
    prog: &Program,
    rel: RelId,
    table: &Table,
    symbols: &Interner,
) -> Option<Vec<u32>> {
    match listing(prog, rel, table, symbols, false) {
        Listing::Stored => None,
        Listing::Positions(p) => Some(p),
        Listing::Packed(..) => unreachable!("asked for positions"),
    }
}

/// A table's rows in the order they are listed.
enum Listing {
    /// As stored.
    Stored,
    /// By position.
    Positions(Vec<u32>),
    /// Rows of one or two columns as their keys, packed into integers and sorted: decoded as
    /// they are written, which needs no row positions and reads no row twice.
    Packed(Vec<u64>, SymbolRanks),
}

/// Each value as a key whose unsigned order is its meaning's order: numbers with the sign bit
/// flipped, symbols by their rank among the symbols the table holds.
fn key_of(v: u32, ty: Ty, ranks: &SymbolRanks) -> u32 {
    match ty {
        Ty::Symbol => ranks.rank(v),
        Ty::Number => v ^ 0x8000_0000,
        Ty::Unsigned => v,
    }
}

/// The value of a key ([`key_of`]).
fn value_of(k: u32, ty: Ty, ranks: &SymbolRanks) -> u32 {
    match ty {
        Ty::Symbol => ranks.id(k),
        Ty::Number => k ^ 0x8000_0000,
        Ty::Unsigned => k,
    }
}

fn listing(prog: &Program, rel: RelId, table: &Table, symbols: &Interner, packed: bool) -> Listing {
    let types = &prog.relations[rel].types;
    let ranks = SymbolRanks::of(types, table, symbols);
    let key = |v: u32, ty: Ty| key_of(v, ty, &ranks);
    let in_order = |a: &[u32], b: &[u32]| {
        for ((x, y), ty) in a.iter().zip(b).zip(types) {
            let o = key(*x, *ty).cmp(&key(*y, *ty));
            if o.is_ne() {
                return o.is_lt();
            }
        }
        true
    };
    if (1..table.len).all(|i| in_order(table.row(i - 1), table.row(i))) {
        return Listing::Stored;
    }
    if packed && (1..=2).contains(&table.arity) {
        let mut keys: Vec<u64> = table
            .data
            .chunks_exact(table.arity)
            .map(|r| {
                r.iter()
                    .zip(types)
                    .fold(0u64, |p, (v, ty)| (p << 32) | u64::from(key(*v, *ty)))
            })
            .collect();
        // Stored rows are in order by their first column's id: numbers are then in order by
        // meaning too, and only the runs of one number need sorting.
        sort_packed(&mut keys);
        return Listing::Packed(keys, ranks);
    }
    Listing::Positions(sort_rows(table.arity, table.len, |i, c| {
        key(table.data[i * table.arity + c], types[c])
    }))
}

/// Ranks of the symbols a table holds, in the order of their text.
enum SymbolRanks {
    /// No symbol column.
    None,
    /// Indexed by id (when the table holds a good part of all the symbols); then the ids by
    /// rank.
    Dense(Vec<u32>, Vec<u32>),
    /// The ids, ascending, and each one's rank; then the ids by rank.
    Sparse(Vec<u32>, Vec<u32>, Vec<u32>),
}

impl SymbolRanks {
    fn of(types: &[Ty], table: &Table, symbols: &Interner) -> SymbolRanks {
        let cols: Vec<usize> = (0..types.len())
            .filter(|&c| types[c] == Ty::Symbol)
            .collect();
        if cols.is_empty() || table.len == 0 {
            return SymbolRanks::None;
        }
        let values =
            (0..table.len).flat_map(|i| cols.iter().map(move |&c| table.data[i * table.arity + c]));
        // A table holding a good part of all the symbols ranks them in an array by id.
        let dense = table.len * cols.len() * 4 >= symbols.len();
        let ids: Vec<u32> = if dense {
            let mut seen = vec![false; symbols.len()];
            for v in values {
                seen[v as usize] = true;
            }
            (0..symbols.len() as u32)
                .filter(|&v| seen[v as usize])
                .collect()
        } else {
            let mut ids: Vec<u32> = values.collect();
            ids.sort_unstable();
            ids.dedup();
            ids
        };
        // Strings are compared once per distinct symbol, never once per comparison of rows.
        // Each is sorted by a key of its eight bytes after the prefix all of them share (the
        // key's order is the text's, short of ties), and only symbols of one key compare their
        // texts: most comparisons read no text, whose reads are cache misses.
        let texts = || ids.iter().map(|&v| symbols.resolve(v).as_bytes());
        let first = texts().next().unwrap_or_default();
        let shared = texts().fold(first.len(), |n, t| {
            first[..n].iter().zip(t).take_while(|(a, b)| a == b).count()
        });
        let mut by_text: Vec<(u64, u32)> = texts()
            .zip(&ids)
            .map(|(t, &v)| {
                let mut key = [0u8; 8];
                let rest = &t[shared..];
                let n = rest.len().min(8);
                key[..n].copy_from_slice(&rest[..n]);
                (u64::from_be_bytes(key), v)
            })
            .collect();
        let order = |a: &(u64, u32), b: &(u64, u32)| {
            a.0.cmp(&b.0)
                .then_with(|| symbols.resolve(a.1).cmp(symbols.resolve(b.1)))
        };
        if by_text.len() > 50_000 {
            use rayon::slice::ParallelSliceMut;
            by_text.par_sort_unstable_by(order);
        } else {
            by_text.sort_unstable_by(order);
        }
        let by_rank: Vec<u32> = by_text.iter().map(|(_, id)| *id).collect();
        if dense {
            let mut ranks = vec![0; symbols.len()];
            for (rank, (_, id)) in by_text.into_iter().enumerate() {
                ranks[id as usize] = rank as u32;
            }
            SymbolRanks::Dense(ranks, by_rank)
        } else {
            let mut ranks = vec![0; ids.len()];
            for (rank, (_, id)) in by_text.into_iter().enumerate() {
                if let Ok(at) = ids.binary_search(&id) {
                    ranks[at] = rank as u32;
                }
            }
            SymbolRanks::Sparse(ids, ranks, by_rank)
        }
    }
    fn rank(&self, id: u32) -> u32 {
        match self {
            SymbolRanks::None => id,
            SymbolRanks::Dense(d, _) => d[id as usize],
            SymbolRanks::Sparse(ids, ranks, _) => ids.binary_search(&id).map_or(id, |at| ranks[at]),
        }
    }
    fn id(&self, rank: u32) -> u32 {
        match self {
            SymbolRanks::None => rank,
            SymbolRanks::Dense(_, by_rank) | SymbolRanks::Sparse(_, _, by_rank) => {
                by_rank[rank as usize]
            }
        }
    }
}

/// Rows of a table sorted by meaning (numbers numerically, symbols by text), for stable output.
pub fn sorted_rows<'t>(
    prog: &Program,
    rel: RelId,
    table: &'t Table,
    symbols: &Interner,
) -> Vec<&'t [u32]> {
    match listing_order(prog, rel, table, symbols) {
        None => table.rows().collect(),
        Some(order) => order.into_iter().map(|i| table.row(i as usize)).collect(),
    }
}

fn write_rows(
    out: &mut dyn Write,
    prog: &Program,
    rel: RelId,
    table: &Table,
    symbols: &Interner,
    delim: &str,
) -> std::io::Result<()> {
    let r = &prog.relations[rel];
    if r.arity() == 0 {
        if table.len > 0 {
            writeln!(out, "()")?;
        }
        return Ok(());
    }
    let listing = listing(prog, rel, table, symbols, true);
    let format = |rows: std::ops::Range<usize>, buf: &mut Vec<u8>| {
        format_rows(rows, &listing, table, &r.types, symbols, delim, buf)
    };
    // Rows are formatted into large buffers, each written out when full. A large table is
    // formatted by several threads at once, a buffer each, written in order: at most two
    // buffers per thread are held.
    const FLUSH: usize = 1 << 18;
    /// Rows per buffer formatted by one thread.
    const CHUNK: usize = 1 << 14;
    let threads = rayon::current_num_threads();
    if threads > 1 && table.len >= 4 * CHUNK {
        use rayon::prelude::*;
        let mut bufs: Vec<Vec<u8>> = vec![Vec::new(); threads * 2];
        for window in (0..table.len).step_by(CHUNK * bufs.len()) {
            bufs.par_iter_mut().enumerate().for_each(|(k, buf)| {
                buf.clear();
                let from = (window + k * CHUNK).min(table.len);
                format(from..(from + CHUNK).min(table.len), buf);
            });
            for buf in &bufs {
                out.write_all(buf)?;
            }
        }
        return Ok(());
    }
    let mut buf: Vec<u8> = Vec::with_capacity(FLUSH + 4096);
    for from in (0..table.len).step_by(1024) {
        format(from..(from + 1024).min(table.len), &mut buf);
        if buf.len() >= FLUSH {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)
}

/// Appends the listed rows `rows` to `buf`, formatted: symbols quoted where needed
/// ([`push_field`]), fields separated by `delim`, each row ended by a line break.
fn format_rows(
    rows: std::ops::Range<usize>,
    listing: &Listing,
    table: &Table,
    types: &[Ty],
    symbols: &Interner,
    delim: &str,
    buf: &mut Vec<u8>,
) {
    let mut num = itoa::Buffer::new();
    // Rows are taken a group at a time: the group's symbols are resolved, then their texts'
    // first bytes read, each step for the whole group before the next, so that the cache
    // misses of one step overlap rather than follow each other; then the rows are formatted.
    const GROUP: usize = 64;
    let has_symbols = types.contains(&Ty::Symbol);
    let mut texts: Vec<&str> = Vec::with_capacity(GROUP * table.arity);
    let mut unpacked = [0u32; 2];
    for first in rows.clone().step_by(GROUP) {
        let group = first..(first + GROUP).min(rows.end);
        if has_symbols {
            texts.clear();
            for i in group.clone() {
                let row = listed(listing, table, types, i, &mut unpacked);
                for (v, t) in row.iter().zip(types) {
                    if *t == Ty::Symbol {
                        texts.push(symbols.resolve(*v));
                    }
                }
            }
            std::hint::black_box(
                texts
                    .iter()
                    .fold(0, |t, s| t ^ s.bytes().next().unwrap_or(0)),
            );
        }
        let mut texts = texts.iter();
        for i in group {
            let row = listed(listing, table, types, i, &mut unpacked);
            for (c, (v, t)) in row.iter().zip(types).enumerate() {
                if c > 0 {
                    buf.extend_from_slice(delim.as_bytes());
                }
                match t {
                    Ty::Symbol => push_field(buf, texts.next().expect("a text per symbol"), delim),
                    Ty::Number => buf.extend_from_slice(num.format(*v as i32).as_bytes()),
                    Ty::Unsigned => buf.extend_from_slice(num.format(*v).as_bytes()),
                }
            }
            buf.push(b'\n');
        }
    }
}

/// The `i`th row listed (a packed one decoded into `unpacked`).
fn listed<'a>(
    listing: &'a Listing,
    table: &'a Table,
    types: &[Ty],
    i: usize,
    unpacked: &'a mut [u32; 2],
) -> &'a [u32] {
    match listing {
        Listing::Stored => table.row(i),
        Listing::Positions(p) => table.row(p[i] as usize),
        Listing::Packed(keys, ranks) => {
            let k = keys[i];
            let (a, b) = ((k >> 32) as u32, k as u32);
            if table.arity == 1 {
                unpacked[0] = value_of(b, types[0], ranks);
            } else {
                unpacked[0] = value_of(a, types[0], ranks);
                unpacked[1] = value_of(b, types[1], ranks);
            }
            &unpacked[..table.arity]
        }
    }
}

/// Writes every `.output` relation: to `OUT_DIR/<name>.csv`, or to `out` in Soufflé's boxed
/// stdout form when `out_dir` is `-` (attribute names only with `headers=true`, as Soufflé).
/// Then prints `.printsize` relations as `name<TAB>size`.
pub fn write_outputs(
    prog: &Program,
    tables: &[Table],
    symbols: &Interner,
    out_dir: &Path,
    out: &mut dyn Write,
    policy: PathPolicy,
) -> std::io::Result<()> {
    let to_stdout = out_dir == Path::new("-");
    let specs = prog.relations.iter().enumerate().flat_map(|(rel, r)| {
        r.output
            .iter()
            .chain(&r.also_output)
            .map(move |s| (rel, r, s))
    });
    for (rel, r, spec) in specs {
        let delim = delimiter(&spec.params);
        let headers = spec.params.get("headers").is_some_and(|v| v == "true");
        if to_stdout || spec.params.get("IO").is_some_and(|v| v == "stdout") {
            writeln!(out, "---------------\n{}", r.name)?;
            if headers {
                writeln!(out, "{}", r.attrs.join("\t"))?;
            }
            writeln!(out, "===============")?;
            write_rows(out, prog, rel, &tables[rel], symbols, "\t")?;
            writeln!(out, "===============")?;
        } else {
            let name = spec
                .params
                .get("filename")
                .cloned()
                .unwrap_or_else(|| format!("{}.csv", r.name));
            let path = confined(out_dir, &name, policy).map_err(|why| {
                std::io::Error::new(
                    std::io::ErrorKind::PermissionDenied,
                    format!("`.output {}`: {why}", r.name),
                )
            })?;
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
            if headers {
                writeln!(f, "{}", r.attrs.join(&delim))?;
            }
            write_rows(&mut f, prog, rel, &tables[rel], symbols, &delim)?;
            f.flush()?;
        }
    }
    for (rel, r) in prog.relations.iter().enumerate() {
        if r.printsize {
            writeln!(out, "{}\t{}", r.name, tables[rel].len)?;
        }
    }
    Ok(())
}
