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
//! The tasks run as coroutines of the controlled loop
//! ([`Controlled`]), one turn at a time.

use super::{Enumeration, Failure, Limits, Replay, Sleeper, Verdict, panic_message, quiet, verdict_for_panic};
use crate::execution::{Controlled, Model, Outcome};
use crate::history::{History, OutOfTime};
use crate::runtime::{AccessKind, Resource, Semantics, TaskId, Turn};
use crate::systems::Variant;
use rustc_hash::FxHashMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

/// A choice point: who waited for the loop, who got it, who still must.
struct Node {
    waiting: Vec<TaskId>,
    chosen: TaskId,
    backtrack: BTreeSet<TaskId>,
    done: BTreeSet<TaskId>,
    /// Tasks run here in earlier executions, with the turn they ran.
    siblings: Vec<Sleeper>,
    /// Tasks asleep here: running one now only repeats (up to the order of
    /// independent turns) an execution already run. Each stays asleep until
    /// a turn conflicts with the turn it would run.
    sleep: Vec<Sleeper>,
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
    analysis: Analysis,
}

impl Tree {
    /// The sleep set at node `k`, carried from node `k - 1` over its turn.
    fn sleep_at(&self, k: usize) -> Vec<Sleeper> {
        let Some(prev) = k.checked_sub(1).map(|i| &self.path[i]) else { return Vec::new() };
        let ran = &self.turns[k - 1];
        super::asleep_after(prev.sleep.iter().chain(&prev.siblings), ran)
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
                    // The turns are cleared below: the one that ran here moves.
                    let ran = std::mem::take(&mut self.turns[k]);
                    let node = &mut self.path[k];
                    node.siblings.push((node.chosen, Arc::new(ran)));
                    node.chosen = next;
                    node.done.insert(next);
                    self.turns.clear();
                    self.analysis.truncate(k);
                    return;
                }
                None => {
                    self.path.pop();
                }
            }
        }
        self.turns.clear();
        self.analysis.truncate(0);
        self.finished = true;
    }

    /// Finds the races of the execution just run and schedules their
    /// reversals. Only the turns after the node this execution branched
    /// off at are new: the earlier ones are the previous execution's, whose
    /// races were scheduled then, and their clocks and accesses are kept.
    fn add_backtracks(&mut self) {
        let n = self.turns.len().min(self.path.len());
        let from = self.analysis.kept(n);
        let tasks = self.turns.iter().flat_map(|t| std::iter::once(t.task).chain(t.started.iter().copied())).max();
        let tasks = tasks.map_or(0, |t| t + 1);
        let races = self.analysis.races(&self.turns[..n], from, tasks, self.blocked);
        // In the unit tests, every execution's races are found again from
        // scratch: the kept prefix must change nothing.
        #[cfg(test)]
        {
            let all = Analysis::default().races(&self.turns[..n], 0, tasks, self.blocked);
            let new: Vec<Race> = all.into_iter().filter(|(_, j, _)| *j >= from).collect();
            assert_eq!(races, new, "the races found from turn {from} on differ from those found from the start");
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

/// A race: an earlier turn, a later turn of another task that conflicts
/// with it and may run first, and the later turn's clock.
type Race = (usize, usize, Vec<usize>);

/// What the race analysis keeps of the turns it has seen: the clock of
/// each turn of the current path and each resource's accesses, so that the
/// next execution, which repeats the path up to the node it branches off
/// at, analyses only its new turns. Resources are numbered once for the
/// whole search: [`Turn::conflicts`] compares them by name, and comparing
/// every pair of an execution's turns that way was a tenth of dpor's time
/// on #63.
#[derive(Default)]
struct Analysis {
    numbers: FxHashMap<Resource, u32>,
    /// clocks[j][q]: 1 + the last turn of task q that happens before turn j
    /// (0: none; a clock shorter than the tasks is 0 past its end).
    clocks: Vec<Vec<usize>>,
    /// Each resource's accesses as (turn, task), in turn order, and its
    /// writes alone.
    accessed: Vec<Vec<(usize, TaskId)>>,
    written: Vec<Vec<(usize, TaskId)>>,
}

impl Analysis {
    /// How many of the `n` turns to analyse were analysed already: the
    /// previous execution's, up to the node this one branched off at (a
    /// deterministic model repeats them, which `choose` checks by the
    /// tasks waiting at each node).
    fn kept(&self, n: usize) -> usize {
        self.clocks.len().min(n)
    }

    /// Forgets the turns from `keep` on: the execution to come branches
    /// off there.
    fn truncate(&mut self, keep: usize) {
        self.clocks.truncate(keep);
        for list in self.accessed.iter_mut().chain(self.written.iter_mut()) {
            while list.last().is_some_and(|(j, _)| *j >= keep) {
                list.pop();
            }
        }
    }

    /// The races of `turns` from turn `from` on, the earlier ones being
    /// those analysed already: (the earlier turn, the later one, the later
    /// one's clock). A race whose earlier turn is at or past `blocked` (a
    /// node every task was asleep at) is left out.
    fn races(&mut self, turns: &[Turn], from: usize, tasks: usize, blocked: Option<usize>) -> Vec<Race> {
        let n = turns.len();
        // Each task's last turn, and the turn that started or woke it since
        // (what happens before its next turn), over the kept turns.
        let mut last: Vec<Option<usize>> = vec![None; tasks];
        let mut enabler: Vec<Option<usize>> = vec![None; tasks];
        for (j, turn) in turns[..from].iter().enumerate() {
            enabler[turn.task] = None;
            for &s in turn.started.iter().chain(&turn.woke) {
                enabler[s] = Some(j);
            }
            last[turn.task] = Some(j);
        }
        let mut races = Vec::new();
        let mut conflicting: Vec<usize> = Vec::new();
        for j in from..n {
            let p = turns[j].task;
            let footprint = self.footprint(&turns[j]);
            // What happens before task p's turn j starts: its own last turn,
            // the turn that started it or woke it.
            let mut before = vec![0; tasks];
            for k in [last[p], enabler[p].take()].into_iter().flatten() {
                join(&mut before, &self.clocks[k]);
            }
            // The earlier turns of other tasks that conflict with turn j:
            // found among each resource's accesses (every access for a
            // write, the writes for a read), not by comparing j with every
            // earlier turn.
            conflicting.clear();
            for &(r, w) in &footprint {
                let earlier = if w { &self.accessed[r as usize] } else { &self.written[r as usize] };
                conflicting.extend(earlier.iter().filter(|(_, q)| *q != p).map(|(i, _)| *i));
            }
            conflicting.sort_unstable();
            conflicting.dedup();
            for &(r, w) in &footprint {
                self.accessed[r as usize].push((j, p));
                if w {
                    self.written[r as usize].push((j, p));
                }
            }
            let clock_of = |clock: &[usize], task: TaskId| clock.get(task).copied().unwrap_or(0);
            let race = conflicting.iter().rev().copied().find(|&i| clock_of(&before, turns[i].task) <= i);
            let mut clock = before;
            // Latest first: a turn whose task's component the clock already
            // passes happens before a turn joined already, so its clock is
            // below the clock (joining it would change nothing).
            for &i in conflicting.iter().rev() {
                if clock_of(&clock, turns[i].task) <= i {
                    join(&mut clock, &self.clocks[i]);
                }
            }
            clock[p] = j + 1;
            // (`i <= b` would do the same: `end_execution` drops node `b`
            // with whatever backtracks it got.)
            if let Some(i) = race.filter(|&i| blocked.is_none_or(|b| i < b)) {
                races.push((i, j, clock.clone()));
            }
            for &s in turns[j].started.iter().chain(&turns[j].woke) {
                enabler[s] = Some(j);
            }
            last[p] = Some(j);
            self.clocks.push(clock);
        }
        races
    }

    /// A turn's accesses as (resource number, not a read). A turn accesses
    /// a resource at most once (`Turn::touch` merges).
    fn footprint(&mut self, turn: &Turn) -> Vec<(u32, bool)> {
        let mut footprint = Vec::with_capacity(turn.accesses.len());
        for a in &turn.accesses {
            let next = self.numbers.len() as u32;
            let number = *self.numbers.entry(a.resource.clone()).or_insert(next);
            if number == next {
                self.accessed.push(Vec::new());
                self.written.push(Vec::new());
            }
            footprint.push((number, a.kind != AccessKind::Read));
        }
        footprint
    }
}

fn join(into: &mut [usize], other: &[usize]) {
    for (a, b) in into.iter_mut().zip(other) {
        *a = (*a).max(*b);
    }
}

/// What a search saw, execution by execution.
pub(super) type Visit<'a> = &'a mut dyn FnMut(usize, &History, Outcome) -> bool;

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
    let start = Instant::now();
    let mut tree = Tree::default();
    let mut executions = 0;
    let mut history = History::new();
    let mut stopped = false;
    let broken = quiet::quietly(|| {
        while !tree.finished && start.elapsed() < limits.max_time && limits.executions_left(executions) {
            executions += 1;
            limits.tick(None);
            history = History::until(limits.deadline_from(start));
            let mut execution = Controlled::start(model, variant, &history).unfingerprinted();
            let mut ended = None;
            while let Some(task) = tree.choose(ended.take(), &execution.waiting()) {
                match execution.run_turn(task) {
                    Ok(turn) => ended = Some(turn),
                    // Stopped at the deadline: a cut (the tree is not finished).
                    Err(panic) if panic.is::<OutOfTime>() => return None,
                    Err(panic) => return Some(panic_message(&*panic)),
                }
            }
            if execution.deadlocked() {
                return Some(super::DEADLOCK.to_string());
            }
            if visit(executions, &history, execution.outcome()) {
                stopped = true;
                return None;
            }
            tree.end_execution();
            if let Some(diverged) = tree.diverged.take() {
                return Some(diverged);
            }
        }
        None
    });
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
    let mut failure = None;
    let searched = search(model, variant, limits, &mut |execution, _, outcome| {
        let Some(violation) = outcome.violation else { return false };
        let replay = Replay::Reduced { execution };
        failure = Some(Failure::new(violation, outcome.events, outcome.final_state, replay));
        true
    });
    let executions = searched.executions;
    let verdict = match (failure, searched.broken) {
        (Some(failure), _) => Verdict::Violation(Box::new(failure)),
        (None, Some(message)) if message.starts_with("the model is not deterministic") => {
            Verdict::Incomplete { reason: message }
        }
        (None, Some(message)) => {
            verdict_for_panic(message, searched.history.events(), Replay::Reduced { execution: executions })
        }
        (None, None) if searched.finished => Verdict::Proved { bound: None },
        (None, None) => Verdict::Incomplete { reason: limits.cut_reason(executions, None) },
    };
    (verdict, executions)
}

/// Every distinct end an event-loop model reaches (see [`super::outcomes`]).
pub(super) fn outcomes(model: &Model, variant: &Variant, limits: &Limits) -> Enumeration {
    if let Some(reason) = refuse_threads(model) {
        return Enumeration { ends: BTreeSet::new(), executions: 0, states: None, cut: Some(reason), handed: 0 };
    }
    let mut ends = BTreeSet::new();
    let searched = search(&model.keeping_final_states(), variant, limits, &mut |_, _, outcome| {
        ends.insert(super::outcome_key(&outcome));
        false
    });
    let cut = match (searched.broken, searched.finished) {
        (Some(message), _) => Some(message),
        (None, false) => Some(limits.cut_reason(searched.executions, None)),
        (None, true) => None,
    };
    Enumeration { ends, executions: searched.executions, states: None, cut, handed: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    /// Every execution of these searches finds its races again from the
    /// start (`add_backtracks` asserts it in unit tests): a kept prefix that
    /// kept a turn too many or too few, or forgot a resource's access,
    /// fails here, and the executions pinned are those of the whole
    /// analysis.
    #[test]
    fn races_found_from_the_branch_point_are_those_found_from_the_start() {
        let files = [
            "scenarios/plan/stale-checkpoint-overwrite.toml",
            "scenarios/runs/double-resume-web-cli.toml",
            "scenarios/plan/reconcile-triggers-pile-up.toml",
        ];
        for file in files {
            let scenario = crate::scenario::load(Path::new(file)).expect("a shipped scenario");
            let mut executions = 0;
            for e in &scenario.expectations {
                let limits = Limits::time(Duration::from_secs(120));
                let searched = search(&scenario.model, &e.variant, &limits, &mut |_, _, _| false);
                assert!(searched.finished && searched.broken.is_none(), "{file}: {:?}", searched.broken);
                executions += searched.executions;
            }
            eprintln!("{file}: {executions} executions");
            assert!(executions > 1000, "{file}: too few executions ({executions}) to show much");
        }
    }
}
