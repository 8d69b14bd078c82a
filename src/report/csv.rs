//! The report's tables as CSV files in one directory, for spreadsheets. File names and headers
//! are listed in [`FILES`] and in the README; rows are in the HTML report's order.

use super::{Findings, Report};
use std::path::Path;

/// Every file written, with its header.
pub const FILES: [(&str, &[&str]); 14] = [
    ("provenance.csv", &["key", "value"]),
    ("files.csv", &["file", "sha256"]),
    (
        "defaults.csv",
        &["endpoint", "field", "value", "objects", "why"],
    ),
    ("summary.csv", &["metric", "value"]),
    (
        "app_classes.csv",
        &["app", "access", "users", "example", "because", "reason"],
    ),
    (
        "app_groups.csv",
        &[
            "app", "group", "group_pk", "members", "yes", "no", "unknown",
        ],
    ),
    (
        "app_access.csv",
        &["app", "user", "access", "because", "reason"],
    ),
    (
        "flow_classes.csv",
        &["flow", "way", "users", "example", "order", "stage", "value"],
    ),
    (
        "flow_stages.csv",
        &[
            "flow",
            "entry",
            "identities",
            "group",
            "members",
            "order",
            "stage",
            "shown",
            "skipped",
            "unknown",
            "value",
        ],
    ),
    (
        "privileged.csv",
        &[
            "user",
            "active",
            "type",
            "service_account",
            "via",
            "superuser",
            "why",
        ],
    ),
    (
        "target_access.csv",
        &["target", "name", "pk", "yes", "no", "unknown"],
    ),
    (
        "notifications.csv",
        &["action", "rule", "recipients", "event_user"],
    ),
    (
        "login_paths.csv",
        &[
            "app",
            "login_flow",
            "via",
            "has_mfa",
            "mfa_shown",
            "mfa_unknown",
            "mfa_skipped",
        ],
    ),
    (
        "findings.csv",
        &[
            "rule",
            "severity",
            "message",
            "objects",
            "remediation",
            "explanation",
        ],
    ),
];

/// One table: file name, header, rows.
pub type Table = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

