//! Workarounds for the two known defects of datafrog 2.0.1 (fixed upstream, never released):
//! `Relation::from_antijoin` always returns an empty relation, and a leapjoin made only of
//! filter leapers panics when every filter passes (no leaper proposes a value). And a join
//! that can stop half-way, which datafrog does not offer.

use datafrog::{Leaper, Relation, Variable};

/// `input1` without the tuples whose key is in `input2`: what `Relation::from_antijoin` should
/// return. Both inputs are sorted, so one merge pass suffices.
pub fn antijoin_relation<K: Ord + Copy, V: Ord + Copy, R: Ord>(
    input1: &Relation<(K, V)>,
    input2: &Relation<K>,
    mut logic: impl FnMut(&K, &V) -> R,
) -> Relation<R> {
    let mut rest: &[K] = &input2.elements;
    let mut out = Vec::new();
    for (k, v) in input1.elements.iter() {
        let skip = rest.partition_point(|x| x < k);
        rest = &rest[skip..];
        if rest.first() != Some(k) {
            out.push(logic(k, v));
        }
    }
    Relation::from_vec(out)
}

/// What `output.from_join(input1, input2, logic)` does (the new pairs of a semi-naive round:
/// recent with stable, stable with recent, recent with recent), except that `go` is asked
/// before each pair is produced and the join stops producing the first time it says no.
pub fn join_while<K: Ord, V1: Ord, V2: Ord, R: Ord>(
    input1: &Variable<(K, V1)>,
    input2: &Variable<(K, V2)>,
    output: &Variable<R>,
    mut go: impl FnMut() -> bool,
    mut logic: impl FnMut(&K, &V1, &V2) -> R,
) {
    let mut results = Vec::new();
    {
        let (recent1, recent2) = (input1.recent.borrow(), input2.recent.borrow());
        let (stable1, stable2) = (input1.stable.borrow(), input2.stable.borrow());
        let mut emit = |k: &K, v1: &V1, v2: &V2| {
            if !go() {
                return false;
            }
            results.push(logic(k, v1, v2));
            true
        };
        // The three joins of a semi-naive round, each a pair of sorted slices.
        type Pair<'s, K, V1, V2> = (&'s [(K, V1)], &'s [(K, V2)]);
        let mut pairs: Vec<Pair<K, V1, V2>> = Vec::new();
        pairs.extend(
            stable2
                .iter()
                .map(|b| (&recent1.elements[..], &b.elements[..])),
        );
        pairs.extend(
            stable1
                .iter()
                .map(|b| (&b.elements[..], &recent2.elements[..])),
        );
        pairs.push((&recent1.elements[..], &recent2.elements[..]));
        for (a, b) in pairs {
            if !merge_join(a, b, &mut emit) {
                break;
            }
        }
    }
    output.insert(Relation::from_vec(results));
}

/// Calls `emit` with every pair of sorted `a` and `b` that agree on the key, until it returns
/// false; false when it stopped.
fn merge_join<K: Ord, V1, V2>(
    mut a: &[(K, V1)],
    mut b: &[(K, V2)],
    emit: &mut impl FnMut(&K, &V1, &V2) -> bool,
) -> bool {
    while let (Some(x), Some(y)) = (a.first(), b.first()) {
        match x.0.cmp(&y.0) {
            std::cmp::Ordering::Less => a = &a[a.partition_point(|t| t.0 < y.0)..],
            std::cmp::Ordering::Greater => b = &b[b.partition_point(|t| t.0 < x.0)..],
            std::cmp::Ordering::Equal => {
                let n = a.iter().take_while(|t| t.0 == x.0).count();
                let m = b.iter().take_while(|t| t.0 == x.0).count();
                for s in &a[..n] {
                    for t in &b[..m] {
                        if !emit(&s.0, &s.1, &t.1) {
                            return false;
                        }
                    }
                }
                a = &a[n..];
                b = &b[m..];
            }
        }
    }
    true
}

