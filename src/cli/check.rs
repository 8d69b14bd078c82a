//! `bindlog check` (stub: to be written with the snapshot issue).

use super::Outcome;

/// Flags of `bindlog check`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `bindlog check`.
pub fn run(_args: Args) -> Outcome {
    Err(miette::miette!("`bindlog check` is not implemented yet"))
}
