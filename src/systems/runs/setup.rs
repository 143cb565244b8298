//! The runs system's `[setup]` as the model holds it: the rows a scenario
//! starts with, the clock, the workflow's DAG layers and `interactive:` flag,
//! and how a `[setup]` row is read (with located errors).

use super::*;

/// A row of `[setup]`.
#[derive(Clone, Debug)]
pub struct RowSetup {
    pub id: String,
    pub status: &'static str,
    pub workflow: String,
    pub conversation: String,
    pub working_path: String,
    /// Seconds before the start; `None`: `last_activity_at IS NULL`.
    pub last_activity_ago: Option<u64>,
    pub started_ago: u64,
    pub completed_nodes: u64,
    /// Leading DAG layers all of whose nodes are among `completed_nodes`.
    pub completed_layers: u64,
    pub metadata: Value,
    pub ends: Ends,
}

/// The runs system's `[setup]`.
#[derive(Clone, Debug)]
pub struct Setup {
    pub rows: Vec<RowSetup>,
    /// The clock at the start, in seconds.
    pub clock_start: u64,
    /// DAG layers of every workflow (status polls run between them).
    pub layers: usize,
    pub same_second: bool,
    /// The workflow's `interactive:` flag.
    pub interactive: bool,
}

impl Setup {
    /// The rows as they are when the scenario starts.
    pub fn initial_rows(&self) -> Vec<RunRow> {
        self.rows
            .iter()
            .map(|r| {
                let last = r.last_activity_ago.map(|a| self.clock_start - a);
                let terminal = ["completed", "cancelled", "failed"].contains(&r.status);
                RunRow {
                    id: r.id.clone(),
                    workflow_name: r.workflow.clone(),
                    parent_conversation_id: r.conversation.clone(),
                    status: r.status,
                    working_path: Some(r.working_path.clone()),
                    started_at: Some(self.clock_start - r.started_ago),
                    completed_at: terminal.then(|| last.unwrap_or(self.clock_start - r.started_ago)),
                    last_activity_at: last,
                    metadata: r.metadata.clone(),
                }
            })
            .collect()
    }

    /// The rows' working paths, each once, in order.
    pub(super) fn paths(&self) -> Vec<&str> {
        distinct(self.rows.iter().map(|r| r.working_path.as_str()))
    }

    /// The rows' workflows, each once, in order.
    pub(super) fn workflows(&self) -> Vec<&str> {
        distinct(self.rows.iter().map(|r| r.workflow.as_str()))
    }
}

/// `values` without repeats, in first-seen order.
pub(super) fn distinct<'a>(values: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for v in values {
        if !seen.contains(&v) {
            seen.push(v);
        }
    }
    seen
}

/// `<prefix>_days_ago` + `<prefix>_hours_ago` + `<prefix>_minutes_ago`, in seconds.
pub(super) fn ago(f: &Fields<'_>, prefix: &str) -> Result<Option<u64>, FieldError> {
    let mut total = None;
    for (unit, secs) in [("days", DAY), ("hours", HOUR), ("minutes", MINUTE)] {
        if let Some(n) = f.unsigned(&format!("{prefix}_{unit}_ago"))? {
            total = Some(total.unwrap_or(0) + n * secs);
        }
    }
    Ok(total)
}

pub(super) fn parse_row(v: &Value, path: Vec<PathSeg>, clock_start: u64) -> Result<RowSetup, FieldError> {
    let f = Fields::new(v, path, &SPEC.setup_keys("rows[]"))?;
    let id = f.required_string("id")?;
    if id.is_empty() {
        return Err(FieldError::new(&f.path_to("id"), "a non-empty run id", "\"\""));
    }
    let status = f.required_choice("status", STATUSES)?;
    let status = STATUSES.iter().copied().find(|s| *s == status).expect("a checked status");
    let never_active = f.boolean("never_active")?.unwrap_or(false);
    let activity = ago(&f, "last_activity")?;
    if never_active && activity.is_some() {
        return Err(FieldError::new(&f.path_to("never_active"), "either never_active or last_activity_*_ago", "both"));
    }
    let last_activity_ago = if never_active { None } else { Some(activity.unwrap_or(0)) };
    let started_ago = ago(&f, "started")?.or(last_activity_ago).unwrap_or(0);
    for (key, secs) in [("last_activity", last_activity_ago.unwrap_or(0)), ("started", started_ago)] {
        if secs > clock_start {
            return Err(FieldError::new(
                &f.path_to(&format!("{key}_days_ago")),
                format!("a time after the clock's day 0 (the clock starts at day {})", clock_start / DAY),
                format!("{:.1} days ago", secs as f64 / DAY as f64),
            ));
        }
    }
    let metadata = match f.get("metadata") {
        None => json!({}),
        Some(m @ Value::Object(_)) => m.clone(),
        Some(other) => {
            return Err(FieldError::new(&f.path_to("metadata"), "a table", crate::systems::args::describe(other)));
        }
    };
    let completed_nodes = f.unsigned("completed_nodes")?.unwrap_or(1);
    let completed_layers = f.unsigned("completed_layers")?.unwrap_or(0);
    if completed_layers > completed_nodes {
        return Err(FieldError::new(
            &f.path_to("completed_layers"),
            format!("at most completed_nodes ({completed_nodes}): a completed layer has a completed node"),
            completed_layers.to_string(),
        ));
    }
    Ok(RowSetup {
        working_path: f.string("working_path")?.unwrap_or_else(|| format!("/wt/{id}")),
        workflow: f.string("workflow")?.unwrap_or_else(|| "fix-issue".into()),
        conversation: f.string("conversation")?.unwrap_or_else(|| "conv-1".into()),
        completed_nodes,
        completed_layers,
        ends: Ends::parse(&f.choice("ends", Ends::NAMES)?.unwrap_or_default()),
        id,
        status,
        last_activity_ago,
        started_ago,
        metadata,
    })
}
