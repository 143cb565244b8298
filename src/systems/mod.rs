//! The modeled systems: one folder per origin, one registration line each.
//!
//! A system is written once against [`Platform`] and knows nothing of
//! explorers or reports. It describes itself ([`SystemSpec`]: operations,
//! variant knobs, invariants), parses its part of a scenario (setup and
//! operation arguments, errors as field paths the scenario layer locates in
//! the file), builds a [`World`] inside each execution, and makes a
//! [`Monitor`] per invariant, which judges the execution event by event.

pub mod args;
pub mod manifest;
pub mod monitor;
pub mod plan;
pub mod runs;

pub use args::{Args, FieldError};
pub use monitor::{FinalState, Monitor};

use crate::platform::{Loom, Platform, Shuttle, Std};
use crate::runtime::{Cx, Runtime};
use crate::storage::{Contents, Disk};
use args::{Fields, PathSeg};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::sync::Arc;

/// Every registered system. Adding a system is one line here.
pub fn registry() -> &'static [&'static dyn DynSystem] {
    &[&plan::PlanSystem, &runs::RunsSystem, &manifest::ManifestSystem]
}

/// The registered system called `name`.
pub fn find(name: &str) -> Option<&'static dyn DynSystem> {
    registry().iter().copied().find(|s| s.spec().name == name)
}

/// An argument an operation takes.
pub struct ArgSpec {
    pub name: &'static str,
    /// What kind of value: `job`, `string`, `integer`, `boolean`...
    pub kind: &'static str,
    pub required: bool,
    pub about: &'static str,
}

pub struct OpSpec {
    pub name: &'static str,
    /// The origin function it models.
    pub origin: &'static str,
    pub about: &'static str,
    pub args: &'static [ArgSpec],
}

/// A code choice of the origin, kept as a named variant.
pub struct KnobSpec {
    pub name: &'static str,
    pub about: &'static str,
    /// (choice, what it does); the fixed choice is the default.
    pub choices: &'static [(&'static str, &'static str)],
    pub default: &'static str,
}

pub struct InvariantSpec {
    pub name: &'static str,
    pub about: &'static str,
}

/// A `[setup]` field: `name` is its path, a table array's fields written
/// `rows[].id`. The loader accepts exactly the fields listed.
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: &'static str,
    pub about: &'static str,
}

/// A situation a proof must reach to mean anything (the race window a
/// scenario is about): `[check] reachable` names them, and a search that
/// never reached one reports `vacuous`, never `proved`.
pub struct ConditionSpec {
    pub name: &'static str,
    pub about: &'static str,
}

/// What a system offers a scenario author.
pub struct SystemSpec {
    pub name: &'static str,
    pub origin: &'static str,
    pub about: &'static str,
    pub setup: &'static [FieldSpec],
    pub ops: &'static [OpSpec],
    pub knobs: &'static [KnobSpec],
    pub invariants: &'static [InvariantSpec],
    pub conditions: &'static [ConditionSpec],
    /// A shipped scenario of the system (its path under `scenarios/` and
    /// its text): what `racecheck new` starts a scenario from.
    pub example: (&'static str, &'static str),
}

impl SystemSpec {
    pub fn op(&self, name: &str) -> Option<&'static OpSpec> {
        self.ops.iter().find(|o| o.name == name)
    }
    pub fn knob(&self, name: &str) -> Option<&'static KnobSpec> {
        self.knobs.iter().find(|k| k.name == name)
    }
    pub fn invariant(&self, name: &str) -> Option<&'static InvariantSpec> {
        self.invariants.iter().find(|i| i.name == name)
    }
    pub fn condition(&self, name: &str) -> Option<&'static ConditionSpec> {
        self.conditions.iter().find(|c| c.name == name)
    }

    /// The keys `[setup]` accepts in `table` (`""`: the top level, `"rows[]"`:
    /// each entry of the `rows` array).
    pub fn setup_keys(&self, table: &str) -> Vec<&'static str> {
        self.setup
            .iter()
            .filter_map(|f| match table {
                "" => (!f.name.contains('.')).then_some(f.name),
                _ => f.name.strip_prefix(table).and_then(|rest| rest.strip_prefix('.')),
            })
            .collect()
    }

    /// The arguments of an operation `name`, which must be one of `ops`,
    /// with no key but `op` and the arguments it takes.
    pub fn op_args<'a>(&self, name: &str, args: &'a Args) -> Result<Fields<'a>, FieldError> {
        let Some(op) = self.op(name) else {
            let valid: Vec<&str> = self.ops.iter().map(|o| o.name).collect();
            return Err(FieldError::one_of(
                &[PathSeg::Key("op".into())],
                &format!("an operation of the {} system", self.name),
                format!("{name:?}"),
                &valid,
            ));
        };
        let mut allowed: Vec<&str> = op.args.iter().map(|a| a.name).collect();
        allowed.push("op");
        Fields::of_map(args, Vec::new(), &allowed)
    }
}

