//! The rate-limiter contract: a limit per key and period, decided atomically.

use goodrobot_ports::RateLimiter;
use std::{sync::Arc, time::Duration};

use crate::TestClock;

/// A fresh rate limiter and how its time passes.
#[derive(Clone)]
pub struct RateLimiterFixture {
    pub limiter: Arc<dyn RateLimiter>,
    pub clock: TestClock,
}

impl From<Arc<dyn RateLimiter>> for RateLimiterFixture {
    /// A limiter on real time.
    fn from(limiter: Arc<dyn RateLimiter>) -> Self {
        Self { limiter, clock: TestClock::Real }
    }
}

impl std::fmt::Debug for RateLimiterFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiterFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

const MINUTE: Duration = Duration::from_secs(60);

pub async fn rate_allows_up_to_the_limit_then_refuses(fx: RateLimiterFixture) {
    let mut seen = Vec::new();
    for _ in 0..4 {
        let d = fx.limiter.check("user:1", 3, MINUTE).await.unwrap();
        seen.push((d.allowed, d.remaining, d.limit));
    }
    assert_eq!(seen, [(true, 2, 3), (true, 1, 3), (true, 0, 3), (false, 0, 3)]);
}

pub async fn rate_refusal_says_when_room_appears(fx: RateLimiterFixture) {
    for _ in 0..3 {
        fx.limiter.check("user:1", 3, MINUTE).await.unwrap();
    }
    let refused = fx.limiter.check("user:1", 3, MINUTE).await.unwrap();
    assert!(!refused.allowed);
    assert!(refused.reset_after > Duration::ZERO && refused.reset_after <= MINUTE, "{refused:?}");
}

pub async fn rate_keys_are_limited_independently(fx: RateLimiterFixture) {
    assert!(fx.limiter.check("user:1", 1, MINUTE).await.unwrap().allowed);
    assert!(!fx.limiter.check("user:1", 1, MINUTE).await.unwrap().allowed);
    assert!(fx.limiter.check("user:2", 1, MINUTE).await.unwrap().allowed);
}

pub async fn rate_room_appears_after_reset_after(fx: RateLimiterFixture) {
    let period = Duration::from_millis(400);
    for _ in 0..2 {
        fx.limiter.check("user:1", 2, period).await.unwrap();
    }
    let refused = fx.limiter.check("user:1", 2, period).await.unwrap();
    assert!(!refused.allowed);
    fx.clock.elapse(refused.reset_after + Duration::from_millis(20)).await;
    assert!(fx.limiter.check("user:1", 2, period).await.unwrap().allowed);
}

pub async fn rate_concurrent_checks_never_allow_more_than_the_limit(fx: RateLimiterFixture) {
    let checks = (0..100).map(|_| {
        let limiter = fx.limiter.clone();
        tokio::spawn(async move { limiter.check("user:1", 10, MINUTE).await })
    });
    let allowed = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter(|r| r.as_ref().expect("check task").as_ref().expect("check").allowed)
        .count();
    assert_eq!(allowed, 10);
}
