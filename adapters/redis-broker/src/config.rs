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
}

impl Default for RedisBrokerConfig {
    fn default() -> Self {
        Self { max_deliveries: 10, batch: 1000, response_timeout: Duration::from_secs(5) }
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