/// A leaper that proposes the single value `()` for every prefix, so that a leapjoin whose other
/// leapers are all filters has a proposer and does not panic.
pub struct PassThrough;

impl<'leap, T> Leaper<'leap, T, ()> for PassThrough {
    fn count(&mut self, _prefix: &T) -> usize {
        1
    }
    fn propose(&mut self, _prefix: &T, values: &mut Vec<&'leap ()>) {
        values.push(&());
    }
    fn intersect(&mut self, _prefix: &T, _values: &mut Vec<&'leap ()>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafrog::{Iteration, ValueFilter};

    #[test]
    fn regression_relation_antijoin_keeps_unmatched_tuples() {
        let input1: Relation<(u32, u32)> = vec![(1, 10), (2, 20), (3, 30)].into();
        let input2: Relation<u32> = vec![2].into();
        let ours = antijoin_relation(&input1, &input2, |&k, &v| (k, v));
        assert_eq!(ours.elements, vec![(1, 10), (3, 30)]);
        // datafrog 2.0.1 itself: when this starts to hold, the upstream fix has been released.
        let theirs = Relation::from_antijoin(&input1, &input2, |&k, &v| (k, v));
        assert!(
            theirs.elements.is_empty(),
            "datafrog's Relation::from_antijoin works now: drop the workaround"
        );
    }

    #[test]
    fn join_while_equals_datafrogs_join_and_stops_when_told() {
        let run = |limit: usize| {
            let mut iteration = Iteration::new();
            let edge = iteration.variable::<(u32, u32)>("edge");
            let path = iteration.variable::<(u32, u32)>("path");
            let by_dst = iteration.variable::<(u32, u32)>("by_dst");
            edge.extend((0..20u32).map(|i| (i, i + 1)));
            path.extend((0..20u32).map(|i| (i, i + 1)));
            let mut produced = 0;
            while iteration.changed() {
                by_dst.from_map(&path, |&(a, b)| (b, a));
                join_while(
                    &by_dst,
                    &edge,
                    &path,
                    || {
                        produced += 1;
                        produced <= limit
                    },
                    |_, &a, &c| (a, c),
                );
            }
            path.complete().elements
        };
        // The transitive closure of a 21-node chain: every pair i < j.
        let all = run(usize::MAX);
        assert_eq!(all.len(), 21 * 20 / 2);
        assert!(run(10).len() < all.len());
    }

    #[test]
    fn regression_filter_only_leapjoin_with_pass_through() {
        let mut iteration = Iteration::new();
        let source = iteration.variable::<(u32, u32)>("source");
        let out = iteration.variable::<(u32, u32)>("out");
        source.extend(vec![(1, 1), (2, 3), (4, 4)]);
        while iteration.changed() {
            out.from_leapjoin(
                &source,
                (
                    PassThrough,
                    ValueFilter::from(|&(a, b): &(u32, u32), _: &()| a == b),
                ),
                |&t, _| t,
            );
        }
        assert_eq!(out.complete().elements, vec![(1, 1), (4, 4)]);
        // Without the pass-through leaper, datafrog 2.0.1 panics once every filter passes.
        let panicked = std::panic::catch_unwind(|| {
            let mut iteration = Iteration::new();
            let source = iteration.variable::<(u32, u32)>("source");
            let out = iteration.variable::<(u32, u32)>("out");
            source.extend(vec![(1, 1)]);
            while iteration.changed() {
                let filters = (
                    datafrog::PrefixFilter::from(|&(a, b): &(u32, u32)| a == b),
                    ValueFilter::from(|_: &(u32, u32), _: &()| true),
                );
                out.from_leapjoin(&source, filters, |&t, _| t);
            }
        });
        assert!(
            panicked.is_err(),
            "datafrog's filter-only leapjoin no longer panics: drop the workaround"
        );
    }
}
