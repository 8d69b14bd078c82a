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
