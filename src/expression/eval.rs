//! Three-valued evaluation of a body over what the snapshot knows.
//!
//! A value is known, unknown (with the construct and line that make it so), or the evaluation
//! raises. Questions about the identity (has it a pk, is it in a group named X, which values do
//! its fields hold) are not answered here: the evaluation forks on them, and every path ends in
//! a [`Case`] that lists the answers it assumed. The rules then fit each identity to the cases
//! (membership through the hierarchy and its version rules stay in `membership.dl`). A value
//! bindlog cannot know whose truthiness decides a branch forks too, as a free choice: an identity
//! whose fitting cases disagree gets unknown.
//!
//! Paths are explored by re-running the body with a longer list of decisions (one per fork met),
//! so the interpreter needs no state snapshots; bodies are small and paths are capped.

use super::ast::{CmpOp, Const, Expr, ExprKind, Stmt};
use super::parse::Body;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

/// Where a policy is evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ctx {
    /// A flow's own policies, at planning.
    Flow,
    /// A stage binding's check at plan time.
    StagePlan,
    /// A stage binding's check when its stage is reached.
    StageRun,
    /// Application access.
    App,
    /// A source's bindings.
    Source,
}

impl Ctx {
    /// Every context, in the rules' order.
    pub const ALL: [Ctx; 5] = [
        Ctx::Flow,
        Ctx::StagePlan,
        Ctx::StageRun,
        Ctx::App,
        Ctx::Source,
    ];

    /// The rules' name of the context (`ctx` in `policies.dl`).
    pub fn as_str(self) -> &'static str {
        match self {
            Ctx::Flow => "flow",
            Ctx::StagePlan => "stage_plan",
            Ctx::StageRun => "stage_run",
            Ctx::App => "app",
            Ctx::Source => "source",
        }
    }
}

/// Who `pending_user` in the context is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pending {
    /// Not set.
    Absent,
    /// Set to the engine user when that user has a pk (a source login with an existing
    /// connection); not set for the anonymous visitor (a source enrollment).
    IfKnown,
    /// The engine user (after an identification stage; for a visitor without a pk, the unsaved
    /// user an unknown identifier makes).
    Engine,
}

/// The situation a body is evaluated in: context, how the flow was entered, and the pending user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Situation {
    /// The evaluation context.
    pub ctx: Ctx,
    /// Entered through a source or an OAuth2 authorization (`is_sso` set).
    pub sso: bool,
    /// The pending user.
    pub pending: Pending,
}

/// A question about the engine user that the rules answer per identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Atom {
    /// The user has a pk (0: the anonymous visitor or an unsaved user; 1: a known user).
    Known,
    /// In a group of this name, through the hierarchy (`all_groups()`, `ak_is_group_member`).
    Member(String),
    /// Directly in a group of this name (`user.groups`).
    Direct(String),
    /// `is_superuser`.
    Superuser,
    /// Which class of values the fields the body reads hold (an index into [`Fields::classes`]).
    Fields,
}

impl Atom {
    /// The rules' kind and argument of the atom.
    pub fn kind_arg(&self) -> (&'static str, &str) {
        match self {
            Atom::Known => ("known", ""),
            Atom::Member(n) => ("member", n),
            Atom::Direct(n) => ("direct", n),
            Atom::Superuser => ("superuser", ""),
            Atom::Fields => ("fields", ""),
        }
    }
}

/// A user field value as a body can read it.
#[derive(Clone, Debug, PartialEq)]
pub enum FieldValue {
    /// `None` / null.
    None,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// A list of values.
    List(Vec<FieldValue>),
    /// A value bindlog does not model (a dict, a float).
    Other,
}

/// The user fields a body reads, and the distinct combinations of their values among the
/// snapshot's users (each combination one class; users of one class answer alike).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Fields {
    /// The fields read: `username`, `email`, `name`, `is_active`, `type`, `pk`, or `attributes.K`.
    pub names: Vec<String>,
    /// The classes: one value per name; an attribute the user lacks is `Option::None`.
    pub classes: Vec<Vec<Option<FieldValue>>>,
    /// Too many classes to fork on: field reads are unknown.
    pub too_many: bool,
}

/// What the snapshot knows that every evaluation may read.
#[derive(Clone, Debug, Default)]
pub struct World {
    /// Names of every policy (for `ak_call_policy`).
    pub policy_names: HashSet<String>,
}

/// How one path ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    /// Returns a truthy value.
    Pass,
    /// Returns a falsy value or `None`.
    Fail,
    /// Raises: the binding's `failure_result` applies.
    Raise,
    /// Depends on something known only at run time.
    Unknown,
}

impl Outcome {
    /// The rules' name (`pass`, `fail`, `raise`, `unknown`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Raise => "raise",
            Outcome::Unknown => "unknown",
        }
    }
}

/// An answer a path assumed about the identity.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cond {
    /// The question.
    pub atom: Atom,
    /// The answer: 0 or 1, or a class index for [`Atom::Fields`].
    pub value: u32,
    /// Where the body asked it: "line 3: `ak_is_group_member(...)`".
    pub at: String,
}

/// The result of the body for identities that answer the conditions so.
#[derive(Clone, Debug, PartialEq)]
pub struct Case {
    /// The answers assumed (each atom at most once).
    pub conds: Vec<Cond>,
    /// The result.
    pub outcome: Outcome,
    /// Why, in the administrator's words, with the line in the body.
    pub why: String,
    /// The first value bindlog could not know whose truth this path assumed.
    pub open: Option<String>,
}

/// More paths than this and the body is unknown as a whole.
pub const MAX_PATHS: usize = 512;
/// More field classes than this and field reads are unknown.
pub const MAX_FIELD_CLASSES: usize = 256;
/// Evaluation steps per path.
const MAX_STEPS: usize = 20_000;

