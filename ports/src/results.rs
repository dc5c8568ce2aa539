//! Result backend: each task's state record, kept for a limited time.

use async_trait::async_trait;
use goodrobot_domain::task::{StateUpdate, TaskId, TaskMessage, TaskRecord};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResultError {
    #[error("result backend unavailable: {0}")]
    Unavailable(String),
    #[error("result backend error: {0}")]
    Internal(String),
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ResultBackend: Send + Sync {
    /// Stores a new record unless one with its id exists; returns whether it was stored.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn create(&self, record: &TaskRecord) -> Result<bool, ResultError>;
    /// Stores records whose ids were generated just now (a bulk submit, where no task id can
    /// be chosen: no record can have them yet), without [`Self::create`]'s existence check
    /// and in one round trip.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn create_fresh(&self, records: &[TaskRecord]) -> Result<(), ResultError>;
    /// Applies a state change to the task's record, creating the record from `msg` if it is
    /// missing (expired, or never written). Returns the record after the change; a terminal
    /// record is not changed (see [`TaskRecord::apply`]).
    ///
    /// # Errors
    /// `Unavailable`.
    async fn record(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<TaskRecord, ResultError>;
    /// [`Self::record`] without reading the record back (the worker's hot path: it knows
    /// what it wrote). Returns whether the change applied: false if the record was terminal
    /// or carries a newer delivery's fence.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn record_applied(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<bool, ResultError>;
    /// Applies a state change to an existing record; `None` if there is none.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn update(&self, id: TaskId, update: &StateUpdate) -> Result<Option<TaskRecord>, ResultError>;
    /// # Errors
    /// `Unavailable`.
    async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, ResultError>;
    /// # Errors
    /// `Unavailable`.
    async fn delete(&self, id: TaskId) -> Result<(), ResultError>;
    /// Notes `child` as a child of `parent`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn add_child(&self, parent: TaskId, child: TaskId) -> Result<(), ResultError>;
    /// Waits (without polling) until the task is in a terminal state or `timeout` passes;
    /// returns the record as it then is.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskRecord>, ResultError>;
    /// # Errors
    /// `Unavailable`.
    async fn ping(&self) -> Result<(), ResultError>;
}
