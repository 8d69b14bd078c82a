//! authentik's own default and example blueprints load, alone and together.

use super::*;
use bindlog::snapshot::{Subject, TargetKind};

fn blueprints(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn every_corpus_blueprint_loads_alone() {
    let files: Vec<PathBuf> = blueprints("default")
        .into_iter()
        .chain(blueprints("example"))
        .collect();
    assert!(
        files.len() >= 27,
        "corpus at {} has {} files",
        corpus().display(),
        files.len()
    );
    for file in files {
        let loaded = load(&file);
        let s = &loaded.snapshot;
        let objects: usize =
            s.counts().iter().map(|(_, n)| n).sum::<usize>() + s.others.values().sum::<usize>();
        assert!(objects > 0, "{} defines no object", file.display());
    }
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn the_default_authentication_flow_is_all_there() {
    let s = load(&corpus().join("default/flow-default-authentication-flow.yaml")).snapshot;
    let flow = &s.flows[0];
    assert_eq!(
        (&*flow.slug, flow.designation.as_str()),
        ("default-authentication-flow", "authentication")
    );
    let mut orders: Vec<(i32, &str)> = s
        .flow_bindings
        .iter()
        .map(|x| {
            (
                x.order,
                &*s.stages.iter().find(|st| st.pk == x.stage).unwrap().name,
            )
        })
        .collect();
    orders.sort();
    assert_eq!(
        orders,
        [
            (10, "default-authentication-identification"),
            (20, "default-authentication-password"),
            (30, "default-authentication-mfa-validation"),
            (100, "default-authentication-login")
        ]
    );
    assert_eq!(s.policy_bindings.len(), 2);
    for b in &s.policy_bindings {
        assert_eq!(b.target_kind, TargetKind::FlowStageBinding);
        assert!(b.failure_result && matches!(b.subject, Subject::Policy(_)));
        assert!(s.flow_bindings.iter().any(|x| x.pk == b.target));
    }
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn the_default_directory_loads_as_authentik_applies_it() {
    let loaded = load(&corpus().join("default"));
    let s = &loaded.snapshot;
    assert_eq!(
        s.brands.len(),
        1,
        "default-brand.yaml's condition holds on a fresh instance"
    );
    let auth = s
        .flows
        .iter()
        .find(|f| &*f.slug == "default-authentication-flow")
        .unwrap();
    assert_eq!(
        s.brands[0].flows.get("authentication"),
        Some(&auth.pk),
        "meta blueprints applied first, so `!Find` sees the flow"
    );
    let w = warnings(&loaded);
    assert!(
        w.iter()
            .any(|w| w.contains("rbac-role-read-only.yaml:11:11")
                && w.contains("unresolved `!Context`")),
        "{w:#?}"
    );
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn bindlog_check_says_what_it_could_not_resolve() {
    let out = assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .arg("check")
        .arg(corpus().join("default"))
        .assert()
        .success();
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(stdout.contains("flows/instances"), "{stdout}");
    assert!(
        stdout.contains("unresolved `!Context`")
            && stdout.contains("rbac-role-read-only.yaml:11:11"),
        "{stdout}"
    );
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn every_corpus_entry_of_a_modelled_kind_becomes_an_object() {
    use bindlog::snapshot::yaml::{self, NodeKind};
    let files: Vec<PathBuf> = blueprints("default")
        .into_iter()
        .chain(blueprints("example"))
        .collect();
    for file in files {
        let doc = yaml::parse(&std::fs::read_to_string(&file).unwrap())
            .unwrap()
            .unwrap();
        let NodeKind::Seq(entries) = &doc.get("entries").unwrap().kind else {
            panic!("entries")
        };
        let count = |model: &str| {
            entries
                .iter()
                .filter(|e| e.get("model").and_then(|m| m.as_str()) == Some(model))
                .filter(|e| {
                    e.get("state").and_then(|s| s.as_str()) != Some("absent")
                        && e.get("conditions").is_none()
                })
                .count()
        };
        let s = load(&file).snapshot;
        let name = file.display();
        assert_eq!(
            s.flows.len(),
            count("authentik_flows.flow"),
            "{name}: flows"
        );
        assert_eq!(
            s.flow_bindings.len(),
            count("authentik_flows.flowstagebinding"),
            "{name}: flow-stage bindings"
        );
        assert_eq!(
            s.policy_bindings.len(),
            count("authentik_policies.policybinding"),
            "{name}: policy bindings"
        );
        let stages = entries
            .iter()
            .filter_map(|e| e.get("model").and_then(|m| m.as_str()))
            .filter(|m| m.starts_with("authentik_stages_") && m.ends_with("stage"))
            .count();
        assert_eq!(s.stages.len(), stages, "{name}: stages");
    }
}

#[test]
#[cfg_attr(
    not(corpus),
    ignore = "needs authentik's blueprints (the blueprints/ directory of authentik's repository); run: BINDLOG_CORPUS=DIR cargo test --release"
)]
fn authentiks_default_blueprints_over_acme_update_in_place() {
    let before = load(&acme()).snapshot;
    let loaded = load_with(
        &acme(),
        &[corpus().join("default/flow-default-authentication-flow.yaml")],
        &[],
    )
    .unwrap();
    let s = &loaded.snapshot;
    let flow = |s: &bindlog::snapshot::Snapshot| {
        s.flows
            .iter()
            .find(|f| &*f.slug == "default-authentication-flow")
            .unwrap()
            .clone()
    };
    assert_eq!(
        flow(s).pk,
        flow(&before).pk,
        "found by slug, not created again"
    );
    assert_eq!(
        &*flow(s).name,
        "Welcome to authentik!",
        "updated from the blueprint's attrs"
    );
    let fsbs = |s: &bindlog::snapshot::Snapshot| {
        let f = flow(s).pk;
        let mut v: Vec<_> = s
            .flow_bindings
            .iter()
            .filter(|x| x.target == f)
            .map(|x| (x.order, x.pk.clone()))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        fsbs(s),
        fsbs(&before),
        "each FSB matched on (target, stage, order)"
    );
    assert_eq!(
        s.stages.len(),
        before.stages.len(),
        "stages matched by name within their model"
    );
    // The password binding existed (matched through `!KeyOf` = the FSB's other id); the MFA
    // one is new.
    assert_eq!(s.policy_bindings.len(), before.policy_bindings.len() + 1);
    assert_eq!(s.policies.len(), before.policies.len() + 1);
}
