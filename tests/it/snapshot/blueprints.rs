//! Blueprints alone and as overlays: tags, identifiers, states, cascades, derived pks.

use super::*;
use bindlog::snapshot::{Subject, TargetKind};
use serde_json::json;

fn tags() -> Loaded {
    load_with(
        &fixture("blueprints/tags.yaml"),
        &[],
        &[("BINDLOG_TEST_SECRET", "s3cret")],
    )
    .expect("tags.yaml loads")
}

#[test]
fn every_static_tag_resolves() {
    let loaded = tags();
    let s = &loaded.snapshot;
    assert_eq!(s.flows.len(), 1);
    assert_eq!(&*s.flows[0].slug, "platform-login");
    assert_eq!(&*s.flows[0].name, "Team login");
    let f = &s
        .stages
        .iter()
        .find(|st| &*st.name == "tag-probe")
        .unwrap()
        .fields;
    assert_eq!(f["from_context_default"], json!("fallback"));
    assert_eq!(f["from_env"], json!("eu"));
    assert_eq!(f["from_env_given"], json!("s3cret"));
    assert_eq!(f["condition_nor"], json!(true));
    assert_eq!(f["condition_xor"], json!(true));
    assert_eq!(f["if_one_arg"], json!(false));
    assert_eq!(f["enumerate_seq"], json!(["0:red", "1:blue"]));
    assert_eq!(f["enumerate_map"], json!({"red": 0, "blue": 1}));
    assert_eq!(f["nested"], json!([["ax"], ["bx"]]));
    assert_eq!(f["at_index"], json!(20));
    assert_eq!(f["at_index_default"], json!("none"));
    assert_eq!(f["parsed"], json!({"k": [1, 2]}));
    assert_eq!(
        f["found_flow"],
        json!(&*s.flows[0].pk),
        "`!Find` sees objects created earlier"
    );
    assert_eq!(
        f["flow_key"],
        json!(&*s.flows[0].pk),
        "`!KeyOf` outside a policy binding is the pk"
    );
}

#[test]
fn key_of_inside_a_policy_binding_is_the_binding_model_id_and_joins_the_target() {
    let loaded = tags();
    let s = &loaded.snapshot;
    assert_eq!(s.flow_bindings.len(), 1);
    let fsb = &s.flow_bindings[0];
    assert_ne!(
        fsb.pk, fsb.pbm,
        "a blueprint FSB gets two distinct derived ids"
    );
    assert_eq!(
        s.policy_bindings.len(),
        1,
        "the binding naming `admins` before it exists is skipped"
    );
    let b = &s.policy_bindings[0];
    assert_eq!(
        (b.target.clone(), b.target_kind),
        (fsb.pk.clone(), TargetKind::FlowStageBinding)
    );
    assert_eq!(b.subject, Subject::Group(s.groups[0].pk.clone()));
    let w = warnings(&loaded);
    assert!(
        w.iter()
            .any(|w| w.contains("tags.yaml:44:14") && w.contains("`id: admins`")),
        "{w:#?}"
    );
}

#[test]
fn unresolvable_tags_are_reported_with_file_and_line_never_dropped_silently() {
    let loaded = load_with(&fixture("blueprints/unresolved.yaml"), &[], &[]).unwrap();
    let w = warnings(&loaded);
    let expect = [
        ("unresolved.yaml:8:13", "`NOT_GIVEN_ANYWHERE`"),
        ("unresolved.yaml:9:14", "`not_in_context`"),
        ("unresolved.yaml:14:15", "`slug__startswith`"),
        (
            "unresolved.yaml:15:16",
            "found no `authentik_flows.flow` with slug=nowhere",
        ),
        ("unresolved.yaml:16:20", "`/etc/secret`"),
        ("unresolved.yaml:17:5", "identifiers are unresolved"),
        ("unresolved.yaml:20:5", "a condition is unresolved"),
    ];
    for (loc, text) in expect {
        assert!(
            w.iter().any(|w| w.contains(loc) && w.contains(text)),
            "no warning at {loc} about {text}: {w:#?}"
        );
    }
    let s = &loaded.snapshot;
    assert_eq!(s.flows.len(), 1);
    assert_eq!(
        &*s.flows[0].name, "",
        "an unresolved attribute is left out (default), not invented"
    );
    assert!(
        s.groups.is_empty(),
        "entries with unresolved identifiers or conditions are skipped"
    );
    let probe = &s.stages[0].fields;
    assert_eq!(probe["missing"], json!(null));
    assert!(!probe.contains_key("lookup"));
}

