//! What a result backend keeps about one task: state, outcome and timeline.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{QueueName, TaskId, TaskMessage, TaskState};

/// Why a task failed: the error's kind (a stable type name) and its message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskFailure {
    /// e.g. `TimeLimitExceeded`, `HandlerError`, `InvalidArguments`, `Expired`, `Revoked`.
    pub kind: String,
    pub message: String,
    /// Whether the runtime may retry the task after this error.
    #[serde(default)]
    pub retryable: bool,
}

impl TaskFailure {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: kind.into(), message: message.into(), retryable: false }
    }

    pub fn retryable(kind: impl Into<String>, message: impl Into<String>) -> Self {
        Self { kind: kind.into(), message: message.into(), retryable: true }
    }
}

/// The state record of one task (Celery's result meta, with a timeline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    pub id: TaskId,
    pub name: String,
    pub state: TaskState,
    pub queue: QueueName,
    pub args: serde_json::Value,
    pub result: Option<serde_json::Value>,
    pub error: Option<TaskFailure>,
    /// Progress of a long task (PROGRESS state), e.g. `{"percent": 40}`.
    pub progress: Option<serde_json::Value>,
    pub retries: u32,
    pub max_retries: u32,
    /// Deliveries of the current run (1, or more after crashes / lost leases).
    #[serde(default)]
    pub attempts: u32,
    pub eta: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub parent_id: Option<TaskId>,
    pub root_id: Option<TaskId>,
    pub children: Vec<TaskId>,
    pub worker: Option<String>,
    /// Fencing token of the delivery that last wrote this record; older deliveries' writes
    /// are refused (a worker that lost its lease cannot overwrite the newer attempt).
    #[serde(default)]
    pub fence: Option<u64>,
    pub created_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl TaskRecord {
    /// The PENDING record of a task just enqueued.
    pub fn pending(msg: &TaskMessage, now: DateTime<Utc>) -> Self {
        Self {
            id: msg.id,
            name: msg.name.clone(),
            state: TaskState::Pending,
            queue: msg.queue.clone(),
            args: msg.args.clone(),
            result: None,
            error: None,
            progress: None,
            retries: msg.retries,
            max_retries: msg.max_retries,
            attempts: 0,
            eta: msg.eta,
            expires: msg.expires,
            parent_id: msg.parent_id,
            root_id: msg.root_id,
            children: Vec::new(),
            worker: None,
            fence: None,
            created_at: msg.created_at,
            received_at: None,
            started_at: None,
            finished_at: None,
            updated_at: now,
        }
    }

    /// Runtime in seconds, once started and finished.
    pub fn runtime_secs(&self) -> Option<f64> {
        let (s, f) = (self.started_at?, self.finished_at?);
        Some((f - s).num_microseconds()? as f64 / 1e6)
    }
}

/// A change of a task's state, as the runtime reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateUpdate {
    pub state: TaskState,
    pub at: DateTime<Utc>,
    #[serde(default)]
    pub worker: Option<String>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<TaskFailure>,
    #[serde(default)]
    pub progress: Option<serde_json::Value>,
    /// The next run time (RETRY) or a new eta.
    #[serde(default)]
    pub eta: Option<DateTime<Utc>>,
    /// The writer's delivery fence (see [`TaskRecord::fence`]); `None` for producer writes.
    #[serde(default)]
    pub fence: Option<u64>,
    /// The delivery's attempt number (written with STARTED).
    #[serde(default)]
    pub attempt: Option<u32>,
}

impl StateUpdate {
    pub fn new(state: TaskState, at: DateTime<Utc>) -> Self {
        Self {
            state,
            at,
            worker: None,
            retries: None,
            result: None,
            error: None,
            progress: None,
            eta: None,
            fence: None,
            attempt: None,
        }
    }
}

impl TaskRecord {
    /// Applies a state change. A terminal record changes only by going back to PENDING
    /// (a replay); a write fenced lower than the record's fence (a stale delivery) is
    /// refused; refused changes return `false`.
    pub fn apply(&mut self, u: &StateUpdate) -> bool {
        if self.state.is_terminal() && u.state != TaskState::Pending {
            return false;
        }
        if let (Some(mine), Some(theirs)) = (self.fence, u.fence)
            && theirs < mine
        {
            return false;
        }
        if u.fence.is_some() {
            self.fence = u.fence;
        }
        self.state = u.state;
        self.updated_at = u.at;
        if u.worker.is_some() {
            self.worker.clone_from(&u.worker);
        }
        if let Some(r) = u.retries {
            self.retries = r;
        }
        if let Some(a) = u.attempt {
            self.attempts = a;
        }
        if u.eta.is_some() {
            self.eta = u.eta;
        }
        match u.state {
            TaskState::Pending => {
                self.result = None;
                self.error = None;
                self.progress = None;
                self.finished_at = None;
            }
            TaskState::Received => self.received_at = Some(u.at),
            TaskState::Started => {
                // One write for "received and started" on the hot path.
                self.received_at.get_or_insert(u.at);
                self.started_at = Some(u.at);
                self.error = None;
            }
            TaskState::Progress => self.progress.clone_from(&u.progress),
            TaskState::Retry => self.error.clone_from(&u.error),
            TaskState::Success | TaskState::Failure | TaskState::Revoked => {
                self.finished_at = Some(u.at);
                self.result.clone_from(&u.result);
                self.error.clone_from(&u.error);
            }
        }
        if u.progress.is_some() {
            self.progress.clone_from(&u.progress);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn msg() -> TaskMessage {
        TaskMessage {
            id: TaskId::generate(),
            name: "diag.noop".into(),
            args: serde_json::json!({}),
            queue: QueueName::default_queue(),
            priority: Default::default(),
            eta: None,
            expires: None,
            parent_id: None,
            root_id: None,
            retries: 0,
            max_retries: 3,
            retry_delay_secs: 60,
            soft_time_limit_secs: None,
            time_limit_secs: None,
            dedup_key: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn timeline_is_recorded_and_terminal_is_final() {
        let mut r = TaskRecord::pending(&msg(), Utc::now());
        assert!(r.apply(&StateUpdate::new(TaskState::Received, Utc::now())));
        assert!(r.apply(&StateUpdate::new(TaskState::Started, Utc::now())));
        let mut done = StateUpdate::new(TaskState::Success, Utc::now());
        done.result = Some(serde_json::json!(1));
        assert!(r.apply(&done));
        assert!(r.received_at.is_some() && r.started_at.is_some() && r.finished_at.is_some());
        assert!(!r.apply(&StateUpdate::new(TaskState::Started, Utc::now())));
        assert_eq!(r.state, TaskState::Success);
        assert!(r.apply(&StateUpdate::new(TaskState::Pending, Utc::now())), "replay resets");
        assert!(r.result.is_none());
    }

    #[test]
    fn a_stale_delivery_cannot_overwrite_the_newer_one() {
        let mut r = TaskRecord::pending(&msg(), Utc::now());
        let mut newer = StateUpdate::new(TaskState::Started, Utc::now());
        newer.fence = Some(2);
        assert!(r.apply(&newer));
        let mut stale = StateUpdate::new(TaskState::Success, Utc::now());
        stale.fence = Some(1);
        assert!(!r.apply(&stale));
        assert_eq!(r.state, TaskState::Started);
    }
}
