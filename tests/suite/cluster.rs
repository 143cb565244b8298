//! One stateful search spread over processes on timely dataflow
//! (`--hosts FILE --process I`): two processes on localhost report what
//! one process does; a process killed mid-search, one that never joins, or
//! one searching something else, ends the search `incomplete`, never
//! proved. (`explorers_agree` compares timely's searches on one, two and
//! three workers with the shared-memory search on every shipped
//! expectation.)

use serde_json::Value;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SEED_RACE: &str = "scenarios/plan/stale-checkpoint-overwrite.toml";

/// `n` ports free on 127.0.0.1 now, in a hosts file.
fn hosts(dir: &Path, n: usize) -> PathBuf {
    let listeners: Vec<TcpListener> = (0..n).map(|_| TcpListener::bind("127.0.0.1:0").unwrap()).collect();
    let lines: String = listeners.iter().map(|l| format!("127.0.0.1:{}\n", l.local_addr().unwrap().port())).collect();
    let path = dir.join(format!("hosts-{n}"));
    std::fs::write(&path, lines).unwrap();
    path
}

fn racecheck(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_racecheck"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR")).stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

/// `racecheck check FILE --hosts HOSTS --process I --format json` and `more`.
fn process(file: &str, hosts: &Path, i: usize, more: &[&str]) -> Child {
    let hosts = hosts.to_str().unwrap();
    let i = i.to_string();
    let mut args = vec!["check", file, "--hosts", hosts, "--process", &i, "--format", "json"];
    args.extend_from_slice(more);
    racecheck(&args).spawn().unwrap()
}

/// Exit code and JSON rows of a finished process.
fn rows(child: Child) -> (i32, Vec<Value>, String) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (out.status.code().unwrap_or(-1), rows, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// What every process must agree on, row by row.
fn verdicts(rows: &[Value]) -> Vec<(Value, Value, Value, Value)> {
    rows.iter()
        .map(|r| (r["variant"].clone(), r["verdict"].clone(), r["states"].clone(), r["failure"].clone()))
        .collect()
}

/// Every shipped scenario on one process of timely gets the verdict, the
/// counterexample and the symmetry the shared-memory search gives.
#[test]
fn timely_gives_every_shipped_verdict_and_counterexample() {
    let dir = tempfile::tempdir().unwrap();
    let one = hosts(dir.path(), 1);
    let (code, on_timely, err) = rows(process("scenarios", &one, 0, &["--workers", "2"]));
    assert_eq!(code, 0, "{err}");
    let out = racecheck(&["check", "scenarios", "--workers", "1", "--format", "json"]).output().unwrap();
    let shared: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(on_timely.len(), shared.len());
    let mut compared = 0;
    for (t, s) in on_timely.iter().zip(&shared) {
        let what =
            |r: &Value| (r["scenario"].clone(), r["variant"].clone(), r["verdict"].clone(), r["failure"].clone());
        assert_eq!(what(t), what(s));
        if s["explorer"] == "stateful" {
            assert_eq!(t["symmetry"], s["symmetry"], "{}", s["scenario"]);
            assert_eq!(t["processes"], 1);
            compared += 1;
        }
    }
    assert!(compared >= 100, "only {compared} stateful rows compared");
}

#[test]
fn two_processes_on_localhost_report_what_one_process_does() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (hosts(dir.path(), 1), hosts(dir.path(), 2));
    let (code, alone, err) = rows(process(SEED_RACE, &one, 0, &["--workers", "1"]));
    assert_eq!(code, 0, "{err}");
    assert!(alone.len() >= 2 && alone.iter().any(|r| r["verdict"] == "violation"));
    assert!(alone.iter().any(|r| r["verdict"] == "proved"));
    for workers in ["1", "2"] {
        let children: Vec<Child> = (0..2).map(|i| process(SEED_RACE, &two, i, &["--workers", workers])).collect();
        for (i, child) in children.into_iter().enumerate() {
            let (code, rows, err) = rows(child);
            assert_eq!(code, 0, "process {i}: {err}");
            assert_eq!(verdicts(&rows), verdicts(&alone), "process {i} of 2, {workers} workers each");
            for row in &rows {
                assert_eq!(row["processes"], 2);
                let exchanged = &row["exchanged"];
                assert!(exchanged["states"].as_u64().unwrap() > 0, "no state crossed: {row}");
                assert!(exchanged["bytes_sent_by_this_process"].as_u64().unwrap() > 0, "{row}");
            }
        }
    }
}

/// #63 with three siblings: about ten seconds on two processes here.
fn long_search(dir: &Path) -> String {
    let path = dir.join("siblings-3.toml");
    std::fs::write(&path, racecheck::bench::growth::siblings(3)).unwrap();
    path.to_str().unwrap().to_string()
}

