//! Objects exactly as the API (or a blueprint) gives them: absent fields stay `None` until
//! [`super::validate`] fills in the version's defaults. Deserialized straight from the bytes,
//! with ids interned, so a million users never pass through `serde_json::Value`.

use super::model::{
    Authentication, DeniedAction, Designation, EngineMode, Id, InvalidResponseAction,
};
use super::strict;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

/// A fast, non-cryptographic hasher (FxHash's mixing) for ids: loading hashes every id a few
/// times, and SipHash's flooding resistance buys nothing for a file the user chose to read.
#[derive(Clone, Copy, Default)]
pub struct FxHasher(u64);

impl std::hash::Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds [`FxHasher`]s.
pub type FxBuild = std::hash::BuildHasherDefault<FxHasher>;

thread_local! {
    static INTERNED: RefCell<HashSet<Arc<str>, FxBuild>> = RefCell::new(HashSet::default());
}

/// Returns the shared copy of `s`, so that each distinct id is stored once.
pub fn intern(s: &str) -> Id {
    INTERNED.with(|set| {
        let mut set = set.borrow_mut();
        if let Some(id) = set.get(s) {
            return id.clone();
        }
        let id: Id = Arc::from(s);
        set.insert(id.clone());
        id
    })
}

/// Forgets the interning table (ids already handed out stay valid).
pub fn clear_interned() {
    INTERNED.with(|set| *set.borrow_mut() = HashSet::default());
}

struct IdVisitor;

impl Visitor<'_> for IdVisitor {
    type Value = Id;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an id (string)")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
        Ok(intern(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
        Ok(intern(&v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Id, E> {
        Ok(intern(&v.to_string()))
    }
}

/// An interned id; integers are accepted and kept as their decimal text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct RawId(pub Id);

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IdVisitor).map(RawId)
    }
}

/// Unwraps a list of interned ids (reusing the allocation).
pub fn ids(v: Vec<RawId>) -> Vec<Id> {
    v.into_iter().map(|r| r.0).collect()
}

/// A user as `core/users` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawUser {
    /// `pk`.
    pub pk: i64,
    /// `username`.
    pub username: Box<str>,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `is_active` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_active: Option<bool>,
    /// `is_superuser` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
    /// `groups` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<RawId>>,
    /// `type` (absent: the default).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<RawId>,
    /// `last_login` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_login: Option<Box<str>>,
    /// `email` (absent: empty; [`DEFERRED`] while not read yet, see [`skipping_user_text`]).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "user_str"
    )]
    pub email: Option<Box<str>>,
    /// `attributes` (absent: empty), as its JSON text: only the keys some expression body reads
    /// are ever parsed, and a directory's attributes can weigh kilobytes per user.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "json_text",
        serialize_with = "json_text_out"
    )]
    pub attributes: Option<Box<str>>,
}

/// A user's `email` and `attributes` as the second reading of a file returns them (see
/// [`skipping_user_text`]); the user's other fields are skipped.
#[derive(Debug, Deserialize)]
pub struct RawUserText {
    /// `pk`.
    pub pk: i64,
    /// `email`.
    #[serde(default)]
    pub email: Option<Box<str>>,
    /// `attributes`, as JSON text.
    #[serde(default, deserialize_with = "json_text")]
    pub attributes: Option<Box<str>>,
}

/// The text a user's `email` or `attributes` holds while the file has not been read for it: no
/// JSON text is empty, and an empty `Box<str>` costs no allocation.
pub const DEFERRED: &str = "";

/// Whether a user field is [`DEFERRED`].
pub fn is_deferred(text: &Option<Box<str>>) -> bool {
    text.as_deref() == Some(DEFERRED)
}

thread_local! {
    static SKIP_USER_TEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with users' `email` and `attributes` skipped rather than copied: each becomes
/// [`DEFERRED`], and the file is read again for them only if some expression policy reads them
/// (`Store::resolve_user_text`). At a million users they are most of a directory's bytes, and
/// most configurations have no expression that reads them.
pub fn skipping_user_text<R>(f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            SKIP_USER_TEXT.set(false);
        }
    }
    SKIP_USER_TEXT.set(true);
    let _reset = Reset;
    f()
}

