//! ADE: the orchestration manifest of a run bundle (PR #375, closed for #382).
//!
//! State: `manifest.json`, `plan.md` and `.gen` in the lane worktree, the
//! service's in-memory `RunRuntime` (cached manifest, FIFO run mutex,
//! watcher debounce timers, self-write window) and a logical clock in ms
//! that actors advance. Other processes write the bundle directly.
//! Variants: `persist_check` (#375/#382), `watcher_reload` (#375),
//! `debounce_timer` (#408), `heartbeat` (#361 series, #382).
//!
//! What a scenario may say about the system (its `[setup]` fields,
//! operations, knobs, invariants and reachable conditions) is `SPEC` in `spec.rs`,
//! which `racecheck explain --system manifest` prints.
//!
//! Simplification: the watcher's change event for the service's own writes
//! is not modeled. Its reload would fire inside the self-write window and be
//! skipped; with a shared timer it could also clear a pending reload, which
//! `external_write` on the other file already shows.

mod bundle;
mod conditions;
mod external;
mod invariants;
mod orchestration_service;
mod setup;
mod spec;

pub use bundle::{BundleFile, Manifest};
pub use external::{ExternalChange, GenerationChoice, TaskChange};
pub use setup::{BEFORE_START, Initial, Setup, TaskSetup};
use spec::SPEC;

use crate::platform::Platform;
use crate::runtime::{Cx, FifoMutex, Flag, Runtime, Shared};
use crate::storage::{Contents, Disk, Files};
use crate::systems::args::{Fields, PathSeg, check_unique, describe};
use crate::systems::{
    ArgSpec, Args, FieldError, FieldSpec, InvariantSpec, KnobSpec, ModelSystem, OpSpec, SystemSpec, Variant, World,
    disk_state,
};
use bundle::{GEN_FILE, MANIFEST_FILE, PLAN_FILE, TASK_STATUSES, make_etag, manifest_contents};
use orchestration_service::{Cached, Change, Config, RunRuntime, Timer, Timers};
use serde_json::{Value, json};
use std::fmt;
use std::sync::Arc;

/// How `persistManifest` guards against a `manifest.json` changed on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistCheck {
    /// Before #375: only `manifestPatch`'s etag check, against the cache.
    EtagOnly,
    /// #375/#382: `rejectIfDiskAdvanced` before the write and before the rename.
    Generation,
}

/// Where the watcher's debounced reload runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WatcherReload {
    OutsideMutex,
    InsideMutex,
}

/// How many debounce timers the watcher keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebounceTimer {
    Shared,
    PerFile,
}

/// Where an agent's heartbeat goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heartbeat {
    /// `fcac3dc5` (#361 series): `directPatch`, a new generation and etag
    /// through `persistManifest`, which opens the self-write window.
    DirectPatch,
    /// `83dfd7a8` (with #382): the cache and `heartbeats.json` only; no
    /// `persistManifest`, no self-write mark.
    LivenessFile,
}

/// The registered manifest system.
pub struct ManifestSystem;

/// Where a client's `ifMatchEtag` comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// What this service last showed (the cache when the call arrives).
    Cached,
    /// The manifest of `[setup]`.
    Initial,
    /// Read from manifest.json by the client just before the call.
    Disk,
}

impl IfMatch {
    const NAMES: &'static [&'static str] = &["cached", "initial", "disk"];
    fn name(self) -> &'static str {
        match self {
            IfMatch::Cached => "cached",
            IfMatch::Initial => "initial",
            IfMatch::Disk => "disk",
        }
    }
}

