//! Broker: carries task messages to workers, at least once, with leases.
//!
//! Contract: a fetched task is held under a lease by one worker; the worker acks it after
//! the handler finishes, or asks for a retry, or dead-letters it. A lease that is not renewed
//! expires and the task is delivered again (attempt + 1). Every claim has a fencing token:
//! ack, renew, retry and dead-letter carry it, and one whose lease was lost is refused with
//! `LeaseLost`, so a paused worker cannot finish a task that another has taken over.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, TaskFailure, TaskId, TaskMessage};
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerError {
    /// The broker cannot be reached now; nothing was written.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The lease of this delivery is gone (expired and maybe claimed by another worker).
    #[error("lease of task {0} was lost")]
    LeaseLost(TaskId),
    #[error("task {0} not found")]
    NotFound(TaskId),
    #[error("broker error: {0}")]
    Internal(String),
}

/// What enqueueing one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EnqueueOutcome {
    Queued(TaskId),
    /// Another task with the same `dedup_key` is pending or running: its id.
    Duplicate(TaskId),
}

impl EnqueueOutcome {
    pub fn task_id(self) -> TaskId {
        match self {
            Self::Queued(id) | Self::Duplicate(id) => id,
        }
    }
}

/// Proof of holding a task's lease.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LeaseToken {
    pub task_id: TaskId,
    pub queue: QueueName,
    /// Grows with every claim of the task; only the newest claim's token is honoured.
    pub fence: u64,
}

/// A claimed task.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub message: TaskMessage,
    /// 1 on the first delivery, +1 on every redelivery after a lost lease.
    pub attempt: u32,
    pub token: LeaseToken,
    pub lease_until: DateTime<Utc>,
    /// The revoke reason if the task was revoked (looked up in the same fetch, so the
    /// worker needs no extra round trip per task).
    pub revoked: Option<String>,
}

/// A worker's request for work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRequest {
    pub worker_id: String,
    /// Queues in the order they are served.
    pub queues: Vec<QueueName>,
    /// At most this many tasks (the worker's free slots).
    pub max: usize,
    pub lease: Duration,
    /// Block up to this long when nothing is due.
    pub wait: Duration,
}

/// Counts of one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    pub queue: String,
    pub ready: u64,
    pub delayed: u64,
    pub in_flight: u64,
    pub dead: u64,
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait Broker: Send + Sync {
    /// Enqueues messages: a due one becomes ready, one with a later eta waits in the delayed
    /// set. Outcomes are in the order of `msgs`.
    ///
    /// # Errors
    /// `Unavailable`: nothing of this call was enqueued.
    async fn enqueue(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError>;
    /// Claims up to `req.max` due tasks (promoting delayed ones that are due), each under a
    /// lease of `req.lease`; reclaims expired leases. Waits up to `req.wait` if none is due.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn fetch(&self, req: &FetchRequest) -> Result<Vec<Delivery>, BrokerError>;
    /// Extends leases; returns for each token whether it is still held.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn renew(&self, tokens: &[LeaseToken], lease: Duration) -> Result<Vec<bool>, BrokerError>;
    /// The task is done for good.
    ///
    /// # Errors
    /// `LeaseLost`; `Unavailable`.
    async fn ack(&self, token: &LeaseToken) -> Result<(), BrokerError>;
    /// Reschedules the task as `msg` (with its retry count raised) to run at `at`.
    ///
    /// # Errors
    /// `LeaseLost`; `Unavailable`.
    async fn retry(&self, token: &LeaseToken, msg: &TaskMessage, at: DateTime<Utc>) -> Result<(), BrokerError>;
    /// Hands a claimed task back, due now, without counting an attempt (graceful shutdown).
    ///
    /// # Errors
    /// `LeaseLost`; `Unavailable`.
    async fn release(&self, token: &LeaseToken) -> Result<(), BrokerError>;
    /// Moves the task to the dead-letter list with its last error.
    ///
    /// # Errors
    /// `LeaseLost`; `Unavailable`.
    async fn dead_letter(&self, token: &LeaseToken, failure: &TaskFailure) -> Result<(), BrokerError>;
    /// Takes a task from the dead-letter list and enqueues it again, due now, retries reset.
    ///
    /// # Errors
    /// `NotFound` if it is not dead-lettered.
    async fn replay(&self, id: TaskId) -> Result<TaskMessage, BrokerError>;
    /// Marks a task revoked for `ttl`; a worker that fetches it does not run it.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn revoke(&self, id: TaskId, reason: &str, ttl: Duration) -> Result<(), BrokerError>;
    /// The revoke reason, if the task is revoked.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn revoked(&self, id: TaskId) -> Result<Option<String>, BrokerError>;
    /// # Errors
    /// `Unavailable`.
    async fn stats(&self, queue: &QueueName) -> Result<QueueStats, BrokerError>;
    /// Removes every waiting (ready or delayed) task of `queue`, freeing their dedup keys;
    /// running and dead-lettered tasks stay. Returns how many were removed.
    ///
    /// # Errors
    /// `Unavailable`; `Internal` from a broker that cannot purge (the default).
    async fn purge(&self, queue: &QueueName) -> Result<u64, BrokerError> {
        Err(BrokerError::Internal(format!("this broker cannot purge queue {queue}")))
    }
    /// # Errors
    /// `Unavailable`.
    async fn ping(&self) -> Result<(), BrokerError>;
}
