//! One execution: the scenario's actors as tasks on a platform, each running
//! its operations against a freshly built system; then the invariants judge
//! the history and the final state.

use crate::history::{Event, History};
use crate::runtime::{Runtime, Semantics, TurnControl};
use crate::storage::{Disk, MemoryDisk};
use crate::systems::{Backend, Compiled, DynSystem, Variant};
use serde_json::Value;
use std::sync::Arc;

/// A scenario ready to run: system, parsed body, semantics, invariants.
#[derive(Clone)]
pub struct Model {
    /// `<system>/<file stem>`, e.g. `plan/stale-checkpoint-overwrite`.
    pub name: String,
    pub system: &'static dyn DynSystem,
    pub compiled: Arc<dyn Compiled>,
    pub semantics: Semantics,
    pub invariants: Vec<String>,
}

impl Model {
    pub fn actor_count(&self) -> usize {
        self.compiled.actors().len()
    }
}

/// A broken invariant.
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    pub invariant: String,
    pub message: String,
}

/// What one execution did.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub events: Vec<Event>,
    pub final_state: Value,
    pub violation: Option<Violation>,
}

/// Where an execution keeps its files.
pub enum DiskKind {
    /// In the model: every access an atomic step.
    Memory,
    /// A real directory (the `stress` explorer).
    Directory(std::path::PathBuf),
}

/// Runs every actor to completion and judges the invariants, recording
/// into `history` (which the caller keeps, to show a partial trace if the
/// execution panics or deadlocks). Must be called inside the backend's model
/// (loom / shuttle), if any.
pub fn execute<P: Backend>(model: &Model, variant: &Variant, disk: &DiskKind, history: &History) -> Outcome {
    run(model, variant, disk, history, Runtime::<P>::new(model.semantics, history.clone()))
}

/// [`execute`] on an event loop whose turns `control` hands out (the
/// `dpor` explorer), on the memory disk.
pub fn execute_controlled<P: Backend>(
    model: &Model,
    variant: &Variant,
    history: &History,
    control: Arc<dyn TurnControl>,
) -> Outcome {
    run(model, variant, &DiskKind::Memory, history, Runtime::<P>::controlled(history.clone(), control))
}

fn run<P: Backend>(
    model: &Model,
    variant: &Variant,
    disk: &DiskKind,
    history: &History,
    rt: Arc<Runtime<P>>,
) -> Outcome {
    let disk: Arc<dyn Disk> = match disk {
        DiskKind::Memory => Arc::new(MemoryDisk::new(&rt)),
        DiskKind::Directory(root) => Arc::new(crate::storage::DirectoryDisk::new(root.clone())),
    };
    let world: Arc<dyn crate::systems::DynWorld<P>> = P::world(&*model.compiled, &rt, disk, variant).into();
    let actors = model.compiled.actors();
    let handles: Vec<_> = actors
        .iter()
        .enumerate()
        .map(|(a, (name, _))| {
            let world = world.clone();
            let first = if world.op_count(a) > 0 { world.op_label(a, 0) } else { String::new() };
            rt.start(
                name.as_str().into(),
                first.into(),
                Box::new(move |cx| {
                    for op in 0..world.op_count(a) {
                        if op > 0 {
                            cx.await_point(); // the next call arrives later
                        }
                        cx.set_op(world.op_label(a, op));
                        world.run(cx, a, op);
                    }
                }),
            )
        })
        .collect();
    rt.begin();
    for handle in handles {
        if let Err(panic) = P::join(handle) {
            std::panic::resume_unwind(panic);
        }
    }
    if let Err(panic) = rt.join_spawned() {
        std::panic::resume_unwind(panic);
    }
    let final_state = world.final_state();
    let events = history.events();
    let violation = model.invariants.iter().find_map(|inv| {
        model.compiled.check(inv, &events, &final_state).map(|message| Violation { invariant: inv.clone(), message })
    });
    Outcome { events, final_state, violation }
}
