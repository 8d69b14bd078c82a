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
  bindlog plan examples/acme/snapshot.json --flow default-source-authentication --user ada.nguyen --entry source")]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug.
    #[arg(long, value_name = "SLUG")]
    flow: String,
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
    let subjects = Subjects::Only(users);
    let model = match args.entry {
        Some(Entry::Source) => Model::entered_from_source(&loaded.snapshot, &subjects),
        _ => Model::new(&loaded.snapshot, &subjects),
    }
    .map_err(|e| miette!("{e}"))?;
    // A source login starts without a session, as an anonymous visit does.
    let entry = args.entry.map(|e| match e {
        Entry::Anonymous | Entry::Source => "anonymous",
        Entry::Authenticated => "authenticated",
    });
    let who = subject
        .as_ref()
        .map(|(pk, name)| (pk.as_str(), name.as_str()));
    let mut plan = model
        .plan(&args.flow, who, entry)
        .map_err(|e| miette!("{e}"))?;
    if args.entry == Some(Entry::Source) {
        plan.entry = "source".into();
    }
    match args.format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&plan.to_json()).unwrap_or_default()
        ),
        Format::Text => {
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
