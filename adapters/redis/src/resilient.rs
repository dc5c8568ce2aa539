//! What a rate limiter does when its store is down: allow and log (the default) or refuse.

use async_trait::async_trait;
use goodrobot_ports::{RateDecision, RateLimitError, RateLimiter};
use std::{
    str::FromStr,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

/// The answer to a check that could not be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailPolicy {
    /// Let the request through (availability over protection) and log the outage.
    #[default]
    Allow,
    /// Return the `Unavailable` error: the caller refuses the request (503, not 429: the
    /// client did nothing wrong).
    Refuse,
}

impl FromStr for FailPolicy {
    type Err = String;

    /// `allow` or `refuse` (any case), e.g. from `RATE_LIMIT_FAIL_POLICY`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "allow" => Ok(Self::Allow),
            "refuse" => Ok(Self::Refuse),
            other => Err(format!("unknown rate limit fail policy {other:?} (expected allow or refuse)")),
        }
    }
}

/// A [`RateLimiter`] that applies a [`FailPolicy`] when the inner limiter is unavailable.
///
/// It logs a warning when the inner limiter starts failing and an info line when it answers
/// again (not one line per request), and counts the checks it could not make.
#[derive(Debug)]
pub struct ResilientRateLimiter<L: ?Sized = dyn RateLimiter> {
    policy: FailPolicy,
    failing: AtomicBool,
    failures: AtomicU64,
    inner: Arc<L>,
}

impl<L: RateLimiter + ?Sized> ResilientRateLimiter<L> {
    pub fn new(inner: Arc<L>, policy: FailPolicy) -> Self {
        Self { policy, failing: AtomicBool::new(false), failures: AtomicU64::new(0), inner }
    }

    pub fn policy(&self) -> FailPolicy {
        self.policy
    }

    /// How many checks could not be made since start (for metrics).
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl<L: RateLimiter + ?Sized> RateLimiter for ResilientRateLimiter<L> {
    async fn check(&self, key: &str, limit: u32, period: Duration) -> Result<RateDecision, RateLimitError> {
        match self.inner.check(key, limit, period).await {
            Ok(d) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!("rate limiter answers again");
                }
                Ok(d)
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %e, policy = ?self.policy, "rate limiter unavailable");
                } else {
                    tracing::debug!(error = %e, policy = ?self.policy, "rate limiter still unavailable");
                }
                match self.policy {
                    FailPolicy::Allow => {
                        Ok(RateDecision { allowed: true, limit, remaining: limit, reset_after: Duration::ZERO })
                    }
                    FailPolicy::Refuse => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Down;

    #[async_trait]
    impl RateLimiter for Down {
        async fn check(&self, _: &str, _: u32, _: Duration) -> Result<RateDecision, RateLimitError> {
            Err(RateLimitError::Unavailable("connection refused".to_owned()))
        }
    }

    #[tokio::test]
    async fn allow_lets_requests_through_when_the_store_is_down() {
        let l = ResilientRateLimiter::new(Arc::new(Down), FailPolicy::Allow);
        let d = l.check("k", 5, Duration::from_secs(1)).await.unwrap();
        assert!(d.allowed);
        assert_eq!(l.failures(), 1);
    }

    #[tokio::test]
    async fn refuse_returns_the_outage() {
        let l = ResilientRateLimiter::new(Arc::new(Down), FailPolicy::Refuse);
        let e = l.check("k", 5, Duration::from_secs(1)).await.unwrap_err();
        assert!(matches!(e, RateLimitError::Unavailable(_)));
    }

    #[test]
    fn the_policy_parses_from_config() {
        assert_eq!("Refuse".parse::<FailPolicy>(), Ok(FailPolicy::Refuse));
        assert_eq!("allow".parse::<FailPolicy>(), Ok(FailPolicy::Allow));
        assert!("maybe".parse::<FailPolicy>().is_err());
    }

    #[test]
    fn allow_is_the_default() {
        assert_eq!(FailPolicy::default(), FailPolicy::Allow);
    }
}
