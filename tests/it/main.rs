//! bindlog's one integration-test binary, organised by topic.

mod analysis;
mod audit;
mod authentik;
mod bulk;
mod cases;
mod cli;
mod docs;
mod engine;
mod expression;
mod fuzz;
mod paths;
mod population;
mod readable;
mod report;
mod snapshot;
mod targets;

/// Runs the built `bindlog` with these arguments and collects its output.
fn bindlog(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        // A snapshot path in the tester's environment would fill in a missing argument.
        .env_remove("BINDLOG_SNAPSHOT")
        .args(args)
        .output()
        .unwrap()
}

/// A policy binding as the REST API lists it (`policies/bindings`): on `target` at `order`,
/// naming a policy or a group, enabled, with authentik's defaults otherwise.
fn policy_binding_json(
    pk: &str,
    target: &str,
    order: i64,
    (policy, group): (Option<&str>, Option<&str>),
    negate: bool,
) -> serde_json::Value {
    serde_json::json!({"pk": pk, "target": target, "policy": policy, "group": group,
        "user": null, "negate": negate, "enabled": true, "order": order, "timeout": 30,
        "failure_result": false})
}

/// An application without a provider, its slug and name its pk (`core/applications`).
fn application_json(pk: &str, mode: &str) -> serde_json::Value {
    serde_json::json!({"pk": pk, "slug": pk, "name": pk, "policy_engine_mode": mode,
        "provider": null})
}
