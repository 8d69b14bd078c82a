//! Every user at once: the rules run once per identity class (a chunk of representatives per
//! evaluation, chunks in parallel), and the answers are expanded to users only on output.
//!
//! Memory stays proportional to the snapshot plus the classes: each class keeps one byte per
//! flow, stage binding and application; per-user output is formatted in parallel chunks from
//! per-class bytes and written in order, never held whole.

use super::RULES;
use super::classes::{Classes, KeyContext};
use super::views::{
    ANON, ANONYMOUS_ENTRY, AUTHENTICATED_ENTRY, Applicable, Decide, DefaultEntry, NamedBy, Tri,
    Visible, columns,
};
use crate::datalog::eval::Limits;
use crate::datalog::{Engine, Evaluation, Inputs, Rules};
use crate::snapshot::Snapshot;
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::io::{self, Write};

mod memo;
pub use memo::Memo;

/// With `BINDLOG_TIMINGS` set, prints how long a phase took to stderr (for measurements).
/// Each line also says when, from the first timing of the process, and the resident memory
/// then (Linux), so that phases measured from different starts line up.
pub fn timing(label: &str, since: std::time::Instant) {
    static FIRST: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let at = FIRST.get_or_init(|| since).elapsed().as_secs_f64();
        let rss = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
            })
            .map_or(String::new(), |kb| format!(", {} MiB", kb / 1024));
        eprintln!(
            "timing: {label}: {:.3} s (at {at:.3} s{rss})",
            since.elapsed().as_secs_f64()
        );
    }
}

/// `shown` / `yes`, stored.
pub const YES: u8 = Tri::Yes as u8;
/// `skipped` / `no`, stored.
pub const NO: u8 = Tri::No as u8;
/// `unknown`, stored.
pub const UNKNOWN: u8 = Tri::Unknown as u8;

/// A stored flow applicability or access, as answers print it.
pub fn yes_no(v: u8) -> &'static str {
    Tri::from_code(v).yes_no()
}

/// A stored stage visibility, as answers print it.
pub fn visibility(v: u8) -> &'static str {
    Tri::from_code(v).visibility()
}

/// One flow-stage binding in output order.
#[derive(Clone, Debug)]
pub struct StageSlot {
    /// The binding's pk.
    pub pk: String,
    /// Its flow (index into [`Layout::flows`]).
    pub flow: usize,
    /// Its order.
    pub order: i32,
    /// The stage's name (its pk when the snapshot lacks the stage).
    pub stage: String,
}

/// One flow in output order.
#[derive(Clone, Debug)]
pub struct FlowSlot {
    /// The flow's pk.
    pub pk: String,
    /// Its slug.
    pub slug: String,
    /// How a user enters it by default: `anonymous` or `authenticated`.
    pub entry: &'static str,
    /// Its stage bindings: a range of [`Layout::stages`].
    pub stages: std::ops::Range<usize>,
}

/// One application in output order.
#[derive(Clone, Debug)]
pub struct AppSlot {
    /// The application's pk.
    pub pk: String,
    /// Its slug.
    pub slug: String,
}

/// The questions of a bulk run in output order: flows by slug, each flow's stage bindings by
/// order then stage name (then pk), applications by slug.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Flows.
    pub flows: Vec<FlowSlot>,
    /// Flow-stage bindings, grouped by flow.
    pub stages: Vec<StageSlot>,
    /// Applications.
    pub apps: Vec<AppSlot>,
}

impl Layout {
    /// The layout of a snapshot (entries are filled in from the rules later).
    pub fn of(snapshot: &Snapshot) -> Layout {
        let names: HashMap<&str, &str> =
            snapshot.stages.iter().map(|s| (&*s.pk, &*s.name)).collect();
        let mut flows: Vec<&crate::snapshot::Flow> = snapshot.flows.iter().collect();
        flows.sort_by(|a, b| {
            a.slug
                .as_bytes()
                .cmp(b.slug.as_bytes())
                .then(a.pk.cmp(&b.pk))
        });
        let mut by_flow: HashMap<&str, Vec<StageSlot>> = HashMap::new();
        for x in &snapshot.flow_bindings {
            by_flow.entry(&x.target).or_default().push(StageSlot {
                pk: x.pk.to_string(),
                flow: 0,
                order: x.order,
                stage: names
                    .get(&*x.stage)
                    .map_or_else(|| x.stage.to_string(), |n| n.to_string()),
            });
        }
        let mut layout = Layout::default();
        for (i, f) in flows.iter().enumerate() {
            let mut stages = by_flow.remove(&*f.pk).unwrap_or_default();
            stages.sort_by(|a, b| {
                a.order
                    .cmp(&b.order)
                    .then_with(|| a.stage.as_bytes().cmp(b.stage.as_bytes()))
                    .then_with(|| a.pk.cmp(&b.pk))
            });
            let start = layout.stages.len();
            for mut s in stages {
                s.flow = i;
                layout.stages.push(s);
            }
            layout.flows.push(FlowSlot {
                pk: f.pk.to_string(),
                slug: f.slug.to_string(),
                entry: AUTHENTICATED_ENTRY,
                stages: start..layout.stages.len(),
            });
        }
        let mut apps: Vec<AppSlot> = snapshot
            .applications
            .iter()
            .map(|a| AppSlot {
                pk: a.pk.to_string(),
                slug: a.slug.to_string(),
            })
            .collect();
        apps.sort_by(|a, b| {
            a.slug
                .as_bytes()
                .cmp(b.slug.as_bytes())
                .then(a.pk.cmp(&b.pk))
        });
        layout.apps = apps;
        layout
    }
}

/// One identity's answers: a code ([`YES`], [`NO`], [`UNKNOWN`]) per flow, stage binding and
/// application, in [`Layout`] order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answers {
    /// Whether each flow applies, entered the default way (the anonymous visitor: anonymously).
    pub applicable: Vec<u8>,
    /// Each stage binding's visibility (shown, skipped, unknown).
    pub visible: Vec<u8>,
    /// Access to each application.
    pub access: Vec<u8>,
}

impl Answers {
    fn unknown(layout: &Layout) -> Answers {
        Answers {
            applicable: vec![UNKNOWN; layout.flows.len()],
            visible: vec![UNKNOWN; layout.stages.len()],
            access: vec![UNKNOWN; layout.apps.len()],
        }
    }
}

/// How a bulk run goes: threads come from the caller's rayon pool.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// With `whole`: representatives evaluated together in one run of the rules.
    pub chunk: usize,
    /// Run strata of one evaluation in parallel too.
    pub parallel_strata: bool,
    /// Evaluate all the rules over the whole configuration for each chunk of representatives
    /// (what one request sees), instead of component by component: the slow reference.
    pub whole: bool,
    /// Which answers must be computed; the others may be left unknown.
    pub scope: Scope,
    /// Also read, for each application answered, the bindings that carry each class's
    /// decision (`named_by`): what `who --app` says a user's access comes from. Not with
    /// `whole`.
    pub deciders: bool,
    /// Components evaluated before (by an evaluation given the same memo) are looked up, and
    /// those evaluated here kept (see [`Memo`]).
    pub memo: Option<&'static Memo>,
}

/// Which answers a run computes. A question about one stage binding or one application needs
/// only the components that answer it; the answers outside the scope are left [`UNKNOWN`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// Every flow, stage binding and application.
    #[default]
    All,
    /// The visibility of one stage binding (its index in [`Layout::stages`]).
    Stage(usize),
    /// Access to one application (its index in [`Layout::apps`]).
    App(usize),
    /// Access to every application.
    Apps,
}

impl Scope {
    /// Whether a component answering `slot` is needed.
    fn wants(self, slot: Slot) -> bool {
        match (self, slot) {
            (Scope::All, _) => true,
            (Scope::Stage(x), Slot::Stage(_, Some(y))) => x == y,
            (Scope::App(a), Slot::App(b)) => a == b,
            (Scope::Apps, Slot::App(_)) => true,
            _ => false,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            chunk: 64,
            parallel_strata: true,
            whole: false,
            scope: Scope::All,
            deciders: false,
            memo: None,
        }
    }
}

/// The answers for every user: per class, expanded on output.
pub struct Bulk<'a> {
    /// The snapshot.
    pub snapshot: &'a Snapshot,
    /// Flows, stage bindings and applications in output order.
    pub layout: Layout,
    /// The identity classes.
    pub classes: Classes,
    /// Each class's answers.
    pub answers: Vec<Answers>,
    /// The anonymous visitor's answers (every flow entered anonymously, as `plan` without a user).
    pub anonymous: Answers,
    /// User indices sorted by username (byte order), then pk: see [`Bulk::by_name`].
    by_name: std::sync::OnceLock<Vec<u32>>,
    /// With [`Options::deciders`]: per application answered (its index in [`Layout::apps`]),
    /// the bindings that carry each class's decision.
    deciders: HashMap<usize, Deciders>,
}

