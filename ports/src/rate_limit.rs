//! Rate limiter: how many actions a key may take in a period, decided atomically.

use async_trait::async_trait;
use std::time::Duration;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// When the window has room again (for `Retry-After` / `RateLimit-Reset`).
    pub reset_after: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RateLimitError {
    #[error("rate limiter unavailable: {0}")]
    Unavailable(String),
}

#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one action of `key` against `limit` per `period` and says whether it may go.
    ///
    /// # Errors
    /// `Unavailable` when the limiter's store cannot be reached.
    async fn check(&self, key: &str, limit: u32, period: Duration) -> Result<RateDecision, RateLimitError>;
}
