//! What an administrator reads first in `analyze`'s summary: who cannot log in, who skips MFA,
//! applications open to every user or to none, flows that apply to no one, the superusers.
//! Everything is counted from the class answers of [`Bulk`] (the same counts as the per-flow
//! tables below it). Which flows users log in through (`login_flow`) and who is a superuser
//! (`superuser_sure`, `superuser_unknown`) come from the rules: the first evaluated over the
//! flows without users, the second over the identity classes' representatives (a class shares
//! its representative's groups, so its representative speaks for it).

use super::bulk::{self, Bulk, NO, UNKNOWN, YES};
use super::classes::KeyContext;
use super::views::{BEYOND_CUT_OFF, LoginFlow, NOBODY, SuperuserSure, SuperuserUnknown, view_of};
use super::{RULES, add_facts};
use crate::datalog::eval::Limits;
use crate::datalog::{Engine, Evaluation, FactValue, Inputs, Rules};
use crate::facts::FactSet;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

/// The stage kind of an MFA validation stage.
const VALIDATE: &str = "authentik_stages_authenticator_validate.authenticatorvalidatestage";

/// At most this many names are listed per line; the rest are counted.
const NAMES: usize = 8;

/// One flow users log in through.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    /// The flow's slug.
    pub flow: String,
    /// Why it is a login flow: `brand DOMAIN` or `the first authentication flow by slug`.
    pub via: String,
    /// Users for whom the flow does not apply.
    pub not_applicable: u64,
    /// Users for whom it applies or may, and the flow or one of its stages is left to run time.
    pub run_time: u64,
    /// The stages left to run time for some of those users.
    pub run_time_stages: Vec<String>,
    /// Its MFA validation stages and who meets them, when it has any.
    pub mfa: Option<Mfa>,
}

/// Who meets the MFA stages of a login flow, among the users the flow applies to (or may).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mfa {
    /// The stages' names.
    pub stages: Vec<String>,
    /// Users to whom one of them is certainly shown.
    pub shown: u64,
    /// Users for whom every one is skipped.
    pub skipped: u64,
    /// Users for whom none is certainly shown and one is left to run time.
    pub unknown: u64,
}

/// The highlights of a snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Highlights {
    /// Users in all.
    pub users: u64,
    /// The login flows.
    pub login: Vec<Login>,
    /// Applications every user may open (slugs).
    pub open_to_all: Vec<String>,
    /// Applications no user may open.
    pub open_to_none: Vec<String>,
    /// Flows that apply to no user.
    pub flows_for_nobody: Vec<String>,
    /// Superusers.
    pub superusers: u64,
    /// Users who are superusers only through an ancestor beyond the ancestry authentik up to
    /// 2025.10 follows: left unknown.
    pub superusers_unknown: u64,
    /// Of the superusers, service accounts.
    pub superuser_service_accounts: u64,
    /// Of them, inactive accounts.
    pub superuser_inactive: u64,
    /// The groups with `is_superuser`.
    pub superuser_groups: Vec<String>,
    /// Inactive accounts.
    pub inactive: u64,
}

