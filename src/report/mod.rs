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
        Verdict::Vacuous { unreached } => format!("vacuous: no execution reached {}", unreached.join(", ")),
    }
}

pub fn expected_text(expected: &Expected) -> String {
    match expected {
        Expected::Violation { invariant } => format!("violation of {invariant}"),
        Expected::Proved => "proved".into(),
        Expected::NotFound => "not-found".into(),
    }
}

/// The results table's layout: the scenario and variant columns as wide as
/// their longest entry, and whether `ok` / `FAIL` are coloured (a terminal
/// that did not ask for `NO_COLOR`).
#[derive(Clone, Copy, Debug)]
pub struct Columns {
    pub scenario: usize,
    pub variant: usize,
    pub colour: bool,
}

impl Columns {
    /// Columns that fit every scenario name and variant label given.
    pub fn fit<'a>(scenarios: impl Iterator<Item = &'a str>, variants: impl Iterator<Item = String>) -> Columns {
        let scenario = scenarios.map(|s| s.chars().count()).max().unwrap_or(0).max("scenario".len());
        let variant = variants.map(|v| v.chars().count()).max().unwrap_or(0).max("variant".len());
        Columns { scenario, variant, colour: false }
    }

    pub fn header(&self) -> String {
        let (s, v) = (self.scenario, self.variant);
        format!(
            "{:<6}  {:<s$}  {:<v$}  {:<23}  {:>10}  {:>9}  {:>7}  verdict",
            "result", "scenario", "variant", "explorer", "executions", "states", "time"
        )
    }

    /// `ok` or `FAIL`, padded (and coloured: the padding stays outside).
    fn mark(&self, holds: bool) -> String {
        let (text, code) = if holds { ("ok", "32") } else { ("FAIL", "31") };
        let pad = " ".repeat(6 - text.len());
        if self.colour { format!("\x1b[{code}m{text}\x1b[0m{pad}") } else { format!("{text}{pad}") }
    }
}

/// Distinct states explored, where the explorer counts them (`-` elsewhere).
fn states(report: &Report) -> String {
    report.states.map_or_else(|| "-".to_string(), |n| n.to_string())
}

/// What the explorer took as interchangeable, after the verdict.
fn symmetry_text(report: &Report) -> String {
    match &report.symmetry {
        Ok(classes) if !classes.is_empty() => {
            // A class of thousands is named by its first few and its size.
            const SHOWN: usize = 4;
            let classes: Vec<String> = classes
                .iter()
                .map(|c| match c.len() {
                    n if n <= SHOWN => c.join("≡"),
                    n => format!("{}≡… ({n} actors)", c[..SHOWN].join("≡")),
                })
                .collect();
            format!(" · symmetric: {}", classes.join(", "))
        }
        Ok(_) => String::new(),
        Err(why) => format!(" · no symmetry: {why}"),
    }
}

/// One table row for a checked expectation.
pub fn row(check: &Check, columns: &Columns) -> String {
    let (s, v) = (columns.scenario, columns.variant);
    format!(
        "{}  {:<s$}  {:<v$}  {:<23}  {:>10}  {:>9}  {:>7}  {}{}",
        columns.mark(check.holds),
        check.scenario,
        check.expectation.label(),
        check.report.explorer.describe(),
        check.report.executions,
        states(&check.report),
        seconds(&check.report),
        verdict_text(&check.report.verdict),
        symmetry_text(&check.report),
    )
}

/// One table row for a replayed `[[regression]]`.
pub fn regression_row(scenario: &str, n: usize, result: &Result<(), String>, columns: &Columns) -> String {
    let (holds, verdict) = match result {
        Ok(()) => (true, "replays as recorded".to_string()),
        Err(e) => (false, e.clone()),
    };
    let (s, v) = (columns.scenario, columns.variant);
    format!(
        "{}  {scenario:<s$}  {:<v$}  {:<23}  {:>10}  {:>9}  {:>7}  {verdict}",
        columns.mark(holds),
        format!("regression-{n}"),
        "replay",
        1,
        "-",
        "-"
    )
}

