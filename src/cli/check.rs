//! `bindlog check`: load a snapshot and say what is in it, what was assumed, what looks wrong.

use super::Outcome;
use bindlog::snapshot::{self, LoadOptions, Loaded};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The snapshot a command reads: `SNAPSHOT [--overlay PATH]... [--env NAME=VALUE]...`.
#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// A bundle file, a directory of endpoint dumps, or a blueprint file or directory.
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: PathBuf,
    /// Blueprint file or directory laid over the snapshot, in order (repeatable).
    #[arg(long = "overlay", value_name = "PATH")]
    pub overlays: Vec<PathBuf>,
    /// Value for a blueprint's `!Env NAME` tag (repeatable).
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

impl SnapshotArgs {
    /// Loads the snapshot, turning problems into a report (exit status 2).
    pub fn load(&self) -> Result<Loaded, miette::Report> {
        let options = LoadOptions {
            overlays: self.overlays.clone(),
            env: self.env.iter().cloned().collect(),
        };
        snapshot::load(&self.snapshot, &options).map_err(|e| problems_text(&e))
    }
}

/// The problems of a snapshot as the person holding the files reads them: each problem (file
/// and place first) with its help, its cause said once, no internal codes; the count last.
pub fn problems_text(errors: &snapshot::SnapshotErrors) -> miette::Report {
    use miette::Diagnostic;
    let mut out = String::new();
    for p in &errors.problems {
        let _ = writeln!(out, "error: {p}");
        if let Some(help) = p.help() {
            let _ = writeln!(out, "  help: {help}");
        }
    }
    if errors.problems.len() > 1 {
        let _ = writeln!(
            out,
            "{} problems; nothing was loaded",
            errors.problems.len()
        );
    }
    miette::Report::new(super::Plain(out))
}

/// Flags of `bindlog check`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
}

/// Runs `bindlog check`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    print!("{}", render(&loaded));
    Ok(ExitCode::SUCCESS)
}

/// The human summary of a loaded snapshot.
pub fn render(loaded: &Loaded) -> String {
    let s = &loaded.snapshot;
    let r = &loaded.report;
    let mut out = String::new();
    let version = s
        .version
        .as_ref()
        .map_or("unknown".to_string(), |v| v.to_string());
    let _ = writeln!(out, "authentik version: {version}");
    let _ = writeln!(out, "files read: {}", r.files.len());
    let _ = writeln!(out, "\nobjects:");
    let counts = s.counts();
    let width = counts
        .iter()
        .map(|(e, _)| e.len())
        .chain(s.others.keys().map(String::len))
        .max()
        .unwrap_or(0);
    for (endpoint, n) in counts {
        let _ = writeln!(out, "  {endpoint:<width$} {n:>9}");
    }
    for (model, n) in &s.others {
        let _ = writeln!(out, "  {model:<width$} {n:>9}  (not modelled)");
    }
    let _ = writeln!(out, "\ndefaults assumed ({}):", r.defaults.len());
    if r.defaults.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for ((endpoint, field, value, why), n) in &r.defaults {
        let plural = if *n == 1 { "" } else { "s" };
        let _ = writeln!(
            out,
            "  {endpoint}: `{field}` = {value} for {n} object{plural} ({why})"
        );
    }
    let _ = writeln!(out, "\nwarnings ({}):", r.warnings.len());
    if r.warnings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for w in &r.warnings {
        let _ = writeln!(out, "  {w}");
    }
    out
}
