//! The runs system's invariants, judged over the history: executor
//! start/end notes, row writes, cancel results and operation outcomes.

use super::Setup;
use crate::history::{Effect, Event};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn check(invariant: &str, setup: &Setup, events: &[Event], _final_state: &Value) -> Option<String> {
    match invariant {
        "single-owner" => single_owner(events),
        "terminal-is-final" => terminal_is_final(setup, events),
        "cancel-is-truthful" => cancel_is_truthful(events),
        "outcome-as-expected" => outcome_as_expected(events),
        other => Some(format!("unknown invariant {other:?}")),
    }
}

fn text<'a>(data: &'a Value, key: &str) -> &'a str {
    data.get(key).and_then(Value::as_str).unwrap_or("")
}

fn who(e: &Event) -> String {
    format!("{} ({} in {})", e.task, e.func, e.op)
}

/// At each `executor-start`, no other executor of the same run or path is
/// between its start and its end.
fn single_owner(events: &[Event]) -> Option<String> {
    let mut active: Vec<&Event> = Vec::new();
    for e in events {
        if let Some(data) = e.note("executor-end") {
            let (run, task) = (text(data, "run"), &e.task);
            active.retain(|s| !(s.task == *task && s.note("executor-start").is_some_and(|d| text(d, "run") == run)));
        }
        let Some(data) = e.note("executor-start") else { continue };
        let (run, path) = (text(data, "run"), text(data, "path"));
        let clash = active.iter().find(|s| {
            let d = s.note("executor-start").expect("only starts are active");
            text(d, "run") == run || (!path.is_empty() && text(d, "path") == path)
        });
        if let Some(first) = clash {
            let d = first.note("executor-start").expect("only starts are active");
            let (run1, path1) = (text(d, "run"), text(d, "path"));
            let another = if run1 == run {
                format!("another for the same run at step {}", e.step)
            } else {
                format!("another, for run {run} on the same path, at step {}", e.step)
            };
            return Some(format!(
                "{} started an executor for run {run1} on {path1} at step {} ({}); {} started {another} ({}) while the first was still running",
                first.task, first.step, first.op, e.task, e.op
            ));
        }
        active.push(e);
    }
    None
}

/// A row's lifecycle fields as a write left them.
struct Life {
    status: String,
    completed_at: Value,
    since: Option<(usize, String)>,
}

fn rows_written(e: &Event) -> Option<(&str, Value)> {
    match &e.effect {
        Effect::Wrote { res, value, .. } => {
            let id = res.strip_prefix("run:")?;
            Some((id, serde_json::from_str(value).ok()?))
        }
        _ => None,
    }
}

/// Once completed or cancelled, a row's status and completed_at stay put.
fn terminal_is_final(setup: &Setup, events: &[Event]) -> Option<String> {
    let mut rows: BTreeMap<String, Life> = setup
        .initial_rows()
        .into_iter()
        .map(|r| {
            let json = serde_json::to_value(&r).unwrap_or(Value::Null);
            let life = Life { status: r.status.to_string(), completed_at: json["completed_at"].clone(), since: None };
            (r.id, life)
        })
        .collect();
    for e in events {
        let Some((id, row)) = rows_written(e) else { continue };
        let status = row["status"].as_str().unwrap_or("").to_string();
        let completed_at = row["completed_at"].clone();
        if let Some(old) = rows.get(id)
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
                format!("re-stamped its completed_at {}→{}", old.completed_at, completed_at)
            };
            return Some(format!("{became}; step {} {} {change}", e.step, who(e)));
        }
        let since = match rows.get(id) {
            Some(old) if old.status == status => old.since.clone(),
            _ => Some((e.step, who(e))),
        };
        rows.insert(id.to_string(), Life { status, completed_at, since });
    }
    None
}

/// A cancel that says "cancelled" changed the row.
fn cancel_is_truthful(events: &[Event]) -> Option<String> {
    for (i, e) in events.iter().enumerate() {
        let Some(data) = e.note("cancel-result") else { continue };
        let reported = data.get("reported").and_then(Value::as_bool).unwrap_or(false);
        let changed = data.get("changed").and_then(Value::as_bool).unwrap_or(false);
        if !reported || changed {
            continue;
        }
        let run = text(data, "run");
        let res = format!("run:{run}");
        let miss = events[..i]
            .iter()
            .rev()
            .find(|m| m.task == e.task && m.note("zero-rows").is_some_and(|d| text(d, "res") == res));
        let (miss_step, status) = match miss {
            Some(m) => {
                (m.step.to_string(), m.note("zero-rows").map(|d| text(d, "status").to_string()).unwrap_or_default())
            }
            None => ("?".into(), String::new()),
        };
        let by = events[..i]
            .iter()
            .rev()
            .find_map(|w| match rows_written(w) {
                Some((id, row)) if id == run && row["status"].as_str() == Some(status.as_str()) => {
                    Some(format!(" by {} at step {}", who(w), w.step))
                }
                _ => None,
            })
            .unwrap_or_default();
        return Some(format!(
            "{} told the user run {run} was cancelled at step {}, but its UPDATE at step {miss_step} matched 0 rows: the run was already {status}{by}",
            e.task, e.step
        ));
    }
    None
}

/// Operations with an `expect` end that way.
fn outcome_as_expected(events: &[Event]) -> Option<String> {
    events.iter().find_map(|e| {
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
    })
}
