//! Answers in authentik's terms, computed by the rules in `rules/authentik/` over a snapshot's
//! facts: one identity through one flow (`plan`), application access, and every user at once
//! by identity class (`bulk`, `classes`).

pub mod bulk;
pub mod classes;
pub mod components;
pub mod coverage;
pub mod deferral;
pub mod diff;
pub mod highlights;
pub mod memberships;
pub mod paths;
pub mod population;
pub mod scoped;
pub mod targets;
pub mod views;
pub mod words;

use crate::datalog::eval::Limits;
use crate::datalog::ir::Ty;
use crate::datalog::provenance::{Explainer, Explanation};
use crate::datalog::value::parse_number;
use crate::datalog::{Engine, Evaluation, FactValue, Inputs, Rules};
use crate::facts::{self, Value};
use crate::snapshot::Snapshot;
use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use views::{ANON, View};

/// The built-in rules, compiled into the binary and cited by their path in the repository.
pub const RULES: [(&str, &str); 16] = [
    (
        "rules/authentik/schema.dl",
        include_str!("../../rules/authentik/schema.dl"),
    ),
    (
        "rules/authentik/identity.dl",
        include_str!("../../rules/authentik/identity.dl"),
    ),
    (
        "rules/authentik/membership.dl",
        include_str!("../../rules/authentik/membership.dl"),
    ),
    (
        "rules/authentik/policies.dl",
        include_str!("../../rules/authentik/policies.dl"),
    ),
    (
        "rules/authentik/context.dl",
        include_str!("../../rules/authentik/context.dl"),
    ),
    (
        "rules/authentik/engine.dl",
        include_str!("../../rules/authentik/engine.dl"),
    ),
    (
        "rules/authentik/entitlements.dl",
        include_str!("../../rules/authentik/entitlements.dl"),
    ),
    (
        "rules/authentik/flows.dl",
        include_str!("../../rules/authentik/flows.dl"),
    ),
    (
        "rules/authentik/expression.dl",
        include_str!("../../rules/authentik/expression.dl"),
    ),
    (
        "rules/authentik/deferral.dl",
        include_str!("../../rules/authentik/deferral.dl"),
    ),
    (
        "rules/authentik/notifications.dl",
        include_str!("../../rules/authentik/notifications.dl"),
    ),
    (
        "rules/authentik/rac.dl",
        include_str!("../../rules/authentik/rac.dl"),
    ),
    (
        "rules/authentik/devices.dl",
        include_str!("../../rules/authentik/devices.dl"),
    ),
    (
        "rules/authentik/sources.dl",
        include_str!("../../rules/authentik/sources.dl"),
    ),
    (
        "rules/authentik/providers.dl",
        include_str!("../../rules/authentik/providers.dl"),
    ),
    (
        "rules/authentik/labels.dl",
        include_str!("../../rules/authentik/labels.dl"),
    ),
];

/// The rules that combine a user's answers about several targets (a RAC endpoint's application,
/// flow and bindings; an LDAP bind; the login path to an application). They join one user's
/// answers from two flows or applications, which the every-user evaluation keeps apart, so only
/// questions about named users ([`Model::answering`]) evaluate them.
pub const JOURNEYS: (&str, &str) = (
    "rules/authentik/journeys.dl",
    include_str!("../../rules/authentik/journeys.dl"),
);

/// The rules that count every user's answers about the other binding targets (devices,
/// sources, RAC endpoints, notifications, login paths): see [`coverage`].
pub const COVERAGE: (&str, &str) = (
    "rules/authentik/coverage.dl",
    include_str!("../../rules/authentik/coverage.dl"),
);

/// The rules that say which chain of groups an answer tells for a membership: see
/// [`paths::Chains`]. They read only the snapshot's groups and group bindings, so they are
/// evaluated on their own, once per snapshot, by the commands that tell such chains.
pub const PATHS: (&str, &str) = (
    "rules/authentik/paths.dl",
    include_str!("../../rules/authentik/paths.dl"),
);

/// A snapshot with the built-in rules (and any rules of the user's) evaluated over it.
pub struct Model {
    rules: Rules,
    inputs: Inputs,
    eval: Evaluation,
    /// For a model of every user by identity class: the classes, and where each expanded row
    /// came from (relation, row) -> (class-level row, members chosen).
    population: Option<Classed>,
}

/// The identity classes behind a model of every user, and the origins of its expanded rows.
struct Classed {
    population: population::Population,
    origins: Origins,
    /// What the user should know about how the model was evaluated.
    notes: Vec<String>,
    /// For a model evaluated per scope (see [`scoped`]): which relations carry the scope
    /// column, and the classes of each scope.
    scoped: Option<ByScope>,
}

/// How a model evaluated per scope reads: see [`scoped`].
struct ByScope {
    /// Relations with the hidden scope column.
    has_scope: Vec<bool>,
    /// Relations given from the built-in rules' component evaluations.
    given: Vec<bool>,
    /// The scope classes.
    scopes: scoped::ScopeClasses,
    /// The bindings that carry each application's decision, per identity class (where kept).
    deciders: Option<bulk::AppDeciders>,
    /// The class-level relations with their tuples' heights, where proofs were asked for: the
    /// first proofs are read from them (taken then; later ones evaluate again).
    heighted: std::sync::Mutex<Option<crate::datalog::Heighted>>,
}

/// The bindings that carry one application's decision, user by user ([`Model::app_deciders`]).
pub struct Deciding<'m> {
    model: &'m Model,
    /// Read from the model's `named_by` rows, or per identity class from the component step.
    from: DecidingFrom<'m>,
}

/// Where [`Deciding`] reads the bindings.
enum DecidingFrom<'m> {
    /// The model's own `named_by` rows.
    Rows(Ways),
    /// The component step's, per identity class (`None`: the application was not answered).
    Classes(&'m Classed, Option<&'m bulk::Deciders>),
}

/// Each subject's way (by pk), and each way's deciding bindings.
type Ways = (BTreeMap<String, u32>, Vec<Vec<String>>);

impl Deciding<'_> {
    /// The way the user at `index` in `snapshot.users` is decided: users with the same way
    /// have the same deciding bindings.
    pub fn way(&self, snapshot: &Snapshot, index: usize) -> u32 {
        match &self.from {
            DecidingFrom::Rows((ways, _)) => {
                let pk = snapshot.users[index].pk.to_string();
                ways.get(self.model.representative(&pk))
                    .copied()
                    .unwrap_or(0)
            }
            DecidingFrom::Classes(c, d) => {
                d.map_or(u32::MAX, |d| d.way(c.population.classes.of_user[index]))
            }
        }
    }

    /// [`Deciding::way`] of the representative of identity class `k` (of
    /// [`Model::identity_classes`]).
    pub fn way_of_class(&self, snapshot: &Snapshot, k: u32) -> u32 {
        match &self.from {
            DecidingFrom::Classes(_, d) => d.map_or(u32::MAX, |d| d.way(k)),
            DecidingFrom::Rows(_) => self.way(snapshot, self.model.class_user(k)),
        }
    }

    /// The pks (sorted) of the bindings that carry the decision for the user at `index` in
    /// `snapshot.users`; empty where none does (an unknown answer, or no binding in force).
    pub fn of(&self, snapshot: &Snapshot, index: usize) -> &[String] {
        match &self.from {
            DecidingFrom::Rows((_, sets)) => &sets[self.way(snapshot, index) as usize],
            DecidingFrom::Classes(c, d) => {
                d.map_or(&[], |d| d.of(c.population.classes.of_user[index]))
            }
        }
    }
}

