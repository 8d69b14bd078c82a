//! bindlog's one integration-test binary, organised by topic.

mod authentik;
mod engine;
mod snapshot;
