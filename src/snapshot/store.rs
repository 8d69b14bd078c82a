//! The objects read so far, by kind, before validation; where each came from.

use super::error::Loc;
use super::raw::*;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The kinds of object bindlog models, each with its API endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `core/users`
    Users,
    /// `core/groups`
    Groups,
    /// `flows/instances`
    Flows,
    /// `flows/bindings`
    FlowBindings,
    /// `stages/all`
    Stages,
    /// `policies/all`
    Policies,
    /// `policies/bindings`
    PolicyBindings,
    /// `core/applications`
    Applications,
    /// `sources/all`
    Sources,
    /// `core/brands`
    Brands,
    /// `core/application_entitlements`
    Entitlements,
    /// `events/rules`
    NotificationRules,
    /// `events/transports`
    Transports,
    /// `rac/endpoints`
    RacEndpoints,
    /// `endpoints/devices`
    Devices,
    /// `endpoints/device_access_groups`
    DeviceAccessGroups,
    /// `endpoints/device_bindings` (policy bindings of devices, also in `policies/bindings`)
    DeviceBindings,
    /// `providers/all`
    Providers,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 18] = [
        Kind::Users,
        Kind::Groups,
        Kind::Flows,
        Kind::FlowBindings,
        Kind::Stages,
        Kind::Policies,
        Kind::PolicyBindings,
        Kind::Applications,
        Kind::Sources,
        Kind::Brands,
        Kind::Entitlements,
        Kind::NotificationRules,
        Kind::Transports,
        Kind::RacEndpoints,
        Kind::Devices,
        Kind::DeviceAccessGroups,
        Kind::DeviceBindings,
        Kind::Providers,
    ];

    /// The API endpoint, relative to `/api/v3/`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::Users => "core/users",
            Kind::Groups => "core/groups",
            Kind::Flows => "flows/instances",
            Kind::FlowBindings => "flows/bindings",
            Kind::Stages => "stages/all",
            Kind::Policies => "policies/all",
            Kind::PolicyBindings => "policies/bindings",
            Kind::Applications => "core/applications",
            Kind::Sources => "sources/all",
            Kind::Brands => "core/brands",
            Kind::Entitlements => "core/application_entitlements",
            Kind::NotificationRules => "events/rules",
            Kind::Transports => "events/transports",
            Kind::RacEndpoints => "rac/endpoints",
            Kind::Devices => "endpoints/devices",
            Kind::DeviceAccessGroups => "endpoints/device_access_groups",
            Kind::DeviceBindings => "endpoints/device_bindings",
            Kind::Providers => "providers/all",
        }
    }

    /// Whether a bundle or directory must contain this endpoint.
    pub fn required(self) -> bool {
        matches!(
            self,
            Kind::Users
                | Kind::Groups
                | Kind::Flows
                | Kind::FlowBindings
                | Kind::Stages
                | Kind::Policies
                | Kind::PolicyBindings
        )
    }

    /// The kind whose endpoint is `endpoint`.
    pub fn from_endpoint(endpoint: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.endpoint() == endpoint)
    }

    /// The kind a blueprint `model` (`app_label.model_name`) creates, if bindlog models it.
    pub fn from_model(model: &str) -> Option<Kind> {
        let (app, name) = model.split_once('.')?;
        Some(match (app, name) {
            ("authentik_core", "user") => Kind::Users,
            ("authentik_core", "group") => Kind::Groups,
            ("authentik_flows", "flow") => Kind::Flows,
            ("authentik_flows", "flowstagebinding") => Kind::FlowBindings,
            ("authentik_policies", "policybinding") => Kind::PolicyBindings,
            ("authentik_core", "application") => Kind::Applications,
            ("authentik_brands", "brand") => Kind::Brands,
            ("authentik_core", "applicationentitlement") => Kind::Entitlements,
            ("authentik_events", "notificationrule") => Kind::NotificationRules,
            ("authentik_events", "notificationtransport") => Kind::Transports,
            ("authentik_providers_rac", "endpoint") => Kind::RacEndpoints,
            ("authentik_endpoints", "device") => Kind::Devices,
            ("authentik_endpoints", "deviceaccessgroup") => Kind::DeviceAccessGroups,
            ("authentik_endpoints", "deviceuserbinding") => Kind::PolicyBindings,
            (a, n) if a.starts_with("authentik_providers_") && n.ends_with("provider") => {
                Kind::Providers
            }
            (a, n) if a.starts_with("authentik_stages_") && n.ends_with("stage") => Kind::Stages,
            (a, n) if a.starts_with("authentik_policies_") && n.ends_with("policy") => {
                Kind::Policies
            }
            (a, n) if a.starts_with("authentik_sources_") && n.ends_with("source") => Kind::Sources,
            _ => return None,
        })
    }

    /// A singular noun for messages.
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Users => "user",
            Kind::Groups => "group",
            Kind::Flows => "flow",
            Kind::FlowBindings => "flow-stage binding",
            Kind::Stages => "stage",
            Kind::Policies => "policy",
            Kind::PolicyBindings => "policy binding",
            Kind::Applications => "application",
            Kind::Sources => "source",
            Kind::Brands => "brand",
            Kind::Entitlements => "application entitlement",
            Kind::NotificationRules => "notification rule",
            Kind::Transports => "notification transport",
            Kind::RacEndpoints => "RAC endpoint",
            Kind::Devices => "device",
            Kind::DeviceAccessGroups => "device access group",
            Kind::DeviceBindings => "device user binding",
            Kind::Providers => "provider",
        }
    }
}

