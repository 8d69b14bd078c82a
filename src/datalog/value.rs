//! Values: symbols interned to `u32`, numbers stored as their 32-bit pattern.

use crate::datalog::ir::Ty;
use hashbrown::HashTable;
use rustc_hash::FxBuildHasher;
use std::hash::BuildHasher;
use std::sync::Arc;

/// The symbol table: each distinct string gets one `u32`.
///
/// A table can be [`frozen`](Interner::frozen) into a shared base that later additions are
/// layered on: copies then cost only their own additions, which is what evaluating many small
/// variations of one large fact set needs.
///
/// A table's own symbols are stored back to back in one string, and found through a hash table
/// of ids: interning a million symbols makes no allocation per symbol.
#[derive(Clone, Default)]
pub struct Interner {
    /// Symbols shared with other tables (ids `0..base.len()`), never changed.
    base: Option<Arc<Interner>>,
    /// This table's own symbols (ids from `base.len()` on), back to back.
    text: String,
    /// Where each own symbol ends in `text` (it starts where the one before it ends).
    ends: Vec<usize>,
    /// Own ids with 32 bits of their symbol's hash: growing the table and most failed
    /// comparisons read those bits, not the symbols.
    ids: HashTable<(u32, u32)>,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("base", &self.base_len())
            .field("own", &self.ends.len())
            .finish()
    }
}

/// 32 bits of a symbol's hash.
fn hash_of(s: &str) -> u32 {
    (FxBuildHasher.hash_one(s) >> 32) as u32
}

/// The table's hash of a symbol with 32-bit hash `h`: spread over 64 bits, as the table reads
/// its top bits and its bottom bits.
fn spread(h: u32) -> u64 {
    u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        let hash = hash_of(s);
        if let Some(id) = self.find(s, hash) {
            return id;
        }
        let id = self.len() as u32;
        self.text.push_str(s);
        self.ends.push(self.text.len());
        self.ids
            .insert_unique(spread(hash), (id, hash), |&(_, h)| spread(h));
        id
    }
    /// The id of `s` if it is known.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.find(s, hash_of(s))
    }
    fn find(&self, s: &str, hash: u32) -> Option<u32> {
        if let Some(id) = self.base.as_ref().and_then(|b| b.find(s, hash)) {
            return Some(id);
        }
        let shared = self.base_len();
        self.ids
            .find(spread(hash), |&(i, h)| {
                h == hash && own(&self.text, &self.ends, i as usize - shared) == s
            })
            .map(|&(i, _)| i)
    }
    /// The string of an id.
    pub fn resolve(&self, id: u32) -> &str {
        let shared = self.base_len();
        if (id as usize) < shared {
            return self
                .base
                .as_ref()
                .expect("ids below the base length are the base's")
                .resolve(id);
        }
        own(&self.text, &self.ends, id as usize - shared)
    }
    /// How many symbols there are.
    pub fn len(&self) -> usize {
        self.base_len() + self.ends.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The same symbols with the same ids, as a shared base: copies of the result are cheap.
    pub fn frozen(self) -> Interner {
        Interner {
            base: Some(Arc::new(self)),
            ..Interner::default()
        }
    }
    fn base_len(&self) -> usize {
        self.base.as_ref().map_or(0, |b| b.len())
    }
}

/// The `i`th symbol of `text` cut at `ends`.
fn own<'t>(text: &'t str, ends: &[usize], i: usize) -> &'t str {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &text[start..ends[i]]
}

/// Formats a stored value of type `ty` as Soufflé prints it.
pub fn format_value(ty: Ty, raw: u32, symbols: &Interner) -> String {
    match ty {
        Ty::Symbol => symbols.resolve(raw).to_string(),
        Ty::Number => (raw as i32).to_string(),
        Ty::Unsigned => raw.to_string(),
    }
}

/// Formats a value as it is written in a program (symbols quoted).
pub fn format_literal(ty: Ty, raw: u32, symbols: &Interner) -> String {
    match ty {
        Ty::Symbol => format!("{:?}", symbols.resolve(raw)),
        _ => format_value(ty, raw, symbols),
    }
}

/// Compares two stored values of type `ty` by their meaning (numbers numerically, symbols by text).
pub fn compare(ty: Ty, a: u32, b: u32, symbols: &Interner) -> std::cmp::Ordering {
    match ty {
        Ty::Symbol => symbols.resolve(a).cmp(symbols.resolve(b)),
        Ty::Number => (a as i32).cmp(&(b as i32)),
        Ty::Unsigned => a.cmp(&b),
    }
}

