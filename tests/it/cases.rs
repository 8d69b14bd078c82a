//! The golden corpus in `tests/cases/`: one directory per behaviour of docs/semantics.md,
//! each a small snapshot (`snapshot.json`) and the answers `plan` and `access` must give
//! (`expect.json`, whose `about` names the section and authentik's test it comes from), and,
//! where the case has `entitlements`, which entitlements of an application each user holds.

use bindlog::analysis::{Model, Subjects};
use bindlog::snapshot::{self, LoadOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn cases() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

fn check_case(dir: &Path) -> Vec<String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let snap = match snapshot::load(&dir.join("snapshot.json"), &LoadOptions::default()) {
        Ok(l) => l.snapshot,
        Err(e) => return vec![format!("{name}: snapshot does not load: {:?}", e.problems)],
    };
    let expect: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expect.json")).unwrap()).unwrap();
    let model = Model::new(&snap, &Subjects::All).unwrap();
    let pk_of = |username: &str| {
        model
            .rows("user")
            .into_iter()
            .find(|r| r[1] == username)
            .map(|r| r[0].clone())
            .unwrap()
    };
    let mut failures = Vec::new();
    for p in expect["plan"].as_array().unwrap() {
        let flow = p["flow"].as_str().unwrap();
        let user = p["user"].as_str().map(|u| (pk_of(u), u.to_string()));
        let entry = p["entry"].as_str();
        let plan = model
            .plan(
                flow,
                user.as_ref().map(|(pk, u)| (pk.as_str(), u.as_str())),
                entry,
            )
            .unwrap();
        let who = p["user"].as_str().unwrap_or("anonymous visitor");
        if plan.applicable != p["applicable"].as_str().unwrap() {
            failures.push(format!(
                "{name}: {flow} for {who}: applicable {} (expected {})",
                plan.applicable, p["applicable"]
            ));
        }
        for (stage, want) in p["stages"].as_object().unwrap() {
            let got = plan
                .stages
                .iter()
                .find(|s| &s.stage == stage)
                .unwrap_or_else(|| panic!("{name}: no stage {stage}"));
            let evaluated: Vec<Value> = got.evaluated.iter().map(|e| Value::from(*e)).collect();
            if got.visibility != want[0].as_str().unwrap()
                || evaluated != *want[1].as_array().unwrap()
            {
                failures.push(format!(
                    "{name}: {flow} for {who}: {stage} is {} evaluated {:?} (expected {want})",
                    got.visibility, got.evaluated
                ));
            }
        }
    }
    for a in expect["access"].as_array().unwrap() {
        let (app, user) = (a["app"].as_str().unwrap(), a["user"].as_str().unwrap());
        let got = model.access(app, &pk_of(user)).unwrap();
        if got != a["access"].as_str().unwrap() {
            failures.push(format!(
                "{name}: {user} on {app}: {got} (expected {})",
                a["access"]
            ));
        }
    }
    for e in expect["entitlements"].as_array().into_iter().flatten() {
        let (app, user) = (e["app"].as_str().unwrap(), e["user"].as_str().unwrap());
        let got = model.entitlements(app, &pk_of(user)).unwrap();
        let want = e["held"].as_object().unwrap();
        if got.len() != want.len() {
            failures.push(format!(
                "{name}: {app} has {} entitlements (expected {})",
                got.len(),
                want.len()
            ));
        }
        for g in &got {
            if want.get(&g.name).and_then(Value::as_str) != Some(g.granted.as_str()) {
                failures.push(format!(
                    "{name}: {user} holds {app}'s entitlement {}: {} (expected {:?})",
                    g.name,
                    g.granted,
                    want.get(&g.name)
                ));
            }
        }
    }
    failures.extend(check_targets(&name, &snap, &expect));
    failures
}

/// Whether `got` holds every key of `want` with the same value (objects compared the same way).
fn holds(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            w.iter().all(|(k, v)| g.get(k).is_some_and(|x| holds(x, v)))
        }
        _ => got == want,
    }
}

/// The `targets` questions of a case (binding targets beyond flows and applications): each
/// answer must hold the expected fields.
fn check_targets(name: &str, snap: &snapshot::Snapshot, expect: &Value) -> Vec<String> {
    let mut failures = Vec::new();
    for t in expect["targets"].as_array().into_iter().flatten() {
        let q = t["question"].as_str().unwrap();
        let mut asked: Vec<(&str, Vec<String>)> = Vec::new();
        if let Some(h) = t["host"].as_str() {
            asked.push(("host_asked", vec![h.to_string()]));
        }
        if let Some(a) = t["event_app"].as_str() {
            asked.push(("event_asked", vec!["app".into(), a.to_string()]));
        }
        let model = Model::answering(snap, &Subjects::All, &asked).unwrap();
        let user = |field: &str| {
            t[field].as_str().map(|u| {
                let pk = snap
                    .users
                    .iter()
                    .find(|x| &*x.username == u)
                    .unwrap_or_else(|| panic!("{name}: no user {u}"))
                    .pk
                    .to_string();
                (pk, u.to_string())
            })
        };
        let got: Value = if q == "notified" {
            let eu = user("event_user");
            let (pk, un) = match &eu {
                Some((pk, u)) => (pk.as_str(), Some(u.as_str())),
                None => ("anonymous", None),
            };
            let rows = model.notified_answer(t["action"].as_str().unwrap(), pk, un);
            Value::Object(
                rows.into_iter()
                    .map(|r| (r["rule"].as_str().unwrap().to_string(), r))
                    .collect(),
            )
        } else {
            let (pk, u) = user("user").unwrap();
            let answer = match q {
                "endpoint" => model.endpoint_answer(t["endpoint"].as_str().unwrap(), &pk, &u),
                "device" => model.device_answer(t["device"].as_str().unwrap(), &pk, &u),
                "source" => model.source_answer(t["source"].as_str().unwrap(), &pk, &u),
                "provider" => model.provider_answer(t["provider"].as_str().unwrap(), &pk, &u),
                "app_flows" => model.app_flows_answer(t["app"].as_str().unwrap(), &pk, &u),
                other => panic!("{name}: unknown question {other}"),
            };
            answer.unwrap_or_else(|e| panic!("{name}: {e}"))
        };
        if !holds(&got, &t["expect"]) {
            failures.push(format!(
                "{name}: {q} {}: got {got}, expected {}",
                t, t["expect"]
            ));
        }
    }
    failures
}

#[test]
fn golden_cases() {
    let cases = cases();
    assert_eq!(cases.len(), 41, "every case of tests/cases is counted here");
    let failures: Vec<String> = cases.iter().flat_map(|c| check_case(c)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
