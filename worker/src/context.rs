//! What a running handler can see and do: its task, its time limits, child tasks, progress.

use goodrobot_domain::task::{StateUpdate, TaskContract, TaskId, TaskMessage, TaskState};
use goodrobot_ports::{
    Cache, CacheExt, Clock, ResultBackend,
    services::{TaskOptions, TaskRequest, TaskService},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
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
    cache: Arc<dyn Cache>,
    checkpointed: Arc<AtomicBool>,
}

/// How long a checkpoint is kept (a task redelivered later than this starts over).
pub const CHECKPOINT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Where a task's checkpoint is kept.
pub fn checkpoint_key(id: TaskId) -> String {
    format!("checkpoint:{id}")
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
        cache: Arc<dyn Cache>,
    ) -> Self {
        Self {
            msg,
            attempt,
            fence,
            worker_id,
            soft_deadline,
            tasks,
            results,
            clock,
            cache,
            checkpointed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Saves the progress of a long task; a redelivery of the task (after a crash, a lost
    /// lease or a retry) reads it back with [`Self::load_checkpoint`] and resumes. Dropped
    /// once the task finishes.
    ///
    /// # Errors
    /// `Transient` if the store cannot be reached.
    pub async fn checkpoint<T: Serialize + Sync>(&self, state: &T) -> Result<(), TaskError> {
        self.checkpointed.store(true, Ordering::Relaxed);
        self.cache
            .set_cache(&checkpoint_key(self.msg.id), state, Some(CHECKPOINT_TTL))
            .await
            .map_err(|e| TaskError::transient("CheckpointStore", e.to_string()))
    }

    /// The last checkpoint saved by an earlier delivery of this task, if any.
    ///
    /// # Errors
    /// `Transient` if the store cannot be reached.
    pub async fn load_checkpoint<T: DeserializeOwned>(&self) -> Result<Option<T>, TaskError> {
        match self.cache.get_cache::<T>(&checkpoint_key(self.msg.id)).await {
            Ok(v) => {
                if v.is_some() {
                    self.checkpointed.store(true, Ordering::Relaxed);
                }
                Ok(v)
            }
            Err(goodrobot_ports::CacheError::Serialization(e)) => {
                tracing::warn!(error = %e, "unreadable checkpoint ignored; starting over");
                Ok(None)
            }
            Err(e) => Err(TaskError::transient("CheckpointStore", e.to_string())),
        }
    }

    /// Whether this run saved or read a checkpoint (the runtime then drops it at the end).
    pub(crate) fn used_checkpoint(&self) -> bool {
        self.checkpointed.load(Ordering::Relaxed)
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
