//! Fingerprints: 128-bit digests of what an execution's future depends on.
//!
//! The state-caching search stops an execution that reaches a state it has
//! seen; two states are the same when their fingerprints are (TLC's and
//! SPIN's approach). A missed part of the state is a false proof, so every
//! part a model keeps is hashed through [`StateHash`], which each shared
//! value implements by hand: labels for reports (step numbers) are left out
//! on purpose, everything a model may branch on is in.
//!
//! The hash is XXH3-128 (the `xxhash-rust` crate): fast, deterministic
//! from run to run, and with 128 bits the chance that two of 10^8 states
//! collide is about 10^-23.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use xxhash_rust::xxh3::Xxh3;

/// A state's (or a value's) digest.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fingerprint(pub u128);

impl Fingerprint {
    /// Combines fingerprints of a multiset: the order of `add`s does not
    /// matter (AdHash), so a set of tasks or files needs no sorting.
    pub fn plus(self, other: Fingerprint) -> Fingerprint {
        Fingerprint(self.0.wrapping_add(other.0))
    }

    pub fn minus(self, other: Fingerprint) -> Fingerprint {
        Fingerprint(self.0.wrapping_sub(other.0))
    }

    /// The fingerprint of `self` followed by `value`.
    pub fn then(self, value: &(impl StateHash + ?Sized)) -> Fingerprint {
        let mut h = StateHasher::new();
        h.u128(self.0);
        value.state_hash(&mut h);
        h.finish()
    }
}

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// A 128-bit hasher (XXH3-128). Most inputs are a few words: they are
/// gathered in a small buffer and hashed at once; a long one streams.
#[derive(Clone)]
pub struct StateHasher {
    buf: [u8; SMALL],
    len: usize,
    long: Option<Box<Xxh3>>,
    /// Under a symmetry: how to name actors in task names.
    renamer: Option<Arc<super::turns::Renamer>>,
}

/// Bytes gathered before a hasher streams.
const SMALL: usize = 128;

impl Default for StateHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl StateHasher {
    pub fn new() -> Self {
        StateHasher { buf: [0; SMALL], len: 0, long: None, renamer: None }
    }

    /// Task names hashed from now on name actors by their place in the
    /// canonical order of a symmetric state.
    pub fn rename_tasks(&mut self, renamer: Option<Arc<super::turns::Renamer>>) {
        self.renamer = renamer;
    }

    /// A task's name (which, under a symmetry, names its actor's place).
    pub fn task(&mut self, name: &str) {
        match &self.renamer {
            Some(r) => {
                let renamed = r.rename(name).into_owned();
                self.str(&renamed);
            }
            None => self.str(name),
        }
    }

    pub fn bytes(&mut self, bytes: &[u8]) {
        if let Some(long) = &mut self.long {
            long.update(bytes);
        } else if self.len + bytes.len() <= SMALL {
            self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
            self.len += bytes.len();
        } else {
            let mut long = Box::new(Xxh3::new());
            long.update(&self.buf[..self.len]);
            long.update(bytes);
            self.long = Some(long);
        }
    }

    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    pub fn u128(&mut self, v: u128) {
        self.bytes(&v.to_le_bytes());
    }

    /// A string, length first (so `"ab","c"` and `"a","bc"` differ).
    pub fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    pub fn finish(&self) -> Fingerprint {
        match &self.long {
            Some(long) => Fingerprint(long.digest128()),
            None => Fingerprint(xxhash_rust::xxh3::xxh3_128(&self.buf[..self.len])),
        }
    }
}

/// A serializer can write straight into a hasher.
impl std::io::Write for StateHasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fingerprint of one value.
pub fn fingerprint(value: &(impl StateHash + ?Sized)) -> Fingerprint {
    let mut h = StateHasher::new();
    value.state_hash(&mut h);
    h.finish()
}

/// A value that is part of a model's state: hashes everything the model
/// may branch on, and nothing else (not report labels).
pub trait StateHash {
    fn state_hash(&self, h: &mut StateHasher);
}

impl StateHash for Fingerprint {
    fn state_hash(&self, h: &mut StateHasher) {
        h.u128(self.0);
    }
}

macro_rules! ints {
    ($($t:ty),*) => {$(
        impl StateHash for $t {
            fn state_hash(&self, h: &mut StateHasher) {
                h.u64(*self as u64);
            }
        }
    )*};
}
ints!(u8, u16, u32, u64, usize, i32, i64, bool);

impl StateHash for str {
    fn state_hash(&self, h: &mut StateHasher) {
        h.str(self);
    }
}

impl StateHash for String {
    fn state_hash(&self, h: &mut StateHasher) {
        h.str(self);
    }
}

impl<T: StateHash + ?Sized> StateHash for &T {
    fn state_hash(&self, h: &mut StateHasher) {
        (**self).state_hash(h);
    }
}

impl<T: StateHash + ?Sized> StateHash for Arc<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        (**self).state_hash(h);
    }
}

impl<T: StateHash + ?Sized> StateHash for Box<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        (**self).state_hash(h);
    }
}

impl StateHash for () {
    fn state_hash(&self, _: &mut StateHasher) {}
}

