//! Declarations, types, safety and strata: the parsed items become a [`Program`], or every error
//! of the phase is reported at once.

use crate::datalog::diag::{Diagnostic, Span};
use crate::datalog::ir::*;
use crate::datalog::schedule::schedule;
use crate::datalog::syntax::ast::{self, AggKind, Body, CmpOp, DirectiveKind, Item, Term};
use crate::datalog::value::Interner;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Checks a program made of the items of one or more files.
pub fn check(items: &[Item]) -> Result<Program, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let types = resolve_types(items, &mut errors);
    let mut relations: Vec<Relation> = Vec::new();
    let mut by_name: HashMap<String, RelId> = HashMap::new();
    for item in items {
        if let Item::Decl {
            names, attrs, span, ..
        } = item
        {
            let mut tys = Vec::new();
            for (_, ty) in attrs {
                match types.get(&ty.text) {
                    Some(t) => tys.push(*t),
                    None => {
                        errors.push(unknown_type(ty));
                        tys.push(Ty::Symbol);
                    }
                }
            }
            for name in names {
                if let Some(&prev) = by_name.get(&name.text) {
                    errors.push(
                        Diagnostic::error(
                            format!("relation `{}` is declared twice", name.text),
                            name.span,
                            "declared again here",
                        )
                        .with_label(relations[prev].decl, "first declared here")
                        .with_help("remove one of the declarations"),
                    );
                    continue;
                }
                by_name.insert(name.text.clone(), relations.len());
                relations.push(Relation {
                    name: name.text.clone(),
                    attrs: attrs.iter().map(|(a, _)| a.text.clone()).collect(),
                    types: tys.clone(),
                    decl: *span,
                    input: None,
                    output: None,
                    also_output: Vec::new(),
                    printsize: false,
                });
            }
        }
    }
    for item in items {
        if let Item::Directive {
            kind,
            rels,
            params,
            span,
        } = item
        {
            for rel in rels {
                let Some(&id) = by_name.get(&rel.text) else {
                    errors.push(undeclared(rel));
                    continue;
                };
                let spec = IoSpec {
                    params: params
                        .iter()
                        .map(|(k, v)| (k.text.clone(), v.clone()))
                        .collect(),
                    span: *span,
                };
                for (k, _) in params {
                    if ![
                        "IO",
                        "filename",
                        "delimiter",
                        "headers",
                        "rfc4180",
                        "attributeNames",
                    ]
                    .contains(&k.text.as_str())
                    {
                        errors.push(
                            Diagnostic::error(
                                format!("unknown I/O parameter `{}`", k.text),
                                k.span,
                                "not understood",
                            )
                            .with_help("supported: IO=file, filename=\"...\", delimiter=\"...\"")
                            .warn(),
                        );
                    }
                }
                if let Some(io) = spec.params.get("IO")
                    && io != "file"
                    && io != "stdout"
                {
                    errors.push(
                        Diagnostic::error(format!("unsupported I/O kind `IO={io}`"), *span, "here")
                            .with_help("bindlog reads and writes files: use IO=file"),
                    );
                }
                match kind {
                    DirectiveKind::Input => relations[id].input = Some(spec),
                    DirectiveKind::Output => match relations[id].output {
                        Some(_) => relations[id].also_output.push(spec),
                        None => relations[id].output = Some(spec),
                    },
                    DirectiveKind::PrintSize => relations[id].printsize = true,
                }
            }
        }
    }
    let mut symbols = Interner::default();
    let mut clauses = Vec::new();
    for item in items {
        if let Item::Rule(rule) = item {
            for head in &rule.heads {
                let conjunctions = match &rule.body {
                    None => vec![vec![]],
                    Some(b) => dnf(b),
                };
                for conj in conjunctions {
                    let mut b = Builder {
                        rels: &relations,
                        by_name: &by_name,
                        symbols: &mut symbols,
                        errors: &mut errors,
                        vars: HashMap::new(),
                        names: vec![],
                        spans: vec![],
                        depth: 0,
                    };
                    if let Some(c) = b.clause(head, &conj, rule.span) {
                        clauses.push(c);
                    }
                }
            }
        }
    }
    let strata = if errors.iter().any(|e| !e.warning) {
        vec![]
    } else {
        stratify(&relations, &mut clauses, &mut errors)
    };
    for c in &clauses {
        if strata.get(c.stratum).is_some_and(|s| s.recursive) && c.body.iter().any(uses_autoinc) {
            errors.push(
                Diagnostic::error(
                    "`autoinc()` in a recursive rule",
                    c.span,
                    "this rule is recursive",
                )
                .with_help(
                    "each round would number the same tuples again: number the tuples in a \
                         rule over the finished relation, outside the recursion",
                ),
            );
        }
    }
    if errors.iter().any(|e| !e.warning) {
        return Err(errors);
    }
    let mut pragmas = Pragmas::default();
    for item in items {
        if let Item::Decl {
            names,
            magic: Some(m),
            ..
        } = item
        {
            let to = if *m {
                &mut pragmas.magic_qualified
            } else {
                &mut pragmas.no_magic_qualified
            };
            to.extend(names.iter().map(|n| n.text.clone()));
        }
        if let Item::Pragma { key, value, .. } = item {
            let list = Some(RelList::parse(value));
            match key.as_str() {
                "magic-transform" => pragmas.magic_transform = list,
                "magic-transform-exclude" => pragmas.magic_exclude = list,
                _ => {}
            }
        }
    }
    Ok(Program {
        relations,
        clauses,
        strata,
        symbols,
        pragmas,
        magic: None,
    })
}

fn unknown_type(ty: &ast::Name) -> Diagnostic {
    let help = if ty.text == "float" {
        "bindlog supports `symbol`, `number` and `unsigned`; `float` is not supported".to_string()
    } else {
        format!(
            "declare it with `.type {} <: symbol`, or use `symbol`, `number` or `unsigned`",
            ty.text
        )
    };
    Diagnostic::error(
        format!("unknown type `{}`", ty.text),
        ty.span,
        "no such type",
    )
    .with_help(help)
}

fn undeclared(rel: &ast::Name) -> Diagnostic {
    Diagnostic::error(
        format!("relation `{}` is not declared", rel.text),
        rel.span,
        "used here",
    )
    .with_help(format!("declare it, e.g. `.decl {}(x: symbol)`", rel.text))
}

