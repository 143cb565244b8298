//! What a file holds: the value a model wrote (its file shape, parsed), or
//! text. A model reads its own files back as values, with no JSON in
//! between; the text of a value is rendered once, and only when a person
//! (a report, a trace) or a real directory needs it.

use crate::runtime::{Fingerprint, StateHash, StateHasher};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

/// A file's shape (or a row's), kept parsed on the memory disk and in the
/// history.
pub trait FileShape: Serialize + StateHash + Send + Sync + 'static {
    /// The file's text (the origin's formatting).
    fn render(&self) -> String {
        serde_json::to_string_pretty(self).expect("file shapes serialize")
    }
}

type Render = fn(&(dyn Any + Send + Sync)) -> String;
type Hash = fn(&(dyn Any + Send + Sync), &mut StateHasher);

enum Held {
    Text,
    Value { value: Arc<dyn Any + Send + Sync>, render: Render, hash: Hash },
}

struct Inner {
    held: Held,
    text: OnceLock<Arc<str>>,
    /// Built on first use: only the stateful explorer fingerprints files.
    fingerprint: OnceLock<Fingerprint>,
}

/// A file's contents (cheap to clone: shared).
#[derive(Clone)]
pub struct Contents(Arc<Inner>);

fn render_as<T: FileShape>(value: &(dyn Any + Send + Sync)) -> String {
    value.downcast_ref::<T>().expect("a value renders as its own type").render()
}

fn hash_as<T: FileShape>(value: &(dyn Any + Send + Sync), h: &mut StateHasher) {
    value.downcast_ref::<T>().expect("a value hashes as its own type").state_hash(h);
}

impl Contents {
    pub fn text(text: impl Into<Arc<str>>) -> Contents {
        let text = OnceLock::from(text.into());
        Contents(Arc::new(Inner { held: Held::Text, text, fingerprint: OnceLock::new() }))
    }

    /// A value of a file shape.
    pub fn of<T: FileShape>(value: T) -> Contents {
        Contents::shared(Arc::new(value))
    }

    /// A value of a file shape that others hold too (a table's row): kept
    /// as it is, not copied.
    pub fn shared<T: FileShape>(value: Arc<T>) -> Contents {
        let held = Held::Value { value, render: render_as::<T>, hash: hash_as::<T> };
        Contents(Arc::new(Inner { held, text: OnceLock::new(), fingerprint: OnceLock::new() }))
    }

    /// The text (rendered from the value the first time it is asked for).
    pub fn as_text(&self) -> &str {
        self.text_arc_ref()
    }

    pub fn text_arc(&self) -> Arc<str> {
        self.text_arc_ref().clone()
    }

    fn text_arc_ref(&self) -> &Arc<str> {
        self.0.text.get_or_init(|| match &self.0.held {
            Held::Value { value, render, .. } => render(&**value).into(),
            Held::Text => unreachable!("text contents are made with their text"),
        })
    }

    /// The value, if the file holds a `T`.
    pub fn value<T: 'static>(&self) -> Option<&T> {
        match &self.0.held {
            Held::Value { value, .. } => value.downcast_ref::<T>(),
            Held::Text => None,
        }
    }

    /// The file read as a `T`: the value itself (cloned) if it is one, else
    /// its text parsed.
    pub fn parse<T: FileShape + DeserializeOwned + Clone>(&self) -> serde_json::Result<T> {
        match self.value::<T>() {
            Some(v) => Ok(v.clone()),
            None => serde_json::from_str(self.as_text()),
        }
    }

    /// These contents holding a `T` as a value: themselves, or a value
    /// parsed from their text (`None`: they do not parse as one). For a
    /// reader that keeps what it read and looks at it again.
    pub fn as_value<T: FileShape + DeserializeOwned>(&self) -> Option<Contents> {
        match self.value::<T>() {
            Some(_) => Some(self.clone()),
            None => serde_json::from_str::<T>(self.as_text()).ok().map(Contents::of),
        }
    }

    /// `f` on the file as a `T`, without copying a value (`None`: it does
    /// not parse as one).
    pub fn with<T: FileShape + DeserializeOwned, R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        match self.value::<T>() {
            Some(v) => Some(f(v)),
            None => serde_json::from_str::<T>(self.as_text()).ok().map(|v| f(&v)),
        }
    }

    /// A value's fingerprint covers what its JSON holds, field by field
    /// (its `StateHash`; no text is built).
    pub fn fingerprint(&self) -> Fingerprint {
        *self.0.fingerprint.get_or_init(|| {
            let mut h = StateHasher::new();
            match &self.0.held {
                Held::Value { value, hash, .. } => {
                    h.str("value");
                    hash(&**value, &mut h);
                }
                Held::Text => {
                    h.str("text");
                    h.str(self.as_text());
                }
            }
            h.finish()
        })
    }
}

/// What a task learns from reading it, in a state's fingerprint.
impl StateHash for Contents {
    fn state_hash(&self, h: &mut StateHasher) {
        self.fingerprint().state_hash(h);
    }
}

impl From<&str> for Contents {
    fn from(text: &str) -> Self {
        Contents::text(text)
    }
}

impl From<&String> for Contents {
    fn from(text: &String) -> Self {
        Contents::text(text.as_str())
    }
}

impl From<String> for Contents {
    fn from(text: String) -> Self {
        Contents::text(text)
    }
}

/// The text (rendered on first use: for reports and traces, not models).
impl std::ops::Deref for Contents {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_text()
    }
}

impl fmt::Display for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_text())
    }
}

impl fmt::Debug for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_text(), f)
    }
}

impl PartialEq for Contents {
    fn eq(&self, other: &Self) -> bool {
        self.as_text() == other.as_text()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Shape {
        name: String,
        n: u32,
    }
    crate::state_hash_fields!(Shape { name, n });
    impl FileShape for Shape {}

    #[test]
    fn a_value_reads_back_as_itself_and_renders_as_its_json() {
        let c = Contents::of(Shape { name: "a".into(), n: 1 });
        assert_eq!(c.value::<Shape>(), Some(&Shape { name: "a".into(), n: 1 }));
        assert_eq!(c.as_text(), "{\n  \"name\": \"a\",\n  \"n\": 1\n}");
        let text = Contents::text(c.as_text());
        assert_eq!(text.parse::<Shape>().unwrap(), Shape { name: "a".into(), n: 1 });
        assert_eq!(text.value::<Shape>(), None);
    }

    #[test]
    fn fingerprints_follow_the_serialized_value() {
        let a = Contents::of(Shape { name: "a".into(), n: 1 });
        let b = Contents::of(Shape { name: "a".into(), n: 1 });
        let c = Contents::of(Shape { name: "a".into(), n: 2 });
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(Contents::text("x").fingerprint(), Contents::text("y").fingerprint());
    }
}