/// Every file on `disk`, for a final state: `.json` files parsed (kept as
/// text if they do not parse), the others as text.
pub fn disk_state(disk: &dyn Disk) -> Value {
    let files: serde_json::Map<String, Value> = disk
        .snapshot()
        .unwrap_or_default()
        .into_iter()
        .map(|(path, text)| {
            let parsed = if path.ends_with(".json") { serde_json::from_str(&text).ok() } else { None };
            (path, parsed.unwrap_or_else(|| Value::String(text.to_string())))
        })
        .collect();
    Value::Object(files)
}

/// One choice for every knob of a system (defaults filled in).
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Variant(pub BTreeMap<String, String>);

impl Variant {
    /// `choices` completed with each knob's default.
    pub fn complete(spec: &SystemSpec, choices: &BTreeMap<String, String>) -> Variant {
        let mut all = BTreeMap::new();
        for knob in spec.knobs {
            let choice = choices.get(knob.name).cloned().unwrap_or_else(|| knob.default.to_string());
            all.insert(knob.name.to_string(), choice);
        }
        Variant(all)
    }

    pub fn choice(&self, knob: &str) -> &str {
        self.0.get(knob).map(String::as_str).unwrap_or("")
    }
}

impl Display for Variant {
    /// `knob=choice,knob=choice`, the form `--variant` accepts.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// A system, statically typed. [`DynSystem`] is derived from it.
pub trait ModelSystem: Send + Sync + 'static {
    type Setup: Send + Sync + 'static;
    type Op: Display + std::fmt::Debug + Send + Sync + 'static;
    type World<P: Platform>: World<P, Op = Self::Op>;

    fn spec(&self) -> &'static SystemSpec;
    /// Parses `[setup]` (a JSON view of the TOML table).
    fn parse_setup(&self, setup: &Value) -> Result<Self::Setup, FieldError>;
    /// What an operation creates that other operations may name (a run
    /// id), each with the argument that names it, read from its raw
    /// arguments before any operation is parsed: `actor` runs it. A
    /// malformed argument creates nothing here; `parse_op` reports it.
    fn creates(&self, _actor: &str, _op: &str, _args: &Args) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Parses one operation of an actor; `setup` is known by then, and
    /// `created` is what every operation of the scenario creates.
    fn parse_op(
        &self,
        setup: &Self::Setup,
        created: &[String],
        name: &str,
        args: &Args,
    ) -> Result<Self::Op, FieldError>;
    /// What the setup must know of the scenario's operations, once they are
    /// parsed (a model that merges two awaits where no operation of the
    /// scenario can tell them apart).
    fn settle(&self, _setup: &mut Self::Setup, _ops: &[&Self::Op]) {}
    /// The files on disk as the scenario starts: built once per scenario,
    /// written again (shared, not rebuilt) before every execution.
    fn initial_files(&self, setup: &Self::Setup) -> Vec<(String, Contents)>;
    /// Builds the state of one execution, inside the model, on a disk that
    /// holds the initial files.
    fn build<P: Platform>(
        &self,
        rt: &Arc<Runtime<P>>,
        disk: Arc<dyn Disk>,
        setup: &Self::Setup,
        variant: &Variant,
    ) -> Self::World<P>;
    /// A monitor of one invariant or reachable condition (its `observe`
    /// says `Some` when the condition is reached), fresh for an execution.
    fn monitor(&self, invariant: &str, setup: &Self::Setup) -> Box<dyn Monitor>;
}

/// The state of one execution of a system.
pub trait World<P: Platform>: Send + Sync + 'static {
    type Op;
    /// Performs one operation as the task `cx`.
    fn run(&self, cx: &mut Cx<'_, P>, op: &Self::Op);
    /// What the system still does on its own once every task has finished
    /// (timers that are due), as the name of the task that does it; `None`:
    /// nothing. An execution ends only when this is `None`.
    fn pending_at_quiescence(&self) -> Option<&'static str> {
        None
    }
    /// Does it, as the task `cx`.
    fn quiesce(&self, _cx: &mut Cx<'_, P>) {}
    /// The persisted state after every task finished.
    fn final_state(&self) -> Value;
}

/// A scenario's actors, as the system parsed them.
pub struct Actor<O> {
    pub name: String,
    pub ops: Vec<O>,
}

/// Where a parse error sits: in `[setup]`, or in an actor's operation.
#[derive(Debug)]
pub enum CompileError {
    Setup(FieldError),
    Op { actor: usize, op: usize, error: FieldError },
}