/// Where a run of consecutive objects of one kind came from.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Objects `start..` are the elements of the JSON array at `prefix` (pointer), in order.
    Array {
        /// The file.
        file: Arc<str>,
        /// Pointer to the array.
        prefix: String,
    },
    /// One object at a fixed place (a blueprint entry, or a single object).
    At(Loc),
}

/// Runs of objects and their origins: `(index of the first object, origin)`, by increasing index.
#[derive(Clone, Debug, Default)]
pub struct Origins(pub Vec<(usize, Origin)>);

impl Origins {
    /// Where object `index` came from.
    pub fn loc(&self, index: usize) -> Loc {
        let pos = self.0.partition_point(|(start, _)| *start <= index);
        match pos.checked_sub(1).map(|p| &self.0[p]) {
            Some((start, Origin::Array { file, prefix })) => Loc::Pointer {
                file: file.clone(),
                pointer: format!("{prefix}/{}", index - start),
            },
            Some((_, Origin::At(loc))) => loc.clone(),
            None => Loc::File(Arc::from("<unknown>")),
        }
    }

    /// Records that objects from `start` on come from `origin`.
    pub fn push(&mut self, start: usize, origin: Origin) {
        self.0.push((start, origin));
    }
}

/// An object of a model bindlog does not model (kept as given, for `!Find` and counts).
#[derive(Clone, Debug)]
pub struct OtherObject {
    /// Derived or given pk.
    pub pk: serde_json::Value,
    /// Its fields.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Everything read, per kind, in input order; not yet validated.
#[derive(Clone, Debug, Default)]
pub struct Store {
    /// `core/users`
    pub users: Vec<RawUser>,
    /// `core/groups`
    pub groups: Vec<RawGroup>,
    /// `flows/instances`
    pub flows: Vec<RawFlow>,
    /// `flows/bindings`
    pub flow_bindings: Vec<RawFlowStageBinding>,
    /// `stages/all`
    pub stages: Vec<RawStage>,
    /// `policies/all`
    pub policies: Vec<RawPolicy>,
    /// `policies/bindings`
    pub policy_bindings: Vec<RawPolicyBinding>,
    /// `core/applications`
    pub applications: Vec<RawApplication>,
    /// `sources/all`
    pub sources: Vec<RawSource>,
    /// `core/brands`
    pub brands: Vec<RawBrand>,
    /// `core/application_entitlements`
    pub entitlements: Vec<RawEntitlement>,
    /// `events/rules`
    pub notification_rules: Vec<RawNotificationRule>,
    /// `events/transports`
    pub transports: Vec<RawTransport>,
    /// `rac/endpoints`
    pub rac_endpoints: Vec<RawRacEndpoint>,
    /// `endpoints/devices`
    pub devices: Vec<RawDevice>,
    /// `endpoints/device_access_groups`
    pub device_access_groups: Vec<RawDeviceAccessGroup>,
    /// `endpoints/device_bindings`
    pub device_bindings: Vec<RawPolicyBinding>,
    /// `providers/all`
    pub providers: Vec<RawProvider>,
    /// Per-type provider endpoints (`providers/ldap`, ...), merged into `providers` by pk.
    pub provider_details: Vec<RawProvider>,
    /// Per-type stage and policy endpoints (`stages/authenticator/validate`, `policies/dummy`, ...),
    /// merged into `stages` / `policies` by pk.
    pub stage_details: Vec<RawStage>,
    /// See `stage_details`.
    pub policy_details: Vec<RawPolicy>,
    /// `admin/settings`
    pub settings: Option<RawSettings>,
    /// `meta`
    pub meta: Option<RawMeta>,
    /// Origins of each kind's objects.
    pub origins: BTreeMap<Kind, Origins>,
    /// Endpoints present in the input.
    pub endpoints: BTreeSet<Kind>,
    /// Objects of other models, by model name (from blueprints).
    pub others: BTreeMap<String, Vec<OtherObject>>,
    /// Whether a bundle or directory was read (then required endpoints are checked).
    pub has_base: bool,
    /// Files whose users were read with `email` and `attributes` left [`DEFERRED`]: a bundle
    /// (`true`) or a page of `core/users` (`false`).
    pub deferred_text: Vec<(std::path::PathBuf, bool)>,
}

impl Store {
    /// How many objects of `kind` there are.
    pub fn len(&self, kind: Kind) -> usize {
        match kind {
            Kind::Users => self.users.len(),
            Kind::Groups => self.groups.len(),
            Kind::Flows => self.flows.len(),
            Kind::FlowBindings => self.flow_bindings.len(),
            Kind::Stages => self.stages.len(),
            Kind::Policies => self.policies.len(),
            Kind::PolicyBindings => self.policy_bindings.len(),
            Kind::Applications => self.applications.len(),
            Kind::Sources => self.sources.len(),
            Kind::Brands => self.brands.len(),
            Kind::Entitlements => self.entitlements.len(),
            Kind::NotificationRules => self.notification_rules.len(),
            Kind::Transports => self.transports.len(),
            Kind::RacEndpoints => self.rac_endpoints.len(),
            Kind::Devices => self.devices.len(),
            Kind::DeviceAccessGroups => self.device_access_groups.len(),
            Kind::DeviceBindings => self.device_bindings.len(),
            Kind::Providers => self.providers.len(),
        }
    }