/// Evaluates `body` in `sit`: its cases, merged where they assume the same answers.
pub fn evaluate(body: &Body, sit: Situation, world: &World, fields: &Fields) -> Vec<Case> {
    let assigned = assigned_names(&body.stmts);
    let mut todo: Vec<Vec<u32>> = vec![Vec::new()];
    let mut leaves: Vec<Case> = Vec::new();
    let mut paths = 0usize;
    while let Some(path) = todo.pop() {
        paths += 1;
        if paths > MAX_PATHS {
            return vec![Case {
                conds: Vec::new(),
                outcome: Outcome::Unknown,
                why: format!("the expression has more than {MAX_PATHS} paths to follow"),
                open: None,
            }];
        }
        let mut run = Run {
            sit,
            world,
            fields,
            assigned: &assigned,
            path: &path,
            pos: 0,
            conds: Vec::new(),
            locals: HashMap::new(),
            may_raise: None,
            free: None,
            steps: 0,
        };
        match run.body(&body.stmts) {
            Ok(()) => leaves.push(run.leaf(
                Outcome::Fail,
                "the body ends without `return`: None fails".into(),
            )),
            Err(Flow::Return(v, at)) => {
                let leaf = match v.truth() {
                    Some(true) => run.leaf(Outcome::Pass, format!("{at} returns a true value")),
                    Some(false) => run.leaf(
                        Outcome::Fail,
                        if matches!(v, V::None) {
                            format!("{at} returns None, which fails")
                        } else {
                            format!("{at} returns a false value")
                        },
                    ),
                    None => run.leaf(Outcome::Unknown, v.unknown_why().unwrap_or(at)),
                };
                leaves.push(leaf);
            }
            Err(Flow::Raise(why)) => leaves.push(Case {
                conds: run.conds.clone(),
                outcome: Outcome::Raise,
                why,
                open: run.free.clone(),
            }),
            Err(Flow::Unknown(why)) => leaves.push(Case {
                conds: run.conds.clone(),
                outcome: Outcome::Unknown,
                why,
                open: run.free.clone(),
            }),
            Err(Flow::Fork(n)) => {
                for i in (0..n).rev() {
                    let mut p = path.clone();
                    p.push(i);
                    todo.push(p);
                }
            }
        }
    }
    merge(leaves)
}

/// Leaves that assume the same answers become one case: their outcome if they agree, else unknown.
fn merge(leaves: Vec<Case>) -> Vec<Case> {
    let mut out: Vec<Case> = Vec::new();
    let key = |c: &Case| {
        let mut k: Vec<(Atom, u32)> = c.conds.iter().map(|d| (d.atom.clone(), d.value)).collect();
        k.sort();
        k
    };
    let mut index: HashMap<Vec<(Atom, u32)>, usize> = HashMap::new();
    for mut leaf in leaves {
        leaf.conds.sort();
        let k = key(&leaf);
        match index.get(&k) {
            Some(&i) => {
                let c = &mut out[i];
                if c.outcome != leaf.outcome && c.outcome != Outcome::Unknown {
                    c.why = if leaf.outcome == Outcome::Unknown {
                        leaf.why
                    } else {
                        c.open
                            .clone()
                            .or(leaf.open)
                            .unwrap_or_else(|| c.why.clone())
                    };
                    c.outcome = Outcome::Unknown;
                }
            }
            None => {
                index.insert(k, out.len());
                out.push(leaf);
            }
        }
    }
    out
}

/// The names a body assigns anywhere (Python makes them local to the whole function).
fn assigned_names(stmts: &[Stmt]) -> HashSet<String> {
    let mut out = HashSet::new();
    fn walk(stmts: &[Stmt], out: &mut HashSet<String>) {
        for s in stmts {
            match s {
                Stmt::Assign(n, _, _) => {
                    out.insert(n.clone());
                }
                Stmt::Import(names, _) => out.extend(names.iter().map(|(_, b)| b.clone())),
                Stmt::If(branches, _) => branches.iter().for_each(|(_, b)| walk(b, out)),
                _ => {}
            }
        }
    }
    walk(stmts, &mut out);
    out
}

/// The fields a body may read of a user: attribute names and attribute keys, found by shape.
pub fn read_fields(body: &Body) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |f: String| {
        if !out.contains(&f) {
            out.push(f);
        }
    };
    let mut stack: Vec<&Expr> = Vec::new();
    fn stmt_exprs<'a>(s: &'a Stmt, stack: &mut Vec<&'a Expr>) {
        match s {
            Stmt::Return(Some(e), _) | Stmt::Assign(_, e, _) | Stmt::Expr(e, _) => stack.push(e),
            Stmt::If(b, _) => {
                for (t, body) in b {
                    stack.extend(t.iter());
                    body.iter().for_each(|s| stmt_exprs(s, stack));
                }
            }
            _ => {}
        }
    }
    body.stmts.iter().for_each(|s| stmt_exprs(s, &mut stack));
    while let Some(e) = stack.pop() {
        match &e.kind {
            ExprKind::Attr(v, a) => {
                if USER_FIELDS.contains(&a.as_str()) {
                    add(a.clone());
                }
                stack.push(v);
            }
            ExprKind::Call(f, args, kw) => {
                if let ExprKind::Attr(base, m) = &f.kind
                    && m == "get"
                    && is_attributes(base)
                    && let Some(Expr {
                        kind: ExprKind::Const(Const::Str(k)),
                        ..
                    }) = args.first()
                {
                    add(format!("attributes.{k}"));
                }
                stack.push(f);
                stack.extend(args.iter());
                stack.extend(kw.iter().map(|(_, e)| e));
            }
            ExprKind::Subscript(v, i) => {
                if is_attributes(v)
                    && let ExprKind::Const(Const::Str(k)) = &i.kind
                {
                    add(format!("attributes.{k}"));
                }
                stack.push(v);
                stack.push(i);
            }
            ExprKind::Compare(l, rest) => {
                for (op, r) in rest {
                    if matches!(op, CmpOp::In | CmpOp::NotIn)
                        && is_attributes(r)
                        && let ExprKind::Const(Const::Str(k)) = &l.kind
                    {
                        add(format!("attributes.{k}"));
                    }
                    stack.push(r);
                }
                stack.push(l);
            }
            ExprKind::Not(x) => stack.push(x),
            ExprKind::And(xs) | ExprKind::Or(xs) | ExprKind::List(xs) => stack.extend(xs.iter()),
            ExprKind::IfExp(a, b, c) => stack.extend([&**a, &**b, &**c]),
            ExprKind::Const(_) | ExprKind::Name(_) | ExprKind::Opaque(_) => {}
        }
    }
    out
}

fn is_attributes(e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Attr(_, a) if a == "attributes")
}

/// The plain user fields a body can read and bindlog loads.
pub const USER_FIELDS: [&str; 6] = ["username", "email", "name", "is_active", "type", "pk"];

/// Who a user value is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Who {
    /// The engine user (`request.user`; the pending user where that is the same).
    Engine,
}

