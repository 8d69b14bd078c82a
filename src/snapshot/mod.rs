//! authentik objects in: API bundles, endpoint directories, blueprints; validation.
//!
//! [`load`] reads a snapshot in any of the three forms of docs/input.md, lays blueprint overlays
//! over it in order, validates the result (every problem of the phase at once) and fills in the
//! version's defaults, reporting each one in the [`LoadReport`].

pub mod blueprint;
mod error;
pub mod fetch;
mod json;
mod model;
pub mod raw;
mod store;
mod strict;
pub mod synth;
mod synth_acme;
mod validate;
pub mod version;
pub mod yaml;

pub use error::{LoadReport, Loc, SnapshotError, SnapshotErrors, Warning};
pub use model::*;
pub use store::Kind;
pub use version::{Defaults, Version};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How to read a snapshot: overlays to lay over it and values for `!Env`.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Blueprint files or directories applied over the snapshot, in order.
    pub overlays: Vec<PathBuf>,
    /// Values of `!Env` tags (`--env NAME=VALUE`).
    pub env: BTreeMap<String, String>,
}

/// A loaded snapshot and what loading assumed and noticed.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The configuration.
    pub snapshot: Snapshot,
    /// Defaults assumed, warnings, files read.
    pub report: LoadReport,
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// The blueprint files of a path: itself, or the YAML files under a directory in name order.
fn blueprint_files(path: &Path) -> Vec<PathBuf> {
    if !path.is_dir() {
        return vec![path.to_path_buf()];
    }
    let mut out = Vec::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if is_yaml(&p) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn has_json(dir: &Path) -> bool {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().and_then(|e| e.to_str()) == Some("json") {
                return true;
            }
        }
    }
    false
}

/// Whether a directory holds an endpoint dump at its top (`meta.json`, `core/users.json`,
/// `core/users/1.json`, ...), as `bindlog fetch` writes one.
fn is_dump(dir: &Path) -> bool {
    dir.join("meta.json").is_file()
        || fetch::ENDPOINTS
            .iter()
            .any(|(e, _)| dir.join(format!("{e}.json")).is_file() || dir.join(e).is_dir())
}

/// How deep [`not_a_snapshot`] looks for snapshots below a directory, and how many it names.
const SEARCH_DEPTH: usize = 4;
const SEARCH_NAMES: usize = 10;

/// The error for a directory of JSON files that is not an endpoint dump, naming the snapshots
/// found below it (bundle files and endpoint dumps, at most [`SEARCH_DEPTH`] levels down).
fn not_a_snapshot(dir: &Path) -> SnapshotError {
    let mut found = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), 0)];
    while let Some((d, depth)) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries.into_iter().rev() {
            if p.is_dir() && !p.is_symlink() {
                if is_dump(&p) {
                    found.push(p);
                } else if depth + 1 < SEARCH_DEPTH {
                    stack.push((p, depth + 1));
                }
            } else if p.extension().and_then(|e| e.to_str()) == Some("json") {
                found.push(p);
            }
        }
    }
    found.sort();
    let help = if found.is_empty() {
        "give a bundle file, a directory of endpoint dumps (as `bindlog fetch` writes), or \
         blueprints"
            .to_string()
    } else {
        let more = found.len().saturating_sub(SEARCH_NAMES);
        let names: Vec<String> = found
            .iter()
            .take(SEARCH_NAMES)
            .map(|p| format!("`{}`", p.display()))
            .collect();
        format!(
            "snapshots found below it: {}{}",
            names.join(", "),
            if more > 0 {
                format!(", and {more} more")
            } else {
                String::new()
            }
        )
    };
    SnapshotError::NotASnapshot {
        path: dir.display().to_string(),
        help,
    }
}

/// Reads, overlays and validates a snapshot; all problems of the failing phase are returned.
pub fn load(path: &Path, options: &LoadOptions) -> Result<Loaded, SnapshotErrors> {
    let mut report = LoadReport::default();
    let mut errors = Vec::new();
    let mut store = store::Store::default();
    let mut blueprints = Vec::new();
    if !path.exists() {
        errors.push(SnapshotError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    } else if path.is_dir() {
        if has_json(path) && !is_dump(path) {
            errors.push(not_a_snapshot(path));
        } else if has_json(path) {
            json::read_dir(path, &mut store, &mut errors, &mut report);
        } else {
            blueprints.extend(blueprint_files(path));
        }
    } else if is_yaml(path) {
        blueprints.push(path.to_path_buf());
    } else {
        json::read_bundle(path, &mut store, &mut errors, &mut report);
    }
    for overlay in &options.overlays {
        if !overlay.exists() {
            errors.push(SnapshotError::Io {
                path: overlay.display().to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
        blueprints.extend(blueprint_files(overlay));
    }
    if !errors.is_empty() {
        raw::clear_interned();
        return Err(SnapshotErrors { problems: errors });
    }
    if !blueprints.is_empty() {
        let version = store
            .meta
            .as_ref()
            .and_then(|m| m.version.as_deref())
            .and_then(Version::parse);
        let mut ws = blueprint::Workspace::new(store, Defaults::of(version.as_ref()));
        blueprint::apply_all(&blueprints, &mut ws, &options.env, &mut errors, &mut report);
        store = ws.finish(&mut errors);
    }
    if !errors.is_empty() {
        raw::clear_interned();
        return Err(SnapshotErrors { problems: errors });
    }
    let result = validate::finish(store, &path.display().to_string(), &mut report);
    raw::clear_interned();
    match result {
        Ok(snapshot) => Ok(Loaded { snapshot, report }),
        Err(problems) => Err(SnapshotErrors { problems }),
    }
}

impl Snapshot {
    /// How many objects of each kind, in report order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        vec![
            (Kind::Users.endpoint(), self.users.len()),
            (Kind::Groups.endpoint(), self.groups.len()),
            (Kind::Flows.endpoint(), self.flows.len()),
            (Kind::FlowBindings.endpoint(), self.flow_bindings.len()),
            (Kind::Stages.endpoint(), self.stages.len()),
            (Kind::Policies.endpoint(), self.policies.len()),
            (Kind::PolicyBindings.endpoint(), self.policy_bindings.len()),
            (Kind::Applications.endpoint(), self.applications.len()),
            (Kind::Sources.endpoint(), self.sources.len()),
            (Kind::Brands.endpoint(), self.brands.len()),
            (Kind::Entitlements.endpoint(), self.entitlements.len()),
            (
                Kind::NotificationRules.endpoint(),
                self.notification_rules.len(),
            ),
            (Kind::Transports.endpoint(), self.transports.len()),
            (Kind::RacEndpoints.endpoint(), self.rac_endpoints.len()),
            (Kind::Devices.endpoint(), self.devices.len()),
            (
                Kind::DeviceAccessGroups.endpoint(),
                self.device_access_groups.len(),
            ),
            (Kind::Providers.endpoint(), self.providers.len()),
        ]
    }
}
