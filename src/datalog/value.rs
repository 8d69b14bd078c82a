//! Values: symbols interned to `u32`, numbers stored as their 32-bit pattern.

use crate::datalog::ir::Ty;
use rustc_hash::FxHashMap;
use std::sync::Arc;

/// The symbol table: each distinct string gets one `u32`.
///
/// A table can be [`frozen`](Interner::frozen) into a shared base that later additions are
/// layered on: copies then cost only their own additions, which is what evaluating many small
/// variations of one large fact set needs.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    /// Symbols shared with other tables (ids `0..base.len()`), never changed.
    base: Option<Arc<Interner>>,
    /// This table's own symbols (ids from `base.len()` on).
    strings: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(id) = self.get(s) {
            return id;
        }
        let id = self.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.strings.push(a.clone());
        self.ids.insert(a, id);
        id
    }
    /// The id of `s` if it is known.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.base
            .as_ref()
            .and_then(|b| b.get(s))
            .or_else(|| self.ids.get(s).copied())
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
        &self.strings[id as usize - shared]
    }
    /// How many symbols there are.
    pub fn len(&self) -> usize {
        self.base_len() + self.strings.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The same symbols with the same ids, as a shared base: copies of the result are cheap.
    pub fn frozen(self) -> Interner {
        Interner {
            base: Some(Arc::new(self)),
            strings: Vec::new(),
            ids: FxHashMap::default(),
        }
    }
    fn base_len(&self) -> usize {
        self.base.as_ref().map_or(0, |b| b.len())
    }
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
    let v = if neg { -v } else { v };
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