fn resolve_types(items: &[Item], errors: &mut Vec<Diagnostic>) -> HashMap<String, Ty> {
    let mut types: HashMap<String, Ty> = [
        ("symbol", Ty::Symbol),
        ("number", Ty::Number),
        ("unsigned", Ty::Unsigned),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let aliases: Vec<(&ast::Name, &ast::Name)> = items
        .iter()
        .filter_map(|i| {
            if let Item::Type { name, base } = i {
                Some((name, base))
            } else {
                None
            }
        })
        .collect();
    // Aliases may name aliases declared later: resolve until nothing changes.
    loop {
        let mut changed = false;
        for (name, base) in &aliases {
            if !types.contains_key(&name.text)
                && let Some(&t) = types.get(&base.text)
            {
                types.insert(name.text.clone(), t);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for (name, base) in &aliases {
        if !types.contains_key(&name.text) {
            errors.push(unknown_type(base));
        }
    }
    types
}

/// A body without disjunctions: a list of conjunctions.
fn dnf(body: &Body) -> Vec<Vec<ast::Literal>> {
    match body {
        Body::Lit(l) => vec![vec![l.clone()]],
        Body::Or(alts) => alts.iter().flat_map(dnf).collect(),
        Body::And(parts) => {
            let mut acc: Vec<Vec<ast::Literal>> = vec![vec![]];
            for p in parts {
                let alts = dnf(p);
                let mut next = Vec::new();
                for prefix in &acc {
                    for alt in &alts {
                        let mut c = prefix.clone();
                        c.extend(alt.iter().cloned());
                        next.push(c);
                    }
                }
                acc = next;
            }
            acc
        }
    }
}

/// An expression before its types are known (numeric literals fit any numeric type).
#[derive(Clone, Debug)]
enum BExpr {
    Var(VarId),
    Sym(u32),
    Num(i64, Span),
    Bin(ast::BinOp, Box<BExpr>, Box<BExpr>),
    Neg(Box<BExpr>),
    Call(Func, Vec<BExpr>, Span),
}

/// A literal before types are known.
#[derive(Clone, Debug)]
enum BLit {
    Pos(Atom, Vec<Span>),
    Neg(Atom, Vec<Span>),
    Cmp(CmpOp, BExpr, BExpr, Span),
    Test(TestFn, bool, Vec<BExpr>, Span),
    Agg {
        var: VarId,
        kind: AggKind,
        target: Option<BExpr>,
        body: Vec<BLit>,
        /// Variables of its body bound outside it (Soufflé's injected variables), set by
        /// [`Builder::scope_aggregates`].
        outer: Vec<VarId>,
        span: Span,
    },
    False(Span),
}

struct Builder<'a> {
    rels: &'a [Relation],
    by_name: &'a HashMap<String, RelId>,
    symbols: &'a mut Interner,
    errors: &'a mut Vec<Diagnostic>,
    vars: HashMap<String, VarId>,
    names: Vec<String>,
    spans: Vec<Span>,
    /// How many aggregates enclose the term being built.
    depth: usize,
}

impl Builder<'_> {
    fn var(&mut self, name: &str, span: Span) -> VarId {
        match self.vars.get(name) {
            Some(&v) => v,
            None => {
                let v = self.names.len();
                self.vars.insert(name.to_string(), v);
                self.names.push(name.to_string());
                self.spans.push(span);
                v
            }
        }
    }
    fn fresh(&mut self, span: Span) -> VarId {
        let v = self.names.len();
        self.names.push(format!("_t{v}"));
        self.spans.push(span);
        v
    }
    /// A new variable named as `v` (a copy of it in another scope).
    fn twin(&mut self, v: VarId) -> VarId {
        let t = self.names.len();
        self.names.push(self.names[v].clone());
        self.spans.push(self.spans[v]);
        t
    }

    fn atom(&mut self, a: &ast::Atom, extra: &mut Vec<BLit>) -> Option<(Atom, Vec<Span>)> {
        let Some(&rel) = self.by_name.get(&a.rel.text) else {
            self.errors.push(undeclared(&a.rel));
            return None;
        };
        let decl = &self.rels[rel];
        if decl.arity() != a.args.len() {
            self.errors.push(
                Diagnostic::error(
                    format!(
                        "relation `{}` takes {} argument{}, but {} {} given",
                        decl.name,
                        decl.arity(),
                        plural(decl.arity()),
                        a.args.len(),
                        if a.args.len() == 1 { "is" } else { "are" }
                    ),
                    a.span,
                    format!("{} argument{} here", a.args.len(), plural(a.args.len())),
                )
                .with_label(decl.decl, format!("declared with {} here", decl.arity()))
                .with_help(format!(
                    "`{}` has the attributes ({})",
                    decl.name,
                    decl.attrs.join(", ")
                )),
            );
            return None;
        }
        let mut args = Vec::new();
        let mut spans = Vec::new();
        for (i, t) in a.args.iter().enumerate() {
            spans.push(t.span());
            let ty = decl.types[i];
            match t {
                Term::Var(n) => args.push(Arg::Var(self.var(&n.text, n.span))),
                Term::Wild(_) => args.push(Arg::Wild),
                Term::Str(s, span) => {
                    if ty != Ty::Symbol {
                        self.errors.push(mismatch(
                            &decl.name,
                            &decl.attrs[i],
                            ty,
                            "a symbol",
                            *span,
                            decl.decl,
                        ));
                    }
                    args.push(Arg::Const(self.symbols.intern(s)));
                }
                Term::Num(n, span) => {
                    match ty {
                        Ty::Symbol => self.errors.push(mismatch(
                            &decl.name,
                            &decl.attrs[i],
                            ty,
                            "a number",
                            *span,
                            decl.decl,
                        )),
                        _ => {
                            if let Some(raw) = self.num(*n, ty, *span) {
                                args.push(Arg::Const(raw));
                                continue;
                            }
                        }
                    }
                    args.push(Arg::Const(0));
                }
                other => {
                    // An expression argument: a fresh variable equal to it.
                    let v = self.fresh(other.span());
                    let e = self.expr(other, extra)?;
                    extra.push(BLit::Cmp(CmpOp::Eq, BExpr::Var(v), e, other.span()));
                    args.push(Arg::Var(v));
                }
            }
        }
        Some((
            Atom {
                rel,
                args,
                span: a.span,
            },
            spans,
        ))
    }

    fn num(&mut self, n: i64, ty: Ty, span: Span) -> Option<u32> {
        let ok = match ty {
            Ty::Unsigned => (0..=u32::MAX as i64).contains(&n),
            _ => (i32::MIN as i64..=i32::MAX as i64).contains(&n),
        };
        if ok {
            Some(if ty == Ty::Unsigned {
                n as u32
            } else {
                n as i32 as u32
            })
        } else {
            self.errors.push(
                Diagnostic::error(
                    format!("`{n}` does not fit in `{}`", ty.name()),
                    span,
                    "out of range",
                )
                .with_help("numbers are 32 bits wide, as in Soufflé's default build"),
            );
            None
        }
    }

    fn expr(&mut self, t: &Term, extra: &mut Vec<BLit>) -> Option<BExpr> {
        Some(match t {
            Term::Var(n) => BExpr::Var(self.var(&n.text, n.span)),
            Term::Wild(span) => {
                self.errors.push(
                    Diagnostic::error("`_` cannot stand in an expression", *span, "here")
                        .with_help("name the value with a variable"),
                );
                return None;
            }
            Term::Str(s, _) => BExpr::Sym(self.symbols.intern(s)),
            Term::Num(n, span) => BExpr::Num(*n, *span),
            Term::Bin(op, a, b, _) => BExpr::Bin(
                *op,
                Box::new(self.expr(a, extra)?),
                Box::new(self.expr(b, extra)?),
            ),
            Term::Neg(a, _) => BExpr::Neg(Box::new(self.expr(a, extra)?)),
            Term::Functor(name, args, span) => {
                let (f, arity): (Func, Option<usize>) = match name.text.as_str() {
                    "cat" => (Func::Cat, None),
                    "strlen" => (Func::Strlen, Some(1)),
                    "substr" => (Func::Substr, Some(3)),
                    "to_number" => (Func::ToNumber, Some(1)),
                    "to_string" => (Func::ToString, Some(1)),
                    "ord" => (Func::Ord, Some(1)),
                    "min" => (Func::Min, Some(2)),
                    "max" => (Func::Max, Some(2)),
                    "autoinc" => (Func::Autoinc, Some(0)),
                    other => {
                        self.errors.push(Diagnostic::error(format!("unknown functor `{other}`"), name.span, "not a functor").with_help("functors: cat, strlen, substr, to_number, to_string, ord, min, max, autoinc; contains and match are literals"));
                        return None;
                    }
                };
                if arity.is_some_and(|n| n != args.len()) || (args.is_empty() && arity != Some(0)) {
                    self.errors.push(Diagnostic::error(
                        format!(
                            "`{}` takes {} argument(s), {} given",
                            name.text,
                            arity.unwrap_or(2),
                            args.len()
                        ),
                        *span,
                        "here",
                    ));
                    return None;
                }
                let mut out = Vec::new();
                for a in args {
                    out.push(self.expr(a, extra)?);
                }
                BExpr::Call(f, out, *span)
            }
            Term::Aggregate {
                kind,
                target,
                body,
                span,
            } => {
                if self.depth >= MAX_AGGREGATE_DEPTH {
                    self.errors.push(
                        Diagnostic::error(
                            "aggregates are nested too deeply",
                            *span,
                            format!("more than {MAX_AGGREGATE_DEPTH} levels"),
                        )
                        .with_help("aggregate over a helper relation instead"),
                    );
                    return None;
                }
                let conj = match dnf(body).as_slice() {
                    [one] => one.clone(),
                    _ => {
                        self.errors.push(
                            Diagnostic::error(
                                "an aggregate body cannot contain `;`",
                                *span,
                                "here",
                            )
                            .with_help("aggregate over a helper relation defined by several rules"),
                        );
                        return None;
                    }
                };
                self.depth += 1;
                let mut inner = Vec::new();
                for lit in &conj {
                    self.literal(lit, &mut inner);
                }
                let target = match target {
                    Some(t) => self.expr(t, &mut inner),
                    None => None,
                };
                self.depth -= 1;
                let var = self.fresh(*span);
                extra.push(BLit::Agg {
                    var,
                    kind: *kind,
                    target,
                    body: inner,
                    outer: Vec::new(),
                    span: *span,
                });
                BExpr::Var(var)
            }
        })
    }

    fn literal(&mut self, lit: &ast::Literal, out: &mut Vec<BLit>) {
        match lit {
            ast::Literal::Pos(a) => {
                let mut extra = Vec::new();
                if let Some((atom, spans)) = self.atom(a, &mut extra) {
                    out.push(BLit::Pos(atom, spans));
                }
                out.extend(extra);
            }
            ast::Literal::Neg(a) => {
                let mut extra = Vec::new();
                if let Some((atom, spans)) = self.atom(a, &mut extra) {
                    out.extend(extra);
                    out.push(BLit::Neg(atom, spans));
                }
            }
            ast::Literal::Cmp { op, lhs, rhs, span } => {
                // `_ = min x : ..` computes a value only for its witnesses: `_` is a variable
                // nobody reads.
                if *op == CmpOp::Eq
                    && let (Term::Wild(_), other) | (other, Term::Wild(_)) = (lhs, rhs)
                {
                    let mut extra = Vec::new();
                    let v = self.fresh(other.span());
                    if let Some(e) = self.expr(other, &mut extra) {
                        out.extend(extra);
                        out.push(BLit::Cmp(CmpOp::Eq, BExpr::Var(v), e, *span));
                    }
                    return;
                }
                let mut extra = Vec::new();
                if let (Some(l), Some(r)) = (self.expr(lhs, &mut extra), self.expr(rhs, &mut extra))
                {
                    out.extend(extra);
                    out.push(BLit::Cmp(*op, l, r, *span));
                }
            }
            ast::Literal::Test {
                name,
                args,
                negated,
                span,
            } => {
                let f = if name.text == "contains" {
                    TestFn::Contains
                } else {
                    TestFn::Match
                };
                if args.len() != 2 {
                    self.errors.push(Diagnostic::error(
                        format!("`{}` takes 2 arguments, {} given", name.text, args.len()),
                        *span,
                        "here",
                    ));
                    return;
                }
                let mut extra = Vec::new();
                let es: Option<Vec<BExpr>> =
                    args.iter().map(|a| self.expr(a, &mut extra)).collect();
                if let Some(es) = es {
                    out.extend(extra);
                    out.push(BLit::Test(f, *negated, es, *span));
                }
            }
            ast::Literal::Bool(true, _) => {}
            ast::Literal::Bool(false, span) => out.push(BLit::False(*span)),
        }
    }

    fn clause(
        &mut self,
        head: &ast::Atom,
        conj: &[ast::Literal],
        rule_span: Span,
    ) -> Option<Clause> {
        let errors_before = self.errors.len();
        let mut lits = Vec::new();
        for lit in conj {
            self.literal(lit, &mut lits);
        }
        let mut extra = Vec::new();
        for t in &head.args {
            if let Term::Wild(span) = t {
                self.errors.push(
                    Diagnostic::error("`_` cannot stand in a head", *span, "here")
                        .with_help("a derived tuple needs a value in every column"),
                );
            }
        }
        let (head_atom, head_spans) = self.atom(head, &mut extra)?;
        if self.errors.len() > errors_before {
            return None;
        }
        lits.extend(extra);
        self.scope_aggregates(&head_atom, &mut lits);
        if self.errors.len() > errors_before {
            return None;
        }
        let nvars = self.names.len();
        let types = self.infer(&head_atom, &head_spans, &lits, nvars);
        let mut ir = Vec::new();
        for l in lits {
            if let Some(l) = self.lower(l, &types) {
                ir.push(l);
            }
        }
        let var_types: Vec<Ty> = types.iter().map(|t| t.unwrap_or(Ty::Number)).collect();
        if self.errors.len() > errors_before {
            return None;
        }
        let mut bound = vec![false; nvars];
        let (body, stuck) = schedule(ir, &mut bound, None);
        for lit in &stuck {
            let unbound: Vec<VarId> = lit.needs().into_iter().filter(|&v| !bound[v]).collect();
            let names: Vec<String> = unbound
                .iter()
                .map(|&v| format!("`{}`", self.names[v]))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            let (span, what) = match lit {
                Lit::Neg(a) => (a.span, "a negation"),
                Lit::Agg { span, .. } => (*span, "an aggregate"),
                Lit::Test { span, .. } => (*span, "a functor test"),
                Lit::Cmp { span, .. } | Lit::Assign { span, .. } => (*span, "a constraint"),
                Lit::Pos(a) => (a.span, "an atom"),
                Lit::False(s) => (*s, "false"),
            };
            self.errors.push(
                Diagnostic::error(format!("variable {} is not bound by a positive atom", names.join(", ")), span, format!("used in {what} here"))
                    .with_help("every variable must occur in a positive body atom, or be assigned with `x = ...` from bound values"),
            );
        }
        for (i, a) in head_atom.args.iter().enumerate() {
            if let Arg::Var(v) = a
                && !bound[*v]
            {
                let name = &self.names[*v];
                let msg = if conj.is_empty() {
                    format!(
                        "fact `{}` has the variable `{name}`",
                        self.rels[head_atom.rel].name
                    )
                } else {
                    format!("variable `{name}` in the head is not bound by the body")
                };
                self.errors.push(
                    Diagnostic::error(msg, head_spans[i], "unbound")
                        .with_help(format!("mention `{name}` in a positive body atom")),
                );
            }
        }
        if self.errors.len() > errors_before {
            return None;
        }
        Some(Clause {
            head: head_atom,
            body,
            var_names: self.names.clone(),
            var_types,
            span: rule_span,
            stratum: 0,
        })
    }

    /// Soufflé's scoping of aggregate variables. A variable of an aggregate's body is
    /// *injected* when it is grounded outside the aggregate (it is then bound before the
    /// aggregate runs), a *witness* when the aggregate's own body grounds it and the rule uses
    /// it ungrounded elsewhere (`Tallest(s, n) :- n = max h : { Student(s, h) }`: `s` is a
    /// student with the maximum), and local otherwise. Witnesses are grounded as Soufflé does:
    /// the body is repeated in the rule with its target equal to the aggregate's value.
    /// Locals are renamed, so a local that shares a name with a variable outside
    /// (`a = max a : r(a)`) is a different variable.
    fn scope_aggregates(&mut self, head: &Atom, lits: &mut Vec<BLit>) {
        let mut paths = Vec::new();
        agg_paths(lits, &mut Vec::new(), &mut paths);
        for path in &paths {
            self.ground_witnesses(head, lits, path);
        }
        // Grounding added aggregates to the rule: number them all again.
        paths.clear();
        agg_paths(lits, &mut Vec::new(), &mut paths);
        for path in &paths {
            let (inside, injected) = {
                let agg = at_path(lits, path);
                let inside: BTreeSet<VarId> = agg_inside(agg).into_iter().collect();
                (inside, self.injected(lits, path))
            };
            let mut outside = Vec::new();
            head.args.iter().for_each(|a| arg_var(a, &mut outside));
            for (i, l) in lits.iter().enumerate() {
                occurrences_except(l, &path[1..], i == path[0], &mut outside);
            }
            let mut map = HashMap::new();
            for &v in inside.difference(&injected) {
                if outside.contains(&v) {
                    let t = self.twin(v);
                    map.insert(v, t);
                }
            }
            let agg = at_path_mut(lits, path);
            if !map.is_empty() {
                rename_inside(agg, &|v| map.get(&v).copied().unwrap_or(v));
            }
            if let BLit::Agg { outer, .. } = agg {
                *outer = injected.into_iter().collect();
            }
        }
    }

    /// The variables of the aggregate at `path` grounded outside it: by the rule's body and
    /// the bodies of the aggregates enclosing it, where other aggregates count as grounded
    /// values and the enclosing ones not at all.
    fn injected(&self, lits: &[BLit], path: &[usize]) -> BTreeSet<VarId> {
        let mut level: &[BLit] = lits;
        let mut outer_lits: Vec<&BLit> = Vec::new();
        for &i in path {
            outer_lits.extend(
                level
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, l)| l),
            );
            match &level[i] {
                BLit::Agg { body, .. } => level = body,
                _ => return BTreeSet::new(),
            }
        }
        let ground = grounded(&outer_lits, BTreeSet::new());
        let inside: BTreeSet<VarId> = agg_inside(at_path(lits, path)).into_iter().collect();
        inside.intersection(&ground).copied().collect()
    }

    /// Grounds the witnesses of the aggregate at `path` (see [`Builder::scope_aggregates`]).
    fn ground_witnesses(&mut self, head: &Atom, lits: &mut Vec<BLit>, path: &[usize]) {
        let injected = self.injected(lits, path);
        let clause_ground = grounded(&lits.iter().collect::<Vec<_>>(), BTreeSet::new());
        let mut at_clause = Vec::new();
        head.args.iter().for_each(|a| arg_var(a, &mut at_clause));
        for l in lits.iter() {
            occurrences_except(l, &[], true, &mut at_clause);
            if let BLit::Agg { var, .. } = l {
                at_clause.push(*var);
            }
        }
        let agg = at_path(lits, path);
        let BLit::Agg {
            kind, body, span, ..
        } = agg
        else {
            return;
        };
        let own = grounded(&body.iter().collect::<Vec<_>>(), injected.clone());
        let witnesses: BTreeSet<VarId> = own
            .iter()
            .copied()
            .filter(|v| {
                at_clause.contains(v) && !clause_ground.contains(v) && !injected.contains(v)
            })
            .collect();
        if witnesses.is_empty() {
            return;
        }
        let names: Vec<String> = witnesses
            .iter()
            .map(|&v| format!("`{}`", self.names[v]))
            .collect();
        if matches!(kind, AggKind::Count | AggKind::Sum) {
            self.errors.push(
                Diagnostic::error(
                    format!(
                        "variable {} is bound only inside this `{}` aggregate",
                        names.join(", "),
                        agg_name(*kind)
                    ),
                    *span,
                    "used outside it too",
                )
                .with_help(
                    "a witness of `count` or `sum` has no meaning (Soufflé rejects it too): bind the \
                     variable outside the aggregate, or aggregate with `min` or `max`",
                ),
            );
            return;
        }
        if path.len() > 1 && !injected.is_subset(&clause_ground) {
            self.errors.push(
                Diagnostic::error(
                    format!(
                        "witness {} of a nested aggregate that reads variables of the aggregate around it",
                        names.join(", ")
                    ),
                    *span,
                    "not supported",
                )
                .with_help("compute the inner aggregate in a helper relation and aggregate over it"),
            );
            return;
        }
        let (kind, target, body, agg_var, span) = match agg {
            BLit::Agg {
                kind,
                target,
                body,
                var,
                span,
                ..
            } => (*kind, target.clone(), body.clone(), *var, *span),
            _ => return,
        };
        let Some(target) = target else { return };
        // The repeated body: witnesses and injected variables as they are, every other
        // variable new.
        let mut inside = agg_inside(agg);
        inside.sort_unstable();
        inside.dedup();
        let mut copy_map = HashMap::new();
        let mut agg_map = HashMap::new();
        for &v in &inside {
            if !witnesses.contains(&v) && !injected.contains(&v) {
                copy_map.insert(v, self.twin(v));
            }
            if witnesses.contains(&v) {
                agg_map.insert(v, self.twin(v));
            }
        }
        let value = if path.len() == 1 {
            agg_var
        } else {
            // A nested aggregate's value is not known in the rule: the rule gets its own copy.
            let mut copy_of_agg = BLit::Agg {
                var: agg_var,
                kind,
                target: Some(target.clone()),
                body: body.clone(),
                outer: Vec::new(),
                span,
            };
            let mut m = agg_map.clone();
            for &v in &inside {
                if !witnesses.contains(&v) && !injected.contains(&v) {
                    m.insert(v, self.twin(v));
                }
            }
            let fresh = self.fresh(span);
            m.insert(agg_var, fresh);
            rename_all(&mut copy_of_agg, &|v| m.get(&v).copied().unwrap_or(v));
            lits.push(copy_of_agg);
            fresh
        };
        let f = |v: VarId| copy_map.get(&v).copied().unwrap_or(v);
        for mut l in body {
            rename_all(&mut l, &f);
            lits.push(l);
        }
        let mut t = target;
        t.rename(&f);
        lits.push(BLit::Cmp(CmpOp::Eq, t, BExpr::Var(value), span));
        let agg = at_path_mut(lits, path);
        rename_inside(agg, &|v| agg_map.get(&v).copied().unwrap_or(v));
    }

    /// Infers every variable's type from atoms, then from equalities, to a fixpoint.
    fn infer(
        &mut self,
        head: &Atom,
        head_spans: &[Span],
        lits: &[BLit],
        nvars: usize,
    ) -> Vec<Option<Ty>> {
        let mut types: Vec<Option<Ty>> = vec![None; nvars];
        let mut conflicts: Vec<Diagnostic> = Vec::new();
        let from_atom = |a: &Atom,
                         spans: Option<&[Span]>,
                         types: &mut Vec<Option<Ty>>,
                         conflicts: &mut Vec<Diagnostic>,
                         names: &[String]| {
            let rel = &self.rels[a.rel];
            for (i, arg) in a.args.iter().enumerate() {
                if let Arg::Var(v) = arg {
                    let ty = rel.types[i];
                    match types[*v] {
                        None => types[*v] = Some(ty),
                        Some(t) if t != ty => {
                            let span = spans.map(|s| s[i]).unwrap_or(a.span);
                            conflicts.push(
                                Diagnostic::error(
                                    format!(
                                        "variable `{}` is a {} elsewhere but a {} here",
                                        names[*v],
                                        t.name(),
                                        ty.name()
                                    ),
                                    span,
                                    format!("`{}.{}` is a {}", rel.name, rel.attrs[i], ty.name()),
                                )
                                .with_label(rel.decl, "declared here"),
                            );
                        }
                        _ => {}
                    }
                }
            }
        };
        fn walk<'l>(lits: &'l [BLit], out: &mut Vec<&'l BLit>) {
            for l in lits {
                out.push(l);
                if let BLit::Agg { body, .. } = l {
                    walk(body, out);
                }
            }
        }
        let mut all = Vec::new();
        walk(lits, &mut all);
        for l in &all {
            if let BLit::Pos(a, s) | BLit::Neg(a, s) = l {
                from_atom(a, Some(s), &mut types, &mut conflicts, &self.names);
            }
        }
        from_atom(
            head,
            Some(head_spans),
            &mut types,
            &mut conflicts,
            &self.names,
        );
        loop {
            let mut changed = false;
            for l in &all {
                match l {
                    BLit::Cmp(CmpOp::Eq, a, b, _) => {
                        for (x, y) in [(a, b), (b, a)] {
                            if let BExpr::Var(v) = x
                                && types[*v].is_none()
                                && let Some(t) = synth(y, &types)
                            {
                                types[*v] = Some(t);
                                changed = true;
                            }
                        }
                    }
                    BLit::Agg {
                        var, kind, target, ..
                    } if types[*var].is_none() => {
                        let t = match kind {
                            AggKind::Count => Some(Ty::Number),
                            _ => target.as_ref().and_then(|t| synth(t, &types)),
                        };
                        if t.is_some() {
                            types[*var] = t;
                            changed = true;
                        }
                    }
                    _ => {}
                }
            }
            if !changed {
                break;
            }
        }
        self.errors.extend(conflicts);
        types
    }

    fn lower(&mut self, l: BLit, types: &[Option<Ty>]) -> Option<Lit> {
        Some(match l {
            BLit::Pos(a, _) => Lit::Pos(a),
            BLit::Neg(a, _) => Lit::Neg(a),
            BLit::False(s) => Lit::False(s),
            BLit::Cmp(op, a, b, span) => {
                let ty = synth(&a, types)
                    .or_else(|| synth(&b, types))
                    .unwrap_or(Ty::Number);
                let lhs = self.typed(&a, ty, types, span)?;
                let rhs = self.typed(&b, ty, types, span)?;
                Lit::Cmp {
                    op,
                    ty,
                    lhs,
                    rhs,
                    span,
                }
            }
            BLit::Test(f, negated, args, span) => {
                let args: Option<Vec<Expr>> = args
                    .iter()
                    .map(|a| self.typed(a, Ty::Symbol, types, span))
                    .collect();
                Lit::Test {
                    func: f,
                    negated,
                    args: args?,
                    span,
                }
            }
            BLit::Agg {
                var,
                kind,
                target,
                body,
                outer,
                span,
            } => {
                let ty = types[var].unwrap_or(Ty::Number);
                if kind != AggKind::Count && ty == Ty::Symbol {
                    self.errors.push(
                        Diagnostic::error(
                            format!(
                                "`{}` needs numbers, but its target is a symbol",
                                agg_name(kind)
                            ),
                            span,
                            "here",
                        )
                        .with_help("use `count`, or aggregate a number"),
                    );
                    return None;
                }
                let target = match &target {
                    Some(t) => Some(self.typed(t, ty, types, span)?),
                    None => None,
                };
                let mut inner = Vec::new();
                for l in body {
                    inner.push(self.lower(l, types)?);
                }
                let mut bound = vec![false; self.names.len()];
                for &v in &outer {
                    bound[v] = true;
                }
                let (ordered, stuck) = schedule(inner, &mut bound, None);
                let mut target_vars = Vec::new();
                if let Some(t) = &target {
                    t.vars(&mut target_vars);
                }
                if !stuck.is_empty() || target_vars.iter().any(|&v| !bound[v]) {
                    let mut unbound: Vec<VarId> = stuck
                        .iter()
                        .flat_map(|l| l.needs())
                        .chain(target_vars)
                        .filter(|&v| !bound[v])
                        .collect();
                    unbound.sort();
                    unbound.dedup();
                    let names: Vec<String> = unbound
                        .iter()
                        .map(|&v| format!("`{}`", self.names[v]))
                        .collect();
                    self.errors.push(
                        Diagnostic::error(format!("variable {} of this aggregate is not bound by a positive atom", names.join(", ")), span, "in this aggregate")
                            .with_help("each variable of an aggregate's body must occur in a positive atom inside it, or be bound outside it"),
                    );
                    return None;
                }
                // `min` and `max` are the same over distinct bindings: only `count` and `sum`
                // need them.
                let distinct = match kind {
                    AggKind::Count | AggKind::Sum => {
                        crate::datalog::ir::distinct_vars(&ordered, &outer)
                    }
                    AggKind::Min | AggKind::Max => None,
                };
                Lit::Agg {
                    var,
                    kind,
                    ty,
                    target,
                    body: ordered,
                    outer,
                    distinct,
                    span,
                }
            }
        })
    }

    /// Checks an expression against the type its context expects.
    fn typed(&mut self, e: &BExpr, ty: Ty, types: &[Option<Ty>], span: Span) -> Option<Expr> {
        let got = synth(e, types);
        if let Some(g) = got
            && g != ty
        {
            self.errors.push(Diagnostic::error(
                format!(
                    "type mismatch: a {} where a {} is expected",
                    g.name(),
                    ty.name()
                ),
                span,
                format!("expected {}", ty.name()),
            ));
            return None;
        }
        Some(match e {
            BExpr::Var(v) => Expr::Var(*v),
            BExpr::Sym(s) => Expr::Const(*s),
            BExpr::Num(n, nspan) => {
                if ty == Ty::Symbol {
                    self.errors.push(Diagnostic::error(
                        "type mismatch: a number where a symbol is expected",
                        *nspan,
                        "a number",
                    ));
                    return None;
                }
                Expr::Const(self.num(*n, ty, *nspan)?)
            }
            BExpr::Bin(op, a, b) => {
                if ty == Ty::Symbol {
                    self.errors.push(
                        Diagnostic::error("arithmetic needs numbers", span, "here")
                            .with_help("join symbols with `cat(a, b)`"),
                    );
                    return None;
                }
                Expr::Bin(
                    *op,
                    ty,
                    Box::new(self.typed(a, ty, types, span)?),
                    Box::new(self.typed(b, ty, types, span)?),
                )
            }
            BExpr::Neg(a) => Expr::Neg(Box::new(self.typed(a, ty, types, span)?)),
            BExpr::Call(f, args, cspan) => {
                let arg_tys: Vec<Ty> = match f {
                    Func::Cat | Func::Strlen | Func::ToNumber | Func::Ord => {
                        vec![Ty::Symbol; args.len()]
                    }
                    Func::Substr => vec![Ty::Symbol, Ty::Number, Ty::Number],
                    Func::ToString => vec![
                        args.first()
                            .and_then(|a| synth(a, types))
                            .unwrap_or(Ty::Number),
                    ],
                    Func::Min | Func::Max => vec![ty; 2],
                    Func::Autoinc => vec![],
                };
                let mut out = Vec::new();
                for (a, t) in args.iter().zip(arg_tys.iter()) {
                    out.push(self.typed(a, *t, types, *cspan)?);
                }
                if *f == Func::ToString && arg_tys.first() == Some(&Ty::Symbol) {
                    self.errors.push(Diagnostic::error(
                        "`to_string` takes a number",
                        *cspan,
                        "here",
                    ));
                    return None;
                }
                Expr::Call(*f, arg_tys.first().copied().unwrap_or(Ty::Number), out)
            }
        })
    }
}

