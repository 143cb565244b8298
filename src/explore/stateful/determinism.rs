//! Determinism checks: a fingerprint is only as good as the rule it rests
//! on, that tasks keep no state outside the runtime. On every state
//! reached twice the search follows the turns it first ran from there once
//! more, and after the search it runs the first execution again; a model
//! that keeps a static, a thread-local or a step number it branches on is
//! caught there, and the search ends `incomplete`.

use super::{FirstTurn, Shared};
use crate::execution::Controlled;
use crate::history::History;
use crate::runtime::Fingerprint;

impl Shared<'_> {
    /// At a state reached again: the turns first run from it must lead
    /// where they led then, or the fingerprint misses part of the state (or,
    /// under a symmetry, the actors were not interchangeable after all).
    /// The check follows the first turn run from each state, up to
    /// [`CHECKED_TURNS`] turns: what a task hides often shows a turn or two
    /// later, when it writes it.
    pub(super) fn check_determinism(
        &self,
        exec: &mut Controlled,
        first: Option<FirstTurn>,
        here: Fingerprint,
        identities: &[Fingerprint],
        turns: usize,
    ) -> Result<(), String> {
        if !self.reduction.check_revisits {
            return Ok(());
        }
        let (mut first, mut here, mut identities) = (first, here, identities.to_vec());
        for _ in 0..turns {
            let Some(FirstTurn { task: who, led_to: then }) = first else { return Ok(()) };
            let Some(task) = exec.waiting().into_iter().find(|&t| identities[t].0 as u64 == who) else {
                return Err(format!(
                    "the model is not deterministic: state {here:?} was reached again, but the task first run from \
                     it does not wait for the loop now"
                ));
            };
            let name = exec.task_name(task);
            if exec.run_turn(task).is_err() {
                return Err(format!(
                    "the model is not deterministic: {name}'s turn from state {here:?} panicked, it did not before"
                ));
            }
            let (now, now_identities) = exec.fingerprint(&self.reduction.parts, &self.symmetry);
            if now.0 as u64 != then {
                return Err(format!(
                    "the model is not deterministic: state {here:?} was reached again, and {name}'s turn from it led \
                     to {now:?} where it first led to a state ending in {then:016x}; a task keeps state the runtime \
                     does not see (a static, a thread-local, a step number it branches on)"
                ));
            }
            first = self.first(&now);
            (here, identities) = (now, now_identities);
        }
        Ok(())
    }

    /// After the search: the first execution, run once more, must pass the
    /// same states. A model that keeps something from one execution to the
    /// next (a counter in a static) shows here, thousands of executions on.
    pub(super) fn run_first_again(&self) -> Result<(), String> {
        let history = History::new();
        let mut exec = Controlled::start(self.model, self.variant, &history);
        let (root, identities) = exec.fingerprint(&self.reduction.parts, &self.symmetry);
        if self.visited.with(&root, |v| !v.contains_key(&root)) {
            return Err(format!(
                "the model is not deterministic: it starts in state {root:?} now, where it started elsewhere before"
            ));
        }
        self.check_determinism(&mut exec, self.first(&root), root, &identities, usize::MAX)
            .map_err(|e| format!("{e} (the first execution, run again after the search)"))
    }
}

/// How many turns the determinism check follows from a state reached again.
pub(super) const CHECKED_TURNS: usize = 4;
