//! The racecheck binary: exit statuses, output formats, bad input, pipes.

use std::path::Path;
use std::process::{Command, Stdio};

fn racecheck(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run racecheck");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

const SEED15: &str = "scenarios/plan/dropped-reconcile-trigger.toml";

#[test]
fn check_exits_0_when_every_expectation_holds() {
    let (code, out, _) = racecheck(&["check", SEED15]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("ok      plan/dropped-reconcile-trigger"), "{out}");
    let replayed = out.lines().any(|l| {
        l.split_whitespace().collect::<Vec<_>>()[..]
            == [
                "ok",
                "plan/dropped-reconcile-trigger",
                "regression-1",
                "replay",
                "1",
                "-",
                "-",
                "replays",
                "as",
                "recorded",
            ]
    });
    assert!(replayed, "the recorded schedule replays: {out}");
    // The columns fit the longest name: every row's variant starts where the header's does.
    let at = |line: &str, word: &str| line.find(word);
    let header = out.lines().next().unwrap();
    for line in out.lines().filter(|l| l.starts_with("ok ")) {
        assert_eq!(at(line, "stateful").or(at(line, "replay")), at(header, "explorer"), "{out}");
    }
    assert!(out.trim_end().ends_with("3 passed, 0 failed"), "{out}");
}

#[test]
fn check_runs_the_regressions_and_trace_prints_every_violation() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(SEED15)
        .unwrap()
        .replace("report-B/handleJobComplete*5", "report-B/handleJobComplete*4");
    let file = dir.path().join("bogus.toml");
    std::fs::write(&file, text).unwrap();
    let (code, out, _) = racecheck(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 1, "a bogus schedule fails check: {out}");
    assert!(out.contains("FAIL    plan/bogus") && out.contains("regression-1"), "{out}");
    let (code, out, _) = racecheck(&["check", SEED15, "--trace"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("drop: violation of every-trigger-seen, as expected"), "{out}");
    assert!(out.contains("every-trigger-seen violated: ") && out.contains("racecheck replay "), "{out}");
    assert!(
        out.contains("[[regression]]\nvariant = { reconcile_guard = \"drop\" }\ninvariant = \"every-trigger-seen\""),
        "{out}"
    );
    let (code, mermaid, _) = racecheck(&["check", SEED15, "--format", "mermaid"]);
    assert_eq!(code, 0);
    assert_eq!(mermaid.matches("```mermaid\nsequenceDiagram\n").count(), 1, "one block per violation: {mermaid}");
    let (code, _, err) = racecheck(&["check", SEED15, "--variant", "safety_net=off"]);
    assert_eq!(code, 2, "a filter that matches nothing is an error");
    assert!(err.contains("no expectation or regression"), "{err}");
}

#[test]
fn check_exits_1_and_prints_the_counterexample_when_an_expectation_fails() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(SEED15).unwrap().replace(
        "variant = { reconcile_guard = \"drop\" }\nverdict = \"violation\"\ninvariant = \"every-trigger-seen\"",
        "variant = { reconcile_guard = \"drop\" }\nverdict = \"proved\"",
    );
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, text).unwrap();
    let (code, out, _) = racecheck(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("FAIL"), "{out}");
    assert!(out.contains("every-trigger-seen violated: "), "{out}");
    assert!(out.contains("racecheck replay "), "{out}");
    assert!(out.contains("2 passed, 1 failed"), "{out}");
}

