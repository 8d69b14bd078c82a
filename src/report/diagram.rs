//! A flow as a diagram (Mermaid or Graphviz DOT): its stages in plan order, each with its
//! policy, group and user bindings and when they are evaluated, and, for one user, which stages
//! are shown, skipped or unknown. authentik's own flow diagram leaves out user and group
//! bindings and evaluation timing; this one does not.

use crate::analysis::Plan;
use crate::snapshot::{PolicyBinding, Snapshot, Subject};
use std::fmt::Write;

/// One policy, group or user binding, as drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingNode {
    /// `policy NAME`, `group NAME` or `user NAME`, with the binding's order.
    pub label: String,
    /// negate, disabled, failure_result=pass.
    pub flags: Vec<&'static str>,
}

/// One flow-stage binding, as drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageNode {
    /// Its order.
    pub order: i32,
    /// The stage's name.
    pub stage: String,
    /// The stage's type, short (`identification`, `password`, ...).
    pub kind: String,
    /// When its bindings are evaluated: `plan`, `run`, `plan+run` or `never`.
    pub evaluated: &'static str,
    /// How its bindings combine.
    pub mode: String,
    /// shown, skipped or unknown for the user asked about.
    pub visibility: Option<String>,
    /// Its bindings, by order.
    pub bindings: Vec<BindingNode>,
}

/// A flow, as drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagram {
    /// The flow's slug.
    pub flow: String,
    /// The flow's designation and authentication gate.
    pub about: String,
    /// Who the styling is for, how they enter and whether the flow applies.
    pub subject: Option<String>,
    /// The flow's own policy bindings (applicability), by order.
    pub flow_bindings: Vec<BindingNode>,
    /// The stages, in plan order.
    pub stages: Vec<StageNode>,
}

fn binding_node(snapshot: &Snapshot, b: &PolicyBinding) -> BindingNode {
    let label = match &b.subject {
        Subject::Policy(p) => snapshot.policies.iter().find(|x| &x.pk == p).map_or_else(
            || format!("policy {p}"),
            |x| {
                let kind = x
                    .kind
                    .rsplit('.')
                    .next()
                    .unwrap_or("")
                    .trim_end_matches("policy");
                format!("policy {} ({kind})", x.name)
            },
        ),
        Subject::Group(g) => snapshot
            .groups
            .iter()
            .find(|x| &x.pk == g)
            .map_or_else(|| format!("group {g}"), |x| format!("group {}", x.name)),
        Subject::User(u) => snapshot
            .users
            .iter()
            .find(|x| x.pk == *u)
            .map_or_else(|| format!("user {u}"), |x| format!("user {}", x.username)),
    };
    let mut flags = Vec::new();
    if b.negate {
        flags.push("negate");
    }
    if !b.enabled {
        flags.push("disabled");
    }
    if b.failure_result && matches!(b.subject, Subject::Policy(_)) {
        flags.push("failure_result=pass");
    }
    BindingNode {
        label: format!("{}: {label}", b.order),
        flags,
    }
}

fn bindings_of(snapshot: &Snapshot, target: &str) -> Vec<BindingNode> {
    let mut list: Vec<&PolicyBinding> = snapshot
        .policy_bindings
        .iter()
        .filter(|b| &*b.target == target)
        .collect();
    list.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
    list.into_iter()
        .map(|b| binding_node(snapshot, b))
        .collect()
}

