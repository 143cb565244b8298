//! The seed race #63 written by hand as a bare loom test and a bare shuttle
//! test: no scenario file, no runtime, no history, no JSON, no invariant
//! engine. It is the yardstick for the scenario layer's overhead.
//!
//! The state is `plan.json` (three job statuses and the plan status) behind
//! `planMutex`. Four tasks run concurrently:
//!
//! - F1 (`updatePlanJob(A, failed)`): under the lock, read the plan, set A, write;
//! - F2 (`loadPlan` then `setCheckpoint`): read a snapshot *without* the lock,
//!   then under the lock write the plan with status `paused`: the whole
//!   snapshot (whole-plan, before #71) or only the plan fields on a fresh
//!   read (fields-only, #71);
//! - P_B, P_C (`updatePlanJob(B|C, completed)`): like F1.
//!
//! The file is an atomic word (a read and a write are each one atomic step,
//! as on the model's memory disk); `planMutex` is the backend's plain mutex,
//! which, unlike the origin's FIFO lock, lets any waiter take it next (FIFO
//! order does not matter to this race). At the end every job must hold its
//! own update and the plan must be paused.
//!
//! Each execution checks the outcome without panicking and counts the
//! violations, so one search measures both speed and whether the race shows.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The #63 code choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckpointWrite {
    /// `savePlan(snapshot)`: the buggy write of the whole stale object.
    WholePlan,
    /// `updatePlanFields`: the fix, plan fields only on a fresh read.
    FieldsOnly,
}

impl CheckpointWrite {
    pub fn name(self) -> &'static str {
        match self {
            CheckpointWrite::WholePlan => "whole-plan",
            CheckpointWrite::FieldsOnly => "fields-only",
        }
    }
}

/// A job's status in `plan.json`, two bits each.
const RUNNING: usize = 0;
const FAILED: usize = 1;
const COMPLETED: usize = 2;
/// `plan.json`: jobs A, B, C in bits 0-1, 2-3, 4-5; the plan is paused if bit 6 is set.
const PAUSED: usize = 1 << 6;
const INITIAL: usize = RUNNING | (RUNNING << 2) | (RUNNING << 4);
const EXPECTED: usize = FAILED | (COMPLETED << 2) | (COMPLETED << 4) | PAUSED;
const A: usize = 0;
const B: usize = 1;
const C: usize = 2;

fn with_job(plan: usize, job: usize, status: usize) -> usize {
    (plan & !(0b11 << (2 * job))) | (status << (2 * job))
}

/// One execution of the race on a backend whose `sync` and `thread` modules
/// mirror std's (loom and shuttle both do). Evaluates to whether the final
/// plan is the expected one. `plan.json` is an atomic word: a read or a
/// write (an atomic rename) is one step, as on the model's memory disk.
/// Reads are `fetch_or(0)` and writes `swap`: loom treats SeqCst as AcqRel,
/// and a read-modify-write always sees the latest value.
macro_rules! seed_63 {
    ($backend:ident, $write:expr) => {{
        use $backend::sync::atomic::AtomicUsize;
        use $backend::sync::{Arc, Mutex};
        let write: CheckpointWrite = $write;
        let file = Arc::new(AtomicUsize::new(INITIAL)); // plan.json
        let plan_mutex = Arc::new(Mutex::new(())); // planMutex
        let read = |file: &AtomicUsize| file.fetch_or(0, Ordering::SeqCst);
        let update_plan_job = |job: usize, status: usize| {
            let (file, plan_mutex) = (file.clone(), plan_mutex.clone());
            move || {
                let _held = plan_mutex.lock().unwrap();
                let plan = read(&file);
                file.swap(with_job(plan, job, status), Ordering::SeqCst);
            }
        };
        let f1 = $backend::thread::spawn(update_plan_job(A, FAILED));
        let f2 = {
            let (file, plan_mutex) = (file.clone(), plan_mutex.clone());
            $backend::thread::spawn(move || {
                let snapshot = read(&file); // loadPlan(), no lock
                let _held = plan_mutex.lock().unwrap();
                let plan = match write {
                    CheckpointWrite::WholePlan => snapshot,
                    CheckpointWrite::FieldsOnly => read(&file),
                };
                file.swap(plan | PAUSED, Ordering::SeqCst);
            })
        };
        let p_b = $backend::thread::spawn(update_plan_job(B, COMPLETED));
        let p_c = $backend::thread::spawn(update_plan_job(C, COMPLETED));
        for task in [f1, f2, p_b, p_c] {
            task.join().unwrap();
        }
        read(&file) == EXPECTED
    }};
}

