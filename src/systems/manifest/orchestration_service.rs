//! `orchestrationService.ts`: one run's `RunRuntime` (the cached manifest,
//! the run mutex, the watcher's debounce timers and self-write window) and
//! the functions that read and write the bundle through it:
//! `loadIntoRuntime`, `manifestPatch`, the direct patches (`claimTask`,
//! `releaseTask`, heartbeats), `persistManifest` with `atomicWrite`, and the
//! watcher's `debouncedReload` / `handleExternalChange`.
//!
//! Every origin `await` is an await of the model. `atomicWrite`'s mkdir,
//! open, write, fsync and close touch only the temp file and are one await;
//! the `beforeCommit` re-check and the rename are separate awaits, so a write
//! of another process can land between them.

use super::bundle::{
    BundleFile, GEN_FILE, HEARTBEATS_FILE, HEARTBEATS_TMP, MANIFEST_FILE, MANIFEST_TMP, Manifest, make_etag,
    manifest_contents, parse,
};
use super::{DebounceTimer, Heartbeat, PersistCheck, WatcherReload};
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Flag, Shared, StateHash, StateHasher};
use crate::storage::{Contents, Files};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The code choices and constants this execution runs with.
#[derive(Clone, Debug)]
pub struct Config {
    pub persist_check: PersistCheck,
    /// claimTask refuses a task that is done or failed (PR #420, issue #413).
    pub claim_refuses_terminal: bool,
    pub watcher_reload: WatcherReload,
    pub debounce_timer: DebounceTimer,
    pub heartbeat: Heartbeat,
    /// `markSelfWrite`: `recentSelfWriteUntil = now + window`.
    pub self_write_window: u64,
    /// `debouncedReload`'s `setTimeout` delay.
    pub debounce: u64,
}

/// `rt.manifest`, with the step at which it entered the cache (`None`:
/// before the scenario started), for the invariants' messages.
#[derive(Clone, Debug)]
pub struct Cached {
    pub manifest: Manifest,
    pub at: Option<usize>,
}

/// The cached manifest; `at` is a label for messages, never branched on.
impl StateHash for Cached {
    fn state_hash(&self, h: &mut StateHasher) {
        self.manifest.state_hash(h);
    }
}

/// An armed `setTimeout` of `debouncedReload`.
#[derive(Clone, Debug)]
pub struct Timer {
    pub file: BundleFile,
    /// Logical ms at which it fires.
    pub due: u64,
    /// Step of the change event that armed it (`None`: before the scenario).
    pub armed_at: Option<usize>,
}

/// `armed_at` is a label for messages, never branched on.
impl StateHash for Timer {
    fn state_hash(&self, h: &mut StateHasher) {
        (self.file.name(), self.due).state_hash(h);
    }
}

/// The watcher's debounce timers: one shared slot before #408's fix, one per
/// file after it.
#[derive(Clone, Debug, Default)]
pub struct Timers {
    pub armed: Vec<Timer>,
}

crate::state_hash_fields!(Timers { armed });

impl Timers {
    /// `clearTimeout(t); t = setTimeout(...)`: returns the timer it cleared.
    pub fn arm(&mut self, mode: DebounceTimer, timer: Timer) -> Option<Timer> {
        let cleared = match mode {
            DebounceTimer::Shared => self.armed.pop(),
            DebounceTimer::PerFile => {
                self.armed.iter().position(|t| t.file == timer.file).map(|i| self.armed.remove(i))
            }
        };
        self.armed.push(timer);
        cleared
    }

    /// Takes the timers that fire (all, or `file`'s), earliest first.
    fn take(&mut self, file: Option<BundleFile>) -> Vec<Timer> {
        let (mut fire, keep): (Vec<Timer>, Vec<Timer>) =
            self.armed.drain(..).partition(|t| file.is_none_or(|f| t.file == f));
        self.armed = keep;
        fire.sort_by_key(|t| t.due);
        fire
    }
}