#[derive(Clone, Debug, PartialEq)]
enum Obj {
    Request,
    /// `request.context` (`plan`: false) or a flow plan's `context` (`plan`: true).
    Context {
        plan: bool,
    },
    User(Who),
    Attributes(Who),
    /// `user.groups` (direct) or `user.all_groups()`.
    Groups {
        direct: bool,
        name: Option<String>,
        empty: bool,
    },
    /// A function or method bindlog models: its name, and the object it is bound to.
    Func(&'static str, Option<Box<V>>),
    ReModule,
    FlowPlan,
    /// A true object nobody reads further (a policy result, a regex match, a source).
    Truthy(&'static str),
}

#[derive(Clone, Debug, PartialEq)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    Str(Rc<str>),
    List(Rc<Vec<V>>),
    Obj(Obj),
    Unknown(Rc<str>),
}

impl V {
    fn truth(&self) -> Option<bool> {
        match self {
            V::None => Some(false),
            V::Bool(b) => Some(*b),
            V::Int(i) => Some(*i != 0),
            V::Str(s) => Some(!s.is_empty()),
            V::List(l) => Some(!l.is_empty()),
            V::Obj(Obj::Context { .. }) => None,
            V::Obj(_) => Some(true),
            V::Unknown(_) => None,
        }
    }

    fn unknown_why(&self) -> Option<String> {
        match self {
            V::Unknown(w) => Some(w.to_string()),
            _ => None,
        }
    }

    fn from_field(f: &FieldValue) -> V {
        match f {
            FieldValue::None => V::None,
            FieldValue::Bool(b) => V::Bool(*b),
            FieldValue::Int(i) => V::Int(*i),
            FieldValue::Str(s) => V::Str(s.as_str().into()),
            FieldValue::List(l) => V::List(Rc::new(l.iter().map(V::from_field).collect())),
            FieldValue::Other => V::Unknown("a user attribute holding a dict or a float".into()),
        }
    }
}

enum Flow {
    Return(V, String),
    Raise(String),
    Unknown(String),
    Fork(u32),
}

type R<T> = Result<T, Flow>;

/// What a context key holds in a situation.
enum Key {
    Present(V),
    Absent,
    Unknown(String),
}

struct Run<'a> {
    sit: Situation,
    world: &'a World,
    fields: &'a Fields,
    assigned: &'a HashSet<String>,
    path: &'a [u32],
    pos: usize,
    conds: Vec<Cond>,
    locals: HashMap<String, V>,
    may_raise: Option<String>,
    free: Option<String>,
    steps: usize,
}

fn at(e: &Expr) -> String {
    format!("line {}: `{}`", e.line, e.text)
}

/// Names authentik's evaluator defines whose values bindlog does not model, with what they are.
const UNMODELLED: [(&str, &str); 18] = [
    ("http_request", "the HTTP request"),
    ("ak_client_ip", "the client's IP address"),
    (
        "ak_user_has_authenticator",
        "the user's authenticator devices",
    ),
    ("ak_create_event", "an event write"),
    ("ak_create_jwt", "a token write"),
    ("ak_create_jwt_raw", "a token"),
    ("ak_send_email", "an e-mail"),
    ("ak_user_by", "a user lookup in the database"),
    ("ak_obj_attr", "an object attribute lookup"),
    ("ip_address", "IP address parsing"),
    ("ip_network", "IP network parsing"),
    ("list_flatten", "list_flatten"),
    ("regex_replace", "regex_replace"),
    ("requests", "an HTTP request to another server"),
    ("resolve_dns", "a DNS lookup"),
    ("reverse_dns", "a DNS lookup"),
    ("slugify", "slugify"),
    ("has_access_to_application", "another policy engine run"),
];

/// Python's builtins (defined, so not a NameError), other than those modelled.
const BUILTINS: [&str; 48] = [
    "abs",
    "all",
    "any",
    "ascii",
    "bin",
    "bytes",
    "callable",
    "chr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "hash",
    "hex",
    "id",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "list",
    "map",
    "max",
    "min",
    "next",
    "object",
    "oct",
    "ord",
    "pow",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "sum",
    "tuple",
    "type",
    "zip",
    "Exception",
    "ValueError",
    "KeyError",
];

