//! `bindlog explain`: why a stage is shown, skipped or unknown for a user, or why a user may or
//! may not open an application, as a proof tree down to the snapshot's objects.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::{Entry, Format};
use bindlog::analysis::views::{
    ANON, AppLoginFlow, Applicable, Decide, DefaultEntry, DeviceAccess, Entitled, Entitlement, Fsb,
    FsbEvaluateOnPlan, JourneyAnswer, NotificationRule, RuleFires, RunResult, SourceOffered, View,
    Visible, read_as,
};
use bindlog::analysis::words::{Fold, Words, render, wrap};
use bindlog::analysis::{Model, Subjects, find_user};
use bindlog::datalog::provenance::to_json;
use bindlog::suggest;
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog explain`.
#[derive(clap::Args, Debug)]
#[command(after_help = "One question per run:
  why a stage is shown, skipped or unknown for a user (or, without --user, an anonymous visitor):
    bindlog explain examples/acme/snapshot.json --flow default-authentication-flow --user ada.nguyen \\
        --stage default-authentication-mfa-validation
  why a user may open an application or not:
    bindlog explain examples/acme/snapshot.json --app vault --user ada.nguyen
  the other binding targets, each proved with its parts:
    bindlog explain examples/acme/snapshot.json --endpoint build-server --user ada.nguyen
    bindlog explain examples/acme/snapshot.json --device ada-laptop --user ada.nguyen
    bindlog explain examples/acme/snapshot.json --source github --user ada.nguyen
    bindlog explain examples/acme/snapshot.json --provider directory --user ada.nguyen
    bindlog explain examples/acme/snapshot.json --app grafana --flows --user ada.nguyen
    bindlog explain examples/acme/snapshot.json --notified-of login_failed --user ada.nguyen
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
    /// With --app: prove the login flow picked for the application and its MFA for the user.
    #[arg(long, requires = "app")]
    flows: bool,
    /// A RAC endpoint (name or pk): why the user may open it or not.
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
    /// A device (name or device_uuid): why the user may log in on it or not.
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// A source (slug or pk): why the user is offered it to connect or not.
    #[arg(long, value_name = "SLUG")]
    source: Option<String>,
    /// An LDAP or RADIUS provider (name or pk): why the user can bind or not.
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// An event action: why each notification rule fires or not for an event of the user
    /// (without --user: an event without a user).
    #[arg(long, value_name = "ACTION")]
    notified_of: Option<String>,
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
    let other_target = args.endpoint.is_some()
        || args.device.is_some()
        || args.source.is_some()
        || args.provider.is_some()
        || args.notified_of.is_some();
    if !other_target && args.app.is_none() && (args.flow.is_none() || args.stage.is_none()) {
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
    let asked: Vec<(&str, Vec<String>)> = match args.entry {
        Some(Entry::Source) => vec![("query_entry", vec!["source".into()])],
        _ => Vec::new(),
    };
    let model =
        Model::answering(&loaded.snapshot, &subjects, &asked).map_err(|e| miette!("{e}"))?;
    let subject = pk.clone().unwrap_or_else(|| ANON.to_string());
    let words = Words::new(&model);
    // The answer in a sentence or two, before any proof.
    let mut summary: Vec<String> = Vec::new();
    // The tuple to explain first, then (for a shown stage) the checks that pass.
    let mut queries: Vec<(&str, Vec<String>)> = Vec::new();
    let targeted = target_queries(&args, &model, pk.as_deref())?;
    let is_target = !targeted.is_empty();
    if is_target {
        summary.extend(
            targeted
                .iter()
                .take(1)
                .map(|(rel, t)| target_words(&words, rel, t)),
        );
        queries = targeted;
    } else if let Some(app) = &args.app {
        let user = pk.ok_or_else(|| {
            miette!("--app needs --user: application policies are evaluated for a logged-in user")
        })?;
        let a = model
            .application(app)
            .ok_or_else(|| miette!("{}", model.unknown_application(app)))?;
        let v = model
            .view::<Decide>()
            .into_iter()
            .find(|r| r.target == a && r.identity == user && r.context == "app")
            .map_or_else(|| "unknown".into(), |r| r.value);
        queries.push(("decide", vec![a.clone(), user.clone(), "app".into(), v]));
        summary.push(words.application(&a, &user));
        summary.push(format!("(application {app}, for {})", words.who(&user)));
        // Then, for each entitlement of the application, why the user holds it or not.
        let entitled: Vec<Entitled> = model.view();
        for e in model
            .view::<Entitlement>()
            .into_iter()
            .filter(|r| r.app == a)
        {
            let held = entitled
                .iter()
                .find(|r| r.entitlement == e.entitlement && r.user == user)
                .map_or_else(|| "unknown".into(), |r| r.value.clone());
            summary.push(format!("entitlement {}: {held}", e.name));
            queries.push(("entitled", vec![e.entitlement, user.clone(), held]));
        }
    } else {
        let slug = args.flow.as_deref().unwrap_or_default();
        let stage = args.stage.as_deref().unwrap_or_default();
        let (flow, _) = model
            .flow(slug)
            .ok_or_else(|| miette!("{}", model.unknown_flow(slug)))?;
        let names: std::collections::BTreeMap<String, String> = model.names("stage", "name");
        let fsbs: Vec<Fsb> = model.view();
        let fsb = fsbs
            .iter()
            .find(|r| r.flow == flow && names.get(&r.stage).is_some_and(|n| n == stage))
            .cloned()
            .ok_or_else(|| {
                let bound: Vec<&str> = fsbs
                    .iter()
                    .filter(|r| r.flow == flow)
                    .filter_map(|r| names.get(&r.stage).map(String::as_str))
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
        if args.entry == Some(Entry::Source) {
            super::plan::source_entry(&model, slug)?;
        }
        let entry = match args.entry {
            // A source login starts without a session, as an anonymous visit does.
            Some(Entry::Anonymous | Entry::Source) => "anonymous".to_string(),
            Some(Entry::Authenticated) => "authenticated".to_string(),
            None => model
                .view::<DefaultEntry>()
                .into_iter()
                .find(|r| r.flow == flow)
                .map_or_else(|| "authenticated".into(), |r| r.entry),
        };
        let x = &fsb.binding;
        let v = model
            .view::<Visible>()
            .into_iter()
            .find(|r| r.binding == *x && r.entry == entry && r.subject == subject)
            .map_or_else(|| "unknown".into(), |r| r.value);
        let entered = if args.entry == Some(Entry::Source) {
            "entered from a source login"
        } else if entry == "anonymous" {
            "entered anonymously"
        } else {
            "entered logged in"
        };
        summary.push(words.stage(x, &entry, &subject));
        summary.push(format!(
            "(stage {stage} at order {} of flow {slug}, for {}, {entered})",
            fsb.order,
            words.who(&subject)
        ));
        queries.push((
            "visible",
            vec![x.clone(), entry.clone(), subject.clone(), v.clone()],
        ));
        // A shown stage holds because nothing fails: prove what each checked part gives too
        // (the flow applies, the plan-time check, the run-time check for each identity).
        if v == "shown" {
            let mut parts: Vec<(&str, Vec<String>)> = Vec::new();
            for r in model
                .view::<Applicable>()
                .into_iter()
                .filter(|r| r.flow == flow && r.entry == entry && r.subject == subject)
            {
                parts.push(("applicable", r.into_row()));
            }
            let plan_id = if entry == "anonymous" {
                ANON.to_string()
            } else {
                subject.clone()
            };
            if model
                .view::<FsbEvaluateOnPlan>()
                .iter()
                .any(|r| r.binding == *x)
            {
                for r in model.view::<Decide>().into_iter().filter(|r| {
                    r.target == *x && r.identity == plan_id && r.context == "stage_plan"
                }) {
                    parts.push(("decide", r.into_row()));
                }
            }
            for r in model
                .view::<RunResult>()
                .into_iter()
                .filter(|r| r.binding == *x && r.entry == entry && r.subject == subject)
            {
                parts.push(("run_result", r.into_row()));
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
                out.push_str(if is_target {
                    "\nand its parts:\n"
                } else if args.app.is_some() {
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
            v["labels"] = serde_json::to_value(labels.flat()).unwrap_or_default();
            v["user_labels"] = serde_json::to_value(&labels.users).unwrap_or_default();
            v["supporting"] = serde_json::Value::Array(supporting.iter().map(to_json).collect());
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The answer to a question about one of the other binding targets, in a sentence.
fn target_words(words: &Words, rel: &str, t: &[String]) -> String {
    let who = |u: &str| match u {
        "anonymous" => "no user (an anonymous event)".to_string(),
        u => words.who(u),
    };
    if let Some(a) = read_as::<JourneyAnswer>(rel, t) {
        let (target, user) = (words.label(&a.target), who(&a.user));
        return if rel == "endpoint_access" {
            format!("may {user} open {target}: {}", a.value)
        } else {
            format!("can {user} bind through {target}: {}", a.value)
        };
    }
    if let Some(d) = read_as::<DeviceAccess>(rel, t) {
        let (device, user) = (words.label(&d.device), who(&d.user));
        return format!("may {user} log in on {device}: {}", d.value);
    }
    if let Some(s) = read_as::<SourceOffered>(rel, t) {
        return format!(
            "is {} offered {} to connect: {} (a source binding gates no login)",
            who(&s.user),
            words.label(&s.source),
            s.value
        );
    }
    if let Some(r) = read_as::<RuleFires>(rel, t) {
        return format!(
            "does {} fire for a {} event of {}: {} (the other rules follow)",
            words.label(&r.rule),
            r.action,
            who(&r.user),
            r.value
        );
    }
    if let Some(l) = read_as::<AppLoginFlow>(rel, t) {
        if l.flow.is_empty() {
            return format!(
                "{} has no login flow: its provider names none, no brand does, and no \
                 authentication flow lets the anonymous visitor in",
                words.label(&l.app)
            );
        }
        return format!(
            "{} sends a visitor without a session to {} ({})",
            words.label(&l.app),
            words.label(&l.flow),
            match l.via.as_str() {
                "provider" => "its provider names it",
                "brand" => "its provider names none; the brand does",
                _ => "no provider or brand names one: the first authentication flow by slug",
            }
        );
    }
    format!("{rel}({})", t.join(", "))
}

/// The tuples that answer a question about one of the other binding targets, the answer first
/// and then its parts; empty for a stage or application question.
fn target_queries(
    args: &Args,
    model: &Model,
    user: Option<&str>,
) -> Result<Vec<(&'static str, Vec<String>)>, miette::Report> {
    let need_user = || {
        user.map(str::to_string)
            .ok_or_else(|| miette!("this question is about a logged-in user: give --user"))
    };
    // The rows of `rel` whose columns named in `key` (as the `.decl` names them) hold its values.
    let rows_of = |rel: &'static str,
                   key: &[(&str, &str)]|
     -> Result<Vec<(&'static str, Vec<String>)>, miette::Report> {
        let rows = model.rows_where(rel, key).map_err(|e| miette!("{e}"))?;
        Ok(rows.into_iter().map(|r| (rel, r)).collect())
    };
    let mut out = Vec::new();
    // The answer's rows, or where there are none the tuple `key` with value (`v`) yes to prove.
    let answer = |rel: &'static str,
                  key: &[(&str, &str)],
                  out: &mut Vec<(&'static str, Vec<String>)>|
     -> Result<(), miette::Report> {
        let found = rows_of(rel, key)?;
        if found.is_empty() {
            let with_value: Vec<(&str, &str)> = key.iter().copied().chain([("v", "yes")]).collect();
            let t = model.tuple(rel, &with_value).map_err(|e| miette!("{e}"))?;
            out.push((rel, t));
        } else {
            out.extend(found);
        }
        Ok(())
    };
    if let Some(e) = &args.endpoint {
        let u = need_user()?;
        let e = model
            .object("rac_endpoint", "name", e, "RAC endpoint")
            .map_err(|e| miette!("{e}"))?;
        answer("endpoint_access", &[("e", &e), ("u", &u)], &mut out)?;
        out.extend(rows_of("endpoint_part", &[("e", &e), ("u", &u)])?);
    } else if let Some(d) = &args.device {
        let u = need_user()?;
        let d = model
            .object("device", "name", d, "device")
            .map_err(|e| miette!("{e}"))?;
        answer("device_access", &[("d", &d), ("u", &u)], &mut out)?;
        out.extend(rows_of("device_side", &[("d", &d), ("u", &u)])?);
    } else if let Some(s) = &args.source {
        let u = need_user()?;
        let s = model
            .object("source", "slug", s, "source")
            .map_err(|e| miette!("{e}"))?;
        answer("source_offered", &[("s", &s), ("u", &u)], &mut out)?;
    } else if let Some(p) = &args.provider {
        let u = need_user()?;
        let p = model
            .object("provider", "name", p, "provider")
            .map_err(|e| miette!("{e}"))?;
        answer("bind_access", &[("p", &p), ("u", &u)], &mut out)?;
        out.extend(rows_of("bind_part", &[("p", &p), ("u", &u)])?);
    } else if let Some(action) = &args.notified_of {
        let u = user.unwrap_or("anonymous");
        for r in model.view::<NotificationRule>() {
            answer(
                "rule_fires",
                &[("r", &r.rule), ("a", action), ("u", u)],
                &mut out,
            )?;
        }
        if out.is_empty() {
            return Err(miette!(
                "the snapshot has no notification rule (is `events/rules` missing?)"
            ));
        }
    } else if let (Some(app), true) = (&args.app, args.flows) {
        let u = need_user()?;
        let a = model
            .application(app)
            .ok_or_else(|| miette!("no application with the slug `{app}`"))?;
        let login = rows_of("app_login_flow", &[("a", &a)])?;
        if login.is_empty() {
            let none = AppLoginFlow {
                app: a.clone(),
                flow: String::new(),
                via: "provider".into(),
            };
            out.push(("app_login_flow", none.into_row()));
        }
        out.extend(login);
        out.extend(rows_of("login_mfa", &[("a", &a), ("u", &u)])?);
    }
    Ok(out)
}
