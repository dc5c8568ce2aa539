//! The monitor adapters on the real Redis, on one node and on the cluster: the shared
//! WorkerRegistry and EventLog contracts (on Redis's clock), then the key layout, expiry of
//! what they write, approximate stream trimming; and an unreachable Redis (one node).

mod common;

use async_trait::async_trait;
use chrono::Utc;
use common::{Scoped, TestRedis, master_of_key, on_single_and_cluster, pool_of_a_stopped_redis};
use goodrobot_ports::{EventLog, MonitorError, TaskEvent, WorkerInfo, WorkerRegistry};
use goodrobot_redis::{RedisEventLog, RedisWorkerRegistry};
use goodrobot_testkit::monitor::{EventLogFixture, event, worker};
use std::{sync::Arc, time::Duration};

#[async_trait]
impl<T: WorkerRegistry> WorkerRegistry for Scoped<T> {
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), MonitorError> {
        self.inner.heartbeat(worker, ttl).await
    }
    async fn list(&self) -> Result<Vec<WorkerInfo>, MonitorError> {
        self.inner.list().await
    }
    async fn remove(&self, id: &str) -> Result<(), MonitorError> {
        self.inner.remove(id).await
    }
}

#[async_trait]
impl<T: EventLog> EventLog for Scoped<T> {
    async fn append(&self, events: &[TaskEvent]) -> Result<(), MonitorError> {
        self.inner.append(events).await
    }
    async fn recent(&self, limit: usize) -> Result<Vec<TaskEvent>, MonitorError> {
        self.inner.recent(limit).await
    }
}

/// The two contract suites, each fixture on a `TestRedis` from `$connect`.
macro_rules! contracts {
    ($connect:path) => {
        mod registry_contract {
            use super::super::*;

            goodrobot_testkit::worker_registry_contract_tests!(async {
                let r = $connect().await;
                Arc::new(Scoped { inner: RedisWorkerRegistry::new(r.pool), cleanup: r.cleanup })
                    as Arc<dyn WorkerRegistry>
            });
        }

        mod event_log_contract {
            use super::super::*;

            goodrobot_testkit::event_log_contract_tests!(async {
                let r = $connect().await;
                EventLogFixture {
                    log: Arc::new(Scoped { inner: RedisEventLog::new(r.pool, 20), cleanup: r.cleanup }),
                    capacity: 20,
                }
            });
        }
    };
}

mod single_contracts {
    contracts!(TestRedis::new);
}

mod cluster_contracts {
    contracts!(TestRedis::cluster);
}

const MINUTE: Duration = Duration::from_secs(60);

async fn a_heartbeat_writes_the_worker_key_and_the_listing_set_both_expiring(r: TestRedis) {
    let w = worker("w1");
    RedisWorkerRegistry::new(r.pool.clone()).heartbeat(&w, MINUTE).await.unwrap();
    let (worker_key, set_key) = (r.pool.key(&["worker", "w1"]), r.pool.key(&["workers"]));
    let mut expected = vec![worker_key.clone(), set_key.clone()];
    expected.sort();
    assert_eq!(r.keys().await, expected);
    for key in [&worker_key, &set_key] {
        let pttl = r.pttl(key).await;
        assert!((59_000..=60_000).contains(&pttl), "{key}: pttl {pttl}");
    }
    let json: String = r.raw(redis::cmd("GET").arg(&worker_key)).await;
    assert_eq!(serde_json::from_str::<WorkerInfo>(&json).unwrap(), w);
    let members: Vec<String> = r.raw(redis::cmd("ZRANGE").arg(&set_key).arg(0).arg(-1)).await;
    assert_eq!(members, ["w1"]);
}

async fn the_listing_set_expires_with_its_latest_member(r: TestRedis) {
    let registry = RedisWorkerRegistry::new(r.pool.clone());
    registry.heartbeat(&worker("long"), MINUTE).await.unwrap();
    registry.heartbeat(&worker("short"), Duration::from_secs(5)).await.unwrap();
    let pttl = r.pttl(&r.pool.key(&["workers"])).await;
    assert!((59_000..=60_000).contains(&pttl), "a shorter heartbeat must not shorten the set: pttl {pttl}");
    registry.heartbeat(&worker("longer"), 2 * MINUTE).await.unwrap();
    let pttl = r.pttl(&r.pool.key(&["workers"])).await;
    assert!((119_000..=120_000).contains(&pttl), "a longer heartbeat extends the set: pttl {pttl}");
}

