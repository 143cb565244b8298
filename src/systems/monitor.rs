//! Invariants as online monitors.
//!
//! A monitor sees each event of an execution as it is recorded and says when
//! its invariant breaks, so an execution can end at the very step that
//! breaks it. What it keeps is split in two: the *state* its verdicts depend
//! on, which is small and goes into every fingerprint of the state-caching
//! search (a monitor that judged the whole history would force the whole
//! history into the state), and *notes* (step numbers, who did what) that
//! only its messages use and no fingerprint sees.
//!
//! A monitor must judge events on different resources independently of
//! their order: the explorers keep in order only events on one resource
//! (one file, one lock, the notes), and two executions that differ only in
//! the order of the others are the same to them.

use crate::history::Event;
use crate::runtime::StateHasher;
use serde_json::Value;
use std::cell::OnceCell;

/// The persisted state at the end of an execution, built the first time a
/// monitor (or a report) asks for it: most executions never need it.
pub struct FinalState<'a> {
    build: &'a dyn Fn() -> Value,
    value: OnceCell<Value>,
}

impl<'a> FinalState<'a> {
    pub fn new(build: &'a dyn Fn() -> Value) -> Self {
        FinalState { build, value: OnceCell::new() }
    }

    /// The state (built now if nobody asked before).
    pub fn get(&self) -> &Value {
        self.value.get_or_init(self.build)
    }

    /// The state, built or not yet.
    pub fn into_value(self) -> Value {
        let FinalState { build, value } = self;
        value.into_inner().unwrap_or_else(build)
    }
}

pub trait Monitor: Send + MonitorClone {
    /// Sees one event as it is recorded: `Some(message)` when the invariant
    /// breaks with it.
    fn observe(&mut self, event: &Event) -> Option<String>;

    /// Judges the end of an execution that ran to completion. `events` (the
    /// whole history) may be used to explain, never to decide: the verdict
    /// depends on the monitor's state and `final_state` only.
    fn at_end(&mut self, _events: &[Event], _final_state: &FinalState) -> Option<String> {
        None
    }

    /// Hashes the monitor's state (not its notes). Task names go through
    /// [`StateHasher::task`], which under a symmetry names actors by their
    /// place, not their name.
    fn state_hash(&self, h: &mut StateHasher);
}

/// A monitor copied with its state (a search keeps one per state it may
/// branch from, instead of showing it every event again).
pub trait MonitorClone {
    fn boxed_clone(&self) -> Box<dyn Monitor>;
}

impl<T: Monitor + Clone + 'static> MonitorClone for T {
    fn boxed_clone(&self) -> Box<dyn Monitor> {
        Box::new(self.clone())
    }
}

/// A monitor for a name no system knows (scenarios are validated against
/// the spec first, so this only guards programming errors).
#[derive(Clone)]
pub struct Unknown(pub String);

impl Monitor for Unknown {
    fn observe(&mut self, _: &Event) -> Option<String> {
        None
    }
    fn at_end(&mut self, _: &[Event], _: &FinalState) -> Option<String> {
        Some(format!("unknown invariant {:?}", self.0))
    }
    fn state_hash(&self, _: &mut StateHasher) {}
}