impl Highlights {
    /// The highlights of `bulk`'s answers.
    pub fn of(bulk: &Bulk<'_>, ctx: &KeyContext<'_>) -> Result<Highlights, String> {
        let s = bulk.snapshot;
        let layout = &bulk.layout;
        let t = bulk.totals();
        let weight = |k: usize| u64::from(bulk.classes.members[k]);
        let kind_of: HashMap<&str, &str> = s.stages.iter().map(|x| (&*x.pk, &*x.kind)).collect();
        let mfa_binding: HashMap<&str, bool> = s
            .flow_bindings
            .iter()
            .map(|x| (&*x.pk, kind_of.get(&*x.stage) == Some(&VALIDATE)))
            .collect();
        let flow_index: HashMap<&str, usize> = layout
            .flows
            .iter()
            .enumerate()
            .map(|(i, f)| (f.pk.as_str(), i))
            .collect();
        // One line per flow: the brands' flows by domain, then the flow picked by slug; a flow
        // named by several brands is told by the first.
        let mut picks = login_flows(ctx)?;
        picks.sort_by(|a, b| {
            (a.via != "brand", &a.domain, &a.flow).cmp(&(b.via != "brand", &b.domain, &b.flow))
        });
        let mut login: Vec<(usize, String)> = Vec::new();
        for p in picks {
            let Some(&f) = flow_index.get(p.flow.as_str()) else {
                continue;
            };
            if login.iter().any(|(g, _)| *g == f) {
                continue;
            }
            let via = if p.via == "brand" {
                format!("brand {}", p.domain)
            } else {
                "the first authentication flow by slug".to_string()
            };
            login.push((f, via));
        }
        let login = login
            .into_iter()
            .map(|(f, via)| {
                let flow = &layout.flows[f];
                let stages = flow.stages.clone();
                let mfa: Vec<usize> = stages
                    .clone()
                    .filter(|x| mfa_binding.get(layout.stages[*x].pk.as_str()) == Some(&true))
                    .collect();
                let (mut not_applicable, mut run_time) = (0, 0);
                let mut unknown_stage = vec![false; layout.stages.len()];
                let (mut shown, mut skipped, mut unknown) = (0, 0, 0);
                for (k, a) in bulk.answers.iter().enumerate() {
                    let w = weight(k);
                    if a.applicable[f] == NO {
                        not_applicable += w;
                        continue;
                    }
                    let mut open = a.applicable[f] == UNKNOWN;
                    for x in stages.clone() {
                        if a.visible[x] == UNKNOWN {
                            open = true;
                            unknown_stage[x] = true;
                        }
                    }
                    if open {
                        run_time += w;
                    }
                    if mfa.iter().any(|x| a.visible[*x] == YES) {
                        shown += w;
                    } else if mfa.iter().any(|x| a.visible[*x] == UNKNOWN) {
                        unknown += w;
                    } else {
                        skipped += w;
                    }
                }
                Login {
                    flow: flow.slug.clone(),
                    via,
                    not_applicable,
                    run_time,
                    run_time_stages: stages
                        .filter(|x| unknown_stage[*x])
                        .map(|x| layout.stages[x].stage.clone())
                        .collect(),
                    mfa: (!mfa.is_empty()).then(|| Mfa {
                        stages: mfa
                            .iter()
                            .map(|x| layout.stages[*x].stage.clone())
                            .collect(),
                        shown,
                        skipped,
                        unknown,
                    }),
                }
            })
            .collect();
        let users = t.users;
        let apps_where = |v: u8| -> Vec<String> {
            layout
                .apps
                .iter()
                .zip(&t.apps)
                .filter(|(_, c)| users > 0 && c[v as usize] == users)
                .map(|(a, _)| a.slug.clone())
                .collect()
        };
        let flows_for_nobody = layout
            .flows
            .iter()
            .zip(&t.flows)
            .filter(|(_, c)| users > 0 && c[NO as usize] == users)
            .map(|(f, _)| f.slug.clone())
            .collect();
        // Superusers: each class as its representative is (`superuser_sure`), or may be
        // (`superuser_unknown`); the accounts' kinds and states are counted user by user.
        let [sure, maybe] = superusers(bulk, ctx)?;
        let class_in = |set: &HashSet<String>| -> Vec<bool> {
            bulk.classes
                .representative
                .iter()
                .map(|r| set.contains(&s.users[*r].pk.to_string()))
                .collect()
        };
        let (superuser_class, unknown_class) = (class_in(&sure), class_in(&maybe));
        let (mut superusers, mut service, mut inactive_su, mut inactive) = (0, 0, 0, 0);
        let mut superusers_unknown = 0;
        for (u, user) in s.users.iter().enumerate() {
            inactive += u64::from(!user.is_active);
            let k = bulk.classes.of_user[u] as usize;
            if superuser_class[k] {
                superusers += 1;
                service += u64::from(user.kind.contains("service_account"));
                inactive_su += u64::from(!user.is_active);
            } else if unknown_class[k] {
                superusers_unknown += 1;
            }
        }
        let mut superuser_groups: Vec<String> = s
            .groups
            .iter()
            .filter(|g| g.is_superuser)
            .map(|g| g.name.to_string())
            .collect();
        superuser_groups.sort();
        Ok(Highlights {
            users,
            login,
            open_to_all: apps_where(YES),
            open_to_none: apps_where(NO),
            flows_for_nobody,
            superusers,
            superusers_unknown,
            superuser_service_accounts: service,
            superuser_inactive: inactive_su,
            superuser_groups,
            inactive,
        })
    }

