//! authentik blueprints (docs/input.md, form 3; docs/semantics.md §9): entries applied in file order over
//! what is already loaded, with identifiers matching, partial updates, the four states and
//! delete cascades, and every tag that can be resolved statically resolved.
//!
//! A tag that cannot be resolved (live data, an unknown `!Env`, ...) makes the value it feeds
//! unknown: an attribute is then left out (the stored value or the default stays), an entry with
//! unknown identifiers or conditions is skipped, and each case is reported with file and line.

use super::error::{LoadReport, Loc, SnapshotError};
use super::json::describe;
use super::store::{Kind, Origin, Origins, OtherObject, Store};
use super::version::Defaults;
use super::yaml::{self, Node, NodeKind};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

/// One object while blueprints are being applied: its fields as JSON, and where it came from.
#[derive(Clone, Debug)]
struct Obj {
    fields: Map<String, Value>,
    loc: Loc,
}

/// The loaded objects, converted to JSON kind by kind when a blueprint first touches the kind,
/// so that an overlay over a million users converts the users only if it needs them.
pub struct Workspace {
    store: Store,
    values: BTreeMap<Kind, Vec<Obj>>,
    keyof: HashMap<String, (Value, Option<Value>)>,
    defaults: Defaults,
    /// Problems met while converting (reading deferred user fields), reported by `finish`.
    pending: Vec<SnapshotError>,
}

/// Runs `$body` with `$vec` bound to the store's typed vector of `$kind`.
macro_rules! typed {
    ($store:expr, $kind:expr, |$vec:ident| $body:expr) => {
        match $kind {
            Kind::Users => {
                let $vec = &mut $store.users;
                $body
            }
            Kind::Groups => {
                let $vec = &mut $store.groups;
                $body
            }
            Kind::Flows => {
                let $vec = &mut $store.flows;
                $body
            }
            Kind::FlowBindings => {
                let $vec = &mut $store.flow_bindings;
                $body
            }
            Kind::Stages => {
                let $vec = &mut $store.stages;
                $body
            }
            Kind::Policies => {
                let $vec = &mut $store.policies;
                $body
            }
            Kind::PolicyBindings => {
                let $vec = &mut $store.policy_bindings;
                $body
            }
            Kind::Applications => {
                let $vec = &mut $store.applications;
                $body
            }
            Kind::Sources => {
                let $vec = &mut $store.sources;
                $body
            }
            Kind::Brands => {
                let $vec = &mut $store.brands;
                $body
            }
            Kind::Entitlements => {
                let $vec = &mut $store.entitlements;
                $body
            }
            Kind::NotificationRules => {
                let $vec = &mut $store.notification_rules;
                $body
            }
            Kind::Transports => {
                let $vec = &mut $store.transports;
                $body
            }
            Kind::RacEndpoints => {
                let $vec = &mut $store.rac_endpoints;
                $body
            }
            Kind::Devices => {
                let $vec = &mut $store.devices;
                $body
            }
            Kind::DeviceAccessGroups => {
                let $vec = &mut $store.device_access_groups;
                $body
            }
            Kind::DeviceBindings => {
                let $vec = &mut $store.device_bindings;
                $body
            }
            Kind::Providers => {
                let $vec = &mut $store.providers;
                $body
            }
        }
    };
}

fn pk_field(kind: Kind) -> &'static str {
    match kind {
        Kind::Brands => "brand_uuid",
        Kind::Entitlements | Kind::DeviceAccessGroups => "pbm_uuid",
        Kind::Devices => "device_uuid",
        _ => "pk",
    }
}

impl Workspace {
    /// Starts from what the bundle or directory gave (or nothing).
    pub fn new(store: Store, defaults: Defaults) -> Workspace {
        Workspace {
            store,
            values: BTreeMap::new(),
            keyof: HashMap::new(),
            defaults,
            pending: Vec::new(),
        }
    }

    fn objs(&mut self, kind: Kind) -> &mut Vec<Obj> {
        if !self.values.contains_key(&kind) {
            if kind == Kind::Users {
                // A blueprint may read or replace them: from here on they are plain fields.
                self.store.resolve_user_text(&mut self.pending);
            }
            let origins = self.store.origins.remove(&kind).unwrap_or_default();
            let objs: Vec<Obj> = typed!(self.store, kind, |vec| std::mem::take(vec)
                .into_iter()
                .enumerate()
                .map(|(i, o)| Obj {
                    fields: match serde_json::to_value(&o) {
                        Ok(Value::Object(m)) => m,
                        _ => Map::new(),
                    },
                    loc: origins.loc(i),
                })
                .collect());
            self.values.insert(kind, objs);
            if kind == Kind::PolicyBindings {
                // Stored bindings may name a target by either id (docs/semantics.md §8); identifiers are compared
                // on the target's own pk.
                // One index of the other ids, not a search of every flow and stage binding per
                // policy binding: a million-user overlay has tens of thousands of bindings.
                let mut by_ptr: HashMap<String, Value> = HashMap::new();
                for kind in [Kind::Flows, Kind::FlowBindings] {
                    for o in self.objs(kind).iter() {
                        if let Some(ptr) = o.fields.get("policybindingmodel_ptr_id") {
                            by_ptr.entry(ptr.to_string()).or_insert_with(|| {
                                o.fields.get("pk").cloned().unwrap_or(Value::Null)
                            });
                        }
                    }
                }
                let mut objs = self.values.remove(&kind).unwrap_or_default();
                for b in &mut objs {
                    if let Some(t) = b.fields.get_mut("target")
                        && let Some(pk) = by_ptr.get(&t.to_string())
                    {
                        *t = pk.clone();
                    }
                }
                self.values.insert(kind, objs);
            }
        }
        self.values.get_mut(&kind).expect("inserted above")
    }

