//! The rate limiter on Redis: GCRA in one Lua script per check (`scripts/gcra.lua`), one key
//! per limited key (`<prefix>:rl:<key>`), timed by Redis's own clock so that every API
//! instance agrees.

use async_trait::async_trait;
use goodrobot_ports::{RateDecision, RateLimitError, RateLimiter};
use std::{sync::Arc, time::Duration};

use crate::{RedisPool, pool::redis_error_kind};

/// [`RateLimiter`] over a [`RedisPool`]: a burst of `limit`, then one action per
/// `period / limit`; no read-then-write race (the whole decision runs inside Redis).
#[derive(Clone)]
pub struct RedisRateLimiter {
    pool: RedisPool,
    gcra: Arc<redis::Script>,
}

impl std::fmt::Debug for RedisRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisRateLimiter").field("pool", &self.pool).finish_non_exhaustive()
    }
}

impl RedisRateLimiter {
    pub fn new(pool: RedisPool) -> Self {
        Self { pool, gcra: Arc::new(redis::Script::new(include_str!("scripts/gcra.lua"))) }
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    #[tracing::instrument(level = "debug", skip(self))]
    async fn check(&self, key: &str, limit: u32, period: Duration) -> Result<RateDecision, RateLimitError> {
        if limit == 0 {
            return Ok(RateDecision { allowed: false, limit, remaining: 0, reset_after: period });
        }
        // Lua numbers are doubles: keep µs values well inside 2^53 (about 285 years).
        let period_us = micros(period).min(1 << 52);
        let interval_us = (period_us / u64::from(limit)).max(1);
        let mut call = self.gcra.key(self.pool.key(&["rl", key]));
        call.arg(limit).arg(interval_us);
        let mut conn = self.pool.get().await.map_err(RateLimitError::Unavailable)?;
        let (allowed, remaining, reset_us): (i64, i64, i64) =
            call.invoke_async(&mut conn).await.map_err(|e| RateLimitError::Unavailable(redis_error_kind(&e)))?;
        Ok(RateDecision {
            allowed: allowed == 1,
            limit,
            remaining: u32::try_from(remaining.max(0)).unwrap_or(u32::MAX).min(limit - 1),
            reset_after: Duration::from_micros(u64::try_from(reset_us).unwrap_or(0)),
        })
    }
}
