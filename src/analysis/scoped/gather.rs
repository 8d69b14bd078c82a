//! Steps 1 and 3 of the per-scope evaluation (see [`super`]): the built-in rules' per-user rows
//! gathered per local class, the scope classes, and the whole program over them.

use super::super::classes::KeyContext;
use super::super::views::ANON;
use super::{GLOBAL, SUBJECT, Scoping, scopes_of};
use crate::datalog::Rules;
use crate::datalog::ir::Ty;
use crate::facts::Value;
use std::collections::HashMap;

/// A gathered row: its relation (an id of the built-in program) and values, the user it is
/// about written [`SUBJECT`].
pub type Row = (usize, Vec<Value>);

/// What to gather from the built-in rules' component evaluations.
pub struct Collect<'c> {
    /// The relations (ids of the built-in program).
    pub rels: Vec<usize>,
    /// Per relation of the built-in program, the columns that may hold a user.
    pub users: Vec<Vec<bool>>,
    /// The scope of each object a flow or application owns.
    pub scope_of: &'c HashMap<String, usize>,
    /// Each scope's name.
    pub names: &'c [String],
    /// Whether to evaluate and gather the other binding targets' components too (notification
    /// rules, RAC endpoints, sources, devices), which no flow's or application's answer reads.
    pub targets: bool,
}

/// One component's gathered rows: each local class's signature (an index into `sigs`), the
/// distinct row sets, and the anonymous visitor's rows.
#[derive(Clone, Debug, Default)]
pub struct PartRows {
    /// Per local class, its row set.
    pub sig_of: Vec<u32>,
    /// The distinct row sets.
    pub sigs: Vec<Vec<Row>>,
    /// The anonymous visitor's rows.
    pub anon: Vec<Row>,
}

/// Everything the component evaluations gathered.
pub struct Gathered {
    /// Per component.
    pub parts: Vec<PartRows>,
    /// Per flow, the anonymous visitor's rows from the flow's own evaluation.
    pub flow_anon: Vec<Vec<Row>>,
    /// The local classes of the components.
    pub local: super::super::classes::Local,
}

impl Collect<'_> {
    /// The rows of the collected relations in `eval` about objects of `scope` (`None`: objects
    /// of no scope), per subject: `subjects` maps a representative's pk symbol to its index
    /// among `n`. Row sets are compared as stored (symbol ids, the user as `u32::MAX`) and
    /// spelled out once per distinct set.
    pub fn gather(
        &self,
        eval: &crate::datalog::Evaluation,
        rules: &Rules,
        scope: Option<usize>,
        subjects: &rustc_hash::FxHashMap<u32, usize>,
        n: usize,
    ) -> PartRows {
        let mut per: Vec<Vec<(usize, Vec<u32>)>> = vec![Vec::new(); n];
        let mut anon: Vec<(usize, Vec<u32>)> = Vec::new();
        let anon_sym = eval.symbols.get(ANON);
        let mut in_scope: rustc_hash::FxHashMap<u32, bool> = rustc_hash::FxHashMap::default();
        for &r in &self.rels {
            let users = &self.users[r];
            for row in eval.tables[r].rows() {
                let here = *in_scope.entry(row[0]).or_insert_with(|| {
                    self.scope_of.get(eval.symbols.resolve(row[0])).copied() == scope
                });
                if !here {
                    continue;
                }
                let mut who = None;
                for (i, v) in row.iter().enumerate() {
                    if !users[i] {
                        continue;
                    }
                    if let Some(k) = subjects.get(v) {
                        who = Some(Some((*k, *v)));
                        break;
                    }
                    if Some(*v) == anon_sym && who.is_none() {
                        who = Some(None);
                    }
                }
                match who {
                    Some(Some((k, pk))) => {
                        let values = row
                            .iter()
                            .enumerate()
                            .map(|(i, v)| if users[i] && *v == pk { u32::MAX } else { *v })
                            .collect();
                        per[k].push((r, values));
                    }
                    Some(None) => anon.push((r, row.to_vec())),
                    None => {}
                }
            }
        }
        let mut pk_of: Vec<Option<&str>> = vec![None; n];
        for (sym, k) in subjects {
            pk_of[*k] = Some(eval.symbols.resolve(*sym));
        }
        let spell = |rows: &[(usize, Vec<u32>)], pk: Option<&str>| -> Vec<Row> {
            rows.iter()
                .map(|(r, row)| {
                    let types = &rules.program.relations[*r].types;
                    let values = row
                        .iter()
                        .zip(types)
                        .map(|(v, ty)| match ty {
                            _ if *v == u32::MAX => Value::Sym(SUBJECT.into()),
                            Ty::Symbol => {
                                let s = eval.symbols.resolve(*v);
                                Value::Sym(match pk {
                                    Some(pk) => {
                                        super::super::population::move_placeholders(s, pk, SUBJECT)
                                    }
                                    None => s.to_string(),
                                })
                            }
                            _ => Value::Num(*v as i32),
                        })
                        .collect();
                    (*r, values)
                })
                .collect()
        };
        let mut ids: HashMap<Vec<(usize, Vec<u32>)>, u32> = HashMap::new();
        let mut out = PartRows::default();
        for (k, mut rows) in per.into_iter().enumerate() {
            rows.sort_unstable();
            rows.dedup();
            let id = match ids.get(&rows) {
                Some(id) => *id,
                None => {
                    let next = ids.len() as u32;
                    out.sigs.push(spell(&rows, pk_of[k]));
                    ids.insert(rows, next);
                    next
                }
            };
            out.sig_of.push(id);
        }
        anon.sort_unstable();
        anon.dedup();
        out.anon = spell(&anon, None);
        out
    }
}

