//! The run bundle's files, serialized like ADE's: `manifest.json`
//! (`OrchestrationManifest`), `plan.md` and `.gen` (the server generation
//! counter), and the pure functions that derive one manifest version from
//! another.
//!
//! A manifest's `history` ring lists the etags of the versions it descends
//! from (its own last). The invariants use it as the version's lineage: a
//! write that kept an external update has that update's etag in its history.

use crate::storage::{Contents, FileShape};
use serde::{Deserialize, Serialize};

pub const MANIFEST_FILE: &str = "manifest.json";
/// `atomicWrite`'s temp file.
pub const MANIFEST_TMP: &str = "manifest.json.tmp";
pub const PLAN_FILE: &str = "plan.md";
pub const GEN_FILE: &str = ".gen";
/// Agents' liveness since #382: `{ sessionId: lastHeartbeatAt }`, unwatched.
pub const HEARTBEATS_FILE: &str = "heartbeats.json";
pub const HEARTBEATS_TMP: &str = "heartbeats.json.tmp";
/// `history` is a ring of at most this many entries.
pub const HISTORY_LIMIT: usize = 50;
/// The runId an `external_write` of `generation = "other-run"` brings.
pub const OTHER_RUN_ID: &str = "run-other";

pub const TASK_STATUSES: &[&str] = &["open", "claimed", "in_progress", "done", "failed", "blocked"];

/// A watched file of the bundle: each has its own debounce timer once
/// `debounce_timer = per-file`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BundleFile {
    Manifest,
    Plan,
}

impl BundleFile {
    pub const NAMES: &'static [&'static str] = &["manifest", "plan"];

    pub fn name(self) -> &'static str {
        match self {
            BundleFile::Manifest => "manifest",
            BundleFile::Plan => "plan",
        }
    }

    pub fn path(self) -> &'static str {
        match self {
            BundleFile::Manifest => MANIFEST_FILE,
            BundleFile::Plan => PLAN_FILE,
        }
    }

    pub fn parse(name: &str) -> Option<BundleFile> {
        match name {
            "manifest" => Some(BundleFile::Manifest),
            "plan" => Some(BundleFile::Plan),
            _ => None,
        }
    }
}

/// `manifest.json` (the subset the races touch).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub version: u32,
    pub run_id: String,
    pub lane_id: String,
    /// `g<serverGeneration>-<8 hex>`.
    pub etag: String,
    pub server_generation: u64,
    /// Logical milliseconds.
    pub updated_at: u64,
    #[serde(default)]
    pub agents: Vec<Agent>,
    #[serde(default)]
    pub tasks: Vec<Task>,
    #[serde(default)]
    pub decisions: Vec<Decision>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub session_id: String,
    pub role: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_at: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_lease_until: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub by: String,
    pub summary: String,
    pub at: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub etag: String,
    pub at: u64,
    pub summary: String,
    pub patch_kind_summary: String,
}

crate::state_hash_fields!(Manifest {
    version,
    run_id,
    lane_id,
    etag,
    server_generation,
    updated_at,
    agents,
    tasks,
    decisions,
    history,
});
crate::state_hash_fields!(Agent { session_id, role, status, last_heartbeat_at });
crate::state_hash_fields!(Task { id, status, assignee_session_id, claimed_at, claim_lease_until });
crate::state_hash_fields!(Decision { by, summary, at });
crate::state_hash_fields!(HistoryEntry { etag, at, summary, patch_kind_summary });

impl Manifest {
    /// A manifest as `runCreate` writes it: one history entry, its own.
    pub fn created(run_id: &str, generation: u64, etag: String, tasks: Vec<Task>, at: u64) -> Manifest {
        Manifest {
            version: 1,
            run_id: run_id.to_string(),
            lane_id: "lane-1".into(),
            etag: etag.clone(),
            server_generation: generation,
            updated_at: at,
            agents: Vec::new(),
            tasks,
            decisions: Vec::new(),
            history: vec![HistoryEntry {
                etag,
                at,
                summary: "run created".into(),
                patch_kind_summary: "create".into(),
            }],
        }
    }

    pub fn task_mut(&mut self, id: &str) -> Option<&mut Task> {
        self.tasks.iter_mut().find(|t| t.id == id)
    }

    /// `etag` is this version or one it descends from.
    pub fn descends_from(&self, etag: &str) -> bool {
        self.etag == etag || self.history.iter().any(|h| h.etag == etag)
    }

    /// The next version: `generation`, a new etag, one more history entry
    /// (made in place: a manifest may hold many tasks).
    pub fn next_version(self, generation: u64, etag: String, at: u64, summary: String, kind: &str) -> Manifest {
        let mut next = self;
        next.server_generation = generation;
        next.etag = etag.clone();
        next.updated_at = at;
        next.history.push(HistoryEntry { etag, at, summary, patch_kind_summary: kind.to_string() });
        if next.history.len() > HISTORY_LIMIT {
            let drop = next.history.len() - HISTORY_LIMIT;
            next.history.drain(..drop);
        }
        next
    }

    /// `generation 5 (etag g5-1a2b3c4d)`.
    pub fn describe(&self) -> String {
        format!("generation {} (etag {})", self.server_generation, self.etag)
    }
}

/// `"g" + generation + "-" + 8 hex digits`; the hex is a hash of who wrote
/// the version and when, so executions stay deterministic.
pub fn make_etag(generation: u64, writer: &str, salt: usize) -> String {
    // FNV-1a, folded to 32 bits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in writer.bytes().chain(salt.to_le_bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("g{generation}-{:08x}", (hash ^ (hash >> 32)) as u32)
}

/// Rendered as pretty JSON, like `JSON.stringify(x, null, 2)`.
impl FileShape for Manifest {}

/// `manifest.json` holding `manifest`.
pub fn manifest_contents(manifest: &Manifest) -> Contents {
    Contents::of(manifest.clone())
}

/// The manifest a `manifest.json` holds, if it holds one.
pub fn parse(contents: &Contents) -> Option<Manifest> {
    contents.parse().ok()
}
