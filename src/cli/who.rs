//! `bindlog who`: the users behind one answer, from the bulk analysis.

use super::Outcome;
use super::analyze::{progress_bar, report, with_jobs};
use super::check::SnapshotArgs;
use bindlog::analysis::bulk::{self, Bulk, NO, UNKNOWN, YES};
use bindlog::analysis::find_user;
use bindlog::analysis::paths::Because;
use bindlog::analysis::views::{
    AnonymousEventFires, DeviceAccess, DeviceInGroup, DeviceSide, OutpostProvider, RuleFires,
    RuleRecipient, RuleTellsEventUser,
};
use bindlog::suggest;
use miette::miette;
use std::fmt::Write as _;
use std::process::ExitCode;

/// Flags of `bindlog who`.
#[derive(clap::Args, Debug)]
#[command(
    group(clap::ArgGroup::new("question").required(true).args(["flow", "app", "user", "notified_of", "device", "device_access_group", "endpoint", "provider", "notifies"])),
    after_help = "Three questions about stages and applications, one per run:
  the users for whom a stage is skipped (or shown, or unknown), each flow entered the default way:
    bindlog who examples/acme/snapshot.json --flow default-authentication-flow \\
        --stage default-authentication-mfa-validation --visibility skipped
  the users who may open an application, with the group path that grants it:
    bindlog who examples/acme/snapshot.json --app grafana
  the applications a user may open:
    bindlog who examples/acme/snapshot.json --user ada.nguyen
Add --count for the number only; --access no|unknown or --visibility shown|unknown ask the other answers.
--format json gives one object with the question and the answer (docs/outputs.md, \"who\"):
    bindlog who examples/acme/snapshot.json --app vault --format json
Other binding targets:
  per notification rule, whether it fires for an event and who is notified (JSON):
    bindlog who examples/acme/snapshot.json --notified-of login_failed --anonymous
    bindlog who examples/acme/snapshot.json --notified-of login_failed --event-user ada.nguyen
  the users who may log in on a device, or whom a device access group admits:
    bindlog who examples/acme/snapshot.json --device ada-laptop
    bindlog who examples/acme/snapshot.json --device-access-group engineering-laptops
  the users who may open a RAC endpoint in full (application, authorization flow, its bindings):
    bindlog who examples/acme/snapshot.json --endpoint build-server
  the users who can bind to an LDAP or RADIUS provider (--access no: who cannot):
    bindlog who examples/acme/snapshot.json --provider directory --access no
  per notification rule, the event actions that may notify a user, and how (JSON):
    bindlog who examples/acme/snapshot.json --notifies ada.nguyen"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// The flow's slug (with --stage).
    #[arg(long, value_name = "SLUG", requires = "stage")]
    flow: Option<String>,
    /// The stage's name within the flow.
    #[arg(long, value_name = "NAME", requires = "flow")]
    stage: Option<String>,
    /// The stage binding's order, where the flow binds the stage more than once.
    #[arg(long, value_name = "N", requires = "stage")]
    order: Option<i32>,
    /// The visibility asked about.
    #[arg(long, value_enum, default_value_t = Visibility::Skipped)]
    visibility: Visibility,
    /// The application's slug: the users who may open it, and through which group.
    #[arg(long, value_name = "SLUG", conflicts_with = "flow")]
    app: Option<String>,
    /// A user (username or pk): the applications they may open.
    #[arg(long, value_name = "USER", conflicts_with_all = ["flow", "app"])]
    user: Option<String>,
    /// The access asked about (with --app or --user).
    #[arg(long, value_enum, default_value_t = Access::Yes)]
    access: Access,
    /// An event action (login_failed, ...): per notification rule, whether it fires and who is notified.
    #[arg(long, value_name = "ACTION", conflicts_with_all = ["flow", "app", "user"])]
    notified_of: Option<String>,
    /// With --notified-of: the event's user (username or pk).
    #[arg(
        long,
        value_name = "USER",
        requires = "notified_of",
        conflicts_with = "anonymous"
    )]
    event_user: Option<String>,
    /// With --notified-of: an event without a user (authentik's AnonymousUser row).
    #[arg(long, requires = "notified_of")]
    anonymous: bool,
    /// With --notified-of: the event's `app` (the Django app that emitted it, e.g. authentik.events).
    #[arg(long, value_name = "APP", requires = "notified_of")]
    event_app: Option<String>,
    /// With --notified-of: the event's model (`app_label.model_name`).
    #[arg(long, value_name = "MODEL", requires = "notified_of")]
    event_model: Option<String>,
    /// With --notified-of: the event's client IP.
    #[arg(long, value_name = "IP", requires = "notified_of")]
    client_ip: Option<String>,
    /// A device (name or device_uuid): the users who may log in on it (with --access).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["flow", "app", "user", "notified_of"])]
    device: Option<String>,
    /// A device access group (name or pk): the users its bindings admit, and its devices.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["flow", "app", "user", "notified_of", "device"])]
    device_access_group: Option<String>,
    /// A RAC endpoint (name or pk): the users who may open it in full (with --access).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["flow", "app", "user", "notified_of", "device", "device_access_group"])]
    endpoint: Option<String>,
    /// An LDAP or RADIUS provider (name or pk): the users who can bind through it (with --access).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["flow", "app", "user", "notified_of", "device", "device_access_group", "endpoint"])]
    provider: Option<String>,
    /// A user (username or pk): per notification rule that may tell them, the event actions
    /// that may fire it and whether they are told as a group member or as the event's user.
    #[arg(long, value_name = "USER", conflicts_with_all = ["flow", "app", "user", "notified_of", "device", "device_access_group", "endpoint", "provider"])]
    notifies: Option<String>,
    /// Print only how many.
    #[arg(long)]
    count: bool,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Worker threads (default: all cores).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// No progress bar on stderr.
    #[arg(long)]
    no_progress: bool,
}

