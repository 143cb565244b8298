//! Benchmarks: how fast each explorer finds the shipped races and proves
//! their fixes, measured side by side in one run (`racecheck bench`).
//!
//! For every scenario, an expectation of a violation is a *buggy* variant
//! and an expectation of `proved` / `not-found` a *fixed* one. A buggy
//! variant is searched by `random` and by `pct` at depths 1, 2 and 3 from
//! many seeds (schedules and wall time to the first violation), by
//! `exhaustive` at preemption bounds 1, 2 and 3 (executions to the first
//! violation), and on real threads (`stress` hit rate). A fixed variant is
//! proved by `exhaustive` at bounds 2, 3 and unbounded, under a time cap that
//! turns into `incomplete`. Executions per second are summed per explorer,
//! and the seed race #63, hand-written against bare loom and shuttle
//! ([`baseline`]), measures the scenario layer's overhead.
//!
//! Data flows one way: this module uses scenario, explore and report;
//! nothing below it imports it.

pub mod baseline;
pub mod growth;
mod render;

pub use render::{Format, render};

use crate::execution::{DiskKind, Model, execute};
use crate::explore::{Explorer, Limits, Report, Verdict, explore, hit_rate};
use crate::history::History;
use crate::platform::Shuttle;
use crate::runtime::Semantics;
use crate::scenario::{Expectation, Expected, Scenario};
use crate::systems::Variant;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What to measure, and how much.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// Seeds per sampling explorer and buggy variant (1, 2, ... `seeds`).
    pub seeds: usize,
    /// Schedules one seed may run before its search counts as not found.
    pub schedules: usize,
    /// PCT bug depths.
    pub pct_depths: Vec<usize>,
    /// Exhaustive preemption bounds searched for a buggy variant's first violation.
    pub violation_bounds: Vec<usize>,
    /// Exhaustive bounds a fixed variant is proved at (`None`: unbounded).
    pub proof_bounds: Vec<Option<usize>>,
    /// Time limit of one search (a proof, one seed, a stress series).
    #[serde(rename = "cap_seconds", serialize_with = "seconds")]
    pub cap: Duration,
    /// Real-thread runs per buggy variant (0: no stress).
    pub stress_runs: usize,
    /// Loom bounds of the baseline comparison (fixed variant of #63).
    pub baseline_bounds: Vec<usize>,
    /// Shuttle random schedules of the baseline comparison.
    pub baseline_schedules: usize,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl Plan {
    /// The full measurement (`racecheck bench`).
    pub fn full() -> Self {
        Plan {
            seeds: 50,
            schedules: 1000,
            pct_depths: vec![1, 2, 3],
            violation_bounds: vec![1, 2, 3],
            proof_bounds: vec![Some(2), Some(3), None],
            cap: Duration::from_secs(60),
            stress_runs: 100,
            baseline_bounds: vec![2, 3],
            baseline_schedules: 10_000,
        }
    }

    /// Few seeds and small caps: checks the benchmark still works (`--quick`, `cargo test`).
    pub fn quick() -> Self {
        Plan {
            seeds: 5,
            schedules: 200,
            cap: Duration::from_secs(2),
            stress_runs: 5,
            baseline_bounds: vec![2],
            baseline_schedules: 200,
            ..Plan::full()
        }
    }
}

/// Median, 90th percentile and maximum (nearest rank).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Spread {
    pub median: f64,
    pub p90: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        (!v.is_empty()).then(|| Spread { median: rank(0.5), p90: rank(0.9), max: v[v.len() - 1] })
    }
}

/// One sampling explorer over many seeds, on one buggy variant.
#[derive(Clone, Debug, Serialize)]
pub struct Sampling {
    /// `random`, `pct(depth=2)`.
    pub explorer: String,
    pub seeds: usize,
    /// Seeds whose search found the expected invariant's violation.
    pub found: usize,
    /// Seeds whose first violation was of another checked invariant.
    pub other: usize,
    /// Seeds cut short (time cap, or the model panicked).
    pub incomplete: usize,
    /// Schedules run up to and including the failing one, over found seeds.
    pub schedules: Option<Spread>,
    /// Wall time to the first violation, over found seeds.
    pub seconds: Option<Spread>,
    /// Every schedule of every seed, and their time.
    pub executions: usize,
    pub total_seconds: f64,
}

impl Sampling {
    /// Seeds that ran their whole schedule cap without any violation.
    pub fn not_found(&self) -> usize {
        self.seeds - self.found - self.other - self.incomplete
    }
}

