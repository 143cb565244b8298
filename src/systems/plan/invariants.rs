//! The plan system's invariants, judged over the history and final state.

use super::Setup;
use super::files::{PLAN_FILE, PlanSpec};
use crate::history::{Effect, Event};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn check(invariant: &str, setup: &Setup, events: &[Event], final_state: &Value) -> Option<String> {
    match invariant {
        "no-lost-job-update" => no_lost_job_update(setup, events),
        "checkpoint-implies-paused" => checkpoint_implies_paused(events),
        "every-trigger-seen" => every_trigger_seen(events),
        "no-job-stuck-running" => no_job_stuck_running(events, final_state),
        "plan-not-resurrected" => plan_not_resurrected(events),
        other => Some(format!("unknown invariant {other:?}")),
    }
}

/// Each `plan.json` write, parsed, with its event.
fn plan_writes(events: &[Event]) -> impl Iterator<Item = (&Event, Option<PlanSpec>, &Value)> {
    events.iter().filter_map(|e| match &e.effect {
        Effect::Wrote { res, value, meta } if &**res == PLAN_FILE => Some((e, serde_json::from_str(value).ok(), meta)),
        _ => None,
    })
}

fn who(e: &Event) -> String {
    format!("{} ({} in {})", e.task, e.func, e.op)
}

fn basis(meta: &Value) -> String {
    match meta.get("basis").and_then(Value::as_u64) {
        Some(step) => format!(" from the snapshot read at step {step}"),
        None => String::new(),
    }
}

fn no_lost_job_update(setup: &Setup, events: &[Event]) -> Option<String> {
    let mut disk: Option<PlanSpec> = setup.initial_plan();
    // Who last set each job's status on disk: (step, who, status).
    let mut last_set: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for e in events {
        match &e.effect {
            Effect::Removed { res } if &**res == PLAN_FILE => disk = None,
            Effect::Wrote { res, value, meta } if &**res == PLAN_FILE => {
                let Ok(new) = serde_json::from_str::<PlanSpec>(value) else { continue };
                let targets: Vec<&str> = meta
                    .get("targets")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                if let Some(old) = &disk {
                    for job in &new.jobs {
                        let Some(before) = old.job(&job.name) else { continue };
                        if before.status != job.status && !targets.contains(&job.name.as_str()) {
                            let committed = match last_set.get(&job.name) {
                                Some((step, by)) => {
                                    format!("{by} committed {}={} at step {step}", job.name, before.status)
                                }
                                None => format!("{} was {} since the start", job.name, before.status),
                            };
                            return Some(format!(
                                "{committed}; step {} {} wrote {}={}{}, reverting it",
                                e.step,
                                who(e),
                                job.name,
                                job.status,
                                basis(meta)
                            ));
                        }
                    }
                }
                for t in targets {
                    last_set.insert(t.to_string(), (e.step, who(e)));
                }
                disk = Some(new);
            }
            _ => {}
        }
    }
    None
}

fn checkpoint_implies_paused(events: &[Event]) -> Option<String> {
    plan_writes(events).find_map(|(e, plan, meta)| {
        let plan = plan?;
        let checkpoint = plan.checkpoint.as_deref()?;
        (plan.status != "paused").then(|| {
            format!(
                "step {} {} wrote status={} while checkpoint={checkpoint}{}",
                e.step,
                who(e),
                plan.status,
                basis(meta)
            )
        })
    })
}

fn every_trigger_seen(events: &[Event]) -> Option<String> {
    let orchestrator = |d: &Value| d.get("orchestrator").and_then(Value::as_str).unwrap_or("").to_string();
    for (i, e) in events.iter().enumerate() {
        let Some(trigger) = e.note("reconcile-trigger") else { continue };
        let name = orchestrator(trigger);
        let seen =
            events[i + 1..].iter().any(|later| later.note("reconcile-pass").is_some_and(|p| orchestrator(p) == name));
        if !seen {
            let in_flight = events[..i]
                .iter()
                .rev()
                .find(|p| p.note("reconcile-pass").is_some_and(|p| orchestrator(p) == name))
                .map(|p| format!(" while the pass {} started at step {} was in flight", p.task, p.step))
                .unwrap_or_default();
            return Some(format!(
                "{} triggered reconcile at step {} ({}){in_flight}, and no reconcile pass of orchestrator {name} started after it",
                e.task, e.step, e.op
            ));
        }
    }
    None
}

fn no_job_stuck_running(events: &[Event], final_state: &Value) -> Option<String> {
    let files = final_state.get("files")?;
    let plan: PlanSpec = serde_json::from_value(files.get(PLAN_FILE)?.clone()).ok()?;
    let jobs = files.get("jobs.json")?.get("jobs")?.as_array()?;
    for entry in jobs {
        let (Some(name), Some(status)) =
            (entry.get("name").and_then(Value::as_str), entry.get("status").and_then(Value::as_str))
        else {
            continue;
        };
        if status != "completed" || entry.get("planId").and_then(Value::as_str) != Some(&plan.id) {
            continue;
        }
        if plan.job(name).is_some_and(|j| j.status == "running") {
            let last = plan_writes(events)
                .last()
                .map(|(e, _, meta)| format!(", last written at step {} by {}{}", e.step, who(e), basis(meta)));
            return Some(format!(
                "at the end jobs.json says {name} completed, but plan.json still has {name}=running{}",
                last.unwrap_or_default()
            ));
        }
    }
    None
}

fn plan_not_resurrected(events: &[Event]) -> Option<String> {
    let removed = events.iter().find(|e| matches!(&e.effect, Effect::Removed { res } if &**res == PLAN_FILE))?;
    plan_writes(events).find(|(e, _, _)| e.step > removed.step).map(|(e, _, meta)| {
        format!(
            "{} removed plan.json at step {}; step {} {} wrote it back{}",
            removed.task,
            removed.step,
            e.step,
            who(e),
            basis(meta)
        )
    })
}
