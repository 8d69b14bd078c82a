//! Evaluation: the datafrog fast path, the naive reference, and what both share (expressions,
//! enumeration of a body over complete relations, bounds).

mod column_index;
pub mod fast;
pub mod naive;

use crate::datalog::ir::*;
use crate::datalog::syntax::ast::{AggKind, BinOp, CmpOp};
use crate::datalog::value::{Interner, compare, parse_number};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Bounds on one evaluation.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Most tuples all relations together may hold.
    pub max_tuples: usize,
    /// Longest the evaluation may take.
    pub timeout: Option<Duration>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tuples: 500_000_000,
            timeout: None,
        }
    }
}

/// Why an evaluation stopped without a result.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EvalError {
    /// The tuple bound was reached.
    #[error("evaluation stopped: more than {limit} tuples derived (while computing `{relation}`)")]
    TooManyTuples {
        /// The bound.
        limit: usize,
        /// A relation of the stratum that was running.
        relation: String,
    },
    /// The time bound was reached.
    #[error("evaluation stopped: time limit of {0:?} reached")]
    Timeout(Duration),
    /// The program needs something this engine does not do.
    #[error("{0}")]
    Unsupported(String),
}

/// A relation's tuples, flat and row-major: `len` rows of `arity` values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Columns per row.
    pub arity: usize,
    /// Number of rows (needed for nullary relations, which hold no data).
    pub len: usize,
    /// The values.
    pub data: Vec<u32>,
}

impl Table {
    /// An empty table.
    pub fn new(arity: usize) -> Table {
        Table {
            arity,
            len: 0,
            data: Vec::new(),
        }
    }
    /// Adds a row.
    pub fn push(&mut self, row: &[u32]) {
        self.data.extend_from_slice(row);
        self.len += 1;
    }
    /// The rows.
    pub fn rows(&self) -> impl Iterator<Item = &[u32]> + '_ {
        (0..self.len).map(move |i| &self.data[i * self.arity..(i + 1) * self.arity])
    }
    /// Sorts rows by their stored values and removes duplicates.
    pub fn normalize(&mut self) {
        let mut rows: Vec<&[u32]> = self.rows().collect();
        rows.sort();
        rows.dedup();
        let mut t = Table::new(self.arity);
        for r in rows {
            t.push(r);
        }
        *self = t;
    }
    /// Whether it holds this row.
    pub fn contains(&self, row: &[u32]) -> bool {
        self.rows().any(|r| r == row)
    }
}

/// Shared state while evaluating: the symbol table (functors create symbols), compiled regular
/// expressions, warnings, and the bounds.
pub struct Runtime {
    /// Symbols; written only when a functor makes a new string.
    pub symbols: RwLock<Interner>,
    regexes: Mutex<HashMap<u32, Option<regex::Regex>>>,
    /// Warnings raised while evaluating (e.g. an invalid regular expression).
    pub warnings: Mutex<BTreeSet<String>>,
    /// Bounds.
    pub limits: Limits,
    started: Instant,
}

