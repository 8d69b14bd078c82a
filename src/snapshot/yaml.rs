//! YAML text to a tree that keeps every node's tag and position (yaml-rust2's event parser);
//! plain scalars are typed the way authentik's PyYAML loader types them (YAML 1.1).
//!
//! The tree is built from the parser's events in a loop, not by yaml-rust2's recursive loader,
//! so that nesting is bounded by [`MAX_DEPTH`] instead of by the stack, and every alias is
//! counted against [`MAX_ALIAS_EXPANSION`] so that a few hundred bytes of anchors cannot grow
//! into gigabytes.

use std::collections::HashMap;
use yaml_rust2::parser::{Event, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The deepest nesting of sequences and mappings a document may have (serde_json's limit).
pub const MAX_DEPTH: usize = 128;

/// How many nodes plus scalar bytes the aliases of one document may copy in all.
pub const MAX_ALIAS_EXPANSION: usize = 1_000_000;

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
    /// The value of key `key` in a mapping node; of a repeated key, the last, as PyYAML does.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            NodeKind::Map(entries) => entries
                .iter()
                .rev()
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

/// A key written twice in one mapping or object (PyYAML, and so authentik, and serde_json keep
/// the last value).
#[derive(Clone, Debug, PartialEq)]
pub struct DuplicateKey {
    /// The key's text.
    pub key: String,
    /// Line and column of its first occurrence.
    pub first: (usize, usize),
    /// Line and column of the repetition.
    pub again: (usize, usize),
}

/// A parsed document and what looked wrong in it without stopping the parse.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    /// The first document, if there is one.
    pub root: Option<Node>,
    /// Repeated keys, in input order.
    pub duplicates: Vec<DuplicateKey>,
}

/// A node being built, with its size (nodes plus scalar bytes) and height (0 for a scalar).
struct Built {
    node: Node,
    size: usize,
    height: usize,
}

enum Content {
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>, Option<Node>),
}

struct Frame {
    content: Content,
    tag: Option<String>,
    mark: Marker,
    anchor: usize,
    size: usize,
    height: usize,
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Built>,
    doc: Option<Node>,
    expanded: usize,
    duplicates: Vec<DuplicateKey>,
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

fn error_at(mark: Marker, message: String) -> YamlError {
    YamlError {
        message,
        line: mark.line(),
        col: mark.col() + 1,
    }
}

/// The keys of `entries` that repeat an earlier key, with both positions.
fn repeated_keys(entries: &[(Node, Node)], out: &mut Vec<DuplicateKey>) {
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (k, _) in entries {
        if let NodeKind::Scalar(text, _) = &k.kind {
            if let Some(&first) = seen.get(text.as_str()) {
                out.push(DuplicateKey {
                    key: text.clone(),
                    first,
                    again: (k.line, k.col),
                });
            } else {
                seen.insert(text, (k.line, k.col));
            }
        }
    }
}

/// Whether a key is the merge key `<<` (plain and untagged, as YAML 1.1 resolves it).
fn is_merge_key(k: &Node) -> bool {
    matches!(&k.kind, NodeKind::Scalar(s, true) if s == "<<") && k.tag.is_none()
}

/// A mapping's entries with its merge keys (`<<: *base` or `<<: [*a, *b]`) replaced by the
/// entries they merge in, as PyYAML does: a key written in the mapping wins over a merged one,
/// and of several merged mappings the first listed wins. The merged mappings were built (and
/// their aliases counted against [`MAX_ALIAS_EXPANSION`]) before, and had their own merge keys
/// merged then, so this does not recurse.
fn merged(entries: Vec<(Node, Node)>) -> Result<Vec<(Node, Node)>, YamlError> {
    if !entries.iter().any(|(k, _)| is_merge_key(k)) {
        return Ok(entries);
    }
    let key_text = |k: &Node| match &k.kind {
        NodeKind::Scalar(s, _) => Some(s.clone()),
        _ => None,
    };
    let mut taken: std::collections::HashSet<String> = entries
        .iter()
        .filter(|(k, _)| !is_merge_key(k))
        .filter_map(|(k, _)| key_text(k))
        .collect();
    let mut from_merges = Vec::new();
    let mut own = Vec::new();
    for (k, v) in entries {
        if !is_merge_key(&k) {
            own.push((k, v));
            continue;
        }
        let sources = match v.kind {
            NodeKind::Map(m) => vec![m],
            NodeKind::Seq(items) => items
                .into_iter()
                .map(|item| match item.kind {
                    NodeKind::Map(m) => Ok(m),
                    _ => Err(YamlError {
                        message: "expected a mapping to merge (`<<` takes a mapping or a list of mappings)".into(),
                        line: item.line,
                        col: item.col,
                    }),
                })
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(YamlError {
                    message: "expected a mapping or a list of mappings for merging with `<<`"
                        .into(),
                    line: v.line,
                    col: v.col,
                });
            }
        };
        for (mk, mv) in sources.into_iter().flatten() {
            if key_text(&mk).is_none_or(|t| taken.insert(t)) {
                from_merges.push((mk, mv));
            }
        }
    }
    from_merges.extend(own);
    Ok(from_merges)
}

