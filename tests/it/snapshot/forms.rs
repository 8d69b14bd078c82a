//! The bundle and directory forms, version-aware defaults, the two ids of a target.

use super::*;
use bindlog::facts::{Value, facts_of};
use bindlog::snapshot::{Kind, TargetKind, synth};
use serde_json::json;

fn sym(s: &str) -> Value {
    Value::Sym(s.to_string())
}

#[test]
fn bare_array_page_and_array_of_pages_read_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = small_bundle();
    let users = bundle["core/users"].as_array().unwrap().clone();
    let mut one_page = bundle.clone();
    one_page["core/users"] = json!({"pagination": {"next": 0, "count": 3}, "results": users});
    let mut pages = bundle.clone();
    pages["core/users"] = json!([
        {"pagination": {"next": 2}, "results": users[..2]},
        {"results": users[2..], "pagination": {"next": 0}}
    ]);
    let expected = load(&write_json(dir.path(), "bare.json", &bundle))
        .snapshot
        .users;
    assert_eq!(expected.len(), 3);
    for (name, v) in [("page.json", &one_page), ("pages.json", &pages)] {
        let got = load(&write_json(dir.path(), name, v)).snapshot.users;
        assert_eq!(got, expected, "{name}");
    }
}

#[test]
fn directory_with_page_splits_gives_the_same_facts_as_the_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(acme()).unwrap()).unwrap();
    for (key, value) in bundle.as_object().unwrap() {
        if key == "core/users" {
            for (i, chunk) in value.as_array().unwrap().chunks(100).enumerate() {
                let page = json!({"pagination": {"next": if i < 2 { i + 2 } else { 0 }}, "results": chunk});
                write_json(dir.path(), &format!("core/users/{}.json", i + 1), &page);
            }
        } else {
            write_json(dir.path(), &format!("{key}.json"), value);
        }
    }
    let from_dir = load(dir.path());
    let from_bundle = load(&acme());
    assert_eq!(from_dir.snapshot.users.len(), 300);
    assert_eq!(
        facts_of(&from_dir.snapshot),
        facts_of(&from_bundle.snapshot)
    );
    assert!(
        from_dir.report.files.len() > 10,
        "each page is its own file: {:?}",
        from_dir.report.files
    );
}

#[test]
fn a_problem_in_a_later_page_points_into_that_page() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = small_bundle();
    for (key, value) in bundle.as_object().unwrap() {
        if key != "core/users" {
            write_json(dir.path(), &format!("{key}.json"), value);
        }
    }
    write_json(
        dir.path(),
        "core/users/1.json",
        &json!({"results": [bundle["core/users"][0], bundle["core/users"][1]]}),
    );
    write_json(
        dir.path(),
        "core/users/2.json",
        &json!({"results": [bundle["core/users"][2], {"pk": 1, "username": "again"}]}),
    );
    let problems = problems(load_with(dir.path(), &[], &[]));
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("core/users/2.json#/results/1"),
        "{}",
        problems[0]
    );
    assert!(
        problems[0].contains("core/users/1.json#/results/0"),
        "names the first one too: {}",
        problems[0]
    );
}

#[test]
fn flow_stage_binding_defaults_follow_the_version() {
    let dir = tempfile::tempdir().unwrap();
    for (version, eop, rep) in [("2023.2.4", true, false), ("2026.2.1", false, true)] {
        let mut bundle = small_bundle();
        bundle["meta"]["version"] = json!(version);
        for x in bundle["flows/bindings"].as_array_mut().unwrap() {
            let x = x.as_object_mut().unwrap();
            x.remove("evaluate_on_plan");
            x.remove("re_evaluate_policies");
        }
        let loaded = load(&write_json(dir.path(), &format!("{version}.json"), &bundle));
        for x in &loaded.snapshot.flow_bindings {
            assert_eq!(
                (x.evaluate_on_plan, x.re_evaluate_policies),
                (eop, rep),
                "{version}"
            );
        }
        let assumed: Vec<_> = loaded
            .report
            .defaults
            .iter()
            .filter(|((e, f, ..), _)| e == "flows/bindings" && f == "evaluate_on_plan")
            .collect();
        assert_eq!(assumed.len(), 1, "{version}: {:?}", loaded.report.defaults);
        assert_eq!(*assumed[0].1, 2);
        assert_eq!(assumed[0].0.2, eop.to_string());
        assert!(
            assumed[0].0.3.contains(version),
            "the reason names the version: {:?}",
            assumed[0].0
        );
    }
}

#[test]
fn missing_fields_take_defaults_and_each_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&write_json(dir.path(), "b.json", &small_bundle()));
    let carol = loaded
        .snapshot
        .users
        .iter()
        .find(|u| u.username.as_ref() == "carol")
        .unwrap();
    assert!(carol.is_active);
    let b2 = loaded
        .snapshot
        .policy_bindings
        .iter()
        .find(|b| b.pk.as_ref() == "b-2")
        .unwrap();
    assert!(b2.enabled && !b2.negate && !b2.failure_result && b2.timeout == 30);
    let fields: Vec<(&str, &str, usize)> = loaded
        .report
        .defaults
        .iter()
        .map(|((e, f, ..), n)| (e.as_str(), f.as_str(), *n))
        .collect();
    for expected in [
        ("core/users", "is_active", 1),
        ("policies/bindings", "enabled", 2),
        ("policies/bindings", "timeout", 2),
        ("admin/settings", "flags.core_default_app_access", 1),
    ] {
        assert!(fields.contains(&expected), "{expected:?} not in {fields:?}");
    }
    let mfa = loaded
        .snapshot
        .stages
        .iter()
        .find(|s| s.pk.as_ref() == "s-mfa")
        .unwrap();
    assert_eq!(mfa.fields["not_configured_action"], json!("skip"));
}

