//! `bindlog generate`: write a synthetic snapshot (bundle form).

use super::Outcome;
use bindlog::snapshot::synth;
use miette::IntoDiagnostic;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog generate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Number of users (other sizes scale with it).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Seed: the same flags and seed give the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Number of groups (default: scaled from --users).
    #[arg(long)]
    groups: Option<usize>,
    /// Most parents per group.
    #[arg(long)]
    max_parents: Option<usize>,
    /// Number of applications (default: scaled from --users).
    #[arg(long)]
    apps: Option<usize>,
    /// authentik version written in `meta`.
    #[arg(long)]
    version: Option<String>,
    /// Write the example organisation of `examples/acme` instead.
    #[arg(long, conflicts_with_all = ["users", "groups", "apps"])]
    acme: bool,
    /// Output file (`-` for stdout).
    #[arg(short, long, default_value = "-")]
    output: PathBuf,
}

/// Runs `bindlog generate`.
pub fn run(args: Args) -> Outcome {
    let out: Box<dyn Write> = if args.output.as_os_str() == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(std::fs::File::create(&args.output).into_diagnostic()?)
    };
    let mut out = std::io::BufWriter::new(out);
    if args.acme {
        serde_json::to_writer_pretty(&mut out, &synth::acme()).into_diagnostic()?;
        out.write_all(b"\n").into_diagnostic()?;
    } else {
        let mut p = synth::Params::scaled(args.users, args.seed);
        p.groups = args.groups.unwrap_or(p.groups).max(1);
        p.max_parents = args.max_parents.unwrap_or(p.max_parents);
        p.apps = args.apps.unwrap_or(p.apps);
        if let Some(v) = args.version {
            p.version = v;
        }
        synth::write_bundle(&p, &mut out).into_diagnostic()?;
    }
    out.flush().into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}
