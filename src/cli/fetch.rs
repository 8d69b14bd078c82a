//! `bindlog fetch`: download a snapshot (directory form) from a running authentik.

use super::Outcome;
use bindlog::snapshot::fetch::{self, FetchOptions};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Flags of `bindlog fetch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Base URL of the authentik server, e.g. https://auth.example.com.
    #[arg(long)]
    url: String,
    /// Name of the environment variable holding the API token (the token itself is never a flag).
    #[arg(long, value_name = "VAR", default_value = "AUTHENTIK_TOKEN")]
    token_env: String,
    /// Output directory (directory form of a snapshot). It is written beside, then renamed
    /// into place: an earlier fetch there is replaced whole, and a failed fetch leaves it as it
    /// was. A non-empty directory without `meta.json` is refused.
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    /// Attempts per request when the failure is transient.
    #[arg(long, default_value_t = 4)]
    attempts: u32,
    /// First wait before a retry, in milliseconds (doubled each retry).
    #[arg(long, default_value_t = 500)]
    backoff_ms: u64,
    /// Allow sending the token over plain http:// to a host that is not this machine.
    /// Without it such a URL is refused; loopback addresses (127.0.0.1, ::1, localhost) are
    /// always allowed.
    #[arg(long)]
    insecure_http: bool,
    /// PEM file of CA certificates to trust instead of the built-in (Mozilla) roots, for an
    /// instance with a private CA.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
}

/// Runs `bindlog fetch`.
pub fn run(args: Args) -> Outcome {
    let token = match std::env::var(&args.token_env) {
        Ok(t) if !t.is_empty() => t,
        _ => {
            return Err(miette::miette!(
                help = "export the token first, e.g. `export AUTHENTIK_TOKEN=...`, or name another variable with `--token-env`",
                "environment variable `{}` is not set",
                args.token_env
            ));
        }
    };
    let mut opts = FetchOptions::new(&args.url, token, &args.output);
    opts.attempts = args.attempts;
    opts.backoff = Duration::from_millis(args.backoff_ms);
    opts.insecure_http = args.insecure_http;
    opts.ca_cert = args.ca_cert;
    let summary = fetch::fetch(opts).map_err(miette::Report::new)?;
    eprintln!(
        "fetched authentik {} into {}",
        summary.version.as_deref().unwrap_or("(version unknown)"),
        args.output.display()
    );
    for (endpoint, n) in &summary.counts {
        eprintln!("  {endpoint:<32} {n:>8}");
    }
    if !summary.missing.is_empty() {
        eprintln!(
            "  not on this server (optional): {}",
            summary.missing.join(", ")
        );
    }
    if summary.retries > 0 {
        eprintln!(
            "  {} request(s) retried after transient failures",
            summary.retries
        );
    }
    Ok(ExitCode::SUCCESS)
}
