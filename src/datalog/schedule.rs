//! The order in which a body runs: each literal as soon as the variables it needs are bound,
//! positive atoms in the order given. Shared by the checker, the compiler and both evaluators.

use crate::datalog::ir::{Expr, Func, Lit};
use crate::datalog::syntax::ast::CmpOp;

/// Orders `lits` given the variables bound beforehand. Positive atoms keep their relative order
/// unless `first` names one to run first. Returns the ordered literals and those that can never
/// run (their variables are never bound).
pub fn schedule(lits: Vec<Lit>, bound: &mut [bool], first: Option<usize>) -> (Vec<Lit>, Vec<Lit>) {
    let mut rest: Vec<Option<Lit>> = lits.into_iter().map(Some).collect();
    let mut out = Vec::new();
    if let Some(i) = first
        && let Some(lit) = rest[i].take()
    {
        bind(&lit, bound);
        out.push(lit);
    }
    loop {
        let mut progressed = false;
        // An aggregate always binds its variable: an equality that would otherwise assign
        // that variable first waits and then compares (`C = sum .., C = 1`).
        let mut aggregated = vec![false; bound.len()];
        for lit in rest.iter().flatten() {
            if let Lit::Agg { var, .. } = lit {
                aggregated[*var] = true;
            }
        }
        // `autoinc()` numbers the rule's bindings: it runs after every atom has bound its part.
        let atoms_left = rest.iter().flatten().any(|l| matches!(l, Lit::Pos(_)));
        for slot in rest.iter_mut() {
            let runnable = match slot {
                Some(Lit::Pos(_)) | None => None,
                Some(lit) if atoms_left && numbers(lit) => None,
                Some(lit) => ready(lit, bound, &aggregated),
            };
            if let Some(lit) = runnable {
                *slot = None;
                bind(&lit, bound);
                out.push(lit);
                progressed = true;
            }
        }
        if progressed {
            continue;
        }
        match rest.iter_mut().find(|s| matches!(s, Some(Lit::Pos(_)))) {
            Some(slot) => {
                if let Some(lit) = slot.take() {
                    bind(&lit, bound);
                    out.push(lit);
                }
            }
            None => break,
        }
    }
    (out, rest.into_iter().flatten().collect())
}

fn bind(lit: &Lit, bound: &mut [bool]) {
    for v in lit.binds() {
        bound[v] = true;
    }
}

/// Whether a literal calls `autoinc()`.
fn numbers(lit: &Lit) -> bool {
    match lit {
        Lit::Cmp { lhs, rhs, .. } => lhs.calls(Func::Autoinc) || rhs.calls(Func::Autoinc),
        Lit::Assign { expr, .. } => expr.calls(Func::Autoinc),
        _ => false,
    }
}

fn all_bound(e: &Expr, bound: &[bool]) -> bool {
    let mut vs = Vec::new();
    e.vars(&mut vs);
    vs.iter().all(|&v| bound[v])
}

/// The literal in runnable form if its inputs are bound (`x = e` becomes an assignment when `x`
/// is the only unbound side), or `None`.
fn ready(lit: &Lit, bound: &[bool], aggregated: &[bool]) -> Option<Lit> {
    match lit {
        Lit::Cmp {
            op: CmpOp::Eq,
            lhs,
            rhs,
            span,
            ..
        } => {
            let (l, r) = (all_bound(lhs, bound), all_bound(rhs, bound));
            match (l, r, lhs, rhs) {
                (true, true, _, _) => Some(lit.clone()),
                (false, true, Expr::Var(v), _) | (true, false, _, Expr::Var(v))
                    if aggregated[*v] =>
                {
                    None
                }
                (false, true, Expr::Var(v), e) | (true, false, e, Expr::Var(v)) => {
                    Some(Lit::Assign {
                        var: *v,
                        expr: e.clone(),
                        span: *span,
                    })
                }
                _ => None,
            }
        }
        Lit::Assign { var, expr, span } => {
            if !all_bound(expr, bound) {
                None
            } else if bound[*var] {
                // Equality compares stored bits, whatever the type.
                Some(Lit::Cmp {
                    op: CmpOp::Eq,
                    ty: crate::datalog::ir::Ty::Number,
                    lhs: Expr::Var(*var),
                    rhs: expr.clone(),
                    span: *span,
                })
            } else {
                Some(lit.clone())
            }
        }
        other => other
            .needs()
            .iter()
            .all(|&v| bound[v])
            .then(|| other.clone()),
    }
}
