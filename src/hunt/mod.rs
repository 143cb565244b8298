//! Generated scenarios: proptest searches for races nobody wrote down.
//!
//! A search generates scenario documents valid by construction
//! ([`strategies`]), runs each under one variant with a shuttle search of N
//! schedules, and when one shows a violation lets proptest shrink it
//! (fewest actors, then fewest operations), then removes whatever else it
//! can (actors down to one, operations, setup entries, optional arguments)
//! while the violation still shows. [`hunt`] turns the result into a
//! scenario file `racecheck check` accepts as it is.
//!
//! The fixed code still has known windows, so "the fixed variant holds" is
//! stated per knob, over the operations, setup features and invariants its
//! fix covers: a [`Scope`]. [`SCOPES`] lists them; each says what it leaves
//! out and which scenario file shows why.
//!
//! Data flows one way: this module uses scenario, explore and systems;
//! nothing below it uses it.

pub mod strategies;

use crate::explore::{Explorer, Limits, Verdict, explore};
use crate::runtime::Semantics;
use crate::scenario::document::{Document, ExpectDoc, ExploreDoc};
use crate::scenario::{self, Scenario, check_expectation};
use crate::systems::{self, SystemSpec, Variant};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use strategies::{Features, Vocabulary};

/// The operations, setup features and invariants one knob's fix covers.
pub struct Scope {
    pub system: &'static str,
    pub knob: &'static str,
    /// The choices the fix replaced.
    pub buggy: &'static [&'static str],
    pub fixed: &'static str,
    pub semantics: Semantics,
    pub ops: &'static [&'static str],
    pub invariants: &'static [&'static str],
    pub features: Features,
    /// Other knobs held at a choice (unless the hunt sets them): a later
    /// fix whose window the statement leaves out (`about` says which).
    pub holding: &'static [(&'static str, &'static str)],
    /// What the fix covers and what the scope leaves out, and why.
    pub about: &'static str,
}

impl Scope {
    pub fn vocabulary(&self) -> Vocabulary {
        Vocabulary {
            system: self.system,
            semantics: self.semantics,
            ops: self.ops.to_vec(),
            invariants: self.invariants.to_vec(),
            features: self.features,
        }
    }

    /// `checkpoint_write=whole-plan→fields-only (event-loop)`.
    pub fn label(&self) -> String {
        format!("{} {}={}→{} ({})", self.system, self.knob, self.buggy.join("|"), self.fixed, self.semantics.name())
    }

    /// The fixed variant's choices, with the knobs the scope holds.
    pub fn fixed_choices(&self) -> BTreeMap<String, String> {
        let mut choices: BTreeMap<String, String> =
            self.holding.iter().map(|(k, c)| (k.to_string(), c.to_string())).collect();
        choices.insert(self.knob.to_string(), self.fixed.to_string());
        choices
    }
}

const NONE: Features = Features {
    orchestrators: false,
    paused_plan: false,
    same_second: false,
    approval_pause: false,
    same_generation: false,
    self_write_window: false,
    unwatched: false,
};

/// Every plan operation but approve.
const PLAN_OPS: &[&str] = &[
    "handle_job_failed",
    "handle_job_complete",
    "monitor_poll",
    "agent_report",
    "pane_exits",
    "set_checkpoint",
    "clear_checkpoint",
    "resume_plan",
    "reconcile",
    "interval_tick",
    "cancel_plan",
];
/// The plan operations that trigger, run or pause reconcile passes.
const PLAN_RECONCILE: &[&str] = &[
    "interval_tick",
    "reconcile",
    "handle_job_complete",
    "handle_job_failed",
    "monitor_poll",
    "agent_report",
    "pane_exits",
    "set_checkpoint",
    "clear_checkpoint",
    "resume_plan",
];
/// The runs callers that resume, start and execute runs; complete_run,
/// fail_run and pause_run stand for a live executor's final write.
const RUNS_RESUME: &[&str] = &[
    "web_resume",
    "chat_redispatch",
    "cli_resume",
    "cli_run",
    "find_resumable_run",
    "hydrate_resumable_run",
    "resume_run",
    "execute_workflow",
    "complete_run",
    "fail_run",
    "pause_run",
    "heartbeat",
];
const PLAN_FEATURES: Features = Features { orchestrators: true, paused_plan: true, ..NONE };

