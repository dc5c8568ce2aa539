//! What the monitor shows: the view models the JSON API returns and the pages render.

use chrono::{DateTime, Utc};
use goodrobot_domain::task::{TaskRecord, TaskState};
use goodrobot_ports::{QueueStats, WorkerInfo};
use poem_openapi::{Enum, Object};
use serde_json::Value;

/// A task's state, with Celery's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename = "TaskState", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateDto {
    Pending,
    Received,
    Started,
    Progress,
    Retry,
    Success,
    Failure,
    Revoked,
}

impl From<TaskState> for StateDto {
    fn from(s: TaskState) -> Self {
        match s {
            TaskState::Pending => Self::Pending,
            TaskState::Received => Self::Received,
            TaskState::Started => Self::Started,
            TaskState::Progress => Self::Progress,
            TaskState::Retry => Self::Retry,
            TaskState::Success => Self::Success,
            TaskState::Failure => Self::Failure,
            TaskState::Revoked => Self::Revoked,
        }
    }
}

impl From<StateDto> for TaskState {
    fn from(s: StateDto) -> Self {
        match s {
            StateDto::Pending => Self::Pending,
            StateDto::Received => Self::Received,
            StateDto::Started => Self::Started,
            StateDto::Progress => Self::Progress,
            StateDto::Retry => Self::Retry,
            StateDto::Success => Self::Success,
            StateDto::Failure => Self::Failure,
            StateDto::Revoked => Self::Revoked,
        }
    }
}

/// A worker whose heartbeat has not expired.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Worker")]
pub struct WorkerView {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    /// Seconds since the worker started.
    pub uptime_secs: i64,
    /// Tasks it runs at once.
    pub concurrency: u32,
    pub queues: Vec<String>,
    /// Tasks running now.
    pub running: u32,
    /// Tasks finished (succeeded + failed).
    pub processed: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub last_heartbeat: DateTime<Utc>,
    /// Seconds since the last heartbeat.
    pub heartbeat_age_secs: f64,
}

impl WorkerView {
    pub fn new(w: WorkerInfo, now: DateTime<Utc>) -> Self {
        Self {
            uptime_secs: (now - w.started_at).num_seconds().max(0),
            processed: w.succeeded + w.failed,
            heartbeat_age_secs: ((now - w.last_heartbeat).num_milliseconds().max(0) as f64) / 1000.0,
            id: w.id,
            host: w.host,
            pid: w.pid,
            started_at: w.started_at,
            concurrency: w.concurrency,
            queues: w.queues,
            running: w.running,
            succeeded: w.succeeded,
            failed: w.failed,
            retried: w.retried,
            last_heartbeat: w.last_heartbeat,
        }
    }
}

/// The depths of one queue.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Queue")]
pub struct QueueView {
    pub queue: String,
    /// Due and waiting for a worker.
    pub ready: u64,
    /// Waiting for their eta (countdown, retries).
    pub delayed: u64,
    /// Claimed by a worker (under a lease).
    pub in_flight: u64,
    /// In the dead-letter list (replayable).
    pub dead: u64,
}

impl From<QueueStats> for QueueView {
    fn from(s: QueueStats) -> Self {
        Self { queue: s.queue, ready: s.ready, delayed: s.delayed, in_flight: s.in_flight, dead: s.dead }
    }
}

/// Tasks finished in one minute.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "Minute")]
pub struct MinuteView {
    pub start: DateTime<Utc>,
    pub succeeded: u64,
    pub failed: u64,
}

/// Throughput and failure rate over the last minutes, from the recent task events.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Rates")]
pub struct RatesView {
    /// The period asked for, in minutes.
    pub minutes: u32,
    /// Seconds of that period the event window covers (less than the period when the window
    /// holds fewer minutes of history than that).
    pub covered_secs: f64,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    /// Finished tasks per minute over the covered time.
    pub throughput_per_min: f64,
    /// Failed / finished (0 when nothing finished).
    pub failure_rate: f64,
    /// Oldest first.
    pub per_minute: Vec<MinuteView>,
}

/// The overview page: workers, queues, rates.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Overview")]
pub struct OverviewView {
    pub now: DateTime<Utc>,
    pub workers: Vec<WorkerView>,
    pub queues: Vec<QueueView>,
    pub rates: RatesView,
}

