//! What every handler shares: the ports the monitor reads and acts through, the task use
//! cases and the configuration.

use goodrobot_ports::{
    Broker, Clock, EventLog, HealthCheck, ResultBackend, SessionStore, WorkerRegistry,
    services::{TaskPolicy, TaskService},
};
use std::sync::Arc;

use crate::{auth::throttle::LoginThrottle, config::MonitorConfig};

/// The ports the monitor uses.
#[derive(Clone)]
pub struct MonitorDeps {
    pub broker: Arc<dyn Broker>,
    pub results: Arc<dyn ResultBackend>,
    pub workers: Arc<dyn WorkerRegistry>,
    pub events: Arc<dyn EventLog>,
    pub sessions: Arc<dyn SessionStore>,
    pub clock: Arc<dyn Clock>,
    /// What `/ready` checks (the process's Redis, or cluster, and database).
    pub health: Vec<Arc<dyn HealthCheck>>,
}

impl MonitorDeps {
    /// The monitor's ports from the process's adapters.
    pub fn from_infra(infra: &goodrobot_bootstrap::Infra) -> Self {
        Self {
            broker: infra.broker.clone(),
            results: infra.results.clone(),
            workers: infra.workers.clone(),
            events: infra.events.clone(),
            sessions: infra.sessions.clone(),
            clock: infra.clock.clone(),
            health: infra.health.clone(),
        }
    }
}

impl std::fmt::Debug for MonitorDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorDeps").finish_non_exhaustive()
    }
}

/// The application state of the monitor.
#[derive(Clone)]
pub struct MonitorState {
    pub deps: MonitorDeps,
    pub tasks: TaskService,
    pub config: Arc<MonitorConfig>,
    /// Failed logins per client address.
    pub throttle: LoginThrottle,
}

impl std::fmt::Debug for MonitorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorState").field("config", &self.config).finish_non_exhaustive()
    }
}

impl MonitorState {
    pub fn new(deps: MonitorDeps, config: MonitorConfig) -> Self {
        let tasks =
            TaskService::new(deps.broker.clone(), deps.results.clone(), deps.clock.clone(), TaskPolicy::default())
                .with_events(deps.events.clone());
        Self { deps, tasks, config: Arc::new(config), throttle: LoginThrottle::default() }
    }
}
