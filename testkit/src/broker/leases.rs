//! Leases: expiry and redelivery with the next attempt, fencing of stale tokens, renewal,
//! release.

use goodrobot_domain::task::TaskFailure;
use goodrobot_ports::BrokerError;
use std::time::Duration;

use super::{BrokerFixture, LONG_LEASE, SHORT_LEASE, enqueue, fetch_now, fetch_one, request};
use crate::builders::{task_message, unique_queue};

pub async fn broker_expired_lease_is_redelivered_with_the_next_attempt(fx: BrokerFixture) {
    let q = unique_queue("lease");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let first = fetch_one(&fx, &q, SHORT_LEASE).await;
    fx.clock.advance(SHORT_LEASE);
    let again = fetch_one(&fx, &q, LONG_LEASE).await;
    assert_eq!((again.message.id, first.attempt, again.attempt), (msg.id, 1, 2));
    assert!(again.token.fence > first.token.fence, "a new claim has a newer fence");
}

pub async fn broker_stale_token_is_refused_by_every_settling_call(fx: BrokerFixture) {
    let q = unique_queue("stale");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let stale = fetch_one(&fx, &q, SHORT_LEASE).await.token;
    fx.clock.advance(SHORT_LEASE);
    let current = fetch_one(&fx, &q, LONG_LEASE).await.token;
    let lost = Err(BrokerError::LeaseLost(msg.id));
    assert_eq!(fx.broker.ack(&stale).await, lost);
    assert_eq!(fx.broker.retry(&stale, &msg, fx.clock.now()).await, lost);
    assert_eq!(fx.broker.release(&stale).await, lost);
    assert_eq!(fx.broker.dead_letter(&stale, &TaskFailure::new("HandlerError", "x")).await, lost);
    assert_eq!(fx.broker.ack(&current).await, Ok(()));
}

pub async fn broker_renewed_lease_is_not_redelivered(fx: BrokerFixture) {
    let q = unique_queue("renew");
    enqueue(&fx, &task_message(&q)).await;
    let lease = Duration::from_millis(500);
    let d = fetch_one(&fx, &q, lease).await;
    assert_eq!(fx.broker.renew(std::slice::from_ref(&d.token), LONG_LEASE).await.unwrap(), [true]);
    fx.clock.advance(Duration::from_millis(600));
    let got = fx.broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_millis(700))).await.unwrap();
    assert!(got.is_empty(), "a renewed lease must not be reclaimed: {got:?}");
    assert_eq!(fx.broker.ack(&d.token).await, Ok(()));
}

pub async fn broker_renew_of_a_lost_lease_is_false(fx: BrokerFixture) {
    let q = unique_queue("renew-lost");
    enqueue(&fx, &task_message(&q)).await;
    let stale = fetch_one(&fx, &q, SHORT_LEASE).await.token;
    fx.clock.advance(SHORT_LEASE);
    let current = fetch_one(&fx, &q, LONG_LEASE).await.token;
    let held = fx.broker.renew(&[stale, current], LONG_LEASE).await.unwrap();
    assert_eq!(held, [false, true]);
}

pub async fn broker_released_task_is_fetched_again_without_counting_an_attempt(fx: BrokerFixture) {
    let q = unique_queue("release");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    fx.broker.release(&d.token).await.unwrap();
    let again = fetch_now(&fx, &q, 1).await;
    assert_eq!((again[0].message.id, again[0].attempt), (msg.id, 1));
    assert_eq!(fx.broker.ack(&d.token).await, Err(BrokerError::LeaseLost(msg.id)));
}

pub async fn broker_released_task_goes_before_the_others_of_its_priority(fx: BrokerFixture) {
    let q = unique_queue("release-front");
    let (a, b) = (task_message(&q), task_message(&q));
    fx.broker.enqueue(&[a.clone(), b.clone()]).await.unwrap();
    let d = fetch_now(&fx, &q, 1).await.remove(0);
    assert_eq!(d.message.id, a.id);
    fx.broker.release(&d.token).await.unwrap();
    let order: Vec<_> = fetch_now(&fx, &q, 2).await.iter().map(|d| d.message.id).collect();
    assert_eq!(order, [a.id, b.id]);
}