/// Why a mutator stopped: the origin's thrown errors.
#[derive(Clone, Debug, PartialEq)]
pub enum Thrown {
    /// `OrchestrationPersistConflictError`: disk advanced past our base.
    Conflict,
    /// `OrchestrationRunSuspendedError`: the bundle belongs to another run.
    Suspended,
    Error(String),
}

impl From<std::io::Error> for Thrown {
    fn from(e: std::io::Error) -> Self {
        Thrown::Error(format!("I/O error: {e}"))
    }
}

/// What a mutator returns to its caller (an agent tool).
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Ok,
    EtagConflict,
    ValidationFailed(String),
    /// `claimTask` refused: another assignee's lease has not expired.
    ClaimConflict(String),
    Threw(String),
}

crate::state_hash_debug!(Thrown, Outcome);

impl Outcome {
    fn name(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::EtagConflict => "etag_conflict",
            Outcome::ValidationFailed(_) => "validation_failed",
            Outcome::ClaimConflict(_) => "claim_conflict",
            Outcome::Threw(_) => "threw",
        }
    }
}

/// A change one mutator makes to the cached manifest.
#[derive(Clone, Debug)]
pub enum Change {
    /// `manifestPatch`: append a decision, optionally set a task's status.
    Patch {
        summary: String,
        task: Option<(String, String)>,
    },
    Claim {
        task: String,
        session: String,
        lease_ms: u64,
    },
    Release {
        task: String,
        session: String,
        /// The status it leaves the task in: open, done or failed.
        status: String,
    },
    Heartbeat {
        session: String,
    },
}

impl Change {
    fn kind(&self) -> &'static str {
        match self {
            Change::Patch { task: Some(_), .. } => "decisions.append,tasks.update",
            Change::Patch { .. } => "decisions.append",
            Change::Claim { .. } => "tasks.claim",
            Change::Release { .. } => "tasks.release",
            Change::Heartbeat { .. } => "agents.heartbeat",
        }
    }

    /// Applies the change at logical time `now`; `Err` refuses it.
    fn apply(&self, m: &mut Manifest, now: u64, by: &str, config: &Config) -> Result<String, Outcome> {
        match self {
            Change::Patch { summary, task } => {
                m.decisions.push(super::bundle::Decision { by: by.to_string(), summary: summary.clone(), at: now });
                if let Some((id, status)) = task
                    && let Some(t) = m.task_mut(id)
                {
                    t.status = status.clone();
                }
                Ok(summary.clone())
            }
            Change::Claim { task, session, lease_ms } => {
                let Some(t) = m.task_mut(task) else {
                    return Err(Outcome::ValidationFailed(format!("unknown task {task}")));
                };
                if config.claim_refuses_terminal && ["done", "failed"].contains(&t.status.as_str()) {
                    return Err(Outcome::ValidationFailed(format!("{task} is {} (terminal)", t.status)));
                }
                if let Some(other) = &t.assignee_session_id
                    && other != session
                    && t.claim_lease_until.is_some_and(|until| until > now)
                {
                    return Err(Outcome::ClaimConflict(format!("{task} is claimed by {other}")));
                }
                t.status = "claimed".into();
                t.assignee_session_id = Some(session.clone());
                t.claimed_at = Some(now);
                t.claim_lease_until = Some(now + lease_ms);
                Ok(format!("{session} claims {task}"))
            }
            Change::Release { task, session, status } => {
                let Some(t) = m.task_mut(task) else {
                    return Err(Outcome::ValidationFailed(format!("unknown task {task}")));
                };
                if t.assignee_session_id.as_deref() != Some(session) {
                    return Err(Outcome::ValidationFailed(format!("{task} is not claimed by {session}")));
                }
                t.status = status.clone();
                t.assignee_session_id = None;
                t.claimed_at = None;
                t.claim_lease_until = None;
                Ok(format!("{session} releases {task}"))
            }
            Change::Heartbeat { session } => {
                match m.agents.iter_mut().find(|a| &a.session_id == session) {
                    Some(a) => a.last_heartbeat_at = Some(now),
                    None => m.agents.push(super::bundle::Agent {
                        session_id: session.clone(),
                        role: "worker".into(),
                        status: "running".into(),
                        last_heartbeat_at: Some(now),
                    }),
                }
                Ok(format!("heartbeat of {session}"))
            }
        }
    }
}

