//! Evaluation: the datafrog fast path, the naive reference, and what both share (expressions,
//! enumeration of a body over complete relations, bounds).

mod column_index;
pub mod derived;
pub mod fast;
mod guard;
mod merge;
pub mod naive;
pub mod radix;

pub use guard::Guard;

use crate::datalog::ir::*;
use crate::datalog::syntax::ast::{AggKind, BinOp, CmpOp};
use crate::datalog::value::{Interner, compare, parse_number};
use rustc_hash::FxHashSet;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock, RwLock};
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

/// Bounds on every evaluation of this process, and when they were set.
static PROCESS_LIMITS: OnceLock<(Limits, Instant)> = OnceLock::new();

/// Bounds every evaluation this process runs from now on, on top of each evaluation's own
/// [`Limits`]: at most `limits.max_tuples` tuples in each, and all of them together done within
/// `limits.timeout` from this call. Commands that evaluate many programs (one per flow, per
/// identity class) set this once, so their `--timeout` bounds the whole command. Only the
/// first call counts.
pub fn bound_process(limits: Limits) {
    let _ = PROCESS_LIMITS.set((limits, Instant::now()));
}

/// Every evaluation's warnings in this process, for commands that run many evaluations (one
/// per flow, per identity class) and say each warning once at the end.
static PROCESS_WARNINGS: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// Takes the warnings every evaluation of this process has raised so far, sorted, each once.
pub fn take_process_warnings() -> Vec<String> {
    let mut w = match PROCESS_WARNINGS.lock() {
        Ok(w) => w,
        Err(p) => p.into_inner(),
    };
    std::mem::take(&mut *w).into_iter().collect()
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
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[u32] {
        &self.data[i * self.arity..(i + 1) * self.arity]
    }
    /// Whether the rows are strictly ascending by their stored values (sorted, no duplicates).
    pub fn is_normal(&self) -> bool {
        let rows = || self.data.chunks_exact(self.arity.max(1));
        match self.arity {
            0 => self.len <= 1,
            1 => self.data.windows(2).all(|w| w[0] < w[1]),
            2 => {
                let packed = rows().map(|r| (u64::from(r[0]) << 32) | u64::from(r[1]));
                packed.clone().zip(packed.skip(1)).all(|(a, b)| a < b)
            }
            _ => rows().zip(rows().skip(1)).all(|(a, b)| a < b),
        }
    }
    /// Sorts rows by their stored values and removes duplicates.
    pub fn normalize(&mut self) {
        if self.arity == 0 {
            self.len = self.len.min(1);
            return;
        }
        if self.is_normal() {
            return;
        }
        // One and two columns: sorted as integers in place of the rows.
        if self.arity == 1 {
            if self.data.len() < radix::MIN_ROWS {
                self.data.sort_unstable();
            } else {
                radix::sort_u32(&mut self.data);
            }
            self.data.dedup();
            self.len = self.data.len();
            return;
        }
        if self.arity == 2 {
            let mut packed: Vec<u64> = self
                .data
                .chunks_exact(2)
                .map(|r| (u64::from(r[0]) << 32) | u64::from(r[1]))
                .collect();
            sort_packed(&mut packed);
            packed.dedup();
            self.data.clear();
            self.data.shrink_to(packed.len() * 2);
            self.data
                .extend(packed.iter().flat_map(|p| [(p >> 32) as u32, *p as u32]));
            self.len = packed.len();
            return;
        }
        // Three and four columns: packed into 128-bit integers; up to eight: sorted as arrays
        // in place. Both far faster than an order of row numbers compared through the rows.
        match self.arity {
            3 => return self.normalize_packed::<3>(),
            4 => return self.normalize_packed::<4>(),
            5 => return self.normalize_rows::<5>(),
            6 => return self.normalize_rows::<6>(),
            7 => return self.normalize_rows::<7>(),
            8 => return self.normalize_rows::<8>(),
            _ => {}
        }
        let order = sort_rows(self.arity, self.len, |i, c| self.data[i * self.arity + c]);
        let mut data = Vec::with_capacity(self.data.len());
        let mut last: Option<usize> = None;
        for i in order {
            let i = i as usize;
            if last.is_none_or(|l| self.row(l) != self.row(i)) {
                data.extend_from_slice(self.row(i));
                last = Some(i);
            }
        }
        self.len = data.len() / self.arity;
        self.data = data;
    }
    /// [`Table::normalize`] for `N` (3 or 4) columns, each row packed into one integer.
    fn normalize_packed<const N: usize>(&mut self) {
        let (rows, _) = self.data.as_chunks::<N>();
        let mut packed: Vec<u128> = rows
            .iter()
            .map(|r| r.iter().fold(0u128, |k, v| (k << 32) | u128::from(*v)))
            .collect();
        packed.sort_unstable();
        packed.dedup();
        self.data.clear();
        self.data.shrink_to(packed.len() * N);
        for p in &packed {
            for c in (0..N).rev() {
                self.data.push((p >> (32 * c)) as u32);
            }
        }
        self.len = packed.len();
    }

    /// [`Table::normalize`] for `N` columns, the rows sorted in place as arrays.
    fn normalize_rows<const N: usize>(&mut self) {
        let (rows, _) = self.data.as_chunks_mut::<N>();
        rows.sort_unstable();
        let mut kept = 0;
        for i in 0..rows.len() {
            if kept == 0 || rows[i] != rows[kept - 1] {
                rows[kept] = rows[i];
                kept += 1;
            }
        }
        self.data.truncate(kept * N);
        self.len = kept;
    }

    /// Whether it holds this row.
    pub fn contains(&self, row: &[u32]) -> bool {
        self.rows().any(|r| r == row)
    }
}

