//! What a worker is given: its settings and the ports it works through.

use goodrobot_domain::task::QueueName;
use goodrobot_ports::{
    BidRepository, Broker, Cache, Clock, Notifier, OrderRepository, RateLimiter, ResultBackend, UserRepository,
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
    pub results: Arc<dyn ResultBackend>,
    pub clock: Arc<dyn Clock>,
    pub users: Arc<dyn UserRepository>,
    pub orders: Arc<dyn OrderRepository>,
    pub bids: Arc<dyn BidRepository>,
    pub cache: Arc<dyn Cache>,
    pub notifier: Arc<dyn Notifier>,
    pub rate_limiter: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for WorkerDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkerDeps").finish_non_exhaustive()
    }
}

/// `<host>-<pid>-<random>`: unique per process, never configured.
pub fn unique_worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let rand: u32 = rand::random();
    format!("{host}-{}-{rand:08x}", std::process::id())
}