/// The input relations with a row per user (what [`facts::user_rows`] makes, and the weights).
pub(crate) const PER_USER: [&str; 6] = [
    "user",
    "user_active",
    "user_type",
    "user_last_login",
    "direct_member",
    "user_weight",
];

/// Who a question is about.
#[derive(Clone, Debug)]
pub enum Subjects {
    /// Every user.
    All,
    /// These users (pks); none means only the anonymous visitor.
    Only(Vec<String>),
}

impl Model {
    /// Evaluates the built-in rules over a snapshot for the given subjects.
    pub fn new(snapshot: &Snapshot, subjects: &Subjects) -> Result<Model, String> {
        Self::with_rules(snapshot, subjects, &[])
    }

    /// Evaluates the built-in rules, [`COVERAGE`] (the parts [`JOURNEYS`] joins) and
    /// [`JOURNEYS`] for the given subjects, with the facts a
    /// question adds (`asked`: relation and row, e.g. `("host_asked", ["sso.example.com"])`).
    pub fn answering(
        snapshot: &Snapshot,
        subjects: &Subjects,
        asked: &[(&str, Vec<String>)],
    ) -> Result<Model, String> {
        Self::build(snapshot, subjects, &[COVERAGE, JOURNEYS], asked)
    }

    /// Evaluates the built-in rules plus `extra` rule texts (`(name, text)`) over a snapshot.
    pub fn with_rules(
        snapshot: &Snapshot,
        subjects: &Subjects,
        extra: &[(&str, &str)],
    ) -> Result<Model, String> {
        Self::build(snapshot, subjects, extra, &[])
    }

    /// [`Model::answering`] for flows entered from a source login: `ak_is_sso_flow` is true and
    /// the flow's context starts with the source connection's user as the pending user.
    pub fn entered_from_source(snapshot: &Snapshot, subjects: &Subjects) -> Result<Model, String> {
        Self::answering(
            snapshot,
            subjects,
            &[("query_entry", vec!["source".into()])],
        )
    }

    fn build(
        snapshot: &Snapshot,
        subjects: &Subjects,
        extra: &[(&str, &str)],
        asked: &[(&str, Vec<String>)],
    ) -> Result<Model, String> {
        let texts: Vec<(&str, &str)> = RULES.iter().copied().chain(extra.iter().copied()).collect();
        // The model reads relations other than the outputs: a magic-set pragma is not applied.
        let rules = Rules::from_texts_as_written(&texts).map_err(|f| f.render(100))?;
        // The built-in rules and [`JOURNEYS`] decide a user from its own rows (see
        // `facts::facts_about`); rules of the user's may read other users' rows (to count them,
        // say), so they get every row.
        let only: Option<std::collections::HashSet<String>> = match subjects {
            Subjects::Only(users) if extra.iter().all(|x| *x == JOURNEYS || *x == COVERAGE) => {
                Some(users.iter().cloned().collect())
            }
            _ => None,
        };
        let facts = facts::facts_about(snapshot, only.as_ref());
        let mut inputs = Inputs::new(&rules);
        add_facts(&rules, &mut inputs, &facts)?;
        if let Subjects::Only(users) = subjects {
            // A name no user has restricts the question to the anonymous visitor.
            let none = [views::NOBODY.to_string()];
            let users = if users.is_empty() {
                &none[..]
            } else {
                &users[..]
            };
            for u in users {
                inputs.add(&rules, "query_subject", &[FactValue::Sym(u)])?;
            }
        }
        for (rel, row) in asked {
            let values: Vec<FactValue> = row.iter().map(|v| FactValue::Sym(v)).collect();
            inputs.add(&rules, rel, &values)?;
        }
        let eval = rules
            .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
            .map_err(|e| e.to_string())?;
        Ok(Model {
            rules,
            inputs,
            eval,
            population: None,
        })
    }

    /// Evaluates the built-in rules plus `extra` rule texts for every user, then expands the
    /// rows of the relations in `expand` to every user. Other relations hold one row per class,
    /// named by its representative: read them with [`Model::weight_in`] to count users, and
    /// look a user's rows up under [`Model::representative_in`].
    ///
    /// Where the rules allow it (see [`scoped`]), the built-in rules are evaluated one flow or
    /// application at a time and the whole program once over the classes of each; otherwise
    /// once over one representative per identity class the rules can tell apart (see
    /// [`population`]), with a note saying which rule forced it. This is what every command that
    /// needs all users' answers reads; [`Model::with_rules`] with [`Subjects::All`] is the
    /// per-user reference it is tested against.
    pub fn everyone(
        snapshot: &Snapshot,
        extra: &[(&str, &str)],
        expand: &[&str],
    ) -> Result<Model, String> {
        Self::everyone_reading(snapshot, extra, expand, &[], &[])
    }

    /// [`Model::everyone`], where the caller also reads the relations in `read` by class
    /// (under [`Model::representative_in`]), without expanding them, and may prove
    /// ([`Model::explain_all`]) the expanded rows of the relations in `proved`: only theirs
    /// remember the class-level row they came from.
    pub fn everyone_reading(
        snapshot: &Snapshot,
        extra: &[(&str, &str)],
        expand: &[&str],
        read: &[&str],
        proved: &[&str],
    ) -> Result<Model, String> {
        let keep = bulk::Keep::default();
        Ok(Self::everyone_keeping(snapshot, extra, (expand, read, proved), keep)?.0)
    }

    /// [`Model::everyone_reading`], with the component evaluations shared through `memo`
    /// with every other evaluation given it: a component whose facts, users and surroundings
    /// are the same is evaluated once (the two sides of `diff`).
    pub fn everyone_remembering(
        snapshot: &Snapshot,
        extra: &[(&str, &str)],
        (expand, read, proved): (&[&str], &[&str], &[&str]),
        memo: &'static bulk::Memo,
    ) -> Result<Model, String> {
        let keep = bulk::Keep {
            memo: Some(memo),
            ..bulk::Keep::default()
        };
        Ok(Self::everyone_keeping(snapshot, extra, (expand, read, proved), keep)?.0)
    }

    /// [`Model::everyone_reading`], keeping too the bindings that carry each application's
    /// decision for each identity class (the rules' `named_by`, read per component as
    /// `who --app` reads it), for [`Model::app_deciders`]. `idle` is told when the evaluation
    /// comes to its mostly sequential steps (see [`bulk::Idle`]).
    pub fn everyone_deciding(
        snapshot: &Snapshot,
        extra: &[(&str, &str)],
        expand: &[&str],
        read: &[&str],
        proved: &[&str],
        idle: Option<&bulk::Idle>,
    ) -> Result<Model, String> {
        let keep = bulk::Keep {
            deciders: true,
            idle,
            ..bulk::Keep::default()
        };
        Ok(Self::everyone_keeping(snapshot, extra, (expand, read, proved), keep)?.0)
    }

