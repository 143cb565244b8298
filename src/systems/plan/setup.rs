//! The plan system's `[setup]` as the model holds it: the plan's jobs (status,
//! dependencies, the state each reports), the orchestrator instances, and how a
//! `[setup]` job is read and its dependencies checked (with located errors).

use super::*;

/// A job of `[setup]`.
#[derive(Clone, Debug)]
pub struct JobSetup {
    pub name: String,
    pub status: String,
    pub depends_on: Vec<String>,
    pub merge_order: Option<i64>,
    /// Its `jobs.json` entry's status, if it has one.
    pub state: Option<String>,
    /// The status of an entry an earlier launch of the job left.
    pub previous: Option<String>,
    pub pane: Pane,
    pub report: Option<String>,
    pub merge: MergeOutcome,
    pub touch_set_violation: bool,
}

#[derive(Clone, Debug)]
pub struct OrchestratorSetup {
    pub name: String,
    pub active: bool,
    pub reconciler: bool,
    pub subscribed: bool,
    pub checkpoint: Option<String>,
}

/// The plan system's `[setup]`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub plan_exists: bool,
    /// plan.json may appear or vanish while the scenario runs (it is absent
    /// at the start, or an operation removes it): `loadPlan`'s `exists()`
    /// and `text()` are then two awaits, else one (merging them is exact).
    pub plan_may_vanish: bool,
    pub mode: String,
    pub status: String,
    pub checkpoint: Option<String>,
    pub max_parallel: usize,
    pub jobs: Vec<JobSetup>,
    pub orchestrators: Vec<OrchestratorSetup>,
}

pub const PLAN_ID: &str = "plan-1";

impl Setup {
    /// `plan.json` as the scenario starts.
    pub fn initial_plan(&self) -> Option<PlanSpec> {
        self.plan_exists.then(|| PlanSpec {
            id: PLAN_ID.into(),
            name: "scenario plan".into(),
            mode: self.mode.clone().into(),
            status: self.status.clone().into(),
            jobs: self
                .jobs
                .iter()
                .map(|j| JobSpec {
                    id: format!("job-{}", j.name).into(),
                    name: j.name.clone().into(),
                    prompt: format!("do {}", j.name).into(),
                    depends_on: j.depends_on.clone(),
                    status: j.status.clone().into(),
                    branch: Some(format!("mc/{}", j.name)),
                    merge_order: j.merge_order,
                    merged_at: None,
                    error: None,
                })
                .collect(),
            integration_branch: "mc/integration".into(),
            base_commit: "0000000".into(),
            created_at: files::timestamp(0).into(),
            completed_at: None,
            pr_url: None,
            checkpoint: self.checkpoint.clone(),
            checkpoint_context: None,
            gh_authenticated: None,
            read_at: None,
            touched_jobs: Vec::new(),
        })
    }

    pub fn initial_job_state(&self) -> JobState {
        let entries = self.jobs.iter().flat_map(|j| {
            let previous = j.previous.clone().map(|status| (j, "old", status));
            previous.into_iter().chain(j.state.clone().map(|status| (j, "0", status)))
        });
        let jobs = entries
            .map(|(j, launch, status)| files::Job {
                id: format!("{}-{launch}", j.name).into(),
                name: j.name.clone().into(),
                worktree_path: format!("/worktrees/{}", j.name).into(),
                branch: format!("mc/{}", j.name).into(),
                tmux_target: format!("mc:{}", j.name).into(),
                placement: "session".into(),
                status: status.into(),
                prompt: format!("do {}", j.name).into(),
                mode: self.mode.clone().into(),
                created_at: files::timestamp(0).into(),
                completed_at: None,
                exit_code: None,
                plan_id: Some(PLAN_ID.into()),
            })
            .collect();
        JobState { version: 2, jobs, updated_at: files::timestamp(0) }
    }

    pub(super) fn orchestrator(&self, name: &str) -> Option<usize> {
        self.orchestrators.iter().position(|o| o.name == name)
    }
}

