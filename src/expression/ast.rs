//! The subset of Python that bindlog evaluates, as its own small tree: everything else becomes
//! an `Opaque` node that names the construct, so both evaluators (abstract and the concrete
//! reference) see exactly the same program and an unmodelled construct can never be mistaken
//! for a modelled one.

/// A statement of the body, with its line in the body (1-based, as the administrator wrote it).
#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// `return` or `return value`.
    Return(Option<Expr>, u32),
    /// `if test: ... elif test: ... else: ...`: the branches in order; a `None` test is `else`.
    If(Vec<(Option<Expr>, Vec<Stmt>)>, u32),
    /// `name = value` (one plain name as the target).
    Assign(String, Expr, u32),
    /// An expression evaluated for its effect (a call to `ak_message`, `print`, ...).
    Expr(Expr, u32),
    /// `pass`.
    Pass(u32),
    /// `import module` or `import module as alias`: (module, bound name).
    Import(Vec<(String, String)>, u32),
    /// A statement bindlog does not evaluate (`for`, `try`, `with`, ...), named for the reader.
    Opaque(String, u32),
}

impl Stmt {
    /// The statement's line in the body.
    pub fn line(&self) -> u32 {
        match self {
            Stmt::Return(_, l)
            | Stmt::If(_, l)
            | Stmt::Assign(_, _, l)
            | Stmt::Expr(_, l)
            | Stmt::Pass(l)
            | Stmt::Import(_, l)
            | Stmt::Opaque(_, l) => *l,
        }
    }
}

/// An expression with its line in the body and its source text (for reasons).
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its first line in the body.
    pub line: u32,
    /// Its source text, shortened for messages.
    pub text: String,
}

/// A Python comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    NotEq,
    /// `<`
    Lt,
    /// `<=`
    LtE,
    /// `>`
    Gt,
    /// `>=`
    GtE,
    /// `in`
    In,
    /// `not in`
    NotIn,
    /// `is`
    Is,
    /// `is not`
    IsNot,
}

impl CmpOp {
    /// The operator as Python spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::LtE => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtE => ">=",
            CmpOp::In => "in",
            CmpOp::NotIn => "not in",
            CmpOp::Is => "is",
            CmpOp::IsNot => "is not",
        }
    }
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    /// `None`
    None,
    /// `True` / `False`
    Bool(bool),
    /// An integer that fits 64 bits.
    Int(i64),
    /// A string literal.
    Str(String),
}

/// The kinds of expression bindlog evaluates.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A literal.
    Const(Const),
    /// A name (a local, a name authentik provides, or a builtin).
    Name(String),
    /// `value.attr`
    Attr(Box<Expr>, String),
    /// `value[index]`
    Subscript(Box<Expr>, Box<Expr>),
    /// `func(args, key=value)`
    Call(Box<Expr>, Vec<Expr>, Vec<(String, Expr)>),
    /// `not value`
    Not(Box<Expr>),
    /// `a and b and ...`
    And(Vec<Expr>),
    /// `a or b or ...`
    Or(Vec<Expr>),
    /// `a < b <= c ...`
    Compare(Box<Expr>, Vec<(CmpOp, Expr)>),
    /// `[a, b]` or `(a, b)`
    List(Vec<Expr>),
    /// `body if test else orelse`: (test, body, orelse).
    IfExp(Box<Expr>, Box<Expr>, Box<Expr>),
    /// An expression bindlog does not evaluate, named for the reader.
    Opaque(String),
}