    /// [`Model::everyone`], and the built-in rules' answers per identity class (the bulk
    /// analysis of flows and applications) that the evaluation by scope computes on the way:
    /// one evaluation for both (`analyze --targets`). `None` where the rules could not be
    /// evaluated by scope; the caller then runs the bulk analysis itself.
    pub fn everyone_answering<'a>(
        snapshot: &'a Snapshot,
        extra: &[(&str, &str)],
    ) -> Result<(Model, Option<bulk::Bulk<'a>>), String> {
        let keep = bulk::Keep {
            answers: true,
            ..bulk::Keep::default()
        };
        let (model, answered) = Self::everyone_keeping(snapshot, extra, (&[], &[], &[]), keep)?;
        let bulk = match (answered, &model.population) {
            (Some(a), Some(c)) => Some(bulk::Bulk::answered(
                snapshot,
                c.population.classes.clone(),
                a,
            )),
            _ => None,
        };
        Ok((model, bulk))
    }

    /// [`Model::everyone_reading`] (`(expand, read, proved)`), keeping the built-in rules'
    /// answers per class where asked and evaluated by scope.
    fn everyone_keeping(
        snapshot: &Snapshot,
        extra: &[(&str, &str)],
        (expand, read, proved): (&[&str], &[&str], &[&str]),
        keep: bulk::Keep<'_>,
    ) -> Result<(Model, Option<bulk::Answered>), String> {
        let start = std::time::Instant::now();
        let texts: Vec<(&str, &str)> = RULES.iter().copied().chain(extra.iter().copied()).collect();
        // The model reads relations other than the outputs: a magic-set pragma is not applied.
        let rules = Rules::from_texts_as_written(&texts).map_err(|f| f.render(100))?;
        bulk::timing("everyone: rules read", start);
        let ctx = classes::KeyContext::new(snapshot, &rules.program);
        bulk::timing("everyone: key context", start);
        let per_user: Vec<bool> = rules
            .program
            .relations
            .iter()
            .map(|r| PER_USER.contains(&r.name.as_str()))
            .collect();
        let unweighted = population::unweighted_aggregates(&rules.program, &per_user);
        let mut notes = Vec::new();
        if unweighted.is_empty() {
            let owned = |r: usize| {
                let name = &rules.program.relations[r].name;
                ctx.components
                    .owned
                    .iter()
                    .any(|set| set.relations.get(name).is_some_and(|v| !v.is_empty()))
            };
            match scoped::plan(&rules, RULES.len() as u32, &per_user, &owned) {
                Ok(scoping) => {
                    return Self::by_scope(snapshot, &ctx, scoping, (expand, read, proved), keep);
                }
                Err((span, why)) => notes.push(format!(
                    "{}: {why}; so every identity class is evaluated with every flow and \
                     application instead (slower at scale)",
                    rules.sources.location(span)
                )),
            }
        }
        let classes = if unweighted.is_empty() {
            ctx.classes(4096)
        } else {
            for span in &unweighted {
                notes.push(format!(
                    "{}: this aggregate ranges over users without summing `weight`, so every \
                     user is evaluated on its own (slow at scale); write `sum W : {{ ..., \
                     weight(U, W) }}` to count users",
                    rules.sources.location(*span)
                ));
            }
            classes::Classes::singletons(snapshot.users.len())
        };
        let population = population::Population::new(snapshot, classes);
        let mut inputs = Inputs::new(&rules);
        add_facts(&rules, &mut inputs, &ctx.components.global)?;
        for owned in &ctx.components.owned {
            add_facts(&rules, &mut inputs, owned)?;
        }
        add_facts(&rules, &mut inputs, &population.facts(&ctx))?;
        let mut eval = rules
            .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
            .map_err(|e| e.to_string())?;
        let rels: Vec<&str> = std::iter::once("user")
            .chain(expand.iter().copied().filter(|r| *r != "user"))
            .collect();
        let origins = expand_rows(
            snapshot,
            &rules,
            &mut eval,
            &population,
            (&rels, proved),
            &|_| None,
        );
        Ok((
            Model::classed(rules, inputs, eval, population, origins, notes, None),
            None,
        ))
    }

    /// A model of every user by class, from its parts.
    fn classed(
        rules: Rules,
        inputs: Inputs,
        eval: Evaluation,
        population: population::Population,
        origins: Origins,
        notes: Vec<String>,
        scoped: Option<ByScope>,
    ) -> Model {
        Model {
            rules,
            inputs,
            eval,
            population: Some(Classed {
                population,
                origins,
                notes,
                scoped,
            }),
        }
    }

    /// [`Model::everyone`] for a program [`scoped::plan`] accepted: evaluated per scope class.
    fn by_scope(
        snapshot: &Snapshot,
        ctx: &classes::KeyContext<'_>,
        scoping: scoped::Scoping,
        (expand, read, proved): (&[&str], &[&str], &[&str]),
        keep: bulk::Keep<'_>,
    ) -> Result<(Model, Option<bulk::Answered>), String> {
        let start = std::time::Instant::now();
        let builtin = bulk::builtin_rules()?;
        bulk::timing("everyone: built-in rules read", start);
        let classes = ctx.classes(4096);
        bulk::timing("everyone: identity classes", start);
        if std::env::var_os("BINDLOG_TIMINGS").is_some() {
            eprintln!("timing: {} identity classes", classes.len());
        }
        let population = population::Population::new(snapshot, classes);
        bulk::timing("everyone: population", start);
        let wants: Vec<bool> = scoping
            .rules
            .program
            .relations
            .iter()
            .map(|r| {
                let name = r.name.as_str();
                r.output.is_some() || expand.contains(&name) || read.contains(&name)
            })
            .collect();
        // A caller that may prove rows gets the heights of this evaluation's tuples with it.
        let keep = bulk::Keep {
            proofs: !proved.is_empty(),
            ..keep
        };
        let (inputs, mut eval, scopes, kept) =
            scoped::evaluate(snapshot, &scoping, &wants, ctx, &population, &builtin, keep)?;
        let rules = scoping.rules;
        let start = std::time::Instant::now();
        let within = |tag: &str, class: u32| scopes.members(tag, class).map(<[u32]>::to_vec);
        let origins = expand_rows(
            snapshot,
            &rules,
            &mut eval,
            &population,
            (expand, proved),
            &|id| scoping.has_scope[id].then_some(&within as _),
        );
        bulk::timing("scoped: expanding", start);
        let by = ByScope {
            has_scope: scoping.has_scope,
            given: scoping.given,
            scopes,
            deciders: keep.deciders.then_some(kept.deciders),
            heighted: std::sync::Mutex::new(kept.heighted),
        };
        Ok((
            Model::classed(
                rules,
                inputs,
                eval,
                population,
                origins,
                Vec::new(),
                Some(by),
            ),
            kept.answered,
        ))
    }

    /// The bindings that carry application `app`'s decision for each user (the rules'
    /// `named_by`): per identity class in a model evaluated by scope with
    /// [`Model::everyone_deciding`], from the model's own rows otherwise.
    pub fn app_deciders(&self, app: &str) -> Result<Deciding<'_>, String> {
        let by_class = self
            .population
            .as_ref()
            .and_then(|c| Some((c, c.scoped.as_ref()?)));
        let from = match by_class {
            Some((_, ByScope { deciders: None, .. })) => {
                return Err(
                    "internal error: the deciding bindings were not kept for this model".into(),
                );
            }
            Some((
                c,
                ByScope {
                    deciders: Some(d), ..
                },
            )) => DecidingFrom::Classes(c, d.get(app)),
            None => {
                let mut by_subject: BTreeMap<String, Vec<String>> = BTreeMap::new();
                let [target] = views::columns::<views::NamedBy, 1>(["target"]);
                for r in self.rows_matching("named_by", target, app) {
                    let r = views::NamedBy::from_row(r);
                    if r.context == "app" {
                        by_subject.entry(r.identity).or_default().push(r.binding);
                    }
                }
                for set in by_subject.values_mut() {
                    set.sort_unstable();
                    set.dedup();
                }
                // Equal sets share one way.
                let mut sets: Vec<Vec<String>> = vec![Vec::new()];
                let mut way_of_set: BTreeMap<Vec<String>, u32> = BTreeMap::new();
                way_of_set.insert(Vec::new(), 0);
                let mut ways = BTreeMap::new();
                for (subject, set) in by_subject {
                    let way = *way_of_set.entry(set.clone()).or_insert_with(|| {
                        sets.push(set);
                        sets.len() as u32 - 1
                    });
                    ways.insert(subject, way);
                }
                DecidingFrom::Rows((ways, sets))
            }
        };
        Ok(Deciding { model: self, from })
    }

    /// Whose rows answer for the user with this pk: its identity class's representative in a
    /// model of [`Model::everyone`] (for relations not expanded), the user itself otherwise.
    pub fn representative<'s>(&'s self, pk: &'s str) -> &'s str {
        match &self.population {
            Some(c) => c.population.representative(pk),
            None => pk,
        }
    }

    /// Whose rows answer for the user with this pk where `object` (a flow, stage binding,
    /// application or binding) is concerned: in a model evaluated per scope, the
    /// representative of the user's class for that flow or application;
    /// [`Model::representative`] otherwise.
    pub fn representative_in<'s>(&'s self, object: &str, pk: &'s str) -> &'s str {
        self.class_of(pk)
            .and_then(|k| self.representative_of(object, k))
            .unwrap_or(pk)
    }

    /// Whose rows answer for identity class `k` where `object` is concerned (see
    /// [`Model::representative_in`]); `None` in a model of every user one by one.
    pub fn representative_of(&self, object: &str, k: u32) -> Option<&str> {
        let c = self.population.as_ref()?;
        Some(match &c.scoped {
            Some(ByScope { scopes, .. }) => c.population.rep_pk(scopes.representative(object, k)),
            None => c.population.rep_pk(k),
        })
    }

    /// The identity classes of a model of every user: each class's members, as indices into
    /// `snapshot.users`. In a model of every user one by one, each user is a class of its own.
    pub fn identity_classes(&self, snapshot: &Snapshot) -> std::borrow::Cow<'_, [Vec<u32>]> {
        match &self.population {
            Some(c) => std::borrow::Cow::Borrowed(c.population.class_members()),
            None => (0..snapshot.users.len() as u32).map(|u| vec![u]).collect(),
        }
    }

    /// For every identity class of [`Model::identity_classes`], the class whose rows answer
    /// for it where `object` (a flow, stage binding, application or binding) is concerned: in a
    /// model evaluated per scope, that of the representative of its class for the flow or
    /// application; the class itself otherwise.
    pub fn answering_in(&self, snapshot: &Snapshot, object: &str) -> Vec<u32> {
        let n = match &self.population {
            Some(c) => c.population.class_members().len(),
            None => snapshot.users.len(),
        } as u32;
        self.population
            .as_ref()
            .and_then(|c| c.scoped.as_ref())
            .and_then(|s| s.scopes.answering(object, n))
            .unwrap_or_else(|| (0..n).collect())
    }

    /// The flow or application whose classes answer for `object` in a model evaluated per
    /// scope (as an index); `None` for any other object or model. Objects with the same scope
    /// have the same [`Model::answering_in`].
    pub fn scope_of(&self, object: &str) -> Option<usize> {
        let scoped = self.population.as_ref()?.scoped.as_ref()?;
        scoped.scopes.scope_of.get(object).copied()
    }

    /// The pk whose rows answer for identity class `k` of [`Model::identity_classes`].
    pub fn class_pk<'s>(&'s self, snapshot: &Snapshot, k: u32) -> std::borrow::Cow<'s, str> {
        match &self.population {
            Some(c) => std::borrow::Cow::Borrowed(c.population.rep_pk(k)),
            None => std::borrow::Cow::Owned(snapshot.users[k as usize].pk.to_string()),
        }
    }

    /// Whether this is a model of every user by identity class ([`Model::everyone`]).
    pub fn by_class(&self) -> bool {
        self.population.is_some()
    }

    /// The user (an index into `snapshot.users`) whose rows answer for identity class `k` of
    /// [`Model::identity_classes`].
    pub fn class_user(&self, k: u32) -> usize {
        match &self.population {
            Some(c) => c.population.classes.representative[k as usize],
            None => k as usize,
        }
    }

    /// Every user's identity class of [`Model::identity_classes`], by its index in
    /// `snapshot.users` (in a model of every user one by one, that index).
    pub fn user_classes(&self, snapshot: &Snapshot) -> Vec<u32> {
        match &self.population {
            Some(c) => c.population.classes.of_user.clone(),
            None => (0..snapshot.users.len() as u32).collect(),
        }
    }

    /// The identity class of the user with this pk, in a model of every user by class.
    pub fn class_of(&self, pk: &str) -> Option<u32> {
        self.population.as_ref()?.population.class_of(pk)
    }

    /// Warnings about how the model was evaluated (an aggregate that forced a per-user run).
    pub fn notes(&self) -> &[String] {
        self.population.as_ref().map_or(&[], |c| &c.notes)
    }

    /// How many users a row's subject stands for: the size of its identity class in a model of
    /// [`Model::everyone`] (1 for the anonymous visitor, and for every user in a per-user model).
    pub fn weight(&self, subject: &str) -> u64 {
        self.population
            .as_ref()
            .map_or(1, |c| c.population.weight(subject))
    }

    /// The program and the tables of its output relations as the rules declare them (other
    /// relations' tables are left empty): in a model evaluated per scope, without the scope
    /// column (rows that differed only there become one).
    pub fn plain_tables(
        &self,
    ) -> (
        crate::datalog::ir::Program,
        Vec<crate::datalog::eval::Table>,
    ) {
        let mut program = self.rules.program.clone();
        let scoped = self.population.as_ref().and_then(|c| c.scoped.as_ref());
        let tables = program
            .relations
            .iter_mut()
            .enumerate()
            .map(|(r, rel)| {
                let table = &self.eval.tables[r];
                let unscoped = scoped.is_some_and(|by| by.has_scope[r]);
                if unscoped {
                    rel.attrs.pop();
                    rel.types.pop();
                }
                if rel.output.is_none() && rel.also_output.is_empty() {
                    return crate::datalog::eval::Table::new(rel.arity());
                }
                if !unscoped {
                    return table.clone();
                }
                let mut t = crate::datalog::eval::Table::new(rel.arity());
                for row in table.rows() {
                    t.push(&row[..row.len() - 1]);
                }
                t.normalize();
                t
            })
            .collect();
        (program, tables)
    }

    /// The rules evaluated.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The evaluation.
    pub fn evaluation(&self) -> &Evaluation {
        &self.eval
    }

    /// Proofs (or why-nots) of the given tuples (relation name, values as the facts spell them),
    /// each followed `depth` deep. A model evaluated for proofs (`proved` not empty) kept its
    /// tuples' heights and the first call reads them; otherwise the fast engine evaluates once
    /// more, noting each tuple's height.
    pub fn explain_all(
        &self,
        queries: &[(&str, Vec<String>)],
        depth: usize,
    ) -> Result<Vec<Explanation>, String> {
        self.explain_queries(queries, depth, false)
    }

    /// [`Model::explain_all`], where every negated atom of a proof also says why its tuple does
    /// not hold: what `explain` prints, so that a "no" reaches the missing fact.
    pub fn explain_through_negations(
        &self,
        queries: &[(&str, Vec<String>)],
        depth: usize,
    ) -> Result<Vec<Explanation>, String> {
        self.explain_queries(queries, depth, true)
    }

    fn explain_queries(
        &self,
        queries: &[(&str, Vec<String>)],
        depth: usize,
        negations: bool,
    ) -> Result<Vec<Explanation>, String> {
        let heighted = self
            .population
            .as_ref()
            .and_then(|c| c.scoped.as_ref())
            .and_then(|by| match by.heighted.lock() {
                Ok(mut h) => h.take(),
                Err(p) => p.into_inner().take(),
            });
        // Proofs read from the evaluation's own relations use its symbols, functors' included.
        let mut symbols = match &heighted {
            Some(_) => self.eval.symbols.clone(),
            None => self.inputs.symbols.clone(),
        };
        let mut tuples = Vec::new();
        for (rel, values) in queries {
            let id = self
                .rules
                .program
                .relation(rel)
                .ok_or_else(|| format!("no relation `{rel}`"))?;
            let types = &self.rules.program.relations[id].types;
            let values = self
                .class_row(id, values)
                .map_or_else(|| values.clone(), |(row, _)| row);
            let mut tuple = Vec::new();
            for (v, ty) in values.iter().zip(types) {
                tuple.push(match ty {
                    Ty::Symbol => symbols.intern(v),
                    _ => parse_number(v, *ty)
                        .ok_or_else(|| format!("`{v}` is not a {}", ty.name()))?,
                });
            }
            tuples.push((id, tuple));
        }
        let mut explainer = match heighted {
            Some(h) => {
                Explainer::with_heights(&self.rules, &self.inputs, symbols, Limits::default(), h)
            }
            None => Explainer::new(&self.rules, &self.inputs, symbols, Limits::default())
                .map_err(|e| e.to_string())?,
        };
        if negations {
            explainer.follow_negations(depth);
        }
        let mut out: Vec<Explanation> = tuples
            .iter()
            .map(|(id, t)| explainer.explain(*id, t, depth))
            .collect();
        if let Some(by) = self.population.as_ref().and_then(|c| c.scoped.as_ref()) {
            let program = &self.rules.program;
            let flag = |v: &[bool], rel: &str| program.relation(rel).is_some_and(|r| v[r]);
            for e in &mut out {
                scoped::tell_plainly(e, &|rel| flag(&by.has_scope, rel), &|rel| {
                    flag(&by.given, rel)
                });
            }
        }
        Ok(out)
    }

    /// The class-level row an expanded row of relation `id` came from (formatted), and the
    /// members it was expanded for; `None` for a row that was not expanded.
    fn class_row(&self, id: usize, values: &[String]) -> Option<(Vec<String>, population::Chosen)> {
        let classed = self.population.as_ref()?;
        let types = &self.rules.program.relations[id].types;
        let mut key = Vec::with_capacity(values.len());
        for (v, ty) in values.iter().zip(types) {
            key.push(match ty {
                Ty::Symbol => self.eval.symbols.get(v)?,
                _ => parse_number(v, *ty)?,
            });
        }
        let (row, chosen) = classed.origins.get(&(id, key))?;
        let formatted = row
            .iter()
            .zip(types)
            .map(|(v, t)| crate::datalog::value::format_value(*t, *v, &self.eval.symbols))
            .collect();
        Some((formatted, chosen.clone()))
    }

    /// A text about a row of `rel` (its proof, as [`Model::explain_all`] proved it on the
    /// class-level row), told of the users the row is about.
    pub fn retell(
        &self,
        snapshot: &Snapshot,
        rel: &str,
        values: &[String],
        text: String,
    ) -> String {
        let (Some(classed), Some(id)) = (&self.population, self.rules.program.relation(rel)) else {
            return text;
        };
        let chosen = self
            .class_row(id, values)
            .map(|(_, chosen)| chosen)
            .unwrap_or_default();
        classed.population.retell(snapshot, &text, &chosen)
    }

    /// Readable names for the ids in explanations: users by pk, every other object by its id,
    /// and which columns of each relation hold users, so that a value is named after the kind
    /// of its column (a provider's integer pk `5` is not the user whose pk is 5).
    pub fn labels(&self) -> Labels {
        self.labels_of(|_| true)
    }

    /// [`Model::labels`], with users only where `user(pk)` holds: a million users' labels cost
    /// a second and hundreds of megabytes that a proof naming a few of them does not need.
    pub fn labels_of(&self, user: impl Fn(&str) -> bool) -> Labels {
        let mut users = BTreeMap::new();
        match &self.population {
            // A model by class holds the representatives' rows only.
            Some(c) => {
                for (pk, name) in c.population.users().filter(|(pk, _)| user(pk)) {
                    users.insert(pk.to_string(), format!("user {name}"));
                }
            }
            None => {
                for r in self.view::<views::User>() {
                    if user(&r.pk) {
                        users.insert(r.pk, format!("user {}", r.username));
                    }
                }
            }
        }
        // The rules name every other object (rules/authentik/labels.dl); where one pk has two
        // names, the rows' last.
        let l: BTreeMap<String, String> = self
            .view::<views::Label>()
            .into_iter()
            .map(|r| (r.object, r.label))
            .collect();
        let user_like = classes::user_like_columns(&self.rules.program);
        let user_columns = self
            .rules
            .program
            .relations
            .iter()
            .zip(user_like)
            .filter(|(_, cols)| cols.contains(&true))
            .map(|(r, cols)| (r.name.clone(), cols))
            .collect();
        Labels {
            objects: l,
            users,
            user_columns,
        }
    }

    /// The rows of a relation, formatted (without the scope column of a model evaluated per
    /// scope).
    pub fn rows(&self, rel: &str) -> Vec<Vec<String>> {
        let rows = self.eval.rows(&self.rules, rel).unwrap_or_default();
        self.without_scope(rel, rows)
    }

    /// [`Model::rows`] whose column `column` holds the symbol `value`, filtered before they
    /// are formatted (for a few rows of a large relation).
    pub fn rows_matching(&self, rel: &str, column: usize, value: &str) -> Vec<Vec<String>> {
        let rows = self
            .eval
            .rows_matching(&self.rules, rel, column, value)
            .unwrap_or_default();
        self.without_scope(rel, rows)
    }

    /// Each row of `rel`, a relation of symbols, as borrowed text: unsorted, unformatted and
    /// without a model-by-scope's scope column (so a row may come more than once). For a
    /// large relation read into a map, where [`Model::rows`] would sort and copy every row.
    pub fn each_symbol_row<'m>(&'m self, rel: &str, mut f: impl FnMut(&[&'m str])) {
        let mut row: Vec<&str> = Vec::new();
        self.each_id_row(rel, |r| {
            row.clear();
            row.extend(r.iter().map(|v| self.eval.symbols.resolve(*v)));
            f(&row);
        });
    }

    /// [`Model::each_symbol_row`] with each value as its symbol's id (see
    /// [`Model::symbol_id`]), not resolved to text.
    pub fn each_id_row(&self, rel: &str, mut f: impl FnMut(&[u32])) {
        let Some(id) = self.rules.program.relation(rel) else {
            return;
        };
        let types = &self.rules.program.relations[id].types;
        let scoped = self
            .population
            .as_ref()
            .and_then(|c| c.scoped.as_ref())
            .is_some_and(|s| s.has_scope[id]);
        let width = types.len() - usize::from(scoped);
        debug_assert!(
            types[..width].iter().all(|t| *t == Ty::Symbol),
            "{rel}: not symbols"
        );
        for r in self.eval.tables[id].rows() {
            f(&r[..width]);
        }
    }

    /// The id of a symbol in the model's evaluation ([`Model::each_id_row`]); `None` where the
    /// evaluation knows no such symbol (then no row holds it).
    pub fn symbol_id(&self, text: &str) -> Option<u32> {
        self.eval.symbols.get(text)
    }

    /// The text of a symbol's id.
    pub fn symbol_text(&self, id: u32) -> &str {
        self.eval.symbols.resolve(id)
    }

    /// Rows of `rel` without the scope column of a model evaluated per scope.
    fn without_scope(&self, rel: &str, mut rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
        if let Some(ByScope { has_scope, .. }) =
            self.population.as_ref().and_then(|c| c.scoped.as_ref())
            && let Some(id) = self.rules.program.relation(rel)
            && has_scope[id]
        {
            for r in &mut rows {
                r.pop();
            }
            rows.dedup();
        }
        rows
    }

    /// How many users a row's subject stands for where the row is about `object` (a flow,
    /// stage binding, application or binding: in a model evaluated per scope, a class's size
    /// differs from one flow or application to the next); [`Model::weight`] otherwise.
    pub fn weight_in(&self, object: &str, subject: &str) -> u64 {
        let Some(classed) = &self.population else {
            return 1;
        };
        let pop = &classed.population;
        if let Some(ByScope { scopes, .. }) = &classed.scoped
            && let Some(s) = scopes.scope_of.get(object)
            && let Some(c) = pop.rep_class(subject)
            && let Some(ks) = scopes.classes[*s].get(&c)
        {
            return ks
                .iter()
                .map(|k| u64::from(pop.classes.members[*k as usize]))
                .sum();
        }
        pop.weight(subject)
    }

    /// A relation's first column (the pk of the object its rows are about) mapped to its column
    /// `col` as the `.decl` names it: slug or name for `flow`, `stage`, `application`, username
    /// for `user`, entry (`e`) for `default_entry`. Empty where `rel` has no such column.
    pub fn names(&self, rel: &str, col: &str) -> BTreeMap<String, String> {
        let col = self.column(rel, col);
        debug_assert!(col.is_ok(), "{col:?}");
        let Ok(col) = col else {
            return BTreeMap::new();
        };
        self.rows(rel)
            .into_iter()
            .map(|mut r| {
                let name = std::mem::take(&mut r[col]);
                (std::mem::take(&mut r[0]), name)
            })
            .collect()
    }

    /// The flow with this slug: (pk, designation).
    pub fn flow(&self, slug: &str) -> Option<(String, String)> {
        self.view::<views::Flow>()
            .into_iter()
            .find(|r| r.slug == slug)
            .map(|r| (r.pk, r.designation))
    }

    /// The flows sources start a login in: (flow slug, source slug, `authentication` or
    /// `enrollment`), sorted. authentik enters a flow from a source login only through these.
    pub fn source_flows(&self) -> Vec<(String, String, String)> {
        let flows = self.names("flow", "slug");
        let sources = self.names("source", "slug");
        let mut out: Vec<(String, String, String)> = Vec::new();
        for (rel, kind) in [
            ("source_authentication_flow", "authentication"),
            ("source_enrollment_flow", "enrollment"),
        ] {
            for r in self.view_in::<views::SourceFlow>(rel) {
                let flow = flows.get(&r.flow).cloned().unwrap_or(r.flow);
                let source = sources.get(&r.source).cloned().unwrap_or(r.source);
                out.push((flow, source, kind.to_string()));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The application with this slug: its pk.
    pub fn application(&self, slug: &str) -> Option<String> {
        self.view::<views::Application>()
            .into_iter()
            .find(|r| r.slug == slug)
            .map(|r| r.app)
    }
}

/// Where each expanded row came from: (relation, row) -> (class-level row, members chosen).
type Origins = std::collections::HashMap<(usize, Vec<u32>), (Vec<u32>, population::Chosen)>;

/// Expands the rows of the relations `rels.0` in `eval` to every user (`within` says, per
/// relation, how a scoped row's classes are read), and says where each row of the relations
/// `rels.1` came from.
fn expand_rows<'w>(
    snapshot: &Snapshot,
    rules: &Rules,
    eval: &mut Evaluation,
    population: &population::Population,
    rels: (&[&str], &[&str]),
    within: &dyn Fn(usize) -> Option<&'w population::Within<'w>>,
) -> Origins {
    let mut origins = Origins::new();
    for rel in rels.0 {
        let Some(id) = rules.program.relation(rel) else {
            continue;
        };
        let proved = rels.1.contains(rel);
        for (row, from, chosen) in
            population.expand(snapshot, &rules.program, eval, id, within(id), proved)
        {
            origins.insert((id, row), (from, chosen));
        }
    }
    origins
}

/// Adds a snapshot's facts to a program's inputs, leaving out relations the program does not
/// declare.
pub(crate) fn add_facts(
    rules: &Rules,
    inputs: &mut Inputs,
    facts: &facts::FactSet,
) -> Result<(), String> {
    for (rel, rows) in &facts.relations {
        let Some(id) = rules.program.relation(rel) else {
            continue;
        };
        for row in rows {
            let values: Vec<FactValue> = row
                .iter()
                .map(|v| match v {
                    Value::Sym(s) => FactValue::Sym(s),
                    Value::Num(n) => FactValue::Num(i64::from(*n)),
                })
                .collect();
            inputs.add_to(rules, id, &values)?;
        }
    }
    Ok(())
}

/// The user named by `user` (a username, else a pk): its pk as the facts spell it, and its
/// username. The error says what was expected.
pub fn find_user(snapshot: &Snapshot, user: &str) -> Result<(String, String), String> {
    snapshot
        .users
        .iter()
        .find(|u| &*u.username == user)
        .or_else(|| snapshot.users.iter().find(|u| u.pk.to_string() == user))
        .map(|u| (u.pk.to_string(), u.username.to_string()))
        .ok_or_else(|| {
            let names: Vec<&str> = snapshot.users.iter().map(|u| &*u.username).collect();
            crate::suggest::unknown("user", user, &names)
        })
}

/// One flow-stage binding in a plan.
#[derive(Clone, Debug)]
pub struct PlannedStage {
    /// Its order in the flow.
    pub order: i64,
    /// The stage's name.
    pub stage: String,
    /// The flow-stage binding's pk.
    pub binding: String,
    /// shown, skipped or unknown.
    pub visibility: String,
    /// When authentik evaluates its policies: plan, run, both, or never.
    pub evaluated: Vec<&'static str>,
}

/// Whether a user holds one entitlement of an application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entitled {
    /// The entitlement's pk (`pbm_uuid`).
    pub pk: String,
    /// Its name.
    pub name: String,
    /// yes, no or unknown.
    pub granted: String,
}

/// One identity through one flow.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The flow's slug.
    pub flow: String,
    /// The username, or `None` for an anonymous visitor who never identifies.
    pub user: Option<String>,
    /// anonymous or authenticated.
    pub entry: String,
    /// yes, no or unknown.
    pub applicable: String,
    /// Every flow-stage binding, in plan order (order, then pk).
    pub stages: Vec<PlannedStage>,
    /// Bindings decided only at run time, with the reason (binding `None` where none is to blame).
    pub deferred: Vec<(Option<String>, String)>,
    /// For each entry of `deferred`, what its binding checks, by name (`policy <name>`,
    /// `group <name>`, `user <username>`; the pk is added only where names collide).
    pub deferred_names: Vec<Option<String>>,
}

