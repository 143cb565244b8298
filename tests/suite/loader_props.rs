//! Property tests of the scenario loader: every generated scenario writes to
//! TOML and reads back equal; arbitrary bytes, arbitrary TOML and near
//! misses of real scenarios never panic it (errors are fine).

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use racecheck::hunt::{self, strategies};
use racecheck::scenario::document::{ExpectDoc, ExploreDoc};
use racecheck::scenario::{Document, parse, parse_document};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

fn config(cases: u32, seed: u64) -> Config {
    Config { cases, rng_seed: RngSeed::Fixed(seed), failure_persistence: None, ..Config::default() }
}

/// Bodies of every system, from the whole-system vocabularies.
fn bodies() -> BoxedStrategy<Document> {
    let vocab = |system: &str| hunt::plan(system, &BTreeMap::new()).unwrap().vocabulary;
    prop_oneof![
        strategies::documents(&vocab("plan")),
        strategies::documents(&vocab("runs")),
        strategies::documents(&vocab("manifest")),
    ]
    .boxed()
}

/// A comment line: no control characters, trimmed.
fn story_line() -> impl Strategy<Value = String> {
    "[ -~é→…]{0,40}".prop_map(|s| s.trim().to_string())
}

fn explore() -> impl Strategy<Value = Option<ExploreDoc>> {
    // Exhaustive is left out: whether loom holds a scenario's threads is
    // decided by running it (scenario_errors tests that error).
    let explorer = proptest::option::of(prop::sample::select(&["stateful", "dpor", "pct", "random", "stress"][..]));
    proptest::option::of(
        (
            explorer,
            proptest::option::of(0..6u64),
            proptest::option::of(1..5000u64),
            proptest::option::of(1..6u64),
            proptest::option::of(0..=i64::MAX as u64),
        )
            .prop_map(|(explorer, bound, schedules, depth, seed)| ExploreDoc {
                explorer: explorer.map(str::to_string),
                bound,
                schedules,
                depth,
                seed,
            }),
    )
}

/// A valid scenario: a body with title, origin, story, semantics, explore and
/// expectations (distinct variants, verdicts the explorer allows).
fn documents() -> impl Strategy<Value = Document> {
    (
        bodies(),
        any::<String>(),
        any::<String>(),
        vec(story_line(), 0..4),
        prop::sample::select(&[None, Some("event-loop"), Some("threads")][..]),
        explore(),
        any::<prop::sample::Index>(),
        vec((any::<bool>(), any::<prop::sample::Index>(), any::<prop::sample::Index>()), 1..4),
    )
        .prop_map(|(mut doc, title, origin, story, semantics, explore, knob, expects)| {
            doc.title = title;
            doc.origin = origin;
            doc.story = story;
            doc.semantics = semantics.map(str::to_string);
            let threads = semantics == Some("threads");
            let mut explore = explore;
            if let Some(e) =
                explore.as_mut().filter(|e| threads && matches!(e.explorer.as_deref(), Some("stateful" | "dpor")))
            {
                e.explorer = Some("pct".into());
            }
            // Event loops prove with stateful (the default) or dpor; under
            // threads nothing is generated as proved (loom may not hold it).
            let explorer = explore.as_ref().and_then(|e| e.explorer.as_deref());
            let proves = !threads && explorer.is_none_or(|e| e == "stateful" || e == "dpor");
            doc.explore = explore;
            let spec = racecheck::systems::find(&doc.system).unwrap().spec();
            let knob = knob.get(spec.knobs);
            let mut seen = Vec::new();
            for (violation, choice, invariant) in expects {
                let choice = choice.get(knob.choices).0;
                if seen.contains(&choice) {
                    continue;
                }
                seen.push(choice);
                let variant = BTreeMap::from([(knob.name.to_string(), choice.to_string())]);
                let (verdict, invariant) = if violation {
                    ("violation", Some(invariant.get(&doc.check.invariants).clone()))
                } else if proves {
                    ("proved", None)
                } else {
                    ("not-found", None)
                };
                doc.expects.push(ExpectDoc { variant, verdict: verdict.into(), invariant });
            }
            doc
        })
}

proptest! {
    #![proptest_config(config(256, 7))]

    /// Document → TOML → parse → the same document.
    #[test]
    fn generated_scenarios_round_trip(doc in documents()) {
        let text = doc.to_toml().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let back = parse_document(Path::new("scenarios/x/generated.toml"), &text)
            .map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(&back, &doc, "{}", text);
        // And the text of the document read back is the same text.
        prop_assert_eq!(back.to_toml().unwrap(), text);
    }
}