/// One exhaustive search.
#[derive(Clone, Debug, Serialize)]
pub struct Search {
    /// `None`: unbounded.
    pub bound: Option<usize>,
    /// `violation`, `proved`, `not-found`, `incomplete`.
    pub verdict: &'static str,
    /// The violated invariant, for a violation.
    pub invariant: Option<String>,
    /// Why the search is incomplete.
    pub reason: Option<String>,
    /// Executions run (up to and including the failing one).
    pub executions: usize,
    /// Distinct states explored (the stateful explorer).
    pub states: Option<usize>,
    pub seconds: f64,
}

impl Search {
    fn from_report(bound: Option<usize>, report: &Report) -> Search {
        let (invariant, reason) = match &report.verdict {
            Verdict::Violation(f) => (Some(f.violation.invariant.clone()), None),
            Verdict::Incomplete { reason } => (None, Some(reason.clone())),
            _ => (None, None),
        };
        Search {
            bound,
            verdict: report.verdict.name(),
            invariant,
            reason,
            executions: report.executions,
            states: report.states,
            seconds: report.elapsed.as_secs_f64(),
        }
    }
}

/// The stress hit rate of one buggy variant.
#[derive(Clone, Debug, Serialize)]
pub struct Stress {
    pub runs: usize,
    /// Runs that violated an invariant (any) or panicked.
    pub hits: usize,
    pub seconds: f64,
    /// Why it could not run (no temporary directory).
    pub error: Option<String>,
}

/// Time to the first violation of one buggy variant, by every explorer.
#[derive(Clone, Debug, Serialize)]
pub struct Buggy {
    pub scenario: String,
    pub variant: String,
    pub invariant: String,
    pub sampling: Vec<Sampling>,
    pub exhaustive: Vec<Search>,
    /// The stateful and dpor searches (event-loop scenarios only).
    pub stateful: Option<Search>,
    pub dpor: Option<Search>,
    pub stress: Option<Stress>,
}

impl Buggy {
    /// Some explorer showed the expected violation.
    pub fn found(&self) -> bool {
        self.sampling.iter().any(|s| s.found > 0)
            || self
                .exhaustive
                .iter()
                .chain(&self.stateful)
                .chain(&self.dpor)
                .any(|s| s.invariant.as_deref() == Some(&self.invariant))
    }
}

/// The proofs of one fixed variant.
#[derive(Clone, Debug, Serialize)]
pub struct Fixed {
    pub scenario: String,
    pub variant: String,
    /// `proved` or `not-found`, as the scenario states it.
    pub expected: String,
    pub proofs: Vec<Search>,
    /// The stateful and dpor proofs, unbounded (event-loop scenarios only).
    pub stateful: Option<Search>,
    pub dpor: Option<Search>,
}

/// Executions per second of one explorer, over every search of the run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Throughput {
    pub explorer: String,
    pub searches: usize,
    pub executions: usize,
    pub seconds: f64,
    /// The same over the searches of at least [`LONG_SEARCH`] executions,
    /// where starting the explorer no longer counts.
    pub long_searches: usize,
    pub long_executions: usize,
    pub long_seconds: f64,
}

/// Executions from which a search's start-up cost is negligible.
pub const LONG_SEARCH: usize = 100;

impl Throughput {
    pub fn per_second(&self) -> f64 {
        self.executions as f64 / self.seconds.max(1e-9)
    }

    /// `None` if no search was long.
    pub fn long_per_second(&self) -> Option<f64> {
        (self.long_searches > 0).then(|| self.long_executions as f64 / self.long_seconds.max(1e-9))
    }
}

/// The machine the numbers come from.
#[derive(Clone, Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: Option<String>,
    pub memory: Option<String>,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the run started and ended.
    pub load_before: Option<String>,
    pub load_after: Option<String>,
}

impl Machine {
    fn probe() -> Machine {
        let read = |path: &str| std::fs::read_to_string(path).ok();
        let field = |text: Option<String>, key: &str| {
            text?
                .lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: field(read("/proc/cpuinfo"), "model name"),
            memory: field(read("/proc/meminfo"), "MemTotal").and_then(|m| {
                let kib: f64 = m.trim_end_matches("kB").trim().parse().ok()?;
                Some(format!("{:.1} GiB", kib / (1024.0 * 1024.0)))
            }),
            load_before: load(),
            load_after: None,
        }
    }
}

fn load() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(text.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

/// One measurement of the baseline comparison: the same search on the
/// hand-written model and on the scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// `loom exhaustive bound 2`, `shuttle random 10000 schedules`.
    pub measurement: String,
    pub bare: baseline::BareRun,
    pub scenario_executions: usize,
    pub scenario_seconds: f64,
    pub scenario_verdict: &'static str,
    /// Bare executions per second over the scenario's.
    pub ratio: f64,
    /// Shuttle only: scheduling decisions per execution, bare and scenario
    /// (measured in separate, untimed runs), and the ratio per decision.
    pub bare_steps: Option<f64>,
    pub scenario_steps: Option<f64>,
    pub ratio_per_step: Option<f64>,
}