/// A user's `email`: the string, or [`DEFERRED`] while skipping.
fn user_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<str>>, D::Error> {
    if SKIP_USER_TEXT.get() {
        IgnoredAny::deserialize(d)?;
        return Ok(Some(Box::from(DEFERRED)));
    }
    Option::<Box<str>>::deserialize(d)
}

/// A group as `core/groups` returns it (old `parent` or new `parents`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawGroup {
    /// `pk`.
    pub pk: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `is_superuser` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_superuser: Option<bool>,
    /// `parent` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<RawId>,
    /// `parents` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parents: Option<Vec<RawId>>,
    /// `users` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<i64>>,
}

/// A flow as `flows/instances` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawFlow {
    /// `pk`.
    pub pk: RawId,
    /// `policybindingmodel_ptr_id` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policybindingmodel_ptr_id: Option<RawId>,
    /// `slug`.
    pub slug: Box<str>,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `designation`.
    pub designation: Designation,
    /// `authentication` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
    /// `policy_engine_mode` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
    /// `denied_action` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub denied_action: Option<DeniedAction>,
}

/// A flow-stage binding as `flows/bindings` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawFlowStageBinding {
    /// `pk`.
    pub pk: RawId,
    /// `policybindingmodel_ptr_id` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policybindingmodel_ptr_id: Option<RawId>,
    /// `target`.
    pub target: RawId,
    /// `stage`.
    pub stage: RawId,
    /// `order`.
    pub order: i32,
    /// `evaluate_on_plan` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluate_on_plan: Option<bool>,
    /// `re_evaluate_policies` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub re_evaluate_policies: Option<bool>,
    /// `policy_engine_mode` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
    /// `invalid_response_action` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_response_action: Option<InvalidResponseAction>,
}

/// A stage as `stages/all` (or a per-type stage endpoint) returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawStage {
    /// `pk`.
    pub pk: RawId,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `component` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Box<str>>,
    /// `meta_model_name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_model_name: Option<Box<str>>,
    /// `every other field`.
    #[serde(flatten, deserialize_with = "super::strict::json_fields")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A policy as `policies/all` returns it (type fields kept as given).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawPolicy {
    /// `pk`.
    pub pk: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `component` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<Box<str>>,
    /// `meta_model_name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_model_name: Option<Box<str>>,
    /// `every other field`.
    #[serde(flatten, deserialize_with = "super::strict::json_fields")]
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A policy binding as `policies/bindings` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawPolicyBinding {
    /// `pk`.
    pub pk: RawId,
    /// `target`.
    pub target: RawId,
    /// `policy` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<RawId>,
    /// `group` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<RawId>,
    /// `user` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<i64>,
    /// `negate` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negate: Option<bool>,
    /// `enabled` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `order`.
    pub order: i32,
    /// `timeout` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<i32>,
    /// `failure_result` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_result: Option<bool>,
}

/// An application as `core/applications` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawApplication {
    /// `pk`.
    pub pk: RawId,
    /// `slug`.
    pub slug: Box<str>,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `policy_engine_mode` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
    /// `provider` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<RawId>,
}

/// An application entitlement as `core/application_entitlements` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawEntitlement {
    /// `pbm_uuid` (or `pk`).
    #[serde(alias = "pk")]
    pub pbm_uuid: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `app` (the application's pk).
    pub app: RawId,
}

/// A source as `sources/all` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawSource {
    /// `pk`.
    pub pk: RawId,
    /// `slug`.
    pub slug: Box<str>,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `policy_engine_mode` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
    /// `authentication_flow` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_flow: Option<RawId>,
    /// `enrollment_flow` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment_flow: Option<RawId>,
    /// `enabled` (absent: true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// `meta_model_name` (absent: unknown type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_model_name: Option<Box<str>>,
}

/// A brand as `core/brands` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawBrand {
    /// `brand_uuid (or pk)`.
    #[serde(alias = "pk")]
    pub brand_uuid: RawId,
    /// `domain` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<Box<str>>,
    /// `default` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// `flow_authentication` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_authentication: Option<RawId>,
    /// `flow_invalidation` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_invalidation: Option<RawId>,
    /// `flow_recovery` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_recovery: Option<RawId>,
    /// `flow_unenrollment` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_unenrollment: Option<RawId>,
    /// `flow_user_settings` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_user_settings: Option<RawId>,
    /// `flow_device_code` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_device_code: Option<RawId>,
}

