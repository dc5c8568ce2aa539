//! Redis adapters: a bb8-redis pool with key naming under a prefix, and the key-value uses
//! of the old stack (cache, temporary user state, sessions, rate limiting).

mod pool;

pub use pool::{RedisConfig, RedisPool, RedisSetupError, redis_error_kind};