/// The classes of every scope: per scope (flows, then applications), each scope class by the
/// identity class of its representative, with the identity classes it holds.
pub struct ScopeClasses {
    /// Per scope: representative's identity class -> the identity classes of its scope class.
    pub classes: Vec<rustc_hash::FxHashMap<u32, Vec<u32>>>,
    /// Each scope's tag (its flow's or application's pk).
    pub names: Vec<String>,
    /// Scope by tag.
    pub by_name: HashMap<String, usize>,
    /// The scope of each object a flow or application owns.
    pub scope_of: HashMap<String, usize>,
    /// Per scope, filled on first use: each identity class's representative there.
    reverse: Vec<std::sync::OnceLock<rustc_hash::FxHashMap<u32, u32>>>,
}

impl ScopeClasses {
    /// The identity class whose representative stands for identity class `k` where `object`
    /// is concerned (`k` itself for an object of no flow or application).
    pub fn representative(&self, object: &str, k: u32) -> u32 {
        self.reverse_of(object)
            .and_then(|map| map.get(&k).copied())
            .unwrap_or(k)
    }

    /// For `object`'s scope: each identity class to the identity class whose representative
    /// stands for it there; `None` for an object of no flow or application.
    fn reverse_of(&self, object: &str) -> Option<&rustc_hash::FxHashMap<u32, u32>> {
        let s = *self.scope_of.get(object)?;
        Some(self.reverse[s].get_or_init(|| {
            let mut m = rustc_hash::FxHashMap::default();
            for (rep, ks) in &self.classes[s] {
                for k in ks {
                    m.insert(*k, *rep);
                }
            }
            m
        }))
    }

    /// For `object`'s scope, per identity class of the `n`: the identity class whose
    /// representative stands for it there; `None` for an object of no flow or application.
    pub fn answering(&self, object: &str, n: u32) -> Option<Vec<u32>> {
        let s = *self.scope_of.get(object)?;
        let mut out: Vec<u32> = (0..n).collect();
        for (rep, ks) in &self.classes[s] {
            for k in ks {
                if let Some(x) = out.get_mut(*k as usize) {
                    *x = *rep;
                }
            }
        }
        Some(out)
    }

    /// The identity classes the class of `rep` (an identity class) stands for in the scope with
    /// this tag; `None` for the global scope or a class that is no representative there.
    pub fn members(&self, tag: &str, rep: u32) -> Option<&[u32]> {
        let s = *self.by_name.get(tag)?;
        self.classes[s].get(&rep).map(Vec::as_slice)
    }
}

