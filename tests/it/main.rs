//! bindlog's one integration-test binary, organised by topic.

mod analysis;
mod audit;
mod authentik;
mod bulk;
mod cases;
mod engine;
mod report;
mod snapshot;
