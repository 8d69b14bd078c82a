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
pub const ENDPOINTS: [(&str, bool); 32] = [
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
    ("events/rules", false),
    ("events/transports", false),
    // Without `superuser_full_list`, authentik lists only the endpoints the token's owner may open.
    ("rac/endpoints", false),
    ("endpoints/devices", false),
    ("endpoints/device_access_groups", false),
    ("endpoints/device_bindings", false),
    ("providers/all", false),
    ("providers/ldap", false),
    ("providers/radius", false),
    ("providers/rac", false),
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
    /// Send the token over `http://` to a host that is not a loopback address.
    pub insecure_http: bool,
    /// A PEM file of CA certificates trusted instead of the built-in (Mozilla) roots.
    pub ca_cert: Option<PathBuf>,
    /// The largest response body read, in bytes.
    pub max_body: u64,
    /// The longest `Retry-After` waited for; a server asking for more is an error.
    pub max_retry_after: Duration,
}

impl FetchOptions {
    /// Defaults: 100 per page, 4 attempts, 500 ms first backoff, 60 s per request, bodies up
    /// to 64 MiB, `Retry-After` up to 120 s, https only (or loopback), the built-in CA roots.
    pub fn new(url: &str, token: String, out: &Path) -> FetchOptions {
        FetchOptions {
            url: url.trim_end_matches('/').to_string(),
            token,
            out: out.to_path_buf(),
            page_size: 100,
            attempts: 4,
            backoff: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
            insecure_http: false,
            ca_cert: None,
            max_body: 64 << 20,
            max_retry_after: Duration::from_secs(120),
        }
    }
}

/// Pages followed for an endpoint whose first page gives no `count`.
const MAX_PAGES_WITHOUT_COUNT: u64 = 100_000;

/// Why a fetch failed.
#[derive(Debug, Error, Diagnostic)]
pub enum FetchError {
    /// `--url` is not an http(s) URL, or carries credentials.
    #[error("`--url` {what}")]
    #[diagnostic(code(bindlog::fetch::url), help("{help}"))]
    Url {
        /// What is wrong (never the credentials themselves).
        what: String,
        /// What to do.
        help: String,
    },
    /// The token would travel unencrypted.
    #[error("refusing to send the API token over plain http to `{url}`")]
    #[diagnostic(
        code(bindlog::fetch::insecure),
        help(
            "use an https:// URL; if the network path is trusted, pass `--insecure-http` (loopback addresses such as 127.0.0.1 and localhost are allowed without it)"
        )
    )]
    Insecure {
        /// The URL.
        url: String,
    },
    /// The CA bundle cannot be used.
    #[error("cannot use `{path}` as a CA bundle: {message}")]
    #[diagnostic(
        code(bindlog::fetch::ca_cert),
        help("`--ca-cert` takes a PEM file of one or more `-----BEGIN CERTIFICATE-----` blocks")
    )]
    CaCert {
        /// The file.
        path: String,
        /// What was wrong.
        message: String,
    },
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
    /// The server redirected; redirects are not followed, so the token goes nowhere else.
    #[error("`{url}` redirects (HTTP {status}) to `{location}`")]
    #[diagnostic(
        code(bindlog::fetch::redirect),
        help(
            "bindlog does not follow redirects, so the token is only ever sent to `--url`; pass the final address as `--url`"
        )
    )]
    Redirect {
        /// The URL asked.
        url: String,
        /// The status.
        status: u16,
        /// Where it points (credentials removed).
        location: String,
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
    /// A failure that retrying cannot heal: a malformed answer, TLS, a bad URL.
    #[error("request to `{url}` failed: {message}")]
    #[diagnostic(code(bindlog::fetch::protocol), help("{help}"))]
    Protocol {
        /// The URL.
        url: String,
        /// The error.
        message: String,
        /// What to check.
        help: String,
    },
    /// The answer was not what authentik returns.
    #[error("`{url}` did not return a page of results: {message}")]
    #[diagnostic(code(bindlog::fetch::body), help("{help}"))]
    Body {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
        /// What to check.
        help: String,
    },
    /// The pages go on beyond what the first page's `count` allows.
    #[error(
        "`{url}` links to page {next}, but `count` {count} in pages of {per_page} makes {pages} page(s)"
    )]
    #[diagnostic(
        code(bindlog::fetch::pages),
        help(
            "the server's pagination does not add up (a proxy rewriting links, or objects added during the fetch?); fetch again"
        )
    )]
    TooManyPages {
        /// The page that links on.
        url: String,
        /// The page it links to.
        next: u64,
        /// Objects the first page announced.
        count: u64,
        /// Objects per page.
        per_page: u64,
        /// Pages that makes.
        pages: u64,
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
    /// The output directory holds something that is not an earlier fetch.
    #[error("`{path}` is not empty and has no `meta.json`: not a directory `bindlog fetch` wrote")]
    #[diagnostic(
        code(bindlog::fetch::output),
        help(
            "fetch replaces the whole output directory; name a new or empty directory, or one an earlier fetch wrote"
        )
    )]
    NotASnapshot {
        /// The directory.
        path: String,
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

/// The scheme and host of a URL after checking it carries no credentials.
fn check_url(url: &str) -> Result<(String, String), FetchError> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(FetchError::Url {
            what: "is not an absolute URL".into(),
            help: "give the server's base URL, e.g. `https://auth.example.com`".into(),
        });
    };
    let scheme = scheme.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return Err(FetchError::Url {
            what: format!("has scheme `{scheme}`"),
            help: "give an https:// URL".into(),
        });
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(FetchError::Url {
            what: "carries a user name or password (`user:password@`)".into(),
            help: "authentik's API is read with the token named by `--token-env`; remove the credentials from `--url` (they are never stored or printed)".into(),
        });
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    Ok((scheme, host.to_ascii_lowercase()))
}