impl Model {
    /// The plan of flow `slug` for user pk `subject` (or the anonymous visitor), entered as
    /// `entry` (or the flow's default way).
    pub fn plan(
        &self,
        slug: &str,
        subject: Option<(&str, &str)>,
        entry: Option<&str>,
    ) -> Result<Plan, String> {
        let (flow, _) = self
            .flow(slug)
            .ok_or_else(|| self.unknown("flow", slug, "flow"))?;
        if subject.is_none() && entry == Some("authenticated") {
            return Err("an authenticated entry needs a user (--user): without one the visitor is anonymous".into());
        }
        let entry = match entry {
            Some(e) => e.to_string(),
            // Without a user there is no session: the visitor arrives anonymously.
            None if subject.is_none() => "anonymous".to_string(),
            None => self
                .view::<views::DefaultEntry>()
                .into_iter()
                .find(|r| r.flow == flow)
                .map(|r| r.entry)
                .unwrap_or_else(|| "authenticated".into()),
        };
        let s = subject.map_or(ANON, |(pk, _)| pk);
        let applicable = self
            .view::<views::Applicable>()
            .into_iter()
            .find(|r| r.flow == flow && r.entry == entry && r.subject == s)
            .map(|r| views::Tri::read(&r.value).yes_no().to_string())
            .unwrap_or_else(|| "unknown".into());
        let names: BTreeMap<String, String> = self.names("stage", "name");
        let on_plan: Vec<String> = self
            .view::<views::FsbEvaluateOnPlan>()
            .into_iter()
            .map(|r| r.binding)
            .collect();
        let on_run: Vec<String> = self
            .view::<views::FsbReEvaluatePolicies>()
            .into_iter()
            .map(|r| r.binding)
            .collect();
        let visible: BTreeMap<String, String> = self
            .view::<views::Visible>()
            .into_iter()
            .filter(|r| r.entry == entry && r.subject == s)
            .map(|r| (r.binding, r.value))
            .collect();
        let mut stages: Vec<PlannedStage> = self
            .view::<views::Fsb>()
            .into_iter()
            .filter(|r| r.flow == flow)
            .map(|r| {
                let mut evaluated = Vec::new();
                if on_plan.contains(&r.binding) {
                    evaluated.push("plan");
                }
                if on_run.contains(&r.binding) {
                    evaluated.push("run");
                }
                PlannedStage {
                    order: r.order.parse().unwrap_or(0),
                    stage: names.get(&r.stage).cloned().unwrap_or(r.stage),
                    visibility: visible
                        .get(&r.binding)
                        .cloned()
                        .unwrap_or_else(|| "unknown".into()),
                    binding: r.binding,
                    evaluated,
                }
            })
            .collect();
        stages.sort_by(|a, b| {
            a.order
                .cmp(&b.order)
                .then_with(|| a.binding.cmp(&b.binding))
        });
        let deferred: Vec<(Option<String>, String)> = self
            .view::<views::Deferred>()
            .into_iter()
            .filter(|r| r.flow == flow && r.entry == entry && r.subject == s)
            .map(|r| ((!r.binding.is_empty()).then_some(r.binding), r.why))
            .collect();
        let names = self.binding_names();
        let deferred_names = deferred
            .iter()
            .map(|(b, _)| b.as_ref().and_then(|b| names.get(b).cloned()))
            .collect();
        Ok(Plan {
            flow: slug.to_string(),
            user: subject.map(|(_, name)| name.to_string()),
            entry,
            applicable,
            stages,
            deferred,
            deferred_names,
        })
    }

