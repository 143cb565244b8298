//! What a task's chain may leave out, each shown necessary by breaking it
//! on purpose on a small model built for it:
//! - a spawned task starts from the values its spawner hands it (`Cx::spawn`'s
//!   `captured`): a value handed over but not declared merges two tasks that
//!   go on differently, and the search misses an end (or its determinism
//!   check stops it);
//! - `Date.now()` counts its readings, and a reading forgotten with the call
//!   that made it still moves the clock: the clock stays in the state.

use crate::support::test_spec;

use racecheck::execution::Model;
use racecheck::explore::{Explorer, Limits, Reduction, outcomes, stateful_outcomes};
use racecheck::platform::Platform;
use racecheck::runtime::{Cx, Flag, Runtime, Semantics, StateParts, fingerprint};
use racecheck::storage::{Contents, Disk, Files};
use racecheck::systems::{
    Args, DynSystem, FieldError, ModelSystem, Monitor, OpSpec, SystemSpec, Variant, World, disk_state,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

fn limit() -> Limits {
    Limits::time(Duration::from_secs(60))
}

struct Probe;

static PROBE_SPEC: SystemSpec = test_spec(
    "probe",
    "tasks that hand values to tasks they spawn, and read the clock",
    &[
        OpSpec {
            name: "hand_off",
            origin: "-",
            about: "read `value`, spawn a task that writes it to `out`",
            args: &[],
        },
        OpSpec { name: "change", origin: "-", about: "write `value`", args: &[] },
        OpSpec { name: "raise", origin: "-", about: "set the flag", args: &[] },
        OpSpec { name: "stamp", origin: "-", about: "read the clock if raised, then stamp it if raised", args: &[] },
    ],
);

#[derive(Debug, Clone, Copy)]
enum ProbeOp {
    HandOff,
    Change,
    Raise,
    Stamp,
}

impl std::fmt::Display for ProbeOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

struct ProbeWorld<P: Platform> {
    files: Files,
    disk: Arc<dyn Disk>,
    raised: Flag<P>,
    /// The spawner declares what it hands over (else: nothing).
    honest: bool,
}

impl<P: Platform> World<P> for ProbeWorld<P> {
    type Op = ProbeOp;

    fn run(&self, cx: &mut Cx<'_, P>, op: &ProbeOp) {
        match op {
            ProbeOp::HandOff => {
                let (_, read) = self.files.read(cx, "handOff", "value").unwrap();
                let value = read.map(|c| c.as_text().to_string()).unwrap_or_default();
                let captured = if self.honest { fingerprint(&value) } else { fingerprint(&()) };
                let files = Files::new(self.disk.clone());
                cx.spawn(
                    "child",
                    &captured,
                    Box::new(move |cx| {
                        files.write(cx, "child", "out", value, json!({})).unwrap();
                    }),
                );
            }
            ProbeOp::Change => {
                self.files.write(cx, "change", "value", "changed", json!({})).unwrap();
            }
            ProbeOp::Raise => self.raised.store(cx, true),
            ProbeOp::Stamp => {
                // A reading made and forgotten in a call: the chain drops it,
                // the clock keeps it.
                cx.call(|cx| {
                    if self.raised.load(cx) {
                        cx.now();
                    }
                });
                cx.await_point();
                if self.raised.load(cx) {
                    let now = cx.now();
                    self.files.write(cx, "stamp", "stamp", now.to_string(), json!({})).unwrap();
                }
            }
        }
    }

    fn final_state(&self) -> Value {
        disk_state(self.disk.as_ref())
    }
}

impl ModelSystem for Probe {
    type Setup = ();
    type Op = ProbeOp;
    type World<P: Platform> = ProbeWorld<P>;

    fn spec(&self) -> &'static SystemSpec {
        &PROBE_SPEC
    }
    fn parse_setup(&self, _: &Value) -> Result<(), FieldError> {
        Ok(())
    }
    fn parse_op(&self, _: &(), _: &[String], name: &str, _: &Args) -> Result<ProbeOp, FieldError> {
        Ok(match name {
            "hand_off" => ProbeOp::HandOff,
            "change" => ProbeOp::Change,
            "raise" => ProbeOp::Raise,
            _ => ProbeOp::Stamp,
        })
    }
    fn initial_files(&self, _: &()) -> Vec<(String, Contents)> {
        vec![("value".to_string(), Contents::text("initial"))]
    }
    fn build<P: Platform>(&self, rt: &Arc<Runtime<P>>, disk: Arc<dyn Disk>, _: &(), v: &Variant) -> ProbeWorld<P> {
        let honest = v.0.get("captures").is_some_and(|c| c == "declared");
        ProbeWorld { files: Files::new(disk.clone()), disk, raised: Flag::new(rt, "raised", false), honest }
    }
    fn monitor(&self, invariant: &str, _: &()) -> Box<dyn Monitor> {
        Box::new(racecheck::systems::monitor::Unknown(invariant.to_string()))
    }
}