/// Every knob's scope.
pub const SCOPES: &[Scope] = &[
    Scope {
        system: "plan",
        knob: "checkpoint_write",
        buggy: &["whole-plan"],
        fixed: "fields-only",
        semantics: Semantics::EventLoop,
        ops: PLAN_OPS,
        invariants: &["no-lost-job-update", "plan-not-resurrected"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#71: plan-field writes re-read inside planMutex (and throw once the plan is cleared), so no \
                stale snapshot reverts a job update or brings a cancelled plan back. Left out: approve \
                (mc_plan_approve still saves the whole object: approve-races-completion) and \
                checkpoint-implies-paused (the reconcile tail un-pauses: reconcile-tail-unpauses-checkpoint)",
    },
    Scope {
        system: "plan",
        knob: "reconcile_guard",
        buggy: &["drop"],
        fixed: "rerun",
        semantics: Semantics::EventLoop,
        ops: PLAN_RECONCILE,
        invariants: &["every-trigger-seen"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#15: a trigger during a pass sets reconcilePending and the pass reruns, on an event loop. \
                Left out: cancel_plan and approve (a pass that throws ends its loop)",
    },
    Scope {
        system: "plan",
        knob: "reconcile_guard",
        buggy: &["rerun", "drop"],
        fixed: "rerun-preemptive",
        semantics: Semantics::Threads,
        ops: PLAN_RECONCILE,
        invariants: &["every-trigger-seen"],
        features: PLAN_FEATURES,
        holding: &[],
        about: "#15 ported to preemptive threads: announce pending with a swap, then try to own the pass \
                (reconcile-rerun-under-threads). Left out: cancel_plan and approve (a pass that throws ends \
                its loop)",
    },
    Scope {
        system: "runs",
        knob: "resume_guard",
        buggy: &["unguarded"],
        fixed: "cas",
        semantics: Semantics::EventLoop,
        ops: RUNS_RESUME,
        invariants: &["single-owner"],
        features: NONE,
        holding: &[("backstop", "none")],
        about: "#1830: the resume UPDATE is a compare-and-swap on a resumable status, so one resumer wins. \
                Left out: same_second stamps (path-lock-same-second), server_restart \
                (server-restart-orphans-live-cli-run), cancels (cancel-frees-worktree-before-executor-stops) \
                advance_clock (the model's executor heartbeats once per layer, so a day passing mid-layer \
                makes a live run a stale orphan), #1563's finally backstop, held at `none`: it fails \
                whichever executor's run it finds running (backstop-fails-the-next-resumers-run), and rows \
                whose nodes end at an approval node: it pauses the run mid-layer, a resume takes it before \
                the executor's poll, and both run (resume-at-an-approval-gate-before-its-executor-stops)",
    },
    Scope {
        system: "runs",
        knob: "cancel_guard",
        buggy: &["unguarded", "guard-void"],
        fixed: "terminal-guard",
        semantics: Semantics::EventLoop,
        ops: &[
            "web_cancel",
            "cancel_run",
            "execute_workflow",
            "complete_run",
            "fail_run",
            "pause_run",
            "heartbeat",
            "web_resume",
            "chat_redispatch",
            "cli_resume",
            "cli_run",
            "hydrate_resumable_run",
            "resume_run",
        ],
        invariants: &["terminal-is-final", "cancel-is-truthful"],
        features: Features { approval_pause: true, ..NONE },
        holding: &[("path_lock", "none")],
        about: "#1830: cancelWorkflowRun skips completed and cancelled rows and says whether it changed one. \
                Left out: server_restart (a second executor of one run: server-restart-orphans-live-cli-run), \
                and the #1212 path lock, held at `none`: its loser cancels its own row with an unguarded \
                updateWorkflowRun, which overwrites a completed row and re-stamps a cancelled one's \
                completed_at (path-lock-self-cancel-overwrites-completion)",
    },
    Scope {
        system: "runs",
        knob: "complete_guard",
        buggy: &["unguarded"],
        fixed: "running",
        semantics: Semantics::EventLoop,
        ops: &["execute_workflow", "web_cancel", "cancel_run", "complete_run", "fail_run", "pause_run", "heartbeat"],
        invariants: &["terminal-is-final"],
        features: Features { approval_pause: true, ..NONE },
        holding: &[("path_lock", "none")],
        about: "af4e8b48: the executor's terminal writes match only a running row, so they never overwrite a \
                cancel. Left out: resumers (a resumed run is running again, legitimately), server_restart, and \
                the #1212 path lock, held at `none`: its self-cancel is unguarded \
                (path-lock-self-cancel-overwrites-completion)",
    },
    Scope {
        system: "manifest",
        knob: "persist_check",
        buggy: &["etag-only"],
        fixed: "generation",
        semantics: Semantics::EventLoop,
        ops: &[
            "manifest_patch",
            "claim_task",
            "release_task",
            "heartbeat",
            "watcher_fire",
            "load_into_runtime",
            "advance_clock",
        ],
        invariants: &["no-silent-overwrite", "generation-monotonic"],
        features: Features { self_write_window: true, ..NONE },
        holding: &[],
        about: "#375/#382: persistManifest re-reads the disk generation before the write and before the rename. \
                Covers external writes that landed before the service acts. Left out: external writes \
                concurrent with a persist (rename-window-clobber) and writes that keep the generation \
                (same-generation-write-slips-through)",
    },
    Scope {
        system: "manifest",
        knob: "watcher_reload",
        buggy: &["outside-mutex"],
        fixed: "inside-mutex",
        semantics: Semantics::EventLoop,
        ops: &[
            "manifest_patch",
            "claim_task",
            "release_task",
            "heartbeat",
            "external_write",
            "watcher_fire",
            "advance_clock",
            "load_into_runtime",
        ],
        invariants: &["cache-never-regresses"],
        features: Features { self_write_window: true, same_generation: true, ..NONE },
        holding: &[],
        about: "#375: the watcher's reload runs inside the run mutex, so it never splits a persist and what \
                subscribers see never goes back",
    },
    Scope {
        system: "manifest",
        knob: "debounce_timer",
        buggy: &["shared"],
        fixed: "per-file",
        semantics: Semantics::EventLoop,
        ops: &["external_write", "watcher_fire", "advance_clock", "load_into_runtime"],
        invariants: &["cache-catches-up"],
        features: NONE,
        holding: &[],
        about: "#408: one debounce timer per file, so a change to one file never clears the other's reload. \
                Left out: the service's own writes and an open self-write window, which hide an external \
                change for good (self-write-window-hides-external-change), and unwatched writes",
    },
];

/// `knob=choice,knob=choice` as choices of `spec`'s knobs.
pub fn parse_variant(spec: &SystemSpec, text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut choices = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (knob, choice) =
            part.split_once('=').ok_or_else(|| format!("expected `knob=choice` in --variant, found {part:?}"))?;
        let k = spec.knob(knob).ok_or_else(|| {
            let valid: Vec<&str> = spec.knobs.iter().map(|k| k.name).collect();
            format!(
                "expected a variant knob of the {} system, found {knob:?}\n  = valid: {}",
                spec.name,
                valid.join(", ")
            )
        })?;
        if !k.choices.iter().any(|(c, _)| *c == choice) {
            let valid: Vec<&str> = k.choices.iter().map(|(c, _)| *c).collect();
            return Err(format!("expected a choice of `{knob}`, found {choice:?}\n  = valid: {}", valid.join(", ")));
        }
        choices.insert(knob.to_string(), choice.to_string());
    }
    Ok(choices)
}

/// What a hunt searches: the vocabulary, and the variant to compare with.
#[derive(Clone, Debug)]
pub struct Plan {
    pub vocabulary: Vocabulary,
    /// The scopes of the variant's choices (empty: the whole system).
    pub scopes: Vec<&'static Scope>,
    /// The hunted variant: the choices given, and the knobs its scopes hold.
    pub variant: BTreeMap<String, String>,
    /// The hunted variant with each scoped knob set to its fix.
    pub counterpart: BTreeMap<String, String>,
}

impl std::fmt::Debug for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

/// The search for `choices` of `system`: the union of the scopes of its
/// choices (buggy or fixed), or, when none has one, every operation and
/// invariant of the system with every setup feature.
pub fn plan(system: &str, choices: &BTreeMap<String, String>) -> Result<Plan, String> {
    let sys = systems::find(system).ok_or_else(|| {
        let names: Vec<&str> = systems::registry().iter().map(|s| s.spec().name).collect();
        format!("expected a modeled system, found {system:?}\n  = valid: {}", names.join(", "))
    })?;
    let spec = sys.spec();
    let scopes: Vec<&'static Scope> = SCOPES
        .iter()
        .filter(|s| s.system == system)
        .filter(|s| choices.get(s.knob).is_some_and(|c| s.buggy.contains(&c.as_str()) || s.fixed == c))
        // Per knob, the first scope where the choice is buggy, else the first where it is the fix.
        .fold(Vec::new(), |mut acc: Vec<&'static Scope>, s| {
            let buggy = |s: &Scope| s.buggy.contains(&choices[s.knob].as_str());
            match acc.iter().position(|a| a.knob == s.knob) {
                None => acc.push(s),
                Some(i) if !buggy(acc[i]) && buggy(s) => acc[i] = s,
                Some(_) => {}
            }
            acc
        });
    if scopes.is_empty() {
        // The counterpart: each knob of the variant at its default (the fix).
        let counterpart =
            choices.keys().filter_map(|k| spec.knob(k)).map(|k| (k.name.to_string(), k.default.to_string())).collect();
        return Ok(Plan {
            vocabulary: Vocabulary {
                system: spec.name,
                semantics: Semantics::EventLoop,
                ops: spec.ops.iter().map(|o| o.name).collect(),
                invariants: spec.invariants.iter().map(|i| i.name).collect(),
                features: Features::ALL,
            },
            scopes,
            variant: choices.clone(),
            counterpart,
        });
    }
    let semantics = scopes[0].semantics;
    if let Some(other) = scopes.iter().find(|s| s.semantics != semantics) {
        return Err(format!("the scopes of {} and {} need different semantics", scopes[0].label(), other.label()));
    }
    let mut vocabulary =
        Vocabulary { system: spec.name, semantics, ops: Vec::new(), invariants: Vec::new(), features: NONE };
    let mut variant = choices.clone();
    for s in &scopes {
        for (knob, choice) in s.holding {
            variant.entry(knob.to_string()).or_insert_with(|| choice.to_string());
        }
    }
    let mut counterpart = variant.clone();
    for s in &scopes {
        for op in s.ops {
            if !vocabulary.ops.contains(op) {
                vocabulary.ops.push(op);
            }
        }
        for inv in s.invariants {
            if !vocabulary.invariants.contains(inv) {
                vocabulary.invariants.push(inv);
            }
        }
        vocabulary.features = vocabulary.features.union(s.features);
        counterpart.insert(s.knob.to_string(), s.fixed.to_string());
    }
    Ok(Plan { vocabulary, scopes, variant, counterpart })
}

