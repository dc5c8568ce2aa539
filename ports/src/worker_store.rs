//! The task hot paths as few steps as the adapter allows: a worker's claim (and STARTED in
//! the same step), then its outcome and settlement in one step ([`WorkerStore`]); a
//! producer's message, PENDING record and event in one round trip ([`SubmitStore`]).
//! [`SeparateWorkerStore`] composes the worker's steps from a [`Broker`] and a
//! [`ResultBackend`] (the in-memory adapters); the Redis adapter does each step as one script
//! on the queue's slot.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{StateUpdate, TaskFailure, TaskMessage, TaskRecord};
use std::sync::Arc;

use crate::{
    Broker, BrokerError, Clock, Delivery, EnqueueOutcome, FetchRequest, ResultBackend, ResultError, TaskEvent,
};

/// What STARTED records when a claim records it: the worker, and the clock that tells when
/// (read at each claim round, so a claim that waited for work records when it got it).
#[derive(Clone)]
pub struct StartStamp {
    pub worker: String,
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StartStamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartStamp").field("worker", &self.worker).finish_non_exhaustive()
    }
}

/// A claimed task, and when its STARTED state was recorded by the claim itself, if it was
/// (else the worker records it when the handler starts: rate-limited tasks, tasks that
/// expire, revoked ones, records that were missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    pub delivery: Delivery,
    pub started_at: Option<DateTime<Utc>>,
}

/// How a delivery ends with the broker.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// Done for good: the message goes.
    Ack,
    /// Runs again at `at` as `next` (same id and queue).
    Retry { next: Box<TaskMessage>, at: DateTime<Utc> },
    /// Kept as a dead letter with its failure.
    DeadLetter(TaskFailure),
}

/// What settling did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settled {
    /// The outcome was recorded (false: the record is final already, or a newer delivery's).
    pub recorded: bool,
    /// The delivery still held its lease, so the settlement happened (false: a newer
    /// delivery owns the task; nothing was settled).
    pub lease_held: bool,
}

/// Why a step failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkerStoreError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Results(#[from] ResultError),
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait WorkerStore: Send + Sync {
    /// Claims like [`Broker::fetch`]; where it can, records STARTED (`stamp`, the delivery's
    /// fence and attempt) for each claimed task in the same step.
    ///
    /// # Errors
    /// As [`Broker::fetch`]: nothing was claimed.
    async fn claim(&self, req: &FetchRequest, stamp: &StartStamp) -> Result<Vec<Claimed>, WorkerStoreError>;

    /// Records `update` (the outcome, fenced by the delivery) and settles the delivery as
    /// `how`, in one step where the adapter can.
    ///
    /// # Errors
    /// Redis or the store is unavailable: the outcome may or may not be recorded, the delivery
    /// is not settled (its lease runs out and it runs again: at least once).
    async fn settle(&self, d: &Delivery, update: &StateUpdate, how: &Settlement) -> Result<Settled, WorkerStoreError>;
}

/// A producer's submit in one round trip.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait SubmitStore: Send + Sync {
    /// Enqueues `msgs` (as [`Broker::enqueue`]), stores `records[i]` as the PENDING record of
    /// each `msgs[i]` that is now in its queue and has no record yet (a duplicate by dedup
    /// key gets none), and appends `events`, in one round trip where the adapter can.
    ///
    /// # Errors
    /// Unavailable: the outcome is unknown (the messages may or may not be queued; a record
    /// is never written without its message); enqueueing the same ids again is safe.
    async fn submit(
        &self,
        msgs: &[TaskMessage],
        records: &[TaskRecord],
        events: &[TaskEvent],
    ) -> Result<Vec<EnqueueOutcome>, WorkerStoreError>;
}

/// [`WorkerStore`] as separate calls to a broker and a result backend.
#[derive(Clone)]
pub struct SeparateWorkerStore {
    pub broker: Arc<dyn Broker>,
    pub results: Arc<dyn ResultBackend>,
}

impl std::fmt::Debug for SeparateWorkerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeparateWorkerStore").finish_non_exhaustive()
    }
}

#[async_trait]
impl WorkerStore for SeparateWorkerStore {
    async fn claim(&self, req: &FetchRequest, _stamp: &StartStamp) -> Result<Vec<Claimed>, WorkerStoreError> {
        let got = self.broker.fetch(req).await?;
        Ok(got.into_iter().map(|delivery| Claimed { delivery, started_at: None }).collect())
    }

    async fn settle(&self, d: &Delivery, update: &StateUpdate, how: &Settlement) -> Result<Settled, WorkerStoreError> {
        let recorded = self.results.record_applied(&d.message, update).await?;
        let settled = match how {
            Settlement::Ack => self.broker.ack(&d.token).await,
            Settlement::Retry { next, at } => self.broker.retry(&d.token, next, *at).await,
            Settlement::DeadLetter(f) => self.broker.dead_letter(&d.token, f).await,
        };
        match settled {
            Ok(()) => Ok(Settled { recorded, lease_held: true }),
            Err(BrokerError::LeaseLost(_)) => Ok(Settled { recorded, lease_held: false }),
            Err(e) => Err(e.into()),
        }
    }
}
