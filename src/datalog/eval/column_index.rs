//! Lookups in a complete relation by the columns a pattern binds, wherever they are. A relation
//! is sorted by all its columns, which serves only patterns binding a prefix of them; any other
//! set of bound columns gets an index of its own, so that matching one pattern costs a binary
//! search and its matches, not a pass over the relation.

use super::Table;
use std::cmp::Ordering;

/// The positions of a relation's rows ordered by some of its columns (the key): the rows that
/// agree with a key are one run of it. It holds positions, not rows, to stay small next to
/// the relation it indexes.
#[derive(Debug)]
pub struct ColumnIndex {
    /// Key columns, ascending.
    cols: Vec<usize>,
    /// Row positions by key, then by position (so each run keeps the relation's order).
    order: Vec<u32>,
}

impl ColumnIndex {
    /// Indexes `rows` by the columns `cols` (ascending).
    pub fn build(rows: &Table, cols: Vec<usize>) -> ColumnIndex {
        let mut order: Vec<u32> = (0..rows.len as u32).collect();
        // Stable: rows of one key stay in the relation's order.
        order.sort_by(|&a, &b| {
            let (a, b) = (rows.row(a as usize), rows.row(b as usize));
            cols.iter()
                .map(|&c| a[c].cmp(&b[c]))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        });
        ColumnIndex { cols, order }
    }

    /// The rows of `rows` (the rows it was built over) whose key columns hold `key`.
    pub fn matches<'r>(
        &'r self,
        rows: &'r Table,
        key: &'r [u32],
    ) -> impl Iterator<Item = &'r [u32]> + 'r {
        let cmp = move |i: u32| {
            let row = rows.row(i as usize);
            self.cols
                .iter()
                .zip(key)
                .map(|(&c, k)| row[c].cmp(k))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
        };
        let start = self.order.partition_point(|&i| cmp(i).is_lt());
        self.order[start..]
            .iter()
            .take_while(move |&&i| cmp(i).is_eq())
            .map(move |&i| rows.row(i as usize))
    }
}

/// The columns a pattern binds, as a bit set (bit `c` for column `c`).
pub fn bound_mask(pattern: &[Option<u32>]) -> u64 {
    pattern
        .iter()
        .enumerate()
        .filter(|(_, p)| p.is_some())
        .fold(0, |m, (c, _)| m | 1 << c)
}

/// The columns of a bit set, ascending.
pub fn mask_cols(mask: u64) -> Vec<usize> {
    (0..64).filter(|c| mask & (1 << c) != 0).collect()
}

/// Whether the columns of a bit set are the first ones (or none): then the relation's own
/// order serves, and no index is needed.
pub fn is_leading(mask: u64) -> bool {
    mask & (mask + 1) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_the_rows_agreeing_on_the_key_columns() {
        let mut rows = Table::new(3);
        for r in [[1, 5, 7], [1, 6, 7], [2, 5, 8], [3, 5, 7], [3, 9, 9]] {
            rows.push(&r);
        }
        let idx = ColumnIndex::build(&rows, vec![1, 2]);
        let got: Vec<&[u32]> = idx.matches(&rows, &[5, 7]).collect();
        assert_eq!(got, vec![&[1, 5, 7], &[3, 5, 7]]);
        assert_eq!(idx.matches(&rows, &[5, 9]).count(), 0);
        assert_eq!(idx.matches(&rows, &[9, 9]).count(), 1);
    }

    #[test]
    fn leading_masks_are_prefixes() {
        assert!(is_leading(0) && is_leading(0b1) && is_leading(0b111));
        assert!(!is_leading(0b10) && !is_leading(0b101));
        assert_eq!(bound_mask(&[None, Some(3), Some(0)]), 0b110);
        assert_eq!(mask_cols(0b101), vec![0, 2]);
    }
}
