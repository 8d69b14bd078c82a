//! Parsing a body the way authentik compiles it: indented into `def handler(...):` and parsed as
//! a module (`authentik/lib/expression/evaluator.py`, `wrap_expression`), with ruff's Python
//! parser; the tree is then narrowed to [`super::ast`].

use super::ast::{CmpOp, Const, Expr, ExprKind, Stmt};
use ruff_python_ast as py;
use ruff_text_size::Ranged;

/// The largest body bindlog parses; authentik's bodies are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// The deepest nesting of brackets, blocks and operators bindlog follows.
pub const MAX_DEPTH: usize = 64;
/// Bodies above this size are parsed on a thread with a large stack (the parser recurses).
const SMALL_BODY: usize = 4 * 1024;

/// Why a body cannot be evaluated at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// Python rejects it: authentik raises when compiling it, so every evaluation errors.
    Syntax {
        /// The line in the body (1-based).
        line: u32,
        /// The parser's message.
        message: String,
    },
    /// Too large or too deeply nested for bindlog to follow (hostile input).
    TooLarge(String),
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Syntax { line, message } => {
                write!(
                    f,
                    "syntax error on line {line} of the expression: {message}"
                )
            }
            BodyError::TooLarge(why) => write!(f, "{why}"),
        }
    }
}

/// A parsed body.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// Its statements.
    pub stmts: Vec<Stmt>,
}

/// Parses a body as authentik wraps it.
pub fn parse_body(body: &str) -> Result<Body, BodyError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(BodyError::TooLarge(format!(
            "the expression has {} bytes, more than the {MAX_BODY_BYTES} bindlog reads",
            body.len()
        )));
    }
    let depth = bracket_depth(body);
    if depth > MAX_DEPTH {
        return Err(BodyError::TooLarge(format!(
            "the expression nests brackets {depth} deep, more than the {MAX_DEPTH} bindlog follows"
        )));
    }
    let wrapped = wrap(body);
    if body.len() <= SMALL_BODY {
        return parse_wrapped(&wrapped);
    }
    // The parser recurses on nested operators; a large body gets a stack to match.
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, || parse_wrapped(&wrapped))
            .map_or_else(
                |_| {
                    Err(BodyError::TooLarge(
                        "no thread to parse a large expression".into(),
                    ))
                },
                |h| {
                    h.join().unwrap_or_else(|_| {
                        Err(BodyError::TooLarge(
                            "the expression could not be parsed".into(),
                        ))
                    })
                },
            )
    })
}

/// `textwrap.indent(body, "    ")` under `def handler():`, as authentik does (lines holding
/// only whitespace stay unindented).
fn wrap(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + body.len() / 8 + 32);
    out.push_str("def handler():\n");
    for line in body.split_inclusive('\n') {
        if !line.trim().is_empty() {
            out.push_str("    ");
        }
        out.push_str(line);
    }
    out.push_str("\nresult = handler()\n");
    out
}

/// The deepest bracket nesting, strings and comments not counted.
fn bracket_depth(body: &str) -> usize {
    let (mut depth, mut max) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    chars.next();
                } else if c == q || c == '\n' {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => quote = Some(c),
                '#' => {
                    for c in chars.by_ref() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                '(' | '[' | '{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                ')' | ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    max
}

fn parse_wrapped(wrapped: &str) -> Result<Body, BodyError> {
    let lines = LineIndex::new(wrapped);
    let parsed = match ruff_python_parser::parse_module(wrapped) {
        Ok(p) => p,
        Err(e) => {
            let line = lines
                .line(e.location.start().to_usize())
                .saturating_sub(1)
                .max(1);
            return Err(BodyError::Syntax {
                line,
                message: e.error.to_string(),
            });
        }
    };
    let module = parsed.into_syntax();
    let Some(py::Stmt::FunctionDef(def)) = module.body.first() else {
        return Err(BodyError::Syntax {
            line: 1,
            message: "the expression does not form a function body".into(),
        });
    };
    let conv = Conv {
        src: wrapped,
        lines,
    };
    Ok(Body {
        stmts: conv.stmts(&def.body, 0)?,
    })
}

