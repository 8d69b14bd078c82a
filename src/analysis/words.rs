//! Explanations in authentik's words: the sentence `explain` leads with, a reading of the proof
//! nodes an administrator cares about, and the proof tree folded to its deciding branch and
//! wrapped to a width.
//!
//! Nothing here decides anything: every answer is a row the rules derived; this module only says
//! it the way authentik's admin interface would (bindings, groups, policies, "evaluated when").

use super::Model;
use super::views::{
    ANON, AllModeFail, Applicable, Binding, BindingGroup, BindingNegate, BindingPolicy,
    BindingUser, Braw, Decide, DirectMember, ExprRaw, ExprStaticStep, ExprStep, FlowAuthentication,
    FlowPart, Fsb, FsbEvaluateOnPlan, FsbReEvaluatePolicies, Gate, GroupParent, IdPass, Live,
    Member, MemberCut, OpenBinding, PlanId, RunId, RunResult, RunSplit, SomeGives, StagePart,
    Target, UserActive, Val, View, Visible, read_as,
};
use crate::datalog::provenance::{Because, Blocked, Explanation, Proof, WhyNot};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

/// Relations that restate the configuration's structure (a binding exists, is enabled, the
/// subject is who was asked about): true in every proof, folded away by default.
const ROUTINE: &[&str] = &[
    "fsb",
    "entry",
    "subject",
    "query_subject",
    "user",
    "identity",
    "known",
    "target",
    "target_ctx",
    "binding",
    "binding_enabled",
    "has_subject",
    "identity_binding",
    "live",
    "binding_ctx",
    "pooled",
    "maybe_pooled",
    "member_cut",
    "id_unknown",
    "flow",
    "stage",
    "ident_fsb",
    "plan_id",
    "binding_negate",
    "ctx",
    "restricted",
    "entitlement",
    "run_id",
    "has_live",
    "fsb_evaluate_on_plan",
    "fsb_re_evaluate_policies",
];

/// The rows `explain` reads to word its answer, read once from a model.
pub struct Words {
    rows: Rows,
    users: BTreeMap<String, String>,
    groups: BTreeMap<String, String>,
    policies: BTreeMap<String, String>,
    labels: super::Labels,
}

/// The relations the wording reads, one view each.
struct Rows {
    target: Vec<Target>,
    live: Vec<Live>,
    binding: Vec<Binding>,
    binding_group: Vec<BindingGroup>,
    binding_user: Vec<BindingUser>,
    binding_policy: Vec<BindingPolicy>,
    binding_negate: Vec<BindingNegate>,
    val: Vec<Val>,
    decide: Vec<Decide>,
    member: Vec<Member>,
    member_cut: Vec<MemberCut>,
    direct_member: Vec<DirectMember>,
    group_parent: Vec<GroupParent>,
    open_binding: Vec<OpenBinding>,
    fsb: Vec<Fsb>,
    fsb_evaluate_on_plan: Vec<FsbEvaluateOnPlan>,
    fsb_re_evaluate_policies: Vec<FsbReEvaluatePolicies>,
    applicable: Vec<Applicable>,
    gate: Vec<Gate>,
    flow_authentication: Vec<FlowAuthentication>,
    run_id: Vec<RunId>,
    plan_id: Vec<PlanId>,
    visible: Vec<Visible>,
    user_active: Vec<UserActive>,
    expr_step: Vec<ExprStep>,
    expr_static_step: Vec<ExprStaticStep>,
}