/// Sorts two-column rows packed into integers (the first column in the high half). Rows
/// already in order by their first column, as a file sorted by its first column is read (its
/// symbols numbered as they first appear), only have each run of one first value sorted, in
/// one pass; others are sorted whole.
pub fn sort_packed(rows: &mut [u64]) {
    if rows.windows(2).all(|w| w[0] >> 32 <= w[1] >> 32) {
        for run in rows.chunk_by_mut(|a, b| a >> 32 == b >> 32) {
            if run.len() > 1 {
                run.sort_unstable();
            }
        }
    } else if rows.len() < radix::MIN_ROWS {
        rows.sort_unstable();
    } else {
        radix::sort_u64(rows);
    }
}

/// The positions `0..len` of rows of `arity` columns ordered by the values `key(row, column)`
/// gives (unsigned order, column by column); rows with equal keys keep their order. One and two
/// columns are packed into integers, which sort far faster than rows compared column by column.
pub fn sort_rows(arity: usize, len: usize, key: impl Fn(usize, usize) -> u32) -> Vec<u32> {
    match arity {
        0 => (0..len as u32).collect(),
        1 => {
            let mut packed: Vec<u64> = (0..len)
                .map(|i| (u64::from(key(i, 0)) << 32) | i as u64)
                .collect();
            packed.sort_unstable();
            packed.into_iter().map(|p| p as u32).collect()
        }
        2 => {
            let mut packed: Vec<(u64, u32)> = (0..len)
                .map(|i| {
                    (
                        (u64::from(key(i, 0)) << 32) | u64::from(key(i, 1)),
                        i as u32,
                    )
                })
                .collect();
            packed.sort_unstable();
            packed.into_iter().map(|(_, i)| i).collect()
        }
        _ => {
            let keys: Vec<u32> = (0..len)
                .flat_map(|i| (0..arity).map(move |c| (i, c)))
                .map(|(i, c)| key(i, c))
                .collect();
            let mut order: Vec<u32> = (0..len as u32).collect();
            let row = |i: u32| &keys[i as usize * arity..(i as usize + 1) * arity];
            order.sort_unstable_by(|&a, &b| row(a).cmp(row(b)).then(a.cmp(&b)));
            order
        }
    }
}

/// Shared state while evaluating: the symbol table (functors create symbols), compiled regular
/// expressions, warnings, and the bounds.
pub struct Runtime {
    /// Symbols; written only when a functor makes a new string.
    pub symbols: RwLock<Interner>,
    regexes: Mutex<HashMap<u32, Option<regex::Regex>>>,
    /// The next value of `autoinc()`.
    autoinc: std::sync::atomic::AtomicU32,
    /// Warnings raised while evaluating (e.g. an invalid regular expression).
    pub warnings: Mutex<BTreeSet<String>>,
    /// Bounds: the evaluation's own, tightened by the process's ([`bound_process`]).
    pub limits: Limits,
    /// When the time bound is passed, and that bound.
    deadline: Option<(Instant, Duration)>,
}

