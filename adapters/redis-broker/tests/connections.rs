//! Connections: a waiting fetch hands its connection back unblocked (one node, and the
//! cluster's per-node connections), Redis being down is `Unavailable`, a restarted Redis
//! (scripts gone) is used again without a restart of ours (one node), and the broker is the
//! `redis` readiness check (one node and cluster).

mod common;

use common::{
    Monitors, PrivateRedis, TestRedis, client_of, on_single_and_cluster, queues_on_distinct_masters, request, runs, tag,
};
use goodrobot_ports::{Broker, BrokerError, HealthCheck, ResultBackend, ResultError};
use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig};
use goodrobot_testkit::{task_message, unique_queue};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_fetch_dropped_while_waiting_gives_its_connection_back_unblocked() {
    let redis = TestRedis::new().await;
    let mut cfg = RedisConfig::new(common::redis_url(), redis.pool.prefix());
    // One connection shared by the other adapters, one for the broker's commands, one for
    // the waiting fetch: nothing spare.
    cfg.pool_size = 3;
    let pool = RedisPool::connect(&cfg).await.unwrap();
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let q = unique_queue("drop");
    broker.ping().await.unwrap();
    let req = request(&[&q], 1, Duration::from_secs(60), Duration::from_secs(30));
    assert!(tokio::time::timeout(Duration::from_millis(100), broker.fetch(&req)).await.is_err(), "nothing to fetch");
    let started = Instant::now();
    let mut conn = pool.checkout("any").await.unwrap();
    let _: String = redis::cmd("PING").query_async(conn.conn()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the pooled connection was still blocked: {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn calls_on_a_stopped_redis_are_unavailable() {
    let (mut server, pool) = PrivateRedis::start(None).await;
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let results = RedisResults::new(pool, RedisResultsConfig::default());
    server.stop();
    let q = unique_queue("down");
    assert!(matches!(broker.enqueue(&[task_message(&q)]).await, Err(BrokerError::Unavailable(_))));
    assert!(matches!(results.ping().await, Err(ResultError::Unavailable(_))));
    assert!(broker.check().await.is_err());
}

#[tokio::test]
async fn the_broker_works_again_after_redis_restarts_without_its_scripts() {
    let (mut server, pool) = PrivateRedis::start(None).await;
    let broker = RedisBroker::new(pool, RedisBrokerConfig::default());
    let q = unique_queue("restart");
    broker.enqueue(&[task_message(&q)]).await.unwrap();
    let port = server.port;
    server.stop();
    assert!(broker.stats(&q).await.is_err(), "Redis is down");
    let (_again, _) = PrivateRedis::start(Some(port)).await;
    // The old connection is gone and the new server has no scripts: both are recovered
    // within a few calls (the pool re-checks connections on checkout).
    let mut last = None;
    for _ in 0..5 {
        match broker.enqueue(&[task_message(&q)]).await {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    assert_eq!(last, None);
    assert_eq!(broker.stats(&q).await.unwrap().ready, 1, "the restarted Redis started empty");
}

/// On a cluster a blocking wait runs on a connection of its own to the node serving the
/// queue; dropped, the wait is unblocked and that connection is kept for the next wait there.
#[tokio::test]
async fn a_fetch_dropped_while_waiting_on_a_cluster_gives_its_node_connection_back_unblocked() {
    let redis = TestRedis::cluster().await;
    let broker = redis.broker();
    let (q, port) = queues_on_distinct_masters("drop", 1).await.remove(0);
    let node = ("127.0.0.1".to_owned(), port);
    broker.ping().await.unwrap();
    let mut monitor = Monitors::start(&[port]).await;
    let fetch = tokio::spawn({
        let (broker, q) = (broker.clone(), q.clone());
        async move { broker.fetch(&request(&[&q], 1, Duration::from_secs(60), Duration::from_secs(30))).await }
    });
    // The wait reached the queue's master: its BLPOP names the client that sent it.
    let (_, blpop) =
        monitor.next_where(Duration::from_secs(5), |_, line| runs(line, "BLPOP") && line.contains(&tag(&q))).await;
    let clients: String = redis.pool.on_node(Some(&node), redis::cmd("CLIENT").arg("LIST")).await.unwrap();
    let waiting = clients
        .lines()
        .find(|l| l.split_whitespace().any(|f| f == format!("addr={}", client_of(&blpop))))
        .unwrap_or_else(|| panic!("the client of {blpop:?} is not in CLIENT LIST: {clients}"));
    let field =
        |name: &str| waiting.split_whitespace().find_map(|f| f.strip_prefix(name)).unwrap_or_default().to_owned();
    let id: i64 = field("id=").parse().unwrap();
    assert!(field("flags=").contains('b'), "client {id} is not blocked: {waiting}");
    fetch.abort();
    assert!(fetch.await.unwrap_err().is_cancelled());
    // The next checkout for that node is that very connection (once the dropped wait has
    // handed it back), and it answers at once: it is not blocked any more.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut conn = redis.pool.checkout(&tag(&q)).await.unwrap();
        let me: i64 =
            tokio::time::timeout(Duration::from_secs(1), redis::cmd("CLIENT").arg("ID").query_async(conn.conn()))
                .await
                .expect("the connection answers at once")
                .unwrap();
        if me == id {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the connection of the dropped wait (client {id}) never came back to the pool"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn the_broker_reports_itself_as_redis_for_readiness(redis: TestRedis) {
    let broker = redis.broker();
    assert_eq!(broker.name(), "redis");
    assert_eq!(broker.check().await, Ok(()));
}

on_single_and_cluster!(
    current_thread: [
        the_broker_reports_itself_as_redis_for_readiness,
    ],
);
