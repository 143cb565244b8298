//! `dpor`: every execution of an event-loop model, up to the order of turns
//! that commute (dynamic partial-order reduction).
//!
//! On an event loop an execution is a sequence of atomic *turns* (a task's
//! code between two awaits). Loom sees every turn take one mutex, the loop,
//! so it must try every order of every two turns. Here the runtime hands the
//! loop out itself ([`TurnControl`]) and reports what each turn touched: two
//! turns of different tasks that share no resource, or only read it, commute,
//! and only one order of them is run.
//!
//! The search is Flanagan and Godefroid's DPOR (POPL 2005), with races found
//! after each execution from the turns' footprints: a turn `j` races with the
//! last earlier turn `i` of another task that conflicts with it and does not
//! happen before `j`'s task already; the search then also runs, from the
//! state before `i`, `j`'s task (or, if it was not waiting for the loop
//! there, a task leading to it). It is sound for terminating models whose
//! turns touch shared state only through the runtime (every `Shared`,
//! `Flag`, file and history event reports itself), which is how the models
//! are written. A search that ends proves the invariants for every
//! interleaving, with no preemption bound; one that hits the time limit is
//! `incomplete`.
//!
//! The tasks run on shuttle's threads, one at a time: shuttle's own choices
//! are forced (only the task holding the loop does anything).

