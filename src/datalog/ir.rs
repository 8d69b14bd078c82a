//! The checked program: relations resolved to ids, variables numbered, types known, bodies
//! without disjunction, evaluation order of each body fixed. Both evaluators run this.

use crate::datalog::diag::Span;
use crate::datalog::syntax::ast::{AggKind, BinOp, CmpOp};
use crate::datalog::value::Interner;
use std::collections::BTreeMap;

/// Index of a relation in [`Program::relations`].
pub type RelId = usize;
/// Index of a variable in a clause.
pub type VarId = usize;

/// A column type, after `.type` aliases are resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Ty {
    /// Interned string.
    Symbol,
    /// 32-bit signed integer.
    Number,
    /// 32-bit unsigned integer.
    Unsigned,
}

impl Ty {
    /// Soufflé's name of the type.
    pub fn name(self) -> &'static str {
        match self {
            Ty::Symbol => "symbol",
            Ty::Number => "number",
            Ty::Unsigned => "unsigned",
        }
    }
}

/// `.input` / `.output` parameters (`filename`, `delimiter`, ...).
#[derive(Clone, Debug)]
pub struct IoSpec {
    /// Parameters as written.
    pub params: BTreeMap<String, String>,
    /// The directive.
    pub span: Span,
}

/// A declared relation.
#[derive(Clone, Debug)]
pub struct Relation {
    /// Its name.
    pub name: String,
    /// Attribute names.
    pub attrs: Vec<String>,
    /// Attribute types.
    pub types: Vec<Ty>,
    /// The `.decl`.
    pub decl: Span,
    /// `.input` parameters, if read from a file.
    pub input: Option<IoSpec>,
    /// `.output` parameters, if written.
    pub output: Option<IoSpec>,
    /// Further `.output` directives for it, each written too (`filename=` tells them apart).
    pub also_output: Vec<IoSpec>,
    /// Whether `.printsize` asks for its size.
    pub printsize: bool,
}

impl Relation {
    /// Number of columns.
    pub fn arity(&self) -> usize {
        self.types.len()
    }
}

/// An argument of an atom after normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arg {
    /// A variable.
    Var(VarId),
    /// A constant (interned symbol or number bits).
    Const(u32),
    /// `_`
    Wild,
}

/// `rel(args)` with plain arguments.
#[derive(Clone, Debug)]
pub struct Atom {
    /// The relation.
    pub rel: RelId,
    /// Arguments.
    pub args: Vec<Arg>,
    /// Where it was written.
    pub span: Span,
}

/// Value-computing functors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Func {
    /// `cat(a, b, ...)`
    Cat,
    /// `strlen(s)`
    Strlen,
    /// `substr(s, start, len)`
    Substr,
    /// `to_number(s)`
    ToNumber,
    /// `to_string(n)`
    ToString,
    /// `ord(s)`: the symbol's id
    Ord,
    /// `min(a, b)`
    Min,
    /// `max(a, b)`
    Max,
    /// `autoinc()`: a new number at each use (0, 1, 2, ... in the order rules run).
    Autoinc,
}

/// An expression, typed.
#[derive(Clone, Debug)]
pub enum Expr {
    /// A bound variable.
    Var(VarId),
    /// A constant.
    Const(u32),
    /// Arithmetic on `number` or `unsigned`.
    Bin(BinOp, Ty, Box<Expr>, Box<Expr>),
    /// Negation.
    Neg(Box<Expr>),
    /// A functor call; the type is that of the arguments where it matters (`min`, `max`).
    Call(Func, Ty, Vec<Expr>),
}

impl Expr {
    /// Whether the expression calls `f` somewhere.
    pub fn calls(&self, f: Func) -> bool {
        match self {
            Expr::Var(_) | Expr::Const(_) => false,
            Expr::Bin(_, _, a, b) => a.calls(f) || b.calls(f),
            Expr::Neg(a) => a.calls(f),
            Expr::Call(g, _, args) => *g == f || args.iter().any(|a| a.calls(f)),
        }
    }
    /// Variables the expression reads.
    pub fn vars(&self, out: &mut Vec<VarId>) {
        match self {
            Expr::Var(v) => out.push(*v),
            Expr::Const(_) => {}
            Expr::Bin(_, _, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            Expr::Neg(a) => a.vars(out),
            Expr::Call(_, _, args) => args.iter().for_each(|a| a.vars(out)),
        }
    }
}

/// Boolean functors.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestFn {
    /// `contains(needle, haystack)`
    Contains,
    /// `match(regex, text)`: the whole text matches
    Match,
}

