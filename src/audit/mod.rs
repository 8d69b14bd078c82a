//! Audit findings (semantics §11): rules in `rules/audit/`, evaluated over a snapshot's facts and
//! the built-in derived relations, each finding with its objects, remediation and explanation.

use serde::Serialize;

/// How bad a finding is, in increasing order; `--fail-on` compares against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Inventory, nothing wrong in itself.
    Info,
    /// Worth a look.
    Low,
    /// Likely a mistake.
    Medium,
    /// A security weakness.
    High,
    /// A security weakness affecting privileged or all users.
    Critical,
}

/// An object a finding is about, as `interfaces.md` names it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// `flow`, `stage`, `flow_binding`, `policy`, `policy_binding`, `application`, `group`,
    /// `user`, `source`, `brand`.
    pub kind: String,
    /// Its primary key as the snapshot spells it.
    pub pk: String,
    /// Its name (slug, username, or name), for people.
    pub name: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The catalogue id, e.g. `AK-P01`, or a user rule's own id.
    pub rule: String,
    /// Its severity after escalation.
    pub severity: Severity,
    /// One sentence in authentik's terms.
    pub message: String,
    /// The objects involved, most specific first.
    pub objects: Vec<ObjectRef>,
    /// What to change.
    pub remediation: String,
    /// The derivation, as `explain` prints it (text, one step per line).
    pub explanation: String,
}
