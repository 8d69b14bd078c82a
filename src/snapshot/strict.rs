//! Skipping that still notices repeated keys, for the fast JSON reading.
//!
//! serde's typed reading refuses a known field given twice, but it passes over what it skips
//! (unknown fields, users' deferred `attributes`, unknown endpoints) without looking, and
//! `serde_json::Value` keeps the last of two equal keys. Here each key whose value is skipped,
//! and every key inside a skipped value, is hashed as it passes (a transient `&str`, no
//! allocation), and a repeat within one map is an error: the loader then reads the file again
//! slowly, and that reading names both places of each repeated key. Two keys whose hashes collide
//! only cost that slower reading; it compares the keys themselves.
//!
//! Nesting: skipping walks maps and arrays through `deserialize_any`, so serde_json's recursion
//! limit bounds it as it bounds every other value.

use super::raw::FxBuild;
use serde::Deserializer;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt;

/// The fast reading's error for a key given twice in one map.
pub const REPEATED_KEY: &str = "repeated key";

/// Keys a map may have before its repeats are looked up in a hash set instead of a scan.
const SCANNED: usize = 32;

fn hash_key(key: &str) -> u64 {
    const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let mix = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(K);
    let bytes = key.as_bytes();
    let n = bytes.len();
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap_or_default());
    let half = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().unwrap_or_default(),
        ))
    };
    let mut h = mix(0, n as u64);
    let mut at = 0;
    while at + 8 <= n {
        h = mix(h, word(at));
        at += 8;
    }
    // The last bytes, read as whole words that may overlap those already mixed in (the length,
    // mixed in first, keeps keys of different lengths apart).
    if at < n {
        h = mix(
            h,
            match n {
                8.. => word(n - 8),
                4.. => half(0) | half(n - 4) << 32,
                _ => {
                    u64::from(bytes[0])
                        | u64::from(bytes[n / 2]) << 8
                        | u64::from(bytes[n - 1]) << 16
                }
            },
        );
    }
    h
}

/// The keys of one map seen so far, as hashes at the end of a buffer that nested maps share.
struct Seen {
    start: usize,
    end: usize,
    /// One bit per hash seen (the hash's low six bits): most keys are new, and their bit says so
    /// without a scan.
    bits: u64,
    many: Option<HashSet<u64, FxBuild>>,
}

impl Seen {
    fn new(keys: &[u64]) -> Seen {
        Seen {
            start: keys.len(),
            end: keys.len(),
            bits: 0,
            many: None,
        }
    }

    /// Records `hash`; false if this map had it already.
    fn insert(&mut self, keys: &mut Vec<u64>, hash: u64) -> bool {
        // What nested maps pushed since this map's last key is theirs, and done with.
        keys.truncate(self.end);
        match &mut self.many {
            Some(many) => {
                if !many.insert(hash) {
                    return false;
                }
            }
            None => {
                let bit = 1 << (hash & 63);
                if self.bits & bit != 0 && keys[self.start..].contains(&hash) {
                    return false;
                }
                self.bits |= bit;
                keys.push(hash);
                self.end = keys.len();
                if self.end - self.start > SCANNED {
                    self.many = Some(keys[self.start..].iter().copied().collect());
                }
            }
        }
        true
    }

    fn check<E: de::Error>(&mut self, keys: &mut Vec<u64>, hash: u64) -> Result<(), E> {
        if self.insert(keys, hash) {
            Ok(())
        } else {
            Err(E::custom(REPEATED_KEY))
        }
    }
}

/// Skips one value, refusing a map that repeats a key (see the module's doc).
pub fn skip<'de, D: Deserializer<'de>>(d: D) -> Result<(), D::Error> {
    Skip(&mut Vec::new()).deserialize(d)
}

/// Skips a value; its maps' key hashes go on the shared buffer.
struct Skip<'k>(&'k mut Vec<u64>);

impl<'de> DeserializeSeed<'de> for Skip<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Skip<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_bytes<E>(self, _: &[u8]) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Skip(&mut *self.0))?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = Seen::new(self.0);
        while let Some(hash) = map.next_key_seed(KeyHash)? {
            seen.check(self.0, hash)?;
            map.next_value_seed(Skip(&mut *self.0))?;
        }
        self.0.truncate(seen.start);
        Ok(())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use de::VariantAccess;
        let ((), variant) = data.variant_seed(Skip(&mut *self.0))?;
        variant.newtype_variant_seed(Skip(&mut *self.0))
    }
}

/// A map key, read as its hash.
struct KeyHash;

impl<'de> DeserializeSeed<'de> for KeyHash {
    type Value = u64;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyHash {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E>(self, key: &str) -> Result<u64, E> {
        Ok(hash_key(key))
    }
}

/// A map whose keys are checked for repeats and whose values are read through [`Strict`]; its
/// first key may already have been read (it is replayed first).
pub struct StrictMap<'k, A> {
    first: Option<String>,
    map: A,
    keys: &'k mut Vec<u64>,
    seen: Seen,
    /// The hash of the key just read, recorded only if its value is skipped: a known field
    /// given twice is refused by the typed reading already.
    key: u64,
}

