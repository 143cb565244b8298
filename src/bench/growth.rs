//! How the cost of a proof grows with the size of a scenario
//! (`racecheck bench --growth`).
//!
//! Four series, each a shipped race with one more actor at a time: #63 with
//! more sibling jobs completing, #15 with more reconcile triggers, Archon's
//! resume with more terminals, ADE's manifest with more external writers.
//! At each size the fixed variant is explored completely (every state, no
//! stop at a violation) by the `stateful` explorer and by `dpor`, under a
//! time cap; a series goes on for an explorer until it hits the cap. The
//! figures: executions, distinct states, seconds, peak memory, and a fit of
//! how the cost grows (the ratio per added actor, and the exponent of a
//! power law).

use crate::explore::{Enumeration, Explorer, Limits, enumerate};
use crate::scenario;
use serde::Serialize;
use std::path::Path;
use std::time::{Duration, Instant};

/// One scenario grown one actor at a time.
struct Series {
    name: &'static str,
    about: &'static str,
    /// What is added at each size.
    unit: &'static str,
    sizes: &'static [usize],
    /// The variant explored (`knob=choice`, the fixed code).
    variant: &'static str,
    /// The scenario with `n` of the unit.
    scenario: fn(usize) -> String,
}

/// Seed race #63 with `n` sibling jobs completing while A fails (the fix,
/// `checkpoint_write = fields-only`, expected proved).
pub fn siblings(n: usize) -> String {
    let names: Vec<char> = (0..n).map(|i| (b'B' + i as u8) as char).collect();
    let jobs: String = names
        .iter()
        .map(|x| format!("  {{ name = \"{x}\", status = \"running\", state = \"completed\" }},\n"))
        .collect();
    let actors: String = names
        .iter()
        .map(|x| {
            format!("[[actor]]\nname = \"report-{x}\"\ndo = [{{ op = \"handle_job_complete\", job = \"{x}\" }}]\n\n")
        })
        .collect();
    format!(
        "title = \"#63 with {n} siblings\"\norigin = \"bench\"\nsystem = \"plan\"\n\n[setup]\njobs = [\n  \
         {{ name = \"A\", status = \"running\", state = \"failed\" }},\n{jobs}]\n\n[[actor]]\nname = \"monitor\"\n\
         do = [{{ op = \"handle_job_failed\", job = \"A\" }}]\n\n{actors}[check]\ninvariants = [\"no-lost-job-update\"]\n\n\
         [[expect]]\nvariant = {{ checkpoint_write = \"fields-only\" }}\nverdict = \"proved\"\n"
    )
}

fn triggers(n: usize) -> String {
    let actors: String =
        (1..=n).map(|i| format!("[[actor]]\nname = \"trigger-{i}\"\ndo = [{{ op = \"reconcile\" }}]\n\n")).collect();
    format!(
        "title = \"#15 with {n} triggers\"\norigin = \"bench\"\nsystem = \"plan\"\n\n[setup]\njobs = [\n  \
         {{ name = \"A\", status = \"running\" }},\n  {{ name = \"B\", status = \"running\", state = \"completed\" }},\n]\n\n\
         [[actor]]\nname = \"interval\"\ndo = [{{ op = \"interval_tick\" }}]\n\n{actors}[check]\n\
         invariants = [\"every-trigger-seen\"]\n\n[[expect]]\nvariant = {{ reconcile_guard = \"rerun\" }}\nverdict = \"proved\"\n"
    )
}

fn resumers(n: usize) -> String {
    let actors: String = (1..=n)
        .map(|i| format!("[[actor]]\nname = \"terminal-{i}\"\ndo = [{{ op = \"cli_resume\", run = \"X\" }}]\n\n"))
        .collect();
    format!(
        "title = \"#1830 with {n} resumers\"\norigin = \"bench\"\nsystem = \"runs\"\n\n[setup]\n\
         rows = [{{ id = \"X\", status = \"failed\", working_path = \"/wt/feature\", completed_nodes = 2 }}]\n\n\
         {actors}[check]\ninvariants = [\"single-owner\"]\n\n[[expect]]\nvariant = {{ resume_guard = \"cas\" }}\n\
         verdict = \"proved\"\n"
    )
}

