//! `bindlog access`: may this user open this application (or RAC endpoint, device, source
//! connect button, LDAP/RADIUS bind)?

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::Format;
use bindlog::analysis::{Model, Subjects, find_user};
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog access`.
#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("target").required(true).args(["app", "endpoint", "device", "source", "provider"])),
    after_help = "Examples:
  bindlog access examples/acme/snapshot.json --app grafana --user ada.nguyen --format json
  the login path to an application, and whether it shows MFA:
    bindlog access examples/acme/snapshot.json --app grafana --user ada.nguyen --flows
  a RAC endpoint (application access, authorization flow, the endpoint's own bindings):
    bindlog access examples/acme/snapshot.json --endpoint build-server --user ada.nguyen
  a device (agent login: its access group's bindings, else its own):
    bindlog access examples/acme/snapshot.json --device ada-laptop --user ada.nguyen
  a source's connect button in user settings (never enforcement):
    bindlog access examples/acme/snapshot.json --source github --user ada.nguyen
  an LDAP or RADIUS bind (bind flow, stages the outpost cannot answer, MFA, application):
    bindlog access examples/acme/snapshot.json --provider directory --user ada.nguyen"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The application's slug.
    #[arg(long, value_name = "SLUG")]
    app: Option<String>,
    /// With --app: the flows on the way (login flow and its MFA, authorization, invalidation).
    #[arg(long, requires = "app")]
    flows: bool,
    /// The host the visitor opens (picks the brand, for --flows).
    #[arg(long, value_name = "HOST", requires = "flows")]
    host: Option<String>,
    /// A RAC endpoint (name or pk).
    #[arg(long, value_name = "NAME")]
    endpoint: Option<String>,
    /// A device (name or device_uuid).
    #[arg(long, value_name = "NAME")]
    device: Option<String>,
    /// A source (slug or pk): is the user offered it to connect?
    #[arg(long, value_name = "SLUG")]
    source: Option<String>,
    /// An LDAP or RADIUS provider (name or pk).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
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
    let asked: Vec<(&str, Vec<String>)> = args
        .host
        .iter()
        .map(|h| ("host_asked", vec![h.clone()]))
        .collect();
    let model = Model::answering(&loaded.snapshot, &Subjects::Only(vec![pk.clone()]), &asked)
        .map_err(|e| miette!("{e}"))?;
    let answer = if let Some(e) = &args.endpoint {
        model.endpoint_answer(e, &pk, &username)
    } else if let Some(d) = &args.device {
        model.device_answer(d, &pk, &username)
    } else if let Some(s) = &args.source {
        model.source_answer(s, &pk, &username)
    } else if let Some(p) = &args.provider {
        model.provider_answer(p, &pk, &username)
    } else if let (Some(app), true) = (&args.app, args.flows) {
        model.app_flows_answer(app, &pk, &username)
    } else {
        return app_access(
            &model,
            args.app.as_deref().unwrap_or_default(),
            &args,
            &pk,
            &username,
        );
    }
    .map_err(|e| miette!("{e}"))?;
    match args.format {
        Format::Json => println!("{answer}"),
        Format::Text => print!("{}", text(&answer)),
    }
    Ok(ExitCode::SUCCESS)
}

/// A JSON answer as `key: value` lines, nested objects indented.
fn text(v: &serde_json::Value) -> String {
    fn walk(v: &serde_json::Value, indent: usize, out: &mut String) {
        if let serde_json::Value::Object(m) = v {
            for (k, x) in m {
                match x {
                    serde_json::Value::Object(_) => {
                        out.push_str(&format!("{:indent$}{k}:\n", ""));
                        walk(x, indent + 2, out);
                    }
                    serde_json::Value::String(s) => {
                        out.push_str(&format!("{:indent$}{k}: {s}\n", ""))
                    }
                    serde_json::Value::Null => out.push_str(&format!("{:indent$}{k}: -\n", "")),
                    other => out.push_str(&format!("{:indent$}{k}: {other}\n", "")),
                }
            }
        }
    }
    let mut out = String::new();
    walk(v, 0, &mut out);
    out
}

/// `access --app` without `--flows`: the application's answer and its entitlements.
fn app_access(model: &Model, app: &str, args: &Args, pk: &str, username: &str) -> Outcome {
    let access = model.access(app, pk).map_err(|e| miette!("{e}"))?;
    let entitlements = model.entitlements(app, pk).map_err(|e| miette!("{e}"))?;
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::json!({
                "app": app,
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
                app
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
