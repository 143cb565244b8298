//! The manifest system's invariants, judged over the history and final state.
//!
//! A manifest's lineage is its `history` ring: a version that kept an update
//! has that update's etag in it. The service's commits are the renames of
//! `atomicWrite`; other processes' writes are `externalWrite`s, plus the
//! writes `[setup]` says landed before the start.

use super::Setup;
use super::bundle::{BundleFile, MANIFEST_FILE, Manifest, parse};
use crate::history::{Effect, Event};
use serde_json::Value;

pub fn check(invariant: &str, setup: &Setup, events: &[Event], final_state: &Value) -> Option<String> {
    match invariant {
        "no-silent-overwrite" => no_silent_overwrite(setup, events),
        "generation-monotonic" => generation_monotonic(setup, events),
        "cache-never-regresses" => cache_never_regresses(setup, events),
        "cache-catches-up" => cache_catches_up(setup, events, final_state),
        other => Some(format!("unknown invariant {other:?}")),
    }
}

/// Who put a version on disk.
enum Writer<'a> {
    Setup,
    /// An external write that landed before the scenario started.
    Landed,
    External(&'a Event),
    Service(&'a Event),
}

struct OnDisk<'a> {
    manifest: Manifest,
    by: Writer<'a>,
}

impl OnDisk<'_> {
    fn is_external(&self) -> bool {
        matches!(self.by, Writer::Landed | Writer::External(_))
    }
}

/// `lead's manifest_patch(if_match=cached)`.
fn who(e: &Event) -> String {
    format!("{}'s {}", e.task, e.op)
}

fn describe(m: &Manifest, setup: &Setup) -> String {
    if m.run_id == setup.run_id { m.describe() } else { format!("run {}'s manifest, {}", m.run_id, m.describe()) }
}

/// "git-checkout wrote generation 5 (etag ..) at step 4".
fn written(d: &OnDisk, setup: &Setup) -> String {
    let what = describe(&d.manifest, setup);
    match d.by {
        Writer::Setup => format!("the setup wrote {what}"),
        Writer::Landed => format!("an external write that landed before the scenario started left {what} on disk"),
        Writer::External(e) => format!("{} wrote {what} at step {}", e.task, e.step),
        Writer::Service(e) => format!("{} renamed {what} into place at step {}", who(e), e.step),
    }
}

/// Every `manifest.json` version in order: `f(before, event, after)`, until
/// `f` returns a message.
fn walk_manifest<'a>(
    setup: &Setup,
    events: &'a [Event],
    mut f: impl FnMut(&OnDisk<'a>, &'a Event, &Manifest) -> Option<String>,
) -> Option<String> {
    let initial = setup.initial();
    let by = if initial.landed.is_empty() { Writer::Setup } else { Writer::Landed };
    let mut disk = OnDisk { manifest: initial.disk, by };
    for e in events {
        let Effect::Wrote { res, value, .. } = &e.effect else { continue };
        if &**res != MANIFEST_FILE {
            continue;
        }
        let Some(next) = parse(value) else { continue };
        if e.func != "externalWrite"
            && let Some(message) = f(&disk, e, &next)
        {
            return Some(message);
        }
        let by = if e.func == "externalWrite" { Writer::External(e) } else { Writer::Service(e) };
        disk = OnDisk { manifest: next, by };
    }
    None
}

fn meta(e: &Event) -> &Value {
    match &e.effect {
        Effect::Wrote { meta, .. } => meta,
        _ => &Value::Null,
    }
}

/// "generation 4 (cached at step 2)".
fn basis(e: &Event) -> String {
    let meta = meta(e);
    let generation = meta.get("baseGeneration").and_then(Value::as_u64);
    let at = match meta.get("baseCachedAt").and_then(Value::as_u64) {
        Some(step) => format!("cached at step {step}"),
        None => "cached before the scenario started".into(),
    };
    match generation {
        Some(g) => format!("generation {g} ({at})"),
        None => "no cached manifest".into(),
    }
}

fn no_silent_overwrite(setup: &Setup, events: &[Event]) -> Option<String> {
    walk_manifest(setup, events, |before, e, after| {
        (before.is_external() && !after.descends_from(&before.manifest.etag)).then(|| {
            format!(
                "{}; {} computed its result from {} and renamed over it at step {} without an etag_conflict",
                written(before, setup),
                who(e),
                basis(e),
                e.step
            )
        })
    })
}

fn generation_monotonic(setup: &Setup, events: &[Event]) -> Option<String> {
    walk_manifest(setup, events, |before, e, after| {
        let (old, new) = (before.manifest.server_generation, after.server_generation);
        (before.manifest.run_id == after.run_id && new <= old).then(|| {
            let how = if new < old { "went back" } else { "did not advance" };
            format!(
                "{}; at step {} {} renamed {} over it (computed from {}): the generation on disk {how}",
                written(before, setup),
                e.step,
                who(e),
                after.describe(),
                basis(e)
            )
        })
    })
}

/// A manifest subscribers were shown.
struct Shown {
    generation: u64,
    etag: String,
    when: String,
}

