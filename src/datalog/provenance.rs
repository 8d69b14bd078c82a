//! Proofs and why-not answers, computed only when asked. The fast engine evaluates the rules
//! once more, noting each tuple's height (the round that first derived it), or an evaluation
//! that noted them already is read ([`Explainer::with_heights`]); a proof picks,
//! at every node, a rule instance whose body tuples are all lower, the lowest there is. The
//! reference evaluator's heights (each tuple's shortest proof) serve the tests as a yardstick.

use crate::datalog::diag::Sources;
use crate::datalog::eval::derived::Derived;
use crate::datalog::eval::naive::{self, NaiveDb};
use crate::datalog::eval::{
    EvalError, Limits, Runtime, Source, enumerate, fast, head_tuple, pattern,
};
use crate::datalog::ir::*;
use crate::datalog::schedule::schedule;
use crate::datalog::syntax::{ast, parse_atom};
use crate::datalog::value::{Interner, format_literal};
use crate::datalog::{Inputs, Rules};
use serde_json::{Value, json};

/// How an explanation is printed.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    /// An indented tree.
    Text,
    /// The same tree as JSON.
    Json,
}

/// Why a node of a proof holds.
#[derive(Clone, Debug)]
pub enum Because {
    /// An input fact, with the file and line it was read from (if known).
    Input(Option<(String, usize)>),
    /// A rule (location and text) applied to the children.
    Rule { location: String, text: String },
    /// A negated atom that holds because no such tuple exists.
    Absent,
    /// An aggregate's value.
    Aggregate,
    /// A proof that goes on deeper than [`PROOF_DEPTH`] levels: the rest is not shown (a chain
    /// of a hundred thousand groups would make a proof as deep).
    Deeper,
}

/// How many levels of a proof are shown.
pub const PROOF_DEPTH: usize = 1000;

/// One node of a proof tree.
#[derive(Clone, Debug)]
pub struct Proof {
    /// The tuple as written in Datalog, e.g. `path("a", "d")`.
    pub tuple: String,
    /// Its relation.
    pub relation: String,
    /// Its values, formatted.
    pub values: Vec<String>,
    /// What makes it hold.
    pub because: Because,
    /// The body tuples it was derived from.
    pub children: Vec<Proof>,
    /// For a negated atom (`Because::Absent`), why that tuple does not hold, when asked for
    /// ([`Explainer::follow_negations`]).
    pub absent: Option<Box<WhyNot>>,
}

/// Why one rule does not derive a tuple.
#[derive(Clone, Debug)]
pub struct Blocked {
    /// Rule location (`file:line`).
    pub location: String,
    /// Rule text.
    pub text: String,
    /// The literal that has no match, with the values known at that point.
    pub failed: String,
    /// What is wrong with it.
    pub reason: String,
    /// For a missing tuple of a derived relation: why that one does not hold either.
    pub deeper: Option<Box<WhyNot>>,
}

/// Why a tuple does not hold: every rule that could derive it, and where each one stops.
#[derive(Clone, Debug)]
pub struct WhyNot {
    /// The tuple as written in Datalog.
    pub tuple: String,
    /// Its relation.
    pub relation: String,
    /// Whether the relation is read from input (and the tuple is not there).
    pub input_relation: bool,
    /// One entry per rule whose head could produce it.
    pub rules: Vec<Blocked>,
}

/// The answer to "explain this tuple".
#[derive(Clone, Debug)]
pub enum Explanation {
    /// It holds, with a proof whose rule instances are, node by node, the earliest derived.
    Holds(Proof),
    /// It does not hold.
    DoesNotHold(WhyNot),
}