/// Evaluates `scoping`'s program for every user of `population`: the built-in rules
/// (`builtin`) component by component, then the whole program per scope class. Of the given
/// relations, only those the rules read or the caller `wants` are gathered (the others are
/// left empty: each relation gathered splits the scope classes further).
pub fn evaluate(
    snapshot: &crate::snapshot::Snapshot,
    scoping: &Scoping,
    wants: &[bool],
    ctx: &KeyContext<'_>,
    population: &super::super::population::Population,
    builtin: &Rules,
    keep: super::super::bulk::Keep<'_>,
) -> Result<
    (
        crate::datalog::Inputs,
        crate::datalog::Evaluation,
        ScopeClasses,
        super::super::bulk::Kept,
    ),
    String,
> {
    use crate::datalog::eval::Limits;
    use crate::datalog::{Engine, FactValue, Inputs};
    use rayon::prelude::*;
    use rustc_hash::FxHashMap;
    let start = std::time::Instant::now();
    let rules = &scoping.rules;
    let comps = &ctx.components;
    let (scope_of, names, parts_of) = scopes_of(ctx);
    // The given relations, by id in the built-in program.
    let per_user_builtin: Vec<bool> = builtin
        .program
        .relations
        .iter()
        .map(|r| super::super::PER_USER.contains(&r.name.as_str()))
        .collect();
    let mut to_combined: FxHashMap<usize, usize> = FxHashMap::default();
    for (r, g) in scoping.given.iter().enumerate() {
        if *g
            && (scoping.read[r] || wants[r])
            && let Some(b) = builtin.program.relation(&rules.program.relations[r].name)
        {
            to_combined.insert(b, r);
        }
    }
    let mut rels: Vec<usize> = to_combined.keys().copied().collect();
    rels.sort_unstable();
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let names: Vec<&str> = rels
            .iter()
            .map(|r| builtin.program.relations[*r].name.as_str())
            .collect();
        eprintln!("timing: gathered from the components: {}", names.join(", "));
    }
    let collect = Collect {
        rels,
        users: super::super::population::user_columns(&builtin.program, &per_user_builtin),
        scope_of: &scope_of,
        names: &names,
        targets: true,
    };
    let classes = &population.classes;
    let mut layout = super::super::bulk::Layout::of(snapshot);
    // The built-in rules run in the components with the local classes of what they observe
    // alone: the command's rules may observe more of each user (its type, say), which would
    // split every component's classes for rows that do not depend on it. What the command's
    // rules observe is kept by the scope classes' base below, and placeholders of the columns
    // they observe are filled with the representative's values.
    let builtin_ctx = ctx.for_program(&builtin.program);
    super::super::bulk::timing("scoped: the built-in rules' key context", start);
    let options = super::super::bulk::Options {
        deciders: keep.deciders,
        memo: keep.memo,
        ..super::super::bulk::Options::default()
    };
    // The representatives' pks (not every user's: a million strings would be made for them).
    let rep_owned: Vec<String> = classes
        .representative
        .iter()
        .map(|i| snapshot.users[*i].pk.to_string())
        .collect();
    let rep_pks: Vec<&str> = rep_owned.iter().map(String::as_str).collect();
    let user_facts = population.facts(ctx);
    // What no flow or application owns, for every identity class at once: evaluated while the
    // components are, whose last ones leave a core free.
    let global = || -> Result<(Vec<Vec<Row>>, Vec<Row>), String> {
        let mut inputs = Inputs::new(builtin);
        super::super::add_facts(builtin, &mut inputs, &comps.global)?;
        super::super::add_facts(builtin, &mut inputs, &user_facts)?;
        let eval = builtin
            .evaluate(&inputs, Engine::Fast { parallel: true }, Limits::default())
            .map_err(|e| e.to_string())?;
        let ids: FxHashMap<u32, usize> = rep_pks
            .iter()
            .enumerate()
            .filter_map(|(k, pk)| Some((eval.symbols.get(pk)?, k)))
            .collect();
        let part = collect.gather(&eval, builtin, None, &ids, rep_pks.len());
        let rows: Vec<Vec<Row>> = part
            .sig_of
            .iter()
            .map(|s| part.sigs[*s as usize].clone())
            .collect();
        Ok((rows, part.anon))
    };
    let (run, global) = rayon::join(
        || {
            super::super::bulk::by_component(
                snapshot,
                builtin,
                &builtin_ctx,
                classes,
                &mut layout,
                options,
                &|_| {},
                Some(&collect),
            )
        },
        global,
    );
    let mut run = run?;
    let (global_rows, global_anon) = global?;
    let deciders = run.take_deciders(&layout);
    let gathered = run.gathered.ok_or("no rows were gathered")?;
    // The built-in rules' answers per identity class, for a caller that also wants them (the
    // summary of `analyze --targets`); dropped otherwise.
    let answered = keep.answers.then_some(super::super::bulk::Answered {
        layout,
        answers: run.answers,
        anonymous: run.anonymous,
    });
    super::super::bulk::timing(
        "scoped: components, and what no flow or application owns",
        start,
    );
    // The scope classes: identity classes that agree on what every scope sees of them and on
    // the rows of each of the scope's components.
    let local = &gathered.local;
    let whole_base = ctx.bases(classes);
    let n = classes.len();
    let scope_classes: Vec<FxHashMap<u32, Vec<u32>>> = parts_of
        .par_iter()
        .map(|parts| {
            // Per identity class: its base, then its row set in each of the scope's components.
            let w = 1 + parts.len();
            let mut keys = vec![u32::MAX; n * w];
            for (k, b) in whole_base.iter().enumerate().take(n) {
                keys[k * w] = *b;
            }
            for (j, &c) in parts.iter().enumerate() {
                let sig = &gathered.parts[c].sig_of;
                let of = |l: u32| sig.get(l as usize).copied().unwrap_or(u32::MAX);
                for (k, b) in local.base.iter().enumerate().take(n) {
                    keys[k * w + 1 + j] = of(local.by_base[c][*b as usize]);
                }
                for &(k, l) in &local.more[c] {
                    keys[k as usize * w + 1 + j] = of(l);
                }
            }
            let mut first: FxHashMap<&[u32], u32> = FxHashMap::default();
            let mut out: FxHashMap<u32, Vec<u32>> = FxHashMap::default();
            for (k, key) in keys.chunks(w).enumerate() {
                let rep = *first.entry(key).or_insert(k as u32);
                out.entry(rep).or_default().push(k as u32);
            }
            out
        })
        .collect();
    super::super::bulk::timing("scoped: scope classes", start);
    if std::env::var_os("BINDLOG_TIMINGS").is_some() {
        let sizes: Vec<usize> = scope_classes.iter().map(|c| c.len()).collect();
        let sigs: usize = gathered.parts.iter().map(|p| p.sigs.len()).sum();
        let sig_rows: usize = gathered
            .parts
            .iter()
            .flat_map(|p| &p.sigs)
            .map(Vec::len)
            .sum();
        eprintln!(
            "timing: {} scope classes in {} scopes (largest {}); {sigs} row sets of {sig_rows} rows",
            sizes.iter().sum::<usize>(),
            sizes.len(),
            sizes.iter().max().unwrap_or(&0)
        );
    }
    // The whole program once more, the gathered rows given: its inputs are made on one core.
    if let Some(idle) = keep.idle {
        idle.now();
    }
    let mut inputs = Inputs::new(rules);
    super::super::add_facts(rules, &mut inputs, &comps.global)?;
    for owned in &comps.owned {
        super::super::add_facts(rules, &mut inputs, owned)?;
    }
    super::super::add_facts(rules, &mut inputs, &user_facts)?;
    super::super::bulk::timing(
        "scoped: inputs: the configuration's and the users' facts",
        start,
    );
    let bt = &builtin.program;
    let observed = |rel: &str, col: usize| {
        ctx.observed(rel)
            .is_some_and(|o| o.get(col).copied().unwrap_or(false))
    };
    let mut index_of: FxHashMap<&str, usize> = FxHashMap::default();
    for (k, &i) in classes.representative.iter().enumerate() {
        index_of.insert(rep_pks[k], i);
    }
    let add = |row: &Row, pk: &str, tag: &str, inputs: &mut Inputs| -> Result<(), String> {
        let id = to_combined[&row.0];
        // Most values hold no placeholder: they are borrowed, not copied.
        let held: Vec<std::borrow::Cow<str>> = row
            .1
            .iter()
            .map(|v| match v {
                Value::Sym(s) if s == SUBJECT => pk.into(),
                Value::Sym(s) if !super::super::population::has_placeholder(s) => s.as_str().into(),
                Value::Sym(s) => match index_of.get(pk) {
                    Some(&i) => super::super::population::fill_placeholders(
                        snapshot,
                        s,
                        SUBJECT,
                        (i, pk),
                        &observed,
                    ),
                    None => super::super::population::move_placeholders(s, SUBJECT, pk),
                }
                .into(),
                Value::Num(_) => "".into(),
            })
            .collect();
        let mut values: Vec<FactValue> = row
            .1
            .iter()
            .zip(&held)
            .zip(&bt.relations[row.0].types)
            .map(|((v, h), ty)| match v {
                Value::Num(x) => number(*x, *ty),
                Value::Sym(_) => FactValue::Sym(h),
            })
            .collect();
        values.push(FactValue::Sym(tag));
        inputs.add_to(rules, id, &values)
    };
    let weight_of = |ks: &[u32]| -> i64 {
        ks.iter()
            .map(|k| i64::from(classes.members[*k as usize]))
            .sum()
    };
    // Each gathered row interned once (a scope class adds the row sets of its components, and
    // many classes share a set): `None` for a row with placeholders, which `add` fills.
    let interned: Vec<Vec<Vec<Option<Interned>>>> = gathered
        .parts
        .iter()
        .map(|p| {
            p.sigs
                .iter()
                .map(|rows| {
                    rows.iter()
                        .map(|row| intern_row(row, to_combined[&row.0], bt, rules, &mut inputs))
                        .collect::<Result<_, String>>()
                })
                .collect::<Result<_, String>>()
        })
        .collect::<Result<_, String>>()?;
    let mut weights: Vec<(String, String, i64)> = Vec::new();
    let mut row = Vec::new();
    for (s, parts) in parts_of.iter().enumerate() {
        let tag = names[s].as_str();
        let tag_id = inputs.symbols.intern(tag);
        for (rep, ks) in &scope_classes[s] {
            let pk = rep_pks[*rep as usize];
            let pk_id = inputs.symbols.intern(pk);
            let mut rows: Vec<&Interned> = Vec::new();
            let mut filled: Vec<&Row> = Vec::new();
            for &c in parts {
                let p = &gathered.parts[c];
                let lid = local.id_in(c, *rep);
                if let Some(sig) = p.sig_of.get(lid as usize) {
                    let sig = *sig as usize;
                    for (r, i) in p.sigs[sig].iter().zip(&interned[c][sig]) {
                        match i {
                            Some(i) => rows.push(i),
                            None => filled.push(r),
                        }
                    }
                }
            }
            // The class's components may gather the same row: it is added once.
            rows.sort_unstable_by(|a, b| (a.id, &a.values).cmp(&(b.id, &b.values)));
            rows.dedup_by(|a, b| a.id == b.id && a.values == b.values);
            for i in rows {
                row.clear();
                row.extend_from_slice(&i.values);
                for &col in &i.subject {
                    row[col] = pk_id;
                }
                row.push(tag_id);
                inputs.tables[i.id].push(&row);
            }
            filled.sort_unstable();
            filled.dedup();
            for row in filled {
                add(row, pk, tag, &mut inputs)?;
            }
            weights.push((tag.to_string(), pk.to_string(), weight_of(ks)));
        }
        let anon: &[Row] = if s < comps.flows.len() {
            &gathered.flow_anon[s]
        } else {
            &gathered.parts[parts[0]].anon
        };
        for row in anon {
            add(row, ANON, tag, &mut inputs)?;
        }
        weights.push((tag.to_string(), ANON.into(), 1));
    }
    super::super::bulk::timing("scoped: inputs: the scopes' rows", start);
    for (k, rows) in global_rows.iter().enumerate() {
        for row in rows {
            add(row, rep_pks[k], GLOBAL, &mut inputs)?;
        }
        weights.push((GLOBAL.into(), rep_pks[k].into(), weight_of(&[k as u32])));
    }
    for row in &global_anon {
        add(row, ANON, GLOBAL, &mut inputs)?;
    }
    weights.push((GLOBAL.into(), ANON.into(), 1));
    for (tag, pk, w) in &weights {
        inputs.add(
            rules,
            "scope_weight",
            &[FactValue::Sym(tag), FactValue::Sym(pk), FactValue::Num(*w)],
        )?;
    }
    super::super::bulk::timing("scoped: inputs", start);
    // For proofs, the heights are noted as the program runs (the given relations' rules are
    // emptied: with or without `given`, they hold their input rows only).
    let (eval, heighted) = if keep.proofs {
        let (eval, heighted) = rules
            .evaluate_for_proofs(&inputs, Limits::default())
            .map_err(|e| e.to_string())?;
        (eval, Some(heighted))
    } else {
        let eval = rules
            .evaluate_given(
                &inputs,
                Engine::Fast { parallel: true },
                Limits::default(),
                Some(&scoping.given),
            )
            .map_err(|e| e.to_string())?;
        (eval, None)
    };
    super::super::bulk::timing("scoped: the whole program", start);
    let by_name = names
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), i))
        .collect();
    let reverse = names.iter().map(|_| std::sync::OnceLock::new()).collect();
    Ok((
        inputs,
        eval,
        ScopeClasses {
            classes: scope_classes,
            names,
            by_name,
            scope_of,
            reverse,
        },
        super::super::bulk::Kept {
            answered,
            deciders,
            heighted,
        },
    ))
}