/// One operation of an actor.
#[derive(Clone, Debug)]
pub enum Op {
    LoadIntoRuntime,
    ManifestPatch { if_match: IfMatch, task: Option<(String, String)>, summary: Option<String> },
    ClaimTask { task: String, session: Option<String>, lease_ms: u64 },
    ReleaseTask { task: String, session: Option<String>, status: String },
    Heartbeat { session: Option<String> },
    ExternalWrite(ExternalChange),
    WatcherFire { file: Option<BundleFile> },
    AdvanceClock { ms: u64 },
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let session = |s: &Option<String>| s.as_ref().map(|s| format!(" as {s}")).unwrap_or_default();
        match self {
            Op::LoadIntoRuntime => write!(f, "load_into_runtime"),
            Op::ManifestPatch { if_match, task, .. } => {
                write!(f, "manifest_patch(if_match={}", if_match.name())?;
                if let Some((t, s)) = task {
                    write!(f, ", {t}={s}")?;
                }
                write!(f, ")")
            }
            Op::ClaimTask { task, session: s, .. } => write!(f, "claim_task({task}{})", session(s)),
            Op::ReleaseTask { task, session: s, status } if status == "open" => {
                write!(f, "release_task({task}{})", session(s))
            }
            Op::ReleaseTask { task, session: s, status } => write!(f, "release_task({task}, {status}{})", session(s)),
            Op::Heartbeat { session: None } => write!(f, "heartbeat"),
            Op::Heartbeat { session: Some(s) } => write!(f, "heartbeat(as {s})"),
            Op::ExternalWrite(w) => {
                write!(f, "external_write({}", w.file.name())?;
                if w.file == BundleFile::Manifest {
                    write!(f, ", {}", w.generation.label())?;
                }
                if let Some(t) = &w.task {
                    write!(f, ", {}={}", t.id, t.status)?;
                    if let Some(a) = &t.assignee {
                        write!(f, " by {a}")?;
                    }
                }
                if !w.watched {
                    write!(f, ", unwatched")?;
                }
                write!(f, ")")
            }
            Op::WatcherFire { file: None } => write!(f, "watcher_fire"),
            Op::WatcherFire { file: Some(file) } => write!(f, "watcher_fire({})", file.name()),
            Op::AdvanceClock { ms } => write!(f, "advance_clock(+{ms}ms)"),
        }
    }
}

/// The `task` argument: a task id that `[setup]` defines.
fn task_arg(f: &Fields, tasks: &[&str]) -> Result<Option<String>, FieldError> {
    f.name_in("task", "a task id defined in [setup]", tasks)
}

/// A required `task`; absent, the error lists the task ids.
fn required_task(f: &Fields, tasks: &[&str]) -> Result<String, FieldError> {
    task_arg(f, tasks)?.ok_or_else(|| f.missing("task", tasks))
}

fn file_arg(f: &Fields) -> Result<Option<BundleFile>, FieldError> {
    Ok(f.choice("file", BundleFile::NAMES)?.and_then(|n| BundleFile::parse(&n)))
}

fn generation_arg(f: &Fields) -> Result<GenerationChoice, FieldError> {
    let bad = |found: String| {
        FieldError::one_of(
            &f.path_to("generation"),
            "\"bumped\", \"same\", \"other-run\", \"own-run\" or a generation number ≥ 1",
            found,
            GenerationChoice::NAMES,
        )
    };
    match f.get("generation") {
        None => Ok(GenerationChoice::Bumped),
        Some(Value::String(s)) => match s.as_str() {
            "bumped" => Ok(GenerationChoice::Bumped),
            "same" => Ok(GenerationChoice::Same),
            "other-run" => Ok(GenerationChoice::OtherRun),
            "own-run" => Ok(GenerationChoice::OwnRun),
            _ => Err(bad(format!("{s:?}"))),
        },
        Some(Value::Number(n)) => match n.as_u64() {
            Some(g) if g >= 1 => Ok(GenerationChoice::Exactly(g)),
            _ => Err(bad(n.to_string())),
        },
        Some(v) => Err(bad(describe(v))),
    }
}