static PROBE: Probe = Probe;

fn model(ops: &[&str]) -> Model {
    let actors: Vec<(String, Vec<(String, Args)>)> =
        ops.iter().map(|op| (op.to_string(), vec![(op.to_string(), Args::new())])).collect();
    let system: &'static dyn DynSystem = &PROBE;
    let compiled = system.compile(&json!({}), &actors).unwrap_or_else(|_| panic!("the probe model compiles"));
    Model::new("probe/test", system, compiled, Semantics::EventLoop)
}

fn captures(how: &str) -> Variant {
    Variant(BTreeMap::from([("captures".to_string(), how.to_string())]))
}

/// The spawned task writes what its spawner read: "initial" or "changed".
/// Declared, the search finds both ends; not declared, the two spawned
/// tasks look alike once the change is written, and one end is lost.
#[test]
fn a_value_handed_to_a_spawned_task_must_be_declared() {
    let model = model(&["hand_off", "change"]);
    let declared = captures("declared");
    let (truth, _) = outcomes(&model, &declared, &Explorer::Dpor, &limit()).unwrap();
    assert_eq!(truth.len(), 2, "the child writes either value");
    let (found, _, _) = stateful_outcomes(&model, &declared, Reduction::default(), &limit()).unwrap();
    assert_eq!(found, truth, "declared, the stateful search finds dpor's ends");

    let omitted = captures("omitted");
    assert_eq!(outcomes(&model, &omitted, &Explorer::Dpor, &limit()).unwrap().0, truth, "dpor keeps no states");
    let blind = Reduction { check_revisits: false, sleep_sets: false, ..Reduction::default() };
    let (missing, _, _) = stateful_outcomes(&model, &omitted, blind, &limit()).unwrap();
    assert!(missing.len() < truth.len() && missing.is_subset(&truth), "omitted: {missing:?} of {truth:?}");
    let checked = Reduction { sleep_sets: false, ..Reduction::default() };
    let err = stateful_outcomes(&model, &omitted, checked, &limit()).unwrap_err();
    assert!(err.contains("not deterministic"), "{err}");
}

/// `stamp` reads the clock in a call only if `raise` ran first, and the
/// call forgets the reading; once raised, it stamps the clock: 1 if it
/// read it before, 0 if not (or no stamp, if it looked before the raise).
/// The two orders of `raise` and the call meet in one state but for the
/// clock.
#[test]
fn the_clock_is_needed_in_a_fingerprint() {
    let model = model(&["raise", "stamp"]);
    let variant = Variant::default();
    let (truth, _) = outcomes(&model, &variant, &Explorer::Dpor, &limit()).unwrap();
    assert_eq!(truth.len(), 3, "the stamp is 0, 1 or not written");
    let (found, _, _) = stateful_outcomes(&model, &variant, Reduction::default(), &limit()).unwrap();
    assert_eq!(found, truth);
    let parts = StateParts { clock: false, ..StateParts::ALL };
    let blind = Reduction { parts, check_revisits: false, sleep_sets: false, ..Reduction::default() };
    let (missing, _, _) = stateful_outcomes(&model, &variant, blind, &limit()).unwrap();
    assert!(missing.len() < truth.len() && missing.is_subset(&truth), "without the clock: {missing:?} of {truth:?}");
}
