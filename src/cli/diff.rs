//! `bindlog diff`: what a change does, user by user: stages and applications gained or lost,
//! findings that appear or disappear, with gates for CI.

use super::Outcome;
use super::audit::read_rules;
use bindlog::analysis::bulk::Memo;
use bindlog::analysis::diff::{self, Gate};
use bindlog::audit::{self, AuditOptions};
use bindlog::snapshot::{self, LoadOptions, Snapshot};
use miette::miette;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output forms of `bindlog diff`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Changes grouped by stage and application.
    Text,
    /// The JSON form of docs/outputs.md ("diff").
    Json,
}

/// Flags of `bindlog diff`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Gates (--fail-on, repeatable; exit status 1 when one trips):
  lost-mfa              some user no longer certainly sees an MFA validation stage they saw
  gained-access         some user may open an application they could not
  lost-access           some user can no longer certainly open an application they could
  new-finding=SEVERITY  a finding of SEVERITY (info|low|medium|high|critical) or above appears
  any-change            any user's stages or access changed

Examples:
  bindlog diff before/ after/ --format json
  bindlog diff snap/ --overlay change.yaml --fail-on lost-mfa --fail-on new-finding=high"
)]
pub struct Args {
    /// The snapshot before the change.
    #[arg(value_name = "OLD")]
    old: PathBuf,
    /// The snapshot after the change (default: OLD with the --overlay blueprints).
    #[arg(value_name = "NEW")]
    new: Option<PathBuf>,
    /// Blueprint file or directory laid over the new side, in order (repeatable).
    #[arg(long = "overlay", value_name = "PATH")]
    overlays: Vec<PathBuf>,
    /// Value for a blueprint's `!Env NAME` tag (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    env: Vec<(String, String)>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// A CI gate (see below); repeatable.
    #[arg(long = "fail-on", value_name = "GATE", value_parser = Gate::parse)]
    fail_on: Vec<Gate>,
    /// Datalog files with your own findings, on both sides.
    #[arg(long = "rules", value_name = "FILE.dl")]
    rules: Vec<PathBuf>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

fn load(
    path: &std::path::Path,
    overlays: &[PathBuf],
    args: &Args,
) -> Result<Snapshot, miette::Report> {
    let options = LoadOptions {
        overlays: overlays.to_vec(),
        env: args.env.iter().cloned().collect(),
    };
    snapshot::load(path, &options)
        .map(|l| l.snapshot)
        .map_err(|e| super::check::problems_text(&e))
}

/// One side's answers for every user and its findings: one evaluation serves both.
/// Components whose facts and users are the same on both sides are evaluated once (`memo`).
fn side<'s>(
    s: &'s Snapshot,
    options: &AuditOptions,
    memo: &'static Memo,
) -> Result<(diff::AllUsers<'s>, Vec<audit::Finding>), String> {
    let start = std::time::Instant::now();
    let model =
        audit::evaluate_remembering(s, &options.rules, &diff::RELATIONS, options.explain, memo)?;
    bindlog::analysis::bulk::timing("diff: a side's model", start);
    let findings = audit::findings_of(&model, s, options)?.findings;
    bindlog::analysis::bulk::timing("diff: a side's findings", start);
    let users = diff::all_users_of(model, s);
    bindlog::analysis::bulk::timing("diff: a side's answers", start);
    Ok((users, findings))
}

/// The most users a side may have for both sides to be evaluated at once.
const SIDE_BY_SIDE_USERS: usize = 250_000;

/// Runs `bindlog diff`.
pub fn run(args: Args) -> Outcome {
    if args.new.is_none() && args.overlays.is_empty() {
        return Err(miette!(
            "nothing to compare: give NEW, or --overlay blueprints to lay over OLD"
        ));
    }
    // Each side is read, and then evaluated, mostly on one core: the two sides run side by
    // side, which halves the wait on a machine with two cores or more.
    let (old, new) = rayon::join(
        || load(&args.old, &[], &args),
        || {
            load(
                args.new.as_ref().unwrap_or(&args.old),
                &args.overlays,
                &args,
            )
        },
    );
    let (old, new) = (old?, new?);
    let options = AuditOptions {
        rules: read_rules(&args.rules)?,
        explain: args.format == Format::Json,
        ..AuditOptions::default()
    };
    // Side by side up to a size where two evaluations at once would hold too much memory
    // (about a gigabyte each at a million users); one after the other above it.
    // Both sides share a memo of component results: one after the other, the second takes
    // the first's unchanged components; side by side, whichever evaluates a component first
    // leaves it for the other. It lives as long as the process (the evaluations take it as
    // `'static`).
    let memo: &'static Memo = Box::leak(Box::default());
    let (before, after) = if old.users.len().max(new.users.len()) <= SIDE_BY_SIDE_USERS {
        rayon::join(|| side(&old, &options, memo), || side(&new, &options, memo))
    } else {
        (side(&old, &options, memo), side(&new, &options, memo))
    };
    let (before, old_f) = match before {
        Ok(x) => x,
        Err(e) => return Ok(super::bad_input(&e)),
    };
    let (after, new_f) = match after {
        Ok(x) => x,
        Err(e) => return Ok(super::bad_input(&e)),
    };
    let d = diff::compare(&before, &after, &old_f, &new_f);
    match args.format {
        Format::Text => print!("{}", d.to_text()),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&d.to_json()).unwrap_or_default()
        ),
    }
    let mut tripped = false;
    for g in &args.fail_on {
        if let Some(why) = g.trips(&d) {
            eprintln!("gate tripped: {why}");
            tripped = true;
        }
    }
    Ok(if tripped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