    /// What each policy binding checks, by name: `policy <name>`, `group <name>` or
    /// `user <username>`, with the object's pk added where two objects share the name.
    pub fn binding_names(&self) -> BTreeMap<String, String> {
        // (pk, name) pairs, each name with its pk where two objects share it.
        let named = |rows: Vec<(String, String)>| -> BTreeMap<String, String> {
            let mut count: BTreeMap<&str, usize> = BTreeMap::new();
            for (_, name) in &rows {
                *count.entry(name.as_str()).or_default() += 1;
            }
            rows.iter()
                .map(|(pk, name)| {
                    let label = if count[name.as_str()] > 1 {
                        format!("{name} ({pk})")
                    } else {
                        name.clone()
                    };
                    (pk.clone(), label)
                })
                .collect()
        };
        let policies = named(
            self.view::<views::Policy>()
                .into_iter()
                .map(|r| (r.pk, r.name))
                .collect(),
        );
        let groups = named(
            self.view::<views::Group>()
                .into_iter()
                .map(|r| (r.pk, r.name))
                .collect(),
        );
        let users = named(
            self.view::<views::User>()
                .into_iter()
                .map(|r| (r.pk, r.username))
                .collect(),
        );
        let checked = |kind: &str, by: &BTreeMap<String, String>, b: String, o: String| {
            let name = by.get(&o).cloned().unwrap_or(o);
            (b, format!("{kind} {name}"))
        };
        let mut out = BTreeMap::new();
        for r in self.view::<views::BindingPolicy>() {
            out.extend([checked("policy", &policies, r.binding, r.policy)]);
        }
        for r in self.view::<views::BindingGroup>() {
            out.extend([checked("group", &groups, r.binding, r.group)]);
        }
        for r in self.view::<views::BindingUser>() {
            out.extend([checked("user", &users, r.binding, r.user)]);
        }
        out
    }