/// Byte offset -> line (1-based) in the wrapped text.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(s: &str) -> Self {
        let mut starts = vec![0];
        starts.extend(s.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex(starts)
    }

    fn line(&self, offset: usize) -> u32 {
        let n = self.0.partition_point(|&s| s <= offset);
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

struct Conv<'a> {
    src: &'a str,
    lines: LineIndex,
}

fn too_deep() -> BodyError {
    BodyError::TooLarge(format!(
        "the expression nests more than {MAX_DEPTH} levels deep"
    ))
}

impl Conv<'_> {
    /// The line in the body (the wrapper's `def` line is line 0).
    fn line(&self, node: &impl Ranged) -> u32 {
        self.lines
            .line(node.range().start().to_usize())
            .saturating_sub(1)
    }

    fn text(&self, node: &impl Ranged) -> String {
        let r = node.range();
        let t = self
            .src
            .get(r.start().to_usize()..r.end().to_usize())
            .unwrap_or("");
        let one: String = t.split_whitespace().collect::<Vec<_>>().join(" ");
        if one.chars().count() > 80 {
            format!("{}…", one.chars().take(79).collect::<String>())
        } else {
            one
        }
    }

    fn stmts(&self, body: &[py::Stmt], depth: usize) -> Result<Vec<Stmt>, BodyError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        body.iter().map(|s| self.stmt(s, depth)).collect()
    }

    fn stmt(&self, s: &py::Stmt, depth: usize) -> Result<Stmt, BodyError> {
        let line = self.line(s);
        Ok(match s {
            py::Stmt::Return(r) => Stmt::Return(
                r.value
                    .as_deref()
                    .map(|v| self.expr(v, depth + 1))
                    .transpose()?,
                line,
            ),
            py::Stmt::If(i) => {
                let mut branches = vec![(
                    Some(self.expr(&i.test, depth + 1)?),
                    self.stmts(&i.body, depth + 1)?,
                )];
                for c in &i.elif_else_clauses {
                    branches.push((
                        c.test
                            .as_ref()
                            .map(|t| self.expr(t, depth + 1))
                            .transpose()?,
                        self.stmts(&c.body, depth + 1)?,
                    ));
                }
                Stmt::If(branches, line)
            }
            py::Stmt::Assign(a) => match a.targets.as_slice() {
                [py::Expr::Name(n)] => Stmt::Assign(
                    n.id.as_str().to_string(),
                    self.expr(&a.value, depth + 1)?,
                    line,
                ),
                _ => Stmt::Opaque(
                    format!("an assignment to `{}`", self.text(&a.targets[0])),
                    line,
                ),
            },
            py::Stmt::Expr(e) => Stmt::Expr(self.expr(&e.value, depth + 1)?, line),
            py::Stmt::Pass(_) => Stmt::Pass(line),
            py::Stmt::Import(i) => Stmt::Import(
                i.names
                    .iter()
                    .map(|a| {
                        let module = a.name.id.as_str().to_string();
                        let bound = match &a.asname {
                            Some(n) => n.id.as_str().to_string(),
                            None => module.split('.').next().unwrap_or("").to_string(),
                        };
                        (module, bound)
                    })
                    .collect(),
                line,
            ),
            other => Stmt::Opaque(format!("the statement `{}`", self.text(other)), line),
        })
    }

    fn expr(&self, e: &py::Expr, depth: usize) -> Result<Expr, BodyError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let d = depth + 1;
        let boxed = |x: &py::Expr| self.expr(x, d).map(Box::new);
        let kind = match e {
            py::Expr::BooleanLiteral(b) => ExprKind::Const(Const::Bool(b.value)),
            py::Expr::NoneLiteral(_) => ExprKind::Const(Const::None),
            py::Expr::NumberLiteral(n) => match &n.value {
                py::Number::Int(i) => match i.as_i64() {
                    Some(v) => ExprKind::Const(Const::Int(v)),
                    None => ExprKind::Opaque("a large integer".into()),
                },
                _ => ExprKind::Opaque("a non-integer number".into()),
            },
            py::Expr::StringLiteral(s) => ExprKind::Const(Const::Str(s.value.to_str().to_string())),
            py::Expr::Name(n) => ExprKind::Name(n.id.as_str().to_string()),
            py::Expr::Attribute(a) => {
                ExprKind::Attr(boxed(&a.value)?, a.attr.id.as_str().to_string())
            }
            py::Expr::Subscript(s) => ExprKind::Subscript(boxed(&s.value)?, boxed(&s.slice)?),
            py::Expr::Call(c) => {
                if c.arguments.keywords.iter().any(|k| k.arg.is_none())
                    || c.arguments
                        .args
                        .iter()
                        .any(|a| matches!(a, py::Expr::Starred(_)))
                {
                    ExprKind::Opaque("a call with unpacked arguments".into())
                } else {
                    ExprKind::Call(
                        boxed(&c.func)?,
                        c.arguments
                            .args
                            .iter()
                            .map(|a| self.expr(a, d))
                            .collect::<Result<_, _>>()?,
                        c.arguments
                            .keywords
                            .iter()
                            .map(|k| {
                                Ok((
                                    k.arg.as_ref().map_or("", |a| a.id.as_str()).to_string(),
                                    self.expr(&k.value, d)?,
                                ))
                            })
                            .collect::<Result<_, BodyError>>()?,
                    )
                }
            }
            py::Expr::UnaryOp(u) if u.op == py::UnaryOp::Not => ExprKind::Not(boxed(&u.operand)?),
            py::Expr::UnaryOp(u) if u.op == py::UnaryOp::USub => match &*u.operand {
                py::Expr::NumberLiteral(py::ExprNumberLiteral {
                    value: py::Number::Int(i),
                    ..
                }) => match i.as_i64().and_then(i64::checked_neg) {
                    Some(v) => ExprKind::Const(Const::Int(v)),
                    None => ExprKind::Opaque("a large integer".into()),
                },
                _ => ExprKind::Opaque("arithmetic".into()),
            },
            py::Expr::BoolOp(b) => {
                let vals = b
                    .values
                    .iter()
                    .map(|v| self.expr(v, d))
                    .collect::<Result<Vec<_>, _>>()?;
                match b.op {
                    py::BoolOp::And => ExprKind::And(vals),
                    py::BoolOp::Or => ExprKind::Or(vals),
                }
            }
            py::Expr::Compare(c) => ExprKind::Compare(
                boxed(&c.left)?,
                c.ops
                    .iter()
                    .zip(c.comparators.iter())
                    .map(|(op, x)| Ok((cmp_op(*op), self.expr(x, d)?)))
                    .collect::<Result<_, BodyError>>()?,
            ),
            py::Expr::List(l) => ExprKind::List(
                l.elts
                    .iter()
                    .map(|x| self.expr(x, d))
                    .collect::<Result<_, _>>()?,
            ),
            py::Expr::Tuple(t) => ExprKind::List(
                t.elts
                    .iter()
                    .map(|x| self.expr(x, d))
                    .collect::<Result<_, _>>()?,
            ),
            py::Expr::If(i) => ExprKind::IfExp(boxed(&i.test)?, boxed(&i.body)?, boxed(&i.orelse)?),
            py::Expr::FString(_) => ExprKind::Opaque("an f-string".into()),
            py::Expr::BinOp(_) => ExprKind::Opaque("arithmetic".into()),
            py::Expr::ListComp(_)
            | py::Expr::SetComp(_)
            | py::Expr::DictComp(_)
            | py::Expr::Generator(_) => ExprKind::Opaque("a comprehension".into()),
            py::Expr::Lambda(_) => ExprKind::Opaque("a lambda".into()),
            py::Expr::Dict(_) | py::Expr::Set(_) => {
                ExprKind::Opaque("a dict or set literal".into())
            }
            _ => ExprKind::Opaque("an expression of this kind".into()),
        };
        Ok(Expr {
            kind,
            line: self.line(e),
            text: self.text(e),
        })
    }
}

fn cmp_op(op: py::CmpOp) -> CmpOp {
    match op {
        py::CmpOp::Eq => CmpOp::Eq,
        py::CmpOp::NotEq => CmpOp::NotEq,
        py::CmpOp::Lt => CmpOp::Lt,
        py::CmpOp::LtE => CmpOp::LtE,
        py::CmpOp::Gt => CmpOp::Gt,
        py::CmpOp::GtE => CmpOp::GtE,
        py::CmpOp::Is => CmpOp::Is,
        py::CmpOp::IsNot => CmpOp::IsNot,
        py::CmpOp::In => CmpOp::In,
        py::CmpOp::NotIn => CmpOp::NotIn,
    }
}
