//! The `racecheck` binary: parse arguments, call the library, print.

mod cli;

/// `println!` that ends the program quietly when stdout is closed (e.g.
/// `racecheck check | head`) instead of panicking on the broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

/// `print!`, likewise.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if write!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

use clap::Parser;
use cli::{BenchArgs, BenchFormat, CheckArgs, Cli, ColorChoice, Command, Format, HuntArgs};
use racecheck::explore::{Failure, Limits, Replay, StepSchedule, Verdict, replay};
use racecheck::report;
use racecheck::scenario::{self, ExploreSettings, ExplorerKind, Scenario, ScenarioError, check_expectation};
use racecheck::systems::Variant;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Exit status: every expectation held.
const OK: u8 = 0;
/// An expectation did not hold.
const FAILED: u8 = 1;
/// Bad input: a scenario or an argument.
const BAD_INPUT: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check(args),
        Command::List { paths } => list(paths),
        Command::Explain { file: Some(file), .. } => explain(&file),
        Command::Explain { system, .. } => explain_system(system.as_deref().unwrap_or_default()),
        Command::New { system, file } => new_scenario(&system, &file),
        Command::HitRate { file, variant, runs } => hit_rate(&file, &variant, runs),
        Command::Hunt(args) => hunt(args),
        Command::Replay { file, variant, schedule, format } => replay_schedule(&file, &variant, &schedule, format),
        Command::Bench(args) => bench(args),
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "racecheck", &mut std::io::stdout());
            Ok(0)
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprint!("{message}");
            if !message.ends_with('\n') {
                eprintln!();
            }
            ExitCode::from(BAD_INPUT)
        }
    }
}

fn load_all(paths: Vec<PathBuf>) -> Result<Vec<Scenario>, String> {
    Ok(load_all_timed(paths)?.into_iter().map(|(s, _)| s).collect())
}

/// [`load_all`], with the time each file took to load (which counts against
/// its first expectation's `--max-time`: a huge file must not overrun it).
fn load_all_timed(paths: Vec<PathBuf>) -> Result<Vec<(Scenario, Duration)>, String> {
    let paths = if paths.is_empty() { vec![PathBuf::from("scenarios")] } else { paths };
    let files = scenario::discover(&paths).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!(
            "error: no scenario files (*.toml) under {}",
            paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let mut errors = Vec::new();
    let mut scenarios = Vec::new();
    for file in files {
        let start = std::time::Instant::now();
        match scenario::load(&file) {
            Ok(s) => scenarios.push((s, start.elapsed())),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(scenarios)
    } else {
        Err(errors.iter().map(ScenarioError::to_string).collect::<Vec<_>>().join("\n"))
    }
}

/// `knob=choice,knob=choice` into a complete variant of `scenario`'s system.
fn parse_variant(scenario: &Scenario, text: &str) -> Result<Variant, String> {
    let spec = scenario.model.system.spec();
    let mut choices = BTreeMap::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (knob, choice) = part
            .split_once('=')
            .ok_or_else(|| format!("error: expected `knob=choice` in --variant, found {part:?}"))?;
        let k = spec.knob(knob).ok_or_else(|| {
            let valid: Vec<&str> = spec.knobs.iter().map(|k| k.name).collect();
            format!(
                "error: expected a variant knob of the {} system, found {knob:?}\n  = valid: {}",
                spec.name,
                valid.join(", ")
            )
        })?;
        if !k.choices.iter().any(|(c, _)| *c == choice) {
            let valid: Vec<&str> = k.choices.iter().map(|(c, _)| *c).collect();
            return Err(format!(
                "error: expected a choice of `{knob}`, found {choice:?}\n  = valid: {}",
                valid.join(", ")
            ));
        }
        choices.insert(knob.to_string(), choice.to_string());
    }
    Ok(Variant::complete(spec, &choices))
}

/// `--workers`, or as many as the machine has cores.
fn workers_or_cores(workers: Option<u16>) -> usize {
    workers.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from)
}