    /// Reads the files again for the users' `email` and `attributes` left [`DEFERRED`], when some
    /// expression reads them or a blueprint changes users. A user the second reading does not
    /// find (the file changed in between) keeps neither.
    pub fn resolve_user_text(&mut self, errors: &mut Vec<super::SnapshotError>) {
        let mut texts = std::collections::HashMap::new();
        for (path, bundle) in std::mem::take(&mut self.deferred_text) {
            match super::json::read_user_text(&path, bundle) {
                Ok(found) => texts.extend(found.into_iter().map(|t| (t.pk, t))),
                Err(e) => errors.push(e),
            }
        }
        for u in &mut self.users {
            if !is_deferred(&u.email) && !is_deferred(&u.attributes) {
                continue;
            }
            let (email, attributes) = texts
                .remove(&u.pk)
                .map_or((None, None), |t| (t.email, t.attributes));
            if is_deferred(&u.email) {
                u.email = email;
            }
            if is_deferred(&u.attributes) {
                u.attributes = attributes;
            }
        }
    }

    /// Where object `index` of `kind` came from.
    pub fn loc(&self, kind: Kind, index: usize) -> Loc {
        self.origins
            .get(&kind)
            .map(|o| o.loc(index))
            .unwrap_or(Loc::File(Arc::from("<unknown>")))
    }
}
