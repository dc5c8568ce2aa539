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
mod feed;
pub mod handlers;
pub mod metrics;
mod metrics_server;
mod registry;
mod runtime;

pub use backoff::Backoff;
pub use config::{WorkerConfig, WorkerDeps, host_name, unique_worker_id};
pub use context::{CHECKPOINT_TTL, TaskContext, checkpoint_key};
pub use error::TaskError;
pub use feed::HEARTBEAT_EVERY;
pub use metrics::WorkerMetrics;
pub use metrics_server::{metrics_endpoint, serve_metrics};
pub use registry::{ErasedHandler, Registry, TaskHandler};
pub use runtime::WorkerCounters;

use goodrobot_ports::{
    WorkerInfo,
    services::{TaskPolicy, TaskService},
};
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
    instruments: Arc<metrics::Instruments>,
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
        Self { config, deps, registry, id, counters: Arc::default(), instruments: Arc::default() }
    }

    /// This worker's unique id (host, pid and a random part).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Live counters of this worker's outcomes.
    pub fn counters(&self) -> Arc<WorkerCounters> {
        self.counters.clone()
    }

    /// This worker's metrics (for [`serve_metrics`]): they keep counting while it runs.
    pub fn metrics(&self) -> WorkerMetrics {
        WorkerMetrics::new(self.instruments.clone(), self.deps.broker.clone(), self.config.queues.clone())
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
        )
        .with_events(self.deps.events.clone());
        let feed_stop = CancellationToken::new();
        let (events, flusher) = feed::EventFeed::start(self.deps.events.clone(), feed_stop.clone());
        let info = WorkerInfo {
            id: self.id.to_string(),
            host: host_name(),
            pid: std::process::id(),
            started_at: self.deps.clock.now(),
            concurrency: self.config.concurrency as u32,
            queues: self.config.queues.iter().map(ToString::to_string).collect(),
            running: 0,
            succeeded: 0,
            failed: 0,
            retried: 0,
            last_heartbeat: self.deps.clock.now(),
        };
        let (registry, clock, counters) = (self.deps.workers.clone(), self.deps.clock.clone(), self.counters.clone());
        // Announced before the first fetch, so a worker that runs tasks is always listed.
        if let Err(e) = registry.heartbeat(&info, feed::HEARTBEAT_EVERY * 3).await {
            tracing::warn!(error = %e, "first heartbeat not recorded");
        }
        let rt = Arc::new(runtime::Runtime::new(
            self.config,
            self.deps,
            self.registry,
            self.id,
            tasks,
            self.counters,
            self.instruments,
            events,
        ));
        let beat_rt = rt.clone();
        let beats = tokio::spawn(feed::heartbeat(
            registry,
            info,
            counters,
            move || beat_rt.running_count(),
            clock,
            feed_stop.clone(),
        ));
        rt.run(shutdown).await;
        feed_stop.cancel();
        let _ = tokio::join!(beats, flusher);
        Ok(())
    }
}