/// How deep aggregates may nest (each level is a recursion of the evaluators).
const MAX_AGGREGATE_DEPTH: usize = 8;

fn arg_var(a: &Arg, out: &mut Vec<VarId>) {
    if let Arg::Var(v) = a {
        out.push(*v);
    }
}

impl BExpr {
    fn vars(&self, out: &mut Vec<VarId>) {
        match self {
            BExpr::Var(v) => out.push(*v),
            BExpr::Sym(_) | BExpr::Num(..) => {}
            BExpr::Bin(_, a, b) => {
                a.vars(out);
                b.vars(out);
            }
            BExpr::Neg(a) => a.vars(out),
            BExpr::Call(_, args, _) => args.iter().for_each(|a| a.vars(out)),
        }
    }
    fn rename(&mut self, f: &dyn Fn(VarId) -> VarId) {
        match self {
            BExpr::Var(v) => *v = f(*v),
            BExpr::Sym(_) | BExpr::Num(..) => {}
            BExpr::Bin(_, a, b) => {
                a.rename(f);
                b.rename(f);
            }
            BExpr::Neg(a) => a.rename(f),
            BExpr::Call(_, args, _) => args.iter_mut().for_each(|a| a.rename(f)),
        }
    }
}

/// Every variable occurrence in `l`, inner aggregates included.
fn occurrences(l: &BLit, out: &mut Vec<VarId>) {
    occurrences_except(l, &[], false, out);
}