    /// The target's own pk for a policy binding's `target` given as either of its ids (docs/semantics.md §8).
    fn canonical_target(&mut self, t: &Value) -> Value {
        for kind in [Kind::Flows, Kind::FlowBindings] {
            if let Some(o) = self
                .objs(kind)
                .iter()
                .find(|o| o.fields.get("policybindingmodel_ptr_id") == Some(t))
            {
                return o.fields.get("pk").cloned().unwrap_or(Value::Null);
            }
        }
        t.clone()
    }

    /// Converts the touched kinds back to typed objects; shape problems become errors.
    pub fn finish(mut self, errors: &mut Vec<SnapshotError>) -> Store {
        errors.append(&mut self.pending);
        for (kind, objs) in std::mem::take(&mut self.values) {
            let mut origins = Origins::default();
            typed!(self.store, kind, |vec| {
                for obj in objs {
                    match serde_path_to_error::deserialize(&Value::Object(obj.fields)) {
                        Ok(o) => {
                            origins.push(vec.len(), Origin::At(obj.loc));
                            vec.push(o);
                        }
                        Err(err) => {
                            let field = err.path().iter().find_map(|s| match s {
                                serde_path_to_error::Segment::Map { key } => Some(key.clone()),
                                _ => None,
                            });
                            let (what, expected) =
                                describe(&err.into_inner().to_string(), field.as_deref());
                            errors.push(SnapshotError::Shape {
                                loc: obj.loc,
                                what: format!("{} {what}", kind.noun()),
                                expected,
                            });
                        }
                    }
                }
            });
            self.store.origins.insert(kind, origins);
        }
        self.store
    }
}

/// A stable id for an object a blueprint creates: the same model and identifiers always give
/// the same id, so facts and reports do not change from one run to the next.
pub fn derived_uuid(model: &str, identifiers: &Map<String, Value>, salt: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"bindlog\0");
    h.update(model.as_bytes());
    h.update(b"\0");
    h.update(Value::Object(identifiers.clone()).to_string().as_bytes());
    h.update(b"\0");
    h.update(salt.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    b[6] = (b[6] & 0x0f) | 0x50;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

fn derived_user_pk(model: &str, identifiers: &Map<String, Value>) -> i64 {
    let u = derived_uuid(model, identifiers, "user");
    let n = u64::from_str_radix(&u.replace('-', "")[..15], 16).unwrap_or(0);
    1_000_000_000 + (n % 1_000_000_000) as i64
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Loose equality of an identifier value and a stored value (ids may be numbers or strings).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(want), Value::Object(have)) => want
            .iter()
            .all(|(k, v)| have.get(k).is_some_and(|h| same(v, h))),
        (Value::String(s), Value::Number(n)) | (Value::Number(n), Value::String(s)) => {
            *s == n.to_string()
        }
        _ => a == b,
    }
}

fn matches(obj: &Map<String, Value>, pk_name: &str, ident: &Map<String, Value>) -> bool {
    if let Some(pk) = ident.get("pk")
        && obj.get(pk_name).is_some_and(|v| same(pk, v))
    {
        return true;
    }
    let mut others = ident.iter().filter(|(k, _)| *k != "pk").peekable();
    others.peek().is_some() && others.all(|(k, v)| obj.get(k).is_some_and(|h| same(v, h)))
}

/// A parsed blueprint file.
pub struct Doc {
    file: Arc<str>,
    root: Node,
    name: Option<String>,
}

/// Reads and parses one blueprint file; a repeated key is a warning with both places.
pub fn read_doc(
    path: &Path,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) -> Option<Doc> {
    let file: Arc<str> = Arc::from(path.display().to_string());
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(source) => {
            errors.push(SnapshotError::Io {
                path: file.to_string(),
                source,
            });
            return None;
        }
    };
    let parsed = yaml::parse_doc(&text).map(|p| {
        for d in &p.duplicates {
            report.warn(
                Loc::Line {
                    file: file.clone(),
                    line: d.again.0,
                    col: d.again.1,
                },
                format!(
                    "duplicate key `{}` (first at line {}, column {}); the last value is used, as authentik does",
                    d.key, d.first.0, d.first.1
                ),
            );
        }
        p.root
    });
    match parsed {
        Ok(Some(root)) => {
            let name = root
                .get("metadata")
                .and_then(|m| m.get("name"))
                .and_then(|n| n.as_str())
                .map(str::to_string);
            Some(Doc { file, root, name })
        }
        Ok(None) => {
            errors.push(SnapshotError::Blueprint {
                loc: Loc::File(file),
                what: "the blueprint is empty".into(),
                help: "a blueprint has `version: 1` and `entries: [...]`".into(),
            });
            None
        }
        Err(e) => {
            errors.push(SnapshotError::Syntax {
                loc: Loc::Line {
                    file: file.clone(),
                    line: e.line,
                    col: e.col,
                },
                file: file.to_string(),
                format: "YAML",
                message: e.message,
            });
            None
        }
    }
}

