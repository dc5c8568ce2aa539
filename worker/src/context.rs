//! What a running handler can see and do: its task, its time limits, child tasks, progress.

use goodrobot_domain::task::{StateUpdate, TaskContract, TaskId, TaskMessage, TaskState};
use goodrobot_ports::{
    Clock, ResultBackend,
    services::{TaskOptions, TaskRequest, TaskService},
};
use serde_json::Value;
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

use crate::TaskError;

/// The context of one delivery of one task.
#[derive(Clone)]
pub struct TaskContext {
    msg: Arc<TaskMessage>,
    attempt: u32,
    fence: u64,
    worker_id: Arc<str>,
    soft_deadline: Option<Instant>,
    tasks: TaskService,
    results: Arc<dyn ResultBackend>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskContext")
            .field("task_id", &self.msg.id)
            .field("name", &self.msg.name)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl TaskContext {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        msg: Arc<TaskMessage>,
        attempt: u32,
        fence: u64,
        worker_id: Arc<str>,
        soft_deadline: Option<Instant>,
        tasks: TaskService,
        results: Arc<dyn ResultBackend>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { msg, attempt, fence, worker_id, soft_deadline, tasks, results, clock }
    }

    pub fn task_id(&self) -> TaskId {
        self.msg.id
    }

    pub fn message(&self) -> &TaskMessage {
        &self.msg
    }

    /// 1 on the first delivery; more after lost leases (crashes).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Retries so far (0 on the first run).
    pub fn retries(&self) -> u32 {
        self.msg.retries
    }

    pub fn worker_id(&self) -> &str {
        &self.worker_id
    }

    /// True once the soft time limit has passed: clean up and return soon.
    pub fn soft_time_limit_exceeded(&self) -> bool {
        self.soft_deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Completes when the soft time limit passes (never, if the task has none).
    pub async fn soft_time_limit(&self) {
        match self.soft_deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    }

    /// Celery's `self.retry(countdown=…)`: return this error to run the task again later.
    pub fn retry(&self, countdown: Duration, reason: impl Into<String>) -> TaskError {
        TaskError::Retry { countdown: Some(countdown), reason: reason.into() }
    }

    /// Queues a follow-up task once per (this task, `label`), however often this task is
    /// delivered: the child's id is derived from this task's id and the label. The child
    /// carries `parent_id` = this task and this task's root.
    ///
    /// # Errors
    /// `Transient` if the broker or result backend cannot be reached.
    pub async fn enqueue_child<T: TaskContract>(&self, label: &str, args: &T::Args) -> Result<TaskId, TaskError> {
        let kwargs = match serde_json::to_value(args) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(TaskError::permanent(
                    "InvalidArguments",
                    format!("arguments of {} are not an object", T::NAME),
                ));
            }
        };
        let options = TaskOptions {
            task_id: Some(TaskId::derived(self.msg.id, label)),
            parent_id: Some(self.msg.id),
            root_id: Some(self.msg.root()),
            ..TaskOptions::default()
        };
        let msg = self.tasks.build(&TaskRequest { name: T::NAME.to_owned(), args: Vec::new(), kwargs, options })?;
        Ok(self.tasks.ensure_queued(msg).await?.task_id)
    }

    /// Reports progress (state PROGRESS), e.g. `{"percent": 40}`.
    ///
    /// # Errors
    /// `Transient` if the result backend cannot be reached.
    pub async fn progress(&self, progress: Value) -> Result<(), TaskError> {
        let mut u = StateUpdate::new(TaskState::Progress, self.clock.now());
        u.progress = Some(progress);
        u.fence = Some(self.fence);
        u.worker = Some(self.worker_id.to_string());
        self.results.record(&self.msg, &u).await.map_err(|e| TaskError::transient("ResultBackend", e.to_string()))?;
        Ok(())
    }
}
