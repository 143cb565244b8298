//! Presenting results: one row per checked expectation, a short timeline for
//! a violation (only the steps that touch shared state), JSON objects.

use crate::explore::{Failure, Replay, Report, Verdict};
use crate::history::{Effect, Event};
use crate::scenario::{Check, Expected};
use serde_json::{Value, json};

/// `0.12s`
fn seconds(report: &Report) -> String {
    format!("{:.2}s", report.elapsed.as_secs_f64())
}

/// The verdict with its figures: `proved (bound 2)`, `violation of no-lost-job-update`.
pub fn verdict_text(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Violation(f) => format!("violation of {}", f.violation.invariant),
        Verdict::Proved { bound: Some(b) } => format!("proved (bound {b})"),
        Verdict::Proved { bound: None } => "proved (unbounded)".into(),
        Verdict::NotFound => "not-found".into(),
        Verdict::Incomplete { reason } => format!("incomplete: {reason}"),
    }
}

pub fn expected_text(expected: &Expected) -> String {
    match expected {
        Expected::Violation { invariant } => format!("violation of {invariant}"),
        Expected::Proved => "proved".into(),
        Expected::NotFound => "not-found".into(),
    }
}

pub const ROW_HEADER: &str = "result  scenario                                      variant                       explorer                 executions     time  verdict";

/// One table row for a checked expectation.
pub fn row(check: &Check) -> String {
    format!(
        "{:<6}  {:<44}  {:<28}  {:<23}  {:>10}  {:>7}  {}",
        if check.holds { "ok" } else { "FAIL" },
        check.scenario,
        check.expectation.label(),
        check.report.explorer.describe(),
        check.report.executions,
        seconds(&check.report),
        verdict_text(&check.report.verdict),
    )
}

/// One JSON object for a checked expectation.
pub fn json_row(check: &Check) -> Value {
    let (invariant, message) = match &check.report.verdict {
        Verdict::Violation(f) => (Some(f.violation.invariant.clone()), Some(f.violation.message.clone())),
        Verdict::Incomplete { reason } => (None, Some(reason.clone())),
        _ => (None, None),
    };
    json!({
        "scenario": check.scenario,
        "variant": check.expectation.variant.0,
        "explorer": check.report.explorer.name(),
        "explorer_settings": check.report.explorer.describe(),
        "verdict": check.report.verdict.name(),
        "invariant": invariant,
        "message": message,
        "expected": expected_text(&check.expectation.expected),
        "holds": check.holds,
        "executions": check.report.executions,
        "seconds": check.report.elapsed.as_secs_f64(),
    })
}

/// A compact view of a stored value: statuses and generations, not the whole JSON.
pub fn summarize(text: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(text) else { return text.chars().take(60).collect() };
    let mut parts = Vec::new();
    if let Value::Object(map) = &value {
        for key in ["status", "checkpoint", "serverGeneration", "etag", "runId"] {
            match map.get(key) {
                Some(Value::Null) | None => {}
                Some(Value::String(s)) => parts.push(format!("{key}={s}")),
                Some(v) => parts.push(format!("{key}={v}")),
            }
        }
        for v in map.values() {
            if let Value::Array(items) = v {
                let named: Vec<String> = items
                    .iter()
                    .filter_map(|item| {
                        let name = item.get("name").or_else(|| item.get("id"))?.as_str()?;
                        let status = item.get("status")?.as_str()?;
                        Some(format!("{name}={status}"))
                    })
                    .collect();
                if !named.is_empty() {
                    parts.push(named.join(" "));
                }
            }
        }
    }
    if parts.is_empty() { text.chars().take(60).collect() } else { parts.join(", ") }
}

/// What an event read and wrote, for the timeline.
fn read_wrote(event: &Event) -> Option<(String, String)> {
    Some(match &event.effect {
        Effect::Read { res, value: Some(v) } => (format!("{res}: {}", summarize(v)), String::new()),
        Effect::Read { res, value: None } => (format!("{res}: (absent)"), String::new()),
        Effect::Wrote { res, value, .. } => (String::new(), format!("{res}: {}", summarize(value))),
        Effect::Removed { res } => (String::new(), format!("{res}: (removed)")),
        Effect::Threw { error } => (String::new(), format!("threw: {error}")),
        Effect::Note { kind, .. } if kind.starts_with("reconcile-") => (String::new(), kind.to_string()),
        _ => return None,
    })
}

/// The violation as a table of the steps that touch shared state, the
/// broken invariant in words, and how to replay it.
pub fn timeline(failure: &Failure, replay_command: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("{:>5}  {:<26}  {:<28}  {:<40}  {}\n", "step", "task", "operation", "read", "wrote"));
    for event in &failure.events {
        if let Some((read, wrote)) = read_wrote(event) {
            let op = format!("{} / {}", event.op, event.func);
            out.push_str(&format!("{:>5}  {:<26}  {:<28}  {:<40}  {}\n", event.step, event.task, op, read, wrote));
        }
    }
    out.push_str(&format!("\n{} violated: {}\n", failure.violation.invariant, failure.violation.message));
    out.push_str(&format!("replay: {replay_command}\n"));
    out
}

/// The command that reproduces `failure` of scenario file `file`.
pub fn replay_command(file: &str, variant: &str, failure: &Failure) -> String {
    match &failure.replay {
        Replay::Exhaustive { bound, .. } => {
            let bound = bound.map(|b| format!(" --bound {b}")).unwrap_or_default();
            format!("racecheck check {file} --variant {variant} --explorer exhaustive{bound}")
        }
        Replay::Shuttle(schedule) => format!("racecheck replay {file} --variant {variant} --schedule {schedule}"),
        Replay::Stress { run } => format!("(stress run {run}: real threads cannot be replayed; try --explorer pct)"),
    }
}
