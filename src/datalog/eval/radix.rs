//! Least-significant-digit radix sort for rows of one or two columns (and the integers they
//! are packed into): a byte per pass, each pass a stable scatter by that byte, and passes whose
//! byte is the same in every row left out. On the millions of rows a join or a fact file
//! yields, it takes a fraction of a comparison sort's time: a pass reads and writes each row
//! once, where a comparison sort reads each row about log2(n) times.

/// Below this many rows a comparison sort is as fast: the 256-entry histograms and the scratch
/// copy cost more than they save.
pub const MIN_ROWS: usize = 1 << 12;

/// Sorts `v` by a key of `bytes` bytes, `byte(x, i)` giving the `i`th least significant byte
/// of `x`'s key; stable. Uses a scratch copy of `v`.
pub fn sort_by_bytes<T: Copy>(v: &mut [T], bytes: usize, byte: impl Fn(&T, usize) -> u8) {
    let n = v.len();
    if n < 2 {
        return;
    }
    let mut counts = vec![[0usize; 256]; bytes];
    for x in v.iter() {
        for (i, c) in counts.iter_mut().enumerate() {
            c[byte(x, i) as usize] += 1;
        }
    }
    let mut scratch = vec![v[0]; n];
    // Whether the rows sorted so far are in `scratch` rather than `v`.
    let mut in_scratch = false;
    for (i, c) in counts.iter().enumerate() {
        // Every row has the same byte here: the pass would leave the order as it is.
        if c.contains(&n) {
            continue;
        }
        let mut at = [0usize; 256];
        let mut sum = 0;
        for (a, k) in at.iter_mut().zip(c) {
            *a = sum;
            sum += k;
        }
        let (from, to): (&[T], &mut [T]) = if in_scratch {
            (&scratch, v)
        } else {
            (v, &mut scratch)
        };
        for x in from {
            let b = byte(x, i) as usize;
            to[at[b]] = *x;
            at[b] += 1;
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        v.copy_from_slice(&scratch);
    }
}

/// Sorts rows of `W` columns (one or two) in unsigned order, column by column.
pub fn sort_rows<const W: usize>(rows: &mut [[u32; W]]) {
    sort_by_bytes(rows, 4 * W, |r, i| {
        (r[W - 1 - i / 4] >> (8 * (i % 4))) as u8
    });
}

/// Sorts unsigned integers.
pub fn sort_u32(v: &mut [u32]) {
    sort_by_bytes(v, 4, |x, i| (x >> (8 * i)) as u8);
}

/// Sorts unsigned integers.
pub fn sort_u64(v: &mut [u64]) {
    sort_by_bytes(v, 8, |x, i| (x >> (8 * i)) as u8);
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// Every width sorts as the standard library's sort does, values near the edges of
        /// each byte included (and many rows, so that passes are left out and taken).
        #[test]
        fn radix_sorts_as_the_standard_sort(
            values in proptest::collection::vec(
                prop_oneof![0u32..3, Just(u32::MAX), 250u32..262, any::<u32>()],
                0..600,
            ),
        ) {
            let mut ones: Vec<[u32; 1]> = values.iter().map(|v| [*v]).collect();
            let mut expected = ones.clone();
            expected.sort_unstable();
            super::sort_rows(&mut ones);
            prop_assert_eq!(ones, expected);

            let mut twos: Vec<[u32; 2]> = values.chunks_exact(2).map(|p| [p[0], p[1]]).collect();
            let mut expected = twos.clone();
            expected.sort_unstable();
            super::sort_rows(&mut twos);
            prop_assert_eq!(twos, expected);

            let mut ints = values.clone();
            let mut expected = ints.clone();
            expected.sort_unstable();
            super::sort_u32(&mut ints);
            prop_assert_eq!(ints, expected);

            let mut wide: Vec<u64> =
                values.chunks_exact(2).map(|p| (u64::from(p[0]) << 32) | u64::from(p[1])).collect();
            let mut expected = wide.clone();
            expected.sort_unstable();
            super::sort_u64(&mut wide);
            prop_assert_eq!(wide, expected);
        }
    }
}