impl<'k, A> StrictMap<'k, A> {
    /// Wraps `map`, whose key `first` (if any) was read already; `keys` is a buffer reused
    /// across maps, so that checking costs no allocation per object.
    pub fn new(first: Option<String>, map: A, keys: &'k mut Vec<u64>) -> Self {
        let seen = Seen::new(keys);
        StrictMap {
            first,
            map,
            keys,
            seen,
            key: 0,
        }
    }
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for StrictMap<'_, A> {
    type Error = A::Error;
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_map(self)
    }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for StrictMap<'_, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        let mut hash = 0;
        let key = match self.first.take() {
            Some(k) => {
                hash = hash_key(&k);
                Some(seed.deserialize(k.into_deserializer())?)
            }
            None => self.map.next_key_seed(Hashing {
                seed,
                hash: &mut hash,
            })?,
        };
        if key.is_none() {
            self.keys.truncate(self.seen.start);
        }
        self.key = hash;
        Ok(key)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(StrictSeed {
            seed,
            keys: &mut *self.keys,
            key: Some((&mut self.seen, self.key)),
        })
    }
}

/// A key seed that also leaves the key's hash in `hash`.
struct Hashing<'h, K> {
    seed: K,
    hash: &'h mut u64,
}

impl<'de, K: DeserializeSeed<'de>> DeserializeSeed<'de> for Hashing<'_, K> {
    type Value = K::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<K::Value, D::Error> {
        self.seed.deserialize(HashingKey { d, hash: self.hash })
    }
}

/// A key's deserializer whose visitor sees the key's text on its way through.
struct HashingKey<'h, D> {
    d: D,
    hash: &'h mut u64,
}

macro_rules! hashing_methods {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.d.$method(HashingVisitor { visitor, hash: self.hash })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for HashingKey<'_, D> {
    type Error = D::Error;
    hashing_methods! { deserialize_any deserialize_str deserialize_string deserialize_identifier }
    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum ignored_any
    }
}

struct HashingVisitor<'h, V> {
    visitor: V,
    hash: &'h mut u64,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for HashingVisitor<'_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        *self.hash = hash_key(v);
        self.visitor.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        *self.hash = hash_key(v);
        self.visitor.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        *self.hash = hash_key(&v);
        self.visitor.visit_string(v)
    }
}

/// A value seed whose deserializer is wrapped in [`Strict`].
struct StrictSeed<'k, S> {
    seed: S,
    keys: &'k mut Vec<u64>,
    key: Option<(&'k mut Seen, u64)>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for StrictSeed<'_, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Value, D::Error> {
        self.seed.deserialize(Strict {
            d,
            keys: self.keys,
            key: self.key,
        })
    }
}

/// A deserializer whose skipped values ([`serde::de::IgnoredAny`], unknown fields) and nested
/// structs are checked for repeated keys; everything else passes straight through.
pub struct Strict<'k, D> {
    d: D,
    keys: &'k mut Vec<u64>,
    /// The enclosing map's keys and this value's key, if it is a map's value.
    key: Option<(&'k mut Seen, u64)>,
}

impl<'k, D> Strict<'k, D> {
    /// Wraps `d`; `keys` is a buffer reused across values.
    pub fn new(d: D, keys: &'k mut Vec<u64>) -> Self {
        Strict { d, keys, key: None }
    }
}

macro_rules! forward_methods {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.d.$method(visitor)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Strict<'_, D> {
    type Error = D::Error;
    forward_methods! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_identifier
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_unit_struct(name, visitor)
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_newtype_struct(name, visitor)
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_tuple(len, visitor)
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_tuple_struct(name, len, visitor)
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_enum(name, variants, visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.d.deserialize_map(StrictVisitor {
            visitor,
            keys: self.keys,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.d.deserialize_struct(
            name,
            fields,
            StrictVisitor {
                visitor,
                keys: self.keys,
            },
        )
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        if let Some((seen, hash)) = self.key {
            seen.check(self.keys, hash)?;
        }
        Skip(self.keys).deserialize(self.d)?;
        visitor.visit_unit()
    }
    fn is_human_readable(&self) -> bool {
        self.d.is_human_readable()
    }
}

/// A struct's or map's visitor, given the map wrapped in a [`StrictMap`].
struct StrictVisitor<'k, V> {
    visitor: V,
    keys: &'k mut Vec<u64>,
}

impl<'de, V: Visitor<'de>> Visitor<'de> for StrictVisitor<'_, V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(StrictMap::new(None, map, self.keys))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(seq)
    }
}

/// An object's own fields kept as JSON (`#[serde(flatten)]`), refusing a key repeated at any
/// depth, where `serde_json::Map` would keep the last silently.
pub fn json_fields<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, Value>, D::Error> {
    d.deserialize_map(JsonValue).and_then(|v| match v {
        Value::Object(map) => Ok(map),
        _ => Err(de::Error::custom("expected an object")),
    })
}

/// A `serde_json::Value` that refuses a repeated key in any of its objects.
struct JsonValue;

impl<'de> DeserializeSeed<'de> for JsonValue {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for JsonValue {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(JsonValue)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(REPEATED_KEY));
            }
            let value = map.next_value_seed(JsonValue)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}
