//! `bindlog analyze`: every user (and the anonymous visitor) through every flow and application.

use super::Outcome;
use super::check::SnapshotArgs;
use bindlog::analysis::bulk::{self, Bulk, Form, Phase};
use bindlog::analysis::classes::KeyContext;
use bindlog::analysis::coverage::Coverage;
use bindlog::analysis::highlights::Highlights;
use bindlog::analysis::{COVERAGE, Model};
use miette::{IntoDiagnostic, miette};
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `bindlog analyze`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Users whose facts the rules cannot tell apart form an identity class; \
answers are computed once per class and expanded per user on output. The rules run flow stage \
by flow stage and application by application, each for the few representatives it can tell apart.

Examples:
  bindlog analyze examples/acme/snapshot.json                      # summary per flow, stage and app
  bindlog analyze examples/acme/snapshot.json --by group           # the same, per group
  bindlog analyze examples/acme/snapshot.json --format csv > stages.csv
  bindlog analyze examples/acme/snapshot.json --apps --format csv > access.csv
  bindlog analyze examples/acme/snapshot.json --format classes     # each identity class once
  bindlog analyze examples/acme/snapshot.json --targets            # and devices, sources, RAC, notifications, logins
  bindlog analyze examples/acme/snapshot.json --format targets     # the same targets as JSON
  bindlog analyze big.json --format csv -j 1 -o out.csv            # one thread: same bytes"
)]
pub struct Args {
    #[command(flatten)]
    snapshot: SnapshotArgs,
    /// Write CSV cells byte for byte. By default a cell that starts with `=`, `+`, `-`, `@`, a
    /// tab or a carriage return (and is not a number) gets a leading `'`, so that a spreadsheet
    /// shows a name such as `=HYPERLINK(...)` as text instead of running it.
    #[arg(long)]
    raw_csv: bool,
    #[command(flatten)]
    limits: super::LimitArgs,
    /// Output form.
    #[arg(long, value_enum, default_value_t = Format::Summary)]
    format: Format,
    /// With `--format csv`: `user,app,access` instead of stage visibility.
    #[arg(long)]
    apps: bool,
    /// Add the other binding targets to the summary: devices, sources, RAC endpoints,
    /// notifications per event action, login paths with MFA (as `--format targets`).
    #[arg(long)]
    targets: bool,
    /// Break the summary down by group (members through the hierarchy).
    #[arg(long, value_enum, value_name = "WHAT")]
    by: Option<By>,
    /// Worker threads (default: all cores); `-j 1` gives byte-identical output.
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Write to this file instead of stdout.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// No progress bar on stderr (it is also hidden when stderr is not a terminal).
    #[arg(long)]
    no_progress: bool,
    /// With --whole: representatives evaluated together in one run of the rules.
    #[arg(long, hide = true, default_value_t = bulk::Options::default().chunk)]
    chunk: usize,
    /// Evaluate all the rules over the whole configuration per chunk of class representatives
    /// instead of flow by flow and application by application (the slower reference; the
    /// output is the same).
    #[arg(long, hide = true)]
    whole: bool,
}

/// Output forms of `bindlog analyze`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Counts per flow, stage and application, with the anonymous visitor.
    Summary,
    /// One row per user, flow and stage binding (docs/outputs.md); with `--apps`, per user and app.
    Csv,
    /// One JSON object per user with every flow, stage and application.
    Jsonl,
    /// The questions on a first JSON line, then one line per identity class: member count,
    /// representative, one letter per answer (Y yes/shown, N no/skipped, U unknown).
    Classes,
    /// One JSON object: per device, source and RAC endpoint how many users get each answer,
    /// per event action the notification rules that tell someone, per application its login
    /// flow and how many users meet MFA in it (docs/outputs.md, "analyze --format targets").
    Targets,
}

/// What `--by` breaks the summary down by.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    /// Each group's members, direct or through descendant groups.
    Group,
}

pub use super::progress::{progress_bar, report};