/// `RunRuntime`: one run's in-memory state in the service.
pub struct RunRuntime<P: Platform> {
    pub run_id: String,
    pub files: Files,
    /// `runtime.mutex`, an `AsyncMutex` (FIFO, direct hand-off).
    pub mutex: FifoMutex<P>,
    /// `rt.manifest`: once set, authoritative (`loadIntoRuntime` returns early).
    pub manifest: Shared<P, Option<Cached>>,
    pub plan_md: Shared<P, Option<String>>,
    pub suspended: Flag<P>,
    pub recent_self_write_until: Shared<P, u64>,
    pub timers: Shared<P, Timers>,
    /// `Date.now()`, in logical ms; actors advance it.
    pub clock: Shared<P, u64>,
    pub config: Config,
}

fn note<P: Platform>(cx: &Cx<'_, P>, func: &'static str, kind: &'static str, data: Value) -> usize {
    cx.record(func, Effect::Note { kind, data })
}

impl<P: Platform> RunRuntime<P> {
    pub fn now(&self) -> u64 {
        self.clock.get()
    }

    fn writable_check(&self) -> bool {
        self.config.persist_check == PersistCheck::Generation
    }

    /// `emit('manifest', ...)`: listeners see the cached manifest.
    fn emit_manifest(&self, cx: &Cx<'_, P>, source: &str) {
        if let Some(c) = self.manifest.get() {
            let lineage: Vec<&str> = c.manifest.history.iter().map(|h| h.etag.as_str()).collect();
            note(
                cx,
                "emit",
                "cache-set",
                json!({
                    "generation": c.manifest.server_generation,
                    "etag": c.manifest.etag,
                    "runId": c.manifest.run_id,
                    "lineage": lineage,
                    "source": source,
                }),
            );
        }
    }

    fn suspend(&self, cx: &Cx<'_, P>, func: &'static str, found: &str) {
        self.suspended.store(cx, true);
        note(cx, func, "suspended", json!({ "runId": found }));
    }

    /// Another run's bundle is on disk. Since the fix (83dfd7a8 and later,
    /// with the generation check) `handleExternalChange` and
    /// `loadIntoRuntime` suspend the run and drop its cache
    /// (`manifest = null; planMd = null`); before it (884b8a40 to 7886961b)
    /// the reload only sets `suspended` and keeps the cache, and
    /// `loadIntoRuntime` throws without suspending.
    fn suspend_for_another_run(&self, cx: &Cx<'_, P>, func: &'static str, found: &str) {
        self.suspend(cx, func, found);
        if self.writable_check() {
            self.manifest.set(None);
            self.plan_md.set(None);
        }
    }

    /// `loadIntoRuntime(rt)`: returns at once when the cache is hydrated;
    /// disk is then re-read only by the watcher.
    pub fn load_into_runtime(&self, cx: &mut Cx<'_, P>) -> Result<(), Thrown> {
        if self.manifest.with(|m| m.is_some()) && self.plan_md.with(|p| p.is_some()) {
            return Ok(());
        }
        let (step, text) = self.files.read(cx, "loadIntoRuntime", MANIFEST_FILE)?;
        let text = text.ok_or_else(|| Thrown::Error("manifest.json does not exist".into()))?;
        let manifest = parse(&text).ok_or_else(|| Thrown::Error("manifest.json is not a manifest".into()))?;
        if manifest.run_id != self.run_id {
            if !self.writable_check() {
                return Err(Thrown::Error(format!("manifest.json belongs to run {}", manifest.run_id)));
            }
            // Post-fix: suspended, the cache dropped; mutators then refuse
            // (assertRunWritable).
            self.suspend_for_another_run(cx, "loadIntoRuntime", &manifest.run_id);
            return Err(Thrown::Suspended);
        }
        let (_, plan) = self.files.read(cx, "loadIntoRuntime", super::bundle::PLAN_FILE)?;
        self.manifest.set(Some(Cached { manifest, at: Some(step) }));
        self.plan_md.set(Some(plan.map(|p| p.to_string()).unwrap_or_default()));
        Ok(())
    }

