//! A sort-merge join of rows with an index, both sorted by the join key. A rule whose relations
//! are all of lower strata runs once, and then each of its joins sees every row at once: sorted
//! by key, they meet the index in one forward pass, galloping over the keys one side lacks,
//! where a leapjoin would binary-search the whole index once per row.

/// Calls `f(probe, value)` for every probe and index entry with equal keys, probes in order.
/// `probes` must be sorted by `key`, `index` by its first component. Stops as soon as `f`
/// returns false.
#[cfg(test)]
pub fn merge_join<P, K: Ord + Copy, V>(
    probes: &[P],
    key: impl Fn(&P) -> K,
    index: &[(K, V)],
    mut f: impl FnMut(&P, &V) -> bool,
) {
    merge_join_by(
        probes,
        key,
        index.len(),
        |i| index[i].0,
        |p, i| f(p, &index[i].1),
    );
}

/// [`merge_join`] with an index given by its length and the key of each entry (sorted by
/// key): `f(probe, entry)` gets the entry's position, so that an index need not be a slice
/// of pairs (a relation in its own order serves as one).
pub fn merge_join_by<P, K: Ord>(
    probes: &[P],
    key: impl Fn(&P) -> K,
    len: usize,
    key_at: impl Fn(usize) -> K,
    mut f: impl FnMut(&P, usize) -> bool,
) {
    let mut probes = probes;
    let mut at = 0;
    while let Some(p) = probes.first()
        && at < len
    {
        let k = key(p);
        let e = key_at(at);
        match k.cmp(&e) {
            std::cmp::Ordering::Less => probes = gallop(probes, |q| key(q) < e),
            std::cmp::Ordering::Greater => at = gallop_at(at, len, |i| key_at(i) < k),
            std::cmp::Ordering::Equal => {
                let n = probes.iter().take_while(|q| key(q) == k).count();
                let m = (at..len).take_while(|&i| key_at(i) == k).count();
                for q in &probes[..n] {
                    for i in at..at + m {
                        if !f(q, i) {
                            return;
                        }
                    }
                }
                probes = &probes[n..];
                at += m;
            }
        }
    }
}

/// Calls `f(probe, value)` for every probe and index entry with equal keys, probes in their
/// own order (they need not be sorted): each probe binary-searches the index. Stops as soon as
/// `f` returns false.
#[cfg(test)]
pub fn probe_join<P, K: Ord + Copy, V>(
    probes: &[P],
    key: impl Fn(&P) -> K,
    index: &[(K, V)],
    mut f: impl FnMut(&P, &V) -> bool,
) {
    probe_join_by(
        probes,
        key,
        index.len(),
        |i| index[i].0,
        |p, i| f(p, &index[i].1),
    );
}