fn writers(n: usize) -> String {
    let actors: String = (1..=n)
        .map(|i| format!("[[actor]]\nname = \"writer-{i}\"\ndo = [{{ op = \"external_write\", task = \"t1\", status = \"done\" }}]\n\n"))
        .collect();
    format!(
        "title = \"#382 with {n} external writers\"\norigin = \"bench\"\nsystem = \"manifest\"\n\n[setup]\n\
         generation = 4\ncached = true\n\n[[actor]]\nname = \"lead\"\ndo = [{{ op = \"manifest_patch\", if_match = \"cached\" }}]\n\n\
         [[actor]]\nname = \"watcher\"\ndo = [{{ op = \"watcher_fire\" }}]\n\n{actors}[check]\n\
         invariants = [\"generation-monotonic\", \"cache-never-regresses\"]\n\n[[expect]]\n\
         variant = {{ persist_check = \"generation\" }}\nverdict = \"proved\"\n"
    )
}

const SERIES: &[Series] = &[
    Series {
        name: "#63 siblings",
        about: "plan/stale-checkpoint-overwrite: A fails while N sibling jobs complete (fields-only)",
        unit: "siblings",
        sizes: &[1, 2, 3, 4, 5, 6, 7, 8],
        variant: "checkpoint_write=fields-only",
        scenario: siblings,
    },
    Series {
        name: "#15 triggers",
        about: "plan/reconcile-triggers-pile-up: N reconcile() triggers during an interval pass (rerun)",
        unit: "triggers",
        sizes: &[2, 3, 4, 5, 6],
        variant: "reconcile_guard=rerun",
        scenario: triggers,
    },
    Series {
        name: "#1830 resumers",
        about: "runs/triple-resume-cli: N terminals resume one failed run (cas)",
        unit: "resumers",
        sizes: &[2, 3, 4, 5],
        variant: "resume_guard=cas",
        scenario: resumers,
    },
    Series {
        name: "#382 writers",
        about: "manifest: a patch and the watcher while N other processes write manifest.json (generation)",
        unit: "writers",
        sizes: &[1, 2, 3, 4],
        variant: "persist_check=generation",
        scenario: writers,
    },
];

