//! Settings of the Redis broker and result backend.

use std::time::Duration;

/// How the Redis broker behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisBrokerConfig {
    /// A task whose lease expires after this many deliveries of one run is dead-lettered
    /// (`DeliveryLimitExceeded`) instead of being delivered again. Default 10.
    pub max_deliveries: u32,
    /// At most this many expired leases and this many due delayed tasks are moved per queue
    /// by one fetch round (bounds the time one script holds Redis). Default 1000.
    pub batch: usize,
    /// A command that has not answered after this long fails as `Unavailable`. Default 5 s.
    pub response_timeout: Duration,
    /// Durable enqueue (`REDIS_WAIT_REPLICAS`): after an enqueue, `WAIT` until this many
    /// replicas of the queue's master have the write, at most `wait_timeout`; fewer in time
    /// fails the enqueue as `Unavailable` (outcome unknown: the master has it, a failover may
    /// lose it). Default 0: no wait (Redis's asynchronous replication).
    pub wait_replicas: u32,
    /// How long a durable enqueue waits for its replicas (`REDIS_WAIT_TIMEOUT_MS`). Default 1 s.
    pub wait_timeout: Duration,
}

impl Default for RedisBrokerConfig {
    fn default() -> Self {
        Self {
            max_deliveries: 10,
            batch: 1000,
            response_timeout: Duration::from_secs(5),
            wait_replicas: 0,
            wait_timeout: Duration::from_secs(1),
        }
    }
}

/// How long the Redis result backend keeps records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisResultsConfig {
    /// Every write sets the record's expiry to this long from then (`RESULT_TTL`). Default 24 h.
    pub ttl: Duration,
}

impl Default for RedisResultsConfig {
    fn default() -> Self {
        Self { ttl: Duration::from_secs(24 * 3600) }
    }
}
