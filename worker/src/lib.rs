//! The task runtime: fetches tasks from the broker under leases, runs their handlers in N
//! slots, records every state, retries with backoff, and shuts down gracefully. Also
//! GoodRobot's task handlers.
//!
//! Delivery is at least once: a task is acked only after its outcome is recorded, so a
//! crash anywhere means the task runs again. Handlers with side effects must be idempotent.

mod backoff;
mod config;
mod context;
mod error;
pub mod handlers;
mod registry;
mod runtime;

pub use backoff::Backoff;
pub use config::{WorkerConfig, WorkerDeps, unique_worker_id};
pub use context::{CHECKPOINT_TTL, TaskContext, checkpoint_key};
pub use error::TaskError;
pub use registry::{ErasedHandler, Registry, TaskHandler};
pub use runtime::WorkerCounters;

use goodrobot_ports::services::{TaskPolicy, TaskService};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// A worker: one process may run one (the API's embedded mode runs one in-process).
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    deps: WorkerDeps,
    registry: Registry,
    id: Arc<str>,
    counters: Arc<WorkerCounters>,
}

/// Why a worker could not run.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker configuration: {0}")]
    Config(String),
}

impl Worker {
    /// A worker running every GoodRobot task ([`handlers::goodrobot_registry`]).
    pub fn new(config: WorkerConfig, deps: WorkerDeps) -> Self {
        let registry = handlers::goodrobot_registry(&deps);
        Self::with_registry(config, deps, registry)
    }

    /// A worker running the handlers of `registry`.
    pub fn with_registry(config: WorkerConfig, deps: WorkerDeps, registry: Registry) -> Self {
        let id: Arc<str> = config.worker_id.clone().unwrap_or_else(unique_worker_id).into();
        Self { config, deps, registry, id, counters: Arc::default() }
    }

    /// This worker's unique id (host, pid and a random part).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Live counters of this worker's outcomes.
    pub fn counters(&self) -> Arc<WorkerCounters> {
        self.counters.clone()
    }

    /// Runs until `shutdown` is cancelled; then stops fetching, lets running tasks finish
    /// for up to `shutdown_timeout` and hands the rest back to the broker.
    ///
    /// # Errors
    /// A configuration the runtime cannot work with.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        if self.config.concurrency == 0 {
            return Err(WorkerError::Config("concurrency must be at least 1".into()));
        }
        if self.config.queues.is_empty() {
            return Err(WorkerError::Config("no queue to consume".into()));
        }
        if self.config.lease.is_zero() {
            return Err(WorkerError::Config("lease must be longer than zero".into()));
        }
        let tasks = TaskService::new(
            self.deps.broker.clone(),
            self.deps.results.clone(),
            self.deps.clock.clone(),
            TaskPolicy::default(),
        );
        let rt = Arc::new(runtime::Runtime::new(self.config, self.deps, self.registry, self.id, tasks, self.counters));
        rt.run(shutdown).await;
        Ok(())
    }
}
