//! The runs system: 1–3 workflow run rows (X, Y, Z) in archetypal states on
//! one or two worktrees, and the web, chat, CLI and executor callers.

use super::{Vocabulary, actors, document, one_of, table};
use crate::scenario::Document;
use crate::scenario::document::op;
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const IDS: [&str; 3] = ["X", "Y", "Z"];
const WORKFLOWS: [&str; 2] = ["fix-issue", "write-docs"];

/// A row as the scenario starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowKind {
    /// failed with completed nodes: resumable.
    Failed,
    /// paused at an approval gate: resumable.
    Paused,
    /// running, its executor alive (active a moment ago).
    Running,
    Completed,
    /// running, idle for 25 hours: a stale orphan.
    StaleRunning,
    Cancelled,
    /// failed before any node completed: nothing to resume.
    FailedEmpty,
}

const KINDS: &[RowKind] = &[
    RowKind::Failed,
    RowKind::Paused,
    RowKind::Running,
    RowKind::Completed,
    RowKind::StaleRunning,
    RowKind::Cancelled,
    RowKind::FailedEmpty,
];

#[derive(Clone, Debug)]
pub struct RowSketch {
    pub kind: RowKind,
    /// `/wt/p0` or `/wt/p1`.
    pub path: usize,
    pub workflow: usize,
    pub conversation: usize,
    pub ends: &'static str,
}

#[derive(Clone, Debug)]
pub struct SetupSketch {
    pub rows: Vec<RowSketch>,
    /// Only with `Features::same_second`.
    pub same_second: bool,
    /// The workflow's `interactive:` flag (web dispatches in the foreground).
    pub interactive: bool,
}

/// An operation; runs and paths are indices into the setup's rows and paths.
#[derive(Clone, Debug)]
pub enum OpSketch {
    WebResume(usize),
    /// The run, and whether the message comes from the web UI's chat.
    ChatRedispatch(usize, bool),
    CliResume(usize),
    CliRun {
        path: usize,
        resume: bool,
        /// A fresh run in the checkout (`--no-worktree`), not a worktree of its own.
        no_worktree: bool,
    },
    WebCancel(usize),
    FindResumableRun(usize),
    HydrateResumableRun(usize),
    ResumeRun(usize),
    CancelRun(usize),
    CompleteRun(usize),
    FailRun(usize),
    PauseRun(usize),
    Heartbeat(usize),
    /// The live executor of a row (which is then live).
    ExecuteWorkflow(usize),
    ServerRestart,
    AdvanceClock(i64),
}

fn run() -> BoxedStrategy<usize> {
    (0..IDS.len()).boxed()
}

fn op_strategy(v: &Vocabulary) -> BoxedStrategy<OpSketch> {
    use OpSketch::*;
    one_of(
        v,
        vec![
            ("web_resume", run().prop_map(WebResume).boxed()),
            ("chat_redispatch", (run(), any::<bool>()).prop_map(|(r, web)| ChatRedispatch(r, web)).boxed()),
            ("cli_resume", run().prop_map(CliResume).boxed()),
            (
                "cli_run",
                (0..2usize, any::<bool>(), any::<bool>())
                    .prop_map(|(path, r, w)| CliRun { path, resume: !r, no_worktree: !w })
                    .boxed(),
            ),
            ("web_cancel", run().prop_map(WebCancel).boxed()),
            ("find_resumable_run", (0..2usize).prop_map(FindResumableRun).boxed()),
            ("hydrate_resumable_run", run().prop_map(HydrateResumableRun).boxed()),
            ("resume_run", run().prop_map(ResumeRun).boxed()),
            ("cancel_run", run().prop_map(CancelRun).boxed()),
            ("complete_run", run().prop_map(CompleteRun).boxed()),
            ("fail_run", run().prop_map(FailRun).boxed()),
            ("pause_run", run().prop_map(PauseRun).boxed()),
            ("heartbeat", run().prop_map(Heartbeat).boxed()),
            ("execute_workflow", run().prop_map(ExecuteWorkflow).boxed()),
            ("server_restart", Just(ServerRestart).boxed()),
            ("advance_clock", prop::sample::select(&[1i64, 25][..]).prop_map(AdvanceClock).boxed()),
        ],
    )
}

fn setup_strategy() -> BoxedStrategy<SetupSketch> {
    let row = (
        prop::sample::select(KINDS),
        0..2usize,
        0..2usize,
        0..2usize,
        prop::sample::select(&["completed", "failed", "paused"][..]),
    )
        .prop_map(|(kind, path, workflow, conversation, ends)| RowSketch {
            kind,
            path,
            workflow,
            conversation,
            ends,
        });
    (vec(row, 1..=3), any::<bool>(), any::<bool>())
        .prop_map(|(rows, same_second, interactive)| SetupSketch { rows, same_second, interactive })
        .boxed()
}

pub fn documents(v: &Vocabulary) -> BoxedStrategy<Document> {
    let v2 = v.clone();
    (actors(op_strategy(v)), setup_strategy()).prop_map(move |(actors, setup)| render(&v2, &setup, &actors)).boxed()
}

