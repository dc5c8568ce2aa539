//! When Redis is unreachable every adapter answers `Unavailable` (never a panic), and the
//! resilient rate limiter applies its policy.

mod common;

use chrono::Utc;
use common::{PrivateRedis, pool_of_a_stopped_redis};
use goodrobot_domain::UserId;
use goodrobot_ports::{
    Cache, CacheError, HealthCheck, RateLimitError, RateLimiter, SessionError, SessionStore, SessionToken, StateError,
    StateStore, UserState,
};
use goodrobot_redis::{
    FailPolicy, RedisCache, RedisConfig, RedisPool, RedisRateLimiter, RedisSessionStore, RedisSetupError,
    RedisStateStore, ResilientRateLimiter,
};
use std::{net::TcpListener, sync::Arc, time::Duration};

#[tokio::test]
async fn connecting_to_a_closed_port_is_unreachable() {
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).unwrap().port();
    let mut cfg = RedisConfig::new(format!("redis://127.0.0.1:{port}"), "test");
    cfg.connect_timeout = Duration::from_millis(300);
    assert!(matches!(RedisPool::connect(&cfg).await, Err(RedisSetupError::Unreachable(_))));
}

#[tokio::test]
async fn the_cache_is_unavailable() {
    let cache = RedisCache::new(pool_of_a_stopped_redis().await);
    assert!(matches!(cache.get_key("k").await, Err(CacheError::Unavailable(_))));
    assert!(matches!(cache.set_key("k", "v", None).await, Err(CacheError::Unavailable(_))));
}

#[tokio::test]
async fn the_health_check_fails() {
    let cache = RedisCache::new(pool_of_a_stopped_redis().await);
    assert!(cache.check().await.is_err());
}

#[tokio::test]
async fn the_state_store_is_unavailable() {
    let store = RedisStateStore::new(pool_of_a_stopped_redis().await);
    let state = UserState::new("s", serde_json::json!({}), Utc::now()).unwrap();
    assert!(matches!(store.put(UserId(1), &state, Duration::from_secs(1)).await, Err(StateError::Unavailable(_))));
}

#[tokio::test]
async fn the_session_store_is_unavailable() {
    let store = RedisSessionStore::new(pool_of_a_stopped_redis().await);
    assert!(matches!(store.get(&SessionToken::generate()).await, Err(SessionError::Unavailable(_))));
}

#[tokio::test]
async fn the_rate_limiter_is_unavailable() {
    let limiter = RedisRateLimiter::new(pool_of_a_stopped_redis().await);
    let e = limiter.check("k", 5, Duration::from_secs(60)).await.unwrap_err();
    assert!(matches!(e, RateLimitError::Unavailable(_)));
}

#[tokio::test]
async fn the_allow_policy_lets_requests_through() {
    let inner = Arc::new(RedisRateLimiter::new(pool_of_a_stopped_redis().await));
    let limiter = ResilientRateLimiter::new(inner, FailPolicy::Allow);
    assert!(limiter.check("k", 5, Duration::from_secs(60)).await.unwrap().allowed);
    assert_eq!(limiter.failures(), 1);
}

#[tokio::test]
async fn the_refuse_policy_reports_the_outage() {
    let inner: Arc<dyn RateLimiter> = Arc::new(RedisRateLimiter::new(pool_of_a_stopped_redis().await));
    let limiter = ResilientRateLimiter::new(inner, FailPolicy::Refuse);
    assert!(matches!(limiter.check("k", 5, Duration::from_secs(60)).await, Err(RateLimitError::Unavailable(_))));
}

#[tokio::test]
async fn after_redis_restarts_the_adapters_work_again_on_a_fresh_shared_connection() {
    let (mut server, pool) = PrivateRedis::start().await;
    let cache = RedisCache::new(pool.clone());
    let state = RedisStateStore::new(pool.clone());
    cache.set_key("k", "before", None).await.unwrap();
    let port = server.port;
    server.stop();
    assert!(matches!(cache.get_key("k").await, Err(CacheError::Unavailable(_))));
    let (_again, _) = PrivateRedis::start_on(Some(port)).await;
    // The dead shared connection is retired by the error it gave; the next calls reserve a
    // fresh one (after the checkout breaker's second, if a checkout failed meanwhile).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match cache.get_key("k").await {
            Ok(v) => {
                assert_eq!(v, None, "the restarted Redis started empty");
                break;
            }
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "still failing after the restart: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    cache.set_key("k", "after", None).await.unwrap();
    assert_eq!(cache.get_key("k").await.unwrap().as_deref(), Some("after"));
    assert_eq!(state.get(UserId(1)).await.unwrap(), None);
}

#[tokio::test]
async fn many_concurrent_calls_share_one_connection_from_a_pool_of_two() {
    let (_server, pool) = PrivateRedis::start().await;
    let cache = RedisCache::new(pool);
    let calls = (0..200).map(|i| {
        let cache = cache.clone();
        async move { cache.set_key(&format!("k{i}"), "v", None).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
}