#[test]
fn an_overlay_updates_creates_and_deletes_with_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_json(dir.path(), "base.json", &small_bundle());
    let before = load(&base).snapshot;
    let loaded = load_with(&base, &[fixture("blueprints/overlay.yaml")], &[]).unwrap();
    let s = &loaded.snapshot;
    let login = s.flows.iter().find(|f| &*f.slug == "login").unwrap();
    assert_eq!(
        login.authentication.as_str(),
        "require_unauthenticated",
        "updated"
    );
    assert_eq!(
        (&*login.name, &*login.pk),
        ("Login", "f-login"),
        "partial update keeps the rest"
    );
    let pw = s.stages.iter().find(|st| &*st.name == "password").unwrap();
    let fsb = s.flow_bindings.iter().find(|x| x.stage == pw.pk).unwrap();
    assert_eq!((fsb.target.as_ref(), fsb.order), ("f-login", 15));
    let on_fsb = s
        .policy_bindings
        .iter()
        .find(|b| b.target == fsb.pk)
        .expect("binding via `!KeyOf` of a new FSB");
    assert!(on_fsb.failure_result);
    assert_eq!(on_fsb.subject, Subject::Policy("pol-1".into()));
    // The binding on the flow existed (API form, target = flow pk); the blueprint named the
    // flow by its other id and so updated it instead of adding a second one.
    let on_flow: Vec<_> = s
        .policy_bindings
        .iter()
        .filter(|b| b.target.as_ref() == "f-login")
        .collect();
    assert_eq!(on_flow.len(), 1);
    assert!(on_flow[0].negate && on_flow[0].pk.as_ref() == "b-2");
    // `absent` deleted `admins`, its binding b-1 and alice's membership; `staff` stays.
    assert!(s.groups.iter().all(|g| &*g.name != "admins"));
    assert!(s.policy_bindings.iter().all(|b| b.pk.as_ref() != "b-1"));
    assert!(
        s.users
            .iter()
            .find(|u| &*u.username == "alice")
            .unwrap()
            .groups
            .is_empty()
    );
    // `created` never updates an existing object.
    assert_eq!(&*s.applications[0].name, "Wiki");
    let dave = s.users.iter().find(|u| &*u.username == "dave").unwrap();
    assert!(dave.pk >= 1_000_000_000, "derived user pk {}", dave.pk);
    assert_eq!(s.users.len(), before.users.len() + 1);
}

#[test]
fn derived_pks_are_stable_and_distinct() {
    let a = tags().snapshot;
    let b = tags().snapshot;
    assert_eq!(a.flows[0].pk, b.flows[0].pk);
    assert_eq!(a.flow_bindings[0].pbm, b.flow_bindings[0].pbm);
    let ids: std::collections::HashSet<_> = [
        &a.flows[0].pk,
        &a.flows[0].pbm,
        &a.stages[0].pk,
        &a.flow_bindings[0].pk,
        &a.groups[0].pk,
    ]
    .into_iter()
    .collect();
    assert_eq!(ids.len(), 5);
    assert_eq!(a.flows[0].pk.len(), 36, "uuid-shaped: {}", a.flows[0].pk);
}

#[test]
fn an_invalid_blueprint_is_refused_with_every_invalid_entry() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_json(dir.path(), "base.json", &small_bundle());
    let problems = problems(load_with(
        &base,
        &[fixture("blueprints/must-created.yaml")],
        &[],
    ));
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(
        problems[0].contains("must-created.yaml:3:5") && problems[0].contains("must_created"),
        "{}",
        problems[0]
    );
    assert!(
        problems[1].contains("must-created.yaml:9:5")
            && problems[1].contains("both `evaluate_on_plan` and `re_evaluate_policies` false"),
        "{}",
        problems[1]
    );
}

#[test]
fn blueprint_flow_stage_bindings_take_the_base_snapshots_version_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = small_bundle();
    bundle["meta"]["version"] = json!("2022.12.1");
    let base = write_json(dir.path(), "base.json", &bundle);
    let loaded = load_with(&base, &[fixture("blueprints/overlay.yaml")], &[]).unwrap();
    let pw = loaded
        .snapshot
        .stages
        .iter()
        .find(|st| &*st.name == "password")
        .unwrap();
    let fsb = loaded
        .snapshot
        .flow_bindings
        .iter()
        .find(|x| x.stage == pw.pk)
        .unwrap();
    assert!(fsb.evaluate_on_plan && !fsb.re_evaluate_policies);
}

#[test]
fn deleting_a_flow_or_a_stage_takes_what_hangs_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_json(dir.path(), "base.json", &small_bundle());
    let overlay = dir.path().join("delete.yaml");
    std::fs::write(
        &overlay,
        "version: 1\nentries:\n  - model: authentik_stages_identification.identificationstage\n    identifiers: {name: ident}\n    state: absent\n  - model: authentik_flows.flow\n    identifiers: {slug: login}\n    state: absent\n",
    )
    .unwrap();
    let s = load_with(&base, &[overlay], &[]).unwrap().snapshot;
    assert!(s.flows.is_empty() && s.flow_bindings.is_empty());
    assert_eq!(s.stages.len(), 1, "only the named stage is deleted");
    let left: Vec<&str> = s.policy_bindings.iter().map(|b| &*b.pk).collect();
    assert_eq!(
        left,
        ["b-3"],
        "bindings on the flow (by its other id) and on its FSBs are gone"
    );
}

#[test]
fn a_blueprint_value_of_the_wrong_type_points_at_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let bp = dir.path().join("bad.yaml");
    std::fs::write(
        &bp,
        "version: 1\nentries:\n  - model: authentik_flows.flow\n    identifiers: {slug: a}\n    attrs: {designation: authentication, policy_engine_mode: some}\n",
    )
    .unwrap();
    let problems = problems(load_with(&bp, &[], &[]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("bad.yaml:3:5")
            && problems[0].contains("unknown value `some` for `policy_engine_mode`"),
        "{}",
        problems[0]
    );
}
