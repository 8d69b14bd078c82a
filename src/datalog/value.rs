//! Values: symbols interned to `u32`, numbers stored as their 32-bit pattern.

use crate::datalog::ir::Ty;
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
/// of [`Slot`]s: interning a million symbols makes no allocation per symbol, and finding a
/// symbol reads its slot and its text, never `ends`.
#[derive(Clone, Default)]
pub struct Interner {
    /// Symbols shared with other tables (ids `0..base.len()`), never changed.
    base: Option<Arc<Interner>>,
    /// This table's own symbols (ids from `base.len()` on), back to back.
    text: String,
    /// Where each own symbol ends in `text` (it starts where the one before it ends).
    ends: Vec<usize>,
    /// The hash table of own symbols, open addressing with linear probing: a power of two
    /// slots (or none), at most seven eighths of them used.
    slots: Vec<Slot>,
}

/// A slot of [`Interner`]'s hash table: an own symbol's id, hash and place in the text.
#[derive(Clone, Copy)]
struct Slot {
    /// The id ([`FREE`] in a free slot).
    id: u32,
    /// 32 bits of the symbol's hash ([`hash_of`]): most failed comparisons read only these.
    hash: u32,
    /// Where the symbol starts in the table's text, shifted left by [`LEN_BITS`], and its
    /// length in bytes; or [`ELSEWHERE`] for a symbol that does not fit (16 MiB long, or
    /// starting after the first TiB), whose place is read from `ends`.
    at: u64,
}

/// The id of a free slot.
const FREE: u32 = u32::MAX;

/// The bits of [`Slot::at`] that hold a symbol's length.
const LEN_BITS: u32 = 24;

/// [`Slot::at`] of a symbol whose place is read from `ends`.
const ELSEWHERE: u64 = u64::MAX;

