//! What every handler can reach: the use cases, the health checks, the run mode, and the
//! access configuration (API keys, CORS origins) the app's middleware applies.

use goodrobot_bootstrap::{Backend, Infra};
use goodrobot_ports::{
    HealthCheck, RateLimiter,
    services::{BidService, OrderService, TaskService, UserService, UserStateService},
};

use crate::{ApiConfig, auth::ApiKeys, cors::CorsPolicy, metrics::ApiMetrics, rate_limit::RateLimits};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The application state shared by the handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub users: UserService,
    pub orders: OrderService,
    pub bids: BidService,
    pub tasks: TaskService,
    pub user_state: UserStateService,
    /// Limits each client's requests (see [`crate::rate_limit`]).
    pub rate_limiter: Arc<dyn RateLimiter>,
    pub rate_limits: RateLimits,
    /// The API keys (hashes); empty: the API is open (loopback only, see [`crate::serve`]).
    pub keys: Arc<ApiKeys>,
    /// The origins browsers may call from (none: no CORS headers).
    pub cors: CorsPolicy,
    /// What `/ready` checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
    /// True when tasks live in this process (an embedded worker runs them; lost on exit).
    pub embedded: bool,
    /// Cancelled when the server shuts down: long waits (`?wait=`) return early.
    pub shutdown: CancellationToken,
    /// What `/metrics` reports (the user service counts its cache lookups into it).
    pub metrics: ApiMetrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("health", &self.health.iter().map(|h| h.name()).collect::<Vec<_>>())
            .field("embedded", &self.embedded)
            .field("keys", &self.keys)
            .field("cors", &self.cors.is_enabled())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the use cases over the adapters of `infra`, with the default configuration (no
    /// keys: open, which [`crate::serve`] allows on loopback only).
    pub fn from_infra(infra: &Infra) -> Self {
        Self::configured(infra, &ApiConfig::default())
    }

    /// Wires the use cases over the adapters of `infra`, configured by `config`.
    pub fn configured(infra: &Infra, config: &ApiConfig) -> Self {
        let metrics = ApiMetrics::new();
        Self {
            users: UserService::new(infra.users.clone(), infra.cache.clone()).with_stats(metrics.user_cache()),
            orders: OrderService::new(infra.users.clone(), infra.orders.clone(), infra.clock.clone()),
            bids: BidService::new(infra.users.clone(), infra.orders.clone(), infra.bids.clone(), infra.clock.clone()),
            tasks: {
                let tasks = TaskService::new(
                    infra.broker.clone(),
                    infra.results.clone(),
                    infra.clock.clone(),
                    config.task_policy,
                )
                .with_events(infra.events.clone());
                match &infra.submit_store {
                    Some(store) => tasks.with_submit_store(store.clone()),
                    None => tasks,
                }
            },
            user_state: UserStateService::new(infra.users.clone(), infra.state.clone(), infra.clock.clone()),
            rate_limiter: infra.rate_limiter.clone(),
            rate_limits: config.rate_limits,
            keys: config.keys.clone(),
            cors: config.cors.clone(),
            health: infra.health.clone(),
            embedded: infra.tasks == Backend::Memory,
            shutdown: CancellationToken::new(),
            metrics,
        }
    }

    /// The same state, whose `/metrics` also carries the series of the worker embedded in
    /// this process (tasks in memory: see [`crate::embedded`]).
    #[must_use]
    pub fn with_embedded_worker(self, worker: goodrobot_worker::WorkerMetrics) -> Self {
        Self { metrics: self.metrics.with_worker(worker), ..self }
    }
}
