//! The authentik objects bindlog reasons about, every field filled (defaults applied).

use super::version::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// An object id as authentik returns it (a UUID string for everything but users); interned.
pub type Id = Arc<str>;

/// Declares a string-valued authentik enum with its accepted API spellings.
macro_rules! api_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }
        impl $name {
            /// The value as authentik spells it.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }
    };
}

api_enum! {
    /// A flow's `designation`: what the flow is for.
    Designation {
        /// Logs a user in.
        Authentication = "authentication",
        /// Authorizes an application (consent).
        Authorization = "authorization",
        /// Logs a user out.
        Invalidation = "invalidation",
        /// Creates an account.
        Enrollment = "enrollment",
        /// Deletes an account.
        Unenrollment = "unenrollment",
        /// Recovers an account.
        Recovery = "recovery",
        /// Configures an authenticator or other stage.
        StageConfiguration = "stage_configuration",
    }
}

api_enum! {
    /// A flow's `authentication` gate (docs/semantics.md §2.1).
    Authentication {
        /// No requirement.
        None = "none",
        /// The request user must be logged in.
        RequireAuthenticated = "require_authenticated",
        /// The request user must not be logged in.
        RequireUnauthenticated = "require_unauthenticated",
        /// The request user must be a superuser.
        RequireSuperuser = "require_superuser",
        /// The visitor must come from a Redirect stage (2024.12+).
        RequireRedirect = "require_redirect",
        /// The request must come from an outpost (2024.2+).
        RequireOutpost = "require_outpost",
    }
}

api_enum! {
    /// How a target combines its policy bindings.
    EngineMode {
        /// Passes iff every binding passes.
        All = "all",
        /// Passes iff some binding passes.
        Any = "any",
    }
}

api_enum! {
    /// What a flow does when it is not applicable.
    DeniedAction {
        /// Redirect to `next` or show the policy messages.
        MessageContinue = "message_continue",
        /// Show an access-denied page.
        Message = "message",
        /// Redirect to `next` or the root.
        Continue = "continue",
    }
}

api_enum! {
    /// What a flow-stage binding does when its stage gives up.
    InvalidResponseAction {
        /// End with access denied.
        Retry = "retry",
        /// Re-plan the flow.
        Restart = "restart",
        /// Re-plan the flow keeping its context.
        RestartWithContext = "restart_with_context",
    }
}

/// A user (`core/users`).
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    /// Integer primary key.
    pub pk: i64,
    /// Login name.
    pub username: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// Whether the account may log in.
    pub is_active: bool,
    /// `is_superuser` as the API computed it (through groups); informative only.
    pub is_superuser: bool,
    /// Direct groups as listed on the user.
    pub groups: Vec<Id>,
    /// `type`: internal, external, service_account, internal_service_account.
    pub kind: Id,
    /// Last login time, if any.
    pub last_login: Option<Box<str>>,
    /// `email` and `attributes`, read by expression policies; boxed because most snapshots
    /// at scale have neither and a million users then pay one pointer each.
    pub extra: Option<Box<UserExtra>>,
}

/// The user fields only expression policies read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UserExtra {
    /// `email` (empty when absent).
    pub email: Box<str>,
    /// `attributes` (a JSON object; `Null` when absent).
    pub attributes: serde_json::Value,
}

/// A group (`core/groups`).
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    /// UUID primary key.
    pub pk: Id,
    /// Name (not necessarily unique before 2025.12).
    pub name: Box<str>,
    /// Whether members (of it or any descendant) are superusers.
    pub is_superuser: bool,
    /// Parent groups: `parents` (2025.12+) together with the old single `parent`.
    pub parents: Vec<Id>,
    /// Direct member user pks listed on the group.
    pub users: Vec<i64>,
}