    /// The highlights as the summary prints them: a heading, then one line each.
    pub fn to_text(&self) -> String {
        let mut o = String::from("\nhighlights:\n");
        let n = self.users;
        if self.login.is_empty() {
            o.push_str("  log in: no authentication flow the visitor may start\n");
        }
        for l in &self.login {
            let _ = write!(
                o,
                "  cannot log in through {} ({}): {} of {n} users (the flow does not apply to them)",
                l.flow, l.via, l.not_applicable
            );
            if l.run_time > 0 {
                let _ = write!(
                    o,
                    "; left to run time for {} more (stage {})",
                    l.run_time,
                    names(&l.run_time_stages)
                );
            }
            o.push('\n');
            match &l.mfa {
                Some(m) => {
                    let _ = writeln!(
                        o,
                        "  skip MFA in {}: {} users (stage {} skipped for them); shown to {}, left to run time for {}",
                        l.flow,
                        m.skipped,
                        names(&m.stages),
                        m.shown,
                        m.unknown
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "  skip MFA in {}: {} users (the flow has no MFA validation stage)",
                        l.flow,
                        n - l.not_applicable
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "  open to every user: {} application(s){}",
            self.open_to_all.len(),
            listed(&self.open_to_all)
        );
        let _ = writeln!(
            o,
            "  open to no user: {} application(s){}",
            self.open_to_none.len(),
            listed(&self.open_to_none)
        );
        let _ = writeln!(
            o,
            "  apply to no user: {} flow(s){}",
            self.flows_for_nobody.len(),
            listed(&self.flows_for_nobody)
        );
        let unknown = if self.superusers_unknown > 0 {
            format!(
                ", and {} more left unknown ({BEYOND_CUT_OFF})",
                self.superusers_unknown
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            o,
            "  superusers: {} users (groups with is_superuser, and their descendants: {}){unknown}; {} service account(s), {} inactive",
            self.superusers,
            if self.superuser_groups.is_empty() {
                "none".to_string()
            } else {
                names(&self.superuser_groups)
            },
            self.superuser_service_accounts,
            self.superuser_inactive
        );
        let _ = writeln!(o, "  inactive accounts: {} of {n} users", self.inactive);
        o
    }
}

/// Names joined by commas, the first [`NAMES`] of them and how many more.
fn names(list: &[String]) -> String {
    let mut o = list
        .iter()
        .take(NAMES)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if list.len() > NAMES {
        let _ = write!(o, " and {} more", list.len() - NAMES);
    }
    o
}

/// `: a, b` for a non-empty list, else nothing.
fn listed(list: &[String]) -> String {
    if list.is_empty() {
        String::new()
    } else {
        format!(": {}", names(list))
    }
}

/// The rules `texts` evaluated for the anonymous visitor only (no user is a subject) over
/// `facts`.
fn evaluate(texts: &[(&str, &str)], facts: &[&FactSet]) -> Result<(Rules, Evaluation), String> {
    let rules = Rules::from_texts(texts).map_err(|f| f.render(100))?;
    let mut inputs = Inputs::new(&rules);
    for f in facts {
        add_facts(&rules, &mut inputs, f)?;
    }
    inputs.add(&rules, "query_subject", &[FactValue::Sym(NOBODY)])?;
    let eval = rules
        .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
        .map_err(|e| e.to_string())?;
    Ok((rules, eval))
}

/// The flows users log in through (`login_flow`): the built-in rules over the flows' facts and
/// those no component owns (groups, brands, policies, ...); the relation reads no application,
/// other binding target or user. Its cost is the flows', not the users'.
fn login_flows(ctx: &KeyContext<'_>) -> Result<Vec<LoginFlow>, String> {
    let start = std::time::Instant::now();
    let mut facts = vec![&ctx.components.global];
    facts.extend(ctx.components.flows.iter().map(|f| &f.facts));
    let (rules, eval) = evaluate(&RULES, &facts)?;
    bulk::timing("highlights: login flows", start);
    Ok(view_of(&eval, &rules, "login_flow"))
}

/// The identity classes' representatives who are superusers (`superuser_sure`) and who may be
/// (`superuser_unknown`): the membership rules (the files `membership.dl` needs) over the groups
/// and the representatives' own facts. A class shares its representative's groups, so its cost
/// is the representatives', not the users'.
fn superusers(bulk: &Bulk<'_>, ctx: &KeyContext<'_>) -> Result<[HashSet<String>; 2], String> {
    let start = std::time::Instant::now();
    let files = super::memberships::membership_files();
    let reps = ctx.user_facts(&bulk.classes.representative);
    let (rules, eval) = evaluate(&files, &[&ctx.components.global, &reps])?;
    bulk::timing("highlights: superusers", start);
    let sure = view_of::<SuperuserSure>(&eval, &rules, "superuser_sure");
    let maybe = view_of::<SuperuserUnknown>(&eval, &rules, "superuser_unknown");
    Ok([
        sure.into_iter().map(|r| r.user).collect(),
        maybe.into_iter().map(|r| r.user).collect(),
    ])
}
