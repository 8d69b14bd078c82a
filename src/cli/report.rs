//! `bindlog report`: an auditor's report of a whole snapshot, as one HTML page or CSV files.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::audit::{self, AuditOptions};
use bindlog::report::{self, Findings};
use miette::miette;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog report`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "The HTML report is one self-contained file (inline CSS, no script, no network): \
provenance (input files with their SHA-256, authentik version, assumed defaults, time, bindlog \
version), summary counts, per application who may open it and the group path that grants it, per \
flow the stage matrix by group, superusers (inherited through group ancestry included), findings \
with their explanations, and a signature block.

The time stamp is the only part that changes between runs on the same input; fix it with \
--timestamp or the SOURCE_DATE_EPOCH environment variable for byte-identical output.

--format csv-dir writes the same tables into a directory: provenance.csv, files.csv, \
defaults.csv, summary.csv, app_classes.csv, app_groups.csv, app_access.csv, flow_classes.csv, \
flow_stages.csv, privileged.csv and findings.csv (only when findings were computed).

On a large snapshot (more users than --per-user-limit) the report summarises: per application \
the classes of users that share an answer and the way to it, per flow the ways through it, and \
the largest groups. app_access.csv then holds its header only, and summary.csv's `detail` row \
says what was left out. `bindlog who --app SLUG` lists one application's users at any size.

Examples:
  bindlog report examples/acme/snapshot.json -o report.html
  SOURCE_DATE_EPOCH=0 bindlog report examples/acme/snapshot.json -o report.html
  bindlog report examples/acme/snapshot.json --format csv-dir -o report/"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Write CSV cells byte for byte. By default a cell that starts with `=`, `+`, `-`, `@`, a
    /// tab or a carriage return (and is not a number) gets a leading `'`, so that a spreadsheet
    /// shows a name such as `=HYPERLINK(...)` as text instead of running it.
    #[arg(long)]
    raw_csv: bool,
    #[command(flatten)]
    limits: super::LimitArgs,
    /// Where to write: the HTML file (`-` for stdout), or the directory for csv-dir.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Html)]
    format: Format,
    /// The time stamp to print instead of now: seconds since 1970 or `YYYY-MM-DDTHH:MM:SSZ`
    /// (overrides SOURCE_DATE_EPOCH).
    #[arg(long, value_name = "TIME", value_parser = parse_timestamp)]
    timestamp: Option<String>,
    /// Leave the findings out (the report then says "findings: not computed"), e.g. when the
    /// audit's proofs take too long on a very large snapshot.
    #[arg(long)]
    no_findings: bool,
    /// Your own finding rules (Datalog, see `bindlog audit --help`), added to the catalogue.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// Hold a row per user and application, and a row for every group, only up to this many
    /// users [default: 5000 for html, 10000 for csv-dir]. Above it the report shows each
    /// application and flow by class of users (with counts and one user's explanation) and the
    /// largest groups, and says so in its summary.
    #[arg(long, value_name = "USERS")]
    per_user_limit: Option<usize>,
}

/// Output forms.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One self-contained HTML file.
    Html,
    /// A directory of CSV files, one per table.
    CsvDir,
}

fn parse_timestamp(s: &str) -> Result<String, String> {
    if let Ok(secs) = s.parse::<i64>() {
        return Ok(report::rfc3339(secs));
    }
    let re = regex::Regex::new(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$").expect("valid regex");
    if re.is_match(s) {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is neither seconds since 1970 nor a UTC time like 2026-11-27T23:00:00Z"
        ))
    }
}

/// The time stamp: `--timestamp`, else `SOURCE_DATE_EPOCH`, else now.
fn timestamp(flag: Option<String>) -> Result<String, miette::Report> {
    if let Some(t) = flag {
        return Ok(t);
    }
    if let Ok(v) = std::env::var("SOURCE_DATE_EPOCH") {
        let secs: i64 = v.trim().parse().map_err(|_| {
            miette!("SOURCE_DATE_EPOCH is `{v}`, expected a whole number of seconds since 1970")
        })?;
        return Ok(report::rfc3339(secs));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    Ok(report::rfc3339(now))
}

/// Runs `bindlog report`.
pub fn run(args: Args) -> Outcome {
    bindlog::escape::set_raw_csv(args.raw_csv);
    let generated = timestamp(args.timestamp.clone())?;
    args.limits.bound_process()?;
    let mut detail = match args.format {
        Format::Html => report::Detail::HTML,
        Format::CsvDir => report::Detail::CSV,
    };
    if let Some(n) = args.per_user_limit {
        detail.per_user_limit = n;
    }
    // The snapshot's file is hashed for the report's provenance while it is parsed.
    let ahead = report::Digests::ahead(args.snapshot.files_named());
    let loaded = args.snapshot.load()?;
    let timing = bindlog::analysis::bulk::timing;
    let start = std::time::Instant::now();
    let report = if args.no_findings {
        let findings = Findings::NotComputed("--no-findings was given".into());
        report::build(&loaded, findings, generated, &detail, ahead)
    } else {
        // The audit's model (built-in, audit and user rules, every user) serves the tables too.
        let options = AuditOptions {
            rules: super::audit::read_rules(&args.rules)?,
            ..AuditOptions::default()
        };
        // The counts of the other binding targets come from the same evaluation.
        let (name, text) = bindlog::analysis::COVERAGE;
        let with_coverage: Vec<(String, String)> = std::iter::once((name.into(), text.into()))
            .chain(options.rules.iter().cloned())
            .collect();
        // What names each access's reason, and every user's groups, depend on the snapshot
        // alone: they are read while the model is evaluated, on a core its steps leave idle.
        let (early, model) = report::Early::beside(&loaded.snapshot, |idle| {
            audit::evaluate_deciding(
                &loaded.snapshot,
                &with_coverage,
                &report::RELATIONS,
                &report::BY_CLASS,
                options.explain,
                Some(idle),
            )
        });
        model.and_then(|model| {
            let findings = || {
                let found = audit::findings_of(&model, &loaded.snapshot, &options)?;
                Ok(Findings::Computed(found.findings))
            };
            let report =
                report::build_with(&loaded, &model, findings, generated, &detail, ahead, early?);
            timing("report: built", start);
            report
        })
    }
    .map_err(|e| miette!("{e}"))?;
    timing("report: built and the evaluation dropped", start);
    if let Some(l) = &report.left_out {
        eprintln!(
            "note: {} users is above --per-user-limit {}: the report shows classes of users and \
             the {} largest of {} groups, not a row per user",
            l.users, l.limit, l.groups_shown, l.groups
        );
    }
    let start = std::time::Instant::now();
    match args.format {
        Format::Html => {
            let html = report::html::render(&report);
            timing("report: rendered", start);
            if args.output == std::path::Path::new("-") {
                print!("{html}");
            } else {
                std::fs::write(&args.output, html)
                    .map_err(|e| miette!("cannot write `{}`: {e}", args.output.display()))?;
            }
        }
        Format::CsvDir => {
            report::csv::write_dir(&report, &args.output).map_err(|e| miette!("{e}"))?;
        }
    }
    timing("report: written", start);
    Ok(ExitCode::SUCCESS)
}