    /// `bundleRead`: `loadIntoRuntime` inside the run mutex.
    pub fn bundle_read(&self, cx: &mut Cx<'_, P>) {
        let result = self.mutex.with_lock(cx, |cx| self.load_into_runtime(cx));
        let outcome = match result {
            Ok(()) => Outcome::Ok,
            Err(Thrown::Suspended) => Outcome::ValidationFailed("run is suspended".into()),
            Err(Thrown::Conflict) => Outcome::EtagConflict,
            Err(Thrown::Error(e)) => Outcome::Threw(e),
        };
        note(cx, "bundleRead", "load-result", json!({ "result": outcome.name() }));
    }

    /// `manifestPatch(req)` (`if_match` given) or `directPatch(rt, ops)`
    /// (claim, release, heartbeat: no etag), inside the run mutex.
    pub fn mutate(&self, cx: &mut Cx<'_, P>, func: &'static str, if_match: Option<&str>, change: &Change) -> Outcome {
        let outcome = self.mutex.with_lock(cx, |cx| self.mutate_locked(cx, func, if_match, change));
        let data = match &outcome {
            Outcome::ValidationFailed(why) | Outcome::ClaimConflict(why) | Outcome::Threw(why) => {
                json!({ "result": outcome.name(), "why": why })
            }
            _ => json!({ "result": outcome.name() }),
        };
        note(cx, func, "patch-result", data);
        if let Outcome::Threw(error) = outcome.clone() {
            cx.record(func, Effect::Threw { error });
        }
        outcome
    }

    fn mutate_locked(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        if_match: Option<&str>,
        change: &Change,
    ) -> Outcome {
        // assertRunWritable (post-fix): a suspended run refuses writes.
        if self.writable_check() && self.suspended.load(cx) {
            return Outcome::ValidationFailed("run is suspended (bundle changed externally)".into());
        }
        match self.load_into_runtime(cx) {
            Ok(()) => {}
            Err(Thrown::Suspended) => return Outcome::ValidationFailed("run is suspended".into()),
            Err(Thrown::Conflict) => return Outcome::EtagConflict,
            Err(Thrown::Error(e)) => return Outcome::Threw(e),
        }
        let Some(current) = self.manifest.get() else {
            return Outcome::ValidationFailed("run is suspended".into());
        };
        // The optimistic check compares against the *cached* etag, never disk.
        if let Some(expected) = if_match
            && current.manifest.etag != expected
        {
            // What changed since the caller's version, for the invariants:
            // the kinds of the history entries after it (if it is still in
            // the ring).
            let history = &current.manifest.history;
            let since = history
                .iter()
                .position(|h| h.etag == expected)
                .map(|i| history[i + 1..].iter().map(|h| h.patch_kind_summary.clone()).collect::<Vec<_>>());
            note(cx, func, "etag-mismatch", json!({ "ifMatch": expected, "since": since }));
            return Outcome::EtagConflict;
        }
        let now = self.now();
        let mut next = current.manifest.clone();
        let summary = match change.apply(&mut next, now, cx.task(), &self.config) {
            Ok(s) => s,
            Err(refused) => return refused,
        };
        let generation = current.manifest.server_generation + 1;
        let etag = make_etag(generation, cx.task(), cx.now());
        let next = next.next_version(generation, etag, now, summary, change.kind());
        note(
            cx,
            func,
            "patch-computed",
            json!({
                "baseGeneration": current.manifest.server_generation,
                "baseEtag": current.manifest.etag,
                "baseCachedAt": current.at,
                "generation": next.server_generation,
                "etag": next.etag,
            }),
        );
        match self.persist_manifest(cx, next) {
            Ok(_) => {
                self.emit_manifest(cx, func);
                Outcome::Ok
            }
            // manifestPatch maps the persist errors to its result kinds.
            Err(Thrown::Conflict) => Outcome::EtagConflict,
            Err(Thrown::Suspended) => Outcome::ValidationFailed("run is suspended (bundle changed externally)".into()),
            Err(Thrown::Error(e)) => Outcome::Threw(e),
        }
    }

