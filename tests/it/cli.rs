//! Command-line conventions: `--format json` on `who`, `check` and `query` (docs/outputs.md),
//! completions and the man page, `BINDLOG_SNAPSHOT`, `generate --authentik-version`, and the
//! warning for a snapshot without users.

use super::bindlog;
use serde_json::Value;
use std::path::PathBuf;

const ACME: &str = "examples/acme/snapshot.json";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs bindlog from the repository's root (the README's paths are relative to it).
fn at_root(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .current_dir(root())
        .env_remove("BINDLOG_SNAPSHOT")
        .args(args)
        .output()
        .unwrap()
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn json(args: &[&str]) -> Value {
    serde_json::from_str(&stdout(&at_root(args))).unwrap()
}

/// The subcommands `bindlog --help` lists.
fn subcommands() -> Vec<String> {
    let help = stdout(&at_root(&["--help"]));
    let list = help.split("Commands:").nth(1).unwrap();
    let names: Vec<String> = list
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|n| n != "help")
        .collect();
    assert!(names.len() >= 18, "{names:?}");
    names
}

#[test]
fn completions_know_every_subcommand_and_flag() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout(&at_root(&["completions", shell]));
        for sub in subcommands() {
            assert!(script.contains(&sub), "{shell} completion lacks `{sub}`");
        }
        for flag in ["authentik-version", "overlay", "fail-on"] {
            assert!(script.contains(flag), "{shell} completion lacks --{flag}");
        }
    }
    let bad = at_root(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn man_pages_cover_every_subcommand() {
    let page = stdout(&at_root(&["man"]));
    assert!(page.contains(".TH bindlog 1"), "{page}");
    for sub in subcommands() {
        assert!(page.contains(&sub), "bindlog.1 lacks `{sub}`");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("man1");
    stdout(&at_root(&["man", "-o", out.to_str().unwrap()]));
    for sub in subcommands() {
        let file = out.join(format!("bindlog-{sub}.1"));
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{} missing: {e}", file.display()));
        assert!(text.contains(&format!(".TH bindlog-{sub} 1")), "{text}");
    }
    let plan = std::fs::read_to_string(out.join("bindlog-plan.1")).unwrap();
    assert!(plan.contains("entry"), "the plan page lacks its flags");
    assert!(out.join("bindlog.1").is_file());
}

#[test]
fn snapshot_argument_defaults_to_bindlog_snapshot() {
    let given = stdout(&at_root(&["check", ACME]));
    let from_env = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .current_dir(root())
        .env("BINDLOG_SNAPSHOT", ACME)
        .args(["check"])
        .output()
        .unwrap();
    assert_eq!(stdout(&from_env), given);
    // The argument wins over the variable.
    let both = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .current_dir(root())
        .env("BINDLOG_SNAPSHOT", "no-such-snapshot.json")
        .args(["check", ACME])
        .output()
        .unwrap();
    assert_eq!(stdout(&both), given);
    let neither = at_root(&["check"]);
    assert_eq!(neither.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&neither.stderr).contains("<SNAPSHOT>"));
    let help = stdout(&at_root(&["plan", "--help"]));
    assert!(help.contains("BINDLOG_SNAPSHOT"), "{help}");
}

#[test]
fn generate_sets_the_authentik_version_without_shadowing_version() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("old.json");
    let file = file.to_str().unwrap();
    stdout(&at_root(&[
        "generate",
        "--users",
        "20",
        "--authentik-version",
        "2025.10.1",
        "-o",
        file,
    ]));
    let check = json(&["check", file, "--format", "json"]);
    assert_eq!(check["authentik_version"], "2025.10.1");
    // `--version` is bindlog's own, on every subcommand.
    let version = stdout(&at_root(&["generate", "--version"]));
    assert!(version.starts_with("bindlog-generate "), "{version}");
    let help = stdout(&at_root(&["generate", "--help"]));
    assert!(help.contains("--authentik-version <VERSION>"), "{help}");
    assert!(!help.contains("--version <"), "{help}");
}

#[test]
fn check_json_says_what_the_text_form_says() {
    let text = stdout(&at_root(&["check", ACME]));
    let v = json(&["check", ACME, "--format", "json"]);
    // Deterministic: the same input gives the same bytes.
    assert_eq!(
        stdout(&at_root(&["check", ACME, "--format", "json"])),
        stdout(&at_root(&["check", ACME, "--format", "json"]))
    );
    assert_eq!(v["authentik_version"], "2026.2.1");
    assert!(text.contains("authentik version: 2026.2.1"));
    assert_eq!(v["files"], serde_json::json!([ACME]));
    let objects = v["objects"].as_object().unwrap();
    assert_eq!(objects["core/users"], 300);
    for (endpoint, n) in objects {
        let line = format!("  {endpoint} ");
        let shown = text
            .lines()
            .find(|l| l.starts_with(&line))
            .unwrap_or_else(|| panic!("text lacks {endpoint}"));
        assert_eq!(shown.split_whitespace().last().unwrap(), n.to_string());
    }
    let warnings = v["warnings"].as_array().unwrap();
    assert!(text.contains(&format!("warnings ({}):", warnings.len())));
    for w in warnings {
        let line = format!(
            "  {}: {}",
            w["location"].as_str().unwrap(),
            w["message"].as_str().unwrap()
        );
        assert!(text.contains(&line), "{line}");
    }
    // The example's devices, device access group and RAC endpoints have no engine mode in
    // authentik's API: the model default is assumed, and said in both forms.
    let defaults = v["defaults"].as_array().unwrap();
    assert!(!defaults.is_empty());
    assert!(text.contains(&format!("defaults assumed ({}):", defaults.len())));
    for d in defaults {
        let endpoint = d["endpoint"].as_str().unwrap();
        assert!(text.contains(&format!("  {endpoint}: ")), "{d}");
    }
}

