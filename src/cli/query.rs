//! `bindlog query`: your own rules over a snapshot's facts and the built-in derived relations.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::Model;
use miette::miette;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog query`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example (my.dl):
  .decl mfa_skipped(user: symbol)
  .output mfa_skipped
  mfa_skipped(N) :- user(U, N, _), fsb(X, _, S, _), stage(S, \"default-authentication-mfa-validation\", _),
                    visible(X, \"anonymous\", U, \"skipped\").

  bindlog query examples/acme/snapshot.json --rules my.dl
  bindlog query examples/acme/snapshot.json --rules examples/my-audit.dl --format json

The relations your rules may read, with their columns: docs/rules-reference.md.
--format json prints every .output relation in one object (docs/outputs.md, \"query\").

The rules run once per identity class (users your rules and the built-in ones cannot tell
apart) and the .output rows are expanded to every user. To count users, sum their weight:
  admins(N) :- N = sum K : { member(U, \"<group pk>\"), weight(U, K) }.
A count over users without `weight` is noticed: every user is then evaluated on its own
(correct, slower), with a warning naming the rule.

The rules read the snapshot: a `.input` in them is an error (use `bindlog facts` and
`bindlog eval -F DIR` to run rules over `.facts` files). `.output r(filename=...)` stays inside
the -D directory unless --allow-any-path is given.")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    #[command(flatten)]
    limits: super::LimitArgs,
    /// Datalog files with your rules; they may use every relation of rules/authentik/.
    #[arg(long = "rules", value_name = "FILE.dl", required = true)]
    rules: Vec<PathBuf>,
    /// Directory for the `.output` relations (`-` prints them); `filename=` stays inside it.
    #[arg(short = 'D', long = "output", default_value = "-", value_name = "DIR")]
    output: PathBuf,
    /// Let `.output` `filename=` name any file, not only files inside the -D directory.
    #[arg(long)]
    allow_any_path: bool,
    /// Output form: Soufflé's files (or boxed tables on stdout), or one JSON object on stdout.
    #[arg(long, value_enum, default_value_t = Format::Souffle, conflicts_with = "output")]
    format: Format,
}

/// Output forms of `query`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// As Soufflé: one file per `.output` relation in -D, or boxed tables with `-D -`.
    Souffle,
    /// One JSON object on stdout: every `.output` relation with its columns and sorted rows.
    Json,
}

/// Runs `bindlog query`.
pub fn run(args: Args) -> Outcome {
    args.limits.bound_process()?;
    let loaded = args.snapshot.load()?;
    let mut texts = Vec::new();
    for p in &args.rules {
        let t = std::fs::read_to_string(p)
            .map_err(|e| miette!("cannot read `{}`: {e}", p.display()))?;
        texts.push((p.display().to_string(), t));
    }
    let extra: Vec<(&str, &str)> = texts
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    // Check the rules first: their output relations are the ones expanded to every user.
    let texts_all: Vec<(&str, &str)> = bindlog::analysis::RULES
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    let checked = match bindlog::datalog::Rules::from_texts(&texts_all) {
        Ok(r) => r,
        Err(f) => return Ok(super::bad_input(&f.render(100))),
    };
    // The rules read the snapshot; a `.input` of the user's would silently read nothing.
    let builtin_files = bindlog::analysis::RULES.len() as u32;
    if let Some(r) = checked
        .program
        .relations
        .iter()
        .find(|r| r.input.is_some() && r.decl.file >= builtin_files)
    {
        return Ok(super::bad_input(&format!(
            "error: `.input {}` ({}): query reads the snapshot's facts, not `.facts` files\n  \
             help: drop the `.input`, or run the rules with `bindlog eval -F DIR` over the files \
             `bindlog facts` writes",
            r.name,
            checked.sources.location(r.decl),
        )));
    }
    let outputs: Vec<String> = checked
        .program
        .relations
        .iter()
        .filter(|r| r.output.is_some())
        .map(|r| r.name.clone())
        .collect();
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let model = match Model::everyone(&loaded.snapshot, &extra, &outputs) {
        Ok(m) => m,
        Err(rendered) => return Ok(super::bad_input(&rendered)),
    };
    for note in model.notes() {
        eprintln!("warning: {note}");
    }
    let (program, tables) = model.plain_tables();
    if args.format == Format::Json {
        let json = outputs_json(&program, &tables, &model.evaluation().symbols);
        println!(
            "{}",
            serde_json::to_string_pretty(&json).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let policy = if args.allow_any_path {
        bindlog::datalog::io::PathPolicy::Any
    } else {
        bindlog::datalog::io::PathPolicy::Confined
    };
    super::write_tables(
        &program,
        &tables,
        &model.evaluation().symbols,
        &args.output,
        policy,
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The JSON form of `query` (docs/outputs.md): `{"relations": {NAME: {"columns", "types",
/// "rows"}}}`, relations by name, rows sorted as Soufflé's files are, numbers as JSON numbers.
fn outputs_json(
    program: &bindlog::datalog::ir::Program,
    tables: &[bindlog::datalog::eval::Table],
    symbols: &bindlog::datalog::value::Interner,
) -> serde_json::Value {
    use bindlog::datalog::ir::Ty;
    use serde_json::{Value, json};
    let mut relations = serde_json::Map::new();
    for (rel, r) in program.relations.iter().enumerate() {
        if r.output.is_none() {
            continue;
        }
        let rows: Vec<Value> = if r.arity() == 0 {
            // A nullary relation holds the empty tuple or nothing: true or false.
            (0..tables[rel].len.min(1)).map(|_| json!([])).collect()
        } else {
            bindlog::datalog::io::sorted_rows(program, rel, &tables[rel], symbols)
                .into_iter()
                .map(|row| {
                    Value::Array(
                        row.iter()
                            .zip(&r.types)
                            .map(|(v, t)| match t {
                                Ty::Symbol => json!(symbols.resolve(*v)),
                                Ty::Number => json!(*v as i32),
                                Ty::Unsigned => json!(*v),
                            })
                            .collect(),
                    )
                })
                .collect()
        };
        let types: Vec<&str> = r.types.iter().map(|t| t.name()).collect();
        relations.insert(
            r.name.clone(),
            json!({"columns": r.attrs, "types": types, "rows": rows}),
        );
    }
    json!({ "relations": relations })
}
