//! From what was read to a [`Snapshot`]: required endpoints, duplicate pks, references,
//! the version's defaults (each one reported), orphans.

use super::error::{LoadReport, Loc, SnapshotError};
use super::model::*;
use super::raw::{FxBuild, RawId, ids};
use super::store::{Kind, Store};
use super::version::{Defaults, Version};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Which of the two ids of a policy-binding target an id is, and what it resolves to.
struct Targets {
    by_id: HashMap<Id, (Id, TargetKind)>,
}

/// Validates `store` and fills in defaults; every problem of the phase is collected.
pub fn finish(
    mut store: Store,
    root: &str,
    report: &mut LoadReport,
) -> Result<Snapshot, Vec<SnapshotError>> {
    let mut errors = Vec::new();
    if store.has_base {
        for kind in Kind::ALL {
            if kind.required() && !store.endpoints.contains(&kind) {
                errors.push(SnapshotError::MissingEndpoint {
                    loc: Loc::File(Arc::from(root)),
                    endpoint: kind.endpoint(),
                });
            }
        }
    }
    let version = match store.meta.as_ref().and_then(|m| m.version.as_deref()) {
        Some(text) => match Version::parse(text) {
            Some(v) => Some(v),
            None => {
                report.warn(
                    Loc::File(Arc::from(root)),
                    format!("`meta.version` `{text}` is not an authentik version; assuming the latest behaviour"),
                );
                None
            }
        },
        None => {
            report.assumed(
                "meta",
                "version",
                "latest behaviour",
                "no `meta.version` given",
                1,
            );
            None
        }
    };
    let defaults = Defaults::of(version.as_ref());
    merge_details(&mut store);

    // Duplicate pks, per kind.
    macro_rules! unique {
        ($kind:expr, $vec:expr, |$o:ident| $pk:expr) => {{
            let mut seen: HashMap<String, usize, FxBuild> =
                HashMap::with_capacity_and_hasher($vec.len(), FxBuild::default());
            for (i, $o) in $vec.iter().enumerate() {
                let pk: String = $pk;
                if let Some(&first) = seen.get(&pk) {
                    errors.push(SnapshotError::DuplicatePk {
                        loc: store.loc($kind, i),
                        endpoint: $kind.endpoint(),
                        pk,
                        first: store.loc($kind, first),
                    });
                } else {
                    seen.insert(pk, i);
                }
            }
        }};
    }
    {
        let mut seen: HashMap<i64, usize, FxBuild> =
            HashMap::with_capacity_and_hasher(store.users.len(), FxBuild::default());
        for (i, u) in store.users.iter().enumerate() {
            if let Some(&first) = seen.get(&u.pk) {
                errors.push(SnapshotError::DuplicatePk {
                    loc: store.loc(Kind::Users, i),
                    endpoint: Kind::Users.endpoint(),
                    pk: u.pk.to_string(),
                    first: store.loc(Kind::Users, first),
                });
            } else {
                seen.insert(u.pk, i);
            }
        }
    }
    unique!(Kind::Groups, store.groups, |o| o.pk.0.to_string());
    unique!(Kind::Flows, store.flows, |o| o.pk.0.to_string());
    unique!(Kind::FlowBindings, store.flow_bindings, |o| o
        .pk
        .0
        .to_string());
    unique!(Kind::Stages, store.stages, |o| o.pk.0.to_string());
    unique!(Kind::Policies, store.policies, |o| o.pk.0.to_string());
    unique!(Kind::PolicyBindings, store.policy_bindings, |o| o
        .pk
        .0
        .to_string());
    unique!(Kind::Applications, store.applications, |o| o
        .pk
        .0
        .to_string());
    unique!(Kind::Sources, store.sources, |o| o.pk.0.to_string());
    unique!(Kind::Entitlements, store.entitlements, |o| o
        .pbm_uuid
        .0
        .to_string());
    unique!(Kind::NotificationRules, store.notification_rules, |o| o
        .pk
        .0
        .to_string());
    unique!(Kind::Transports, store.transports, |o| o.pk.0.to_string());
    unique!(Kind::RacEndpoints, store.rac_endpoints, |o| o
        .pk
        .0
        .to_string());
    unique!(Kind::Devices, store.devices, |o| o
        .device_uuid
        .0
        .to_string());
    unique!(Kind::DeviceAccessGroups, store.device_access_groups, |o| o
        .pbm_uuid
        .0
        .to_string());
    unique!(Kind::Providers, store.providers, |o| o.pk.0.to_string());

    let user_pks: HashSet<i64, FxBuild> = store.users.iter().map(|u| u.pk).collect();
    let group_pks: HashSet<Id, FxBuild> = store.groups.iter().map(|g| g.pk.0.clone()).collect();
    let stage_pks: HashSet<Id> = store.stages.iter().map(|s| s.pk.0.clone()).collect();
    let policy_pks: HashSet<Id> = store.policies.iter().map(|p| p.pk.0.clone()).collect();
    let mut flow_ids: HashMap<Id, Id> = HashMap::new();
    let mut targets = Targets {
        by_id: HashMap::new(),
    };
    for f in &store.flows {
        let pk = f.pk.0.clone();
        let pbm = f
            .policybindingmodel_ptr_id
            .as_ref()
            .map_or(pk.clone(), |p| p.0.clone());
        flow_ids.insert(pk.clone(), pk.clone());
        flow_ids.entry(pbm.clone()).or_insert(pk.clone());
        targets
            .by_id
            .insert(pk.clone(), (pk.clone(), TargetKind::Flow));
        targets.by_id.entry(pbm).or_insert((pk, TargetKind::Flow));
    }
    for x in &store.flow_bindings {
        let pk = x.pk.0.clone();
        let pbm = x
            .policybindingmodel_ptr_id
            .as_ref()
            .map_or(pk.clone(), |p| p.0.clone());
        targets
            .by_id
            .insert(pk.clone(), (pk.clone(), TargetKind::FlowStageBinding));
        targets
            .by_id
            .entry(pbm)
            .or_insert((pk, TargetKind::FlowStageBinding));
    }
    for a in &store.applications {
        targets
            .by_id
            .insert(a.pk.0.clone(), (a.pk.0.clone(), TargetKind::Application));
    }
    for s in &store.sources {
        targets
            .by_id
            .insert(s.pk.0.clone(), (s.pk.0.clone(), TargetKind::Source));
    }
    for e in &store.entitlements {
        targets.by_id.insert(
            e.pbm_uuid.0.clone(),
            (e.pbm_uuid.0.clone(), TargetKind::Entitlement),
        );
    }
    for r in &store.notification_rules {
        targets.by_id.insert(
            r.pk.0.clone(),
            (r.pk.0.clone(), TargetKind::NotificationRule),
        );
    }
    for e in &store.rac_endpoints {
        targets
            .by_id
            .insert(e.pk.0.clone(), (e.pk.0.clone(), TargetKind::RacEndpoint));
    }
    // A device's bindings are stored under its `device_uuid`; blueprints may name its `pbm_uuid`.
    for d in &store.devices {
        let pk = d.device_uuid.0.clone();
        targets
            .by_id
            .insert(pk.clone(), (pk.clone(), TargetKind::Device));
        if let Some(p) = &d.pbm_uuid {
            targets
                .by_id
                .entry(p.0.clone())
                .or_insert((pk, TargetKind::Device));
        }
    }
    for g in &store.device_access_groups {
        targets.by_id.insert(
            g.pbm_uuid.0.clone(),
            (g.pbm_uuid.0.clone(), TargetKind::DeviceAccessGroup),
        );
    }

    let field_loc = |loc: Loc, field: &str| match loc {
        Loc::Pointer { file, pointer } => Loc::Pointer {
            file,
            pointer: format!("{pointer}/{field}"),
        },
        other => other,
    };

    // Users.
    // Only the user fields some expression policy reads are kept: a directory's attributes can
    // weigh kilobytes per user.
    let kept = crate::expression::kept_user_fields(
        store
            .policies
            .iter()
            .filter_map(|p| p.fields.get("expression").and_then(Value::as_str)),
    );
    if kept.email || !kept.attributes.is_empty() {
        store.resolve_user_text(&mut errors);
    }
    let mut users = Vec::with_capacity(store.users.len());
    let (mut d_active, mut d_super, mut d_type, mut d_name) = (0, 0, 0, 0);
    for (i, u) in std::mem::take(&mut store.users).into_iter().enumerate() {
        let groups = ids(u.groups.unwrap_or_default());
        for (j, g) in groups.iter().enumerate() {
            if !group_pks.contains(g) {
                dangling(
                    &mut errors,
                    field_loc(store.loc(Kind::Users, i), &format!("groups/{j}")),
                    "groups",
                    Kind::Groups,
                    g.to_string(),
                );
            }
        }
        d_active += u.is_active.is_none() as usize;
        d_super += u.is_superuser.is_none() as usize;
        d_type += u.kind.is_none() as usize;
        d_name += u.name.is_none() as usize;
        users.push(User {
            pk: u.pk,
            username: u.username,
            name: u.name.unwrap_or_default(),
            is_active: u.is_active.unwrap_or(true),
            is_superuser: u.is_superuser.unwrap_or(false),
            groups,
            kind: u.kind.map_or_else(|| Id::from("internal"), |k| k.0),
            last_login: u.last_login,
            extra: kept.extra(u.email, u.attributes),
        });
    }
    let why = "authentik's model default";
    report.assumed("core/users", "is_active", true, why, d_active);
    report.assumed("core/users", "is_superuser", false, why, d_super);
    report.assumed("core/users", "type", "internal", why, d_type);
    report.assumed("core/users", "name", "\"\"", why, d_name);

    // Groups.
    let mut groups = Vec::with_capacity(store.groups.len());
    let mut d_gsuper = 0;
    for (i, g) in std::mem::take(&mut store.groups).into_iter().enumerate() {
        let mut parents = ids(g.parents.unwrap_or_default());
        if let Some(p) = g.parent
            && !parents.contains(&p.0)
        {
            parents.push(p.0);
        }
        for p in &parents {
            if !group_pks.contains(p) {
                dangling(
                    &mut errors,
                    field_loc(store.loc(Kind::Groups, i), "parents"),
                    "parents",
                    Kind::Groups,
                    p.to_string(),
                );
            }
        }
        let members = g.users.unwrap_or_default();
        for (j, u) in members.iter().enumerate() {
            if !user_pks.contains(u) {
                dangling(
                    &mut errors,
                    field_loc(store.loc(Kind::Groups, i), &format!("users/{j}")),
                    "users",
                    Kind::Users,
                    u.to_string(),
                );
            }
        }
        d_gsuper += g.is_superuser.is_none() as usize;
        groups.push(Group {
            pk: g.pk.0,
            name: g.name,
            is_superuser: g.is_superuser.unwrap_or(false),
            parents,
            users: members,
        });
    }
    report.assumed("core/groups", "is_superuser", false, why, d_gsuper);

    // Flows.
    let mut flows = Vec::with_capacity(store.flows.len());
    let mut d = [0usize; 5];
    for f in std::mem::take(&mut store.flows) {
        d[0] += f.policybindingmodel_ptr_id.is_none() as usize;
        d[1] += f.authentication.is_none() as usize;
        d[2] += f.policy_engine_mode.is_none() as usize;
        d[3] += f.denied_action.is_none() as usize;
        d[4] += f.name.is_none() as usize;
        flows.push(Flow {
            pbm: f.policybindingmodel_ptr_id.map_or(f.pk.0.clone(), |p| p.0),
            pk: f.pk.0,
            slug: f.slug,
            name: f.name.unwrap_or_default(),
            designation: f.designation,
            authentication: f.authentication.unwrap_or(Authentication::None),
            policy_engine_mode: f.policy_engine_mode.unwrap_or(EngineMode::Any),
            denied_action: f.denied_action.unwrap_or(DeniedAction::MessageContinue),
        });
    }
    report.assumed(
        "flows/instances",
        "policybindingmodel_ptr_id",
        "the flow's pk",
        "not given",
        d[0],
    );
    report.assumed("flows/instances", "authentication", "none", why, d[1]);
    report.assumed("flows/instances", "policy_engine_mode", "any", why, d[2]);
    report.assumed(
        "flows/instances",
        "denied_action",
        "message_continue",
        why,
        d[3],
    );
    report.assumed("flows/instances", "name", "\"\"", why, d[4]);

    // Flow-stage bindings.
    let version_why = match &version {
        Some(v) => format!("authentik {v} default"),
        None => "latest authentik default (version unknown)".to_string(),
    };
    let mut flow_bindings = Vec::with_capacity(store.flow_bindings.len());
    let mut d = [0usize; 5];
    for (i, x) in std::mem::take(&mut store.flow_bindings)
        .into_iter()
        .enumerate()
    {
        let target = match flow_ids.get(&x.target.0) {
            Some(pk) => pk.clone(),
            None => {
                dangling(
                    &mut errors,
                    field_loc(store.loc(Kind::FlowBindings, i), "target"),
                    "target",
                    Kind::Flows,
                    x.target.0.to_string(),
                );
                x.target.0.clone()
            }
        };
        if !stage_pks.contains(&x.stage.0) {
            dangling(
                &mut errors,
                field_loc(store.loc(Kind::FlowBindings, i), "stage"),
                "stage",
                Kind::Stages,
                x.stage.0.to_string(),
            );
        }
        d[0] += x.policybindingmodel_ptr_id.is_none() as usize;
        d[1] += x.evaluate_on_plan.is_none() as usize;
        d[2] += x.re_evaluate_policies.is_none() as usize;
        d[3] += x.policy_engine_mode.is_none() as usize;
        d[4] += x.invalid_response_action.is_none() as usize;
        flow_bindings.push(FlowStageBinding {
            pbm: x.policybindingmodel_ptr_id.map_or(x.pk.0.clone(), |p| p.0),
            pk: x.pk.0,
            target,
            stage: x.stage.0,
            order: x.order,
            evaluate_on_plan: x.evaluate_on_plan.unwrap_or(defaults.evaluate_on_plan),
            re_evaluate_policies: x
                .re_evaluate_policies
                .unwrap_or(defaults.re_evaluate_policies),
            policy_engine_mode: x.policy_engine_mode.unwrap_or(EngineMode::Any),
            invalid_response_action: x
                .invalid_response_action
                .unwrap_or(InvalidResponseAction::Retry),
        });
    }
    report.assumed(
        "flows/bindings",
        "policybindingmodel_ptr_id",
        "the binding's pk",
        "not given",
        d[0],
    );
    report.assumed(
        "flows/bindings",
        "evaluate_on_plan",
        defaults.evaluate_on_plan,
        &version_why,
        d[1],
    );
    report.assumed(
        "flows/bindings",
        "re_evaluate_policies",
        defaults.re_evaluate_policies,
        &version_why,
        d[2],
    );
    report.assumed("flows/bindings", "policy_engine_mode", "any", why, d[3]);
    report.assumed(
        "flows/bindings",
        "invalid_response_action",
        "retry",
        why,
        d[4],
    );

    // Stages.
    let mut bound_stages: HashSet<&Id> = flow_bindings.iter().map(|x| &x.stage).collect();
    // An identification stage runs its `password_stage`, `captcha_stage` and `webauthn_stage`
    // inline: those stages are used without a binding of their own.
    let inline: Vec<Id> = store
        .stages
        .iter()
        .filter(|s| {
            s.meta_model_name
                .as_deref()
                .is_some_and(|m| m.ends_with("identificationstage"))
                || s.component.as_deref() == Some("ak-stage-identification-form")
        })
        .flat_map(|s| {
            ["password_stage", "captcha_stage", "webauthn_stage"]
                .into_iter()
                .filter_map(|f| s.fields.get(f).and_then(Value::as_str).map(Id::from))
        })
        .collect();
    bound_stages.extend(inline.iter());
    let mut stages = Vec::with_capacity(store.stages.len());
    for (i, s) in store.stages.iter().enumerate() {
        let kind = s
            .meta_model_name
            .clone()
            .or_else(|| {
                s.component
                    .as_deref()
                    .map(|c| model_of_component(c, "stage"))
            })
            .unwrap_or_default();
        if kind.is_empty() {
            report.warn(
                store.loc(Kind::Stages, i),
                format!(
                    "stage `{}` has neither `meta_model_name` nor `component`; its kind is unknown",
                    s.pk.0
                ),
            );
        }
        if !bound_stages.contains(&s.pk.0) {
            report.warn(
                store.loc(Kind::Stages, i),
                format!(
                    "orphan stage `{}`: bound to no flow",
                    s.name.as_deref().unwrap_or(&s.pk.0)
                ),
            );
        }
        let mut fields = s.fields.clone();
        if kind.ends_with("authenticatorvalidatestage") {
            for (field, value) in [
                ("not_configured_action", "skip"),
                ("last_auth_threshold", "seconds=0"),
            ] {
                if !fields.contains_key(field) {
                    fields.insert(field.into(), Value::String(value.into()));
                    report.assumed("stages/authenticator/validate", field, value, why, 1);
                }
            }
        }
        stages.push(Stage {
            pk: s.pk.0.clone(),
            name: s.name.clone().unwrap_or_default(),
            kind,
            component: s.component.clone().unwrap_or_default(),
            fields,
        });
    }

    // Policy bindings (before policies, for the orphan check). A target that is an object of
    // a model bindlog does not model (a notification rule from a blueprint) is no orphan.
    let other_pks: HashSet<String> = store
        .others
        .values()
        .flatten()
        .map(|o| match &o.pk {
            Value::String(s) => s.clone(),
            v => v.to_string(),
        })
        .collect();
    let mut policy_bindings = Vec::with_capacity(store.policy_bindings.len());
    let mut d = [0usize; 4];
    for (i, b) in std::mem::take(&mut store.policy_bindings)
        .into_iter()
        .enumerate()
    {
        let loc = store.loc(Kind::PolicyBindings, i);
        let (target, target_kind) = match targets.by_id.get(&b.target.0) {
            Some((pk, kind)) => (pk.clone(), *kind),
            None if other_pks.contains(&*b.target.0) => (b.target.0.clone(), TargetKind::Unknown),
            None => {
                report.warn(
                    field_loc(loc.clone(), "target"),
                    format!(
                        "policy binding `{}` targets `{}`, which matches no loaded flow, flow-stage binding, application, application entitlement, source, notification rule, RAC endpoint, device or device access group (an endpoint the snapshot lacks?)",
                        b.pk.0, b.target.0
                    ),
                );
                (b.target.0.clone(), TargetKind::Unknown)
            }
        };
        let subjects = b.policy.is_some() as u8 + b.group.is_some() as u8 + b.user.is_some() as u8;
        if subjects != 1 {
            errors.push(SnapshotError::Shape {
                loc: loc.clone(),
                what: format!(
                    "policy binding `{}` sets {} of `policy`, `group` and `user`",
                    b.pk.0,
                    if subjects == 0 { "none" } else { "several" }
                ),
                expected: "expected exactly one of `policy`, `group`, `user` (authentik's API enforces it)".into(),
            });
        }
        let subject = if let Some(p) = b.policy {
            if !policy_pks.contains(&p.0) {
                dangling(
                    &mut errors,
                    field_loc(loc.clone(), "policy"),
                    "policy",
                    Kind::Policies,
                    p.0.to_string(),
                );
            }
            Subject::Policy(p.0)
        } else if let Some(g) = b.group {
            if !group_pks.contains(&g.0) {
                dangling(
                    &mut errors,
                    field_loc(loc.clone(), "group"),
                    "group",
                    Kind::Groups,
                    g.0.to_string(),
                );
            }
            Subject::Group(g.0)
        } else if let Some(u) = b.user {
            if !user_pks.contains(&u) {
                dangling(
                    &mut errors,
                    field_loc(loc.clone(), "user"),
                    "user",
                    Kind::Users,
                    u.to_string(),
                );
            }
            Subject::User(u)
        } else {
            Subject::Policy(Arc::from(""))
        };
        d[0] += b.negate.is_none() as usize;
        d[1] += b.enabled.is_none() as usize;
        d[2] += b.failure_result.is_none() as usize;
        d[3] += b.timeout.is_none() as usize;
        policy_bindings.push(PolicyBinding {
            pk: b.pk.0,
            target,
            target_kind,
            subject,
            negate: b.negate.unwrap_or(false),
            enabled: b.enabled.unwrap_or(true),
            failure_result: b.failure_result.unwrap_or(false),
            order: b.order,
            timeout: b.timeout.unwrap_or(30),
        });
    }
    report.assumed("policies/bindings", "negate", false, why, d[0]);
    report.assumed("policies/bindings", "enabled", true, why, d[1]);
    report.assumed("policies/bindings", "failure_result", false, why, d[2]);
    report.assumed("policies/bindings", "timeout", 30, why, d[3]);

    // Policies.
    let mut used: HashSet<&str> = policy_bindings
        .iter()
        .filter_map(|b| match &b.subject {
            Subject::Policy(p) => Some(&**p),
            _ => None,
        })
        .collect();
    // A prompt stage's `validation_policies` use policies without binding them (docs/semantics.md §4).
    for s in &stages {
        if let Some(Value::Array(list)) = s.fields.get("validation_policies") {
            used.extend(list.iter().filter_map(Value::as_str));
        }
    }
    let mut policies = Vec::with_capacity(store.policies.len());
    for (i, p) in store.policies.iter().enumerate() {
        let kind: Box<str> = p
            .meta_model_name
            .clone()
            .or_else(|| {
                p.component
                    .as_deref()
                    .map(|c| model_of_component(c, "policy"))
            })
            .unwrap_or_default();
        if !used.contains(&*p.pk.0) {
            report.warn(
                store.loc(Kind::Policies, i),
                format!(
                    "orphan policy `{}`: used by no policy binding or prompt stage",
                    p.name
                ),
            );
        }
        let facts = policy_facts(&kind, &p.fields, report);
        if let PolicyFacts::Expression { expression } = &facts
            && let Err(e) = crate::expression::parse_body(expression)
        {
            report.warn(
                store.loc(Kind::Policies, i),
                format!(
                    "expression policy `{}`: {e}; authentik cannot compile it, so every evaluation raises and each binding gives its failure_result",
                    p.name
                ),
            );
        }
        policies.push(Policy {
            pk: p.pk.0.clone(),
            name: p.name.clone(),
            kind,
            facts,
            fields: p.fields.clone(),
        });
    }

    // Application entitlements: each belongs to a loaded application.
    let app_pks: HashSet<Id> = store.applications.iter().map(|a| a.pk.0.clone()).collect();
    let mut entitlements = Vec::with_capacity(store.entitlements.len());
    for (i, e) in std::mem::take(&mut store.entitlements)
        .into_iter()
        .enumerate()
    {
        if !app_pks.contains(&e.app.0) {
            dangling(
                &mut errors,
                field_loc(store.loc(Kind::Entitlements, i), "app"),
                "app",
                Kind::Applications,
                e.app.0.to_string(),
            );
        }
        entitlements.push(Entitlement {
            pk: e.pbm_uuid.0,
            name: e.name,
            app: e.app.0,
        });
    }

    // Applications.
    let mut applications = Vec::with_capacity(store.applications.len());
    let mut d_mode = 0;
    for a in std::mem::take(&mut store.applications) {
        d_mode += a.policy_engine_mode.is_none() as usize;
        applications.push(Application {
            pk: a.pk.0,
            slug: a.slug,
            name: a.name.unwrap_or_default(),
            policy_engine_mode: a.policy_engine_mode.unwrap_or(EngineMode::Any),
            provider: a.provider.map(|p| Box::from(&*p.0)),
        });
    }
    report.assumed(
        "core/applications",
        "policy_engine_mode",
        "any",
        why,
        d_mode,
    );

    // Sources.
    let mut sources = Vec::with_capacity(store.sources.len());
    let (mut d_mode, mut d_enabled) = (0, 0);
    for (i, s) in std::mem::take(&mut store.sources).into_iter().enumerate() {
        let mut flow = |f: Option<RawId>, field: &str| -> Option<Id> {
            let f = f?.0;
            match flow_ids.get(&f) {
                Some(pk) => Some(pk.clone()),
                None => {
                    report.warn(
                        field_loc(store.loc(Kind::Sources, i), field),
                        format!("source `{}`: `{field}` refers to flow `{f}`, which is not in the snapshot", s.slug),
                    );
                    Some(f)
                }
            }
        };
        let authentication_flow = flow(s.authentication_flow, "authentication_flow");
        let enrollment_flow = flow(s.enrollment_flow, "enrollment_flow");
        d_mode += s.policy_engine_mode.is_none() as usize;
        d_enabled += s.enabled.is_none() as usize;
        sources.push(Source {
            pk: s.pk.0,
            slug: s.slug,
            name: s.name.unwrap_or_default(),
            policy_engine_mode: s.policy_engine_mode.unwrap_or(EngineMode::Any),
            authentication_flow,
            enrollment_flow,
            enabled: s.enabled.unwrap_or(true),
            kind: s.meta_model_name.unwrap_or_default(),
        });
    }
    report.assumed("sources/all", "policy_engine_mode", "any", why, d_mode);
    report.assumed("sources/all", "enabled", true, why, d_enabled);

    let brands = std::mem::take(&mut store.brands)
        .into_iter()
        .map(|b| {
            let flows = [
                ("authentication", b.flow_authentication),
                ("invalidation", b.flow_invalidation),
                ("recovery", b.flow_recovery),
                ("unenrollment", b.flow_unenrollment),
                ("user_settings", b.flow_user_settings),
                ("device_code", b.flow_device_code),
            ]
            .into_iter()
            .filter_map(|(role, f)| Some((role.to_string(), flow_ids.get(&f?.0).cloned()?)))
            .collect();
            Brand {
                pk: b.brand_uuid.0,
                domain: b.domain.unwrap_or_default(),
                default: b.default.unwrap_or(false),
                flows,
            }
        })
        .collect();

    let app_slugs: HashMap<&str, Id> = applications
        .iter()
        .map(|a| (&*a.slug, a.pk.clone()))
        .collect();
    let targets_in = TargetsIn {
        flow_ids: &flow_ids,
        group_pks: &group_pks,
        app_pks: &app_pks,
        app_slugs: &app_slugs,
    };
    let more = target_objects(&mut store, &targets_in, &mut errors, report);

    let flag = store
        .settings
        .as_ref()
        .and_then(|s| s.flags.core_default_app_access);
    if flag.is_none() {
        report.assumed(
            "admin/settings",
            "flags.core_default_app_access",
            true,
            why,
            1,
        );
    }
    let settings = Settings {
        default_app_access: flag.unwrap_or(true),
    };

    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(Snapshot {
        version,
        users,
        groups,
        flows,
        flow_bindings,
        stages,
        policies,
        policy_bindings,
        applications,
        sources,
        entitlements,
        brands,
        settings,
        notification_rules: more.notification_rules,
        transports: more.transports,
        rac_endpoints: more.rac_endpoints,
        devices: more.devices,
        device_access_groups: more.device_access_groups,
        providers: more.providers,
        present: store
            .endpoints
            .iter()
            .filter(|k| !k.required())
            .map(|k| k.endpoint())
            .collect(),
        others: store
            .others
            .iter()
            .map(|(m, v)| (m.clone(), v.len()))
            .collect(),
    })
}

