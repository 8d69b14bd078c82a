//! Tokens to items, by recursive descent. A syntax error skips to the end of its clause, so that
//! every syntax error of a file is reported in one go.

use super::ast::*;
use super::lexer::{Tok, lex};
use crate::datalog::diag::{Diagnostic, FileId, Span};

/// Functors that compute a value (as opposed to relations).
const VALUE_FUNCTORS: [&str; 8] = [
    "cat",
    "strlen",
    "substr",
    "to_number",
    "to_string",
    "ord",
    "min",
    "max",
];
/// Functors that are literals (true or false) in a body.
const TEST_FUNCTORS: [&str; 2] = ["contains", "match"];

struct Parser<'a> {
    toks: Vec<(Tok, Span)>,
    pos: usize,
    /// Nesting of parentheses, bounded so that deep input is an error, not a crash.
    depth: usize,
    errors: &'a mut Vec<Diagnostic>,
}

type PResult<T> = Result<T, Diagnostic>;

/// Parses a whole program text; syntax errors are appended to `errors`.
pub fn parse_program(file: FileId, text: &str, errors: &mut Vec<Diagnostic>) -> Vec<Item> {
    let toks = lex(file, text, errors);
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        errors,
    };
    let mut items = Vec::new();
    while !p.at_eof() {
        match p.item() {
            Ok(Some(item)) => items.push(item),
            Ok(None) => {}
            Err(e) => {
                p.errors.push(e);
                p.recover();
            }
        }
    }
    items
}

