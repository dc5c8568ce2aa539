//! The Redis rate limiter beyond the shared contract: exactness under heavy concurrency, the
//! key layout and its expiry; on one node and on the cluster.

mod common;

use common::{TestRedis, on_single_and_cluster};
use goodrobot_ports::RateLimiter;
use goodrobot_redis::RedisRateLimiter;
use std::{sync::Arc, time::Duration};

const MINUTE: Duration = Duration::from_secs(60);

async fn two_hundred_concurrent_checks_against_fifty_per_minute_allow_exactly_fifty(r: TestRedis) {
    let limiter = Arc::new(RedisRateLimiter::new(r.pool.clone()));
    let checks = (0..200).map(|_| {
        let limiter = limiter.clone();
        tokio::spawn(async move { limiter.check("api-key:abc", 50, MINUTE).await })
    });
    let decisions: Vec<_> =
        futures::future::join_all(checks).await.into_iter().map(|r| r.expect("task").expect("check")).collect();
    assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 50);
    let mut remaining: Vec<u32> = decisions.iter().filter(|d| d.allowed).map(|d| d.remaining).collect();
    remaining.sort_unstable();
    assert_eq!(remaining, (0..50).collect::<Vec<_>>(), "each allowed check saw its own count");
}

async fn a_refusal_waits_one_emission_interval(r: TestRedis) {
    let limiter = RedisRateLimiter::new(r.pool.clone());
    for _ in 0..50 {
        assert!(limiter.check("k", 50, MINUTE).await.unwrap().allowed);
    }
    let refused = limiter.check("k", 50, MINUTE).await.unwrap();
    assert!(!refused.allowed);
    // 60 s / 50 = 1.2 s, less the little time the 50 checks took.
    assert!(refused.reset_after > Duration::from_millis(1000) && refused.reset_after <= Duration::from_millis(1200));
}

async fn the_key_lives_under_the_prefix_and_expires_when_the_bucket_empties(r: TestRedis) {
    let limiter = RedisRateLimiter::new(r.pool.clone());
    limiter.check("ip:10.0.0.1", 10, MINUTE).await.unwrap();
    let key = r.pool.key(&["rl", "ip:10.0.0.1"]);
    assert_eq!(r.keys().await, std::slice::from_ref(&key));
    let pttl = r.pttl(&key).await;
    // One action of ten per minute drains in 6 s.
    assert!((5_900..=6_000).contains(&pttl), "pttl {pttl}");
}

async fn a_zero_limit_refuses_without_touching_redis(r: TestRedis) {
    let d = RedisRateLimiter::new(r.pool.clone()).check("k", 0, MINUTE).await.unwrap();
    assert!(!d.allowed);
    assert!(r.keys().await.is_empty());
}

on_single_and_cluster!(
    current_thread: [
        a_refusal_waits_one_emission_interval,
        the_key_lives_under_the_prefix_and_expires_when_the_bucket_empties,
        a_zero_limit_refuses_without_touching_redis,
    ],
    multi_thread: [
        two_hundred_concurrent_checks_against_fifty_per_minute_allow_exactly_fifty,
    ],
);