    /// Whether user pk `user` may open application `slug`: yes, no or unknown.
    pub fn access(&self, slug: &str, user: &str) -> Result<String, String> {
        let app = self
            .application(slug)
            .ok_or_else(|| self.unknown("application", slug, "application"))?;
        Ok(self
            .view::<views::Decide>()
            .into_iter()
            .find(|r| r.target == app && r.identity == user && r.context == "app")
            .map(|r| views::Tri::read(&r.value).yes_no().to_string())
            .unwrap_or_else(|| "unknown".into()))
    }

    /// The entitlements of application `slug` and whether user pk `user` holds each (yes, no or
    /// unknown), by entitlement name. An entitlement does not depend on the app's own access.
    pub fn entitlements(&self, slug: &str, user: &str) -> Result<Vec<Entitled>, String> {
        let app = self
            .application(slug)
            .ok_or_else(|| self.unknown("application", slug, "application"))?;
        let held: BTreeMap<String, String> = self
            .view::<views::Entitled>()
            .into_iter()
            .filter(|r| r.user == user)
            .map(|r| (r.entitlement, r.value))
            .collect();
        let mut out: Vec<Entitled> = self
            .view::<views::Entitlement>()
            .into_iter()
            .filter(|r| r.app == app)
            .map(|r| Entitled {
                granted: held
                    .get(&r.entitlement)
                    .cloned()
                    .unwrap_or_else(|| "unknown".into()),
                pk: r.entitlement,
                name: r.name,
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.pk.cmp(&b.pk)));
        Ok(out)
    }

