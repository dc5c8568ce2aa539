//! The monitor over the real Redis (a random key prefix per test, deleted at the end): what
//! it shows survives its own restart, and purging works on the Redis broker.

mod common;

use common::{TestMonitor, config, real::RedisPrefix};
use goodrobot_ports::services::TaskOptions;
use serde_json::json;

#[tokio::test]
async fn restarting_the_monitor_loses_no_history() {
    let redis = RedisPrefix::new("restart");
    let first = TestMonitor::over(redis.infra().await, config());
    let s = first.login().await;
    let flow = first.run_flow().await;
    let before = first.get(&s, "/api/tasks").await.assert_status(200).clone();
    assert_eq!(before["total"], 4, "{before}");
    drop(first);

    let second = TestMonitor::over(redis.infra().await, config());
    let s2 = second.login().await;
    let after = second.get(&s2, "/api/tasks").await.assert_status(200).clone();
    assert_eq!(after["items"], before["items"]);
    let failed = second.get(&s2, &format!("/api/tasks/{}", flow.failing)).await.assert_status(200).clone();
    assert_eq!(failed["state"], "FAILURE");
}

#[tokio::test]
async fn a_session_survives_a_monitor_restart() {
    let redis = RedisPrefix::new("session");
    let first = TestMonitor::over(redis.infra().await, config());
    let s = first.login().await;
    drop(first);
    let second = TestMonitor::over(redis.infra().await, config());
    second.get(&s, "/api/overview").await.assert_status(200);
}

#[tokio::test]
async fn purging_empties_a_queue_of_the_redis_broker() {
    let redis = RedisPrefix::new("purge");
    let m = TestMonitor::over(redis.infra().await, config());
    let s = m.login().await;
    m.noop(1).await;
    m.submit("diag.noop", json!({"x": 2}), TaskOptions { countdown: Some(3600.0), ..TaskOptions::default() }).await;
    let r = m.post(&s, "/api/queues/default/purge?confirm=default").await.assert_status(200).clone();
    assert_eq!(r["removed"], 2);
    let q = m.get(&s, "/api/queues").await.assert_status(200)[0].clone();
    assert_eq!((q["ready"].as_u64(), q["delayed"].as_u64()), (Some(0), Some(0)));
}

#[tokio::test]
async fn the_test_prefix_is_cleaned_up() {
    let redis = RedisPrefix::new("cleanup");
    let prefix = redis.prefix.clone();
    {
        let m = TestMonitor::over(redis.infra().await, config());
        m.noop(1).await;
        assert!(!redis.keys().is_empty());
    }
    drop(redis);
    assert!(RedisPrefix { prefix }.keys().is_empty());
}
