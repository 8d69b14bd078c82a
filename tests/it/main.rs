//! bindlog's one integration-test binary, organised by topic.

mod engine;
mod snapshot;