    /// The error for a `what` whose slug (column `slug` of `rel`) is `slug`, with the nearest
    /// valid ones.
    fn unknown(&self, what: &str, slug: &str, rel: &str) -> String {
        let col = match self.column(rel, "slug") {
            Ok(c) => c,
            Err(e) => return e,
        };
        let known: Vec<String> = self
            .rows(rel)
            .into_iter()
            .map(|mut r| std::mem::take(&mut r[col]))
            .collect();
        let names: Vec<&str> = known.iter().map(String::as_str).collect();
        crate::suggest::unknown(&format!("{what} with the slug"), slug, &names)
    }

    /// The rows of `rel` whose columns named in `key` (as its `.decl` names them) hold the
    /// values given.
    pub fn rows_where(&self, rel: &str, key: &[(&str, &str)]) -> Result<Vec<Vec<String>>, String> {
        let at = key
            .iter()
            .map(|(c, v)| Ok((self.column(rel, c)?, *v)))
            .collect::<Result<Vec<_>, String>>()?;
        let mut rows = self.rows(rel);
        rows.retain(|r| at.iter().all(|(c, v)| r[*c] == *v));
        Ok(rows)
    }

    /// A tuple of `rel` with the columns named in `values` (as its `.decl` names them) set, the
    /// others empty: a question to prove.
    pub fn tuple(&self, rel: &str, values: &[(&str, &str)]) -> Result<Vec<String>, String> {
        let arity = self
            .rules
            .program
            .relation(rel)
            .map_or(0, |id| self.rules.program.relations[id].attrs.len());
        let mut t = vec![String::new(); arity];
        for (c, v) in values {
            t[self.column(rel, c)?] = (*v).to_string();
        }
        Ok(t)
    }

