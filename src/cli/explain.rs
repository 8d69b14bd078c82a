//! `bindlog explain`: why a stage is shown, skipped or unknown for a user, or why a user may or
//! may not open an application, as a proof tree down to the snapshot's objects.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::{Entry, Format};
use bindlog::analysis::words::{Fold, Words, render, wrap};
use bindlog::analysis::{Model, Subjects, find_user};
use bindlog::datalog::provenance::to_json;
use bindlog::suggest;
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Two questions, one per run:
  why a stage is shown, skipped or unknown for a user (or, without --user, an anonymous visitor):
    bindlog explain examples/acme/snapshot.json --flow default-authentication-flow --user ada.nguyen \\
        --stage default-authentication-mfa-validation
  why a user may open an application or not:
    bindlog explain examples/acme/snapshot.json --app vault --user ada.nguyen
The answer comes first, in a sentence; then the proof, folded to the steps that decide it (--full
for every step with its rule's text; --format json for tools).")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug (with --stage).
    #[arg(long, value_name = "SLUG", conflicts_with = "app")]
    flow: Option<String>,
    /// The stage's name in that flow.
    #[arg(long, value_name = "NAME")]
    stage: Option<String>,
    /// The application's slug (instead of --flow and --stage).
    #[arg(long, value_name = "SLUG")]
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
    /// The whole proof: every step, with each rule's file, line and text.
    #[arg(long)]
    full: bool,
    /// Wrap the text to this many columns (default: the terminal's width, or 100 when the
    /// output is not a terminal).
    #[arg(long, value_name = "COLUMNS")]
    width: Option<usize>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The width text is wrapped to: the flag, else the terminal's, else a fixed 100 (so that
/// output written to a file or a test is the same everywhere).
fn width(flag: Option<usize>) -> usize {
    use std::io::IsTerminal;
    if let Some(w) = flag {
        return w;
    }
    if std::io::stdout().is_terminal()
        && let Some((terminal_size::Width(w), _)) = terminal_size::terminal_size()
    {
        return usize::from(w);
    }
    100
}

/// Runs `bindlog explain`.
pub fn run(args: Args) -> Outcome {
    if args.app.is_none() && (args.flow.is_none() || args.stage.is_none()) {
        return Err(match (&args.flow, &args.stage) {
            (Some(flow), None) => miette!(
                help = format!(
                    "name the stage: bindlog explain SNAPSHOT --flow {flow} --stage NAME [--user USER]"
                ),
                "`--flow` needs `--stage`: explain answers for one stage of the flow"
            ),
            _ => miette!(
                help = "bindlog explain SNAPSHOT --flow SLUG --stage NAME [--user USER]   why a stage is shown, skipped or unknown\n\
                        bindlog explain SNAPSHOT --app SLUG --user USER                  why a user may open an application or not",
                "explain needs a question: a stage (`--flow` and `--stage`) or an application (`--app`)"
            ),
        });
    }
    let loaded = args.snapshot.load()?;
    let pk = match &args.user {
        Some(u) => Some(
            find_user(&loaded.snapshot, u)
                .map_err(|e| miette!("{e}"))?
                .0,
        ),
        None => None,
    };
    let subjects = Subjects::Only(pk.iter().cloned().collect());
    let model = match args.entry {
        Some(Entry::Source) => Model::entered_from_source(&loaded.snapshot, &subjects),
        _ => Model::new(&loaded.snapshot, &subjects),
    }
    .map_err(|e| miette!("{e}"))?;
    let subject = pk.clone().unwrap_or_else(|| "anon".to_string());
    let words = Words::new(&model);
    // The answer in a sentence or two, before any proof.
    let mut summary: Vec<String> = Vec::new();
    // The tuple to explain first, then (for a shown stage) the checks that pass.
    let mut queries: Vec<(&str, Vec<String>)> = Vec::new();
    if let Some(app) = &args.app {
        let user = pk.ok_or_else(|| {
            miette!("--app needs --user: application policies are evaluated for a logged-in user")
        })?;
        let a = model
            .application(app)
            .ok_or_else(|| miette!("{}", model.unknown_application(app)))?;
        let v = model
            .rows("decide")
            .into_iter()
            .find(|r| r[0] == a && r[1] == user && r[2] == "app")
            .map(|r| r[3].clone())
            .unwrap_or_else(|| "unknown".into());
        queries.push(("decide", vec![a.clone(), user.clone(), "app".into(), v]));
        summary.push(words.application(&a, &user));
        summary.push(format!("(application {app}, for {})", words.who(&user)));
        // Then, for each entitlement of the application, why the user holds it or not.
        for e in model.rows("entitlement").into_iter().filter(|r| r[1] == a) {
            let held = model
                .rows("entitled")
                .into_iter()
                .find(|r| r[0] == e[0] && r[1] == user)
                .map(|r| r[2].clone())
                .unwrap_or_else(|| "unknown".into());
            summary.push(format!("entitlement {}: {held}", e[2]));
            queries.push(("entitled", vec![e[0].clone(), user.clone(), held]));
        }
    } else {
        let slug = args.flow.as_deref().unwrap_or_default();
        let stage = args.stage.as_deref().unwrap_or_default();
        let (flow, _) = model
            .flow(slug)
            .ok_or_else(|| miette!("{}", model.unknown_flow(slug)))?;
        let names: std::collections::BTreeMap<String, String> = model.names("stage");
        let model_rows_fsb = model.rows("fsb");
        let fsb = model_rows_fsb
            .iter()
            .find(|r| r[1] == flow && names.get(&r[2]).is_some_and(|n| n == stage))
            .cloned()
            .ok_or_else(|| {
                let bound: Vec<&str> = model_rows_fsb
                    .iter()
                    .filter(|r| r[1] == flow)
                    .filter_map(|r| names.get(&r[2]).map(String::as_str))
                    .collect();
                miette!(
                    "{}",
                    suggest::unknown_in(
                        &format!("stage in flow `{slug}` named"),
                        stage,
                        &bound,
                        "the flow"
                    )
                )
            })?;
        let entry = match args.entry {
            // A source login starts without a session, as an anonymous visit does.
            Some(Entry::Anonymous | Entry::Source) => "anonymous".to_string(),
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
        let entered = if args.entry == Some(Entry::Source) {
            "entered from a source login"
        } else if entry == "anonymous" {
            "entered anonymously"
        } else {
            "entered logged in"
        };
        summary.push(words.stage(&fsb[0], &entry, &subject));
        summary.push(format!(
            "(stage {stage} at order {} of flow {slug}, for {}, {entered})",
            fsb[3],
            words.who(&subject)
        ));
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
        .explain_through_negations(&queries, args.depth)
        .map_err(|e| miette!("{e}"))?;
    let supporting = explanations.split_off(1);
    let explanation = &explanations[0];
    match args.format {
        Format::Text => {
            let fold = Fold {
                words: &words,
                width: width(args.width),
                full: args.full,
            };
            let mut out = String::new();
            for line in &summary {
                wrap("", "", line, fold.width, &mut out);
            }
            out.push_str(if args.full {
                "\nthe whole proof:\n"
            } else {
                "\nwhy (the deciding steps; --full shows every step and rule):\n"
            });
            out.push_str(&render(explanation, &fold));
            if !supporting.is_empty() {
                out.push_str(if args.app.is_some() {
                    "\nand its entitlements:\n"
                } else {
                    "\nand every part that is checked passes:\n"
                });
                for s in &supporting {
                    out.push_str(&render(s, &fold));
                }
            }
            print!("{out}");
        }
        Format::Json => {
            let labels = model.labels();
            let mut v = to_json(explanation);
            v["summary"] = serde_json::json!(summary.join("\n"));
            v["labels"] = serde_json::to_value(&labels).unwrap_or_default();
            v["supporting"] = serde_json::Value::Array(supporting.iter().map(to_json).collect());
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}