#[test]
fn bad_input_exits_2_with_a_located_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, std::fs::read_to_string(SEED15).unwrap().replace("\"interval_tick\"", "\"interval_tik\""))
        .unwrap();
    let (code, _, err) = racecheck(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:17:14"), "{err}");
    assert!(err.contains("= valid: handle_job_failed"), "{err}");
    let (code, _, err) = racecheck(&["check", "no/such/dir"]);
    assert_eq!(code, 2);
    assert!(err.contains("no/such/dir"), "{err}");
    // A search of nothing would find nothing and look green.
    let (code, _, err) = racecheck(&["check", SEED15, "--explorer", "pct", "--schedules", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("expected at least 1, found 0"), "{err}");
    // Nor a hunt of no scenarios or no schedules (it reported "no violation
    // in 0 generated scenarios"), nor a bench of no seeds.
    for args in [
        &["hunt", "--system", "plan", "--cases", "0"][..],
        &["hunt", "--system", "plan", "--schedules", "0"],
        &["bench", "--seeds", "0"],
        &["bench", "--schedules", "0"],
    ] {
        let (code, _, err) = racecheck(args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("expected at least 1, found 0"), "{args:?}: {err}");
    }
    let (code, _, err) = racecheck(&["check", SEED15, "--variant", "reconcile_guard=sometimes"]);
    assert_eq!(code, 2);
    assert!(err.contains("valid: drop, rerun, rerun-preemptive"), "{err}");
    // An option no explorer checked here takes changes nothing: not a green run.
    for extra in [
        &["--explorer", "dpor", "--bound", "2"][..],
        &["--depth", "2"],
        &["--explorer", "exhaustive", "--seed", "3"],
        &["--explorer", "dpor", "--workers", "2"],
    ] {
        let (code, out, err) = racecheck(&[&["check", SEED15][..], extra].concat());
        assert_eq!(code, 2, "{extra:?}: {out}");
        assert!(err.contains("no expectation checked here uses those explorers"), "{extra:?}: {err}");
        assert!(out.is_empty(), "{extra:?}: nothing is checked: {out}");
    }
    let (code, _, err) = racecheck(&["check", SEED15, "--explorer", "exhaustive", "--bound", "1"]);
    assert!(code != 2, "--bound with the exhaustive explorer is used: {err}");
    // Options of the growth tables only: without --growth they would change nothing.
    for option in [["--workers", "2"], ["--max-size", "2"]] {
        let (code, _, err) = racecheck(&[&["bench", "--quick"][..], &option].concat());
        assert_eq!(code, 2, "{option:?}");
        assert!(err.contains("--growth"), "{option:?}: {err}");
    }
    // No search on no thread, nor a typo's thousand threads.
    for workers in ["0", "1000"] {
        let (code, _, err) = racecheck(&["check", SEED15, "--workers", workers]);
        assert_eq!(code, 2, "--workers {workers}");
        assert!(err.contains("--workers") && err.contains("1..=256"), "--workers {workers}: {err}");
    }
}

/// Checks `text` (a scenario whose one expectation is `proved`) under
/// `--max-time 2`: done well before the backstop (`what` says what made it
/// slow before), and, when it is too large to prove in the time, cut short
/// with the time loading took named (`provable`: it may also finish in time).
fn keeps_to_max_time(text: String, what: &str, provable: bool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.toml");
    std::fs::write(&file, text).unwrap();
    let start = std::time::Instant::now();
    let (code, out, err) = racecheck(&["check", file.to_str().unwrap(), "--max-time", "2", "--workers", "1"]);
    let took = start.elapsed();
    if code == 0 && provable {
        assert!(out.contains("proved (unbounded)"), "{out}");
    } else {
        assert_eq!(code, 1, "{out}{err}");
        assert!(out.contains("incomplete: time limit of 2s ("), "{out}");
        assert!(out.contains(" of it loading the scenario) reached after "), "{out}");
    }
    // A backstop, not a speed target: far above the limit, far below what
    // the run took before.
    assert!(took < std::time::Duration::from_secs(15), "2 s limit, {took:?} in all ({what})");
}

/// A plan of 100,000 jobs, three of which complete beside a failure (#63's
/// race, far too large to prove in 2 s): loading it takes a good part of a
/// second, and each write of `plan.json` compares every entry (in quadratic
/// time before: one execution took 35 s).
#[test]
fn a_plan_of_100000_jobs_keeps_to_max_time() {
    let jobs: String = (0..100_000)
        .map(|i| format!("  {{ name = \"J{i}\", status = \"running\", state = \"completed\" }},\n"))
        .collect();
    let reports: String = (1..=3)
        .map(|i| {
            format!("[[actor]]\nname = \"report-J{i}\"\ndo = [{{ op = \"handle_job_complete\", job = \"J{i}\" }}]\n\n")
        })
        .collect();
    let text = format!(
        "title = \"100,000 jobs\"\norigin = \"test\"\nsystem = \"plan\"\n\n[setup]\njobs = [\n  \
         {{ name = \"A\", status = \"running\", state = \"failed\" }},\n{jobs}]\n\n[[actor]]\nname = \"monitor\"\n\
         do = [{{ op = \"handle_job_failed\", job = \"A\" }}]\n\n{reports}[check]\ninvariants = [\"no-lost-job-update\"]\n\n\
         [[expect]]\nvariant = {{ checkpoint_write = \"fields-only\" }}\nverdict = \"proved\"\n"
    );
    keeps_to_max_time(text, "a quadratic invariant", false);
}

/// A manifest of 50,000 tasks with 5,000 external writes landed before the
/// start (the setup kept every landed manifest before: 250 million tasks,
/// more memory than the machine has).
#[test]
fn a_manifest_of_50000_tasks_and_5000_landed_writes_keeps_to_max_time() {
    let tasks: Vec<String> = (0..50_000).map(|i| format!("{{ id = \"t{i}\" }}")).collect();
    let writes: Vec<String> = (0..50_000).step_by(10).map(|i| format!("{{ task = \"t{i}\" }}")).collect();
    let text = format!(
        "title = \"many tasks\"\norigin = \"test\"\nsystem = \"manifest\"\n\n[setup]\ntasks = [{}]\n\
         external_writes = [{}]\n\n[[actor]]\nname = \"lead\"\ndo = [{{ op = \"manifest_patch\", task = \"t1\" }}]\n\n\
         [[actor]]\nname = \"w\"\ndo = [{{ op = \"watcher_fire\" }}]\n\n[check]\ninvariants = [\"no-silent-overwrite\"]\n\n\
         [[expect]]\nvariant = {{ persist_check = \"generation\" }}\nverdict = \"proved\"\n",
        tasks.join(", "),
        writes.join(", ")
    );
    keeps_to_max_time(text, "every landed manifest kept", true);
}

#[test]
fn check_on_several_workers_gives_the_rows_of_one() {
    // Every column but the executions and the time (and the distinct
    // states, which several workers may count a little apart).
    let rows = |workers: &str| {
        let (code, out, err) = racecheck(&["check", "--color", "never", "--workers", workers]);
        assert_eq!(code, 0, "{out}{err}");
        let row = |l: &str| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let n = w.len();
            [&w[..n.min(4)], &w[n.saturating_sub(2).max(n.min(4))..]].concat().join(" ")
        };
        out.lines().map(row).collect::<Vec<_>>()
    };
    let one = rows("1");
    assert!(one.len() > 100, "{one:?}");
    assert_eq!(rows("2"), one);
}