/// `value` as a `&'static str` from `list` (statuses are a closed set).
pub(crate) fn static_str(list: &'static [&'static str], value: &str) -> Option<&'static str> {
    list.iter().copied().find(|s| *s == value)
}

pub(super) fn parse_job(v: &Value, path: Vec<PathSeg>) -> Result<JobSetup, FieldError> {
    let f = Fields::new(v, path, &SPEC.setup_keys("jobs[]"))?;
    let status = f.choice("status", JOB_STATUSES)?.unwrap_or_else(|| "running".into());
    let default_state = (status == "running").then(|| "running".to_string());
    let state = match f.choice("state", &[STATE_JOB_STATUSES, &["none"]].concat())? {
        Some(s) if s == "none" => None,
        Some(s) => Some(s),
        None => default_state,
    };
    let pane = match f.choice("pane", &["alive", "exited"])?.as_deref() {
        Some("exited") => Pane { alive: false, exit_code: f.integer("exit_code")? },
        _ => Pane::ALIVE,
    };
    let merge = match f.choice("merge", &["clean", "conflict", "test-failure"])?.as_deref() {
        Some("conflict") => MergeOutcome::Conflict,
        Some("test-failure") => MergeOutcome::TestFailure,
        _ => MergeOutcome::Clean,
    };
    Ok(JobSetup {
        name: f.required_string("name")?,
        status,
        depends_on: f.strings("depends_on")?,
        merge_order: f.integer("merge_order")?,
        state,
        previous: f.choice("previous", STATE_JOB_STATUSES)?,
        pane,
        report: f.choice("report", REPORT_STATUSES)?,
        merge,
        touch_set_violation: f.boolean("touch_set_violation")?.unwrap_or(false),
    })
}

/// Unknown dependencies and dependency cycles, located at the `depends_on` entry.
pub(super) fn check_dependencies(jobs: &[JobSetup]) -> Result<(), FieldError> {
    let names: Vec<&str> = jobs.iter().map(|j| j.name.as_str()).collect();
    check_unique("jobs", "name", "a job name not used before", &names)?;
    let index: std::collections::HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    let dep_path = |i: usize, d: usize| {
        vec![PathSeg::Key("jobs".into()), PathSeg::Index(i), PathSeg::Key("depends_on".into()), PathSeg::Index(d)]
    };
    let mut edges: Vec<Vec<usize>> = Vec::with_capacity(jobs.len());
    for (i, job) in jobs.iter().enumerate() {
        let mut to = Vec::with_capacity(job.depends_on.len());
        for (d, dep) in job.depends_on.iter().enumerate() {
            match index.get(dep.as_str()) {
                Some(&j) => to.push(j),
                None => {
                    return Err(FieldError::one_of(
                        &dep_path(i, d),
                        "a job defined in [setup]",
                        format!("{dep:?}"),
                        &names,
                    ));
                }
            }
        }
        edges.push(to);
    }
    // Depth-first search for a cycle, with a stack of its own (a chain of
    // 100,000 dependencies must not overflow the thread's); report the edge
    // that closes it.
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let mut state = vec![NEW; jobs.len()];
    for root in 0..jobs.len() {
        if state[root] != NEW {
            continue;
        }
        // (job, the next of its edges to follow)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = OPEN;
        while let Some(&mut (i, ref mut d)) = stack.last_mut() {
            let Some(&j) = edges[i].get(*d) else {
                state[i] = DONE;
                stack.pop();
                continue;
            };
            let edge = *d;
            *d += 1;
            if state[j] == OPEN {
                let start = stack.iter().position(|&(s, _)| s == j).unwrap_or(0);
                let mut cycle: Vec<&str> = stack[start..].iter().map(|&(s, _)| names[s]).collect();
                cycle.push(names[j]);
                return Err(FieldError::new(
                    &dep_path(i, edge),
                    "dependencies without a cycle",
                    format!("the cycle {}", cycle.join(" → ")),
                ));
            }
            if state[j] == NEW {
                state[j] = OPEN;
                stack.push((j, 0));
            }
        }
    }
    Ok(())
}
