//! The runs system's invariants, as online monitors over the history:
//! executor start/end notes, row writes, cancel results and operation
//! outcomes.

use super::Setup;
use super::workflows::{RunRow, stamp};
use crate::history::{Effect, Event};
use crate::runtime::{StateHash, StateHasher};
use crate::systems::monitor::{Monitor, Unknown};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn monitor(invariant: &str, setup: &Setup) -> Box<dyn Monitor> {
    match invariant {
        "single-owner" => Box::new(SingleOwner::new(Owned::RunOrPath)),
        "one-run-per-conversation" => Box::new(SingleOwner::new(Owned::Conversation)),
        "terminal-is-final" => Box::new(TerminalIsFinal::new(setup)),
        "cancel-is-truthful" => Box::new(CancelIsTruthful::default()),
        "outcome-as-expected" => Box::new(OutcomeAsExpected),
        other => Box::new(Unknown(other.to_string())),
    }
}

fn text<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("")
}

fn who(e: &Event) -> String {
    format!("{} ({} in {})", e.task, e.func, e.op)
}

/// An executor between its start and its end.
#[derive(Clone)]
struct Active {
    task: String,
    run: String,
    path: String,
    /// The workflow and the parent conversation of its run.
    conversation: (String, String),
    /// Notes: where it started.
    step: usize,
    op: String,
}

/// What one executor at a time may work on.
#[derive(Clone, Copy)]
enum Owned {
    /// A run, and a working path.
    RunOrPath,
    /// A workflow's runs for one parent conversation, in any worktree.
    Conversation,
}

/// At each `executor-start`, no other executor of the same run or path (or
/// of the same workflow and parent conversation) is between its start and
/// its end.
#[derive(Clone)]
struct SingleOwner {
    owned: Owned,
    active: Vec<Active>,
}

impl SingleOwner {
    fn new(owned: Owned) -> Self {
        SingleOwner { owned, active: Vec::new() }
    }
}

impl Monitor for SingleOwner {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(data) = e.note("executor-end") {
            let run = text(data, "run");
            self.active.retain(|a| !(*a.task == *e.task && a.run == run));
        }
        let data = e.note("executor-start")?;
        let (run, path) = (text(data, "run"), text(data, "path"));
        let conversation = (text(data, "workflow").to_string(), text(data, "conversation").to_string());
        let clash = self.active.iter().find(|a| match self.owned {
            Owned::RunOrPath => a.run == run || (!path.is_empty() && a.path == path),
            Owned::Conversation => a.conversation == conversation,
        });
        if let Some(first) = clash {
            let another = if first.run == run {
                format!("another for the same run at step {}", e.step)
            } else if first.path == path {
                format!("another, for run {run} on the same path, at step {}", e.step)
            } else {
                let (workflow, conversation) = &conversation;
                format!(
                    "another, for run {run} of the same workflow {workflow} and conversation {conversation} on {path}, \
                     at step {}",
                    e.step
                )
            };
            return Some(format!(
                "{} started an executor for run {} on {} at step {} ({}); {} started {another} ({}) while the first was still running",
                first.task, first.run, first.path, first.step, first.op, e.task, e.op
            ));
        }
        let active = Active {
            task: e.task.to_string(),
            run: run.to_string(),
            path: path.to_string(),
            conversation,
            step: e.step,
            op: e.op.to_string(),
        };
        self.active.push(active);
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        // The order executors started in does not matter; the tasks' names do.
        let mut active: Vec<(&str, &str, &str, &(String, String))> =
            self.active.iter().map(|a| (a.task.as_str(), a.run.as_str(), a.path.as_str(), &a.conversation)).collect();
        active.sort();
        h.u64(active.len() as u64);
        for (task, run, path, (workflow, conversation)) in active {
            h.task(task);
            (run, path, workflow, conversation).state_hash(h);
        }
    }
}

/// A row's lifecycle fields as a write left them.
#[derive(Clone)]
struct Life {
    status: &'static str,
    completed_at: Option<u64>,
    /// Note: since when, and by whom, it has had this status.
    since: Option<(usize, String)>,
}

/// The row a write left (rows are written as values: no JSON in between).
fn row_written(e: &Event) -> Option<(&str, &RunRow)> {
    match &e.effect {
        Effect::Wrote { res, value, .. } => Some((res.strip_prefix("run:")?, value.value::<RunRow>()?)),
        _ => None,
    }
}

