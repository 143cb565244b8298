//! Writers of the bundle outside the service: a git checkout or pull in the
//! lane worktree, another ADE instance (`ade serve`, the CLI), an agent
//! editing `plan.md`. They replace the file directly, under no lock the
//! service knows of; the service's watcher then gets a change event.

use super::bundle::{BundleFile, Manifest, OTHER_RUN_ID, make_etag, manifest_contents, parse};
use super::orchestration_service::RunRuntime;
use crate::history::Effect;
use crate::platform::Platform;
use crate::runtime::Cx;
use crate::storage::Contents;
use serde_json::json;

/// The `serverGeneration` an external manifest write carries.
#[derive(Clone, Debug, PartialEq)]
pub enum GenerationChoice {
    /// One more than the file it replaces (another instance's patch, a pull).
    Bumped,
    /// The same as the file it replaces, with a new etag.
    Same,
    /// Another run's manifest (a checkout of a branch with another bundle).
    OtherRun,
    /// The run's own manifest again over another's (a checkout back to the
    /// run's branch): one generation more than the file it replaces.
    OwnRun,
    /// Exactly this generation, content derived from the file it replaces.
    Exactly(u64),
}

impl GenerationChoice {
    pub const NAMES: &'static [&'static str] = &["bumped", "same", "other-run", "own-run"];

    pub fn label(&self) -> String {
        match self {
            GenerationChoice::Bumped => "bumped".into(),
            GenerationChoice::Same => "same".into(),
            GenerationChoice::OtherRun => "other-run".into(),
            GenerationChoice::OwnRun => "own-run".into(),
            GenerationChoice::Exactly(g) => format!("generation {g}"),
        }
    }
}

/// A task as the external writer leaves it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskChange {
    pub id: String,
    pub status: String,
    pub assignee: Option<String>,
    pub lease_ms: u64,
}

/// One write of another process.
#[derive(Clone, Debug, PartialEq)]
pub struct ExternalChange {
    pub file: BundleFile,
    pub generation: GenerationChoice,
    pub task: Option<TaskChange>,
    /// The service's watcher sees the change (chokidar fires `change`).
    pub watched: bool,
}

/// The manifest `change` leaves on disk over `current`, in a bundle of the
/// run `own_run`.
pub fn external_manifest(
    current: Manifest,
    change: &ExternalChange,
    own_run: &str,
    writer: &str,
    salt: usize,
    now: u64,
) -> Manifest {
    let summary = format!("external write by {writer}");
    let mut next = match change.generation {
        GenerationChoice::OtherRun => {
            let etag = make_etag(1, writer, salt);
            let mut other = Manifest::created(OTHER_RUN_ID, 1, etag, current.tasks, now);
            other.history[0].summary = summary.clone();
            other
        }
        ref g => {
            let generation = match g {
                GenerationChoice::Bumped | GenerationChoice::OwnRun => current.server_generation + 1,
                GenerationChoice::Same => current.server_generation,
                GenerationChoice::Exactly(n) => *n,
                GenerationChoice::OtherRun => unreachable!(),
            };
            let mut next =
                current.next_version(generation, make_etag(generation, writer, salt), now, summary, "external");
            if *g == GenerationChoice::OwnRun {
                next.run_id = own_run.to_string();
            }
            next
        }
    };
    if let Some(t) = &change.task
        && let Some(task) = next.task_mut(&t.id)
    {
        task.status = t.status.clone();
        task.assignee_session_id = t.assignee.clone();
        task.claimed_at = t.assignee.as_ref().map(|_| now);
        task.claim_lease_until = t.assignee.as_ref().map(|_| now + t.lease_ms);
    }
    next
}

/// The `plan.md` an external edit leaves on disk.
pub fn external_plan(current: &str, writer: &str, salt: usize) -> String {
    format!("{current}\n<!-- edited by {writer} ({salt}) -->\n")
}

/// The other process writes the file (one await: its rename lands at some
/// point), and chokidar's change event re-arms the debounce timer.
pub fn external_write<P: Platform>(rt: &RunRuntime<P>, cx: &mut Cx<'_, P>, change: &ExternalChange) {
    cx.await_point();
    let disk = rt.files.disk().clone();
    let writer = cx.task().to_string();
    let salt = cx.now();
    let path = change.file.path();
    let current = match disk.read(path) {
        Ok(c) => c,
        Err(e) => {
            cx.record("externalWrite", Effect::Threw { error: e.to_string() });
            return;
        }
    };
    let (text, meta) = match change.file {
        BundleFile::Manifest => {
            let Some(current) = current.as_ref().and_then(parse) else {
                cx.record("externalWrite", Effect::Threw { error: "no manifest.json to change".into() });
                return;
            };
            let next = external_manifest(current, change, &rt.run_id, &writer, salt, rt.now());
            let meta = json!({ "external": true, "generation": next.server_generation, "etag": next.etag });
            (manifest_contents(&next), meta)
        }
        BundleFile::Plan => {
            let text = external_plan(current.as_ref().map_or("", |c| c.as_text()), &writer, salt);
            (Contents::text(text), json!({ "external": true }))
        }
    };
    if let Err(e) = disk.write(path, text.clone()) {
        cx.record("externalWrite", Effect::Threw { error: e.to_string() });
        return;
    }
    cx.record("externalWrite", Effect::Wrote { res: path.into(), value: text, meta });
    if change.watched {
        rt.debounced_reload(cx, change.file);
    }
}