/// The fields of an external write (an `external_write` op or an entry of
/// `[setup].external_writes`).
fn parse_external(f: &Fields, tasks: &[&str]) -> Result<ExternalChange, FieldError> {
    let file = file_arg(f)?.unwrap_or(BundleFile::Manifest);
    if file == BundleFile::Plan {
        for key in ["generation", "task", "status", "assignee", "lease_ms"] {
            if let Some(v) = f.get(key) {
                return Err(FieldError::new(
                    &f.path_to(key),
                    format!("no `{key}` for a plan.md write (file = \"plan\")"),
                    describe(v),
                ));
            }
        }
    }
    let generation = generation_arg(f)?;
    let task = task_arg(f, tasks)?;
    let status = f.choice("status", TASK_STATUSES)?;
    let assignee = f.string("assignee")?;
    let lease_ms = f.unsigned("lease_ms")?.unwrap_or(60_000);
    let task = match task {
        Some(id) => {
            let status = status.unwrap_or_else(|| if assignee.is_some() { "claimed" } else { "done" }.to_string());
            Some(TaskChange { id, status, assignee, lease_ms })
        }
        None if status.is_some() || assignee.is_some() => {
            return Err(FieldError::one_of(
                &f.path_to("task"),
                "a `task` field (status and assignee change a task)",
                "none",
                tasks,
            ));
        }
        None => None,
    };
    Ok(ExternalChange { file, generation, task, watched: f.boolean("watched")?.unwrap_or(true) })
}

fn parse_task(v: &Value, path: Vec<PathSeg>) -> Result<TaskSetup, FieldError> {
    let f = Fields::new(v, path, &SPEC.setup_keys("tasks[]"))?;
    Ok(TaskSetup {
        id: f.required_string("id")?,
        status: f.choice("status", TASK_STATUSES)?.unwrap_or_else(|| "open".into()),
        assignee: f.string("assignee")?,
        lease_until: f.unsigned("lease_until")?,
    })
}

