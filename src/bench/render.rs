//! The bench report as aligned text tables, Markdown tables, or JSON.

use super::{BenchReport, Buggy, Plan, Sampling, Search, Spread, Stress, bound_name};

/// How to print a [`BenchReport`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Markdown,
    Json,
}

/// A table: a title, a header row, rows, and notes printed under it.
struct Table {
    title: String,
    headers: Vec<&'static str>,
    /// Columns (from the left) that hold names: left-aligned; the rest are right-aligned.
    names: usize,
    rows: Vec<Vec<String>>,
    notes: Vec<String>,
}

impl Table {
    fn text(&self) -> String {
        let cols = self.headers.len();
        let width: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .map(|r| r[c].chars().count())
                    .chain([self.headers[c].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let parts: Vec<String> =
                cells
                    .iter()
                    .enumerate()
                    .map(|(c, s)| {
                        if c < self.names { format!("{s:<w$}", w = width[c]) } else { format!("{s:>w$}", w = width[c]) }
                    })
                    .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut out = format!("{}\n\n", self.title);
        out.push_str(&line(self.headers.clone()));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("  {note}\n"));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("### {}\n\n| {} |\n|", self.title, self.headers.join(" | "));
        for c in 0..self.headers.len() {
            out.push_str(if c < self.names { "---|" } else { "---:|" });
        }
        out.push('\n');
        for row in &self.rows {
            out.push_str(&format!("| {} |\n", row.join(" | ")));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for note in &self.notes {
                out.push_str(&format!("- {note}\n"));
            }
        }
        out
    }
}

/// `3` for whole numbers, else one decimal.
fn number(x: f64) -> String {
    if x.fract() == 0.0 { format!("{x:.0}") } else { format!("{x:.1}") }
}

/// Milliseconds: one decimal below 10 ms, whole above.
fn ms(seconds: f64) -> String {
    let ms = seconds * 1000.0;
    if ms < 10.0 { format!("{ms:.1}") } else { format!("{ms:.0}") }
}

/// `0.05 s`, `12.3 s`.
fn secs(seconds: f64) -> String {
    if seconds < 10.0 { format!("{seconds:.2} s") } else { format!("{seconds:.1} s") }
}

fn spread(s: &Option<Spread>, f: fn(f64) -> String) -> Option<String> {
    s.as_ref().map(|s| format!("{}/{}/{}", f(s.median), f(s.p90), f(s.max)))
}

/// `1/2/5`, `1/2/5 (48/50)`, `none (0/50)`, with the seeds that ended otherwise.
fn sampling_cell(s: &Sampling, value: &Option<Spread>, f: fn(f64) -> String) -> String {
    let mut cell = spread(value, f).unwrap_or_else(|| "none".into());
    if s.found < s.seeds {
        cell.push_str(&format!(" ({}/{})", s.found, s.seeds));
    }
    if s.other > 0 {
        cell.push_str(&format!(" {} other", s.other));
    }
    if s.incomplete > 0 {
        cell.push_str(&format!(" {} cut", s.incomplete));
    }
    cell
}

/// An exhaustive search for a buggy variant's first violation.
fn violation_cell(search: &Search, invariant: &str, time: bool) -> String {
    let what = if time { ms(search.seconds) } else { search.executions.to_string() };
    match (search.verdict, search.invariant.as_deref()) {
        ("violation", Some(inv)) if inv == invariant => what,
        ("violation", Some(inv)) => format!("{what} ({inv})"),
        ("proved", _) => format!("none: {what} proved"),
        ("vacuous", _) => format!("none: {what}, window not reached"),
        (verdict, _) => format!("{verdict} at {what}"),
    }
}

fn stress_cell(stress: &Option<Stress>) -> String {
    match stress {
        None => "-".into(),
        Some(Stress { error: Some(e), .. }) => format!("error: {e}"),
        Some(s) => format!("{}/{}", s.hits, s.runs),
    }
}

/// A proof of a fixed variant.
fn proof_cell(search: &Search) -> String {
    let states = search.states.map(|n| format!(" / {n} states")).unwrap_or_default();
    let figures = format!("{}{states} in {}", search.executions, secs(search.seconds));
    match search.verdict {
        "proved" => format!("proved, {figures}"),
        "vacuous" => format!("VACUOUS (window not reached), {figures}"),
        "incomplete" if search.reason.as_deref().is_some_and(|r| r.contains("time limit")) => {
            format!("incomplete at cap, {figures}")
        }
        "incomplete" => format!("incomplete, {figures}: {}", search.reason.as_deref().unwrap_or("")),
        "violation" => {
            format!("VIOLATION of {} at execution {}", search.invariant.as_deref().unwrap_or("?"), search.executions)
        }
        other => format!("{other}, {figures}"),
    }
}

fn headers_for(plan: &Plan) -> Vec<&'static str> {
    let mut h = vec!["scenario", "variant", "random"];
    for d in &plan.pct_depths {
        h.push(match d {
            1 => "pct d1",
            2 => "pct d2",
            3 => "pct d3",
            _ => "pct",
        });
    }
    for b in &plan.violation_bounds {
        h.push(match b {
            0 => "exh b0",
            1 => "exh b1",
            2 => "exh b2",
            3 => "exh b3",
            _ => "exh",
        });
    }
    h
}

