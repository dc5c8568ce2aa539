//! The worker's two calls per task (`RedisWorkerStore`): the claim records STARTED for the
//! tasks that start at once, and one script records the outcome and settles the delivery.

mod common;

use chrono::{TimeDelta, Utc};
use common::{PrivateRedis, TestRedis, request};
use goodrobot_domain::task::{StateUpdate, TaskFailure, TaskRecord, TaskState};
use goodrobot_ports::{Broker, Claimed, ResultBackend, Settled, Settlement, StartStamp, WorkerStore};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig, RedisWorkerStore};
use goodrobot_testkit::{TaskMessageBuilder, task_message, unique_queue};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(60);

fn stamp() -> StartStamp {
    StartStamp { worker: "w-1".to_owned(), clock: std::sync::Arc::new(goodrobot_ports::SystemClock) }
}

fn store(redis: &TestRedis) -> RedisWorkerStore {
    RedisWorkerStore::new(redis.broker(), redis.results())
}

/// What the worker writes for an outcome (as `worker/src/runtime.rs` builds it).
fn outcome(state: TaskState, c: &Claimed) -> StateUpdate {
    let mut u = StateUpdate::new(state, Utc::now());
    u.worker = Some("w-1".to_owned());
    u.fence = Some(c.delivery.token.fence);
    u.retries = Some(c.delivery.message.retries);
    u.attempt = Some(c.delivery.attempt);
    u
}

async fn both_stores() -> Vec<TestRedis> {
    vec![TestRedis::new().await, TestRedis::cluster().await]
}

#[tokio::test]
async fn a_claim_records_started_for_tasks_that_start_at_once() {
    for redis in both_stores().await {
        let (results, store) = (redis.results(), store(&redis));
        let q = unique_queue("stamp");
        let msg = task_message(&q);
        results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
        redis.broker().enqueue(std::slice::from_ref(&msg)).await.unwrap();
        let before = Utc::now();
        let claimed = store.claim(&request(&[&q], 10, LEASE, Duration::ZERO), &stamp()).await.unwrap();
        assert_eq!(claimed.len(), 1);
        let at = claimed[0].started_at.expect("STARTED recorded by the claim");
        assert!(at >= before && at <= Utc::now(), "{at} is when the claim ran");
        let rec = results.get(msg.id).await.unwrap().unwrap();
        assert_eq!(rec.state, TaskState::Started);
        assert_eq!(rec.worker.as_deref(), Some("w-1"));
        assert_eq!(rec.attempts, 1);
        assert_eq!(rec.fence, Some(claimed[0].delivery.token.fence));
        assert_eq!(rec.started_at, Some(at));
        assert_eq!(rec.received_at, Some(at));
    }
}

#[tokio::test]
async fn tasks_that_may_expire_or_wait_for_a_rate_limit_or_have_no_record_are_not_stamped() {
    for redis in both_stores().await {
        let (results, store) = (redis.results(), store(&redis));
        let q = unique_queue("late");
        let expiring = TaskMessageBuilder::new(&q).expires(Utc::now() + TimeDelta::hours(1)).build();
        let limited = TaskMessageBuilder::new(&q)
            .name("send_notification", serde_json::json!({"user_id": 1, "message": "x"}))
            .build();
        let unrecorded = task_message(&q);
        for m in [&expiring, &limited] {
            results.create(&TaskRecord::pending(m, Utc::now())).await.unwrap();
        }
        redis.broker().enqueue(&[expiring.clone(), limited.clone(), unrecorded.clone()]).await.unwrap();
        let claimed = store.claim(&request(&[&q], 10, LEASE, Duration::ZERO), &stamp()).await.unwrap();
        assert_eq!(claimed.len(), 3);
        assert!(claimed.iter().all(|c| c.started_at.is_none()), "{claimed:?}");
        for m in [&expiring, &limited] {
            assert_eq!(results.get(m.id).await.unwrap().unwrap().state, TaskState::Pending);
        }
        assert!(results.get(unrecorded.id).await.unwrap().is_none(), "the claim creates no record");
    }
}

#[tokio::test]
async fn a_task_revoked_while_in_flight_is_reclaimed_with_its_reason_and_not_stamped() {
    for redis in both_stores().await {
        revoked_in_flight(redis).await;
    }
}