/// The sampling search each generated scenario gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    pub schedules: usize,
    pub seed: u64,
    /// PCT bug depth.
    pub depth: usize,
}

/// `doc` with the title, origin, `[explore]` and the one `[[expect]]` a
/// generated scenario carries: `choices` shows no violation in the sampling.
pub fn as_property(mut doc: Document, choices: &BTreeMap<String, String>, sampling: Sampling) -> Document {
    doc.title = "generated scenario".into();
    doc.origin = "racecheck hunt".into();
    doc.explore = Some(ExploreDoc {
        explorer: Some("pct".into()),
        bound: None,
        schedules: Some(sampling.schedules as u64),
        depth: Some(sampling.depth as u64),
        seed: Some(sampling.seed),
    });
    doc.expects = vec![ExpectDoc { variant: choices.clone(), verdict: "not-found".into(), invariant: None }];
    doc
}

/// How a document fared.
#[derive(Clone, Debug)]
pub enum Probe {
    /// Every expectation held.
    Holds,
    /// An expectation did not hold: the search found a violation of `invariant`.
    Violates { invariant: String, message: String },
    /// A search could not finish (the model panicked, a time limit).
    Incomplete(String),
    /// It does not load (a generator bug).
    Invalid(String),
}

/// Shuttle refuses a scenario whose only actor never gives way: there is
/// nothing to search, so nothing to find.
const NO_CONCURRENCY: &str = "did not exercise any concurrency";

