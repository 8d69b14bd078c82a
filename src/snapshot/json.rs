//! The bundle file and the directory of endpoint dumps (docs/input.md, forms 1 and 2).
//!
//! A fast path deserializes straight into typed objects; only when it fails is the file parsed
//! again as a `serde_json::Value`, slowly, to report every problem with its JSON pointer.

use super::error::{LoadReport, Loc, SnapshotError, pointer_segment};
use super::raw::{ItemsSeed, RawMeta, RawSettings, RawUserText, Skipped};
use super::store::{Kind, Origin, Store};
use super::strict::{REPEATED_KEY, Strict};
use super::yaml::DuplicateKey;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where an endpoint's value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Kind(Kind),
    StageDetail,
    PolicyDetail,
    ProviderDetail,
    Settings,
    Meta,
}

fn target_of(endpoint: &str) -> Option<Target> {
    if endpoint == "meta" || endpoint == "admin/version" {
        return Some(Target::Meta);
    }
    if endpoint == "admin/settings" {
        return Some(Target::Settings);
    }
    if let Some(kind) = Kind::from_endpoint(endpoint) {
        return Some(Target::Kind(kind));
    }
    if endpoint.starts_with("stages/") && !endpoint.starts_with("stages/prompt/prompts") {
        return Some(Target::StageDetail);
    }
    if endpoint.starts_with("policies/") {
        return Some(Target::PolicyDetail);
    }
    if endpoint.starts_with("providers/") {
        return Some(Target::ProviderDetail);
    }
    None
}

/// Runs `$body` with `$vec` bound to the store's vector for a list target.
macro_rules! with_vec {
    ($store:expr, $target:expr, |$vec:ident| $body:expr) => {
        match $target {
            Target::Kind(Kind::Users) => {
                let $vec = &mut $store.users;
                $body
            }
            Target::Kind(Kind::Groups) => {
                let $vec = &mut $store.groups;
                $body
            }
            Target::Kind(Kind::Flows) => {
                let $vec = &mut $store.flows;
                $body
            }
            Target::Kind(Kind::FlowBindings) => {
                let $vec = &mut $store.flow_bindings;
                $body
            }
            Target::Kind(Kind::Stages) => {
                let $vec = &mut $store.stages;
                $body
            }
            Target::Kind(Kind::Policies) => {
                let $vec = &mut $store.policies;
                $body
            }
            Target::Kind(Kind::PolicyBindings) => {
                let $vec = &mut $store.policy_bindings;
                $body
            }
            Target::Kind(Kind::Applications) => {
                let $vec = &mut $store.applications;
                $body
            }
            Target::Kind(Kind::Sources) => {
                let $vec = &mut $store.sources;
                $body
            }
            Target::Kind(Kind::Brands) => {
                let $vec = &mut $store.brands;
                $body
            }
            Target::Kind(Kind::Entitlements) => {
                let $vec = &mut $store.entitlements;
                $body
            }
            Target::Kind(Kind::NotificationRules) => {
                let $vec = &mut $store.notification_rules;
                $body
            }
            Target::Kind(Kind::Transports) => {
                let $vec = &mut $store.transports;
                $body
            }
            Target::Kind(Kind::RacEndpoints) => {
                let $vec = &mut $store.rac_endpoints;
                $body
            }
            Target::Kind(Kind::Devices) => {
                let $vec = &mut $store.devices;
                $body
            }
            Target::Kind(Kind::DeviceAccessGroups) => {
                let $vec = &mut $store.device_access_groups;
                $body
            }
            Target::Kind(Kind::DeviceBindings) => {
                let $vec = &mut $store.device_bindings;
                $body
            }
            Target::Kind(Kind::Providers) => {
                let $vec = &mut $store.providers;
                $body
            }
            Target::ProviderDetail => {
                let $vec = &mut $store.provider_details;
                $body
            }
            Target::StageDetail => {
                let $vec = &mut $store.stage_details;
                $body
            }
            Target::PolicyDetail => {
                let $vec = &mut $store.policy_details;
                $body
            }
            Target::Settings | Target::Meta => unreachable!("not a list endpoint"),
        }
    };
}

