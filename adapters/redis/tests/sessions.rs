//! Redis sessions beyond the shared contract: only hashes reach Redis, key layout, TTLs; on
//! one node and on the cluster (a user's sessions and set then sit in different slots).

mod common;

use common::{TestRedis, on_single_and_cluster};
use goodrobot_domain::UserId;
use goodrobot_ports::SessionStore;
use goodrobot_redis::RedisSessionStore;
use std::time::Duration;

const USER: UserId = UserId(42);
const HOUR: Duration = Duration::from_secs(3600);

async fn only_the_tokens_sha256_reaches_redis(r: TestRedis) {
    let (token, _) = RedisSessionStore::new(r.pool.clone()).create(USER, HOUR).await.unwrap();
    let hash = token.hash().to_hex();
    let keys = r.keys().await;
    assert_eq!(keys, [r.pool.key(&["session", &hash]), r.pool.key(&["user-sessions", "42"])]);
    let mut stored: Vec<String> = r.raw(redis::cmd("HVALS").arg(&keys[0])).await;
    stored.extend(r.raw::<Vec<String>>(redis::cmd("SMEMBERS").arg(&keys[1])).await);
    assert_eq!(stored.last(), Some(&hash));
    for s in keys.iter().chain(&stored) {
        assert!(!s.contains(token.expose()), "the token leaked into {s}");
    }
}

async fn a_session_key_carries_the_sessions_ttl(r: TestRedis) {
    let (token, _) = RedisSessionStore::new(r.pool.clone()).create(USER, HOUR).await.unwrap();
    let pttl = r.pttl(&r.pool.key(&["session", &token.hash().to_hex()])).await;
    assert!((3_590_000..=3_600_000).contains(&pttl), "pttl {pttl}");
}

async fn touch_sets_the_ttl_anew(r: TestRedis) {
    let store = RedisSessionStore::new(r.pool.clone());
    let (token, _) = store.create(USER, Duration::from_secs(10)).await.unwrap();
    store.touch(&token, HOUR).await.unwrap().unwrap();
    let pttl = r.pttl(&r.pool.key(&["session", &token.hash().to_hex()])).await;
    assert!(pttl > 3_590_000, "pttl {pttl}");
}

async fn the_users_set_outlives_the_longest_session(r: TestRedis) {
    let store = RedisSessionStore::new(r.pool.clone());
    store.create(USER, HOUR).await.unwrap();
    store.create(USER, Duration::from_secs(10)).await.unwrap();
    let pttl = r.pttl(&r.pool.key(&["user-sessions", "42"])).await;
    assert!(pttl > 3_590_000, "pttl {pttl}");
}

async fn revoke_all_leaves_no_key_behind(r: TestRedis) {
    let store = RedisSessionStore::new(r.pool.clone());
    let sessions = format!("{}:session:*", r.pool.prefix());
    // At least three sessions, and on a cluster until every master holds one of them.
    let mut created = 0;
    while created < 3
        || r.on_every_master::<Vec<String>>(redis::cmd("KEYS").arg(&sessions)).await.iter().any(Vec::is_empty)
    {
        assert!(created < 100, "{created} sessions and still a master without one");
        store.create(USER, HOUR).await.unwrap();
        created += 1;
    }
    assert_eq!(r.keys().await.len(), created + 1, "the sessions and the user's set");
    assert_eq!(store.revoke_all(USER).await.unwrap(), created as u64);
    assert_eq!(r.keys().await, Vec::<String>::new());
}

async fn ended_sessions_are_pruned_from_the_users_set(r: TestRedis) {
    let store = RedisSessionStore::new(r.pool.clone());
    let set = r.pool.key(&["user-sessions", "42"]);
    for _ in 0..70 {
        let (t, _) = store.create(USER, HOUR).await.unwrap();
        // Ended behind the store's back (as by expiry): its set entry stays.
        r.raw::<()>(redis::cmd("UNLINK").arg(r.pool.key(&["session", &t.hash().to_hex()]))).await;
    }
    let left: u64 = r.raw(redis::cmd("SCARD").arg(&set)).await;
    assert!(left <= 65, "{left} entries kept");
}

on_single_and_cluster!(
    current_thread: [
        only_the_tokens_sha256_reaches_redis,
        a_session_key_carries_the_sessions_ttl,
        touch_sets_the_ttl_anew,
        the_users_set_outlives_the_longest_session,
        revoke_all_leaves_no_key_behind,
        ended_sessions_are_pruned_from_the_users_set,
    ],
);
