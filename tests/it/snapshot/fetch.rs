//! `bindlog fetch` against a local server (127.0.0.1 only) replaying recorded responses.

use super::*;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "tok-3f9a-never-printed";

/// How the fake server answers.
#[derive(Clone, Copy)]
enum Mode {
    /// Replays the recordings; the first request for `core/groups` gets a 503.
    Replay,
    /// Refuses every token.
    Unauthorized,
    /// Always 503.
    Unavailable,
}

/// Serves at most `limit` requests on a loopback port, then stops; returns the base URL and
/// the request lines seen.
fn serve(mode: Mode, limit: usize) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let recordings = fixture("fetch");
        for stream in listener.incoming().take(limit) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap();
            let mut authorized = false;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
                if header.to_ascii_lowercase().starts_with("authorization:") {
                    authorized = header.trim_end().ends_with(&format!("Bearer {TOKEN}"));
                }
            }
            let target = request.split_whitespace().nth(1).unwrap_or("/").to_string();
            let first_groups = {
                let mut seen = log.lock().unwrap();
                seen.push(target.clone());
                target.contains("core/groups")
                    && seen.iter().filter(|t| t.contains("core/groups")).count() == 1
            };
            let (path, query) = target.split_once('?').unwrap_or((&target, ""));
            let page = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("page="))
                .unwrap_or("1");
            let file = match path.trim_matches('/') {
                p @ ("api/v3/admin/version" | "api/v3/admin/settings") => {
                    recordings.join(format!("{p}.json"))
                }
                p => recordings.join(p).join(format!("page-{page}.json")),
            };
            let (status, body) = match mode {
                Mode::Unauthorized => (
                    "401 Unauthorized",
                    r#"{"detail":"Token invalid/expired"}"#.to_string(),
                ),
                Mode::Unavailable => ("503 Service Unavailable", String::new()),
                Mode::Replay if !authorized => ("403 Forbidden", String::new()),
                Mode::Replay if first_groups => ("503 Service Unavailable", String::new()),
                Mode::Replay => match std::fs::read_to_string(&file) {
                    Ok(body) => ("200 OK", body),
                    Err(_) => ("404 Not Found", r#"{"detail":"Not found."}"#.to_string()),
                },
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, seen)
}

fn fetch_cmd(url: &str, out: &Path) -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::cargo_bin("bindlog").unwrap();
    // Loopback only: no proxy may take these requests elsewhere.
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AK_TEST_TOKEN", TOKEN)
        .args([
            "fetch",
            "--url",
            url,
            "--token-env",
            "AK_TEST_TOKEN",
            "--backoff-ms",
            "10",
            "--attempts",
            "3",
            "-o",
        ])
        .arg(out);
    cmd
}

fn never_shows_the_token(out: &std::process::Output) {
    for stream in [&out.stdout, &out.stderr] {
        assert!(
            !String::from_utf8_lossy(stream).contains(TOKEN),
            "the token was printed"
        );
    }
}

#[test]
fn fetches_every_page_retries_and_writes_a_loadable_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("snap");
    let (url, seen) = serve(Mode::Replay, 200);
    let result = fetch_cmd(&url, &out).assert().success();
    never_shows_the_token(result.get_output());
    let seen = seen.lock().unwrap().clone();
    assert!(
        seen.iter()
            .filter(|t| t.contains("/api/v3/core/"))
            .all(|t| t.contains("page_size=100")),
        "{seen:#?}"
    );
    assert_eq!(
        seen.iter().filter(|t| t.contains("core/users")).count(),
        3,
        "three pages of users"
    );
    assert_eq!(
        seen.iter().filter(|t| t.contains("core/groups")).count(),
        2,
        "a 503 is retried"
    );
    for page in 1..=3 {
        assert!(out.join(format!("core/users/{page}.json")).exists());
    }
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("meta.json")).unwrap()).unwrap();
    assert_eq!(meta["version"], "2026.2.1");
    assert!(meta["fetched_at"].as_str().unwrap().ends_with('Z'));
    let files = meta["files"].as_object().unwrap();
    assert!(files.len() >= 12);
    for (file, hash) in files {
        let digest: String = Sha256::digest(std::fs::read(out.join(file)).unwrap())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(hash.as_str().unwrap(), digest, "{file}");
    }
    let loaded = load(&out);
    assert_eq!(loaded.snapshot.users.len(), 230);
    assert_eq!(loaded.snapshot.version.as_ref().unwrap().text, "2026.2.1");
    let validate = loaded
        .snapshot
        .stages
        .iter()
        .find(|s| s.kind.ends_with("authenticatorvalidatestage"))
        .unwrap();
    assert!(
        validate.fields.contains_key("not_configured_action"),
        "per-type endpoint merged into stages/all"
    );
}

#[test]
fn a_refused_token_is_reported_without_printing_it() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = serve(Mode::Unauthorized, 10);
    let result = fetch_cmd(&url, &dir.path().join("snap")).assert().code(2);
    never_shows_the_token(result.get_output());
    assert!(String::from_utf8_lossy(&result.get_output().stderr).contains("HTTP 401"));
}

#[test]
fn gives_up_after_the_last_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = serve(Mode::Unavailable, 10);
    let result = fetch_cmd(&url, &dir.path().join("snap")).assert().code(2);
    never_shows_the_token(result.get_output());
    assert!(String::from_utf8_lossy(&result.get_output().stderr).contains("after 3 attempts"));
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn a_missing_token_variable_is_bad_usage() {
    let out = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .env_remove("AK_UNSET_VAR")
        .args([
            "fetch",
            "--url",
            "http://127.0.0.1:9",
            "--token-env",
            "AK_UNSET_VAR",
            "-o",
            "x",
        ])
        .assert()
        .code(2);
    assert!(
        String::from_utf8_lossy(&out.get_output().stderr).contains("`AK_UNSET_VAR` is not set")
    );
}