impl Words {
    /// Reads what the wording needs from a model (one about a few users: `explain`'s).
    pub fn new(model: &Model) -> Words {
        let member: Vec<Member> = model.view();
        // Memberships are read for the identities asked about, not for every user.
        let asked: BTreeSet<&str> = member.iter().map(|r| r.identity.as_str()).collect();
        let mut direct_member: Vec<DirectMember> = model.view();
        direct_member.retain(|r| asked.contains(r.user.as_str()));
        let rows = Rows {
            target: model.view(),
            live: model.view(),
            binding: model.view(),
            binding_group: model.view(),
            binding_user: model.view(),
            binding_policy: model.view(),
            binding_negate: model.view(),
            val: model.view(),
            decide: model.view(),
            member_cut: model.view(),
            direct_member,
            member,
            group_parent: model.view(),
            open_binding: model.view(),
            fsb: model.view(),
            fsb_evaluate_on_plan: model.view(),
            fsb_re_evaluate_policies: model.view(),
            applicable: model.view(),
            gate: model.view(),
            flow_authentication: model.view(),
            run_id: model.view(),
            plan_id: model.view(),
            visible: model.view(),
            user_active: model.view(),
            expr_step: model.view(),
            expr_static_step: model.view(),
        };
        Words {
            rows,
            users: model.names("user", "username"),
            groups: model.names("group", "name"),
            policies: model.names("policy", "name"),
            labels: model.labels(),
        }
    }

    /// Who an identity is, for a sentence: the username, or "the anonymous visitor".
    pub fn who(&self, identity: &str) -> String {
        if identity == ANON {
            return "the anonymous visitor".into();
        }
        self.users
            .get(identity)
            .cloned()
            .unwrap_or_else(|| identity.to_string())
    }

    fn group(&self, g: &str) -> String {
        format!(
            "group {}",
            self.groups.get(g).cloned().unwrap_or_else(|| g.into())
        )
    }

    /// The readable name of an object id that is not a user's (as in the proofs' labels), or the id.
    pub fn label(&self, id: &str) -> String {
        self.labels.object(id)
    }

    /// The shortest chain of groups from one of the identity's direct groups up to `g`.
    fn membership_path(&self, identity: &str, g: &str) -> Option<Vec<String>> {
        let mut parents: HashMap<&str, Vec<&str>> = HashMap::new();
        for r in &self.rows.group_parent {
            parents.entry(&r.child).or_default().push(&r.parent);
        }
        let mut prev: HashMap<&str, Option<&str>> = HashMap::new();
        let mut queue = VecDeque::new();
        let mut starts: Vec<&str> = self
            .rows
            .direct_member
            .iter()
            .filter(|r| r.user == identity)
            .map(|r| r.group.as_str())
            .collect();
        starts.sort_unstable();
        for s in starts {
            prev.insert(s, None);
            queue.push_back(s);
        }
        while let Some(at) = queue.pop_front() {
            if at == g {
                let mut chain = vec![at.to_string()];
                let mut here = at;
                while let Some(Some(p)) = prev.get(here) {
                    chain.push((*p).to_string());
                    here = p;
                }
                chain.reverse();
                return Some(chain);
            }
            let mut ups = parents.get(at).cloned().unwrap_or_default();
            ups.sort_unstable();
            for p in ups {
                if !prev.contains_key(p) {
                    prev.insert(p, Some(at));
                    queue.push_back(p);
                }
            }
        }
        None
    }

    /// Whether the identity is a member of group `g`, in words ("is a direct member", "is a
    /// member through Backend -> Engineering", "is not a member of ... (nor of any group below it)").
    pub fn membership(&self, identity: &str, g: &str) -> String {
        if identity == ANON {
            return "the anonymous visitor is a member of no group".into();
        }
        let who = self.who(identity);
        let of = |i: &str, group: &str| i == identity && group == g;
        if self
            .rows
            .member_cut
            .iter()
            .any(|r| of(&r.identity, &r.group))
        {
            return format!(
                "{who} is a member of {} only through an ancestor 20 or more levels up, which \
                 authentik up to 2025.10 does not follow",
                self.group(g)
            );
        }
        if self
            .rows
            .direct_member
            .iter()
            .any(|r| of(&r.user, &r.group))
        {
            return format!("{who} is a direct member");
        }
        let member = self.rows.member.iter().any(|r| of(&r.identity, &r.group));
        match self.membership_path(identity, g) {
            Some(chain) if member => {
                let names: Vec<String> = chain
                    .iter()
                    .map(|c| self.groups.get(c).cloned().unwrap_or_else(|| c.clone()))
                    .collect();
                format!("{who} is a member through {}", names.join(" -> "))
            }
            _ => format!(
                "{who} is not a member of {} (nor of any group below it)",
                self.group(g)
            ),
        }
    }

