//! What an administrator reads first in `analyze`'s summary: who cannot log in, who skips MFA,
//! applications open to every user or to none, flows that apply to no one, the superusers.
//! Everything is counted from the class answers of [`Bulk`] (the same counts as the per-flow
//! tables below it), apart from the superusers, which follow the groups with `is_superuser`
//! through the hierarchy as `rules/authentik/membership.dl` does.

use super::bulk::{Bulk, NO, UNKNOWN, YES};
use super::classes::KeyContext;
use crate::snapshot::Designation;
use std::collections::HashMap;
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
    /// Of them, service accounts.
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
    pub fn of(bulk: &Bulk<'_>, ctx: &KeyContext<'_>) -> Highlights {
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
        let mut login: Vec<(usize, String)> = Vec::new();
        let mut brands: Vec<_> = s.brands.iter().collect();
        brands.sort_by(|a, b| a.domain.cmp(&b.domain));
        let mut unnamed = brands.is_empty();
        for b in brands {
            match b
                .flows
                .get("authentication")
                .and_then(|f| flow_index.get(&**f))
            {
                Some(&f) if !login.iter().any(|(g, _)| *g == f) => {
                    login.push((f, format!("brand {}", b.domain)));
                }
                Some(_) => {}
                None => unnamed = true,
            }
        }
        if unnamed {
            // authentik's pick for a brand that names none: the first authentication flow by
            // slug that the visitor may start (the layout is in slug order).
            let designation: HashMap<&str, Designation> =
                s.flows.iter().map(|f| (&*f.pk, f.designation)).collect();
            let first = layout.flows.iter().enumerate().find(|(i, f)| {
                designation.get(f.pk.as_str()) == Some(&Designation::Authentication)
                    && bulk.anonymous.applicable[*i] != NO
            });
            if let Some((f, _)) = first
                && !login.iter().any(|(g, _)| *g == f)
            {
                login.push((f, "the first authentication flow by slug".into()));
            }
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
        // Superusers: a class shares its effective groups named by `group_superuser`, so its
        // representative speaks for it.
        let superuser_group: Vec<bool> = s.groups.iter().map(|g| g.is_superuser).collect();
        let superuser_class: Vec<bool> = bulk
            .classes
            .representative
            .iter()
            .map(|r| {
                ctx.effective_groups(*r)
                    .iter()
                    .any(|g| superuser_group[*g as usize])
            })
            .collect();
        let (mut superusers, mut service, mut inactive_su, mut inactive) = (0, 0, 0, 0);
        for (u, user) in s.users.iter().enumerate() {
            inactive += u64::from(!user.is_active);
            if superuser_class[bulk.classes.of_user[u] as usize] {
                superusers += 1;
                service += u64::from(user.kind.contains("service_account"));
                inactive_su += u64::from(!user.is_active);
            }
        }
        let mut superuser_groups: Vec<String> = s
            .groups
            .iter()
            .filter(|g| g.is_superuser)
            .map(|g| g.name.to_string())
            .collect();
        superuser_groups.sort();
        Highlights {
            users,
            login,
            open_to_all: apps_where(YES),
            open_to_none: apps_where(NO),
            flows_for_nobody,
            superusers,
            superuser_service_accounts: service,
            superuser_inactive: inactive_su,
            superuser_groups,
            inactive,
        }
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
        let _ = writeln!(
            o,
            "  superusers: {} users (groups with is_superuser, and their descendants: {}); {} service account(s), {} inactive",
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
