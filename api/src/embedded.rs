//! The worker that runs inside the API process when tasks live in memory (no `REDIS_URL`):
//! a separate worker process could not reach that queue.

use goodrobot_bootstrap::{Infra, Settings};
use goodrobot_domain::task::QueueName;
use goodrobot_worker::{WorkerConfig, WorkerDeps};

/// The ports the worker uses, taken from the same adapters the API uses.
pub fn worker_deps(infra: &Infra) -> WorkerDeps {
    WorkerDeps {
        broker: infra.broker.clone(),
        results: infra.results.clone(),
        clock: infra.clock.clone(),
        users: infra.users.clone(),
        orders: infra.orders.clone(),
        bids: infra.bids.clone(),
        cache: infra.cache.clone(),
        notifier: infra.notifier.clone(),
        rate_limiter: infra.rate_limiter.clone(),
    }
}

/// The worker's settings from the environment's.
///
/// # Errors
/// A name in `WORKER_QUEUES` that is not a valid queue name.
pub fn worker_config(settings: &Settings) -> Result<WorkerConfig, goodrobot_domain::ValidationError> {
    let queues = settings.worker_queues.iter().map(|q| QueueName::new(q)).collect::<Result<Vec<_>, _>>()?;
    Ok(WorkerConfig {
        concurrency: settings.worker_concurrency,
        queues,
        lease: settings.task_lease,
        shutdown_timeout: settings.shutdown_timeout,
        worker_id: None,
    })
}