    /// Binding `b`'s row.
    fn binding_row(&self, b: &str) -> Option<&Binding> {
        self.rows.binding.iter().find(|r| r.binding == b)
    }

    /// " at order N": where an administrator finds binding `b` in the target's list of
    /// bindings (authentik's "Order" column).
    fn order(&self, b: &str) -> String {
        self.binding_row(b)
            .map_or_else(String::new, |r| format!(" at order {}", r.order))
    }

    fn negated(&self, b: &str) -> bool {
        self.rows.binding_negate.iter().any(|r| r.binding == b)
    }

    /// The group binding `b` checks.
    fn group_of(&self, b: &str) -> Option<&str> {
        let r = self.rows.binding_group.iter().find(|r| r.binding == b);
        r.map(|r| r.group.as_str())
    }

    /// The user binding `b` checks.
    fn user_of(&self, b: &str) -> Option<&str> {
        let r = self.rows.binding_user.iter().find(|r| r.binding == b);
        r.map(|r| r.user.as_str())
    }

    /// The policy binding `b` runs.
    fn policy_of(&self, b: &str) -> Option<&str> {
        let r = self.rows.binding_policy.iter().find(|r| r.binding == b);
        r.map(|r| r.policy.as_str())
    }

    /// The steps of expression policy binding `b` that decide it for `identity` in context `c`:
    /// the construct at its line and what it gave.
    fn expr_steps(&self, b: &str, identity: &str, c: &str) -> Option<String> {
        let mut steps: Vec<&str> = self
            .rows
            .expr_step
            .iter()
            .filter(|r| r.binding == b && r.context == c && r.identity == identity)
            .map(|r| r.text.as_str())
            .collect();
        if steps.is_empty() {
            steps = self.static_steps(b, c).map(|r| r.text.as_str()).collect();
        }
        steps.sort_unstable();
        steps.dedup();
        (!steps.is_empty()).then(|| steps.join("; "))
    }

    /// The steps of expression policy binding `b` in context `c` that are the same for everyone.
    fn static_steps(&self, b: &str, c: &str) -> impl Iterator<Item = &ExprStaticStep> {
        let (b, c) = (b.to_string(), c.to_string());
        self.rows
            .expr_static_step
            .iter()
            .filter(move |r| r.binding == b && r.context == c)
    }

    /// What binding `b` checks and what that gives for `identity` in context `c`.
    pub fn binding(&self, b: &str, identity: &str, c: &str, value: &str) -> String {
        let order = self.order(b);
        let negate = if self.negated(b) { " (negated)" } else { "" };
        if let Some(g) = self.group_of(b) {
            return format!(
                "the binding{order} requires {}{negate}, and {}",
                self.group(g),
                self.membership(identity, g)
            );
        }
        if let Some(u) = self.user_of(b) {
            let is = if u == identity { "is" } else { "is not" };
            return format!(
                "the binding{order} requires user {}{negate}, and {} {is} that user",
                self.who(u),
                self.who(identity)
            );
        }
        if let Some(p) = self.policy_of(b) {
            let name = self
                .policies
                .get(p)
                .cloned()
                .unwrap_or_else(|| p.to_string());
            let steps = self
                .expr_steps(b, identity, c)
                .map_or_else(String::new, |s| format!(" ({s})"));
            let result = match value {
                "pass" => format!("passes{steps}"),
                "fail" => format!("fails{steps}"),
                _ => {
                    let why: BTreeSet<&str> = self
                        .rows
                        .open_binding
                        .iter()
                        .filter(|o| o.identity == identity && o.context == c && o.binding == b)
                        .map(|o| o.why.as_str())
                        .collect();
                    if why.is_empty() {
                        "is decided only at run time".to_string()
                    } else {
                        format!(
                            "is decided only at run time: {}",
                            why.into_iter().collect::<Vec<_>>().join("; ")
                        )
                    }
                }
            };
            return format!("the binding{order} runs policy {name}{negate}, which {result}");
        }
        format!("the binding{order} gives {value}")
    }