/// For one application, the bindings that carry each identity class's decision.
pub struct Deciders {
    /// Per identity class, its local class in the application's component (`u32::MAX`: none).
    local: Vec<u32>,
    /// Per local class, the pks of the bindings of `named_by`.
    sets: Vec<Vec<String>>,
}

impl Deciders {
    /// The pks (sorted) of the bindings that carry the decision for identity class `k`; empty
    /// where no binding does.
    pub fn of(&self, k: u32) -> &[String] {
        let local = self.local[k as usize];
        self.sets.get(local as usize).map_or(&[], Vec::as_slice)
    }

    /// Which way the decision is made for identity class `k`: classes with the same way have
    /// the same deciding bindings (its local class in the application's component).
    pub fn way(&self, k: u32) -> u32 {
        self.local[k as usize]
    }
}

/// Per application (by pk), the bindings of `named_by` that carry its decision for each
/// identity class, as a component-by-component run with [`Options::deciders`] read them.
#[derive(Default)]
pub struct AppDeciders(HashMap<String, Deciders>);

impl AppDeciders {
    /// Application `app`'s deciding bindings; `None` where it was not answered.
    pub fn get(&self, app: &str) -> Option<&Deciders> {
        self.0.get(app)
    }
}

/// The built-in rules' answers per identity class, as an evaluation of every user computed
/// them on the way (see [`super::Model::everyone_answering`]).
pub struct Answered {
    /// Flows, stage bindings and applications in output order.
    pub layout: Layout,
    /// Each class's answers.
    pub answers: Vec<Answers>,
    /// The anonymous visitor's answers.
    pub anonymous: Answers,
}

/// What an evaluation by scope keeps of its component step besides the rows it gathers.
#[derive(Clone, Copy, Debug, Default)]
pub struct Keep<'a> {
    /// The built-in rules' answers per identity class ([`Answered`]).
    pub answers: bool,
    /// The bindings that carry each application's decision ([`AppDeciders`]).
    pub deciders: bool,
    /// The whole program's relations with each tuple's height, for proofs read later.
    pub proofs: bool,
    /// Component evaluations shared with other evaluations by scope (see [`Memo`]).
    pub memo: Option<&'static Memo>,
    /// Told when the evaluation starts its mostly sequential steps (see [`Idle`]).
    pub idle: Option<&'a Idle>,
}

/// A signal that an evaluation by scope has come to its mostly sequential steps (the whole
/// program's inputs and evaluation, about a second at a million users), which leave a core
/// idle: work that waits for it ([`Idle::wait`]) runs beside them, not beside the parallel
/// steps before, which it would slow.
#[derive(Debug, Default)]
pub struct Idle {
    told: std::sync::Mutex<bool>,
    changed: std::sync::Condvar,
}

impl Idle {
    /// Tells those waiting that a core is idle now (and from now on: a later wait returns at
    /// once).
    pub fn now(&self) {
        *self.told.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.changed.notify_all();
    }

    /// Waits until [`Idle::now`] is told.
    pub fn wait(&self) {
        let mut told = self.told.lock().unwrap_or_else(|e| e.into_inner());
        while !*told {
            told = self.changed.wait(told).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// What an evaluation by scope kept (see [`Keep`]).
#[derive(Default)]
pub struct Kept {
    /// The built-in rules' answers, where kept.
    pub answered: Option<Answered>,
    /// The deciding bindings (empty unless kept).
    pub deciders: AppDeciders,
    /// The whole program's relations with their heights, where kept.
    pub heighted: Option<crate::datalog::Heighted>,
}

/// The built-in rules, parsed and checked.
pub fn builtin_rules() -> Result<Rules, String> {
    Rules::from_texts(&RULES).map_err(|f| f.render(100))
}

/// Reads an evaluation's answers for some subjects (user pks) and the anonymous visitor.
struct Reader<'e> {
    eval: &'e Evaluation,
    rules: &'e Rules,
}

impl Reader<'_> {
    fn sym(&self, s: &str) -> Option<u32> {
        self.eval.symbols.get(s)
    }
    fn rows(&self, rel: &str) -> impl Iterator<Item = &[u32]> {
        let id = self.rules.program.relation(rel);
        id.into_iter().flat_map(|id| self.eval.tables[id].rows())
    }
    /// Each item's position by the symbol of its pk (items whose pk no fact holds are left out).
    fn positions<T>(&self, items: &[T], pk: impl Fn(&T) -> &String) -> FxHashMap<u32, usize> {
        items
            .iter()
            .enumerate()
            .filter_map(|(i, x)| self.sym(pk(x)).map(|s| (s, i)))
            .collect()
    }
    fn code(&self, v: u32) -> u8 {
        Tri::read(self.eval.symbols.resolve(v)).code()
    }
}

/// Sets each flow's default entry in `layout` from an evaluation of the whole configuration.
fn entries(eval: &Evaluation, rules: &Rules, layout: &mut Layout) {
    for f in &mut layout.flows {
        f.entry = default_entry(eval, rules, &f.pk);
    }
}

/// Reads the answers of `subjects` (user pks; `ANON` reads the anonymous visitor entering every
/// flow anonymously) from one evaluation.
fn read_answers(
    eval: &Evaluation,
    rules: &Rules,
    layout: &Layout,
    subjects: &[String],
) -> Vec<Answers> {
    let r = Reader { eval, rules };
    let mut out = vec![Answers::unknown(layout); subjects.len()];
    let who: FxHashMap<u32, usize> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| r.sym(s).map(|id| (id, i)))
        .collect();
    let anon_subject = r.sym(ANON);
    let (anonymous, authenticated) = (r.sym(ANONYMOUS_ENTRY), r.sym(AUTHENTICATED_ENTRY));
    let entry_of = |flow: usize, subject: u32| {
        if Some(subject) == anon_subject || layout.flows[flow].entry == ANONYMOUS_ENTRY {
            anonymous
        } else {
            authenticated
        }
    };
    let flows = r.positions(&layout.flows, |f| &f.pk);
    let stages = r.positions(&layout.stages, |x| &x.pk);
    let apps = r.positions(&layout.apps, |a| &a.pk);
    let [flow_at, entry_at, subject_at, value_at] = APPLICABLE;
    for row in r.rows("applicable") {
        if let (Some(&f), Some(&s)) = (flows.get(&row[flow_at]), who.get(&row[subject_at]))
            && Some(row[entry_at]) == entry_of(f, row[subject_at])
        {
            out[s].applicable[f] = r.code(row[value_at]);
        }
    }
    let [binding_at, entry_at, subject_at, value_at] = VISIBLE;
    for row in r.rows("visible") {
        if let (Some(&x), Some(&s)) = (stages.get(&row[binding_at]), who.get(&row[subject_at]))
            && Some(row[entry_at]) == entry_of(layout.stages[x].flow, row[subject_at])
        {
            out[s].visible[x] = r.code(row[value_at]);
        }
    }
    let app_ctx = r.sym("app");
    let [target_at, identity_at, context_at, value_at] = DECIDE;
    for row in r.rows("decide") {
        if let (Some(&a), Some(&s)) = (apps.get(&row[target_at]), who.get(&row[identity_at]))
            && Some(row[context_at]) == app_ctx
        {
            out[s].access[a] = r.code(row[value_at]);
        }
    }
    out
}

