//! bindlog's Datalog engine: Soufflé-style rules compiled onto datafrog, with proofs.
//!
//! rules text -> [`syntax`] (parse) -> [`check`] (declarations, types, safety, strata)
//! -> [`magic`] (the magic-set rewrite, when a `.pragma` asks for it) -> [`compile`] (plan of joins) -> [`eval`] (datafrog fast path, naive reference)
//! -> [`provenance`] (proofs and why-not, after the fixpoint, only when asked).

pub mod check;
pub mod compile;
pub mod diag;
pub mod eval;
pub mod frog;
pub mod io;
pub mod ir;
pub mod magic;
pub mod provenance;
pub mod schedule;
pub mod syntax;
pub mod value;

use diag::{Diagnostic, Diagnostics, Sources};
use eval::{EvalError, Limits, Runtime, Table};
use ir::Program;
use std::path::{Path, PathBuf};
use value::Interner;

/// Rules that parsed and checked, with their plan and the texts they came from.
pub struct Rules {
    /// Every text read (rules, and facts files with errors).
    pub sources: Sources,
    /// The checked program.
    pub program: Program,
    /// Its datafrog plan.
    pub plan: compile::Plan,
}

/// Rules that did not check: every diagnostic of the failing phase, with the texts to show them.
pub struct Failure {
    /// The texts the diagnostics point into.
    pub sources: Sources,
    /// The problems.
    pub diagnostics: Diagnostics,
}

impl Failure {
    /// The diagnostics rendered without colour at `width` columns.
    pub fn render(&self, width: usize) -> String {
        self.diagnostics.render(&self.sources, width)
    }
}

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render(100))
    }
}

/// Which evaluator runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// datafrog, semi-naive; independent strata in parallel when `parallel`.
    Fast {
        /// Run independent strata on rayon's pool.
        parallel: bool,
    },
    /// The naive reference evaluator.
    Naive,
}

/// A value given to [`Inputs::add`].
#[derive(Clone, Copy, Debug)]
pub enum FactValue<'a> {
    /// A symbol.
    Sym(&'a str),
    /// A number (`number` or `unsigned` column).
    Num(i64),
}

/// Input tuples for a program, symbols already interned.
pub struct Inputs {
    /// One table per relation.
    pub tables: Vec<Table>,
    /// The symbol table (the program's symbols first).
    pub symbols: Interner,
    /// Each input row's origin, when read with origins.
    pub origins: Vec<Vec<(Vec<u32>, io::Origin)>>,
}

