//! Every class of bad scenario input gets a located, precise error, never a panic.

use racecheck::scenario::{ScenarioError, parse};
use std::path::Path;

const GOOD: &str = r#"title = "t"
origin = "o"
system = "plan"

[setup]
jobs = [{ name = "A" }, { name = "B", depends_on = ["A"] }]

[[actor]]
name = "monitor"
do = [{ op = "handle_job_failed", job = "A" }]

[check]
invariants = ["no-lost-job-update"]

[[expect]]
variant = { checkpoint_write = "whole-plan" }
verdict = "violation"
invariant = "no-lost-job-update"
"#;

fn error(text: &str) -> ScenarioError {
    match parse(Path::new("scenarios/plan/x.toml"), text) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e,
    }
}

/// `GOOD` with `from` replaced by `to` (which must occur).
fn with(from: &str, to: &str) -> String {
    assert!(GOOD.contains(from), "{from:?} not in GOOD");
    GOOD.replacen(from, to, 1)
}

fn assert_at(e: &ScenarioError, line: usize, column: usize) {
    assert_eq!((e.line, e.column), (line, column), "wrong location for:\n{e}");
    assert!(e.to_string().contains(&format!("scenarios/plan/x.toml:{line}:{column}")), "{e}");
}

#[test]
fn the_good_file_loads() {
    let s = parse(Path::new("scenarios/plan/x.toml"), GOOD).unwrap();
    assert_eq!(s.name, "plan/x");
    assert_eq!(s.expectations.len(), 1);
}

#[test]
fn toml_syntax_error() {
    let e = error(&with("title = \"t\"", "title = \"t"));
    assert_eq!(e.line, 1);
    assert_eq!(e.expected, "valid TOML");
}

#[test]
fn unknown_top_level_key() {
    let e = error(&with("origin = \"o\"", "origin = \"o\"\nactors = 3"));
    assert_at(&e, 3, 1);
    assert_eq!(e.found, "\"actors\"");
    assert!(e.valid.contains(&"actor".to_string()));
}

#[test]
fn missing_title() {
    let e = error(&with("title = \"t\"\n", ""));
    assert_eq!(e.expected, "a `title` field");
    assert_eq!(e.found, "none");
}

#[test]
fn unknown_system_lists_the_systems() {
    let e = error(&with("system = \"plan\"", "system = \"plans\""));
    assert_at(&e, 3, 10);
    assert_eq!(e.found, "\"plans\"");
    assert!(e.valid.contains(&"plan".to_string()));
}

#[test]
fn unknown_semantics() {
    let e = error(&with("system = \"plan\"", "system = \"plan\"\nsemantics = \"node\""));
    assert_at(&e, 4, 13);
    assert_eq!(e.valid, vec!["event-loop", "threads"]);
}

#[test]
fn unknown_operation_lists_the_operations() {
    let e = error(&with("op = \"handle_job_failed\"", "op = \"handle_job_faild\""));
    assert_at(&e, 10, 14);
    assert_eq!(e.found, "\"handle_job_faild\"");
    assert!(e.valid.contains(&"handle_job_failed".to_string()) && e.valid.contains(&"reconcile".to_string()));
}

#[test]
fn unknown_operation_argument_lists_the_arguments() {
    let e = error(&with("job = \"A\" }]", "jb = \"A\" }]"));
    assert_at(&e, 10, 35);
    assert_eq!(e.expected, "a known field");
    assert!(e.valid.contains(&"job".to_string()));
}

#[test]
fn job_not_defined_in_setup() {
    let e = error(&with("job = \"A\" }]", "job = \"Z\" }]"));
    assert_at(&e, 10, 41);
    assert_eq!(e.expected, "a job defined in [setup]");
    assert_eq!(e.valid, vec!["A", "B"]);
}

#[test]
fn wrong_type_of_value() {
    let e = error(&with("job = \"A\" }]", "job = 3 }]"));
    assert_at(&e, 10, 41);
    assert_eq!((e.expected.as_str(), e.found.as_str()), ("a string", "3"));
}

#[test]
fn unknown_dependency() {
    let e = error(&with("depends_on = [\"A\"]", "depends_on = [\"Q\"]"));
    assert_at(&e, 6, 53);
    assert_eq!(e.valid, vec!["A", "B"]);
}