impl Runtime {
    /// A runtime over a symbol table.
    pub fn new(symbols: Interner, limits: Limits) -> Runtime {
        let now = Instant::now();
        let mut limits = limits;
        let mut deadline = limits.timeout.map(|t| (now + t, t));
        if let Some((process, set)) = PROCESS_LIMITS.get() {
            limits.max_tuples = limits.max_tuples.min(process.max_tuples);
            if let Some(t) = process.timeout
                && deadline.is_none_or(|(d, _)| *set + t < d)
            {
                deadline = Some((*set + t, t));
                limits.timeout = Some(t);
            }
        }
        Runtime {
            symbols: RwLock::new(symbols),
            regexes: Mutex::new(HashMap::new()),
            autoinc: std::sync::atomic::AtomicU32::new(0),
            warnings: Mutex::new(BTreeSet::new()),
            limits,
            deadline,
        }
    }
    /// Fails when the time bound has passed.
    pub fn check_time(&self) -> Result<(), EvalError> {
        match self.deadline {
            Some((d, t)) if Instant::now() > d => Err(EvalError::Timeout(t)),
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
    /// Whether `text` matches `pattern` as a whole; `None` when the pattern is not a valid
    /// regular expression (a warning says so once).
    fn regex_match(&self, pattern: u32, text: u32) -> Option<bool> {
        let mut cache = match self.regexes.lock() {
            Ok(c) => c,
            Err(p) => p.into_inner(),
        };
        let re = cache.entry(pattern).or_insert_with(|| {
            let p = self.sym(pattern);
            match regex::Regex::new(&format!("^(?:{p})$")) {
                Ok(re) => Some(re),
                Err(e) => {
                    self.warn(format!(
                        "invalid regular expression {p:?} in `match`: {e}; `match` and \
                         `!match` with it are both false, as in Soufflé"
                    ));
                    None
                }
            }
        });
        re.as_ref().map(|re| re.is_match(&self.sym(text)))
    }

    /// Records a warning (each distinct text once).
    fn warn(&self, text: String) {
        if let Ok(mut w) = PROCESS_WARNINGS.lock() {
            w.insert(text.clone());
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.insert(text);
        }
    }

    /// The wrapped result of an operation that overflowed, with a warning.
    fn wrapped(&self, op: &str, ty: Ty, value: u32) -> u32 {
        self.warn(format!(
            "`{op}` overflowed on {} values: the result wraps around (32-bit two's complement, \
             as Soufflé computes it)",
            ty.name()
        ));
        value
    }

    /// No value for a division or modulo by zero, with a warning.
    fn by_zero(&self, op: &str) -> Option<u32> {
        self.warn(format!(
            "`{op}` by zero has no value: the rule derives nothing for that binding (Soufflé \
             stops the program)"
        ));
        None
    }

    /// The value of an expression under a binding, or `None` where it has none (division by
    /// zero, a string that is not a number, a substring out of range). See `bindlog eval
    /// --help` for what overflow, division by zero and `substr` do, each with a warning.
    pub fn eval(&self, e: &Expr, env: &[u32]) -> Option<u32> {
        Some(match e {
            Expr::Var(v) => env[*v],
            Expr::Const(c) => *c,
            Expr::Neg(a) => {
                let x = self.eval(a, env)? as i32;
                match x.checked_neg() {
                    Some(v) => v as u32,
                    None => self.wrapped("-", Ty::Number, x.wrapping_neg() as u32),
                }
            }
            Expr::Bin(op, ty, a, b) => {
                let (x, y) = (self.eval(a, env)?, self.eval(b, env)?);
                let sign = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    BinOp::Div => "/",
                    BinOp::Rem => "%",
                };
                if *ty == Ty::Unsigned {
                    let (exact, wrapped) = match op {
                        BinOp::Add => (x.checked_add(y), x.wrapping_add(y)),
                        BinOp::Sub => (x.checked_sub(y), x.wrapping_sub(y)),
                        BinOp::Mul => (x.checked_mul(y), x.wrapping_mul(y)),
                        BinOp::Div if y == 0 => return self.by_zero(sign),
                        BinOp::Div => (x.checked_div(y), 0),
                        BinOp::Rem if y == 0 => return self.by_zero(sign),
                        BinOp::Rem => (x.checked_rem(y), 0),
                    };
                    match exact {
                        Some(v) => v,
                        None => self.wrapped(sign, *ty, wrapped),
                    }
                } else {
                    let (x, y) = (x as i32, y as i32);
                    let (exact, wrapped) = match op {
                        BinOp::Add => (x.checked_add(y), x.wrapping_add(y)),
                        BinOp::Sub => (x.checked_sub(y), x.wrapping_sub(y)),
                        BinOp::Mul => (x.checked_mul(y), x.wrapping_mul(y)),
                        BinOp::Div if y == 0 => return self.by_zero(sign),
                        // i32::MIN / -1 is 2^31, one past the largest number: it wraps.
                        BinOp::Div => (x.checked_div(y), x.wrapping_div(y)),
                        BinOp::Rem if y == 0 => return self.by_zero(sign),
                        // i32::MIN % -1 is 0, exactly; only the machine instruction overflows.
                        BinOp::Rem => (Some(x.wrapping_rem(y)), 0),
                    };
                    match exact {
                        Some(v) => v as u32,
                        None => self.wrapped(sign, *ty, wrapped as u32),
                    }
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
                    Func::Autoinc => self
                        .autoinc
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
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
                            self.warn(format!(
                                "substr: start {start} is outside {text:?}; the result is \"\""
                            ));
                            String::new()
                        } else {
                            let s = start as usize;
                            let end = if len < 0 {
                                bytes.len()
                            } else {
                                (s + len as usize).min(bytes.len())
                            };
                            // Symbols are UTF-8: a character cut by the byte range is left
                            // out, where Soufflé would return half of it.
                            let (mut a, mut b) = (s, end);
                            while !text.is_char_boundary(a) {
                                a += 1;
                            }
                            while !text.is_char_boundary(b) {
                                b -= 1;
                            }
                            if (a, b) != (s, end) {
                                self.warn(format!(
                                    "substr: bytes {s}..{end} of {text:?} cut a UTF-8 \
                                     character; the cut character is left out"
                                ));
                            }
                            text[a..b.max(a)].to_string()
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
                    // Soufflé reports an invalid pattern and fails both polarities.
                    TestFn::Match => match self.regex_match(a, b) {
                        Some(r) => r,
                        None => return false,
                    },
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
                    a.checked_add(v)
                        .unwrap_or_else(|| self.wrapped("sum", ty, a.wrapping_add(v)))
                } else {
                    match (a as i32).checked_add(v as i32) {
                        Some(s) => s as u32,
                        None => self.wrapped("sum", ty, (a as i32).wrapping_add(v as i32) as u32),
                    }
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
    enumerate_guarded(rt, None, src, lits, env, bound, witness, f);
}

/// [`enumerate`], counting each tuple scanned as a step of `guard` and stopping early once
/// the guard has stopped (what was enumerated until then is then incomplete).
#[allow(clippy::too_many_arguments)]
pub fn enumerate_guarded(
    rt: &Runtime,
    guard: Option<&Guard>,
    src: &dyn Source,
    lits: &[Lit],
    env: &mut Vec<u32>,
    bound: &mut Vec<bool>,
    witness: &mut Vec<u32>,
    f: &mut dyn FnMut(&[u32], &[u32]),
) {
    if guard.is_some_and(Guard::stopped) {
        return;
    }
    let Some((lit, rest)) = lits.split_first() else {
        f(env, witness);
        return;
    };
    match lit {
        Lit::Pos(atom) => {
            let pat = pattern(atom, env, bound);
            src.scan(atom.rel, &pat, &mut |tuple| {
                if guard.is_some_and(|g| !g.step()) {
                    return;
                }
                let mut newly = Vec::new();
                if unify(atom, tuple, env, bound, &mut newly) {
                    let mark = witness.len();
                    witness.extend_from_slice(tuple);
                    enumerate_guarded(rt, guard, src, rest, env, bound, witness, f);
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
                enumerate_guarded(rt, guard, src, rest, env, bound, witness, f);
            }
        }
        Lit::Assign { var, expr, .. } => {
            if let Some(v) = rt.eval(expr, env) {
                env[*var] = v;
                bound[*var] = true;
                enumerate_guarded(rt, guard, src, rest, env, bound, witness, f);
                bound[*var] = false;
            }
        }
        Lit::Agg { var, .. } => {
            if let Some(v) = aggregate_guarded(rt, guard, src, lit, env, bound) {
                env[*var] = v;
                bound[*var] = true;
                enumerate_guarded(rt, guard, src, rest, env, bound, witness, f);
                bound[*var] = false;
            }
        }
        filter => {
            if rt.holds(filter, env) {
                enumerate_guarded(rt, guard, src, rest, env, bound, witness, f);
            }
        }
    }
}

/// The value of the aggregate `agg` (a [`Lit::Agg`]) under a binding of its outer variables.
/// Each match of its body (the combination of tuples it matched) counts once, as in Soufflé:
/// relations are sets and the enumeration visits each combination once. A body Soufflé
/// materialises counts each distinct binding of its named variables once instead
/// ([`crate::datalog::ir::materialised`]): matches differing only under `_` collapse.
pub fn aggregate(
    rt: &Runtime,
    src: &dyn Source,
    agg: &Lit,
    env: &mut Vec<u32>,
    bound: &mut Vec<bool>,
) -> Option<u32> {
    aggregate_guarded(rt, None, src, agg, env, bound)
}

/// [`aggregate`] under a guard (see [`enumerate_guarded`]).
pub fn aggregate_guarded(
    rt: &Runtime,
    guard: Option<&Guard>,
    src: &dyn Source,
    agg: &Lit,
    env: &mut Vec<u32>,
    bound: &mut Vec<bool>,
) -> Option<u32> {
    let Lit::Agg {
        kind,
        ty,
        target,
        body,
        distinct,
        ..
    } = agg
    else {
        return None;
    };
    let mut values = Vec::new();
    let mut witness = Vec::new();
    let mut seen: FxHashSet<Vec<u32>> = FxHashSet::default();
    enumerate_guarded(
        rt,
        guard,
        src,
        body,
        env,
        bound,
        &mut witness,
        &mut |e, _| {
            if let Some(key) = distinct
                && !seen.insert(key.iter().map(|&v| e[v]).collect())
            {
                return;
            }
            let val = match target {
                Some(t) => rt.eval(t, e),
                None => Some(0),
            };
            if let Some(val) = val {
                values.push(val);
            }
        },
    );
    rt.fold(*kind, *ty, values.into_iter())
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

#[cfg(test)]
mod tests {
    use super::{Table, sort_packed};
    use proptest::prelude::*;

    proptest! {
        /// Every width's sort (integers, packed integers, arrays, row numbers) gives the
        /// rows in unsigned order column by column, each once, as a sorted set of rows does.
        #[test]
        fn normalize_sorts_and_dedups_every_width(
            arity in 1usize..11,
            values in proptest::collection::vec(
                prop_oneof![0u32..4, Just(u32::MAX), any::<u32>()],
                0..120,
            ),
        ) {
            let len = values.len() / arity;
            let mut table = Table::new(arity);
            for row in values.chunks_exact(arity) {
                table.push(row);
            }
            let expected: std::collections::BTreeSet<&[u32]> =
                values.chunks_exact(arity).collect();
            table.normalize();
            let got: Vec<&[u32]> = table.rows().collect();
            prop_assert_eq!(got, expected.into_iter().collect::<Vec<_>>());
            prop_assert_eq!(table.len, table.data.len() / arity);
            prop_assert!(table.len <= len);
            prop_assert!(table.is_normal());
        }
    }

    #[test]
    fn packed_rows_sort_by_runs_or_whole() {
        // In order by the first column: each run sorted.
        let mut rows = vec![
            1 << 32 | 5,
            1 << 32 | 2,
            2 << 32 | 9,
            3 << 32 | 4,
            3 << 32 | 1,
        ];
        sort_packed(&mut rows);
        assert_eq!(
            rows,
            [
                1 << 32 | 2,
                1 << 32 | 5,
                2 << 32 | 9,
                3 << 32 | 1,
                3 << 32 | 4
            ]
        );
        // Not in order by it: sorted whole.
        let mut rows = vec![3 << 32 | 1, 1 << 32 | 5, 2 << 32 | 9, 1 << 32 | 2];
        sort_packed(&mut rows);
        assert_eq!(rows, [1 << 32 | 2, 1 << 32 | 5, 2 << 32 | 9, 3 << 32 | 1]);
    }
}
