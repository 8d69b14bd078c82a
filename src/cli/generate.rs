//! `bindlog generate`: write a synthetic snapshot (bundle form).

use super::Outcome;
use bindlog::snapshot::synth;
use miette::IntoDiagnostic;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog generate`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog generate --users 5000 -o small.json
  bindlog generate --preset 10k -o 10k.json     # 10,000 users, 400 groups, 20 flows
  bindlog generate --preset 100k -o 100k.json   # 100,000 users, 2,000 groups, 50 flows
  bindlog generate --preset 1m -o 1m.json       # 1,000,000 users, 10,000 groups, 200 flows, ~750 MB
  bindlog generate --preset 100k --targets -o t.json   # and providers, notification rules, RAC
                                                       # endpoints, devices, sources, brands
  bindlog generate --users 100 --authentik-version 2025.10.1 -o old.json")]
pub struct Args {
    /// A size of the bulk-analysis targets: 1k, 10k, 100k or 1m (groups, flows, stage and policy
    /// bindings scaled to match; --groups and --apps still override), bound as a deployment
    /// binds them: everyone logs in, MFA for some groups, applications open to teams, and a
    /// handful of planted misconfigurations (docs/cli.md).
    #[arg(long, value_parser = ["1k", "10k", "100k", "1m"], conflicts_with = "users")]
    preset: Option<String>,
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
    /// authentik version written in `meta` (the defaults and quirks of that version apply).
    #[arg(long, value_name = "VERSION")]
    authentik_version: Option<String>,
    /// Add the other binding targets: a provider per application, notification rules with
    /// destination groups, RAC endpoints, devices in access groups, sources and brands, bound to
    /// groups, users and event matchers (the rest of the file stays the same).
    #[arg(long)]
    targets: bool,
    /// Write the example organisation of `examples/acme` instead.
    #[arg(long, conflicts_with_all = ["users", "groups", "apps", "preset", "targets"])]
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
        let mut p = match &args.preset {
            Some(name) => synth::Params::preset(name, args.seed)
                .ok_or_else(|| miette::miette!("no preset `{name}`; use 1k, 10k, 100k or 1m"))?,
            None => synth::Params::scaled(args.users, args.seed),
        };
        p.groups = args.groups.unwrap_or(p.groups).max(1);
        p.max_parents = args.max_parents.unwrap_or(p.max_parents);
        p.apps = args.apps.unwrap_or(p.apps);
        p.targets = args.targets;
        if let Some(v) = args.authentik_version {
            p.version = v;
        }
        synth::write_bundle(&p, &mut out).into_diagnostic()?;
    }
    out.flush().into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}