    /// `agentHeartbeat` since #382 (`83dfd7a8`): inside the run mutex, the
    /// cached agent's `lastHeartbeatAt` (etag and generation unchanged),
    /// then `heartbeats.json` read and written whole. No `persistManifest`,
    /// no self-write mark, no disk check; the watcher does not watch the file.
    pub fn agent_heartbeat(&self, cx: &mut Cx<'_, P>, session: &str) {
        let outcome = self.mutex.with_lock(cx, |cx| self.agent_heartbeat_locked(cx, session));
        note(cx, "agentHeartbeat", "patch-result", json!({ "result": outcome.name() }));
    }

    fn agent_heartbeat_locked(&self, cx: &mut Cx<'_, P>, session: &str) -> Outcome {
        match self.load_into_runtime(cx) {
            Ok(()) => {}
            Err(Thrown::Error(e)) => return Outcome::Threw(e),
            Err(_) => return Outcome::ValidationFailed("run is suspended".into()),
        }
        let Some(mut current) = self.manifest.get().filter(|_| !self.suspended.load(cx)) else {
            return Outcome::ValidationFailed("run is suspended".into());
        };
        let now = self.now();
        let change = Change::Heartbeat { session: session.to_string() };
        if let Err(refused) = change.apply(&mut current.manifest, now, cx.task(), &self.config) {
            return refused;
        }
        self.manifest.set(Some(current));
        let written = (|| {
            // readHeartbeatLiveness: `{}` on any error.
            let (_, text) = self.files.read(cx, "readHeartbeatLiveness", HEARTBEATS_FILE)?;
            let mut beats: BTreeMap<String, u64> =
                text.and_then(|t| serde_json::from_str(t.as_text()).ok()).unwrap_or_default();
            beats.insert(session.to_string(), now);
            let text = serde_json::to_string(&beats).unwrap_or_default();
            self.files.write(cx, "writeHeartbeatLiveness", HEARTBEATS_TMP, text, json!({}))?;
            self.files.rename(cx, "writeHeartbeatLiveness", HEARTBEATS_TMP, HEARTBEATS_FILE, json!({}))
        })();
        match written {
            Ok(_) => Outcome::Ok,
            Err(e) => Outcome::Threw(e.to_string()),
        }
    }

    /// `markSelfWrite(rt)`: the watcher ignores changes for a while.
    fn mark_self_write(&self, cx: &Cx<'_, P>) {
        let until = self.now() + self.config.self_write_window;
        self.recent_self_write_until.set(until);
        note(cx, "markSelfWrite", "self-write-window", json!({ "until": until }));
    }