/// Whether `host` names this machine (the token then never crosses a network).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A URL as it may be shown: without `user:password@`.
fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{host}{}", &rest[end..])
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP date.
fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = http_date(value)?;
    let now = now.duration_since(SystemTime::UNIX_EPOCH).ok()?.as_secs() as i64;
    Some(Duration::from_secs(at.saturating_sub(now).max(0) as u64))
}

/// Seconds since 1970 of an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(text: &str) -> Option<i64> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts[..] else {
        return None;
    };
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| *m == month)? as i64
        + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time.split(':').filter_map(|t| t.parse().ok()).collect();
    let [h, m, s] = hms[..] else {
        return None;
    };
    // Howard Hinnant's days-from-civil, the inverse of `crate::time::civil_from_days`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

/// Whether a body looks like a web page rather than JSON.
fn is_html(body: &str) -> bool {
    let start = body.trim_start().get(..15).unwrap_or(body.trim_start());
    start.starts_with('<') || start.to_ascii_lowercase().starts_with("<!doctype")
}

/// The help for a body that is not the JSON authentik returns.
fn body_help(body: &str) -> String {
    if is_html(body) {
        "the answer is a web page: is `--url` the authentik server (not a proxy login page)?".into()
    } else {
        "the answer is not the JSON authentik returns; check `--url` and the authentik version"
            .into()
    }
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

/// Whether a transport error may heal on a later attempt.
fn transient(e: &ureq::Error) -> bool {
    match e {
        ureq::Error::Io(io) => !tls_refused(io),
        ureq::Error::Timeout(_) | ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// A TLS handshake that failed (an untrusted certificate, say) comes back as an I/O error
/// holding rustls's; asking again would fail the same way.
fn tls_refused(io: &std::io::Error) -> bool {
    io.get_ref()
        .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some())
}

impl Client {
    fn get(&mut self, path_and_query: &str) -> Result<Got, FetchError> {
        let url = format!("{}/api/v3/{path_and_query}", self.opts.url);
        let mut backoff = self.opts.backoff;
        let mut wait = backoff;
        let mut last = String::new();
        for attempt in 1..=self.opts.attempts.max(1) {
            if attempt > 1 {
                self.retries += 1;
                std::thread::sleep(wait);
                backoff *= 2;
            }
            wait = backoff;
            let result = self
                .agent
                .get(&url)
                .header("Authorization", &format!("Bearer {}", self.opts.token))
                .header("Accept", "application/json")
                .call();
            let mut resp = match result {
                Ok(resp) => resp,
                Err(e) if transient(&e) => {
                    last = e.to_string();
                    continue;
                }
                Err(e) => {
                    let message = e.to_string();
                    let help = if matches!(e, ureq::Error::Tls(_) | ureq::Error::Rustls(_))
                        || matches!(&e, ureq::Error::Io(io) if tls_refused(io))
                        || message.contains("certificate")
                    {
                        "the server's certificate is not trusted: for a private CA, pass its certificate with `--ca-cert FILE`"
                    } else {
                        "the server's answer is malformed; retrying would not help. Check `--url` and any proxy in between"
                    };
                    return Err(FetchError::Protocol {
                        url,
                        message,
                        help: help.into(),
                    });
                }
            };
            let status = resp.status().as_u16();
            match status {
                200..=299 => {
                    let body = resp
                        .body_mut()
                        .with_config()
                        .limit(self.opts.max_body)
                        .read_to_string();
                    return body.map(Got::Body).map_err(|e| FetchError::Body {
                        url: url.clone(),
                        help: match e {
                            ureq::Error::BodyExceedsLimit(_) => format!(
                                "a page of authentik's API is far smaller than {} bytes; check `--url`",
                                self.opts.max_body
                            ),
                            _ => "the answer could not be read; check `--url` and the network".into(),
                        },
                        message: e.to_string(),
                    });
                }
                300..=399 => {
                    let location = resp
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .map_or_else(|| "(no `Location`)".to_string(), shown_url);
                    return Err(FetchError::Redirect {
                        url,
                        status,
                        location,
                    });
                }
                404 => return Ok(Got::NotFound),
                429 | 502 | 503 | 504 => {
                    last = format!("HTTP {status}");
                    let asked = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| retry_after(v, SystemTime::now()));
                    if let Some(asked) = asked {
                        if asked > self.opts.max_retry_after {
                            return Err(FetchError::Status {
                                url,
                                status,
                                help: format!(
                                    "the server asks to wait {} s before trying again (`Retry-After`), longer than bindlog waits ({} s); try again later",
                                    asked.as_secs(),
                                    self.opts.max_retry_after.as_secs()
                                ),
                            });
                        }
                        wait = asked;
                    }
                }
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
                        help:
                            "authentik refused the request; check `--url` and the authentik version"
                                .into(),
                    });
                }
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

/// The agent for these options: no redirects, the CA bundle if given.
fn agent(opts: &FetchOptions) -> Result<ureq::Agent, FetchError> {
    let mut config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(opts.timeout));
    if let Some(path) = &opts.ca_cert {
        let ca_error = |message: String| FetchError::CaCert {
            path: path.display().to_string(),
            message,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let mut certs = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(ureq::tls::PemItem::Certificate(c)) => certs.push(c),
                Ok(_) => {}
                Err(e) => return Err(ca_error(e.to_string())),
            }
        }
        if certs.is_empty() {
            return Err(ca_error("no PEM certificate in it".into()));
        }
        let tls = ureq::tls::TlsConfig::builder()
            .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
            .build();
        config = config.tls_config(tls);
    }
    Ok(ureq::Agent::new_with_config(config.build()))
}

