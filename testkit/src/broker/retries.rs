//! Retries and dead letters: rescheduling with a new message, dead-lettering, replay.

use chrono::TimeDelta;
use goodrobot_domain::task::{TaskFailure, TaskId};
use goodrobot_ports::BrokerError;
use std::time::Duration;

use super::{BrokerFixture, LONG_LEASE, assert_nothing_due, enqueue, fetch_now, fetch_one};
use crate::builders::{TaskMessageBuilder, task_message, unique_queue};

pub async fn broker_retry_reschedules_the_new_message_at_its_time(fx: BrokerFixture) {
    let q = unique_queue("retry");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    let at = fx.clock.now() + TimeDelta::milliseconds(300);
    let next = goodrobot_domain::task::TaskMessage { retries: 1, ..msg.clone() };
    fx.broker.retry(&d.token, &next, at).await.unwrap();
    let stats = fx.broker.stats(&q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.in_flight), (0, 1, 0));
    fx.clock.advance(Duration::from_millis(300));
    let again = fetch_one(&fx, &q, LONG_LEASE).await;
    assert_eq!((again.message.id, again.message.retries), (msg.id, 1));
    assert!(fx.clock.now() >= at, "delivered before the retry time");
}

pub async fn broker_retry_due_now_is_ready_at_once(fx: BrokerFixture) {
    let q = unique_queue("retry-now");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.retry(&d.token, &msg, fx.clock.now()).await.unwrap();
    let again = fetch_now(&fx, &q, 1).await;
    assert_eq!(again.iter().map(|d| d.message.id).collect::<Vec<_>>(), [msg.id]);
}

pub async fn broker_dead_lettered_task_is_counted_and_not_fetched(fx: BrokerFixture) {
    let q = unique_queue("dead");
    enqueue(&fx, &task_message(&q)).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.dead_letter(&d.token, &TaskFailure::new("HandlerError", "boom")).await.unwrap();
    let stats = fx.broker.stats(&q).await.unwrap();
    assert_eq!((stats.ready, stats.in_flight, stats.dead), (0, 0, 1));
    assert_nothing_due(&fx, &q).await;
}

pub async fn broker_replay_requeues_a_dead_task_with_retries_reset(fx: BrokerFixture) {
    let q = unique_queue("replay");
    let msg = TaskMessageBuilder::new(&q).retries(3).build();
    enqueue(&fx, &msg).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.dead_letter(&d.token, &TaskFailure::new("HandlerError", "boom")).await.unwrap();
    let replayed = fx.broker.replay(msg.id).await.unwrap();
    assert_eq!((replayed.id, replayed.retries), (msg.id, 0));
    let again = fetch_now(&fx, &q, 1).await;
    assert_eq!((again[0].message.id, again[0].message.retries, again[0].attempt), (msg.id, 0, 1));
    assert_eq!(fx.broker.stats(&q).await.unwrap().dead, 0);
}

pub async fn broker_replay_of_a_task_that_is_not_dead_is_not_found(fx: BrokerFixture) {
    let q = unique_queue("replay-none");
    let waiting = task_message(&q);
    enqueue(&fx, &waiting).await;
    assert_eq!(fx.broker.replay(waiting.id).await, Err(BrokerError::NotFound(waiting.id)));
    let unknown = TaskId::generate();
    assert_eq!(fx.broker.replay(unknown).await, Err(BrokerError::NotFound(unknown)));
}