    /// Why target `t` decides what it does for `identity` in context `c`: the bindings that
    /// decide it, each in words.
    pub fn target(&self, t: &str, identity: &str, c: &str) -> (String, Vec<String>) {
        let value = self
            .rows
            .decide
            .iter()
            .find(|r| r.target == t && r.identity == identity && r.context == c)
            .map_or_else(|| "unknown".to_string(), |r| r.value.clone());
        let mode = self
            .rows
            .target
            .iter()
            .find(|r| r.target == t)
            .map_or_else(|| "any".to_string(), |r| r.mode.clone());
        let live = self.live_in_order(t);
        if live.is_empty() {
            let verdict = if value == "pass" {
                "which passes"
            } else {
                "which fails"
            };
            return (
                value,
                vec![format!("no binding is in force on it, {verdict}")],
            );
        }
        // The bindings that decide: in mode `any`, a passing one decides a pass, every one a
        // fail; in mode `all`, a failing one decides a fail, every one a pass; the unknown ones
        // decide an unknown.
        let wanted: &[&str] = match (mode.as_str(), value.as_str()) {
            (_, "unknown") => &["unknown"],
            ("all", "fail") => &["fail"],
            ("all", _) => &["pass", "fail", "unknown"],
            (_, "pass") => &["pass"],
            _ => &["pass", "fail", "unknown"],
        };
        let clauses: Vec<String> = live
            .iter()
            .map(|b| (*b, self.val(b, identity, c)))
            .filter(|(_, v)| wanted.contains(&v.as_str()))
            .map(|(b, v)| self.binding(b, identity, c, &v))
            .collect();
        (value, clauses)
    }

    /// Every binding in force on target `t`, in order, with what it gives `identity` in `c`.
    fn live_bindings(&self, t: &str, identity: &str, c: &str) -> Vec<String> {
        self.live_in_order(t)
            .into_iter()
            .map(|b| self.binding(b, identity, c, &self.val(b, identity, c)))
            .collect()
    }

    /// The bindings in force on target `t` (pks), by their order.
    fn live_in_order(&self, t: &str) -> Vec<&str> {
        let mut live: Vec<(i64, &str)> = self
            .rows
            .live
            .iter()
            .filter(|r| r.target == t)
            .map(|r| {
                let order = self
                    .binding_row(&r.binding)
                    .and_then(|b| b.order.parse().ok())
                    .unwrap_or(0);
                (order, r.binding.as_str())
            })
            .collect();
        live.sort_unstable();
        live.into_iter().map(|(_, b)| b).collect()
    }

    /// What binding `b` gives `identity` in context `c`: pass, fail or unknown.
    fn val(&self, b: &str, identity: &str, c: &str) -> String {
        self.rows
            .val
            .iter()
            .find(|r| r.binding == b && r.identity == identity && r.context == c)
            .map_or_else(|| "unknown".to_string(), |r| r.value.clone())
    }