/// The diagram of flow `slug`, styled by `plan` when a user was asked about.
pub fn build(snapshot: &Snapshot, slug: &str, plan: Option<&Plan>) -> Result<Diagram, String> {
    let flow = snapshot
        .flows
        .iter()
        .find(|f| &*f.slug == slug)
        .ok_or_else(|| {
            let known: Vec<&str> = snapshot.flows.iter().map(|f| &*f.slug).collect();
            crate::suggest::unknown("flow with the slug", slug, &known)
        })?;
    let mut fsbs: Vec<_> = snapshot
        .flow_bindings
        .iter()
        .filter(|x| x.target == flow.pk)
        .collect();
    fsbs.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.pk.cmp(&b.pk)));
    let stages = fsbs
        .iter()
        .map(|x| {
            let stage = snapshot.stages.iter().find(|s| s.pk == x.stage);
            let kind = stage
                .map(|s| {
                    s.kind
                        .rsplit('.')
                        .next()
                        .unwrap_or("")
                        .trim_end_matches("stage")
                        .to_string()
                })
                .unwrap_or_default();
            let evaluated = match (x.evaluate_on_plan, x.re_evaluate_policies) {
                (true, true) => "plan+run",
                (true, false) => "plan",
                (false, true) => "run",
                (false, false) => "never",
            };
            let visibility = plan.and_then(|p| {
                p.stages
                    .iter()
                    .find(|s| s.binding == *x.pk)
                    .map(|s| s.visibility.clone())
            });
            StageNode {
                order: x.order,
                stage: stage.map_or_else(|| x.stage.to_string(), |s| s.name.to_string()),
                kind,
                evaluated,
                mode: x.policy_engine_mode.as_str().to_string(),
                visibility,
                bindings: bindings_of(snapshot, &x.pk),
            }
        })
        .collect();
    Ok(Diagram {
        flow: flow.slug.to_string(),
        about: format!(
            "{}, authentication {}, mode {}",
            flow.designation.as_str(),
            flow.authentication.as_str(),
            flow.policy_engine_mode.as_str()
        ),
        subject: plan.map(|p| {
            format!(
                "{}, entered {}: applicable {}",
                p.user.as_deref().unwrap_or("anonymous visitor"),
                p.entry,
                p.applicable
            )
        }),
        flow_bindings: bindings_of(snapshot, &flow.pk),
        stages,
    })
}

fn binding_text(b: &BindingNode) -> String {
    if b.flags.is_empty() {
        b.label.clone()
    } else {
        format!("{} [{}]", b.label, b.flags.join(", "))
    }
}

fn stage_lines(s: &StageNode) -> Vec<String> {
    let mut lines = vec![
        format!("{} {}", s.order, s.stage),
        format!(
            "{} stage, evaluated {}, mode {}",
            s.kind, s.evaluated, s.mode
        ),
    ];
    if let Some(v) = &s.visibility {
        lines.push(format!("visibility: {v}"));
    }
    lines
}