/// Output forms of `who`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One name per line (with --app, a tab and the group path that grants access).
    Text,
    /// One JSON object: the question, the count and the names (docs/outputs.md).
    Json,
}

/// A stage's visibility.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Visibility {
    /// The stage certainly runs.
    Shown,
    /// It certainly does not.
    Skipped,
    /// It depends on run time.
    Unknown,
}

/// An access decision.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum Access {
    /// May open it.
    Yes,
    /// May not.
    No,
    /// Decided at run time.
    Unknown,
}

/// What `who` is asked, resolved against the snapshot before anything is evaluated.
#[derive(Clone, Copy, Debug)]
enum Question {
    /// The users whose stage binding (index in the layout) has this visibility.
    Stage(usize, u8),
    /// The users with this access to the application (index in the layout).
    App(usize, u8),
    /// The applications the user (index in the snapshot) has this access to.
    User(usize, u8),
}

/// Runs `bindlog who`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let snapshot = &loaded.snapshot;
    if args.notified_of.is_some() || args.device.is_some() || args.device_access_group.is_some() {
        return targets(&args, snapshot);
    }
    if args.endpoint.is_some() || args.provider.is_some() {
        return journey(&args, snapshot);
    }
    if let Some(user) = &args.notifies {
        return notifies(&args, snapshot, user);
    }
    // A misspelt flow, stage, application or user is reported before the evaluation.
    let q = question(&args, snapshot, &bulk::Layout::of(snapshot))?;
    let scope = match q {
        Question::Stage(x, _) => bulk::Scope::Stage(x),
        Question::App(a, _) => bulk::Scope::App(a),
        Question::User(..) => bulk::Scope::Apps,
    };
    let bar = progress_bar(args.no_progress);
    let text = with_jobs(args.jobs, || -> Result<String, miette::Report> {
        let options = bulk::Options {
            scope,
            // `--app` lists each user with access together with the bindings that give it.
            deciders: matches!(q, Question::App(_, YES)) && !args.count,
            ..bulk::Options::default()
        };
        // The words for why (their own run of the rules tells the chains of groups) are read
        // beside the answers.
        let (b, words) = rayon::join(
            || Bulk::new(snapshot, options, &|p| report(&bar, p)),
            || options.deciders.then(|| Because::new(snapshot)).transpose(),
        );
        let b = b.map_err(|e| miette!("{e}"))?;
        let words = words.map_err(|e| miette!("{e}"))?;
        let words = words.as_ref();
        bar.finish_and_clear();
        Ok(match args.format {
            Format::Text => answer(&b, q, args.count, words),
            Format::Json => {
                let mut text = serde_json::to_string_pretty(&answer_json(&b, q, args.count, words))
                    .unwrap_or_default();
                text.push('\n');
                text
            }
        })
    })??;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn question(
    args: &Args,
    snapshot: &bindlog::snapshot::Snapshot,
    layout: &bulk::Layout,
) -> Result<Question, miette::Report> {
    let access = match args.access {
        Access::Yes => YES,
        Access::No => NO,
        Access::Unknown => UNKNOWN,
    };
    if let (Some(flow), Some(stage)) = (&args.flow, &args.stage) {
        let f = layout
            .flows
            .iter()
            .position(|x| &x.slug == flow)
            .ok_or_else(|| {
                let known: Vec<&str> = layout.flows.iter().map(|x| x.slug.as_str()).collect();
                miette!("{}", suggest::unknown("flow with the slug", flow, &known))
            })?;
        let range = layout.flows[f].stages.clone();
        let matching: Vec<usize> = range
            .clone()
            .filter(|x| {
                let s = &layout.stages[*x];
                &s.stage == stage && args.order.is_none_or(|o| o == s.order)
            })
            .collect();
        let x = match matching.as_slice() {
            [x] => *x,
            [] => {
                let known: Vec<&str> = range.map(|x| layout.stages[x].stage.as_str()).collect();
                let at = args
                    .order
                    .map_or(String::new(), |o| format!(" at order {o}"));
                return Err(miette!(
                    "{}",
                    suggest::unknown_in(
                        &format!("stage{at} in flow `{flow}` named"),
                        stage,
                        &known,
                        "the flow"
                    )
                ));
            }
            _ => {
                return Err(miette!(
                    "flow `{flow}` binds stage `{stage}` more than once; pick one with --order"
                ));
            }
        };
        let v = match args.visibility {
            Visibility::Shown => YES,
            Visibility::Skipped => NO,
            Visibility::Unknown => UNKNOWN,
        };
        Ok(Question::Stage(x, v))
    } else if let Some(app) = &args.app {
        let a = layout
            .apps
            .iter()
            .position(|x| &x.slug == app)
            .ok_or_else(|| {
                let known: Vec<&str> = layout.apps.iter().map(|x| x.slug.as_str()).collect();
                miette!(
                    "{}",
                    suggest::unknown("application with the slug", app, &known)
                )
            })?;
        Ok(Question::App(a, access))
    } else if let Some(user) = &args.user {
        let (pk, _) = find_user(snapshot, user).map_err(|e| miette!("{e}"))?;
        let index = snapshot
            .users
            .iter()
            .position(|u| u.pk.to_string() == pk)
            .ok_or_else(|| miette!("no user `{user}`"))?;
        Ok(Question::User(index, access))
    } else {
        Err(miette!(
            "ask about a stage (--flow, --stage), an application (--app) or a user (--user)"
        ))
    }
}