impl Run<'_> {
    fn leaf(&self, outcome: Outcome, why: String) -> Case {
        let (outcome, why) = match (&self.may_raise, outcome) {
            (Some(w), Outcome::Pass | Outcome::Fail) => (Outcome::Unknown, w.clone()),
            _ => (outcome, why),
        };
        Case {
            conds: self.conds.clone(),
            outcome,
            why,
            open: self.free.clone(),
        }
    }

    /// The next decision on this path, or a fork into `n`.
    fn decide(&mut self, n: u32) -> R<u32> {
        match self.path.get(self.pos) {
            Some(&d) => {
                self.pos += 1;
                Ok(d)
            }
            None => Err(Flow::Fork(n)),
        }
    }

    /// The identity's answer to `atom`, forking the first time it is asked on a path.
    fn ask(&mut self, atom: Atom, n: u32, e: &Expr) -> R<u32> {
        if let Some(c) = self.conds.iter().find(|c| c.atom == atom) {
            return Ok(c.value);
        }
        let v = self.decide(n)?;
        self.conds.push(Cond {
            atom,
            value: v,
            at: at(e),
        });
        Ok(v)
    }

    /// The truthiness of a value; an unknown one is a free choice.
    fn truth(&mut self, v: &V) -> R<bool> {
        match v.truth() {
            Some(b) => Ok(b),
            None => {
                if self.free.is_none() {
                    self.free = Some(
                        v.unknown_why()
                            .unwrap_or_else(|| "a context whose content is not known".into()),
                    );
                }
                Ok(self.decide(2)? == 1)
            }
        }
    }

    /// An operation on a value bindlog does not know: its result is unknown and it may raise.
    fn opaque(&mut self, why: String) -> V {
        if self.may_raise.is_none() {
            self.may_raise = Some(why.clone());
        }
        V::Unknown(why.into())
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(Flow::Unknown(
                "the expression takes too many steps to follow".into(),
            ));
        }
        Ok(())
    }

    fn body(&mut self, stmts: &[Stmt]) -> R<()> {
        for s in stmts {
            self.stmt(s)?;
        }
        Ok(())
    }

    fn stmt(&mut self, s: &Stmt) -> R<()> {
        self.step()?;
        match s {
            Stmt::Return(v, line) => {
                let (val, text) = match v {
                    Some(e) => (self.expr(e)?, format!("line {line}: `return {}`", e.text)),
                    None => (V::None, format!("line {line}: `return`")),
                };
                Err(Flow::Return(val, text))
            }
            Stmt::If(branches, _) => {
                for (test, body) in branches {
                    let take = match test {
                        Some(t) => {
                            let v = self.expr(t)?;
                            self.truth(&v)?
                        }
                        None => true,
                    };
                    if take {
                        return self.body(body);
                    }
                }
                Ok(())
            }
            Stmt::Assign(n, e, _) => {
                let v = self.expr(e)?;
                self.locals.insert(n.clone(), v);
                Ok(())
            }
            Stmt::Expr(e, _) => self.expr(e).map(|_| ()),
            Stmt::Pass(_) => Ok(()),
            Stmt::Import(names, line) => {
                for (module, bound) in names {
                    let v = if module == "re" {
                        V::Obj(Obj::ReModule)
                    } else {
                        self.opaque(format!("line {line}: the module `{module}`"))
                    };
                    self.locals.insert(bound.clone(), v);
                }
                Ok(())
            }
            Stmt::Opaque(what, line) => Err(Flow::Unknown(format!(
                "line {line}: {what} is not evaluated by bindlog"
            ))),
        }
    }

    fn expr(&mut self, e: &Expr) -> R<V> {
        self.step()?;
        match &e.kind {
            ExprKind::Const(c) => Ok(match c {
                Const::None => V::None,
                Const::Bool(b) => V::Bool(*b),
                Const::Int(i) => V::Int(*i),
                Const::Str(s) => V::Str(s.as_str().into()),
            }),
            ExprKind::Name(n) => self.name(n, e),
            ExprKind::Attr(v, a) => {
                let base = self.expr(v)?;
                self.attr(base, a, e)
            }
            ExprKind::Subscript(v, i) => {
                let base = self.expr(v)?;
                let idx = self.expr(i)?;
                self.subscript(base, idx, e)
            }
            ExprKind::Call(f, args, kw) => {
                let func = self.expr(f)?;
                let mut a = Vec::with_capacity(args.len());
                for x in args {
                    a.push(self.expr(x)?);
                }
                let mut k = Vec::with_capacity(kw.len());
                for (n, x) in kw {
                    k.push((n.as_str(), self.expr(x)?));
                }
                self.call(func, a, k, e)
            }
            ExprKind::Not(x) => {
                let v = self.expr(x)?;
                Ok(match v.truth() {
                    Some(b) => V::Bool(!b),
                    None => V::Unknown(
                        v.unknown_why()
                            .unwrap_or_else(|| format!("{}: its truth is not known", at(e)))
                            .into(),
                    ),
                })
            }
            ExprKind::And(xs) | ExprKind::Or(xs) => {
                let is_and = matches!(e.kind, ExprKind::And(_));
                let mut last = V::None;
                for (i, x) in xs.iter().enumerate() {
                    last = self.expr(x)?;
                    if i + 1 < xs.len() {
                        let t = self.truth(&last)?;
                        if t != is_and {
                            return Ok(last);
                        }
                    }
                }
                Ok(last)
            }
            ExprKind::Compare(l, rest) => {
                let mut left = self.expr(l)?;
                for (i, (op, r)) in rest.iter().enumerate() {
                    let right = self.expr(r)?;
                    let v = self.compare(*op, &left, &right, e)?;
                    if i + 1 == rest.len() {
                        return Ok(v);
                    }
                    // A chain stops at its first false link, as `and` does.
                    if !self.truth(&v)? {
                        return Ok(v);
                    }
                    left = right;
                }
                Ok(V::Bool(true))
            }
            ExprKind::List(xs) => {
                let mut out = Vec::with_capacity(xs.len());
                for x in xs {
                    out.push(self.expr(x)?);
                }
                Ok(V::List(Rc::new(out)))
            }
            ExprKind::IfExp(t, b, o) => {
                let tv = self.expr(t)?;
                if self.truth(&tv)? {
                    self.expr(b)
                } else {
                    self.expr(o)
                }
            }
            ExprKind::Opaque(what) => {
                Ok(self.opaque(format!("{}: {what} is not evaluated by bindlog", at(e))))
            }
        }
    }

    fn name(&mut self, n: &str, e: &Expr) -> R<V> {
        if let Some(v) = self.locals.get(n) {
            return Ok(v.clone());
        }
        if self.assigned.contains(n) {
            return Err(Flow::Raise(format!(
                "{}: the local `{n}` is read before it is assigned (UnboundLocalError)",
                at(e)
            )));
        }
        let sso = self.sit.sso;
        Ok(match n {
            "request" => V::Obj(Obj::Request),
            "context" => V::Obj(Obj::Context { plan: false }),
            "ak_is_sso_flow" => V::Bool(sso),
            "True" => V::Bool(true),
            "False" => V::Bool(false),
            "None" => V::None,
            "ak_message" | "print" | "ak_is_group_member" | "ak_call_policy" | "regex_match"
            | "bool" | "str" | "len" | "hasattr" => V::Obj(Obj::Func(static_name(n), None)),
            "ak_logger" => V::Obj(Obj::Truthy("ak_logger")),
            _ => {
                if let Some((_, what)) = UNMODELLED.iter().find(|(k, _)| *k == n) {
                    V::Unknown(format!("{}: {what} is known only at run time", at(e)).into())
                } else if BUILTINS.contains(&n) {
                    V::Unknown(
                        format!("{}: the builtin `{n}` is not evaluated by bindlog", at(e)).into(),
                    )
                } else {
                    return Err(Flow::Raise(format!(
                        "{}: the name `{n}` is not defined (NameError)",
                        at(e)
                    )));
                }
            }
        })
    }

    fn context_key(&mut self, key: &str, plan: bool, e: &Expr) -> R<Key> {
        let sit = self.sit;
        let run = sit.ctx == Ctx::StageRun;
        Ok(match key {
            "is_sso" if sit.sso => Key::Present(V::Bool(true)),
            "source" | "application" if sit.sso => Key::Unknown(format!(
                "{}: `{key}` is set when the flow is entered through a source or an OAuth2 authorization, depending on which",
                at(e)
            )),
            // Only the caller's default context sets these; stages do not.
            "is_sso" | "source" | "application" => Key::Absent,
            "flow_plan" if !plan && matches!(sit.ctx, Ctx::StagePlan | Ctx::StageRun) => {
                Key::Present(V::Obj(Obj::FlowPlan))
            }
            "pending_user" => match sit.pending {
                Pending::Absent => Key::Absent,
                Pending::Engine => Key::Present(V::Obj(Obj::User(Who::Engine))),
                Pending::IfKnown => {
                    if self.ask(Atom::Known, 2, e)? == 1 {
                        Key::Present(V::Obj(Obj::User(Who::Engine)))
                    } else {
                        Key::Absent
                    }
                }
            },
            "prompt_data" if run => {
                Key::Unknown(format!("{}: the prompt data the user typed", at(e)))
            }
            // Restoring a plan from an e-mail link stores `is_restored` as True, and nothing
            // stores another value: either absent or True.
            "is_restored" if run => {
                if self.free.is_none() {
                    self.free = Some(format!("{}: whether the plan was restored", at(e)));
                }
                if self.decide(2)? == 1 {
                    Key::Present(V::Bool(true))
                } else {
                    Key::Absent
                }
            }
            "auth_method" | "auth_method_args" if run => Key::Unknown(format!(
                "{}: `{key}` is set by the stage that authenticated the user",
                at(e)
            )),
            _ if run => Key::Unknown(format!(
                "{}: the flow's context holds `{key}` only if an earlier stage stored it",
                at(e)
            )),
            // An application's provider may add keys to the request (OAuth2's authorize view
            // adds its scopes), none of those above.
            "flow_plan" | "prompt_data" | "auth_method" | "is_restored" => Key::Absent,
            _ if sit.ctx == Ctx::App => Key::Unknown(format!(
                "{}: the application's provider may put `{key}` in the request's context",
                at(e)
            )),
            _ => Key::Absent,
        })
    }

    fn attr(&mut self, base: V, a: &str, e: &Expr) -> R<V> {
        match base {
            V::Obj(Obj::Request) => Ok(match a {
                "user" => V::Obj(Obj::User(Who::Engine)),
                "context" => V::Obj(Obj::Context { plan: false }),
                "http_request" => V::Unknown(
                    format!("{}: the HTTP request is known only at run time", at(e)).into(),
                ),
                _ => self.opaque(format!("{}: `request.{a}` is not modelled", at(e))),
            }),
            V::Obj(Obj::FlowPlan) if a == "context" => Ok(V::Obj(Obj::Context { plan: true })),
            V::Obj(Obj::Context { plan }) if matches!(a, "get") => Ok(V::Obj(Obj::Func(
                "ctx.get",
                Some(Box::new(V::Obj(Obj::Context { plan }))),
            ))),
            V::Obj(Obj::User(Who::Engine)) => self.user_attr(a, e),
            V::Obj(Obj::Attributes(w)) if a == "get" => Ok(V::Obj(Obj::Func(
                "attrs.get",
                Some(Box::new(V::Obj(Obj::Attributes(w)))),
            ))),
            V::Obj(Obj::Groups {
                direct,
                name,
                empty,
            }) if matches!(a, "filter" | "exists") => Ok(V::Obj(Obj::Func(
                if a == "filter" {
                    "groups.filter"
                } else {
                    "groups.exists"
                },
                Some(Box::new(V::Obj(Obj::Groups {
                    direct,
                    name,
                    empty,
                }))),
            ))),
            V::Obj(Obj::ReModule) if matches!(a, "match" | "search" | "fullmatch") => Ok(V::Obj(
                Obj::Func(static_name(a), Some(Box::new(V::Obj(Obj::ReModule)))),
            )),
            V::Obj(Obj::Truthy("ak_logger")) => Ok(V::Obj(Obj::Func("log", None))),
            V::Str(s)
                if matches!(
                    a,
                    "lower" | "upper" | "strip" | "startswith" | "endswith" | "split"
                ) =>
            {
                Ok(V::Obj(Obj::Func(static_name(a), Some(Box::new(V::Str(s))))))
            }
            V::None => Err(Flow::Raise(format!(
                "{}: None has no attribute `{a}` (AttributeError)",
                at(e)
            ))),
            V::Unknown(w) => Ok(self.opaque(w.to_string())),
            _ => Ok(self.opaque(format!("{}: the attribute `{a}` is not modelled", at(e)))),
        }
    }

    /// An attribute of the engine user: forks on whether it has a pk.
    fn user_attr(&mut self, a: &str, e: &Expr) -> R<V> {
        if self.ask(Atom::Known, 2, e)? == 0 {
            if self.sit.pending == Pending::Engine {
                return Ok(self.opaque(format!(
                    "{}: the pending user of an unknown identifier is an unsaved user",
                    at(e)
                )));
            }
            return self.anonymous_attr(a, e);
        }
        match a {
            "is_superuser" => Ok(V::Bool(self.ask(Atom::Superuser, 2, e)? == 1)),
            "is_authenticated" => Ok(V::Bool(true)),
            "is_anonymous" => Ok(V::Bool(false)),
            "attributes" => Ok(V::Obj(Obj::Attributes(Who::Engine))),
            "groups" | "ak_groups" => Ok(V::Obj(Obj::Groups {
                direct: true,
                name: None,
                empty: false,
            })),
            "all_groups" => Ok(V::Obj(Obj::Func("all_groups", None))),
            _ if USER_FIELDS.contains(&a) => self.field(a, e),
            _ => Ok(self.opaque(format!("{}: the user field `{a}` is not loaded", at(e)))),
        }
    }

    /// Django's anonymous user (no pk).
    fn anonymous_attr(&mut self, a: &str, e: &Expr) -> R<V> {
        match a {
            "username" => Ok(V::Str("".into())),
            "is_superuser" | "is_active" | "is_staff" | "is_authenticated" => Ok(V::Bool(false)),
            "is_anonymous" => Ok(V::Bool(true)),
            "pk" | "id" => Ok(V::None),
            "groups" => Ok(V::Obj(Obj::Groups {
                direct: true,
                name: None,
                empty: true,
            })),
            "attributes" | "email" | "name" | "type" | "all_groups" | "ak_groups" => {
                Err(Flow::Raise(format!(
                    "{}: the anonymous visitor has no `{a}` (AttributeError)",
                    at(e)
                )))
            }
            _ => Ok(self.opaque(format!(
                "{}: `{a}` of the anonymous user is not modelled",
                at(e)
            ))),
        }
    }

    /// A field of a known engine user: forks on the class of the fields' values.
    fn field(&mut self, name: &str, e: &Expr) -> R<V> {
        let Some(i) = self.fields.names.iter().position(|n| n == name) else {
            return Ok(self.opaque(format!("{}: the field `{name}` is not loaded", at(e))));
        };
        if self.fields.too_many {
            return Ok(V::Unknown(
                format!(
                    "{}: the users' values of the fields this expression reads form more than {MAX_FIELD_CLASSES} combinations",
                    at(e)
                )
                .into(),
            ));
        }
        let n = u32::try_from(self.fields.classes.len()).unwrap_or(u32::MAX);
        let c = self.ask(Atom::Fields, n, e)? as usize;
        Ok(match self.fields.classes.get(c).and_then(|cl| cl.get(i)) {
            Some(Some(v)) => V::from_field(v),
            _ => V::None,
        })
    }

    fn attribute_key(&mut self, key: &str, e: &Expr) -> R<Option<V>> {
        let name = format!("attributes.{key}");
        let Some(i) = self.fields.names.iter().position(|n| *n == name) else {
            return Err(Flow::Unknown(format!(
                "{}: the attribute key is not a literal",
                at(e)
            )));
        };
        if self.fields.too_many {
            return Err(Flow::Unknown(format!(
                "{}: the users' values of the fields this expression reads form more than {MAX_FIELD_CLASSES} combinations",
                at(e)
            )));
        }
        let n = u32::try_from(self.fields.classes.len()).unwrap_or(u32::MAX);
        let c = self.ask(Atom::Fields, n, e)? as usize;
        Ok(self
            .fields
            .classes
            .get(c)
            .and_then(|cl| cl.get(i))
            .and_then(|v| v.as_ref().map(V::from_field)))
    }

    fn subscript(&mut self, base: V, idx: V, e: &Expr) -> R<V> {
        match (&base, &idx) {
            (V::Obj(Obj::Context { plan }), V::Str(k)) => match self.context_key(k, *plan, e)? {
                Key::Present(v) => Ok(v),
                Key::Absent => Err(Flow::Raise(format!(
                    "{}: the context has no `{k}` here (KeyError)",
                    at(e)
                ))),
                Key::Unknown(w) => Ok(self.opaque(w)),
            },
            (V::Obj(Obj::Attributes(_)), V::Str(k)) => match self.attribute_key(k, e) {
                Ok(Some(v)) => Ok(v),
                Ok(None) => Err(Flow::Raise(format!(
                    "{}: the user has no attribute `{k}` (KeyError)",
                    at(e)
                ))),
                Err(Flow::Unknown(w)) => Ok(self.opaque(w)),
                Err(f) => Err(f),
            },
            (V::List(l), V::Int(i)) => {
                let n = i64::try_from(l.len()).unwrap_or(i64::MAX);
                let j = if *i < 0 { i + n } else { *i };
                match usize::try_from(j).ok().and_then(|j| l.get(j)) {
                    Some(v) => Ok(v.clone()),
                    None => Err(Flow::Raise(format!(
                        "{}: index out of range (IndexError)",
                        at(e)
                    ))),
                }
            }
            (V::None, _) => Err(Flow::Raise(format!(
                "{}: None is not subscriptable (TypeError)",
                at(e)
            ))),
            _ => Ok(self.opaque(format!("{}: this subscript is not modelled", at(e)))),
        }
    }

    fn call(&mut self, func: V, args: Vec<V>, kw: Vec<(&str, V)>, e: &Expr) -> R<V> {
        let V::Obj(Obj::Func(name, bound)) = func else {
            return Ok(match func {
                V::Unknown(w) => self.opaque(w.to_string()),
                V::None => {
                    return Err(Flow::Raise(format!(
                        "{}: None is not callable (TypeError)",
                        at(e)
                    )));
                }
                _ => self.opaque(format!("{}: this call is not modelled", at(e))),
            });
        };
        let str_arg = |i: usize| match args.get(i) {
            Some(V::Str(s)) => Some(s.clone()),
            _ => None,
        };
        match name {
            "ak_message" | "print" | "log" => Ok(V::None),
            "bool" => Ok(match args.first() {
                None => V::Bool(false),
                Some(v) => match v.truth() {
                    Some(b) => V::Bool(b),
                    None => V::Unknown(
                        v.unknown_why()
                            .unwrap_or_else(|| format!("{}: its truth is not known", at(e)))
                            .into(),
                    ),
                },
            }),
            "str" => Ok(match args.first() {
                None => V::Str("".into()),
                Some(V::Str(s)) => V::Str(s.clone()),
                Some(V::Int(i)) => V::Str(i.to_string().into()),
                Some(V::Bool(b)) => V::Str(if *b { "True" } else { "False" }.into()),
                Some(V::None) => V::Str("None".into()),
                Some(_) => {
                    V::Unknown(format!("{}: the text of this value is not modelled", at(e)).into())
                }
            }),
            "len" => Ok(match args.first() {
                Some(V::Str(s)) => V::Int(i64::try_from(s.chars().count()).unwrap_or(i64::MAX)),
                Some(V::List(l)) => V::Int(i64::try_from(l.len()).unwrap_or(i64::MAX)),
                Some(V::None | V::Bool(_) | V::Int(_)) => {
                    return Err(Flow::Raise(format!(
                        "{}: this value has no len() (TypeError)",
                        at(e)
                    )));
                }
                _ => self.opaque(format!(
                    "{}: the length of this value is not modelled",
                    at(e)
                )),
            }),
            "hasattr" => Ok(match args.first() {
                Some(V::None | V::Bool(_) | V::Int(_)) => V::Bool(false),
                Some(V::Unknown(w)) => V::Unknown(w.clone()),
                _ => V::Unknown(
                    format!(
                        "{}: which attributes this object has is not modelled",
                        at(e)
                    )
                    .into(),
                ),
            }),
            "regex_match" => match (str_arg(0), str_arg(1)) {
                (Some(v), Some(r)) => Ok(self.regex(&r, &v, false, e)),
                _ => Ok(self.opaque(format!("{}: regex_match on values not known", at(e)))),
            },
            "match" | "search" | "fullmatch" => {
                match (str_arg(0), str_arg(1), kw.is_empty() && args.len() == 2) {
                    (Some(r), Some(v), true) => {
                        let pattern = match name {
                            "match" => format!("\\A(?:{r})"),
                            "fullmatch" => format!("\\A(?:{r})\\z"),
                            _ => r.to_string(),
                        };
                        Ok(match self.regex(&pattern, &v, true, e) {
                            V::Bool(true) => V::Obj(Obj::Truthy("a regex match")),
                            V::Bool(false) => V::None,
                            other => other,
                        })
                    }
                    _ => Ok(self.opaque(format!("{}: a regex on values not known", at(e)))),
                }
            }
            "lower" | "upper" | "strip" | "startswith" | "endswith" | "split" => {
                let Some(V::Str(s)) = bound.as_deref() else {
                    return Ok(self.opaque(format!("{}: not modelled", at(e))));
                };
                self.str_method(name, s, &args, e)
            }
            "ak_is_group_member" => {
                let [(k, V::Str(n))] = kw.as_slice() else {
                    return Ok(self.opaque(format!(
                        "{}: ak_is_group_member with filters other than one name",
                        at(e)
                    )));
                };
                if *k != "name" || args.len() != 1 {
                    return Ok(self.opaque(format!(
                        "{}: ak_is_group_member with filters other than name",
                        at(e)
                    )));
                }
                match args.first() {
                    Some(V::Obj(Obj::User(Who::Engine))) => {
                        if self.ask(Atom::Known, 2, e)? == 0 {
                            // Django refuses an unsaved user in a related query, and the
                            // anonymous user has no `all_groups`: either way it raises.
                            return Err(Flow::Raise(format!(
                                "{}: a user without a pk has no groups to query (the call raises)",
                                at(e)
                            )));
                        }
                        Ok(V::Bool(self.ask(Atom::Member(n.to_string()), 2, e)? == 1))
                    }
                    Some(V::None) => Err(Flow::Raise(format!(
                        "{}: None has no all_groups (AttributeError)",
                        at(e)
                    ))),
                    Some(V::Unknown(w)) => Ok(self.opaque(w.to_string())),
                    _ => Ok(self.opaque(format!("{}: ak_is_group_member on this value", at(e)))),
                }
            }
            "all_groups" => Ok(V::Obj(Obj::Groups {
                direct: false,
                name: None,
                empty: false,
            })),
            "groups.filter" => {
                let Some(V::Obj(Obj::Groups {
                    direct,
                    name: None,
                    empty,
                })) = bound.as_deref()
                else {
                    return Ok(self.opaque(format!("{}: a filter on a filtered query", at(e))));
                };
                match kw.as_slice() {
                    [("name", V::Str(n))] if args.is_empty() => Ok(V::Obj(Obj::Groups {
                        direct: *direct,
                        name: Some(n.to_string()),
                        empty: *empty,
                    })),
                    _ => Ok(self.opaque(format!("{}: a group query other than by name", at(e)))),
                }
            }
            "groups.exists" => match bound.as_deref() {
                // The anonymous user's groups are empty.
                Some(V::Obj(Obj::Groups { empty: true, .. })) => Ok(V::Bool(false)),
                Some(V::Obj(Obj::Groups {
                    direct,
                    name: Some(n),
                    ..
                })) => {
                    let atom = if *direct {
                        Atom::Direct(n.clone())
                    } else {
                        Atom::Member(n.clone())
                    };
                    Ok(V::Bool(self.ask(atom, 2, e)? == 1))
                }
                _ => Ok(self.opaque(format!(
                    "{}: whether any group exists is not modelled",
                    at(e)
                ))),
            },
            "ctx.get" => {
                let Some(V::Obj(Obj::Context { plan })) = bound.as_deref() else {
                    return Ok(self.opaque(format!("{}: not modelled", at(e))));
                };
                let default = args.get(1).cloned().unwrap_or(V::None);
                match args.first() {
                    Some(V::Str(k)) => Ok(match self.context_key(k, *plan, e)? {
                        Key::Present(v) => v,
                        Key::Absent => default,
                        Key::Unknown(w) => V::Unknown(w.into()),
                    }),
                    _ => Ok(self.opaque(format!("{}: a context key that is not a literal", at(e)))),
                }
            }
            "attrs.get" => {
                let default = args.get(1).cloned().unwrap_or(V::None);
                match args.first() {
                    Some(V::Str(k)) => match self.attribute_key(k, e) {
                        Ok(Some(v)) => Ok(v),
                        Ok(None) => Ok(default),
                        Err(Flow::Unknown(w)) => Ok(V::Unknown(w.into())),
                        Err(f) => Err(f),
                    },
                    _ => {
                        Ok(self
                            .opaque(format!("{}: an attribute key that is not a literal", at(e))))
                    }
                }
            }
            "ak_call_policy" => match str_arg(0) {
                Some(n) if self.world.policy_names.contains(&*n) => {
                    Ok(V::Obj(Obj::Truthy("a policy result")))
                }
                Some(n) => Err(Flow::Raise(format!(
                    "{}: no policy is named `{n}` (ValueError)",
                    at(e)
                ))),
                None => Ok(self.opaque(format!("{}: a policy name that is not known", at(e)))),
            },
            _ => Ok(self.opaque(format!("{}: not modelled", at(e)))),
        }
    }

    fn str_method(&mut self, name: &str, s: &str, args: &[V], e: &Expr) -> R<V> {
        let arg = |i: usize| match args.get(i) {
            Some(V::Str(x)) => Some(x.clone()),
            _ => None,
        };
        Ok(match name {
            "lower" if args.is_empty() => V::Str(s.to_lowercase().into()),
            "upper" if args.is_empty() => V::Str(s.to_uppercase().into()),
            "strip" if args.is_empty() => V::Str(s.trim().into()),
            "startswith" | "endswith" if args.len() == 1 => {
                let prefixes: Vec<Rc<str>> = match &args[0] {
                    V::Str(p) => vec![p.clone()],
                    V::List(l) if l.iter().all(|x| matches!(x, V::Str(_))) => l
                        .iter()
                        .filter_map(|x| match x {
                            V::Str(p) => Some(p.clone()),
                            _ => None,
                        })
                        .collect(),
                    V::Unknown(w) => return Ok(self.opaque(w.to_string())),
                    _ => {
                        return Err(Flow::Raise(format!(
                            "{}: {name} takes a string (TypeError)",
                            at(e)
                        )));
                    }
                };
                V::Bool(prefixes.iter().any(|p| {
                    if name == "startswith" {
                        s.starts_with(&**p)
                    } else {
                        s.ends_with(&**p)
                    }
                }))
            }
            "split" if args.len() == 1 => match arg(0) {
                Some(sep) if !sep.is_empty() => {
                    V::List(Rc::new(s.split(&*sep).map(|p| V::Str(p.into())).collect()))
                }
                Some(_) => {
                    return Err(Flow::Raise(format!(
                        "{}: empty separator (ValueError)",
                        at(e)
                    )));
                }
                None => self.opaque(format!("{}: a separator not known", at(e))),
            },
            "split" if args.is_empty() => V::List(Rc::new(
                s.split_whitespace().map(|p| V::Str(p.into())).collect(),
            )),
            _ => self.opaque(format!("{}: this string method is not modelled", at(e))),
        })
    }

    /// `re.search(pattern, value)`; a Python pattern the regex crate reads differently is unknown.
    fn regex(&mut self, pattern: &str, value: &str, _module: bool, e: &Expr) -> V {
        if !python_compatible(pattern, value) {
            return V::Unknown(
                format!(
                    "{}: a regular expression bindlog does not read like Python",
                    at(e)
                )
                .into(),
            );
        }
        match regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(r) => V::Bool(r.is_match(value)),
            Err(_) => V::Unknown(
                format!(
                    "{}: a regular expression bindlog does not read like Python",
                    at(e)
                )
                .into(),
            ),
        }
    }

    fn compare(&mut self, op: CmpOp, l: &V, r: &V, e: &Expr) -> R<V> {
        if let (V::Unknown(w), _) | (_, V::Unknown(w)) = (l, r) {
            let w = w.to_string();
            return Ok(
                if matches!(op, CmpOp::Eq | CmpOp::NotEq | CmpOp::Is | CmpOp::IsNot) {
                    V::Unknown(w.into())
                } else {
                    self.opaque(w)
                },
            );
        }
        match op {
            CmpOp::Eq | CmpOp::NotEq => Ok(match py_eq(l, r) {
                Some(b) => V::Bool(b == (op == CmpOp::Eq)),
                None => {
                    V::Unknown(format!("{}: comparing these objects is not modelled", at(e)).into())
                }
            }),
            CmpOp::Is | CmpOp::IsNot => {
                let same = match (l, r) {
                    (V::None, V::None) => Some(true),
                    (V::None, _) | (_, V::None) => Some(false),
                    (V::Bool(a), V::Bool(b)) => Some(a == b),
                    _ => None,
                };
                Ok(match same {
                    Some(b) => V::Bool(b == (op == CmpOp::Is)),
                    None => {
                        V::Unknown(format!("{}: object identity is not modelled", at(e)).into())
                    }
                })
            }
            CmpOp::In | CmpOp::NotIn => {
                let found = match r {
                    V::Str(hay) => match l {
                        V::Str(needle) => V::Bool(hay.contains(&**needle)),
                        _ => {
                            return Err(Flow::Raise(format!(
                                "{}: `in <string>` needs a string on the left (TypeError)",
                                at(e)
                            )));
                        }
                    },
                    V::List(items) => {
                        let mut any_unknown = false;
                        let mut hit = false;
                        for x in items.iter() {
                            match py_eq(l, x) {
                                Some(true) => {
                                    hit = true;
                                    break;
                                }
                                Some(false) => {}
                                None => any_unknown = true,
                            }
                        }
                        if hit {
                            V::Bool(true)
                        } else if any_unknown {
                            V::Unknown(
                                format!("{}: membership in this list is not modelled", at(e))
                                    .into(),
                            )
                        } else {
                            V::Bool(false)
                        }
                    }
                    V::Obj(Obj::Context { plan }) => match l {
                        V::Str(k) => match self.context_key(k, *plan, e)? {
                            Key::Present(_) => V::Bool(true),
                            Key::Absent => V::Bool(false),
                            Key::Unknown(w) => V::Unknown(w.into()),
                        },
                        _ => self.opaque(format!("{}: a context key that is not a string", at(e))),
                    },
                    V::Obj(Obj::Attributes(_)) => match l {
                        V::Str(k) => match self.attribute_key(k, e) {
                            Ok(v) => V::Bool(v.is_some()),
                            Err(Flow::Unknown(w)) => V::Unknown(w.into()),
                            Err(f) => return Err(f),
                        },
                        _ => {
                            self.opaque(format!("{}: an attribute key that is not a string", at(e)))
                        }
                    },
                    V::None | V::Bool(_) | V::Int(_) => {
                        return Err(Flow::Raise(format!(
                            "{}: this value is not a container (TypeError)",
                            at(e)
                        )));
                    }
                    _ => self.opaque(format!(
                        "{}: membership in this object is not modelled",
                        at(e)
                    )),
                };
                Ok(match (found, op) {
                    (V::Bool(b), CmpOp::NotIn) => V::Bool(!b),
                    (v, _) => v,
                })
            }
            CmpOp::Lt | CmpOp::LtE | CmpOp::Gt | CmpOp::GtE => {
                let ord = match (l, r) {
                    (V::Int(_) | V::Bool(_), V::Int(_) | V::Bool(_)) => Some(num(l).cmp(&num(r))),
                    (V::Str(a), V::Str(b)) => Some(a.cmp(b)),
                    (V::List(_), V::List(_)) | (V::Obj(_), _) | (_, V::Obj(_)) => None,
                    _ => {
                        return Err(Flow::Raise(format!(
                            "{}: these values cannot be ordered (TypeError)",
                            at(e)
                        )));
                    }
                };
                Ok(match ord {
                    Some(o) => V::Bool(match op {
                        CmpOp::Lt => o.is_lt(),
                        CmpOp::LtE => o.is_le(),
                        CmpOp::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    }),
                    None => {
                        self.opaque(format!("{}: ordering these values is not modelled", at(e)))
                    }
                })
            }
        }
    }
}