/// A flow (`flows/instances`).
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    /// The flow's own pk (`flow_uuid`), which flow-stage bindings use as `target`.
    pub pk: Id,
    /// `policybindingmodel_ptr_id` (`pbm_uuid`), which blueprints and the UI use for policy bindings.
    pub pbm: Id,
    /// URL slug.
    pub slug: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// What the flow is for.
    pub designation: Designation,
    /// The authentication gate.
    pub authentication: Authentication,
    /// How flow policies combine.
    pub policy_engine_mode: EngineMode,
    /// What happens when the flow is not applicable.
    pub denied_action: DeniedAction,
}

/// A flow-stage binding (`flows/bindings`).
#[derive(Clone, Debug, PartialEq)]
pub struct FlowStageBinding {
    /// The binding's own pk (`fsb_uuid`).
    pub pk: Id,
    /// `policybindingmodel_ptr_id` (`pbm_uuid`).
    pub pbm: Id,
    /// The flow's pk.
    pub target: Id,
    /// The stage's pk.
    pub stage: Id,
    /// Position in the plan (ties are legal).
    pub order: i32,
    /// Evaluate the binding's policies when planning.
    pub evaluate_on_plan: bool,
    /// Evaluate them again when the stage is reached.
    pub re_evaluate_policies: bool,
    /// How the binding's policies combine.
    pub policy_engine_mode: EngineMode,
    /// What to do when the stage gives up.
    pub invalid_response_action: InvalidResponseAction,
}

/// A stage (`stages/all`, merged with per-type stage endpoints).
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// UUID primary key.
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// `meta_model_name`, e.g. `authentik_stages_password.passwordstage`.
    pub kind: Box<str>,
    /// The web component, e.g. `ak-stage-password-form` (empty when unknown).
    pub component: Box<str>,
    /// Type-specific fields (e.g. `not_configured_action`), as given.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// The static content of a policy, by type.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyFacts {
    /// A dummy policy: returns `result` after a random wait.
    Dummy {
        /// The constant result.
        result: bool,
        /// Minimum wait in seconds.
        wait_min: i64,
        /// Maximum wait in seconds.
        wait_max: i64,
    },
    /// An expression policy with its Python body.
    Expression {
        /// The Python source.
        expression: String,
    },
    /// A GeoIP policy; `configured` is false when no check at all is set (then it passes).
    Geoip {
        /// Whether any ASN, country or distance check is set.
        configured: bool,
    },
    /// Any other type; its fields are in `Policy::fields`.
    Other,
}

/// A policy (`policies/all`).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// UUID primary key.
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// `meta_model_name`, e.g. `authentik_policies_expression.expressionpolicy`.
    pub kind: Box<str>,
    /// What is statically known about it.
    pub facts: PolicyFacts,
    /// All type-specific fields, as given.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// Who a policy binding is about: exactly one of policy, group or user.
#[derive(Clone, Debug, PartialEq)]
pub enum Subject {
    /// Run a policy.
    Policy(Id),
    /// Membership of a group.
    Group(Id),
    /// Being a given user.
    User(i64),
}

/// The kind of object a policy binding's target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TargetKind {
    /// A flow.
    Flow,
    /// A flow-stage binding.
    FlowStageBinding,
    /// An application.
    Application,
    /// A source.
    Source,
    /// An application entitlement (2024.12+).
    Entitlement,
    /// A notification rule (`events/rules`).
    NotificationRule,
    /// A RAC endpoint (`rac/endpoints`).
    RacEndpoint,
    /// A device (`endpoints/devices`, 2025.12+).
    Device,
    /// A device access group (`endpoints/device_access_groups`, 2025.12+).
    DeviceAccessGroup,
    /// Matches no loaded object (an entitlement, notification rule, ... not loaded).
    Unknown,
}

impl TargetKind {
    /// Lower-case name used in facts and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Flow => "flow",
            Self::FlowStageBinding => "flow_stage_binding",
            Self::Application => "application",
            Self::Source => "source",
            Self::Entitlement => "application_entitlement",
            Self::NotificationRule => "notification_rule",
            Self::RacEndpoint => "rac_endpoint",
            Self::Device => "device",
            Self::DeviceAccessGroup => "device_access_group",
            Self::Unknown => "unknown",
        }
    }
}