#[test]
fn dependency_cycle() {
    let e = error(&with("{ name = \"A\" }", "{ name = \"A\", depends_on = [\"B\"] }"));
    assert_eq!(e.expected, "dependencies without a cycle");
    assert!(e.found.contains("A → B → A") || e.found.contains("B → A → B"), "{e}");
    assert_eq!(e.line, 6);
}

#[test]
fn unknown_job_status_lists_the_statuses() {
    let e = error(&with("{ name = \"A\" }", "{ name = \"A\", status = \"done\" }"));
    assert_at(&e, 6, 32);
    assert!(e.valid.contains(&"completed".to_string()));
}

#[test]
fn unknown_invariant_lists_the_invariants() {
    let e = error(&with("invariants = [\"no-lost-job-update\"]", "invariants = [\"no-lost-update\"]"));
    assert_at(&e, 13, 15);
    assert!(e.valid.contains(&"every-trigger-seen".to_string()));
}

#[test]
fn unknown_variant_knob_and_choice() {
    let e = error(&with("checkpoint_write = \"whole-plan\"", "checkpoint = \"whole-plan\""));
    assert_at(&e, 16, 13);
    assert!(e.valid.contains(&"checkpoint_write".to_string()));
    let e = error(&with("checkpoint_write = \"whole-plan\"", "checkpoint_write = \"whole\""));
    assert_at(&e, 16, 32);
    assert_eq!(e.valid, vec!["whole-plan", "fields-only"]);
}

#[test]
fn violation_needs_a_checked_invariant() {
    let e = error(&with("invariant = \"no-lost-job-update\"\n", ""));
    assert_eq!(e.expected, "an `invariant` for a violation verdict");
    let e = error(&with("invariant = \"no-lost-job-update\"\n", "invariant = \"every-trigger-seen\"\n"));
    assert_at(&e, 18, 13);
    assert_eq!(e.valid, vec!["no-lost-job-update"]);
}

#[test]
fn unknown_verdict() {
    let e = error(&with("verdict = \"violation\"", "verdict = \"broken\""));
    assert_at(&e, 17, 11);
    assert_eq!(e.valid, vec!["violation", "proved", "not-found"]);
}

#[test]
fn sampling_cannot_prove() {
    let text = with("[check]", "[explore]\nexplorer = \"pct\"\n\n[check]")
        .replace("verdict = \"violation\"\ninvariant = \"no-lost-job-update\"", "verdict = \"proved\"");
    let e = error(&text);
    assert!(e.expected.contains("only the stateful, exhaustive and dpor explorers can prove"), "{e}");
}

#[test]
fn dpor_refuses_threads_semantics() {
    let text = with("system = \"plan\"", "system = \"plan\"\nsemantics = \"threads\"").replacen(
        "[check]",
        "[explore]\nexplorer = \"dpor\"\n\n[check]",
        1,
    );
    let e = error(&text);
    assert_at(&e, 14, 12);
    assert!(e.expected.contains("dpor explores the turns of an event loop"), "{e}");
    assert_eq!(e.found, "\"dpor\"");
    // On an event loop dpor may prove, and takes any number of actors.
    let proving = with("[check]", "[explore]\nexplorer = \"dpor\"\n\n[check]")
        .replace("verdict = \"violation\"\ninvariant = \"no-lost-job-update\"", "verdict = \"proved\"");
    parse(Path::new("scenarios/plan/x.toml"), &proving).unwrap();
}

#[test]
fn too_many_actors_for_exhaustive() {
    let actor = "\n[[actor]]\nname = \"N\"\ndo = [{ op = \"monitor_poll\" }]\n";
    let mut text = GOOD.to_string();
    for i in 0..4 {
        text = text.replacen("[check]", &format!("{}\n[check]", actor.replace('N', &format!("extra{i}"))), 1);
    }
    let explicit = text.replacen("[check]", "[explore]\nexplorer = \"exhaustive\"\n\n[check]", 1);
    let e = error(&explicit);
    assert!(e.expected.contains("at most 4 actors"), "{e}");
    assert_eq!(e.found, "5 actors");
    // Without an explicit explorer, an event loop gets the stateful
    // explorer, whatever its number of actors; threads get pct past four.
    let s = parse(Path::new("scenarios/plan/x.toml"), &text).unwrap();
    assert_eq!(s.explore.explorer, racecheck::scenario::ExplorerKind::Stateful);
    let threads = text.replacen("system = \"plan\"", "system = \"plan\"\nsemantics = \"threads\"", 1);
    let s = parse(Path::new("scenarios/plan/x.toml"), &threads).unwrap();
    assert_eq!(s.explore.explorer, racecheck::scenario::ExplorerKind::Pct);
}

