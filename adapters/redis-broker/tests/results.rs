//! The result backend on the real Redis, on one node and on the cluster: TTLs on every key,
//! waiting on the done latch.

mod common;

use chrono::Utc;
use common::{TestRedis, on_single_and_cluster};
use goodrobot_domain::task::{QueueName, StateUpdate, TaskId, TaskMessage, TaskRecord, TaskState};
use goodrobot_ports::ResultBackend;
use goodrobot_testkit::task_message;
use serde_json::json;
use std::time::{Duration, Instant};

const PATIENCE: Duration = Duration::from_secs(5);

fn update(state: TaskState) -> StateUpdate {
    StateUpdate::new(state, Utc::now())
}

fn success() -> StateUpdate {
    StateUpdate { result: Some(json!({ "ok": [] })), ..update(TaskState::Success) }
}

/// The record and the done latch of a task, in its queue's slot.
fn task_keys(redis: &TestRedis, msg: &TaskMessage) -> [String; 2] {
    let tag = format!("{{q:{}}}", msg.queue);
    ["t", "d"].map(|part| redis.key(&[&tag, &format!("{part}:{}", msg.id)]))
}

async fn every_write_sets_the_ttl_of_every_key_of_the_task(redis: TestRedis) {
    let ttl = Duration::from_secs(1);
    let results = redis.results_with_ttl(ttl);
    let msg = task_message(&QueueName::default_queue());
    results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    results.add_child(msg.id, TaskId::generate()).await.unwrap();
    results.record(&msg, &success()).await.unwrap();
    for key in task_keys(&redis, &msg) {
        let pttl = redis.pttl(&key).await;
        assert!(pttl > 0 && pttl <= 1000, "{key}: PTTL {pttl}");
    }
}

async fn a_record_is_gone_after_its_ttl(redis: TestRedis) {
    let results = redis.results_with_ttl(Duration::from_millis(300));
    let msg = task_message(&QueueName::default_queue());
    results.record(&msg, &update(TaskState::Started)).await.unwrap();
    let [rec, _] = task_keys(&redis, &msg);
    // Expiry itself cannot be waited for by a call: bounded look at the key, 10 ms apart.
    let deadline = Instant::now() + Duration::from_secs(2);
    while redis.pttl(&rec).await != -2 {
        assert!(Instant::now() < deadline, "the record outlived its TTL");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(results.get(msg.id).await.unwrap(), None);
}

async fn the_record_keeps_its_json_exactly(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    let result = json!({ "empty_list": [], "empty_map": {}, "big": 12345678901234567890_u64, "text": "ünï\"code\"" });
    let done = StateUpdate { result: Some(result.clone()), ..update(TaskState::Success) };
    results.record(&msg, &done).await.unwrap();
    assert_eq!(results.get(msg.id).await.unwrap().unwrap().result, Some(result));
}

async fn started_keeps_an_earlier_received_time(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    let received = results.record(&msg, &update(TaskState::Received)).await.unwrap();
    let started = results.record(&msg, &update(TaskState::Started)).await.unwrap();
    assert_eq!(started.received_at, received.received_at);
    assert!(started.started_at.is_some());
}

async fn a_terminal_write_wakes_every_waiter(redis: TestRedis) {
    let results = redis.results();
    let rec = TaskRecord::pending(&task_message(&QueueName::default_queue()), Utc::now());
    results.create(&rec).await.unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let results = redis.results();
            tokio::spawn(async move { results.wait(rec.id, PATIENCE).await })
        })
        .collect();
    tokio::task::yield_now().await;
    let started = Instant::now();
    results.update(rec.id, &success()).await.unwrap();
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap().map(|r| r.state), Some(TaskState::Success));
    }
    assert!(started.elapsed() < Duration::from_secs(1), "woke after {:?}", started.elapsed());
}

async fn a_wait_on_a_finished_record_returns_at_once(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    results.record(&msg, &success()).await.unwrap();
    let started = Instant::now();
    assert_eq!(results.wait(msg.id, PATIENCE).await.unwrap().map(|r| r.state), Some(TaskState::Success));
    assert!(started.elapsed() < Duration::from_millis(100));
}

async fn a_replayed_record_is_waited_for_again(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    results.record(&msg, &success()).await.unwrap();
    results.record(&msg, &update(TaskState::Pending)).await.unwrap();
    let waited = results.wait(msg.id, Duration::from_millis(200)).await.unwrap();
    assert_eq!(waited.map(|r| r.state), Some(TaskState::Pending));
}

async fn a_wait_times_out_close_to_its_timeout(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    results.record(&msg, &update(TaskState::Started)).await.unwrap();
    let started = Instant::now();
    results.wait(msg.id, Duration::from_millis(250)).await.unwrap();
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(350), "took {took:?}");
}

async fn a_lower_fence_cannot_finish_a_record_created_by_record(redis: TestRedis) {
    let results = redis.results();
    let msg = task_message(&QueueName::default_queue());
    results.record(&msg, &StateUpdate { fence: Some(5), ..update(TaskState::Started) }).await.unwrap();
    let stale = results.record(&msg, &StateUpdate { fence: Some(4), ..success() }).await.unwrap();
    assert_eq!((stale.state, stale.fence), (TaskState::Started, Some(5)));
}

on_single_and_cluster!(
    current_thread: [
        every_write_sets_the_ttl_of_every_key_of_the_task,
        a_record_is_gone_after_its_ttl,
        the_record_keeps_its_json_exactly,
        started_keeps_an_earlier_received_time,
        a_terminal_write_wakes_every_waiter,
        a_wait_on_a_finished_record_returns_at_once,
        a_replayed_record_is_waited_for_again,
        a_wait_times_out_close_to_its_timeout,
        a_lower_fence_cannot_finish_a_record_created_by_record,
    ],
);