impl<'a> Bulk<'a> {
    /// Partitions the users into classes and evaluates the rules once per class; `progress` is
    /// told how many classes are done after each chunk (of `classes.len()` in all).
    pub fn new(
        snapshot: &'a Snapshot,
        options: Options,
        progress: &(dyn Fn(Phase) + Sync),
    ) -> Result<Bulk<'a>, String> {
        let rules = builtin_rules()?;
        let ctx = KeyContext::new(snapshot, &rules.program);
        progress(Phase::Classifying);
        let classes = ctx.classes(4096);
        Self::with_classes(snapshot, &rules, &ctx, classes, options, progress)
    }

    /// Evaluates the rules for every class of `classes` (use [`Classes::singletons`] for a
    /// per-user run): component by component, or with `options.whole` the whole configuration
    /// per chunk of representatives.
    pub fn with_classes(
        snapshot: &'a Snapshot,
        rules: &Rules,
        ctx: &KeyContext<'_>,
        classes: Classes,
        options: Options,
        progress: &(dyn Fn(Phase) + Sync),
    ) -> Result<Bulk<'a>, String> {
        let mut layout = Layout::of(snapshot);
        let mut deciders = HashMap::new();
        let (answers, anonymous) = if options.whole {
            whole(
                snapshot,
                rules,
                ctx,
                &classes,
                &mut layout,
                options,
                progress,
            )?
        } else {
            let run = by_component(
                snapshot,
                rules,
                ctx,
                &classes,
                &mut layout,
                options,
                progress,
                None,
            )?;
            deciders = run.deciders;
            (run.answers, run.anonymous)
        };
        Ok(Bulk {
            snapshot,
            layout,
            classes,
            answers,
            anonymous,
            by_name: std::sync::OnceLock::new(),
            deciders,
        })
    }

    /// The pks (sorted) of the bindings that carry the decision of application `app` (its index in
    /// [`Layout::apps`]) for the user at `index`, as the rules' `named_by` names them;
    /// empty unless the run read them ([`Options::deciders`]).
    pub fn deciders(&self, app: usize, index: usize) -> &[String] {
        self.deciders
            .get(&app)
            .map_or(&[], |d| d.of(self.classes.of_user[index]))
    }

    /// The analysis from answers already computed for these identity classes.
    pub fn answered(snapshot: &'a Snapshot, classes: Classes, answered: Answered) -> Bulk<'a> {
        Bulk {
            snapshot,
            layout: answered.layout,
            classes,
            answers: answered.answers,
            anonymous: answered.anonymous,
            by_name: std::sync::OnceLock::new(),
            deciders: HashMap::new(),
        }
    }

    /// User indices sorted by username (byte order), then pk: the order of the per-user forms.
    /// Sorted on first use (the summary and the class form need no order of users).
    pub fn by_name(&self) -> &[u32] {
        self.by_name.get_or_init(|| {
            let users = &self.snapshot.users;
            let mut by_name: Vec<u32> = (0..users.len() as u32).collect();
            by_name.par_sort_by(|a, b| {
                let (ua, ub) = (&users[*a as usize], &users[*b as usize]);
                ua.username
                    .as_bytes()
                    .cmp(ub.username.as_bytes())
                    .then(ua.pk.cmp(&ub.pk))
            });
            by_name
        })
    }

    /// The answers of the user at `index` (in `snapshot.users`).
    pub fn of_user(&self, index: usize) -> &Answers {
        &self.answers[self.classes.of_user[index] as usize]
    }
}

/// The rules over the whole configuration (users removed), then over it with each chunk of
/// representatives added: every evaluation derives everything again.
fn whole(
    snapshot: &Snapshot,
    rules: &Rules,
    ctx: &KeyContext<'_>,
    classes: &Classes,
    layout: &mut Layout,
    options: Options,
    progress: &(dyn Fn(Phase) + Sync),
) -> Result<(Vec<Answers>, Answers), String> {
    let mut base = Inputs::new(rules);
    super::add_facts(rules, &mut base, &ctx.components.global)?;
    for owned in &ctx.components.owned {
        super::add_facts(rules, &mut base, owned)?;
    }
    let engine = Engine::Fast {
        parallel: options.parallel_strata,
    };
    // The user-independent part once: the flows' default entries and the anonymous visitor.
    let eval = rules
        .evaluate(&base, engine, Limits::default())
        .map_err(|e| e.to_string())?;
    entries(&eval, rules, layout);
    let anonymous = read_answers(&eval, rules, layout, &[ANON.to_string()])
        .pop()
        .unwrap_or_else(|| Answers::unknown(layout));
    drop(eval);
    let total = classes.len();
    progress(Phase::Evaluating { done: 0, total });
    let done = std::sync::atomic::AtomicUsize::new(0);
    let layout = &*layout;
    let chunks: Vec<Vec<Answers>> = classes
        .representative
        .par_chunks(options.chunk.max(1))
        .map(|chunk| {
            let facts = ctx.user_facts(chunk);
            let mut inputs = Inputs {
                tables: base.tables.clone(),
                symbols: base.symbols.clone(),
                origins: base.origins.clone(),
            };
            super::add_facts(rules, &mut inputs, &facts)?;
            let eval = rules
                .evaluate(&inputs, engine, Limits::default())
                .map_err(|e| e.to_string())?;
            let pks: Vec<String> = chunk
                .iter()
                .map(|i| snapshot.users[*i].pk.to_string())
                .collect();
            let answers = read_answers(&eval, rules, layout, &pks);
            let n = done.fetch_add(chunk.len(), std::sync::atomic::Ordering::Relaxed);
            progress(Phase::Evaluating {
                done: n + chunk.len(),
                total,
            });
            Ok(answers)
        })
        .collect::<Result<_, String>>()?;
    Ok((chunks.into_iter().flatten().collect(), anonymous))
}

/// One component's answers: per local class (then the anonymous visitor last) the codes of
/// its questions ([`Slot`]).
#[derive(Clone)]
struct Codes {
    /// Codes, `width` per local class, the anonymous visitor's last.
    codes: Vec<u8>,
    /// Codes per local class.
    width: usize,
}

/// Which questions of the [`Layout`] a component answers.
#[derive(Clone, Copy, Debug)]
enum Slot {
    /// Whether a flow applies, then each of its stage bindings (all the flow's questions).
    Flow(usize),
    /// Whether a flow applies, then one stage binding's visibility if there is one.
    Stage(usize, Option<usize>),
    /// Access to an application.
    App(usize),
    /// Not a question of the layout.
    None,
}

impl Slot {
    fn width(self, layout: &Layout) -> usize {
        match self {
            Slot::Flow(f) => 1 + layout.flows[f].stages.len(),
            Slot::Stage(_, x) => 1 + usize::from(x.is_some()),
            Slot::App(_) | Slot::None => 1,
        }
    }

    /// Puts one row of codes into `answers`.
    fn put(self, layout: &Layout, row: &[u8], answers: &mut Answers) {
        match self {
            Slot::Flow(f) => {
                answers.applicable[f] = row[0];
                answers.visible[layout.flows[f].stages.clone()].copy_from_slice(&row[1..]);
            }
            Slot::Stage(f, x) => {
                answers.applicable[f] = row[0];
                if let Some(x) = x {
                    answers.visible[x] = row[1];
                }
            }
            Slot::App(a) => answers.access[a] = row[0],
            Slot::None => {}
        }
    }
}

/// What one flow evaluated with all its facts and no user gives its stages' evaluations.
struct FlowRun {
    /// The tables of the relations it gives its stages: those the same for every user, and the
    /// [`ANONYMOUS`](super::components::ANONYMOUS) ones.
    tables: Vec<(usize, crate::datalog::eval::Table)>,
    /// Symbol -> the stage component owning the object it names, for the flow's stages.
    stage_of_symbol: FxHashMap<u32, usize>,
    /// The symbols those tables use.
    symbols: crate::datalog::value::Interner,
    /// The anonymous visitor's answers for the flow.
    anonymous: Codes,
    /// How users enter the flow by default.
    entry: &'static str,
    /// The anonymous visitor's gathered rows (when rows are gathered).
    anon_rows: Vec<super::scoped::Row>,
}

impl FlowRun {
    /// The rows of `table` the stage component `c` reads: those that do not start with an
    /// object another stage of the flow owns (each fact belongs to the object in its first
    /// column, derived ones too).
    fn rows_for(
        &self,
        table: &crate::datalog::eval::Table,
        c: usize,
    ) -> crate::datalog::eval::Table {
        let mut out = crate::datalog::eval::Table::new(table.arity);
        if table.arity == 0 {
            out.len = table.len;
            return out;
        }
        for row in table.rows() {
            if self.stage_of_symbol.get(&row[0]).is_none_or(|o| *o == c) {
                out.push(row);
            }
        }
        out
    }
}

