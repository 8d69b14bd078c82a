//! `bindlog deferred`: every binding whose outcome is left to run time, by flow and application.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::Format;
use bindlog::analysis::Model;
use miette::miette;
use std::collections::BTreeMap;
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
    let model = Model::everyone_reading(&loaded.snapshot, &[], &[], &["deferred", "open_binding"])
        .map_err(|e| miette!("{e}"))?;
    let labels = model.labels();
    let users = loaded.snapshot.users.len();
    let flows: BTreeMap<String, String> = model.names("flow");
    let entries: BTreeMap<String, String> = model.names("default_entry");
    // (kind, slug, binding, reason) -> subjects concerned, with the users each stands for
    let mut groups: BTreeMap<(&str, String, String, String), BTreeMap<String, u64>> =
        BTreeMap::new();
    for r in model.rows("deferred") {
        if entries.get(&r[0]) != Some(&r[1]) {
            continue;
        }
        let slug = flows.get(&r[0]).cloned().unwrap_or_default();
        groups
            .entry(("flow", slug, r[3].clone(), r[4].clone()))
            .or_default()
            .insert(r[2].clone(), model.weight_in(&r[0], &r[2]));
    }
    let apps: BTreeMap<String, String> = model.names("application");
    for r in model.rows("open_binding") {
        if let Some(slug) = apps.get(&r[0])
            && r[2] == "app"
            && r[1] != "anon"
        {
            groups
                .entry(("application", slug.clone(), r[3].clone(), r[4].clone()))
                .or_default()
                .insert(r[1].clone(), model.weight_in(&r[0], &r[1]));
        }
    }
    // Each subject is one identity class: it concerns as many users as its class holds.
    let count = |who: &BTreeMap<String, u64>| -> u64 {
        who.iter()
            .filter(|(s, _)| *s != "anon")
            .map(|(_, w)| *w)
            .sum()
    };
    let describe = |who: &BTreeMap<String, u64>| {
        let n = count(who);
        let anon = if who.contains_key("anon") {
            " and the anonymous visitor"
        } else {
            ""
        };
        format!("{n} of {users} users{anon}")
    };
    match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = groups
                .iter()
                .map(|((kind, slug, b, why), who)| {
                    serde_json::json!({
                        kind.to_string(): slug,
                        "binding": if b.is_empty() { serde_json::Value::Null } else { serde_json::json!(b) },
                        "reason": why,
                        "users": count(who),
                        "anonymous": who.contains_key("anon"),
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
            for ((kind, slug, b, why), who) in &groups {
                if last != Some((kind, slug)) {
                    println!("{kind} {slug}");
                    last = Some((kind, slug));
                }
                let what = if b.is_empty() {
                    "the flow's gate".to_string()
                } else {
                    labels.get(b).cloned().unwrap_or_else(|| b.clone())
                };
                println!("  {what} ({b}): {why}; concerns {}", describe(who));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