/// A notification rule as `events/rules` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawNotificationRule {
    /// `pk`.
    pub pk: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `transports` (transport pks; absent: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<Vec<RawId>>,
    /// `severity` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Box<str>>,
    /// `destination_group` (2025.8+; a group pk or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_group: Option<RawId>,
    /// `group`, the same field up to 2025.6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<RawId>,
    /// `destination_event_user` (2025.8+; absent: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_event_user: Option<bool>,
    /// `policy_engine_mode`: not in the API; authentik ignores it (always `any`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
}

/// A notification transport as `events/transports` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawTransport {
    /// `pk`.
    pub pk: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `mode` (local, webhook, webhook_slack, email; absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Box<str>>,
    /// `send_once` (absent: false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_once: Option<bool>,
}

/// A RAC endpoint as `rac/endpoints?superuser_full_list=true` returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawRacEndpoint {
    /// `pk`.
    pub pk: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `provider` (the RAC provider's pk).
    pub provider: RawId,
    /// `protocol` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Box<str>>,
    /// `host` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<Box<str>>,
    /// `maximum_connections` (absent: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum_connections: Option<i64>,
    /// `policy_engine_mode` (not in the API; blueprints may set it; absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
}

/// A device as `endpoints/devices` returns it (2025.12+).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawDevice {
    /// `device_uuid` (or `pk`): what API bindings target.
    #[serde(alias = "pk")]
    pub device_uuid: RawId,
    /// `pbm_uuid`: what blueprint bindings target (absent: the device_uuid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pbm_uuid: Option<RawId>,
    /// `name`.
    pub name: Box<str>,
    /// `access_group` (an access group's `pbm_uuid`, or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_group: Option<RawId>,
    /// `policy_engine_mode` (not in the API; absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
}

/// A device access group as `endpoints/device_access_groups` returns it (2025.12+).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawDeviceAccessGroup {
    /// `pbm_uuid` (or `pk`).
    #[serde(alias = "pk")]
    pub pbm_uuid: RawId,
    /// `name`.
    pub name: Box<str>,
    /// `policy_engine_mode` (not in the API; absent: any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_engine_mode: Option<EngineMode>,
}

/// A provider as `providers/all` (or a per-type provider endpoint) returns it.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct RawProvider {
    /// `pk` (an integer in the API; a derived id from blueprints).
    pub pk: RawId,
    /// `name` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Box<str>>,
    /// `meta_model_name` (absent: unknown type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta_model_name: Option<Box<str>>,
    /// `authentication_flow` (a flow pk or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication_flow: Option<RawId>,
    /// `authorization_flow`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_flow: Option<RawId>,
    /// `invalidation_flow` (2024.10+).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalidation_flow: Option<RawId>,
    /// `assigned_application_slug` (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_application_slug: Option<Box<str>>,
    /// `backchannel_application` (blueprints) or the slug in `assigned_backchannel_application_slug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_application: Option<RawId>,
    /// `assigned_backchannel_application_slug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_backchannel_application_slug: Option<Box<str>>,
    /// `mfa_support` (LDAP and RADIUS; absent: the default, true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_support: Option<bool>,
    /// `bind_mode` (LDAP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_mode: Option<Box<str>>,
}

/// `admin/settings`: only the flags matter.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawSettings {
    /// `flags`.
    #[serde(default)]
    pub flags: RawFlags,
}

/// `admin/settings` → `flags`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawFlags {
    /// `core_default_app_access` (absent: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_default_app_access: Option<bool>,
}

/// `meta` (bundle key or `meta.json`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct RawMeta {
    /// `version` (absent: the default).
    #[serde(default)]
    pub version: Option<String>,
}

/// Appends an endpoint's objects (a bare array, one page `{"results": [...]}`, or an array of
/// pages) to `out` without buffering, so that each object goes straight into `T`; records in
/// `runs` where each run of objects starts and the JSON pointer of the array holding it.
pub struct ItemsSeed<'a, T> {
    /// Where the objects go.
    pub out: &'a mut Vec<T>,
    /// `(index in out, pointer of the array relative to the endpoint's value)`.
    pub runs: &'a mut Vec<(usize, String)>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ItemsSeed<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ItemsSeed<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects, a page {\"results\": [...]}, or an array of pages")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        let mut keys = Vec::new();
        while seq
            .next_element_seed(ElementSeed {
                out: &mut *self.out,
                runs: &mut *self.runs,
                keys: &mut keys,
                index,
            })?
            .is_some()
        {
            index += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        page_rest(self.out, self.runs, String::new(), None, map)
    }
}