/// Reads one endpoint's value from a deserializer (fast path); records origins on success.
fn fast_value<'de, D: Deserializer<'de>>(
    store: &mut Store,
    target: Target,
    d: D,
    file: &Arc<str>,
    base: &str,
) -> Result<(), D::Error> {
    match target {
        Target::Meta => {
            store.meta = Some(RawMeta::deserialize(Strict::new(d, &mut Vec::new()))?);
            Ok(())
        }
        Target::Settings => {
            store.settings = Some(RawSettings::deserialize(Strict::new(d, &mut Vec::new()))?);
            Ok(())
        }
        _ => {
            let mut runs = Vec::new();
            with_vec!(store, target, |vec| ItemsSeed {
                out: vec,
                runs: &mut runs
            }
            .deserialize(d))?;
            if let Target::Kind(kind) = target {
                store.endpoints.insert(kind);
                let origins = store.origins.entry(kind).or_default();
                for (start, prefix) in runs {
                    origins.push(
                        start,
                        Origin::Array {
                            file: file.clone(),
                            prefix: format!("{base}{prefix}"),
                        },
                    );
                }
            }
            Ok(())
        }
    }
}

struct BundleSeed<'a> {
    store: &'a mut Store,
    file: &'a Arc<str>,
    ignored: &'a mut Vec<String>,
}

/// The fast path's error for an endpoint key given twice; the slow path then reports where.
const REPEATED_ENDPOINT: &str = "repeated endpoint key";

impl<'de> Visitor<'de> for BundleSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object whose keys are API endpoints")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let endpoint = key.trim_matches('/');
            if !seen.insert(endpoint.to_string()) {
                return Err(serde::de::Error::custom(REPEATED_ENDPOINT));
            }
            match target_of(endpoint) {
                Some(target) => {
                    let base = format!("/{}", pointer_segment(&key));
                    map.next_value_seed(ValueSeed {
                        store: &mut *self.store,
                        target,
                        file: self.file,
                        base: &base,
                    })?
                }
                None => {
                    self.ignored.push(key);
                    map.next_value_seed(Skipped)?;
                }
            }
        }
        Ok(())
    }
}

struct ValueSeed<'a> {
    store: &'a mut Store,
    target: Target,
    file: &'a Arc<str>,
    base: &'a str,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        fast_value(self.store, self.target, d, self.file, self.base)
    }
}

fn read_file(path: &Path, errors: &mut Vec<SnapshotError>) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(bytes) => Some(bytes),
        Err(source) => {
            errors.push(SnapshotError::Io {
                path: path.display().to_string(),
                source,
            });
            None
        }
    }
}

fn syntax(file: &Arc<str>, err: &serde_json::Error) -> SnapshotError {
    let message = err.to_string();
    let message = match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message,
    };
    SnapshotError::Syntax {
        loc: Loc::Line {
            file: file.clone(),
            line: err.line(),
            col: err.column(),
        },
        file: file.to_string(),
        format: "JSON",
        message,
    }
}

/// Reads a bundle file (form 1) into `store`.
pub fn read_bundle(
    path: &Path,
    store: &mut Store,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    let mut reader = match std::fs::File::open(path) {
        Ok(f) => std::io::BufReader::with_capacity(1 << 20, f),
        Err(source) => {
            return errors.push(SnapshotError::Io {
                path: path.display().to_string(),
                source,
            });
        }
    };
    let file: Arc<str> = Arc::from(path.display().to_string());
    report.files.push(file.to_string());
    store.has_base = true;
    let mut ignored = Vec::new();
    skip_bom(&mut reader);
    // Streaming from the file keeps peak memory near the size of the objects built, not that
    // plus the file; only a file that fails is read whole, to report every problem in it.
    let mut de = serde_json::Deserializer::from_reader(reader);
    let fast = crate::snapshot::raw::skipping_user_text(|| {
        de.deserialize_map(BundleSeed {
            store,
            file: &file,
            ignored: &mut ignored,
        })
        .and_then(|()| de.end())
    });
    if fast.is_ok() {
        store.deferred_text.push((path.to_path_buf(), true));
        for key in ignored {
            report.warn(
                Loc::Pointer {
                    file: file.clone(),
                    pointer: format!("/{}", pointer_segment(&key)),
                },
                ignored_key(&key),
            );
        }
        return;
    }
    *store = Store {
        has_base: true,
        ..Store::default()
    };
    let before = errors.len();
    let warned = report.warnings.len();
    read_bundle_slowly(path, &file, store, errors, report);
    // The typed reading refused what the tolerant one accepted (a repeated key, say, where the
    // last value wins): say so, since the values used may not be the ones meant, unless the
    // repeated keys were already reported with their places.
    // A repeat the fast reading suspected from its keys' hashes but the slow reading did not
    // find was two keys whose hashes collide: nothing to tell.
    if let (Err(e), true) = (
        fast,
        errors.len() == before && report.warnings.len() == warned,
    ) && !e.to_string().starts_with(REPEATED_KEY)
    {
        let message = syntax(&file, &e);
        let SnapshotError::Syntax { loc, message, .. } = message else {
            unreachable!("syntax() builds a Syntax error")
        };
        report.warn(
            loc,
            format!("{message}; read again with serde_json's tolerant reading (a repeated key keeps its last value), which is slower"),
        );
    }
}

