//! What every handler can reach: the use cases, the health checks, and the run mode.

use goodrobot_bootstrap::{Backend, Infra};
use goodrobot_ports::{
    HealthCheck,
    services::{BidService, OrderService, TaskPolicy, TaskService, UserService},
};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// The application state shared by the handlers (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    pub users: UserService,
    pub orders: OrderService,
    pub bids: BidService,
    pub tasks: TaskService,
    /// What `/ready` checks.
    pub health: Vec<Arc<dyn HealthCheck>>,
    /// True when tasks live in this process (an embedded worker runs them; lost on exit).
    pub embedded: bool,
    /// Cancelled when the server shuts down: long waits (`?wait=`) return early.
    pub shutdown: CancellationToken,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("health", &self.health.iter().map(|h| h.name()).collect::<Vec<_>>())
            .field("embedded", &self.embedded)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Wires the use cases over the adapters of `infra`.
    pub fn from_infra(infra: &Infra) -> Self {
        Self {
            users: UserService::new(infra.users.clone(), infra.cache.clone()),
            orders: OrderService::new(infra.users.clone(), infra.orders.clone(), infra.clock.clone()),
            bids: BidService::new(infra.users.clone(), infra.orders.clone(), infra.bids.clone(), infra.clock.clone()),
            tasks: TaskService::new(
                infra.broker.clone(),
                infra.results.clone(),
                infra.clock.clone(),
                TaskPolicy::default(),
            ),
            health: infra.health.clone(),
            embedded: infra.tasks == Backend::Memory,
            shutdown: CancellationToken::new(),
        }
    }
}
