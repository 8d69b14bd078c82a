//! `bindlog eval` (stub: to be written with the snapshot issue).

use super::Outcome;

/// Flags of `bindlog eval`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `bindlog eval`.
pub fn run(_args: Args) -> Outcome {
    Err(miette::miette!("`bindlog eval` is not implemented yet"))
}