/// What the optional binding targets need from the rest of the snapshot.
struct TargetsIn<'a> {
    flow_ids: &'a HashMap<Id, Id>,
    group_pks: &'a HashSet<Id, FxBuild>,
    app_pks: &'a HashSet<Id>,
    app_slugs: &'a HashMap<&'a str, Id>,
}

/// The objects of the optional binding-target endpoints (notification rules and transports, RAC
/// endpoints, devices and their access groups, providers), validated and with defaults filled.
#[derive(Default)]
struct TargetObjects {
    notification_rules: Vec<NotificationRule>,
    transports: Vec<NotificationTransport>,
    rac_endpoints: Vec<RacEndpoint>,
    devices: Vec<Device>,
    device_access_groups: Vec<DeviceAccessGroup>,
    providers: Vec<Provider>,
}

fn target_objects(
    store: &mut Store,
    known: &TargetsIn<'_>,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) -> TargetObjects {
    let why = "authentik's model default";
    let field_loc = |loc: Loc, field: &str| match loc {
        Loc::Pointer { file, pointer } => Loc::Pointer {
            file,
            pointer: format!("{pointer}/{field}"),
        },
        other => other,
    };
    let mut out = TargetObjects::default();

    let transport_pks: HashSet<Id> = store.transports.iter().map(|t| t.pk.0.clone()).collect();
    let (mut d_mode, mut d_once) = (0, 0);
    for t in std::mem::take(&mut store.transports) {
        d_mode += t.mode.is_none() as usize;
        d_once += t.send_once.is_none() as usize;
        out.transports.push(NotificationTransport {
            pk: t.pk.0,
            name: t.name,
            mode: t.mode.unwrap_or_else(|| "local".into()),
            send_once: t.send_once.unwrap_or(false),
        });
    }
    report.assumed("events/transports", "mode", "local", why, d_mode);
    report.assumed("events/transports", "send_once", false, why, d_once);

    let (mut d_sev, mut d_user) = (0, 0);
    for (i, r) in std::mem::take(&mut store.notification_rules)
        .into_iter()
        .enumerate()
    {
        let loc = store.loc(Kind::NotificationRules, i);
        if r.policy_engine_mode.is_some() {
            report.warn(
                field_loc(loc.clone(), "policy_engine_mode"),
                format!(
                    "notification rule `{}`: `policy_engine_mode` is ignored; authentik always combines a rule's bindings with `any`",
                    r.name
                ),
            );
        }
        let group = r.destination_group.or(r.group).map(|g| g.0);
        if let Some(g) = &group
            && !known.group_pks.contains(g)
        {
            dangling(
                errors,
                field_loc(loc.clone(), "destination_group"),
                "destination_group",
                Kind::Groups,
                g.to_string(),
            );
        }
        let transports = ids(r.transports.unwrap_or_default());
        if !transport_pks.is_empty() || store.endpoints.contains(&Kind::Transports) {
            for (j, t) in transports.iter().enumerate() {
                if !transport_pks.contains(t) {
                    dangling(
                        errors,
                        field_loc(loc.clone(), &format!("transports/{j}")),
                        "transports",
                        Kind::Transports,
                        t.to_string(),
                    );
                }
            }
        }
        d_sev += r.severity.is_none() as usize;
        d_user += r.destination_event_user.is_none() as usize;
        out.notification_rules.push(NotificationRule {
            pk: r.pk.0,
            name: r.name,
            transports,
            severity: r.severity.unwrap_or_else(|| "notice".into()),
            destination_group: group,
            destination_event_user: r.destination_event_user.unwrap_or(false),
        });
    }
    report.assumed("events/rules", "severity", "notice", why, d_sev);
    report.assumed("events/rules", "destination_event_user", false, why, d_user);

    // Providers first: endpoints name them.
    let mut d_mfa = 0;
    for (i, p) in std::mem::take(&mut store.providers).into_iter().enumerate() {
        let loc = store.loc(Kind::Providers, i);
        let name = p.name.unwrap_or_default();
        let mut flows = std::collections::BTreeMap::new();
        for (role, f) in [
            ("authentication", p.authentication_flow),
            ("authorization", p.authorization_flow),
            ("invalidation", p.invalidation_flow),
        ] {
            let Some(f) = f else { continue };
            match known.flow_ids.get(&f.0) {
                Some(pk) => {
                    flows.insert(role.to_string(), pk.clone());
                }
                None => report.warn(
                    field_loc(loc.clone(), &format!("{role}_flow")),
                    format!(
                        "provider `{name}` (pk {}): `{role}_flow` refers to flow `{}`, which is not in the snapshot; bindlog treats the provider as having none",
                        p.pk.0, f.0
                    ),
                ),
            }
        }
        let kind = p.meta_model_name.unwrap_or_default();
        let outpost = kind.ends_with("ldapprovider") || kind.ends_with("radiusprovider");
        if outpost {
            d_mfa += p.mfa_support.is_none() as usize;
        }
        let by_slug = p
            .assigned_backchannel_application_slug
            .as_deref()
            .filter(|s| !s.is_empty())
            .and_then(|s| known.app_slugs.get(s).cloned());
        let backchannel = p.backchannel_application.map(|a| a.0).or(by_slug).filter(|a| {
            let known = known.app_pks.contains(a);
            if !known {
                report.warn(
                    field_loc(loc.clone(), "backchannel_application"),
                    format!("provider `{name}`: `backchannel_application` refers to application `{a}`, which is not in the snapshot"),
                );
            }
            known
        });
        out.providers.push(Provider {
            pk: p.pk.0,
            name,
            kind,
            flows,
            backchannel_application: backchannel,
            mfa_support: p.mfa_support.unwrap_or(true),
        });
    }
    report.assumed("providers/ldap", "mfa_support", true, why, d_mfa);
    let provider_pks: HashSet<Id> = out.providers.iter().map(|p| p.pk.clone()).collect();

    let (mut d_mode, mut d_max) = (0, 0);
    for (i, e) in std::mem::take(&mut store.rac_endpoints)
        .into_iter()
        .enumerate()
    {
        if store.endpoints.contains(&Kind::Providers) && !provider_pks.contains(&e.provider.0) {
            dangling(
                errors,
                field_loc(store.loc(Kind::RacEndpoints, i), "provider"),
                "provider",
                Kind::Providers,
                e.provider.0.to_string(),
            );
        }
        d_mode += e.policy_engine_mode.is_none() as usize;
        d_max += e.maximum_connections.is_none() as usize;
        out.rac_endpoints.push(RacEndpoint {
            pk: e.pk.0,
            name: e.name,
            provider: e.provider.0,
            protocol: e.protocol.unwrap_or_default(),
            host: e.host.unwrap_or_default(),
            maximum_connections: e.maximum_connections.unwrap_or(1),
            policy_engine_mode: e.policy_engine_mode.unwrap_or(EngineMode::Any),
        });
    }
    report.assumed(
        "rac/endpoints",
        "policy_engine_mode",
        "any",
        "not in authentik's API; the model default",
        d_mode,
    );
    report.assumed("rac/endpoints", "maximum_connections", 1, why, d_max);

    let group_pks: HashSet<Id> = store
        .device_access_groups
        .iter()
        .map(|g| g.pbm_uuid.0.clone())
        .collect();
    let mut d_mode = 0;
    for g in std::mem::take(&mut store.device_access_groups) {
        d_mode += g.policy_engine_mode.is_none() as usize;
        out.device_access_groups.push(DeviceAccessGroup {
            pk: g.pbm_uuid.0,
            name: g.name,
            policy_engine_mode: g.policy_engine_mode.unwrap_or(EngineMode::Any),
        });
    }
    report.assumed(
        "endpoints/device_access_groups",
        "policy_engine_mode",
        "any",
        "not in authentik's API; the model default",
        d_mode,
    );
    let mut d_mode = 0;
    for (i, d) in std::mem::take(&mut store.devices).into_iter().enumerate() {
        if let Some(g) = &d.access_group
            && !group_pks.contains(&g.0)
        {
            dangling(
                errors,
                field_loc(store.loc(Kind::Devices, i), "access_group"),
                "access_group",
                Kind::DeviceAccessGroups,
                g.0.to_string(),
            );
        }
        d_mode += d.policy_engine_mode.is_none() as usize;
        out.devices.push(Device {
            pbm: d.pbm_uuid.map_or(d.device_uuid.0.clone(), |p| p.0),
            pk: d.device_uuid.0,
            name: d.name,
            access_group: d.access_group.map(|g| g.0),
            policy_engine_mode: d.policy_engine_mode.unwrap_or(EngineMode::Any),
        });
    }
    report.assumed(
        "endpoints/devices",
        "policy_engine_mode",
        "any",
        "not in authentik's API; the model default",
        d_mode,
    );
    out
}