#[test]
fn stateful_refuses_threads_semantics() {
    let text = with("system = \"plan\"", "system = \"plan\"\nsemantics = \"threads\"").replacen(
        "[check]",
        "[explore]\nexplorer = \"stateful\"\n\n[check]",
        1,
    );
    let e = error(&text);
    assert_at(&e, 14, 12);
    assert!(e.expected.contains("stateful explores the turns of an event loop"), "{e}");
    assert_eq!(e.found, "\"stateful\"");
}

#[test]
fn duplicate_actor_names() {
    let e = error(&with("[check]", "[[actor]]\nname = \"monitor\"\ndo = [{ op = \"monitor_poll\" }]\n\n[check]"));
    assert_eq!(e.expected, "a unique actor name");
}

#[test]
fn missing_file() {
    let Err(e) = racecheck::scenario::load(Path::new("scenarios/does-not-exist.toml")) else {
        panic!("loaded a missing file")
    };
    assert!(e.to_string().contains("scenarios/does-not-exist.toml"), "{e}");
}

#[test]
fn display_shows_the_line_and_a_caret() {
    let e = error(&with("op = \"handle_job_failed\"", "op = \"handle_job_faild\""));
    let shown = e.to_string();
    assert!(shown.contains("10 | do = [{ op = \"handle_job_faild\", job = \"A\" }]"), "{shown}");
    assert!(shown.contains("|              ^^^^^^^^^^^^^^^^^^"), "{shown}");
    assert!(shown.contains("= valid: handle_job_failed, "), "{shown}");
}

#[test]
fn bad_regression_schedule() {
    let text = format!(
        "{GOOD}\n[[regression]]\nvariant = {{ checkpoint_write = \"whole-plan\" }}\nschedule = \"monitor*x\"\n"
    );
    let e = error(&text);
    assert_eq!(e.line, 22);
    assert!(e.expected.starts_with("a step schedule"), "{e}");
    assert!(e.found.contains("monitor*x"), "{e}");
    let text = format!("{GOOD}\n[[regression]]\nschedule = \"monitor*1\"\ninvariant = \"every-trigger-seen\"\n");
    let e = error(&text);
    assert_eq!(e.valid, vec!["no-lost-job-update"]);
}

#[test]
fn actor_names_must_fit_in_a_schedule() {
    for bad in ["report B", "a,b", "a*b", "a/b", ""] {
        let e = error(&with("name = \"monitor\"", &format!("name = {bad:?}")));
        assert_at(&e, 9, 8);
        assert!(e.expected.starts_with("an actor name of letters"), "{e}");
    }
}

#[test]
fn more_tasks_than_loom_holds() {
    // handle_job_failed starts two tasks, each handle_job_complete one: with
    // four actors that is six threads, main included, one more than loom's.
    let reports = "\n[[actor]]\nname = \"r1\"\ndo = [{ op = \"handle_job_complete\", job = \"B\" }]\n\
                   \n[[actor]]\nname = \"r2\"\ndo = [{ op = \"handle_job_complete\", job = \"B\" }]\n\
                   \n[[actor]]\nname = \"r3\"\ndo = [{ op = \"handle_job_complete\", job = \"B\" }]\n";
    let text = with("[check]", &format!("{reports}\n[explore]\nexplorer = \"exhaustive\"\n\n[check]")).replace(
        "jobs = [{ name = \"A\" }, { name = \"B\", depends_on = [\"A\"] }]",
        "jobs = [{ name = \"A\" }, { name = \"B\" }]",
    );
    let e = error(&text);
    assert_at(&e, 26, 12);
    assert!(e.expected.contains("loom runs at most 5 threads") && e.expected.contains("stateful"), "{e}");
    assert_eq!(e.found, "6 threads in variant whole-plan");
    // Under threads semantics the default explorer is exhaustive where loom
    // holds the scenario, else pct...
    let threads = text.replace("[explore]\nexplorer = \"exhaustive\"\n", "").replacen(
        "system = \"plan\"",
        "system = \"plan\"\nsemantics = \"threads\"",
        1,
    );
    let s = parse(Path::new("scenarios/plan/x.toml"), &threads).unwrap();
    assert_eq!(s.explore.explorer, racecheck::scenario::ExplorerKind::Pct);
    // ...unless it is to prove something: then the last actor is named.
    let proving =
        format!("{threads}\n[[expect]]\nvariant = {{ checkpoint_write = \"fields-only\" }}\nverdict = \"proved\"\n");
    let e = error(&proving);
    assert_at(&e, 22, 1);
    assert!(e.expected.contains("pct"), "{e}");
}