/// Parses a number as `to_number` and `.facts` files do: decimal, `0x..` or `0b..`, optional sign.
pub fn parse_number(s: &str, ty: Ty) -> Option<u32> {
    // The common case first: up to nine decimal digits, perhaps after a `-`, which cannot
    // overflow.
    let bytes = s.as_bytes();
    let (neg, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if (1..=9).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        return in_range(if neg { -v } else { v }, ty);
    }
    let t = s.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let v: i64 = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(b) = body.strip_prefix("0b").or_else(|| body.strip_prefix("0B")) {
        i64::from_str_radix(b, 2).ok()?
    } else {
        if body.is_empty() || !body.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        body.parse::<i64>().ok()?
    };
    in_range(if neg { -v } else { v }, ty)
}

/// A parsed number as stored, if a column of type `ty` can hold it.
pub(crate) fn in_range(v: i64, ty: Ty) -> Option<u32> {
    match ty {
        Ty::Number if (i32::MIN as i64..=i32::MAX as i64).contains(&v) => Some(v as i32 as u32),
        Ty::Unsigned if (0..=u32::MAX as i64).contains(&v) => Some(v as u32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_in_all_radixes() {
        assert_eq!(parse_number("42", Ty::Number), Some(42));
        assert_eq!(parse_number("-1", Ty::Number), Some(u32::MAX));
        assert_eq!(parse_number("0x10", Ty::Number), Some(16));
        assert_eq!(parse_number("0b101", Ty::Number), Some(5));
        assert_eq!(parse_number("abc", Ty::Number), None);
        assert_eq!(parse_number("-1", Ty::Unsigned), None);
        assert_eq!(parse_number("-0", Ty::Unsigned), Some(0));
        assert_eq!(parse_number("007", Ty::Number), Some(7));
        assert_eq!(parse_number("999999999", Ty::Number), Some(999_999_999));
        assert_eq!(
            parse_number("2147483647", Ty::Number),
            Some(i32::MAX as u32)
        );
        assert_eq!(
            parse_number("-2147483648", Ty::Number),
            Some(i32::MIN as u32)
        );
        assert_eq!(parse_number("2147483648", Ty::Number), None);
        assert_eq!(parse_number("4294967295", Ty::Unsigned), Some(u32::MAX));
        assert_eq!(parse_number(" 5 ", Ty::Number), Some(5));
        assert_eq!(parse_number("-", Ty::Number), None);
        assert_eq!(parse_number("", Ty::Number), None);
        assert_eq!(parse_number("1_0", Ty::Number), None);
    }

    #[test]
    fn a_table_of_many_symbols_keeps_every_id() {
        let mut t = Interner::default();
        let ids: Vec<u32> = (0..100_000).map(|i| t.intern(&format!("s{i}"))).collect();
        assert_eq!(ids, (0..100_000).collect::<Vec<u32>>());
        for i in (0..100_000).step_by(997) {
            let s = format!("s{i}");
            assert_eq!((t.get(&s), t.intern(&s)), (Some(i), i));
            assert_eq!(t.resolve(i), s);
        }
        assert_eq!(
            (t.len(), t.get("s100000"), t.get("")),
            (100_000, None, None)
        );
        let empty = t.intern("");
        assert_eq!((t.resolve(empty), t.get("")), ("", Some(empty)));
    }

    #[test]
    fn a_frozen_table_keeps_its_ids_and_layers_new_symbols() {
        let mut t = Interner::default();
        let (a, b) = (t.intern("a"), t.intern("b"));
        let base = t.frozen();
        let mut one = base.clone();
        let mut two = base.clone();
        assert_eq!((one.get("a"), one.get("b")), (Some(a), Some(b)));
        let c1 = one.intern("c");
        let d2 = two.intern("d");
        assert_eq!(
            (c1, d2),
            (2, 2),
            "each copy numbers its own additions after the base"
        );
        assert_eq!(
            one.intern("a"),
            a,
            "a base symbol is found, not added again"
        );
        assert_eq!((one.resolve(c1), two.resolve(d2)), ("c", "d"));
        assert_eq!(one.get("d"), None);
        assert_eq!((one.len(), two.len(), base.len()), (3, 3, 2));
        let layered = one.frozen();
        assert_eq!((layered.resolve(a), layered.resolve(c1)), ("a", "c"));
    }
}