fn violation_tables(report: &BenchReport) -> Vec<Table> {
    let plan = &report.plan;
    let row = |b: &Buggy, time: bool| {
        let mut row = vec![b.scenario.clone(), b.variant.clone()];
        for s in &b.sampling {
            row.push(if time { sampling_cell(s, &s.seconds, ms) } else { sampling_cell(s, &s.schedules, number) });
        }
        for e in &b.exhaustive {
            row.push(violation_cell(e, &b.invariant, time));
        }
        row.push(b.stateful.as_ref().map_or("-".into(), |d| violation_cell(d, &b.invariant, time)));
        row.push(b.dpor.as_ref().map_or("-".into(), |d| violation_cell(d, &b.invariant, time)));
        row.push(if time {
            b.stress.as_ref().map_or("-".into(), |s| ms(s.seconds / s.runs.max(1) as f64))
        } else {
            stress_cell(&b.stress)
        });
        row
    };
    let mut counts = headers_for(plan);
    counts.extend(["stateful", "dpor", "stress hits"]);
    let mut times = headers_for(plan);
    times.extend(["stateful", "dpor", "stress ms/run"]);
    let seeds = plan.seeds;
    vec![
        Table {
            title: format!(
                "Schedules to the first violation (buggy variants): random and pct median/p90/max over the seeds \
                 that found it, of {seeds}; exhaustive executions, one deterministic run per bound"
            ),
            headers: counts,
            names: 2,
            rows: report.buggy.iter().map(|b| row(b, false)).collect(),
            notes: vec![
                format!(
                    "random, pct dN: schedules run up to and including the failing one; (k/{seeds}): only k seeds found \
                     it within {} schedules; `other`: seeds whose first violation was of another checked invariant; \
                     `cut`: seeds stopped by the time cap",
                    plan.schedules
                ),
                "exh bN: loom with at most N preemptions; `none: E proved`: no execution within the bound fails \
                 (the race needs more preemptions)"
                    .into(),
                "stateful, dpor: executions of the search up to the failing one (event-loop scenarios; `-` under \
                 threads)"
                    .into(),
                format!(
                    "stress hits: runs on real threads and a real directory that violated an invariant, of {}",
                    plan.stress_runs
                ),
            ],
        },
        Table {
            title: format!(
                "Wall time to the first violation, in ms (same searches): median/p90/max over the seeds that found it, of {seeds}"
            ),
            headers: times,
            names: 2,
            rows: report.buggy.iter().map(|b| row(b, true)).collect(),
            notes: vec![
                "a sampling search's time includes starting shuttle; exh bN: time of the one search (to the failure, or \
                 to the end of a bound that has none)"
                    .into(),
            ],
        },
    ]
}

