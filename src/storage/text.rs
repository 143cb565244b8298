//! [`Text`]: a string field of a file shape that is cheap to copy.
//!
//! A model copies a file's value on every read (each `loadPlan` gets its own
//! snapshot, as `JSON.parse` gives each caller its own objects), and copying
//! a `String` allocates. A `Text` is shared instead: a copy counts a
//! reference, and one set from a literal (a status, a mode) allocates
//! nothing. It reads, compares, hashes and serializes as the string it holds.

use crate::runtime::{StateHash, StateHasher};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Literal(&'static str),
    Shared(Arc<str>),
}

impl Text {
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Literal(s) => s,
            Repr::Shared(s) => s,
        }
    }
}

impl Default for Text {
    fn default() -> Self {
        Text(Repr::Literal(""))
    }
}

impl std::ops::Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// A literal: nothing allocated.
impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text(Repr::Literal(s))
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Repr::Shared(s.into()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text(Repr::Shared(s.as_str().into()))
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Self {
        Text(Repr::Shared(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Text) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Text) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl std::hash::Hash for Text {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for Text {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Text {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Text> for str {
    fn eq(&self, other: &Text) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Text> for &str {
    fn eq(&self, other: &Text) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Text> for String {
    fn eq(&self, other: &Text) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

/// As the string it holds: a `Text` and a `String` with the same
/// characters are one state.
impl StateHash for Text {
    fn state_hash(&self, h: &mut StateHasher) {
        h.str(self.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::fingerprint;

    #[test]
    fn a_text_is_the_string_it_holds_however_it_was_made() {
        let string = "running".to_string();
        let literal = Text::from("running");
        let shared = Text::from(string.clone());
        assert_eq!(literal, shared);
        assert!(literal == "running" && "running" == shared && shared == string && string == literal);
        assert_ne!(literal, Text::from("failed"));
        assert_eq!(fingerprint(&literal), fingerprint(&shared));
        assert_eq!(fingerprint(&literal), fingerprint(&string));
        assert_ne!(fingerprint(&literal), fingerprint(&Text::from("failed")));
        assert_eq!(serde_json::to_string(&literal).unwrap(), "\"running\"");
        assert_eq!(serde_json::from_str::<Text>("\"running\"").unwrap(), literal);
        assert_eq!(format!("{literal} {shared:?}"), "running \"running\"");
        let (a, b) = (Text::from("a"), Text::from(String::from("b")));
        assert!(a < b);
        assert_eq!(b.cmp(&a), std::cmp::Ordering::Greater);
    }
}