/// Component by component: the relations every component shares are derived once; each flow
/// once with all its facts and no users, for what its stages read across the flow; each
/// component with its own facts, those given relations and one representative per local class;
/// the answers are gathered per identity class. With `collect`, the rows of its relations are
/// gathered as well, per component and local class (see [`super::scoped`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn by_component(
    snapshot: &Snapshot,
    rules: &Rules,
    ctx: &KeyContext<'_>,
    classes: &Classes,
    layout: &mut Layout,
    options: Options,
    progress: &(dyn Fn(Phase) + Sync),
    collect: Option<&super::scoped::Collect<'_>>,
) -> Result<ComponentRun, String> {
    use super::components::{ANONYMOUS, Part};
    let comps = &ctx.components;
    let start = std::time::Instant::now();
    let flow_of = index_by(&layout.flows, |f| &f.pk);
    let stage_of = index_by(&layout.stages, |x| &x.pk);
    let app_of = index_by(&layout.apps, |a| &a.pk);
    let flow_slot: Vec<Option<usize>> = comps
        .flows
        .iter()
        .map(|f| flow_of.get(f.pk.as_str()).copied())
        .collect();
    let slots: Vec<Slot> = comps
        .parts
        .iter()
        .map(|p| match p {
            Part::Stage { flow, binding } => match flow_slot[*flow] {
                Some(f) => {
                    Slot::Stage(f, binding.as_deref().and_then(|x| stage_of.get(x).copied()))
                }
                None => Slot::None,
            },
            Part::App(pk) => app_of
                .get(pk.as_str())
                .map_or(Slot::None, |a| Slot::App(*a)),
            Part::Target(_) => Slot::None,
        })
        .collect();
    // The components the scope needs; the others are neither classified nor evaluated. The
    // other binding targets answer nothing of the stages and applications: only the gathering
    // for the every-user target counts reads them.
    let wanted: Vec<bool> = slots
        .iter()
        .zip(&comps.parts)
        .map(|(s, p)| {
            options.scope.wants(*s)
                && (collect.is_some_and(|c| c.targets) || !matches!(p, Part::Target(_)))
        })
        .collect();
    let local = ctx.local_classes(classes, &wanted);
    timing("local classes", start);
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let sizes: Vec<usize> = local.first.iter().map(Vec::len).collect();
        eprintln!(
            "timing: {} local classes in {} components (largest {})",
            sizes.iter().sum::<usize>(),
            sizes.len(),
            sizes.iter().max().unwrap_or(&0)
        );
    }
    let start = std::time::Instant::now();
    let program = &rules.program;
    let mut base = Inputs::new(rules);
    super::add_facts(rules, &mut base, &comps.global)?;
    let eval = rules
        .evaluate(
            &base,
            Engine::Fast {
                parallel: options.parallel_strata,
            },
            Limits::default(),
        )
        .map_err(|e| e.to_string())?;
    timing("the configuration's unowned facts", start);
    // Every representative's facts, interned once: per identity class, its rows.
    let (mut rows_of_class, symbols) =
        class_rows(rules, eval.symbols, ctx, &classes.representative)?;
    timing("representatives' facts", start);
    // Input relations with owned or per-user rows vary from one evaluation to the next.
    let mut varying = vec![false; program.relations.len()];
    let mut per_user = vec![false; program.relations.len()];
    for set in &comps.owned {
        for (rel, rows) in &set.relations {
            if let (false, Some(id)) = (rows.is_empty(), program.relation(rel)) {
                varying[id] = true;
            }
        }
    }
    for (r, _) in rows_of_class.iter().flatten() {
        varying[*r] = true;
        per_user[*r] = true;
    }
    let shared = super::components::shared_relations(program, &varying);
    let user_dependent = super::components::user_dependent(program, &per_user);
    // What an evaluation derives: the answers read below and what they rest on; the relations
    // every component shares are given, the rest (deferral reasons, say) skipped.
    let named_by = program.relation("named_by").filter(|_| options.deciders);
    let outputs: Vec<usize> = ANSWERS
        .iter()
        .filter_map(|name| program.relation(name))
        .chain(named_by)
        .chain(collect.iter().flat_map(|c| c.rels.iter().copied()))
        .collect();
    let needed = super::components::needed_for(program, &outputs);
    let mut given: Vec<bool> = shared.iter().zip(&needed).map(|(s, n)| *s || !n).collect();
    // The deciding bindings are read of applications only: elsewhere they are not derived.
    let mut given_to_apps = given.clone();
    if let Some(r) = named_by {
        given[r] = true;
    }
    // What each flow's run gives its stages: the relations that are the same for every user
    // and read the flow's facts, and those only the anonymous visitor reads the flow's other
    // stages for.
    let mut from_flow: Vec<bool> = (0..program.relations.len())
        .map(|r| needed[r] && !shared[r] && !user_dependent[r])
        .collect();
    for r in ANONYMOUS.iter().filter_map(|name| program.relation(name)) {
        from_flow[r] = true;
    }
    let from_flow: Vec<usize> = (0..from_flow.len()).filter(|r| from_flow[*r]).collect();
    let mut given_to_stages = given.clone();
    for &r in &from_flow {
        given_to_stages[r] = true;
    }
    for (r, table) in eval.tables.into_iter().enumerate() {
        if !needed[r] {
            // Nothing the answers rest on reads it: no evaluation needs to copy it.
            base.tables[r] = crate::datalog::eval::Table::new(table.arity);
        } else if shared[r] {
            base.tables[r] = table;
        }
    }
    base.symbols = symbols.frozen();
    // Converted once; every evaluation below adds its own rows to these.
    let prebuilt = rules.prebuild(&base.tables).map_err(|e| e.to_string())?;
    // The relations derived for one user at a time: derived once per identity class, given to
    // every evaluation below with the class's own rows.
    let once: Vec<bool> = super::components::per_user_derived(program, &per_user, &shared)
        .into_iter()
        .zip(&needed)
        .map(|(o, n)| o && *n)
        .collect();
    if once.contains(&true)
        && derive_per_class(
            rules,
            &prebuilt,
            &base.symbols,
            snapshot,
            &classes.representative,
            &once,
            &mut rows_of_class,
        )?
    {
        for given in [&mut given, &mut given_to_apps, &mut given_to_stages] {
            for (g, o) in given.iter_mut().zip(&once) {
                *g |= *o;
            }
        }
    }
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let names: Vec<&str> = (0..once.len())
            .filter(|r| given[*r] && once[*r])
            .map(|r| program.relations[r].name.as_str())
            .collect();
        eprintln!(
            "timing: derived once per identity class: {}",
            names.join(", ")
        );
    }
    timing("relations derived once per identity class", start);
    // What an evaluation returns: the answers, and what a flow gives its stages.
    let mut keep = vec![false; program.relations.len()];
    for &r in outputs.iter().chain(&from_flow) {
        keep[r] = true;
    }
    timing("shared relations", start);
    let start = std::time::Instant::now();
    // Each flow with all its facts and only the anonymous visitor.
    let runs: Vec<FlowRun> = comps
        .flows
        .par_iter()
        .zip(&flow_slot)
        .map(|(flow, slot)| {
            let mut inputs = Inputs::with_symbols(rules, base.symbols.clone());
            super::add_facts(rules, &mut inputs, &flow.facts)?;
            let eval = rules
                .evaluate_on(&prebuilt, &inputs, Limits::default(), Some(&given), &keep)
                .map_err(|e| e.to_string())?;
            let entry = default_entry(&eval, rules, &flow.pk);
            let anon_rows = match collect {
                Some(c) => {
                    let scope = c.scope_of.get(flow.pk.as_str()).copied();
                    c.gather(&eval, rules, scope, &FxHashMap::default(), 0).anon
                }
                None => Vec::new(),
            };
            let slot = slot.map_or(Slot::None, Slot::Flow);
            let anonymous = read_part(&eval, rules, layout, slot, &[ANON.to_string()]);
            // The stage component owning each symbol a row may start with.
            let stage_of_symbol = flow
                .stage_objects
                .iter()
                .filter_map(|(pk, c)| Some((eval.symbols.get(pk)?, *c)))
                .collect();
            Ok(FlowRun {
                entry,
                tables: from_flow
                    .iter()
                    .map(|&r| (r, eval.tables[r].clone()))
                    .collect(),
                stage_of_symbol,
                symbols: eval.symbols.frozen(),
                anonymous,
                anon_rows,
            })
        })
        .collect::<Result<_, String>>()?;
    for (slot, run) in flow_slot.iter().zip(&runs) {
        if let Some(f) = slot {
            layout.flows[*f].entry = run.entry;
        }
    }
    timing("flows for the anonymous visitor", start);
    let start = std::time::Instant::now();
    // With a memo: each component's results under a digest of what its evaluation reads.
    let digests = options.memo.map(|_| {
        let common = memo::Common {
            rules,
            comps,
            layout,
            flags: [
                &given,
                &given_to_apps,
                &given_to_stages,
                &keep,
                &needed,
                &shared,
            ],
            gathered: collect.map(|c| (c.rels.as_slice(), c.users.as_slice())),
            scopes: collect.map(|c| (c.scope_of, c.names)),
            deciders: named_by.is_some(),
        };
        let d = memo::digests(
            &common,
            snapshot,
            classes,
            &rows_of_class,
            &base.symbols,
            &slots,
            &wanted,
            &local.first,
        );
        timing("components' digests", start);
        d
    });
    let remembered = std::sync::atomic::AtomicUsize::new(0);
    let total = comps.len();
    progress(Phase::Evaluating { done: 0, total });
    let done_count = std::sync::atomic::AtomicUsize::new(0);
    let view = &*layout;
    let parts: Vec<memo::Done> = (0..comps.len())
        .into_par_iter()
        .map(|c| {
            if !wanted[c] {
                return Ok((
                    Codes {
                        codes: Vec::new(),
                        width: 0,
                    },
                    None,
                    None,
                ));
            }
            if let (Some(memo), Some(d)) = (options.memo, &digests)
                && let Some(done) = memo.get(&d[c])
            {
                remembered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let n = done_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                progress(Phase::Evaluating { done: n + 1, total });
                return Ok(done);
            }
            let reps: Vec<usize> = local.first[c]
                .iter()
                .map(|k| classes.representative[*k as usize])
                .collect();
            let mut inputs = Inputs::with_symbols(rules, base.symbols.clone());
            let mut given_here = match slots[c] {
                Slot::App(_) => &given_to_apps,
                _ => &given,
            };
            if let Part::Stage { flow, .. } = &comps.parts[c] {
                given_here = &given_to_stages;
                let run = &runs[*flow];
                inputs.symbols = run.symbols.clone();
                for (r, table) in &run.tables {
                    inputs.tables[*r] = run.rows_for(table, c);
                }
            }
            super::add_facts(rules, &mut inputs, &comps.owned[c])?;
            for &k in &local.first[c] {
                for (r, row) in &rows_of_class[k as usize] {
                    inputs.tables[*r].push(row);
                }
            }
            let eval = rules
                .evaluate_on(
                    &prebuilt,
                    &inputs,
                    Limits::default(),
                    Some(given_here),
                    &keep,
                )
                .map_err(|e| e.to_string())?;
            let mut subjects: Vec<String> = reps
                .iter()
                .map(|i| snapshot.users[*i].pk.to_string())
                .collect();
            subjects.push(ANON.into());
            let part = read_part(&eval, rules, view, slots[c], &subjects);
            let deciders = match (named_by, slots[c]) {
                (Some(rel), Slot::App(a)) => Some(read_deciders(
                    &eval,
                    rel,
                    &view.apps[a].pk,
                    &subjects[..reps.len()],
                )),
                _ => None,
            };
            let rows = collect.map(|col| {
                let ids: FxHashMap<u32, usize> = subjects[..reps.len()]
                    .iter()
                    .enumerate()
                    .filter_map(|(i, pk)| Some((eval.symbols.get(pk)?, i)))
                    .collect();
                let scope = match &comps.parts[c] {
                    Part::Stage { flow, .. } => col.scope_of.get(comps.flows[*flow].pk.as_str()),
                    Part::App(pk) | Part::Target(pk) => col.scope_of.get(pk.as_str()),
                };
                col.gather(&eval, rules, scope.copied(), &ids, reps.len())
            });
            let n = done_count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            progress(Phase::Evaluating { done: n + 1, total });
            let done = (part, rows, deciders);
            if let (Some(memo), Some(d)) = (options.memo, &digests) {
                memo.put(d[c], &done);
            }
            Ok(done)
        })
        .collect::<Result<_, String>>()?;
    if let (Some(_), true) = (&digests, std::env::var_os("BINDLOG_TIMINGS").is_some()) {
        eprintln!(
            "timing: {} of {} components remembered",
            remembered.into_inner(),
            comps.len()
        );
    }
    let mut rows = Vec::with_capacity(parts.len());
    let mut deciders = HashMap::new();
    let parts: Vec<Codes> = parts
        .into_iter()
        .enumerate()
        .map(|(c, (part, part_rows, sets))| {
            rows.push(part_rows);
            if let (Some(sets), Slot::App(a)) = (sets, slots[c]) {
                let local = local.ids_in(c);
                deciders.insert(a, Deciders { local, sets });
            }
            part
        })
        .collect();
    timing("components", start);
    let start = std::time::Instant::now();
    // What a class shows each component when it shows it nothing beyond its base.
    let bases = local.by_base.first().map_or(0, Vec::len);
    let templates: Vec<Answers> = (0..bases)
        .into_par_iter()
        .map(|b| {
            let mut a = Answers::unknown(layout);
            for (c, (slot, part)) in slots.iter().zip(&parts).enumerate() {
                let id = local.by_base[c][b];
                if id != u32::MAX {
                    let at = id as usize * part.width;
                    slot.put(layout, &part.codes[at..at + part.width], &mut a);
                }
            }
            a
        })
        .collect();
    // A block of classes at a time, in parallel: each class starts from its base's answers,
    // then takes those of the components it shows more.
    const BLOCK: usize = 1024;
    let n = classes.len() as u32;
    let blocks: Vec<Vec<Answers>> = (0..n.div_ceil(BLOCK as u32))
        .into_par_iter()
        .map(|b| {
            let lo = b * BLOCK as u32;
            let hi = n.min(lo + BLOCK as u32);
            let mut block: Vec<Answers> = (lo..hi)
                .map(|k| {
                    templates
                        .get(local.base[k as usize] as usize)
                        .cloned()
                        .unwrap_or_else(|| Answers::unknown(layout))
                })
                .collect();
            for (c, (slot, part)) in slots.iter().zip(&parts).enumerate() {
                let more = &local.more[c];
                let from = more.partition_point(|x| x.0 < lo);
                for &(k, id) in more[from..].iter().take_while(|x| x.0 < hi) {
                    let at = id as usize * part.width;
                    let codes = &part.codes[at..at + part.width];
                    slot.put(layout, codes, &mut block[(k - lo) as usize]);
                }
            }
            block
        })
        .collect();
    let answers: Vec<Answers> = blocks.into_iter().flatten().collect();
    // The anonymous visitor: each flow's own run, each application's last row.
    let mut anonymous = Answers::unknown(layout);
    for (slot, run) in flow_slot.iter().zip(&runs) {
        if let Some(f) = slot {
            Slot::Flow(*f).put(layout, &run.anonymous.codes, &mut anonymous);
        }
    }
    for ((slot, part), wanted) in slots.iter().zip(&parts).zip(&wanted) {
        if let (Slot::App(_), true) = (slot, wanted) {
            slot.put(layout, &part.codes[part.codes.len() - 1..], &mut anonymous);
        }
    }
    timing("gathering", start);
    let gathered = collect.map(|_| super::scoped::Gathered {
        parts: rows.into_iter().map(Option::unwrap_or_default).collect(),
        flow_anon: runs.into_iter().map(|r| r.anon_rows).collect(),
        local,
    });
    Ok(ComponentRun {
        answers,
        anonymous,
        gathered,
        deciders,
    })
}