#[test]
fn old_single_parent_and_new_parents_both_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut bundle = small_bundle();
    bundle["meta"]["version"] = json!("2025.10.2");
    bundle["core/groups"] = json!([
        {"pk": "g-staff", "name": "staff", "parent": null},
        {"pk": "g-admins", "name": "admins", "parent": "g-staff"},
        {"pk": "g-ops", "name": "ops", "parents": ["g-staff", "g-admins"]}
    ]);
    let facts = facts_of(&load(&write_json(dir.path(), "b.json", &bundle)).snapshot);
    let parents = facts.rows("group_parent");
    assert_eq!(
        parents,
        &[
            vec![sym("g-admins"), sym("g-staff")],
            vec![sym("g-ops"), sym("g-admins")],
            vec![sym("g-ops"), sym("g-staff")]
        ]
    );
}

#[test]
fn membership_is_the_union_of_both_sides() {
    let dir = tempfile::tempdir().unwrap();
    let facts = facts_of(&load(&write_json(dir.path(), "b.json", &small_bundle())).snapshot);
    assert_eq!(
        facts.rows("direct_member"),
        &[
            vec![sym("1"), sym("g-admins")],
            vec![sym("2"), sym("g-staff")],
            vec![sym("3"), sym("g-staff")]
        ]
    );
}

#[test]
fn policy_binding_targets_resolve_from_either_id() {
    let dir = tempfile::tempdir().unwrap();
    let loaded = load(&write_json(dir.path(), "b.json", &small_bundle()));
    let by_pk = |pk: &str| {
        loaded
            .snapshot
            .policy_bindings
            .iter()
            .find(|b| b.pk.as_ref() == pk)
            .unwrap()
    };
    assert_eq!(
        (by_pk("b-1").target.as_ref(), by_pk("b-1").target_kind),
        ("x-mfa", TargetKind::FlowStageBinding)
    );
    assert_eq!(
        (by_pk("b-2").target.as_ref(), by_pk("b-2").target_kind),
        ("f-login", TargetKind::Flow)
    );
    assert_eq!(
        (by_pk("b-3").target.as_ref(), by_pk("b-3").target_kind),
        ("app-1", TargetKind::Application)
    );
    let facts = facts_of(&loaded.snapshot);
    assert!(
        facts
            .rows("binding")
            .contains(&vec![sym("b-1"), sym("x-mfa"), Value::Num(0)])
    );
    assert!(
        facts
            .rows("fsb_pbm")
            .contains(&vec![sym("x-mfa"), sym("px-mfa")])
    );
    assert!(
        facts
            .rows("target")
            .contains(&vec![sym("app-1"), sym("application"), sym("all")])
    );
}

#[test]
fn the_acme_example_is_what_the_generator_writes() {
    let committed = std::fs::read_to_string(acme()).unwrap();
    let generated = serde_json::to_string_pretty(&synth::acme()).unwrap() + "\n";
    assert!(
        committed == generated,
        "examples/acme/snapshot.json is stale: run `bindlog generate --acme -o examples/acme/snapshot.json`"
    );
    assert!(committed.len() < 1_000_000);
}

#[test]
fn the_generator_is_deterministic_and_its_output_loads() {
    let dir = tempfile::tempdir().unwrap();
    let gen_to = |seed: u64, name: &str| {
        let path = dir.path().join(name);
        let p = synth::Params::scaled(3000, seed);
        synth::write_bundle(&p, std::fs::File::create(&path).unwrap()).unwrap();
        std::fs::read(&path).unwrap()
    };
    let a = gen_to(5, "a.json");
    assert_eq!(a, gen_to(5, "b.json"));
    assert_ne!(a, gen_to(6, "c.json"));
    let loaded = load(&dir.path().join("a.json"));
    let s = &loaded.snapshot;
    assert_eq!(s.users.len(), 3000);
    assert!(
        s.groups.iter().any(|g| g.parents.len() > 1),
        "some group has several parents"
    );
    let sizes: Vec<usize> = s
        .groups
        .iter()
        .map(|g| s.users.iter().filter(|u| u.groups.contains(&g.pk)).count())
        .collect();
    assert!(
        sizes[0] > 5 * sizes[sizes.len() - 1].max(1),
        "membership is skewed: {sizes:?}"
    );
    assert!(
        s.flow_bindings.iter().any(|x| x.evaluate_on_plan)
            && s.flow_bindings.iter().any(|x| !x.evaluate_on_plan)
    );
    assert!(!s.policy_bindings.is_empty());
    assert_eq!(s.counts()[0], (Kind::Users.endpoint(), 3000));
}