/// Why a user (by index) has access to application `a` (its index in the layout): the
/// bindings the rules' `named_by` names for the user's class, told by `words`.
fn because<'b>(b: &'b Bulk, words: &'b Because<'b>, a: usize) -> impl Fn(usize) -> String + 'b {
    let pk = &*b.layout.apps[a].pk;
    let all_mode = b
        .snapshot
        .applications
        .iter()
        .any(|x| &*x.pk == pk && x.policy_engine_mode.as_str() == "all");
    let mut bindings: Vec<&bindlog::snapshot::PolicyBinding> = b
        .snapshot
        .policy_bindings
        .iter()
        .filter(|x| &*x.target == pk)
        .collect();
    bindings.sort_by(|x, y| x.order.cmp(&y.order).then_with(|| x.pk.cmp(&y.pk)));
    move |u| {
        let user = &b.snapshot.users[u];
        words.access(
            &bindings,
            all_mode,
            b.deciders(a, u),
            "yes",
            user,
            &user.username,
        )
    }
}

/// The text form of an answer; `words` tells why users have access (read with the deciding
/// bindings, for `--app` with `--access yes`).
fn answer(b: &Bulk, q: Question, count: bool, words: Option<&Because>) -> String {
    let mut out = String::new();
    let users = &b.snapshot.users;
    match q {
        Question::Stage(x, v) => {
            let found = b.users_with_stage(x, v);
            if count {
                let _ = writeln!(out, "{}", found.count());
            } else {
                for u in found {
                    let _ = writeln!(out, "{}", users[u].username);
                }
            }
        }
        Question::App(a, access) => {
            let found = b.users_with_access(a, access);
            if count {
                let _ = writeln!(out, "{}", found.count());
            } else {
                // Only users with access are told why (the words index the whole snapshot).
                let because = words.filter(|_| access == YES).map(|w| because(b, w, a));
                for u in found {
                    match &because {
                        Some(why) => {
                            let _ = writeln!(out, "{}\t{}", users[u].username, why(u));
                        }
                        None => {
                            let _ = writeln!(out, "{}", users[u].username);
                        }
                    }
                }
            }
        }
        Question::User(index, access) => {
            let answers = b.of_user(index);
            let apps: Vec<&str> = b
                .layout
                .apps
                .iter()
                .enumerate()
                .filter(|(i, _)| answers.access[*i] == access)
                .map(|(_, a)| a.slug.as_str())
                .collect();
            if count {
                let _ = writeln!(out, "{}", apps.len());
            } else {
                for a in apps {
                    let _ = writeln!(out, "{a}");
                }
            }
        }
    }
    out
}

