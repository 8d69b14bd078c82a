//! `bindlog plan`: one identity through one flow, stage by stage.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::{Model, Subjects, find_user};
use miette::miette;
use std::process::ExitCode;

/// Flags of `bindlog plan`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  bindlog plan examples/acme/snapshot.json --flow default-authentication-flow --user ada.nguyen
  bindlog plan examples/acme/snapshot.json --flow default-authentication-flow --format json
  bindlog plan examples/acme/snapshot.json --flow default-source-authentication --user ada.nguyen --entry source
  the flow the brand of a host starts (longest matching domain, else the default brand; the
  brand's flow, else the first by slug that lets the visitor in):
    bindlog plan examples/acme/snapshot.json --host sso.acme.example --user ada.nguyen")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug.
    #[arg(
        long,
        value_name = "SLUG",
        required_unless_present = "host",
        conflicts_with = "host"
    )]
    flow: Option<String>,
    /// A request host instead of --flow: plan the flow its brand starts.
    #[arg(long, value_name = "HOST")]
    host: Option<String>,
    /// With --host: which of the brand's flows.
    #[arg(long, value_enum, default_value_t = HostDesignation::Authentication, requires = "host")]
    designation: HostDesignation,
    /// The user (username or pk); without it, an anonymous visitor who never identifies.
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// How the visitor arrives; default: the flow's authentication requirement, then its designation.
    #[arg(long, value_enum)]
    entry: Option<Entry>,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

/// The brand flows `plan --host` can plan.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum HostDesignation {
    /// The login flow.
    Authentication,
    /// The logout flow.
    Invalidation,
}

/// How a visitor arrives at a flow.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// Without a session; identifies at the flow's first identification stage.
    Anonymous,
    /// Logged in when the flow starts.
    Authenticated,
    /// From a source login (an OAuth, SAML or LDAP source): without a session, with
    /// `ak_is_sso_flow` true and the source connection's user as the pending user.
    Source,
}

/// Output forms.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable table.
    Text,
    /// The JSON form of docs/outputs.md ("plan").
    Json,
}

/// For `--entry source`: an error unless a source starts its login in flow `slug`. authentik
/// enters a flow from a source login only as that source's authentication or enrollment flow
/// (any other flow, even one with a source stage, gets the source's context only after it).
pub(super) fn source_entry(model: &Model, slug: &str) -> Result<(), miette::Report> {
    let flows = model.source_flows();
    if flows.iter().any(|(f, _, _)| f == slug) {
        return Ok(());
    }
    let help = if flows.is_empty() {
        "the snapshot has no source that names a flow; plan the flow without `--entry source`"
            .to_string()
    } else {
        format!(
            "the flows sources start a login in: {}",
            flows
                .iter()
                .map(|(f, s, kind)| format!("`{f}` ({kind} flow of source `{s}`)"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    Err(miette!(
        help = help,
        "`--entry source`: no source starts a login in flow `{slug}` (a source enters only its own \
         authentication or enrollment flow)"
    ))
}

/// Runs `bindlog plan`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let subject = match &args.user {
        Some(u) => Some(find_user(&loaded.snapshot, u).map_err(|e| miette!("{e}"))?),
        None => None,
    };
    let users: Vec<String> = subject.iter().map(|(pk, _)| pk.clone()).collect();
    let inactive = subject.as_ref().and_then(|(pk, name)| {
        loaded
            .snapshot
            .users
            .iter()
            .any(|u| u.pk.to_string() == *pk && !u.is_active)
            .then(|| name.clone())
    });
    let mut asked: Vec<(&str, Vec<String>)> = args
        .host
        .iter()
        .map(|h| ("host_asked", vec![h.clone()]))
        .collect();
    if args.entry == Some(Entry::Source) {
        asked.push(("query_entry", vec!["source".into()]));
    }
    let model = Model::answering(&loaded.snapshot, &Subjects::Only(users), &asked)
        .map_err(|e| miette!("{e}"))?;
    let (flow, chosen) = match (&args.flow, &args.host) {
        (Some(f), _) => (f.clone(), None),
        (None, Some(host)) => {
            let designation = match args.designation {
                HostDesignation::Authentication => "authentication",
                HostDesignation::Invalidation => "invalidation",
            };
            let (brand, flow) = model.host_answer(designation);
            let Some((slug, via)) = flow else {
                return Err(miette!(
                    "no {designation} flow serves host `{host}`: {}, and no {designation} flow lets the anonymous visitor in (authentik answers 404)",
                    match &brand {
                        Some((_, d)) => format!("its brand (domain `{d}`) names none"),
                        None => "no brand serves it".to_string(),
                    }
                ));
            };
            (slug, Some((host.clone(), brand, via)))
        }
        (None, None) => return Err(miette!("give --flow SLUG or --host HOST")),
    };
    if args.entry == Some(Entry::Source) {
        model
            .flow(&flow)
            .ok_or_else(|| miette!("{}", model.unknown_flow(&flow)))?;
        source_entry(&model, &flow)?;
    }
    // A source login starts without a session, as an anonymous visit does.
    let entry = args.entry.map(|e| match e {
        Entry::Anonymous | Entry::Source => "anonymous",
        Entry::Authenticated => "authenticated",
    });
    let who = subject
        .as_ref()
        .map(|(pk, name)| (pk.as_str(), name.as_str()));
    let mut plan = model.plan(&flow, who, entry).map_err(|e| miette!("{e}"))?;
    if args.entry == Some(Entry::Source) {
        plan.entry = "source".into();
    }
    match args.format {
        Format::Json => {
            let mut v = plan.to_json();
            if let Some((host, brand, via)) = &chosen {
                v["host"] = serde_json::json!({
                    "host": host,
                    "brand": brand.as_ref().map(|(pk, domain)| serde_json::json!({"pk": pk, "domain": domain})),
                    "via": via,
                });
            }
            println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default())
        }
        Format::Text => {
            if let Some((host, brand, via)) = &chosen {
                let b = brand
                    .as_ref()
                    .map_or("no brand".to_string(), |(_, d)| format!("brand `{d}`"));
                println!("host {host}: {b}, flow {flow} ({via})");
            }
            print!("{}", plan.to_text());
            if let Some(u) = inactive {
                println!(
                    "\nthe account {u} is inactive: authentik's user-login stage refuses to log it \
                     in, whatever the stages above show"
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