/// What a component-by-component run gives.
pub(crate) struct ComponentRun {
    /// Each identity class's answers.
    pub answers: Vec<Answers>,
    /// The anonymous visitor's answers.
    pub anonymous: Answers,
    /// The rows gathered for [`super::scoped`], when asked.
    pub gathered: Option<super::scoped::Gathered>,
    /// With [`Options::deciders`]: per application, its deciding bindings.
    deciders: HashMap<usize, Deciders>,
}

impl ComponentRun {
    /// The deciding bindings, by application pk (`layout` is the run's).
    pub(crate) fn take_deciders(&mut self, layout: &Layout) -> AppDeciders {
        AppDeciders(
            std::mem::take(&mut self.deciders)
                .into_iter()
                .map(|(a, d)| (layout.apps[a].pk.clone(), d))
                .collect(),
        )
    }
}

/// Per subject of `subjects` (representatives' pks), the bindings of `named_by` (relation id
/// `rel`) that carry application `app`'s decision for it, sorted.
fn read_deciders(
    eval: &Evaluation,
    rel: usize,
    app: &str,
    subjects: &[String],
) -> Vec<Vec<String>> {
    let mut sets = vec![Vec::new(); subjects.len()];
    let (Some(app), Some(ctx)) = (eval.symbols.get(app), eval.symbols.get("app")) else {
        return sets;
    };
    let who: FxHashMap<u32, usize> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| Some((eval.symbols.get(s)?, i)))
        .collect();
    let [target_at, identity_at, context_at, binding_at] = NAMED_BY;
    for row in eval.tables[rel].rows() {
        if let (true, Some(&i)) = (
            row[target_at] == app && row[context_at] == ctx,
            who.get(&row[identity_at]),
        ) {
            sets[i].push(eval.symbols.resolve(row[binding_at]).to_string());
        }
    }
    for set in &mut sets {
        set.sort_unstable();
        set.dedup();
    }
    sets
}