/// Every variable occurrence in `l` except inside the aggregate at `path` below it when `skip`
/// (`path` empty: every aggregate's inside).
fn occurrences_except(l: &BLit, path: &[usize], skip: bool, out: &mut Vec<VarId>) {
    match l {
        BLit::Pos(a, _) | BLit::Neg(a, _) => a.args.iter().for_each(|a| arg_var(a, out)),
        BLit::Cmp(_, a, b, _) => {
            a.vars(out);
            b.vars(out);
        }
        BLit::Test(_, _, args, _) => args.iter().for_each(|a| a.vars(out)),
        BLit::Agg {
            var, target, body, ..
        } => {
            out.push(*var);
            if skip && path.is_empty() {
                return;
            }
            if let Some(t) = target {
                t.vars(out);
            }
            for (i, b) in body.iter().enumerate() {
                let on_path = skip && path.first() == Some(&i);
                occurrences_except(b, if on_path { &path[1..] } else { &[] }, on_path, out);
            }
        }
        BLit::False(_) => {}
    }
}

/// The variables inside an aggregate (its target and body), not its own value.
fn agg_inside(agg: &BLit) -> Vec<VarId> {
    let mut out = Vec::new();
    if let BLit::Agg { target, body, .. } = agg {
        if let Some(t) = target {
            t.vars(&mut out);
        }
        body.iter().for_each(|l| occurrences(l, &mut out));
    }
    out
}

