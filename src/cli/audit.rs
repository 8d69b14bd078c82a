//! `bindlog audit`: the misconfigurations of a snapshot (docs/audit-catalogue.md), as text, JSON, SARIF or
//! Markdown, with CI exit codes, user rules and suppressions.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::audit::suppress::{self, Date};
use bindlog::audit::{self, AuditOptions, Severity, render};
use miette::miette;
use std::path::PathBuf;
use std::process::ExitCode;

/// Output forms of `bindlog audit`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Readable text.
    Text,
    /// The JSON array of docs/outputs.md.
    Json,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
    /// Markdown, for tickets and pull requests.
    Markdown,
}

/// A severity on the command line.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// info and above (any finding).
    Info,
    /// low and above.
    Low,
    /// medium and above.
    Medium,
    /// high and above.
    High,
    /// critical only.
    Critical,
}

impl Level {
    /// The library's severity.
    pub fn severity(self) -> Severity {
        match self {
            Level::Info => Severity::Info,
            Level::Low => Severity::Low,
            Level::Medium => Severity::Medium,
            Level::High => Severity::High,
            Level::Critical => Severity::Critical,
        }
    }
}

/// Flags of `bindlog audit`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Findings (rules/audit/*.dl): AK-B01..B07, B09 bindings; AK-P01..P07 planning; \
AK-M01..M06 MFA; AK-D01..D03 users and groups.

Your own findings (--rules my.dl) write the `finding` relation:
  finding_rule(\"MY-01\", \"superuser outside IT\", \"Move the account into IT.\").
  finding(\"MY-01\", \"high\", \"user\", U, cat(\"user \", N, \" is a superuser outside IT\")) :-
      superuser(U), user(U, N, _), !member(U, \"<IT group pk>\").
  finding(RULE, SEVERITY, KIND, PK, MESSAGE): SEVERITY is info|low|medium|high|critical; KIND is
  flow, stage, flow_binding, policy, policy_binding, application, group, user, source or brand.
  finding_object(RULE, PK, KIND, OTHER) adds objects to the finding about PK.

Suppressions (--suppressions FILE), one JSON object per line (# comments allowed):
  {\"rule\": \"AK-B01\", \"object\": \"status-page\", \"justification\": \"public by design\", \"expires\": \"2027-06-30\"}
  `object` is the pk or name of the finding's first object (absent: every finding of the rule);
  after `expires` the suppression stops silencing and a warning is printed.

Exit status: 0, or 1 when a finding at or above --fail-on remains; 2 for bad input.

Examples:
  bindlog audit examples/acme/snapshot.json
  bindlog audit examples/acme/snapshot.json --format sarif > audit.sarif
  bindlog audit snap/ --fail-on high --suppressions accepted.jsonl --rules my.dl"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    #[command(flatten)]
    limits: super::LimitArgs,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Exit with status 1 when a finding of this severity or above remains.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    fail_on: Option<Level>,
    /// Datalog files with your own findings (the `finding` relation); repeatable.
    #[arg(long = "rules", value_name = "FILE.dl")]
    rules: Vec<PathBuf>,
    /// Accepted findings to silence (JSON Lines, see below).
    #[arg(long, value_name = "FILE")]
    suppressions: Option<PathBuf>,
    /// Print each finding's proof under it in the text form (the other forms always carry it).
    #[arg(long)]
    explain: bool,
}

/// Reads the user's rule files as `(name, text)`.
pub fn read_rules(paths: &[PathBuf]) -> Result<Vec<(String, String)>, miette::Report> {
    paths
        .iter()
        .map(|p| {
            std::fs::read_to_string(p)
                .map(|t| (p.display().to_string(), t))
                .map_err(|e| miette!("cannot read `{}`: {e}", p.display()))
        })
        .collect()
}

/// Runs `bindlog audit`.
pub fn run(args: Args) -> Outcome {
    let suppressions = match &args.suppressions {
        Some(p) => match suppress::load(p) {
            Ok(s) => s,
            Err(e) => return Ok(super::bad_input(&e)),
        },
        None => Vec::new(),
    };
    let start = std::time::Instant::now();
    args.limits.bound_process()?;
    let loaded = args.snapshot.load()?;
    bindlog::analysis::bulk::timing("audit: loaded", start);
    let options = AuditOptions {
        rules: read_rules(&args.rules)?,
        explain: args.format != Format::Text || args.explain,
        ..AuditOptions::default()
    };
    let result = match audit::run(&loaded.snapshot, &options) {
        Ok(a) => a,
        Err(rendered) => return Ok(super::bad_input(&rendered)),
    };
    for note in &result.notes {
        eprintln!("warning: {note}");
    }
    let applied = suppress::apply(result.findings, &suppressions, Date::today());
    for w in &applied.warnings {
        eprintln!("warning: {w}");
    }
    let findings = &applied.kept;
    let suppressed = applied.suppressed.len();
    match args.format {
        Format::Text => print!(
            "{}",
            render::text(findings, &result.rules, suppressed, args.explain)
        ),
        Format::Json => {
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            render::write_json(findings, &mut out)
                .map_err(std::io::Error::from)
                .and_then(|()| std::io::Write::write_all(&mut out, b"\n"))
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(|e| miette!("cannot write the findings: {e}"))?;
        }
        Format::Sarif => {
            // Written as it is serialized: at a million users one result names most of them.
            let artifact = args.snapshot.snapshot.display().to_string();
            let log = render::sarif(findings, &result.rules, &artifact);
            let mut out = std::io::BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            serde_json::to_writer_pretty(&mut out, &log)
                .map_err(std::io::Error::from)
                .and_then(|()| std::io::Write::write_all(&mut out, b"\n"))
                .and_then(|()| std::io::Write::flush(&mut out))
                .map_err(|e| miette!("cannot write the SARIF log: {e}"))?;
        }
        Format::Markdown => print!("{}", render::markdown(findings, &result.rules, suppressed)),
    }
    bindlog::analysis::bulk::timing("audit: printed", start);
    let tripped = args
        .fail_on
        .is_some_and(|l| findings.iter().any(|f| f.severity >= l.severity()));
    Ok(if tripped {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