fn ignored_key(key: &str) -> String {
    format!("ignored key `{key}`: not an endpoint bindlog reads")
}

/// Reads a bundle file whole as a `serde_json::Value`, reporting every problem in it.
fn read_bundle_slowly(
    path: &Path,
    file: &Arc<str>,
    store: &mut Store,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    let file = file.clone();
    let Some(bytes) = read_file(path, errors) else {
        return;
    };
    let bytes = without_bom(&bytes);
    warn_repeated_keys(bytes, &file, report);
    let value: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => return errors.push(syntax(&file, &e)),
    };
    let Value::Object(map) = value else {
        return errors.push(SnapshotError::Shape {
            loc: Loc::Pointer {
                file,
                pointer: String::new(),
            },
            what: format!("the bundle is {}, not an object", kind_of(&value)),
            expected:
                "an object whose keys are API endpoints (`core/users`, `flows/bindings`, ...)"
                    .into(),
        });
    };
    for (key, v) in &map {
        let pointer = format!("/{}", pointer_segment(key));
        match target_of(key.trim_matches('/')) {
            Some(target) => detail_value(store, target, v, &file, &pointer, errors),
            None => report.warn(
                Loc::Pointer {
                    file: file.clone(),
                    pointer,
                },
                ignored_key(key),
            ),
        }
    }
}

/// Reads a directory of endpoint dumps (form 2) into `store`.
pub fn read_dir(
    root: &Path,
    store: &mut Store,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    store.has_base = true;
    let listed = listed_files(root, errors);
    let mut found = std::collections::BTreeSet::new();
    let mut files: BTreeMap<String, Vec<(u64, PathBuf)>> = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(source) => {
                errors.push(SnapshotError::Io {
                    path: dir.display().to_string(),
                    source,
                });
                continue;
            }
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            found.insert(slashed(rel));
            let rel = rel.with_extension("");
            let rel: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            let last = rel.last().cloned().unwrap_or_default();
            let (endpoint, page) = match last.parse::<u64>() {
                Ok(n) if rel.len() > 1 => (rel[..rel.len() - 1].join("/"), n),
                _ => (rel.join("/"), 0),
            };
            files.entry(endpoint).or_default().push((page, path));
        }
    }
    if let Some(listed) = &listed {
        disagreements(root, listed, &found, errors);
        if errors
            .iter()
            .any(|e| matches!(e, SnapshotError::Shape { what, .. } if what.contains(META_LIST)))
        {
            return;
        }
    }
    for (endpoint, mut pages) in files {
        pages.sort();
        let Some(target) = target_of(&endpoint) else {
            for (_, path) in pages {
                report.warn(
                    Loc::File(Arc::from(path.display().to_string())),
                    format!("ignored file: `{endpoint}` is not an endpoint bindlog reads"),
                );
            }
            continue;
        };
        for (_, path) in pages {
            let Some(bytes) = read_file(&path, errors) else {
                continue;
            };
            let file: Arc<str> = Arc::from(path.display().to_string());
            report.files.push(file.to_string());
            let rel = slashed(path.strip_prefix(root).unwrap_or(&path));
            if let Some(hash) = listed.as_ref().and_then(|l| l.get(&rel))
                && !hash.eq_ignore_ascii_case(&sha256_hex(&bytes))
            {
                report.warn(
                    Loc::File(file.clone()),
                    format!("`{rel}` changed since it was fetched: its SHA-256 is not the one `meta.json` lists"),
                );
            }
            read_endpoint_bytes(
                store,
                target,
                &path,
                without_bom(&bytes),
                &file,
                errors,
                report,
            );
        }
    }
}