    /// One sentence on why a stage is shown, skipped or unknown for a subject entering as `entry`.
    pub fn stage(&self, x: &str, entry: &str, subject: &str) -> String {
        let visible = self
            .rows
            .visible
            .iter()
            .find(|r| r.binding == x && r.entry == entry && r.subject == subject)
            .map_or_else(|| "unknown".to_string(), |r| r.value.clone());
        let wanted = match visible.as_str() {
            "skipped" => "fail",
            "unknown" => "unknown",
            _ => "pass",
        };
        let mut parts: Vec<String> = Vec::new();
        let flow = self
            .rows
            .fsb
            .iter()
            .find(|r| r.binding == x)
            .map_or_else(String::new, |r| r.flow.clone());
        let applicable = self
            .rows
            .applicable
            .iter()
            .find(|r| r.flow == flow && r.entry == entry && r.subject == subject)
            .map_or_else(|| "unknown".to_string(), |r| r.value.clone());
        if applicable != "pass" && applicable == wanted {
            parts.push(self.flow_part(&flow, entry, subject, &applicable));
        }
        let plan_id = self.plan_id(entry, subject);
        let on_plan = self
            .rows
            .fsb_evaluate_on_plan
            .iter()
            .any(|r| r.binding == x);
        let on_run = self
            .rows
            .fsb_re_evaluate_policies
            .iter()
            .any(|r| r.binding == x);
        if on_plan {
            let (v, clauses) = self.target(x, &plan_id, "stage_plan");
            if v == wanted && !clauses.is_empty() {
                parts.push(format!(
                    "{}; evaluated when the flow is planned, for {}",
                    clauses.join(", and "),
                    self.who(&plan_id)
                ));
            }
        }
        if on_run {
            let mut ids: Vec<&str> = self
                .rows
                .run_id
                .iter()
                .filter(|r| r.binding == x && r.entry == entry && r.subject == subject)
                .map(|r| r.identity.as_str())
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let split = ids.len() > 1;
            for i in ids {
                let (v, clauses) = self.target(x, i, "stage_run");
                if (v == wanted || (split && wanted == "unknown")) && !clauses.is_empty() {
                    let whom = if split {
                        format!(
                            " (as {}: whether the visitor has identified by then is not known)",
                            self.who(i)
                        )
                    } else if i != subject {
                        format!(" (for {}, not yet identified)", self.who(i))
                    } else {
                        String::new()
                    };
                    parts.push(format!(
                        "{}; evaluated when the stage is run{whom}",
                        clauses.join(", and ")
                    ));
                }
            }
        }
        if parts.is_empty() && visible == "shown" {
            parts.push(if !on_plan && !on_run {
                "its bindings are never evaluated (neither evaluate_on_plan nor \
                 re_evaluate_policies is set), and the flow applies"
                    .into()
            } else {
                "the flow applies and no check fails".into()
            });
        }
        format!("{visible}: {}.", parts.join(". "))
    }

    /// The identity a flow is planned for, for `subject` entering as `entry`.
    fn plan_id(&self, entry: &str, subject: &str) -> String {
        self.rows
            .plan_id
            .iter()
            .find(|r| r.entry == entry && r.subject == subject)
            .map_or_else(|| subject.to_string(), |r| r.identity.clone())
    }

    fn flow_part(&self, flow: &str, entry: &str, subject: &str, value: &str) -> String {
        let gate = self
            .rows
            .gate
            .iter()
            .find(|r| r.flow == flow && r.entry == entry && r.subject == subject)
            .map(|r| r.value.clone());
        if gate.as_deref() == Some(value) {
            let auth = self
                .rows
                .flow_authentication
                .iter()
                .find(|r| r.flow == flow)
                .map_or_else(String::new, |r| r.gate.clone());
            let verdict = if value == "fail" {
                "is not met"
            } else {
                "is known only at run time"
            };
            return format!(
                "the flow's authentication requirement ({auth}) {verdict} for {}",
                self.who(subject)
            );
        }
        let plan_id = self.plan_id(entry, subject);
        let (_, clauses) = self.target(flow, &plan_id, "flow");
        format!(
            "the flow does not apply: {}; evaluated when the flow is planned",
            clauses.join(", and ")
        )
    }

    /// One sentence on why a user may open an application or not.
    pub fn application(&self, app: &str, user: &str) -> String {
        let (value, clauses) = self.target(app, user, "app");
        let verdict = match value.as_str() {
            "pass" => "yes",
            "fail" => "no",
            _ => "unknown",
        };
        let inactive = if self.rows.user_active.iter().any(|r| r.user == user) || user == ANON {
            ""
        } else {
            " (the account is inactive: authentik refuses its login before any policy)"
        };
        format!(
            "{verdict}: {}; evaluated when {} opens the application{inactive}.",
            clauses.join(", and "),
            self.who(user)
        )
    }