/// Loads `doc` through its TOML text (the path `racecheck check` takes) and
/// checks its expectations.
pub fn probe(doc: &Document, limits: &Limits) -> Probe {
    let scenario = match load(doc) {
        Ok(s) => s,
        Err(e) => return Probe::Invalid(e),
    };
    for expectation in &scenario.expectations {
        let check = check_expectation(&scenario, expectation, &scenario.explore, limits);
        match &check.report.verdict {
            Verdict::Incomplete { reason } if reason.contains(NO_CONCURRENCY) => {}
            Verdict::Incomplete { reason } => return Probe::Incomplete(reason.clone()),
            Verdict::Violation(f) if !check.holds => {
                return Probe::Violates {
                    invariant: f.violation.invariant.clone(),
                    message: f.violation.message.clone(),
                };
            }
            v if !check.holds => return Probe::Incomplete(format!("unexpected verdict {}", v.name())),
            _ => {}
        }
    }
    Probe::Holds
}

/// `doc` as `racecheck check` would load it.
pub fn load(doc: &Document) -> Result<Scenario, String> {
    let text = doc.to_toml().map_err(|e| e.to_string())?;
    let path = PathBuf::from(format!("scenarios/{}/generated.toml", doc.system));
    scenario::parse(&path, &text).map_err(|e| format!("{e}\n{text}"))
}

