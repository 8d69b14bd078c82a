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
(correct, slower), with a warning naming the rule.")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Datalog files with your rules; they may use every relation of rules/authentik/.
    #[arg(long = "rules", value_name = "FILE.dl", required = true)]
    rules: Vec<PathBuf>,
    /// Directory for the `.output` relations (`-` prints them).
    #[arg(short = 'D', long = "output", default_value = "-", value_name = "DIR")]
    output: PathBuf,
}

/// Runs `bindlog query`.
pub fn run(args: Args) -> Outcome {
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
    let outputs: Vec<String> = match bindlog::datalog::Rules::from_texts(&texts_all) {
        Ok(r) => r
            .program
            .relations
            .iter()
            .filter(|r| r.output.is_some())
            .map(|r| r.name.clone())
            .collect(),
        Err(f) => return Ok(super::bad_input(&f.render(100))),
    };
    let outputs: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let model = match Model::everyone(&loaded.snapshot, &extra, &outputs) {
        Ok(m) => m,
        Err(rendered) => return Ok(super::bad_input(&rendered)),
    };
    for note in model.notes() {
        eprintln!("warning: {note}");
    }
    let (program, tables) = model.plain_tables();
    super::write_tables(&program, &tables, &model.evaluation().symbols, &args.output)?;
    Ok(ExitCode::SUCCESS)
}
