//! Global rate limits per task name and checkpoints of long tasks.

mod common;

use common::{ManualClock, assert_state, config, harness, harness_with_clock};
use goodrobot_domain::{
    Role,
    report::{ReportAccumulator, ReportParams, ReportType},
    task::{TaskId, TaskState},
};
use goodrobot_ports::{
    CacheExt as _,
    services::{TaskOptions, TaskRequest},
};
use goodrobot_worker::{WorkerConfig, checkpoint_key};
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn send_notification_starts_at_most_30_times_a_second() {
    let clock = ManualClock::new();
    let mut h = harness_with_clock(clock.clone());
    let user = h.user(1, Role::Client).await;
    h.start_with(WorkerConfig { concurrency: 50, ..config() }, None);
    let mut ids = Vec::new();
    for i in 0..40 {
        let req = TaskRequest {
            name: "send_notification".into(),
            kwargs: json!({"user_id": user.id, "message": format!("n{i}")}).as_object().cloned().unwrap(),
            ..Default::default()
        };
        ids.push(h.tasks.submit(&req).await.unwrap().task_id);
    }
    // The clock stands still: one second's worth of starts goes through, the rest wait.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.notifier.sent().len() < 30 {
        assert!(tokio::time::Instant::now() < deadline, "only {} sent", h.notifier.sent().len());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.notifier.sent().len(), 30, "no start beyond the limit while the clock stands still");
    let waiting = futures::future::join_all(ids.iter().map(|id| h.tasks.get(*id))).await;
    let retried = waiting.iter().filter(|r| r.as_ref().unwrap().state == TaskState::Retry).count();
    assert_eq!(retried, 0, "waiting for the limit is not a retry");

    clock.advance(Duration::from_secs(1));
    for id in ids {
        let r = h.finished(id).await;
        assert_state(&r, TaskState::Success);
        assert_eq!(r.retries, 0);
    }
    assert_eq!(h.notifier.sent().len(), 40);
    h.stop().await;
}

#[tokio::test]
async fn a_redelivered_report_resumes_from_its_checkpoint_and_drops_it_at_the_end() {
    let mut h = harness();
    let client = h.user(1, Role::Client).await;
    let master = h.user(2, Role::Master).await;
    let mut last = None;
    for _ in 0..3 {
        let o = h.order_for(&client).await;
        h.bid(&o, &master, 100).await;
        last = Some(o.id.0);
    }
    // An earlier delivery got through every order already and counted 1000 of them.
    let mut acc = ReportAccumulator::new(ReportType::Summary, ReportParams::default());
    acc.orders_total = 1000;
    acc.last_order_id = last;
    let id = TaskId::generate();
    h.deps.cache.set_cache(&checkpoint_key(id), &json!({"acc": acc, "scanned": 1000}), None).await.unwrap();

    h.start(None);
    let req = TaskRequest {
        name: "generate_analytics_report".into(),
        kwargs: json!({"report_type": "summary"}).as_object().cloned().unwrap(),
        options: TaskOptions { task_id: Some(id), ..TaskOptions::default() },
        ..Default::default()
    };
    h.tasks.submit(&req).await.unwrap();
    let r = h.finished(id).await;
    assert_state(&r, TaskState::Success);
    assert_eq!(r.result.unwrap()["orders_total"], 1000, "resumed, not started over");
    // Its progress says where it resumed; the checkpoint (of an older worker) had no total.
    assert_eq!(r.progress, Some(json!({"scanned": 1000, "total": 1000, "percent": 100, "resumed_from": 1000})));
    assert_eq!(h.deps.cache.get_key(&checkpoint_key(id)).await.unwrap(), None);
    h.stop().await;
}