    /// The reading of `some(T, I, C, V)` not holding: "no binding in force on T gives V for I",
    /// and every binding in force with what it gives (empty when there is none).
    fn no_binding_gives(&self, v: &SomeGives) -> (String, String) {
        let head = format!(
            "no binding in force on {} gives {} for {}",
            self.label(&v.target),
            v.value,
            self.who(&v.identity)
        );
        let clauses = self.live_bindings(&v.target, &v.identity, &v.context);
        (head, clauses.join("; "))
    }

    /// Whether the reading of proof node `p` already tells the expression steps below it: a
    /// binding's value (`val`) whose policy binding's expression decided it.
    fn tells_expression(&self, p: &Proof) -> bool {
        if !Val::RELATIONS.contains(&p.relation.as_str())
            || matches!(p.because, Because::Absent)
            || p.values.len() != Val::COLUMNS.len()
        {
            return false;
        }
        let v = Val::of(&p.values);
        self.policy_of(&v.binding).is_some()
            && self
                .expr_steps(&v.binding, &v.identity, &v.context)
                .is_some()
    }

    /// A reading of one proof node in authentik's words, where there is one.
    pub fn gloss(&self, p: &Proof) -> Option<String> {
        let negated = matches!(p.because, Because::Absent);
        // The node's tuple read as view `V` when it is a tuple of V's relation.
        fn read<V: View>(p: &Proof) -> Option<V> {
            read_as(&p.relation, &p.values)
        }
        if let Some(v) = read::<Member>(p) {
            return Some(self.membership(&v.identity, &v.group));
        }
        if let Some(v) = read::<IdPass>(p) {
            let i = &v.identity;
            return match self.group_of(&v.binding) {
                Some(g) => Some(self.membership(i, g)),
                None => self.user_of(&v.binding).map(|u| {
                    let is = if u == i { "is" } else { "is not" };
                    format!("{} {is} user {}", self.who(i), self.who(u))
                }),
            };
        }
        if negated {
            if let Some(v) = read::<SomeGives>(p) {
                let (head, clauses) = self.no_binding_gives(&v);
                return Some(if clauses.is_empty() {
                    head
                } else {
                    format!("{head}: {clauses}")
                });
            }
            if let Some(v) = read::<RunResult>(p) {
                return Some(format!(
                    "the check when the stage is run does not give {}",
                    v.value
                ));
            }
            if read::<RunSplit>(p).is_some() {
                return Some(
                    "the check when the stage is run gives the same for every identity it may see"
                        .into(),
                );
            }
            if let Some(v) = read::<StagePart>(p) {
                return Some(format!(
                    "no part of the check ({}, when planned, when run) gives {}",
                    "the flow applies", v.value
                ));
            }
            if let Some(v) = read::<FlowPart>(p) {
                return Some(format!(
                    "neither the flow's authentication requirement nor its policies give {}",
                    v.value
                ));
            }
            return None;
        }
        if let Some(v) = read::<Val>(p) {
            return Some(self.binding(&v.binding, &v.identity, &v.context, &v.value));
        }
        if let Some(v) = read::<AllModeFail>(p) {
            return Some(self.binding(&v.binding, &v.identity, &v.context, "fail"));
        }
        if let Some(v) = read::<ExprRaw>(p) {
            return self
                .expr_steps(&v.binding, &v.identity, &v.context)
                .map(|s| {
                    format!(
                        "the expression gives {} for {}: {s}",
                        v.value,
                        self.who(&v.identity)
                    )
                });
        }
        if let Some(v) = read::<Braw>(p) {
            return self.static_steps(&v.binding, &v.context).next().map(|_| {
                let s = self
                    .expr_steps(&v.binding, "", &v.context)
                    .unwrap_or_default();
                format!("the expression gives {} for everyone: {s}", v.value)
            });
        }
        if let Some(v) = read::<Decide>(p) {
            return Some(format!(
                "{} decides {} for {}",
                self.label(&v.target),
                v.value,
                self.who(&v.identity)
            ));
        }
        if let Some(v) = read::<Visible>(p) {
            return Some(format!(
                "{} is {} for {}",
                self.label(&v.binding),
                v.value,
                self.who(&v.subject)
            ));
        }
        if let Some(v) = read::<Applicable>(p) {
            return Some(format!(
                "{} gives {} for {} (its authentication requirement and its policies)",
                self.label(&v.flow),
                v.value,
                self.who(&v.subject)
            ));
        }
        if let Some(v) = read::<StagePart>(p) {
            return Some(format!("a part of the check gives {}", v.value));
        }
        if let Some(v) = read::<RunResult>(p) {
            return Some(format!("the check when the stage is run gives {}", v.value));
        }
        None
    }
}