fn wait_for(mut child: Child, within: Duration) -> Child {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > within {
            child.kill().unwrap();
            panic!("the process did not end within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

#[test]
fn a_process_killed_mid_search_leaves_the_other_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let (two, file) = (hosts(dir.path(), 2), long_search(dir.path()));
    let survivor = process(&file, &two, 0, &["--workers", "1"]);
    let mut victim = process(&file, &two, 1, &["--workers", "1"]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(victim.try_wait().unwrap().is_none(), "the search ended before it could be cut");
    victim.kill().unwrap();
    victim.wait().unwrap();
    let (code, rows, err) = rows(wait_for(survivor, Duration::from_secs(60)));
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows[0]["verdict"], "incomplete", "{:?}", rows[0]);
    let message = rows[0]["message"].as_str().unwrap();
    assert!(message.contains("lost a process"), "{message}");
}

#[test]
fn a_process_that_never_joins_leaves_the_search_incomplete_at_the_time_limit() {
    let dir = tempfile::tempdir().unwrap();
    let two = hosts(dir.path(), 2);
    let alone = process(SEED_RACE, &two, 1, &["--max-time", "1", "--variant", "checkpoint_write=fields-only"]);
    let (code, rows, err) = rows(wait_for(alone, Duration::from_secs(30)));
    assert_eq!(code, 1, "{err}");
    assert_eq!(rows[0]["verdict"], "incomplete");
    let message = rows[0]["message"].as_str().unwrap();
    assert!(message.contains("process 0") && message.contains("did not join within the time limit"), "{message}");
}

#[test]
fn processes_searching_different_things_do_not_join() {
    let dir = tempfile::tempdir().unwrap();
    let two = hosts(dir.path(), 2);
    let variants = ["checkpoint_write=fields-only", "checkpoint_write=whole-plan"];
    let children: Vec<Child> =
        (0..2).map(|i| process(SEED_RACE, &two, i, &["--max-time", "20", "--variant", variants[i]])).collect();
    for child in children {
        let (code, rows, err) = rows(wait_for(child, Duration::from_secs(60)));
        assert_eq!(code, 1, "{err}");
        assert_eq!(rows[0]["verdict"], "incomplete");
        let message = rows[0]["message"].as_str().unwrap();
        assert!(message.contains("searching something else"), "{message}");
    }
}

#[test]
fn a_bad_hosts_file_is_named_with_its_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let hosts = dir.path().join("hosts");
    std::fs::write(&hosts, "127.0.0.1:2101\n  127.0.0.1\n").unwrap();
    let h = hosts.to_str().unwrap();
    let out = racecheck(&["check", SEED_RACE, "--hosts", h, "--process", "0"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("{h}:2:3: expected one `host:port` a line")), "{err}");
    assert!(err.contains("found \"127.0.0.1\""), "{err}");
    let out = racecheck(&["check", SEED_RACE, "--hosts", h, "--process", "5"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = racecheck(&["check", SEED_RACE, "--hosts", h]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--hosts without --process");
    std::fs::write(&hosts, "127.0.0.1:2101\n").unwrap();
    let out = racecheck(&["check", SEED_RACE, "--hosts", h, "--process", "1"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("expected --process from 0 to 0") && err.contains("found 1"), "{err}");
}

#[test]
fn limits_make_a_search_on_timely_incomplete() {
    use racecheck::explore::{Cluster, Explorer, Limits, Verdict, explore};
    use std::sync::Arc;
    let s = crate::support::event_loop_scenarios()
        .into_iter()
        .find(|s| s.name == "plan/stale-checkpoint-overwrite")
        .unwrap();
    let e = s.expectations.iter().find(|e| e.label() == "fields-only").unwrap();
    let on_timely = |limits: Limits| Limits { workers: 2, cluster: Some(Arc::new(Cluster::single())), ..limits };
    let backstop = Limits::time(Duration::from_secs(600));
    let cases = [
        (on_timely(Limits::time(Duration::ZERO)), "time limit"),
        (
            on_timely(Limits { max_executions: Some(50), ..backstop.clone() }),
            "a process's share of the execution limit (50)",
        ),
        (on_timely(Limits { max_states: Some(500), ..backstop.clone() }), "a process's share of the state limit (500)"),
    ];
    for (limits, why) in cases {
        let report = explore(&s.model, &e.variant, &Explorer::Stateful, &limits);
        match &report.verdict {
            Verdict::Incomplete { reason } => assert!(reason.starts_with(why), "{why}: {reason}"),
            other => panic!("{why}: a search on timely cut short is {:?}", other.name()),
        }
        // A worker at the limit stops: at most one execution over it each
        // (two check the shared count at once).
        if limits.max_executions.is_some() {
            assert!(report.executions <= 52, "{} executions at a limit of 50", report.executions);
        }
    }
}