/// Renames every variable of `l`, an aggregate's own value included.
fn rename_all(l: &mut BLit, f: &dyn Fn(VarId) -> VarId) {
    if let BLit::Agg { var, .. } = l {
        *var = f(*var);
    }
    match l {
        BLit::Agg { .. } => rename_inside(l, f),
        BLit::Pos(a, _) | BLit::Neg(a, _) => {
            for x in &mut a.args {
                if let Arg::Var(v) = x {
                    *v = f(*v);
                }
            }
        }
        BLit::Cmp(_, a, b, _) => {
            a.rename(f);
            b.rename(f);
        }
        BLit::Test(_, _, args, _) => args.iter_mut().for_each(|a| a.rename(f)),
        BLit::False(_) => {}
    }
}

/// Renames the variables inside an aggregate (target, body and the injected list).
fn rename_inside(agg: &mut BLit, f: &dyn Fn(VarId) -> VarId) {
    if let BLit::Agg {
        target,
        body,
        outer,
        ..
    } = agg
    {
        if let Some(t) = target {
            t.rename(f);
        }
        body.iter_mut().for_each(|l| rename_all(l, f));
        outer.iter_mut().for_each(|v| *v = f(*v));
    }
}

/// The paths (index at each level) of every aggregate, outer ones before those inside them.
fn agg_paths(lits: &[BLit], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, l) in lits.iter().enumerate() {
        if let BLit::Agg { body, .. } = l {
            prefix.push(i);
            out.push(prefix.clone());
            agg_paths(body, prefix, out);
            prefix.pop();
        }
    }
}