/// What is statically known about a policy of type `kind` with these fields.
fn policy_facts(
    kind: &str,
    fields: &serde_json::Map<String, Value>,
    report: &mut LoadReport,
) -> PolicyFacts {
    let why = "authentik's model default";
    if kind.ends_with("dummypolicy") {
        let num = |field: &str, default: i64, report: &mut LoadReport| match fields
            .get(field)
            .and_then(Value::as_i64)
        {
            Some(n) => n,
            None => {
                report.assumed("policies/dummy", field, default, why, 1);
                default
            }
        };
        let result = match fields.get("result").and_then(Value::as_bool) {
            Some(r) => r,
            None => {
                report.assumed("policies/dummy", "result", false, why, 1);
                false
            }
        };
        PolicyFacts::Dummy {
            result,
            wait_min: num("wait_min", 5, report),
            wait_max: num("wait_max", 30, report),
        }
    } else if kind.ends_with("expressionpolicy") {
        PolicyFacts::Expression {
            expression: fields
                .get("expression")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }
    } else if kind.ends_with("geoippolicy") {
        let nonempty = |f: &str| {
            fields
                .get(f)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        };
        let on = |f: &str| fields.get(f).and_then(Value::as_bool).unwrap_or(false);
        PolicyFacts::Geoip {
            configured: nonempty("asns")
                || nonempty("countries")
                || on("check_history_distance")
                || on("check_impossible_travel"),
        }
    } else {
        PolicyFacts::Other
    }
}