impl Runtime {
    /// A runtime over a symbol table.
    pub fn new(symbols: Interner, limits: Limits) -> Runtime {
        Runtime {
            symbols: RwLock::new(symbols),
            regexes: Mutex::new(HashMap::new()),
            warnings: Mutex::new(BTreeSet::new()),
            limits,
            started: Instant::now(),
        }
    }
    /// Fails when the time bound has passed.
    pub fn check_time(&self) -> Result<(), EvalError> {
        match self.limits.timeout {
            Some(t) if self.started.elapsed() > t => Err(EvalError::Timeout(t)),
            _ => Ok(()),
        }
    }
    fn sym(&self, id: u32) -> String {
        self.symbols
            .read()
            .map(|s| s.resolve(id).to_string())
            .unwrap_or_default()
    }
    fn intern(&self, s: &str) -> u32 {
        if let Some(id) = self.symbols.read().ok().and_then(|t| t.get(s)) {
            return id;
        }
        match self.symbols.write() {
            Ok(mut t) => t.intern(s),
            Err(p) => p.into_inner().intern(s),
        }
    }
    fn regex_match(&self, pattern: u32, text: u32) -> bool {
        let mut cache = match self.regexes.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let re = cache.entry(pattern).or_insert_with(|| {
            let p = self.sym(pattern);
            match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(re) => Some(re),
                Err(e) => {
                    if let Ok(mut w) = self.warnings.lock() {
                        w.insert(format!(
                            "invalid regular expression {p:?} in `match`: {e}; the match is false"
                        ));
                    }
                    None
                }
            }
        });
        match re {
            Some(re) => re.is_match(&self.sym(text)),
            None => false,
        }
    }

    /// The value of an expression under a binding, or `None` where it has none (division by
    /// zero, a string that is not a number, a substring out of range).
    pub fn eval(&self, e: &Expr, env: &[u32]) -> Option<u32> {
        Some(match e {
            Expr::Var(v) => env[*v],
            Expr::Const(c) => *c,
            Expr::Neg(a) => (self.eval(a, env)? as i32).wrapping_neg() as u32,
            Expr::Bin(op, ty, a, b) => {
                let (x, y) = (self.eval(a, env)?, self.eval(b, env)?);
                if *ty == Ty::Unsigned {
                    match op {
                        BinOp::Add => x.wrapping_add(y),
                        BinOp::Sub => x.wrapping_sub(y),
                        BinOp::Mul => x.wrapping_mul(y),
                        BinOp::Div => x.checked_div(y)?,
                        BinOp::Rem => x.checked_rem(y)?,
                    }
                } else {
                    let (x, y) = (x as i32, y as i32);
                    (match op {
                        BinOp::Add => x.wrapping_add(y),
                        BinOp::Sub => x.wrapping_sub(y),
                        BinOp::Mul => x.wrapping_mul(y),
                        BinOp::Div => x.checked_div(y)?,
                        BinOp::Rem => x.checked_rem(y)?,
                    }) as u32
                }
            }
            Expr::Call(f, ty, args) => {
                let vals: Option<Vec<u32>> = args.iter().map(|a| self.eval(a, env)).collect();
                let vals = vals?;
                match f {
                    Func::Cat => {
                        let s: String = vals.iter().map(|&v| self.sym(v)).collect();
                        self.intern(&s)
                    }
                    // Lengths and offsets count bytes, as Soufflé's `std::string` does.
                    Func::Strlen => self.sym(vals[0]).len() as u32,
                    Func::Ord => vals[0],
                    Func::ToNumber => parse_number(&self.sym(vals[0]), Ty::Number)?,
                    Func::ToString => {
                        let s = if *ty == Ty::Unsigned {
                            vals[0].to_string()
                        } else {
                            (vals[0] as i32).to_string()
                        };
                        self.intern(&s)
                    }
                    Func::Substr => {
                        // As Soufflé: a start outside the string gives "" with a warning; a
                        // negative length runs to the end of the string.
                        let text = self.sym(vals[0]);
                        let bytes = text.as_bytes();
                        let (start, len) = (vals[1] as i32, vals[2] as i32);
                        let sub = if start < 0 || start as usize > bytes.len() {
                            if let Ok(mut w) = self.warnings.lock() {
                                w.insert(format!(
                                    "substr: start {start} is outside {text:?}; the result is \"\""
                                ));
                            }
                            String::new()
                        } else {
                            let s = start as usize;
                            let end = if len < 0 {
                                bytes.len()
                            } else {
                                (s + len as usize).min(bytes.len())
                            };
                            String::from_utf8_lossy(&bytes[s..end]).into_owned()
                        };
                        self.intern(&sub)
                    }
                    Func::Min | Func::Max => {
                        let ord = self.compare(*ty, vals[0], vals[1]);
                        let first = (ord == std::cmp::Ordering::Less) == (*f == Func::Min);
                        if first { vals[0] } else { vals[1] }
                    }
                }
            }
        })
    }

    fn compare(&self, ty: Ty, a: u32, b: u32) -> std::cmp::Ordering {
        match ty {
            Ty::Symbol => match self.symbols.read() {
                Ok(s) => compare(ty, a, b, &s),
                Err(_) => a.cmp(&b),
            },
            _ => compare(ty, a, b, &Interner::default()),
        }
    }

    /// Whether a filter literal (comparison, test, `false`) holds under a binding.
    pub fn holds(&self, lit: &Lit, env: &[u32]) -> bool {
        match lit {
            Lit::Cmp {
                op, ty, lhs, rhs, ..
            } => {
                let (Some(a), Some(b)) = (self.eval(lhs, env), self.eval(rhs, env)) else {
                    return false;
                };
                if *op == CmpOp::Eq {
                    return a == b;
                }
                if *op == CmpOp::Ne {
                    return a != b;
                }
                let ord = self.compare(*ty, a, b);
                match op {
                    CmpOp::Lt => ord.is_lt(),
                    CmpOp::Le => ord.is_le(),
                    CmpOp::Gt => ord.is_gt(),
                    _ => ord.is_ge(),
                }
            }
            Lit::Test {
                func,
                negated,
                args,
                ..
            } => {
                let (Some(a), Some(b)) = (self.eval(&args[0], env), self.eval(&args[1], env))
                else {
                    return false;
                };
                let r = match func {
                    TestFn::Contains => self.sym(b).contains(&self.sym(a)),
                    TestFn::Match => self.regex_match(a, b),
                };
                r != *negated
            }
            Lit::False(_) => false,
            _ => true,
        }
    }

    /// Folds the aggregate over its witnesses' values; `None` for `min`/`max` over nothing.
    pub fn fold(&self, kind: AggKind, ty: Ty, values: impl Iterator<Item = u32>) -> Option<u32> {
        let mut acc: Option<u32> = None;
        for v in values {
            acc = Some(self.accumulate(kind, ty, acc, v));
        }
        match kind {
            AggKind::Count | AggKind::Sum => Some(acc.unwrap_or(0)),
            _ => acc,
        }
    }

    /// Adds one witness's value to an aggregate's running value (`None` before the first).
    pub fn accumulate(&self, kind: AggKind, ty: Ty, acc: Option<u32>, v: u32) -> u32 {
        match (kind, acc) {
            (AggKind::Count, a) => a.unwrap_or(0).wrapping_add(1),
            (AggKind::Sum, a) => {
                let a = a.unwrap_or(0);
                if ty == Ty::Unsigned {
                    a.wrapping_add(v)
                } else {
                    (a as i32).wrapping_add(v as i32) as u32
                }
            }
            (AggKind::Min, None) | (AggKind::Max, None) => v,
            (AggKind::Min, Some(a)) => {
                if self.compare(ty, v, a).is_lt() {
                    v
                } else {
                    a
                }
            }
            (AggKind::Max, Some(a)) => {
                if self.compare(ty, v, a).is_gt() {
                    v
                } else {
                    a
                }
            }
        }
    }
}

