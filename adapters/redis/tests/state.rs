//! Redis user state beyond the shared contract: key layout, TTL, and JSON kept exactly; on one
//! node and on the cluster.

mod common;

use chrono::Utc;
use common::{TestRedis, on_single_and_cluster};
use goodrobot_domain::UserId;
use goodrobot_ports::{StateStore, UserState};
use goodrobot_redis::RedisStateStore;
use serde_json::{Value, json};
use std::time::Duration;

const USER: UserId = UserId(42);

fn object(v: Value) -> serde_json::Map<String, Value> {
    let Value::Object(m) = v else { panic!("not an object") };
    m
}

async fn a_state_is_one_hash_under_the_prefix_with_the_ttl(r: TestRedis) {
    let store = RedisStateStore::new(r.pool.clone());
    let state = UserState::new("ask_phone", json!({"name": "Анна"}), Utc::now()).unwrap();
    store.put(USER, &state, Duration::from_secs(900)).await.unwrap();
    let key = r.pool.key(&["state", "42"]);
    assert_eq!(r.keys().await, std::slice::from_ref(&key));
    let name: String = r.raw(redis::cmd("HGET").arg(&key).arg("d:name")).await;
    assert_eq!(name, r#""Анна""#);
    let pttl = r.pttl(&key).await;
    assert!((890_000..=900_000).contains(&pttl), "pttl {pttl}");
}

async fn a_patch_sets_the_ttl_anew(r: TestRedis) {
    let store = RedisStateStore::new(r.pool.clone());
    let state = UserState::new("s", json!({}), Utc::now()).unwrap();
    store.put(USER, &state, Duration::from_secs(10)).await.unwrap();
    store.patch(USER, object(json!({"a": 1})), Duration::from_secs(3600)).await.unwrap().unwrap();
    let pttl = r.pttl(&r.pool.key(&["state", "42"])).await;
    assert!(pttl > 3_590_000, "pttl {pttl}");
}

async fn a_patch_keeps_json_that_lua_would_mangle(r: TestRedis) {
    let store = RedisStateStore::new(r.pool.clone());
    store
        .put(USER, &UserState::new("s", json!({"keep": []}), Utc::now()).unwrap(), Duration::from_secs(60))
        .await
        .unwrap();
    let patch = object(json!({"big": 9_007_199_254_740_993_u64, "list": [], "map": {}}));
    let patched = store.patch(USER, patch, Duration::from_secs(60)).await.unwrap().unwrap();
    assert_eq!(
        Value::Object(patched.data().clone()),
        json!({"keep": [], "big": 9_007_199_254_740_993_u64, "list": [], "map": {}})
    );
}

async fn a_state_that_is_not_ours_reads_as_invalid(r: TestRedis) {
    let store = RedisStateStore::new(r.pool.clone());
    r.raw::<()>(redis::cmd("HSET").arg(r.pool.key(&["state", "42"])).arg("d:x").arg("1")).await;
    assert!(matches!(store.get(USER).await, Err(goodrobot_ports::StateError::Invalid(_))));
}

on_single_and_cluster!(
    current_thread: [
        a_state_is_one_hash_under_the_prefix_with_the_ttl,
        a_patch_sets_the_ttl_anew,
        a_patch_keeps_json_that_lua_would_mangle,
        a_state_that_is_not_ours_reads_as_invalid,
    ],
);