/// A gathered row as stored in the whole program's inputs, but for the user it is about and
/// the scope's tag (the last column, left off).
struct Interned {
    /// The relation's id in the whole program.
    id: usize,
    values: Vec<u32>,
    /// The columns that hold the user ([`SUBJECT`] in the gathered row).
    subject: Vec<usize>,
}

/// A gathered number as a fact of a column of type `ty`: an `unsigned` column's value was
/// gathered as its stored bits.
fn number(x: i32, ty: Ty) -> crate::datalog::FactValue<'static> {
    use crate::datalog::FactValue;
    match ty {
        Ty::Unsigned => FactValue::Num(i64::from(x as u32)),
        _ => FactValue::Num(i64::from(x)),
    }
}

/// Interns a gathered row of relation `id` (of `rules`; `row.0` of `builtin`), but its user
/// and tag; `None` when one of its symbols holds a placeholder to fill per user.
fn intern_row(
    row: &Row,
    id: usize,
    builtin: &crate::datalog::ir::Program,
    rules: &Rules,
    inputs: &mut crate::datalog::Inputs,
) -> Result<Option<Interned>, String> {
    use crate::datalog::FactValue;
    let mut subject = Vec::new();
    let mut values = Vec::with_capacity(row.1.len() + 1);
    for (i, (v, ty)) in row
        .1
        .iter()
        .zip(&builtin.relations[row.0].types)
        .enumerate()
    {
        values.push(match (v, ty) {
            (Value::Sym(s), _) if s == SUBJECT => {
                subject.push(i);
                FactValue::Sym("")
            }
            (Value::Sym(s), _) if super::super::population::has_placeholder(s) => return Ok(None),
            (Value::Sym(s), _) => FactValue::Sym(s),
            (Value::Num(x), ty) => number(*x, *ty),
        });
    }
    // The tag's column, checked here and set per scope.
    values.push(FactValue::Sym(""));
    let mut values = inputs.row(rules, id, &values)?;
    values.pop();
    Ok(Some(Interned {
        id,
        values,
        subject,
    }))
}