/// Parses one ground atom such as `path("a", 3)` (for `--explain`).
pub fn parse_atom(file: FileId, text: &str) -> Result<Atom, Vec<Diagnostic>> {
    let mut errors = Vec::new();
    let toks = lex(file, text, &mut errors);
    let mut p = Parser {
        toks,
        pos: 0,
        depth: 0,
        errors: &mut errors,
    };
    let atom = p.atom();
    let atom = match atom {
        Ok(a) => {
            if p.peek_punct(".") {
                p.pos += 1;
            }
            if !p.at_eof() {
                let span = p.span();
                Err(Diagnostic::error(
                    "expected the end of the atom",
                    span,
                    "unexpected text",
                ))
            } else {
                Ok(a)
            }
        }
        Err(e) => Err(e),
    };
    match atom {
        Ok(a) if errors.is_empty() => Ok(a),
        Ok(_) => Err(errors),
        Err(e) => {
            errors.push(e);
            Err(errors)
        }
    }
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].0
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].0
    }
    fn span(&self) -> Span {
        self.toks[self.pos].1
    }
    fn prev_span(&self) -> Span {
        self.toks[self.pos.saturating_sub(1)].1
    }
    fn at_eof(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }
    fn peek_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }
    fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek_punct(p) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn describe(tok: &Tok) -> String {
        match tok {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Underscore => "`_`".into(),
            Tok::Str(s) => format!("string \"{s}\""),
            Tok::Num(n) => format!("number {n}"),
            Tok::Directive(d) => format!("`.{d}`"),
            Tok::Punct(p) => format!("`{p}`"),
            Tok::Eof => "end of file".into(),
        }
    }
    fn expected(&self, what: &str) -> Diagnostic {
        let found = Self::describe(self.peek());
        Diagnostic::error(
            format!("expected {what}, found {found}"),
            self.span(),
            format!("expected {what}"),
        )
    }
    fn expect_punct(&mut self, p: &str) -> PResult<Span> {
        if self.peek_punct(p) {
            self.pos += 1;
            Ok(self.prev_span())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }
    fn ident(&mut self, what: &str) -> PResult<Name> {
        match self.peek().clone() {
            Tok::Ident(text) => {
                self.pos += 1;
                Ok(Name {
                    text,
                    span: self.prev_span(),
                })
            }
            _ => Err(self.expected(what)),
        }
    }
    /// Skips to just after the next `.` that ends a clause, or to the next directive.
    fn recover(&mut self) {
        loop {
            match self.peek() {
                Tok::Eof | Tok::Directive(_) => return,
                Tok::Punct(".") => {
                    self.pos += 1;
                    return;
                }
                _ => self.pos += 1,
            }
        }
    }

    fn item(&mut self) -> PResult<Option<Item>> {
        let start = self.span();
        if let Tok::Directive(d) = self.peek().clone() {
            self.pos += 1;
            return match d.as_str() {
                "type" => self.type_decl().map(Some),
                // Soufflé's older spelling of `.type T <: symbol` and `.type T <: number`.
                "symbol_type" | "number_type" => {
                    let name = self.ident("a type name")?;
                    let base = if d == "symbol_type" {
                        "symbol"
                    } else {
                        "number"
                    };
                    let base = Name {
                        text: base.to_string(),
                        span: name.span,
                    };
                    Ok(Some(Item::Type { name, base }))
                }
                "decl" => self.decl(start).map(Some),
                "input" => self.directive(DirectiveKind::Input, start).map(Some),
                "output" => self.directive(DirectiveKind::Output, start).map(Some),
                "printsize" => self.directive(DirectiveKind::PrintSize, start).map(Some),
                "pragma" => {
                    let mut strings = Vec::new();
                    while let Tok::Str(s) = self.peek().clone() {
                        self.pos += 1;
                        strings.push(s);
                    }
                    // Only the magic-set pragmas mean something to bindlog; the others
                    // (`legacy`, `provenance`, ...) are Soufflé's options, dropped.
                    match strings.as_slice() {
                        [key, value]
                            if key == "magic-transform" || key == "magic-transform-exclude" =>
                        {
                            Ok(Some(Item::Pragma {
                                key: key.clone(),
                                value: value.clone(),
                                span: start.to(self.prev_span()),
                            }))
                        }
                        _ => Ok(None),
                    }
                }
                other => Err(Diagnostic::error(
                    format!("unsupported directive `.{other}`"),
                    start,
                    "not in bindlog's Soufflé subset",
                )
                .with_help("supported: .type .decl .input .output .printsize .pragma")),
            };
        }
        self.rule().map(|r| Some(Item::Rule(r)))
    }

    fn type_decl(&mut self) -> PResult<Item> {
        let name = self.ident("a type name")?;
        if !self.eat_punct("<:") && !self.eat_punct("=") {
            return Err(self.expected("`<:` or `=`"));
        }
        let base = self.ident("a base type")?;
        if self.peek_punct("|") {
            return Err(
                Diagnostic::error("union types are not supported", self.span(), "union")
                    .with_help("declare the type as a subtype of `symbol` or `number`"),
            );
        }
        Ok(Item::Type { name, base })
    }

    fn decl(&mut self, start: Span) -> PResult<Item> {
        let mut names = vec![self.ident("a relation name")?];
        while self.eat_punct(",") {
            names.push(self.ident("a relation name")?);
        }
        self.expect_punct("(")?;
        let mut attrs = Vec::new();
        if !self.eat_punct(")") {
            loop {
                let attr = self.ident("an attribute name")?;
                self.expect_punct(":")?;
                let ty = self.ident("a type")?;
                attrs.push((attr, ty));
                if self.eat_punct(")") {
                    break;
                }
                self.expect_punct(",")?;
            }
        }
        // Representation qualifiers (`brie`, `btree`, `eqrel`, ...) change nothing here;
        // `magic` and `no_magic` say whether the magic-set rewrite may transform the relation.
        let mut magic = None;
        while let Tok::Ident(q) = self.peek() {
            match q.as_str() {
                "magic" => magic = Some(true),
                "no_magic" => magic = Some(false),
                _ => {}
            }
            if [
                "brie",
                "btree",
                "btree_delete",
                "inline",
                "magic",
                "no_magic",
                "no_inline",
                "overridable",
            ]
            .contains(&q.as_str())
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(Item::Decl {
            names,
            attrs,
            magic,
            span: start.to(self.prev_span()),
        })
    }

    fn directive(&mut self, kind: DirectiveKind, start: Span) -> PResult<Item> {
        let mut rels = vec![self.ident("a relation name")?];
        while self.eat_punct(",") {
            rels.push(self.ident("a relation name")?);
        }
        let mut params = Vec::new();
        if self.eat_punct("(") && !self.eat_punct(")") {
            loop {
                let key = self.ident("a parameter name")?;
                self.expect_punct("=")?;
                let value = match self.peek().clone() {
                    Tok::Str(s) => s,
                    Tok::Ident(s) => s,
                    Tok::Num(n) => n.to_string(),
                    Tok::Punct(p) => p.to_string(),
                    _ => return Err(self.expected("a parameter value")),
                };
                self.pos += 1;
                params.push((key, value));
                if self.eat_punct(")") {
                    break;
                }
                self.expect_punct(",")?;
            }
        }
        Ok(Item::Directive {
            kind,
            rels,
            params,
            span: start.to(self.prev_span()),
        })
    }

    fn rule(&mut self) -> PResult<Rule> {
        let start = self.span();
        let mut heads = vec![self.atom()?];
        while self.eat_punct(",") {
            heads.push(self.atom()?);
        }
        let body = if self.eat_punct(":-") {
            Some(self.disj()?)
        } else {
            None
        };
        let end = self.expect_punct(".").map_err(|e| {
            if body.is_none() {
                e.with_help("a fact ends with `.`; a rule has `:-` and a body")
            } else {
                e
            }
        })?;
        Ok(Rule {
            heads,
            body,
            span: start.to(end),
        })
    }

    fn atom(&mut self) -> PResult<Atom> {
        let rel = self.ident("a relation name")?;
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if !self.eat_punct(")") {
            loop {
                args.push(self.term()?);
                if self.eat_punct(")") {
                    break;
                }
                self.expect_punct(",")?;
            }
        }
        let span = rel.span.to(self.prev_span());
        Ok(Atom { rel, args, span })
    }

    fn disj(&mut self) -> PResult<Body> {
        let mut alts = vec![self.conj()?];
        while self.eat_punct(";") {
            alts.push(self.conj()?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Body::And(vec![]))
        } else {
            Body::Or(alts)
        })
    }

    fn conj(&mut self) -> PResult<Body> {
        let mut parts = vec![self.unit()?];
        while self.eat_punct(",") {
            parts.push(self.unit()?);
        }
        Ok(if parts.len() == 1 {
            parts.pop().unwrap_or(Body::And(vec![]))
        } else {
            Body::And(parts)
        })
    }

    /// Runs `f` one nesting level deeper, refusing input nested more than 200 levels.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= 200 {
            return Err(Diagnostic::error(
                "nested too deeply",
                self.span(),
                "more than 200 levels of parentheses here",
            )
            .with_help("split the expression or the body into smaller parts"));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn unit(&mut self) -> PResult<Body> {
        self.nested(|p| p.unit_inner())
    }

    fn unit_inner(&mut self) -> PResult<Body> {
        if self.peek_punct("(") {
            // Either a parenthesised body or a parenthesised term in a comparison: try the term.
            let save = self.pos;
            if let Ok(lit) = self.comparison() {
                return Ok(Body::Lit(lit));
            }
            self.pos = save;
            self.pos += 1;
            let inner = self.disj()?;
            self.expect_punct(")")?;
            return Ok(inner);
        }
        self.literal().map(Body::Lit)
    }

    fn literal(&mut self) -> PResult<Literal> {
        let start = self.span();
        if self.eat_punct("!") {
            if let Tok::Ident(name) = self.peek().clone()
                && TEST_FUNCTORS.contains(&name.as_str())
            {
                let (name, args) = self.call()?;
                return Ok(Literal::Test {
                    name,
                    args,
                    negated: true,
                    span: start.to(self.prev_span()),
                });
            }
            let atom = self.atom()?;
            return Ok(Literal::Neg(atom));
        }
        if let Tok::Ident(name) = self.peek().clone() {
            if (name == "true" || name == "false") && !matches!(self.peek_at(1), Tok::Punct("(")) {
                self.pos += 1;
                return Ok(Literal::Bool(name == "true", start));
            }
            if matches!(self.peek_at(1), Tok::Punct("(")) {
                if TEST_FUNCTORS.contains(&name.as_str()) {
                    let (name, args) = self.call()?;
                    return Ok(Literal::Test {
                        name,
                        args,
                        negated: false,
                        span: start.to(self.prev_span()),
                    });
                }
                if !VALUE_FUNCTORS.contains(&name.as_str()) {
                    return self.atom().map(Literal::Pos);
                }
            }
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Literal> {
        let lhs = self.term()?;
        let op = match self.peek() {
            Tok::Punct("=") => CmpOp::Eq,
            Tok::Punct("!=") => CmpOp::Ne,
            Tok::Punct("<") => CmpOp::Lt,
            Tok::Punct("<=") => CmpOp::Le,
            Tok::Punct(">") => CmpOp::Gt,
            Tok::Punct(">=") => CmpOp::Ge,
            _ => return Err(self.expected("a comparison (`=`, `!=`, `<`, `<=`, `>`, `>=`)")),
        };
        self.pos += 1;
        let rhs = self.term()?;
        let span = lhs.span().to(rhs.span());
        Ok(Literal::Cmp { op, lhs, rhs, span })
    }

    fn call(&mut self) -> PResult<(Name, Vec<Term>)> {
        let name = self.ident("a functor")?;
        self.expect_punct("(")?;
        let mut args = Vec::new();
        if !self.eat_punct(")") {
            loop {
                args.push(self.term()?);
                if self.eat_punct(")") {
                    break;
                }
                self.expect_punct(",")?;
            }
        }
        Ok((name, args))
    }

    fn term(&mut self) -> PResult<Term> {
        let mut lhs = self.product()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("+") => BinOp::Add,
                Tok::Punct("-") => BinOp::Sub,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.product()?;
            let span = lhs.span().to(rhs.span());
            lhs = Term::Bin(op, Box::new(lhs), Box::new(rhs), span);
        }
    }

    fn product(&mut self) -> PResult<Term> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Punct("*") => BinOp::Mul,
                Tok::Punct("/") => BinOp::Div,
                Tok::Punct("%") => BinOp::Rem,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.unary()?;
            let span = lhs.span().to(rhs.span());
            lhs = Term::Bin(op, Box::new(lhs), Box::new(rhs), span);
        }
    }

    fn unary(&mut self) -> PResult<Term> {
        self.nested(|p| p.unary_inner())
    }

    fn unary_inner(&mut self) -> PResult<Term> {
        let start = self.span();
        if self.eat_punct("-") {
            let inner = self.unary()?;
            let span = start.to(inner.span());
            if let Term::Num(n, _) = inner {
                return Ok(Term::Num(-n, span));
            }
            return Ok(Term::Neg(Box::new(inner), span));
        }
        self.primary()
    }

    fn primary(&mut self) -> PResult<Term> {
        let span = self.span();
        match self.peek().clone() {
            Tok::Underscore => {
                self.pos += 1;
                Ok(Term::Wild(span))
            }
            Tok::Str(s) => {
                self.pos += 1;
                Ok(Term::Str(s, span))
            }
            Tok::Num(n) => {
                self.pos += 1;
                Ok(Term::Num(n, span))
            }
            Tok::Punct("(") => {
                self.pos += 1;
                let t = self.term()?;
                self.expect_punct(")")?;
                Ok(t)
            }
            Tok::Ident(name) => {
                let next_paren = matches!(self.peek_at(1), Tok::Punct("("));
                let kind = match name.as_str() {
                    "count" if !next_paren => Some(AggKind::Count),
                    "sum" if !next_paren => Some(AggKind::Sum),
                    "min" if !next_paren => Some(AggKind::Min),
                    "max" if !next_paren => Some(AggKind::Max),
                    _ => None,
                };
                if let Some(kind) = kind {
                    return self.aggregate(kind);
                }
                if next_paren {
                    let (name, args) = self.call()?;
                    let span = name.span.to(self.prev_span());
                    return Ok(Term::Functor(name, args, span));
                }
                self.pos += 1;
                Ok(Term::Var(Name { text: name, span }))
            }
            _ => Err(self.expected("a term (variable, constant, expression or aggregate)")),
        }
    }

    fn aggregate(&mut self, kind: AggKind) -> PResult<Term> {
        let start = self.span();
        self.pos += 1;
        let target = if kind == AggKind::Count {
            None
        } else {
            Some(Box::new(self.term()?))
        };
        self.expect_punct(":")?;
        let body = if self.eat_punct("{") {
            let b = self.disj()?;
            self.expect_punct("}")?;
            b
        } else {
            Body::Lit(Literal::Pos(self.atom()?))
        };
        Ok(Term::Aggregate {
            kind,
            target,
            body: Box::new(body),
            span: start.to(self.prev_span()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rules_with_disjunction_and_aggregates() {
        let mut errs = Vec::new();
        let items = parse_program(
            0,
            ".decl a, b(x: number)\n a(x) :- b(x), (x < 3 ; x > 5), n = count : { b(_) }, m = min y : b(y).",
            &mut errs,
        );
        assert!(errs.is_empty(), "{errs:?}");
        assert_eq!(items.len(), 2);
    }

    #[test]
    fn reports_every_syntax_error() {
        let mut errs = Vec::new();
        parse_program(
            0,
            "a(x :- b(x).\n c(x) :- d(x)\n.decl e(x: number)\n f(.",
            &mut errs,
        );
        assert_eq!(errs.len(), 3, "{errs:?}");
    }
}