/// `who --notified-of`, `who --device`, `who --device-access-group`.
fn targets(args: &Args, snapshot: &bindlog::snapshot::Snapshot) -> Outcome {
    use bindlog::analysis::{Model, Subjects};
    if let Some(action) = &args.notified_of {
        let event_user = match &args.event_user {
            Some(u) => Some(find_user(snapshot, u).map_err(|e| miette!("{e}"))?),
            None if args.anonymous => None,
            None => {
                return Err(miette!(
                    "--notified-of needs the event's user: --event-user USER, or --anonymous for an event without one"
                ));
            }
        };
        if !KNOWN_ACTIONS.contains(&action.as_str()) && !action.starts_with("custom_") {
            eprintln!(
                "warning: `{action}` is not an event action bindlog knows (authentik adds actions in new releases); answering for it anyway"
            );
        }
        let mut asked: Vec<(&str, Vec<String>)> = Vec::new();
        for (field, v) in [
            ("app", &args.event_app),
            ("model", &args.event_model),
            ("client_ip", &args.client_ip),
        ] {
            if let Some(v) = v {
                asked.push(("event_asked", vec![field.to_string(), v.clone()]));
            }
        }
        let pks: Vec<String> = event_user.iter().map(|(pk, _)| pk.clone()).collect();
        let model =
            Model::answering(snapshot, &Subjects::Only(pks), &asked).map_err(|e| miette!("{e}"))?;
        let (pk, name) = match &event_user {
            Some((pk, name)) => (pk.as_str(), Some(name.as_str())),
            None => ("anonymous", None),
        };
        let rows = model.notified_answer(action, pk, name);
        if args.count {
            let n: std::collections::BTreeSet<&str> = rows
                .iter()
                .flat_map(|r| r["notified"].as_array().into_iter().flatten())
                .filter_map(|v| v.as_str())
                .collect();
            println!("{}", n.len());
        } else {
            println!("{}", serde_json::Value::Array(rows));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (rel, what, name, col) = match (&args.device, &args.device_access_group) {
        (Some(d), _) => ("device_access", "device", d, "name"),
        (None, Some(g)) => ("device_side", "device_access_group", g, "name"),
        _ => {
            return Err(miette!(
                "ask about --notified-of, --device or --device-access-group"
            ));
        }
    };
    let model = Model::everyone(snapshot, &[], &[rel]).map_err(|e| miette!("{e}"))?;
    let pk = model
        .object(what, col, name, &what.replace('_', " "))
        .map_err(|e| miette!("{e}"))?;
    let want = match args.access {
        Access::Yes => "yes",
        Access::No => "no",
        Access::Unknown => "unknown",
    };
    let users: std::collections::BTreeMap<String, String> = snapshot
        .users
        .iter()
        .map(|u| (u.pk.to_string(), u.username.to_string()))
        .collect();
    let mut found: Vec<&str> = Vec::new();
    if args.device.is_some() {
        for r in model.view::<DeviceAccess>() {
            if r.device == pk && r.value == want {
                found.extend(users.get(&r.user).map(String::as_str));
            }
        }
    } else {
        // Users the group's own engine admits (on any of its devices, the group side is the same).
        let want = match want {
            "yes" => "pass",
            "no" => "fail",
            other => other,
        };
        let devices: Vec<String> = model
            .view::<DeviceInGroup>()
            .into_iter()
            .filter(|r| r.group == pk)
            .map(|r| r.device)
            .collect();
        let mut seen = std::collections::BTreeSet::new();
        for r in model.view::<DeviceSide>() {
            if devices.contains(&r.device)
                && r.side == "group"
                && r.value == want
                && seen.insert(r.user.clone())
            {
                found.extend(users.get(&r.user).map(String::as_str));
            }
        }
        if !args.count {
            let names = model.names("device", "name");
            let mut list: Vec<&str> = devices
                .iter()
                .filter_map(|d| names.get(d).map(String::as_str))
                .collect();
            list.sort_unstable();
            eprintln!(
                "devices in the group: {}",
                if list.is_empty() {
                    "none".to_string()
                } else {
                    list.join(", ")
                }
            );
        }
    }
    print_users(found, args.count)
}

/// Prints usernames sorted, one per line, or only how many with `--count`.
fn print_users(mut found: Vec<&str>, count: bool) -> Outcome {
    found.sort_unstable();
    if count {
        println!("{}", found.len());
    } else {
        for u in found {
            println!("{u}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `who --endpoint`, `who --provider`: the users of the identity classes with the answer asked.
fn journey(args: &Args, snapshot: &bindlog::snapshot::Snapshot) -> Outcome {
    use bindlog::analysis::coverage::{ANSWERS, Journey, journeys};
    use bindlog::analysis::{COVERAGE, Model};
    let model = Model::everyone(snapshot, &[COVERAGE], &[]).map_err(|e| miette!("{e}"))?;
    let (journey, pk) = match (&args.endpoint, &args.provider) {
        (Some(e), _) => (
            Journey::Endpoint,
            model.object("rac_endpoint", "name", e, "RAC endpoint"),
        ),
        (None, Some(p)) => {
            let pk = model.object("provider", "name", p, "provider");
            let outpost = model.view::<OutpostProvider>();
            match pk {
                Ok(pk) if !outpost.iter().any(|r| r.provider == pk) => {
                    return Err(miette!(
                        help = "ask who may open its application: bindlog who SNAPSHOT --app SLUG",
                        "provider `{p}` is neither an LDAP nor a RADIUS provider: nobody binds through it"
                    ));
                }
                other => (Journey::Bind, other),
            }
        }
        _ => return Err(miette!("ask about --endpoint or --provider")),
    };
    let pk = pk.map_err(|e| miette!("{e}"))?;
    let want = match args.access {
        Access::Yes => 0,
        Access::No => 1,
        Access::Unknown => 2,
    };
    debug_assert_eq!(ANSWERS[want], ["yes", "no", "unknown"][want]);
    let answers = journeys(&model, snapshot, journey).map_err(|e| miette!("{e}"))?;
    let classes = model.identity_classes(snapshot);
    let mut found: Vec<&str> = Vec::new();
    if let Some(a) = answers.get(&pk) {
        for (k, members) in classes.iter().enumerate() {
            if usize::from(a[k]) == want {
                found.extend(
                    members
                        .iter()
                        .map(|u| &*snapshot.users[*u as usize].username),
                );
            }
        }
    }
    print_users(found, args.count)
}

/// `who --notifies USER`: per notification rule that may tell the user, how (a direct member of
/// its destination group, or the event's user), and the event actions that may fire it.
fn notifies(args: &Args, snapshot: &bindlog::snapshot::Snapshot, user: &str) -> Outcome {
    use bindlog::analysis::{Model, Subjects};
    use std::collections::{BTreeMap, BTreeSet};
    let (pk, name) = find_user(snapshot, user).map_err(|e| miette!("{e}"))?;
    // Whether a rule fires for some event needs every user; the rest is about this one.
    let model = Model::everyone(snapshot, &[], &[]).map_err(|e| miette!("{e}"))?;
    let mine = Model::answering(snapshot, &Subjects::Only(vec![pk.clone()]), &[])
        .map_err(|e| miette!("{e}"))?;
    let rules = mine.names("notification_rule", "name");
    let tells_event_user: BTreeSet<String> = mine
        .view::<RuleTellsEventUser>()
        .into_iter()
        .map(|r| r.rule)
        .collect();
    let member_of: BTreeSet<String> = mine
        .view::<RuleRecipient>()
        .into_iter()
        .filter(|r| r.user == pk)
        .map(|r| r.rule)
        .collect();
    let own: BTreeMap<(String, String), String> = mine
        .view::<RuleFires>()
        .into_iter()
        .filter(|r| r.user == pk)
        .map(|r| ((r.rule, r.action), r.value))
        .collect();
    // Per rule and action: whether it fires for some event (of any user, or of none).
    let mut any: BTreeMap<(String, String), &str> = BTreeMap::new();
    let better = |a: &str, b: &str| -> bool {
        let rank = |v: &str| match v {
            "pass" => 2,
            "unknown" => 1,
            _ => 0,
        };
        rank(b) > rank(a)
    };
    // Events without a user come from their own relation: the every-user model holds users
    // only in `rule_fires`.
    let mut fires = model.view::<RuleFires>();
    fires.extend(
        model
            .view::<AnonymousEventFires>()
            .into_iter()
            .map(|r| RuleFires {
                rule: r.rule,
                action: r.action,
                user: "anonymous".into(),
                value: r.value,
            }),
    );
    for r in &fires {
        let e = any
            .entry((r.rule.clone(), r.action.clone()))
            .or_insert("fail");
        if better(e, &r.value) {
            *e = if r.value == "pass" { "pass" } else { "unknown" };
        }
    }
    let word = |v: &str| match v {
        "pass" => "yes",
        "fail" => "no",
        _ => "unknown",
    };
    let mut out = Vec::new();
    for (rule, rule_name) in &rules {
        let member = member_of.contains(rule);
        let event_user = tells_event_user.contains(rule);
        if !member && !event_user {
            continue;
        }
        let mut actions = Vec::new();
        for ((r, action), v) in &any {
            if r != rule {
                continue;
            }
            let for_member = if member { *v } else { "fail" };
            let for_own = if event_user {
                own.get(&(r.clone(), action.clone()))
                    .map_or("fail", String::as_str)
            } else {
                "fail"
            };
            if for_member == "fail" && for_own == "fail" {
                continue;
            }
            actions.push(serde_json::json!({
                "action": action,
                "as_member": word(for_member),
                "as_event_user": word(for_own),
            }));
        }
        let mut how = Vec::new();
        if member {
            how.push("destination_group");
        }
        if event_user {
            how.push("event_user");
        }
        out.push(serde_json::json!({
            "rule": rule_name,
            "pk": rule,
            "user": name,
            "told_as": how,
            "actions": actions,
        }));
    }
    out.sort_by(|a, b| a["rule"].as_str().cmp(&b["rule"].as_str()));
    if args.count {
        println!("{}", out.len());
    } else {
        println!("{}", serde_json::Value::Array(out));
    }
    Ok(ExitCode::SUCCESS)
}

/// The event actions authentik emits (`EventAction`), for warning about a misspelt one.
const KNOWN_ACTIONS: [&str; 32] = [
    "login",
    "login_failed",
    "logout",
    "user_write",
    "suspicious_request",
    "password_set",
    "secret_view",
    "secret_rotate",
    "invitation_used",
    "authorize_application",
    "source_linked",
    "impersonation_started",
    "impersonation_ended",
    "flow_execution",
    "policy_execution",
    "policy_exception",
    "property_mapping_exception",
    "system_task_execution",
    "system_task_exception",
    "system_exception",
    "configuration_error",
    "configuration_warning",
    "model_created",
    "model_updated",
    "model_deleted",
    "email_sent",
    "update_available",
    "export_ready",
    "review_initiated",
    "review_overdue",
    "review_attested",
    "review_completed",
];

/// The word `who` prints for an answer byte, as `plan`, `access` and `analyze` spell it.
fn word(question: Question) -> &'static str {
    match question {
        Question::Stage(_, v) => match v {
            YES => "shown",
            NO => "skipped",
            _ => "unknown",
        },
        Question::App(_, a) | Question::User(_, a) => match a {
            YES => "yes",
            NO => "no",
            _ => "unknown",
        },
    }
}

/// The JSON form of an answer (docs/outputs.md, "who"): the question's fields, `count`, and
/// unless `count_only` the sorted list the text form prints.
fn answer_json(
    b: &Bulk,
    q: Question,
    count_only: bool,
    words: Option<&Because>,
) -> serde_json::Value {
    use serde_json::{Value, json};
    let users = &b.snapshot.users;
    let mut names: Vec<Value> = Vec::new();
    let mut object = match q {
        Question::Stage(x, v) => {
            let s = &b.layout.stages[x];
            let flow = &b.layout.flows[s.flow].slug;
            names.extend(b.users_with_stage(x, v).map(|u| json!(users[u].username)));
            json!({"flow": flow, "stage": s.stage, "order": s.order, "visibility": word(q)})
        }
        Question::App(a, access) => {
            let because = words
                .filter(|_| access == YES && !count_only)
                .map(|w| because(b, w, a));
            for u in b.users_with_access(a, access) {
                let because = because.as_ref().map(|why| why(u));
                names.push(json!({"user": users[u].username, "because": because}));
            }
            json!({"app": b.layout.apps[a].slug, "access": word(q)})
        }
        Question::User(index, access) => {
            let answers = b.of_user(index);
            names.extend(
                b.layout
                    .apps
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| answers.access[*i] == access)
                    .map(|(_, a)| json!(a.slug)),
            );
            json!({"user": users[index].username, "access": word(q)})
        }
    };
    let key = if matches!(q, Question::User(..)) {
        "apps"
    } else {
        "users"
    };
    object["count"] = json!(names.len());
    if !count_only {
        object[key] = Value::Array(names);
    }
    object
}