/// Executions and violations, counted outside the model (plain std atomics).
#[derive(Clone, Default)]
struct Counts {
    executions: Arc<AtomicUsize>,
    violations: Arc<AtomicUsize>,
}

impl Counts {
    fn count(&self, held: bool) {
        self.executions.fetch_add(1, Ordering::SeqCst);
        if !held {
            self.violations.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// What one bare search did.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct BareRun {
    pub executions: usize,
    /// Executions whose final plan lost an update.
    pub violations: usize,
    pub seconds: f64,
    /// The search ran to its end (loom: every execution within the bound;
    /// shuttle: every schedule asked for) rather than stopping at the time limit.
    pub complete: bool,
}

impl BareRun {
    pub fn per_second(&self) -> f64 {
        self.executions as f64 / self.seconds.max(1e-9)
    }
}

/// Every interleaving with at most `bound` preemptions, on loom, configured
/// like the exhaustive explorer (thread stacks stay loom's default).
pub fn loom(write: CheckpointWrite, bound: Option<usize>, max_time: Duration) -> BareRun {
    let counts = Counts::default();
    let builder = crate::explore::loom_builder(bound, &crate::explore::Limits::time(max_time));
    let start = Instant::now();
    crate::explore::quietly(|| {
        let counts = counts.clone();
        builder.check(move || counts.count(seed_63!(loom, write)))
    });
    let seconds = start.elapsed().as_secs_f64();
    BareRun {
        executions: counts.executions.load(Ordering::SeqCst),
        violations: counts.violations.load(Ordering::SeqCst),
        seconds,
        complete: seconds < max_time.as_secs_f64(),
    }
}

/// `schedules` schedules of shuttle's random scheduler from `seed`, with
/// shuttle's defaults (thread stacks included) but no failure files.
pub fn shuttle_random(write: CheckpointWrite, schedules: usize, seed: u64, max_time: Duration) -> BareRun {
    let counts = Counts::default();
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.max_time = Some(max_time);
    config.silence_warnings = true;
    let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(seed, schedules);
    let start = Instant::now();
    crate::explore::quietly(|| {
        let counts = counts.clone();
        shuttle::Runner::new(scheduler, config).run(move || counts.count(seed_63!(shuttle, write)))
    });
    let executions = counts.executions.load(Ordering::SeqCst);
    BareRun {
        executions,
        violations: counts.violations.load(Ordering::SeqCst),
        seconds: start.elapsed().as_secs_f64(),
        complete: executions >= schedules,
    }
}

/// Wraps a shuttle scheduler to count its scheduling decisions.
struct Counting<S> {
    inner: S,
    steps: Arc<AtomicUsize>,
}

impl<S: shuttle::scheduler::Scheduler> shuttle::scheduler::Scheduler for Counting<S> {
    fn new_execution(&mut self) -> Option<shuttle::scheduler::Schedule> {
        self.inner.new_execution()
    }

    fn next_task(
        &mut self,
        runnable: &[&shuttle::scheduler::Task],
        current: Option<shuttle::scheduler::TaskId>,
        is_yielding: bool,
    ) -> Option<shuttle::scheduler::TaskId> {
        self.steps.fetch_add(1, Ordering::SeqCst);
        self.inner.next_task(runnable, current, is_yielding)
    }

    fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }
}

/// Scheduling decisions per execution of `f` under shuttle's random
/// scheduler (`schedules` schedules from `seed`): how fine-grained a model
/// is. A separate, untimed run.
pub fn shuttle_steps(f: impl Fn() + Send + Sync + 'static, schedules: usize, seed: u64, stack_size: usize) -> f64 {
    let steps = Arc::new(AtomicUsize::new(0));
    let counts = Counts::default();
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config.silence_warnings = true;
    config.stack_size = stack_size;
    let scheduler =
        Counting { inner: shuttle::scheduler::RandomScheduler::new_from_seed(seed, schedules), steps: steps.clone() };
    crate::explore::quietly(|| {
        let counts = counts.clone();
        shuttle::Runner::new(scheduler, config).run(move || {
            counts.count(true);
            f();
        })
    });
    steps.load(Ordering::SeqCst) as f64 / counts.executions.load(Ordering::SeqCst).max(1) as f64
}

/// [`shuttle_steps`] of the bare #63 model, with shuttle's default stack.
pub fn bare_shuttle_steps(write: CheckpointWrite, schedules: usize, seed: u64) -> f64 {
    shuttle_steps(
        move || {
            let _ = seed_63!(shuttle, write);
        },
        schedules,
        seed,
        shuttle::Config::new().stack_size,
    )
}