/// Parses `text` with both entry points; a panic fails the property.
/// Returns whether it loaded.
fn never_panics(text: &str) -> Result<bool, TestCaseError> {
    let path = Path::new("scenarios/plan/fuzzed.toml");
    let result = catch_unwind(AssertUnwindSafe(|| {
        let loaded = parse(path, text).is_ok();
        prop_assert_eq!(parse_document(path, text).is_ok(), loaded);
        Ok(loaded)
    }));
    match result {
        Ok(r) => r,
        Err(_) => Err(TestCaseError::fail(format!("the loader panicked on:\n{text}"))),
    }
}

/// Runs `cases` of `strategy` through [`never_panics`]; returns how many
/// loaded and the first error messages seen, to show what the cases reach.
fn fuzz<S: Strategy<Value = String>>(strategy: S, cases: u32, seed: u64) -> (usize, BTreeMap<String, usize>) {
    use std::cell::RefCell;
    let loaded = RefCell::new(0usize);
    let errors: RefCell<BTreeMap<String, usize>> = RefCell::default();
    let mut runner = proptest::test_runner::TestRunner::new(config(cases, seed));
    let result = runner.run(&strategy, |text| {
        if never_panics(&text)? {
            *loaded.borrow_mut() += 1;
        } else if let Err(e) = parse(Path::new("x.toml"), &text) {
            *errors.borrow_mut().entry(e.expected).or_default() += 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    (loaded.into_inner(), errors.into_inner())
}

/// Keys of scenarios and their near misses.
const KEYS: &[&str] = &[
    "title",
    "origin",
    "system",
    "semantics",
    "setup",
    "actor",
    "actors",
    "do",
    "op",
    "name",
    "check",
    "invariant",
    "invariants",
    "explore",
    "explorer",
    "bound",
    "schedules",
    "depth",
    "seed",
    "expect",
    "expects",
    "variant",
    "verdict",
    "jobs",
    "job",
    "status",
    "state",
    "depends_on",
    "rows",
    "run",
    "id",
    "tasks",
    "task",
    "generation",
    "external_writes",
    "orchestrators",
    "orchestrator",
    "checkpoint_write",
    "resume_guard",
    "persist_check",
    "",
    "a b",
    "é",
];

/// Values of scenarios and their near misses.
const WORDS: &[&str] = &[
    "plan",
    "runs",
    "manifest",
    "plans",
    "event-loop",
    "threads",
    "handle_job_failed",
    "handle_job_complete",
    "web_resume",
    "manifest_patch",
    "no-lost-job-update",
    "single-owner",
    "violation",
    "proved",
    "not-found",
    "exhaustive",
    "pct",
    "whole-plan",
    "fields-only",
    "A",
    "B",
    "X",
    "t1",
    "running",
    "failed",
    "bumped",
    "",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(WORDS).prop_map(|w| json!(w)),
        any::<String>().prop_map(Value::String),
        any::<i64>().prop_map(|i| json!(i)),
        prop::sample::select(&[-1i64, 0, 1, 2, 3, 4, 5, 100_000, i64::MAX][..]).prop_map(|i| json!(i)),
        any::<bool>().prop_map(Value::Bool),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
    ]
}

/// Random TOML-shaped trees with scenario keys.
fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Value::Array),
            btree_map(prop::sample::select(KEYS).prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A top-level table (TOML documents are tables).
fn toml_text() -> impl Strategy<Value = String> {
    btree_map(prop::sample::select(KEYS).prop_map(str::to_string), tree(), 0..8)
        .prop_filter_map("TOML cannot write it", |m| {
            toml::to_string(&Value::Object(m.into_iter().collect::<Map<String, Value>>())).ok()
        })
}

/// One change to a valid scenario's tree: a value replaced, a key renamed or dropped.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(Value),
    Rename(&'static str),
    Drop,
}

fn mutate(value: &mut Value, path: &[usize], m: &Mutation) {
    let Some((&first, rest)) = path.split_first() else { return };
    match value {
        Value::Object(map) if !map.is_empty() => {
            let key = map.keys().nth(first % map.len()).unwrap().clone();
            if rest.is_empty() || !(map[&key].is_object() || map[&key].is_array()) {
                match m {
                    Mutation::Replace(v) => {
                        map.insert(key, v.clone());
                    }
                    Mutation::Rename(to) => {
                        let v = map.remove(&key).unwrap();
                        map.insert(to.to_string(), v);
                    }
                    Mutation::Drop => {
                        map.remove(&key);
                    }
                }
            } else {
                mutate(map.get_mut(&key).unwrap(), rest, m);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            let i = first % items.len();
            if rest.is_empty() || !(items[i].is_object() || items[i].is_array()) {
                match m {
                    Mutation::Replace(v) => items[i] = v.clone(),
                    Mutation::Rename(_) | Mutation::Drop => {
                        items.remove(i);
                    }
                }
            } else {
                mutate(&mut items[i], rest, m);
            }
        }
        _ => {}
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        tree().prop_map(Mutation::Replace),
        prop::sample::select(KEYS).prop_map(Mutation::Rename),
        Just(Mutation::Drop),
    ]
}

/// A valid scenario with 1–3 mutations, as TOML.
fn near_misses() -> impl Strategy<Value = String> {
    (documents(), vec((vec(any::<usize>(), 1..6), mutation()), 1..4)).prop_filter_map(
        "TOML cannot write it",
        |(doc, mutations)| {
            let mut value = serde_json::to_value(&doc).ok()?;
            for (path, m) in &mutations {
                mutate(&mut value, path, m);
            }
            toml::to_string(&value).ok()
        },
    )
}

#[test]
fn arbitrary_bytes_never_panic() {
    let (loaded, errors) =
        fuzz(vec(any::<u8>(), 0..400).prop_map(|b| String::from_utf8_lossy(&b).into_owned()), 512, 8);
    assert_eq!(loaded, 0);
    assert!(errors.contains_key("valid TOML"), "{errors:?}");
}

#[test]
fn arbitrary_toml_never_panics() {
    let (_, errors) = fuzz(toml_text(), 512, 9);
    // Past the syntax: the cases reach the loader's own checks.
    assert!(errors.keys().filter(|e| *e != "valid TOML").count() >= 3, "{errors:?}");
}

#[test]
fn near_misses_of_scenarios_never_panic() {
    let (loaded, errors) = fuzz(near_misses(), 512, 10);
    // Some mutations keep the scenario valid; the others reach the systems' parsers.
    assert!(loaded > 0, "{errors:?}");
    assert!(errors.len() >= 10, "{errors:?}");
}

/// A valid file cut anywhere or with bytes spliced in: syntax errors
/// located on any line, multi-byte characters included.
#[test]
fn damaged_scenarios_never_panic() {
    let damaged = (documents(), any::<prop::sample::Index>(), vec(any::<u8>(), 0..8)).prop_map(|(doc, at, junk)| {
        let mut bytes = doc.to_toml().unwrap().into_bytes();
        let at = at.index(bytes.len() + 1);
        bytes.truncate(at + bytes.len().saturating_sub(at) / 2);
        bytes.splice(at..at, junk);
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let (_, errors) = fuzz(damaged, 2048, 11);
    assert!(errors.len() >= 5, "{errors:?}");
}

/// One way to damage a shipped scenario file's bytes.
#[derive(Clone, Debug)]
enum Damage {
    /// The `n`th integer in the file replaced by an extreme value.
    Number(usize, &'static str),
    /// The `n`th string value replaced by a long one.
    LongString(usize, usize),
    /// The first actor copied `n` times under new names.
    ManyActors(usize),
    /// A byte that is not UTF-8 put at a place in the file.
    NotUtf8(prop::sample::Index, u8),
    /// The file cut at a place.
    Cut(prop::sample::Index),
}

const EXTREMES: &[&str] = &[
    "-1",
    "0",
    "255",
    "256",
    "4294967296",
    "9223372036854775807",
    "-9223372036854775808",
    "99999999999999999999999",
    "1e308",
    "-0.5",
];

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        (any::<usize>(), prop::sample::select(EXTREMES)).prop_map(|(n, v)| Damage::Number(n, v)),
        (any::<usize>(), prop::sample::select(&[1_000usize, 100_000][..])).prop_map(|(n, l)| Damage::LongString(n, l)),
        prop::sample::select(&[50usize, 1_000][..]).prop_map(Damage::ManyActors),
        (any::<prop::sample::Index>(), prop::sample::select(&[0xFFu8, 0xC3, 0x80, 0xED][..]))
            .prop_map(|(at, b)| Damage::NotUtf8(at, b)),
        any::<prop::sample::Index>().prop_map(Damage::Cut),
    ]
}

fn damaged(text: &str, damage: &Damage) -> Vec<u8> {
    match damage {
        Damage::Number(n, value) => {
            let numbers: Vec<(usize, usize)> = text
                .char_indices()
                .filter(|&(i, c)| c.is_ascii_digit() && !text[..i].ends_with(|p: char| p.is_alphanumeric()))
                .map(|(i, _)| (i, i + text[i..].find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len() - i)))
                .filter(|&(i, _)| text[..i].ends_with("= ") && !text[..i].ends_with("\"= "))
                .collect();
            match numbers.get(n % numbers.len().max(1)) {
                Some(&(a, b)) => format!("{}{value}{}", &text[..a], &text[b..]).into_bytes(),
                None => text.replacen("[setup]", &format!("[setup]\nlayers = {value}"), 1).into_bytes(),
            }
        }
        Damage::LongString(n, len) => {
            let quotes: Vec<usize> = text.match_indices("= \"").map(|(i, _)| i + 3).collect();
            let at = quotes[n % quotes.len()];
            let end = at + text[at..].find('"').unwrap_or(0);
            format!("{}{}{}", &text[..at], "x".repeat(*len), &text[end..]).into_bytes()
        }
        Damage::ManyActors(n) => {
            let start = text.find("[[actor]]").unwrap();
            let end = text[start + 1..].find("\n[").map_or(text.len(), |e| start + 1 + e + 1);
            let actor = &text[start..end];
            let name = actor.lines().find(|l| l.starts_with("name")).unwrap_or("name = \"x\"");
            let mut copies = String::new();
            for i in 0..*n {
                copies += &actor.replacen(name, &format!("name = \"copy-{i}\""), 1);
                copies += "\n";
            }
            format!("{}{copies}{}", &text[..end], &text[end..]).into_bytes()
        }
        Damage::NotUtf8(at, byte) => {
            let mut bytes = text.as_bytes().to_vec();
            bytes.insert(at.index(bytes.len() + 1), *byte);
            bytes
        }
        Damage::Cut(at) => text.as_bytes()[..at.index(text.len() + 1)].to_vec(),
    }
}

/// The shipped scenarios, damaged the ways a fuzzer found crashes before
/// (extreme numbers, long strings, many actors, bytes that are not UTF-8,
/// truncation): loading from the file never panics; an error names its line
/// and column (unless the file is unreadable as a whole) and is short
/// whatever the value; a file that loads is checked, briefly, without a panic.
#[test]
fn damaged_shipped_scenarios_load_or_fail_located_and_check_without_panics() {
    use racecheck::explore::Limits;
    use racecheck::scenario::{check_expectation, discover, load};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = discover(std::slice::from_ref(&root)).unwrap();
    let texts: Vec<String> = files.iter().map(|f| std::fs::read_to_string(f).unwrap()).collect();
    let dir = tempfile::tempdir().unwrap();
    let (loaded, located) = (std::cell::Cell::new(0usize), std::cell::Cell::new(0usize));
    // A longer campaign: RACECHECK_FUZZ_CASES=20000 RACECHECK_FUZZ_SEED=7.
    let from_env = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let cases = u32::try_from(from_env("RACECHECK_FUZZ_CASES", 96)).unwrap_or(u32::MAX);
    let mut runner = proptest::test_runner::TestRunner::new(config(cases, from_env("RACECHECK_FUZZ_SEED", 12)));
    let result = runner.run(&(any::<prop::sample::Index>(), damage()), |(file, damage)| {
        let text = &texts[file.index(texts.len())];
        let path = dir.path().join("damaged.toml");
        std::fs::write(&path, damaged(text, &damage)).unwrap();
        let outcome = catch_unwind(AssertUnwindSafe(|| match load(&path) {
            Ok(s) => {
                let limits = Limits::time(std::time::Duration::from_millis(100));
                for expectation in &s.expectations {
                    check_expectation(&s, expectation, &s.explore, &limits);
                }
                Ok(true)
            }
            Err(e) => {
                let message = e.to_string();
                prop_assert!(message.len() < 2_000, "{} bytes: {}", message.len(), &message[..300]);
                prop_assert!(e.line > 0, "not located: {message}");
                Ok(false)
            }
        }));
        match outcome {
            Ok(Ok(true)) => loaded.set(loaded.get() + 1),
            Ok(Ok(false)) => located.set(located.get() + 1),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(TestCaseError::fail(format!("panicked on {damage:?} of a scenario"))),
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Both kinds of case happen: some damage leaves a valid scenario.
    let (loaded, located) = (loaded.get(), located.get());
    eprintln!("{cases} damaged scenarios: {loaded} loaded and checked, {located} refused with a located error");
    assert!(loaded > 0 && located > 0, "{loaded} loaded, {located} errors");
}