/// Copies fields of per-type endpoint objects into the `stages/all` / `policies/all` /
/// `providers/all` objects, and adds the device user bindings `policies/bindings` lacks (the
/// same rows appear in both endpoints: each counts once).
fn merge_details(store: &mut Store) {
    if !store.provider_details.is_empty() {
        let index: HashMap<Id, usize> = store
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| (p.pk.0.clone(), i))
            .collect();
        for d in std::mem::take(&mut store.provider_details) {
            if let Some(&i) = index.get(&d.pk.0) {
                let p = &mut store.providers[i];
                p.meta_model_name = p.meta_model_name.take().or(d.meta_model_name);
                p.mfa_support = p.mfa_support.or(d.mfa_support);
                p.bind_mode = p.bind_mode.take().or(d.bind_mode);
                p.authentication_flow = p.authentication_flow.take().or(d.authentication_flow);
                p.authorization_flow = p.authorization_flow.take().or(d.authorization_flow);
                p.invalidation_flow = p.invalidation_flow.take().or(d.invalidation_flow);
                p.backchannel_application = p
                    .backchannel_application
                    .take()
                    .or(d.backchannel_application);
            }
        }
    }
    if !store.device_bindings.is_empty() {
        let have: HashSet<Id> = store
            .policy_bindings
            .iter()
            .map(|b| b.pk.0.clone())
            .collect();
        let mut seen = HashSet::new();
        for (j, b) in std::mem::take(&mut store.device_bindings)
            .into_iter()
            .enumerate()
        {
            if have.contains(&b.pk.0) || !seen.insert(b.pk.0.clone()) {
                continue;
            }
            let loc = store.loc(Kind::DeviceBindings, j);
            let at = store.policy_bindings.len();
            store
                .origins
                .entry(Kind::PolicyBindings)
                .or_default()
                .push(at, super::store::Origin::At(loc));
            store.policy_bindings.push(b);
        }
    }
    if !store.stage_details.is_empty() {
        let index: HashMap<Id, usize> = store
            .stages
            .iter()
            .enumerate()
            .map(|(i, s)| (s.pk.0.clone(), i))
            .collect();
        for d in std::mem::take(&mut store.stage_details) {
            if let Some(&i) = index.get(&d.pk.0) {
                let s = &mut store.stages[i];
                for (k, v) in d.fields {
                    s.fields.entry(k).or_insert(v);
                }
                s.meta_model_name = s.meta_model_name.take().or(d.meta_model_name);
                s.component = s.component.take().or(d.component);
            }
        }
    }
    if !store.policy_details.is_empty() {
        let index: HashMap<Id, usize> = store
            .policies
            .iter()
            .enumerate()
            .map(|(i, s)| (s.pk.0.clone(), i))
            .collect();
        for d in std::mem::take(&mut store.policy_details) {
            if let Some(&i) = index.get(&d.pk.0) {
                let p = &mut store.policies[i];
                for (k, v) in d.fields {
                    p.fields.entry(k).or_insert(v);
                }
                p.meta_model_name = p.meta_model_name.take().or(d.meta_model_name);
                p.component = p.component.take().or(d.component);
            }
        }
    }
}

