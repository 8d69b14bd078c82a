//! `bindlog query`: your own rules over a snapshot's facts and the built-in derived relations.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::{Model, Subjects};
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

  bindlog query examples/acme/snapshot.json --rules my.dl")]
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
    let model = match Model::with_rules(&loaded.snapshot, &Subjects::All, &extra) {
        Ok(m) => m,
        Err(rendered) => return Ok(super::bad_input(&rendered)),
    };
    super::write_outputs(model.rules(), model.evaluation(), &args.output)?;
    Ok(ExitCode::SUCCESS)
}