/// A policy binding (`policies/bindings`).
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyBinding {
    /// UUID primary key.
    pub pk: Id,
    /// The target's canonical id (its own pk), whichever of its two ids the input used.
    pub target: Id,
    /// What kind of object the target is.
    pub target_kind: TargetKind,
    /// What the binding checks.
    pub subject: Subject,
    /// Flip the result (not applied to `failure_result`).
    pub negate: bool,
    /// Disabled bindings count as absent.
    pub enabled: bool,
    /// Result when the policy raises.
    pub failure_result: bool,
    /// Message order (never changes the result).
    pub order: i32,
    /// Timeout in seconds (not enforced by authentik).
    pub timeout: i32,
}

/// An application (`core/applications`).
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    /// UUID primary key (also its `pbm_uuid`).
    pub pk: Id,
    /// URL slug.
    pub slug: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// How its bindings combine.
    pub policy_engine_mode: EngineMode,
    /// Provider pk (decimal), if any.
    pub provider: Option<Box<str>>,
}

/// An application entitlement (`core/application_entitlements`, authentik 2024.12+): granted to
/// a user by its group and user bindings (policy bindings are ignored), never by default.
#[derive(Clone, Debug, PartialEq)]
pub struct Entitlement {
    /// `pbm_uuid`, its only id (policy bindings target it).
    pub pk: Id,
    /// Name (unique per application).
    pub name: Box<str>,
    /// The application's pk.
    pub app: Id,
}

/// A source (`sources/all`).
#[derive(Clone, Debug, PartialEq)]
pub struct Source {
    /// UUID primary key (also its `pbm_uuid`).
    pub pk: Id,
    /// URL slug.
    pub slug: Box<str>,
    /// Display name.
    pub name: Box<str>,
    /// How its bindings combine.
    pub policy_engine_mode: EngineMode,
    /// Flow used to log in through this source.
    pub authentication_flow: Option<Id>,
    /// Flow used to enroll through this source.
    pub enrollment_flow: Option<Id>,
    /// Whether the source is enabled (a disabled one is offered nowhere).
    pub enabled: bool,
    /// `meta_model_name`, e.g. `authentik_sources_oauth.oauthsource` (empty when unknown).
    pub kind: Box<str>,
}

/// A notification rule (`events/rules`): always mode `any`; no binding means it never fires.
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationRule {
    /// UUID primary key (also its `pbm_uuid`).
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// Transport pks; with none, nothing is sent.
    pub transports: Vec<Id>,
    /// `severity` (notice, warning, alert).
    pub severity: Box<str>,
    /// `destination_group` (`group` up to 2025.6): its direct members are notified.
    pub destination_group: Option<Id>,
    /// `destination_event_user`: the event's user is notified too.
    pub destination_event_user: bool,
}

/// A notification transport (`events/transports`).
#[derive(Clone, Debug, PartialEq)]
pub struct NotificationTransport {
    /// UUID primary key.
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// `mode`: local, webhook, webhook_slack or email.
    pub mode: Box<str>,
    /// Only the first recipient gets it.
    pub send_once: bool,
}

/// A RAC endpoint (`rac/endpoints`).
#[derive(Clone, Debug, PartialEq)]
pub struct RacEndpoint {
    /// UUID primary key (also its `pbm_uuid`).
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// The RAC provider's pk.
    pub provider: Id,
    /// `protocol` (rdp, vnc, ssh).
    pub protocol: Box<str>,
    /// `host`.
    pub host: Box<str>,
    /// `maximum_connections` (-1: unlimited); compared with live connections at run time.
    pub maximum_connections: i64,
    /// How its bindings combine (not in the API: `any` unless a blueprint sets it).
    pub policy_engine_mode: EngineMode,
}