use super::{Failure, Limits, Replay, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{Model, Outcome, execute_controlled};
use crate::history::History;
use crate::platform::Shuttle;
use crate::runtime::{Semantics, TaskId, Turn, TurnControl};
use crate::systems::Variant;
use shuttle::scheduler::{Schedule, Scheduler, Task, TaskId as ShuttleTask};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

/// A choice point: who waited for the loop, who got it, who still must.
struct Node {
    waiting: Vec<TaskId>,
    chosen: TaskId,
    backtrack: BTreeSet<TaskId>,
    done: BTreeSet<TaskId>,
    /// Tasks run here in earlier executions, with the turn they ran.
    siblings: Vec<(TaskId, Turn)>,
    /// Tasks asleep here: running one now only repeats (up to the order of
    /// independent turns) an execution already run. Each stays asleep until
    /// a turn conflicts with the turn it would run.
    sleep: Vec<(TaskId, Turn)>,
}

#[derive(Default)]
struct Tree {
    /// The choices of the execution in progress; node `k` picked who runs turn `k`.
    path: Vec<Node>,
    /// The turns of the execution in progress.
    turns: Vec<Turn>,
    /// The first node of this execution where every waiting task was asleep:
    /// from there on it only repeats executions already run.
    blocked: Option<usize>,
    /// Set when a replayed prefix did not see the same waiting tasks.
    diverged: Option<String>,
    finished: bool,
}

impl Tree {
    /// The sleep set at node `k`, carried from node `k - 1` over its turn.
    fn sleep_at(&self, k: usize) -> Vec<(TaskId, Turn)> {
        let Some(prev) = k.checked_sub(1).map(|i| &self.path[i]) else { return Vec::new() };
        let ran = &self.turns[k - 1];
        prev.sleep
            .iter()
            .chain(&prev.siblings)
            .filter(|(task, turn)| *task != ran.task && !turn.conflicts(ran))
            .cloned()
            .collect()
    }

    fn choose(&mut self, ended: Option<Turn>, waiting: &[TaskId]) -> Option<TaskId> {
        if let Some(turn) = ended {
            self.turns.push(turn);
        }
        let k = self.turns.len();
        if waiting.is_empty() {
            return None;
        }
        let sleep = self.sleep_at(k);
        if let Some(node) = self.path.get_mut(k) {
            if node.waiting != waiting && self.diverged.is_none() {
                self.diverged = Some(format!(
                    "the model is not deterministic: at turn {k} tasks {:?} waited for the loop, earlier {:?}",
                    waiting, node.waiting
                ));
            }
            node.sleep = sleep;
            return Some(if waiting.contains(&node.chosen) { node.chosen } else { waiting[0] });
        }
        // A new choice point: a task that is awake; the one that just let the
        // loop go if it can (fewest context switches first), else the first.
        let awake: Vec<TaskId> = waiting.iter().copied().filter(|t| sleep.iter().all(|(s, _)| s != t)).collect();
        if awake.is_empty() && self.blocked.is_none() {
            self.blocked = Some(k);
        }
        let pool = if awake.is_empty() { waiting } else { &awake };
        let previous = self.turns.last().map(|t| t.task);
        let chosen = previous.filter(|p| pool.contains(p)).unwrap_or(pool[0]);
        self.path.push(Node {
            waiting: waiting.to_vec(),
            chosen,
            backtrack: BTreeSet::from([chosen]),
            done: BTreeSet::from([chosen]),
            siblings: Vec::new(),
            sleep,
        });
        Some(chosen)
    }

    /// Finds the races of the execution just run, then moves to the next
    /// execution to run; `finished` when there is none.
    fn end_execution(&mut self) {
        self.add_backtracks();
        // Past a blocked node every execution repeats one already run.
        if let Some(b) = self.blocked.take() {
            self.path.truncate(b);
        }
        while let Some(k) = self.path.len().checked_sub(1) {
            let node = &self.path[k];
            let asleep = |t: &TaskId| node.sleep.iter().any(|(s, _)| s == t);
            let next = node.backtrack.iter().copied().find(|t| !node.done.contains(t) && !asleep(t));
            match next {
                Some(next) => {
                    let ran = self.turns[k].clone();
                    let node = &mut self.path[k];
                    node.siblings.push((node.chosen, ran));
                    node.chosen = next;
                    node.done.insert(next);
                    self.turns.clear();
                    return;
                }
                None => {
                    self.path.pop();
                }
            }
        }
        self.turns.clear();
        self.finished = true;
    }

    fn add_backtracks(&mut self) {
        let turns = &self.turns;
        let n = turns.len().min(self.path.len());
        let tasks = turns.iter().flat_map(|t| std::iter::once(t.task).chain(t.started.iter().copied())).max();
        let tasks = tasks.map_or(0, |t| t + 1);
        // clock[j][q]: 1 + the last turn of task q that happens before turn j (0: none).
        let mut clocks: Vec<Vec<usize>> = Vec::with_capacity(n);
        let mut last: Vec<Option<usize>> = vec![None; tasks];
        let mut enabler: Vec<Option<usize>> = vec![None; tasks];
        let mut races = Vec::new();
        for j in 0..n {
            let p = turns[j].task;
            // What happens before task p's turn j starts: its own last turn,
            // the turn that started it or woke it.
            let mut before = vec![0; tasks];
            for k in [last[p], enabler[p].take()].into_iter().flatten() {
                join(&mut before, &clocks[k]);
            }
            let race = (0..j).rev().find(|&i| {
                let q = turns[i].task;
                q != p && before[q] <= i && turns[i].conflicts(&turns[j])
            });
            let mut clock = before;
            for (i, earlier) in turns[..j].iter().enumerate() {
                if earlier.task != p && earlier.conflicts(&turns[j]) {
                    join(&mut clock, &clocks[i]);
                }
            }
            clock[p] = j + 1;
            if let Some(i) = race.filter(|&i| self.blocked.is_none_or(|b| i < b)) {
                races.push((i, j, clock.clone()));
            }
            for &s in turns[j].started.iter().chain(&turns[j].woke) {
                enabler[s] = Some(j);
            }
            last[p] = Some(j);
            clocks.push(clock);
        }
        for (i, j, clock) in races {
            self.reverse(i, j, &clock);
        }
    }

    /// Schedules, from the state before turn `i`, a task that may make turn
    /// `j` (which races with it) run first.
    fn reverse(&mut self, i: usize, j: usize, clock_j: &[usize]) {
        let p = self.turns[j].task;
        let turns = &self.turns;
        let node = &mut self.path[i];
        if node.waiting.contains(&p) {
            node.backtrack.insert(p);
            return;
        }
        // p was not waiting at i: a waiting task whose later turn leads to j.
        let leads = node
            .waiting
            .iter()
            .copied()
            .find(|&q| (i + 1..j).any(|k| turns[k].task == q && clock_j.get(q).is_some_and(|&c| c > k)));
        match leads {
            Some(q) => {
                node.backtrack.insert(q);
            }
            None => node.backtrack.extend(node.waiting.iter().copied()),
        }
    }
}

fn join(into: &mut [usize], other: &[usize]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

/// The runtime's side: a lock around the search tree.
#[derive(Default)]
struct Control(Mutex<Tree>);

impl Control {
    fn tree(&self) -> std::sync::MutexGuard<'_, Tree> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl TurnControl for Control {
    fn next(&self, ended: Option<Turn>, waiting: &[TaskId]) -> Option<TaskId> {
        self.tree().choose(ended, waiting)
    }
}

/// Shuttle's side: one execution after another until the tree is explored
/// or a failure stops it; each decision keeps the running task running.
struct Driver {
    control: Arc<Control>,
    stop: Arc<Mutex<bool>>,
}

impl Scheduler for Driver {
    fn new_execution(&mut self) -> Option<Schedule> {
        let stopped = *self.stop.lock().unwrap_or_else(|e| e.into_inner());
        let tree = self.control.tree();
        (!stopped && !tree.finished && tree.diverged.is_none()).then(|| Schedule::new(0))
    }

    fn next_task(&mut self, runnable: &[&Task], current: Option<ShuttleTask>, _: bool) -> Option<ShuttleTask> {
        match current {
            Some(c) if runnable.iter().any(|t| t.id() == c) => Some(c),
            _ => runnable.first().map(|t| t.id()),
        }
    }

    fn next_u64(&mut self) -> u64 {
        0
    }
}

/// What a search saw, execution by execution.
pub(super) type Visit = Arc<dyn Fn(usize, &History, Outcome) -> bool + Send + Sync>;

/// How a search ended.
pub(super) struct Searched {
    pub executions: usize,
    /// Every execution was run (or `visit` stopped the search).
    pub finished: bool,
    /// Why the search could not go on, if it could not.
    pub broken: Option<String>,
    /// The history of the last execution started.
    pub history: History,
}

/// Runs the executions the search picks, one after another, handing each
/// outcome to `visit` (which returns `true` to stop the search).
pub(super) fn search(model: &Model, variant: &Variant, limits: &Limits, visit: Visit) -> Searched {
    let control = Arc::new(Control::default());
    let stop = Arc::new(Mutex::new(false));
    let last = Arc::new(Mutex::new((0usize, History::new())));
    let driver = Driver { control: control.clone(), stop: stop.clone() };
    let config = super::schedules::config(limits);
    let (m, v, l, c, halt) = (model.clone(), variant.clone(), last.clone(), control.clone(), stop.clone());
    let result = quiet::quietly(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            shuttle::Runner::new(driver, config).run(move || {
                let history = History::new();
                let execution = {
                    let mut l = l.lock().unwrap_or_else(|e| e.into_inner());
                    l.0 += 1;
                    l.1 = history.clone();
                    l.0
                };
                let outcome = execute_controlled::<Shuttle>(&m, &v, &history, c.clone());
                if visit(execution, &history, outcome) {
                    *halt.lock().unwrap_or_else(|e| e.into_inner()) = true;
                    return;
                }
                c.tree().end_execution();
            });
        }))
    });
    let (executions, history) = last.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let tree = control.tree();
    let stopped = *stop.lock().unwrap_or_else(|e| e.into_inner());
    let broken = match result {
        Err(payload) => Some(panic_message(&*payload)),
        Ok(()) => tree.diverged.clone(),
    };
    Searched { executions, finished: broken.is_none() && (stopped || tree.finished), broken, history }
}