/// One body literal, normalised.
#[derive(Clone, Debug)]
pub enum Lit {
    /// A positive atom: binds its variables.
    Pos(Atom),
    /// A negated atom over a lower stratum: all its variables are bound before it.
    Neg(Atom),
    /// A comparison of bound expressions.
    Cmp {
        op: CmpOp,
        ty: Ty,
        lhs: Expr,
        rhs: Expr,
        span: Span,
    },
    /// `var = expr` where `var` is not yet bound: binds it.
    Assign { var: VarId, expr: Expr, span: Span },
    /// `contains` / `match`, possibly negated.
    Test {
        func: TestFn,
        negated: bool,
        args: Vec<Expr>,
        span: Span,
    },
    /// An aggregate binding `var`; `outer` are the body's variables bound outside it.
    Agg {
        var: VarId,
        kind: AggKind,
        ty: Ty,
        target: Option<Expr>,
        body: Vec<Lit>,
        outer: Vec<VarId>,
        /// Soufflé's materialised bodies ([`materialised`]): the variables each match of the
        /// body is projected to (the named variables its own literals bind, and `outer`), each
        /// distinct projection counting once, so matches that differ only under `_` (or inside
        /// a nested aggregate) count once. `None`: every match of the body counts once (and for
        /// `min` and `max`, which distinct bindings would not change).
        distinct: Option<Vec<VarId>>,
        span: Span,
    },
    /// `false`: the clause derives nothing.
    False(Span),
}

impl Lit {
    /// The variables this literal needs bound before it can run.
    pub fn needs(&self) -> Vec<VarId> {
        let mut out = Vec::new();
        match self {
            Lit::Pos(_) | Lit::False(_) => {}
            Lit::Neg(a) => out.extend(
                a.args
                    .iter()
                    .filter_map(|x| if let Arg::Var(v) = x { Some(*v) } else { None }),
            ),
            Lit::Cmp { lhs, rhs, .. } => {
                lhs.vars(&mut out);
                rhs.vars(&mut out);
            }
            Lit::Assign { expr, .. } => expr.vars(&mut out),
            Lit::Test { args, .. } => args.iter().for_each(|a| a.vars(&mut out)),
            Lit::Agg { outer, .. } => out.extend(outer),
        }
        out
    }
    /// The variables this literal binds.
    pub fn binds(&self) -> Vec<VarId> {
        match self {
            Lit::Pos(a) => a
                .args
                .iter()
                .filter_map(|x| if let Arg::Var(v) = x { Some(*v) } else { None })
                .collect(),
            Lit::Assign { var, .. } | Lit::Agg { var, .. } => vec![*var],
            _ => vec![],
        }
    }
}

/// One clause: a single head and a conjunctive body in a valid left-to-right order.
#[derive(Clone, Debug)]
pub struct Clause {
    /// Head atom (arguments are variables or constants).
    pub head: Atom,
    /// Body literals, ordered so that each runs after what binds its variables.
    pub body: Vec<Lit>,
    /// Variable names, for plans and proofs.
    pub var_names: Vec<String>,
    /// Variable types.
    pub var_types: Vec<Ty>,
    /// The whole rule as written.
    pub span: Span,
    /// The stratum evaluating it.
    pub stratum: usize,
}

/// A set of relations evaluated together (one strongly connected component).
#[derive(Clone, Debug)]
pub struct Stratum {
    /// Relations defined here.
    pub rels: Vec<RelId>,
    /// Clauses whose head is here (facts included).
    pub clauses: Vec<usize>,
    /// Strata this one reads.
    pub deps: Vec<usize>,
    /// Whether a relation here depends on itself.
    pub recursive: bool,
}

/// A checked, stratified program ready to evaluate.
#[derive(Clone, Debug)]
pub struct Program {
    /// Declared relations.
    pub relations: Vec<Relation>,
    /// All clauses (facts included).
    pub clauses: Vec<Clause>,
    /// Strata in an order where each comes after those it reads.
    pub strata: Vec<Stratum>,
    /// Symbols named by the program text.
    pub symbols: Interner,
    /// The `.pragma` directives bindlog acts on.
    pub pragmas: Pragmas,
    /// Set when this program is the magic-set rewrite ([`crate::datalog::magic`]) of the
    /// program as checked: what it was rewritten from.
    pub magic: Option<Box<Rewritten>>,
}

/// Which relations a `.pragma` names: `*` or a comma-separated list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RelList {
    /// `*`: every relation.
    All,
    /// The names listed (not necessarily declared: Soufflé ignores unknown names, and so does
    /// bindlog).
    Names(Vec<String>),
}

