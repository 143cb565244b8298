//! Scenario files (`scenarios/<system>/<name>.toml`): one reported race
//! each, as data. This module parses and validates them, with every error
//! located (file, line, column, expected, found, valid names), and turns
//! them into [`Model`]s plus the expectations `check` and `cargo test` run.

// A ScenarioError is a whole diagnostic (excerpt, valid names); it is built
// once per bad file, so its size on the error path does not matter.
#![allow(clippy::result_large_err)]

pub mod document;
mod error;
mod run;
mod source;
mod template;

pub use document::{Document, load_document, parse_document};
pub use error::ScenarioError;
pub use run::{Check, check_expectation, check_regression, explorer_for, satisfies};
pub use template::template;

use crate::execution::Model;
use crate::explore::StepSchedule;
use crate::explore::{LOOM_THREADS, MAX_EXHAUSTIVE_ACTORS};
use crate::runtime::Semantics;
use crate::systems::args::{PathSeg, describe};
use crate::systems::{CompileError, DynSystem, FieldError, SystemSpec, Variant, registry};
use serde_json::Value;
use source::Source;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Which explorer a scenario asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplorerKind {
    Exhaustive,
    Dpor,
    Stateful,
    Pct,
    Random,
    Stress,
}

impl ExplorerKind {
    pub const ALL: [ExplorerKind; 6] = [
        ExplorerKind::Stateful,
        ExplorerKind::Exhaustive,
        ExplorerKind::Dpor,
        ExplorerKind::Pct,
        ExplorerKind::Random,
        ExplorerKind::Stress,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ExplorerKind::Exhaustive => "exhaustive",
            ExplorerKind::Dpor => "dpor",
            ExplorerKind::Stateful => "stateful",
            ExplorerKind::Pct => "pct",
            ExplorerKind::Random => "random",
            ExplorerKind::Stress => "stress",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// `[explore]`: how to search; every field has a default.
#[derive(Clone, Debug, PartialEq)]
pub struct ExploreSettings {
    pub explorer: ExplorerKind,
    /// Exhaustive preemption bound (`None`: unbounded).
    pub bound: Option<usize>,
    pub schedules: usize,
    pub depth: usize,
    pub seed: u64,
}

/// The verdict an expectation requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    Violation { invariant: String },
    Proved,
    NotFound,
}

/// One `[[expect]]`: a variant and the verdict it must get.
#[derive(Clone, Debug)]
pub struct Expectation {
    /// The choices as written (`checkpoint_write = "whole-plan"`).
    pub choices: BTreeMap<String, String>,
    /// All knobs, defaults filled in.
    pub variant: Variant,
    pub expected: Expected,
}

impl Expectation {
    /// `whole-plan` (the written choices, `+`-joined; `default` if none).
    pub fn label(&self) -> String {
        if self.choices.is_empty() {
            "default".into()
        } else {
            self.choices.values().cloned().collect::<Vec<_>>().join("+")
        }
    }
}

/// A loaded, valid scenario.
#[derive(Clone)]
pub struct Scenario {
    pub path: PathBuf,
    /// `<system>/<file stem>`.
    pub name: String,
    pub title: String,
    pub origin: String,
    /// The comment lines at the top of the file.
    pub story: String,
    pub model: Model,
    pub explore: ExploreSettings,
    pub expectations: Vec<Expectation>,
    pub regressions: Vec<Regression>,
}

/// A recorded schedule (`[[regression]]`) and what replaying it must show:
/// a violation of `invariant`, or none.
#[derive(Clone, Debug)]
pub struct Regression {
    pub variant: Variant,
    pub schedule: StepSchedule,
    pub invariant: Option<String>,
}

const TOP_KEYS: &[&str] =
    &["title", "origin", "system", "semantics", "setup", "actor", "check", "explore", "expect", "regression"];

/// Loads and validates one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    parse(path, &read_text(path)?)
}

