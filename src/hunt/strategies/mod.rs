//! proptest strategies that generate scenario documents valid by
//! construction, one module per system, from the vocabulary of its spec:
//! the operations a search may use, the names `[setup]` defines (jobs, run
//! ids, task ids), and the statuses and choices the system accepts.
//!
//! Every strategy has the same shape, `(actors, setup)` mapped to a
//! [`Document`]: `actors` is a `Vec` (2 to 4) of `Vec`s (1 to 3) of abstract
//! operations, so proptest shrinks by deleting actors first, then
//! operations, then simplifying each operation, and only then the setup.
//! Operations name setup entries by index (taken modulo what the setup
//! defines), so shrinking the setup never makes a document invalid.

pub mod manifest;
pub mod plan;
pub mod runs;

use crate::runtime::Semantics;
use crate::scenario::document::{ActorDoc, CheckDoc, Document};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value};
use std::fmt::Debug;
use std::ops::RangeInclusive;

/// Actors per generated scenario.
pub const ACTORS: RangeInclusive<usize> = 2..=4;
/// Operations per actor.
pub const OPS: RangeInclusive<usize> = 1..=3;

/// Setup features that reach windows the fixed code is known to leave open.
/// A scope switches on only those its fix covers; the whole-system search
/// switches on all of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features {
    /// plan: a second Orchestrator instance (approve and cancel create one).
    pub orchestrators: bool,
    /// plan: paused plans with a checkpoint, supervisor mode.
    pub paused_plan: bool,
    /// runs: SQLite's one-second `datetime('now')` (`same_second = true`).
    pub same_second: bool,
    /// runs: rows whose nodes end at an approval node, which pauses the run
    /// in the middle of its last layer (`ends = "paused"`).
    pub approval_pause: bool,
    /// manifest: external writes that keep the generation (`generation = "same"`).
    pub same_generation: bool,
    /// manifest: a self-write window open at the start (`recent_self_write_until`).
    pub self_write_window: bool,
    /// manifest: external writes the watcher never sees (`watched = false`).
    pub unwatched: bool,
}

impl Features {
    pub const ALL: Features = Features {
        orchestrators: true,
        paused_plan: true,
        same_second: true,
        approval_pause: true,
        same_generation: true,
        self_write_window: true,
        unwatched: true,
    };

    pub fn union(self, o: Features) -> Features {
        Features {
            orchestrators: self.orchestrators || o.orchestrators,
            paused_plan: self.paused_plan || o.paused_plan,
            same_second: self.same_second || o.same_second,
            approval_pause: self.approval_pause || o.approval_pause,
            same_generation: self.same_generation || o.same_generation,
            self_write_window: self.self_write_window || o.self_write_window,
            unwatched: self.unwatched || o.unwatched,
        }
    }
}

/// What a generated scenario may contain.
#[derive(Clone, Debug, PartialEq)]
pub struct Vocabulary {
    pub system: &'static str,
    pub semantics: Semantics,
    /// The operations actors draw from (names of the system's spec).
    pub ops: Vec<&'static str>,
    /// `[check] invariants`.
    pub invariants: Vec<&'static str>,
    pub features: Features,
}

impl Vocabulary {
    pub fn allows(&self, op: &str) -> bool {
        self.ops.contains(&op)
    }
}

/// Scenario bodies (system, semantics, setup, actors, check) of `vocabulary`;
/// title, origin, explore and expectations are left to the caller.
pub fn documents(vocabulary: &Vocabulary) -> BoxedStrategy<Document> {
    match vocabulary.system {
        "plan" => plan::documents(vocabulary),
        "runs" => runs::documents(vocabulary),
        "manifest" => manifest::documents(vocabulary),
        other => panic!("no strategy for the {other} system"),
    }
}

/// `ACTORS` actors of `OPS` operations each.
fn actors<O: Clone + Debug + 'static>(op: BoxedStrategy<O>) -> BoxedStrategy<Vec<Vec<O>>> {
    vec(vec(op, OPS), ACTORS).boxed()
}

/// The strategies of the allowed operations, as one.
fn one_of<O: Clone + Debug + 'static>(
    vocabulary: &Vocabulary,
    candidates: Vec<(&'static str, BoxedStrategy<O>)>,
) -> BoxedStrategy<O> {
    let allowed: Vec<BoxedStrategy<O>> =
        candidates.into_iter().filter(|(name, _)| vocabulary.allows(name)).map(|(_, s)| s).collect();
    assert!(!allowed.is_empty(), "a vocabulary of the {} system allows no operation", vocabulary.system);
    proptest::strategy::Union::new(allowed).boxed()
}

/// The document of a generated scenario: actors `actor-1`... (empty actors dropped).
fn document(vocabulary: &Vocabulary, setup: Map<String, Value>, actors: Vec<Vec<Map<String, Value>>>) -> Document {
    let actors = actors
        .into_iter()
        .enumerate()
        .filter(|(_, ops)| !ops.is_empty())
        .map(|(i, ops)| ActorDoc { name: format!("actor-{}", i + 1), ops })
        .collect();
    Document {
        system: vocabulary.system.to_string(),
        semantics: Some(vocabulary.semantics.name().to_string()),
        setup,
        actors,
        check: CheckDoc {
            invariants: vocabulary.invariants.iter().map(|s| s.to_string()).collect(),
            reachable: Vec::new(),
        },
        ..Document::default()
    }
}

/// A table from `(key, value)` pairs, skipping `None`s.
fn table(entries: Vec<(&str, Option<Value>)>) -> Map<String, Value> {
    entries.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect()
}