/// One JSON object for a checked expectation.
pub fn json_row(check: &Check) -> Value {
    let (invariant, message) = match &check.report.verdict {
        Verdict::Violation(f) => (Some(f.violation.invariant.clone()), Some(f.violation.message.clone())),
        Verdict::Incomplete { reason } => (None, Some(reason.clone())),
        Verdict::Vacuous { unreached } => (None, Some(format!("no execution reached {}", unreached.join(", ")))),
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
        "states": check.report.states,
        "workers": check.report.workers,
        "processes": check.report.processes,
        "exchanged": check.report.exchanged.map(|e| json!({ "states": e.states, "bytes_sent_by_this_process": e.bytes })),
        "symmetry": match &check.report.symmetry {
            Ok(classes) => json!({ "classes": classes }),
            Err(why) => json!({ "classes": [], "off": why }),
        },
        "guarded_reads": match &check.report.unguarded {
            None => {
                let used = check.report.states.is_some() && check.report.processes.is_none();
                json!({ "used": used, "unguarded": Value::Null })
            }
            Some(why) => json!({ "used": true, "unguarded": why }),
        },
        "seconds": check.report.elapsed.as_secs_f64(),
        "failure": match &check.report.verdict {
            Verdict::Violation(f) => failure_json(f),
            _ => Value::Null,
        },
    })
}