/// A scenario file's text; bytes that are not UTF-8 are an error at their
/// line and column.
pub(crate) fn read_text(path: &Path) -> Result<String, ScenarioError> {
    let bytes = std::fs::read(path)
        .map_err(|e| ScenarioError::file(path, "a readable scenario file", format!("an error reading it: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let byte = e.as_bytes()[at];
        let text = String::from_utf8_lossy(e.as_bytes());
        ScenarioError::at(
            path,
            &text,
            at..at + char::REPLACEMENT_CHARACTER.len_utf8(),
            "UTF-8 text",
            format!("the byte 0x{byte:02X}"),
        )
    })
}

/// Every `*.toml` under `paths` (files as given, directories recursively), sorted.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut stack = vec![path.clone()];
            while let Some(dir) = stack.pop() {
                let entries = std::fs::read_dir(&dir)
                    .map_err(|e| ScenarioError::file(&dir, "a readable directory", format!("an error: {e}")))?;
                for entry in entries.flatten() {
                    let p = entry.path();
                    if p.is_dir() {
                        stack.push(p);
                    } else if p.extension().is_some_and(|e| e == "toml") {
                        found.push(p);
                    }
                }
            }
        } else if path.exists() {
            found.push(path.clone());
        } else {
            return Err(ScenarioError::file(path, "a scenario file or directory", "nothing at that path"));
        }
    }
    found.sort();
    Ok(found)
}

/// Parses and validates scenario `text`, read from `path`.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let source = Source::parse(text).map_err(|e| ScenarioError::at(path, text, e.span, "valid TOML", e.message))?;
    Loader { path, source: &source }.load()
}

struct Loader<'a> {
    path: &'a Path,
    source: &'a Source,
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_string())
}