/// One task in the list.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TaskSummary")]
pub struct TaskRow {
    pub task_id: String,
    pub name: String,
    pub queue: String,
    /// From the task's record (the truth); from its newest event if the record has expired.
    pub state: StateDto,
    pub worker: Option<String>,
    /// The newest event of the task.
    pub last_event_at: DateTime<Utc>,
    pub created_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub eta: Option<DateTime<Utc>>,
    /// Seconds from start to finish.
    pub runtime: Option<f64>,
    pub retries: u32,
    pub args: Value,
    /// The error kind of a failed or revoked task.
    pub error_kind: Option<String>,
    /// False when the result backend no longer has the record (expired): the row comes from
    /// the event log alone.
    pub has_record: bool,
}

/// A page of tasks, newest activity first.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TaskPage")]
pub struct TaskPageView {
    pub items: Vec<TaskRow>,
    /// Tasks matching the filters.
    pub total: u64,
    pub page: u32,
    pub per_page: u32,
    /// Tasks in the event window, before filtering.
    pub scanned: u64,
}

/// Why a task failed.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "TaskError")]
pub struct ErrorView {
    pub kind: String,
    pub message: String,
}

/// One step of a task's life.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TimelineEntry")]
pub struct TimelineEntry {
    pub state: StateDto,
    pub at: DateTime<Utc>,
    pub worker: Option<String>,
    pub error_kind: Option<String>,
    pub runtime_s: Option<f64>,
    pub wait_s: Option<f64>,
}

/// Another task linked to this one (parent or child).
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TaskLink")]
pub struct TaskLink {
    pub task_id: String,
    /// `None` when its record is gone.
    pub name: Option<String>,
    pub state: Option<StateDto>,
}

/// Everything about one task.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TaskDetail")]
pub struct TaskDetailView {
    pub task_id: String,
    pub name: String,
    pub queue: String,
    pub state: StateDto,
    pub args: Value,
    pub result: Option<Value>,
    pub error: Option<ErrorView>,
    pub progress: Option<Value>,
    pub retries: u32,
    pub max_retries: u32,
    /// Deliveries of the current run (more than 1 after a crash or a lost lease).
    pub attempts: u32,
    pub worker: Option<String>,
    pub eta: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    pub runtime: Option<f64>,
    pub parent: Option<TaskLink>,
    pub root_id: Option<String>,
    pub children: Vec<TaskLink>,
    /// Every state change in the event window, oldest first (retries show up here); the
    /// record's own timestamps fill in when the events are gone.
    pub timeline: Vec<TimelineEntry>,
    /// Which actions make sense now.
    pub can_revoke: bool,
    pub can_replay: bool,
    pub can_retry: bool,
}

impl TaskDetailView {
    /// The detail of `r`; `timeline`, `parent` and `children` are filled in by the caller.
    pub fn from_record(r: TaskRecord) -> Self {
        let runtime = r.runtime_secs();
        let state = r.state;
        Self {
            task_id: r.id.to_string(),
            name: r.name,
            queue: r.queue.to_string(),
            state: state.into(),
            args: r.args,
            result: r.result,
            error: r.error.map(|e| ErrorView { kind: e.kind, message: e.message }),
            progress: r.progress,
            retries: r.retries,
            max_retries: r.max_retries,
            attempts: r.attempts,
            worker: r.worker,
            eta: r.eta,
            expires: r.expires,
            created_at: r.created_at,
            received_at: r.received_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            updated_at: r.updated_at,
            runtime,
            parent: None,
            root_id: r.root_id.map(|id| id.to_string()),
            children: Vec::new(),
            timeline: Vec::new(),
            can_revoke: !state.is_terminal(),
            can_replay: state == TaskState::Failure,
            can_retry: matches!(state, TaskState::Failure | TaskState::Revoked),
        }
    }
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "ActionResult")]
pub struct ActionView {
    /// `revoked`, `replayed`, `retried`.
    pub action: String,
    /// The task acted on.
    pub task_id: String,
    /// The task that will run: the same id for a replay, a new one for a retry.
    pub new_task_id: Option<String>,
    pub state: StateDto,
}

/// What purging a queue removed.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
#[oai(rename = "PurgeResult")]
pub struct PurgeView {
    pub queue: String,
    /// Ready and delayed tasks removed.
    pub removed: u64,
}