/// A proptest search's outcome.
#[derive(Clone, Debug)]
pub enum Search {
    /// Every case held.
    Held {
        cases: usize,
    },
    Failed(Box<Shrunk>),
}

/// A failing case and what shrinking made of it.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The first failing case (1-based) and its size (actors, operations).
    pub case: usize,
    pub first: Document,
    /// proptest's minimal case.
    pub minimal: Document,
    /// Test runs while shrinking.
    pub shrink_steps: usize,
}

/// Runs proptest over `vocabulary`'s documents, turned into properties by
/// `finish`, with a deterministic RNG seeded by `seed`.
pub fn search(
    vocabulary: &Vocabulary,
    finish: impl Fn(Document) -> Document + 'static,
    cases: u32,
    seed: u64,
    limits: &Limits,
) -> Result<Search, String> {
    let strategy = strategies::documents(vocabulary).prop_map(finish);
    let config = Config {
        cases,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        max_shrink_iters: 2048,
        max_shrink_time: 0,
        max_global_rejects: 10_000,
        result_cache: proptest::test_runner::basic_result_cache,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let calls = Cell::new(0usize);
    let first: RefCell<Option<(usize, Document)>> = RefCell::new(None);
    let invalid: RefCell<Option<String>> = RefCell::new(None);
    let incomplete: RefCell<Option<(String, Document)>> = RefCell::new(None);
    let result = runner.run(&strategy, |doc| {
        calls.set(calls.get() + 1);
        match probe(&doc, limits) {
            Probe::Holds => Ok(()),
            Probe::Incomplete(why) => {
                incomplete.borrow_mut().get_or_insert((why, doc));
                Ok(())
            }
            Probe::Violates { invariant, message } => {
                let mut first = first.borrow_mut();
                if first.is_none() {
                    *first = Some((calls.get(), doc));
                }
                Err(TestCaseError::fail(format!("{invariant}: {message}")))
            }
            Probe::Invalid(e) => {
                invalid.borrow_mut().get_or_insert(e);
                Err(TestCaseError::reject("an invalid document"))
            }
        }
    });
    if let Some(e) = invalid.into_inner() {
        return Err(format!("the {} strategy generated an invalid scenario: {e}", vocabulary.system));
    }
    if let Some((why, doc)) = incomplete.into_inner() {
        let text = doc.to_toml().unwrap_or_default();
        return Err(format!("a search of a generated scenario could not finish ({why}):\n{text}"));
    }
    match result {
        Ok(()) => Ok(Search::Held { cases: calls.get() }),
        Err(TestError::Fail(_, minimal)) => {
            let (case, first) = first.into_inner().expect("a failure was recorded");
            Ok(Search::Failed(Box::new(Shrunk { case, first, minimal, shrink_steps: calls.get() - case })))
        }
        Err(TestError::Abort(why)) => Err(format!("proptest gave up: {why}")),
    }
}

/// Removes actors (down to one), merges two actors into one, removes
/// operations, setup entries and optional keys from `doc`, one change at a
/// time, keeping each change after which `doc` still loads and `fails`;
/// repeats until no change does. Returns the result and the number of
/// changes kept.
pub fn minimize(mut doc: Document, fails: impl Fn(&Document) -> bool) -> (Document, usize) {
    let mut kept = 0;
    loop {
        let Some(smaller) = candidates(&doc).into_iter().find(|c| load(c).is_ok() && fails(c)) else {
            return (doc, kept);
        };
        doc = smaller;
        kept += 1;
    }
}

/// Every document one change smaller than `doc`: fewer actors first, then
/// fewer operations, then a smaller setup and fewer arguments.
fn candidates(doc: &Document) -> Vec<Document> {
    let mut out = Vec::new();
    if doc.actors.len() > 1 {
        for a in 0..doc.actors.len() {
            let mut d = doc.clone();
            d.actors.remove(a);
            out.push(d);
        }
    }
    // Two actors as one, doing the second's operations after the first's.
    for a in 0..doc.actors.len() {
        for b in 0..doc.actors.len() {
            if a != b {
                let mut d = doc.clone();
                let ops = d.actors[b].ops.clone();
                d.actors[a].ops.extend(ops);
                d.actors.remove(b);
                out.push(d);
            }
        }
    }
    for a in 0..doc.actors.len() {
        if doc.actors[a].ops.len() > 1 {
            for o in 0..doc.actors[a].ops.len() {
                let mut d = doc.clone();
                d.actors[a].ops.remove(o);
                out.push(d);
            }
        }
    }
    for (key, value) in &doc.setup {
        if let Value::Array(items) = value {
            for i in 0..items.len() {
                let mut d = doc.clone();
                if let Some(Value::Array(items)) = d.setup.get_mut(key) {
                    items.remove(i);
                    if items.is_empty() {
                        d.setup.remove(key);
                    }
                }
                out.push(d);
            }
        }
    }
    for key in doc.setup.keys() {
        if !doc.setup[key].is_array() {
            let mut d = doc.clone();
            d.setup.remove(key);
            out.push(d);
        }
    }
    // Names and identities stay: without them a document is invalid, or (a
    // run's `new_run`) two fresh runs would share an id.
    const NAMES: &[&str] = &["op", "name", "id", "new_run"];
    for (key, value) in &doc.setup {
        if let Value::Array(items) = value {
            for (i, item) in items.iter().enumerate() {
                for k in item.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default() {
                    if NAMES.contains(&k.as_str()) {
                        continue;
                    }
                    let mut d = doc.clone();
                    if let Some(Value::Object(m)) = d.setup.get_mut(key).and_then(|v| v.get_mut(i)) {
                        m.remove(&k);
                    }
                    out.push(d);
                }
            }
        }
    }
    for (a, actor) in doc.actors.iter().enumerate() {
        for (o, op) in actor.ops.iter().enumerate() {
            for k in op.keys().filter(|k| !NAMES.contains(&k.as_str())) {
                let mut d = doc.clone();
                d.actors[a].ops[o].remove(k);
                out.push(d);
            }
        }
    }
    out
}

/// A hunt's settings.
#[derive(Clone, Debug)]
pub struct HuntConfig {
    pub system: String,
    /// `knob=choice,...` as given.
    pub variant: String,
    pub cases: u32,
    pub schedules: usize,
    pub seed: u64,
    /// Time limit of one search (a search cut short fails the case).
    pub max_time: Duration,
    /// Time limit of the exhaustive search tried on the shrunk scenario.
    pub exhaustive_time: Duration,
}

impl HuntConfig {
    pub fn new(system: &str, variant: &str) -> HuntConfig {
        HuntConfig {
            system: system.into(),
            variant: variant.into(),
            cases: 64,
            schedules: 200,
            seed: 1,
            max_time: Duration::from_secs(60),
            exhaustive_time: Duration::from_secs(10),
        }
    }

    /// The command line that runs this hunt.
    pub fn command(&self) -> String {
        format!(
            "racecheck hunt --system {} --variant {} --cases {} --schedules {} --seed {}",
            self.system, self.variant, self.cases, self.schedules, self.seed
        )
    }
}

/// A hunt's result.
#[derive(Clone, Debug)]
pub struct Hunt {
    pub plan: Plan,
    pub elapsed: Duration,
    pub outcome: Outcome,
}

#[derive(Clone, Debug)]
pub enum Outcome {
    /// No generated case showed a violation.
    NotFound {
        cases: usize,
    },
    Found(Box<Finding>),
}

/// A shrunk violating scenario, ready to be written.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The scenario file, expectations filled in.
    pub document: Document,
    pub invariant: String,
    pub message: String,
    pub case: usize,
    /// (actors, operations) of the first failing case, after proptest, after the removals.
    pub first_size: (usize, usize),
    pub proptest_size: (usize, usize),
    pub size: (usize, usize),
    pub shrink_steps: usize,
    pub removals: usize,
    /// The explorer the file asks for.
    pub explorer: String,
    /// The counterpart (fixed) variant's verdict on the scenario, if it was checked.
    pub counterpart: Option<(BTreeMap<String, String>, String)>,
}

