//! The Redis cache beyond the shared contract: key layout, TTLs as Redis holds them, the
//! health check (the readiness check `/ready` runs); on one node and on the cluster.

mod common;

use common::{TestRedis, on_single_and_cluster};
use goodrobot_ports::{Cache, CacheExt, HealthCheck};
use goodrobot_redis::RedisCache;
use serde::{Deserialize, Serialize};
use std::time::Duration;

async fn a_value_lives_under_the_prefix_and_the_cache_namespace(r: TestRedis) {
    RedisCache::new(r.pool.clone()).set_key("user:7", "v", None).await.unwrap();
    assert_eq!(r.keys().await, [format!("{}:cache:user:7", r.pool.prefix())]);
}

async fn a_ttl_becomes_the_keys_pttl(r: TestRedis) {
    RedisCache::new(r.pool.clone()).set_key("k", "v", Some(Duration::from_secs(3600))).await.unwrap();
    let pttl = r.pttl(&r.pool.key(&["cache", "k"])).await;
    assert!((3_590_000..=3_600_000).contains(&pttl), "pttl {pttl}");
}

async fn a_value_without_ttl_has_no_expiry(r: TestRedis) {
    RedisCache::new(r.pool.clone()).set_key("k", "v", None).await.unwrap();
    assert_eq!(r.pttl(&r.pool.key(&["cache", "k"])).await, -1);
}

async fn a_key_disappears_once_its_ttl_has_passed(r: TestRedis) {
    let cache = RedisCache::new(r.pool.clone());
    cache.set_key("k", "v", Some(Duration::from_millis(200))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while cache.get_key("k").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the key outlived its TTL by 5 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_zero_ttl_leaves_no_key(r: TestRedis) {
    let cache = RedisCache::new(r.pool.clone());
    cache.set_key("k", "old", None).await.unwrap();
    cache.set_key("k", "new", Some(Duration::ZERO)).await.unwrap();
    assert_eq!(cache.get_key("k").await.unwrap(), None);
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct CachedUser {
    id: i64,
    name: String,
    phone: Option<String>,
}

async fn a_typed_value_round_trips_as_json_and_is_invalidated(r: TestRedis) {
    let cache = RedisCache::new(r.pool.clone());
    let user = CachedUser { id: 7, name: "Анна".to_owned(), phone: None };
    cache.set_cache("user:7", &user, Some(Duration::from_secs(3600))).await.unwrap();
    let raw: String = r.raw(redis::cmd("GET").arg(r.pool.key(&["cache", "user:7"]))).await;
    assert_eq!(raw, r#"{"id":7,"name":"Анна","phone":null}"#);
    assert_eq!(cache.get_cache::<CachedUser>("user:7").await.unwrap(), Some(user));
    assert!(cache.invalidate_cache("user:7").await.unwrap());
    assert_eq!(cache.get_cache::<CachedUser>("user:7").await.unwrap(), None);
}

async fn the_health_check_is_named_redis_and_passes(r: TestRedis) {
    let cache = RedisCache::new(r.pool.clone());
    assert_eq!(cache.name(), "redis");
    cache.check().await.unwrap();
}

on_single_and_cluster!(
    current_thread: [
        a_value_lives_under_the_prefix_and_the_cache_namespace,
        a_ttl_becomes_the_keys_pttl,
        a_value_without_ttl_has_no_expiry,
        a_key_disappears_once_its_ttl_has_passed,
        a_zero_ttl_leaves_no_key,
        a_typed_value_round_trips_as_json_and_is_invalidated,
        the_health_check_is_named_redis_and_passes,
    ],
);
