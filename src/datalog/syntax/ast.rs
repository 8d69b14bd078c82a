//! The parsed program, close to the text: every node keeps its span.

use crate::datalog::diag::Span;

/// A name with the place it was written.
#[derive(Clone, Debug)]
pub struct Name {
    /// The identifier.
    pub text: String,
    /// Where it stands.
    pub span: Span,
}

/// One top-level item of a program.
#[derive(Clone, Debug)]
pub enum Item {
    /// `.type Name <: base` or `.type Name = base`.
    Type { name: Name, base: Name },
    /// `.decl a, b(x: symbol, y: number)`.
    Decl {
        names: Vec<Name>,
        attrs: Vec<(Name, Name)>,
        /// `magic` or `no_magic` after the attributes, if written (other qualifiers, such as
        /// `brie` or `inline`, change nothing in bindlog and are dropped).
        magic: Option<bool>,
        span: Span,
    },
    /// `.input`, `.output` or `.printsize` with its relations and parameters.
    Directive {
        kind: DirectiveKind,
        rels: Vec<Name>,
        params: Vec<(Name, String)>,
        span: Span,
    },
    /// A rule or (with an empty body) a fact.
    Rule(Rule),
    /// `.pragma "key" "value"` for a key bindlog acts on (`magic-transform`,
    /// `magic-transform-exclude`); other pragmas are dropped by the parser.
    Pragma {
        /// The key, e.g. `magic-transform`.
        key: String,
        /// The value as written, e.g. `*` or `a,b`.
        value: String,
        /// The directive.
        span: Span,
    },
}

/// Which I/O directive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DirectiveKind {
    /// `.input`
    Input,
    /// `.output`
    Output,
    /// `.printsize`
    PrintSize,
}

/// `heads :- body.`, or `head.` for a fact.
#[derive(Clone, Debug)]
pub struct Rule {
    /// One or more heads.
    pub heads: Vec<Atom>,
    /// The body as written (disjunctions included); `None` for a fact.
    pub body: Option<Body>,
    /// The whole clause.
    pub span: Span,
}

/// A body: conjunctions, disjunctions and literals.
#[derive(Clone, Debug)]
pub enum Body {
    /// `a, b`
    And(Vec<Body>),
    /// `a ; b`
    Or(Vec<Body>),
    /// one literal
    Lit(Literal),
}

/// `rel(args)`.
#[derive(Clone, Debug)]
pub struct Atom {
    /// Relation name.
    pub rel: Name,
    /// Arguments.
    pub args: Vec<Term>,
    /// The whole atom.
    pub span: Span,
}

/// A body literal.
#[derive(Clone, Debug)]
pub enum Literal {
    /// `r(..)`
    Pos(Atom),
    /// `!r(..)`
    Neg(Atom),
    /// `a < b` and friends.
    Cmp {
        op: CmpOp,
        lhs: Term,
        rhs: Term,
        span: Span,
    },
    /// A boolean functor used as a literal: `contains(a, b)`, `match(re, s)`; `negated` for `!match(..)`.
    Test {
        name: Name,
        args: Vec<Term>,
        negated: bool,
        span: Span,
    },
    /// `true` or `false`.
    Bool(bool, Span),
}

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn text(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }
}

/// Arithmetic operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Rem,
}

/// Aggregate kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AggKind {
    /// `count`
    Count,
    /// `sum X`
    Sum,
    /// `min X`
    Min,
    /// `max X`
    Max,
}

/// A term: variable, constant, expression, functor or aggregate.
#[derive(Clone, Debug)]
pub enum Term {
    /// `X`
    Var(Name),
    /// `_`
    Wild(Span),
    /// `"text"`
    Str(String, Span),
    /// `42`, `0x2a`, `0b101010`
    Num(i64, Span),
    /// `a + b`
    Bin(BinOp, Box<Term>, Box<Term>, Span),
    /// `-a`
    Neg(Box<Term>, Span),
    /// `cat(a, b)`
    Functor(Name, Vec<Term>, Span),
    /// `count : { body }`, `sum X : { body }`, `min X : r(X, _)`.
    Aggregate {
        kind: AggKind,
        target: Option<Box<Term>>,
        body: Box<Body>,
        span: Span,
    },
}

impl Term {
    /// Where the term stands.
    pub fn span(&self) -> Span {
        match self {
            Term::Var(n) => n.span,
            Term::Wild(s) | Term::Str(_, s) | Term::Num(_, s) => *s,
            Term::Bin(_, _, _, s) | Term::Neg(_, s) | Term::Functor(_, _, s) => *s,
            Term::Aggregate { span, .. } => *span,
        }
    }
}