/// Applies blueprint files in order. A `metaapplyblueprint` entry naming another of the files
/// (by `metadata.name` or path) applies that file at that point, as authentik does, once.
pub fn apply_all(
    paths: &[std::path::PathBuf],
    ws: &mut Workspace,
    env: &BTreeMap<String, String>,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    let docs: Vec<Doc> = paths
        .iter()
        .filter_map(|p| read_doc(p, errors, report))
        .collect();
    let mut applied = vec![false; docs.len()];
    for i in 0..docs.len() {
        apply_doc(i, &docs, &mut applied, ws, env, errors, report);
    }
}

fn apply_doc(
    index: usize,
    docs: &[Doc],
    applied: &mut Vec<bool>,
    ws: &mut Workspace,
    env: &BTreeMap<String, String>,
    errors: &mut Vec<SnapshotError>,
    report: &mut LoadReport,
) {
    if applied[index] {
        return;
    }
    applied[index] = true;
    let Doc {
        file, root: doc, ..
    } = &docs[index];
    report.files.push(file.to_string());
    let at = |n: &Node| Loc::Line {
        file: file.clone(),
        line: n.line,
        col: n.col,
    };
    match doc.get("version").map(|v| &v.kind) {
        Some(NodeKind::Scalar(v, _)) if v == "1" => {}
        _ => {
            return errors.push(SnapshotError::Blueprint {
                loc: at(doc.get("version").unwrap_or(doc)),
                what: "blueprint `version` is not 1".into(),
                help: "authentik only accepts `version: 1`".into(),
            });
        }
    }
    let mut applier = Applier {
        ws,
        docs,
        applied,
        file: file.clone(),
        context: Map::new(),
        env,
        in_binding: false,
        stack: Vec::new(),
        report,
    };
    if let Some(ctx) = doc.get("context")
        && let Some(Value::Object(m)) = applier.resolve(ctx)
    {
        applier.context = m;
    }
    let entries: Vec<&Node> = match doc.get("entries").map(|e| &e.kind) {
        Some(NodeKind::Seq(items)) => items.iter().collect(),
        Some(NodeKind::Map(groups)) => groups
            .iter()
            .flat_map(|(_, v)| match &v.kind {
                NodeKind::Seq(items) => items.iter().collect::<Vec<_>>(),
                _ => Vec::new(),
            })
            .collect(),
        _ => {
            return errors.push(SnapshotError::Blueprint {
                loc: at(doc),
                what: "blueprint has no `entries` list".into(),
                help: "`entries` is a list of entries, or a map of named lists".into(),
            });
        }
    };
    let before = errors.len();
    for entry in entries {
        applier.entry(entry, errors);
    }
    if errors.len() > before {
        let n = errors.len() - before;
        applier.report.warn(
            Loc::File(file.clone()),
            format!(
                "{n} invalid entr{}: authentik would apply none of this blueprint",
                if n == 1 { "y" } else { "ies" }
            ),
        );
    }
}

struct Applier<'a> {
    ws: &'a mut Workspace,
    docs: &'a [Doc],
    applied: &'a mut Vec<bool>,
    file: Arc<str>,
    context: Map<String, Value>,
    env: &'a BTreeMap<String, String>,
    in_binding: bool,
    stack: Vec<(Value, Value)>,
    report: &'a mut LoadReport,
}