/// Whether the bare models show the race at all (a check of the yardstick).
#[derive(Clone, Debug, Serialize)]
pub struct BareCheck {
    pub measurement: String,
    pub variant: &'static str,
    pub run: baseline::BareRun,
}

/// The scenario layer against bare loom and shuttle, on #63 fields-only.
#[derive(Clone, Debug, Serialize)]
pub struct Baseline {
    pub scenario: String,
    pub comparisons: Vec<Comparison>,
    pub checks: Vec<BareCheck>,
    /// The overhead goal: at most this ratio.
    pub goal: f64,
}

impl Baseline {
    pub fn worst_ratio(&self) -> f64 {
        self.comparisons.iter().map(|c| c.ratio).fold(0.0, f64::max)
    }
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub plan: Plan,
    pub machine: Machine,
    pub scenarios: Vec<String>,
    pub buggy: Vec<Buggy>,
    pub fixed: Vec<Fixed>,
    pub throughput: Vec<Throughput>,
    /// `Err`: why the comparison could not run.
    pub baseline: Option<Result<Baseline, String>>,
    /// Results that contradict a scenario's expectations.
    pub anomalies: Vec<String>,
    pub seconds: f64,
}

/// The explorers the throughput table sums, in its order.
fn explorer_key(explorer: &Explorer) -> String {
    match explorer {
        Explorer::Pct { depth, .. } => format!("pct(depth={depth})"),
        other => other.name().to_string(),
    }
}

struct Tally(Vec<Throughput>);

impl Tally {
    /// `long`: a search whose start-up cost is negligible.
    fn add(&mut self, explorer: &str, executions: usize, seconds: f64, long: bool) {
        let t = match self.0.iter_mut().position(|t| t.explorer == explorer) {
            Some(i) => &mut self.0[i],
            None => {
                self.0.push(Throughput { explorer: explorer.to_string(), ..Default::default() });
                self.0.last_mut().expect("just pushed")
            }
        };
        t.searches += 1;
        t.executions += executions;
        t.seconds += seconds;
        if long {
            t.long_searches += 1;
            t.long_executions += executions;
            t.long_seconds += seconds;
        }
    }

    fn report(&mut self, report: &Report) {
        let long = report.executions >= LONG_SEARCH;
        self.add(&explorer_key(&report.explorer), report.executions, report.elapsed.as_secs_f64(), long);
    }
}

/// Runs `plan` over `scenarios`, and the baseline comparison on `baseline`
/// (the #63 scenario) if given. `progress` hears what is being measured.
pub fn run(
    scenarios: &[Scenario],
    baseline: Option<&Scenario>,
    plan: &Plan,
    progress: &mut dyn FnMut(&str),
) -> BenchReport {
    let start = Instant::now();
    let mut machine = Machine::probe();
    let mut tally = Tally(Vec::new());
    let (mut buggy, mut fixed, mut anomalies) = (Vec::new(), Vec::new(), Vec::new());
    for scenario in scenarios {
        for expectation in &scenario.expectations {
            let label = format!("{} {}", scenario.name, expectation.label());
            match &expectation.expected {
                Expected::Violation { invariant } => {
                    progress(&format!("{label}: time to the first violation of {invariant}"));
                    let b = measure_buggy(scenario, expectation, invariant, plan, &mut tally);
                    if !b.found() {
                        anomalies.push(format!("{label}: no explorer showed the expected violation of {invariant}"));
                    }
                    buggy.push(b);
                }
                Expected::Proved | Expected::NotFound => {
                    progress(&format!("{label}: proofs"));
                    let f = measure_fixed(scenario, expectation, plan, &mut tally);
                    let searches = f.proofs.iter().map(|p| (format!("exhaustive at {}", bound_name(p.bound)), p));
                    let stateful = f.stateful.iter().map(|p| ("stateful".to_string(), p));
                    let dpor = f.dpor.iter().map(|p| ("dpor".to_string(), p));
                    for (by, p) in searches.chain(stateful).chain(dpor).filter(|(_, p)| p.verdict == "violation") {
                        anomalies.push(format!(
                            "{label}: expected {}, {by} found a violation of {}",
                            f.expected,
                            p.invariant.as_deref().unwrap_or("?")
                        ));
                    }
                    fixed.push(f);
                }
            }
        }
    }
    let baseline = baseline.map(|s| {
        progress("baseline: #63 on bare loom and shuttle against the scenario layer");
        compare(s, plan)
    });
    machine.load_after = load();
    BenchReport {
        plan: plan.clone(),
        machine,
        scenarios: scenarios.iter().map(|s| s.name.clone()).collect(),
        buggy,
        fixed,
        throughput: tally.0,
        baseline,
        anomalies,
        seconds: start.elapsed().as_secs_f64(),
    }
}

