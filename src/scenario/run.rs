//! Checking a scenario's expectations: each `[[expect]]` runs its variant
//! under the scenario's explorer and holds only if the verdict matches.

use super::{Expectation, Expected, ExploreSettings, ExplorerKind, Regression, Scenario};
use crate::explore::{Explorer, Limits, Report, Verdict, explore};

/// The explorer `settings` describe.
pub fn explorer_for(settings: &ExploreSettings) -> Explorer {
    match settings.explorer {
        ExplorerKind::Exhaustive => Explorer::Exhaustive { bound: settings.bound },
        ExplorerKind::Dpor => Explorer::Dpor,
        ExplorerKind::Stateful => Explorer::Stateful,
        ExplorerKind::Pct => {
            Explorer::Pct { depth: settings.depth, schedules: settings.schedules, seed: settings.seed }
        }
        ExplorerKind::Random => Explorer::Random { schedules: settings.schedules, seed: settings.seed },
        ExplorerKind::Stress => Explorer::Stress { runs: settings.schedules },
    }
}

/// One expectation, checked.
#[derive(Clone, Debug)]
pub struct Check {
    pub scenario: String,
    pub expectation: Expectation,
    pub report: Report,
    /// Whether the verdict is what the expectation requires.
    pub holds: bool,
}

/// Whether `verdict` satisfies `expected`. An incomplete or vacuous search
/// never does, and a sampler's `not-found` is never a proof.
pub fn satisfies(expected: &Expected, verdict: &Verdict) -> bool {
    match (expected, verdict) {
        (_, Verdict::Incomplete { .. } | Verdict::Vacuous { .. }) => false,
        (Expected::Violation { invariant }, Verdict::Violation(f)) => &f.violation.invariant == invariant,
        (Expected::Violation { .. }, _) => false,
        (Expected::Proved, Verdict::Proved { .. }) => true,
        (Expected::Proved, Verdict::NotFound) => false,
        (Expected::NotFound, Verdict::NotFound | Verdict::Proved { .. }) => true,
        (Expected::Proved | Expected::NotFound, Verdict::Violation(_)) => false,
    }
}

/// Runs one expectation of `scenario` with `settings` (the scenario's own,
/// possibly overridden from the command line).
pub fn check_expectation(
    scenario: &Scenario,
    expectation: &Expectation,
    settings: &ExploreSettings,
    limits: &Limits,
) -> Check {
    let report = explore(&scenario.model, &expectation.variant, &explorer_for(settings), limits);
    let holds = satisfies(&expectation.expected, &report.verdict);
    Check { scenario: scenario.name.clone(), expectation: expectation.clone(), report, holds }
}

/// Replays a `[[regression]]` schedule exactly and checks its outcome,
/// within `max_time`.
pub fn check_regression(
    scenario: &Scenario,
    regression: &Regression,
    max_time: std::time::Duration,
) -> Result<(), String> {
    let model = &scenario.model;
    let outcome = crate::explore::replay_within(model, &regression.variant, &regression.schedule, Some(max_time))?;
    let got = outcome.violation.as_ref().map(|v| v.invariant.as_str());
    if got == regression.invariant.as_deref() {
        return Ok(());
    }
    let want = regression.invariant.as_deref().map_or("no violation".to_string(), |i| format!("a violation of {i}"));
    let got = outcome.violation.map_or("no violation".to_string(), |v| format!("{}: {}", v.invariant, v.message));
    Err(format!("replaying {} expected {want}, got {got}", regression.schedule))
}