async fn revoked_in_flight(redis: TestRedis) {
    let (results, store) = (redis.results(), store(&redis));
    let q = unique_queue("revoked");
    let msg = task_message(&q);
    results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    redis.broker().enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let first = store.claim(&request(&[&q], 1, Duration::from_millis(200), Duration::ZERO), &stamp()).await.unwrap();
    assert!(first[0].started_at.is_some());
    redis.broker().revoke(msg.id, "operator said so", Duration::from_secs(60)).await.unwrap();
    // The lease runs out (the worker died): the reclaim sees the revocation.
    let again = store.claim(&request(&[&q], 1, LEASE, Duration::from_secs(5)), &stamp()).await.unwrap();
    assert_eq!(again.len(), 1);
    assert!(again[0].started_at.is_none());
    assert_eq!(again[0].delivery.revoked.as_deref(), Some("operator said so"));
    assert_eq!(again[0].delivery.attempt, 2);
}

#[tokio::test]
async fn settling_records_the_outcome_and_acks_retries_or_dead_letters_in_one_step() {
    for redis in both_stores().await {
        let (broker, results, store) = (redis.broker(), redis.results(), store(&redis));
        let q = unique_queue("settle");
        let msgs: Vec<_> = (0..3).map(|_| task_message(&q)).collect();
        for m in &msgs {
            results.create(&TaskRecord::pending(m, Utc::now())).await.unwrap();
        }
        broker.enqueue(&msgs).await.unwrap();
        let claimed = store.claim(&request(&[&q], 3, LEASE, Duration::ZERO), &stamp()).await.unwrap();
        let by_id = |i: usize| claimed.iter().find(|c| c.delivery.message.id == msgs[i].id).unwrap();

        let mut ok = outcome(TaskState::Success, by_id(0));
        ok.result = Some(serde_json::json!({"n": 1}));
        let settled = store.settle(&by_id(0).delivery, &ok, &Settlement::Ack).await.unwrap();
        assert_eq!(settled, Settled { recorded: true, lease_held: true });
        let rec = results.get(msgs[0].id).await.unwrap().unwrap();
        assert_eq!((rec.state, rec.result.clone()), (TaskState::Success, Some(serde_json::json!({"n": 1}))));

        let at = Utc::now() + TimeDelta::hours(1);
        let mut next = by_id(1).delivery.message.clone();
        next.retries += 1;
        next.eta = Some(at);
        let mut retry = outcome(TaskState::Retry, by_id(1));
        retry.error = Some(TaskFailure::new("Transient", "try later"));
        retry.eta = Some(at);
        let how = Settlement::Retry { next: Box::new(next), at };
        assert!(store.settle(&by_id(1).delivery, &retry, &how).await.unwrap().lease_held);
        assert_eq!(results.get(msgs[1].id).await.unwrap().unwrap().state, TaskState::Retry);

        let failure = TaskFailure::new("HandlerError", "boom");
        let mut failed = outcome(TaskState::Failure, by_id(2));
        failed.error = Some(failure.clone());
        assert!(store.settle(&by_id(2).delivery, &failed, &Settlement::DeadLetter(failure)).await.unwrap().lease_held);

        let stats = broker.stats(&q).await.unwrap();
        assert_eq!((stats.ready, stats.delayed, stats.in_flight, stats.dead), (0, 1, 0, 1));
        // A stale delivery settles nothing and records nothing.
        let stale = store.settle(&by_id(0).delivery, &ok, &Settlement::Ack).await.unwrap();
        assert_eq!(stale, Settled { recorded: false, lease_held: false });
    }
}

#[tokio::test]
async fn settling_a_task_without_a_record_creates_it() {
    for redis in both_stores().await {
        settle_without_record(redis).await;
    }
}

async fn settle_without_record(redis: TestRedis) {
    let (results, store) = (redis.results(), store(&redis));
    let q = unique_queue("norecord");
    let msg = task_message(&q);
    redis.broker().enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let claimed = store.claim(&request(&[&q], 1, LEASE, Duration::ZERO), &stamp()).await.unwrap();
    let settled = store.settle(&claimed[0].delivery, &outcome(TaskState::Success, &claimed[0]), &Settlement::Ack).await;
    assert_eq!(settled.unwrap(), Settled { recorded: true, lease_held: true });
    assert_eq!(results.get(msg.id).await.unwrap().unwrap().state, TaskState::Success);
}