fn is_page_key(key: &str) -> bool {
    matches!(key, "results" | "pagination" | "autocomplete")
}

/// Reads the rest of a page wrapper at `at` whose first key may already have been read.
fn page_rest<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    out: &mut Vec<T>,
    runs: &mut Vec<(usize, String)>,
    at: String,
    mut key: Option<String>,
    mut map: A,
) -> Result<(), A::Error> {
    if key.is_none() {
        key = map.next_key()?;
    }
    let mut seen = HashSet::new();
    while let Some(k) = key {
        if k == "results" {
            runs.push((out.len(), format!("{at}/results")));
            map.next_value_seed(ResultsSeed(&mut *out))?;
        } else {
            map.next_value_seed(Skipped)?;
        }
        if !seen.insert(k) {
            return Err(de::Error::custom(strict::REPEATED_KEY));
        }
        key = map.next_key()?;
    }
    Ok(())
}

/// A value skipped, with its maps' keys checked for repeats ([`strict::skip`]).
pub struct Skipped;

impl<'de> DeserializeSeed<'de> for Skipped {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        strict::skip(d)
    }
}

struct ResultsSeed<'a, T>(&'a mut Vec<T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ResultsSeed<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ResultsSeed<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut keys = Vec::new();
        while let Some(item) = seq.next_element_seed(ObjectSeed {
            keys: &mut keys,
            item: std::marker::PhantomData,
        })? {
            self.0.push(item);
        }
        Ok(())
    }
}

/// One object of a list, read with its keys checked for repeats ([`strict::Strict`]).
struct ObjectSeed<'k, T> {
    keys: &'k mut Vec<u64>,
    item: std::marker::PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ObjectSeed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        self.keys.clear();
        T::deserialize(strict::Strict::new(d, self.keys))
    }
}

/// Element `index` of a top-level array: an object, or a page wrapper.
struct ElementSeed<'a, T> {
    out: &'a mut Vec<T>,
    runs: &'a mut Vec<(usize, String)>,
    keys: &'a mut Vec<u64>,
    index: usize,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for ElementSeed<'_, T> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for ElementSeed<'_, T> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let first: Option<String> = map.next_key()?;
        match first {
            Some(k) if is_page_key(&k) => page_rest(
                self.out,
                self.runs,
                format!("/{}", self.index),
                Some(k),
                map,
            ),
            first => {
                if self.index == 0 {
                    self.runs.push((self.out.len(), String::new()));
                }
                self.keys.clear();
                let item = T::deserialize(strict::StrictMap::new(first, map, self.keys))?;
                self.out.push(item);
                Ok(())
            }
        }
    }
}

/// A value as compact JSON text, copied from the input without building a `serde_json::Value`
/// (`null`: `None`).
fn json_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<str>>, D::Error> {
    if SKIP_USER_TEXT.get() {
        // Through the loader's `strict::Strict`, skipping still checks the keys for repeats.
        IgnoredAny::deserialize(d)?;
        return Ok(Some(Box::from(DEFERRED)));
    }
    let mut out = Vec::new();
    serde_transcode::transcode(d, &mut serde_json::Serializer::new(&mut out))
        .map_err(serde::de::Error::custom)?;
    if out == b"null" {
        return Ok(None);
    }
    String::from_utf8(out)
        .map(|s| Some(s.into_boxed_str()))
        .map_err(serde::de::Error::custom)
}

/// Writes JSON text back as the value it holds (not as a string), so that a user converted to
/// JSON and back, as blueprints do, keeps its attributes.
fn json_text_out<S: serde::Serializer>(text: &Option<Box<str>>, s: S) -> Result<S::Ok, S::Error> {
    match text
        .as_deref()
        .map(serde_json::from_str::<serde_json::Value>)
    {
        Some(Ok(v)) => v.serialize(s),
        _ => s.serialize_none(),
    }
}