/// Words every "disagrees with `meta.json`" problem carries.
const META_LIST: &str = "`meta.json` lists";

/// A path relative to the snapshot's root, with `/` between components.
fn slashed(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The files `meta.json` lists with their SHA-256 (`bindlog fetch` writes them), if it does.
fn listed_files(root: &Path, errors: &mut Vec<SnapshotError>) -> Option<BTreeMap<String, String>> {
    let path = root.join("meta.json");
    let bytes = std::fs::read(&path).ok()?;
    let meta: Value = serde_json::from_slice(without_bom(&bytes)).ok()?;
    let files = meta.get("files")?;
    let Some(files) = files.as_object() else {
        errors.push(SnapshotError::Shape {
            loc: Loc::Pointer {
                file: Arc::from(path.display().to_string()),
                pointer: "/files".into(),
            },
            what: format!("`files` is {}", kind_of(files)),
            expected:
                "an object from each file's path to its SHA-256, as `bindlog fetch` writes it"
                    .into(),
        });
        return None;
    };
    Some(
        files
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect(),
    )
}

/// A directory whose files are not the ones its `meta.json` lists mixes two fetches (or was
/// edited): each file too many and each file missing is a problem.
fn disagreements(
    root: &Path,
    listed: &BTreeMap<String, String>,
    found: &std::collections::BTreeSet<String>,
    errors: &mut Vec<SnapshotError>,
) {
    let meta: Arc<str> = Arc::from(root.join("meta.json").display().to_string());
    let help = "a directory written by `bindlog fetch` holds exactly the files its `meta.json` lists; fetch again (fetch replaces the whole directory), or delete `files` from `meta.json` if the directory was edited on purpose";
    for extra in found
        .iter()
        .filter(|f| *f != "meta.json" && !listed.contains_key(*f))
    {
        errors.push(SnapshotError::Shape {
            loc: Loc::File(Arc::from(root.join(extra).display().to_string())),
            what: format!("`{extra}` is in the directory, but not among the files {META_LIST} (a leftover of an earlier fetch?)"),
            expected: help.into(),
        });
    }
    for missing in listed.keys().filter(|f| !found.contains(*f)) {
        errors.push(SnapshotError::Shape {
            loc: Loc::Pointer {
                file: meta.clone(),
                pointer: format!("/files/{}", pointer_segment(missing)),
            },
            what: format!("`{missing}` is among the files {META_LIST}, but not in the directory"),
            expected: help.into(),
        });
    }
}

fn read_endpoint_bytes(
    store: &mut Store,
    target: Target,
    path: &Path,
    bytes: &[u8],
    file: &Arc<str>,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    let before = match target {
        Target::Kind(_) | Target::StageDetail | Target::PolicyDetail | Target::ProviderDetail => {
            with_vec!(store, target, |v| v.len())
        }
        _ => 0,
    };
    let origins_before = match target {
        Target::Kind(k) => store.origins.get(&k).map_or(0, |o| o.0.len()),
        _ => 0,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let users = target == Target::Kind(Kind::Users);
    let fast = crate::snapshot::raw::skipping_user_text(|| {
        fast_value(store, target, &mut de, file, "").and_then(|()| de.end())
    });
    if fast.is_ok() {
        if users {
            store.deferred_text.push((path.to_path_buf(), false));
        }
        return;
    }
    if let Target::Kind(_) | Target::StageDetail | Target::PolicyDetail | Target::ProviderDetail =
        target
    {
        with_vec!(store, target, |v| v.truncate(before));
    }
    if let Target::Kind(k) = target
        && let Some(o) = store.origins.get_mut(&k)
    {
        o.0.truncate(origins_before);
    }
    warn_repeated_keys(bytes, file, report);
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => detail_value(store, target, &v, file, "", errors),
        Err(e) => {
            if let Target::Kind(k) = target {
                store.endpoints.insert(k);
            }
            errors.push(syntax(file, &e))
        }
    }
}

/// The users' `email` and `attributes` in a file whose fast reading left them deferred: a bundle
/// (`bundle`) or a page of `core/users`.
pub fn read_user_text(path: &Path, bundle: bool) -> Result<Vec<RawUserText>, SnapshotError> {
    let file: Arc<str> = Arc::from(path.display().to_string());
    let io = |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut out = Vec::new();
    let mut runs = Vec::new();
    if bundle {
        let mut reader =
            std::io::BufReader::with_capacity(1 << 20, std::fs::File::open(path).map_err(io)?);
        skip_bom(&mut reader);
        let mut de = serde_json::Deserializer::from_reader(reader);
        de.deserialize_map(UserTextSeed {
            out: &mut out,
            runs: &mut runs,
        })
        .and_then(|()| de.end())
        .map_err(|e| syntax(&file, &e))?;
    } else {
        let bytes = std::fs::read(path).map_err(io)?;
        let mut de = serde_json::Deserializer::from_slice(without_bom(&bytes));
        ItemsSeed {
            out: &mut out,
            runs: &mut runs,
        }
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| syntax(&file, &e))?;
    }
    Ok(out)
}