impl ModelSystem for ManifestSystem {
    type Setup = Setup;
    type Op = Op;
    type World<P: Platform> = ManifestWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &SPEC
    }

    fn parse_setup(&self, setup: &Value) -> Result<Setup, FieldError> {
        let f = Fields::new(setup, Vec::new(), &SPEC.setup_keys(""))?;
        let mut tasks = f.tables("tasks", parse_task)?;
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        check_unique("tasks", "id", "a task id not used before", &ids)?;
        if f.get("tasks").is_none() {
            tasks.push(TaskSetup { id: "t1".into(), status: "open".into(), assignee: None, lease_until: None });
        }
        let generation = f.positive("generation", "a generation ≥ 1")?.unwrap_or(1);
        let run_id = f.string("run_id")?.unwrap_or_else(|| "run-1".into());
        if run_id == bundle::OTHER_RUN_ID {
            return Err(FieldError::new(
                &f.path_to("run_id"),
                format!("a run id other than {:?} (external writes use it for another run)", bundle::OTHER_RUN_ID),
                format!("{run_id:?}"),
            ));
        }
        let ids: Vec<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
        let external_writes = f.tables("external_writes", |v, path| {
            let w = Fields::new(v, path, &SPEC.setup_keys("external_writes[]"))?;
            parse_external(&w, &ids)
        })?;
        let plan = f.string("plan")?.unwrap_or_else(|| {
            let lines: Vec<String> = tasks.iter().map(|t| format!("- [ ] {}", t.id)).collect();
            format!("# Plan\n\n{}\n", lines.join("\n"))
        });
        Ok(Setup {
            run_id,
            generation,
            cached: f.boolean("cached")?.unwrap_or(true),
            clock: f.unsigned("clock")?.unwrap_or(0),
            self_write_window: f.unsigned("self_write_window")?.unwrap_or(1000),
            debounce: f.unsigned("debounce")?.unwrap_or(50),
            recent_self_write_until: f.unsigned("recent_self_write_until")?.unwrap_or(0),
            tasks,
            plan,
            external_writes,
            initial: std::sync::OnceLock::new(),
        })
    }

    fn parse_op(&self, setup: &Setup, _created: &[String], name: &str, args: &Args) -> Result<Op, FieldError> {
        let f = SPEC.op_args(name, args)?;
        let tasks = setup.task_ids();
        Ok(match name {
            "load_into_runtime" => Op::LoadIntoRuntime,
            "manifest_patch" => {
                let if_match = match f.choice("if_match", IfMatch::NAMES)?.as_deref() {
                    Some("initial") => IfMatch::Initial,
                    Some("disk") => IfMatch::Disk,
                    _ => IfMatch::Cached,
                };
                let task = task_arg(&f, &tasks)?;
                let status = f.choice("status", TASK_STATUSES)?;
                let task = match (task, status) {
                    (Some(t), s) => Some((t, s.unwrap_or_else(|| "done".into()))),
                    (None, Some(_)) => {
                        return Err(FieldError::one_of(
                            &f.path_to("task"),
                            "a `task` field (status changes a task)",
                            "none",
                            &tasks,
                        ));
                    }
                    (None, None) => None,
                };
                Op::ManifestPatch { if_match, task, summary: f.string("summary")? }
            }
            "claim_task" => Op::ClaimTask {
                task: required_task(&f, &tasks)?,
                session: f.string("session")?,
                lease_ms: f.unsigned("lease_ms")?.unwrap_or(60_000),
            },
            "release_task" => Op::ReleaseTask {
                task: required_task(&f, &tasks)?,
                session: f.string("session")?,
                status: f.choice("status", &["open", "done", "failed"])?.unwrap_or_else(|| "open".into()),
            },
            "heartbeat" => Op::Heartbeat { session: f.string("session")? },
            "external_write" => Op::ExternalWrite(parse_external(&f, &tasks)?),
            "watcher_fire" => Op::WatcherFire { file: file_arg(&f)? },
            "advance_clock" => {
                let ms = f
                    .unsigned("ms")?
                    .ok_or_else(|| FieldError::new(&f.path_to("ms"), "an `ms` field (milliseconds)", "none"))?;
                Op::AdvanceClock { ms }
            }
            _ => unreachable!("every op of SPEC is parsed"),
        })
    }

    fn initial_files(&self, setup: &Setup) -> Vec<(String, Contents)> {
        let initial = setup.initial();
        vec![
            (MANIFEST_FILE.into(), manifest_contents(&initial.disk)),
            (PLAN_FILE.into(), Contents::text(initial.disk_plan.as_str())),
            (GEN_FILE.into(), Contents::text(initial.disk.server_generation.to_string())),
        ]
    }

    fn build<P: Platform>(
        &self,
        rt: &Arc<Runtime<P>>,
        disk: Arc<dyn Disk>,
        setup: &Setup,
        variant: &Variant,
    ) -> ManifestWorld<P> {
        let initial = setup.initial();
        let config = Config {
            claim_refuses_terminal: variant.choice("claim_check") != "lease-only",
            persist_check: match variant.choice("persist_check") {
                "etag-only" => PersistCheck::EtagOnly,
                _ => PersistCheck::Generation,
            },
            watcher_reload: match variant.choice("watcher_reload") {
                "outside-mutex" => WatcherReload::OutsideMutex,
                _ => WatcherReload::InsideMutex,
            },
            debounce_timer: match variant.choice("debounce_timer") {
                "shared" => DebounceTimer::Shared,
                _ => DebounceTimer::PerFile,
            },
            heartbeat: match variant.choice("heartbeat") {
                "direct-patch" => Heartbeat::DirectPatch,
                _ => Heartbeat::LivenessFile,
            },
            self_write_window: setup.self_write_window,
            debounce: setup.debounce,
        };
        let mut timers = Timers::default();
        for w in setup.external_writes.iter().filter(|w| w.watched) {
            let _ = timers
                .arm(config.debounce_timer, Timer { file: w.file, due: setup.clock + setup.debounce, armed_at: None });
        }
        let cached = setup.cached.then(|| Cached { manifest: initial.base.clone(), at: None });
        let run = RunRuntime {
            run_id: setup.run_id.clone(),
            files: Files::new(disk.clone()),
            mutex: FifoMutex::new(rt, "runtime.mutex"),
            manifest: Shared::new(rt, cached),
            plan_md: Shared::new(rt, setup.cached.then(|| initial.base_plan.clone())),
            suspended: Flag::new(rt, "suspended", false),
            recent_self_write_until: Shared::new(rt, setup.recent_self_write_until),
            timers: Shared::new(rt, timers),
            clock: Shared::new(rt, setup.clock),
            config,
        };
        ManifestWorld { run: Arc::new(run), disk, initial_etag: initial.base.etag.clone() }
    }

    fn monitor(&self, invariant: &str, setup: &Setup) -> Box<dyn crate::systems::Monitor> {
        conditions::condition(invariant, setup).unwrap_or_else(|| invariants::monitor(invariant, setup))
    }
}

