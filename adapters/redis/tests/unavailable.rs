//! When Redis is unreachable every adapter answers `Unavailable` (never a panic), and the
//! resilient rate limiter applies its policy.

mod common;

use chrono::Utc;
use common::pool_of_a_stopped_redis;
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
