//! `bindlog access`: may this user open this application?

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::Format;
use bindlog::analysis::{Model, Subjects, find_user};
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog access`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Example:
  bindlog access examples/acme/snapshot.json --app grafana --user ada.nguyen --format json")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The application's slug.
    #[arg(long, value_name = "SLUG")]
    app: String,
    /// The user (username or pk), logged in.
    #[arg(long, value_name = "USER")]
    user: String,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `bindlog access`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let (pk, username) = find_user(&loaded.snapshot, &args.user).map_err(|e| miette!("{e}"))?;
    let model = Model::new(&loaded.snapshot, &Subjects::Only(vec![pk.clone()]))
        .map_err(|e| miette!("{e}"))?;
    let access = model.access(&args.app, &pk).map_err(|e| miette!("{e}"))?;
    let entitlements = model
        .entitlements(&args.app, &pk)
        .map_err(|e| miette!("{e}"))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "app": args.app,
                "user": username,
                "access": access,
                "entitlements": entitlements
                    .iter()
                    .map(|e| serde_json::json!({"name": e.name, "pk": e.pk, "granted": e.granted}))
                    .collect::<Vec<_>>(),
            })
        ),
        Format::Text => {
            println!(
                "{} {} open {}",
                username,
                if access == "yes" {
                    "may"
                } else if access == "no" {
                    "may not"
                } else {
                    "may or may not (decided at run time)"
                },
                args.app
            );
            if !entitlements.is_empty() {
                let list: Vec<String> = entitlements
                    .iter()
                    .map(|e| format!("{} {}", e.name, e.granted))
                    .collect();
                println!("entitlements: {}", list.join(", "));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
