//! What the monitor reads: workers' heartbeats and the recent task events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{StateUpdate, TaskId, TaskMessage, TaskState};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MonitorError {
    #[error("monitor store unavailable: {0}")]
    Unavailable(String),
}

/// A worker as its last heartbeat described it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub id: String,
    pub host: String,
    pub pid: u32,
    pub started_at: DateTime<Utc>,
    pub concurrency: u32,
    pub queues: Vec<String>,
    /// Tasks running now.
    pub running: u32,
    pub succeeded: u64,
    pub failed: u64,
    pub retried: u64,
    pub last_heartbeat: DateTime<Utc>,
}

/// Workers announce themselves; a worker whose heartbeat is older than its TTL is gone.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WorkerRegistry: Send + Sync {
    /// Records (or refreshes) a worker's heartbeat, kept for `ttl`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), MonitorError>;
    /// Workers whose heartbeat has not expired, by id.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn list(&self) -> Result<Vec<WorkerInfo>, MonitorError>;
    /// Removes a worker at its orderly exit.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn remove(&self, id: &str) -> Result<(), MonitorError>;
}

/// One state change of one task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskEvent {
    pub task_id: TaskId,
    pub name: String,
    pub queue: String,
    pub state: TaskState,
    pub at: DateTime<Utc>,
    pub worker: Option<String>,
    /// Seconds from start to finish, on terminal events.
    pub runtime_s: Option<f64>,
    /// Seconds from enqueue (or eta) to start, on STARTED.
    pub wait_s: Option<f64>,
    pub error_kind: Option<String>,
}

impl TaskEvent {
    /// The event of a record's current state.
    pub fn of(r: &goodrobot_domain::task::TaskRecord) -> Self {
        let runtime_s = if r.state.is_terminal() { r.runtime_secs() } else { None };
        let wait_s = (r.state == TaskState::Started)
            .then(|| {
                let since = r.eta.unwrap_or(r.created_at).max(r.created_at);
                r.started_at.map(|s| (s - since).num_microseconds().unwrap_or(0) as f64 / 1e6)
            })
            .flatten();
        Self {
            task_id: r.id,
            name: r.name.clone(),
            queue: r.queue.to_string(),
            state: r.state,
            at: r.updated_at,
            worker: r.worker.clone(),
            runtime_s,
            wait_s,
            error_kind: r.error.as_ref().map(|e| e.kind.clone()),
        }
    }

    /// The event of a change a worker wrote, without the record: the same event as
    /// [`Self::of`] the record after `u` would give, where `started_at` is when this
    /// delivery started (the runtime of a terminal state is counted from it).
    pub fn of_update(msg: &TaskMessage, u: &StateUpdate, started_at: Option<DateTime<Utc>>) -> Self {
        let seconds = |from: DateTime<Utc>, to: DateTime<Utc>| (to - from).num_microseconds().map(|us| us as f64 / 1e6);
        let runtime_s = if u.state.is_terminal() { started_at.and_then(|s| seconds(s, u.at)) } else { None };
        let wait_s = (u.state == TaskState::Started)
            .then(|| seconds(msg.eta.unwrap_or(msg.created_at).max(msg.created_at), u.at))
            .flatten();
        Self {
            task_id: msg.id,
            name: msg.name.clone(),
            queue: msg.queue.to_string(),
            state: u.state,
            at: u.at,
            worker: u.worker.clone(),
            runtime_s,
            wait_s,
            error_kind: u.error.as_ref().map(|e| e.kind.clone()),
        }
    }
}

/// A bounded history of task events (a capped stream): survives monitor restarts.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Appends events, keeping at most the log's capacity (oldest dropped).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn append(&self, events: &[TaskEvent]) -> Result<(), MonitorError>;
    /// The newest `limit` events, newest first.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn recent(&self, limit: usize) -> Result<Vec<TaskEvent>, MonitorError>;
}