    /// `persistManifest(rt, manifest)`; returns the step of the rename.
    pub fn persist_manifest(&self, cx: &mut Cx<'_, P>, next: Manifest) -> Result<usize, Thrown> {
        let base = self.manifest.get();
        let expected_generation =
            base.as_ref().map(|c| c.manifest.server_generation).unwrap_or(next.server_generation.saturating_sub(1));
        let expected_etag = base.as_ref().map(|c| c.manifest.etag.clone());
        let check = (self.config.persist_check == PersistCheck::Generation)
            .then(|| (expected_generation, expected_etag.clone()));
        if let Some((generation, etag)) = &check {
            self.reject_if_disk_advanced(cx, "rejectIfDiskAdvanced", *generation, etag.as_deref())?; // check #1
        }
        self.mark_self_write(cx);
        let meta = json!({
            "persist": true,
            "baseGeneration": base.as_ref().map(|c| c.manifest.server_generation),
            "baseEtag": expected_etag,
            "baseCachedAt": base.as_ref().and_then(|c| c.at),
            "generation": next.server_generation,
            "etag": next.etag,
        });
        let step = match self.atomic_write(cx, manifest_contents(&next), meta, check.as_ref()) {
            Ok(step) => step,
            Err(e) => {
                self.recent_self_write_until.set(0);
                return Err(e);
            }
        };
        self.files.write(cx, "writeServerGeneration", GEN_FILE, next.server_generation.to_string(), json!({}))?;
        self.manifest.set(Some(Cached { manifest: next, at: Some(step) }));
        Ok(step)
    }

    /// `atomicWrite(manifestPath, json, { beforeCommit })`: the temp file,
    /// then (post-fix) the re-check, then the rename, each its own await.
    fn atomic_write(
        &self,
        cx: &mut Cx<'_, P>,
        contents: Contents,
        meta: Value,
        check: Option<&(u64, Option<String>)>,
    ) -> Result<usize, Thrown> {
        self.files.write(cx, "atomicWrite", MANIFEST_TMP, contents, json!({}))?;
        if let Some((generation, etag)) = check
            && let Err(e) = self.reject_if_disk_advanced(cx, "beforeCommit", *generation, etag.as_deref())
        {
            self.files.remove_sync(cx, "atomicWrite", MANIFEST_TMP)?;
            return Err(e);
        }
        Ok(self.files.rename(cx, "atomicWrite", MANIFEST_TMP, MANIFEST_FILE, meta)?)
    }

    /// `rejectIfDiskAdvanced()`: a disk version of another run suspends; a
    /// newer generation with another etag refreshes the cache and conflicts.
    fn reject_if_disk_advanced(
        &self,
        cx: &mut Cx<'_, P>,
        func: &'static str,
        expected_generation: u64,
        expected_etag: Option<&str>,
    ) -> Result<(), Thrown> {
        let (step, text) = self.files.read(cx, func, MANIFEST_FILE)?;
        let Some(text) = text else { return Ok(()) }; // ENOENT: nothing to protect
        let on_disk = parse(&text).ok_or_else(|| Thrown::Error("manifest.json is not a manifest".into()))?;
        if on_disk.run_id != self.run_id {
            self.suspend_for_another_run(cx, func, &on_disk.run_id);
            return Err(Thrown::Suspended);
        }
        // Only a *newer* generation counts: a same-generation write passes.
        if on_disk.server_generation > expected_generation && Some(on_disk.etag.as_str()) != expected_etag {
            note(cx, func, "cache-refreshed", json!({ "generation": on_disk.server_generation, "etag": on_disk.etag }));
            self.manifest.set(Some(Cached { manifest: on_disk, at: Some(step) }));
            return Err(Thrown::Conflict);
        }
        Ok(())
    }

    /// `debouncedReload(kind)`, called by the watcher's change event:
    /// re-arms the debounce timer (the shared one, or the file's own).
    pub fn debounced_reload(&self, cx: &Cx<'_, P>, file: BundleFile) {
        let due = self.now() + self.config.debounce;
        let step = cx.next_step();
        let timer = Timer { file, due, armed_at: Some(step) };
        let cleared = self.timers.with(|t| t.arm(self.config.debounce_timer, timer));
        let cleared = cleared.map(|c| json!({ "file": c.file.name(), "armedAt": c.armed_at, "due": c.due }));
        note(cx, "debouncedReload", "timer-armed", json!({ "file": file.name(), "due": due, "cleared": cleared }));
    }