    /// The position of column `name` in relation `rel` as its `.decl` names it, so that a
    /// generic reading finds the column wherever the `.decl` puts it.
    pub fn column(&self, rel: &str, name: &str) -> Result<usize, String> {
        self.rules
            .program
            .relation(rel)
            .and_then(|id| {
                self.rules.program.relations[id]
                    .attrs
                    .iter()
                    .position(|a| a == name)
            })
            .ok_or_else(|| format!("internal error: relation `{rel}` has no column `{name}`"))
    }

    /// The error for a flow slug the snapshot does not hold, with the nearest valid ones.
    pub fn unknown_flow(&self, slug: &str) -> String {
        self.unknown("flow", slug, "flow")
    }

    /// The error for an application slug the snapshot does not hold, with the nearest valid ones.
    pub fn unknown_application(&self, slug: &str) -> String {
        self.unknown("application", slug, "application")
    }
}

impl Plan {
    /// The machine form fixed in docs/outputs.md.
    pub fn to_json(&self) -> Json {
        json!({
            "flow": self.flow,
            "user": self.user,
            "entry": self.entry,
            "applicable": self.applicable,
            "stages": self.stages.iter().map(|s| json!({
                "order": s.order,
                "stage": s.stage,
                "binding": s.binding,
                "visibility": s.visibility,
                "evaluated": s.evaluated,
            })).collect::<Vec<_>>(),
            "deferred": self.deferred.iter().zip(&self.deferred_names).map(|((b, r), n)| json!({"binding": b, "reason": r, "checks": n})).collect::<Vec<_>>(),
        })
    }

    /// A readable table.
    pub fn to_text(&self) -> String {
        use std::fmt::Write;
        let mut out = String::new();
        let who = self.user.as_deref().unwrap_or("an anonymous visitor");
        let _ = writeln!(
            out,
            "flow {} for {who}, entered {}: applicable {}",
            self.flow, self.entry, self.applicable
        );
        let width = self
            .stages
            .iter()
            .map(|s| s.stage.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let _ = writeln!(
            out,
            "\n  {:>5}  {:<width$}  {:<10}  evaluated",
            "order", "stage", "visibility"
        );
        for s in &self.stages {
            let ev = if s.evaluated.is_empty() {
                "never".to_string()
            } else {
                s.evaluated.join("+")
            };
            let _ = writeln!(
                out,
                "  {:>5}  {:<width$}  {:<10}  {ev}",
                s.order, s.stage, s.visibility
            );
        }
        if !self.deferred.is_empty() {
            let _ = writeln!(out, "\ndecided only at run time:");
            for ((b, r), name) in self.deferred.iter().zip(&self.deferred_names) {
                let what = match (b, name) {
                    (_, Some(name)) => name.as_str(),
                    (Some(b), None) => b.as_str(),
                    (None, None) => "the flow's gate",
                };
                let _ = writeln!(out, "  {what}: {r}");
            }
        }
        out
    }
}

/// Readable names of the ids an explanation shows (see [`Model::labels`]).
#[derive(Clone, Debug, Default)]
pub struct Labels {
    /// Every object id but users' pks: its kind and name (`"flow default-login"`).
    pub objects: BTreeMap<String, String>,
    /// Every user's pk: `"user NAME"`.
    pub users: BTreeMap<String, String>,
    /// Per relation with a column that may hold a user: which columns do.
    user_columns: std::collections::HashMap<String, Vec<bool>>,
}

impl Labels {
    /// The name of `id` in column `column` of `relation` (`None`: outside any tuple): never a
    /// user's in a column that cannot hold users; in one that may (some columns hold users or
    /// objects, as a finding's), a user's first; outside a tuple, an object's first.
    pub fn name(&self, relation: Option<&str>, column: usize, id: &str) -> Option<&String> {
        let user_column = relation.map(|r| {
            self.user_columns
                .get(r)
                .is_some_and(|cols| cols.get(column).copied().unwrap_or(false))
        });
        match user_column {
            Some(true) => self.users.get(id).or_else(|| self.objects.get(id)),
            Some(false) => self.objects.get(id),
            None => self.objects.get(id).or_else(|| self.users.get(id)),
        }
    }

    /// The name of an object id (not a user's pk), or the id.
    pub fn object(&self, id: &str) -> String {
        self.objects.get(id).cloned().unwrap_or_else(|| id.into())
    }

    /// One map for tools: every object id, and the users' pks no object shares (a user's pk
    /// equal to an object's id is in [`Labels::users`] only).
    pub fn flat(&self) -> BTreeMap<String, String> {
        let mut all = self.users.clone();
        all.extend(self.objects.clone());
        all
    }
}

/// Replaces quoted object ids in an explanation's text with readable names (`"<pk>"` becomes
/// `"user alice"`), so that a proof reads in authentik's terms. Inside a tuple
/// (`relation("a", "b")`) each value is named after its column's kind (see [`Labels::name`]).
pub fn label_text(text: &str, labels: &Labels) -> String {
    let mut out = String::with_capacity(text.len());
    // The relation whose tuple the scan is in, and the column.
    let mut atom: Option<(String, usize)> = None;
    let mut word = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let mut inner = String::new();
                let mut closed = false;
                while let Some(d) = chars.next() {
                    match d {
                        '\\' => {
                            inner.push(d);
                            if let Some(e) = chars.next() {
                                inner.push(e);
                            }
                        }
                        '"' => {
                            closed = true;
                            break;
                        }
                        _ => inner.push(d),
                    }
                }
                let at = atom.as_ref().map(|(r, col)| (r.as_str(), *col));
                match labels.name(at.map(|a| a.0), at.map_or(0, |a| a.1), &inner) {
                    Some(label) if closed => out.push_str(&format!("\"{label}\"")),
                    _ => {
                        out.push('"');
                        out.push_str(&inner);
                        if closed {
                            out.push('"');
                        }
                    }
                }
                word.clear();
                continue;
            }
            '(' => {
                atom = (!word.is_empty()).then(|| (std::mem::take(&mut word), 0));
            }
            ',' => {
                if let Some((_, col)) = &mut atom {
                    *col += 1;
                }
            }
            ')' => atom = None,
            c if c.is_alphanumeric() || c == '_' => word.push(c),
            _ => word.clear(),
        }
        if !(c.is_alphanumeric() || c == '_') {
            word.clear();
        }
        out.push(c);
    }
    out
}