impl RelList {
    /// Parses a pragma's value: `*`, or names separated by commas (blanks around them ignored).
    pub fn parse(value: &str) -> RelList {
        let names: Vec<String> = value
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(String::from)
            .collect();
        if names.iter().any(|n| n == "*") {
            RelList::All
        } else {
            RelList::Names(names)
        }
    }
    /// Whether the list names `rel`.
    pub fn names(&self, rel: &str) -> bool {
        match self {
            RelList::All => true,
            RelList::Names(n) => n.iter().any(|x| x == rel),
        }
    }
}

/// The `.pragma` directives bindlog acts on. A key given twice keeps its last value, as in
/// Soufflé.
#[derive(Clone, Debug, Default)]
pub struct Pragmas {
    /// `.pragma "magic-transform" "..."`: the relations the magic-set rewrite may transform.
    pub magic_transform: Option<RelList>,
    /// `.pragma "magic-transform-exclude" "..."`: relations it must leave as written.
    pub magic_exclude: Option<RelList>,
    /// Relations declared with the `magic` qualifier: transformed as if the pragma listed
    /// them (the rewrite runs when one is, pragma or not, as in Soufflé).
    pub magic_qualified: Vec<String>,
    /// Relations declared with the `no_magic` qualifier: left as written.
    pub no_magic_qualified: Vec<String>,
}

impl Pragmas {
    /// Whether the magic-set rewrite is asked for at all.
    pub fn wants_magic(&self) -> bool {
        self.magic_transform.is_some() || !self.magic_qualified.is_empty()
    }
    /// Whether the pragmas and qualifiers let the rewrite transform the relation `name`.
    pub fn magic_allows(&self, name: &str) -> bool {
        let named = self.magic_transform.as_ref().is_some_and(|l| l.names(name))
            || self.magic_qualified.iter().any(|n| n == name);
        let excluded = self.magic_exclude.as_ref().is_some_and(|l| l.names(name))
            || self.no_magic_qualified.iter().any(|n| n == name);
        named && !excluded
    }
}

/// What a magic-set rewrite started from ([`Program::magic`]).
#[derive(Clone, Debug)]
pub struct Rewritten {
    /// The program as checked. Its relations are the first ones of the rewritten program,
    /// with the same ids.
    pub original: Program,
    /// Relations (ids shared by both programs) the rewritten program no longer computes in
    /// full: their tuples live in adorned copies, restricted to what the outputs need.
    pub partial: Vec<RelId>,
}

impl Program {
    /// The relation with this name.
    pub fn relation(&self, name: &str) -> Option<RelId> {
        self.relations.iter().position(|r| r.name == name)
    }
}

/// Whether Soufflé evaluates an aggregate's body as a relation of its own (its
/// `MaterializeAggregationQueriesTransformer::needsMaterializedRelation`, 2.5): a body with more
/// than one positive atom, a nested aggregate, or one atom repeating a variable. Negations,
/// comparisons and assignments do not count. Such a body's relation holds the body's named
/// variables, so `count` and `sum` go over their distinct bindings.
pub fn materialised(body: &[Lit]) -> bool {
    let atoms: Vec<&Atom> = body
        .iter()
        .filter_map(|l| if let Lit::Pos(a) = l { Some(a) } else { None })
        .collect();
    if atoms.len() > 1 || body.iter().any(|l| matches!(l, Lit::Agg { .. })) {
        return true;
    }
    atoms.first().is_some_and(|a| {
        let mut vars: Vec<VarId> = a
            .args
            .iter()
            .filter_map(|x| if let Arg::Var(v) = x { Some(*v) } else { None })
            .collect();
        let n = vars.len();
        vars.sort_unstable();
        vars.dedup();
        vars.len() != n
    })
}

/// The variables a materialised aggregate body is projected to ([`Lit::Agg`]'s `distinct`):
/// `outer` and the variables the body's own literals bind (not those local to a nested
/// aggregate, nor a nested aggregate's value, which the others determine). `None` when the body
/// is not [`materialised`], or when no atom of it has a `_`: each match of the body is then
/// its own binding (every column of every atom is a variable or a constant, and assignments and
/// nested aggregates give one value each), so the matches are the distinct bindings already and
/// need not be told apart.
pub fn distinct_vars(body: &[Lit], outer: &[VarId]) -> Option<Vec<VarId>> {
    let wild = |l: &Lit| matches!(l, Lit::Pos(a) if a.args.contains(&Arg::Wild));
    if !materialised(body) || !body.iter().any(wild) {
        return None;
    }
    let mut vars: Vec<VarId> = outer.to_vec();
    for l in body {
        if !matches!(l, Lit::Agg { .. }) {
            vars.extend(l.binds());
        }
    }
    vars.sort_unstable();
    vars.dedup();
    Some(vars)
}