impl Inputs {
    /// No input tuples yet.
    pub fn new(rules: &Rules) -> Inputs {
        Inputs {
            origins: vec![Vec::new(); rules.program.relations.len()],
            ..Inputs::with_symbols(rules, rules.program.symbols.clone())
        }
    }
    /// No input tuples yet, over a symbol table that extends the program's (a frozen one
    /// shared with other inputs, say); rows are added without origins.
    pub fn with_symbols(rules: &Rules, symbols: Interner) -> Inputs {
        Inputs {
            tables: rules
                .program
                .relations
                .iter()
                .map(|r| Table::new(r.arity()))
                .collect(),
            symbols,
            origins: Vec::new(),
        }
    }
    /// Adds a tuple to relation `rel`; an error names what does not fit.
    pub fn add(&mut self, rules: &Rules, rel: &str, values: &[FactValue]) -> Result<(), String> {
        let id = rules
            .program
            .relation(rel)
            .ok_or_else(|| format!("relation `{rel}` is not declared"))?;
        self.add_to(rules, id, values)
    }
    /// Adds a tuple to the relation with id `id`; an error names what does not fit.
    pub fn add_to(
        &mut self,
        rules: &Rules,
        id: ir::RelId,
        values: &[FactValue],
    ) -> Result<(), String> {
        let row = self.row(rules, id, values)?;
        self.tables[id].push(&row);
        Ok(())
    }
    /// A tuple of the relation with id `id` as stored, its symbols interned; an error names
    /// what does not fit.
    pub fn row(
        &mut self,
        rules: &Rules,
        id: ir::RelId,
        values: &[FactValue],
    ) -> Result<Vec<u32>, String> {
        let r = &rules.program.relations[id];
        let rel = &r.name;
        if r.arity() != values.len() {
            return Err(format!(
                "relation `{rel}` takes {} values, {} given",
                r.arity(),
                values.len()
            ));
        }
        let mut row = Vec::with_capacity(values.len());
        for (i, (v, ty)) in values.iter().zip(&r.types).enumerate() {
            row.push(match (v, ty) {
                (FactValue::Sym(s), ir::Ty::Symbol) => self.symbols.intern(s),
                (FactValue::Num(n), ir::Ty::Number) if i32::try_from(*n).is_ok() => {
                    *n as i32 as u32
                }
                (FactValue::Num(n), ir::Ty::Unsigned) if u32::try_from(*n).is_ok() => *n as u32,
                _ => {
                    return Err(format!(
                        "`{rel}.{}` is a {}; {v:?} does not fit",
                        r.attrs[i],
                        ty.name()
                    ));
                }
            });
        }
        Ok(row)
    }
    /// Reads the `.input` relations from a directory of `.facts` files (none outside it).
    pub fn from_dir(rules: &mut Rules, dir: &Path, with_origins: bool) -> Result<Inputs, Failure> {
        Inputs::from_dir_with(rules, dir, with_origins, io::PathPolicy::Confined)
    }
    /// [`Inputs::from_dir`], with `filename=` allowed where `policy` says.
    pub fn from_dir_with(
        rules: &mut Rules,
        dir: &Path,
        with_origins: bool,
        policy: io::PathPolicy,
    ) -> Result<Inputs, Failure> {
        let mut symbols = rules.program.symbols.clone();
        match io::read_inputs(&rules.program, dir, &mut symbols, with_origins, policy) {
            Ok(loaded) => Ok(Inputs {
                tables: loaded.tables,
                // Frozen: each evaluation's copy of the table is then a reference to it.
                symbols: symbols.frozen(),
                origins: loaded.origins,
            }),
            Err(d) => Err(Failure {
                sources: std::mem::take(&mut rules.sources),
                diagnostics: Diagnostics(d),
            }),
        }
    }
}

/// An evaluation's relations with each tuple's height ([`Rules::evaluate_for_proofs`]): what
/// proofs are read from.
pub struct Heighted {
    tables: Vec<Table>,
    heights: eval::fast::Heights,
}

impl Heighted {
    fn into_parts(self) -> (Vec<Table>, eval::fast::Heights) {
        (self.tables, self.heights)
    }
}

/// The relations after evaluation.
pub struct Evaluation {
    /// One table per relation, rows sorted by stored value.
    pub tables: Vec<Table>,
    /// Symbols, including those functors created.
    pub symbols: Interner,
    /// Warnings raised while evaluating.
    pub warnings: Vec<String>,
}

impl Evaluation {
    fn of(tables: Vec<Table>, rt: Runtime) -> Evaluation {
        let symbols = match rt.symbols.into_inner() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        let warnings = match rt.warnings.into_inner() {
            Ok(w) => w.into_iter().collect(),
            Err(p) => p.into_inner().into_iter().collect(),
        };
        Evaluation {
            tables,
            symbols,
            warnings,
        }
    }

    /// The rows of a relation, formatted and sorted by meaning (as `.csv` output lists them).
    pub fn rows(&self, rules: &Rules, rel: &str) -> Option<Vec<Vec<String>>> {
        self.rows_where(rules, rel, None)
    }

    /// [`Evaluation::rows`], only those whose column `column` holds the symbol `value`:
    /// filtered before anything is sorted or formatted.
    pub fn rows_matching(
        &self,
        rules: &Rules,
        rel: &str,
        column: usize,
        value: &str,
    ) -> Option<Vec<Vec<String>>> {
        match self.symbols.get(value) {
            Some(v) => self.rows_where(rules, rel, Some((column, v))),
            None => rules.program.relation(rel).map(|_| Vec::new()),
        }
    }