/// How a folded tree is drawn.
pub struct Fold<'w> {
    /// The words for glosses.
    pub words: &'w Words,
    /// Lines are wrapped to this many characters (at least 40).
    pub width: usize,
    /// The whole proof (`--full`), or only its deciding branch.
    pub full: bool,
}

/// Renders an explanation as a tree: the whole proof with `fold.full`, else folded to its
/// deciding branch (routine facts left out), each deciding step with its reading
/// in authentik's words; labels applied, wrapped to the width.
pub fn render(e: &Explanation, fold: &Fold) -> String {
    let mut lines: Vec<(String, String, String)> = Vec::new();
    match e {
        Explanation::Holds(p) => {
            if fold.full {
                lines.push((String::new(), String::new(), format!("{} holds", p.tuple)));
            }
            node(p, fold, ("", "", ""), &mut BTreeSet::new(), &mut lines);
        }
        Explanation::DoesNotHold(w) => {
            lines.push((
                String::new(),
                String::new(),
                format!("{} does not hold", w.tuple),
            ));
            why(w, fold, "", &mut lines);
        }
    }
    let mut out = String::new();
    for (prefix, cont, text) in lines {
        let text = super::label_text(&text, &fold.words.labels);
        wrap(&prefix, &cont, &text, fold.width, &mut out);
    }
    out
}

fn short_location(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}

/// Draws proof node `p` after `(prefix, branch)`, its subtree after `prefix` and `cont`. `told`
/// holds the bindings' readings already drawn, so that a sibling saying the same (no binding
/// gives pass, nor unknown) refers to them instead of repeating every binding and its steps.
fn node(
    p: &Proof,
    fold: &Fold,
    (prefix, branch, cont): (&str, &str, &str),
    told: &mut BTreeSet<String>,
    out: &mut Vec<(String, String, String)>,
) {
    let what = match &p.because {
        Because::Input(Some((f, l))) if fold.full => format!("input fact, {f}:{l}"),
        Because::Input(_) => "input fact".into(),
        Because::Rule { location, text } if fold.full => format!("by {location}  {text}"),
        Because::Rule { location, .. } => short_location(location).to_string(),
        Because::Absent => "no such tuple".into(),
        Because::Aggregate => "aggregate".into(),
        Because::Deeper => format!(
            "the proof goes on; not shown beyond {} levels",
            crate::datalog::provenance::PROOF_DEPTH
        ),
    };
    let gloss = if fold.full {
        None
    } else if SomeGives::RELATIONS.contains(&p.relation.as_str())
        && matches!(p.because, Because::Absent)
        && p.values.len() == SomeGives::COLUMNS.len()
    {
        // A second "no binding gives ..." over the same bindings refers to the first.
        let (head, clauses) = fold.words.no_binding_gives(&SomeGives::of(&p.values));
        if !clauses.is_empty() && !told.insert(clauses) {
            Some(format!("{head} (each binding as above)"))
        } else {
            fold.words.gloss(p)
        }
    } else {
        fold.words.gloss(p)
    };
    let text = match &gloss {
        Some(g) => format!("{g}  [{}; {what}]", p.relation),
        None => format!("{}  [{what}]", p.tuple),
    };
    out.push((format!("{prefix}{branch}"), format!("{prefix}{cont}"), text));
    let child_prefix = format!("{prefix}{cont}");
    // Folded, a negation stands as its reading (or its one line); the full proof goes on under
    // it into why the negated tuple does not hold.
    if let Some(w) = &p.absent
        && fold.full
    {
        why(w, fold, &child_prefix, out);
    }
    // A node read in words stands for its whole subtree unless the full proof is asked for
    // (a binding's value does when its reading already tells the expression's steps).
    let children: Vec<&Proof> = if fold.full {
        p.children.iter().collect()
    } else if gloss.is_some()
        && (matches!(
            p.relation.as_str(),
            "member" | "id_pass" | "expr_raw" | "braw"
        ) || fold.words.tells_expression(p))
    {
        Vec::new()
    } else {
        p.children
            .iter()
            .filter(|c| !ROUTINE.contains(&c.relation.as_str()))
            .collect()
    };
    for (i, c) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        let (b, k) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        node(c, fold, (&child_prefix, b, k), told, out);
    }
}

