//! Leases, fencing, the delivery limit, dead letters and revokes on the real Redis.

mod common;

use common::{TestRedis, on_single_and_cluster, request};
use goodrobot_domain::task::TaskFailure;
use goodrobot_ports::{Broker, BrokerError, Delivery};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig};
use goodrobot_testkit::{TaskMessageBuilder, task_message, unique_queue};
use std::{collections::HashMap, time::Duration};

const LONG_LEASE: Duration = Duration::from_secs(60);
const SHORT_LEASE: Duration = Duration::from_millis(150);
const PATIENCE: Duration = Duration::from_secs(5);

async fn fetch_one(broker: &RedisBroker, q: &goodrobot_domain::task::QueueName, lease: Duration) -> Delivery {
    let mut got = broker.fetch(&request(&[q], 1, lease, PATIENCE)).await.unwrap();
    assert_eq!(got.len(), 1, "one delivery within {PATIENCE:?}");
    got.remove(0)
}

async fn a_token_whose_lease_was_reclaimed_gets_lease_lost_on_ack(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("stale-ack");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let stale = fetch_one(&broker, &q, SHORT_LEASE).await;
    let current = fetch_one(&broker, &q, LONG_LEASE).await;
    assert_eq!((stale.attempt, current.attempt), (1, 2));
    assert_eq!(broker.ack(&stale.token).await, Err(BrokerError::LeaseLost(msg.id)));
    assert_eq!(broker.stats(&q).await.unwrap().in_flight, 1, "the newer claim is untouched");
}

async fn a_token_whose_lease_was_reclaimed_is_not_renewed(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("stale-renew");
    broker.enqueue(&[task_message(&q)]).await.unwrap();
    let stale = fetch_one(&broker, &q, SHORT_LEASE).await;
    let current = fetch_one(&broker, &q, LONG_LEASE).await;
    let held = broker.renew(&[stale.token, current.token.clone()], LONG_LEASE).await.unwrap();
    assert_eq!(held, [false, true]);
    assert_eq!(broker.ack(&current.token).await, Ok(()));
}

async fn a_renewed_lease_outlives_its_first_deadline(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("renew");
    broker.enqueue(&[task_message(&q)]).await.unwrap();
    let d = fetch_one(&broker, &q, Duration::from_millis(300)).await;
    assert_eq!(broker.renew(std::slice::from_ref(&d.token), LONG_LEASE).await.unwrap(), [true]);
    // Waits past the first deadline: a reclaim would deliver the task here.
    let got = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_millis(600))).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(broker.ack(&d.token).await, Ok(()));
}

async fn renew_answers_for_tokens_of_several_queues_in_order(redis: TestRedis) {
    let broker = redis.broker();
    let (a, b) = (unique_queue("renew-a"), unique_queue("renew-b"));
    broker.enqueue(&[task_message(&a), task_message(&b)]).await.unwrap();
    let (da, db) = (fetch_one(&broker, &a, LONG_LEASE).await, fetch_one(&broker, &b, LONG_LEASE).await);
    broker.ack(&da.token).await.unwrap();
    let held = broker.renew(&[da.token, db.token.clone(), db.token], LONG_LEASE).await.unwrap();
    assert_eq!(held, [false, true, true]);
}

async fn a_task_whose_lease_expires_max_deliveries_times_is_dead_lettered_as_delivery_limit_exceeded(redis: TestRedis) {
    let broker = redis.broker_with(RedisBrokerConfig { max_deliveries: 2, ..Default::default() });
    let q = unique_queue("limit");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let attempts =
        [fetch_one(&broker, &q, SHORT_LEASE).await.attempt, fetch_one(&broker, &q, SHORT_LEASE).await.attempt];
    assert_eq!(attempts, [1, 2]);
    // The wait outlasts the second lease: its expiry dead-letters instead of redelivering.
    let got = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_millis(400))).await.unwrap();
    assert!(got.is_empty(), "{got:?}");
    let dead: String =
        redis.raw(redis::cmd("HGET").arg(redis.key(&[&format!("{{q:{q}}}"), "dead"])).arg(msg.id.to_string())).await;
    let dead: serde_json::Value = serde_json::from_str(&dead).unwrap();
    assert_eq!(dead["failure"]["kind"], "DeliveryLimitExceeded");
    assert_eq!(dead["message"]["id"], msg.id.to_string());
}

async fn a_replayed_task_counts_its_deliveries_from_one_again(redis: TestRedis) {
    let broker = redis.broker_with(RedisBrokerConfig { max_deliveries: 1, ..Default::default() });
    let q = unique_queue("replay-limit");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    fetch_one(&broker, &q, SHORT_LEASE).await;
    let got = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_millis(400))).await.unwrap();
    assert!(got.is_empty(), "dead-lettered after one delivery: {got:?}");
    broker.replay(msg.id).await.unwrap();
    assert_eq!(fetch_one(&broker, &q, LONG_LEASE).await.attempt, 1);
}