    fn rows_where(
        &self,
        rules: &Rules,
        rel: &str,
        only: Option<(usize, u32)>,
    ) -> Option<Vec<Vec<String>>> {
        let id = rules.program.relation(rel)?;
        let types = &rules.program.relations[id].types;
        let table = match only {
            Some((column, v)) if column < types.len() && types[column] == ir::Ty::Symbol => {
                let mut t = eval::Table::new(types.len());
                for r in self.tables[id].rows().filter(|r| r[column] == v) {
                    t.push(r);
                }
                std::borrow::Cow::Owned(t)
            }
            _ => std::borrow::Cow::Borrowed(&self.tables[id]),
        };
        Some(
            io::sorted_rows(&rules.program, id, &table, &self.symbols)
                .into_iter()
                .map(|row| {
                    row.iter()
                        .zip(types)
                        .map(|(v, t)| value::format_value(*t, *v, &self.symbols))
                        .collect()
                })
                .collect(),
        )
    }
}

impl Rules {
    /// Parses and checks rule files.
    pub fn from_files(paths: &[PathBuf]) -> Result<Rules, Failure> {
        let mut texts = Vec::new();
        let mut sources = Sources::default();
        let mut errors = Vec::new();
        for p in paths {
            match std::fs::read_to_string(p) {
                Ok(t) => texts.push((p.display().to_string(), t)),
                Err(e) => errors.push(Diagnostic::plain(format!(
                    "cannot read `{}`: {e}",
                    p.display()
                ))),
            }
        }
        if !errors.is_empty() {
            return Err(Failure {
                sources,
                diagnostics: Diagnostics(errors),
            });
        }
        let mut items = Vec::new();
        for (name, text) in texts {
            let id = sources.add(name, text);
            let text = sources.get(id).text.clone();
            items.extend(syntax::parse_program(id, &text, &mut errors));
        }
        Self::finish(sources, items, errors, true)
    }

    /// Parses and checks rules given as `(name, text)` pairs.
    pub fn from_texts(texts: &[(&str, &str)]) -> Result<Rules, Failure> {
        Self::texts(texts, true)
    }

    /// [`Rules::from_texts`], ignoring `.pragma "magic-transform"`: every relation is computed
    /// in full, as written (for callers that read relations other than the outputs).
    pub fn from_texts_as_written(texts: &[(&str, &str)]) -> Result<Rules, Failure> {
        Self::texts(texts, false)
    }

    fn texts(texts: &[(&str, &str)], magic: bool) -> Result<Rules, Failure> {
        let mut sources = Sources::default();
        let mut errors = Vec::new();
        let mut items = Vec::new();
        for (name, text) in texts {
            let id = sources.add(*name, *text);
            items.extend(syntax::parse_program(id, text, &mut errors));
        }
        Self::finish(sources, items, errors, magic)
    }

    fn finish(
        sources: Sources,
        items: Vec<syntax::ast::Item>,
        syntax_errors: Vec<Diagnostic>,
        magic: bool,
    ) -> Result<Rules, Failure> {
        if syntax_errors.iter().any(|d| !d.warning) {
            return Err(Failure {
                sources,
                diagnostics: Diagnostics(syntax_errors),
            });
        }
        match check::check(&items) {
            Ok(program) => {
                let program = if magic {
                    magic::rewrite(program)
                } else {
                    program
                };
                let plan = compile::compile(&program);
                Ok(Rules {
                    sources,
                    program,
                    plan,
                })
            }
            Err(d) => Err(Failure {
                sources,
                diagnostics: Diagnostics(d),
            }),
        }
    }

    /// Evaluates the rules over the inputs.
    pub fn evaluate(
        &self,
        inputs: &Inputs,
        engine: Engine,
        limits: Limits,
    ) -> Result<Evaluation, EvalError> {
        self.evaluate_given(inputs, engine, limits, None)
    }