/// A system, type-erased, for the registry.
pub trait DynSystem: Send + Sync {
    fn spec(&self) -> &'static SystemSpec;
    /// Parses setup and operations once; executions reuse the result.
    fn compile(
        &'static self,
        setup: &Value,
        actors: &[(String, Vec<(String, Args)>)],
    ) -> Result<Arc<dyn Compiled>, CompileError>;
}

/// A parsed scenario body, ready to instantiate on any backend.
pub trait Compiled: Send + Sync {
    /// Each actor's name and operations, as labels (built once, at compile:
    /// every execution starts its actors from them).
    fn actors(&self) -> &[(String, Vec<Arc<str>>)];
    /// What actor `actor` does, every argument included: two actors with the
    /// same signature run the same code on the same data.
    fn signature(&self, actor: usize) -> &str;
    fn world_std(&self, rt: &Arc<Runtime<Std>>, disk: Arc<dyn Disk>, variant: &Variant) -> Box<dyn DynWorld<Std>>;
    fn world_loom(&self, rt: &Arc<Runtime<Loom>>, disk: Arc<dyn Disk>, variant: &Variant) -> Box<dyn DynWorld<Loom>>;
    fn world_shuttle(
        &self,
        rt: &Arc<Runtime<Shuttle>>,
        disk: Arc<dyn Disk>,
        variant: &Variant,
    ) -> Box<dyn DynWorld<Shuttle>>;
    /// A monitor of one invariant, fresh for an execution.
    fn monitor(&self, invariant: &str) -> Box<dyn Monitor>;
}

/// A world whose operations are addressed by (actor, index).
pub trait DynWorld<P: Platform>: Send + Sync {
    fn op_count(&self, actor: usize) -> usize;
    fn op_label(&self, actor: usize, op: usize) -> Arc<str>;
    fn run(&self, cx: &mut Cx<'_, P>, actor: usize, op: usize);
    fn pending_at_quiescence(&self) -> Option<&'static str>;
    fn quiesce(&self, cx: &mut Cx<'_, P>);
    fn final_state(&self) -> Value;
}

/// A backend that can instantiate any compiled scenario.
pub trait Backend: Platform {
    fn world(
        compiled: &dyn Compiled,
        rt: &Arc<Runtime<Self>>,
        disk: Arc<dyn Disk>,
        variant: &Variant,
    ) -> Box<dyn DynWorld<Self>>;
}

impl Backend for Std {
    fn world(c: &dyn Compiled, rt: &Arc<Runtime<Self>>, disk: Arc<dyn Disk>, v: &Variant) -> Box<dyn DynWorld<Self>> {
        c.world_std(rt, disk, v)
    }
}
impl Backend for Loom {
    fn world(c: &dyn Compiled, rt: &Arc<Runtime<Self>>, disk: Arc<dyn Disk>, v: &Variant) -> Box<dyn DynWorld<Self>> {
        c.world_loom(rt, disk, v)
    }
}
impl Backend for Shuttle {
    fn world(c: &dyn Compiled, rt: &Arc<Runtime<Self>>, disk: Arc<dyn Disk>, v: &Variant) -> Box<dyn DynWorld<Self>> {
        c.world_shuttle(rt, disk, v)
    }
}

struct CompiledSystem<S: ModelSystem> {
    system: &'static S,
    setup: Arc<S::Setup>,
    files: Vec<(String, Contents)>,
    actors: Arc<Vec<Actor<S::Op>>>,
    /// Each actor's name and operation labels, and its signature: formatted
    /// once here rather than in every execution.
    labels: Arc<Vec<(String, Vec<Arc<str>>)>>,
    signatures: Vec<String>,
    /// Each invariant's monitor as an execution starts, built from the setup
    /// once and copied for every execution.
    fresh_monitors: std::sync::Mutex<Vec<(String, Box<dyn Monitor>)>>,
}

impl<S: ModelSystem> CompiledSystem<S> {
    fn new(system: &'static S, setup: S::Setup, files: Vec<(String, Contents)>, actors: Vec<Actor<S::Op>>) -> Self {
        let labels = actors.iter().map(|a| (a.name.clone(), a.ops.iter().map(|o| o.to_string().into()).collect()));
        let labels = Arc::new(labels.collect());
        let signatures = actors.iter().map(|a| format!("{:?}", a.ops)).collect();
        let fresh_monitors = Default::default();
        CompiledSystem {
            system,
            setup: Arc::new(setup),
            files,
            actors: Arc::new(actors),
            labels,
            signatures,
            fresh_monitors,
        }
    }
}

struct BoundWorld<P: Platform, S: ModelSystem> {
    world: S::World<P>,
    actors: Arc<Vec<Actor<S::Op>>>,
    labels: Arc<Vec<(String, Vec<Arc<str>>)>>,
}

impl<P: Platform, S: ModelSystem> DynWorld<P> for BoundWorld<P, S> {
    fn op_count(&self, actor: usize) -> usize {
        self.actors[actor].ops.len()
    }
    fn op_label(&self, actor: usize, op: usize) -> Arc<str> {
        self.labels[actor].1[op].clone()
    }
    fn run(&self, cx: &mut Cx<'_, P>, actor: usize, op: usize) {
        self.world.run(cx, &self.actors[actor].ops[op])
    }
    fn pending_at_quiescence(&self) -> Option<&'static str> {
        self.world.pending_at_quiescence()
    }
    fn quiesce(&self, cx: &mut Cx<'_, P>) {
        self.world.quiesce(cx)
    }
    fn final_state(&self) -> Value {
        self.world.final_state()
    }
}

impl<S: ModelSystem> CompiledSystem<S> {
    fn bind<P: Platform>(&self, rt: &Arc<Runtime<P>>, disk: Arc<dyn Disk>, variant: &Variant) -> Box<dyn DynWorld<P>> {
        for (path, contents) in &self.files {
            disk.write(path, contents.clone()).unwrap_or_else(|e| panic!("writing the initial {path}: {e}"));
        }
        let world = self.system.build(rt, disk, &self.setup, variant);
        Box::new(BoundWorld::<P, S> { world, actors: self.actors.clone(), labels: self.labels.clone() })
    }
}

impl<S: ModelSystem> Compiled for CompiledSystem<S> {
    fn actors(&self) -> &[(String, Vec<Arc<str>>)] {
        &self.labels
    }
    fn signature(&self, actor: usize) -> &str {
        &self.signatures[actor]
    }
    fn world_std(&self, rt: &Arc<Runtime<Std>>, disk: Arc<dyn Disk>, v: &Variant) -> Box<dyn DynWorld<Std>> {
        self.bind(rt, disk, v)
    }
    fn world_loom(&self, rt: &Arc<Runtime<Loom>>, disk: Arc<dyn Disk>, v: &Variant) -> Box<dyn DynWorld<Loom>> {
        self.bind(rt, disk, v)
    }
    fn world_shuttle(
        &self,
        rt: &Arc<Runtime<Shuttle>>,
        disk: Arc<dyn Disk>,
        v: &Variant,
    ) -> Box<dyn DynWorld<Shuttle>> {
        self.bind(rt, disk, v)
    }
    fn monitor(&self, invariant: &str) -> Box<dyn Monitor> {
        let mut fresh = self.fresh_monitors.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, monitor)) = fresh.iter().find(|(name, _)| name == invariant) {
            return monitor.boxed_clone();
        }
        let monitor = self.system.monitor(invariant, &self.setup);
        fresh.push((invariant.to_string(), monitor.boxed_clone()));
        monitor
    }
}

