//! The cache contract: keys, TTLs and typed JSON through `CacheExt`.

use goodrobot_ports::{Cache, CacheError, CacheExt};
use serde_json::{Value, json};
use std::{sync::Arc, time::Duration};

use crate::TestClock;

/// A fresh cache and how its time passes.
#[derive(Clone)]
pub struct CacheFixture {
    pub cache: Arc<dyn Cache>,
    pub clock: TestClock,
}

impl From<Arc<dyn Cache>> for CacheFixture {
    /// A cache on real time.
    fn from(cache: Arc<dyn Cache>) -> Self {
        Self { cache, clock: TestClock::Real }
    }
}

impl std::fmt::Debug for CacheFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

pub async fn cache_set_then_get_returns_the_value(fx: CacheFixture) {
    fx.cache.set_key("greeting", "привет", None).await.unwrap();
    assert_eq!(fx.cache.get_key("greeting").await.unwrap().as_deref(), Some("привет"));
}

pub async fn cache_get_of_a_missing_key_is_none(fx: CacheFixture) {
    assert_eq!(fx.cache.get_key("missing").await.unwrap(), None);
}

pub async fn cache_set_overwrites_the_value(fx: CacheFixture) {
    fx.cache.set_key("k", "one", None).await.unwrap();
    fx.cache.set_key("k", "two", None).await.unwrap();
    assert_eq!(fx.cache.get_key("k").await.unwrap().as_deref(), Some("two"));
}

pub async fn cache_delete_removes_the_key_and_says_it_existed(fx: CacheFixture) {
    fx.cache.set_key("k", "v", None).await.unwrap();
    assert!(fx.cache.delete_key("k").await.unwrap());
    assert_eq!(fx.cache.get_key("k").await.unwrap(), None);
}

pub async fn cache_delete_of_a_missing_key_says_it_did_not_exist(fx: CacheFixture) {
    assert!(!fx.cache.delete_key("missing").await.unwrap());
}

pub async fn cache_value_is_readable_before_its_ttl(fx: CacheFixture) {
    fx.cache.set_key("k", "v", Some(Duration::from_secs(60))).await.unwrap();
    assert_eq!(fx.cache.get_key("k").await.unwrap().as_deref(), Some("v"));
}

pub async fn cache_value_expires_after_its_ttl(fx: CacheFixture) {
    fx.cache.set_key("short", "v", Some(Duration::from_millis(200))).await.unwrap();
    fx.cache.set_key("forever", "v", None).await.unwrap();
    fx.clock.elapse(Duration::from_millis(300)).await;
    assert_eq!(fx.cache.get_key("short").await.unwrap(), None);
    assert_eq!(fx.cache.get_key("forever").await.unwrap().as_deref(), Some("v"));
}

pub async fn cache_json_round_trips_through_cache_ext(fx: CacheFixture) {
    let value = json!({ "id": 7, "tags": ["a", "б"], "nested": { "ok": true, "price": 12.5 } });
    fx.cache.set_cache("order:7", &value, None).await.unwrap();
    assert_eq!(fx.cache.get_cache::<Value>("order:7").await.unwrap(), Some(value));
}

pub async fn cache_json_of_another_shape_is_a_serialization_error(fx: CacheFixture) {
    fx.cache.set_cache("k", &json!({ "a": 1 }), None).await.unwrap();
    assert!(matches!(fx.cache.get_cache::<Vec<u32>>("k").await, Err(CacheError::Serialization(_))));
}

pub async fn cache_invalidate_removes_the_json_value(fx: CacheFixture) {
    fx.cache.set_cache("k", &json!([1, 2]), None).await.unwrap();
    assert!(fx.cache.invalidate_cache("k").await.unwrap());
    assert_eq!(fx.cache.get_cache::<Value>("k").await.unwrap(), None);
}

pub async fn cache_ping_answers(fx: CacheFixture) {
    fx.cache.ping().await.unwrap();
}