/// A completed_at as the row's JSON shows it.
fn shown(completed_at: Option<u64>) -> String {
    match completed_at {
        Some(t) => format!("\"{}\"", stamp(t)),
        None => "null".into(),
    }
}

/// Once completed or cancelled, a row's status and completed_at stay put.
#[derive(Clone)]
struct TerminalIsFinal {
    rows: BTreeMap<String, Life>,
}

impl TerminalIsFinal {
    fn new(setup: &Setup) -> Self {
        let rows = setup
            .initial_rows()
            .into_iter()
            .map(|r| (r.id, Life { status: r.status, completed_at: r.completed_at, since: None }))
            .collect();
        TerminalIsFinal { rows }
    }
}

impl Monitor for TerminalIsFinal {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (id, row) = row_written(e)?;
        let (status, completed_at) = (row.status, row.completed_at);
        if let Some(old) = self.rows.get(id)
            && (old.status == "completed" || old.status == "cancelled")
            && (old.status != status || old.completed_at != completed_at)
        {
            let became = match &old.since {
                Some((step, by)) => format!("run {id} became {} at step {step} by {by}", old.status),
                None => format!("run {id} was {} from the start", old.status),
            };
            let change = if old.status != status {
                format!("changed its status {}→{status}", old.status)
            } else {
                format!("re-stamped its completed_at {}→{}", shown(old.completed_at), shown(completed_at))
            };
            return Some(format!("{became}; step {} {} {change}", e.step, who(e)));
        }
        let since = match self.rows.get(id) {
            Some(old) if old.status == status => old.since.clone(),
            _ => Some((e.step, who(e))),
        };
        self.rows.insert(id.to_string(), Life { status, completed_at, since });
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        h.u64(self.rows.len() as u64);
        for (id, life) in &self.rows {
            (id, &life.status, &life.completed_at).state_hash(h);
        }
    }
}

/// A cancel that says "cancelled" changed the row. Its verdict needs no
/// state: the cancel result says both; the rest is notes for the message.
#[derive(Clone, Default)]
struct CancelIsTruthful {
    /// Each task's last UPDATE that matched 0 rows, per row: `(step, status)`.
    missed: BTreeMap<(String, String), (usize, String)>,
    /// The last write of each run's row with each status: `(who, step)`.
    written: BTreeMap<(String, String), (String, usize)>,
}

impl Monitor for CancelIsTruthful {
    fn observe(&mut self, e: &Event) -> Option<String> {
        if let Some(d) = e.note("zero-rows") {
            self.missed.insert((e.task.to_string(), text(d, "res").to_string()), (e.step, text(d, "status").into()));
        }
        if let Some((id, row)) = row_written(e) {
            self.written.insert((id.to_string(), row.status.to_string()), (who(e), e.step));
        }
        let data = e.note("cancel-result")?;
        let reported = data.get("reported").and_then(Value::as_bool).unwrap_or(false);
        let changed = data.get("changed").and_then(Value::as_bool).unwrap_or(false);
        if !reported || changed {
            return None;
        }
        let run = text(data, "run");
        let (miss_step, status) = match self.missed.get(&(e.task.to_string(), format!("run:{run}"))) {
            Some((step, status)) => (step.to_string(), status.clone()),
            None => ("?".into(), String::new()),
        };
        let by = self
            .written
            .get(&(run.to_string(), status.clone()))
            .map(|(who, step)| format!(" by {who} at step {step}"))
            .unwrap_or_default();
        Some(format!(
            "{} told the user run {run} was cancelled at step {}, but its UPDATE at step {miss_step} matched 0 rows: the run was already {status}{by}",
            e.task, e.step
        ))
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Operations with an `expect` end that way.
#[derive(Clone)]
struct OutcomeAsExpected;

impl Monitor for OutcomeAsExpected {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let data = e.note("outcome")?;
        let expected = data.get("expected").and_then(Value::as_str)?;
        let outcome = text(data, "outcome");
        (outcome != expected).then(|| {
            format!(
                "{}'s {} ended {outcome} at step {} (\"{}\"); the scenario expects {expected}",
                e.task,
                e.op,
                e.step,
                text(data, "message")
            )
        })
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}