fn row_table(i: usize, row: &RowSketch) -> Map<String, Value> {
    let (status, nodes, hours_ago) = match row.kind {
        RowKind::Failed => ("failed", 2, None),
        RowKind::Paused => ("paused", 1, None),
        RowKind::Running => ("running", 1, None),
        RowKind::Completed => ("completed", 1, None),
        RowKind::StaleRunning => ("running", 1, Some(25)),
        RowKind::Cancelled => ("cancelled", 1, None),
        RowKind::FailedEmpty => ("failed", 0, None),
    };
    table(vec![
        ("id", Some(json!(IDS[i]))),
        ("status", Some(json!(status))),
        ("workflow", Some(json!(WORKFLOWS[row.workflow]))),
        ("conversation", Some(json!(format!("conv-{}", row.conversation + 1)))),
        ("working_path", Some(json!(format!("/wt/p{}", row.path)))),
        ("completed_nodes", (nodes != 1).then(|| json!(nodes))),
        ("last_activity_hours_ago", hours_ago.map(|h: i64| json!(h))),
        ("ends", (row.ends != "completed").then(|| json!(row.ends))),
    ])
}

pub fn render(v: &Vocabulary, setup: &SetupSketch, actors: &[Vec<OpSketch>]) -> Document {
    let rows = &setup.rows;
    let mut paths: Vec<String> = Vec::new();
    for r in rows {
        let p = format!("/wt/p{}", r.path);
        if !paths.contains(&p) {
            paths.push(p);
        }
    }
    let id = |r: usize| json!(IDS[r % rows.len()]);
    let path = |p: usize| json!(paths[p % paths.len()]);
    // A row has at most one live executor: the first execute_workflow of
    // it, or the first complete_run, fail_run or pause_run of it standing
    // for that executor's final write. Later ones are dropped, and the row
    // is live: running, active a moment ago, whatever the setup drew.
    // Nothing else finishes a run (see path-lock-self-cancel-overwrites-completion).
    let mut claimed: Vec<usize> = Vec::new();
    // Run ids are unique: each operation that may start a fresh run names it.
    let mut fresh = 0;
    let mut render_op = |o: &OpSketch| -> Option<Map<String, Value>> {
        let mut claim = |r: usize| -> Option<Value> {
            let row = r % rows.len();
            if claimed.contains(&row) {
                return None;
            }
            claimed.push(row);
            Some(json!(IDS[row]))
        };
        let mut new_run = || {
            fresh += 1;
            ("new_run", json!(format!("N{fresh}")))
        };
        Some(match o {
            OpSketch::WebResume(r) => op("web_resume", &[("run", id(*r)), new_run()]),
            OpSketch::ChatRedispatch(r, web) => {
                let platform = json!(if *web { "web" } else { "chat" });
                op("chat_redispatch", &[("run", id(*r)), new_run(), ("platform", platform)])
            }
            OpSketch::CliResume(r) => op("cli_resume", &[("run", id(*r))]),
            OpSketch::CliRun { path: p, resume, no_worktree } => {
                let mut args = vec![("path", path(*p)), ("resume", json!(resume)), new_run()];
                if !resume && *no_worktree {
                    args.push(("no_worktree", json!(true)));
                }
                op("cli_run", &args)
            }
            OpSketch::WebCancel(r) => op("web_cancel", &[("run", id(*r))]),
            OpSketch::FindResumableRun(p) => op("find_resumable_run", &[("path", path(*p))]),
            OpSketch::HydrateResumableRun(r) => op("hydrate_resumable_run", &[("run", id(*r))]),
            OpSketch::ResumeRun(r) => op("resume_run", &[("run", id(*r))]),
            OpSketch::CancelRun(r) => op("cancel_run", &[("run", id(*r))]),
            OpSketch::CompleteRun(r) => op("complete_run", &[("run", claim(*r)?)]),
            OpSketch::FailRun(r) => op("fail_run", &[("run", claim(*r)?)]),
            OpSketch::PauseRun(r) => op("pause_run", &[("run", claim(*r)?)]),
            OpSketch::Heartbeat(r) => op("heartbeat", &[("run", id(*r))]),
            OpSketch::ExecuteWorkflow(r) => op("execute_workflow", &[("run", claim(*r)?)]),
            OpSketch::ServerRestart => op("server_restart", &[]),
            OpSketch::AdvanceClock(h) => op("advance_clock", &[("hours", json!(h))]),
        })
    };
    let actors: Vec<Vec<Map<String, Value>>> =
        actors.iter().map(|ops| ops.iter().filter_map(&mut render_op).collect()).collect();
    let mut s = Map::new();
    if v.features.same_second && setup.same_second {
        s.insert("same_second".into(), json!(true));
    }
    if setup.interactive {
        s.insert("interactive".into(), json!(true));
    }
    let rows: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let kind = if claimed.contains(&i) { RowKind::Running } else { r.kind };
            // Without the feature, an approval pause ends its run as completed.
            let ends = if r.ends == "paused" && !v.features.approval_pause { "completed" } else { r.ends };
            Value::Object(row_table(i, &RowSketch { kind, ends, ..r.clone() }))
        })
        .collect();
    s.insert("rows".into(), Value::Array(rows));
    document(v, s, actors)
}
