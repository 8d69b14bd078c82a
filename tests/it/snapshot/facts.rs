//! The input relations: declared in schema.dl, written as Soufflé `.facts`, right for Acme.

use super::*;
use bindlog::facts::{SCHEMA, Value, facts_of, schema_relations};

fn sym(s: &str) -> Value {
    Value::Sym(s.to_string())
}

#[test]
fn every_relation_is_declared_commented_and_an_input() {
    let relations = schema_relations();
    assert!(relations.len() >= 40);
    let lines: Vec<&str> = SCHEMA.lines().collect();
    for (name, _) in &relations {
        let decl = lines
            .iter()
            .position(|l| l.starts_with(&format!(".decl {name}(")))
            .unwrap();
        assert!(
            lines[decl - 1].starts_with("// "),
            "`{name}` has no comment line above it"
        );
        assert!(
            !lines[decl - 2].starts_with("//"),
            "`{name}` has more than one comment line"
        );
        assert!(
            lines.contains(&format!(".input {name}").as_str()),
            "`{name}` is not an .input"
        );
    }
    for line in &lines {
        assert!(
            line.is_empty()
                || line.starts_with("//")
                || line.starts_with(".decl ")
                || line.starts_with(".input "),
            "outside the Soufflé subset: {line}"
        );
    }
}

#[test]
fn facts_match_the_schema_and_are_sorted_and_unique() {
    let facts = facts_of(&load(&acme()).snapshot);
    let declared: std::collections::BTreeMap<String, usize> =
        schema_relations().into_iter().collect();
    assert_eq!(
        facts.relations.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>()
    );
    for (name, rows) in &facts.relations {
        for row in rows {
            assert_eq!(row.len(), declared[name], "arity of `{name}`");
        }
        assert!(
            rows.windows(2).all(|w| w[0] < w[1]),
            "`{name}` sorted and deduplicated"
        );
    }
}

#[test]
fn acme_facts_carry_the_planted_misconfigurations() {
    let s = load(&acme()).snapshot;
    let facts = facts_of(&s);
    let group = |name: &str| {
        s.groups
            .iter()
            .find(|g| &*g.name == name)
            .unwrap()
            .pk
            .to_string()
    };
    let app = |slug: &str| {
        s.applications
            .iter()
            .find(|a| &*a.slug == slug)
            .unwrap()
            .pk
            .to_string()
    };
    let bindings_of = |t: &str| {
        facts
            .rows("binding")
            .iter()
            .filter(|r| r[1] == sym(t))
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    // A negated group binding under `any` on payroll.
    let payroll = bindings_of(&app("payroll"));
    let contractors = payroll
        .iter()
        .find(|b| {
            facts
                .rows("binding_group")
                .contains(&vec![(*b).clone(), sym(&group("Contractors"))])
        })
        .unwrap();
    assert!(
        facts
            .rows("binding_negate")
            .contains(&vec![contractors.clone()])
    );
    assert!(facts.rows("target").contains(&vec![
        sym(&app("payroll")),
        sym("application"),
        sym("any")
    ]));
    // An application without bindings; a disabled binding on the wiki.
    assert!(bindings_of(&app("status-page")).is_empty());
    assert!(
        bindings_of(&app("wiki"))
            .iter()
            .any(|b| !facts.rows("binding_enabled").contains(&vec![b.clone()]))
    );
    // A group cycle and duplicate group names.
    let parent = |c: &str, p: &str| {
        facts
            .rows("group_parent")
            .contains(&vec![sym(&group(c)), sym(&group(p))])
    };
    assert!(parent("SRE", "Platform") && parent("Platform", "SRE"));
    assert_eq!(
        s.groups.iter().filter(|g| &*g.name == "Marketing").count(),
        2
    );
    // An FSB with both evaluation flags false.
    let both_false = facts
        .rows("fsb")
        .iter()
        .filter(|r| {
            !facts
                .rows("fsb_evaluate_on_plan")
                .contains(&vec![r[0].clone()])
                && !facts
                    .rows("fsb_re_evaluate_policies")
                    .contains(&vec![r[0].clone()])
        })
        .count();
    assert_eq!(both_false, 1);
    // MFA re-evaluated for admins in the default flow, and the plan-time check in the legacy flow.
    let mfa = s
        .stages
        .iter()
        .find(|st| st.kind.ends_with("authenticatorvalidatestage"))
        .unwrap();
    assert!(facts.rows("authenticator_validate").contains(&vec![
        sym(&mfa.pk),
        sym("skip"),
        sym("seconds=0")
    ]));
    let on_plan: Vec<_> = s
        .flow_bindings
        .iter()
        .filter(|x| x.stage == mfa.pk && x.evaluate_on_plan)
        .collect();
    assert_eq!(on_plan.len(), 1);
    assert!(
        facts
            .rows("binding_group")
            .iter()
            .any(|r| bindings_of(&on_plan[0].pk).contains(&r[0])
                && r[1] == sym(&group("authentik Admins")))
    );
    assert_eq!(facts.rows("version"), &[vec![sym("2026.2.1")]]);
    assert_eq!(facts.rows("default_app_access"), &[vec![sym("true")]]);
}

#[test]
fn bindlog_facts_writes_every_declared_relation() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("facts");
    assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .arg("facts")
        .arg(fixture("blueprints/tags.yaml"))
        .arg("-D")
        .arg(&out)
        .assert()
        .success();
    for (name, arity) in schema_relations() {
        let text = std::fs::read_to_string(out.join(format!("{name}.facts")))
            .unwrap_or_else(|_| panic!("{name}.facts"));
        for line in text.lines() {
            assert_eq!(line.split('\t').count(), arity, "{name}: {line}");
        }
    }
    assert_eq!(
        std::fs::read_to_string(out.join("user.facts")).unwrap(),
        "",
        "written even when empty"
    );
    let fsb = std::fs::read_to_string(out.join("fsb.facts")).unwrap();
    assert!(fsb.ends_with("\t10\n"), "{fsb}");
}
