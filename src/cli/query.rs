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