async fn expired_workers_leave_the_listing_set(r: TestRedis) {
    let registry = RedisWorkerRegistry::new(r.pool.clone());
    registry.heartbeat(&worker("gone"), Duration::from_millis(100)).await.unwrap();
    registry.heartbeat(&worker("stays"), MINUTE).await.unwrap();
    // Each read drops the members whose expiry has passed on Redis's clock. (A read may no
    // longer list "gone", its key having just expired, and still leave it in the set, when its
    // TIME came a millisecond before: the next read removes it.)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let listed: Vec<String> = registry.list().await.unwrap().into_iter().map(|w| w.id).collect();
        let members: Vec<String> = r.raw(redis::cmd("ZRANGE").arg(r.pool.key(&["workers"])).arg(0).arg(-1)).await;
        if members == ["stays"] {
            assert_eq!(listed, ["stays"]);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the worker outlived its TTL by 5 s: {members:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn a_removed_worker_leaves_no_key(r: TestRedis) {
    let registry = RedisWorkerRegistry::new(r.pool.clone());
    registry.heartbeat(&worker("w1"), MINUTE).await.unwrap();
    registry.remove("w1").await.unwrap();
    assert_eq!(r.keys().await, Vec::<String>::new());
}

async fn an_unreadable_heartbeat_is_skipped(r: TestRedis) {
    let registry = RedisWorkerRegistry::new(r.pool.clone());
    registry.heartbeat(&worker("good"), MINUTE).await.unwrap();
    registry.heartbeat(&worker("bad"), MINUTE).await.unwrap();
    let _: () = r.raw(redis::cmd("SET").arg(r.pool.key(&["worker", "bad"])).arg("not json").arg("KEEPTTL")).await;
    let ids: Vec<String> = registry.list().await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(ids, ["good"]);
}

async fn events_are_stream_entries_holding_their_json(r: TestRedis) {
    let e = event(1, Utc::now());
    RedisEventLog::new(r.pool.clone(), 10).append(std::slice::from_ref(&e)).await.unwrap();
    let key = r.pool.key(&["events"]);
    assert_eq!(r.keys().await, std::slice::from_ref(&key));
    let entries: Vec<(String, Vec<(String, String)>)> = r.raw(redis::cmd("XRANGE").arg(&key).arg("-").arg("+")).await;
    let [(_, fields)] = entries.try_into().unwrap();
    let [(field, json)] = fields.try_into().unwrap();
    assert_eq!(field, "e");
    assert_eq!(serde_json::from_str::<TaskEvent>(&json).unwrap(), e);
}

/// `MAXLEN ~` trims whole stream nodes: at most `stream-node-max-entries` (100 by default)
/// more than the capacity stay in Redis, while `recent` shows exactly the newest `capacity`.
async fn the_stream_is_trimmed_to_about_its_capacity(r: TestRedis) {
    let log = RedisEventLog::new(r.pool.clone(), 50);
    let now = Utc::now();
    for batch in 0..10 {
        let events: Vec<TaskEvent> = (batch * 100..(batch + 1) * 100).map(|n| event(n, now)).collect();
        log.append(&events).await.unwrap();
    }
    let len: usize = r.raw(redis::cmd("XLEN").arg(r.pool.key(&["events"]))).await;
    assert!((50..=150).contains(&len), "{len} entries kept for a capacity of 50");
    let recent = log.recent(1000).await.unwrap();
    let names: Vec<String> = recent.into_iter().map(|e| e.name).collect();
    let expected: Vec<String> = (950..1000).rev().map(|n| format!("task-{n}")).collect();
    assert_eq!(names, expected);
}

on_single_and_cluster!(
    current_thread: [
        a_heartbeat_writes_the_worker_key_and_the_listing_set_both_expiring,
        the_listing_set_expires_with_its_latest_member,
        expired_workers_leave_the_listing_set,
        a_removed_worker_leaves_no_key,
        an_unreadable_heartbeat_is_skipped,
        events_are_stream_entries_holding_their_json,
        the_stream_is_trimmed_to_about_its_capacity,
    ],
);

/// On a cluster the heartbeats of a listing live in different slots, on different masters:
/// `list` reads them all (one MGET is not possible across slots).
#[tokio::test]
async fn the_listing_reads_workers_whose_keys_are_on_every_master_of_the_cluster() {
    let r = TestRedis::cluster().await;
    let registry = RedisWorkerRegistry::new(r.pool.clone());
    let masters = r.pool.masters().await.unwrap();
    // Two workers per master.
    let mut ids: Vec<String> = Vec::new();
    let mut per_master = std::collections::HashMap::<u16, usize>::new();
    for n in 0..200 {
        let id = format!("w{n}");
        let count = per_master.entry(master_of_key(&r.pool.key(&["worker", &id])).await).or_default();
        if *count < 2 {
            *count += 1;
            ids.push(id);
        }
        if ids.len() == 2 * masters.len() {
            break;
        }
    }
    assert_eq!(ids.len(), 2 * masters.len(), "worker ids for every master: {per_master:?}");
    for id in &ids {
        registry.heartbeat(&worker(id), MINUTE).await.unwrap();
    }
    let mut expected = ids.clone();
    expected.sort();
    let listed: Vec<String> = registry.list().await.unwrap().into_iter().map(|w| w.id).collect();
    assert_eq!(listed, expected);
    registry.remove(&ids[0]).await.unwrap();
    let listed: Vec<String> = registry.list().await.unwrap().into_iter().map(|w| w.id).collect();
    expected.retain(|id| *id != ids[0]);
    assert_eq!(listed, expected);
}

#[tokio::test]
async fn the_registry_is_unavailable_while_redis_is_down() {
    let registry = RedisWorkerRegistry::new(pool_of_a_stopped_redis().await);
    assert!(matches!(registry.heartbeat(&worker("w"), MINUTE).await, Err(MonitorError::Unavailable(_))));
    assert!(matches!(registry.list().await, Err(MonitorError::Unavailable(_))));
    assert!(matches!(registry.remove("w").await, Err(MonitorError::Unavailable(_))));
}

#[tokio::test]
async fn the_event_log_is_unavailable_while_redis_is_down() {
    let log = RedisEventLog::new(pool_of_a_stopped_redis().await, 10);
    assert!(matches!(log.append(&[event(1, Utc::now())]).await, Err(MonitorError::Unavailable(_))));
    assert!(matches!(log.recent(10).await, Err(MonitorError::Unavailable(_))));
}
