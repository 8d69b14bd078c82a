//! YAML text to a tree that keeps every node's tag and position (yaml-rust2's event parser);
//! plain scalars are typed the way authentik's PyYAML loader types them (YAML 1.1).

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A YAML node with its tag (`!KeyOf`, ...) and 1-based position.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// The content.
    pub kind: NodeKind,
    /// The tag as written (`!KeyOf`), if any.
    pub tag: Option<String>,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

/// What a node holds.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar: its text and whether it was plain (unquoted, so typed by its text).
    Scalar(String, bool),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The value of key `key` in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(&k.kind, NodeKind::Scalar(s, _) if s == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The text of an untagged scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar(s, _) if self.tag.is_none() => Some(s),
            _ => None,
        }
    }
}

/// A YAML syntax error with its position.
#[derive(Debug)]
pub struct YamlError {
    /// The parser's message.
    pub message: String,
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1.
    pub col: usize,
}

enum Frame {
    Seq(Vec<Node>, Option<String>, Marker, usize),
    Map(
        Vec<(Node, Node)>,
        Option<Node>,
        Option<String>,
        Marker,
        usize,
    ),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: std::collections::HashMap<usize, Node>,
    docs: Vec<Node>,
}

fn tag_text(tag: Option<Tag>) -> Option<String> {
    tag.map(|t| format!("{}{}", t.handle, t.suffix))
}

fn node(kind: NodeKind, tag: Option<String>, mark: Marker) -> Node {
    Node {
        kind,
        tag,
        line: mark.line(),
        col: mark.col() + 1,
    }
}

impl Builder {
    fn push(&mut self, n: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, n.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq(items, ..)) => items.push(n),
            Some(Frame::Map(entries, key, ..)) => match key.take() {
                Some(k) => entries.push((k, n)),
                None => *key = Some(n),
            },
            None => self.docs.push(n),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                self.push(
                    node(NodeKind::Scalar(text, plain), tag_text(tag), mark),
                    anchor,
                );
            }
            Event::SequenceStart(anchor, tag) => {
                self.stack
                    .push(Frame::Seq(Vec::new(), tag_text(tag), mark, anchor))
            }
            Event::MappingStart(anchor, tag) => {
                self.stack
                    .push(Frame::Map(Vec::new(), None, tag_text(tag), mark, anchor))
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(items, tag, m, anchor)) => {
                    self.push(node(NodeKind::Seq(items), tag, m), anchor)
                }
                Some(Frame::Map(entries, _, tag, m, anchor)) => {
                    // A block mapping's own mark can sit after its first key; its first key is
                    // where a reader sees it start.
                    let (line, col) = entries
                        .first()
                        .map_or((m.line(), m.col() + 1), |(k, _)| (k.line, k.col));
                    let mut n = node(NodeKind::Map(entries), tag, m);
                    (n.line, n.col) = (line, col);
                    self.push(n, anchor)
                }
                None => {}
            },
            Event::Alias(id) => {
                let n = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| node(NodeKind::Scalar(String::new(), true), None, mark));
                self.push(n, 0);
            }
            _ => {}
        }
    }
}

/// Parses the first document of `text`.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    parser.load(&mut builder, false).map_err(|e| YamlError {
        message: e.info().to_string(),
        line: e.marker().line(),
        col: e.marker().col() + 1,
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let mut doc = builder.docs.into_iter().next();
    if let Some(d) = doc.as_mut() {
        point_at_tags(d, &lines);
    }
    Ok(doc)
}

/// The parser marks a tagged node where its value starts; a reader looks for the tag, so move
/// the position back to the tag when it is on the same line.
fn point_at_tags(n: &mut Node, lines: &[&str]) {
    if let Some(tag) = &n.tag {
        let shown = tag.rsplit(['!', ':']).next().unwrap_or(tag);
        if let Some(line) = n.line.checked_sub(1).and_then(|i| lines.get(i)) {
            let before: String = line.chars().take(n.col.saturating_sub(1)).collect();
            if let Some(at) = before.rfind(&format!("!{shown}")) {
                n.col = before[..at].chars().count() + 1;
            }
        }
    }
    match &mut n.kind {
        NodeKind::Seq(items) => items.iter_mut().for_each(|i| point_at_tags(i, lines)),
        NodeKind::Map(entries) => entries.iter_mut().for_each(|(k, v)| {
            point_at_tags(k, lines);
            point_at_tags(v, lines);
        }),
        NodeKind::Scalar(..) => {}
    }
}

/// The JSON value of a plain or quoted scalar, typed as PyYAML's safe loader does.
pub fn scalar_value(text: &str, plain: bool) -> serde_json::Value {
    use serde_json::Value;
    if !plain {
        return Value::String(text.to_string());
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" => {
            return Value::Bool(true);
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" => {
            return Value::Bool(false);
        }
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'_')
        && digits.as_bytes()[0].is_ascii_digit()
        && let Ok(n) = text.replace('_', "").parse::<i64>()
    {
        return Value::from(n);
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(n) = i64::from_str_radix(hex, 16)
    {
        return Value::from(n);
    }
    if text.contains('.')
        && text.bytes().any(|b| b.is_ascii_digit())
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = serde_json::Number::from_f64(f)
    {
        return Value::Number(n);
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_tags_and_positions() {
        let doc = parse("a: !KeyOf flow\nb: [1, 'x']\n").unwrap().unwrap();
        let a = doc.get("a").unwrap();
        assert_eq!(a.tag.as_deref(), Some("!KeyOf"));
        assert_eq!((a.line, a.col), (1, 4));
        assert_eq!(doc.get("b").unwrap().line, 2);
    }

    #[test]
    fn types_plain_scalars_like_pyyaml() {
        assert_eq!(scalar_value("True", true), serde_json::json!(true));
        assert_eq!(scalar_value("10", true), serde_json::json!(10));
        assert_eq!(scalar_value("10", false), serde_json::json!("10"));
        assert_eq!(scalar_value("~", true), serde_json::Value::Null);
        assert_eq!(
            scalar_value("default-flow", true),
            serde_json::json!("default-flow")
        );
    }

    #[test]
    fn reports_syntax_errors_with_position() {
        let err = parse("a: [1, 2\nb: c").unwrap_err();
        assert!(err.line >= 1);
    }
}