fn check(args: CheckArgs) -> Result<u8, String> {
    let (scenarios, load_times): (Vec<Scenario>, Vec<Duration>) =
        load_all_timed(args.paths.clone())?.into_iter().unzip();
    let progress = std::sync::Arc::new(racecheck::explore::Progress::default());
    let limits = Limits {
        max_executions: args.max_executions.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        max_states: args.max_states.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        progress: Some(progress.clone()),
        workers: workers_or_cores(args.workers),
        cluster: match (&args.hosts, args.process) {
            (Some(hosts), Some(process)) => {
                Some(std::sync::Arc::new(racecheck::explore::Cluster::from_hosts_file(hosts, process)?))
            }
            _ => None,
        },
        ..Limits::time(Duration::from_secs(args.max_time))
    };
    let bound = match args.bound.as_deref() {
        None => None,
        Some("none") => Some(None),
        Some(b) => {
            Some(Some(b.parse::<usize>().ok().filter(|b| *b <= racecheck::explore::MAX_BOUND).ok_or_else(|| {
                let max = racecheck::explore::MAX_BOUND;
                format!("error: expected a number from 0 to {max} (loom's limit) or `none` for --bound, found {b:?}")
            })?))
        }
    };
    let settings: Vec<ExploreSettings> = scenarios.iter().map(|s| settings_for(&args, s, bound)).collect();
    unused_options(&args, &settings)?;
    let columns = {
        use std::io::IsTerminal;
        let names = scenarios.iter().map(|s| s.name.as_str());
        let labels = scenarios.iter().flat_map(|s| {
            let expectations = s.expectations.iter().map(|e| e.label());
            expectations.chain((1..=s.regressions.len()).map(|n| format!("regression-{n}")))
        });
        let colour = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        report::Columns { colour, ..report::Columns::fit(names, labels) }
    };
    if args.format == Format::Text {
        outln!("{}", columns.header());
    }
    let (mut held, mut failed) = (0, 0);
    let mut checks = Vec::new();
    for ((scenario, settings), &loading) in scenarios.iter().zip(&settings).zip(&load_times) {
        let only = args.variant.as_deref().map(|v| parse_variant(scenario, v)).transpose()?;
        let file = scenario.path.display().to_string();
        let mut loading = Some(loading);
        for expectation in scenario.expectations.iter().filter(|e| only.as_ref().is_none_or(|v| &e.variant == v)) {
            let label = format!("{} {}", scenario.name, expectation.label());
            progress.reset();
            let limits = match loading.take() {
                Some(loading) => {
                    let loading = loading.min(limits.max_time);
                    Limits { max_time: limits.max_time - loading, loading, ..limits.clone() }
                }
                None => limits.clone(),
            };
            let watched = Some((&*progress, limits.max_time));
            let checked =
                with_progress(&label, watched, || check_expectation(scenario, expectation, settings, &limits));
            match args.format {
                Format::Text => outln!("{}", report::row(&checked, &columns)),
                Format::Json => outln!("{}", report::json_row(&checked)),
                Format::Mermaid => {}
            }
            if checked.holds {
                held += 1
            } else {
                failed += 1
            }
            checks.push((file.clone(), checked));
        }
        // The recorded counterexamples replay as they were recorded.
        for (i, regression) in scenario.regressions.iter().enumerate() {
            if only.as_ref().is_some_and(|v| &regression.variant != v) {
                continue;
            }
            let result = scenario::check_regression(scenario, regression, Duration::from_secs(args.max_time));
            if args.format == Format::Text {
                outln!("{}", report::regression_row(&scenario.name, i + 1, &result, &columns));
            }
            match result {
                Ok(()) => held += 1,
                Err(_) => failed += 1,
            }
        }
    }
    if let Some(v) = &args.variant
        && held + failed == 0
    {
        return Err(format!("error: no expectation or regression of the scenarios checked has the variant {v:?}"));
    }
    let violations = checks.iter().filter_map(|(file, c)| match &c.report.verdict {
        Verdict::Violation(f) => Some((file, c, f)),
        _ => None,
    });
    if args.format == Format::Mermaid {
        // One fenced block per violation, expected or not: each a document.
        for (_, checked, f) in violations {
            outln!(
                "**{} {}**: violation of {}\n\n```mermaid\n{}```\n",
                checked.scenario,
                checked.expectation.label(),
                f.violation.invariant,
                report::mermaid(f)
            );
        }
    } else if args.format == Format::Text {
        for (file, checked) in &checks {
            let violation = match &checked.report.verdict {
                Verdict::Violation(f) => Some(f),
                _ => None,
            };
            if checked.holds && !(args.trace && violation.is_some()) {
                continue;
            }
            let (name, label) = (&checked.scenario, checked.expectation.label());
            let got = report::verdict_text(&checked.report.verdict);
            if checked.holds {
                outln!("\n{name} {label}: {got}, as expected");
            } else {
                let expected = report::expected_text(&checked.expectation.expected);
                outln!("\n{name} {label}: expected {expected}, got {got}");
            }
            if let Some(f) = violation {
                let replay = report::replay_command(file, &checked.expectation.variant.to_string(), f);
                out!("{}", report::timeline(f, &replay));
                if args.trace {
                    outln!(
                        "\nto keep it as a regression, paste into {file}:\n\n{}",
                        report::regression_block(&checked.expectation.choices, f)
                    );
                }
            }
        }
        outln!("\n{held} passed, {failed} failed");
    }
    Ok(if failed == 0 { OK } else { FAILED })
}