/// Runs `f` on a pool of `jobs` threads (all cores when `None`).
pub fn with_jobs<T: Send>(
    jobs: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T, miette::Report> {
    let mut b = rayon::ThreadPoolBuilder::new();
    if let Some(n) = jobs {
        if n == 0 {
            return Err(miette!("`-j 0`: give at least one thread"));
        }
        b = b.num_threads(n);
    }
    let pool = b
        .build()
        .map_err(|e| miette!("cannot start worker threads: {e}"))?;
    Ok(pool.install(f))
}

/// Runs `bindlog analyze`.
pub fn run(args: Args) -> Outcome {
    bindlog::escape::set_raw_csv(args.raw_csv);
    if args.apps && args.format != Format::Csv {
        return Err(miette!(
            "`--apps` goes with `--format csv` (the other forms already hold every application)"
        ));
    }
    if args.targets && args.format != Format::Summary {
        return Err(miette!(
            "`--targets` adds to the summary; `--format targets` gives the same as JSON"
        ));
    }
    if args.by.is_some() && args.format != Format::Summary {
        return Err(miette!(
            "`--by group` breaks down the summary; drop `--format` or `--by`"
        ));
    }
    let start = std::time::Instant::now();
    args.limits.bound_process()?;
    let loaded = args.snapshot.load()?;
    super::check::warn_if_no_users(&loaded.snapshot);
    bulk::timing("loading", start);
    let snapshot = &loaded.snapshot;
    let bar = progress_bar(args.no_progress);
    let mut out: Box<dyn Write + Send> = match &args.output {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| miette!("cannot create `{}`: {e}", p.display()))?,
        ),
        None => Box::new(std::io::stdout()),
    };
    let result = with_jobs(args.jobs, || -> Result<(), miette::Report> {
        let options = bulk::Options {
            parallel_strata: args.jobs != Some(1),
            chunk: args.chunk.max(1),
            whole: args.whole,
            scope: bulk::Scope::All,
            ..bulk::Options::default()
        };
        let progress = |p: Phase| report(&bar, p);
        if args.format == Format::Targets {
            // The stages and applications of the bulk analysis are not part of this form.
            let coverage = Coverage::of(snapshot).map_err(|e| miette!("{e}"))?;
            bar.finish_and_clear();
            let mut text = serde_json::to_string_pretty(&coverage.to_json()).unwrap_or_default();
            text.push('\n');
            return match out.write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| miette!("cannot write the output: {e}")),
            };
        }
        // `--targets`: the targets' evaluation by scope computes the built-in rules' answers per
        // identity class on the way, which are the summary's: one evaluation for both.
        let mut targets: Option<Coverage> = None;
        if args.format == Format::Summary && args.targets && args.by.is_none() && !args.whole {
            let (model, answered) =
                Model::everyone_answering(snapshot, &[COVERAGE]).map_err(|e| miette!("{e}"))?;
            let coverage = Coverage::read(&model, snapshot).map_err(|e| miette!("{e}"))?;
            drop(model);
            if let Some(bulk) = answered {
                // The highlights read each class representative's effective groups.
                let rules = bulk::builtin_rules().map_err(|e| miette!("{e}"))?;
                let ctx = KeyContext::new(snapshot, &rules.program);
                let mut text = summary(&bulk, &ctx)?;
                drop(bulk);
                text.push_str(&coverage.to_text());
                bar.finish_and_clear();
                return match out.write_all(text.as_bytes()) {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    r => r.map_err(|e| miette!("cannot write the output: {e}")),
                };
            }
            targets = Some(coverage);
        }
        let rules = bulk::builtin_rules().map_err(|e| miette!("{e}"))?;
        let start = std::time::Instant::now();
        let ctx = KeyContext::new(snapshot, &rules.program);
        bulk::timing("indexing", start);
        progress(Phase::Classifying);
        let start = std::time::Instant::now();
        let classes = ctx.classes(4096);
        bulk::timing("classes", start);
        let bulk = Bulk::with_classes(snapshot, &rules, &ctx, classes, options, &progress)
            .map_err(|e| miette!("{e}"))?;
        // Small writes (the summary, the class lines) are gathered; the per-user forms write
        // blocks of about a megabyte, which pass a buffer this size without a copy.
        let mut w = std::io::BufWriter::with_capacity(1 << 16, &mut out);
        let written = match (args.format, args.apps) {
            (Format::Csv, false) => bulk.write_users(Form::StagesCsv, &mut w, &progress),
            (Format::Csv, true) => bulk.write_users(Form::AppsCsv, &mut w, &progress),
            (Format::Jsonl, _) => bulk.write_users(Form::Jsonl, &mut w, &progress),
            (Format::Classes, _) => bulk.write_classes(&mut w),
            (Format::Targets, _) => unreachable!("answered before the bulk analysis"),
            (Format::Summary, _) => {
                let mut text = summary(&bulk, &ctx)?;
                let groups = match args.by {
                    Some(By::Group) => by_group(&bulk, &ctx),
                    None => String::new(),
                };
                // With `--by group` or `--whole`, the other binding targets are a second
                // evaluation, after the summary's answers are freed.
                drop(bulk);
                if args.targets {
                    let coverage = match targets.take() {
                        Some(c) => c,
                        None => Coverage::of(snapshot).map_err(|e| miette!("{e}"))?,
                    };
                    text.push_str(&coverage.to_text());
                }
                text.push_str(&groups);
                w.write_all(text.as_bytes()).and_then(|()| w.flush())
            }
        };
        bar.finish_and_clear();
        match written {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            r => r.map_err(|e| miette!("cannot write the output: {e}")),
        }
    })?;
    result?;
    out.flush().into_diagnostic()?;
    Ok(ExitCode::SUCCESS)
}

