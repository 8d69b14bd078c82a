//! Workarounds for the two known defects of datafrog 2.0.1 (fixed upstream, never released):
//! `Relation::from_antijoin` always returns an empty relation, and a leapjoin made only of
//! filter leapers panics when every filter passes (no leaper proposes a value).

use datafrog::{Leaper, Relation};

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
