//! The report as one self-contained HTML page: inline CSS, no script, no external asset, and a
//! Content-Security-Policy that forbids loading anything, so that the file reads the same
//! offline, archived, or printed and signed.

use super::{Cell, Findings, Report, escape_html as esc};
use std::fmt::Write;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1200px;
 padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{margin-bottom:.2rem}h2{border-bottom:2px solid #1b1f24;padding-bottom:.2rem;margin-top:2.5rem}
h3{margin-top:1.6rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #c9ced6;padding:.2rem .45rem;text-align:left;vertical-align:top}
th{background:#eef1f5}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem}
pre{background:#f6f8fa;border:1px solid #d0d7de;padding:.5rem;white-space:pre-wrap}
.shown,.yes{background:#dafbe1}.skipped,.no{background:#ffebe9}.unknown{background:#fff8c5}
.mixed{background:#f3f0ff}
.sev-critical,.sev-high{color:#a40e26;font-weight:600}.sev-medium{color:#9a6700;font-weight:600}
.flag{display:inline-block;padding:0 .35rem;border-radius:.3rem;background:#ffebe9;color:#a40e26;
 font-size:.75rem;font-weight:600;margin-left:.3rem}
.notice{border-left:4px solid #9a6700;background:#fff8c5;padding:.5rem .8rem}
nav ol{columns:2}
.sign td{height:2.2rem;min-width:16rem}
.meta{color:#57606a}
@media print{nav{display:none}h2{break-before:page}table{break-inside:auto}}
";

/// Renders the whole report.
pub fn render(report: &Report) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>bindlog access report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    let _ = writeln!(o, "<header><h1>authentik access report</h1>");
    let _ = writeln!(
        o,
        "<p class=\"meta\">generated {} by bindlog {} from authentik {}</p></header>",
        esc(&report.provenance.generated),
        esc(&report.provenance.bindlog),
        esc(&report.provenance.version)
    );
    contents(&mut o, report);
    provenance(&mut o, report);
    summary(&mut o, report);
    applications(&mut o, report);
    flows(&mut o, report);
    privileged(&mut o, report);
    targets(&mut o, report);
    findings(&mut o, report);
    signature(&mut o);
    o.push_str("</body>\n</html>\n");
    o
}

/// The table of contents, each section with what it holds.
fn contents(o: &mut String, r: &Report) {
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let findings = match &r.findings {
        Findings::NotComputed(_) => "not computed".to_string(),
        Findings::Computed(list) => crate::audit::render::summary(list),
    };
    let p = &r.provenance;
    let sections = [
        (
            "provenance",
            "Provenance",
            format!(
                "{}, {}",
                plural(p.files.len(), "file", "files"),
                plural(p.warnings.len(), "warning", "warnings")
            ),
        ),
        ("summary", "Summary", String::new()),
        (
            "applications",
            "Application access",
            plural(r.apps.len(), "application", "applications"),
        ),
        (
            "flows",
            "Flow stages by group",
            plural(r.flows.len(), "flow", "flows"),
        ),
        (
            "privileged",
            "Privileged access",
            if r.privileged_unknown.is_empty() {
                plural(r.privileged.len(), "superuser", "superusers")
            } else {
                format!(
                    "{}, {} left unknown",
                    plural(r.privileged.len(), "superuser", "superusers"),
                    r.privileged_unknown.len()
                )
            },
        ),
        ("targets", "Other binding targets", String::new()),
        ("findings", "Findings", findings),
        ("signature", "Signature", String::new()),
    ];
    o.push_str("<nav><ol>");
    for (id, title, what) in sections {
        let _ = write!(o, "<li><a href=\"#{id}\">{}</a>", esc(title));
        if !what.is_empty() {
            let _ = write!(o, " <span class=\"meta\">({})</span>", esc(&what));
        }
        o.push_str("</li>");
    }
    o.push_str("</ol></nav>\n");
}

fn provenance(o: &mut String, r: &Report) {
    let p = &r.provenance;
    o.push_str("<section id=\"provenance\"><h2>Provenance</h2>\n<table>\n");
    for (k, v) in [
        ("generated", &p.generated),
        ("bindlog version", &p.bindlog),
        ("authentik version", &p.version),
    ] {
        let _ = writeln!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    o.push_str("</table>\n<h3>Input files</h3>\n<table><tr><th>file</th><th>SHA-256</th></tr>\n");
    for (f, h) in &p.files {
        let _ = writeln!(
            o,
            "<tr><td class=\"mono\">{}</td><td class=\"mono\">{}</td></tr>",
            esc(f),
            esc(h)
        );
    }
    let _ = writeln!(
        o,
        "</table>\n<h3>Defaults assumed ({})</h3>",
        p.defaults.len()
    );
    if p.defaults.is_empty() {
        o.push_str("<p>none: every field was given</p>\n");
    } else {
        o.push_str("<table><tr><th>endpoint</th><th>field</th><th>value</th><th>objects</th><th>why</th></tr>\n");
        for (e, f, v, why, n) in &p.defaults {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"mono\">{}</td><td class=\"mono\">{}</td><td class=\"num\">{n}</td><td>{}</td></tr>",
                esc(e),
                esc(f),
                esc(v),
                esc(why)
            );
        }
        o.push_str("</table>\n");
    }
    let _ = writeln!(o, "<h3>Load warnings ({})</h3>", p.warnings.len());
    if p.warnings.is_empty() {
        o.push_str("<p>none</p>\n");
    } else {
        o.push_str("<ul>\n");
        for w in &p.warnings {
            let _ = writeln!(o, "<li>{}</li>", esc(w));
        }
        o.push_str("</ul>\n");
    }
    o.push_str("</section>\n");
}

fn summary(o: &mut String, r: &Report) {
    o.push_str("<section id=\"summary\"><h2>Summary</h2>\n<table>\n");
    for (k, v) in &r.summary {
        let _ = writeln!(
            o,
            "<tr><th>{}</th><td class=\"num\">{}</td></tr>",
            esc(k),
            esc(v)
        );
    }
    o.push_str("</table>\n</section>\n");
}

/// The notice that rows were left out above the per-user limit, if they were.
fn left_out(o: &mut String, r: &Report, what: &str) {
    if let Some(l) = &r.left_out {
        let _ = writeln!(
            o,
            "<p class=\"notice\">{} users is above this report's per-user limit ({}): {what} The \
             tables show the {} largest of {} groups. <code>bindlog report --format csv-dir \
             --per-user-limit {}</code> writes every row; <code>bindlog who --app SLUG</code> lists \
             one application's users.</p>",
            l.users, l.limit, l.groups_shown, l.groups, l.users
        );
    }
}

fn applications(o: &mut String, r: &Report) {
    o.push_str(
        "<section id=\"applications\"><h2>Application access</h2>\n\
         <p>Per application, who may open it (<b>yes</b>), who may not (<b>no</b>) and whose \
         access is decided only at run time (<b>unknown</b>, with the reason): first by class of \
         users who share the answer and the way to it, told for one of them; then by group; then \
         user by user. <i>because</i> names the group path that makes the user a member of the \
         binding's group (user &rarr; direct group &rarr; &hellip; &rarr; bound group).</p>\n",
    );
    left_out(
        o,
        r,
        "each application is shown by class of users and by group, not user by user.",
    );
    for app in &r.apps {
        let _ = writeln!(
            o,
            "<h3 id=\"app-{}\">{} <span class=\"meta mono\">{}</span></h3>\n<p>{} binding(s) in force, mode <code>{}</code>: \
             <span class=\"yes\">{} yes</span>, <span class=\"no\">{} no</span>, <span class=\"unknown\">{} unknown</span></p>",
            esc(&app.slug),
            esc(&app.name),
            esc(&app.slug),
            app.bindings,
            esc(&app.mode),
            app.access.shown,
            app.access.skipped,
            app.access.unknown
        );
        o.push_str("<table><tr><th>users</th><th>access</th><th>for example</th><th>because</th><th>reason (unknown)</th></tr>\n");
        // The largest classes, in the table's order (yes, unknown, no; larger first).
        let mut shown: Vec<usize> = (0..app.classes.len()).collect();
        shown.sort_by_key(|i| (std::cmp::Reverse(app.classes[*i].users), *i));
        shown.truncate(r.detail.page_classes);
        shown.sort_unstable();
        for c in shown.iter().map(|i| &app.classes[*i]) {
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                c.users,
                esc(&c.access),
                esc(&c.access),
                esc(&c.representative),
                esc(&c.because),
                esc(&c.reason)
            );
        }
        if shown.len() < app.classes.len() {
            let users: usize = app.classes.iter().map(|c| c.users).sum::<usize>()
                - shown.iter().map(|i| app.classes[*i].users).sum::<usize>();
            let _ = writeln!(
                o,
                "<tr><td class=\"num\">{users}</td><td colspan=\"4\">in {} smaller classes (all in app_classes.csv of <code>--format csv-dir</code>)</td></tr>",
                app.classes.len() - shown.len()
            );
        }
        o.push_str("</table>\n");
        if !app.groups.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>by group ({})</summary>\n<table><tr><th>group</th><th>members</th>\
                 <th>yes</th><th>no</th><th>unknown</th></tr>",
                app.groups.len()
            );
            for g in &app.groups {
                let _ = writeln!(
                    o,
                    "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                    esc(&g.label),
                    g.members,
                    g.access.shown,
                    g.access.skipped,
                    g.access.unknown
                );
            }
            o.push_str("</table></details>\n");
        }
        // Users whose answer comes the same way share a row (told for the first of them), so
        // that hundreds of identical rows read as one.
        let table = |o: &mut String, rows: &[&super::AccessRow]| {
            let mut order: Vec<(&str, &str)> = Vec::new();
            let mut same: std::collections::HashMap<(&str, &str), Vec<&super::AccessRow>> =
                std::collections::HashMap::new();
            for x in rows {
                let key = (x.access.as_str(), x.way.as_str());
                let list = same.entry(key).or_default();
                if list.is_empty() {
                    order.push(key);
                }
                list.push(x);
            }
            o.push_str("<table><tr><th>users</th><th>access</th><th>because (told for the first user)</th><th>reason (unknown)</th></tr>\n");
            for key in order {
                let list = &same[&key];
                let x = list[0];
                let who = if list.len() == 1 {
                    esc(&x.user)
                } else {
                    format!(
                        "<details><summary>{} users</summary>{}</details>",
                        list.len(),
                        list.iter()
                            .map(|r| esc(&r.user))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                let _ = writeln!(
                    o,
                    "<tr><td>{who}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td></tr>",
                    esc(&x.access),
                    esc(&x.access),
                    esc(&x.because),
                    esc(&x.reason)
                );
            }
            o.push_str("</table>\n");
        };
        let open: Vec<&super::AccessRow> = app.rows.iter().filter(|x| x.access != "no").collect();
        let closed: Vec<&super::AccessRow> = app.rows.iter().filter(|x| x.access == "no").collect();
        if !open.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>{} user(s) with access or unknown</summary>",
                open.len()
            );
            table(o, &open);
            o.push_str("</details>\n");
        }
        if !closed.is_empty() {
            let _ = writeln!(
                o,
                "<details><summary>{} user(s) without access</summary>",
                closed.len()
            );
            table(o, &closed);
            o.push_str("</details>\n");
        }
    }
    o.push_str("</section>\n");
}

fn cell(c: &Cell) -> String {
    let class = match c.uniform() {
        Some(v) => v,
        None if c.shown + c.skipped + c.unknown == 0 => "none",
        None => "mixed",
    };
    format!("<td class=\"{class}\">{}</td>", esc(&c.text()))
}

fn flows(o: &mut String, r: &Report) {
    o.push_str(
        "<section id=\"flows\"><h2>Flow stages by group</h2>\n\
         <p>Per flow, entered the default way, how many members of each group (members of descendant groups \
         included) see each stage <b>shown</b>, <b>skipped</b> or <b>unknown</b> (decided at run time); a \
         single value when every member agrees. <i>anonymous</i> is a visitor without a session who never \
         identifies. Below each matrix, the ways through the flow: users who see the same value at every \
         stage, with one of them.</p>\n",
    );
    left_out(
        o,
        r,
        "the flows are shown by way through them and by group.",
    );
    for f in &r.flows {
        let _ = writeln!(
            o,
            "<h3 id=\"flow-{}\">{}</h3>\n<p class=\"meta\">designation <code>{}</code>, entered <code>{}</code></p>",
            esc(&f.slug),
            esc(&f.slug),
            esc(&f.designation),
            esc(&f.entry)
        );
        if f.stages.is_empty() {
            o.push_str(
                "<p>no stage bound: authentik completes this flow without running a stage</p>\n",
            );
            continue;
        }
        o.push_str("<table><tr><th>identities</th><th>count</th>");
        for (order, stage) in &f.stages {
            let _ = write!(o, "<th>{order}<br>{}</th>", esc(stage));
        }
        o.push_str("</tr>\n");
        for row in &f.rows {
            let _ = write!(
                o,
                "<tr><th>{}</th><td class=\"num\">{}</td>",
                esc(&row.label),
                row.members
            );
            for c in &row.cells {
                o.push_str(&cell(c));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table>\n");
        let _ = writeln!(
            o,
            "<details><summary>{} way(s) through the flow</summary>\n<table><tr><th>users</th><th>for example</th>",
            f.classes.len()
        );
        for (order, stage) in &f.stages {
            let _ = write!(o, "<th>{order}<br>{}</th>", esc(stage));
        }
        o.push_str("</tr>\n");
        for c in &f.classes {
            let _ = write!(
                o,
                "<tr><td class=\"num\">{}</td><td>{}</td>",
                c.users,
                esc(&c.representative)
            );
            for v in &c.values {
                let _ = write!(o, "<td class=\"{}\">{}</td>", esc(v), esc(v));
            }
            o.push_str("</tr>\n");
        }
        o.push_str("</table></details>\n");
    }
    o.push_str("</section>\n");
}

fn privileged(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "<section id=\"privileged\"><h2>Privileged access</h2>\n<p>{} superuser(s): members of a group with \
         <code>is_superuser</code>, directly or through a descendant group. Service accounts and inactive \
         accounts are flagged.</p>",
        r.privileged.len()
    );
    if !r.superuser_groups.is_empty() {
        o.push_str("<table><tr><th>superuser group</th><th>effective members</th></tr>\n");
        for (name, n) in &r.superuser_groups {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"num\">{n}</td></tr>",
                esc(name)
            );
        }
        o.push_str("</table>\n");
    }
    superusers(o, &r.privileged, r.detail.page_rows, "superusers");
    if !r.privileged_unknown.is_empty() {
        let _ = writeln!(
            o,
            "<h3>Superuser rights left unknown</h3>\n<p class=\"notice\">{} more user(s) are members \
             of a group with <code>is_superuser</code> {}: whether authentik treats them as \
             superusers is left unknown, and they are not counted above.</p>",
            r.privileged_unknown.len(),
            esc(super::UNKNOWN_WHY)
        );
        superusers(
            o,
            &r.privileged_unknown,
            r.detail.page_rows,
            "users left unknown",
        );
    }
    o.push_str("</section>\n");
}

/// A table of superusers (or of users who may be), the first `page_rows` of them, and a notice
/// naming the rest `what`.
fn superusers(o: &mut String, list: &[super::Privileged], page_rows: usize, what: &str) {
    if list.is_empty() {
        return;
    }
    o.push_str("<table><tr><th>user</th><th>account</th><th>superuser through</th></tr>\n");
    for p in list.iter().take(page_rows) {
        let mut flags = String::new();
        if p.service_account() {
            flags.push_str("<span class=\"flag\">service account</span>");
        }
        if !p.active {
            flags.push_str("<span class=\"flag\">inactive</span>");
        }
        let _ = writeln!(
            o,
            "<tr><td>{}{flags}</td><td>{}{}</td><td>{}</td></tr>",
            esc(&p.user),
            esc(&p.kind),
            if p.active { "" } else { ", inactive" },
            esc(&p.via)
        );
    }
    o.push_str("</table>\n");
    if list.len() > page_rows {
        let _ = writeln!(
            o,
            "<p class=\"notice\">The first {} of {} {what}, by username; \
             <code>--format csv-dir</code> writes all of them to privileged.csv.</p>",
            page_rows,
            list.len()
        );
    }
}

fn targets(o: &mut String, r: &Report) {
    let t = &r.targets;
    o.push_str(
        "<section id=\"targets\"><h2>Other binding targets</h2>\n<p>For every user: who may log in \
         on each device, who is offered each source to connect (never enforced), whom each RAC \
         endpoint's own bindings let in, who may open it in full (its application, its \
         provider's authorization flow and its own bindings), who can bind to each LDAP or \
         RADIUS provider (its bind flow and its application), who is told of each event action, and per application the login flow of a visitor without a session \
         and how many users meet MFA in it.</p>\n",
    );
    if t.is_empty() {
        o.push_str("<p>The snapshot has none of these targets.</p>\n</section>\n");
        return;
    }
    for (title, list, words) in [
        ("Devices", &t.devices, ["yes", "no", "unknown"]),
        ("Sources", &t.sources, ["yes", "no", "unknown"]),
        ("RAC endpoints", &t.endpoints, ["pass", "fail", "unknown"]),
        (
            "RAC endpoints opened in full",
            &t.endpoint_access,
            ["yes", "no", "unknown"],
        ),
        ("LDAP and RADIUS binds", &t.binds, ["yes", "no", "unknown"]),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(
            o,
            "<h3>{title}</h3>\n<table>\n<tr><th>name</th><th>{}</th><th>{}</th><th>{}</th></tr>",
            words[0], words[1], words[2]
        );
        for x in list {
            let [a, b, c] = x.counts;
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td><td class=\"num\">{c}</td></tr>",
                esc(&x.name)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h3>Notifications</h3>\n<table>\n<tr><th>event action</th><th>rules that tell someone (recipients)</th></tr>\n");
    for (action, rules) in &t.actions {
        let told: Vec<String> = rules
            .iter()
            .map(|n| {
                format!(
                    "{} ({}{})",
                    esc(&n.rule),
                    n.recipients,
                    if n.event_user {
                        " and the event's user"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td></tr>",
            esc(action),
            if told.is_empty() {
                "nobody".to_string()
            } else {
                told.join(", ")
            }
        );
    }
    o.push_str("</table>\n<h3>Login paths</h3>\n<table>\n<tr><th>application</th><th>login flow</th><th>via</th><th>MFA shown</th><th>unknown</th><th>skipped</th></tr>\n");
    for l in &t.logins {
        let flow = l.flow.as_deref().unwrap_or("none: authentik answers 404");
        if l.has_mfa {
            let [a, b, c] = l.mfa;
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{a}</td><td class=\"num\">{b}</td><td class=\"num\">{c}</td></tr>",
                esc(&l.app),
                esc(flow),
                esc(&l.via)
            );
        } else {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td colspan=\"3\">no MFA stage</td></tr>",
                esc(&l.app),
                esc(flow),
                esc(&l.via)
            );
        }
    }
    o.push_str("</table>\n</section>\n");
}

fn findings(o: &mut String, r: &Report) {
    o.push_str("<section id=\"findings\"><h2>Findings</h2>\n");
    match &r.findings {
        Findings::NotComputed(why) => {
            let _ = writeln!(
                o,
                "<p class=\"notice\"><b>findings: not computed.</b> {} This report makes no statement about \
                 misconfigurations; it does not say that there are none.</p>",
                esc(why)
            );
        }
        Findings::Computed(list) if list.is_empty() => {
            o.push_str("<p>The audit rules found nothing.</p>\n");
        }
        Findings::Computed(list) => {
            // The severity summary first, then per rule, then each finding as a conclusion
            // (rule, objects, fix) with its proof folded.
            let _ = writeln!(
                o,
                "<p class=\"sev-summary\"><b>{}</b></p>",
                esc(&crate::audit::render::summary(list))
            );
            let mut by_rule: std::collections::BTreeMap<(&str, String), usize> =
                std::collections::BTreeMap::new();
            for f in list {
                *by_rule
                    .entry((f.rule.as_str(), f.severity.as_str().to_string()))
                    .or_default() += 1;
            }
            o.push_str("<table><tr><th>rule</th><th>severity</th><th>findings</th></tr>\n");
            for ((rule, sev), n) in &by_rule {
                let _ = writeln!(
                    o,
                    "<tr><td class=\"mono\">{}</td><td class=\"sev-{}\">{}</td><td class=\"num\">{n}</td></tr>",
                    esc(rule),
                    esc(sev),
                    esc(sev)
                );
            }
            o.push_str("</table>\n");
            let mut proof_bytes = 0usize;
            let mut proofs_left_out = 0usize;
            for (i, f) in list.iter().enumerate() {
                let sev = serde_json::to_value(f.severity)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default();
                let _ = writeln!(
                    o,
                    "<article id=\"finding-{}\"><h3><span class=\"mono\">{}</span> <span class=\"sev-{}\">{}</span> {}</h3>",
                    i + 1,
                    esc(&f.rule),
                    esc(&sev),
                    esc(&sev),
                    esc(&f.message)
                );
                if !f.objects.is_empty() {
                    o.push_str("<ul>\n");
                    for obj in f.objects.iter().take(r.detail.page_objects) {
                        let _ = writeln!(
                            o,
                            "<li>{} <b>{}</b> <span class=\"mono meta\">{}</span></li>",
                            esc(&obj.kind),
                            esc(&obj.name),
                            esc(&obj.pk)
                        );
                    }
                    if f.objects.len() > r.detail.page_objects {
                        let _ = writeln!(
                            o,
                            "<li>and {} more (all in findings.csv of <code>--format csv-dir</code>)</li>",
                            f.objects.len() - r.detail.page_objects
                        );
                    }
                    o.push_str("</ul>\n");
                }
                if !f.remediation.is_empty() {
                    let _ = writeln!(o, "<p><b>Fix:</b> {}</p>", esc(&f.remediation));
                }
                if !f.explanation.is_empty() {
                    if proof_bytes + f.explanation.len() <= r.detail.page_proof_bytes {
                        proof_bytes += f.explanation.len();
                        let _ = writeln!(
                            o,
                            "<details><summary>Why (the proof)</summary><pre>{}</pre></details>",
                            esc(&f.explanation)
                        );
                    } else {
                        proofs_left_out += 1;
                        o.push_str(
                            "<p class=\"meta\">proof left out of this page (see below)</p>\n",
                        );
                    }
                }
                o.push_str("</article>\n");
            }
            if proofs_left_out > 0 {
                let _ = writeln!(
                    o,
                    "<p class=\"notice\">The proofs of {proofs_left_out} finding(s) are left out of this \
                     page, which holds {} MB of proofs at most; findings.csv of \
                     <code>--format csv-dir</code> and <code>bindlog audit --format json</code> hold \
                     every proof.</p>",
                    r.detail.page_proof_bytes >> 20
                );
            }
        }
    }
    o.push_str("</section>\n");
}

fn signature(o: &mut String) {
    o.push_str(
        "<section id=\"signature\"><h2>Signature</h2>\n<p>I have reviewed this report, generated from the input \
         files whose SHA-256 digests are listed under Provenance.</p>\n<table class=\"sign\">\n\
         <tr><th>name</th><td></td></tr>\n<tr><th>role</th><td></td></tr>\n<tr><th>date</th><td></td></tr>\n\
         <tr><th>signature</th><td></td></tr>\n</table>\n</section>\n",
    );
}
