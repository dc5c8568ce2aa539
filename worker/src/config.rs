//! What a worker is given: its settings and the ports it works through.

use goodrobot_domain::task::QueueName;
use goodrobot_ports::{
    BidRepository, Broker, Cache, Clock, EventLog, Notifier, OrderRepository, RateLimiter, ResultBackend,
    UserRepository, WorkerRegistry, WorkerStore,
};
use std::{sync::Arc, time::Duration};

/// A worker's settings.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Tasks run at once (Celery's `--concurrency`).
    pub concurrency: usize,
    /// Queues consumed, in order of preference.
    pub queues: Vec<QueueName>,
    /// Lease of a claimed task; renewed while it runs.
    pub lease: Duration,
    /// How long running tasks may finish after a shutdown request.
    pub shutdown_timeout: Duration,
    /// Fixed id (tests); `None` → a unique id per process.
    pub worker_id: Option<String>,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            queues: vec![QueueName::default_queue()],
            lease: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(30),
            worker_id: None,
        }
    }
}

/// The ports a worker and its handlers use.
#[derive(Clone)]
pub struct WorkerDeps {
    pub broker: Arc<dyn Broker>,
    /// The two calls per task: claim (+ STARTED), outcome + settlement.
    pub store: Arc<dyn WorkerStore>,
    pub results: Arc<dyn ResultBackend>,
    pub clock: Arc<dyn Clock>,
    pub users: Arc<dyn UserRepository>,
    pub orders: Arc<dyn OrderRepository>,
    pub bids: Arc<dyn BidRepository>,
    pub cache: Arc<dyn Cache>,
    pub notifier: Arc<dyn Notifier>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Where heartbeats go (the monitor's list of workers).
    pub workers: Arc<dyn WorkerRegistry>,
    /// Where task events go (the monitor's history).
    pub events: Arc<dyn EventLog>,
}

impl std::fmt::Debug for WorkerDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDeps").finish_non_exhaustive()
    }
}

/// This machine's host name.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "host".into())
}

/// `<host>-<pid>-<random>`: unique per process, never configured.
pub fn unique_worker_id() -> String {
    let rand: u32 = rand::random();
    format!("{}-{}-{rand:08x}", host_name(), std::process::id())
}

impl WorkerDeps {
    /// The ports of `infra` (what every binary that runs a worker wires).
    pub fn from_infra(infra: &goodrobot_bootstrap::Infra) -> Self {
        Self {
            broker: infra.broker.clone(),
            store: infra.worker_store.clone(),
            results: infra.results.clone(),
            clock: infra.clock.clone(),
            users: infra.users.clone(),
            orders: infra.orders.clone(),
            bids: infra.bids.clone(),
            cache: infra.cache.clone(),
            notifier: infra.notifier.clone(),
            rate_limiter: infra.rate_limiter.clone(),
            workers: infra.workers.clone(),
            events: infra.events.clone(),
        }
    }
}

impl WorkerConfig {
    /// The worker's settings from the environment's.
    ///
    /// # Errors
    /// A name in `WORKER_QUEUES` that is not a valid queue name.
    pub fn from_settings(settings: &goodrobot_bootstrap::Settings) -> Result<Self, goodrobot_domain::ValidationError> {
        let queues = settings.worker_queues.iter().map(|q| QueueName::new(q)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            concurrency: settings.worker_concurrency,
            queues,
            lease: settings.task_lease,
            shutdown_timeout: settings.shutdown_timeout,
            worker_id: None,
        })
    }
}
