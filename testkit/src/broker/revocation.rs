//! Revokes: a waiting task is removed, the reason is kept for its TTL and carried by
//! deliveries of the task.

use chrono::TimeDelta;
use goodrobot_domain::task::TaskId;
use std::time::Duration;

use super::{BrokerFixture, LONG_LEASE, assert_nothing_due, enqueue, fetch_now, fetch_one};
use crate::builders::{TaskMessageBuilder, task_message, unique_queue};

const DAY: Duration = Duration::from_secs(24 * 3600);

pub async fn broker_revoked_waiting_task_is_not_fetched(fx: BrokerFixture) {
    let q = unique_queue("revoke");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    fx.broker.revoke(msg.id, "revoked", DAY).await.unwrap();
    assert_nothing_due(&fx, &q).await;
    assert_eq!(fx.broker.stats(&q).await.unwrap().ready, 0);
}

pub async fn broker_revoked_delayed_task_is_removed(fx: BrokerFixture) {
    let q = unique_queue("revoke-delayed");
    let msg = TaskMessageBuilder::new(&q).eta(fx.clock.now() + TimeDelta::hours(1)).build();
    enqueue(&fx, &msg).await;
    fx.broker.revoke(msg.id, "revoked", DAY).await.unwrap();
    assert_eq!(fx.broker.stats(&q).await.unwrap().delayed, 0);
}

pub async fn broker_revoke_reason_is_reported_until_its_ttl(fx: BrokerFixture) {
    let id = TaskId::generate();
    assert_eq!(fx.broker.revoked(id).await.unwrap(), None);
    fx.broker.revoke(id, "expired", DAY).await.unwrap();
    assert_eq!(fx.broker.revoked(id).await.unwrap().as_deref(), Some("expired"));
}

pub async fn broker_revoke_reason_expires_after_its_ttl(fx: BrokerFixture) {
    let id = TaskId::generate();
    fx.broker.revoke(id, "revoked", Duration::from_millis(200)).await.unwrap();
    fx.clock.elapse(Duration::from_millis(300)).await;
    assert_eq!(fx.broker.revoked(id).await.unwrap(), None);
}

pub async fn broker_delivery_carries_the_revoke_reason(fx: BrokerFixture) {
    let q = unique_queue("revoke-flight");
    let msg = task_message(&q);
    enqueue(&fx, &msg).await;
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    assert_eq!(d.revoked, None);
    fx.broker.revoke(msg.id, "revoked", DAY).await.unwrap();
    fx.broker.release(&d.token).await.unwrap();
    let again = fetch_now(&fx, &q, 1).await;
    assert_eq!((again[0].message.id, again[0].revoked.as_deref()), (msg.id, Some("revoked")));
}
