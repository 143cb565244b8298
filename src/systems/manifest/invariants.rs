//! The manifest system's invariants, as online monitors over the history
//! (and, for `cache-catches-up`, the final state).
//!
//! A manifest's lineage is its `history` ring: a version that kept an update
//! has that update's etag in it. The service's commits are the renames of
//! `atomicWrite`; other processes' writes are `externalWrite`s, plus the
//! writes `[setup]` says landed before the start.

use super::Setup;
use super::bundle::{BundleFile, MANIFEST_FILE, Manifest, parse};
use crate::history::{Effect, Event};
use crate::runtime::{StateHash, StateHasher};
use crate::systems::monitor::{FinalState, Monitor, Unknown};
use serde_json::Value;
use std::collections::BTreeMap;

pub fn monitor(invariant: &str, setup: &Setup) -> Box<dyn Monitor> {
    match invariant {
        "no-silent-overwrite" => Box::new(ManifestWrites::new(setup, Rule::NoSilentOverwrite)),
        "generation-monotonic" => Box::new(ManifestWrites::new(setup, Rule::GenerationMonotonic)),
        "cache-never-regresses" => Box::new(CacheNeverRegresses::new(setup)),
        "cache-catches-up" => Box::new(CacheCatchesUp { setup: setup.clone() }),
        "terminal-task-stays-done" => Box::new(TerminalTaskStaysDone::new(setup)),
        "no-spurious-conflict" => Box::new(NoSpuriousConflict),
        other => Box::new(Unknown(other.to_string())),
    }
}

/// Who put a version on disk (a note for messages).
#[derive(Clone)]
enum Writer {
    Setup,
    /// An external write that landed before the scenario started.
    Landed,
    External {
        task: String,
        step: usize,
    },
    /// The service's rename, by `who` (see [`who`]).
    Service {
        who: String,
        step: usize,
    },
}

#[derive(Clone)]
struct OnDisk {
    manifest: Manifest,
    by: Writer,
}

impl OnDisk {
    fn is_external(&self) -> bool {
        matches!(self.by, Writer::Landed | Writer::External { .. })
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
    match &d.by {
        Writer::Setup => format!("the setup wrote {what}"),
        Writer::Landed => format!("an external write that landed before the scenario started left {what} on disk"),
        Writer::External { task, step } => format!("{task} wrote {what} at step {step}"),
        Writer::Service { who, step } => format!("{who} renamed {what} into place at step {step}"),
    }
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

/// What a rename of the service over `before` must not do.
#[derive(Clone, Copy)]
enum Rule {
    /// Overwrite an external version without descending from it.
    NoSilentOverwrite,
    /// Not advance the generation of the same run.
    GenerationMonotonic,
}

/// Every `manifest.json` version in order, each rename of the service
/// judged against the version it replaced.
#[derive(Clone)]
struct ManifestWrites {
    rule: Rule,
    setup: Setup,
    disk: OnDisk,
}

impl ManifestWrites {
    fn new(setup: &Setup, rule: Rule) -> Self {
        let initial = setup.initial();
        let by = if initial.landed == 0 { Writer::Setup } else { Writer::Landed };
        ManifestWrites { rule, setup: setup.clone(), disk: OnDisk { manifest: initial.disk.clone(), by } }
    }

    fn judge(&self, e: &Event, after: &Manifest) -> Option<String> {
        let (before, setup) = (&self.disk, &self.setup);
        match self.rule {
            Rule::NoSilentOverwrite => {
                (before.is_external() && !after.descends_from(&before.manifest.etag)).then(|| {
                    format!(
                        "{}; {} computed its result from {} and renamed over it at step {} without an etag_conflict",
                        written(before, setup),
                        who(e),
                        basis(e),
                        e.step
                    )
                })
            }
            Rule::GenerationMonotonic => {
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
            }
        }
    }
}

impl Monitor for ManifestWrites {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let Effect::Wrote { res, value, .. } = &e.effect else { return None };
        if &**res != MANIFEST_FILE {
            return None;
        }
        let next = parse(value)?;
        let external = e.func == "externalWrite";
        if !external && let Some(message) = self.judge(e, &next) {
            return Some(message);
        }
        let by = if external {
            Writer::External { task: e.task.to_string(), step: e.step }
        } else {
            Writer::Service { who: who(e), step: e.step }
        };
        self.disk = OnDisk { manifest: next, by };
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        let m = &self.disk.manifest;
        (m.etag.as_str(), m.server_generation, m.run_id.as_str(), self.disk.is_external()).state_hash(h);
    }
}

/// Subscribers are never shown a manifest that does not descend from the
/// one they were shown before.
#[derive(Clone)]
struct CacheNeverRegresses {
    /// The etag of the manifest last shown.
    last: Option<String>,
    /// Note: its generation and when it was shown.
    shown: Option<(u64, String)>,
}

impl CacheNeverRegresses {
    fn new(setup: &Setup) -> Self {
        let base = setup.cached.then(|| setup.initial().base.clone());
        CacheNeverRegresses {
            last: base.as_ref().map(|b| b.etag.clone()),
            shown: base.map(|b| (b.server_generation, "before the scenario started (the cached manifest)".to_string())),
        }
    }
}

impl Monitor for CacheNeverRegresses {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let data = e.note("cache-set")?;
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
        if let (Some(prev), Some((prev_generation, when))) = (&self.last, &self.shown)
            && *prev != etag
            && !lineage.contains(&prev.as_str())
        {
            return Some(format!(
                "subscribers saw generation {prev_generation} (etag {prev}) {when}; at step {} {} showed them generation {generation} \
                 (etag {etag}), which does not descend from it",
                e.step,
                how(source)
            ));
        }
        self.last = Some(etag);
        self.shown = Some((generation, format!("at step {} from {}", e.step, how(source))));
        None
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.last.state_hash(h);
    }
}

