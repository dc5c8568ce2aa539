//! The rate limiter in memory: GCRA (a leaky bucket kept as one instant per key), decided
//! under one lock with the clock's time.
//!
//! With `limit` actions per `period`, each action moves the key's theoretical arrival time
//! (TAT) `period / limit` ahead; an action is allowed while the TAT stays within `period`
//! of now. A burst of `limit` is allowed at once, then one action per `period / limit`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_ports::{Clock, RateDecision, RateLimitError, RateLimiter};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{
    expiring::ExpiringMap,
    lock::lock,
    time::{after, until},
};

/// A GCRA limiter per key; a key's state disappears once its bucket is empty again.
pub struct MemoryRateLimiter {
    clock: Arc<dyn Clock>,
    /// Key → its TAT (which is also when the entry stops mattering).
    tats: Mutex<ExpiringMap<String, DateTime<Utc>>>,
}

impl MemoryRateLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, tats: Mutex::new(ExpiringMap::default()) }
    }
}

impl std::fmt::Debug for MemoryRateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryRateLimiter").finish_non_exhaustive()
    }
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn check(&self, key: &str, limit: u32, period: Duration) -> Result<RateDecision, RateLimitError> {
        if limit == 0 {
            return Ok(RateDecision { allowed: false, limit, remaining: 0, reset_after: period });
        }
        let interval = (period / limit).max(Duration::from_nanos(1));
        let now = self.clock.now();
        let mut tats = lock(&self.tats);
        let key = key.to_owned();
        // How far the key's TAT is ahead of now; the action would move it one interval on.
        let ahead = tats.get(&key, now).map_or(Duration::ZERO, |&tat| until(now, tat));
        let new_ahead = ahead.saturating_add(interval);
        if new_ahead > period {
            return Ok(RateDecision { allowed: false, limit, remaining: 0, reset_after: new_ahead - period });
        }
        let tat = after(now, new_ahead);
        tats.insert(key, tat, Some(tat), now);
        let room = (period - new_ahead).as_nanos() / interval.as_nanos();
        Ok(RateDecision {
            allowed: true,
            limit,
            remaining: u32::try_from(room).unwrap_or(u32::MAX).min(limit - 1),
            reset_after: new_ahead.saturating_add(interval).saturating_sub(period),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_testkit::ManualClock;

    fn limiter() -> (Arc<ManualClock>, MemoryRateLimiter) {
        let clock = Arc::new(ManualClock::new());
        (clock.clone(), MemoryRateLimiter::new(clock))
    }

    const PERIOD: Duration = Duration::from_secs(3);

    #[tokio::test]
    async fn a_refusal_waits_exactly_one_interval() {
        let (_, l) = limiter();
        for _ in 0..3 {
            l.check("k", 3, PERIOD).await.unwrap();
        }
        assert_eq!(l.check("k", 3, PERIOD).await.unwrap().reset_after, Duration::from_secs(1));
    }

    #[tokio::test]
    async fn an_allowance_with_room_left_needs_no_wait() {
        let (_, l) = limiter();
        let d = l.check("k", 3, PERIOD).await.unwrap();
        assert_eq!((d.remaining, d.reset_after), (2, Duration::ZERO));
    }

    #[tokio::test]
    async fn the_last_allowance_says_when_the_next_one_comes() {
        let (_, l) = limiter();
        let last = [l.check("k", 3, PERIOD).await, l.check("k", 3, PERIOD).await, l.check("k", 3, PERIOD).await];
        let last = last[2].as_ref().unwrap();
        assert_eq!((last.allowed, last.remaining, last.reset_after), (true, 0, Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn the_bucket_refills_one_action_per_interval() {
        let (clock, l) = limiter();
        for _ in 0..3 {
            l.check("k", 3, PERIOD).await.unwrap();
        }
        clock.advance(Duration::from_secs(1));
        assert!(l.check("k", 3, PERIOD).await.unwrap().allowed);
        assert!(!l.check("k", 3, PERIOD).await.unwrap().allowed);
    }

    #[tokio::test]
    async fn a_zero_limit_refuses_everything() {
        let (_, l) = limiter();
        let d = l.check("k", 0, PERIOD).await.unwrap();
        assert_eq!((d.allowed, d.reset_after), (false, PERIOD));
    }
}
