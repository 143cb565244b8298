//! The manifest system: a run bundle with 1–2 tasks (t1, t2), external writes
//! that landed before the start (their debounce timers armed), and the
//! service's mutators, other processes and the watcher.

use super::{Vocabulary, actors, document, one_of, table};
use crate::scenario::Document;
use crate::scenario::document::op;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const TASKS: [&str; 2] = ["t1", "t2"];

/// The `serverGeneration` an external write carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generation {
    Bumped,
    /// Two ahead of the setup's generation (another instance patched twice).
    Ahead,
    OtherRun,
    /// Only with `Features::same_generation`.
    Same,
}

/// What an external write does to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskEdit {
    Status(usize, &'static str),
    /// Another instance's worker claims it.
    Claim(usize),
}

#[derive(Clone, Debug)]
pub struct WriteSketch {
    pub plan_file: bool,
    pub generation: Generation,
    pub task: Option<TaskEdit>,
    /// Only with `Features::unwatched`.
    pub unwatched: bool,
}

#[derive(Clone, Debug)]
pub struct SetupSketch {
    pub generation: i64,
    pub cached: bool,
    pub tasks: usize,
    pub landed: Vec<WriteSketch>,
    /// Only with `Features::self_write_window`.
    pub recent_self_write: bool,
}

#[derive(Clone, Debug)]
pub enum OpSketch {
    LoadIntoRuntime,
    ManifestPatch { if_match: &'static str, task: Option<(usize, &'static str)> },
    ClaimTask(usize),
    ReleaseTask(usize),
    Heartbeat,
    ExternalWrite(WriteSketch),
    WatcherFire(Option<&'static str>),
    AdvanceClock(i64),
}

fn task_edit() -> BoxedStrategy<TaskEdit> {
    prop_oneof![
        (0..2usize, prop::sample::select(&["done", "blocked"][..])).prop_map(|(t, s)| TaskEdit::Status(t, s)),
        (0..2usize).prop_map(TaskEdit::Claim),
    ]
    .boxed()
}

/// External writes: `Same` generations only with the feature, `OtherRun` only `landed`.
fn write(v: &Vocabulary, landed: bool) -> BoxedStrategy<WriteSketch> {
    let mut generations = vec![Generation::Bumped, Generation::Ahead];
    if landed {
        generations.push(Generation::OtherRun);
    }
    if v.features.same_generation {
        generations.push(Generation::Same);
    }
    let unwatched = v.features.unwatched;
    (any::<bool>(), prop::sample::select(generations), option::of(task_edit()), any::<bool>())
        .prop_map(move |(plan_file, generation, task, u)| WriteSketch {
            plan_file,
            generation,
            task,
            unwatched: unwatched && u,
        })
        .boxed()
}

fn op_strategy(v: &Vocabulary) -> BoxedStrategy<OpSketch> {
    use OpSketch::*;
    let patch = (
        prop::sample::select(&["cached", "initial", "disk"][..]),
        option::of((0..2usize, prop::sample::select(&["done", "blocked", "in_progress"][..]))),
    )
        .prop_map(|(if_match, task)| ManifestPatch { if_match, task });
    one_of(
        v,
        vec![
            ("load_into_runtime", Just(LoadIntoRuntime).boxed()),
            ("manifest_patch", patch.boxed()),
            ("claim_task", (0..2usize).prop_map(ClaimTask).boxed()),
            ("release_task", (0..2usize).prop_map(ReleaseTask).boxed()),
            ("heartbeat", Just(Heartbeat).boxed()),
            ("external_write", write(v, false).prop_map(ExternalWrite).boxed()),
            ("watcher_fire", option::of(prop::sample::select(&["manifest", "plan"][..])).prop_map(WatcherFire).boxed()),
            ("advance_clock", prop::sample::select(&[20i64, 2000][..]).prop_map(AdvanceClock).boxed()),
        ],
    )
}

fn setup_strategy(v: &Vocabulary) -> BoxedStrategy<SetupSketch> {
    (prop::sample::select(&[4i64, 1][..]), any::<bool>(), 1..=2usize, vec(write(v, true), 0..=2), any::<bool>())
        .prop_map(|(generation, uncached, tasks, landed, recent_self_write)| SetupSketch {
            generation,
            cached: !uncached,
            tasks,
            landed,
            recent_self_write,
        })
        .boxed()
}