/// [`probe_join`] with an index given by its length and the key of each entry (sorted by key),
/// as [`merge_join_by`] takes it.
pub fn probe_join_by<P, K: Ord>(
    probes: &[P],
    key: impl Fn(&P) -> K,
    len: usize,
    key_at: impl Fn(usize) -> K,
    mut f: impl FnMut(&P, usize) -> bool,
) {
    for p in probes {
        let k = key(p);
        // The first entry whose key is not below the probe's.
        let (mut lo, mut hi) = (0, len);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if key_at(mid) < k {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let mut i = lo;
        while i < len && key_at(i) == k {
            if !f(p, i) {
                return;
            }
            i += 1;
        }
    }
}

/// Whether probes that are not sorted by the join key search the index one by one
/// ([`probe_join_by`]) rather than being sorted for [`merge_join_by`]: when the index is small
/// against them, a search of it costs less than a probe's share of the sort (a rule that reads
/// every membership to keep those of the few superuser groups, say).
pub fn probe_each(probes: usize, index: usize) -> bool {
    index <= 64 || index.saturating_mul(8) <= probes
}

/// [`gallop`] over the positions `at..len`: the first for which `before` is false.
fn gallop_at(mut at: usize, len: usize, mut before: impl FnMut(usize) -> bool) -> usize {
    if at < len && before(at) {
        let mut step = 1;
        while at + step < len && before(at + step) {
            at += step;
            step <<= 1;
        }
        step >>= 1;
        while step > 0 {
            if at + step < len && before(at + step) {
                at += step;
            }
            step >>= 1;
        }
        at += 1;
    }
    at
}

/// The part of `slice` from its first element for which `before` is false (`before` must hold
/// for a prefix of it): steps of doubling length, then halving, so a short skip is cheap.
fn gallop<T>(mut slice: &[T], mut before: impl FnMut(&T) -> bool) -> &[T] {
    if slice.first().is_some_and(&mut before) {
        let mut step = 1;
        while step < slice.len() && before(&slice[step]) {
            slice = &slice[step..];
            step <<= 1;
        }
        step >>= 1;
        while step > 0 {
            if step < slice.len() && before(&slice[step]) {
                slice = &slice[step..];
            }
            step >>= 1;
        }
        slice = &slice[1..];
    }
    slice
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every pair with equal keys, by a nested loop.
    fn pairs_by_loop(probes: &[(u32, char)], index: &[(u32, u32)]) -> Vec<(char, u32)> {
        let mut out = Vec::new();
        for p in probes {
            for e in index {
                if p.0 == e.0 {
                    out.push((p.1, e.1));
                }
            }
        }
        out
    }

    #[test]
    fn merge_join_finds_every_pair_with_equal_keys() {
        let probes = [(1, 'a'), (1, 'b'), (3, 'c'), (7, 'd'), (9, 'e'), (9, 'f')];
        let index: Vec<(u32, u32)> = [(0, 0), (1, 10), (1, 11), (2, 20), (7, 70)]
            .into_iter()
            .chain((8..9).map(|k| (k, 80)))
            .chain([(9, 90), (9, 91), (12, 120)])
            .collect();
        let mut got = Vec::new();
        merge_join(
            &probes,
            |p| p.0,
            &index,
            |p, v| {
                got.push((p.1, *v));
                true
            },
        );
        assert_eq!(got, pairs_by_loop(&probes, &index));
        assert_eq!(got.len(), 2 * 2 + 1 + 2 * 2);
    }

    #[test]
    fn merge_join_gallops_over_long_gaps_on_either_side() {
        let probes: Vec<(u32, char)> = (0..1000).map(|k| (k * 3, 'p')).collect();
        let index: Vec<(u32, u32)> = (0..50).map(|k| (k * 61, k)).collect();
        let mut got = Vec::new();
        merge_join(
            &probes,
            |p| p.0,
            &index,
            |p, v| {
                got.push((p.1, *v));
                true
            },
        );
        assert_eq!(got, pairs_by_loop(&probes, &index));
        let mut got = Vec::new();
        merge_join(
            &index,
            |e| e.0,
            &probes,
            |e, p| {
                got.push((*p, e.1));
                true
            },
        );
        assert_eq!(got.len(), pairs_by_loop(&probes, &index).len());
    }

    #[test]
    fn probe_join_finds_every_pair_with_equal_keys_in_the_probes_order() {
        let probes = [
            (9, 'e'),
            (1, 'a'),
            (7, 'd'),
            (3, 'c'),
            (1, 'b'),
            (9, 'f'),
            (13, 'g'),
        ];
        let index = [
            (0, 0),
            (1, 10),
            (1, 11),
            (2, 20),
            (7, 70),
            (9, 90),
            (9, 91),
            (12, 120),
        ];
        let mut got = Vec::new();
        probe_join(
            &probes,
            |p| p.0,
            &index,
            |p, v| {
                got.push((p.1, *v));
                true
            },
        );
        assert_eq!(got, pairs_by_loop(&probes, &index));
        assert_eq!(got.len(), 2 + 2 + 1 + 2 + 2);
        let mut n = 0;
        probe_join(
            &probes,
            |p| p.0,
            &index,
            |_, _| {
                n += 1;
                n < 3
            },
        );
        assert_eq!(n, 3);
    }

    #[test]
    fn small_indexes_are_probed_large_ones_merged() {
        assert!(probe_each(10, 3));
        assert!(probe_each(100_000, 2_000));
        assert!(!probe_each(100, 1_000));
        assert!(!probe_each(10_000, 5_000));
    }

    #[test]
    fn merge_join_stops_when_asked() {
        let probes = [(1, 'a'), (1, 'b')];
        let index = [(1, 10), (1, 11)];
        let mut n = 0;
        merge_join(
            &probes,
            |p| p.0,
            &index,
            |_, _| {
                n += 1;
                n < 3
            },
        );
        assert_eq!(n, 3);
    }
}