/// The report's tables. When findings were not computed, `findings.csv` is not written and
/// `summary.csv` says `findings,not computed`.
pub fn tables(r: &Report) -> Vec<Table> {
    let p = &r.provenance;
    let header = |i: usize| FILES[i].1.to_vec();
    let mut out: Vec<Table> = vec![
        (
            FILES[0].0,
            header(0),
            vec![
                vec!["generated".into(), p.generated.clone()],
                vec!["bindlog_version".into(), p.bindlog.clone()],
                vec!["authentik_version".into(), p.version.clone()],
            ],
        ),
        (
            FILES[1].0,
            header(1),
            p.files
                .iter()
                .map(|(f, h)| vec![f.clone(), h.clone()])
                .collect(),
        ),
        (
            FILES[2].0,
            header(2),
            p.defaults
                .iter()
                .map(|(e, f, v, w, n)| {
                    vec![e.clone(), f.clone(), v.clone(), n.to_string(), w.clone()]
                })
                .collect(),
        ),
        (
            FILES[3].0,
            header(3),
            r.summary
                .iter()
                .map(|(k, v)| vec![k.clone(), v.clone()])
                .collect(),
        ),
    ];
    let mut classes = Vec::new();
    let mut groups = Vec::new();
    for app in &r.apps {
        for c in &app.classes {
            classes.push(vec![
                app.slug.clone(),
                c.access.clone(),
                c.users.to_string(),
                c.representative.clone(),
                c.because.clone(),
                c.reason.clone(),
            ]);
        }
        for g in &app.groups {
            groups.push(vec![
                app.slug.clone(),
                g.label.clone(),
                g.group.clone(),
                g.members.to_string(),
                g.access.shown.to_string(),
                g.access.skipped.to_string(),
                g.access.unknown.to_string(),
            ]);
        }
    }
    out.push((FILES[4].0, header(4), classes));
    out.push((FILES[5].0, header(5), groups));
    let mut access = Vec::new();
    for app in &r.apps {
        for x in &app.rows {
            access.push(vec![
                app.slug.clone(),
                x.user.clone(),
                x.access.clone(),
                x.because.clone(),
                x.reason.clone(),
            ]);
        }
    }
    out.push((FILES[6].0, header(6), access));
    let mut ways = Vec::new();
    for f in &r.flows {
        for (i, c) in f.classes.iter().enumerate() {
            for ((order, stage), v) in f.stages.iter().zip(&c.values) {
                ways.push(vec![
                    f.slug.clone(),
                    (i + 1).to_string(),
                    c.users.to_string(),
                    c.representative.clone(),
                    order.to_string(),
                    stage.clone(),
                    v.clone(),
                ]);
            }
        }
    }
    out.push((FILES[7].0, header(7), ways));
    let mut stages = Vec::new();
    for f in &r.flows {
        for row in &f.rows {
            for ((order, stage), c) in f.stages.iter().zip(&row.cells) {
                stages.push(vec![
                    f.slug.clone(),
                    row.entry.clone(),
                    row.label.clone(),
                    row.group.clone().unwrap_or_default(),
                    row.members.to_string(),
                    order.to_string(),
                    stage.clone(),
                    c.shown.to_string(),
                    c.skipped.to_string(),
                    c.unknown.to_string(),
                    c.text(),
                ]);
            }
        }
    }
    out.push((FILES[8].0, header(8), stages));
    out.push((
        FILES[9].0,
        header(9),
        r.privileged
            .iter()
            .map(|x| (x, "yes", ""))
            .chain(
                r.privileged_unknown
                    .iter()
                    .map(|x| (x, "unknown", super::UNKNOWN_WHY)),
            )
            .map(|(x, superuser, why)| {
                vec![
                    x.user.clone(),
                    x.active.to_string(),
                    x.kind.clone(),
                    x.service_account().to_string(),
                    x.via.clone(),
                    superuser.to_string(),
                    why.to_string(),
                ]
            })
            .collect(),
    ));
    let t = &r.targets;
    let mut access = Vec::new();
    for (kind, list) in [
        ("device", &t.devices),
        ("source", &t.sources),
        ("rac_endpoint", &t.endpoints),
        ("rac_endpoint_access", &t.endpoint_access),
        ("bind", &t.binds),
    ] {
        for x in list {
            let mut row = vec![kind.to_string(), x.name.clone(), x.pk.clone()];
            row.extend(x.counts.iter().map(u64::to_string));
            access.push(row);
        }
    }
    out.push((FILES[10].0, header(10), access));
    let mut told = Vec::new();
    for (action, rules) in &t.actions {
        if rules.is_empty() {
            told.push(vec![
                action.clone(),
                String::new(),
                "0".into(),
                "false".into(),
            ]);
        }
        for n in rules {
            told.push(vec![
                action.clone(),
                n.rule.clone(),
                n.recipients.to_string(),
                n.event_user.to_string(),
            ]);
        }
    }
    out.push((FILES[11].0, header(11), told));
    out.push((
        FILES[12].0,
        header(12),
        t.logins
            .iter()
            .map(|l| {
                let mut row = vec![
                    l.app.clone(),
                    l.flow.clone().unwrap_or_default(),
                    l.via.clone(),
                    l.has_mfa.to_string(),
                ];
                row.extend(l.mfa.iter().map(u64::to_string));
                row
            })
            .collect(),
    ));
    if let Findings::Computed(list) = &r.findings {
        out.push((
            FILES[13].0,
            header(13),
            list.iter()
                .map(|f| {
                    let sev = serde_json::to_value(f.severity)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    let objects: Vec<String> = f
                        .objects
                        .iter()
                        .map(|o| format!("{} {} ({})", o.kind, o.name, o.pk))
                        .collect();
                    vec![
                        f.rule.clone(),
                        sev,
                        f.message.clone(),
                        objects.join("; "),
                        f.remediation.clone(),
                        f.explanation.clone(),
                    ]
                })
                .collect(),
        ));
    }
    out
}

/// Writes the tables into `dir` (created if needed), one file each. A stale `findings.csv` from
/// an earlier run is removed when findings were not computed, so the directory never claims
/// findings this run did not compute.
pub fn write_dir(r: &Report, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create `{}`: {e}", dir.display()))?;
    let tables = tables(r);
    if !tables.iter().any(|t| t.0 == "findings.csv") {
        let stale = dir.join("findings.csv");
        if stale.exists() {
            std::fs::remove_file(&stale)
                .map_err(|e| format!("cannot remove `{}`: {e}", stale.display()))?;
        }
    }
    // The files are written side by side; the first error in the tables' order is told.
    use rayon::prelude::*;
    let written: Vec<Result<(), String>> = tables
        .into_par_iter()
        .map(|(name, header, rows)| {
            let path = dir.join(name);
            let fail = |e: ::csv::Error| format!("cannot write `{}`: {e}", path.display());
            let mut w = ::csv::Writer::from_path(&path).map_err(fail)?;
            w.write_record(&header).map_err(fail)?;
            for row in rows {
                for cell in &row {
                    w.write_field(crate::escape::csv_cell(cell).as_bytes())
                        .map_err(fail)?;
                }
                w.write_record(std::iter::empty::<&[u8]>()).map_err(fail)?;
            }
            w.flush()
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
        })
        .collect();
    written.into_iter().collect()
}