/// Explains a tuple given as text (`path("a","d")`) and renders the answer.
pub fn explain_text(
    rules: &mut Rules,
    inputs: &Inputs,
    atom: &str,
    limits: Limits,
    depth: usize,
    format: ExplainFormat,
) -> Result<String, String> {
    let file = rules.sources.add("<explain>", atom.to_string());
    let parsed = parse_atom(file, atom)
        .map_err(|d| crate::datalog::diag::Diagnostics(d).render(&rules.sources, 100))?;
    let mut symbols = inputs.symbols.clone();
    let (rel, tuple) = ground(&rules.program, &parsed, &mut symbols)
        .map_err(|d| crate::datalog::diag::Diagnostics(vec![d]).render(&rules.sources, 100))?;
    // A relation the magic-set rewrite restricted to what the outputs ask holds only part of
    // its tuples: it is explained from the program as checked (every relation in full; its
    // relations are the first ones of the rewritten program). Any other relation keeps its
    // contents, and its proofs may go through the adorned and magic relations.
    let original = rules
        .program
        .magic
        .as_ref()
        .filter(|m| m.partial.contains(&rel))
        .map(|m| m.original.clone());
    let answer = match original {
        Some(original) => {
            let n = original.relations.len();
            let plan = crate::datalog::compile::compile(&original);
            let program = std::mem::replace(&mut rules.program, original);
            let plan = std::mem::replace(&mut rules.plan, plan);
            let narrowed = Inputs {
                tables: inputs.tables.iter().take(n).cloned().collect(),
                symbols: inputs.symbols.clone(),
                origins: inputs.origins.iter().take(n).cloned().collect(),
            };
            let answer = Explainer::new(rules, &narrowed, symbols, limits)
                .map(|e| e.explain(rel, &tuple, depth));
            rules.program = program;
            rules.plan = plan;
            answer.map_err(|e| e.to_string())?
        }
        None => Explainer::new(rules, inputs, symbols, limits)
            .map_err(|e| e.to_string())?
            .explain(rel, &tuple, depth),
    };
    Ok(match format {
        ExplainFormat::Text => render_text(&answer),
        ExplainFormat::Json => format!(
            "{}\n",
            serde_json::to_string_pretty(&to_json(&answer)).unwrap_or_default()
        ),
    })
}

/// Resolves a parsed ground atom to a relation and stored values.
pub fn ground(
    prog: &Program,
    atom: &ast::Atom,
    symbols: &mut Interner,
) -> Result<(RelId, Vec<u32>), crate::datalog::diag::Diagnostic> {
    use crate::datalog::diag::Diagnostic;
    let rel = prog.relation(&atom.rel.text).ok_or_else(|| {
        Diagnostic::error(
            format!("relation `{}` is not declared", atom.rel.text),
            atom.rel.span,
            "unknown relation",
        )
    })?;
    let r = &prog.relations[rel];
    if r.arity() != atom.args.len() {
        return Err(Diagnostic::error(
            format!(
                "relation `{}` takes {} arguments, {} given",
                r.name,
                r.arity(),
                atom.args.len()
            ),
            atom.span,
            "here",
        ));
    }
    let mut out = Vec::new();
    for (t, ty) in atom.args.iter().zip(&r.types) {
        out.push(match (t, ty) {
            (ast::Term::Str(s, _), Ty::Symbol) => symbols.intern(s),
            (ast::Term::Num(n, _), Ty::Number) if i32::try_from(*n).is_ok() => *n as i32 as u32,
            (ast::Term::Num(n, _), Ty::Unsigned) if u32::try_from(*n).is_ok() => *n as u32,
            (other, ty) => {
                return Err(Diagnostic::error(
                    format!("expected a {} constant", ty.name()),
                    other.span(),
                    "not a constant of this column's type",
                )
                .with_help("write symbols in double quotes and numbers as digits"));
            }
        });
    }
    Ok((rel, out))
}

/// The relations a proof is read from, with each tuple's height.
enum Db {
    /// The fast engine's, heights by round.
    Fast(Derived),
    /// The reference evaluator's, heights of shortest proofs.
    Reference(NaiveDb),
}

impl Db {
    fn height(&self, rel: RelId, tuple: &[u32]) -> Option<u32> {
        match self {
            Db::Fast(d) => d.height(rel, tuple),
            Db::Reference(d) => d.height(rel, tuple),
        }
    }
    fn count(&self, rel: RelId, pattern: &[Option<u32>]) -> usize {
        match self {
            Db::Fast(d) => d.count(rel, pattern),
            Db::Reference(d) => d.count(rel, pattern),
        }
    }
}

impl Source for Db {
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32])) {
        match self {
            Db::Fast(d) => d.scan(rel, pattern, f),
            Db::Reference(d) => d.scan(rel, pattern, f),
        }
    }
}

/// Evaluates everything once with heights, then answers questions about tuples.
pub struct Explainer<'r> {
    rules: &'r Rules,
    rt: Runtime,
    db: Db,
    origins: std::collections::HashMap<(RelId, Vec<u32>), (String, usize)>,
    negations: Option<usize>,
}

