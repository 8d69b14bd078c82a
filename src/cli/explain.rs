//! `bindlog explain`: why a stage is shown, skipped or unknown for a user, or why a user may or
//! may not open an application, as a proof tree down to the snapshot's objects.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::{Entry, Format};
use bindlog::analysis::{Model, Subjects, find_user, label_text};
use bindlog::datalog::provenance::{render_text, to_json};
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog explain examples/acme/snapshot.json --flow default-authentication-flow --user ada.nguyen \\
      --stage default-authentication-mfa-validation
  bindlog explain examples/acme/snapshot.json --app vault --user ada.nguyen")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug (with --stage).
    #[arg(long, value_name = "SLUG", requires = "stage", conflicts_with = "app")]
    flow: Option<String>,
    /// The stage's name in that flow.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// The application's slug (instead of --flow and --stage).
    #[arg(long, value_name = "SLUG", required_unless_present = "flow")]
    app: Option<String>,
    /// The user (username or pk); without it, an anonymous visitor.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// How the visitor arrives at the flow (default: the flow's own way).
    #[arg(long, value_enum)]
    entry: Option<Entry>,
    /// How deep a why-not follows missing facts.
    #[arg(long, default_value_t = 4, value_name = "N")]
    depth: usize,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// Runs `bindlog explain`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let pk = match &args.user {
        Some(u) => Some(
            find_user(&loaded.snapshot, u)
                .map_err(|e| miette!("{e}"))?
                .0,
        ),
        None => None,
    };
    let model = Model::new(
        &loaded.snapshot,
        &Subjects::Only(pk.iter().cloned().collect()),
    )
    .map_err(|e| miette!("{e}"))?;
    let subject = pk.clone().unwrap_or_else(|| "anon".to_string());
    // The tuple to explain first, then (for a shown stage) the checks that pass.
    let mut queries: Vec<(&str, Vec<String>)> = Vec::new();
    if let Some(app) = &args.app {
        let user = pk.ok_or_else(|| {
            miette!("--app needs --user: application policies are evaluated for a logged-in user")
        })?;
        let a = model
            .application(app)
            .ok_or_else(|| miette!("no application with the slug `{app}`"))?;
        let v = model
            .rows("decide")
            .into_iter()
            .find(|r| r[0] == a && r[1] == user && r[2] == "app")
            .map(|r| r[3].clone())
            .unwrap_or_else(|| "unknown".into());
        queries.push(("decide", vec![a.clone(), user.clone(), "app".into(), v]));
        // Then, for each entitlement of the application, why the user holds it or not.
        for e in model.rows("entitlement").into_iter().filter(|r| r[1] == a) {
            let held = model
                .rows("entitled")
                .into_iter()
                .find(|r| r[0] == e[0] && r[1] == user)
                .map(|r| r[2].clone())
                .unwrap_or_else(|| "unknown".into());
            queries.push(("entitled", vec![e[0].clone(), user.clone(), held]));
        }
    } else {
        let slug = args.flow.as_deref().unwrap_or_default();
        let stage = args.stage.as_deref().unwrap_or_default();
        let (flow, _) = model
            .flow(slug)
            .ok_or_else(|| miette!("no flow with the slug `{slug}`"))?;
        let names: std::collections::BTreeMap<String, String> = model.names("stage");
        let fsb = model
            .rows("fsb")
            .into_iter()
            .find(|r| r[1] == flow && names.get(&r[2]).is_some_and(|n| n == stage))
            .ok_or_else(|| miette!("flow `{slug}` has no stage named `{stage}`"))?;
        let entry = match args.entry {
            Some(Entry::Anonymous) => "anonymous".to_string(),
            Some(Entry::Authenticated) => "authenticated".to_string(),
            None => model
                .rows("default_entry")
                .into_iter()
                .find(|r| r[0] == flow)
                .map(|r| r[1].clone())
                .unwrap_or_else(|| "authenticated".into()),
        };
        let v = model
            .rows("visible")
            .into_iter()
            .find(|r| r[0] == fsb[0] && r[1] == entry && r[2] == subject)
            .map(|r| r[3].clone())
            .unwrap_or_else(|| "unknown".into());
        queries.push((
            "visible",
            vec![fsb[0].clone(), entry.clone(), subject.clone(), v.clone()],
        ));
        // A shown stage holds because nothing fails: prove what each checked part gives too
        // (the flow applies, the plan-time check, the run-time check for each identity).
        if v == "shown" {
            let mut parts: Vec<(&str, Vec<String>)> = Vec::new();
            for r in model
                .rows("applicable")
                .into_iter()
                .filter(|r| r[0] == flow && r[1] == entry && r[2] == subject)
            {
                parts.push(("applicable", r));
            }
            let plan_id = if entry == "anonymous" {
                "anon".to_string()
            } else {
                subject.clone()
            };
            if model
                .rows("fsb_evaluate_on_plan")
                .iter()
                .any(|r| r[0] == fsb[0])
            {
                for r in model
                    .rows("decide")
                    .into_iter()
                    .filter(|r| r[0] == fsb[0] && r[1] == plan_id && r[2] == "stage_plan")
                {
                    parts.push(("decide", r));
                }
            }
            for r in model
                .rows("run_result")
                .into_iter()
                .filter(|r| r[0] == fsb[0] && r[1] == entry && r[2] == subject)
            {
                parts.push(("run_result", r));
            }
            queries.extend(parts);
        }
    }
    let mut explanations = model
        .explain_all(&queries, args.depth)
        .map_err(|e| miette!("{e}"))?;
    let supporting = explanations.split_off(1);
    let explanation = &explanations[0];
    let labels = model.labels();
    match args.format {
        Format::Text => {
            print!("{}", label_text(&render_text(explanation), &labels));
            if !supporting.is_empty() && args.app.is_some() {
                println!("\nand its entitlements:");
                for s in &supporting {
                    print!("{}", label_text(&render_text(s), &labels));
                }
            } else if !supporting.is_empty() {
                println!("\nand every part that is checked passes:");
                for s in &supporting {
                    print!("{}", label_text(&render_text(s), &labels));
                }
            }
        }
        Format::Json => {
            let mut v = to_json(explanation);
            v["labels"] = serde_json::to_value(&labels).unwrap_or_default();
            v["supporting"] = serde_json::Value::Array(supporting.iter().map(to_json).collect());
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}