/// How `scenario` is searched: its `[explore]` section with the command
/// line's overrides.
fn settings_for(args: &CheckArgs, scenario: &Scenario, bound: Option<Option<usize>>) -> ExploreSettings {
    let mut settings = scenario.explore.clone();
    if let Some(e) = &args.explorer {
        settings.explorer = ExplorerKind::parse(e).unwrap_or(settings.explorer);
    }
    if let Some(b) = bound {
        settings.bound = b;
    }
    settings.schedules = args.schedules.unwrap_or(settings.schedules);
    settings.depth = args.depth.unwrap_or(settings.depth);
    settings.seed = args.seed.unwrap_or(settings.seed);
    settings
}

/// An option that no explorer of the expectations checked takes would look
/// green having changed nothing: bad input (exit 2), named with the
/// explorers that are used instead.
fn unused_options(args: &CheckArgs, settings: &[ExploreSettings]) -> Result<(), String> {
    use ExplorerKind::*;
    let kinds: Vec<ExplorerKind> = settings.iter().map(|s| s.explorer).collect();
    let options: [(&str, bool, &[ExplorerKind], &str); 6] = [
        ("--bound", args.bound.is_some(), &[Exhaustive], "the exhaustive (loom) explorer's preemption bound"),
        (
            "--schedules",
            args.schedules.is_some(),
            &[Pct, Random, Stress],
            "schedules for pct and random, runs for stress",
        ),
        ("--depth", args.depth.is_some(), &[Pct], "pct's bug depth"),
        ("--seed", args.seed.is_some(), &[Pct, Random], "the seed of pct and random"),
        ("--workers", args.workers.is_some(), &[Stateful], "the threads of one stateful search"),
        ("--hosts", args.hosts.is_some(), &[Stateful], "the processes of one stateful search"),
    ];
    for (option, given, takes, what) in options {
        if given && !kinds.iter().any(|k| takes.contains(k)) {
            let mut used: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
            used.sort_unstable();
            used.dedup();
            return Err(format!(
                "error: {option} is {what}, and no expectation checked here uses those explorers (they use {}): \
                 pass --explorer, or leave {option} out",
                used.join(", ")
            ));
        }
    }
    Ok(())
}

