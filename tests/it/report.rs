//! `report` (HTML and CSV) and `diagram` on the example organisation, and the HTML page opened
//! in a real headless Chromium.

use bindlog::report::{self, Findings};
use bindlog::snapshot::{self, LoadOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn acme_path() -> PathBuf {
    root().join("examples/acme/snapshot.json")
}

fn bindlog(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = assert_cmd::Command::cargo_bin("bindlog").unwrap();
    cmd.env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The example with `authentik Admins` (bound to the MFA stage and superuser) renamed to
/// markup, written into `dir`.
fn hostile_acme(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(acme_path()).unwrap()).unwrap();
    for g in v["core/groups"].as_array_mut().unwrap() {
        if g["name"] == "authentik Admins" {
            g["name"] = "<script>alert(\"x\")</script> & #Admins".into();
        }
    }
    let path = dir.join("hostile.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

/// The example plus `farid.nguyen`, made inactive, in `Night shift`, a child of `On-call`, a
/// child of `authentik Admins` (superuser), written into `dir`. The new groups leave
/// `is_superuser` out, so loading assumes its default.
fn inherited_admin_acme(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(acme_path()).unwrap()).unwrap();
    let admins = "03c4cd30-c00c-4392-8e85-a98f0389c1de";
    let oncall = "00000000-0000-4000-8000-00000000000a";
    let night = "00000000-0000-4000-8000-00000000000b";
    let groups = v["core/groups"].as_array_mut().unwrap();
    for (pk, name, parent) in [(oncall, "On-call", admins), (night, "Night shift", oncall)] {
        groups.push(serde_json::json!({"attributes": {}, "name": name,
            "parents": [parent], "pk": pk}));
    }
    for u in v["core/users"].as_array_mut().unwrap() {
        if u["username"] == "farid.nguyen" {
            u["groups"] = serde_json::json!([night]);
            u["is_active"] = false.into();
        }
    }
    let path = dir.join("inherited.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

#[test]
fn report_model_on_acme_answers_access_stages_and_superusers() {
    let dir = tempfile::tempdir().unwrap();
    let path = inherited_admin_acme(dir.path());
    // Hashed while it loads, as `bindlog report` does; a name the loader does not read is
    // left out of the provenance.
    let ahead = report::Digests::ahead(vec![
        path.display().to_string(),
        dir.path().join("unread.json").display().to_string(),
    ]);
    let loaded = snapshot::load(&path, &LoadOptions::default()).unwrap();
    let r = report::build(
        &loaded,
        Findings::NotComputed("test".into()),
        "2026-01-01T00:00:00Z".into(),
        &report::Detail::HTML,
        ahead,
    )
    .unwrap();
    // Provenance: the one input file and its real digest.
    use sha2::Digest;
    let digest: String = sha2::Sha256::digest(std::fs::read(&path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r.provenance.files.len(), 1);
    assert_eq!(r.provenance.files[0].1, digest);
    assert_eq!(r.provenance.version, "2026.2.1");
    let (endpoint, field, value, _, count) = &r.provenance.defaults[0];
    assert_eq!(
        (endpoint.as_str(), field.as_str(), value.as_str(), *count),
        ("core/groups", "is_superuser", "false", 2)
    );
    // Application access agrees with `access`, one row per user.
    let app = |slug: &str| r.apps.iter().find(|a| a.slug == slug).unwrap();
    let row = |slug: &str, user: &str| {
        app(slug)
            .rows
            .iter()
            .find(|x| x.user == user)
            .unwrap()
            .clone()
    };
    assert_eq!(app("vault").rows.len(), loaded.snapshot.users.len());
    assert_eq!(row("status-page", "ada.nguyen").access, "yes");
    assert_eq!(row("vault", "ada.nguyen").access, "no");
    // A yes through a group binding names the group path from the user to the bound group.
    let granted: Vec<_> = r
        .apps
        .iter()
        .flat_map(|a| &a.rows)
        .filter(|x| x.access == "yes" && x.because.contains(" -> "))
        .collect();
    assert!(!granted.is_empty());
    assert!(granted.iter().all(|x| x.because.starts_with(&x.user)));
    // An unknown carries its reason.
    for x in r.apps.iter().flat_map(|a| &a.rows) {
        assert_eq!(x.access == "unknown", !x.reason.is_empty(), "{x:?}");
    }
    // Stage matrix of the login flow: the anonymous visitor never sees MFA (a group binding
    // re-evaluated at run time); the admins see it.
    let login = r
        .flows
        .iter()
        .find(|f| f.slug == "default-authentication-flow")
        .unwrap();
    assert_eq!(login.entry, "anonymous");
    let mfa = login
        .stages
        .iter()
        .position(|(_, s)| s == "default-authentication-mfa-validation")
        .unwrap();
    let anon = login.rows.iter().find(|x| x.label == "anonymous").unwrap();
    assert_eq!(anon.cells[mfa].text(), "skipped");
    let admins = login
        .rows
        .iter()
        .find(|x| x.label == "authentik Admins")
        .unwrap();
    assert!(admins.members > 0);
    assert_eq!(admins.cells[mfa].text(), "shown");
    let all = &login.rows[0];
    assert_eq!(all.label, "all users");
    assert_eq!(all.members, loaded.snapshot.users.len());
    let c = all.cells[mfa];
    assert_eq!(c.shown + c.skipped + c.unknown, all.members);
    // Superusers: every member of authentik Admins through descendant groups, with the path.
    assert_eq!(admins.members, r.privileged.len());
    assert!(
        r.privileged
            .iter()
            .all(|p| p.via.ends_with("-> authentik Admins"))
    );
    assert!(
        r.privileged
            .iter()
            .any(|p| p.via.matches(" -> ").count() >= 2),
        "some superuser inherits through a descendant group"
    );
    let summary: std::collections::BTreeMap<_, _> = r.summary.iter().cloned().collect();
    assert_eq!(summary["findings"], "not computed");
    assert_eq!(summary["superusers"], r.privileged.len().to_string());
}

#[test]
fn report_html_escapes_names_says_findings_not_computed_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let snap = hostile_acme(dir.path());
    let out = |name: &str, env: &[(&str, &str)], extra: &[&str]| {
        let path = dir.path().join(name);
        let mut args = vec![
            "report",
            snap.to_str().unwrap(),
            "-o",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        ok(&bindlog(&args, env));
        std::fs::read_to_string(path).unwrap()
    };
    let a = out("a.html", &[("SOURCE_DATE_EPOCH", "1795820400")], &[]);
    let b = out("b.html", &[("SOURCE_DATE_EPOCH", "1795820400")], &[]);
    assert_eq!(a, b, "byte-identical with SOURCE_DATE_EPOCH");
    assert!(a.contains("generated 2026-11-27T23:00:00Z"));
    // --timestamp wins over SOURCE_DATE_EPOCH, and the stamp is the only difference.
    let c = out(
        "c.html",
        &[("SOURCE_DATE_EPOCH", "1795820400")],
        &["--timestamp", "2027-01-02T03:04:05Z"],
    );
    assert_ne!(a, c);
    // `-o -` writes the same page to stdout.
    let stdout = ok(&bindlog(
        &["report", snap.to_str().unwrap(), "-o", "-"],
        &[("SOURCE_DATE_EPOCH", "1795820400")],
    ));
    assert_eq!(stdout, a);
    assert_eq!(a, c.replace("2027-01-02T03:04:05Z", "2026-11-27T23:00:00Z"));
    // Without a fixed stamp, two runs differ at most in the stamp.
    let d = out("d.html", &[], &[]);
    let stamp = regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z").unwrap();
    assert_eq!(
        stamp.replace_all(&a, "T").into_owned(),
        stamp.replace_all(&d, "T").into_owned()
    );
    // The hostile group name is text, never markup; the page has no script and loads nothing.
    assert!(a.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; #Admins"));
    assert!(!a.contains("<script"));
    assert!(!a.contains("http://") && !a.contains("https://"));
    assert!(a.contains("default-src 'none'"));
    for id in [
        "provenance",
        "summary",
        "applications",
        "flows",
        "privileged",
        "findings",
        "signature",
    ] {
        assert!(a.contains(&format!("<section id=\"{id}\">")), "{id}");
    }
    // The audit ran: its critical finding is on the page; `--no-findings` says it did not run.
    assert!(a.contains("AK-P02"));
    assert!(!a.contains("findings: not computed"));
    let e = out(
        "e.html",
        &[("SOURCE_DATE_EPOCH", "1795820400")],
        &["--no-findings"],
    );
    assert!(e.contains("findings: not computed"));
    assert!(!e.contains("AK-P02") && !e.contains("found nothing"));
}

#[test]
fn report_csv_dir_writes_the_documented_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("csv");
    let acme = acme_path();
    let write = |extra: &[&str]| {
        let mut args = vec![
            "report",
            acme.to_str().unwrap(),
            "--format",
            "csv-dir",
            "-o",
            out.to_str().unwrap(),
            "--timestamp",
            "0",
        ];
        args.extend_from_slice(extra);
        ok(&bindlog(&args, &[]));
    };
    // findings.csv holds the audit's findings, rule for rule.
    write(&[]);
    let audit = ok(&bindlog(
        &["audit", acme_path().to_str().unwrap(), "--format", "json"],
        &[],
    ));
    let audit: Vec<serde_json::Value> = serde_json::from_str(&audit).unwrap();
    let mut found = csv::Reader::from_path(out.join("findings.csv")).unwrap();
    let rules: Vec<String> = found.records().map(|r| r.unwrap()[0].to_string()).collect();
    let expected: Vec<String> = audit
        .iter()
        .map(|f| f["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(!rules.is_empty());
    assert_eq!(rules, expected);
    // A stale findings.csv must not survive a run that computed no findings.
    write(&["--no-findings"]);
    let read = |name: &str| -> (Vec<String>, Vec<Vec<String>>) {
        let mut r = csv::Reader::from_path(out.join(name)).unwrap();
        let header = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|x| x.unwrap().iter().map(String::from).collect())
            .collect();
        (header, rows)
    };
    for (name, header) in report::csv::FILES {
        if name == "findings.csv" {
            assert!(!out.join(name).exists(), "findings were not computed");
            continue;
        }
        assert_eq!(read(name).0, header, "{name}");
    }
    let users = 300;
    let (_, access) = read("app_access.csv");
    assert_eq!(access.len(), users * 14);
    assert!(
        access
            .iter()
            .any(|r| r[0] == "status-page" && r[1] == "ada.nguyen" && r[2] == "yes")
    );
    let (_, summary) = read("summary.csv");
    assert!(summary.contains(&vec!["findings".to_string(), "not computed".to_string()]));
    let (_, prov) = read("provenance.csv");
    assert_eq!(prov[0], ["generated", "1970-01-01T00:00:00Z"]);
    let (_, stages) = read("flow_stages.csv");
    let anon_mfa = stages
        .iter()
        .find(|r| {
            r[0] == "default-authentication-flow"
                && r[2] == "anonymous"
                && r[6] == "default-authentication-mfa-validation"
        })
        .unwrap();
    assert_eq!(anon_mfa[1], "anonymous");
    assert_eq!(&anon_mfa[7..], ["0", "1", "0", "skipped"]);
    let (_, privileged) = read("privileged.csv");
    assert!(!privileged.is_empty());
}

#[test]
fn report_bad_input_exits_2_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let h = html.to_str().unwrap();
    let o = bindlog(&["report", "/nonexistent/snap.json", "-o", h], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/snap.json"));
    let acme = acme_path();
    let a = acme.to_str().unwrap();
    let o = bindlog(
        &["report", a, "-o", h],
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("SOURCE_DATE_EPOCH"));
    let o = bindlog(&["report", a, "-o", h, "--timestamp", "noon"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("2026-11-27T23:00:00Z"));
    let o = bindlog(&["report", a, "-o", "/nonexistent/dir/r.html"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write"));
    assert!(!html.exists());
}

#[test]
fn diagram_mermaid_and_dot_for_the_login_flow() {
    let acme = acme_path();
    let a = acme.to_str().unwrap();
    let flow = "default-authentication-flow";
    let mermaid = ok(&bindlog(&["diagram", a, "--flow", flow], &[]));
    insta::assert_snapshot!("diagram_login_mermaid", mermaid);
    let admin = ok(&bindlog(
        &["diagram", a, "--flow", flow, "--user", "ada.nguyen"],
        &[],
    ));
    insta::assert_snapshot!("diagram_login_mermaid_ada", admin);
    let dot = ok(&bindlog(
        &[
            "diagram",
            a,
            "--flow",
            flow,
            "--user",
            "ada.nguyen",
            "--format",
            "dot",
        ],
        &[],
    ));
    insta::assert_snapshot!("diagram_login_dot_ada", dot);
    // Deterministic.
    assert_eq!(mermaid, ok(&bindlog(&["diagram", a, "--flow", flow], &[])));
    // Mermaid structure: one node per stage binding, linked in order, styled for the user.
    assert!(mermaid.starts_with("flowchart TD\n"));
    assert_eq!(mermaid.matches("-->").count(), 4 + 1);
    assert!(!mermaid.contains("classDef"));
    assert!(admin.contains("classDef shown") && admin.contains("class "));
    // Graphviz parses it.
    let svg = run_dot(&dot);
    assert!(svg.contains("<svg"));
    let o = bindlog(&["diagram", a, "--flow", flow, "--user", "nobody"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no user `nobody`"));
    let o = bindlog(&["diagram", a, "--flow", "nope"], &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no flow with the slug `nope`"));
}

#[test]
fn diagram_labels_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let snap = hostile_acme(dir.path());
    let s = snap.to_str().unwrap();
    let flow = "default-authentication-flow";
    let mermaid = ok(&bindlog(&["diagram", s, "--flow", flow], &[]));
    assert!(
        mermaid
            .contains("group #lt;script#gt;alert(#quot;x#quot;)#lt;/script#gt; #amp; #35;Admins")
    );
    assert!(!mermaid.contains("<script"));
    // Every label is one quoted string: quotes only as delimiters.
    for line in mermaid.lines().filter(|l| l.contains('"')) {
        assert_eq!(line.matches('"').count(), 2, "{line}");
    }
    let dot = ok(&bindlog(
        &["diagram", s, "--flow", flow, "--format", "dot"],
        &[],
    ));
    assert!(dot.contains("group <script>alert(\\\"x\\\")</script> & #Admins"));
    let svg = run_dot(&dot);
    assert!(svg.contains("&lt;script&gt;"));
}

/// Renders DOT with Graphviz; fails with how to install it when `dot` is missing.
fn run_dot(dot: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run Graphviz `dot` ({e}); install it: apt-get install -y graphviz")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "dot: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless Chromium on a page with the flags that work on a closed network.
fn chromium(profile: &Path, args: &[&str]) -> std::process::Output {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the report test needs Debian's Chromium; install it with \
         `apt-get update && apt-get install -y --no-install-recommends chromium` (.ci/run does)"
    );
    Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"))
}

/// What the page made Chromium log: any console message (the report has no script, so every
/// one is a fault: CSP violations and uncaught errors are logged there), failed loads.
fn page_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains(":CONSOLE")
                || l.contains("Uncaught")
                || l.contains("Content Security Policy")
                || l.contains("net::ERR_")
        })
        .collect()
}

/// The targets of a page's in-page links (`href="#x"`), in order.
fn section_links(dom: &str) -> Vec<String> {
    let href = regex::Regex::new(r##"\bhref="#([^"]*)""##).unwrap();
    href.captures_iter(dom).map(|c| c[1].to_string()).collect()
}

/// The in-page links of a DOM that lead nowhere: no element has the id, two elements have it,
/// or the element is inside a `<details>` (folded away, so the page cannot open at it).
fn dead_section_links(dom: &str) -> Vec<String> {
    let id = regex::Regex::new(r#"\sid="([^"]*)""#).unwrap();
    let mut at: std::collections::HashMap<String, Vec<usize>> = Default::default();
    for c in id.captures_iter(dom) {
        let m = c.get(0).unwrap();
        at.entry(c[1].to_string()).or_default().push(m.start());
    }
    let mut dead = Vec::new();
    for target in section_links(dom) {
        match at.get(&target).map(Vec::as_slice) {
            None | Some([]) => dead.push(format!("#{target}: no element has this id")),
            Some([one]) => {
                let before = &dom[..*one];
                if before.matches("<details").count() > before.matches("</details>").count() {
                    dead.push(format!("#{target}: inside a folded <details>"));
                }
            }
            Some(many) => dead.push(format!("#{target}: {} elements have this id", many.len())),
        }
    }
    dead
}

/// The link check itself fails on each way a section link can lead nowhere.
#[test]
fn dead_section_links_are_found() {
    let ok = "<nav><a href=\"#a\">a</a></nav><section id=\"a\">x</section>";
    assert!(dead_section_links(ok).is_empty());
    for bad in [
        "<nav><a href=\"#a\">a</a></nav><section id=\"b\">x</section>",
        "<nav><a href=\"#a\">a</a></nav><h2 id=\"a\">x</h2><h2 id=\"a\">y</h2>",
        "<nav><a href=\"#a\">a</a></nav><details><summary>s</summary><h3 id=\"a\">x</h3></details>",
    ] {
        assert_eq!(dead_section_links(bad).len(), 1, "{bad}");
    }
}

#[test]
fn chromium_log_check_catches_script_errors_and_csp_violations() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'\"></head><body><h1>x</h1>\
         <script>undefinedFn()</script><img src=\"https://example.com/a.png\"></body></html>",
    )
    .unwrap();
    let o = chromium(
        &dir.path().join("profile"),
        &["--dump-dom", &format!("file://{}", page.display())],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    let errors = page_errors(&stderr);
    assert!(
        errors.iter().any(|l| l.contains("inline script")),
        "{stderr}"
    );
    assert!(
        errors.iter().any(|l| l.contains("example.com/a.png")),
        "{stderr}"
    );
}

#[test]
fn report_renders_in_headless_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("report.html");
    ok(&bindlog(
        &[
            "report",
            acme_path().to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
            "--timestamp",
            "1795820400",
        ],
        &[],
    ));
    let url = format!("file://{}", html.display());
    let o = chromium(&dir.path().join("profile-dom"), &["--dump-dom", &url]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium --dump-dom failed: {stderr}");
    let dom = String::from_utf8_lossy(&o.stdout);
    for heading in [
        "<h1>authentik access report</h1>",
        "<h2>Provenance</h2>",
        "<h2>Summary</h2>",
        "<h2>Application access</h2>",
        "<h2>Flow stages by group</h2>",
        "<h2>Privileged access</h2>",
        "<h2>Findings</h2>",
        "<h2>Signature</h2>",
        "AK-P02",
        "default-authentication-mfa-validation",
    ] {
        assert!(dom.contains(heading), "the rendered DOM lacks {heading:?}");
    }
    assert!(
        page_errors(&stderr).is_empty(),
        "chromium reported: {:#?}",
        page_errors(&stderr)
    );
    // Issue 15 item 16: a section link of the contents must land on its section. Headless
    // Chromium's `--screenshot` of any page opened at a `#fragment` is blank (a quirk of the
    // browser, also for a plain page), so the links are checked on the DOM Chromium built: every
    // `href="#x"` has exactly one element `id="x"`, outside any folded `<details>`.
    let links = section_links(&dom);
    assert!(
        links.len() >= 8,
        "the contents link the sections: {links:?}"
    );
    let dead = dead_section_links(&dom);
    assert!(
        dead.is_empty(),
        "section links that lead nowhere: {dead:#?}"
    );
    let shot = root().join("target/report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let o = chromium(
        &dir.path().join("profile-shot"),
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000",
            "--hide-scrollbars",
            &url,
        ],
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "chromium --screenshot failed: {stderr}");
    assert!(
        page_errors(&stderr).is_empty(),
        "{:#?}",
        page_errors(&stderr)
    );
    let png = std::fs::read(&shot).expect("chromium wrote the screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    println!("report screenshot: {}", shot.display());
}

#[test]
fn report_renders_computed_findings_with_their_explanations() {
    use bindlog::audit::{Finding, ObjectRef, Severity};
    let loaded = snapshot::load(&acme_path(), &LoadOptions::default()).unwrap();
    let finding = Finding {
        rule: "AK-P01".into(),
        severity: Severity::High,
        message: "stage policies of <b>mfa</b> are never evaluated".into(),
        objects: vec![ObjectRef {
            kind: "flow_binding".into(),
            pk: "pk-1".into(),
            name: "<script>x</script>".into(),
        }],
        remediation: "set re_evaluate_policies".into(),
        explanation: "visible(\"x\", \"shown\")\n  <- fsb_never(\"x\")".into(),
    };
    let r = report::build(
        &loaded,
        Findings::Computed(vec![finding]),
        "2026-01-01T00:00:00Z".into(),
        &report::Detail::HTML,
        Default::default(),
    )
    .unwrap();
    let html = report::html::render(&r);
    assert!(html.contains("<span class=\"sev-high\">high</span>"));
    assert!(html.contains("stage policies of &lt;b&gt;mfa&lt;/b&gt; are never evaluated"));
    assert!(html.contains("<b>&lt;script&gt;x&lt;/script&gt;</b>"));
    assert!(html.contains(
        "<pre>visible(&quot;x&quot;, &quot;shown&quot;)\n  &lt;- fsb_never(&quot;x&quot;)</pre>"
    ));
    assert!(!html.contains("not computed"));
    let summary: std::collections::BTreeMap<_, _> = r.summary.iter().cloned().collect();
    assert_eq!(summary["findings"], "1");
    let dir = tempfile::tempdir().unwrap();
    report::csv::write_dir(&r, dir.path()).unwrap();
    let mut rd = csv::Reader::from_path(dir.path().join("findings.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][0], "AK-P01");
    assert_eq!(&rows[0][1], "high");
    assert_eq!(&rows[0][3], "flow_binding <script>x</script> (pk-1)");
    assert!(rows[0][5].contains('\n'));
    // An engine that ran and found nothing says so, differently from "not computed".
    let none = report::build(
        &loaded,
        Findings::Computed(vec![]),
        "t".into(),
        &report::Detail::HTML,
        Default::default(),
    )
    .unwrap();
    let html = report::html::render(&none);
    assert!(html.contains("The audit rules found nothing."));
    assert!(!html.contains("not computed"));
}

#[test]
fn diagram_shows_evaluation_timing_flags_and_flow_bindings() {
    let acme = acme_path();
    let a = acme.to_str().unwrap();
    // A plan-time group check in a flow entered anonymously: MFA dropped for everyone.
    let legacy = ok(&bindlog(
        &[
            "diagram",
            a,
            "--flow",
            "acme-legacy-login",
            "--user",
            "ada.nguyen",
        ],
        &[],
    ));
    insta::assert_snapshot!("diagram_legacy_login_mermaid_ada", legacy);
    assert!(legacy.contains("evaluated plan+run"));
    // A stage binding evaluated never, carrying a negated policy binding.
    let enrollment = ok(&bindlog(
        &[
            "diagram",
            a,
            "--flow",
            "default-enrollment-flow",
            "--format",
            "dot",
        ],
        &[],
    ));
    insta::assert_snapshot!("diagram_enrollment_dot", enrollment);
    assert!(enrollment.contains("evaluated never") && enrollment.contains("[negate"));
    assert!(run_dot(&enrollment).contains("<svg"));
    // The flow's own bindings hang off the flow node, disabled ones marked.
    let dir = tempfile::tempdir().unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&acme).unwrap()).unwrap();
    let flow_pk = v["flows/instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["slug"] == "default-authentication-flow")
        .unwrap()["pk"]
        .clone();
    let admins = "03c4cd30-c00c-4392-8e85-a98f0389c1de";
    v["policies/bindings"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "pk": "00000000-0000-4000-8000-0000000000f1", "target": flow_pk, "group": admins,
            "policy": null, "user": null, "negate": false, "enabled": false, "order": 5,
            "timeout": 30, "failure_result": false
        }));
    let path = dir.path().join("flow-binding.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let m = ok(&bindlog(
        &[
            "diagram",
            path.to_str().unwrap(),
            "--flow",
            "default-authentication-flow",
        ],
        &[],
    ));
    assert!(
        m.contains("  f0[/\"5: group authentik Admins [disabled]\"/] -.- flow\n"),
        "{m}"
    );
}

/// The example with a user named as a spreadsheet formula and the admins group named as
/// markup with a line break, written into `dir`.
fn injecting_acme(dir: &Path) -> PathBuf {
    let mut v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(acme_path()).unwrap()).unwrap();
    for g in v["core/groups"].as_array_mut().unwrap() {
        if g["name"] == "authentik Admins" {
            g["name"] = "<img src=x onerror=alert(1)>\n| admins".into();
        }
    }
    for u in v["core/users"].as_array_mut().unwrap() {
        if u["username"] == "ada.nguyen" {
            u["username"] = "=HYPERLINK(\"http://evil/\")".into();
        }
    }
    let path = dir.join("injecting.json");
    std::fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    path
}

#[test]
fn csv_cells_never_start_a_formula_unless_raw_is_asked_for() {
    let dir = tempfile::tempdir().unwrap();
    let path = injecting_acme(dir.path());
    let p = path.to_str().unwrap();
    let formula = "\"=HYPERLINK(\"\"http://evil/\"\")\"";
    let neutral = "\"'=HYPERLINK(\"\"http://evil/\"\")\"";
    let csv = ok(&bindlog(&["analyze", p, "--format", "csv"], &[]));
    assert!(csv.contains(neutral), "{csv}");
    assert!(!csv.contains(&format!(",{formula}")) && !csv.contains(&format!("\n{formula}")));
    let raw = ok(&bindlog(
        &["analyze", p, "--format", "csv", "--raw-csv"],
        &[],
    ));
    assert!(raw.contains(&format!("\n{formula}")), "{raw}");
    let out = dir.path().join("csv");
    ok(&bindlog(
        &[
            "report",
            p,
            "--format",
            "csv-dir",
            "--no-findings",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    let access = std::fs::read_to_string(out.join("app_access.csv")).unwrap();
    assert!(access.contains(&format!(",{neutral},")), "{access}");
    assert!(!access.contains(&format!(",{formula},")));
}

#[test]
fn markdown_audits_escape_markup_and_line_breaks_in_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = injecting_acme(dir.path());
    let o = bindlog(
        &["audit", path.to_str().unwrap(), "--format", "markdown"],
        &[],
    );
    let md = String::from_utf8(o.stdout).unwrap();
    assert!(md.contains("&lt;img src=x onerror=alert(1)&gt;"), "{md}");
    // Outside the folded proofs' code blocks, no name brings markup or a new table row.
    let mut in_code = false;
    for line in md.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            // Only inside inline code, where a renderer shows it as text.
            assert!(
                !line.contains("<img") || line.contains("`<img src=x onerror=alert(1)> | admins`"),
                "{line}"
            );
            if line.starts_with('|') {
                assert!(line.ends_with('|'), "a broken table row: {line}");
            }
        }
    }
}

/// The HTML's per-user tables put users whose answer comes the same way in one row, and lose
/// nobody: every user of `app_access.csv` appears once per application, with the same access.
/// The table of contents counts what each section holds.
#[test]
fn report_html_groups_identical_user_rows_and_counts_its_sections() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let csv_dir = dir.path().join("csv");
    let acme = acme_path();
    for (format, out) in [("html", &html), ("csv-dir", &csv_dir)] {
        ok(&bindlog(
            &[
                "report",
                acme.to_str().unwrap(),
                "--format",
                format,
                "-o",
                out.to_str().unwrap(),
                "--timestamp",
                "0",
            ],
            &[],
        ));
    }
    let page = std::fs::read_to_string(&html).unwrap();
    let mut want: std::collections::BTreeMap<(String, String), String> = Default::default();
    for r in csv::Reader::from_path(csv_dir.join("app_access.csv"))
        .unwrap()
        .records()
    {
        let r = r.unwrap();
        want.insert((r[0].to_string(), r[1].to_string()), r[2].to_string());
    }
    let apps: std::collections::BTreeSet<&str> = want.keys().map(|(a, _)| a.as_str()).collect();
    let row = regex::Regex::new(
        r#"<tr><td>(?:<details><summary>(\d+) users</summary>([^<]*)</details>|([^<]*))</td><td class="(yes|no|unknown)">"#,
    )
    .unwrap();
    let mut got: std::collections::BTreeMap<(String, String), String> = Default::default();
    let mut grouped = 0;
    for app in &apps {
        let start = page.find(&format!("<h3 id=\"app-{app}\">")).unwrap();
        let rest = &page[start + 1..];
        let end = rest
            .find("<h3 id=\"app-")
            .or_else(|| rest.find("</section>"))
            .unwrap();
        let section = &rest[..end];
        // Only the per-user tables: after the first per-user summary.
        let Some(users_at) = section
            .find(" user(s) with")
            .or(section.find(" user(s) without"))
        else {
            continue;
        };
        for c in row.captures_iter(&section[users_at..]) {
            let names: Vec<&str> = match (c.get(1), c.get(2), c.get(3)) {
                (Some(n), Some(list), _) => {
                    let names: Vec<&str> = list.as_str().split(", ").collect();
                    assert_eq!(names.len(), n.as_str().parse::<usize>().unwrap());
                    assert!(names.len() > 1, "a group of one is told as a plain row");
                    grouped += 1;
                    names
                }
                (_, _, Some(one)) => vec![one.as_str()],
                _ => unreachable!(),
            };
            for name in names {
                let before = got.insert((app.to_string(), name.to_string()), c[4].to_string());
                assert!(before.is_none(), "{name} appears twice for {app}");
            }
        }
    }
    assert_eq!(got, want, "the HTML's users and answers are the CSV's");
    assert!(
        grouped > 0,
        "no row grouped users: the test would not notice"
    );
    let findings = csv::Reader::from_path(csv_dir.join("findings.csv"))
        .unwrap()
        .records()
        .count();
    assert!(
        page.contains(&format!("({} applications)", apps.len())),
        "the contents count the applications"
    );
    assert!(
        page.contains(&format!("({findings} findings: ")),
        "the contents count the findings"
    );
}

/// The report names the binding the rules' `decided_by` says carries each access, as `who --app`
/// does: a passing policy bound before a group is the reason, not the group. Users that one
/// answer's class stands for but different bindings let in are told apart in the classes table.
#[test]
fn report_names_the_deciding_binding_and_splits_classes_by_it() {
    use super::{application_json, policy_binding_json};
    let binding =
        |pk: &str, target: &str, order: i64, policy: Option<&str>, group: Option<&str>| {
            policy_binding_json(pk, target, order, (policy, group), false)
        };
    let app = |pk: &str| application_json(pk, "any");
    let user = |pk: i64, name: &str, groups: &[&str]| {
        serde_json::json!({"pk": pk, "username": name, "name": name, "is_active": true,
            "groups": groups})
    };
    let snap = serde_json::json!({
        "meta": {"version": "2026.2.1"},
        "core/users": [user(1, "alice", &["g-ops"]), user(2, "bob", &["g-dev"]),
            user(3, "carol", &["g-dev", "g-ops"]), user(4, "dave", &[])],
        "core/groups": [
            {"pk": "g-ops", "name": "ops", "is_superuser": false, "parents": []},
            {"pk": "g-dev", "name": "dev", "is_superuser": false, "parents": []},
        ],
        "flows/instances": [], "flows/bindings": [], "stages/all": [],
        "policies/all": [{"pk": "p-yes", "name": "always",
            "meta_model_name": "authentik_policies_expression.expressionpolicy",
            "expression": "return True"}],
        "policies/bindings": [
            binding("b0", "policy-first", 0, Some("p-yes"), None),
            binding("b1", "policy-first", 1, None, Some("g-ops")),
            binding("b2", "two-groups", 0, None, Some("g-ops")),
            binding("b3", "two-groups", 1, None, Some("g-dev")),
        ],
        "core/applications": [app("policy-first"), app("two-groups")],
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("snapshot.json");
    std::fs::write(&path, snap.to_string()).unwrap();
    let path = path.to_str().unwrap();
    let out = dir.path().join("report");
    ok(&bindlog(
        &[
            "report",
            path,
            "--format",
            "csv-dir",
            "-o",
            out.to_str().unwrap(),
        ],
        &[],
    ));
    let table = |name: &str| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        csv::Reader::from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    // alice is in ops, but the policy bound first already lets her in: it is the reason.
    let who = ok(&bindlog(&["who", path, "--app", "policy-first"], &[]));
    assert!(who.contains("alice\tpolicy always\n"), "{who}");
    let access = table("app_access.csv");
    let because = |app: &str, user: &str| {
        access
            .iter()
            .find(|r| r[0] == app && r[1] == user)
            .map(|r| r[3].clone())
            .unwrap()
    };
    assert_eq!(because("policy-first", "alice"), "policy always");
    assert_eq!(because("two-groups", "carol"), "carol -> ops");
    assert_eq!(because("two-groups", "bob"), "bob -> dev");
    // dave is in neither group: a denial in mode `any` names no binding, every one fails.
    assert_eq!(because("two-groups", "dave"), "no binding passes");
    // Three users have access to two-groups, through two different groups: two classes.
    let classes: Vec<(String, String, String)> = table("app_classes.csv")
        .into_iter()
        .filter(|r| r[0] == "two-groups" && r[1] == "yes")
        .map(|r| (r[2].clone(), r[3].clone(), r[4].clone()))
        .collect();
    assert_eq!(
        classes,
        [
            (
                "2".to_string(),
                "alice".to_string(),
                "alice -> ops".to_string()
            ),
            ("1".to_string(), "bob".to_string(), "bob -> dev".to_string()),
        ]
    );
}

/// Issue 13: the report tells superusers as the rules do. On 2025.10, `root` is a member of the
/// superuser group `level22` and a superuser for sure (`superuser_sure`); `alice` is one only
/// through it, 22 levels up, beyond the ancestry authentik follows, so she is left unknown
/// (`superuser_unknown`) with the reason, and not counted among the superusers, in the summary,
/// privileged.csv and the HTML page alike (with findings and without).
#[test]
fn issue_13_report_tells_superusers_left_unknown_apart() {
    let case = root().join("tests/cases/group-ancestry-cut-off-2025-10/snapshot.json");
    let case = case.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("csv");
    let out = out.to_str().unwrap();
    let why = "only through an ancestor 20 or more levels up, which authentik up to 2025.10 does \
               not follow";
    for extra in [&[][..], &["--no-findings"][..]] {
        let mut args = vec!["report", case, "--format", "csv-dir", "-o", out];
        args.extend_from_slice(extra);
        ok(&bindlog(&args, &[]));
        let read = |name: &str| -> Vec<Vec<String>> {
            let mut r = csv::Reader::from_path(Path::new(out).join(name)).unwrap();
            r.records()
                .map(|x| x.unwrap().iter().map(String::from).collect())
                .collect()
        };
        let summary: std::collections::BTreeMap<String, String> = read("summary.csv")
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect();
        assert_eq!(summary["superusers"], "1", "{extra:?}");
        assert_eq!(summary["superusers left unknown"], "1", "{extra:?}");
        let privileged = read("privileged.csv");
        let told: Vec<(&str, &str, &str)> = privileged
            .iter()
            .map(|r| (r[0].as_str(), r[5].as_str(), r[6].as_str()))
            .collect();
        assert_eq!(
            told,
            [("root", "yes", ""), ("alice", "unknown", why)],
            "{extra:?}"
        );
        assert!(privileged[1][4].starts_with("alice -> "), "{privileged:?}");
        assert!(privileged[1][4].ends_with(" -> level22"), "{privileged:?}");

        let mut args = vec!["report", case, "-o", "-", "--timestamp", "0"];
        args.extend_from_slice(extra);
        let html = ok(&bindlog(&args, &[]));
        assert!(html.contains("(1 superuser, 1 left unknown)"), "{extra:?}");
        assert!(html.contains("<p>1 superuser(s): members of a group"));
        let unknown = &html[html.find("Superuser rights left unknown").unwrap()..];
        assert!(unknown.contains(&format!(
            "1 more user(s) are members of a group with <code>is_superuser</code> {why}"
        )));
        assert!(unknown.contains("<tr><td>alice</td>"));
        assert!(!unknown.contains("<tr><td>root</td>"));
    }
}
