//! The fast engine's relations with each tuple's height ([`fast::evaluate_with_heights`]),
//! searchable by any of their columns: what a proof is read from.
//!
//! [`fast::evaluate_with_heights`]: super::fast::evaluate_with_heights

use super::fast::Heights;
use super::{Source, Table};
use crate::datalog::ir::RelId;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::HashMap;
use std::rc::Rc;

/// Row numbers of one relation, sorted by some of its columns.
type Order = Rc<Vec<u32>>;

/// Complete relations (sorted, distinct rows) and their rows' heights.
pub struct Derived {
    tables: Vec<Table>,
    heights: Heights,
    /// Per relation and set of bound columns that are not a leading prefix: the row numbers,
    /// sorted by those columns. Built when a proof first asks.
    orders: RefCell<HashMap<(RelId, u64), Order>>,
}

/// Compares the bound columns of `row` with the pattern's values, column by column.
fn cmp_bound(row: &[u32], pattern: &[Option<u32>]) -> Ordering {
    for (x, p) in row.iter().zip(pattern) {
        if let Some(p) = p {
            match x.cmp(p) {
                Ordering::Equal => {}
                o => return o,
            }
        }
    }
    Ordering::Equal
}

impl Derived {
    /// The tables (one per relation, each normal: sorted, without duplicates) and their heights.
    pub fn new(tables: Vec<Table>, heights: Heights) -> Derived {
        Derived {
            tables,
            heights,
            orders: RefCell::default(),
        }
    }

    /// The row number of `tuple` in its relation, if it holds.
    fn find(&self, rel: RelId, tuple: &[u32]) -> Option<usize> {
        let t = &self.tables[rel];
        if t.arity == 0 {
            return (t.len > 0).then_some(0);
        }
        let (mut lo, mut hi) = (0, t.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            match t.row(mid).cmp(tuple) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    /// The height of a tuple, if it holds.
    pub fn height(&self, rel: RelId, tuple: &[u32]) -> Option<u32> {
        let i = self.find(rel, tuple)?;
        Some(self.heights[rel].as_ref().map_or(0, |h| h[i]))
    }

    /// The rows of `rel` that match `pattern`: their numbers, in an order that lists them
    /// together, and the range of that order they fill.
    fn matching(
        &self,
        rel: RelId,
        pattern: &[Option<u32>],
    ) -> (Option<Rc<Vec<u32>>>, usize, usize) {
        let t = &self.tables[rel];
        let bound: Vec<usize> = (0..pattern.len())
            .filter(|&i| pattern[i].is_some())
            .collect();
        if bound.is_empty() || t.arity == 0 {
            return (None, 0, t.len);
        }
        let leading = bound.iter().enumerate().all(|(i, &c)| i == c);
        let order = (!leading).then(|| {
            let mask = bound.iter().fold(0u64, |m, &c| m | 1 << (c % 64));
            let mut orders = self.orders.borrow_mut();
            Rc::clone(orders.entry((rel, mask)).or_insert_with(|| {
                let mut rows: Vec<u32> = (0..t.len as u32).collect();
                rows.sort_by(|&a, &b| {
                    let (a, b) = (t.row(a as usize), t.row(b as usize));
                    bound
                        .iter()
                        .map(|&c| a[c].cmp(&b[c]))
                        .find(|o| o.is_ne())
                        .unwrap_or(Ordering::Equal)
                });
                Rc::new(rows)
            }))
        });
        let row = |i: usize| t.row(order.as_ref().map_or(i, |o| o[i] as usize));
        let (mut lo, mut hi) = (0, t.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_bound(row(mid), pattern) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let start = lo;
        hi = t.len;
        while lo < hi {
            let mid = (lo + hi) / 2;
            if cmp_bound(row(mid), pattern) == Ordering::Greater {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        (order, start, lo)
    }

    /// How many tuples of `rel` match `pattern`.
    pub fn count(&self, rel: RelId, pattern: &[Option<u32>]) -> usize {
        let (_, lo, hi) = self.matching(rel, pattern);
        hi - lo
    }
}

impl Source for Derived {
    fn scan(&self, rel: RelId, pattern: &[Option<u32>], f: &mut dyn FnMut(&[u32])) {
        let (order, lo, hi) = self.matching(rel, pattern);
        let t = &self.tables[rel];
        for i in lo..hi {
            f(t.row(order.as_ref().map_or(i, |o| o[i] as usize)));
        }
    }
}