impl Applier<'_> {
    fn loc(&self, n: &Node) -> Loc {
        Loc::Line {
            file: self.file.clone(),
            line: n.line,
            col: n.col,
        }
    }

    fn unresolved(&mut self, n: &Node, why: String) -> Option<Value> {
        let loc = self.loc(n);
        self.report.warn(
            loc,
            format!("unresolved `{}`: {why}", n.tag.as_deref().unwrap_or("?")),
        );
        None
    }

    fn args(&mut self, n: &Node) -> Option<Vec<Value>> {
        match &n.kind {
            NodeKind::Seq(items) => items.iter().map(|i| self.resolve(i)).collect(),
            NodeKind::Scalar(..) => Some(vec![self.plain(n)?]),
            NodeKind::Map(_) => None,
        }
    }

    fn plain(&mut self, n: &Node) -> Option<Value> {
        let mut untagged = n.clone();
        untagged.tag = None;
        self.resolve(&untagged)
    }

    /// The value of a node with every tag resolved, or `None` (reported) when it is unknown.
    fn resolve(&mut self, n: &Node) -> Option<Value> {
        let Some(tag) = n.tag.as_deref() else {
            return match &n.kind {
                NodeKind::Scalar(s, plain) => Some(yaml::scalar_value(s, *plain)),
                NodeKind::Seq(items) => items
                    .iter()
                    .map(|i| self.resolve(i))
                    .collect::<Option<Vec<_>>>()
                    .map(Value::Array),
                NodeKind::Map(entries) => {
                    let mut m = Map::new();
                    for (k, v) in entries {
                        let key = py_str(&self.resolve(k)?);
                        m.insert(key, self.resolve(v)?);
                    }
                    Some(Value::Object(m))
                }
            };
        };
        let before = self.report.warnings.len();
        let value = self.resolve_tag(tag, n);
        if value.is_none() && self.report.warnings.len() == before {
            // Malformed arguments: still reported, never dropped silently.
            return self.unresolved(n, "its arguments are missing or malformed".into());
        }
        value
    }

    /// The value of a node carrying `tag`, or `None` (reported) when it is unknown.
    fn resolve_tag(&mut self, tag: &str, n: &Node) -> Option<Value> {
        match tag {
            "!!str" | "tag:yaml.org,2002:str" => match &n.kind {
                NodeKind::Scalar(s, _) => Some(Value::String(s.clone())),
                _ => self.plain(n),
            },
            "!!int" | "!!float" | "!!bool" | "!!null" | "!!map" | "!!seq" => self.plain(n),
            "!KeyOf" => {
                let id = py_str(&self.plain(n)?);
                match self.ws.keyof.get(&id) {
                    Some((pk, pbm)) => Some(if self.in_binding {
                        pbm.clone().unwrap_or(pk.clone())
                    } else {
                        pk.clone()
                    }),
                    None => self.unresolved(n, format!("no earlier applied entry has `id: {id}`")),
                }
            }
            "!Context" => {
                let args = self.args(n)?;
                let key = py_str(args.first()?);
                match self.context.get(&key) {
                    Some(v) => Some(v.clone()),
                    None if args.len() > 1 => Some(args[1].clone()),
                    None => self.unresolved(n, format!("context key `{key}` is not in the blueprint's context and has no default")),
                }
            }
            "!Env" => {
                let args = self.args(n)?;
                let name = py_str(args.first()?);
                match self.env.get(&name) {
                    Some(v) if !v.is_empty() => Some(Value::String(v.clone())),
                    _ if args.len() > 1 => Some(args[1].clone()),
                    _ => self.unresolved(n, format!("environment variable `{name}` is not given (pass `--env {name}=VALUE`) and has no default")),
                }
            }
            "!File" => {
                let args = self.args(n)?;
                let path = py_str(args.first()?);
                match args.get(1) {
                    Some(default) => {
                        let loc = self.loc(n);
                        self.report.warn(
                            loc,
                            format!(
                                "`!File` `{path}` is on the authentik server; assumed its default"
                            ),
                        );
                        Some(default.clone())
                    }
                    None => {
                        self.unresolved(n, format!("file `{path}` lives on the authentik server"))
                    }
                }
            }
            "!Format" => {
                let args = self.args(n)?;
                let fmt = py_str(args.first()?);
                let mut out = String::new();
                let mut rest = args[1..].iter();
                let mut chars = fmt.chars();
                while let Some(c) = chars.next() {
                    if c != '%' {
                        out.push(c);
                        continue;
                    }
                    match chars.next() {
                        Some('%') => out.push('%'),
                        Some('s' | 'd' | 'i' | 'r') => out.push_str(&py_str(rest.next()?)),
                        other => {
                            return self.unresolved(
                                n,
                                format!(
                                    "format directive `%{}` is not supported",
                                    other.unwrap_or(' ')
                                ),
                            );
                        }
                    }
                }
                Some(Value::String(out))
            }
            "!If" => {
                let NodeKind::Seq(items) = &n.kind else {
                    return self.unresolved(n, "expected `[condition, then, else]`".into());
                };
                let cond = truthy(&self.resolve(items.first()?)?);
                match items.len() {
                    1 => Some(Value::Bool(cond)),
                    _ => {
                        let branch = if cond { items.get(1) } else { items.get(2) };
                        match branch {
                            Some(b) => self.resolve(b),
                            None => Some(Value::Null),
                        }
                    }
                }
            }
            "!Condition" => {
                let args = self.args(n)?;
                let mode = py_str(args.first()?);
                let vals: Vec<bool> = args[1..].iter().map(truthy).collect();
                let trues = vals.iter().filter(|b| **b).count();
                Some(Value::Bool(match mode.as_str() {
                    "AND" => trues == vals.len(),
                    "NAND" => trues != vals.len(),
                    "OR" => trues > 0,
                    "NOR" => trues == 0,
                    "XOR" => trues % 2 == 1,
                    "XNOR" => trues % 2 == 0,
                    other => {
                        return self.unresolved(n, format!("unknown condition mode `{other}`"));
                    }
                }))
            }
            "!Enumerate" => {
                let NodeKind::Seq(items) = &n.kind else {
                    return self.unresolved(n, "expected `[iterable, SEQ|MAP, body]`".into());
                };
                let (Some(iter), Some(mode), Some(body)) =
                    (items.first(), items.get(1), items.get(2))
                else {
                    return self.unresolved(n, "expected `[iterable, SEQ|MAP, body]`".into());
                };
                let iterable = self.resolve(iter)?;
                let mode = py_str(&self.resolve(mode)?);
                let pairs: Vec<(Value, Value)> = match iterable {
                    Value::Array(a) => a
                        .into_iter()
                        .enumerate()
                        .map(|(i, v)| (Value::from(i), v))
                        .collect(),
                    Value::Object(m) => m.into_iter().map(|(k, v)| (Value::String(k), v)).collect(),
                    other => return self.unresolved(n, format!("cannot enumerate {other}")),
                };
                let mut seq = Vec::new();
                let mut map = Map::new();
                for pair in pairs {
                    self.stack.push(pair);
                    let item = self.resolve(body);
                    self.stack.pop();
                    match (mode.as_str(), item?) {
                        ("MAP", Value::Object(m)) => map.extend(m),
                        ("MAP", _) => {
                            return self.unresolved(n, "a MAP body must give a mapping".into());
                        }
                        (_, v) => seq.push(v),
                    }
                }
                Some(if mode == "MAP" {
                    Value::Object(map)
                } else {
                    Value::Array(seq)
                })
            }
            "!Index" | "!Value" => {
                let depth = self.plain(n)?.as_u64().unwrap_or(0) as usize;
                match self
                    .stack
                    .len()
                    .checked_sub(depth + 1)
                    .map(|i| &self.stack[i])
                {
                    Some((k, v)) => Some(if tag == "!Index" {
                        k.clone()
                    } else {
                        v.clone()
                    }),
                    None => {
                        self.unresolved(n, format!("no enclosing `!Enumerate` at depth {depth}"))
                    }
                }
            }
            "!AtIndex" => {
                let args = self.args(n)?;
                let found = match (args.first(), args.get(1)) {
                    (Some(Value::Array(a)), Some(k)) => {
                        k.as_u64().and_then(|i| a.get(i as usize)).cloned()
                    }
                    (Some(Value::Object(m)), Some(k)) => m.get(&py_str(k)).cloned(),
                    _ => None,
                };
                match (found, args.get(2)) {
                    (Some(v), _) => Some(v),
                    (None, Some(d)) => Some(d.clone()),
                    (None, None) => self.unresolved(n, "index out of range and no default".into()),
                }
            }
            "!ParseJSON" => {
                let text = py_str(&self.plain(n)?);
                match serde_json::from_str(&text) {
                    Ok(v) => Some(v),
                    Err(e) => self.unresolved(n, format!("not JSON: {e}")),
                }
            }
            "!Find" | "!FindObject" => {
                let args = self.args(n)?;
                let model = py_str(args.first()?);
                let mut conds = Vec::new();
                for c in &args[1..] {
                    match c {
                        Value::Array(pair) if pair.len() == 2 => {
                            conds.push((py_str(&pair[0]), pair[1].clone()))
                        }
                        _ => {
                            return self
                                .unresolved(n, "expected `[model, [field, value], ...]`".into());
                        }
                    }
                }
                if let Some((f, _)) = conds.iter().find(|(f, _)| f.contains("__")) {
                    return self.unresolved(
                        n,
                        format!("lookup `{f}` needs the database; only plain equality is resolved"),
                    );
                }
                let found = self.find(&model, &conds);
                let cond_text: Vec<String> = conds
                    .iter()
                    .map(|(f, v)| format!("{f}={}", py_str(v)))
                    .collect();
                match found {
                    Some((pk, obj)) => Some(if tag == "!Find" {
                        pk
                    } else {
                        Value::Object(obj)
                    }),
                    None => {
                        let loc = self.loc(n);
                        self.report.warn(
                            loc,
                            format!("`{tag}` found no `{model}` with {} in the snapshot; resolved as null", cond_text.join(", ")),
                        );
                        Some(Value::Null)
                    }
                }
            }
            other => self.unresolved(n, format!("tag `{other}` is not supported")),
        }
    }

    fn find(
        &mut self,
        model: &str,
        conds: &[(String, Value)],
    ) -> Option<(Value, Map<String, Value>)> {
        let ident: Map<String, Value> = conds.iter().cloned().collect();
        // Django's `apps.get_model` reads the model name case-insensitively
        // (`authentik_core.Group`); the app label is exact.
        let model = match model.split_once('.') {
            Some((app, name)) => format!("{app}.{}", name.to_ascii_lowercase()),
            None => model.to_string(),
        };
        let model = model.as_str();
        // A base model is a real table holding every subtype: a lookup on it finds any of them.
        let base = match model {
            "authentik_policies.policy" => Some(Kind::Policies),
            "authentik_flows.stage" => Some(Kind::Stages),
            "authentik_core.source" => Some(Kind::Sources),
            _ => None,
        };
        match base.or_else(|| Kind::from_model(model)) {
            Some(kind) => {
                let pk_name = pk_field(kind);
                let typed_model = if base.is_some() {
                    None
                } else {
                    typed_model(kind, model)
                };
                self.ws
                    .objs(kind)
                    .iter()
                    .find(|o| {
                        of_model(&o.fields, typed_model) && matches(&o.fields, pk_name, &ident)
                    })
                    .map(|o| {
                        (
                            o.fields.get(pk_name).cloned().unwrap_or(Value::Null),
                            o.fields.clone(),
                        )
                    })
            }
            None => self
                .ws
                .store
                .others
                .get(model)?
                .iter()
                .find(|o| matches_other(o, &ident))
                .map(|o| (o.pk.clone(), o.fields.clone())),
        }
    }

    fn entry(&mut self, entry: &Node, errors: &mut Vec<SnapshotError>) {
        let loc = self.loc(entry);
        let Some(model) = entry.get("model").and_then(|m| self.resolve(m)) else {
            self.report
                .warn(loc, "entry skipped: its `model` is missing or unresolved");
            return;
        };
        let model = py_str(&model);
        let state = match entry.get("state") {
            Some(s) => match self.resolve(s) {
                Some(v) => py_str(&v),
                None => {
                    return self.report.warn(
                        loc,
                        format!("`{model}` entry skipped: its `state` is unresolved"),
                    );
                }
            },
            None => "present".to_string(),
        };
        if let Some(conds) = entry.get("conditions") {
            let NodeKind::Seq(items) = &conds.kind else {
                return errors.push(bad(
                    loc,
                    format!("`{model}` entry: `conditions` is not a list"),
                    "`conditions` is a list of values that must all be true",
                ));
            };
            for c in items {
                match self.resolve(c) {
                    Some(v) if truthy(&v) => {}
                    Some(_) => return,
                    None => {
                        return self.report.warn(
                            loc,
                            format!("`{model}` entry skipped: a condition is unresolved"),
                        );
                    }
                }
            }
        }
        self.in_binding = model == "authentik_policies.policybinding";
        let identifiers = match entry.get("identifiers").map(|n| (n, self.resolve(n))) {
            Some((_, Some(Value::Object(m)))) => m,
            Some((_, None)) => {
                self.in_binding = false;
                return self.report.warn(
                    loc,
                    format!("`{model}` entry skipped: its identifiers are unresolved"),
                );
            }
            None if model == "authentik_blueprints.metaapplyblueprint" => Map::new(),
            _ => {
                self.in_binding = false;
                return errors.push(bad(
                    loc,
                    format!("`{model}` entry has no `identifiers` map"),
                    "an entry needs `identifiers` to find or create its object",
                ));
            }
        };
        let mut attrs = Map::new();
        if let Some(a) = entry.get("attrs") {
            match &a.kind {
                NodeKind::Map(fields) => {
                    for (k, v) in fields {
                        let Some(key) = self.resolve(k) else { continue };
                        if let Some(v) = self.resolve(v) {
                            attrs.insert(py_str(&key), v);
                        }
                    }
                }
                _ => match self.resolve(a) {
                    Some(Value::Object(m)) => attrs = m,
                    Some(Value::Null) => {}
                    Some(_) => {
                        return errors.push(bad(
                            loc,
                            format!("`{model}` entry: `attrs` is not a map"),
                            "`attrs` maps field names to values",
                        ));
                    }
                    None => {}
                },
            }
        }
        self.in_binding = false;
        let id = entry.get("id").and_then(|n| n.as_str()).map(str::to_string);
        if model == "authentik_blueprints.metaapplyblueprint" {
            let ident = attrs.get("identifiers");
            let name = ident.and_then(|i| i.get("name")).map(py_str);
            let path = ident.and_then(|i| i.get("path")).map(py_str);
            let found = self.docs.iter().position(|d| {
                name.as_ref().is_some_and(|n| d.name.as_ref() == Some(n))
                    || path.as_ref().is_some_and(|p| d.file.ends_with(p.as_str()))
            });
            match found {
                Some(i) => {
                    let (docs, env) = (self.docs, self.env);
                    apply_doc(i, docs, self.applied, self.ws, env, errors, self.report);
                }
                None => {
                    let label = name.or(path).unwrap_or_default();
                    self.report.warn(loc, format!("meta blueprint `{label}` not applied: it is not among the blueprints loaded (add it with `--overlay`)"));
                }
            }
            return;
        }
        if matches!(
            model.as_str(),
            "authentik_policies.policy"
                | "authentik_flows.stage"
                | "authentik_core.source"
                | "authentik_core.propertymapping"
        ) {
            return errors.push(bad(loc, format!("model `{model}` is a base model"), "authentik refuses base models in blueprints; use the concrete type, e.g. `authentik_policies_expression.expressionpolicy`"));
        }
        if !matches!(
            state.as_str(),
            "present" | "created" | "must_created" | "absent"
        ) {
            return errors.push(bad(
                loc,
                format!("unknown state `{state}` in `{model}` entry"),
                "expected one of `present`, `created`, `must_created`, `absent`",
            ));
        }
        match Kind::from_model(&model) {
            Some(kind) => {
                self.apply_typed(kind, &model, &state, identifiers, attrs, id, loc, errors)
            }
            None => self.apply_other(&model, &state, identifiers, attrs, id, loc, errors),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_typed(
        &mut self,
        kind: Kind,
        model: &str,
        state: &str,
        mut ident: Map<String, Value>,
        mut attrs: Map<String, Value>,
        id: Option<String>,
        loc: Loc,
        errors: &mut Vec<SnapshotError>,
    ) {
        if kind == Kind::PolicyBindings {
            for m in [&mut ident, &mut attrs] {
                if let Some(t) = m.get("target").cloned() {
                    m.insert("target".into(), self.ws.canonical_target(&t));
                }
            }
        }
        let pk_name = pk_field(kind);
        let typed_model = typed_model(kind, model);
        let defaults = self.ws.defaults;
        let objs = self.ws.objs(kind);
        let found = objs
            .iter()
            .position(|o| of_model(&o.fields, typed_model) && matches(&o.fields, pk_name, &ident));
        match (state, found) {
            ("absent", Some(i)) => {
                let obj = objs.remove(i);
                self.cascade(kind, &obj.fields);
                return;
            }
            ("absent", None) => return,
            ("must_created", Some(_)) => return errors.push(already_exists(loc, model)),
            _ => {}
        }
        let creating = found.is_none();
        let mut fields = match found {
            Some(i) => objs[i].fields.clone(),
            None => {
                let mut f = Map::new();
                if kind == Kind::Users {
                    let pk = ident
                        .get("pk")
                        .and_then(Value::as_i64)
                        .unwrap_or_else(|| derived_user_pk(model, &ident));
                    f.insert("pk".into(), Value::from(pk));
                } else {
                    let pk = ident
                        .get("pk")
                        .map(py_str)
                        .unwrap_or_else(|| derived_uuid(model, &ident, ""));
                    f.insert(pk_name.into(), Value::String(pk));
                }
                if matches!(kind, Kind::Flows | Kind::FlowBindings) {
                    f.insert(
                        "policybindingmodel_ptr_id".into(),
                        Value::String(derived_uuid(model, &ident, "pbm")),
                    );
                }
                if let Some(typed) = typed_model {
                    f.insert("meta_model_name".into(), Value::String(typed.to_string()));
                }
                f
            }
        };
        if state == "created" && !creating {
            // Never updated, but still the anchor of `!KeyOf`.
        } else {
            for (k, v) in ident.iter().chain(attrs.iter()) {
                if k == "pk" {
                    continue;
                }
                fields.insert(k.clone(), v.clone());
            }
        }
        if kind == Kind::FlowBindings {
            let given = |f: &str| ident.get(f).or(attrs.get(f)).and_then(Value::as_bool);
            let eop = given("evaluate_on_plan").unwrap_or(defaults.evaluate_on_plan);
            let rep = given("re_evaluate_policies").unwrap_or(defaults.re_evaluate_policies);
            if !eop && !rep {
                return errors.push(bad(loc, "flow-stage binding with both `evaluate_on_plan` and `re_evaluate_policies` false".into(), "authentik's serializer refuses it (\"Either evaluation on plan or evaluation on run must be enabled\"), which aborts the blueprint"));
            }
        }
        if kind == Kind::PolicyBindings {
            let set = ["policy", "group", "user"]
                .iter()
                .filter(|f| fields.get(**f).is_some_and(|v| !v.is_null()))
                .count();
            if set != 1 {
                return errors.push(bad(
                    loc,
                    format!(
                        "policy binding sets {} of `policy`, `group` and `user`",
                        if set == 0 { "none" } else { "several" }
                    ),
                    "authentik's serializer requires exactly one",
                ));
            }
        }
        let pk = fields.get(pk_name).cloned().unwrap_or(Value::Null);
        let pbm = fields.get("policybindingmodel_ptr_id").cloned();
        let objs = self.ws.objs(kind);
        match found {
            Some(i) => objs[i].fields = fields,
            None => objs.push(Obj { fields, loc }),
        }
        self.ws.store.endpoints.insert(kind);
        if let Some(id) = id {
            self.ws.keyof.insert(id, (pk, pbm));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn apply_other(
        &mut self,
        model: &str,
        state: &str,
        ident: Map<String, Value>,
        attrs: Map<String, Value>,
        id: Option<String>,
        loc: Loc,
        errors: &mut Vec<SnapshotError>,
    ) {
        let list = self.ws.store.others.entry(model.to_string()).or_default();
        let found = list.iter().position(|o| matches_other(o, &ident));
        match (state, found) {
            ("absent", Some(i)) => {
                list.remove(i);
                return;
            }
            ("absent", None) => return,
            ("must_created", Some(_)) => return errors.push(already_exists(loc, model)),
            _ => {}
        }
        let i = match found {
            Some(i) => i,
            None => {
                let pk = ident
                    .get("pk")
                    .cloned()
                    .unwrap_or_else(|| Value::String(derived_uuid(model, &ident, "")));
                list.push(OtherObject {
                    pk,
                    fields: Map::new(),
                });
                list.len() - 1
            }
        };
        if !(state == "created" && found.is_some()) {
            for (k, v) in ident.iter().chain(attrs.iter()) {
                list[i].fields.insert(k.clone(), v.clone());
            }
        }
        if let Some(id) = id {
            let pk = list[i].pk.clone();
            self.ws.keyof.insert(id, (pk, None));
        }
    }

    /// What authentik's foreign keys delete (or clear) with an object (docs/semantics.md §8).
    fn cascade(&mut self, kind: Kind, fields: &Map<String, Value>) {
        let pk = fields.get(pk_field(kind)).cloned().unwrap_or(Value::Null);
        let pbm = fields.get("policybindingmodel_ptr_id").cloned();
        let is_target = |v: Option<&Value>| {
            v.is_some_and(|v| same(v, &pk) || pbm.as_ref().is_some_and(|p| same(v, p)))
        };
        let drop_bindings = |ws: &mut Workspace, field: &str, targets: &[Value]| {
            ws.objs(Kind::PolicyBindings).retain(|b| {
                !b.fields
                    .get(field)
                    .is_some_and(|v| targets.iter().any(|t| same(v, t)))
            });
        };
        match kind {
            Kind::Groups => {
                drop_bindings(self.ws, "group", std::slice::from_ref(&pk));
                for u in self.ws.objs(Kind::Users) {
                    if let Some(Value::Array(gs)) = u.fields.get_mut("groups") {
                        gs.retain(|g| !same(g, &pk));
                    }
                }
                for g in self.ws.objs(Kind::Groups) {
                    if let Some(Value::Array(ps)) = g.fields.get_mut("parents") {
                        ps.retain(|p| !same(p, &pk));
                    }
                    if g.fields.get("parent").is_some_and(|p| same(p, &pk)) {
                        g.fields.remove("parent");
                    }
                }
            }
            Kind::Users => {
                drop_bindings(self.ws, "user", std::slice::from_ref(&pk));
                for g in self.ws.objs(Kind::Groups) {
                    if let Some(Value::Array(us)) = g.fields.get_mut("users") {
                        us.retain(|u| !same(u, &pk));
                    }
                }
            }
            Kind::Policies => drop_bindings(self.ws, "policy", std::slice::from_ref(&pk)),
            Kind::Flows | Kind::Stages => {
                let field = if kind == Kind::Flows {
                    "target"
                } else {
                    "stage"
                };
                let fsbs = self.ws.objs(Kind::FlowBindings);
                let (gone, kept): (Vec<Obj>, Vec<Obj>) = std::mem::take(fsbs)
                    .into_iter()
                    .partition(|x| x.fields.get(field).is_some_and(|v| same(v, &pk)));
                *fsbs = kept;
                for x in gone {
                    self.cascade(Kind::FlowBindings, &x.fields);
                }
                if kind == Kind::Flows {
                    self.ws
                        .objs(Kind::PolicyBindings)
                        .retain(|b| !is_target(b.fields.get("target")));
                    for s in self.ws.objs(Kind::Sources) {
                        for f in ["authentication_flow", "enrollment_flow"] {
                            if s.fields.get(f).is_some_and(|v| same(v, &pk)) {
                                s.fields.remove(f);
                            }
                        }
                    }
                }
            }
            Kind::FlowBindings
            | Kind::Sources
            | Kind::Entitlements
            | Kind::NotificationRules
            | Kind::RacEndpoints
            | Kind::Devices
            | Kind::DeviceAccessGroups => {
                self.ws
                    .objs(Kind::PolicyBindings)
                    .retain(|b| !is_target(b.fields.get("target")));
            }
            Kind::Applications => {
                self.ws
                    .objs(Kind::PolicyBindings)
                    .retain(|b| !is_target(b.fields.get("target")));
                // An application takes its entitlements, and they their bindings.
                let ents = self.ws.objs(Kind::Entitlements);
                let (gone, kept): (Vec<Obj>, Vec<Obj>) = std::mem::take(ents)
                    .into_iter()
                    .partition(|e| e.fields.get("app").is_some_and(|v| same(v, &pk)));
                *ents = kept;
                for e in gone {
                    self.cascade(Kind::Entitlements, &e.fields);
                }
            }
            Kind::PolicyBindings
            | Kind::Brands
            | Kind::Transports
            | Kind::DeviceBindings
            | Kind::Providers => {}
        }
    }
}

/// A `must_created` entry whose object already exists.
fn already_exists(loc: Loc, model: &str) -> SnapshotError {
    bad(
        loc,
        format!("`{model}` entry has state `must_created` but the object already exists"),
        "authentik aborts the blueprint; use `present` to update it",
    )
}

fn bad(loc: Loc, what: String, help: &str) -> SnapshotError {
    SnapshotError::Blueprint {
        loc,
        what,
        help: help.to_string(),
    }
}

/// For kinds that hold several models (stages, policies, sources), the model to match on.
fn typed_model(kind: Kind, model: &str) -> Option<&str> {
    matches!(
        kind,
        Kind::Stages | Kind::Policies | Kind::Sources | Kind::Providers
    )
    .then_some(model)
}

fn of_model(fields: &Map<String, Value>, model: Option<&str>) -> bool {
    match (model, fields.get("meta_model_name")) {
        (Some(m), Some(Value::String(have))) => have == m,
        _ => true,
    }
}

fn matches_other(o: &OtherObject, ident: &Map<String, Value>) -> bool {
    let mut fields = o.fields.clone();
    fields.insert("pk".into(), o.pk.clone());
    matches(&fields, "pk", ident)
}