/// Script calls (`cmdstat_evalsha`) of a private Redis.
async fn evalsha_calls(pool: &goodrobot_redis::RedisPool) -> u64 {
    let mut conn = pool.get().await.unwrap();
    let info: String = redis::cmd("INFO").arg("commandstats").query_async(&mut conn).await.unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn a_processed_task_costs_the_worker_two_script_calls_amortised_over_a_batch() {
    const N: u64 = 100;
    let (_server, pool) = PrivateRedis::start(None).await;
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let results = RedisResults::new(pool.clone(), RedisResultsConfig::default());
    let store = RedisWorkerStore::new(broker.clone(), results.clone());
    let q = unique_queue("calls");
    let msgs: Vec<_> = (0..N).map(|_| task_message(&q)).collect();
    results.create_fresh(&msgs.iter().map(|m| TaskRecord::pending(m, Utc::now())).collect::<Vec<_>>()).await.unwrap();
    broker.enqueue(&msgs).await.unwrap();
    let before = evalsha_calls(&pool).await;
    let claimed = store.claim(&request(&[&q], 100, LEASE, Duration::ZERO), &stamp()).await.unwrap();
    assert!(claimed.iter().all(|c| c.started_at.is_some()));
    for c in &claimed {
        let settled = store.settle(&c.delivery, &outcome(TaskState::Success, c), &Settlement::Ack).await.unwrap();
        assert!(settled.recorded && settled.lease_held);
    }
    let calls = evalsha_calls(&pool).await - before;
    // One claim for the batch, one settle per task.
    assert_eq!(calls, 1 + N, "script calls for {N} tasks");
    for m in &msgs {
        assert_eq!(results.get(m.id).await.unwrap().unwrap().state, TaskState::Success);
    }
}

#[tokio::test]
async fn a_submit_queues_the_message_with_its_pending_record_and_event_and_a_duplicate_gets_no_record() {
    use goodrobot_ports::{EnqueueOutcome, EventLog, SubmitStore, TaskEvent};
    for redis in both_stores().await {
        let events = goodrobot_redis::RedisEventLog::new(redis.pool.clone(), 100);
        let store = store(&redis).with_events(events.clone());
        let results = redis.results();
        let q = unique_queue("submit");
        let first = TaskMessageBuilder::new(&q).dedup_key("once").build();
        let record = TaskRecord::pending(&first, Utc::now());
        let out =
            store.submit(std::slice::from_ref(&first), std::slice::from_ref(&record), &[TaskEvent::of(&record)]).await;
        assert_eq!(out.unwrap(), vec![EnqueueOutcome::Queued(first.id)]);
        assert_eq!(results.get(first.id).await.unwrap().unwrap().state, TaskState::Pending);
        assert!(events.recent(10).await.unwrap().iter().any(|e| e.task_id == first.id));
        // Same dedup key while the first waits: its id, and no record of the second.
        let second = TaskMessageBuilder::new(&q).dedup_key("once").build();
        let rec2 = TaskRecord::pending(&second, Utc::now());
        let out = store.submit(std::slice::from_ref(&second), std::slice::from_ref(&rec2), &[]).await.unwrap();
        assert_eq!(out, vec![EnqueueOutcome::Duplicate(first.id)]);
        assert!(results.get(second.id).await.unwrap().is_none(), "no record for a task that was not queued");
        // Submitting the same id again (a retry after an unknown outcome) changes nothing.
        let again = store.submit(std::slice::from_ref(&first), std::slice::from_ref(&record), &[]).await.unwrap();
        assert_eq!(again, vec![EnqueueOutcome::Duplicate(first.id)]);
        assert_eq!(redis.broker().stats(&q).await.unwrap().ready, 1);
    }
}

#[tokio::test]
async fn a_submit_costs_one_enqueue_and_one_record_script_and_never_writes_a_record_without_its_message() {
    use goodrobot_ports::SubmitStore;
    let (_server, pool) = PrivateRedis::start(None).await;
    let broker = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    let results = RedisResults::new(pool.clone(), RedisResultsConfig::default());
    let store = RedisWorkerStore::new(broker.clone(), results.clone());
    let q = unique_queue("calls");
    let msg = task_message(&q);
    let before = evalsha_calls(&pool).await;
    store.submit(std::slice::from_ref(&msg), &[TaskRecord::pending(&msg, Utc::now())], &[]).await.unwrap();
    assert_eq!(evalsha_calls(&pool).await - before, 2);
    assert_eq!(results.get(msg.id).await.unwrap().unwrap().state, TaskState::Pending);
}

#[tokio::test]
async fn a_claim_that_waited_for_work_records_when_it_got_it() {
    for redis in both_stores().await {
        claim_after_waiting(redis).await;
    }
}

async fn claim_after_waiting(redis: TestRedis) {
    let (results, store) = (redis.results(), store(&redis));
    let q = unique_queue("waited");
    let msg = TaskMessageBuilder::new(&q).eta(Utc::now() + TimeDelta::milliseconds(600)).build();
    results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    redis.broker().enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let claimed = store.claim(&request(&[&q], 1, LEASE, Duration::from_secs(5)), &stamp()).await.unwrap();
    let at = claimed[0].started_at.expect("stamped");
    assert!(at >= msg.eta.unwrap(), "STARTED at {at}, before the eta {}", msg.eta.unwrap());
    assert_eq!(results.get(msg.id).await.unwrap().unwrap().started_at, Some(at));
}
