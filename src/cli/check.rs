//! `bindlog check`: load a snapshot and say what is in it, what was assumed, what looks wrong.

use super::Outcome;
use bindlog::snapshot::{self, LoadOptions, Loaded};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The snapshot a command reads: `SNAPSHOT [--overlay PATH]... [--env NAME=VALUE]...`.
#[derive(clap::Args, Debug)]
pub struct SnapshotArgs {
    /// A bundle file, a directory of endpoint dumps, or a blueprint file or directory
    /// (default: the path in the environment variable BINDLOG_SNAPSHOT, so that a session
    /// working on one snapshot need not repeat it).
    #[arg(value_name = "SNAPSHOT", env = "BINDLOG_SNAPSHOT")]
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
    /// The snapshot's and overlays' paths that name files (not directories), as the loader
    /// names the files it reads.
    pub fn files_named(&self) -> Vec<String> {
        std::iter::once(&self.snapshot)
            .chain(&self.overlays)
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect()
    }

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
#[command(after_help = "Examples:
  bindlog check examples/acme/snapshot.json
  bindlog check snap/ --overlay change.yaml --env SMTP_HOST=mail.example.com
  bindlog check examples/acme/snapshot.json --format json   # the form of docs/outputs.md
  BINDLOG_SNAPSHOT=snap/ bindlog check                      # the snapshot from the environment

Exit status: 0 the snapshot loads (warnings included), 2 it does not (every problem is listed).")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Output forms of `check`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable summary.
    Text,
    /// One JSON object (docs/outputs.md, "check").
    Json,
}

/// Runs `bindlog check`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    warn_if_no_users(&loaded.snapshot);
    match args.format {
        Format::Text => print!("{}", render(&loaded)),
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&loaded)).unwrap_or_default()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// Says on stderr that a snapshot without users gives no user-level answers: blueprints alone
/// (authentik's stock ones included) hold none, and every per-user count would read 0.
pub fn warn_if_no_users(snapshot: &bindlog::snapshot::Snapshot) {
    if snapshot.users.is_empty() {
        eprintln!(
            "warning: the snapshot holds no users (blueprints alone hold none): every answer \
             about users is empty and only the anonymous visitor can be analysed; load \
             `core/users` too (a snapshot from `bindlog fetch` or the API) for answers about users"
        );
    }
}

/// The machine form of `check` (docs/outputs.md): what `render` prints, as one JSON object.
pub fn to_json(loaded: &Loaded) -> serde_json::Value {
    use serde_json::json;
    let s = &loaded.snapshot;
    let r = &loaded.report;
    let objects: serde_json::Map<String, serde_json::Value> = s
        .counts()
        .into_iter()
        .map(|(endpoint, n)| (endpoint.to_string(), json!(n)))
        .collect();
    let defaults: Vec<serde_json::Value> = r
        .defaults
        .iter()
        .map(|((endpoint, field, value, why), n)| {
            json!({"endpoint": endpoint, "field": field, "value": value, "objects": n, "why": why})
        })
        .collect();
    let warnings: Vec<serde_json::Value> = r
        .warnings
        .iter()
        .map(|w| json!({"location": w.loc.to_string(), "message": w.message}))
        .collect();
    json!({
        "authentik_version": s.version.as_ref().map(ToString::to_string),
        "files": r.files,
        "objects": objects,
        "not_modelled": s.others,
        "defaults": defaults,
        "warnings": warnings,
    })
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
    // The optional endpoints each question needs: with none of their objects, bindlog cannot
    // answer it (an older authentik, or an endpoint left out of the snapshot).
    let unanswerable: Vec<String> = [
        (
            s.notification_rules.is_empty(),
            "events/rules",
            "who --notified-of",
        ),
        (
            s.rac_endpoints.is_empty(),
            "rac/endpoints",
            "access --endpoint",
        ),
        (
            s.devices.is_empty(),
            "endpoints/devices",
            "access --device, who --device",
        ),
        (s.sources.is_empty(), "sources/all", "access --source"),
        (
            s.providers.is_empty(),
            "providers/all",
            "access --provider, the provider's flows in access --flows",
        ),
        (
            s.brands.is_empty(),
            "core/brands",
            "the brand's flows in plan --host and access --flows",
        ),
    ]
    .into_iter()
    .filter(|(none, _, _)| *none)
    .map(|(_, endpoint, question)| format!("  {question}: no objects from `{endpoint}`"))
    .collect();
    if !unanswerable.is_empty() {
        let _ = writeln!(out, "\nquestions this snapshot cannot answer:");
        for line in unanswerable {
            let _ = writeln!(out, "{line}");
        }
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