/// A device (`endpoints/devices`, 2025.12+).
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    /// `device_uuid`, the id bindings are stored under.
    pub pk: Id,
    /// `pbm_uuid`, which blueprint bindings may use.
    pub pbm: Id,
    /// Name.
    pub name: Box<str>,
    /// The device access group's pk, if any.
    pub access_group: Option<Id>,
    /// How its bindings combine (not in the API: `any` unless a blueprint sets it).
    pub policy_engine_mode: EngineMode,
}

/// A device access group (`endpoints/device_access_groups`, 2025.12+).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceAccessGroup {
    /// `pbm_uuid`, its only id.
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// How its bindings combine (not in the API: `any` unless a blueprint sets it).
    pub policy_engine_mode: EngineMode,
}

/// A provider (`providers/all`, with the per-type endpoints' fields merged by pk).
#[derive(Clone, Debug, PartialEq)]
pub struct Provider {
    /// Primary key (an integer in the API), as text.
    pub pk: Id,
    /// Name.
    pub name: Box<str>,
    /// `meta_model_name`, e.g. `authentik_providers_ldap.ldapprovider` (empty when unknown).
    pub kind: Box<str>,
    /// Flows by role (`authentication`, `authorization`, `invalidation`), as flow pks.
    pub flows: BTreeMap<String, Id>,
    /// The application it is a backchannel provider of (its pk), if any.
    pub backchannel_application: Option<Id>,
    /// LDAP and RADIUS: a TOTP code may be appended to the password.
    pub mfa_support: bool,
}

/// A brand (`core/brands`): which flows a domain uses by default.
#[derive(Clone, Debug, PartialEq)]
pub struct Brand {
    /// UUID primary key (`brand_uuid`).
    pub pk: Id,
    /// Domain it serves.
    pub domain: Box<str>,
    /// Whether it is the default brand.
    pub default: bool,
    /// Flows by role (`authentication`, `invalidation`, `recovery`, `unenrollment`, `user_settings`, `device_code`).
    pub flows: BTreeMap<String, Id>,
}

/// Instance-wide settings (`admin/settings`).
#[derive(Clone, Debug, PartialEq)]
pub struct Settings {
    /// `flags.core_default_app_access`: an application with no binding is open.
    pub default_app_access: bool,
}

/// A whole authentik configuration, validated and with every default filled in.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// The authentik version, if known.
    pub version: Option<Version>,
    /// Users.
    pub users: Vec<User>,
    /// Groups.
    pub groups: Vec<Group>,
    /// Flows.
    pub flows: Vec<Flow>,
    /// Flow-stage bindings.
    pub flow_bindings: Vec<FlowStageBinding>,
    /// Stages.
    pub stages: Vec<Stage>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Policy bindings.
    pub policy_bindings: Vec<PolicyBinding>,
    /// Applications.
    pub applications: Vec<Application>,
    /// Sources.
    pub sources: Vec<Source>,
    /// Application entitlements.
    pub entitlements: Vec<Entitlement>,
    /// Brands.
    pub brands: Vec<Brand>,
    /// Notification rules.
    pub notification_rules: Vec<NotificationRule>,
    /// Notification transports.
    pub transports: Vec<NotificationTransport>,
    /// RAC endpoints.
    pub rac_endpoints: Vec<RacEndpoint>,
    /// Devices.
    pub devices: Vec<Device>,
    /// Device access groups.
    pub device_access_groups: Vec<DeviceAccessGroup>,
    /// Providers.
    pub providers: Vec<Provider>,
    /// The optional endpoints the snapshot holds (`events/rules`, ...), for saying which
    /// questions cannot be answered without the others.
    pub present: std::collections::BTreeSet<&'static str>,
    /// Instance settings (defaults when not given).
    pub settings: Settings,
    /// Objects of models bindlog does not model, by model name (from blueprints), counted only.
    pub others: BTreeMap<String, usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            default_app_access: true,
        }
    }
}
