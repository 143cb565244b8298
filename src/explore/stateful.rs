//! `stateful`: every reachable state of an event-loop model, each explored
//! once, with sleep sets.
//!
//! dpor runs one execution per order of the turns that conflict; siblings
//! that complete in any order multiply those orders, so its cost grows
//! factorially with the actors. Most of those orders end in the same state:
//! here each state between two turns is identified by its fingerprint (the
//! shared state, every live task's chain, the clock and the monitors'
//! states; see `runtime::turns`), and an execution that reaches a state
//! already explored stops there (TLC's fingerprint set, SPIN's state
//! hashing). The cost then grows with the number of distinct states.
//!
//! The search is a depth-first search over states, with stateless replay:
//! tasks are coroutines whose stacks cannot be copied, so each execution
//! replays the choices that lead to the state it branches from. Sleep sets
//! (Godefroid 1996) keep it from taking, from a state, a task whose turn
//! commutes with a turn already explored from an ancestor: that would only
//! reach states reached the other way. Sleep sets are combined with caching
//! the way Godefroid's thesis (§5.3) does it, which keeps every reachable
//! state reachable: a state is stored with the tasks that were asleep on
//! its first visit, and a later visit on which some of them are awake runs
//! those. Stateful DPOR (Yang et al. 2008) would cut more, but its summary
//! of explored subtrees is where such searches have gone wrong; sleep sets
//! need none.
//!
//! A fingerprint is only as good as the rule it rests on: tasks keep no
//! state outside the runtime. On every state reached twice the search runs
//! the turn it first ran from there once more and checks that it leads to
//! the same state; a model that keeps a static, a thread-local or a step
//! number it branches on is caught there and the search ends `incomplete`.

use super::{DEADLOCK, Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{Controlled, Model, Outcome};
use crate::history::History;
use crate::runtime::{Fingerprint, Semantics, StateParts, TaskId, Turn};
use crate::systems::Variant;
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// What the state-caching search may use to cut. Everything, except in
/// tests that switch a part off on purpose to show that the search then
/// gives wrong answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reduction {
    /// What a state's fingerprint covers.
    pub parts: StateParts,
    pub sleep_sets: bool,
}

impl Default for Reduction {
    fn default() -> Self {
        Reduction { parts: StateParts::ALL, sleep_sets: true }
    }
}

/// A state on the current path.
struct Node {
    fingerprint: Fingerprint,
    /// Tasks waiting for the loop here (to check that a replay agrees).
    waiting: Vec<TaskId>,
    /// The task run from here in the execution in progress, who it was
    /// (a task that ends may go on as a task it spawned), and its turn.
    chosen: TaskId,
    chosen_identity: Fingerprint,
    ran: Option<Turn>,
    /// Tasks still to run from here.
    todo: Vec<TaskId>,
    /// Tasks already run from here, with their turns.
    done: Vec<(TaskId, Turn)>,
    /// Tasks asleep here, with the turn each would run.
    sleep: Vec<(TaskId, Turn)>,
}

/// A state explored (or being explored).
struct Seen {
    /// Identities of the tasks asleep on every visit so far: the only ones
    /// not run from it.
    asleep: Vec<Fingerprint>,
    /// The first task run from it and the state that turn led to.
    first: Option<(Fingerprint, Fingerprint)>,
}

/// How one execution ended.
enum Ended {
    /// It reached a state explored before, or one whose every task is asleep.
    Pruned,
    /// Every task finished.
    End(Outcome),
    /// An invariant broke (the outcome so far).
    Violated(Outcome),
    /// The search cannot go on: a model panic, a deadlock (with the events
    /// so far), a model that is not deterministic.
    Broken(String, History),
    TimeUp,
}

/// How a search ended.
struct Searched {
    executions: usize,
    states: usize,
    /// Why it stopped before it explored every state, at which execution
    /// (`None`: it explored them all).
    ended: Option<(Ended, usize)>,
}

struct Search<'a> {
    model: &'a Model,
    variant: &'a Variant,
    reduction: Reduction,
    limits: &'a Limits,
    start: Instant,
    path: Vec<Node>,
    visited: HashMap<Fingerprint, Seen>,
    /// Stop at the first violation (else: record every end).
    stop_at_violation: bool,
}

