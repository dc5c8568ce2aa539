//! The adapters behind every port, chosen from the settings at start-up.

use anyhow::Context;
use goodrobot_ports::{
    BidRepository, Broker, Cache, Clock, EventLog, HealthCheck, Notifier, OrderRepository, RateLimiter, ResultBackend,
    SessionStore, StateStore, SubmitStore, SystemClock, UserRepository, WorkerRegistry, WorkerStore,
};
use goodrobot_redis::{
    FailPolicy, RedisCache, RedisConfig, RedisPool, RedisRateLimiter, RedisSessionStore, RedisStateStore,
    ResilientRateLimiter,
};
use std::sync::Arc;

use crate::Settings;

/// How many task events the monitor's history keeps (a capped stream in Redis).
pub const EVENT_LOG_CAPACITY: usize = 100_000;

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
    pub state: Arc<dyn StateStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub broker: Arc<dyn Broker>,
    pub results: Arc<dyn ResultBackend>,
    /// A worker's two calls per task (claim + STARTED, outcome + settlement).
    pub worker_store: Arc<dyn WorkerStore>,
    /// A producer's submit in one round trip (Redis); `None`: separate calls.
    pub submit_store: Option<Arc<dyn SubmitStore>>,
    pub notifier: Arc<dyn Notifier>,
    pub clock: Arc<dyn Clock>,
    /// Workers' heartbeats (what the monitor lists).
    pub workers: Arc<dyn WorkerRegistry>,
    /// The bounded history of task events (what the monitor shows).
    pub events: Arc<dyn EventLog>,
    /// What `/ready` checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
    /// Where the repositories live.
    pub records: Backend,
    /// Where the broker and results live.
    pub tasks: Backend,
    /// The Redis pool, when `REDIS_URL` is set.
    pub redis: Option<RedisPool>,
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
        let worker_store =
            Arc::new(goodrobot_ports::SeparateWorkerStore { broker: broker.clone(), results: results.clone() });
        Self {
            worker_store,
            submit_store: None,
            users: Arc::new(store.clone()),
            orders: Arc::new(store.clone()),
            bids: Arc::new(store.clone()),
            cache: Arc::new(goodrobot_memory::MemoryCache::new(clock.clone())),
            rate_limiter: Arc::new(goodrobot_memory::MemoryRateLimiter::new(clock.clone())),
            state: Arc::new(goodrobot_memory::MemoryStateStore::new(clock.clone())),
            sessions: Arc::new(goodrobot_memory::MemorySessionStore::new(clock.clone())),
            broker,
            results,
            notifier: Arc::new(goodrobot_notify::LogNotifier),
            workers: Arc::new(goodrobot_memory::MemoryWorkerRegistry::new(clock.clone())),
            events: Arc::new(goodrobot_memory::MemoryEventLog::new(EVENT_LOG_CAPACITY)),
            clock,
            health: vec![Arc::new(store)],
            records: Backend::Memory,
            tasks: Backend::Memory,
            redis: None,
        }
    }

    /// Builds the adapters the settings name: Postgres for `DATABASE_URL`, Redis for
    /// `REDIS_URL`, memory for what is not set.
    ///
    /// # Errors
    /// A configured service that cannot be set up (bad URL, unreachable at start-up).
    pub async fn from_settings(settings: &Settings) -> anyhow::Result<Self> {
        let mut infra = Self::memory();
        if let Some(url) = &settings.notify_webhook_url {
            let mut cfg = goodrobot_notify::WebhookConfig::new(url.clone());
            cfg.secret.clone_from(&settings.notify_webhook_secret);
            infra.notifier = Arc::new(goodrobot_notify::WebhookNotifier::new(cfg).context("NOTIFY_WEBHOOK_URL")?);
        }
        if let Some(url) = &settings.database_url {
            if settings.run_migrations {
                let applied =
                    goodrobot_migrations::run_pending(url).await.context("running migrations on DATABASE_URL")?;
                tracing::info!(applied = applied.len(), "database migrations applied");
            }
            let mut cfg = goodrobot_postgres::PgConfig::new(url.clone());
            cfg.pool_size = settings.db_pool_size;
            let store = goodrobot_postgres::PgStore::connect(&cfg).await.context("connecting to DATABASE_URL")?;
            let store = Arc::new(store);
            infra.users = store.clone();
            infra.orders = store.clone();
            infra.bids = store.clone();
            // Postgres replaces the in-memory store in the readiness checks.
            infra.health = vec![store];
            infra.records = Backend::Postgres;
        }
        if let Some(url) = &settings.redis_url {
            let cfg = RedisConfig {
                url: url.clone(),
                prefix: settings.redis_prefix.clone(),
                pool_size: settings.redis_pool_size,
                connect_timeout: settings.redis_connect_timeout,
                cluster: settings.redis_cluster,
            };
            let pool = RedisPool::connect(&cfg).await.context("connecting to REDIS_URL")?;
            let policy: FailPolicy = settings
                .rate_limit_fail_policy
                .parse()
                .map_err(|e: String| anyhow::anyhow!("RATE_LIMIT_FAIL_POLICY: {e}"))?;
            let cache = Arc::new(RedisCache::new(pool.clone()));
            infra.cache = cache.clone();
            infra.rate_limiter =
                Arc::new(ResilientRateLimiter::new(Arc::new(RedisRateLimiter::new(pool.clone())), policy));
            infra.state = Arc::new(RedisStateStore::new(pool.clone()));
            infra.sessions = Arc::new(RedisSessionStore::new(pool.clone()));
            let broker = goodrobot_redis_broker::RedisBroker::new(
                pool.clone(),
                goodrobot_redis_broker::RedisBrokerConfig {
                    wait_replicas: settings.redis_wait_replicas,
                    wait_timeout: settings.redis_wait_timeout,
                    ..goodrobot_redis_broker::RedisBrokerConfig::default()
                },
            );
            infra.broker = Arc::new(broker.clone());
            let results = goodrobot_redis_broker::RedisResults::new(
                pool.clone(),
                goodrobot_redis_broker::RedisResultsConfig { ttl: settings.result_ttl },
            );
            let events = goodrobot_redis::RedisEventLog::new(pool.clone(), EVENT_LOG_CAPACITY);
            let store = Arc::new(
                goodrobot_redis_broker::RedisWorkerStore::new(broker.clone(), results.clone())
                    .with_events(events.clone()),
            );
            infra.worker_store = store.clone();
            infra.submit_store = Some(store);
            infra.results = Arc::new(results);
            infra.workers = Arc::new(goodrobot_redis::RedisWorkerRegistry::new(pool.clone()));
            infra.events = Arc::new(events);
            infra.tasks = Backend::Redis;
            infra.health.push(cache);
            infra.redis = Some(pool);
        }
        Ok(infra)
    }
}
