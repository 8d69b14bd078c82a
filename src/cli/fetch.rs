//! `bindlog fetch` (stub: to be written with the snapshot issue).

use super::Outcome;

/// Flags of `bindlog fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `bindlog fetch`.
pub fn run(_args: Args) -> Outcome {
    Err(miette::miette!("`bindlog fetch` is not implemented yet"))
}
