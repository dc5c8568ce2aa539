//! The task broker and result backend on Redis (the Celery Redis broker and result backend,
//! without their lost tasks, early etas and immortal results).
//!
//! ```text
//! let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());   // Broker + HealthCheck "redis"
//! let results = RedisResults::new(pool, RedisResultsConfig { ttl: Duration::from_secs(24 * 3600) });
//! ```
//!
//! Every script touches the keys of one hash slot (`{q:<queue>}` per queue, its tasks' result
//! records included, or `{revoked}`); due times and leases are decided on Redis's clock; idle
//! fetches and result waits block on lists instead of polling. [`RedisWorkerStore`] gives a
//! worker two calls per task: claim + STARTED, outcome + settlement. `docs/broker.md` has the
//! key layout, the scripts and the guarantees.

mod broker;
mod codec;
mod config;
mod conn;
mod keys;
mod results;
mod scripts;
mod worker_store;

pub use broker::RedisBroker;
pub use config::{RedisBrokerConfig, RedisResultsConfig};
pub use results::RedisResults;
pub use worker_store::RedisWorkerStore;