/// Checks that the output directory may be replaced: absent, empty, or an earlier fetch.
fn check_output(out: &Path) -> Result<(), FetchError> {
    let io = |source| FetchError::Io {
        path: out.display().to_string(),
        source,
    };
    match std::fs::read_dir(out) {
        Ok(mut entries) => {
            if entries.next().is_some() && !out.join("meta.json").is_file() {
                return Err(FetchError::NotASnapshot {
                    path: out.display().to_string(),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(e)),
    }
}

/// A new directory beside `out` (same file system, so the final rename is atomic).
fn fresh_dir_beside(out: &Path, what: &str) -> Result<PathBuf, FetchError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = out
        .file_name()
        .map_or_else(|| "snapshot".into(), |n| n.to_string_lossy().into_owned());
    std::fs::create_dir_all(&parent).map_err(|source| FetchError::Io {
        path: parent.display().to_string(),
        source,
    })?;
    let stamp = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = parent.join(format!(".{name}.{what}-{}-{stamp}", std::process::id()));
    std::fs::create_dir(&dir).map_err(|source| FetchError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir)
}

/// Puts the finished `tmp` where `out` is, replacing an earlier fetch as a whole.
fn replace(tmp: &Path, out: &Path) -> Result<(), FetchError> {
    let io = |path: &Path, source| FetchError::Io {
        path: path.display().to_string(),
        source,
    };
    if !out.exists() {
        return std::fs::rename(tmp, out).map_err(|e| io(out, e));
    }
    let old = fresh_dir_beside(out, "old")?;
    std::fs::remove_dir(&old).map_err(|e| io(&old, e))?;
    std::fs::rename(out, &old).map_err(|e| io(out, e))?;
    if let Err(e) = std::fs::rename(tmp, out) {
        let _ = std::fs::rename(&old, out);
        return Err(io(out, e));
    }
    std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))
}

