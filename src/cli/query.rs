//! `bindlog query`: your own rules over a snapshot's facts and the built-in derived relations.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::{Model, Subjects};
use miette::miette;
use std::io::Write;
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
    if args.output != std::path::Path::new("-") {
        std::fs::create_dir_all(&args.output)
            .map_err(|e| miette!("cannot create `{}`: {e}", args.output.display()))?;
    }
    let rules = model.rules();
    let eval = model.evaluation();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    bindlog::datalog::io::write_outputs(
        &rules.program,
        &eval.tables,
        &eval.symbols,
        &args.output,
        &mut out,
    )
    .map_err(|e| miette!("cannot write the output: {e}"))?;
    out.flush()
        .map_err(|e| miette!("cannot write to stdout: {e}"))?;
    Ok(ExitCode::SUCCESS)
}
