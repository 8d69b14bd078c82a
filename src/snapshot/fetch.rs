//! `bindlog fetch`: download a snapshot from a running authentik.
