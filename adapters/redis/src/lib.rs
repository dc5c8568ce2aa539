//! Redis adapters: a bb8-redis pool with key naming under a prefix, and the key-value uses
//! of the old stack (cache, temporary user state, sessions, rate limiting).
//!
//! Build one [`RedisPool`] and hand clones of it to each adapter:
//! [`RedisCache`] (also the `redis` health check), [`RedisStateStore`],
//! [`RedisSessionStore`], [`RedisRateLimiter`] — the latter wrapped in a
//! [`ResilientRateLimiter`] that applies a [`FailPolicy`] while Redis is down.

mod cache;
mod cluster;
mod pool;
mod rate_limit;
mod reserved;
mod resilient;
mod session;
mod state;
mod ttl;

pub use cache::RedisCache;
pub use cluster::key_slot;
pub use pool::{BlockingConn, RedisConfig, RedisPool, RedisSetupError, redis_error_kind};
pub use rate_limit::RedisRateLimiter;
pub use reserved::{RedisConn, Reserved};
pub use resilient::{FailPolicy, ResilientRateLimiter};
pub use session::RedisSessionStore;
pub use state::RedisStateStore;

// What the monitor reads: worker heartbeats and the task event log.
mod monitor;
pub use monitor::{RedisEventLog, RedisWorkerRegistry};