    /// The debounce timer(s) fire (all armed, or `file`'s): the clock moves
    /// to their due time and each runs its reload.
    pub fn watcher_fire(&self, cx: &mut Cx<'_, P>, file: Option<BundleFile>) {
        let fired = self.timers.with(|t| t.take(file));
        if fired.is_empty() {
            note(cx, "setTimeout", "watcher-idle", json!({}));
            return;
        }
        for timer in fired {
            let now = self.clock.with(|c| {
                *c = (*c).max(timer.due);
                *c
            });
            note(cx, "setTimeout", "watcher-fired", json!({ "file": timer.file.name(), "now": now }));
            match self.config.watcher_reload {
                // `if (Date.now() < until) return; void handleExternalChange(rt, kind)`
                WatcherReload::OutsideMutex => self.on_timer(cx, timer.file),
                // `void runtime.mutex.run(async () => { ...same... })`
                WatcherReload::InsideMutex => self.mutex.with_lock(cx, |cx| self.on_timer(cx, timer.file)),
            }
        }
    }

    fn on_timer(&self, cx: &mut Cx<'_, P>, file: BundleFile) {
        let (now, until) = (self.now(), self.recent_self_write_until.get());
        if now < until {
            note(
                cx,
                "debouncedReload",
                "reload-suppressed",
                json!({ "file": file.name(), "now": now, "until": until }),
            );
            return;
        }
        self.handle_external_change(cx, file);
    }

    /// `handleExternalChange(rt, kind)`: disk wins wholesale.
    fn handle_external_change(&self, cx: &mut Cx<'_, P>, file: BundleFile) {
        let read = self.files.read(cx, "handleExternalChange", file.path());
        let (step, text) = match read {
            Ok(r) => r,
            Err(e) => {
                cx.record("handleExternalChange", Effect::Threw { error: e.to_string() });
                return;
            }
        };
        match file {
            BundleFile::Plan => {
                self.plan_md.set(text.map(|t| t.to_string()));
                note(cx, "emit", "plan-set", json!({}));
            }
            BundleFile::Manifest => {
                let Some(text) = text else {
                    // The `unlink` path: the bundle is gone.
                    self.suspended.store(cx, true);
                    self.manifest.set(None);
                    note(cx, "handleExternalChange", "suspended", json!({ "runId": null }));
                    return;
                };
                let Some(next) = parse(&text) else {
                    cx.record(
                        "handleExternalChange",
                        Effect::Threw { error: "manifest.json is not a manifest".into() },
                    );
                    return;
                };
                if next.run_id != self.run_id {
                    self.suspend_for_another_run(cx, "handleExternalChange", &next.run_id);
                    return;
                }
                self.manifest.set(Some(Cached { manifest: next, at: Some(step) }));
                self.suspended.store(cx, false);
                self.emit_manifest(cx, "handleExternalChange");
            }
        }
    }

    /// The state the run shows at the end of an execution. The steps at
    /// which the cache was set and timers armed are left out: they label
    /// events for reports, and differ between executions that differ only
    /// in the order of turns that do not touch each other's state.
    pub fn final_state(&self) -> Value {
        let manifest = self.manifest.get().map(|c| {
            json!({
                "runId": c.manifest.run_id,
                "serverGeneration": c.manifest.server_generation,
                "etag": c.manifest.etag,
            })
        });
        let timers: Vec<Value> =
            self.timers.get().armed.iter().map(|t| json!({ "file": t.file.name(), "due": t.due })).collect();
        json!({
            "manifest": manifest,
            "planMd": self.plan_md.get(),
            "suspended": self.suspended.peek(),
            "recentSelfWriteUntil": self.recent_self_write_until.get(),
            "now": self.now(),
            "timers": timers,
        })
    }
}