fn proof_table(report: &BenchReport) -> Table {
    let mut headers = vec!["scenario", "variant", "expected"];
    for b in &report.plan.proof_bounds {
        headers.push(match b {
            Some(1) => "bound 1",
            Some(2) => "bound 2",
            Some(3) => "bound 3",
            Some(_) => "bound",
            None => "unbounded",
        });
    }
    headers.push("stateful (unbounded)");
    headers.push("dpor (unbounded)");
    Table {
        title: format!(
            "Proofs of the fixed variants: exhaustive executions and time (cap {} per search)",
            secs(report.plan.cap.as_secs_f64())
        ),
        headers,
        names: 3,
        rows: report
            .fixed
            .iter()
            .map(|f| {
                let mut row = vec![f.scenario.clone(), f.variant.clone(), f.expected.clone()];
                row.extend(f.proofs.iter().map(proof_cell));
                row.push(f.stateful.as_ref().map_or("-".into(), proof_cell));
                row.push(f.dpor.as_ref().map_or("-".into(), proof_cell));
                row
            })
            .collect(),
        notes: vec![
            "proved: every execution within the bound holds every checked invariant (unbounded: every interleaving)"
                .into(),
            "incomplete at cap: the time cap stopped the search; the executions reached prove nothing".into(),
            "stateful: every reachable state of an event loop, each explored once (executions / distinct states); \
             dpor: every interleaving of event-loop turns, one per order of the turns that conflict (`-` under \
             threads semantics)"
                .into(),
        ],
    }
}

fn throughput_table(report: &BenchReport) -> Table {
    Table {
        title: "Executions per second, per explorer, over every search above".into(),
        headers: vec![
            "explorer",
            "searches",
            "executions",
            "seconds",
            "executions/s",
            "long searches",
            "executions/s in long searches",
        ],
        names: 1,
        rows: report
            .throughput
            .iter()
            .map(|t| {
                vec![
                    t.explorer.clone(),
                    t.searches.to_string(),
                    t.executions.to_string(),
                    format!("{:.1}", t.seconds),
                    format!("{:.0}", t.per_second()),
                    t.long_searches.to_string(),
                    t.long_per_second().map_or("-".into(), |r| format!("{r:.0}")),
                ]
            })
            .collect(),
        notes: vec![
            "executions/s: total executions / total seconds; a search of one execution is mostly start-up".into(),
            format!(
                "in long searches: only searches of at least {} executions (stress: every run), closer to the steady rate",
                super::LONG_SEARCH
            ),
        ],
    }
}

fn baseline_tables(report: &BenchReport) -> Vec<Table> {
    let Some(baseline) = &report.baseline else { return Vec::new() };
    let b = match baseline {
        Ok(b) => b,
        Err(e) => {
            return vec![Table {
                title: "Scenario layer against bare loom and shuttle".into(),
                headers: vec!["error"],
                names: 1,
                rows: vec![vec![e.clone()]],
                notes: Vec::new(),
            }];
        }
    };
    let worst = b.worst_ratio();
    let verdict = if worst <= b.goal {
        format!("goal of at most {}× met: worst ratio {worst:.2}×", b.goal)
    } else {
        format!("goal of at most {}× MISSED: worst ratio {worst:.2}×", b.goal)
    };
    let comparison = Table {
        title: format!(
            "Scenario layer against bare loom and shuttle: seed race #63, fixed variant ({} fields-only)",
            b.scenario
        ),
        headers: vec![
            "measurement",
            "bare executions",
            "bare s",
            "bare exec/s",
            "scenario executions",
            "scenario s",
            "scenario exec/s",
            "ratio",
            "steps/execution bare, scenario",
            "ratio per step",
        ],
        names: 1,
        rows: b
            .comparisons
            .iter()
            .map(|c| {
                let bare_n = if c.bare.complete {
                    c.bare.executions.to_string()
                } else {
                    format!("{} (cap)", c.bare.executions)
                };
                let scen_n = if c.scenario_verdict == "incomplete" {
                    format!("{} (cap)", c.scenario_executions)
                } else {
                    c.scenario_executions.to_string()
                };
                vec![
                    c.measurement.clone(),
                    bare_n,
                    format!("{:.2}", c.bare.seconds),
                    format!("{:.0}", c.bare.per_second()),
                    scen_n,
                    format!("{:.2}", c.scenario_seconds),
                    format!("{:.0}", c.scenario_executions as f64 / c.scenario_seconds.max(1e-9)),
                    format!("{:.2}×", c.ratio),
                    match (c.bare_steps, c.scenario_steps) {
                        (Some(b), Some(s)) => format!("{b:.1}, {s:.1}"),
                        _ => "-".into(),
                    },
                    c.ratio_per_step.map_or("-".into(), |r| format!("{r:.2}×")),
                ]
            })
            .collect(),
        notes: vec![
            verdict,
            "ratio: bare executions per second over the scenario layer's; the two models differ in granularity \
             (the scenario has more awaits, spawned tasks and a reconcile pass after each completion), so \
             their execution counts differ too; bare s and scenario s are the times to the same answer"
                .into(),
            "steps/execution: shuttle scheduling decisions per execution (separate untimed runs); ratio per step: \
             the ratio of scheduling decisions per second"
                .into(),
        ],
    };
    let checks = Table {
        title: "The bare models show the race (buggy variant)".into(),
        headers: vec!["measurement", "variant", "executions", "lost an update"],
        names: 2,
        rows: b
            .checks
            .iter()
            .map(|c| {
                let n =
                    if c.run.complete { c.run.executions.to_string() } else { format!("{} (cap)", c.run.executions) };
                vec![c.measurement.clone(), c.variant.to_string(), n, c.run.violations.to_string()]
            })
            .collect(),
        notes: Vec::new(),
    };
    vec![comparison, checks]
}

