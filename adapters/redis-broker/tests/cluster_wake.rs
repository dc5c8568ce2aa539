//! A fetch over queues served by three different masters of the cluster: it waits with one
//! BLPOP per master, does not poll, and wakes on an enqueue to any of the queues within the
//! bound the single-node test holds (`delivery.rs`, `an_idle_fetch_wakes_within_50_ms_of_an_enqueue`).
//!
//! In a test binary of its own: what it times is the wake, and in `delivery.rs` the test would
//! start together with every other cluster test there (bulk enqueues of thousands of tasks on
//! a 2-core machine), whose load, not the wake, would be measured.

mod common;

use common::{Monitors, TestRedis, WAKE_BOUND, queues_on_distinct_masters, request, runs, tag};
use goodrobot_domain::task::QueueName;
use goodrobot_ports::Broker;
use goodrobot_testkit::task_message;
use std::time::{Duration, Instant};

const LONG_LEASE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_fetch_over_queues_on_three_masters_wakes_on_any_of_them() {
    let redis = TestRedis::cluster().await;
    let (waiter, producer) = (redis.broker(), redis.broker());
    let queues = queues_on_distinct_masters("three-masters", 3).await;
    let names: Vec<QueueName> = queues.iter().map(|(q, _)| q.clone()).collect();
    let ports: Vec<u16> = queues.iter().map(|(_, port)| *port).collect();
    let ours = |line: &str| names.iter().any(|q| line.contains(&tag(q)));
    // A broker's first call loads its scripts on every node (one round trip per script on a
    // cluster): setup, not part of the wake to be timed.
    producer.ping().await.unwrap();
    for (q, port) in &queues {
        let mut monitors = Monitors::start(&ports).await;
        let fetch = tokio::spawn({
            let (waiter, names) = (waiter.clone(), names.clone());
            async move {
                waiter.fetch(&request(&names.iter().collect::<Vec<_>>(), 1, LONG_LEASE, Duration::from_secs(10))).await
            }
        });
        // It blocks: one BLPOP on each master, on the wake key of the queue that master serves.
        let mut waits: Vec<(u16, &QueueName)> = Vec::new();
        while waits.len() < queues.len() {
            let (node, line) =
                monitors.next_where(Duration::from_secs(5), |_, line| runs(line, "BLPOP") && ours(line)).await;
            let queue = names.iter().find(|q| line.contains(&tag(q))).expect("one of ours");
            assert!(!waits.iter().any(|(_, q)| *q == queue), "a second BLPOP on {queue}: {line}");
            waits.push((node, queue));
        }
        waits.sort_by_key(|(_, q)| names.iter().position(|n| n == *q));
        let expected: Vec<(u16, &QueueName)> = queues.iter().map(|(q, node)| (*node, q)).collect();
        assert_eq!(waits, expected, "each queue's wait is on the master serving it");
        // Without polling: nothing more touches the queues while it waits.
        let polled = monitors.during(Duration::from_millis(250), |_, line| ours(line)).await;
        assert!(polled.is_empty(), "the idle fetch kept calling Redis: {polled:?}");
        drop(monitors); // MONITOR slows the nodes down: not while the wake is timed
        let msg = task_message(q);
        let enqueued = Instant::now();
        producer.enqueue(std::slice::from_ref(&msg)).await.unwrap();
        let got = fetch.await.unwrap().unwrap();
        let took = enqueued.elapsed();
        eprintln!("woke {took:?} after the enqueue to {q} on {port}");
        assert_eq!(got.iter().map(|d| d.message.id).collect::<Vec<_>>(), [msg.id]);
        assert!(took < WAKE_BOUND, "woke {took:?} after the enqueue to {q} on {port}");
        producer.ack(&got[0].token).await.unwrap();
    }
}