/// Runs `f`, showing a progress line on stderr if it takes more than a
/// second and stderr is a terminal (never in pipes, files or CI logs): the
/// elapsed time and, for a search (`watched`: what it reports and its time
/// limit), its executions, their rate, distinct states where the explorer
/// keeps them, and the limit.
fn with_progress<R>(
    label: &str,
    watched: Option<(&racecheck::explore::Progress, Duration)>,
    f: impl FnOnce() -> R,
) -> R {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return f();
    }
    let (done, finished) = std::sync::mpsc::channel::<()>();
    let label = label.to_string();
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if finished.recv_timeout(Duration::from_secs(1)).is_ok() {
                return;
            }
            let bar = indicatif::ProgressBar::new_spinner();
            bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg}").expect("valid template"));
            loop {
                bar.set_message(progress_text(&label, watched, start.elapsed()));
                bar.tick();
                if finished.recv_timeout(Duration::from_millis(100)).is_ok() {
                    break;
                }
            }
            bar.finish_and_clear();
        });
        let result = f();
        let _ = done.send(());
        result
    })
}

/// The progress line's message: `12s exploring plan/x fields-only · 12345
/// executions (4100/s) · 30000 states · limit 120 s`.
fn progress_text(label: &str, watched: Option<(&racecheck::explore::Progress, Duration)>, elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    let Some((progress, limit)) = watched else { return format!("{secs}s exploring {label}") };
    let (executions, states) = progress.get();
    let rate = executions as f64 / elapsed.as_secs_f64().max(1e-3);
    let states = states.map(|s| format!(" · {s} states")).unwrap_or_default();
    format!("{secs}s exploring {label} · {executions} executions ({rate:.0}/s){states} · limit {} s", limit.as_secs())
}

fn bench(args: BenchArgs) -> Result<u8, String> {
    use racecheck::bench;
    if args.growth {
        return growth(args);
    }
    let mut plan = if args.quick { bench::Plan::quick() } else { bench::Plan::full() };
    plan.seeds = args.seeds.unwrap_or(plan.seeds);
    plan.schedules = args.schedules.unwrap_or(plan.schedules);
    plan.stress_runs = args.stress_runs.unwrap_or(plan.stress_runs);
    plan.baseline_schedules = args.baseline_schedules.unwrap_or(plan.baseline_schedules);
    if let Some(cap) = args.cap {
        plan.cap = Duration::try_from_secs_f64(cap)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("error: expected a positive number of seconds for --cap, found {cap}"))?;
    }
    if plan.seeds == 0 || plan.schedules == 0 || plan.baseline_schedules == 0 {
        return Err("error: --seeds, --schedules and --baseline-schedules must be at least 1".into());
    }
    let scenarios = load_all(args.paths)?;
    let baseline = match args.baseline.as_str() {
        "none" => None,
        path => Some(scenario::load(std::path::Path::new(path)).map_err(|e| e.to_string())?),
    };
    let start = std::time::Instant::now();
    let mut progress = |what: &str| eprintln!("[{:>6.1}s] {what}", start.elapsed().as_secs_f64());
    let report = bench::run(&scenarios, baseline.as_ref(), &plan, &mut progress);
    let format = match args.format {
        BenchFormat::Text => bench::Format::Text,
        BenchFormat::Json => bench::Format::Json,
        BenchFormat::Markdown => bench::Format::Markdown,
    };
    out!("{}", bench::render(&report, format));
    Ok(if report.anomalies.is_empty() { OK } else { FAILED })
}