#[test]
fn check_json_lists_the_defaults_it_assumed() {
    // Blueprints leave fields out, so their objects take the version's defaults.
    let v = json(&[
        "check",
        "tests/fixtures/snapshot/blueprints/tags.yaml",
        "--format",
        "json",
    ]);
    let defaults = v["defaults"].as_array().unwrap();
    assert!(!defaults.is_empty(), "{v}");
    for d in defaults {
        for key in ["endpoint", "field", "value", "why"] {
            assert!(d[key].is_string(), "{d}");
        }
        assert!(d["objects"].as_u64().unwrap() >= 1);
    }
    assert!(v["authentik_version"].is_null());
}

#[test]
fn who_json_lists_what_the_text_form_lists() {
    let stage = [
        "who",
        ACME,
        "--flow",
        "default-authentication-flow",
        "--stage",
        "default-authentication-mfa-validation",
        "--visibility",
        "shown",
    ];
    let questions: [(&[&str], &str); 4] = [
        (&stage, "users"),
        (&["who", ACME, "--app", "vault"], "users"),
        (
            &["who", ACME, "--app", "grafana", "--access", "unknown"],
            "users",
        ),
        (&["who", ACME, "--user", "ada.nguyen"], "apps"),
    ];
    for (args, key) in questions {
        let text = stdout(&at_root(args));
        let mut with_json = args.to_vec();
        with_json.extend(["--format", "json"]);
        let v = json(&with_json);
        let listed: Vec<String> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                // --app --access yes: the user, a tab, the path that grants access.
                o => match o["because"].as_str() {
                    Some(b) => format!("{}\t{b}", o["user"].as_str().unwrap()),
                    None => o["user"].as_str().unwrap().to_string(),
                },
            })
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(listed, lines, "{args:?}");
        assert_eq!(v["count"], lines.len(), "{args:?}");
        assert!(
            !lines.is_empty(),
            "{args:?} answers nobody: the test would prove little"
        );
        let mut counted = with_json.clone();
        counted.push("--count");
        let c = json(&counted);
        assert_eq!(c["count"], lines.len());
        assert!(c.get(key).is_none(), "--count leaves the list out");
    }
    let v = json(&[&stage[..], &["--format", "json"]].concat());
    assert_eq!(v["flow"], "default-authentication-flow");
    assert_eq!(v["stage"], "default-authentication-mfa-validation");
    assert_eq!(v["order"], 30);
    assert_eq!(v["visibility"], "shown");
    let v = json(&[
        "who",
        ACME,
        "--user",
        "ada.nguyen",
        "--access",
        "no",
        "--format",
        "json",
    ]);
    assert_eq!(
        (v["user"].as_str(), v["access"].as_str()),
        (Some("ada.nguyen"), Some("no"))
    );
}

/// The rows of each relation in Soufflé's boxed stdout form.
fn boxed(text: &str) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    let mut out = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if l != "---------------" {
            continue;
        }
        let name = lines.next().unwrap().to_string();
        assert_eq!(lines.next(), Some("==============="));
        let rows: Vec<Vec<String>> = lines
            .by_ref()
            .take_while(|l| *l != "===============")
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect();
        out.insert(name, rows);
    }
    out
}

#[test]
fn query_json_holds_the_rows_the_souffle_form_prints() {
    let rules = ["query", ACME, "--rules", "examples/my-audit.dl"];
    let text = stdout(&at_root(&rules));
    let v = json(&[&rules[..], &["--format", "json"]].concat());
    let relations = v["relations"].as_object().unwrap();
    let expected = boxed(&text);
    assert_eq!(
        relations.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (name, rows) in &expected {
        let r = &relations[name];
        let got: Vec<Vec<String>> = r["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| {
                row.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| match x {
                        Value::String(s) => s.clone(),
                        n => n.to_string(),
                    })
                    .collect()
            })
            .collect();
        assert_eq!(&got, rows, "{name}");
        assert!(
            !rows.is_empty(),
            "{name} is empty: the example proves little"
        );
        assert_eq!(
            r["columns"].as_array().unwrap().len(),
            r["types"].as_array().unwrap().len()
        );
    }
    assert_eq!(
        relations["mfa_skipped"]["types"],
        serde_json::json!(["number"])
    );
    assert!(relations["mfa_skipped"]["rows"][0][0].is_number());
    assert_eq!(
        relations["superusers"]["columns"],
        serde_json::json!(["username", "type"])
    );
    // JSON goes to stdout only.
    let both = at_root(&[&rules[..], &["--format", "json", "-D", "/tmp"]].concat());
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn check_and_analyze_warn_when_the_snapshot_has_no_users() {
    let blueprint = "tests/fixtures/snapshot/blueprints/tags.yaml";
    for args in [
        &["check", blueprint][..],
        &["analyze", blueprint, "--no-progress"][..],
    ] {
        let out = at_root(args);
        assert!(out.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("the snapshot holds no users (blueprints alone hold none)"),
            "{args:?}: {stderr}"
        );
    }
    for args in [
        &["check", ACME][..],
        &["analyze", ACME, "--no-progress"][..],
    ] {
        let out = at_root(args);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("no users"),
            "{args:?}"
        );
    }
    // The shared helper runs from anywhere with absolute paths.
    let out = bindlog(&["check", root().join(blueprint).to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no users"));
}