impl<'r> Explainer<'r> {
    /// Evaluates the rules over the inputs with the fast engine, keeping each tuple's height.
    /// A program the fast engine does not run (rows too wide) is evaluated as
    /// [`Explainer::reference`] does.
    pub fn new(
        rules: &'r Rules,
        inputs: &Inputs,
        symbols: Interner,
        limits: Limits,
    ) -> Result<Explainer<'r>, EvalError> {
        let rt = Runtime::new(symbols.clone(), limits);
        match fast::evaluate_with_heights(&rules.program, &rules.plan, &rt, &inputs.tables, true) {
            Ok((tables, heights)) => Ok(Self::over(
                rules,
                inputs,
                rt,
                Db::Fast(Derived::new(tables, heights)),
            )),
            Err(EvalError::Unsupported(_)) => Self::reference(rules, inputs, symbols, limits),
            Err(e) => Err(e),
        }
    }

    /// Proves from an evaluation of the rules over the inputs that kept its tuples' heights
    /// ([`Rules::evaluate_for_proofs`]): nothing is evaluated again. `symbols` must extend the
    /// evaluation's own (the symbols its functors made included).
    pub fn with_heights(
        rules: &'r Rules,
        inputs: &Inputs,
        symbols: Interner,
        limits: Limits,
        heighted: crate::datalog::Heighted,
    ) -> Explainer<'r> {
        let rt = Runtime::new(symbols, limits);
        let (tables, heights) = heighted.into_parts();
        Self::over(rules, inputs, rt, Db::Fast(Derived::new(tables, heights)))
    }

    /// Evaluates the rules over the inputs with the reference evaluator (semi-naive, tested
    /// against it), keeping the height of each tuple's shortest proof: slower, the yardstick
    /// the fast engine's proofs are tested against.
    pub fn reference(
        rules: &'r Rules,
        inputs: &Inputs,
        symbols: Interner,
        limits: Limits,
    ) -> Result<Explainer<'r>, EvalError> {
        let rt = Runtime::new(symbols, limits);
        let rows = inputs
            .tables
            .iter()
            .map(|t| t.rows().map(|r| r.to_vec()).collect())
            .collect();
        let db = naive::evaluate_by_deltas(&rules.program, &rt, rows)?;
        Ok(Self::over(rules, inputs, rt, Db::Reference(db)))
    }

    fn over(rules: &'r Rules, inputs: &Inputs, rt: Runtime, db: Db) -> Explainer<'r> {
        let mut origins = std::collections::HashMap::new();
        for (rel, list) in inputs.origins.iter().enumerate() {
            for (row, o) in list {
                origins
                    .entry((rel, row.clone()))
                    .or_insert_with(|| o.clone());
            }
        }
        Explainer {
            rules,
            rt,
            db,
            origins,
            negations: None,
        }
    }

    /// Proofs then say, under each negated atom, why its tuple does not hold (followed `depth`
    /// deep): a "no" reaches the missing fact instead of stopping at the negation.
    pub fn follow_negations(&mut self, depth: usize) {
        self.negations = Some(depth);
    }

    /// Whether a tuple holds.
    pub fn holds(&self, rel: RelId, tuple: &[u32]) -> bool {
        self.db.height(rel, tuple).is_some()
    }

    /// A proof if the tuple holds, else a why-not followed `depth` levels deep.
    pub fn explain(&self, rel: RelId, tuple: &[u32], depth: usize) -> Explanation {
        match self.db.height(rel, tuple) {
            Some(h) => Explanation::Holds(self.prove(rel, tuple, h, PROOF_DEPTH)),
            None => Explanation::DoesNotHold(self.why_not(rel, tuple, depth)),
        }
    }

    fn symbols(&self) -> std::sync::RwLockReadGuard<'_, Interner> {
        match self.rt.symbols.read() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        }
    }

    /// The tuple as Datalog text.
    pub fn tuple_text(&self, rel: RelId, tuple: &[u32]) -> String {
        let r = &self.rules.program.relations[rel];
        let syms = self.symbols();
        let vals: Vec<String> = tuple
            .iter()
            .zip(&r.types)
            .map(|(v, t)| format_literal(*t, *v, &syms))
            .collect();
        format!("{}({})", r.name, vals.join(", "))
    }

    fn values(&self, rel: RelId, tuple: &[u32]) -> Vec<String> {
        let r = &self.rules.program.relations[rel];
        let syms = self.symbols();
        tuple
            .iter()
            .zip(&r.types)
            .map(|(v, t)| crate::datalog::value::format_value(*t, *v, &syms))
            .collect()
    }

    fn rule_text(&self, c: &Clause) -> (String, String) {
        let s: &Sources = &self.rules.sources;
        (
            s.location(c.span),
            s.snippet(c.span)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }

    /// Binds the head of `c` to `tuple` and orders the body for that binding.
    fn bind_head(&self, c: &Clause, tuple: &[u32]) -> Option<(Vec<u32>, Vec<bool>, Vec<Lit>)> {
        let n = c.var_names.len();
        let mut env = vec![0; n];
        let mut bound = vec![false; n];
        for (a, &x) in c.head.args.iter().zip(tuple) {
            match a {
                Arg::Const(k) if *k != x => return None,
                Arg::Var(v) if bound[*v] && env[*v] != x => return None,
                Arg::Var(v) => {
                    env[*v] = x;
                    bound[*v] = true;
                }
                _ => {}
            }
        }
        let mut b2 = bound.clone();
        let (body, _) = schedule(c.body.clone(), &mut b2, None);
        Some((env, bound, body))
    }

    /// The body of `c` in the order to search it for a witness, given the head's values: from
    /// the atom they narrow most. `member(U, P) :- member(U, C), group_parent(C, P)` starts from
    /// P's children, not from every group U is in, so a proof up a long chain of groups costs
    /// its length, not its length squared.
    fn search_order(&self, c: &Clause, env: &[u32], bound: &[bool]) -> Vec<Lit> {
        let first = c
            .body
            .iter()
            .enumerate()
            .filter_map(|(i, l)| match l {
                Lit::Pos(a) => Some((self.db.count(a.rel, &pattern(a, env, bound)), i)),
                _ => None,
            })
            .min()
            .map(|(_, i)| i);
        let mut b2 = bound.to_vec();
        schedule(c.body.clone(), &mut b2, first).0
    }

    fn prove(&self, rel: RelId, tuple: &[u32], height: u32, levels: usize) -> Proof {
        let r = &self.rules.program.relations[rel];
        let node = |because, children| Proof {
            tuple: self.tuple_text(rel, tuple),
            relation: r.name.clone(),
            values: self.values(rel, tuple),
            because,
            children,
            absent: None,
        };
        if height == 0 {
            return node(
                Because::Input(self.origins.get(&(rel, tuple.to_vec())).cloned()),
                vec![],
            );
        }
        if levels == 0 {
            return node(Because::Deeper, vec![]);
        }
        // Of every rule's instances, the first whose highest body tuple is lowest. With the
        // reference evaluator's heights, that is one level below the tuple's.
        type Best<'c> = (u32, &'c Clause, Vec<Lit>, Vec<Lit>, Vec<u32>, Vec<u32>);
        let mut best: Option<Best<'_>> = None;
        for c in self
            .rules
            .program
            .clauses
            .iter()
            .filter(|c| c.head.rel == rel)
        {
            let Some((mut env, mut bound, body)) = self.bind_head(c, tuple) else {
                continue;
            };
            let search = self.search_order(c, &env, &bound);
            let pos: Vec<&Atom> = search
                .iter()
                .filter_map(|l| if let Lit::Pos(a) = l { Some(a) } else { None })
                .collect();
            let mut found: Option<(u32, Vec<u32>, Vec<u32>)> = None;
            let lowest = best.as_ref().map_or(height, |b| b.0);
            enumerate(
                &self.rt,
                &self.db,
                &search,
                &mut env,
                &mut bound,
                &mut Vec::new(),
                &mut |e, w| {
                    if found.as_ref().is_some_and(|(m, ..)| *m == 0) {
                        return;
                    }
                    let mut at = 0;
                    let mut max = 0;
                    for a in &pos {
                        let n = a.args.len();
                        max = max.max(self.db.height(a.rel, &w[at..at + n]).unwrap_or(0));
                        at += n;
                    }
                    if max < lowest
                        && found.as_ref().is_none_or(|(m, ..)| max < *m)
                        && head_tuple(&c.head, e) == tuple
                    {
                        found = Some((max, e.to_vec(), w.to_vec()));
                    }
                },
            );
            if let Some((max, env, witness)) = found {
                best = Some((max, c, body, search, env, witness));
            }
        }
        if let Some((_, c, body, search, env, witness)) = best {
            let pos: Vec<&Atom> = search
                .iter()
                .filter_map(|l| if let Lit::Pos(a) = l { Some(a) } else { None })
                .collect();
            // The witness's tuples, in search order, handed to the atoms in the shown order.
            let mut tuples: Vec<Option<(&Atom, &[u32])>> = Vec::new();
            let mut at = 0;
            for a in &pos {
                tuples.push(Some((a, &witness[at..at + a.args.len()])));
                at += a.args.len();
            }
            let mut children = Vec::new();
            for lit in &body {
                match lit {
                    Lit::Pos(a) => {
                        let same = |b: &Atom| b.rel == a.rel && b.args == a.args;
                        let Some((_, t)) = tuples
                            .iter_mut()
                            .find(|x| x.is_some_and(|(b, _)| same(b)))
                            .and_then(Option::take)
                        else {
                            continue;
                        };
                        children.push(self.prove(
                            a.rel,
                            t,
                            self.db.height(a.rel, t).unwrap_or(0),
                            levels - 1,
                        ));
                    }
                    Lit::Neg(a) => {
                        let all = vec![true; env.len()];
                        let ground: Option<Vec<u32>> = pattern(a, &env, &all).into_iter().collect();
                        children.push(Proof {
                            tuple: format!("!{}", self.atom_text(a, c, &env, &all)),
                            relation: self.rules.program.relations[a.rel].name.clone(),
                            values: ground
                                .as_ref()
                                .map_or_else(Vec::new, |t| self.values(a.rel, t)),
                            because: Because::Absent,
                            children: vec![],
                            absent: self
                                .negations
                                .zip(ground.as_ref())
                                .map(|(depth, t)| Box::new(self.why_not(a.rel, t, depth))),
                        });
                    }
                    Lit::Agg { var, span, .. } => children.push(Proof {
                        tuple: format!(
                            "{} = {}",
                            self.rules.sources.snippet(*span),
                            self.var_value(c, *var, env[*var])
                        ),
                        relation: String::new(),
                        values: vec![],
                        because: Because::Aggregate,
                        children: vec![],
                        absent: None,
                    }),
                    _ => {}
                }
            }
            let (location, text) = self.rule_text(c);
            return node(Because::Rule { location, text }, children);
        }
        // Unreachable for a consistent database; an input fact is the honest fallback.
        node(
            Because::Input(self.origins.get(&(rel, tuple.to_vec())).cloned()),
            vec![],
        )
    }

    fn var_value(&self, c: &Clause, v: VarId, raw: u32) -> String {
        format_literal(c.var_types[v], raw, &self.symbols())
    }

    fn atom_text(&self, a: &Atom, c: &Clause, env: &[u32], bound: &[bool]) -> String {
        let r = &self.rules.program.relations[a.rel];
        let syms = self.symbols();
        let args: Vec<String> = a
            .args
            .iter()
            .enumerate()
            .map(|(i, x)| match x {
                Arg::Var(v) if bound[*v] => format_literal(r.types[i], env[*v], &syms),
                Arg::Var(v) => c.var_names[*v].clone(),
                Arg::Const(k) => format_literal(r.types[i], *k, &syms),
                Arg::Wild => "_".into(),
            })
            .collect();
        format!("{}({})", r.name, args.join(", "))
    }

    fn bindings_text(&self, c: &Clause, lit: &Lit, env: &[u32], bound: &[bool]) -> String {
        let mut vs = lit.needs();
        vs.sort();
        vs.dedup();
        let parts: Vec<String> = vs
            .iter()
            .filter(|&&v| bound[v] && !c.var_names[v].starts_with("_t"))
            .map(|&v| format!("{} = {}", c.var_names[v], self.var_value(c, v, env[v])))
            .collect();
        if parts.is_empty() {
            String::new()
        } else {
            format!(" for {}", parts.join(", "))
        }
    }

    /// Every rule that could derive the tuple, and the first body literal where each one stops.
    pub fn why_not(&self, rel: RelId, tuple: &[u32], depth: usize) -> WhyNot {
        let prog = &self.rules.program;
        let mut out = WhyNot {
            tuple: self.tuple_text(rel, tuple),
            relation: prog.relations[rel].name.clone(),
            input_relation: prog.relations[rel].input.is_some(),
            rules: vec![],
        };
        for c in prog.clauses.iter().filter(|c| c.head.rel == rel) {
            let (location, text) = self.rule_text(c);
            let Some((env, bound, body)) = self.bind_head(c, tuple) else {
                out.rules.push(Blocked {
                    location,
                    text,
                    failed: self.atom_text(
                        &c.head,
                        c,
                        &vec![0; c.var_names.len()],
                        &vec![false; c.var_names.len()],
                    ),
                    reason: "the head does not match this tuple".into(),
                    deeper: None,
                });
                continue;
            };
            // Follow the body literal by literal, keeping every partial binding (up to a bound).
            let mut states: Vec<(Vec<u32>, Vec<bool>)> = vec![(env, bound)];
            let mut blocked = None;
            for lit in &body {
                let mut next = Vec::new();
                for (env, bound) in &states {
                    let mut e = env.clone();
                    let mut b = bound.clone();
                    let before = bound.clone();
                    enumerate(
                        &self.rt,
                        &self.db,
                        std::slice::from_ref(lit),
                        &mut e,
                        &mut b,
                        &mut Vec::new(),
                        &mut |e2, _| {
                            if next.len() < 10_000 {
                                let mut b2 = before.clone();
                                for v in lit.binds() {
                                    b2[v] = true;
                                }
                                next.push((e2.to_vec(), b2));
                            }
                        },
                    );
                }
                if next.is_empty() {
                    // Show the values every way so far agrees on; the others stay variables.
                    let (env, first) = &states[0];
                    let bound: Vec<bool> = (0..env.len())
                        .map(|v| first[v] && states.iter().all(|(e, b)| b[v] && e[v] == env[v]))
                        .collect();
                    blocked = Some(self.blocked_at(
                        c,
                        lit,
                        env,
                        &bound,
                        states.len(),
                        depth,
                        location.clone(),
                        text.clone(),
                    ));
                    break;
                }
                states = next;
            }
            if let Some(b) = blocked {
                out.rules.push(b);
            }
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn blocked_at(
        &self,
        c: &Clause,
        lit: &Lit,
        env: &[u32],
        bound: &[bool],
        ways: usize,
        depth: usize,
        location: String,
        text: String,
    ) -> Blocked {
        let prog = &self.rules.program;
        let (failed, reason, deeper) = match lit {
            Lit::Pos(a) => {
                let pat = pattern(a, env, bound);
                let shown = self.atom_text(a, c, env, bound);
                if pat.iter().all(|p| p.is_some()) && ways == 1 {
                    let t: Vec<u32> = pat.iter().flatten().copied().collect();
                    let derived = prog.clauses.iter().any(|k| k.head.rel == a.rel);
                    let deeper = (derived && depth > 0)
                        .then(|| Box::new(self.why_not(a.rel, &t, depth - 1)));
                    let reason = if derived {
                        "this tuple does not hold".to_string()
                    } else {
                        "this tuple is not among the input facts".to_string()
                    };
                    (shown, reason, deeper)
                } else {
                    let mut n = 0;
                    self.db.scan(a.rel, &pat, &mut |_| n += 1);
                    let reason = if ways > 1 {
                        format!(
                            "no tuple matches, for any of the {ways} ways the literals before it hold"
                        )
                    } else {
                        "no tuple matches".to_string()
                    };
                    (shown, reason, None)
                }
            }
            Lit::Neg(a) => (
                format!("!{}", self.atom_text(a, c, env, bound)),
                "the negated tuple holds".into(),
                None,
            ),
            Lit::Agg { span, .. } => (
                self.rules.sources.snippet(*span).to_string(),
                "the aggregate has no value (min or max over nothing)".into(),
                None,
            ),
            Lit::Assign { span, .. }
            | Lit::Cmp { span, .. }
            | Lit::Test { span, .. }
            | Lit::False(span) => (
                self.rules.sources.snippet(*span).to_string(),
                format!(
                    "the constraint is false{}",
                    self.bindings_text(c, lit, env, bound)
                ),
                None,
            ),
        };
        Blocked {
            location,
            text,
            failed,
            reason,
            deeper,
        }
    }
}

/// Renders an explanation as an indented tree.
pub fn render_text(e: &Explanation) -> String {
    let mut out = String::new();
    match e {
        Explanation::Holds(p) => {
            out.push_str(&format!("{} holds\n", p.tuple));
            proof_lines(p, "", true, true, &mut out);
        }
        Explanation::DoesNotHold(w) => {
            out.push_str(&format!("{} does not hold\n", w.tuple));
            why_lines(w, "", &mut out);
        }
    }
    out
}

fn proof_lines(p: &Proof, prefix: &str, last: bool, root: bool, out: &mut String) {
    let (branch, cont) = if root {
        ("", "")
    } else if last {
        ("└─ ", "   ")
    } else {
        ("├─ ", "│  ")
    };
    let what = match &p.because {
        Because::Input(Some((f, l))) => format!("input fact, {f}:{l}"),
        Because::Input(None) => "input fact".into(),
        Because::Rule { location, text } => format!("by {location}  {text}"),
        Because::Absent => "no such tuple".into(),
        Because::Aggregate => "aggregate".into(),
        Because::Deeper => format!("the proof goes on; not shown beyond {PROOF_DEPTH} levels"),
    };
    out.push_str(&format!("{prefix}{branch}{}  [{what}]\n", p.tuple));
    let child_prefix = format!("{prefix}{cont}");
    if let Some(w) = &p.absent {
        why_lines(w, &child_prefix, out);
    }
    for (i, c) in p.children.iter().enumerate() {
        proof_lines(c, &child_prefix, i + 1 == p.children.len(), false, out);
    }
}

fn why_lines(w: &WhyNot, prefix: &str, out: &mut String) {
    if w.rules.is_empty() {
        let what = if w.input_relation {
            "it is not among the input facts and no rule derives it"
        } else {
            "no rule derives it"
        };
        out.push_str(&format!("{prefix}└─ {what}\n"));
        return;
    }
    for (i, b) in w.rules.iter().enumerate() {
        let last = i + 1 == w.rules.len();
        let (branch, cont) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        out.push_str(&format!(
            "{prefix}{branch}rule {}  {}\n",
            b.location, b.text
        ));
        out.push_str(&format!(
            "{prefix}{cont}stops at {}: {}\n",
            b.failed, b.reason
        ));
        if let Some(d) = &b.deeper {
            out.push_str(&format!("{prefix}{cont}{} does not hold\n", d.tuple));
            why_lines(d, &format!("{prefix}{cont}"), out);
        }
    }
}

/// The explanation as JSON data.
pub fn to_json(e: &Explanation) -> Value {
    match e {
        Explanation::Holds(p) => proof_json(p),
        Explanation::DoesNotHold(w) => why_json(w),
    }
}

fn proof_json(p: &Proof) -> Value {
    let mut v = json!({"tuple": p.tuple, "holds": true});
    match &p.because {
        Because::Input(o) => {
            v["because"] = json!("input");
            if let Some((f, l)) = o {
                v["source"] = json!({"file": f, "line": l});
            }
        }
        Because::Rule { location, text } => {
            v["because"] = json!("rule");
            v["rule"] = json!({"location": location, "text": text});
        }
        Because::Absent => v["because"] = json!("absent"),
        Because::Aggregate => v["because"] = json!("aggregate"),
        Because::Deeper => v["because"] = json!("not shown"),
    }
    if !p.relation.is_empty() {
        v["relation"] = json!(p.relation);
    }
    if !p.values.is_empty() {
        v["values"] = json!(p.values);
    }
    v["children"] = Value::Array(p.children.iter().map(proof_json).collect());
    if let Some(w) = &p.absent {
        v["why_not"] = why_json(w);
    }
    v
}

fn why_json(w: &WhyNot) -> Value {
    json!({
        "tuple": w.tuple,
        "holds": false,
        "relation": w.relation,
        "input_relation": w.input_relation,
        "rules": w.rules.iter().map(|b| {
            let mut v = json!({"rule": {"location": b.location, "text": b.text}, "failed": b.failed, "reason": b.reason});
            if let Some(d) = &b.deeper {
                v["deeper"] = why_json(d);
            }
            v
        }).collect::<Vec<_>>(),
    })
}