fn vis(v: u8) -> &'static str {
    bulk::visibility(v)
}

/// The readable summary: the highlights, then per flow and stage, and per application, how many
/// users get which answer.
pub fn summary(bulk: &Bulk, ctx: &KeyContext) -> Result<String, miette::Report> {
    let t = bulk.totals();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} users in {} identity classes (answers computed once per class), {} flows, {} applications",
        bulk.snapshot.users.len(),
        bulk.classes.len(),
        bulk.layout.flows.len(),
        bulk.layout.apps.len()
    );
    let highlights = Highlights::of(bulk, ctx).map_err(|e| miette!("{e}"))?;
    out.push_str(&highlights.to_text());
    out.push_str(&counts_text(bulk, &t, true));
    Ok(out)
}

fn counts_text(bulk: &Bulk, t: &bulk::Counts, anonymous: bool) -> String {
    let mut out = String::new();
    let width = bulk
        .layout
        .stages
        .iter()
        .map(|s| s.stage.len())
        .chain(bulk.layout.apps.iter().map(|a| a.slug.len()))
        .max()
        .unwrap_or(5)
        .max(5);
    let anon_head = if anonymous { "  anonymous visitor" } else { "" };
    for (f, flow) in bulk.layout.flows.iter().enumerate() {
        let [y, n, u] = t.flows[f];
        let _ = writeln!(
            out,
            "\nflow {} (users enter {}): applicable for {y}, not for {n}, unknown for {u}{}",
            flow.slug,
            flow.entry,
            if anonymous {
                format!(
                    "; anonymous visitor: {}",
                    bulk::yes_no(bulk.anonymous.applicable[f])
                )
            } else {
                String::new()
            }
        );
        if flow.stages.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "  {:>5}  {:<width$}  {:>9}  {:>9}  {:>9}{anon_head}",
            "order", "stage", "shown", "skipped", "unknown"
        );
        for x in flow.stages.clone() {
            let s = &bulk.layout.stages[x];
            let [a, b, c] = t.stages[x];
            let anon = if anonymous {
                format!("  {}", vis(bulk.anonymous.visible[x]))
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:>5}  {:<width$}  {a:>9}  {b:>9}  {c:>9}{anon}",
                s.order, s.stage
            );
        }
    }
    if !bulk.layout.apps.is_empty() {
        let _ = writeln!(
            out,
            "\napplications:\n  {:<width$}  {:>9}  {:>9}  {:>9}{anon_head}",
            "app", "yes", "no", "unknown"
        );
        for (i, app) in bulk.layout.apps.iter().enumerate() {
            let [a, b, c] = t.apps[i];
            // authentik sends a visitor without a session to log in before it opens any
            // application: the policies then decide for the user who logged in (AK-B01 agrees).
            let anon = if anonymous {
                "  log in first".to_string()
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {:<width$}  {a:>9}  {b:>9}  {c:>9}{anon}", app.slug);
        }
    }
    out
}

/// The summary per group: the counts over each group's members (direct or inherited).
pub fn by_group(bulk: &Bulk, ctx: &KeyContext) -> String {
    let per_group = bulk.members_by_group(ctx);
    let mut order: Vec<usize> = (0..bulk.snapshot.groups.len()).collect();
    let groups = &bulk.snapshot.groups;
    order.sort_by(|a, b| {
        groups[*a]
            .name
            .as_bytes()
            .cmp(groups[*b].name.as_bytes())
            .then_with(|| groups[*a].pk.cmp(&groups[*b].pk))
    });
    let mut out = String::new();
    for g in order {
        let members = &per_group[g];
        let t = bulk.counts(|k| members.get(&(k as u32)).copied().unwrap_or(0));
        let _ = writeln!(
            out,
            "\n== group {} ({}): {} members in {} classes",
            groups[g].name,
            groups[g].pk,
            t.users,
            members.len()
        );
        if t.users > 0 {
            out.push_str(&counts_text(bulk, &t, false));
        }
    }
    out
}