fn at_path<'l>(lits: &'l [BLit], path: &[usize]) -> &'l BLit {
    let l = &lits[path[0]];
    match (l, path.len()) {
        (BLit::Agg { body, .. }, n) if n > 1 => at_path(body, &path[1..]),
        _ => l,
    }
}

fn at_path_mut<'l>(lits: &'l mut [BLit], path: &[usize]) -> &'l mut BLit {
    let l = &mut lits[path[0]];
    if path.len() > 1
        && let BLit::Agg { body, .. } = l
    {
        return at_path_mut(body, &path[1..]);
    }
    l
}

/// The variables that `lits` ground, starting from `ground`: those of positive atoms, the
/// values of aggregates, and by equalities with grounded expressions.
fn grounded(lits: &[&BLit], mut ground: BTreeSet<VarId>) -> BTreeSet<VarId> {
    loop {
        let before = ground.len();
        for l in lits {
            match l {
                BLit::Pos(a, _) => a.args.iter().for_each(|a| {
                    if let Arg::Var(v) = a {
                        ground.insert(*v);
                    }
                }),
                BLit::Agg { var, .. } => {
                    ground.insert(*var);
                }
                BLit::Cmp(CmpOp::Eq, a, b, _) => {
                    for (x, y) in [(a, b), (b, a)] {
                        if let BExpr::Var(v) = x {
                            let mut vs = Vec::new();
                            y.vars(&mut vs);
                            if vs.iter().all(|w| ground.contains(w)) {
                                ground.insert(*v);
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if ground.len() == before {
            return ground;
        }
    }
}

/// Whether a literal calls `autoinc()`.
pub(crate) fn uses_autoinc(l: &Lit) -> bool {
    let expr = |e: &Expr| e.calls(Func::Autoinc);
    match l {
        Lit::Cmp { lhs, rhs, .. } => expr(lhs) || expr(rhs),
        Lit::Assign { expr: e, .. } => expr(e),
        Lit::Test { args, .. } => args.iter().any(expr),
        Lit::Agg { target, body, .. } => {
            target.as_ref().is_some_and(expr) || body.iter().any(uses_autoinc)
        }
        Lit::Pos(_) | Lit::Neg(_) | Lit::False(_) => false,
    }
}

/// The type an expression has by itself, if it has one.
fn synth(e: &BExpr, types: &[Option<Ty>]) -> Option<Ty> {
    match e {
        BExpr::Var(v) => types[*v],
        BExpr::Sym(_) => Some(Ty::Symbol),
        BExpr::Num(..) => None,
        BExpr::Bin(_, a, b) => synth(a, types).or_else(|| synth(b, types)),
        BExpr::Neg(a) => synth(a, types),
        BExpr::Call(f, args, _) => match f {
            Func::Cat | Func::Substr | Func::ToString => Some(Ty::Symbol),
            Func::Strlen | Func::ToNumber | Func::Ord | Func::Autoinc => Some(Ty::Number),
            Func::Min | Func::Max => args.iter().find_map(|a| synth(a, types)),
        },
    }
}

fn agg_name(k: AggKind) -> &'static str {
    match k {
        AggKind::Count => "count",
        AggKind::Sum => "sum",
        AggKind::Min => "min",
        AggKind::Max => "max",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn mismatch(rel: &str, attr: &str, ty: Ty, found: &str, span: Span, decl: Span) -> Diagnostic {
    Diagnostic::error(
        format!("`{rel}.{attr}` is a {}, but {found} is given", ty.name()),
        span,
        format!("expected a {}", ty.name()),
    )
    .with_label(decl, "declared here")
}

/// Splits the program into strongly connected components in dependency order, rejecting
/// negation or aggregation through recursion.
pub(crate) fn stratify(
    rels: &[Relation],
    clauses: &mut [Clause],
    errors: &mut Vec<Diagnostic>,
) -> Vec<Stratum> {
    let n = rels.len();
    // edges[h] = (body relation, negative?, literal span) for every clause with head h
    let mut edges: Vec<Vec<(RelId, bool, Span)>> = vec![Vec::new(); n];
    for c in clauses.iter() {
        fn collect(lits: &[Lit], neg_ctx: bool, out: &mut Vec<(RelId, bool, Span)>) {
            for l in lits {
                match l {
                    Lit::Pos(a) => out.push((a.rel, neg_ctx, a.span)),
                    Lit::Neg(a) => out.push((a.rel, true, a.span)),
                    Lit::Agg { body, .. } => collect(body, true, out),
                    _ => {}
                }
            }
        }
        collect(&c.body, false, &mut edges[c.head.rel]);
    }
    let comp = tarjan(n, &edges);
    let ncomp = comp.iter().copied().max().map_or(0, |m| m + 1);
    // Reject negative edges inside a component, naming the cycle.
    let mut reported = BTreeSet::new();
    for h in 0..n {
        for &(b, neg, span) in &edges[h] {
            if neg && comp[b] == comp[h] && reported.insert(comp[h]) {
                let path = cycle_path(b, h, &edges, &comp);
                let names: Vec<&str> = path.iter().map(|&r| rels[r].name.as_str()).collect();
                errors.push(
                    Diagnostic::error(
                        format!("the program cannot be stratified: `{}` negates or aggregates `{}`, which depends on `{}` again", rels[h].name, rels[b].name, rels[h].name),
                        span,
                        "negated or aggregated here",
                    )
                    .with_help(format!("cycle: {}", names.join(" -> "))),
                );
            }
        }
    }
    // Components in dependency order (Kahn, smallest relation first for determinism).
    let mut members: Vec<Vec<RelId>> = vec![Vec::new(); ncomp];
    for r in 0..n {
        members[comp[r]].push(r);
    }
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); ncomp];
    let mut recursive = vec![false; ncomp];
    for h in 0..n {
        for &(b, _, _) in &edges[h] {
            if comp[b] != comp[h] {
                deps[comp[h]].insert(comp[b]);
            } else {
                recursive[comp[h]] = true;
            }
        }
    }
    let mut indeg: Vec<usize> = deps.iter().map(|d| d.len()).collect();
    let mut ready: BTreeSet<(RelId, usize)> = (0..ncomp)
        .filter(|&c| indeg[c] == 0)
        .map(|c| (members[c][0], c))
        .collect();
    let mut order = Vec::new();
    while let Some(&first) = ready.iter().next() {
        ready.remove(&first);
        let c = first.1;
        order.push(c);
        for d in 0..ncomp {
            if deps[d].contains(&c) {
                indeg[d] -= 1;
                if indeg[d] == 0 {
                    ready.insert((members[d][0], d));
                }
            }
        }
    }
    let mut index_of = vec![0; ncomp];
    for (i, &c) in order.iter().enumerate() {
        index_of[c] = i;
    }
    let mut strata: Vec<Stratum> = order
        .iter()
        .map(|&c| Stratum {
            rels: members[c].clone(),
            clauses: vec![],
            deps: deps[c].iter().map(|&d| index_of[d]).collect(),
            recursive: recursive[c],
        })
        .collect();
    for (i, c) in clauses.iter_mut().enumerate() {
        let s = index_of[comp[c.head.rel]];
        c.stratum = s;
        strata[s].clauses.push(i);
    }
    strata
}

fn tarjan(n: usize, edges: &[Vec<(RelId, bool, Span)>]) -> Vec<usize> {
    // Iterative Tarjan over "head depends on body" edges.
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut comp = vec![usize::MAX; n];
    let mut next = 0;
    let mut ncomp = 0;
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if *i == 0 && index[v] == usize::MAX {
                index[v] = next;
                low[v] = next;
                next += 1;
                stack.push(v);
                on_stack[v] = true;
            }
            if *i < edges[v].len() {
                let w = edges[v][*i].0;
                *i += 1;
                if index[w] == usize::MAX {
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    comp[w] = ncomp;
                    if w == v {
                        break;
                    }
                }
                ncomp += 1;
            }
        }
    }
    comp
}

/// A dependency path from `from` back to `to` inside one component, for the message.
fn cycle_path(
    from: RelId,
    to: RelId,
    edges: &[Vec<(RelId, bool, Span)>],
    comp: &[usize],
) -> Vec<RelId> {
    // Breadth-first over reversed edges: who depends on `from`... walk "x depends on y" edges
    // from `to` to reach `from`, then print to -> from -> ... -> to.
    let mut prev: BTreeMap<RelId, RelId> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut seen = BTreeSet::from([from]);
    while let Some(x) = queue.pop_front() {
        if x == to {
            break;
        }
        for &(y, _, _) in &edges[x] {
            if comp[y] == comp[to] && seen.insert(y) {
                prev.insert(y, x);
                queue.push_back(y);
            }
        }
    }
    let mut path = vec![to];
    let mut cur = to;
    while cur != from {
        match prev.get(&cur) {
            Some(&p) => {
                path.push(p);
                cur = p;
            }
            None => break,
        }
    }
    path.reverse();
    let mut out = vec![to];
    out.extend(path.into_iter().skip_while(|&r| r != from));
    out
}
