//! What a scenario may say about the manifest system: its `[setup]` fields,
//! operations, knobs, invariants and reachable conditions, in one place.
//! `racecheck explain --system manifest`, `racecheck new manifest` and the
//! loader's messages are built from it.

use super::*;

pub(super) const TASK: ArgSpec = ArgSpec { name: "task", kind: "task", required: true, about: "a task id of [setup]" };
pub(super) const SESSION: ArgSpec = ArgSpec {
    name: "session",
    kind: "string",
    required: false,
    about: "the agent session acting (default: the actor's name)",
};
pub(super) const FILE: ArgSpec = ArgSpec {
    name: "file",
    kind: "file",
    required: false,
    about: "the file written: manifest (manifest.json, default) or plan (plan.md)",
};
pub(super) const FIRE_FILE: ArgSpec = ArgSpec {
    name: "file",
    kind: "file",
    required: false,
    about: "fire only this file's timer, manifest or plan (default: every armed timer)",
};

pub(super) static SPEC: SystemSpec = SystemSpec {
    name: "manifest",
    origin: "ADE apps/desktop/src/main/services/orchestration/orchestrationService.ts",
    about: "a run bundle's manifest.json, the service's cached copy, its run mutex and the file watcher that reloads external changes",
    setup: &[
        FieldSpec { name: "run_id", kind: "string", about: "the bundle's run (default run-1)" },
        FieldSpec {
            name: "generation",
            kind: "integer ≥ 1",
            about: "manifest.json's serverGeneration at the start (default 1)",
        },
        FieldSpec {
            name: "cached",
            kind: "boolean",
            about: "the service has the manifest (as it was before any external write below) in its cache (default true)",
        },
        FieldSpec { name: "clock", kind: "integer", about: "Date.now() at the start, in ms (default 0)" },
        FieldSpec { name: "self_write_window", kind: "integer", about: "markSelfWrite's window in ms (default 1000)" },
        FieldSpec { name: "debounce", kind: "integer", about: "the watcher's debounce delay in ms (default 50)" },
        FieldSpec {
            name: "recent_self_write_until",
            kind: "integer",
            about: "the end of a self-write window already open at the start (default 0)",
        },
        FieldSpec { name: "tasks", kind: "array of tables", about: "the manifest's tasks (default one open task t1)" },
        FieldSpec { name: "tasks[].id", kind: "string", about: "the task's id (required, unique)" },
        FieldSpec { name: "tasks[].status", kind: "a task status", about: "its status (default open)" },
        FieldSpec { name: "tasks[].assignee", kind: "string", about: "the session that claimed it" },
        FieldSpec { name: "tasks[].lease_until", kind: "integer", about: "when its claim's lease ends, in ms" },
        FieldSpec { name: "plan", kind: "string", about: "plan.md's text (default: a checklist of the tasks)" },
        FieldSpec {
            name: "external_writes",
            kind: "array of tables",
            about: "writes of other processes that landed before the start, in order (the cache has not seen them)",
        },
        FieldSpec {
            name: "external_writes[].file",
            kind: "manifest | plan",
            about: "the file written (default manifest)",
        },
        FieldSpec {
            name: "external_writes[].generation",
            kind: "bumped | same | other-run | own-run | integer",
            about: "the serverGeneration it carries (default bumped: one more than the file it replaces)",
        },
        FieldSpec { name: "external_writes[].task", kind: "task id", about: "a task it changes" },
        FieldSpec {
            name: "external_writes[].status",
            kind: "a task status",
            about: "the task's new status (default done, or claimed with an assignee)",
        },
        FieldSpec { name: "external_writes[].assignee", kind: "string", about: "the task's new assignee" },
        FieldSpec {
            name: "external_writes[].lease_ms",
            kind: "integer",
            about: "the new claim's lease in ms (default 60000)",
        },
        FieldSpec {
            name: "external_writes[].watched",
            kind: "boolean",
            about: "the watcher saw it and armed its debounce timer (default true)",
        },
    ],
    ops: &[
        OpSpec {
            name: "load_into_runtime",
            origin: "bundleRead → loadIntoRuntime",
            about: "inside the run mutex: read manifest.json and plan.md into the cache, unless it is already hydrated (then return at once)",
            args: &[],
        },
        OpSpec {
            name: "manifest_patch",
            origin: "manifestPatch",
            about: "inside the run mutex: etag check against the cache, apply the patch, generation + 1, persistManifest, emit",
            args: &[
                ArgSpec {
                    name: "if_match",
                    kind: "etag source",
                    required: false,
                    about: "the etag the client sends: cached (what this service last showed, default), initial (the setup's), disk (read from manifest.json first)",
                },
                ArgSpec {
                    name: "task",
                    kind: "task",
                    required: false,
                    about: "a task id of [setup] whose status the patch sets",
                },
                ArgSpec {
                    name: "status",
                    kind: "task status",
                    required: false,
                    about: "the status it sets (default done)",
                },
                ArgSpec { name: "summary", kind: "string", required: false, about: "the decision it records" },
            ],
        },
        OpSpec {
            name: "claim_task",
            origin: "claimTask → directPatch",
            about: "inside the run mutex, no etag: claim a task on the cached manifest (refused while another assignee's lease runs) and persist",
            args: &[
                TASK,
                SESSION,
                ArgSpec { name: "lease_ms", kind: "integer", required: false, about: "lease length, default 60000" },
            ],
        },
        OpSpec {
            name: "release_task",
            origin: "releaseTask → directPatch",
            about: "inside the run mutex, no etag: release a task the session holds (leaving it open, done or failed) and persist",
            args: &[
                TASK,
                SESSION,
                ArgSpec {
                    name: "status",
                    kind: "open | done | failed",
                    required: false,
                    about: "the status it leaves the task in, default open",
                },
            ],
        },
        OpSpec {
            name: "heartbeat",
            origin: "agent heartbeat → directPatch",
            about: "inside the run mutex, no etag: set the session's lastHeartbeatAt and persist (a new generation each time)",
            args: &[SESSION],
        },
        OpSpec {
            name: "external_write",
            origin: "git checkout / git pull / another ADE instance",
            about: "another process replaces a bundle file in one step; the watcher's change event re-arms a debounce timer",
            args: &[
                FILE,
                ArgSpec {
                    name: "generation",
                    kind: "generation",
                    required: false,
                    about: "bumped (default), same, other-run (another run's manifest), own-run (the run's own again, one generation up) or a number",
                },
                ArgSpec {
                    name: "task",
                    kind: "task",
                    required: false,
                    about: "a task id of [setup] the write changes",
                },
                ArgSpec {
                    name: "status",
                    kind: "task status",
                    required: false,
                    about: "its new status (default: claimed with an assignee, else done)",
                },
                ArgSpec { name: "assignee", kind: "string", required: false, about: "its new assignee session" },
                ArgSpec {
                    name: "lease_ms",
                    kind: "integer",
                    required: false,
                    about: "the assignee's lease, default 60000",
                },
                ArgSpec {
                    name: "watched",
                    kind: "boolean",
                    required: false,
                    about: "the watcher sees the change (default true)",
                },
            ],
        },
        OpSpec {
            name: "watcher_fire",
            origin: "debouncedReload's setTimeout → handleExternalChange",
            about: "the armed debounce timer(s) fire (the clock moves to their due time): skip inside the self-write window, else reload from disk",
            args: &[FIRE_FILE],
        },
        OpSpec {
            name: "advance_clock",
            origin: "Date.now()",
            about: "time passes for everyone",
            args: &[ArgSpec { name: "ms", kind: "integer", required: true, about: "milliseconds" }],
        },
    ],
    knobs: &[
        KnobSpec {
            name: "persist_check",
            about: "how persistManifest guards against a manifest.json changed on disk (#375, folded into #382)",
            choices: &[
                (
                    "etag-only",
                    "no disk check: ifMatchEtag is compared with the cached etag only, then the rename is blind; another run's bundle only sets suspended (the reload) or throws (loadIntoRuntime), and the cache stays",
                ),
                (
                    "generation",
                    "re-read manifest.json before the write and again right before the rename; a newer generation refreshes the cache and returns etag_conflict; another run's bundle (there, in the reload or in loadIntoRuntime) suspends the run and drops its cache",
                ),
            ],
            default: "generation",
        },
        KnobSpec {
            name: "watcher_reload",
            about: "where the watcher's debounced reload runs (#375)",
            choices: &[
                (
                    "outside-mutex",
                    "void handleExternalChange(): the reload interleaves with an in-flight persistManifest",
                ),
                ("inside-mutex", "runtime.mutex.run(...): the self-write check and the reload wait for the run mutex"),
            ],
            default: "inside-mutex",
        },
        KnobSpec {
            name: "claim_check",
            about: "what claimTask checks besides another session's lease (ADE PR #420, issue #413)",
            choices: &[
                (
                    "lease-only",
                    "before #420: a done or failed task, its lease cleared by the release, is claimed again",
                ),
                ("terminal", "#420: a done or failed task is refused"),
            ],
            default: "terminal",
        },
        KnobSpec {
            name: "debounce_timer",
            about: "how many debounce timers the watcher keeps (#408)",
            choices: &[
                ("shared", "one watcherDebounceTimer: a change to another file clears a pending reload"),
                ("per-file", "watcherDebounceTimers[kind]: each file's reload is debounced on its own"),
            ],
            default: "per-file",
        },
        KnobSpec {
            name: "heartbeat",
            about: "where agentHeartbeat writes (#361 series, moved with #382)",
            choices: &[
                (
                    "direct-patch",
                    "fcac3dc5: directPatch through persistManifest: a new generation, a new etag and a self-write window each time",
                ),
                (
                    "liveness-file",
                    "83dfd7a8: the cached agent and heartbeats.json only; manifest.json, its etag and the self-write window are untouched",
                ),
            ],
            default: "liveness-file",
        },
    ],
    invariants: &[
        InvariantSpec {
            name: "no-silent-overwrite",
            about: "every external write on disk when the service renames its manifest into place was loaded before the patch computed its result, or made the patch return etag_conflict",
        },
        InvariantSpec {
            name: "generation-monotonic",
            about: "every manifest.json the service renames into place has a higher serverGeneration than the one it replaces",
        },
        InvariantSpec {
            name: "cache-never-regresses",
            about: "each manifest emitted to subscribers descends from the one they saw before: what they see never goes back",
        },
        InvariantSpec {
            name: "no-spurious-conflict",
            about: "a manifestPatch is refused with etag_conflict only if something other than heartbeats changed the manifest since its if_match version",
        },
        InvariantSpec {
            name: "terminal-task-stays-done",
            about: "a claim never puts a task that manifest.json holds as done or failed back to claimed (issue #413: the phase it completed re-opens)",
        },
        InvariantSpec {
            name: "cache-catches-up",
            about: "at the end, once every debounce timer has fired (timers still armed when every actor is done fire then), the cache holds what is on disk: no external change is dropped for good",
        },
    ],
    conditions: conditions::CONDITIONS,
    example: (
        "manifest/unlocked-reload-reverts-cache.toml",
        include_str!("../../../scenarios/manifest/unlocked-reload-reverts-cache.toml"),
    ),
};