/// A bundle read for its users' `email` and `attributes` only.
struct UserTextSeed<'a> {
    out: &'a mut Vec<RawUserText>,
    runs: &'a mut Vec<(usize, String)>,
}

impl<'de> Visitor<'de> for UserTextSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object whose keys are API endpoints")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if target_of(key.trim_matches('/')) == Some(Target::Kind(Kind::Users)) {
                map.next_value_seed(ItemsSeed {
                    out: &mut *self.out,
                    runs: &mut *self.runs,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The bytes after a UTF-8 byte-order mark, which some exports write and JSON does not allow.
fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(BOM).unwrap_or(bytes)
}

/// Skips a UTF-8 byte-order mark at the start of a stream.
fn skip_bom(reader: &mut impl std::io::BufRead) {
    if reader.fill_buf().is_ok_and(|b| b.starts_with(BOM)) {
        reader.consume(BOM.len());
    }
}

/// Warns of every key repeated in one JSON object, with both places; serde_json keeps the last.
fn warn_repeated_keys(bytes: &[u8], file: &Arc<str>, report: &mut LoadReport) {
    for DuplicateKey { key, first, again } in repeated_keys(bytes) {
        report.warn(
            Loc::Line {
                file: file.clone(),
                line: again.0,
                col: again.1,
            },
            format!(
                "duplicate key `{key}` (first at line {}, column {}); the last value is used",
                first.0, first.1
            ),
        );
    }
}

/// Each key that repeats an earlier key of the same object, with `(line, column)` from 1. A single pass with an explicit stack, so nesting costs no recursion;
/// text that is not JSON gives whatever it gives (the parser reports it).
fn repeated_keys(bytes: &[u8]) -> Vec<DuplicateKey> {
    enum Open {
        Object(std::collections::HashMap<String, (usize, usize)>, bool),
        Array,
    }
    let mut out = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let (mut line, mut col) = (1, 1);
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Open::Object(Default::default(), true)),
            b'[' => stack.push(Open::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Open::Object(_, expect_key)) = stack.last_mut() {
                    *expect_key = true;
                }
            }
            b'\n' => {
                line += 1;
                col = 1;
                i += 1;
                continue;
            }
            b'"' => {
                let at = (line, col);
                let mut end = i + 1;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(bytes.len().saturating_sub(1));
                let literal = &bytes[i..=end];
                if let Some(Open::Object(seen, expect_key)) = stack.last_mut()
                    && *expect_key
                {
                    *expect_key = false;
                    let key = serde_json::from_slice::<String>(literal).unwrap_or_else(|_| {
                        // An unterminated string at the end of the file may be a lone `"`.
                        let inner = literal
                            .get(1..literal.len().saturating_sub(1))
                            .unwrap_or(&[]);
                        String::from_utf8_lossy(inner).into_owned()
                    });
                    match seen.get(&key) {
                        Some(&first) => out.push(DuplicateKey {
                            key,
                            first,
                            again: at,
                        }),
                        None => {
                            seen.insert(key, at);
                        }
                    }
                }
                col += literal.iter().filter(|b| (**b & 0xC0) != 0x80).count();
                i = end + 1;
                continue;
            }
            _ => {}
        }
        if bytes[i] & 0xC0 != 0x80 {
            col += 1;
        }
        i += 1;
    }
    out
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The slow path: every problem of one endpoint's value, with JSON pointers.
fn detail_value(
    store: &mut Store,
    target: Target,
    v: &Value,
    file: &Arc<str>,
    base: &str,
    errors: &mut Vec<SnapshotError>,
) {
    match target {
        Target::Meta => {
            detail_one::<RawMeta>(v, file, base, errors).map_or((), |m| store.meta = Some(m))
        }
        Target::Settings => detail_one::<RawSettings>(v, file, base, errors)
            .map_or((), |s| store.settings = Some(s)),
        _ => {
            if let Target::Kind(k) = target {
                store.endpoints.insert(k);
            }
            with_vec!(store, target, |vec| detail_items(
                vec, v, file, base, errors
            ))
        }
    }
}