impl Builder {
    fn push(&mut self, built: Built, anchor: usize) {
        if anchor > 0 {
            let copy = Built {
                node: built.node.clone(),
                ..built
            };
            self.anchors.insert(anchor, copy);
        }
        let Built { node, size, height } = built;
        match self.stack.last_mut() {
            Some(frame) => {
                frame.size += size;
                frame.height = frame.height.max(height + 1);
                match &mut frame.content {
                    Content::Seq(items) => items.push(node),
                    Content::Map(entries, key) => match key.take() {
                        Some(k) => entries.push((k, node)),
                        None => *key = Some(node),
                    },
                }
            }
            None => {
                if self.doc.is_none() {
                    self.doc = Some(node);
                }
            }
        }
    }

    fn open(
        &mut self,
        content: Content,
        tag: Option<Tag>,
        mark: Marker,
        anchor: usize,
    ) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(error_at(
                mark,
                format!(
                    "nesting deeper than {MAX_DEPTH} levels; authentik's blueprints need far fewer"
                ),
            ));
        }
        self.stack.push(Frame {
            content,
            tag: tag_text(tag),
            mark,
            anchor,
            size: 1,
            height: 1,
        });
        Ok(())
    }

    fn close(&mut self) -> Result<(), YamlError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let Frame {
            content,
            tag,
            mark,
            anchor,
            size,
            height,
        } = frame;
        let node = match content {
            Content::Seq(items) => node(NodeKind::Seq(items), tag, mark),
            Content::Map(entries, _) => {
                repeated_keys(&entries, &mut self.duplicates);
                let entries = merged(entries)?;
                // A block mapping's own mark can sit after its first key; its first key is
                // where a reader sees it start.
                let (line, col) = entries
                    .first()
                    .map_or((mark.line(), mark.col() + 1), |(k, _)| (k.line, k.col));
                let mut n = node(NodeKind::Map(entries), tag, mark);
                (n.line, n.col) = (line, col);
                n
            }
        };
        self.push(Built { node, size, height }, anchor);
        Ok(())
    }

    fn alias(&mut self, id: usize, mark: Marker) -> Result<(), YamlError> {
        let Some(target) = self.anchors.get(&id) else {
            return Err(error_at(mark, "alias to an unknown anchor".into()));
        };
        if self.stack.len() + target.height > MAX_DEPTH {
            return Err(error_at(
                mark,
                format!("this alias nests the document deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.expanded = self.expanded.saturating_add(target.size);
        if self.expanded > MAX_ALIAS_EXPANSION {
            return Err(error_at(
                mark,
                format!(
                    "aliases expand to more than {MAX_ALIAS_EXPANSION} nodes and scalar bytes (an alias bomb?); refused"
                ),
            ));
        }
        let built = Built {
            node: target.node.clone(),
            size: target.size,
            height: target.height,
        };
        self.push(built, 0);
        Ok(())
    }

    fn event(&mut self, ev: Event, mark: Marker) -> Result<(), YamlError> {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                let size = 1 + text.len();
                let node = node(NodeKind::Scalar(text, plain), tag_text(tag), mark);
                self.push(
                    Built {
                        node,
                        size,
                        height: 0,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, tag) => {
                self.open(Content::Seq(Vec::new()), tag, mark, anchor)?
            }
            Event::MappingStart(anchor, tag) => {
                self.open(Content::Map(Vec::new(), None), tag, mark, anchor)?
            }
            Event::SequenceEnd | Event::MappingEnd => self.close()?,
            Event::Alias(id) => self.alias(id, mark)?,
            _ => {}
        }
        Ok(())
    }
}

/// Parses the first document of `text`.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    parse_doc(text).map(|p| p.root)
}

/// Parses the first document of `text` (a leading byte-order mark is skipped), reporting
/// repeated keys; nesting beyond [`MAX_DEPTH`] and alias expansion beyond
/// [`MAX_ALIAS_EXPANSION`] are errors at the place they happen.
pub fn parse_doc(text: &str) -> Result<Parsed, YamlError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    loop {
        let (ev, mark) = parser
            .next_token()
            .map_err(|e| error_at(*e.marker(), e.info().to_string()))?;
        match ev {
            Event::StreamEnd | Event::DocumentEnd => break,
            ev => builder.event(ev, mark)?,
        }
    }
    let lines: Vec<&str> = text.lines().collect();
    let mut root = builder.doc;
    if let Some(d) = root.as_mut() {
        point_at_tags(d, &lines);
    }
    Ok(Parsed {
        root,
        duplicates: builder.duplicates,
    })
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
