//! Guarded reads (`explore::stateful`): a lock holder's turn that only read
//! what its lock guards is the only one run from its state. That holds only
//! under the locking discipline (every write of what it read is made under
//! the lock), which the search checks as it goes. Shown on a small model
//! whose reader reads a value twice under a FIFO mutex:
//! - when the writer takes the mutex too, the reduction cuts states and
//!   every explorer reaches the same ends;
//! - when the writer does not, the search meets the breach, starts over
//!   knowing it and says so; without that check it misses the end in which
//!   the write lands between the two reads;
//! - the same for reads of a value nobody had written yet, without a lock;
//! - a read after the reader let the lock go is not guarded by it;
//! - a turn that reads a value and then writes it conflicts like a write.

use crate::support::test_spec;

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Reduction, explore, outcomes, stateful_outcomes};
use racecheck::platform::Platform;
use racecheck::runtime::{Cx, FifoMutex, Runtime, Semantics, Shared};
use racecheck::storage::{Contents, Disk};
use racecheck::systems::{
    Args, DynSystem, FieldError, ModelSystem, Monitor, OpSpec, SystemSpec, Variant, World, disk_state,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn limit() -> Limits {
    Limits::time(Duration::from_secs(60))
}

struct Guarded;

static GUARDED_SPEC: SystemSpec = test_spec(
    "guarded",
    "a value read twice under a lock, and written with or without it",
    &[
        OpSpec { name: "read_twice", origin: "-", about: "under the lock: read, await, read, record both", args: &[] },
        OpSpec { name: "read_twice_unlocked", origin: "-", about: "read, await, read, record both", args: &[] },
        OpSpec {
            name: "read_then_let_go",
            origin: "-",
            about: "under the lock: read; then without it: await, read, record both",
            args: &[],
        },
        OpSpec { name: "claim_1", origin: "-", about: "in one turn: if the value is 0, set it to 1", args: &[] },
        OpSpec { name: "claim_2", origin: "-", about: "in one turn: if the value is 0, set it to 2", args: &[] },
        OpSpec { name: "write_locked", origin: "-", about: "under the lock: write the value", args: &[] },
        OpSpec { name: "write_unlocked", origin: "-", about: "write the value without the lock", args: &[] },
    ],
);

#[derive(Debug)]
enum Op {
    ReadTwice,
    ReadTwiceUnlocked,
    ReadThenLetGo,
    Claim(u64),
    WriteLocked,
    WriteUnlocked,
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

struct GuardedWorld<P: Platform> {
    mutex: FifoMutex<P>,
    value: Shared<P, u64>,
    seen: Shared<P, Vec<u64>>,
    disk: Arc<dyn Disk>,
}

impl<P: Platform> GuardedWorld<P> {
    fn read_twice(&self, cx: &mut Cx<'_, P>) {
        cx.await_point();
        let first = self.value.get();
        cx.await_point();
        let second = self.value.get();
        cx.await_point();
        self.seen.set(vec![first, second]);
    }
}

impl<P: Platform> World<P> for GuardedWorld<P> {
    type Op = Op;

    fn run(&self, cx: &mut Cx<'_, P>, op: &Op) {
        match op {
            Op::ReadTwice => self.mutex.with_lock(cx, |cx| self.read_twice(cx)),
            Op::ReadTwiceUnlocked => self.read_twice(cx),
            Op::ReadThenLetGo => {
                let first = self.mutex.with_lock(cx, |cx| {
                    cx.await_point();
                    self.value.get()
                });
                cx.await_point();
                let second = self.value.get();
                cx.await_point();
                self.seen.set(vec![first, second]);
            }
            Op::Claim(mine) => {
                if self.value.get() == 0 {
                    self.value.set(*mine);
                }
            }
            Op::WriteLocked => self.mutex.with_lock(cx, |_| self.value.set(1)),
            Op::WriteUnlocked => self.value.set(1),
        }
    }

    fn final_state(&self) -> Value {
        json!({ "seen": self.seen.get(), "value": self.value.get(), "disk": disk_state(self.disk.as_ref()) })
    }
}

impl ModelSystem for Guarded {
    type Setup = ();
    type Op = Op;
    type World<P: Platform> = GuardedWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &GUARDED_SPEC
    }
    fn parse_setup(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
    fn parse_op(&self, _: &(), _: &[String], name: &str, _: &Args) -> Result<Op, FieldError> {
        Ok(match name {
            "read_twice" => Op::ReadTwice,
            "read_twice_unlocked" => Op::ReadTwiceUnlocked,
            "read_then_let_go" => Op::ReadThenLetGo,
            "claim_1" => Op::Claim(1),
            "claim_2" => Op::Claim(2),
            "write_locked" => Op::WriteLocked,
            _ => Op::WriteUnlocked,
        })
    }
    fn initial_files(&self, _: &()) -> Vec<(String, Contents)> {
        Vec::new()
    }
    fn build<P: Platform>(&self, rt: &Arc<Runtime<P>>, disk: Arc<dyn Disk>, _: &(), _: &Variant) -> GuardedWorld<P> {
        GuardedWorld {
            mutex: FifoMutex::new(rt, "mutex"),
            value: Shared::new(rt, 0),
            seen: Shared::new(rt, Vec::new()),
            disk,
        }
    }
    fn monitor(&self, invariant: &str, _: &()) -> Box<dyn Monitor> {
        Box::new(racecheck::systems::monitor::Unknown(invariant.to_string()))
    }
}

static GUARDED: Guarded = Guarded;

/// The reader first (the search runs it first), then the writer.
fn model(writer: &str) -> Model {
    model_of("read_twice", writer)
}

fn model_of(reader: &str, writer: &str) -> Model {
    let actors: Vec<(String, Vec<(String, Args)>)> = [("reader", reader), ("writer", writer)]
        .iter()
        .map(|(name, op)| (name.to_string(), vec![(op.to_string(), Args::new())]))
        .collect();
    let system: &'static dyn DynSystem = &GUARDED;
    let compiled = system.compile(&json!({}), &actors).unwrap_or_else(|_| panic!("the guarded model compiles"));
    Model::new("guarded/test", system, compiled, Semantics::EventLoop)
}

fn ends(model: &Model, reduction: Reduction) -> (Vec<String>, usize) {
    let (ends, _, states) = stateful_outcomes(model, &Variant::default(), reduction, &limit()).unwrap();
    (ends.into_iter().collect(), states)
}

fn by_loom(model: &Model) -> Vec<String> {
    let (ends, _) = outcomes(model, &Variant::default(), &Explorer::Exhaustive { bound: None }, &limit()).unwrap();
    ends.into_iter().collect()
}

#[test]
fn under_the_discipline_guarded_reads_cut_states_and_keep_every_end() {
    let model = model("write_locked");
    let plain = Reduction { sleep_sets: false, guarded_reads: false, ..Reduction::default() };
    let (all, plain_states) = ends(&model, plain.clone());
    let (reduced, reduced_states) = ends(&model, Reduction { guarded_reads: true, ..plain });
    assert_eq!(all, by_loom(&model));
    assert_eq!(all.len(), 2, "the write lands before or after both reads: {all:#?}");
    assert_eq!(reduced, all);
    assert!(reduced_states < plain_states, "guarded reads cut nothing: {reduced_states} of {plain_states} states");
    let report = explore(&model, &Variant::default(), &Explorer::Stateful, &limit());
    assert_eq!(report.unguarded, None, "the discipline holds: the reduction stays on");
}

#[test]
fn an_unlocked_write_turns_guarded_reads_off_and_without_the_check_an_end_is_missed() {
    let model = model("write_unlocked");
    let all = by_loom(&model);
    assert_eq!(all.len(), 3, "the write lands before, between or after the reads: {all:#?}");
    let plain = Reduction { sleep_sets: false, guarded_reads: false, ..Reduction::default() };
    assert_eq!(ends(&model, plain.clone()).0, all);
    // Checked: the breach starts the search over without the reduction.
    assert_eq!(ends(&model, Reduction { guarded_reads: true, ..plain.clone() }).0, all);
    assert_eq!(ends(&model, Reduction::default()).0, all);
    let report = explore(&model, &Variant::default(), &Explorer::Stateful, &limit());
    let why = report.unguarded.expect("the report says guarded reads were dropped");
    assert!(why.contains("writer") && why.contains("without a lock"), "{why}");
    // Unchecked: the reads under the lock were taken as movers, and the
    // write between them is never explored.
    let blind = Reduction { guarded_reads: true, check_guards: false, ..plain };
    let (missed, _) = ends(&model, blind);
    assert!(missed.len() < all.len(), "without the check the reduction should miss an end: {missed:#?}");
}

#[test]
fn a_read_of_what_nobody_wrote_yet_is_checked_too() {
    let model = model_of("read_twice_unlocked", "write_unlocked");
    let all = by_loom(&model);
    assert_eq!(all.len(), 3, "the write lands before, between or after the reads: {all:#?}");
    assert_eq!(ends(&model, Reduction::default()).0, all);
    let report = explore(&model, &Variant::default(), &Explorer::Stateful, &limit());
    assert!(report.unguarded.is_some_and(|why| why.contains("writer")), "the report names the write");
    let blind = Reduction { check_guards: false, ..Reduction::default() };
    let (missed, _) = ends(&model, blind);
    assert!(missed.len() < all.len(), "without the check the reduction should miss an end: {missed:#?}");
}

#[test]
fn a_read_after_the_lock_is_let_go_is_not_guarded_by_it() {
    let model = model_of("read_then_let_go", "write_locked");
    let all = by_loom(&model);
    assert_eq!(all.len(), 3, "the write lands before, between or after the reads: {all:#?}");
    assert_eq!(ends(&model, Reduction::default()).0, all);
}

#[test]
fn a_turn_that_reads_then_writes_conflicts_like_a_write() {
    let model = model_of("claim_1", "claim_2");
    let all = by_loom(&model);
    assert_eq!(all.len(), 2, "either claim comes first: {all:#?}");
    assert_eq!(ends(&model, Reduction::default()).0, all);
    let no_guarded_reads = Reduction { guarded_reads: false, ..Reduction::default() };
    assert_eq!(ends(&model, no_guarded_reads).0, all, "sleep sets alone keep both orders");
}
