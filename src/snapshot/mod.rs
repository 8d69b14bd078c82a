//! authentik objects in: API bundles, endpoint directories, blueprints; validation.
