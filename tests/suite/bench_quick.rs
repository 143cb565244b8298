//! The benchmark in quick mode (few seeds, small caps) on two small
//! scenarios and the #63 baseline, so `racecheck bench` keeps working.
//! Shapes and sane values only: no timing thresholds.

use racecheck::bench::{self, Format, Plan};
use racecheck::scenario::{Scenario, load};
use std::path::Path;

fn scenario(path: &str) -> Scenario {
    load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

#[test]
fn quick_bench_measures_every_variant_with_every_explorer() {
    let scenarios = [
        scenario("scenarios/plan/dropped-reconcile-trigger.toml"),
        scenario("scenarios/runs/cancel-races-completion.toml"),
    ];
    let baseline = scenario(bench::BASELINE_SCENARIO);
    let plan = Plan::quick();
    let mut heard = Vec::new();
    let report = bench::run(&scenarios, Some(&baseline), &plan, &mut |what| heard.push(what.to_string()));

    // One row per buggy and per fixed expectation, in file order.
    let buggy: Vec<(&str, &str)> = report.buggy.iter().map(|b| (b.scenario.as_str(), b.variant.as_str())).collect();
    assert_eq!(
        buggy,
        [
            ("plan/dropped-reconcile-trigger", "drop"),
            ("runs/cancel-races-completion", "unguarded"),
            ("runs/cancel-races-completion", "guard-void")
        ]
    );
    let fixed: Vec<(&str, &str)> = report.fixed.iter().map(|f| (f.scenario.as_str(), f.variant.as_str())).collect();
    assert_eq!(
        fixed,
        [("plan/dropped-reconcile-trigger", "rerun"), ("runs/cancel-races-completion", "terminal-guard")]
    );
    assert_eq!(heard.len(), 6, "one progress line per expectation and one for the baseline: {heard:?}");

    for b in &report.buggy {
        let explorers: Vec<&str> = b.sampling.iter().map(|s| s.explorer.as_str()).collect();
        assert_eq!(explorers, ["random", "pct(depth=1)", "pct(depth=2)", "pct(depth=3)"]);
        assert!(b.found(), "{} {}: no explorer found it", b.scenario, b.variant);
        for s in &b.sampling {
            assert_eq!(s.seeds, plan.seeds);
            assert!(s.found + s.other + s.incomplete <= s.seeds);
            assert!(s.executions >= s.seeds, "every seed runs at least one schedule");
            match (&s.schedules, &s.seconds) {
                (Some(n), Some(t)) => {
                    assert!(s.found > 0);
                    assert!(1.0 <= n.median && n.median <= n.p90 && n.p90 <= n.max, "{n:?}");
                    assert!(n.max <= plan.schedules as f64);
                    assert!(0.0 <= t.median && t.median <= t.p90 && t.p90 <= t.max, "{t:?}");
                }
                (None, None) => assert_eq!(s.found, 0),
                other => panic!("schedules and seconds disagree: {other:?}"),
            }
        }
        let bounds: Vec<Option<usize>> = b.exhaustive.iter().map(|e| e.bound).collect();
        assert_eq!(bounds, [Some(1), Some(2), Some(3)]);
        for e in &b.exhaustive {
            assert!(e.executions > 0);
            assert!(["violation", "proved", "vacuous", "incomplete"].contains(&e.verdict), "{}", e.verdict);
        }
        for search in [&b.stateful, &b.dpor] {
            let s = search.as_ref().expect("every quick scenario runs on an event loop");
            assert_eq!((s.verdict, s.invariant.as_deref()), ("violation", Some(b.invariant.as_str())));
        }
        assert!(b.stateful.as_ref().is_some_and(|s| s.states.is_some_and(|n| n > 0)), "states are counted");
        let stress = b.stress.as_ref().expect("stress runs");
        assert_eq!((stress.runs, stress.error.as_deref()), (plan.stress_runs, None));
        assert!(stress.hits <= stress.runs);
    }
    for f in &report.fixed {
        let bounds: Vec<Option<usize>> = f.proofs.iter().map(|p| p.bound).collect();
        assert_eq!(bounds, [Some(2), Some(3), None]);
        for p in &f.proofs {
            assert!(p.verdict == "proved" || p.verdict == "incomplete", "{} {}: {}", f.scenario, f.variant, p.verdict);
            assert!(p.executions > 0);
        }
        for search in [&f.stateful, &f.dpor] {
            let s = search.as_ref().expect("every quick scenario runs on an event loop");
            assert_eq!((s.verdict, s.bound), ("proved", None), "{} {}", f.scenario, f.variant);
        }
    }
    assert!(report.anomalies.is_empty(), "{:?}", report.anomalies);

    let explorers: Vec<&str> = report.throughput.iter().map(|t| t.explorer.as_str()).collect();
    assert_eq!(
        explorers,
        ["random", "pct(depth=1)", "pct(depth=2)", "pct(depth=3)", "exhaustive", "stateful", "dpor", "stress"]
    );
    for t in &report.throughput {
        assert!(t.executions > 0 && t.seconds > 0.0 && t.per_second() > 0.0, "{t:?}");
    }

    // The baseline: loom at bound 2 and shuttle random, both sides measured.
    let baseline = report.baseline.as_ref().expect("baseline asked for").as_ref().expect("baseline runs");
    let measurements: Vec<&str> = baseline.comparisons.iter().map(|c| c.measurement.as_str()).collect();
    assert_eq!(measurements, ["loom exhaustive, bound 2", "shuttle random, 200 schedules"]);
    for c in &baseline.comparisons {
        assert!(c.bare.executions > 0 && c.scenario_executions > 0, "{c:?}");
        assert_eq!(c.bare.violations, 0, "the bare fixed variant never loses an update");
        assert!(
            c.scenario_verdict == "proved" || c.scenario_verdict == "not-found" || c.scenario_verdict == "incomplete"
        );
        assert!(c.ratio.is_finite() && c.ratio > 0.0);
    }
    let shuttle = &baseline.comparisons[1];
    let (bare_steps, scenario_steps) = (shuttle.bare_steps.unwrap(), shuttle.scenario_steps.unwrap());
    assert!(bare_steps > 1.0 && scenario_steps > 1.0, "{bare_steps} {scenario_steps}");
    assert!(shuttle.ratio_per_step.is_some_and(|r| r.is_finite() && r > 0.0));
    assert!(baseline.comparisons[0].bare_steps.is_none(), "loom has no step count");
    for check in &baseline.checks {
        assert!(check.run.violations > 0, "the bare buggy variant shows the race: {check:?}");
    }

    // Every format renders every table.
    let text = bench::render(&report, Format::Text);
    for title in ["Schedules to the first violation", "Wall time", "Proofs", "Executions per second", "bare loom"] {
        assert!(text.contains(title), "no {title:?} in\n{text}");
    }
    assert!(text.contains("runs/cancel-races-completion") && text.contains("guard-void"));
    let markdown = bench::render(&report, Format::Markdown);
    assert!(markdown.contains("### Proofs") && markdown.contains("|---|"));
    let json: serde_json::Value = serde_json::from_str(&bench::render(&report, Format::Json)).unwrap();
    assert_eq!(json["buggy"].as_array().map(Vec::len), Some(3));
    assert_eq!(json["plan"]["seeds"], 5);
}

#[test]
fn bare_models_show_the_race_and_not_the_fix() {
    use bench::baseline::{CheckpointWrite, loom, shuttle_random};
    use std::time::Duration;
    let cap = Duration::from_secs(30);
    let fixed = loom(CheckpointWrite::FieldsOnly, Some(1), cap);
    assert!(fixed.complete && fixed.executions > 0 && fixed.violations == 0, "{fixed:?}");
    let buggy = loom(CheckpointWrite::WholePlan, Some(1), cap);
    assert!(buggy.complete && buggy.violations > 0, "{buggy:?}");
    let sampled = shuttle_random(CheckpointWrite::WholePlan, 100, 7, cap);
    assert!(sampled.complete && sampled.executions == 100 && sampled.violations > 0, "{sampled:?}");
}

#[test]
fn growth_tables_measure_every_series_and_stop_at_the_cap() {
    use racecheck::bench::growth::{GrowthPlan, render_markdown, run};
    // #63 with 3 siblings takes seconds (250,562 states): a cap of one
    // second cuts it on any machine, and the cut is what this test is about.
    let plan = GrowthPlan { cap: std::time::Duration::from_secs(1), max_size: Some(3), workers: 2 };
    let growth = run(&plan, &mut |_| {});
    let names: Vec<&str> = growth.series.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["#63 siblings", "#15 triggers", "#1830 resumers", "#382 writers"]);
    for s in &growth.series {
        let first = &s.points[0];
        let stateful = first.stateful.as_ref().expect("the smallest size is explored");
        assert!(stateful.complete && stateful.states.is_some_and(|n| n > 10), "{}: {stateful:?}", s.name);
        let dpor = first.dpor.as_ref().expect("and by dpor");
        assert!(dpor.complete && dpor.ends == stateful.ends, "{}: the explorers agree on the ends", s.name);
        let two = first.stateful_workers.as_ref().expect("and by two workers");
        assert!(two.complete && two.ends == stateful.ends, "{}: two workers reach the ends one does", s.name);
        // After a search hits the cap, that explorer stops there.
        for w in s.points.windows(2) {
            if w[0].stateful.as_ref().is_some_and(|m| !m.complete) {
                assert!(w[1].stateful.is_none(), "{}", s.name);
            }
        }
    }
    let siblings = &growth.series[0];
    assert!(
        siblings.points.iter().any(|p| p.stateful.as_ref().is_some_and(|m| !m.complete)),
        "no search hit the cap: the rule above was not exercised"
    );
    // Symmetry keeps #15's triggers polynomial: far fewer states than dpor runs executions.
    let triggers = &growth.series[1].points[1];
    assert!(triggers.stateful.as_ref().unwrap().states.unwrap() < triggers.dpor.as_ref().unwrap().executions);
    let table = render_markdown(&growth);
    assert!(table.contains("| siblings | stateful states |") && table.contains("Growth: stateful states ×"), "{table}");
}