fn header(report: &BenchReport) -> Vec<String> {
    let plan = &report.plan;
    let m = &report.machine;
    let bounds = |v: &[usize]| v.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(", ");
    let proofs: Vec<String> = plan.proof_bounds.iter().map(|b| bound_name(*b)).collect();
    vec![
        format!(
            "racecheck bench: {}, {} and {}, in {:.1} s",
            plural(report.scenarios.len(), "scenario"),
            plural(report.buggy.len(), "buggy variant"),
            plural(report.fixed.len(), "fixed variant"),
            report.seconds
        ),
        format!(
            "machine: {} CPUs, {}, {} memory; load average (1/5/15 min) {} before, {} after",
            m.cpus,
            m.cpu_model.as_deref().unwrap_or("unknown CPU"),
            m.memory.as_deref().unwrap_or("unknown"),
            m.load_before.as_deref().unwrap_or("?"),
            m.load_after.as_deref().unwrap_or("?")
        ),
        format!(
            "plan: random and pct (depths {}) from seeds 1..={}, at most {} schedules each; exhaustive to the first \
             violation at bounds {}; proofs at {}; {} time cap per search; stress {} runs per buggy variant",
            bounds(&plan.pct_depths),
            plan.seeds,
            plan.schedules,
            bounds(&plan.violation_bounds),
            proofs.join(", "),
            secs(plan.cap.as_secs_f64()),
            plan.stress_runs
        ),
    ]
}

/// `1 scenario`, `2 scenarios`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

/// The whole report in `format`.
pub fn render(report: &BenchReport, format: Format) -> String {
    if format == Format::Json {
        let json = serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
        return json + "\n";
    }
    let mut tables = violation_tables(report);
    tables.push(proof_table(report));
    tables.push(throughput_table(report));
    tables.extend(baseline_tables(report));
    let mut out = String::new();
    for line in header(report) {
        out.push_str(&line);
        out.push_str(if format == Format::Markdown { "  \n" } else { "\n" });
    }
    for table in &tables {
        out.push('\n');
        out.push_str(&match format {
            Format::Markdown => table.markdown(),
            _ => table.text(),
        });
    }
    out.push('\n');
    if report.anomalies.is_empty() {
        out.push_str("every buggy variant was shown by some explorer; no fixed variant showed a violation\n");
    } else {
        out.push_str("ANOMALIES (results that contradict a scenario's expectations):\n");
        for a in &report.anomalies {
            out.push_str(&format!("- {a}\n"));
        }
    }
    out
}