fn size(doc: &Document) -> (usize, usize) {
    (doc.actors.len(), doc.op_count())
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

/// Searches `config.system` under `config.variant` and, on a violation,
/// builds the shrunk scenario file.
pub fn hunt(config: &HuntConfig) -> Result<Hunt, String> {
    let start = Instant::now();
    let sys = systems::find(&config.system).ok_or_else(|| {
        let names: Vec<&str> = systems::registry().iter().map(|s| s.spec().name).collect();
        format!("expected a modeled system, found {:?}\n  = valid: {}", config.system, names.join(", "))
    })?;
    let spec = sys.spec();
    let plan = plan(spec.name, &parse_variant(spec, &config.variant)?)?;
    let choices = plan.variant.clone();
    let limits = Limits::time(config.max_time);
    let sampling = Sampling { schedules: config.schedules, seed: config.seed, depth: 3 };
    let c2 = choices.clone();
    let found = search(&plan.vocabulary, move |d| as_property(d, &c2, sampling), config.cases, config.seed, &limits)?;
    let shrunk = match found {
        Search::Held { cases } => {
            return Ok(Hunt { plan, elapsed: start.elapsed(), outcome: Outcome::NotFound { cases } });
        }
        Search::Failed(s) => s,
    };
    let fails = |d: &Document| matches!(probe(d, &limits), Probe::Violates { .. });
    let (minimal, removals) = minimize(shrunk.minimal.clone(), fails);
    let finding = finish(config, &plan, &choices, &shrunk, minimal, removals, &limits)?;
    Ok(Hunt { plan, elapsed: start.elapsed(), outcome: Outcome::Found(Box::new(finding)) })
}

/// The scenario file of a shrunk violation: the explorer that shows it
/// (stateful on an event loop, exhaustive at bound 3 under threads, if it
/// does so in time; else the sampling that found it), its `[[expect]]`, and
/// one for the counterpart variant.
fn finish(
    config: &HuntConfig,
    plan: &Plan,
    choices: &BTreeMap<String, String>,
    shrunk: &Shrunk,
    minimal: Document,
    removals: usize,
    limits: &Limits,
) -> Result<Finding, String> {
    let mut doc = minimal;
    let scenario = load(&doc)?;
    let spec = scenario.model.system.spec();
    let variant = Variant::complete(spec, choices);
    let sampled = doc.explore.clone().expect("a property has [explore]");
    let pct = Explorer::Pct { depth: 3, schedules: config.schedules, seed: config.seed };
    let mut explorer = pct.clone();
    let mut report = explore(&scenario.model, &variant, &pct, limits);
    // An explorer that can prove the counterpart: every state of an event
    // loop, or loom at bound 3 under threads.
    let proving = match scenario.model.semantics {
        crate::runtime::Semantics::EventLoop => Some(Explorer::Stateful),
        crate::runtime::Semantics::Threads if scenario.model.actor_count() <= crate::explore::MAX_EXHAUSTIVE_ACTORS => {
            Some(Explorer::Exhaustive { bound: Some(3) })
        }
        crate::runtime::Semantics::Threads => None,
    };
    if let Some(proving) = proving {
        let tried = explore(&scenario.model, &variant, &proving, &Limits::time(config.exhaustive_time));
        if matches!(tried.verdict, Verdict::Violation(_)) {
            explorer = proving;
            report = tried;
        }
    }
    let Verdict::Violation(failure) = &report.verdict else {
        let why = match &report.verdict {
            Verdict::Incomplete { reason } => format!("incomplete: {reason}"),
            v => v.name().to_string(),
        };
        let text = doc.to_toml().unwrap_or_default();
        return Err(format!("the shrunk scenario does not show a violation ({why}):\n{text}"));
    };
    let (invariant, message) = (failure.violation.invariant.clone(), failure.violation.message.clone());
    doc.explore = match &explorer {
        // The default for an event loop: the file needs no [explore].
        Explorer::Stateful => None,
        Explorer::Exhaustive { bound } => Some(ExploreDoc {
            explorer: Some("exhaustive".into()),
            bound: bound.map(|b| b as u64),
            ..Default::default()
        }),
        _ => Some(sampled),
    };
    doc.expects =
        vec![ExpectDoc { variant: choices.clone(), verdict: "violation".into(), invariant: Some(invariant.clone()) }];
    // The counterpart: the same scenario with each scoped knob fixed.
    let mut counterpart = None;
    let fixed = Variant::complete(spec, &plan.counterpart);
    if fixed != variant {
        let r = explore(&scenario.model, &fixed, &explorer, limits);
        let verdict = match &r.verdict {
            Verdict::Proved { .. } => Some(("proved", None)),
            Verdict::NotFound => Some(("not-found", None)),
            Verdict::Violation(f) => Some(("violation", Some(f.violation.invariant.clone()))),
            Verdict::Incomplete { .. } | Verdict::Vacuous { .. } => None,
        };
        let shown = match &r.verdict {
            Verdict::Violation(f) => format!("violation of {}: {}", f.violation.invariant, f.violation.message),
            Verdict::Proved { bound: Some(b) } => format!("proved within bound {b}"),
            Verdict::Proved { bound: None } => "proved".into(),
            Verdict::NotFound => format!("not found in {} schedules", config.schedules),
            Verdict::Incomplete { reason } => format!("incomplete: {reason}"),
            Verdict::Vacuous { unreached } => format!("vacuous: never reached {}", unreached.join(", ")),
        };
        if let Some((verdict, inv)) = verdict {
            doc.expects.push(ExpectDoc { variant: plan.counterpart.clone(), verdict: verdict.into(), invariant: inv });
        }
        counterpart = Some((plan.counterpart.clone(), shown));
    }
    let variant_text = choices.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
    doc.title = format!("Hunted: {variant_text} violates {invariant}");
    doc.origin = format!("generated by racecheck hunt (seed {})", config.seed);
    let (a0, o0) = size(&shrunk.first);
    let (a1, o1) = size(&shrunk.minimal);
    let (a2, o2) = size(&doc);
    let mut story = vec![format!("Found by `{}`.", config.command())];
    story.extend(wrap(
        &format!(
            "Generated case {} of {} showed a violation with {} and {}; proptest shrank it to {} and {} in {} \
             steps; then {} left {} and {}.",
            shrunk.case,
            config.cases,
            plural(a0, "actor"),
            plural(o0, "operation"),
            plural(a1, "actor"),
            plural(o1, "operation"),
            shrunk.shrink_steps,
            plural(removals, "change"),
            plural(a2, "actor"),
            plural(o2, "operation"),
        ),
        88,
    ));
    match plan.scopes.as_slice() {
        [] => story.push("Scope: the whole system (no scope covers this variant).".into()),
        scopes => {
            for s in scopes {
                story.extend(wrap(&format!("Scope {}: {}.", s.label(), s.about), 88));
            }
        }
    }
    story.extend(wrap(&format!("{} finds {invariant}: {message}", explorer.describe()), 88));
    if let Some((choices, shown)) = &counterpart {
        let text = choices.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        story.extend(wrap(&format!("The counterpart {text}: {shown}."), 88));
        if shown.starts_with("violation") {
            story.push("EXPECTED VIOLATION of the counterpart too: a race its fix does not cover.".into());
        }
    }
    doc.story = story;
    Ok(Finding {
        invariant,
        message,
        case: shrunk.case,
        first_size: (a0, o0),
        proptest_size: (a1, o1),
        size: (a2, o2),
        shrink_steps: shrunk.shrink_steps,
        removals,
        explorer: explorer.describe(),
        counterpart,
        document: doc,
    })
}

/// `text` in lines of at most `width` characters (words kept whole).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `hunted-<8 hex digits>`: FNV-1a of the scenario's body, so the same
/// finding gets the same name.
pub fn file_stem(doc: &Document) -> String {
    let body = Document { story: Vec::new(), ..doc.clone() }.to_toml().unwrap_or_default();
    let mut hash: u64 = 0xcbf29ce484222325;
    for b in body.bytes() {
        hash ^= b as u64;
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("hunted-{:08x}", hash as u32)
}

/// Writes `finding` to `out`, or to `<root>/<system>/hunted-<hash>.toml`.
pub fn write(finding: &Finding, out: Option<&Path>, root: &Path) -> Result<PathBuf, String> {
    let doc = &finding.document;
    let path = match out {
        Some(p) => p.to_path_buf(),
        None => root.join(&doc.system).join(format!("{}.toml", file_stem(doc))),
    };
    let text = doc.to_toml().map_err(|e| e.to_string())?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}