fn cache_never_regresses(setup: &Setup, events: &[Event]) -> Option<String> {
    let mut last: Option<Shown> = setup.cached.then(|| {
        let base = setup.initial().base;
        Shown {
            generation: base.server_generation,
            etag: base.etag,
            when: "before the scenario started (the cached manifest)".into(),
        }
    });
    for e in events {
        let Some(data) = e.note("cache-set") else { continue };
        let etag = data.get("etag").and_then(Value::as_str).unwrap_or_default().to_string();
        let generation = data.get("generation").and_then(Value::as_u64).unwrap_or_default();
        let lineage: Vec<&str> = data
            .get("lineage")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let how = |source: &str| match source {
            "handleExternalChange" => format!("the watcher reload in {}", who(e)),
            _ => who(e),
        };
        let source = data.get("source").and_then(Value::as_str).unwrap_or_default();
        if let Some(prev) = &last
            && prev.etag != etag
            && !lineage.contains(&prev.etag.as_str())
        {
            return Some(format!(
                "subscribers saw generation {} (etag {}) {}; at step {} {} showed them generation {generation} \
                 (etag {etag}), which does not descend from it",
                prev.generation,
                prev.etag,
                prev.when,
                e.step,
                how(source)
            ));
        }
        last = Some(Shown { generation, etag, when: format!("at step {} from {}", e.step, how(source)) });
    }
    None
}

fn cache_catches_up(setup: &Setup, events: &[Event], final_state: &Value) -> Option<String> {
    let runtime = final_state.get("runtime")?;
    let files = final_state.get("files")?;
    let pending = runtime.get("timers").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
    if pending || runtime.get("suspended").and_then(Value::as_bool) == Some(true) {
        return None; // a reload is still due, or the service knows the bundle changed hands
    }
    let cache = runtime.get("manifest").filter(|m| !m.is_null())?;
    let disk: Manifest = serde_json::from_value(files.get(MANIFEST_FILE)?.clone()).ok()?;
    let cached_etag = cache.get("etag").and_then(Value::as_str).unwrap_or_default();
    if disk.run_id == setup.run_id && disk.etag != cached_etag {
        let generation = cache.get("serverGeneration").and_then(Value::as_u64).unwrap_or_default();
        return Some(format!(
            "{}. At the end every debounce timer has fired, yet the cache still holds generation {generation} \
             (etag {cached_etag}) while manifest.json holds {}",
            missed(BundleFile::Manifest, events),
            disk.describe()
        ));
    }
    let cached_plan = runtime.get("planMd").and_then(Value::as_str)?;
    let disk_plan = files.get(BundleFile::Plan.path()).and_then(Value::as_str)?;
    (cached_plan != disk_plan).then(|| {
        format!(
            "{}. At the end every debounce timer has fired, yet the cached plan.md differs from the file",
            missed(BundleFile::Plan, events)
        )
    })
}

/// Why the last external write to `file` never reached the cache.
fn missed(file: BundleFile, events: &[Event]) -> String {
    let path = file.path();
    let last = events
        .iter()
        .rposition(|e| matches!(&e.effect, Effect::Wrote { res, .. } if &**res == path && e.func == "externalWrite"));
    let (write, after) = match last {
        Some(i) => {
            let e = &events[i];
            // Its change event: the writer's next timer-armed note for this file
            // (under threads semantics other events may come in between).
            let watched = events[i + 1..]
                .iter()
                .filter(|n| n.task == e.task)
                .find(|n| n.note("timer-armed").is_some() || matches!(n.effect, Effect::Wrote { .. }))
                .and_then(|n| n.note("timer-armed"))
                .is_some_and(|d| d.get("file").and_then(Value::as_str) == Some(file.name()));
            if !watched {
                return format!("{} wrote {path} at step {}, and the watcher never saw it", e.task, e.step);
            }
            (format!("{} wrote {path} at step {}", e.task, e.step), &events[i + 1..])
        }
        None => (format!("an external write to {path} landed before the scenario started"), events),
    };
    for e in after {
        if let Some(d) = e.note("timer-armed") {
            let cleared = d.get("cleared").and_then(|c| c.get("file")).and_then(Value::as_str);
            let other = d.get("file").and_then(Value::as_str);
            if cleared == Some(file.name()) && other != Some(file.name()) {
                return format!(
                    "{write}; at step {} {}'s change to {} cleared the shared debounce timer that would have reloaded {path}",
                    e.step,
                    e.task,
                    other.and_then(BundleFile::parse).map_or("another file", BundleFile::path),
                );
            }
        }
        if let Some(d) = e.note("reload-suppressed")
            && d.get("file").and_then(Value::as_str) == Some(file.name())
        {
            let now = d.get("now").and_then(Value::as_u64).unwrap_or_default();
            let until = d.get("until").and_then(Value::as_u64).unwrap_or_default();
            let opened = events[..e.step.saturating_sub(1)]
                .iter()
                .rev()
                .find(|w| {
                    w.note("self-write-window").and_then(|d| d.get("until")).and_then(Value::as_u64) == Some(until)
                })
                .map(|w| format!(", opened at step {} by {}", w.step, who(w)))
                .unwrap_or_else(|| ", set before the scenario started".into());
            return format!(
                "{write}; the watcher fired at step {} (t={now} ms) and skipped the reload inside the self-write \
                 window (until t={until} ms{opened})",
                e.step
            );
        }
    }
    format!("{write}, and no reload brought it into the cache")
}
