//! `bindlog diagram`: a flow's stages and bindings as a Mermaid or Graphviz diagram.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::{Model, Subjects, find_user};
use bindlog::report::diagram;
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog diagram`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Draws the flow's stages in plan order, each with its policy, group and \
user bindings (order, negate, disabled, failure_result) and when they are evaluated (plan, run, \
plan+run, never), and the flow's own bindings. With --user, each stage is styled shown (green), \
skipped (red, dashed) or unknown (yellow) for that user, entered the flow's default way.

Examples:
  bindlog diagram examples/acme/snapshot.json --flow default-authentication-flow > flow.mmd
  bindlog diagram examples/acme/snapshot.json --flow default-authentication-flow \\
      --user ada.nguyen --format dot | dot -Tsvg > flow.svg"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug.
    #[arg(long, value_name = "SLUG")]
    flow: String,
    /// Style the stages for this user (username or pk).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Diagram language.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
}

/// Diagram languages.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A Mermaid flowchart (renders in GitHub and GitLab Markdown).
    Mermaid,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Runs `bindlog diagram`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let snapshot = &loaded.snapshot;
    let plan = match &args.user {
        Some(u) => {
            let (pk, name) = find_user(snapshot, u).map_err(|e| miette!("{e}"))?;
            let model = Model::new(snapshot, &Subjects::Only(vec![pk.clone()]))
                .map_err(|e| miette!("{e}"))?;
            Some(
                model
                    .plan(&args.flow, Some((&pk, &name)), None)
                    .map_err(|e| miette!("{e}"))?,
            )
        }
        None => None,
    };
    let d = diagram::build(snapshot, &args.flow, plan.as_ref()).map_err(|e| miette!("{e}"))?;
    match args.format {
        Format::Mermaid => print!("{}", d.to_mermaid()),
        Format::Dot => print!("{}", d.to_dot()),
    }
    Ok(ExitCode::SUCCESS)
}
