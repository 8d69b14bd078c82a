//! `bindlog fetch`: read every endpoint a snapshot needs from a running authentik, page by
//! page (`page_size=100`), and write the directory form plus `meta.json` (version, time,
//! SHA-256 of each file). Transient failures are retried; the token is never printed.

use miette::Diagnostic;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};
use thiserror::Error;

/// Endpoints read, and whether the snapshot needs them (an optional one may be absent: 404).
pub const ENDPOINTS: [(&str, bool); 22] = [
    ("core/users", true),
    ("core/groups", true),
    ("flows/instances", true),
    ("flows/bindings", true),
    ("stages/all", true),
    ("policies/all", true),
    ("policies/bindings", true),
    ("core/applications", false),
    ("sources/all", false),
    ("core/brands", false),
    ("core/application_entitlements", false),
    ("stages/authenticator/validate", false),
    ("stages/identification", false),
    ("stages/password", false),
    ("stages/user_write", false),
    ("stages/prompt/stages", false),
    ("policies/dummy", false),
    ("policies/expression", false),
    ("policies/geoip", false),
    ("policies/reputation", false),
    ("policies/password", false),
    ("policies/event_matcher", false),
];

/// What to fetch and how.
#[derive(Clone, Debug)]
pub struct FetchOptions {
    /// Base URL of authentik, e.g. `https://auth.example.com`.
    pub url: String,
    /// API token (sent as a bearer token, never printed).
    pub token: String,
    /// Output directory.
    pub out: PathBuf,
    /// Objects per page.
    pub page_size: usize,
    /// Attempts per request for transient failures (connection errors, 429, 502, 503, 504).
    pub attempts: u32,
    /// Wait before the first retry; doubled each time.
    pub backoff: Duration,
    /// Timeout of one request.
    pub timeout: Duration,
}

impl FetchOptions {
    /// Defaults: 100 per page, 4 attempts, 500 ms first backoff, 60 s per request.
    pub fn new(url: &str, token: String, out: &Path) -> FetchOptions {
        FetchOptions {
            url: url.trim_end_matches('/').to_string(),
            token,
            out: out.to_path_buf(),
            page_size: 100,
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, Error, Diagnostic)]
pub enum FetchError {
    /// The server answered with an error status.
    #[error("`{url}` answered HTTP {status}")]
    #[diagnostic(code(bindlog::fetch::status), help("{help}"))]
    Status {
        /// The URL (no token in it).
        url: String,
        /// The status.
        status: u16,
        /// What to check.
        help: String,
    },
    /// The request could not be made, after every retry.
    #[error("cannot reach `{url}` after {attempts} attempts: {message}")]
    #[diagnostic(
        code(bindlog::fetch::transport),
        help("check the URL and the network; transient failures were retried")
    )]
    Transport {
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The answer was not what authentik returns.
    #[error("`{url}` did not return a page of results: {message}")]
    #[diagnostic(
        code(bindlog::fetch::body),
        help("is `--url` the authentik server (not a proxy login page)?")
    )]
    Body {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// Writing the directory failed.
    #[error("cannot write `{path}`: {source}")]
    #[diagnostic(code(bindlog::fetch::io), help("check the output directory"))]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct FetchSummary {
    /// Endpoint -> objects fetched.
    pub counts: BTreeMap<String, usize>,
    /// Optional endpoints the server does not have.
    pub missing: Vec<String>,
    /// authentik's version, if it said.
    pub version: Option<String>,
    /// Requests retried after a transient failure.
    pub retries: u32,
}

struct Client {
    agent: ureq::Agent,
    opts: FetchOptions,
    retries: u32,
}

enum Got {
    Body(String),
    NotFound,
}