/// Escapes text for a double-quoted Mermaid label (entity codes, as Mermaid documents them).
pub fn escape_mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '#' => out.push_str("#35;"),
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '`' => out.push_str("#96;"),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Escapes text for a double-quoted DOT string.
pub fn escape_dot(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

const CLASSES: [(&str, &str, &str); 3] = [
    ("shown", "#dafbe1", "#1a7f37"),
    ("skipped", "#ffebe9", "#cf222e"),
    ("unknown", "#fff8c5", "#9a6700"),
];

impl Diagram {
    fn head_lines(&self) -> Vec<String> {
        let mut lines = vec![format!("flow {}", self.flow), self.about.clone()];
        if let Some(s) = &self.subject {
            lines.push(s.clone());
        }
        lines
    }

    /// Mermaid `flowchart`: nodes `flow`, `s0..`, `end`; bindings `f0..`, `s0b0..` with dotted
    /// links; classes `shown`, `skipped`, `unknown` on the stages when a user was asked about.
    pub fn to_mermaid(&self) -> String {
        let join = |lines: Vec<String>| {
            lines
                .iter()
                .map(|l| escape_mermaid(l))
                .collect::<Vec<_>>()
                .join("<br/>")
        };
        let mut o = String::from("flowchart TD\n");
        let _ = writeln!(o, "  flow([\"{}\"])", join(self.head_lines()));
        for (i, b) in self.flow_bindings.iter().enumerate() {
            let _ = writeln!(
                o,
                "  f{i}[/\"{}\"/] -.- flow",
                escape_mermaid(&binding_text(b))
            );
        }
        let mut prev = "flow".to_string();
        for (i, s) in self.stages.iter().enumerate() {
            let _ = writeln!(o, "  s{i}[\"{}\"]", join(stage_lines(s)));
            let _ = writeln!(o, "  {prev} --> s{i}");
            for (j, b) in s.bindings.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "  s{i}b{j}[/\"{}\"/] -.- s{i}",
                    escape_mermaid(&binding_text(b))
                );
            }
            prev = format!("s{i}");
        }
        let _ = writeln!(o, "  done([\"end of flow\"])\n  {prev} --> done");
        for (class, fill, stroke) in CLASSES {
            let dash = if class == "skipped" {
                ",stroke-dasharray:5 3"
            } else {
                ""
            };
            let members: Vec<String> = self
                .stages
                .iter()
                .enumerate()
                .filter(|(_, s)| s.visibility.as_deref() == Some(class))
                .map(|(i, _)| format!("s{i}"))
                .collect();
            if !members.is_empty() {
                let _ = writeln!(
                    o,
                    "  classDef {class} fill:{fill},stroke:{stroke}{dash}\n  class {} {class}",
                    members.join(",")
                );
            }
        }
        o
    }

    /// Graphviz DOT: the same nodes and classes as [`Diagram::to_mermaid`], each class filled
    /// with its colour (skipped stages dashed).
    pub fn to_dot(&self) -> String {
        let join = |lines: Vec<String>| {
            lines
                .iter()
                .map(|l| escape_dot(l))
                .collect::<Vec<_>>()
                .join("\\n")
        };
        let mut o = format!(
            "digraph \"{}\" {{\n  charset=\"UTF-8\";\n  rankdir=TB;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n",
            escape_dot(&self.flow)
        );
        let _ = writeln!(
            o,
            "  flow [shape=oval, label=\"{}\"];",
            join(self.head_lines())
        );
        for (i, b) in self.flow_bindings.iter().enumerate() {
            let _ = writeln!(
                o,
                "  f{i} [shape=parallelogram, label=\"{}\"];\n  f{i} -> flow [style=dotted, arrowhead=none];",
                escape_dot(&binding_text(b))
            );
        }
        let mut prev = "flow".to_string();
        for (i, s) in self.stages.iter().enumerate() {
            let style = match s.visibility.as_deref() {
                Some(v) => {
                    let (_, fill, stroke) = CLASSES
                        .iter()
                        .find(|(c, _, _)| *c == v)
                        .copied()
                        .unwrap_or(("", "#ffffff", "#000000"));
                    let dashed = if v == "skipped" {
                        "filled,dashed"
                    } else {
                        "filled"
                    };
                    format!(
                        ", class=\"{v}\", style=\"{dashed}\", fillcolor=\"{fill}\", color=\"{stroke}\""
                    )
                }
                None => String::new(),
            };
            let _ = writeln!(o, "  s{i} [label=\"{}\"{style}];", join(stage_lines(s)));
            let _ = writeln!(o, "  {prev} -> s{i};");
            for (j, b) in s.bindings.iter().enumerate() {
                let _ = writeln!(
                    o,
                    "  s{i}b{j} [shape=parallelogram, label=\"{}\"];\n  s{i}b{j} -> s{i} [style=dotted, arrowhead=none];",
                    escape_dot(&binding_text(b))
                );
            }
            prev = format!("s{i}");
        }
        let _ = writeln!(
            o,
            "  done [shape=oval, label=\"end of flow\"];\n  {prev} -> done;\n}}"
        );
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(
            escape_mermaid("a \"b\" <script>#1 & `x`"),
            "a #quot;b#quot; #lt;script#gt;#35;1 #amp; #96;x#96;"
        );
        assert_eq!(escape_dot("a \"b\" \\n"), "a \\\"b\\\" \\\\n");
    }
}
