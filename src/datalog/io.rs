//! Soufflé's file conventions: tab-separated `.facts` in, `.csv` out (or stdout).

use crate::datalog::diag::{Diagnostic, Sources, Span};
use crate::datalog::eval::Table;
use crate::datalog::ir::{Program, RelId, Ty};
use crate::datalog::value::{Interner, compare, format_value, parse_number};
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

/// The file an `.input` relation reads.
pub fn input_path(prog: &Program, rel: RelId, fact_dir: &Path) -> PathBuf {
    let r = &prog.relations[rel];
    let name = r
        .input
        .as_ref()
        .and_then(|s| s.params.get("filename").cloned())
        .unwrap_or_else(|| format!("{}.facts", r.name));
    fact_dir.join(name)
}

/// Reads every `.input` relation from `fact_dir`. All problems are collected; the file text is
/// added to `sources` only when it has an error to point at.
pub fn read_inputs(
    prog: &Program,
    fact_dir: &Path,
    symbols: &mut Interner,
    sources: &mut Sources,
    with_origins: bool,
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
        let path = input_path(prog, rel, fact_dir);
        let text = match std::fs::read_to_string(&path) {
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
        let mut file_errors: Vec<(usize, usize, usize, String)> = Vec::new();
        let mut offset = 0;
        for (i, line) in text.split('\n').enumerate() {
            let line_start = offset;
            offset += line.len() + 1;
            let line = line.strip_suffix('\r').unwrap_or(line);
            if i < skip {
                continue;
            }
            if r.arity() == 0 {
                if !line.is_empty() || i == 0 && !text.is_empty() {
                    tables[rel].push(&[]);
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let cols: Vec<&str> = line.split(delim.as_str()).collect();
            if cols.len() != r.arity() {
                file_errors.push((
                    line_start,
                    line_start + line.len(),
                    i + 1,
                    format!(
                        "expected {} column{} separated by {:?}, found {}",
                        r.arity(),
                        if r.arity() == 1 { "" } else { "s" },
                        delim,
                        cols.len()
                    ),
                ));
                continue;
            }
            let mut row = Vec::with_capacity(r.arity());
            let mut col_start = line_start;
            let mut ok = true;
            for (c, (field, ty)) in cols.iter().zip(&r.types).enumerate() {
                match ty {
                    Ty::Symbol => row.push(symbols.intern(field)),
                    _ => match parse_number(field, *ty) {
                        Some(v) => row.push(v),
                        None => {
                            file_errors.push((
                                col_start,
                                col_start + field.len().max(1),
                                i + 1,
                                format!(
                                    "column {} (`{}`) expects a {}, found {:?}",
                                    c + 1,
                                    r.attrs[c],
                                    ty.name(),
                                    field
                                ),
                            ));
                            ok = false;
                        }
                    },
                }
                col_start += field.len() + delim.len();
            }
            if ok {
                tables[rel].push(&row);
                if with_origins {
                    origins[rel].push((row, (path.display().to_string(), i + 1)));
                }
            }
        }
        if !file_errors.is_empty() {
            let id = sources.add(path.display().to_string(), text.clone());
            for (s, e, _, msg) in file_errors {
                errors.push(
                    Diagnostic::error(
                        format!("malformed fact of `{}`: {msg}", r.name),
                        Span::new(id, s, e),
                        "here",
                    )
                    .with_label(r.decl, "declared here"),
                );
            }
        }
        tables[rel].normalize();
    }
    if errors.is_empty() {
        Ok(Loaded { tables, origins })
    } else {
        Err(errors)
    }
}

/// Rows of a table sorted by meaning (numbers numerically, symbols by text), for stable output.
pub fn sorted_rows<'t>(
    prog: &Program,
    rel: RelId,
    table: &'t Table,
    symbols: &Interner,
) -> Vec<&'t [u32]> {
    let types = &prog.relations[rel].types;
    let mut rows: Vec<&[u32]> = table.rows().collect();
    rows.sort_by(|a, b| {
        for ((x, y), ty) in a.iter().zip(b.iter()).zip(types) {
            let o = compare(*ty, *x, *y, symbols);
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    rows
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
    for row in sorted_rows(prog, rel, table, symbols) {
        let fields: Vec<String> = row
            .iter()
            .zip(&r.types)
            .map(|(v, t)| format_value(*t, *v, symbols))
            .collect();
        writeln!(out, "{}", fields.join(delim))?;
    }
    Ok(())
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
) -> std::io::Result<()> {
    let to_stdout = out_dir == Path::new("-");
    for (rel, r) in prog.relations.iter().enumerate() {
        let Some(spec) = &r.output else { continue };
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
            let path = out_dir.join(name);
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
