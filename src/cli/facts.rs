//! `bindlog facts`: write a snapshot's input relations as Soufflé `.facts` files.

use super::Outcome;
use super::check::SnapshotArgs;
use miette::IntoDiagnostic;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog facts`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Directory to write `NAME.facts` into (created if needed).
    #[arg(
        short = 'D',
        long = "output-dir",
        value_name = "DIR",
        default_value = "."
    )]
    output: PathBuf,
}

/// Runs `bindlog facts`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let facts = bindlog::facts::facts_of(&loaded.snapshot);
    facts
        .write_dir(&args.output)
        .into_diagnostic()
        .map_err(|e| e.wrap_err(format!("cannot write facts to `{}`", args.output.display())))?;
    let rows: usize = facts.relations.values().map(Vec::len).sum();
    eprintln!(
        "wrote {} relations ({rows} facts) to {}",
        facts.relations.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}
