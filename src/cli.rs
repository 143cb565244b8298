//! Command-line arguments (clap). The binary only parses, calls the library
//! and prints.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The most threads one stateful search may run on (a typo of a thousand
/// threads is refused, not spawned).
const MAX_WORKERS: i64 = 256;

#[derive(Parser)]
#[command(
    name = "racecheck",
    version,
    about = "Find, reproduce and disprove races in the persistent state of AI-agent orchestrators"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check every expectation of the scenarios (default: scenarios/): one row each.
    Check(CheckArgs),
    /// List the scenarios with their title and expectations.
    List {
        /// Scenario files or directories (default: scenarios/).
        paths: Vec<PathBuf>,
    },
    /// Explain a scenario (its story, actors, variants and invariants in plain
    /// words), or with --system everything a scenario may say about a system.
    Explain {
        /// The scenario file.
        #[arg(required_unless_present = "system", conflicts_with = "system")]
        file: Option<PathBuf>,
        /// A modeled system (plan, runs, manifest): its [setup] fields,
        /// operations, knobs, invariants and reachable conditions.
        #[arg(long)]
        system: Option<String>,
    },
    /// Write a new scenario file for a system, started from one of its
    /// shipped scenarios, with its operations, knobs, invariants and
    /// conditions listed as comments; `racecheck check` accepts it as it is.
    /// Never overwrites a file.
    New {
        /// The system (plan, runs, manifest).
        system: String,
        /// The file to write (e.g. scenarios/plan/my-race.toml).
        file: PathBuf,
    },
    /// Run a scenario on real threads and a real directory N times and count
    /// the runs that violate an invariant (how often a race shows for real).
    HitRate {
        /// The scenario file.
        file: PathBuf,
        /// The variant, as `knob=choice,knob=choice` (unset knobs take their default).
        #[arg(long, default_value = "")]
        variant: String,
        /// How many runs (each a fresh directory and fresh threads).
        #[arg(long, default_value_t = 1000, value_parser = at_least_one)]
        runs: usize,
    },
    /// Generate scenarios with proptest and search them for a violation of the
    /// variant; write the shrunk violating scenario as a new scenario file.
    /// Exit status 0 when one was found and written, 1 when none was found.
    Hunt(HuntArgs),
    /// Measure how fast each explorer finds every shipped race and proves its
    /// fix, side by side, plus the scenario layer's overhead against bare
    /// loom and shuttle (see BENCHMARKS.md). Takes minutes; `--quick` under a minute.
    Bench(BenchArgs),
    /// Replay a counterexample's step schedule (printed with every violation,
    /// whichever explorer found it): the same trace every time. Exit status 1
    /// when the replay violates an invariant, 0 when it violates none.
    Replay {
        /// The scenario file.
        file: PathBuf,
        /// The variant, as `knob=choice,knob=choice` (unset knobs take their default).
        #[arg(long, default_value = "")]
        variant: String,
        /// The schedule printed with the violation (`monitor*3, report-B*2, ...`).
        #[arg(long)]
        schedule: String,
        #[arg(long, value_enum, default_value = "text")]
        format: Format,
    },
    /// Print a completion script for a shell (bash, zsh, fish, elvish,
    /// powershell), e.g. `racecheck completions bash > ~/.local/share/bash-completion/completions/racecheck`.
    Completions { shell: clap_complete::Shell },
}