/// A patch whose `if_match` is refused only because heartbeats wrote new
/// versions since (the lead's etag goes stale with no change it could
/// conflict with: the churn 7886961b and 83dfd7a8 removed).
#[derive(Clone)]
struct NoSpuriousConflict;

impl Monitor for NoSpuriousConflict {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let data = e.note("etag-mismatch")?;
        let since: Vec<&str> = data.get("since")?.as_array()?.iter().filter_map(Value::as_str).collect();
        let only_heartbeats = !since.is_empty() && since.iter().all(|k| *k == "agents.heartbeat");
        only_heartbeats.then(|| {
            format!(
                "step {} {} was refused (etag_conflict): its if_match {} is {} version(s) old, and every one since \
                 is a heartbeat",
                e.step,
                who(e),
                data.get("ifMatch").and_then(Value::as_str).unwrap_or("?"),
                since.len()
            )
        })
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

/// Issue #413: a task done or failed on disk is not claimed again.
#[derive(Clone)]
struct TerminalTaskStaysDone {
    /// Each task's status in manifest.json as last read or written.
    tasks: BTreeMap<String, String>,
}

impl TerminalTaskStaysDone {
    fn new(setup: &Setup) -> Self {
        let tasks = setup.initial().disk.tasks.iter().map(|t| (t.id.clone(), t.status.clone())).collect();
        TerminalTaskStaysDone { tasks }
    }
}

impl Monitor for TerminalTaskStaysDone {
    fn observe(&mut self, e: &Event) -> Option<String> {
        let (value, wrote) = match &e.effect {
            Effect::Read { res, value: Some(v) } if &**res == MANIFEST_FILE => (v, false),
            Effect::Wrote { res, value, .. } if &**res == MANIFEST_FILE => (value, true),
            _ => return None,
        };
        let manifest = parse(value)?;
        let now: BTreeMap<String, String> = manifest.tasks.iter().map(|t| (t.id.clone(), t.status.clone())).collect();
        let before = std::mem::replace(&mut self.tasks, now);
        let claim = manifest.history.last().is_some_and(|h| h.patch_kind_summary == "tasks.claim");
        if !wrote || !claim {
            return None;
        }
        let (id, was) = before.iter().find(|(id, status)| {
            ["done", "failed"].contains(&status.as_str()) && self.tasks.get(*id).is_some_and(|s| s == "claimed")
        })?;
        Some(format!(
            "step {} {} wrote manifest.json with {id} claimed, which it held as {was}: a finished task is taken up \
             again (and its phase re-opens)",
            e.step,
            who(e)
        ))
    }

    fn state_hash(&self, h: &mut StateHasher) {
        self.tasks.state_hash(h);
    }
}

/// At the end, once every debounce timer has fired (at quiescence, if no
/// actor fired it), the cache holds what is on disk.
#[derive(Clone)]
struct CacheCatchesUp {
    setup: Setup,
}

impl Monitor for CacheCatchesUp {
    fn observe(&mut self, _: &Event) -> Option<String> {
        None
    }

    fn at_end(&mut self, events: &[Event], final_state: &FinalState) -> Option<String> {
        cache_catches_up(&self.setup, events, final_state.get())
    }

    fn state_hash(&self, _: &mut StateHasher) {}
}

fn cache_catches_up(setup: &Setup, events: &[Event], final_state: &Value) -> Option<String> {
    let runtime = final_state.get("runtime")?;
    let files = final_state.get("files")?;
    // Armed timers fired at quiescence, before this is judged (the world's
    // `quiesce`), so no reload is still due here.
    let suspended = runtime.get("suspended").and_then(Value::as_bool) == Some(true);
    let disk: Option<Manifest> = files.get(MANIFEST_FILE).and_then(|m| serde_json::from_value(m.clone()).ok());
    // Suspended, the service rightly ignores disk while another run's
    // bundle (or none) is there (keeping its cache before the fix, dropping
    // it since); once its own is back it must notice.
    if let Some(disk) = disk.filter(|d| d.run_id == setup.run_id) {
        if suspended {
            return Some(format!(
                "{}. At the end every debounce timer has fired, yet the run is still suspended while \
                 manifest.json holds its own bundle again ({})",
                missed(BundleFile::Manifest, events),
                disk.describe()
            ));
        }
        let cache = runtime.get("manifest").filter(|m| !m.is_null());
        let cached_etag = cache.and_then(|c| c.get("etag")).and_then(Value::as_str).unwrap_or_default();
        if cache.is_some() && disk.etag != cached_etag {
            let generation = cache.and_then(|c| c.get("serverGeneration")).and_then(Value::as_u64).unwrap_or_default();
            return Some(format!(
                "{}. At the end every debounce timer has fired, yet the cache still holds generation {generation} \
                 (etag {cached_etag}) while manifest.json holds {}",
                missed(BundleFile::Manifest, events),
                disk.describe()
            ));
        }
    }
    // plan.md is reloaded whether or not the run is suspended.
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