fn dangling(
    errors: &mut Vec<SnapshotError>,
    loc: Loc,
    field: &'static str,
    kind: Kind,
    pk: String,
) {
    errors.push(SnapshotError::Dangling {
        loc,
        field,
        kind: kind.noun(),
        endpoint: kind.endpoint(),
        pk,
    })
}

/// The model name behind a web component when only `component` was given
/// (`ak-stage-authenticator-validate-form` ->
/// `authentik_stages_authenticator_validate.authenticatorvalidatestage`); authentik names both
/// after the type, which holds for most built-in types. Anything else stays the component.
fn model_of_component(component: &str, what: &str) -> Box<str> {
    let Some(name) = component
        .strip_prefix(&format!("ak-{what}-"))
        .and_then(|c| c.strip_suffix("-form"))
    else {
        return component.into();
    };
    let app = name.replace('-', "_");
    let plural = if what == "stage" {
        "stages"
    } else {
        "policies"
    };
    format!("authentik_{plural}_{app}.{}{what}", name.replace('-', "")).into()
}

#[cfg(test)]
mod tests {
    use super::model_of_component;

    #[test]
    fn components_name_their_models() {
        assert_eq!(
            &*model_of_component("ak-stage-authenticator-validate-form", "stage"),
            "authentik_stages_authenticator_validate.authenticatorvalidatestage"
        );
        assert_eq!(
            &*model_of_component("ak-policy-dummy-form", "policy"),
            "authentik_policies_dummy.dummypolicy"
        );
        assert_eq!(
            &*model_of_component("ak-something", "stage"),
            "ak-something"
        );
    }
}
