//! The adapters behind every port, chosen from the settings at start-up.

use goodrobot_ports::{
    BidRepository, Broker, Cache, Clock, HealthCheck, Notifier, OrderRepository, RateLimiter, ResultBackend,
    SystemClock, UserRepository,
};
use std::sync::Arc;

use crate::Settings;

/// Where the state lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In this process; lost on exit.
    Memory,
    Redis,
    Postgres,
}

/// Every port, as the process will use it.
#[derive(Clone)]
pub struct Infra {
    pub users: Arc<dyn UserRepository>,
    pub orders: Arc<dyn OrderRepository>,
    pub bids: Arc<dyn BidRepository>,
    pub cache: Arc<dyn Cache>,
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub broker: Arc<dyn Broker>,
    pub results: Arc<dyn ResultBackend>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    /// What `/ready` checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
    /// Where the repositories live.
    pub records: Backend,
    /// Where the broker and results live.
    pub tasks: Backend,
}

impl std::fmt::Debug for Infra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Infra").field("records", &self.records).field("tasks", &self.tasks).finish_non_exhaustive()
    }
}

impl Infra {
    /// Everything in memory: the embedded default, and what in-process tests use.
    pub fn memory() -> Self {
        let store = goodrobot_memory::MemoryStore::new();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let broker = Arc::new(goodrobot_memory::MemoryBroker::new(clock.clone()));
        let results = Arc::new(goodrobot_memory::MemoryResults::new());
        Self {
            users: Arc::new(store.clone()),
            orders: Arc::new(store.clone()),
            bids: Arc::new(store.clone()),
            cache: Arc::new(goodrobot_memory::MemoryCache::new(clock.clone())),
            rate_limiter: Arc::new(goodrobot_memory::MemoryRateLimiter::new(clock.clone())),
            broker,
            results,
            notifier: Arc::new(goodrobot_notify::LogNotifier),
            clock,
            health: vec![Arc::new(store)],
            records: Backend::Memory,
            tasks: Backend::Memory,
        }
    }

    /// Builds the adapters the settings name: Postgres for `DATABASE_URL`, Redis for
    /// `REDIS_URL`, memory for what is not set.
    ///
    /// # Errors
    /// A configured service that cannot be set up (bad URL, unreachable at start-up).
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let infra = Self::memory();
        if settings.database_url.is_some() {
            anyhow::bail!("DATABASE_URL is set but the Postgres adapter is not built in yet");
        }
        if settings.redis_url.is_some() {
            anyhow::bail!("REDIS_URL is set but the Redis adapters are not built in yet");
        }
        Ok(infra)
    }
}