impl Search<'_> {
    /// The sleep set of the state after `node`'s turn `ran`.
    fn sleep_after(&self, node: &Node, ran: &Turn) -> Vec<(TaskId, Turn)> {
        if !self.reduction.sleep_sets {
            return Vec::new();
        }
        super::asleep_after(node.sleep.iter().chain(&node.done), ran)
    }

    /// Moves to the next branch to explore; `false` when there is none.
    fn backtrack(&mut self) -> bool {
        while let Some(node) = self.path.last_mut() {
            if let Some(next) = node.todo.pop() {
                let ran = node.ran.take().expect("the chosen task ran");
                node.done.push((node.chosen, ran));
                node.chosen = next;
                return true;
            }
            self.path.pop();
        }
        false
    }

    fn time_up(&self) -> bool {
        self.start.elapsed() >= self.limits.max_time
    }

    /// Runs one execution: replays the path, then explores new states
    /// until one was seen before, every task is asleep, or the end.
    fn execute(&mut self) -> Ended {
        let history = History::new();
        let mut exec = Controlled::start(self.model, self.variant, &history);
        let broken = |message: String| Ended::Broken(message, history.clone());
        // Replay the path (the last node's choice is the new branch).
        for k in 0..self.path.len() {
            let waiting = exec.waiting();
            if waiting != self.path[k].waiting {
                return broken(format!(
                    "the model is not deterministic: at turn {k} tasks {waiting:?} waited for the loop, earlier {:?}",
                    self.path[k].waiting
                ));
            }
            self.path[k].chosen_identity = exec.task_identity(self.path[k].chosen);
            match exec.run_turn(self.path[k].chosen) {
                Ok(turn) => self.path[k].ran = Some(turn),
                Err(panic) => return broken(panic_message(&*panic)),
            }
        }
        let mut turns = 0usize;
        loop {
            turns += 1;
            if turns.is_multiple_of(256) && self.time_up() {
                return Ended::TimeUp;
            }
            if exec.violation().is_some() && self.stop_at_violation {
                return Ended::Violated(exec.outcome());
            }
            let fingerprint = exec.fingerprint(&self.reduction.parts);
            let waiting = exec.waiting();
            let sleep = match self.path.last() {
                Some(parent) => {
                    let ran = parent.ran.as_ref().expect("the parent's turn ran");
                    let sleep = self.sleep_after(parent, ran);
                    let first = (parent.chosen_identity, fingerprint);
                    let seen = self.visited.get_mut(&parent.fingerprint).expect("every node is visited");
                    seen.first.get_or_insert(first);
                    sleep
                }
                None => Vec::new(),
            };
            let asleep: Vec<Fingerprint> = sleep.iter().map(|(t, _)| exec.task_identity(*t)).collect();
            let todo: Vec<TaskId> = match self.visited.get_mut(&fingerprint) {
                Some(seen) => {
                    let wake: Vec<Fingerprint> = seen.asleep.iter().copied().filter(|t| !asleep.contains(t)).collect();
                    if wake.is_empty() {
                        let first = seen.first;
                        return match self.check_determinism(&mut exec, first, fingerprint) {
                            Ok(()) => Ended::Pruned,
                            Err(message) => broken(message),
                        };
                    }
                    seen.asleep.retain(|t| asleep.contains(t));
                    waiting.iter().copied().filter(|&t| wake.contains(&exec.task_identity(t))).collect()
                }
                None => {
                    let stored =
                        waiting.iter().map(|&t| exec.task_identity(t)).filter(|t| asleep.contains(t)).collect();
                    self.visited.insert(fingerprint, Seen { asleep: stored, first: None });
                    waiting.iter().copied().filter(|t| sleep.iter().all(|(s, _)| s != t)).collect()
                }
            };
            if waiting.is_empty() {
                if exec.deadlocked() {
                    return broken(DEADLOCK.to_string());
                }
                let outcome = exec.outcome();
                return if outcome.violation.is_some() && self.stop_at_violation {
                    Ended::Violated(outcome)
                } else {
                    Ended::End(outcome)
                };
            }
            if todo.is_empty() {
                return Ended::Pruned;
            }
            // The task that ran last, if it may: fewest context switches first.
            let previous = self.path.last().map(|p| p.chosen);
            let mut todo = todo;
            let at = previous.and_then(|p| todo.iter().position(|&t| t == p)).unwrap_or(0);
            let chosen = todo.remove(at);
            todo.reverse(); // popped from the back: the rest in start order
            let chosen_identity = exec.task_identity(chosen);
            let node = Node { fingerprint, waiting, chosen, chosen_identity, ran: None, todo, done: Vec::new(), sleep };
            self.path.push(node);
            match exec.run_turn(chosen) {
                Ok(turn) => self.path.last_mut().expect("just pushed").ran = Some(turn),
                Err(panic) => return broken(panic_message(&*panic)),
            }
        }
    }

    /// At a state reached again: the turn first run from it must lead
    /// where it led then, or the fingerprint misses part of the state.
    fn check_determinism(
        &self,
        exec: &mut Controlled,
        first: Option<(Fingerprint, Fingerprint)>,
        here: Fingerprint,
    ) -> Result<(), String> {
        let Some((who, then)) = first else { return Ok(()) };
        let Some(task) = exec.waiting().into_iter().find(|&t| exec.task_identity(t) == who) else {
            return Err(format!(
                "the model is not deterministic: state {here:?} was reached again, but the task first run from it \
                 does not wait for the loop now"
            ));
        };
        let name = exec.task_name(task);
        if exec.run_turn(task).is_err() {
            return Err(format!(
                "the model is not deterministic: {name}'s turn from state {here:?} panicked, it did not before"
            ));
        }
        let now = exec.fingerprint(&self.reduction.parts);
        if now != then {
            return Err(format!(
                "the model is not deterministic: state {here:?} was reached again, and {name}'s turn from it led to \
                 {now:?} where it first led to {then:?}; a task keeps state the runtime does not see (a static, a \
                 thread-local, a step number it branches on)"
            ));
        }
        Ok(())
    }
}