fn refuse_threads(model: &Model) -> Option<String> {
    (model.semantics != Semantics::EventLoop).then(|| {
        "dpor explores the turns of an event loop; this scenario runs under threads semantics, \
         where every shared access is a scheduling point: use the exhaustive explorer"
            .to_string()
    })
}

pub(super) fn run(model: &Model, variant: &Variant, limits: &Limits) -> (Verdict, usize) {
    if let Some(reason) = refuse_threads(model) {
        return (Verdict::Incomplete { reason }, 0);
    }
    let failure: Arc<Mutex<Option<Failure>>> = Arc::default();
    let found = failure.clone();
    let visit: Visit = Arc::new(move |execution, _, outcome| {
        let Some(violation) = outcome.violation else { return false };
        let replay = Replay::Reduced { execution };
        *found.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(Failure::new(violation, outcome.events, outcome.final_state, replay));
        true
    });
    let searched = search(model, variant, limits, visit);
    let executions = searched.executions;
    let verdict = match (failure.lock().unwrap_or_else(|e| e.into_inner()).take(), searched.broken) {
        (Some(failure), _) => Verdict::Violation(Box::new(failure)),
        (None, Some(message)) if message.starts_with("the model is not deterministic") => {
            Verdict::Incomplete { reason: message }
        }
        (None, Some(message)) => {
            verdict_for_panic(message, searched.history.events(), Replay::Reduced { execution: executions })
        }
        (None, None) if searched.finished => Verdict::Proved { bound: None },
        (None, None) => Verdict::Incomplete {
            reason: format!("time limit of {:?} reached after {executions} executions", limits.max_time),
        },
    };
    (verdict, executions)
}

/// Every distinct end an event-loop model reaches (see [`super::outcomes`]).
pub(super) fn outcomes(model: &Model, variant: &Variant, limits: &Limits) -> Result<(BTreeSet<String>, usize), String> {
    if let Some(reason) = refuse_threads(model) {
        return Err(reason);
    }
    let seen: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let (s, m) = (seen.clone(), model.clone());
    let visit: Visit = Arc::new(move |_, history, outcome| {
        s.lock().unwrap_or_else(|e| e.into_inner()).insert(super::outcome_key(&m, history, &outcome));
        false
    });
    let searched = search(model, variant, limits, visit);
    match (searched.broken, searched.finished) {
        (Some(message), _) => Err(message),
        (None, false) => Err(format!("time limit of {:?} reached", limits.max_time)),
        (None, true) => Ok((std::mem::take(&mut *seen.lock().unwrap_or_else(|e| e.into_inner())), searched.executions)),
    }
}
