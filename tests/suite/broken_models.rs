//! "Incomplete is never green" for models that go wrong: a model that
//! panics, and two tasks that deadlock on two FIFO mutexes taken in opposite
//! orders. Every explorer must say so (incomplete, or a violation), never
//! `proved` nor `not-found`, so no expectation accepts it; the same model
//! without the fault is proved, so the fault is what each one reports.

use crate::support::test_spec;

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Verdict, explore};
use racecheck::platform::Platform;
use racecheck::runtime::{Cx, FifoMutex, Runtime, Semantics, Shared};
use racecheck::scenario::{Expected, satisfies};
use racecheck::storage::{Contents, Disk};
use racecheck::systems::{Args, DynSystem, FieldError, ModelSystem, Monitor, OpSpec, SystemSpec, Variant, World};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

struct Broken;

static SPEC: SystemSpec = test_spec(
    "broken",
    "models that panic or deadlock",
    &[
        OpSpec { name: "panic", origin: "-", about: "await, then panic", args: &[] },
        OpSpec { name: "count", origin: "-", about: "await, then add one to a counter", args: &[] },
        OpSpec { name: "lock_ab", origin: "-", about: "take a, await, take b", args: &[] },
        OpSpec { name: "lock_ba", origin: "-", about: "take b, await, take a", args: &[] },
    ],
);

#[derive(Debug)]
enum Op {
    Panic,
    Count,
    LockAb,
    LockBa,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

struct BrokenWorld<P: Platform> {
    a: FifoMutex<P>,
    b: FifoMutex<P>,
    count: Shared<P, u64>,
}

impl<P: Platform> World<P> for BrokenWorld<P> {
    type Op = Op;

    fn run(&self, cx: &mut Cx<'_, P>, op: &Op) {
        match op {
            Op::Panic => {
                cx.await_point();
                panic!("the model broke");
            }
            Op::Count => {
                cx.await_point();
                self.count.with(|c| *c += 1);
            }
            Op::LockAb => self.a.with_lock(cx, |cx| {
                cx.await_point();
                self.b.with_lock(cx, |_| ())
            }),
            Op::LockBa => self.b.with_lock(cx, |cx| {
                cx.await_point();
                self.a.with_lock(cx, |_| ())
            }),
        }
    }

    fn final_state(&self) -> Value {
        json!({ "count": self.count.get() })
    }
}

impl ModelSystem for Broken {
    type Setup = ();
    type Op = Op;
    type World<P: Platform> = BrokenWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &SPEC
    }
    fn parse_setup(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
    fn parse_op(&self, _: &(), _: &[String], name: &str, _: &Args) -> Result<Op, FieldError> {
        Ok(match name {
            "panic" => Op::Panic,
            "count" => Op::Count,
            "lock_ab" => Op::LockAb,
            _ => Op::LockBa,
        })
    }
    fn initial_files(&self, _: &()) -> Vec<(String, Contents)> {
        Vec::new()
    }
    fn build<P: Platform>(&self, rt: &Arc<Runtime<P>>, _: Arc<dyn Disk>, _: &(), _: &Variant) -> BrokenWorld<P> {
        BrokenWorld { a: FifoMutex::new(rt, "a"), b: FifoMutex::new(rt, "b"), count: Shared::new(rt, 0) }
    }
    fn monitor(&self, invariant: &str, _: &()) -> Box<dyn Monitor> {
        Box::new(racecheck::systems::monitor::Unknown(invariant.to_string()))
    }
}

static BROKEN: Broken = Broken;

fn model(ops: &[&str]) -> Model {
    let actors: Vec<(String, Vec<(String, Args)>)> =
        ops.iter().enumerate().map(|(i, op)| (format!("t{i}"), vec![(op.to_string(), Args::new())])).collect();
    let system: &'static dyn DynSystem = &BROKEN;
    let compiled = system.compile(&json!({}), &actors).unwrap_or_else(|_| panic!("the model compiles"));
    Model::new("broken/test", system, compiled, Semantics::EventLoop)
}

const EXPLORERS: [Explorer; 6] = [
    Explorer::Stateful,
    Explorer::Dpor,
    Explorer::Exhaustive { bound: None },
    Explorer::Exhaustive { bound: Some(2) },
    Explorer::Pct { depth: 3, schedules: 200, seed: 1 },
    Explorer::Random { schedules: 200, seed: 1 },
];

fn verdicts(model: &Model) -> Vec<(String, Verdict)> {
    let limits = Limits::time(Duration::from_secs(60));
    EXPLORERS.iter().map(|e| (e.describe(), explore(model, &Variant::default(), e, &limits).verdict)).collect()
}

/// Every explorer reports the fault (`what` in its verdict), and no
/// expectation, proved or not-found, accepts it.
fn every_explorer_reports(model: &Model, what: &str) {
    for (explorer, verdict) in verdicts(model) {
        let said = match &verdict {
            Verdict::Incomplete { reason } => reason.clone(),
            Verdict::Violation(f) => format!("{}: {}", f.violation.invariant, f.violation.message),
            other => panic!("{explorer}: {} for a model that {what}", other.name()),
        };
        assert!(said.contains(what), "{explorer}: {said}");
        assert!(!satisfies(&Expected::Proved, &verdict), "{explorer}: accepted as proved");
        assert!(!satisfies(&Expected::NotFound, &verdict), "{explorer}: accepted as not-found");
    }
}

#[test]
fn without_a_fault_every_explorer_proves_the_model() {
    for (explorer, verdict) in verdicts(&model(&["count", "lock_ab", "lock_ab"])) {
        assert!(matches!(verdict, Verdict::Proved { .. } | Verdict::NotFound), "{explorer}: {}", verdict.name());
    }
}

#[test]
fn a_panic_in_the_model_is_never_green() {
    every_explorer_reports(&model(&["count", "panic"]), "the model broke");
}

#[test]
fn a_deadlock_is_never_green() {
    every_explorer_reports(&model(&["lock_ab", "lock_ba"]), "deadlock");
}