/// Per identity class: its representative's input rows, (relation, values).
type ClassRows = Vec<Vec<(usize, Vec<u32>)>>;

/// Every representative's input rows, as [`crate::facts::user_rows`] makes them, interned into
/// `symbols`: per identity class, its rows (relation, values), sorted; and the symbols.
fn class_rows(
    rules: &Rules,
    symbols: crate::datalog::value::Interner,
    ctx: &KeyContext<'_>,
    representatives: &[usize],
) -> Result<(ClassRows, crate::datalog::value::Interner), String> {
    let mut inputs = Inputs::with_symbols(rules, symbols);
    let mut ids: FxHashMap<&'static str, Option<usize>> = FxHashMap::default();
    let mut out: ClassRows = Vec::with_capacity(representatives.len());
    for &i in representatives {
        let mut rows: Vec<(usize, Vec<u32>)> = Vec::new();
        let mut failed = None;
        ctx.user_rows(i, |rel, row| {
            let Some(id) = *ids
                .entry(rel)
                .or_insert_with(|| rules.program.relation(rel))
            else {
                return;
            };
            // Columns no rule observes hold placeholders, as in the every-user model.
            let observed = (rel != super::classes::MEMBERSHIP)
                .then(|| ctx.observed(rel))
                .flatten();
            let held: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(c, v)| match observed {
                    Some(obs) if c > 0 && !obs.get(c).copied().unwrap_or(true) => {
                        super::population::placeholder(rel, c, row[0])
                    }
                    _ => (*v).to_string(),
                })
                .collect();
            let values: Vec<_> = held
                .iter()
                .map(|v| crate::datalog::FactValue::Sym(v))
                .collect();
            match inputs.row(rules, id, &values) {
                Ok(row) => rows.push((id, row)),
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        });
        if let Some(e) = failed {
            return Err(e);
        }
        rows.sort_unstable();
        rows.dedup();
        out.push(rows);
    }
    Ok((out, inputs.symbols))
}

/// Derives the relations `once` (see [`super::components::per_user_derived`]) for every identity
/// class's representative in one evaluation, and adds each row to its user's class in
/// `rows_of_class`. Returns false, adding nothing, when a row's first column is not one of the
/// representatives (then the components derive the relations themselves, as before).
fn derive_per_class(
    rules: &Rules,
    prebuilt: &crate::datalog::eval::fast::Prebuilt,
    symbols: &crate::datalog::value::Interner,
    snapshot: &Snapshot,
    representatives: &[usize],
    once: &[bool],
    rows_of_class: &mut ClassRows,
) -> Result<bool, String> {
    let mut inputs = Inputs::with_symbols(rules, symbols.clone());
    for rows in rows_of_class.iter() {
        for (r, row) in rows {
            inputs.tables[*r].push(row);
        }
    }
    // Everything but `once` is given: the shared relations by the base, the users' rows here.
    let given: Vec<bool> = once.iter().map(|o| !o).collect();
    let eval = rules
        .evaluate_on(prebuilt, &inputs, Limits::default(), Some(&given), once)
        .map_err(|e| e.to_string())?;
    let class_of: FxHashMap<u32, usize> = representatives
        .iter()
        .enumerate()
        .filter_map(|(k, &i)| Some((symbols.get(&snapshot.users[i].pk.to_string())?, k)))
        .collect();
    let mut found: Vec<(usize, usize, Vec<u32>)> = Vec::new();
    for (r, table) in eval.tables.iter().enumerate().filter(|(r, _)| once[*r]) {
        for i in 0..table.len {
            let row = table.row(i);
            match row.first().and_then(|u| class_of.get(u)) {
                Some(&k) => found.push((k, r, row.to_vec())),
                None => return Ok(false),
            }
        }
    }
    for (k, r, row) in found {
        rows_of_class[k].push((r, row));
    }
    Ok(true)
}

/// Each item's position by its pk.
fn index_by<T>(items: &[T], pk: impl Fn(&T) -> &String) -> HashMap<&str, usize> {
    items
        .iter()
        .enumerate()
        .map(|(i, x)| (pk(x).as_str(), i))
        .collect()
}

// Where the answers' columns are in rows read as symbols: found by the views' field names, so
// that they follow the `.decl`s (the views are held to them; see `views::columns`).
/// `applicable`'s flow, entry, subject and value.
const APPLICABLE: [usize; 4] = columns::<Applicable, 4>(["flow", "entry", "subject", "value"]);
/// `visible`'s stage binding, entry, subject and value.
pub(crate) const VISIBLE: [usize; 4] =
    columns::<Visible, 4>(["binding", "entry", "subject", "value"]);
/// `decide`'s target, identity, context and value.
pub(crate) const DECIDE: [usize; 4] =
    columns::<Decide, 4>(["target", "identity", "context", "value"]);
/// `default_entry`'s flow and entry.
const DEFAULT_ENTRY: [usize; 2] = columns::<DefaultEntry, 2>(["flow", "entry"]);
/// `named_by`'s target, identity, context and binding.
const NAMED_BY: [usize; 4] = columns::<NamedBy, 4>(["target", "identity", "context", "binding"]);

/// The relations a component's answers are read from.
const ANSWERS: [&str; 4] = ["default_entry", "applicable", "visible", "decide"];

/// How users enter the flow `pk` by default, as the rules derive it.
fn default_entry(eval: &Evaluation, rules: &Rules, pk: &str) -> &'static str {
    let r = Reader { eval, rules };
    let (flow, anonymous) = (r.sym(pk), r.sym(ANONYMOUS_ENTRY));
    let [flow_at, entry_at] = DEFAULT_ENTRY;
    let anonymous_entry = r
        .rows("default_entry")
        .any(|row| Some(row[flow_at]) == flow && Some(row[entry_at]) == anonymous);
    if anonymous_entry {
        ANONYMOUS_ENTRY
    } else {
        AUTHENTICATED_ENTRY
    }
}

/// Reads one component's answers for `subjects` (user pks, then `ANON`: the anonymous
/// visitor entering anonymously) from its evaluation; users enter a flow as the layout says.
fn read_part(
    eval: &Evaluation,
    rules: &Rules,
    layout: &Layout,
    slot: Slot,
    subjects: &[String],
) -> Codes {
    let r = Reader { eval, rules };
    let who: FxHashMap<u32, usize> = subjects
        .iter()
        .enumerate()
        .filter_map(|(i, s)| r.sym(s).map(|id| (id, i)))
        .collect();
    let anon_subject = r.sym(ANON);
    let (anonymous, authenticated) = (r.sym(ANONYMOUS_ENTRY), r.sym(AUTHENTICATED_ENTRY));
    let width = slot.width(layout);
    let mut codes = vec![UNKNOWN; width * subjects.len()];
    match slot {
        Slot::Flow(f) | Slot::Stage(f, _) => {
            let flow = &layout.flows[f];
            let fsym = r.sym(&flow.pk);
            let entry = flow.entry;
            let entry_of = |subject: u32| {
                if Some(subject) == anon_subject || entry == ANONYMOUS_ENTRY {
                    anonymous
                } else {
                    authenticated
                }
            };
            // The stage bindings read, by their position in the slot's row (after `applicable`).
            let read = match slot {
                Slot::Stage(_, Some(x)) => x..x + 1,
                Slot::Stage(_, None) => 0..0,
                _ => flow.stages.clone(),
            };
            let stages = r.positions(&layout.stages[read], |x| &x.pk);
            let [flow_at, entry_at, subject_at, value_at] = APPLICABLE;
            for row in r.rows("applicable") {
                if let (true, Some(&s)) = (Some(row[flow_at]) == fsym, who.get(&row[subject_at]))
                    && Some(row[entry_at]) == entry_of(row[subject_at])
                {
                    codes[s * width] = r.code(row[value_at]);
                }
            }
            let [binding_at, entry_at, subject_at, value_at] = VISIBLE;
            for row in r.rows("visible") {
                if let (Some(&x), Some(&s)) =
                    (stages.get(&row[binding_at]), who.get(&row[subject_at]))
                    && Some(row[entry_at]) == entry_of(row[subject_at])
                {
                    codes[s * width + 1 + x] = r.code(row[value_at]);
                }
            }
        }
        Slot::App(a) => {
            let asym = r.sym(&layout.apps[a].pk);
            let app_ctx = r.sym("app");
            let [target_at, identity_at, context_at, value_at] = DECIDE;
            for row in r.rows("decide") {
                if let (true, Some(&s)) = (Some(row[target_at]) == asym, who.get(&row[identity_at]))
                    && Some(row[context_at]) == app_ctx
                {
                    codes[s] = r.code(row[value_at]);
                }
            }
        }
        Slot::None => {}
    }
    Codes { codes, width }
}

