//! `bindlog facts` (stub: to be written with the snapshot issue).

use super::Outcome;

/// Flags of `bindlog facts`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `bindlog facts`.
pub fn run(_args: Args) -> Outcome {
    Err(miette::miette!("`bindlog facts` is not implemented yet"))
}