fn num(v: &V) -> i64 {
    match v {
        V::Int(i) => *i,
        V::Bool(b) => i64::from(*b),
        _ => 0,
    }
}

/// Python's `==` on values bindlog knows (`True == 1`); `None` where it is not modelled.
fn py_eq(l: &V, r: &V) -> Option<bool> {
    Some(match (l, r) {
        (V::None, V::None) => true,
        (V::Int(_) | V::Bool(_), V::Int(_) | V::Bool(_)) => num(l) == num(r),
        (V::Str(a), V::Str(b)) => a == b,
        (V::List(a), V::List(b)) => {
            if a.len() != b.len() {
                return Some(false);
            }
            for (x, y) in a.iter().zip(b.iter()) {
                if !py_eq(x, y)? {
                    return Some(false);
                }
            }
            true
        }
        (V::Obj(Obj::User(_)), V::None) | (V::None, V::Obj(Obj::User(_))) => false,
        (V::Obj(_), _) | (_, V::Obj(_)) | (V::Unknown(_), _) | (_, V::Unknown(_)) => return None,
        _ => false,
    })
}

/// Whether a pattern means the same to the regex crate as to Python's `re`: no look-around,
/// back-references or possessive forms (which the crate rejects anyway), and no escapes whose
/// meaning differs (`\Z`, `\d` on Unicode digits is the same in both by default).
fn python_compatible(p: &str, value: &str) -> bool {
    !(p.contains("\\Z") || p.contains("(?P=") || (p.contains('$') && value.ends_with('\n')))
}

fn static_name(n: &str) -> &'static str {
    const NAMES: [&str; 18] = [
        "ak_message",
        "print",
        "ak_is_group_member",
        "ak_call_policy",
        "regex_match",
        "bool",
        "str",
        "len",
        "hasattr",
        "match",
        "search",
        "fullmatch",
        "lower",
        "upper",
        "strip",
        "startswith",
        "endswith",
        "split",
    ];
    NAMES
        .iter()
        .find(|x| **x == n)
        .copied()
        .unwrap_or("unknown")
}