#[test]
fn unknown_reachable_condition_lists_the_conditions() {
    let e = error(&with(
        "invariants = [\"no-lost-job-update\"]",
        "invariants = [\"no-lost-job-update\"]\nreachable = [\"stale-snapshot-write\", \"race-window\"]",
    ));
    assert_at(&e, 14, 38);
    assert!(e.valid.contains(&"trigger-during-pass".to_string()), "{e}");
    let e = error(&with(
        "invariants = [\"no-lost-job-update\"]",
        "invariants = [\"no-lost-job-update\"]\nreachable = \"x\"",
    ));
    assert_eq!(e.expected, "an array of reachable condition names");
    let twice = "reachable = [\"trigger-during-pass\", \"trigger-during-pass\"]";
    let e = error(&with(
        "invariants = [\"no-lost-job-update\"]",
        &format!("invariants = [\"no-lost-job-update\"]\n{twice}"),
    ));
    assert_eq!(e.expected, "each reachable condition named once");
}

#[test]
fn a_bound_beyond_loom_is_a_located_error() {
    let e = error(&with("[check]", "[explore]\nexplorer = \"exhaustive\"\nbound = 4000000000\n\n[check]"));
    assert_at(&e, 14, 9);
    assert_eq!(e.expected, "a preemption bound of at most 255 (loom's limit)");
}

#[test]
fn bytes_that_are_not_utf8_are_located() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.toml");
    let mut bytes = GOOD.as_bytes().to_vec();
    let at = GOOD.find("\"o\"").unwrap() + 1; // origin = "o": line 2, the o
    bytes[at] = 0xFF;
    std::fs::write(&path, bytes).unwrap();
    let Err(e) = racecheck::scenario::load(&path) else { panic!("a file with a 0xFF byte loaded") };
    assert_eq!((e.line, e.column), (2, 11), "{e}");
    assert_eq!(e.expected, "UTF-8 text");
    assert_eq!(e.found, "the byte 0xFF");
    // The raw document's loader says the same.
    let e = racecheck::scenario::document::load_document(&path).unwrap_err();
    assert_eq!((e.line, e.column), (2, 11), "{e}");
}

#[test]
fn a_long_dependency_chain_loads_and_its_cycle_is_found() {
    // 50,000 jobs, each depending on the one before: no stack overflow;
    // then the first made to depend on the last.
    let n = 50_000;
    let chain = |first: &str| {
        let mut jobs = format!("jobs = [\n  {{ name = \"J0\"{first} }},\n");
        for i in 1..n {
            jobs += &format!("  {{ name = \"J{i}\", depends_on = [\"J{}\"] }},\n", i - 1);
        }
        GOOD.replacen("jobs = [{ name = \"A\" }, { name = \"B\", depends_on = [\"A\"] }]", &(jobs + "]"), 1)
            .replace("job = \"A\"", "job = \"J0\"")
    };
    parse(Path::new("scenarios/plan/x.toml"), &chain("")).unwrap();
    let e = error(&chain(&format!(", depends_on = [\"J{}\"]", n - 1)));
    assert_eq!(e.expected, "dependencies without a cycle");
    assert!(e.found.starts_with("the cycle J0 → J49999 → J49998"), "{}", &e.found[..80]);
    // The edge that closes it: J1's dependency on J0, the line after J0's.
    assert!(e.found.ends_with("J1 → J0"), "{}", &e.found[e.found.len() - 40..]);
    assert_eq!(e.line, 8);
}
