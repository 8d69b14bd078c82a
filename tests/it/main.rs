//! bindlog's one integration-test binary, organised by topic.

mod analysis;
mod authentik;
mod bulk;
mod cases;
mod engine;
mod snapshot;
