//! `bindlog deferred`: every binding whose outcome is left to run time, by flow and application.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::Format;
use bindlog::analysis::Model;
use bindlog::analysis::deferral::{Concerns, Deferral, READ};
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog deferred`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:\n  bindlog deferred examples/acme/snapshot.json")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `bindlog deferred`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let snapshot = &loaded.snapshot;
    // Read per local class of each flow and application where every row is the same for its
    // users; else from the model of every user by class.
    let deferral = match Deferral::everyone(snapshot).map_err(|e| miette!("{e}"))? {
        Some(d) => d,
        None => {
            let model = Model::everyone_reading(snapshot, &[], &[], &READ, &[])
                .map_err(|e| miette!("{e}"))?;
            Deferral::of_model(&model)
        }
    };
    let users = snapshot.users.len();
    let describe = |c: &Concerns| {
        let n = c.waiting;
        let anon = if c.anonymous {
            " and the anonymous visitor"
        } else {
            ""
        };
        let rest = if c.evaluated > n {
            format!(
                " (it is evaluated for {}; for the other {} another binding already decides)",
                c.evaluated,
                c.evaluated - n
            )
        } else {
            String::new()
        };
        format!("the answer waits on it for {n} of {users} users{anon}{rest}")
    };
    let groups = &deferral.bindings;
    let labels = &deferral.labels;
    match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = groups
                .iter()
                .map(|((kind, slug, b, why), c)| {
                    serde_json::json!({
                        kind.to_string(): slug,
                        "binding": if b.is_empty() { serde_json::Value::Null } else { serde_json::json!(b) },
                        "reason": why,
                        "users": c.waiting,
                        "evaluated_for": c.evaluated,
                        "anonymous": c.anonymous,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&rows).unwrap_or_default()
            );
        }
        Format::Text => {
            if groups.is_empty() {
                println!("every decision is known from the configuration");
            }
            let mut last = None;
            for ((kind, slug, b, why), c) in groups {
                if last != Some((kind, slug)) {
                    println!("{kind} {slug}");
                    last = Some((kind, slug));
                }
                let what = if b.is_empty() {
                    "the flow's gate".to_string()
                } else {
                    labels.object(b)
                };
                println!("  {what} ({b}): {why}; {}", describe(c));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