/// Fetches every endpoint into `opts.out` (directory form, one file per page) and `meta.json`.
///
/// Everything is written into a new directory beside `opts.out` first and renamed into place
/// at the end, so an earlier fetch is replaced whole (no stale pages) and a failed fetch leaves
/// it untouched.
pub fn fetch(opts: FetchOptions) -> Result<FetchSummary, FetchError> {
    let (scheme, host) = check_url(&opts.url)?;
    if scheme == "http" && !opts.insecure_http && !is_loopback(&host) {
        return Err(FetchError::Insecure {
            url: opts.url.clone(),
        });
    }
    check_output(&opts.out)?;
    let mut client = Client {
        agent: agent(&opts)?,
        opts: opts.clone(),
        retries: 0,
    };
    let tmp = fresh_dir_beside(&opts.out, "fetch")?;
    let result = fetch_into(&mut client, &tmp).and_then(|summary| {
        replace(&tmp, &opts.out)?;
        Ok(summary)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn fetch_into(client: &mut Client, root: &Path) -> Result<FetchSummary, FetchError> {
    let opts = client.opts.clone();
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
        let mut last_page = MAX_PAGES_WITHOUT_COUNT;
        let mut announced = None;
        loop {
            let extra = if endpoint == "rac/endpoints" {
                "&superuser_full_list=true"
            } else {
                ""
            };
            let query = format!(
                "{endpoint}/?page={page}&page_size={}{extra}",
                opts.page_size
            );
            let url = format!("{}/api/v3/{query}", opts.url);
            let body = match client.get(&query)? {
                Got::Body(b) => b,
                Got::NotFound if !required && page == 1 => {
                    summary.missing.push(endpoint.to_string());
                    break;
                }
                Got::NotFound => {
                    return Err(FetchError::Status {
                        url,
                        status: 404,
                        help: format!(
                            "`{endpoint}` is required; is this an authentik server, and a version bindlog supports?"
                        ),
                    });
                }
            };
            let parsed: Value = serde_json::from_str(&body).map_err(|e| FetchError::Body {
                url: url.clone(),
                message: e.to_string(),
                help: body_help(&body),
            })?;
            let Some(results) = parsed.get("results").and_then(Value::as_array) else {
                return Err(FetchError::Body {
                    url,
                    message: "no `results` array".into(),
                    help: body_help(&body),
                });
            };
            count += results.len();
            if page == 1
                && let Some(total) = parsed.pointer("/pagination/count").and_then(Value::as_u64)
            {
                let per_page = (results.len() as u64).max(1);
                last_page = total.div_ceil(per_page).max(1);
                announced = Some((total, per_page));
            }
            write(
                &root.join(endpoint).join(format!("{page}.json")),
                body.as_bytes(),
                &mut hashes,
                root,
            )?;
            let next = parsed
                .pointer("/pagination/next")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if next == 0 || next <= page || results.is_empty() {
                break;
            }
            if next > last_page {
                let (count, per_page) = announced.unwrap_or((0, 0));
                return Err(FetchError::TooManyPages {
                    url,
                    next,
                    count,
                    per_page,
                    pages: last_page,
                });
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
            root,
        )?,
        Got::NotFound => summary.missing.push("admin/settings".into()),
    }
    summary.retries = client.retries;
    let meta = json!({
        "version": version,
        "fetched_at": rfc3339(SystemTime::now()),
        "url": shown_url(&opts.url),
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

    #[test]
    fn reads_both_forms_of_retry_after() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(retry_after(" 7 ", now), Some(Duration::from_secs(7)));
        // Sun, 06 Nov 1994 08:49:37 GMT is 784111777.
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(
                "Sun, 06 Nov 1994 08:49:37 GMT",
                now + Duration::from_secs(60)
            ),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn urls_keep_no_credentials_and_only_loopback_may_be_plain_http() {
        assert_eq!(
            shown_url("https://ann:s3cret@auth.example.com:8443/x?y"),
            "https://auth.example.com:8443/x?y"
        );
        let err = check_url("https://ann:s3cret@auth.example.com").unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert_eq!(
            check_url("http://[::1]:9000/").unwrap(),
            ("http".into(), "::1".into())
        );
        for host in ["127.0.0.1", "::1", "localhost", "127.8.9.10"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["auth.example.com", "10.0.0.1", "localhost.example.com"] {
            assert!(!is_loopback(host), "{host}");
        }
    }

    #[test]
    fn only_a_web_page_gets_the_proxy_hint() {
        assert!(body_help("<!DOCTYPE html><html>").contains("proxy login page"));
        assert!(body_help("  <html><body>Sign in").contains("proxy login page"));
        assert!(!body_help("{\"detail\": 1").contains("proxy"));
    }
}