impl<T: StateHash, E: StateHash> StateHash for Result<T, E> {
    fn state_hash(&self, h: &mut StateHasher) {
        match self {
            Ok(v) => {
                h.u64(0);
                v.state_hash(h);
            }
            Err(e) => {
                h.u64(1);
                e.state_hash(h);
            }
        }
    }
}

impl<T: StateHash> StateHash for Option<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        match self {
            None => h.u64(0),
            Some(v) => {
                h.u64(1);
                v.state_hash(h);
            }
        }
    }
}

fn sequence<'a, T: StateHash + 'a>(h: &mut StateHasher, len: usize, items: impl Iterator<Item = &'a T>) {
    h.u64(len as u64);
    for item in items {
        item.state_hash(h);
    }
}

impl<T: StateHash> StateHash for [T] {
    fn state_hash(&self, h: &mut StateHasher) {
        sequence(h, self.len(), self.iter());
    }
}

impl<T: StateHash> StateHash for Vec<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        sequence(h, self.len(), self.iter());
    }
}

impl<T: StateHash> StateHash for VecDeque<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        sequence(h, self.len(), self.iter());
    }
}

impl<T: StateHash> StateHash for BTreeSet<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        sequence(h, self.len(), self.iter());
    }
}

impl<K: StateHash, V: StateHash> StateHash for BTreeMap<K, V> {
    fn state_hash(&self, h: &mut StateHasher) {
        h.u64(self.len() as u64);
        for (k, v) in self {
            k.state_hash(h);
            v.state_hash(h);
        }
    }
}

impl<A: StateHash, B: StateHash> StateHash for (A, B) {
    fn state_hash(&self, h: &mut StateHasher) {
        self.0.state_hash(h);
        self.1.state_hash(h);
    }
}

impl<A: StateHash, B: StateHash, C: StateHash> StateHash for (A, B, C) {
    fn state_hash(&self, h: &mut StateHasher) {
        self.0.state_hash(h);
        self.1.state_hash(h);
        self.2.state_hash(h);
    }
}

impl<A: StateHash, B: StateHash, C: StateHash, D: StateHash> StateHash for (A, B, C, D) {
    fn state_hash(&self, h: &mut StateHasher) {
        self.0.state_hash(h);
        self.1.state_hash(h);
        self.2.state_hash(h);
        self.3.state_hash(h);
    }
}

impl StateHash for serde_json::Value {
    fn state_hash(&self, h: &mut StateHasher) {
        use serde_json::Value;
        match self {
            Value::Null => h.u64(0),
            Value::Bool(b) => {
                h.u64(1);
                h.u64(*b as u64);
            }
            Value::Number(n) => {
                h.u64(2);
                h.str(&n.to_string());
            }
            Value::String(s) => {
                h.u64(3);
                h.str(s);
            }
            Value::Array(items) => {
                h.u64(4);
                items.state_hash(h);
            }
            Value::Object(map) => {
                h.u64(5);
                h.u64(map.len() as u64);
                for (k, v) in map {
                    h.str(k);
                    v.state_hash(h);
                }
            }
        }
    }
}

/// Implements [`StateHash`] for a struct from its fields. Every field is
/// named, so a field added to the struct and not here does not compile:
/// those after `skip` are left out, and must be labels no model branches on
/// nor a file's text holds (say why where it is used).
#[macro_export]
macro_rules! state_hash_fields {
    ($ty:ident { $($field:tt),* $(,)? } $(skip { $($skip:tt),* $(,)? })?) => {
        impl $crate::runtime::StateHash for $ty {
            fn state_hash(&self, h: &mut $crate::runtime::StateHasher) {
                let $ty { $($field: _,)* $($($skip: _,)*)? } = self;
                $( $crate::runtime::StateHash::state_hash(&self.$field, h); )*
            }
        }
    };
}

/// Implements [`StateHash`] for a small value through its `Debug` text
/// (results and errors: the text names every variant and field).
#[macro_export]
macro_rules! state_hash_debug {
    ($($ty:ty),* $(,)?) => {$(
        impl $crate::runtime::StateHash for $ty {
            fn state_hash(&self, h: &mut $crate::runtime::StateHasher) {
                h.str(&format!("{self:?}"));
            }
        }
    )*};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_equal_fingerprints_and_order_matters_in_sequences() {
        assert_eq!(fingerprint(&vec!["a".to_string()]), fingerprint(&vec!["a".to_string()]));
        assert_ne!(fingerprint(&("ab", "c")), fingerprint(&("a", "bc")));
        assert_ne!(fingerprint(&vec![1u64, 2]), fingerprint(&vec![2u64, 1]));
        assert_ne!(fingerprint(&None::<u64>), fingerprint(&Some(0u64)));
    }

    #[test]
    fn multisets_add_in_any_order() {
        let (a, b, c) = (fingerprint("a"), fingerprint("b"), fingerprint("c"));
        assert_eq!(a.plus(b).plus(c), c.plus(a).plus(b));
        assert_eq!(a.plus(b).minus(a), b);
        assert_ne!(a.plus(b), a.plus(c));
    }
}