/// Where a bulk run is, for a progress bar.
#[derive(Clone, Copy, Debug)]
pub enum Phase {
    /// Computing identity classes.
    Classifying,
    /// Evaluating the rules: classes done of total.
    Evaluating {
        /// Classes evaluated.
        done: usize,
        /// Classes in all.
        total: usize,
    },
    /// Writing per-user output: users done of total.
    Writing {
        /// Users written.
        done: usize,
        /// Users in all.
        total: usize,
    },
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180), and kept
/// from a spreadsheet's formulas ([`crate::escape::csv_cell`]).
pub fn csv_field(s: &str, out: &mut Vec<u8>) {
    let s = &*crate::escape::csv_cell(s);
    if s.contains([',', '"', '\n', '\r']) {
        out.push(b'"');
        out.extend_from_slice(s.replace('"', "\"\"").as_bytes());
        out.push(b'"');
    } else {
        out.extend_from_slice(s.as_bytes());
    }
}

fn json_str(s: &str, out: &mut Vec<u8>) {
    // serde_json writes a string with exactly JSON's escapes.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Per-user output forms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `user,flow,entry,applicable,order,stage,visibility`.
    StagesCsv,
    /// `user,app,access`.
    AppsCsv,
    /// One JSON object per user with every flow and application.
    Jsonl,
}

/// A class's per-user output with the username left out: each of its pieces (lines; the one
/// JSON line) follows the user's formatted name.
struct Template {
    /// The pieces, one after another.
    bytes: Vec<u8>,
    /// Where each piece ends in `bytes` (the first starts at 0, the next where one ends).
    ends: Vec<usize>,
}

impl Template {
    /// An empty template.
    fn new() -> Template {
        Template {
            bytes: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Starts a piece: the one before (if any) ends here.
    fn piece(&mut self) {
        if !self.bytes.is_empty() {
            self.ends.push(self.bytes.len());
        }
    }

    /// Ends the last piece.
    fn finish(mut self) -> Template {
        self.piece();
        self
    }

    /// How many bytes one user's output takes when the formatted name takes `name` bytes.
    fn len_with(&self, name: usize) -> usize {
        self.bytes.len() + self.ends.len() * name
    }

    /// Appends one user's output: `name` before every piece.
    fn expand(&self, name: &[u8], out: &mut Vec<u8>) {
        out.reserve(self.len_with(name.len()));
        let mut start = 0;
        for &end in &self.ends {
            out.extend_from_slice(name);
            out.extend_from_slice(&self.bytes[start..end]);
            start = end;
        }
    }
}

/// Bytes of output formatted per task of a window (a chunk of users in username order).
const TASK_BYTES: usize = 1 << 20;

/// Tasks per window and thread: a window is formatted in parallel while the one before it is
/// written.
const TASKS_PER_THREAD: usize = 4;

/// One formatted window on its way to the writer: its tasks' bytes in order and its users.
struct Window {
    parts: Vec<Vec<u8>>,
    users: usize,
}

impl Bulk<'_> {
    /// What follows the username on each of a class's lines, for `form`: one piece per line.
    fn class_bytes(&self, answers: &Answers, form: Form) -> Template {
        let mut t = Template::new();
        let mut num = itoa::Buffer::new();
        match form {
            Form::StagesCsv => {
                for (f, flow) in self.layout.flows.iter().enumerate() {
                    let mut flow_part = Vec::new();
                    flow_part.push(b',');
                    csv_field(&flow.slug, &mut flow_part);
                    flow_part.push(b',');
                    flow_part.extend_from_slice(flow.entry.as_bytes());
                    flow_part.push(b',');
                    flow_part.extend_from_slice(yes_no(answers.applicable[f]).as_bytes());
                    flow_part.push(b',');
                    for x in flow.stages.clone() {
                        let s = &self.layout.stages[x];
                        t.piece();
                        t.bytes.extend_from_slice(&flow_part);
                        t.bytes.extend_from_slice(num.format(s.order).as_bytes());
                        t.bytes.push(b',');
                        csv_field(&s.stage, &mut t.bytes);
                        t.bytes.push(b',');
                        t.bytes
                            .extend_from_slice(visibility(answers.visible[x]).as_bytes());
                        t.bytes.push(b'\n');
                    }
                }
            }
            Form::AppsCsv => {
                for (a, app) in self.layout.apps.iter().enumerate() {
                    t.piece();
                    t.bytes.push(b',');
                    csv_field(&app.slug, &mut t.bytes);
                    t.bytes.push(b',');
                    t.bytes
                        .extend_from_slice(yes_no(answers.access[a]).as_bytes());
                    t.bytes.push(b'\n');
                }
            }
            Form::Jsonl => {
                t.piece();
                t.bytes.extend_from_slice(b",\"flows\":");
                self.answers_json(answers, false, &mut t.bytes);
                t.bytes.extend_from_slice(b"}\n");
            }
        }
        t.finish()
    }

    /// The flows as a JSON array: each with its slug and entry (`anonymous`: every flow's
    /// entry is `anonymous`), what `flow_extra` adds, and its stage bindings in order, each with
    /// its order and stage name and what `stage_extra` adds (fields after a comma).
    fn flows_json(
        &self,
        anonymous: bool,
        out: &mut Vec<u8>,
        mut flow_extra: impl FnMut(usize, &mut Vec<u8>),
        mut stage_extra: impl FnMut(usize, &mut Vec<u8>),
    ) {
        let mut num = itoa::Buffer::new();
        out.push(b'[');
        for (f, flow) in self.layout.flows.iter().enumerate() {
            if f > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"flow\":");
            json_str(&flow.slug, out);
            out.extend_from_slice(b",\"entry\":\"");
            out.extend_from_slice(
                if anonymous {
                    ANONYMOUS_ENTRY
                } else {
                    flow.entry
                }
                .as_bytes(),
            );
            out.push(b'"');
            flow_extra(f, out);
            out.extend_from_slice(b",\"stages\":[");
            for (k, x) in flow.stages.clone().enumerate() {
                let s = &self.layout.stages[x];
                if k > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"order\":");
                out.extend_from_slice(num.format(s.order).as_bytes());
                out.extend_from_slice(b",\"stage\":");
                json_str(&s.stage, out);
                stage_extra(x, out);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}");
        }
        out.push(b']');
    }

    /// `[flows...],"apps":[...]` of one identity as JSON (the anonymous visitor enters every
    /// flow anonymously).
    fn answers_json(&self, answers: &Answers, anonymous: bool, out: &mut Vec<u8>) {
        self.flows_json(
            anonymous,
            out,
            |f, out| {
                out.extend_from_slice(b",\"applicable\":\"");
                out.extend_from_slice(yes_no(answers.applicable[f]).as_bytes());
                out.push(b'"');
            },
            |x, out| {
                out.extend_from_slice(b",\"visibility\":\"");
                out.extend_from_slice(visibility(answers.visible[x]).as_bytes());
                out.push(b'"');
            },
        );
        out.extend_from_slice(b",\"apps\":[");
        for (a, app) in self.layout.apps.iter().enumerate() {
            if a > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"app\":");
            json_str(&app.slug, out);
            out.extend_from_slice(b",\"access\":\"");
            out.extend_from_slice(yes_no(answers.access[a]).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.push(b']');
    }

    /// Writes one of the per-user forms: every user in username order. Windows of users are
    /// formatted in parallel tasks from per-class templates while a writer thread writes the
    /// window before, in order; at most three windows are alive and their buffers are reused.
    pub fn write_users<W: Write + Send>(
        &self,
        form: Form,
        out: &mut W,
        progress: &(dyn Fn(Phase) + Sync),
    ) -> io::Result<()> {
        match form {
            Form::StagesCsv => {
                out.write_all(b"user,flow,entry,applicable,order,stage,visibility\n")?
            }
            Form::AppsCsv => out.write_all(b"user,app,access\n")?,
            Form::Jsonl => {}
        }
        let templates: Vec<Template> = self
            .answers
            .par_iter()
            .map(|a| self.class_bytes(a, form))
            .collect();
        let chunk = self.task_users(&templates);
        let window = chunk * TASKS_PER_THREAD * rayon::current_num_threads().max(1);
        let total = self.by_name().len();
        let sink = &mut *out;
        std::thread::scope(|scope| {
            let (full, to_write) = std::sync::mpsc::sync_channel::<Window>(1);
            let (recycle, empty) = std::sync::mpsc::channel::<Vec<Vec<u8>>>();
            let writer =
                scope.spawn(move || write_windows(sink, to_write, recycle, total, progress));
            for users in self.by_name().chunks(window) {
                let mut parts = empty.try_recv().unwrap_or_default();
                parts.resize_with(users.len().div_ceil(chunk), Vec::new);
                users
                    .par_chunks(chunk)
                    .zip(parts.par_iter_mut())
                    .for_each(|(users, buf)| self.format_users(users, &templates, form, buf));
                let users = users.len();
                if full.send(Window { parts, users }).is_err() {
                    break; // The writer stopped on an error, which join returns.
                }
            }
            drop(full);
            writer
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })?;
        out.flush()
    }

    /// Users per task: about [`TASK_BYTES`] of output, from the average user.
    fn task_users(&self, templates: &[Template]) -> usize {
        let users = self.by_name().len().max(1);
        let bytes: usize = self
            .classes
            .members
            .iter()
            .zip(templates)
            .map(|(m, t)| *m as usize * t.len_with(8))
            .sum();
        (TASK_BYTES / (bytes / users).max(1)).clamp(1, 1 << 16)
    }

    /// Replaces `buf` with the output of `users` (indices, in username order).
    fn format_users(&self, users: &[u32], templates: &[Template], form: Form, buf: &mut Vec<u8>) {
        buf.clear();
        let mut name = Vec::new();
        for &u in users {
            let user = &self.snapshot.users[u as usize];
            name.clear();
            match form {
                Form::Jsonl => {
                    name.extend_from_slice(b"{\"user\":");
                    json_str(&user.username, &mut name);
                }
                _ => csv_field(&user.username, &mut name),
            }
            templates[self.classes.of_user[u as usize] as usize].expand(&name, buf);
        }
    }

    /// The class-level form, compact enough for a million users: a first JSON line naming the
    /// questions once (`questions`: the flows with their entries and stage bindings in order,
    /// the applications), then one line for the anonymous visitor and one per class with its
    /// member count, its representative and its answers as one letter per question, in the
    /// order of the first line (`Y` yes/shown, `N` no/skipped, `U` unknown): `flows` (does
    /// the flow apply), `stages` (every flow's stage bindings, flow after flow), `apps`.
    pub fn write_classes<W: Write>(&self, out: &mut W) -> io::Result<()> {
        let mut buf = Vec::new();
        buf.extend_from_slice(b"{\"questions\":{\"flows\":");
        self.flows_json(false, &mut buf, |_, _| {}, |_, _| {});
        buf.extend_from_slice(b",\"apps\":[");
        for (a, app) in self.layout.apps.iter().enumerate() {
            if a > 0 {
                buf.push(b',');
            }
            json_str(&app.slug, &mut buf);
        }
        buf.extend_from_slice(
            b"]},\"codes\":{\"Y\":\"yes or shown\",\"N\":\"no or skipped\",\"U\":\"unknown\"}}\n",
        );
        buf.extend_from_slice(b"{\"class\":\"anonymous\",\"members\":1,\"representative\":null,");
        Self::codes_json(&self.anonymous, &mut buf);
        buf.extend_from_slice(b"}\n");
        out.write_all(&buf)?;
        let lines: Vec<Vec<u8>> = self
            .answers
            .par_iter()
            .enumerate()
            .map(|(c, a)| {
                let mut b = Vec::new();
                let rep = &self.snapshot.users[self.classes.representative[c]];
                b.extend_from_slice(b"{\"class\":");
                b.extend_from_slice(itoa::Buffer::new().format(c).as_bytes());
                b.extend_from_slice(b",\"members\":");
                b.extend_from_slice(
                    itoa::Buffer::new()
                        .format(self.classes.members[c])
                        .as_bytes(),
                );
                b.extend_from_slice(b",\"representative\":");
                json_str(&rep.username, &mut b);
                b.push(b',');
                Self::codes_json(a, &mut b);
                b.extend_from_slice(b"}\n");
                b
            })
            .collect();
        for l in lines {
            out.write_all(&l)?;
        }
        out.flush()
    }

    /// `"flows":"YN..","stages":"..","apps":".."` of one identity.
    fn codes_json(answers: &Answers, out: &mut Vec<u8>) {
        for (i, (name, codes)) in [
            ("flows", &answers.applicable),
            ("stages", &answers.visible),
            ("apps", &answers.access),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":\"");
            out.extend(codes.iter().map(|c| b"YNU"[*c as usize]));
            out.push(b'"');
        }
    }
}

