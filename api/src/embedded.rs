//! The worker that runs inside the API process when tasks live in memory (no `REDIS_URL`):
//! a separate worker process could not reach that queue.

use goodrobot_bootstrap::{Infra, Settings};
use goodrobot_worker::{WorkerConfig, WorkerDeps};

/// The ports the worker uses, taken from the same adapters the API uses.
pub fn worker_deps(infra: &Infra) -> WorkerDeps {
    WorkerDeps::from_infra(infra)
}

/// The worker's settings from the environment's.
///
/// # Errors
/// A name in `WORKER_QUEUES` that is not a valid queue name.
pub fn worker_config(settings: &Settings) -> Result<WorkerConfig, goodrobot_domain::ValidationError> {
    WorkerConfig::from_settings(settings)
}