#[derive(Args)]
pub struct CheckArgs {
    /// Scenario files or directories, searched recursively (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Override the scenario's explorer.
    #[arg(long, value_parser = ["stateful", "exhaustive", "dpor", "pct", "random", "stress"])]
    pub explorer: Option<String>,
    /// Exhaustive preemption bound; `none` for unbounded.
    #[arg(long)]
    pub bound: Option<String>,
    /// Schedules for pct/random, runs for stress (at least 1: a search of
    /// nothing would find nothing and look green).
    #[arg(long, value_parser = at_least_one)]
    pub schedules: Option<usize>,
    /// PCT bug depth (at least 1).
    #[arg(long, value_parser = at_least_one)]
    pub depth: Option<usize>,
    /// Seed for pct, random and stress (overrides the scenario's).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Only the expectation with this variant (`knob=choice,...`).
    #[arg(long)]
    pub variant: Option<String>,
    /// Time limit per expectation, in seconds (a search cut short is `incomplete`,
    /// in the middle of an execution if one runs past it; loading a file counts
    /// against its first expectation).
    #[arg(long, default_value_t = 120)]
    pub max_time: u64,
    /// The most executions per expectation: unlike --max-time, the search
    /// is cut at the same place on every machine; reaching it is `incomplete`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_executions: Option<u64>,
    /// The most distinct states the stateful explorer may keep per
    /// expectation (its memory: about 100 bytes each); reaching it is `incomplete`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_states: Option<u64>,
    /// Threads one stateful search runs on (default: the machine's cores).
    /// The verdict and the counterexample are the same for any number; the
    /// executions are not, and the distinct states may differ by a few per
    /// thousand.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS))]
    pub workers: Option<u16>,
    /// Spread each stateful search over the processes listed in FILE (one
    /// `host:port` a line), on timely dataflow: start the same command on
    /// every host, each with its --process. Each process runs --workers
    /// threads; every process prints the same report. The states explored
    /// are every reachable state (sleep sets, no guarded reads), the same
    /// for any number of processes and workers.
    #[arg(long, value_name = "FILE", requires = "process")]
    pub hosts: Option<PathBuf>,
    /// Which host of the --hosts file this process is (from 0; blank lines
    /// and comments not counted).
    #[arg(long, requires = "hosts")]
    pub process: Option<usize>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// For every violation, expected or not: its timeline, the invariant in
    /// words, the replay command and a `[[regression]]` block to paste.
    #[arg(long)]
    pub trace: bool,
    /// Colour `ok` and `FAIL`: on a terminal unless `NO_COLOR` is set (auto), always or never.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

#[derive(Args)]
pub struct HuntArgs {
    /// The system whose scenarios are generated.
    #[arg(long)]
    pub system: String,
    /// The variant searched, as `knob=choice,knob=choice`; each knob's scope
    /// (its fix's operations and invariants) bounds what is generated.
    #[arg(long, default_value = "")]
    pub variant: String,
    /// Generated scenarios to try (at least 1).
    #[arg(long, default_value_t = 64, value_parser = at_least_one_u32)]
    pub cases: u32,
    /// PCT schedules each generated scenario gets (at least 1).
    #[arg(long, default_value_t = 200, value_parser = at_least_one)]
    pub schedules: usize,
    /// Seed of the generator and of the schedules (the same seed finds the same scenario).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where to write the scenario (default: scenarios/<system>/hunted-<hash>.toml).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Scenario files or directories, searched recursively (default: scenarios/).
    pub paths: Vec<PathBuf>,
    /// Few seeds and small caps (5 seeds, 200 schedules, 2 s cap, 5 stress runs):
    /// checks the benchmark works, measures little. Options below override it.
    #[arg(long)]
    pub quick: bool,
    /// Seeds per sampling explorer and buggy variant [default: 50].
    #[arg(long, value_parser = at_least_one)]
    pub seeds: Option<usize>,
    /// Schedules one seed may run before it counts as not found [default: 1000].
    #[arg(long, value_parser = at_least_one)]
    pub schedules: Option<usize>,
    /// Time cap of one search in seconds (a proof cut short is `incomplete`) [default: 60].
    #[arg(long)]
    pub cap: Option<f64>,
    /// Real-thread runs per buggy variant for the stress hit rate [default: 100].
    #[arg(long)]
    pub stress_runs: Option<usize>,
    /// Shuttle schedules of the baseline comparison [default: 10000].
    #[arg(long)]
    pub baseline_schedules: Option<usize>,
    /// Only the growth tables: how the cost of a proof grows as actors are
    /// added (#63 siblings, #15 triggers, #1830 resumers, #382 writers),
    /// stateful against dpor; `--cap` caps each search [default: 120].
    #[arg(long)]
    pub growth: bool,
    /// With --growth: sizes up to this one only.
    #[arg(long, requires = "growth")]
    pub max_size: Option<usize>,
    /// With --growth: the stateful search runs on one worker and again on
    /// this many (default: the machine's cores; 1: once).
    #[arg(long, requires = "growth", value_parser = clap::value_parser!(u16).range(1..=MAX_WORKERS))]
    pub workers: Option<u16>,
    /// The #63 scenario the bare baseline is compared with; `none` to skip the comparison.
    #[arg(long, default_value = "scenarios/plan/stale-checkpoint-overwrite.toml")]
    pub baseline: String,
    #[arg(long, value_enum, default_value = "text")]
    pub format: BenchFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchFormat {
    Text,
    Json,
    Markdown,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set.
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    /// One object per expectation (check) or the whole trace (replay).
    Json,
    /// A Mermaid sequenceDiagram of each failure, for a GitHub issue or PR.
    Mermaid,
}

/// [`at_least_one`] for a `u32`.
fn at_least_one_u32(text: &str) -> Result<u32, String> {
    let n = at_least_one(text)?;
    u32::try_from(n).map_err(|_| format!("expected a number of at most {}, found {text:?}", u32::MAX))
}

/// A count that must be positive.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("expected at least 1, found 0".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("expected a positive number, found {text:?}")),
    }
}