fn detail_items<T: DeserializeOwned>(
    out: &mut Vec<T>,
    v: &Value,
    file: &Arc<str>,
    base: &str,
    errors: &mut Vec<SnapshotError>,
) {
    let is_page = |o: &serde_json::Map<String, Value>| {
        o.contains_key("results") || o.contains_key("pagination")
    };
    match v {
        Value::Array(elems) => {
            for (i, e) in elems.iter().enumerate() {
                match e {
                    Value::Object(o) if is_page(o) => {
                        detail_page(out, o, file, &format!("{base}/{i}"), errors)
                    }
                    e => out.extend(detail_one::<T>(e, file, &format!("{base}/{i}"), errors)),
                }
            }
        }
        Value::Object(o) if is_page(o) => detail_page(out, o, file, base, errors),
        other => errors.push(SnapshotError::Shape {
            loc: Loc::Pointer {
                file: file.clone(),
                pointer: base.to_string(),
            },
            what: format!("found {} where a list of objects belongs", kind_of(other)),
            expected: "an array of objects, a page `{\"results\": [...]}`, or an array of pages"
                .into(),
        }),
    }
}

fn detail_page<T: DeserializeOwned>(
    out: &mut Vec<T>,
    page: &serde_json::Map<String, Value>,
    file: &Arc<str>,
    at: &str,
    errors: &mut Vec<SnapshotError>,
) {
    match page.get("results") {
        Some(Value::Array(items)) => {
            for (j, e) in items.iter().enumerate() {
                out.extend(detail_one::<T>(
                    e,
                    file,
                    &format!("{at}/results/{j}"),
                    errors,
                ));
            }
        }
        other => errors.push(SnapshotError::Shape {
            loc: Loc::Pointer {
                file: file.clone(),
                pointer: format!("{at}/results"),
            },
            what: format!("page `results` is {}", other.map_or("missing", kind_of)),
            expected: "`results`: an array of objects".into(),
        }),
    }
}

/// Deserializes one object, turning a failure into a problem at its exact pointer.
pub fn detail_one<T: DeserializeOwned>(
    v: &Value,
    file: &Arc<str>,
    at: &str,
    errors: &mut Vec<SnapshotError>,
) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(err) => {
            let mut pointer = at.to_string();
            let mut field = None;
            for seg in err.path().iter() {
                match seg {
                    serde_path_to_error::Segment::Seq { index } => {
                        pointer.push_str(&format!("/{index}"))
                    }
                    serde_path_to_error::Segment::Map { key } => {
                        pointer.push('/');
                        pointer.push_str(&pointer_segment(key));
                        field = Some(key.clone());
                    }
                    _ => {}
                }
            }
            let (what, expected) = describe(&err.into_inner().to_string(), field.as_deref());
            errors.push(SnapshotError::Shape {
                loc: Loc::Pointer {
                    file: file.clone(),
                    pointer,
                },
                what,
                expected,
            });
            None
        }
    }
}

/// Splits a serde message into what is wrong and what was expected.
pub fn describe(message: &str, field: Option<&str>) -> (String, String) {
    let field = field
        .map(|f| format!("`{f}`"))
        .unwrap_or_else(|| "the value".into());
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "a known value"));
        return (
            format!("unknown value {found} for {field}"),
            format!("expected {expected}"),
        );
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (found, expected) = rest
            .split_once(", expected ")
            .unwrap_or((rest, "another type"));
        return (
            format!("wrong type for {field}: found {found}"),
            format!("expected {expected}"),
        );
    }
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (
            format!("missing required field {rest}"),
            format!("expected the object to have {rest}, as authentik's API returns it"),
        );
    }
    (
        format!("{field}: {message}"),
        "expected the shape authentik's API returns".into(),
    )
}