impl<S: ModelSystem> DynSystem for S {
    fn spec(&self) -> &'static SystemSpec {
        ModelSystem::spec(self)
    }
    fn compile(
        &'static self,
        setup: &Value,
        actors: &[(String, Vec<(String, Args)>)],
    ) -> Result<Arc<dyn Compiled>, CompileError> {
        let mut setup = self.parse_setup(setup).map_err(CompileError::Setup)?;
        // What the operations create, each named once: a second creation
        // of one name is an error at the operation that makes it.
        let mut created: Vec<String> = Vec::new();
        for (a, (name, ops)) in actors.iter().enumerate() {
            for (o, (op, args)) in ops.iter().enumerate() {
                for (arg, new) in self.creates(name, op, args) {
                    if created.contains(&new) {
                        let path = [PathSeg::Key(arg.into())];
                        let found = format!("{new:?}, which an earlier operation creates");
                        let error = FieldError::new(&path, "a name no other operation creates", found);
                        return Err(CompileError::Op { actor: a, op: o, error });
                    }
                    created.push(new);
                }
            }
        }
        let mut parsed = Vec::new();
        for (a, (name, ops)) in actors.iter().enumerate() {
            let mut list = Vec::new();
            for (o, (op, args)) in ops.iter().enumerate() {
                let op = self.parse_op(&setup, &created, op, args).map_err(|error| CompileError::Op {
                    actor: a,
                    op: o,
                    error,
                })?;
                list.push(op);
            }
            parsed.push(Actor { name: name.clone(), ops: list });
        }
        let ops: Vec<&S::Op> = parsed.iter().flat_map(|a| &a.ops).collect();
        self.settle(&mut setup, &ops);
        let files = self.initial_files(&setup);
        Ok(Arc::new(CompiledSystem::new(self, setup, files, parsed)))
    }
}