/// Complete relations that a body can be matched against.
pub trait Source {
    /// Calls `f` with every tuple of `rel` whose columns equal the given values where `Some`.
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32]));
}

/// The pattern an atom gives under a binding (bound variables and constants fixed).
pub fn pattern(atom: &Atom, env: &[u32], bound: &[bool]) -> Vec<Option<u32>> {
    atom.args
        .iter()
        .map(|a| match a {
            Arg::Const(c) => Some(*c),
            Arg::Var(v) if bound[*v] => Some(env[*v]),
            _ => None,
        })
        .collect()
}

/// Binds an atom's variables to a matching tuple; false when a repeated variable disagrees.
pub fn unify(
    atom: &Atom,
    tuple: &[u32],
    env: &mut [u32],
    bound: &mut [bool],
    newly: &mut Vec<VarId>,
) -> bool {
    for (a, &x) in atom.args.iter().zip(tuple) {
        match a {
            Arg::Const(c) if *c != x => return false,
            Arg::Var(v) => {
                if !bound[*v] {
                    env[*v] = x;
                    bound[*v] = true;
                    newly.push(*v);
                } else if env[*v] != x {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Enumerates every way `lits` (in order) can hold, calling `f` with the binding and the
/// tuples matched by positive atoms (the witness). Negated atoms and aggregates read `src`,
/// which must be complete for them.
pub fn enumerate(
    rt: &Runtime,
    src: &dyn Source,
    lits: &[Lit],
    env: &mut Vec<u32>,
    bound: &mut Vec<bool>,
    witness: &mut Vec<u32>,
    f: &mut dyn FnMut(&[u32], &[u32]),
) {
    let Some((lit, rest)) = lits.split_first() else {
        f(env, witness);
        return;
    };
    match lit {
        Lit::Pos(atom) => {
            let pat = pattern(atom, env, bound);
            src.scan(atom.rel, &pat, &mut |tuple| {
                let mut newly = Vec::new();
                if unify(atom, tuple, env, bound, &mut newly) {
                    let mark = witness.len();
                    witness.extend_from_slice(tuple);
                    enumerate(rt, src, rest, env, bound, witness, f);
                    witness.truncate(mark);
                }
                for v in newly {
                    bound[v] = false;
                }
            });
        }
        Lit::Neg(atom) => {
            let pat = pattern(atom, env, bound);
            let mut found = false;
            src.scan(atom.rel, &pat, &mut |_| found = true);
            if !found {
                enumerate(rt, src, rest, env, bound, witness, f);
            }
        }
        Lit::Assign { var, expr, .. } => {
            if let Some(v) = rt.eval(expr, env) {
                env[*var] = v;
                bound[*var] = true;
                enumerate(rt, src, rest, env, bound, witness, f);
                bound[*var] = false;
            }
        }
        Lit::Agg {
            var,
            kind,
            ty,
            target,
            body,
            ..
        } => {
            if let Some(v) = aggregate(rt, src, *kind, *ty, target.as_ref(), body, env, bound) {
                env[*var] = v;
                bound[*var] = true;
                enumerate(rt, src, rest, env, bound, witness, f);
                bound[*var] = false;
            }
        }
        filter => {
            if rt.holds(filter, env) {
                enumerate(rt, src, rest, env, bound, witness, f);
            }
        }
    }
}

/// The value of an aggregate under a binding of its outer variables: each witness (the
/// combination of tuples its body matched) counts once, as in Soufflé. Relations are sets and
/// the enumeration visits each combination once, so witnesses need no de-duplication.
#[allow(clippy::too_many_arguments)]
pub fn aggregate(
    rt: &Runtime,
    src: &dyn Source,
    kind: AggKind,
    ty: Ty,
    target: Option<&Expr>,
    body: &[Lit],
    env: &mut Vec<u32>,
    bound: &mut Vec<bool>,
) -> Option<u32> {
    let mut values = Vec::new();
    enumerate(rt, src, body, env, bound, &mut Vec::new(), &mut |e, _| {
        let val = match target {
            Some(t) => rt.eval(t, e),
            None => Some(0),
        };
        if let Some(val) = val {
            values.push(val);
        }
    });
    rt.fold(kind, ty, values.into_iter())
}

/// The head tuple a clause derives under a binding.
pub fn head_tuple(head: &Atom, env: &[u32]) -> Vec<u32> {
    head.args
        .iter()
        .map(|a| match a {
            Arg::Var(v) => env[*v],
            Arg::Const(c) => *c,
            Arg::Wild => 0,
        })
        .collect()
}