#[test]
fn json_gives_one_object_per_expectation() {
    let (code, out, _) = racecheck(&["check", SEED15, "--format", "json"]);
    assert_eq!(code, 0);
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2);
    for key in ["scenario", "variant", "explorer", "verdict", "invariant", "executions", "seconds"] {
        assert!(rows.iter().all(|r| r.get(key).is_some()), "missing {key}: {out}");
    }
    assert_eq!(rows[0]["verdict"], "violation");
    assert_eq!(rows[0]["invariant"], "every-trigger-seen");
    assert!(rows[0]["failure"]["schedule"].as_str().unwrap().contains("report-B"));
    assert_eq!(rows[1]["verdict"], "proved");
    // How many threads the search ran on, so that a varying state count reads right.
    let (_, out, _) = racecheck(&["check", SEED15, "--format", "json", "--workers", "3"]);
    let workers: Vec<serde_json::Value> =
        out.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["workers"].clone()).collect();
    assert_eq!(workers, [3, 3]);
    let (_, out, _) = racecheck(&["check", SEED15, "--format", "json", "--explorer", "dpor"]);
    assert!(out.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["workers"] == 1), "{out}");
}

#[test]
fn explain_and_list_describe_the_scenarios() {
    let (code, out, _) = racecheck(&["explain", SEED15]);
    assert_eq!(code, 0);
    for part in [
        "A reconcile trigger during a pass is silently dropped",
        "interval_tick",
        "every-trigger-seen:",
        "reconcile_guard:",
        "* rerun",
    ] {
        assert!(out.contains(part), "{part} missing from:\n{out}");
    }
    let (code, out, _) = racecheck(&["list"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("plan/stale-checkpoint-overwrite") && out.contains("runs/") && out.contains("manifest/"),
        "{out}"
    );
}

#[test]
fn replay_prints_text_json_and_mermaid() {
    let schedule = "interval*15, report-B*2, report-B/handleJobComplete*5, interval*1";
    let base = ["replay", SEED15, "--variant", "reconcile_guard=drop", "--schedule", schedule];
    let (code, out, _) = racecheck(&base);
    assert_eq!(code, 1, "a replayed violation exits 1: {out}");
    assert!(out.contains("every-trigger-seen violated"), "{out}");
    let (_, json, _) = racecheck(&[&base[..], &["--format", "json"]].concat());
    let v: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!(v["schedule"], schedule);
    assert!(v["trace"].as_array().unwrap().len() >= 20);
    let (_, mermaid, _) = racecheck(&[&base[..], &["--format", "mermaid"]].concat());
    assert!(mermaid.starts_with("sequenceDiagram\n"), "{mermaid}");
    assert!(mermaid.contains("participant A0 as interval"), "{mermaid}");
    // The fix runs the same steps, and nothing breaks within them.
    let (code, out, _) = racecheck(&["replay", SEED15, "--variant", "reconcile_guard=rerun", "--schedule", schedule]);
    assert_eq!(code, 0, "the fixed variant replays the schedule without a violation: {out}");
    let wrong = "interval*15, report-C*2";
    let (code, _, err) = racecheck(&["replay", SEED15, "--variant", "reconcile_guard=drop", "--schedule", wrong]);
    assert_eq!(code, 2, "a schedule that does not fit is bad input");
    assert!(err.contains("does not fit"), "{err}");
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_racecheck"))
        .args(["list"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").is_dir());
}

#[test]
fn explain_system_lists_everything_a_scenario_may_say() {
    for system in racecheck::systems::registry() {
        let spec = system.spec();
        let (code, out, err) = racecheck(&["explain", "--system", spec.name]);
        assert_eq!(code, 0, "{err}");
        let names = spec.setup.iter().map(|f| f.name).chain(spec.ops.iter().map(|o| o.name));
        let names = names.chain(spec.knobs.iter().flat_map(|k| k.choices.iter().map(|c| c.0).chain([k.name])));
        let names = names.chain(spec.invariants.iter().map(|i| i.name)).chain(spec.conditions.iter().map(|c| c.name));
        for name in names {
            assert!(out.contains(name), "{}: {name} missing from explain --system", spec.name);
        }
    }
    let (code, _, err) = racecheck(&["explain", "--system", "nope"]);
    assert_eq!(code, 2);
    assert!(err.contains("valid: plan, runs, manifest"), "{err}");
}

#[test]
fn new_writes_a_template_that_checks_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    for system in ["plan", "runs", "manifest"] {
        let file = dir.path().join(format!("{system}-new.toml"));
        let file = file.to_str().unwrap();
        let (code, out, err) = racecheck(&["new", system, file]);
        assert_eq!(code, 0, "{out}{err}");
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.starts_with(&format!("# A new scenario of the {system} system")), "{text}");
        assert!(!text.contains("[[regression]]"), "a template carries no recorded schedule: {text}");
        let (code, out, _) = racecheck(&["check", file]);
        assert_eq!(code, 0, "the {system} template checks as it is: {out}");
        std::fs::write(file, "kept").unwrap();
        let (code, _, err) = racecheck(&["new", system, file]);
        assert_eq!(code, 2, "an existing file is an error");
        assert!(err.contains("cannot write") && err.contains("exists"), "{err}");
        assert_eq!(std::fs::read_to_string(file).unwrap(), "kept", "nothing already written is lost");
    }
    let (code, _, err) = racecheck(&["new", "nosuch", dir.path().join("x.toml").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("expected a modeled system") && err.contains("plan, runs, manifest"), "{err}");
}

#[test]
fn completions_name_every_subcommand() {
    let (code, out, err) = racecheck(&["completions", "bash"]);
    assert_eq!(code, 0, "{err}");
    for sub in ["check", "list", "explain", "new", "hit-rate", "hunt", "bench", "replay", "completions"] {
        assert!(out.contains(sub), "{sub} missing from the bash completions");
    }
    let (code, _, err) = racecheck(&["completions", "tcsh"]);
    assert_eq!(code, 2, "an unknown shell is a usage error: {err}");
}

/// The README's commands, as a newcomer pastes them: each indented
/// `racecheck ...` or `cargo run --release -- ...` block (continuation lines
/// joined) runs as documented. The two that take minutes (`bench`, and the
/// main job `check` of every scenario) are run on one scenario / asked for
/// their help, so the words stay true without the wait.
#[test]
fn readme_commands_run_as_documented() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut commands: Vec<String> = Vec::new();
    let mut open = false;
    for line in readme.lines() {
        let Some(code) = line.strip_prefix("    ") else {
            open = false;
            continue;
        };
        let code = code.trim();
        if open {
            let last = commands.last_mut().expect("a command is open");
            last.push(' ');
            last.push_str(code.trim_end_matches('\\').trim());
        } else if let Some(rest) =
            code.strip_prefix("racecheck ").or_else(|| code.strip_prefix("cargo run --release -- "))
        {
            commands.push(rest.trim_end_matches('\\').trim().to_string());
        } else {
            continue;
        }
        open = code.ends_with('\\') || code.ends_with(',');
    }
    assert!(commands.len() >= 4, "the README's commands: {commands:?}");
    let mut ran = 0;
    for command in &commands {
        // Shell words: quoted spans stay one argument.
        let mut args: Vec<String> = Vec::new();
        let mut quoted = false;
        let mut word = String::new();
        for ch in command.chars() {
            match ch {
                '\'' => quoted = !quoted,
                ' ' if !quoted => {
                    if !word.is_empty() {
                        args.push(std::mem::take(&mut word));
                    }
                }
                _ => word.push(ch),
            }
        }
        if !word.is_empty() {
            args.push(word);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, out, err) = match args[..] {
            ["check"] => racecheck(&["check", "scenarios/plan/dropped-reconcile-trigger.toml"]),
            ["bench", ..] => racecheck(&[&args[..], &["--help"]].concat()),
            _ => racecheck(&args),
        };
        // A replayed counterexample violates its invariant (exit 1); the rest succeed.
        let expected = if args[0] == "replay" { 1 } else { 0 };
        assert_eq!(code, expected, "racecheck {command}: {out}{err}");
        eprintln!("ran: racecheck {command}");
        ran += 1;
    }
    assert_eq!(ran, commands.len());
}

/// The `p-*` entries (scratch directories and their lock files) under `root`.
fn scratch_entries(root: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(root) else { return Vec::new() };
    entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).filter(|n| n.starts_with("p-")).collect()
}

#[test]
fn a_killed_hit_rate_leaves_a_directory_the_next_run_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("racecheck");
    let hit_rate = |runs: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_racecheck"));
        command
            .args(["hit-rate", SEED15, "--runs", runs])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("TMPDIR", tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        command
    };
    let mut child = hit_rate("100000000").spawn().unwrap();
    // Wait until a run's directory is being written, then kill it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let in_use = |root: &Path| {
        scratch_entries(root)
            .iter()
            .filter(|n| !n.ends_with(".lock"))
            .any(|n| std::fs::read_dir(root.join(n)).is_ok_and(|mut d| d.next().is_some()))
    };
    while !in_use(&root) {
        assert!(std::time::Instant::now() < deadline, "hit-rate made no scratch directory");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let left = scratch_entries(&root);
    assert_eq!(left.len(), 2, "a killed run leaves its directory and lock file: {left:?}");
    // The next run removes it, and its own.
    let status = hit_rate("1").status().unwrap();
    assert!(status.code().is_some(), "{status:?}");
    assert_eq!(scratch_entries(&root), Vec::<String>::new());
}