/// One explorer's complete exploration of one size.
#[derive(Clone, Debug, Serialize)]
pub struct Measure {
    pub executions: usize,
    pub states: Option<usize>,
    pub ends: usize,
    pub seconds: f64,
    pub peak_mb: Option<f64>,
    /// It explored everything (else it hit the cap, or could not go on: `cut`).
    pub complete: bool,
    pub cut: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Point {
    pub size: usize,
    pub stateful: Option<Measure>,
    /// The same search on the plan's workers (when more than one).
    pub stateful_workers: Option<Measure>,
    pub dpor: Option<Measure>,
}

/// How a cost grows with the size: the ratio from one size to the next
/// (geometric mean), and the exponent `k` of `cost ~ size^k` (least squares
/// on the logarithms), over the complete points.
#[derive(Clone, Debug, Serialize)]
pub struct Fit {
    pub per_step: f64,
    pub exponent: f64,
    pub points: usize,
}

impl Fit {
    fn of(points: &[(usize, f64)]) -> Option<Fit> {
        let p: Vec<(f64, f64)> =
            points.iter().filter(|(_, c)| *c > 0.0).map(|&(n, c)| ((n as f64).ln(), c.ln())).collect();
        if p.len() < 2 {
            return None;
        }
        let steps: Vec<f64> = points.windows(2).map(|w| (w[1].1 / w[0].1).ln() / (w[1].0 - w[0].0) as f64).collect();
        let per_step = (steps.iter().sum::<f64>() / steps.len() as f64).exp();
        let n = p.len() as f64;
        let (mx, my) = (p.iter().map(|q| q.0).sum::<f64>() / n, p.iter().map(|q| q.1).sum::<f64>() / n);
        let sxx: f64 = p.iter().map(|q| (q.0 - mx).powi(2)).sum();
        let sxy: f64 = p.iter().map(|q| (q.0 - mx) * (q.1 - my)).sum();
        Some(Fit { per_step, exponent: if sxx > 0.0 { sxy / sxx } else { 0.0 }, points: p.len() })
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct SeriesResult {
    pub name: String,
    pub about: String,
    pub unit: String,
    pub variant: String,
    pub points: Vec<Point>,
    /// Growth of the stateful explorer's distinct states and of dpor's executions.
    pub stateful_states: Option<Fit>,
    pub stateful_seconds: Option<Fit>,
    pub dpor_executions: Option<Fit>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Growth {
    pub cap_seconds: f64,
    pub workers: usize,
    pub series: Vec<SeriesResult>,
    pub seconds: f64,
}

/// What to run: every size up to `max_size` (all of a series' sizes when
/// `None`), each search capped at `cap`.
#[derive(Clone, Debug)]
pub struct GrowthPlan {
    pub cap: Duration,
    pub max_size: Option<usize>,
    /// The stateful search runs on one worker, and again on this many when
    /// it is more than one.
    pub workers: usize,
}

fn measure(
    model: &crate::execution::Model,
    variant: &crate::systems::Variant,
    explorer: &Explorer,
    cap: Duration,
    workers: usize,
) -> Measure {
    crate::memory::reset();
    let start = Instant::now();
    let limits = Limits { workers, ..Limits::time(cap) };
    let Enumeration { ends, executions, states, cut, .. } = enumerate(model, variant, explorer, &limits);
    let seconds = start.elapsed().as_secs_f64();
    // Allocations are counted on the calling thread only.
    let peak_mb = (workers == 1).then(|| crate::memory::peak() as f64 / (1024.0 * 1024.0));
    Measure { executions, states, ends: ends.len(), seconds, peak_mb, complete: cut.is_none(), cut }
}

/// Runs every series of `plan`; `progress` hears each point as it starts.
pub fn run(plan: &GrowthPlan, progress: &mut dyn FnMut(&str)) -> Growth {
    let start = Instant::now();
    let mut series = Vec::new();
    for s in SERIES {
        let mut points = Vec::new();
        let (mut stateful_on, mut workers_on, mut dpor_on) = (true, plan.workers > 1, true);
        for &size in s.sizes.iter().filter(|&&n| plan.max_size.is_none_or(|m| n <= m)) {
            let text = (s.scenario)(size);
            let path = Path::new("bench").join(format!("{}-{size}.toml", s.unit));
            let loaded = scenario::parse(&path, &text).map_err(|e| e.to_string());
            let scenario = match loaded {
                Ok(sc) => sc,
                Err(e) => panic!("the growth scenario {} with {size} {} does not load: {e}", s.name, s.unit),
            };
            let expectation = &scenario.expectations[0];
            let mut point = Point { size, stateful: None, stateful_workers: None, dpor: None };
            for (on, explorer, workers, slot) in [
                (&mut stateful_on, Explorer::Stateful, 1, &mut point.stateful),
                (&mut workers_on, Explorer::Stateful, plan.workers, &mut point.stateful_workers),
                (&mut dpor_on, Explorer::Dpor, 1, &mut point.dpor),
            ] {
                if !*on {
                    continue;
                }
                progress(&format!("{} {size} {}: {} on {workers}", s.name, s.unit, explorer.name()));
                let m = measure(&scenario.model, &expectation.variant, &explorer, plan.cap, workers);
                *on = m.complete;
                *slot = Some(m);
            }
            points.push(point);
        }
        let complete = |f: fn(&Point) -> Option<f64>| -> Vec<(usize, f64)> {
            points.iter().filter_map(|p| Some((p.size, f(p)?))).collect()
        };
        let stateful_states =
            Fit::of(&complete(|p| p.stateful.as_ref().filter(|m| m.complete).and_then(|m| m.states).map(|s| s as f64)));
        let stateful_seconds =
            Fit::of(&complete(|p| p.stateful.as_ref().filter(|m| m.complete).map(|m| m.seconds.max(1e-4))));
        let dpor_executions =
            Fit::of(&complete(|p| p.dpor.as_ref().filter(|m| m.complete).map(|m| m.executions as f64)));
        series.push(SeriesResult {
            name: s.name.into(),
            about: s.about.into(),
            unit: s.unit.into(),
            variant: s.variant.into(),
            points,
            stateful_states,
            stateful_seconds,
            dpor_executions,
        });
    }
    Growth {
        cap_seconds: plan.cap.as_secs_f64(),
        workers: plan.workers,
        series,
        seconds: start.elapsed().as_secs_f64(),
    }
}

fn cell(m: &Option<Measure>, f: impl Fn(&Measure) -> String) -> String {
    match m {
        None => "—".into(),
        Some(m) if m.complete => f(m),
        Some(m) if m.cut.as_deref().is_some_and(|c| c.starts_with("time limit")) => format!("> {}", f(m)),
        Some(m) => format!("({})", m.cut.as_deref().unwrap_or("cut")),
    }
}

fn mb(m: &Measure) -> String {
    m.peak_mb.map_or("—".into(), |v| format!("{v:.1}"))
}

fn fit(f: &Option<Fit>) -> String {
    f.as_ref().map_or("—".into(), |f| format!("×{:.1} per step, ~n^{:.1}", f.per_step, f.exponent))
}

/// The growth tables as Markdown (text and Markdown are the same tables).
pub fn render_markdown(g: &Growth) -> String {
    let mut out = format!(
        "Every size explored completely (no stop at a violation), each search capped at {:.0} s; `>` marks a \
         search cut at the cap (its figures are where it stopped), `—` one not run after an earlier size hit it; \
         sizes neither explorer ran are left out.\n",
        g.cap_seconds
    );
    for s in &g.series {
        out.push_str(&format!("\n**{}**: {} (`{}`)\n\n", s.name, s.about, s.variant));
        let w = g.workers;
        out.push_str(&format!(
            "| {} | stateful states | executions | ends | time | peak MB | states on {w} workers | time | speed-up \
             | dpor executions | time | peak MB |\n",
            s.unit
        ));
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let states = |m: &Measure| m.states.map_or("—".into(), |s| s.to_string());
        for p in s.points.iter().filter(|p| p.stateful.is_some() || p.dpor.is_some()) {
            let speed_up = match (&p.stateful, &p.stateful_workers) {
                (Some(one), Some(many)) if one.complete && many.complete => {
                    format!("{:.2}×", one.seconds / many.seconds.max(1e-9))
                }
                _ => "—".into(),
            };
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                p.size,
                cell(&p.stateful, states),
                cell(&p.stateful, |m| m.executions.to_string()),
                cell(&p.stateful, |m| m.ends.to_string()),
                cell(&p.stateful, |m| format!("{:.2} s", m.seconds)),
                cell(&p.stateful, mb),
                cell(&p.stateful_workers, states),
                cell(&p.stateful_workers, |m| format!("{:.2} s", m.seconds)),
                speed_up,
                cell(&p.dpor, |m| m.executions.to_string()),
                cell(&p.dpor, |m| format!("{:.2} s", m.seconds)),
                cell(&p.dpor, mb),
            ));
        }
        out.push_str(&format!(
            "\nGrowth: stateful states {}, stateful time {}; dpor executions {}.\n",
            fit(&s.stateful_states),
            fit(&s.stateful_seconds),
            fit(&s.dpor_executions)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fit_finds_the_ratio_and_the_exponent() {
        let exponential: Vec<(usize, f64)> = (1..6).map(|n| (n, 3f64.powi(n as i32))).collect();
        let f = Fit::of(&exponential).unwrap();
        assert!((f.per_step - 3.0).abs() < 1e-9, "{f:?}");
        let cubic: Vec<(usize, f64)> = (1..6).map(|n| (n, (n as f64).powi(3))).collect();
        assert!((Fit::of(&cubic).unwrap().exponent - 3.0).abs() < 1e-9);
        assert!(Fit::of(&[(1, 5.0)]).is_none());
    }

    #[test]
    fn every_series_loads_at_every_size() {
        for s in SERIES {
            for &n in s.sizes {
                let path = Path::new("bench").join(format!("{}-{n}.toml", s.unit));
                let loaded = scenario::parse(&path, &(s.scenario)(n));
                assert!(loaded.is_ok(), "{} {n}: {:?}", s.name, loaded.err().map(|e| e.to_string()));
            }
        }
    }
}