/// The writer thread of [`Bulk::write_users`]: writes each window's parts in order, reports
/// progress, and hands the emptied buffers back. Stops at the first error (the formatting side
/// then sees the channel closed).
fn write_windows<W: Write>(
    out: &mut W,
    windows: std::sync::mpsc::Receiver<Window>,
    recycle: std::sync::mpsc::Sender<Vec<Vec<u8>>>,
    total: usize,
    progress: &(dyn Fn(Phase) + Sync),
) -> io::Result<()> {
    let mut done = 0;
    for w in windows {
        for part in &w.parts {
            out.write_all(part)?;
        }
        done += w.users;
        progress(Phase::Writing { done, total });
        // The formatting side may be finished and gone: then the buffers are simply dropped.
        let _ = recycle.send(w.parts);
    }
    Ok(())
}

/// Counts of shown/skipped/unknown (or yes/no/unknown) per stage binding and per application.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Per stage binding: users with shown, skipped, unknown.
    pub stages: Vec<[u64; 3]>,
    /// Per flow: users for whom it applies yes, no, unknown.
    pub flows: Vec<[u64; 3]>,
    /// Per application: users with access yes, no, unknown.
    pub apps: Vec<[u64; 3]>,
    /// Users counted.
    pub users: u64,
}

impl Bulk<'_> {
    /// Counts over classes weighted by `weight(class)` users.
    pub fn counts(&self, weight: impl Fn(usize) -> u64) -> Counts {
        let mut c = Counts {
            stages: vec![[0; 3]; self.layout.stages.len()],
            flows: vec![[0; 3]; self.layout.flows.len()],
            apps: vec![[0; 3]; self.layout.apps.len()],
            users: 0,
        };
        for (k, a) in self.answers.iter().enumerate() {
            let w = weight(k);
            if w == 0 {
                continue;
            }
            c.users += w;
            for (i, v) in a.visible.iter().enumerate() {
                c.stages[i][*v as usize] += w;
            }
            for (i, v) in a.applicable.iter().enumerate() {
                c.flows[i][*v as usize] += w;
            }
            for (i, v) in a.access.iter().enumerate() {
                c.apps[i][*v as usize] += w;
            }
        }
        c
    }

    /// Counts over every user.
    pub fn totals(&self) -> Counts {
        self.counts(|k| u64::from(self.classes.members[k]))
    }

    /// Per group (index into `snapshot.groups`), how many of its members (direct or through
    /// the hierarchy) are in each class.
    pub fn members_by_group(&self, ctx: &KeyContext<'_>) -> Vec<HashMap<u32, u64>> {
        let mut out: Vec<HashMap<u32, u64>> = vec![HashMap::new(); self.snapshot.groups.len()];
        for u in 0..self.snapshot.users.len() {
            let class = self.classes.of_user[u];
            for g in ctx.effective_groups(u) {
                *out[g as usize].entry(class).or_default() += 1;
            }
        }
        out
    }

    /// Users (indices, in username order) whose stage binding `x` has visibility `v`.
    pub fn users_with_stage(&self, x: usize, v: u8) -> impl Iterator<Item = usize> + '_ {
        self.by_name()
            .iter()
            .map(|u| *u as usize)
            .filter(move |u| self.of_user(*u).visible[x] == v)
    }

    /// Users (indices, in username order) whose access to application `a` is `v`.
    pub fn users_with_access(&self, a: usize, v: u8) -> impl Iterator<Item = usize> + '_ {
        self.by_name()
            .iter()
            .map(|u| *u as usize)
            .filter(move |u| self.of_user(*u).access[a] == v)
    }
}