impl Loader<'_> {
    fn err(&self, path: &[PathSeg], expected: impl Into<String>, found: impl Into<String>) -> ScenarioError {
        ScenarioError::at(self.path, &self.source.text, self.source.span_of(path), expected, found)
    }

    fn unknown_key(&self, path: &[PathSeg], what: &str, valid: &[&str]) -> ScenarioError {
        let name = match path.last() {
            Some(PathSeg::Key(k)) => format!("{k:?}"),
            _ => "?".into(),
        };
        ScenarioError::at(self.path, &self.source.text, self.source.key_span(path), what, name)
            .with_valid(valid.iter().copied())
    }

    fn get(&self, path: &[PathSeg]) -> Option<&Value> {
        let mut v = &self.source.value;
        for seg in path {
            v = match seg {
                PathSeg::Key(k) => v.get(k)?,
                PathSeg::Index(i) => v.get(*i)?,
            };
        }
        Some(v)
    }

    fn table_keys(&self, path: &[PathSeg], what: &str, allowed: &[&str]) -> Result<(), ScenarioError> {
        match self.get(path) {
            Some(Value::Object(map)) => {
                for k in map.keys() {
                    if !allowed.contains(&k.as_str()) {
                        let mut p = path.to_vec();
                        p.push(key(k));
                        return Err(self.unknown_key(&p, what, allowed));
                    }
                }
                Ok(())
            }
            Some(v) => Err(self.err(path, "a table", describe(v))),
            None => Ok(()),
        }
    }

    fn string(&self, path: &[PathSeg], required: bool) -> Result<Option<String>, ScenarioError> {
        match self.get(path) {
            None if required => Err(self.err(path, format!("a `{}` field", last_key(path)), "none")),
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(self.err(path, "a string", describe(v))),
        }
    }

    fn uint(&self, path: &[PathSeg], min: i64) -> Result<Option<usize>, ScenarioError> {
        match self.get(path) {
            None => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some_and(|i| i >= min) => Ok(n.as_i64().map(|i| i as usize)),
            Some(v) => Err(self.err(path, format!("an integer of at least {min}"), describe(v))),
        }
    }

    fn field_error(&self, base: &[PathSeg], e: FieldError) -> ScenarioError {
        let mut path = base.to_vec();
        path.extend(e.path.iter().cloned());
        // An unknown key is pointed at by its name, anything else by its value.
        let unknown_key = e.expected == "a known field";
        let span = if unknown_key { self.source.key_span(&path) } else { self.source.span_of(&path) };
        ScenarioError::at(self.path, &self.source.text, span, e.expected, e.found).with_valid(e.valid)
    }

    fn load(&self) -> Result<Scenario, ScenarioError> {
        self.table_keys(&[], "a top-level key of a scenario", TOP_KEYS)?;
        let title = self.string(&[key("title")], true)?.unwrap_or_default();
        let origin = self.string(&[key("origin")], true)?.unwrap_or_default();
        let system_name = self.string(&[key("system")], true)?.unwrap_or_default();
        let names: Vec<&str> = registry().iter().map(|s| s.spec().name).collect();
        let system: &'static dyn DynSystem = crate::systems::find(&system_name).ok_or_else(|| {
            self.err(&[key("system")], "a modeled system", format!("{system_name:?}")).with_valid(names.iter().copied())
        })?;
        let spec = system.spec();
        let semantics = match self.string(&[key("semantics")], false)?.as_deref() {
            None | Some("event-loop") => Semantics::EventLoop,
            Some("threads") => Semantics::Threads,
            Some(other) => {
                return Err(self
                    .err(&[key("semantics")], "a semantics", format!("{other:?}"))
                    .with_valid(["event-loop", "threads"]));
            }
        };

        // Actors and their operations.
        let actors_path = [key("actor")];
        let actor_values = match self.get(&actors_path) {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(v) if !v.is_array() => return Err(self.err(&actors_path, "[[actor]] tables", describe(v))),
            _ => return Err(self.err(&[], "at least one [[actor]]", "none")),
        };
        let mut actors = Vec::new();
        for (a, _) in actor_values.iter().enumerate() {
            let base = [key("actor"), PathSeg::Index(a)];
            self.table_keys(&base, "a key of an [[actor]]", &["name", "do"])?;
            let name = self.string(&[base[0].clone(), base[1].clone(), key("name")], true)?.unwrap_or_default();
            // Actor names appear in step schedules (`name*3, name/task*2`).
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c)) {
                return Err(self.err(
                    &[base[0].clone(), base[1].clone(), key("name")],
                    "an actor name of letters, digits, `_`, `.` and `-` (it appears in replay schedules)",
                    format!("{name:?}"),
                ));
            }
            if actors.iter().any(|(n, _): &(String, _)| n == &name) {
                return Err(self.err(
                    &[base[0].clone(), base[1].clone(), key("name")],
                    "a unique actor name",
                    format!("{name:?} again"),
                ));
            }
            let do_path = [base[0].clone(), base[1].clone(), key("do")];
            let ops = match self.get(&do_path) {
                Some(Value::Array(ops)) if !ops.is_empty() => ops.clone(),
                Some(v) if !v.is_array() => return Err(self.err(&do_path, "an array of operations", describe(v))),
                _ => return Err(self.err(&do_path, "at least one operation in `do`", "none")),
            };
            let mut list = Vec::new();
            for (o, op) in ops.iter().enumerate() {
                let op_path = [do_path[0].clone(), do_path[1].clone(), do_path[2].clone(), PathSeg::Index(o)];
                let Value::Object(args) = op else {
                    return Err(self.err(&op_path, "an operation table", describe(op)));
                };
                let mut op_key = op_path.to_vec();
                op_key.push(key("op"));
                let name = self.string(&op_key, true)?.unwrap_or_default();
                if spec.op(&name).is_none() {
                    let valid: Vec<&str> = spec.ops.iter().map(|o| o.name).collect();
                    return Err(self
                        .err(&op_key, format!("an operation of the {} system", spec.name), format!("{name:?}"))
                        .with_valid(valid));
                }
                list.push((name, args.clone()));
            }
            actors.push((name, list));
        }

        // [check]
        self.table_keys(&[key("check")], "a key of [check]", &["invariants", "reachable"])?;
        let valid: Vec<&str> = spec.invariants.iter().map(|i| i.name).collect();
        let checked = self.names_of(spec, "invariants", "invariant", &valid)?;
        if checked.is_empty() {
            return Err(self.err(&[key("check")], "[check] with at least one invariant in `invariants`", "none"));
        }
        let valid: Vec<&str> = spec.conditions.iter().map(|c| c.name).collect();
        let reachable = self.names_of(spec, "reachable", "reachable condition", &valid)?;

        // [explore]
        let explore = self.explore_settings(actors.len(), semantics)?;

        // [setup] and operations, parsed by the system.
        let setup = self.get(&[key("setup")]).cloned().unwrap_or(Value::Object(Default::default()));
        let compiled = system.compile(&setup, &actors).map_err(|e| match e {
            CompileError::Setup(e) => self.field_error(&[key("setup")], e),
            CompileError::Op { actor, op, error } => {
                self.field_error(&[key("actor"), PathSeg::Index(actor), key("do"), PathSeg::Index(op)], error)
            }
        })?;

        let expectations = self.expectations(system, &checked, &explore)?;
        let regressions = self.regressions(spec, &checked)?;
        let stem = self.path.file_stem().and_then(|s| s.to_str()).unwrap_or("scenario");
        let name = format!("{}/{stem}", spec.name);
        let story = self
            .source
            .text
            .lines()
            .take_while(|l| l.trim_start().starts_with('#') || l.trim().is_empty())
            .filter_map(|l| l.trim_start().strip_prefix('#'))
            .map(|l| l.trim())
            .collect::<Vec<_>>()
            .join("\n");
        let model = Model {
            name: name.clone(),
            system,
            compiled,
            semantics,
            invariants: checked,
            reachable,
            reached: Default::default(),
            keep_final_states: false,
        };
        let mut explore = explore;
        if explore.explorer == ExplorerKind::Exhaustive
            && let Err(e) = self.fits_loom(&model, &expectations)
        {
            // Chosen by default, exhaustive gives way to pct where loom cannot
            // run the scenario and nothing is to be proved.
            let explicit = self.get(&[key("explore"), key("explorer")]).is_some();
            if explicit || expectations.iter().any(|x| x.expected == Expected::Proved) {
                return Err(e);
            }
            explore.explorer = ExplorerKind::Pct;
        }
        Ok(Scenario {
            path: self.path.to_path_buf(),
            name,
            title,
            origin,
            story,
            model,
            explore,
            expectations,
            regressions,
        })
    }

    /// `[check] <field>`: names among `valid` (`what`s of the system), each
    /// named once; none if the field is absent.
    fn names_of(
        &self,
        spec: &SystemSpec,
        field: &str,
        what: &str,
        valid: &[&str],
    ) -> Result<Vec<String>, ScenarioError> {
        let path = [key("check"), key(field)];
        let items = match self.get(&path) {
            None => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.clone(),
            Some(v) => return Err(self.err(&path, format!("an array of {what} names"), describe(v))),
        };
        let mut names: Vec<String> = Vec::new();
        for (i, v) in items.iter().enumerate() {
            let p = [path[0].clone(), path[1].clone(), PathSeg::Index(i)];
            let name = v.as_str().ok_or_else(|| self.err(&p, format!("{} {what} name", article(what)), describe(v)))?;
            if !valid.contains(&name) {
                return Err(self
                    .err(&p, format!("{} {what} of the {} system", article(what), spec.name), format!("{name:?}"))
                    .with_valid(valid.iter().copied()));
            }
            if names.iter().any(|n| n == name) {
                return Err(self.err(&p, format!("each {what} named once"), format!("{name:?} again")));
            }
            names.push(name.to_string());
        }
        Ok(names)
    }

    fn explore_settings(&self, actors: usize, semantics: Semantics) -> Result<ExploreSettings, ScenarioError> {
        let base = [key("explore")];
        self.table_keys(&base, "a key of [explore]", &["explorer", "bound", "schedules", "depth", "seed"])?;
        let at = |k: &str| [key("explore"), key(k)];
        let explorer = match self.string(&at("explorer"), false)? {
            // Event loops: every state, whatever the number of actors.
            None if semantics == Semantics::EventLoop => ExplorerKind::Stateful,
            None if actors > MAX_EXHAUSTIVE_ACTORS => ExplorerKind::Pct,
            None => ExplorerKind::Exhaustive,
            Some(name) => ExplorerKind::parse(&name).ok_or_else(|| {
                self.err(&at("explorer"), "an explorer", format!("{name:?}"))
                    .with_valid(ExplorerKind::ALL.iter().map(|k| k.name()))
            })?,
        };
        if explorer == ExplorerKind::Exhaustive && actors > MAX_EXHAUSTIVE_ACTORS {
            let extra = [key("actor"), PathSeg::Index(MAX_EXHAUSTIVE_ACTORS)];
            return Err(self.err(
                &extra,
                format!(
                    "at most {MAX_EXHAUSTIVE_ACTORS} actors for the exhaustive explorer (loom runs 5 threads, main included); \
                     set `explorer = \"pct\"` in [explore] for more"
                ),
                format!("{actors} actors"),
            ));
        }
        if matches!(explorer, ExplorerKind::Dpor | ExplorerKind::Stateful) && semantics != Semantics::EventLoop {
            let name = if explorer == ExplorerKind::Dpor { "dpor" } else { "stateful" };
            return Err(self.err(
                &at("explorer"),
                format!(
                    "an explorer for threads semantics ({name} explores the turns of an event loop; use \"exhaustive\")"
                ),
                format!("\"{name}\""),
            ));
        }
        let seed = match self.get(&at("seed")) {
            None => 1,
            Some(Value::Number(n)) if n.as_u64().is_some() => n.as_u64().unwrap_or(1),
            Some(v) => return Err(self.err(&at("seed"), "a non-negative integer", describe(v))),
        };
        Ok(ExploreSettings {
            explorer,
            bound: match self.uint(&at("bound"), 0)? {
                Some(b) if b > crate::explore::MAX_BOUND => {
                    let expected =
                        format!("a preemption bound of at most {} (loom's limit)", crate::explore::MAX_BOUND);
                    return Err(self.err(&at("bound"), expected, b.to_string()));
                }
                b => b,
            },
            schedules: self.uint(&at("schedules"), 1)?.unwrap_or(1000),
            depth: self.uint(&at("depth"), 1)?.unwrap_or(3),
            seed,
        })
    }

    /// An exhaustive (loom) scenario must fit in loom's threads: one
    /// execution of each expectation's variant counts the threads it starts.
    /// The error points at `explorer` in [explore], or at the last actor
    /// when the explorer is the default (and a `proved` expectation needs it).
    fn fits_loom(&self, model: &Model, expectations: &[Expectation]) -> Result<(), ScenarioError> {
        for e in expectations {
            // A setup too large to count in a second is left to the search,
            // which counts again within its time limit.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
            let Some(threads) = crate::explore::threads_needed(model, &e.variant, Some(deadline)) else { continue };
            if threads < LOOM_THREADS {
                continue;
            }
            let explicit = [key("explore"), key("explorer")];
            let at = if self.get(&explicit).is_some() {
                explicit.to_vec()
            } else {
                vec![key("actor"), PathSeg::Index(model.actor_count().saturating_sub(1))]
            };
            let why = crate::explore::too_many_threads(model, threads);
            return Err(self.err(
                &at,
                format!("a scenario loom can run: {why}"),
                format!("{} threads in variant {}", threads + 1, e.label()),
            ));
        }
        Ok(())
    }

    /// A `variant = { knob = "choice" }` table, checked against the system's knobs.
    fn variant_choices(&self, spec: &SystemSpec, path: &[PathSeg]) -> Result<BTreeMap<String, String>, ScenarioError> {
        let mut choices = BTreeMap::new();
        let Some(variant) = self.get(path) else { return Ok(choices) };
        let Value::Object(map) = variant else {
            return Err(self.err(path, "a table of knob = choice", describe(variant)));
        };
        for (knob, choice) in map {
            let mut p = path.to_vec();
            p.push(key(knob));
            let Some(spec_knob) = spec.knob(knob) else {
                let valid: Vec<&str> = spec.knobs.iter().map(|k| k.name).collect();
                return Err(self.unknown_key(&p, &format!("a variant knob of the {} system", spec.name), &valid));
            };
            let choice = choice.as_str().ok_or_else(|| self.err(&p, "a choice name", describe(choice)))?;
            if !spec_knob.choices.iter().any(|(c, _)| *c == choice) {
                let valid: Vec<&str> = spec_knob.choices.iter().map(|(c, _)| *c).collect();
                return Err(self.err(&p, format!("a choice of `{knob}`"), format!("{choice:?}")).with_valid(valid));
            }
            choices.insert(knob.clone(), choice.to_string());
        }
        Ok(choices)
    }

    /// `[[regression]]`: recorded schedules replayed before any search.
    fn regressions(&self, spec: &SystemSpec, checked: &[String]) -> Result<Vec<Regression>, ScenarioError> {
        let list = match self.get(&[key("regression")]) {
            None => return Ok(Vec::new()),
            Some(Value::Array(a)) => a.len(),
            Some(v) => return Err(self.err(&[key("regression")], "[[regression]] tables", describe(v))),
        };
        let mut out = Vec::new();
        for i in 0..list {
            let base = vec![key("regression"), PathSeg::Index(i)];
            let at = |k: &str| {
                let mut p = base.clone();
                p.push(key(k));
                p
            };
            self.table_keys(&base, "a key of a [[regression]]", &["variant", "schedule", "invariant"])?;
            let choices = self.variant_choices(spec, &at("variant"))?;
            let text = self.string(&at("schedule"), true)?.unwrap_or_default();
            let schedule: StepSchedule = text
                .parse()
                .map_err(|e: String| self.err(&at("schedule"), "a step schedule like \"monitor*3, report-B*2\"", e))?;
            let invariant = self.string(&at("invariant"), false)?;
            if let Some(inv) = &invariant
                && !checked.contains(inv)
            {
                return Err(self
                    .err(&at("invariant"), "one of the invariants in [check]", format!("{inv:?}"))
                    .with_valid(checked.iter().cloned()));
            }
            out.push(Regression { variant: Variant::complete(spec, &choices), schedule, invariant });
        }
        Ok(out)
    }

    fn expectations(
        &self,
        system: &dyn DynSystem,
        checked: &[String],
        explore: &ExploreSettings,
    ) -> Result<Vec<Expectation>, ScenarioError> {
        let spec = system.spec();
        let list = match self.get(&[key("expect")]) {
            Some(Value::Array(a)) if !a.is_empty() => a.clone(),
            Some(v) if !v.is_array() => return Err(self.err(&[key("expect")], "[[expect]] tables", describe(v))),
            _ => return Err(self.err(&[], "at least one [[expect]]", "none")),
        };
        let mut out: Vec<Expectation> = Vec::new();
        for (i, _) in list.iter().enumerate() {
            let base = vec![key("expect"), PathSeg::Index(i)];
            let at = |k: &str| {
                let mut p = base.clone();
                p.push(key(k));
                p
            };
            self.table_keys(&base, "a key of an [[expect]]", &["variant", "verdict", "invariant"])?;
            let choices = self.variant_choices(spec, &at("variant"))?;
            let verdict = self.string(&at("verdict"), true)?.unwrap_or_default();
            let invariant = self.string(&at("invariant"), false)?;
            let expected = match verdict.as_str() {
                "violation" => {
                    let invariant =
                        invariant.ok_or_else(|| self.err(&base, "an `invariant` for a violation verdict", "none"))?;
                    if !checked.contains(&invariant) {
                        return Err(self
                            .err(&at("invariant"), "one of the invariants in [check]", format!("{invariant:?}"))
                            .with_valid(checked.iter().cloned()));
                    }
                    Expected::Violation { invariant }
                }
                "proved" | "not-found" if invariant.is_some() => {
                    return Err(self.err(&at("invariant"), format!("no `invariant` for a {verdict} verdict"), "one"));
                }
                "proved"
                    if !matches!(
                        explore.explorer,
                        ExplorerKind::Exhaustive | ExplorerKind::Dpor | ExplorerKind::Stateful
                    ) =>
                {
                    return Err(self.err(
                        &at("verdict"),
                        "`not-found` (only the stateful, exhaustive and dpor explorers can prove)",
                        format!("\"proved\" with the {:?} explorer", explore.explorer),
                    ));
                }
                "proved" => Expected::Proved,
                "not-found" => Expected::NotFound,
                other => {
                    return Err(self.err(&at("verdict"), "a verdict", format!("{other:?}")).with_valid([
                        "violation",
                        "proved",
                        "not-found",
                    ]));
                }
            };
            let variant = Variant::complete(spec, &choices);
            if let Some(earlier) = out.iter().position(|e| e.variant == variant) {
                return Err(self.err(
                    &at("variant"),
                    "a variant not expected before",
                    format!("the variant of [[expect]] #{}", earlier + 1),
                ));
            }
            out.push(Expectation { choices, variant, expected });
        }
        Ok(out)
    }
}

fn last_key(path: &[PathSeg]) -> String {
    match path.last() {
        Some(PathSeg::Key(k)) => k.clone(),
        _ => "value".into(),
    }
}

/// "an invariant", "a reachable condition".
fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}
