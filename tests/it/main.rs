//! bindlog's one integration-test binary, organised by topic.

mod analysis;
mod audit;
mod authentik;
mod bulk;
mod cases;
mod engine;
mod fuzz;
mod population;
mod report;
mod snapshot;
mod targets;

/// Runs the built `bindlog` with these arguments and collects its output.
fn bindlog(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("bindlog")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}