/// Explores every state, handing each end (or the first violation) to
/// `visit`; stops at the first violation when `stop_at_violation`.
fn search(
    model: &Model,
    variant: &Variant,
    reduction: Reduction,
    limits: &Limits,
    stop_at_violation: bool,
    visit: &mut dyn FnMut(&Outcome),
) -> Searched {
    let mut search = Search {
        model,
        variant,
        reduction,
        limits,
        start: Instant::now(),
        path: Vec::new(),
        visited: HashMap::new(),
        stop_at_violation,
    };
    let mut executions = 0;
    let ended = quiet::quietly(|| {
        loop {
            if search.time_up() {
                return Some((Ended::TimeUp, executions));
            }
            executions += 1;
            match search.execute() {
                Ended::Pruned => {}
                Ended::End(outcome) => visit(&outcome),
                Ended::Violated(outcome) => {
                    visit(&outcome);
                    return Some((Ended::Violated(outcome), executions));
                }
                other => return Some((other, executions)),
            }
            if !search.backtrack() {
                return None;
            }
        }
    });
    Searched { executions, states: search.visited.len(), ended }
}

fn refuse_threads(model: &Model) -> Option<String> {
    (model.semantics != Semantics::EventLoop).then(|| {
        "the stateful explorer explores the turns of an event loop; this scenario runs under threads semantics, \
         where every shared access is a scheduling point: use the exhaustive explorer"
            .to_string()
    })
}

/// The verdict of a search, with the executions and distinct states it took.
pub(super) fn run(model: &Model, variant: &Variant, limits: &Limits) -> (Verdict, usize, usize) {
    if let Some(reason) = refuse_threads(model) {
        return (Verdict::Incomplete { reason }, 0, 0);
    }
    let searched = search(model, variant, Reduction::default(), limits, true, &mut |_| {});
    let (executions, states) = (searched.executions, searched.states);
    let verdict = match searched.ended {
        None => Verdict::Proved { bound: None },
        Some((Ended::Violated(outcome), execution)) => {
            let violation = outcome.violation.expect("a violated end has a violation");
            let replay = Replay::Stateful { execution };
            Verdict::Violation(Box::new(Failure::new(violation, outcome.events, outcome.final_state, replay)))
        }
        Some((Ended::Broken(message, history), execution)) if !message.starts_with("the model is not") => {
            verdict_for_panic(message, history.events(), Replay::Stateful { execution })
        }
        Some((Ended::Broken(reason, _), _)) => Verdict::Incomplete { reason },
        Some((Ended::TimeUp, _)) => Verdict::Incomplete {
            reason: format!(
                "time limit of {:?} reached after {executions} executions and {states} distinct states",
                limits.max_time
            ),
        },
        Some((Ended::Pruned | Ended::End(_), _)) => unreachable!("the search goes on past these"),
    };
    (verdict, executions, states)
}

/// Every distinct end (see [`super::outcomes`]), with executions and states.
pub(super) fn outcomes(
    model: &Model,
    variant: &Variant,
    reduction: Reduction,
    limits: &Limits,
) -> Result<(BTreeSet<String>, usize, usize), String> {
    if let Some(reason) = refuse_threads(model) {
        return Err(reason);
    }
    let mut seen = BTreeSet::new();
    let searched = search(model, variant, reduction, limits, false, &mut |outcome| {
        seen.insert(super::outcome_key(outcome));
    });
    match searched.ended {
        None => Ok((seen, searched.executions, searched.states)),
        Some((Ended::Broken(message, _), _)) => Err(message),
        Some(_) => Err(format!("time limit of {:?} reached", limits.max_time)),
    }
}
