//! [`List`]: a file's list of entries, shared between the copies of the
//! file's value and copied only when one of them changes it.

use crate::runtime::{StateHash, StateHasher};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// A `Vec` that copies as a reference count and is copied on its first
/// change (`Arc::make_mut`). Every `loadPlan` hands its caller a copy of
/// `plan.json` (the origin's `JSON.parse` does), and most callers only read
/// it: copying its jobs on every read was a twentieth of a dpor execution of
/// #63. Reads go through `Deref` (`plan.jobs.iter()`, `plan.jobs[i]`) and
/// changes through `DerefMut` (`plan.jobs[i].status = …`), so a holder sees
/// a value of its own, as with a `Vec`.
#[derive(Clone, PartialEq, Eq)]
pub struct List<T>(Arc<Vec<T>>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Arc::new(Vec::new()))
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(v: Vec<T>) -> Self {
        List(Arc::new(v))
    }
}

impl<T> FromIterator<T> for List<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        List(Arc::new(iter.into_iter().collect()))
    }
}

impl<T> Deref for List<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T: Clone> DerefMut for List<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for List<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// As the `Vec` it holds: the same JSON and the same fingerprint.
impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::deserialize(d).map(List::from)
    }
}

impl<T: StateHash> StateHash for List<T> {
    fn state_hash(&self, h: &mut StateHasher) {
        self.0.state_hash(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_copies_the_list_and_leaves_the_other_copies_alone() {
        let original: List<u32> = vec![1, 2, 3].into();
        let mut copy = original.clone();
        assert!(Arc::ptr_eq(&original.0, &copy.0), "a copy shares the entries");
        copy[1] = 20;
        copy.push(4);
        assert_eq!(*original, vec![1, 2, 3]);
        assert_eq!(*copy, vec![1, 20, 3, 4]);
        assert!(!Arc::ptr_eq(&original.0, &copy.0));
    }

    #[test]
    fn it_serializes_and_hashes_as_the_vec_it_holds() {
        let list: List<u32> = vec![1, 2].into();
        assert_eq!(serde_json::to_string(&list).unwrap(), "[1,2]");
        let back: List<u32> = serde_json::from_str("[1,2]").unwrap();
        assert!(back == list);
        assert_eq!(crate::runtime::fingerprint(&list), crate::runtime::fingerprint(&vec![1u32, 2]));
    }
}