/// One execution's service process and bundle.
pub struct ManifestWorld<P: Platform> {
    run: Arc<RunRuntime<P>>,
    disk: Arc<dyn Disk>,
    initial_etag: String,
}

impl<P: Platform> ManifestWorld<P> {
    /// The etag a client sends with `manifestPatch`.
    fn if_match(&self, cx: &mut Cx<'_, P>, source: IfMatch) -> String {
        let etag = match source {
            IfMatch::Cached => self.run.manifest.with(|m| m.as_ref().map(|c| c.manifest.etag.clone())),
            IfMatch::Initial => None,
            IfMatch::Disk => match self.run.files.read(cx, "readBundleFile", MANIFEST_FILE) {
                Ok((_, Some(contents))) => bundle::parse(&contents).map(|m| m.etag),
                _ => None,
            },
        };
        etag.unwrap_or_else(|| self.initial_etag.clone())
    }
}

impl<P: Platform> World<P> for ManifestWorld<P> {
    type Op = Op;

    fn run(&self, cx: &mut Cx<'_, P>, op: &Op) {
        let run = &self.run;
        let session = |cx: &Cx<'_, P>, s: &Option<String>| s.clone().unwrap_or_else(|| cx.task().to_string());
        match op {
            Op::LoadIntoRuntime => run.bundle_read(cx),
            Op::ManifestPatch { if_match, task, summary } => {
                let etag = self.if_match(cx, *if_match);
                let summary = summary.clone().unwrap_or_else(|| format!("decision of {}", cx.task()));
                let change = Change::Patch { summary, task: task.clone() };
                run.mutate(cx, "manifestPatch", Some(&etag), &change);
            }
            Op::ClaimTask { task, session: s, lease_ms } => {
                let change = Change::Claim { task: task.clone(), session: session(cx, s), lease_ms: *lease_ms };
                run.mutate(cx, "claimTask", None, &change);
            }
            Op::ReleaseTask { task, session: s, status } => {
                let change = Change::Release { task: task.clone(), session: session(cx, s), status: status.clone() };
                run.mutate(cx, "releaseTask", None, &change);
            }
            Op::Heartbeat { session: s } => match run.config.heartbeat {
                Heartbeat::DirectPatch => {
                    run.mutate(cx, "heartbeat", None, &Change::Heartbeat { session: session(cx, s) });
                }
                Heartbeat::LivenessFile => run.agent_heartbeat(cx, &session(cx, s)),
            },
            Op::ExternalWrite(change) => external::external_write(run, cx, change),
            Op::WatcherFire { file } => run.watcher_fire(cx, *file),
            Op::AdvanceClock { ms } => {
                let now = run.clock.with(|c| {
                    *c += ms;
                    *c
                });
                cx.record("Date.now", crate::history::Effect::Note { kind: "clock", data: json!({ "now": now }) });
            }
        }
    }

    /// Armed debounce timers fire in the end, whenever no actor fires them:
    /// an invariant about what the watcher reloads is judged after they did.
    fn pending_at_quiescence(&self) -> Option<&'static str> {
        (!self.run.timers.get().armed.is_empty()).then_some("timers")
    }

    fn quiesce(&self, cx: &mut Cx<'_, P>) {
        self.run.watcher_fire(cx, None);
    }

    fn final_state(&self) -> Value {
        json!({ "files": disk_state(self.disk.as_ref()), "runtime": self.run.final_state() })
    }
}
