use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::runtime::Semantics;
use racecheck::systems::{Variant, find};
use serde_json::json;
use std::collections::BTreeMap;

fn model63() -> Model {
    let system = find("plan").unwrap();
    let setup = json!({"jobs": [
        {"name": "A", "status": "running", "state": "failed"},
        {"name": "B", "status": "running", "state": "completed"},
        {"name": "C", "status": "running", "state": "completed"}]});
    let op = |name: &str, job: &str| (name.to_string(), json!({"job": job}).as_object().unwrap().clone());
    let actors = vec![
        ("monitor".to_string(), vec![op("handle_job_failed", "A")]),
        ("report-B".to_string(), vec![op("handle_job_complete", "B")]),
        ("report-C".to_string(), vec![op("handle_job_complete", "C")]),
    ];
    let compiled = system.compile(&setup, &actors).unwrap();
    Model {
        name: "plan/smoke".into(),
        system,
        compiled,
        semantics: Semantics::EventLoop,
        invariants: vec!["no-lost-job-update".into()],
    }
}

#[test]
fn smoke() {
    let model = model63();
    for choice in ["whole-plan", "fields-only"] {
        let variant = Variant::complete(
            model.system.spec(),
            &BTreeMap::from([("checkpoint_write".to_string(), choice.to_string())]),
        );
        for bound in [Some(2), Some(3)] {
            let r = explore(&model, &variant, &Explorer::Exhaustive { bound }, &Limits::default());
            eprintln!("{choice} {bound:?}: {} execs={} {:?}", r.verdict.name(), r.executions, r.elapsed);
            if let Verdict::Violation(f) = &r.verdict {
                eprintln!("  {}", f.violation.message);
                for e in &f.events {
                    eprintln!("   {:>3} {:<28} {:<28} {:<16} {:?}", e.step, e.task, e.op, e.func, e.effect);
                }
            }
        }
        let r = explore(&model, &variant, &Explorer::Random { schedules: 1000, seed: 1 }, &Limits::default());
        eprintln!("{choice} random: {} execs={} {:?}", r.verdict.name(), r.executions, r.elapsed);
        let r = explore(&model, &variant, &Explorer::Pct { depth: 3, schedules: 1000, seed: 1 }, &Limits::default());
        eprintln!("{choice} pct3: {} execs={} {:?}", r.verdict.name(), r.executions, r.elapsed);
    }
}
