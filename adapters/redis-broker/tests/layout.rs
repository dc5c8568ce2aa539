//! The keys as Redis sees them: one hash tag per queue (its tasks' records included) and one
//! for the revocations, nothing left per task once it is done, nothing without a TTL that is
//! not meant to live.

mod common;

use chrono::{TimeDelta, Utc};
use common::{TestRedis, request};
use goodrobot_domain::task::{QueueName, StateUpdate, TaskFailure, TaskRecord, TaskState};
use goodrobot_ports::{Broker, ResultBackend};
use goodrobot_testkit::{TaskMessageBuilder, task_message, unique_queue};
use std::time::Duration;

const LONG_LEASE: Duration = Duration::from_secs(60);

/// The cluster hash tag of a key: between the first `{` and the next `}`, if not empty.
fn hash_tag(key: &str) -> Option<&str> {
    let open = key.find('{')?;
    let len = key[open + 1..].find('}')?;
    (len > 0).then(|| &key[open + 1..open + 1 + len])
}

#[tokio::test]
async fn every_key_is_in_the_slot_of_its_queue_or_the_revocations() {
    let redis = TestRedis::new().await;
    let (broker, results) = (redis.broker(), redis.results());
    let (a, b) = (unique_queue("layout-a"), unique_queue("layout-b"));
    let later = TaskMessageBuilder::new(&b).eta(Utc::now() + TimeDelta::hours(1)).dedup_key("k").build();
    let msgs = [task_message(&a), task_message(&a), later, task_message(&b)];
    broker.enqueue(&msgs).await.unwrap();
    let got = broker.fetch(&request(&[&a, &b], 3, LONG_LEASE, Duration::ZERO)).await.unwrap();
    broker.dead_letter(&got[0].token, &TaskFailure::new("HandlerError", "x")).await.unwrap();
    broker.revoke(msgs[2].id, "revoked", Duration::from_secs(60)).await.unwrap();
    for m in &msgs {
        results.record(m, &StateUpdate::new(TaskState::Started, Utc::now())).await.unwrap();
    }
    let queues_key = redis.key(&["queues"]);
    let mut tags = std::collections::BTreeSet::new();
    for key in redis.keys().await {
        if key == queues_key {
            continue; // a single-key SET, touched by no script
        }
        let tag = hash_tag(&key).unwrap_or_else(|| panic!("{key} has no hash tag"));
        let expected = tag == format!("q:{a}") || tag == format!("q:{b}") || tag == "revoked";
        assert!(expected, "{key} is in an unexpected slot");
        tags.insert(tag.to_owned());
    }
    assert_eq!(tags.len(), 3, "{tags:?}");
    // Every task's record is with its queue.
    for m in &msgs {
        let rec = redis.key(&[&format!("{{q:{}}}", m.queue), &format!("t:{}", m.id)]);
        assert_eq!(redis.raw::<i64>(redis::cmd("EXISTS").arg(&rec)).await, 1, "{rec}");
    }
}

#[tokio::test]
async fn nothing_of_an_acked_task_stays_behind() {
    let redis = TestRedis::new().await;
    let broker = redis.broker();
    let q = unique_queue("clean");
    let msgs: Vec<_> = (0..5).map(|i| TaskMessageBuilder::new(&q).dedup_key(&format!("k{i}")).build()).collect();
    broker.enqueue(&msgs).await.unwrap();
    for d in broker.fetch(&request(&[&q], 5, LONG_LEASE, Duration::ZERO)).await.unwrap() {
        broker.ack(&d.token).await.unwrap();
    }
    let tag = format!("{{q:{q}}}");
    let left: Vec<String> = redis.keys().await.into_iter().filter(|k| k.contains(&tag)).collect();
    // Only the counters remain (and a wake token, which expires).
    let allowed = [redis.key(&[&tag, "seq"]), redis.key(&[&tag, "wake"])];
    assert!(left.iter().all(|k| allowed.contains(k)), "{left:?}");
}

#[tokio::test]
async fn every_key_not_meant_to_live_has_a_ttl() {
    let redis = TestRedis::new().await;
    let (broker, results) = (redis.broker(), redis.results());
    let q = unique_queue("ttl");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    broker.revoke(msg.id, "revoked", Duration::from_secs(60)).await.unwrap();
    results.create(&TaskRecord::pending(&msg, Utc::now())).await.unwrap();
    results.record(&msg, &StateUpdate::new(TaskState::Revoked, Utc::now())).await.unwrap();
    let tag = format!("{{q:{q}}}");
    // The queue's counters and the list of queue names are the only keys kept for good.
    let kept = [redis.key(&[&tag, "seq"]), redis.key(&["queues"])];
    for key in redis.keys().await {
        if kept.contains(&key) {
            continue;
        }
        let pttl = redis.pttl(&key).await;
        assert!(pttl > 0, "{key} has no TTL");
    }
}

#[tokio::test]
async fn a_queue_name_is_registered_by_its_first_enqueue() {
    let redis = TestRedis::new().await;
    let broker = redis.broker();
    let q = QueueName::new("reports").unwrap();
    broker.enqueue(&[task_message(&q)]).await.unwrap();
    let names: Vec<String> = redis.raw(redis::cmd("SMEMBERS").arg(redis.key(&["queues"]))).await;
    assert_eq!(names, ["reports"]);
}