/// `racecheck bench --growth`.
fn growth(args: BenchArgs) -> Result<u8, String> {
    use racecheck::bench::growth;
    let cap = match args.cap {
        None => Duration::from_secs(120),
        Some(cap) => Duration::try_from_secs_f64(cap)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("error: expected a positive number of seconds for --cap, found {cap}"))?,
    };
    let workers = workers_or_cores(args.workers);
    let plan = growth::GrowthPlan { cap, max_size: args.max_size, workers };
    let start = std::time::Instant::now();
    let mut progress = |what: &str| eprintln!("[{:>6.1}s] {what}", start.elapsed().as_secs_f64());
    let report = growth::run(&plan, &mut progress);
    match args.format {
        BenchFormat::Json => out!("{}\n", serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?),
        BenchFormat::Text | BenchFormat::Markdown => out!("{}", growth::render_markdown(&report)),
    }
    Ok(OK)
}

fn list(paths: Vec<PathBuf>) -> Result<u8, String> {
    for s in load_all(paths)? {
        let labels: Vec<String> =
            s.expectations.iter().map(|e| format!("{} → {}", e.label(), report::expected_text(&e.expected))).collect();
        outln!("{:<44}  {}\n{:<44}  {}", s.name, s.title, "", labels.join("; "));
    }
    Ok(OK)
}

fn explain(file: &std::path::Path) -> Result<u8, String> {
    let s = scenario::load(file).map_err(|e| e.to_string())?;
    let spec = s.model.system.spec();
    outln!("{}\n{}\n", s.title, "=".repeat(s.title.chars().count()));
    if !s.story.is_empty() {
        outln!("{}\n", s.story);
    }
    outln!("origin:    {}", s.origin);
    outln!("system:    {} — {} ({})", spec.name, spec.about, spec.origin);
    outln!("semantics: {}", s.model.semantics.name());
    outln!("explorer:  {}\n", scenario::explorer_for(&s.explore).describe());
    outln!("actors (each runs its operations in order, concurrently with the others):");
    for (name, ops) in s.model.compiled.actors() {
        outln!("  {name}:");
        for op in ops {
            let base = op.split('(').next().unwrap_or(op);
            let about = spec.op(base).map(|o| format!("{} — {}", o.origin, o.about)).unwrap_or_default();
            outln!("    {op:<32} {about}");
        }
    }
    outln!("\ninvariants checked:");
    for inv in &s.model.invariants {
        outln!("  {inv}: {}", spec.invariant(inv).map_or("", |i| i.about));
    }
    if !s.model.reachable.is_empty() {
        outln!("\nconditions a proof must reach (else it is vacuous):");
        for c in &s.model.reachable {
            outln!("  {c}: {}", spec.condition(c).map_or("", |c| c.about));
        }
    }
    outln!("\nvariants of the {} system (default first marked *):", spec.name);
    out!("{}", report::knobs_text(spec));
    outln!("\nexpectations:");
    for e in &s.expectations {
        outln!("  {} → {}", e.variant, report::expected_text(&e.expected));
    }
    Ok(OK)
}

fn find_system(name: &str) -> Result<&'static dyn racecheck::systems::DynSystem, String> {
    racecheck::systems::find(name).ok_or_else(|| {
        let names: Vec<&str> = racecheck::systems::registry().iter().map(|s| s.spec().name).collect();
        format!("error: expected a modeled system, found {name:?}\n  = valid: {}", names.join(", "))
    })
}

fn explain_system(name: &str) -> Result<u8, String> {
    out!("{}", report::system_text(find_system(name)?.spec()));
    Ok(OK)
}

fn new_scenario(system: &str, file: &std::path::Path) -> Result<u8, String> {
    let text = scenario::template(find_system(system)?.spec());
    // `create_new`: a file already there is never overwritten.
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(file)
        .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
    written.map_err(|e| format!("error: cannot write {}: {e}", file.display()))?;
    outln!("wrote {}: check it with `racecheck check {}`", file.display(), file.display());
    Ok(OK)
}