/// `bound 2`, `unbounded`.
pub fn bound_name(bound: Option<usize>) -> String {
    bound.map_or("unbounded".into(), |b| format!("bound {b}"))
}

fn measure_buggy(
    scenario: &Scenario,
    expectation: &Expectation,
    invariant: &str,
    plan: &Plan,
    tally: &mut Tally,
) -> Buggy {
    let limits = Limits::time(plan.cap);
    let (model, variant) = (&scenario.model, &expectation.variant);
    let mut sampling = Vec::new();
    let mut explorers: Vec<Box<dyn Fn(u64) -> Explorer>> =
        vec![Box::new(|seed| Explorer::Random { schedules: plan.schedules, seed })];
    for &depth in &plan.pct_depths {
        explorers.push(Box::new(move |seed| Explorer::Pct { depth, schedules: plan.schedules, seed }));
    }
    for explorer in explorers {
        let mut cell = Sampling {
            explorer: explorer_key(&explorer(0)),
            seeds: plan.seeds,
            found: 0,
            other: 0,
            incomplete: 0,
            schedules: None,
            seconds: None,
            executions: 0,
            total_seconds: 0.0,
        };
        let (mut schedules, mut times) = (Vec::new(), Vec::new());
        for seed in 1..=plan.seeds as u64 {
            let report = explore(model, variant, &explorer(seed), &limits);
            tally.report(&report);
            cell.executions += report.executions;
            cell.total_seconds += report.elapsed.as_secs_f64();
            match &report.verdict {
                Verdict::Violation(f) if f.violation.invariant == invariant => {
                    cell.found += 1;
                    schedules.push(report.executions as f64);
                    times.push(report.elapsed.as_secs_f64());
                }
                Verdict::Violation(_) => cell.other += 1,
                Verdict::Incomplete { .. } | Verdict::Vacuous { .. } => cell.incomplete += 1,
                Verdict::NotFound | Verdict::Proved { .. } => {}
            }
        }
        cell.schedules = Spread::of(&schedules);
        cell.seconds = Spread::of(&times);
        sampling.push(cell);
    }
    let exhaustive = plan
        .violation_bounds
        .iter()
        .map(|&b| {
            let report = explore(model, variant, &Explorer::Exhaustive { bound: Some(b) }, &limits);
            tally.report(&report);
            Search::from_report(Some(b), &report)
        })
        .collect();
    let stateful = event_loop_search(model, variant, &Explorer::Stateful, &limits, tally);
    let dpor = event_loop_search(model, variant, &Explorer::Dpor, &limits, tally);
    let stress = (plan.stress_runs > 0).then(|| {
        let start = Instant::now();
        let rate = hit_rate(model, variant, plan.stress_runs);
        let seconds = start.elapsed().as_secs_f64();
        match rate {
            Ok(rate) => {
                // A stress series is many independent runs: never a start-up cost.
                tally.add("stress", rate.runs, seconds, true);
                Stress { runs: rate.runs, hits: rate.hits, seconds, error: None }
            }
            Err(e) => Stress { runs: 0, hits: 0, seconds, error: Some(e.to_string()) },
        }
    });
    Buggy {
        scenario: scenario.name.clone(),
        variant: expectation.label(),
        invariant: invariant.to_string(),
        sampling,
        exhaustive,
        stateful,
        dpor,
        stress,
    }
}

/// The search of `variant` by `explorer` (stateful or dpor), if the model
/// runs on an event loop.
fn event_loop_search(
    model: &Model,
    variant: &Variant,
    explorer: &Explorer,
    limits: &Limits,
    tally: &mut Tally,
) -> Option<Search> {
    (model.semantics == Semantics::EventLoop).then(|| {
        let report = explore(model, variant, explorer, limits);
        tally.report(&report);
        Search::from_report(None, &report)
    })
}

