//! Snapshot -> input relations of `rules/authentik/schema.dl`.