impl Client {
    fn get(&mut self, path_and_query: &str) -> Result<Got, FetchError> {
        let url = format!("{}/api/v3/{path_and_query}", self.opts.url);
        let mut wait = self.opts.backoff;
        let mut last = String::new();
        for attempt in 1..=self.opts.attempts.max(1) {
            if attempt > 1 {
                self.retries += 1;
                std::thread::sleep(wait);
                wait *= 2;
            }
            let result = self
                .agent
                .get(&url)
                .header("Authorization", &format!("Bearer {}", self.opts.token))
                .header("Accept", "application/json")
                .call();
            match result {
                Ok(mut resp) => {
                    let status = resp.status().as_u16();
                    match status {
                        200..=299 => {
                            return resp
                                .body_mut()
                                .read_to_string()
                                .map(Got::Body)
                                .map_err(|e| FetchError::Body {
                                    url: url.clone(),
                                    message: e.to_string(),
                                });
                        }
                        404 => return Ok(Got::NotFound),
                        429 | 502 | 503 | 504 => last = format!("HTTP {status}"),
                        401 | 403 => {
                            return Err(FetchError::Status {
                                url,
                                status,
                                help: "the token was refused: check the variable named by `--token-env` and the token's permissions".into(),
                            });
                        }
                        _ => {
                            return Err(FetchError::Status {
                                url,
                                status,
                                help: "authentik refused the request; check `--url` and the authentik version".into(),
                            });
                        }
                    }
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(FetchError::Transport {
            url,
            attempts: self.opts.attempts.max(1),
            message: last,
        })
    }
}

fn write(
    path: &Path,
    bytes: &[u8],
    hashes: &mut BTreeMap<String, String>,
    root: &Path,
) -> Result<(), FetchError> {
    let io = |source| FetchError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    std::fs::write(path, bytes).map_err(io)?;
    let rel = path
        .strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .replace('\\', "/");
    hashes.insert(
        rel,
        Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    );
    Ok(())
}

/// Fetches every endpoint into `opts.out` (directory form, one file per page) and `meta.json`.
pub fn fetch(opts: FetchOptions) -> Result<FetchSummary, FetchError> {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(opts.timeout))
        .build();
    let mut client = Client {
        agent: ureq::Agent::new_with_config(config),
        opts: opts.clone(),
        retries: 0,
    };
    let root = opts.out.clone();
    let mut summary = FetchSummary::default();
    let mut hashes = BTreeMap::new();
    let version = match client.get("admin/version/")? {
        Got::Body(b) => serde_json::from_str::<Value>(&b).ok().and_then(|v| {
            v.get("version_current")
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        Got::NotFound => None,
    };
    summary.version = version.clone();
    for (endpoint, required) in ENDPOINTS {
        let mut page = 1u64;
        let mut count = 0;
        loop {
            let query = format!("{endpoint}/?page={page}&page_size={}", opts.page_size);
            let body = match client.get(&query)? {
                Got::Body(b) => b,
                Got::NotFound if !required && page == 1 => {
                    summary.missing.push(endpoint.to_string());
                    break;
                }
                Got::NotFound => {
                    return Err(FetchError::Status {
                        url: format!("{}/api/v3/{query}", opts.url),
                        status: 404,
                        help: format!(
                            "`{endpoint}` is required; is this an authentik server, and a version bindlog supports?"
                        ),
                    });
                }
            };
            let parsed: Value = serde_json::from_str(&body).map_err(|e| FetchError::Body {
                url: format!("{}/api/v3/{query}", opts.url),
                message: e.to_string(),
            })?;
            let Some(results) = parsed.get("results").and_then(Value::as_array) else {
                return Err(FetchError::Body {
                    url: format!("{}/api/v3/{query}", opts.url),
                    message: "no `results` array".into(),
                });
            };
            count += results.len();
            write(
                &root.join(endpoint).join(format!("{page}.json")),
                body.as_bytes(),
                &mut hashes,
                &root,
            )?;
            let next = parsed
                .pointer("/pagination/next")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if next == 0 || next <= page || results.is_empty() {
                break;
            }
            page = next;
        }
        if summary.missing.last().map(String::as_str) != Some(endpoint) {
            summary.counts.insert(endpoint.to_string(), count);
        }
    }
    match client.get("admin/settings/")? {
        Got::Body(b) => write(
            &root.join("admin/settings.json"),
            b.as_bytes(),
            &mut hashes,
            &root,
        )?,
        Got::NotFound => summary.missing.push("admin/settings".into()),
    }
    summary.retries = client.retries;
    let meta = json!({
        "version": version,
        "fetched_at": rfc3339(SystemTime::now()),
        "url": opts.url,
        "page_size": opts.page_size,
        "files": hashes,
    });
    let text = serde_json::to_string_pretty(&meta).unwrap_or_default();
    std::fs::write(root.join("meta.json"), text + "\n").map_err(|source| FetchError::Io {
        path: root.join("meta.json").display().to_string(),
        source,
    })?;
    Ok(summary)
}

/// `2026-11-27T21:10:00Z` for a time (UTC, whole seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    crate::time::rfc3339(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_times() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_900_000);
        assert_eq!(rfc3339(t), "2026-11-28T21:06:40Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
    }
}