/// A compact view of a stored value: statuses and generations, not the whole JSON.
pub fn summarize(text: &str) -> String {
    // The start of the text, on one line.
    let head = || text.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(60).collect();
    let Ok(value) = serde_json::from_str::<Value>(text) else { return head() };
    let mut parts = Vec::new();
    if let Value::Object(map) = &value {
        for key in ["status", "checkpoint", "serverGeneration", "etag", "runId"] {
            match map.get(key) {
                Some(Value::Null) | None => {}
                Some(Value::String(s)) => parts.push(format!("{key}={s}")),
                Some(v) => parts.push(format!("{key}={v}")),
            }
        }
        for (key, v) in map {
            if let Value::Array(items) = v {
                if items.is_empty() && key == "jobs" {
                    parts.push("no jobs".into());
                }
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
    if parts.is_empty() { head() } else { parts.join(", ") }
}

/// What an event read and wrote, for the timeline.
fn read_wrote(event: &Event) -> Option<(String, String)> {
    Some(match &event.effect {
        Effect::Read { res, value: Some(v) } => (format!("{res}: {}", summarize(v)), String::new()),
        Effect::Read { res, value: None } => (format!("{res}: (absent)"), String::new()),
        Effect::Wrote { res, value, .. } => (String::new(), format!("{res}: {}", summarize(value))),
        Effect::Removed { res } => (String::new(), format!("{res}: (removed)")),
        Effect::Threw { error } => (String::new(), format!("threw: {error}")),
        Effect::Note { kind, .. }
            if kind.starts_with("reconcile-") || kind.starts_with("tmux-") || *kind == "pr-created" =>
        {
            (String::new(), kind.to_string())
        }
        _ => return None,
    })
}

/// The violation as a table of the steps that touch shared state, the
/// broken invariant in words, and how to replay it.
pub fn timeline(failure: &Failure, replay_command: &str) -> String {
    struct Row<'a> {
        step: usize,
        task: &'a str,
        op: String,
        read: String,
        wrote: String,
    }
    let rows: Vec<Row> = failure
        .events
        .iter()
        .filter_map(|event| {
            let (read, wrote) = read_wrote(event)?;
            Some(Row { step: event.step, task: &event.task, op: format!("{} / {}", event.op, event.func), read, wrote })
        })
        .collect();
    // Each column as wide as its longest entry (the read column, the one
    // before the last, at most 64, so that one long read does not push
    // every write off the screen).
    let width = |header: &str, cell: fn(&Row) -> usize| rows.iter().map(cell).max().unwrap_or(0).max(header.len());
    let t = width("task", |r| r.task.chars().count());
    let o = width("operation", |r| r.op.chars().count());
    let r = width("read", |r| r.read.chars().count()).min(64);
    let mut out = String::new();
    out.push_str(&format!("{:>5}  {:<t$}  {:<o$}  {:<r$}  {}\n", "step", "task", "operation", "read", "wrote"));
    for Row { step, task, op, read, wrote } in &rows {
        let line = format!("{step:>5}  {task:<t$}  {op:<o$}  {read:<r$}  {wrote}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!("\n{} violated: {}\n", failure.violation.invariant, failure.violation.message));
    out.push_str(&format!("{}\n", found_by(failure)));
    out.push_str(&format!("replay: {replay_command}\n"));
    out
}

/// A `[[regression]]` entry that replays `failure` under `choices` (the
/// expectation's written knobs), ready to paste into the scenario file.
pub fn regression_block(choices: &std::collections::BTreeMap<String, String>, failure: &Failure) -> String {
    let variant: Vec<String> = choices.iter().map(|(k, v)| format!("{k} = {v:?}")).collect();
    let variant = if variant.is_empty() { "{}".to_string() } else { format!("{{ {} }}", variant.join(", ")) };
    format!(
        "[[regression]]\nvariant = {variant}\ninvariant = {:?}\nschedule = {:?}\n",
        failure.violation.invariant,
        failure.schedule.to_string()
    )
}

/// The command that reproduces `failure` of scenario file `file`.
pub fn replay_command(file: &str, variant: &str, failure: &Failure) -> String {
    format!("racecheck replay {file} --variant {variant} --schedule '{}'", failure.schedule)
}

/// Where the failure was found, in words.
pub fn found_by(failure: &Failure) -> String {
    let shrunk = if failure.preemptions_found != failure.preemptions {
        format!(", shrunk from {} preemptions", failure.preemptions_found)
    } else {
        String::new()
    };
    let place = match &failure.replay {
        Replay::Exhaustive { bound: Some(b), execution } => {
            format!("exhaustive execution {execution} at bound {b} (the smallest that fails)")
        }
        Replay::Exhaustive { bound: None, execution } => format!("exhaustive execution {execution}, unbounded"),
        Replay::Reduced { execution } => format!("dpor execution {execution}"),
        Replay::Stateful { execution } => format!("stateful execution {execution}"),
        Replay::StatefulWorkers { workers, execution } => {
            format!("stateful execution {execution} of {workers} workers (not reproducible by number)")
        }
        Replay::Sampled { seed, execution } => format!("sampled execution {execution} of seed {seed}"),
        Replay::Stress { run } => format!("real-thread run {run}"),
        Replay::Given => "replaying the given schedule".into(),
    };
    format!("{} preemptions{shrunk}; found by {place}", failure.preemptions)
}

/// The step numbers a violation message names ("step 12").
fn steps_named(message: &str) -> Vec<usize> {
    let mut steps = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find("step ") {
        rest = &rest[i + 5..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if let Ok(n) = digits.parse() {
            steps.push(n);
        }
    }
    steps
}

/// The failure as a Mermaid `sequenceDiagram` (renders inline in a GitHub
/// issue or PR): one lane per actor (a task it spawned draws on its lane,
/// named after the spawn), each file access and lock wait a note on the
/// lane of whoever did it, the steps the violation names highlighted, and
/// the broken invariant in words across every lane. Locks taken and let go
/// without a wait are left out: a wait shows the contention, the read that
/// follows shows who got in.
pub fn mermaid(failure: &Failure) -> String {
    let mut actors: Vec<&str> = Vec::new();
    let named = steps_named(&failure.violation.message);
    let mut body = String::new();
    for e in &failure.events {
        let text = match &e.effect {
            Effect::Read { res, value } => {
                format!("reads {res}: {}", value.as_deref().map_or("(absent)".into(), summarize))
            }
            Effect::Wrote { res, value, .. } => format!("writes {res}: {}", summarize(value)),
            Effect::Removed { res } => format!("removes {res}"),
            Effect::LockWait { res } => format!("waits for {res}"),
            Effect::Threw { error } => format!("throws: {error}"),
            _ => continue,
        };
        let (actor, spawned) = e.task.split_once('/').map_or((&*e.task, None), |(a, rest)| (a, Some(rest)));
        let lane = actors.iter().position(|a| *a == actor).unwrap_or_else(|| {
            actors.push(actor);
            actors.len() - 1
        });
        let who = spawned.map_or(String::new(), |s| format!("{} ", s.rsplit('/').next().unwrap_or(s)));
        let note = format!("Note over A{lane}: {}\n", wrapped(&format!("{}. {who}{text}", e.step)));
        if named.contains(&e.step) {
            body.push_str(&format!("    rect rgb(255, 215, 215)\n        {note}    end\n"));
        } else {
            body.push_str(&format!("    {note}"));
        }
    }
    let mut out = String::from("sequenceDiagram\n");
    for (i, a) in actors.iter().enumerate() {
        out.push_str(&format!("    participant A{i} as {}\n", mermaid_text(a)));
    }
    out.push_str(&body);
    if !actors.is_empty() {
        let across = if actors.len() > 1 { format!("A0,A{}", actors.len() - 1) } else { "A0".into() };
        out.push_str(&format!(
            "    Note over {across}: {}\n",
            wrapped(&format!("{} violated: {}", failure.violation.invariant, failure.violation.message))
        ));
    }
    out
}

/// Whether `text` is a `sequenceDiagram` of the subset [`mermaid`] writes,
/// by Mermaid's grammar for it: participants declared before use, notes
/// over one lane or a span of two, `rect` blocks closed by `end`, and no
/// `;`, `#` or line break inside a message
/// (which Mermaid reads as statement separators and entities). `Err` names
/// the first line that is not.
pub fn check_mermaid(text: &str) -> Result<(), String> {
    let mut lines = text.lines();
    if lines.next() != Some("sequenceDiagram") {
        return Err("the first line is not `sequenceDiagram`".into());
    }
    let mut declared: Vec<String> = Vec::new();
    let mut open = 0usize;
    let is_id = |id: &str, declared: &[String]| declared.iter().any(|d| d == id);
    let clean = |m: &str| !m.is_empty() && !m.contains([';', '#']);
    for (n, line) in lines.enumerate() {
        let n = n + 2;
        let t = line.trim();
        let ok = if let Some(rest) = t.strip_prefix("participant ") {
            match rest.split_once(" as ") {
                Some((id, label))
                    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric()) && clean(label) =>
                {
                    declared.push(id.to_string());
                    true
                }
                _ => false,
            }
        } else if let Some(rest) = t.strip_prefix("Note over ") {
            match rest.split_once(": ") {
                Some((lanes, message)) => {
                    let lanes: Vec<&str> = lanes.split(',').collect();
                    lanes.len() <= 2 && lanes.iter().all(|l| is_id(l, &declared)) && clean(message)
                }
                None => false,
            }
        } else if t.starts_with("rect rgb(") && t.ends_with(')') {
            open += 1;
            true
        } else if t == "end" {
            let was_open = open > 0;
            open = open.saturating_sub(1);
            was_open
        } else {
            false
        };
        if !ok {
            return Err(format!("line {n} is not a statement of the diagram: {line:?}"));
        }
    }
    if open > 0 {
        return Err(format!("{open} `rect` block(s) never closed by `end`"));
    }
    Ok(())
}

/// `text` for a note: Mermaid's text, in lines of about [`NOTE_WIDTH`]
/// characters (a note is as wide as its longest line, and a lane as wide as
/// its widest note).
fn wrapped(text: &str) -> String {
    let mut lines: Vec<String> = vec![String::new()];
    for word in mermaid_text(text).split(' ').filter(|w| !w.is_empty()) {
        let line = lines.last_mut().expect("one line at least");
        if !line.is_empty() && line.len() + 1 + word.len() > NOTE_WIDTH {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines.join("<br/>")
}

const NOTE_WIDTH: usize = 48;

/// Text Mermaid accepts in a message (no `;`, `#` or line breaks).
fn mermaid_text(text: &str) -> String {
    text.replace(';', ",").replace('#', "no. ").replace('\n', " ")
}

/// The whole trace as JSON: every event with its effect and values.
pub fn trace_json(events: &[Event]) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|e| {
            let (kind, res, value, meta) = match &e.effect {
                Effect::Read { res, value } => {
                    ("read", Some(res.to_string()), value.as_deref().map(str::to_string), Value::Null)
                }
                Effect::Wrote { res, value, meta } => {
                    ("wrote", Some(res.to_string()), Some(value.to_string()), meta.clone())
                }
                Effect::Removed { res } => ("removed", Some(res.to_string()), None, Value::Null),
                Effect::LockWait { res } => ("lock-wait", Some(res.to_string()), None, Value::Null),
                Effect::Locked { res } => ("locked", Some(res.to_string()), None, Value::Null),
                Effect::Unlocked { res } => ("unlocked", Some(res.to_string()), None, Value::Null),
                Effect::Spawned { task } => ("spawned", Some(task.to_string()), None, Value::Null),
                Effect::Note { kind, data } => (*kind, None, None, data.clone()),
                Effect::Threw { error } => ("threw", None, Some(error.clone()), Value::Null),
            };
            json!({ "step": e.step, "task": &*e.task, "op": &*e.op, "func": e.func, "kind": kind,
                    "resource": res, "value": value, "meta": meta })
        })
        .collect();
    Value::Array(events)
}

/// A failure as one JSON object: violation, schedule, preemptions, trace.
/// A violation judged at the end carries the final state it was judged on.
pub fn failure_json(failure: &Failure) -> Value {
    let mut json = json!({
        "invariant": failure.violation.invariant,
        "message": failure.violation.message,
        "schedule": failure.schedule.to_string(),
        "preemptions": failure.preemptions,
        "preemptions_before_shrinking": failure.preemptions_found,
        "found_by": found_by(failure),
        "trace": trace_json(&failure.events),
    });
    if let (None, Some(state)) = (failure.violation.step, &failure.final_state) {
        json["final_state"] = state.clone();
    }
    json
}

/// A system's knobs, each with its choices (`*` the default, the fix),
/// the choices in one column as wide as the longest.
pub fn knobs_text(spec: &crate::systems::SystemSpec) -> String {
    use std::fmt::Write as _;
    let width = spec.knobs.iter().flat_map(|k| k.choices).map(|(c, _)| c.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for k in spec.knobs {
        let _ = writeln!(out, "  {}: {}", k.name, k.about);
        for (choice, about) in k.choices {
            let mark = if *choice == k.default { "*" } else { " " };
            let _ = writeln!(out, "    {mark} {choice:<width$} {about}");
        }
    }
    out
}

/// Everything a scenario may say about a system, from its spec (so it
/// cannot drift from what the loader accepts): `explain --system`.
pub fn system_text(spec: &crate::systems::SystemSpec) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}\norigin: {}\n", spec.name, spec.about, spec.origin);
    let _ = writeln!(out, "[setup] fields:");
    for f in spec.setup {
        let _ = writeln!(out, "  {:<34} {:<28} {}", f.name, f.kind, f.about);
    }
    let _ = writeln!(out, "\noperations (`do = [{{ op = \"NAME\", ARG = VALUE }}]`):");
    for op in spec.ops {
        let _ = writeln!(out, "  {} — {}\n      origin: {}", op.name, op.about, op.origin);
        for a in op.args {
            let need = if a.required { "required" } else { "optional" };
            let _ = writeln!(out, "      {:<12} {:<28} {need}: {}", a.name, a.kind, a.about);
        }
    }
    let _ = writeln!(out, "\nknobs (`variant = {{ KNOB = \"CHOICE\" }}`; * marks the default, the fix):");
    out += &knobs_text(spec);
    let _ = writeln!(out, "\ninvariants (`[check] invariants`):");
    for i in spec.invariants {
        let _ = writeln!(out, "  {:<28} {}", i.name, i.about);
    }
    let _ = writeln!(out, "\nreachable conditions (`[check] reachable`: a proof that never reaches one is vacuous):");
    for c in spec.conditions {
        let _ = writeln!(out, "  {:<32} {}", c.name, c.about);
    }
    out
}
