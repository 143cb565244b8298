//! One test per `[[expect]]` of every scenario under `scenarios/`, named
//! `<system>/<file stem>::<variant>` (e.g. `plan/stale-checkpoint-overwrite::whole-plan`),
//! so `cargo test stale` filters as usual and a new file needs no Rust.

use libtest_mimic::{Arguments, Failed, Trial};
use racecheck::explore::{Limits, Verdict};
use racecheck::report;
use racecheck::scenario::{self, check_expectation};
use std::path::PathBuf;

fn main() {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = scenario::discover(std::slice::from_ref(&root)).expect("scenarios/ is readable");
    let mut trials = Vec::new();
    for file in files {
        let shown = file.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(&file).display().to_string();
        match scenario::load(&file) {
            Err(error) => trials.push(Trial::test(format!("{}::load", shown.trim_start_matches('/')), move || {
                Err(Failed::from(error.to_string()))
            })),
            Ok(s) => {
                // Recorded schedules first: deterministic and fast.
                for (i, regression) in s.regressions.clone().into_iter().enumerate() {
                    let s = s.clone();
                    trials.push(Trial::test(format!("{}::regression-{}", s.name, i + 1), move || {
                        scenario::check_regression(&s, &regression, Limits::default().max_time).map_err(Failed::from)
                    }));
                }
                for expectation in s.expectations.clone() {
                    let s = s.clone();
                    let shown = shown.clone();
                    trials.push(Trial::test(format!("{}::{}", s.name, expectation.label()), move || {
                        let check = check_expectation(&s, &expectation, &s.explore, &Limits::default());
                        if check.holds {
                            return Ok(());
                        }
                        let mut message = format!(
                            "expected {}, got {}",
                            report::expected_text(&expectation.expected),
                            report::verdict_text(&check.report.verdict)
                        );
                        if let Verdict::Violation(f) = &check.report.verdict {
                            let replay = report::replay_command(
                                shown.trim_start_matches('/'),
                                &expectation.variant.to_string(),
                                f,
                            );
                            message.push('\n');
                            message.push_str(&report::timeline(f, &replay));
                        }
                        Err(Failed::from(message))
                    }));
                }
            }
        }
    }
    libtest_mimic::run(&args, trials).exit();
}