fn why(w: &WhyNot, fold: &Fold, prefix: &str, out: &mut Vec<(String, String, String)>) {
    if w.rules.is_empty() {
        let what = if w.input_relation {
            "it is not among the input facts and no rule derives it"
        } else {
            "no rule derives it"
        };
        out.push((
            format!("{prefix}└─ "),
            format!("{prefix}   "),
            what.to_string(),
        ));
        return;
    }
    // A rule whose head cannot give this tuple at all says nothing about it.
    let rules: Vec<&Blocked> = w
        .rules
        .iter()
        .filter(|b| b.reason != "the head does not match this tuple")
        .collect();
    for (i, b) in rules.iter().enumerate() {
        let last = i + 1 == rules.len();
        let (branch, cont) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        blocked(
            b,
            fold,
            &format!("{prefix}{branch}"),
            &format!("{prefix}{cont}"),
            out,
        );
    }
}

fn blocked(
    b: &Blocked,
    fold: &Fold,
    first: &str,
    cont: &str,
    out: &mut Vec<(String, String, String)>,
) {
    let rule = if fold.full {
        format!("rule {}  {}", b.location, b.text)
    } else {
        format!("rule {}", short_location(&b.location))
    };
    out.push((
        first.to_string(),
        cont.to_string(),
        format!("{rule}: stops at {}: {}", b.failed, b.reason),
    ));
    if let Some(d) = &b.deeper {
        out.push((
            cont.to_string(),
            cont.to_string(),
            format!("{} does not hold", d.tuple),
        ));
        why(d, fold, cont, out);
    }
}

/// Writes `text` after `first`, wrapped at `width` characters on word boundaries; continuation
/// lines start with `cont` and two spaces. A word longer than the room is written whole.
pub fn wrap(first: &str, cont: &str, text: &str, width: usize, out: &mut String) {
    let width = width.max(40);
    let mut line = first.to_string();
    let mut used = first.chars().count();
    let mut empty = true;
    let indent = format!("{cont}  ");
    let indent_len = indent.chars().count();
    for word in text.split(' ') {
        let n = word.chars().count();
        if !empty && used + 1 + n > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.clone();
            used = indent_len;
            empty = true;
        }
        if !empty {
            line.push(' ');
            used += 1;
        }
        line.push_str(word);
        used += n;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrap_breaks_on_words_and_indents_continuations() {
        let mut out = String::new();
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen";
        wrap("├─ ", "│  ", text, 40, &mut out);
        assert_eq!(
            out,
            "├─ one two three four five six seven\n│    eight nine ten eleven twelve\n│    thirteen\n"
        );
        assert!(out.lines().all(|l| l.chars().count() <= 40));
    }
}