/// [`Slot::at`] of a symbol of `len` bytes starting at `start` in the text.
fn place_of(start: usize, len: usize) -> u64 {
    if len >= (1 << LEN_BITS) - 1 || start >= 1 << (64 - LEN_BITS) {
        ELSEWHERE
    } else {
        (start as u64) << LEN_BITS | len as u64
    }
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
pub(crate) fn hash_of(s: &[u8]) -> u32 {
    (FxBuildHasher.hash_one(s) >> 32) as u32
}

/// The slot where the search for a symbol with 32-bit hash `h` starts, in a table of `n`
/// slots (a power of two, at least 2): the top bits of the hash spread over 64 bits.
fn home(h: u32, n: usize) -> usize {
    (u64::from(h).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - n.trailing_zeros())) as usize
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        self.intern_hashed(s, hash_of(s.as_bytes()))
    }
    /// Interns each of `symbols` in turn, appending their ids to `ids`: the same ids as
    /// [`Interner::intern`] gives one by one, but each group of symbols has its slots read
    /// together before any is compared, so that their cache misses overlap rather than follow
    /// each other.
    pub fn intern_all(&mut self, symbols: &[&str], ids: &mut Vec<u32>) {
        let hashes: Vec<u32> = symbols.iter().map(|s| hash_of(s.as_bytes())).collect();
        self.intern_all_hashed(symbols, &hashes, ids);
    }
    /// [`Interner::intern_all`] of symbols whose hashes ([`hash_of`], one per symbol) are known.
    pub(crate) fn intern_all_hashed(
        &mut self,
        symbols: &[&str],
        hashes: &[u32],
        ids: &mut Vec<u32>,
    ) {
        const GROUP: usize = 32;
        for (group, hashes) in symbols.chunks(GROUP).zip(hashes.chunks(GROUP)) {
            if !self.slots.is_empty() {
                // Each symbol's home slot, and the text of the symbol there if its hash is the
                // same: what finding it will read.
                let n = self.slots.len();
                let touched = hashes.iter().fold(0, |t, &h| {
                    let slot = &self.slots[home(h, n)];
                    match slot.hash == h && slot.id != FREE {
                        true => t ^ self.slot_text(slot).bytes().next().unwrap_or(0),
                        false => t,
                    }
                });
                std::hint::black_box(touched);
            }
            for (s, &h) in group.iter().zip(hashes) {
                ids.push(self.intern_hashed(s, h));
            }
        }
    }
    /// [`Interner::intern`] of a symbol whose [hash](hash_of) is known.
    fn intern_hashed(&mut self, s: &str, hash: u32) -> u32 {
        if let Some(id) = self.find(s, hash) {
            return id;
        }
        let id = self.len() as u32;
        let at = place_of(self.text.len(), s.len());
        self.text.push_str(s);
        self.ends.push(self.text.len());
        if self.ends.len() * 8 > self.slots.len() * 7 {
            self.grow();
        }
        place(&mut self.slots, Slot { id, hash, at });
        id
    }
    /// The id of `s` if it is known.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.find(s, hash_of(s.as_bytes()))
    }
    fn find(&self, s: &str, hash: u32) -> Option<u32> {
        if let Some(id) = self.base.as_ref().and_then(|b| b.find(s, hash)) {
            return Some(id);
        }
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = home(hash, self.slots.len());
        loop {
            let slot = &self.slots[i];
            if slot.id == FREE {
                return None;
            }
            if slot.hash == hash && self.slot_text(slot) == s {
                return Some(slot.id);
            }
            i = (i + 1) & mask;
        }
    }
    /// The text of the symbol in a used slot.
    fn slot_text(&self, slot: &Slot) -> &str {
        if slot.at == ELSEWHERE {
            return own(&self.text, &self.ends, slot.id as usize - self.base_len());
        }
        let start = (slot.at >> LEN_BITS) as usize;
        &self.text[start..start + (slot.at & ((1 << LEN_BITS) - 1)) as usize]
    }
    /// Doubles the slots (16 at first), placing each used one again.
    fn grow(&mut self) {
        let n = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(
            &mut self.slots,
            vec![
                Slot {
                    id: FREE,
                    hash: 0,
                    at: 0
                };
                n
            ],
        );
        for slot in old.into_iter().filter(|s| s.id != FREE) {
            place(&mut self.slots, slot);
        }
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

/// Puts `slot` in the first free slot from its home on (there is one: at most seven eighths
/// are used).
fn place(slots: &mut [Slot], slot: Slot) {
    let mask = slots.len() - 1;
    let mut i = home(slot.hash, slots.len());
    while slots[i].id != FREE {
        i = (i + 1) & mask;
    }
    slots[i] = slot;
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
    fn short_and_long_symbols_are_told_apart() {
        // Around the length a slot holds itself, with bytes a zero-padded key could confuse.
        let mut symbols: Vec<String> = (0..40).map(|n| "x".repeat(n)).collect();
        symbols.extend(["a\0", "a", "\0", "a\0\0", "\u{ff}", "é"].map(String::from));
        symbols.extend((1..40).map(|n| format!("{}\0", "y".repeat(n))));
        let mut t = Interner::default();
        let ids: Vec<u32> = symbols.iter().map(|s| t.intern(s)).collect();
        assert_eq!(ids, (0..symbols.len() as u32).collect::<Vec<u32>>());
        let (mut again, mut all) = (Interner::default(), Vec::new());
        let twice: Vec<&str> = symbols.iter().chain(&symbols).map(|s| &**s).collect();
        again.intern_all(&twice, &mut all);
        assert_eq!(
            all,
            [&ids[..], &ids[..]].concat(),
            "in groups, the same ids"
        );
        for (s, id) in symbols.iter().zip(&ids) {
            assert_eq!(
                (t.get(s), t.intern(s), t.resolve(*id)),
                (Some(*id), *id, &**s)
            );
        }
        assert_eq!(t.get(&"x".repeat(40)), None);
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
