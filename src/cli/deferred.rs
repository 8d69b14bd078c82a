//! `bindlog deferred`: every binding whose outcome is left to run time, by flow and application.

use super::Outcome;
use super::check::SnapshotArgs;
use super::plan::Format;
use bindlog::analysis::Model;
use bindlog::analysis::views::{ANON, Applicable, Binding, Decide, Deferred, OpenBinding, Visible};
use bindlog::analysis::views::{View, columns};
use miette::miette;
use rustc_hash::FxHashSet;
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

/// The subjects a deferred binding is evaluated for: the users each stands for, and whether
/// its answer waits on the binding.
type Subjects = BTreeMap<String, (u64, bool)>;

/// The rows of view `V`'s relation whose value is unknown, as three columns: `at` holds the
/// three columns' places, then the value's.
fn unknown<V: View>(model: &Model, at: [usize; 4]) -> FxHashSet<(&str, &str, &str)> {
    let [a, b, c, value] = at;
    let mut out = FxHashSet::default();
    model.each_symbol_row(V::RELATIONS[0], |r| {
        if r[value] == "unknown" {
            out.insert((r[a], r[b], r[c]));
        }
    });
    out
}

/// Runs `bindlog deferred`.
pub fn run(args: Args) -> Outcome {
    let loaded = args.snapshot.load()?;
    let model = Model::everyone_reading(
        &loaded.snapshot,
        &[],
        &[],
        &[
            "deferred",
            "open_binding",
            "decide",
            "visible",
            "applicable",
        ],
        &[],
    )
    .map_err(|e| miette!("{e}"))?;
    // A binding left to run time decides a subject's answer only where that answer is unknown:
    // where another binding already passes (mode any) or fails (mode all), it changes nothing.
    // Read as borrowed text: at a million users these are the largest tables read here.
    const DECIDE: [usize; 4] = columns::<Decide, 4>(["target", "identity", "context", "value"]);
    const VISIBLE: [usize; 4] = columns::<Visible, 4>(["binding", "entry", "subject", "value"]);
    const APPLICABLE: [usize; 4] = columns::<Applicable, 4>(["flow", "entry", "subject", "value"]);
    let app_open = unknown::<Decide>(&model, DECIDE);
    let stage_open = unknown::<Visible>(&model, VISIBLE);
    let flow_open = unknown::<Applicable>(&model, APPLICABLE);
    let target_of: BTreeMap<String, String> = model
        .view::<Binding>()
        .into_iter()
        .map(|r| (r.binding, r.target))
        .collect();
    // Bindings are labelled; users are not named here.
    let labels = model.labels_of(|_| false);
    let users = loaded.snapshot.users.len();
    let flows: BTreeMap<String, String> = model.names("flow", "slug");
    let entries: BTreeMap<String, String> = model.names("default_entry", "e");
    // (kind, slug, binding, reason) -> subjects it is evaluated for, with the users each stands
    // for and whether their answer waits on it
    let mut groups: BTreeMap<(&str, String, String, String), Subjects> = BTreeMap::new();
    for r in model.view::<Deferred>() {
        if entries.get(&r.flow) != Some(&r.entry) {
            continue;
        }
        let slug = flows.get(&r.flow).cloned().unwrap_or_default();
        // The binding's target: the flow itself (or its gate, for no binding), or a stage binding.
        let target = target_of.get(&r.binding).unwrap_or(&r.flow);
        let key = (target.as_str(), r.entry.as_str(), r.subject.as_str());
        let decides = if *target == r.flow {
            flow_open.contains(&key)
        } else {
            stage_open.contains(&key)
        };
        let weight = model.weight_in(&r.flow, &r.subject);
        let entry = groups.entry(("flow", slug, r.binding, r.why)).or_default();
        let e = entry.entry(r.subject).or_insert((0, false));
        e.0 = weight;
        e.1 |= decides;
    }
    let apps: BTreeMap<String, String> = model.names("application", "slug");
    for r in model.view::<OpenBinding>() {
        if let Some(slug) = apps.get(&r.target)
            && r.context == "app"
            && r.identity != ANON
        {
            let decides = app_open.contains(&(&*r.target, &*r.identity, &*r.context));
            let e = groups
                .entry(("application", slug.clone(), r.binding, r.why))
                .or_default()
                .entry(r.identity.clone())
                .or_insert((0, false));
            e.0 = model.weight_in(&r.target, &r.identity);
            e.1 |= decides;
        }
    }
    // Each subject is one identity class: it stands for as many users as its class holds.
    let count = |who: &Subjects, deciding: bool| -> u64 {
        who.iter()
            .filter(|(s, (_, d))| *s != ANON && (*d || !deciding))
            .map(|(_, (w, _))| *w)
            .sum()
    };
    let anonymous = |who: &Subjects| who.get(ANON).is_some_and(|(_, d)| *d);
    let describe = |who: &Subjects| {
        let n = count(who, true);
        let anon = if anonymous(who) {
            " and the anonymous visitor"
        } else {
            ""
        };
        let evaluated = count(who, false);
        let rest = if evaluated > n {
            format!(
                " (it is evaluated for {evaluated}; for the other {} another binding already decides)",
                evaluated - n
            )
        } else {
            String::new()
        };
        format!("the answer waits on it for {n} of {users} users{anon}{rest}")
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
                        "users": count(who, true),
                        "evaluated_for": count(who, false),
                        "anonymous": anonymous(who),
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
                    labels.object(b)
                };
                println!("  {what} ({b}): {why}; {}", describe(who));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
