//! Issue 15: what an administrator reads. `explain` leads with the answer in authentik's words
//! and reaches the missing fact behind every "no"; unknown names get the nearest valid ones;
//! snapshot errors read without internal codes; counts say what they count.

use crate::bindlog;
use std::path::PathBuf;

fn acme() -> String {
    crate::snapshot::acme().display().to_string()
}

fn ok(args: &[&str]) -> String {
    let o = bindlog(args);
    assert!(
        o.status.success(),
        "bindlog {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The standard error of a run that must exit 2.
fn refused(args: &[&str]) -> String {
    let o = bindlog(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "bindlog {args:?}: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const MFA: [&str; 4] = [
    "--flow",
    "default-authentication-flow",
    "--stage",
    "default-authentication-mfa-validation",
];

#[test]
fn issue_15_explain_leads_with_the_answer_and_folds_the_proof() {
    let acme = acme();
    let text = ok(&[&["explain", &acme][..], &MFA, &["--user", "ada.nguyen"]].concat());
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.starts_with(
            "shown: the binding at order 0 requires group authentik Admins, and ada.nguyen is a direct member; evaluated when the stage is run."
        ),
        "the answer first, in a sentence: {text}"
    );
    // Off a terminal the text is wrapped to a fixed width, so that it is the same everywhere.
    assert!(
        text.lines().all(|l| l.chars().count() <= 100),
        "wrapped to 100 columns: {text}"
    );
    // Folded: the deciding membership is near the top, routine facts are left out.
    assert!(
        text.contains("ada.nguyen is a direct member  [id_pass;"),
        "{text}"
    );
    assert!(!text.contains("binding_enabled("), "{text}");
    let full = ok(&[
        &["explain", &acme][..],
        &MFA,
        &["--user", "ada.nguyen", "--full", "--width", "400"],
    ]
    .concat());
    assert!(
        full.starts_with("shown: the binding at order 0 requires group authentik Admins"),
        "--full keeps the summary: {full}"
    );
    assert!(full.contains("\", \"shown\") holds\n"), "{full}");
    assert!(
        full.contains(
            "direct_member(\"user ada.nguyen\", \"group authentik Admins\")  [input fact]"
        ),
        "{full}"
    );
    assert!(full.contains("binding_enabled("), "the whole proof: {full}");
    assert!(full.lines().count() > text.lines().count());
    // JSON keeps its fields and adds the sentence.
    let json = ok(&[
        &["explain", &acme][..],
        &MFA,
        &["--user", "ada.nguyen", "--format", "json"],
    ]
    .concat());
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["holds"], true);
    assert!(
        v["rule"]["location"]
            .as_str()
            .unwrap()
            .starts_with("rules/authentik/flows.dl:")
    );
    assert!(v["labels"].is_object() && v["supporting"].is_array());
    assert!(
        v["summary"]
            .as_str()
            .unwrap()
            .starts_with("shown: the binding at order 0 requires group authentik Admins")
    );
}

#[test]
fn issue_15_why_not_reaches_the_missing_membership() {
    let acme = acme();
    let text = ok(&["explain", &acme, "--app", "vault", "--user", "ada.nguyen"]);
    assert!(text.starts_with("no: "), "{text}");
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("ada.nguyen is not a member of group Security (nor of any group below it)"),
        "{text}"
    );
    // The full proof goes on under the negation, down to the facts that are missing.
    let full = ok(&[
        "explain",
        &acme,
        "--app",
        "vault",
        "--user",
        "ada.nguyen",
        "--full",
        "--width",
        "400",
    ]);
    assert!(
        full.contains("member(\"user ada.nguyen\", \"group Security\") does not hold"),
        "{full}"
    );
    assert!(
        full.contains("direct_member(\"user ada.nguyen\", \"group Security\"): this tuple is not among the input facts"),
        "{full}"
    );
    // The same for a skipped stage: a user outside the group.
    let text = ok(&[&["explain", &acme][..], &MFA, &["--user", "ada.haddad"]].concat());
    let flat = text
        .replace(['│', '├', '└', '─'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.starts_with(
            "skipped: the binding at order 0 requires group authentik Admins, and ada.haddad is not a member of group authentik Admins (nor of any group below it); evaluated when the stage is run."
        ),
        "{text}"
    );
    // The folded tree reaches it too, under the negation that decides the fail.
    assert!(
        flat.contains("gives pass for ada.haddad: the binding at order 0 requires group authentik Admins, and ada.haddad is not a member"),
        "{text}"
    );
}

#[test]
fn issue_15_explain_says_what_it_needs() {
    let acme = acme();
    let err = refused(&["explain", &acme, "--user", "ada.nguyen"]);
    assert!(err.contains("explain needs a question"), "{err}");
    assert!(err.contains("--app SLUG --user USER"), "{err}");
    let err = refused(&["explain", &acme, "--flow", "default-authentication-flow"]);
    assert!(err.contains("`--flow` needs `--stage`"), "{err}");
}

#[test]
fn issue_15_unknown_names_get_the_nearest_valid_ones() {
    let acme = acme();
    let cases: [(Vec<&str>, &str); 8] = [
        (
            vec!["plan", &acme, "--flow", "default-authentication-flw"],
            "did you mean `default-authentication-flow`?",
        ),
        (
            vec!["access", &acme, "--app", "Vault", "--user", "ada.nguyen"],
            "did you mean `vault`?",
        ),
        (
            vec!["access", &acme, "--app", "vault", "--user", "ada.nguyn"],
            "did you mean `ada.nguyen`",
        ),
        (
            [
                &["explain", &acme][..],
                &MFA[..2],
                &["--stage", "default-authentication-mfa"],
            ]
            .concat(),
            "did you mean `default-authentication-mfa-validation`?",
        ),
        (
            vec!["explain", &acme, "--app", "grafna", "--user", "ada.nguyen"],
            "did you mean `grafana`?",
        ),
        (vec!["who", &acme, "--app", "jra"], "did you mean `jira`?"),
        (
            vec![
                "who",
                &acme,
                "--flow",
                "default-authentication-flow",
                "--stage",
                "Default-Authentication-Login",
            ],
            "did you mean `default-authentication-login`?",
        ),
        (
            vec!["diagram", &acme, "--flow", "DEFAULT-AUTHENTICATION-FLOW"],
            "did you mean `default-authentication-flow`",
        ),
    ];
    for (args, want) in cases {
        let err = refused(&args);
        assert!(err.contains(want), "bindlog {args:?}: {err}");
        // The list that follows is sorted.
        if let Some(list) = err.lines().find_map(|l| {
            let l = l.trim_start_matches([' ', '│']);
            l.strip_prefix("the snapshot has: ")
                .or_else(|| l.strip_prefix("the flow has: "))
        }) {
            let names: Vec<&str> = list.split(", and ").next().unwrap().split(", ").collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            assert_eq!(names, sorted, "bindlog {args:?}: {err}");
        }
    }
}

#[test]
fn issue_15_deferred_counts_the_users_whose_answer_waits_on_the_binding() {
    let acme = acme();
    let json = ok(&["deferred", &acme, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    let grafana = rows
        .iter()
        .find(|r| r["application"] == "grafana")
        .expect("grafana's office-hours policy is left to run time");
    let unknown: u64 = ok(&[
        "who", &acme, "--app", "grafana", "--access", "unknown", "--count",
    ])
    .trim()
    .parse()
    .unwrap();
    assert_eq!(grafana["users"], unknown, "{grafana}");
    assert!(
        grafana["evaluated_for"].as_u64().unwrap() > unknown,
        "some users get in through a group binding whatever the policy says: {grafana}"
    );
    let text = ok(&["deferred", &acme]);
    assert!(
        text.contains(&format!(
            "the answer waits on it for {unknown} of 300 users"
        )),
        "{text}"
    );
}

#[test]
fn issue_15_small_inconsistencies() {
    let acme = acme();
    // A user given by pk is named by username.
    let text = ok(&["access", &acme, "--app", "status-page", "--user", "10"]);
    assert_eq!(text.lines().next(), Some("ada.nguyen may open status-page"));
    // A plan for an inactive account says so.
    let text = ok(&[
        "plan",
        &acme,
        "--flow",
        "default-authentication-flow",
        "--user",
        "kemi.schmidt",
    ]);
    assert!(
        text.contains("the account kemi.schmidt is inactive"),
        "{text}"
    );
    let text = ok(&[
        "plan",
        &acme,
        "--flow",
        "default-authentication-flow",
        "--user",
        "ada.nguyen",
    ]);
    assert!(!text.contains("inactive"), "{text}");
    // An anonymous visitor is sent to log in before any application (as AK-B01 says).
    let text = ok(&["analyze", &acme, "--no-progress"]);
    let status = text
        .lines()
        .find(|l| l.trim_start().starts_with("status-page "))
        .unwrap();
    assert!(status.ends_with("log in first"), "{status}");
}

#[test]
fn issue_15_snapshot_errors_read_without_codes() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let examples = root.join("examples");
    let err = refused(&[
        "plan",
        examples.to_str().unwrap(),
        "--flow",
        "default-authentication-flow",
    ]);
    assert!(err.starts_with("error: "), "the problem comes first: {err}");
    assert!(err.contains("is not a snapshot"), "{err}");
    assert!(
        err.contains(&format!(
            "`{}`",
            examples.join("acme/snapshot.json").display()
        )),
        "the snapshots below it are suggested: {err}"
    );
    assert!(!err.contains("required endpoint"), "{err}");
    assert!(!err.contains("bindlog::"), "{err}");
    let missing = root.join("no-such-snapshot.json");
    let err = refused(&["check", missing.to_str().unwrap()]);
    assert_eq!(
        err.matches("no such file or directory").count(),
        1,
        "the cause once: {err}"
    );
    assert!(!err.contains("bindlog::"), "{err}");
    // An overlay's problem names the overlay's file and line.
    let dir = tempfile::tempdir().unwrap();
    let overlay = dir.path().join("change.yaml");
    std::fs::write(
        &overlay,
        "version: 1\nentries:\n  - model: authentik_core.group\n    identifiers: {name: x}\n    attrs:\n      is_superuser: maybe\n",
    )
    .unwrap();
    let err = refused(&["check", &acme(), "--overlay", overlay.to_str().unwrap()]);
    assert!(err.contains(&format!("{}:3:5", overlay.display())), "{err}");
    assert!(!err.contains("snapshot.json"), "{err}");
}
