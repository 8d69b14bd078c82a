//! Values: symbols interned to `u32`, numbers stored as their 32-bit pattern.

use crate::datalog::ir::Ty;
use std::collections::HashMap;
use std::sync::Arc;

/// The symbol table: each distinct string gets one `u32`.
#[derive(Clone, Debug, Default)]
pub struct Interner {
    strings: Vec<Arc<str>>,
    ids: HashMap<Arc<str>, u32>,
}

impl Interner {
    /// The id of `s`, adding it if new.
    pub fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.strings.len() as u32;
        let a: Arc<str> = Arc::from(s);
        self.strings.push(a.clone());
        self.ids.insert(a, id);
        id
    }
    /// The id of `s` if it is known.
    pub fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }
    /// The string of an id.
    pub fn resolve(&self, id: u32) -> &str {
        &self.strings[id as usize]
    }
    /// How many symbols there are.
    pub fn len(&self) -> usize {
        self.strings.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.strings.is_empty()
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
}
