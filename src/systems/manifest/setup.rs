//! The manifest system's `[setup]` as the model holds it: the run's tasks,
//! generation, clock, timers and plan, and the external writes that land
//! before the scenario starts (what is on disk then: [`Setup::initial`]).

use super::*;

/// A task of `[setup]`.
#[derive(Clone, Debug)]
pub struct TaskSetup {
    pub id: String,
    pub status: String,
    pub assignee: Option<String>,
    pub lease_until: Option<u64>,
}

/// The manifest system's `[setup]`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub run_id: String,
    pub generation: u64,
    /// The service already holds the manifest (loadIntoRuntime returns early).
    pub cached: bool,
    /// The clock at the start, ms.
    pub clock: u64,
    pub self_write_window: u64,
    pub debounce: u64,
    /// `recentSelfWriteUntil` at the start (e.g. a persist just before).
    pub recent_self_write_until: u64,
    pub tasks: Vec<TaskSetup>,
    pub plan: String,
    /// Writes of other processes that landed before the start; the watched
    /// ones have armed a debounce timer that has not fired yet.
    pub external_writes: Vec<ExternalChange>,
    /// [`Setup::initial`], made once: every execution's world and monitors
    /// start from it, and a setup of many tasks and landed writes is not
    /// cheap to replay.
    pub(super) initial: std::sync::OnceLock<Arc<Initial>>,
}

/// The bundle at the start of an execution.
#[derive(Clone, Debug)]
pub struct Initial {
    /// What the cache holds when `cached`: the manifest before the landed writes.
    pub base: Manifest,
    /// `manifest.json` on disk.
    pub disk: Manifest,
    pub base_plan: String,
    pub disk_plan: String,
    /// How many external manifest writes landed (each one's manifest is
    /// not kept: a setup may hold many writes of many tasks).
    pub landed: usize,
}

/// The writer name of the external writes that landed before the start.
pub const BEFORE_START: &str = "before-start";

impl Setup {
    /// What is on disk and in the cache at the start.
    pub fn initial(&self) -> Arc<Initial> {
        self.initial.get_or_init(|| Arc::new(self.make_initial())).clone()
    }

    /// [`Setup::initial`], made: the setup's manifest with every landed write applied.
    fn make_initial(&self) -> Initial {
        let tasks = self
            .tasks
            .iter()
            .map(|t| bundle::Task {
                id: t.id.clone(),
                status: t.status.clone(),
                assignee_session_id: t.assignee.clone(),
                claimed_at: t.assignee.as_ref().map(|_| self.clock),
                claim_lease_until: t.lease_until,
            })
            .collect();
        let base = Manifest::created(&self.run_id, self.generation, make_etag(self.generation, "setup", 0), tasks, 0);
        let base_plan = self.plan.clone();
        let (mut disk, mut disk_plan, mut landed) = (base.clone(), base_plan.clone(), 0);
        for (i, w) in self.external_writes.iter().enumerate() {
            match w.file {
                BundleFile::Manifest => {
                    disk = external::external_manifest(disk, w, &self.run_id, BEFORE_START, i + 1, self.clock);
                    landed += 1;
                }
                BundleFile::Plan => disk_plan = external::external_plan(&disk_plan, BEFORE_START, i + 1),
            }
        }
        Initial { base, disk, base_plan, disk_plan, landed }
    }

    pub(super) fn task_ids(&self) -> Vec<&str> {
        self.tasks.iter().map(|t| t.id.as_str()).collect()
    }
}
