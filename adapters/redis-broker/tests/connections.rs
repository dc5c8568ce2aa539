//! Connections: a waiting fetch hands its connection back unblocked, Redis being down is
//! `Unavailable`, and a restarted Redis (scripts gone) is used again without a restart of
//! ours.

mod common;

use common::{PrivateRedis, TestRedis, request};
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

#[tokio::test]
async fn the_broker_reports_itself_as_redis_for_readiness() {
    let redis = TestRedis::new().await;
    let broker = redis.broker();
    assert_eq!(broker.name(), "redis");
    assert_eq!(broker.check().await, Ok(()));
}