pub fn documents(v: &Vocabulary) -> BoxedStrategy<Document> {
    let v2 = v.clone();
    (actors(op_strategy(v)), setup_strategy(v)).prop_map(move |(actors, setup)| render(&v2, &setup, &actors)).boxed()
}

/// The fields of an external write, as an op's arguments or a setup entry.
fn write_fields(w: &WriteSketch, generation: i64, tasks: usize) -> Vec<(&'static str, Value)> {
    if w.plan_file {
        let mut fields = vec![("file", json!("plan"))];
        if w.unwatched {
            fields.push(("watched", json!(false)));
        }
        return fields;
    }
    let mut fields = vec![(
        "generation",
        match w.generation {
            Generation::Bumped => json!("bumped"),
            Generation::Ahead => json!(generation + 2),
            Generation::OtherRun => json!("other-run"),
            Generation::Same => json!("same"),
        },
    )];
    match w.task {
        Some(TaskEdit::Status(t, s)) => {
            fields.push(("task", json!(TASKS[t % tasks])));
            fields.push(("status", json!(s)));
        }
        Some(TaskEdit::Claim(t)) => {
            fields.push(("task", json!(TASKS[t % tasks])));
            fields.push(("assignee", json!("remote-worker")));
        }
        None => {}
    }
    if w.unwatched {
        fields.push(("watched", json!(false)));
    }
    fields
}

pub fn render(v: &Vocabulary, setup: &SetupSketch, actors: &[Vec<OpSketch>]) -> Document {
    let tasks = setup.tasks;
    let mut s = Map::new();
    s.insert("generation".into(), json!(setup.generation));
    s.insert("cached".into(), json!(setup.cached));
    if v.features.self_write_window && setup.recent_self_write {
        s.insert("recent_self_write_until".into(), json!(1000));
    }
    s.insert(
        "tasks".into(),
        Value::Array(TASKS[..tasks].iter().map(|t| Value::Object(table(vec![("id", Some(json!(t)))]))).collect()),
    );
    // A write "ahead" of the setup is ahead of every earlier landed write too.
    let mut landed = Vec::new();
    let mut generation = setup.generation;
    for w in &setup.landed {
        let fields = write_fields(w, generation, tasks);
        generation = match (w.plan_file, w.generation) {
            (true, _) | (false, Generation::Same) => generation,
            (false, Generation::Bumped) => generation + 1,
            (false, Generation::Ahead) => generation + 2,
            (false, Generation::OtherRun) => 1,
        };
        landed.push(Value::Object(fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()));
    }
    if !landed.is_empty() {
        s.insert("external_writes".into(), Value::Array(landed));
    }
    let task = |t: usize| json!(TASKS[t % tasks]);
    let render_op = |o: &OpSketch| -> Map<String, Value> {
        match o {
            OpSketch::LoadIntoRuntime => op("load_into_runtime", &[]),
            OpSketch::ManifestPatch { if_match, task: t } => {
                let mut args = vec![("if_match", json!(if_match))];
                if let Some((t, st)) = t {
                    args.push(("task", task(*t)));
                    args.push(("status", json!(st)));
                }
                op("manifest_patch", &args)
            }
            OpSketch::ClaimTask(t) => op("claim_task", &[("task", task(*t))]),
            OpSketch::ReleaseTask(t) => op("release_task", &[("task", task(*t))]),
            OpSketch::Heartbeat => op("heartbeat", &[]),
            // Ops cannot know the generation on disk: "ahead" is `bumped` for them.
            OpSketch::ExternalWrite(w) => {
                let w = WriteSketch {
                    generation: if w.generation == Generation::Ahead { Generation::Bumped } else { w.generation },
                    ..w.clone()
                };
                op("external_write", &write_fields(&w, 0, tasks))
            }
            OpSketch::WatcherFire(file) => match file {
                Some(f) => op("watcher_fire", &[("file", json!(f))]),
                None => op("watcher_fire", &[]),
            },
            OpSketch::AdvanceClock(ms) => op("advance_clock", &[("ms", json!(ms))]),
        }
    };
    let actors = actors.iter().map(|ops| ops.iter().map(render_op).collect()).collect();
    document(v, s, actors)
}