    /// [`Rules::evaluate`] with the fast engine (independent strata in parallel), also giving
    /// each tuple its height: the evaluation, and a copy of its relations with the heights, from
    /// which [`provenance::Explainer::with_heights`] proves tuples later without evaluating
    /// again. The copy is taken before the caller changes the evaluation's tables.
    pub fn evaluate_for_proofs(
        &self,
        inputs: &Inputs,
        limits: Limits,
    ) -> Result<(Evaluation, Heighted), EvalError> {
        let rt = Runtime::new(inputs.symbols.clone(), limits);
        let (tables, heights) = eval::fast::evaluate_with_heights(
            &self.program,
            &self.plan,
            &rt,
            &inputs.tables,
            true,
        )?;
        let kept = Heighted {
            tables: tables.clone(),
            heights,
        };
        Ok((Evaluation::of(tables, rt), kept))
    }

    /// Evaluates the rules over the inputs, where the inputs already hold the relations marked
    /// in `given` (indexed by relation id) complete, as an earlier evaluation derived them: the
    /// fast engine does not run their strata again. Only relations whose rules read nothing but
    /// other given relations may be given, or the result is not the rules' meaning.
    pub fn evaluate_given(
        &self,
        inputs: &Inputs,
        engine: Engine,
        limits: Limits,
        given: Option<&[bool]>,
    ) -> Result<Evaluation, EvalError> {
        let rt = Runtime::new(inputs.symbols.clone(), limits);
        let tables = match engine {
            Engine::Fast { parallel } => eval::fast::evaluate(
                &self.program,
                &self.plan,
                &rt,
                &inputs.tables,
                parallel,
                given,
            )?,
            Engine::Naive => {
                let rows = inputs
                    .tables
                    .iter()
                    .map(|t| t.rows().map(|r| r.to_vec()).collect())
                    .collect();
                let db = eval::naive::evaluate(&self.program, &rt, rows)?;
                db.rels
                    .iter()
                    .zip(&self.program.relations)
                    .map(|(m, r)| {
                        let mut t = Table::new(r.arity());
                        for row in m.keys() {
                            t.push(row);
                        }
                        t
                    })
                    .collect()
            }
        };
        Ok(Evaluation::of(tables, rt))
    }

    /// [`Rules::evaluate`], taking the inputs: the fast engine sorts the input tables in place
    /// and the symbol table moves into the evaluation, so neither is held twice.
    pub fn evaluate_owned(
        &self,
        inputs: Inputs,
        engine: Engine,
        limits: Limits,
    ) -> Result<Evaluation, EvalError> {
        let Engine::Fast { parallel } = engine else {
            return self.evaluate(&inputs, engine, limits);
        };
        let rt = Runtime::new(inputs.symbols, limits);
        let tables =
            eval::fast::evaluate_owned(&self.program, &self.plan, &rt, inputs.tables, parallel)?;
        Ok(Evaluation::of(tables, rt))
    }

    /// Converts `tables` (one per relation) once for many [`Rules::evaluate_on`] calls with the
    /// fast engine; the indexes those evaluations build over them are kept and shared.
    pub fn prebuild(&self, tables: &[Table]) -> Result<eval::fast::Prebuilt, EvalError> {
        eval::fast::prebuild(&self.plan, tables)
    }

    /// Evaluates the rules with the fast engine, strata one after the other, over the prebuilt
    /// relations of `base` together with the rows of `inputs` (whose symbols must extend those
    /// `base` was built with). `given` is as for [`Rules::evaluate_given`]; only the relations
    /// marked in `keep` are returned, the others are left empty.
    pub fn evaluate_on(
        &self,
        base: &eval::fast::Prebuilt,
        inputs: &Inputs,
        limits: Limits,
        given: Option<&[bool]>,
        keep: &[bool],
    ) -> Result<Evaluation, EvalError> {
        let rt = Runtime::new(inputs.symbols.clone(), limits);
        let tables = eval::fast::evaluate_on(
            &self.program,
            &self.plan,
            &rt,
            base,
            &inputs.tables,
            given,
            keep,
        )?;
        Ok(Evaluation::of(tables, rt))
    }

    /// The printable plan (`--print-plan`).
    pub fn render_plan(&self) -> String {
        compile::render(&self.plan, &self.program, &self.sources)
    }
}
