//! bindlog's one integration-test binary, organised by topic.

mod analysis;
mod authentik;
mod engine;
mod snapshot;
