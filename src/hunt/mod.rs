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

mod finding;
mod scopes;
pub mod strategies;

use crate::explore::{Explorer, Limits, Verdict, explore};
use crate::runtime::Semantics;
use crate::scenario::document::{Document, ExpectDoc, ExploreDoc};
use crate::scenario::{self, Scenario, check_expectation};
use crate::systems::{self, SystemSpec, Variant};
pub use finding::{Finding, Hunt, HuntConfig, Outcome, file_stem, hunt, write};
use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};
use scopes::NONE;
pub use scopes::{SCOPES, Scope};
use serde_json::Value;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
pub use strategies::{Features, Vocabulary};

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