fn measure_fixed(scenario: &Scenario, expectation: &Expectation, plan: &Plan, tally: &mut Tally) -> Fixed {
    let limits = Limits::time(plan.cap);
    let proofs = plan
        .proof_bounds
        .iter()
        .map(|&bound| {
            let report = explore(&scenario.model, &expectation.variant, &Explorer::Exhaustive { bound }, &limits);
            tally.report(&report);
            Search::from_report(bound, &report)
        })
        .collect();
    let (model, variant) = (&scenario.model, &expectation.variant);
    let stateful = event_loop_search(model, variant, &Explorer::Stateful, &limits, tally);
    let dpor = event_loop_search(model, variant, &Explorer::Dpor, &limits, tally);
    Fixed {
        scenario: scenario.name.clone(),
        variant: expectation.label(),
        expected: crate::report::expected_text(&expectation.expected),
        proofs,
        stateful,
        dpor,
    }
}

/// The #63 scenario file the baseline is compared with.
pub const BASELINE_SCENARIO: &str = "scenarios/plan/stale-checkpoint-overwrite.toml";

fn expectation_with<'a>(scenario: &'a Scenario, choice: &str) -> Result<&'a Expectation, String> {
    scenario
        .expectations
        .iter()
        .find(|e| e.choices.get("checkpoint_write").map(String::as_str) == Some(choice))
        .ok_or_else(|| format!("{} has no expectation with checkpoint_write = {choice:?}", scenario.name))
}

/// The same searches on the bare #63 models and on the scenario's fixed variant.
pub fn compare(scenario: &Scenario, plan: &Plan) -> Result<Baseline, String> {
    use baseline::CheckpointWrite::{FieldsOnly, WholePlan};
    let fixed = expectation_with(scenario, "fields-only")?;
    expectation_with(scenario, "whole-plan")?;
    let limits = Limits::time(plan.cap);
    let mut comparisons = Vec::new();
    let mut compare_one = |measurement: String, bare: baseline::BareRun, explorer: Explorer| {
        let report = explore(&scenario.model, &fixed.variant, &explorer, &limits);
        let scenario_rate = report.executions as f64 / report.elapsed.as_secs_f64().max(1e-9);
        comparisons.push(Comparison {
            measurement,
            ratio: bare.per_second() / scenario_rate.max(1e-9),
            bare,
            scenario_executions: report.executions,
            scenario_seconds: report.elapsed.as_secs_f64(),
            scenario_verdict: report.verdict.name(),
            bare_steps: None,
            scenario_steps: None,
            ratio_per_step: None,
        });
    };
    for &b in &plan.baseline_bounds {
        let bare = baseline::loom(FieldsOnly, Some(b), plan.cap);
        compare_one(format!("loom exhaustive, bound {b}"), bare, Explorer::Exhaustive { bound: Some(b) });
    }
    let n = plan.baseline_schedules;
    let bare = baseline::shuttle_random(FieldsOnly, n, 1, plan.cap);
    compare_one(format!("shuttle random, {n} schedules"), bare, Explorer::Random { schedules: n, seed: 1 });
    // How fine-grained each model is: scheduling decisions per execution.
    let steps_of = n.min(1000);
    let bare_steps = baseline::bare_shuttle_steps(FieldsOnly, steps_of, 1);
    let (model, variant) = (scenario.model.clone(), fixed.variant.clone());
    let scenario_steps = baseline::shuttle_steps(
        move || {
            execute::<Shuttle>(&model, &variant, &DiskKind::Memory, &History::new());
        },
        steps_of,
        1,
        crate::platform::MODEL_STACK,
    );
    if let Some(c) = comparisons.last_mut() {
        c.bare_steps = Some(bare_steps);
        c.scenario_steps = Some(scenario_steps);
        c.ratio_per_step = Some(c.ratio * bare_steps / scenario_steps.max(1e-9));
    }
    let bound = plan.baseline_bounds.first().copied().unwrap_or(2);
    let checks = vec![
        BareCheck {
            measurement: format!("loom exhaustive, bound {bound}"),
            variant: WholePlan.name(),
            run: baseline::loom(WholePlan, Some(bound), plan.cap),
        },
        BareCheck {
            measurement: format!("shuttle random, {n} schedules"),
            variant: WholePlan.name(),
            run: baseline::shuttle_random(WholePlan, n, 1, plan.cap),
        },
    ];
    Ok(Baseline { scenario: scenario.name.clone(), comparisons, checks, goal: 1.5 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_is_nearest_rank() {
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[3.0]), Some(Spread { median: 3.0, p90: 3.0, max: 3.0 }));
        let v: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(Spread::of(&v), Some(Spread { median: 5.0, p90: 9.0, max: 10.0 }));
        let v: Vec<f64> = (1..=50).map(f64::from).collect();
        assert_eq!(Spread::of(&v), Some(Spread { median: 25.0, p90: 45.0, max: 50.0 }));
    }
}