async fn a_dead_letter_keeps_the_message_and_its_failure(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("dead");
    let msg = TaskMessageBuilder::new(&q).retries(3).build();
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let d = fetch_one(&broker, &q, LONG_LEASE).await;
    broker.dead_letter(&d.token, &TaskFailure::new("HandlerError", "boom")).await.unwrap();
    let dead: String =
        redis.raw(redis::cmd("HGET").arg(redis.key(&[&format!("{{q:{q}}}"), "dead"])).arg(msg.id.to_string())).await;
    let dead: serde_json::Value = serde_json::from_str(&dead).unwrap();
    assert_eq!(
        (dead["failure"]["kind"].as_str(), dead["failure"]["message"].as_str()),
        (Some("HandlerError"), Some("boom"))
    );
    assert_eq!(serde_json::from_value::<goodrobot_domain::task::TaskMessage>(dead["message"].clone()).unwrap(), msg);
}

async fn replay_finds_the_dead_task_among_several_queues(redis: TestRedis) {
    let broker = redis.broker();
    let (other, q) = (unique_queue("replay-other"), unique_queue("replay"));
    let msg = TaskMessageBuilder::new(&q).retries(2).build();
    broker.enqueue(&[task_message(&other), msg.clone()]).await.unwrap();
    let d = fetch_one(&broker, &q, LONG_LEASE).await;
    broker.dead_letter(&d.token, &TaskFailure::new("HandlerError", "boom")).await.unwrap();
    let replayed = broker.replay(msg.id).await.unwrap();
    assert_eq!((replayed.queue.clone(), replayed.retries), (q.clone(), 0));
    assert_eq!(fetch_one(&broker, &q, LONG_LEASE).await.message, replayed);
}

async fn a_task_revoked_in_flight_stays_with_its_worker_and_its_redelivery_carries_the_reason(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("revoke-flight");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let d = fetch_one(&broker, &q, SHORT_LEASE).await;
    broker.revoke(msg.id, "revoked by operator", Duration::from_secs(60)).await.unwrap();
    assert_eq!(broker.stats(&q).await.unwrap().in_flight, 1);
    let again = fetch_one(&broker, &q, LONG_LEASE).await;
    assert_eq!((again.message.id, again.attempt, again.revoked.as_deref()), (msg.id, 2, Some("revoked by operator")));
    assert_eq!(d.revoked, None);
}

async fn a_fetch_fills_the_revoke_reason_of_each_revoked_task_only(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("revoke-batch");
    let msgs: Vec<_> = (0..3).map(|_| task_message(&q)).collect();
    broker.enqueue(&msgs).await.unwrap();
    let got = broker.fetch(&request(&[&q], 3, SHORT_LEASE, PATIENCE)).await.unwrap();
    assert_eq!(got.len(), 3);
    broker.revoke(msgs[1].id, "expired", Duration::from_secs(60)).await.unwrap();
    let again = broker.fetch(&request(&[&q], 3, LONG_LEASE, PATIENCE)).await.unwrap();
    let reasons: HashMap<_, _> = again.iter().map(|d| (d.message.id, d.revoked.as_deref())).collect();
    let expected = HashMap::from([(msgs[0].id, None), (msgs[1].id, Some("expired")), (msgs[2].id, None)]);
    assert_eq!(reasons, expected);
}

async fn a_dedup_key_is_freed_when_the_task_dead_letters_by_the_delivery_limit(redis: TestRedis) {
    let broker = redis.broker_with(RedisBrokerConfig { max_deliveries: 1, ..Default::default() });
    let q = unique_queue("dedup-limit");
    broker.enqueue(&[TaskMessageBuilder::new(&q).dedup_key("k").build()]).await.unwrap();
    fetch_one(&broker, &q, SHORT_LEASE).await;
    let got = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_millis(400))).await.unwrap();
    assert!(got.is_empty());
    let next = TaskMessageBuilder::new(&q).dedup_key("k").build();
    let outcome = broker.enqueue(std::slice::from_ref(&next)).await.unwrap();
    assert_eq!(outcome, [goodrobot_ports::EnqueueOutcome::Queued(next.id)]);
}

on_single_and_cluster!(
    current_thread: [
        a_token_whose_lease_was_reclaimed_gets_lease_lost_on_ack,
        a_token_whose_lease_was_reclaimed_is_not_renewed,
        a_renewed_lease_outlives_its_first_deadline,
        renew_answers_for_tokens_of_several_queues_in_order,
        a_task_whose_lease_expires_max_deliveries_times_is_dead_lettered_as_delivery_limit_exceeded,
        a_replayed_task_counts_its_deliveries_from_one_again,
        a_dead_letter_keeps_the_message_and_its_failure,
        replay_finds_the_dead_task_among_several_queues,
        a_task_revoked_in_flight_stays_with_its_worker_and_its_redelivery_carries_the_reason,
        a_fetch_fills_the_revoke_reason_of_each_revoked_task_only,
        a_dedup_key_is_freed_when_the_task_dead_letters_by_the_delivery_limit,
    ],
);
