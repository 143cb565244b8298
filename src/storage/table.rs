//! A table of rows whose statements are atomic, like SQL `UPDATE ... WHERE`.

use crate::platform::Platform;
use crate::runtime::{Runtime, Shared, StateHash};
use std::collections::BTreeMap;

/// Rows keyed by id. Each statement (`select`, `update_where`, `insert`) is
/// one atomic step: under threads semantics a scheduling point, as a database
/// round-trip is; the awaits around it belong to the caller.
pub struct Table<P: Platform, R: Clone + Send + 'static> {
    rows: Shared<P, BTreeMap<String, R>>,
}

impl<P: Platform, R: Clone + Send + StateHash + 'static> Table<P, R> {
    pub fn new(rt: &Runtime<P>, rows: impl IntoIterator<Item = (String, R)>) -> Self {
        Table { rows: Shared::new(rt, rows.into_iter().collect()) }
    }

    pub fn select(&self, id: &str) -> Option<R> {
        self.rows.read(|rows| rows.get(id).cloned())
    }

    /// Every row matching `filter`, in id order.
    pub fn select_where(&self, filter: impl Fn(&R) -> bool) -> Vec<(String, R)> {
        self.rows.read(|rows| rows.iter().filter(|(_, r)| filter(r)).map(|(k, r)| (k.clone(), r.clone())).collect())
    }

    /// `UPDATE ... SET ... WHERE id = $1 AND <guard>`: returns the row count
    /// (0 or 1) and the row as it is after the statement.
    pub fn update_where(&self, id: &str, guard: impl Fn(&R) -> bool, set: impl FnOnce(&mut R)) -> (usize, Option<R>) {
        self.rows.with(|rows| match rows.get_mut(id) {
            Some(row) if guard(row) => {
                set(row);
                (1, Some(row.clone()))
            }
            other => (0, other.map(|r| r.clone())),
        })
    }

    pub fn insert(&self, id: &str, row: R) {
        self.rows.with(|rows| rows.insert(id.to_string(), row));
    }

    pub fn all(&self) -> Vec<(String, R)> {
        self.select_where(|_| true)
    }
}
