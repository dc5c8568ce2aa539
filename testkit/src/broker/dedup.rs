//! Dedup keys: while a task with a key waits or runs, enqueueing the key again returns it;
//! ack, dead-letter and revoke free the key.

use goodrobot_domain::task::TaskFailure;
use goodrobot_ports::EnqueueOutcome;
use std::time::Duration;

use super::{BrokerFixture, LONG_LEASE, enqueue, fetch_one};
use crate::builders::{TaskMessageBuilder, unique_queue};

pub async fn broker_dedup_key_returns_the_first_task_while_it_waits(fx: BrokerFixture) {
    let q = unique_queue("dedup");
    let first = TaskMessageBuilder::new(&q).dedup_key("assign:7").build();
    let second = TaskMessageBuilder::new(&q).dedup_key("assign:7").build();
    assert_eq!(enqueue(&fx, &first).await, EnqueueOutcome::Queued(first.id));
    assert_eq!(enqueue(&fx, &second).await, EnqueueOutcome::Duplicate(first.id));
    assert_eq!(fx.broker.stats(&q).await.unwrap().ready, 1);
}

pub async fn broker_dedup_key_holds_while_the_task_is_in_flight(fx: BrokerFixture) {
    let q = unique_queue("dedup-flight");
    let first = TaskMessageBuilder::new(&q).dedup_key("k").build();
    enqueue(&fx, &first).await;
    fetch_one(&fx, &q, LONG_LEASE).await;
    let second = TaskMessageBuilder::new(&q).dedup_key("k").build();
    assert_eq!(enqueue(&fx, &second).await, EnqueueOutcome::Duplicate(first.id));
}

pub async fn broker_dedup_key_is_freed_on_ack(fx: BrokerFixture) {
    let q = unique_queue("dedup-ack");
    enqueue(&fx, &TaskMessageBuilder::new(&q).dedup_key("k").build()).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.ack(&d.token).await.unwrap();
    let next = TaskMessageBuilder::new(&q).dedup_key("k").build();
    assert_eq!(enqueue(&fx, &next).await, EnqueueOutcome::Queued(next.id));
}

pub async fn broker_dedup_key_is_freed_on_dead_letter(fx: BrokerFixture) {
    let q = unique_queue("dedup-dead");
    enqueue(&fx, &TaskMessageBuilder::new(&q).dedup_key("k").build()).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.dead_letter(&d.token, &TaskFailure::new("HandlerError", "boom")).await.unwrap();
    let next = TaskMessageBuilder::new(&q).dedup_key("k").build();
    assert_eq!(enqueue(&fx, &next).await, EnqueueOutcome::Queued(next.id));
}

pub async fn broker_dedup_key_is_freed_on_revoke(fx: BrokerFixture) {
    let q = unique_queue("dedup-revoke");
    let first = TaskMessageBuilder::new(&q).dedup_key("k").build();
    enqueue(&fx, &first).await;
    fx.broker.revoke(first.id, "revoked", Duration::from_secs(3600)).await.unwrap();
    let next = TaskMessageBuilder::new(&q).dedup_key("k").build();
    assert_eq!(enqueue(&fx, &next).await, EnqueueOutcome::Queued(next.id));
}