fn hit_rate(file: &std::path::Path, variant: &str, runs: usize) -> Result<u8, String> {
    let s = scenario::load(file).map_err(|e| e.to_string())?;
    let variant = parse_variant(&s, variant)?;
    let start = std::time::Instant::now();
    let rate = with_progress(&s.name, None, || racecheck::explore::hit_rate(&s.model, &variant, runs))
        .map_err(|e| format!("error: cannot create a temporary directory: {e}"))?;
    outln!(
        "{} {variant}: {} of {} runs violated an invariant ({:.2} %) on real threads, in {:.1}s",
        s.name,
        rate.hits,
        rate.runs,
        100.0 * rate.hits as f64 / rate.runs.max(1) as f64,
        start.elapsed().as_secs_f64()
    );
    Ok(OK)
}

fn hunt(args: HuntArgs) -> Result<u8, String> {
    use racecheck::hunt::{self, HuntConfig, Outcome};
    let config = HuntConfig {
        cases: args.cases,
        schedules: args.schedules,
        seed: args.seed,
        ..HuntConfig::new(&args.system, &args.variant)
    };
    let label = format!("{} {}", args.system, args.variant);
    let result = with_progress(&label, None, || hunt::hunt(&config)).map_err(|e| format!("error: {e}"))?;
    match &result.plan.scopes[..] {
        [] => outln!("scope: the whole {} system (no scope covers this variant)", args.system),
        scopes => {
            for s in scopes {
                outln!("scope: {}", s.label());
            }
        }
    }
    let finding = match result.outcome {
        Outcome::NotFound { cases } => {
            outln!(
                "no violation in {cases} generated scenarios ({} schedules each, seed {}), {:.1}s",
                args.schedules,
                args.seed,
                result.elapsed.as_secs_f64()
            );
            return Ok(FAILED);
        }
        Outcome::Found(f) => f,
    };
    let path = hunt::write(&finding, args.out.as_deref(), std::path::Path::new("scenarios"))
        .map_err(|e| format!("error: {e}"))?;
    let (a0, o0) = finding.first_size;
    let (a1, o1) = finding.proptest_size;
    let (a2, o2) = finding.size;
    outln!(
        "case {} violated {}: {a0} actors/{o0} ops, shrunk to {a1}/{o1} by proptest ({} steps), {a2}/{o2} after {} more changes, {:.1}s",
        finding.case,
        finding.invariant,
        finding.shrink_steps,
        finding.removals,
        result.elapsed.as_secs_f64()
    );
    outln!("{}: {}", finding.explorer, finding.message);
    if let Some((choices, shown)) = &finding.counterpart {
        let text: Vec<String> = choices.iter().map(|(k, v)| format!("{k}={v}")).collect();
        outln!("counterpart {}: {shown}", text.join(","));
    }
    outln!("wrote {}", path.display());
    Ok(OK)
}

fn replay_schedule(file: &std::path::Path, variant: &str, schedule: &str, format: Format) -> Result<u8, String> {
    let s = scenario::load(file).map_err(|e| e.to_string())?;
    let variant = parse_variant(&s, variant)?;
    let schedule: StepSchedule = schedule.parse().map_err(|e| format!("error: {e}"))?;
    let outcome = replay(&s.model, &variant, &schedule).map_err(|e| format!("error: {e}"))?;
    let Some(violation) = outcome.violation.clone() else {
        match format {
            Format::Json => {
                outln!("{}", serde_json::json!({ "violation": null, "trace": report::trace_json(&outcome.events) }))
            }
            _ => outln!("no invariant is violated by this schedule ({} steps)", outcome.events.len()),
        }
        return Ok(OK);
    };
    let failure = Failure::new(violation, outcome.events, outcome.final_state, Replay::Given);
    match format {
        Format::Json => outln!("{}", report::failure_json(&failure)),
        Format::Mermaid => out!("{}", report::mermaid(&failure)),
        Format::Text => {
            let cmd = report::replay_command(&file.display().to_string(), &variant.to_string(), &failure);
            out!("{}", report::timeline(&failure, &cmd));
        }
    }
    Ok(FAILED)
}
