//! Delivery on the real Redis, on one node and on the cluster: on time (measured), in bulk, to
//! one fetcher at a time, and waking idle fetches without polling; on the cluster also a bulk
//! enqueue over queues served by different masters (the timed wake over three masters is in
//! `cluster_wake.rs`).

mod common;

use chrono::{TimeDelta, Utc};
use common::{TestRedis, WAKE_BOUND, on_single_and_cluster, queues_on_distinct_masters, request};
use goodrobot_domain::task::{QueueName, TaskId};
use goodrobot_ports::{Broker, EnqueueOutcome};
use goodrobot_testkit::{TaskMessageBuilder, task_message, unique_queue};
use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

const LONG_LEASE: Duration = Duration::from_secs(60);

async fn an_enqueued_task_is_fetched_with_attempt_one_and_gone_after_ack(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("basic");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let got = broker.fetch(&request(&[&q], 10, LONG_LEASE, Duration::from_secs(5))).await.unwrap();
    assert_eq!(got.iter().map(|d| (d.message.id, d.attempt)).collect::<Vec<_>>(), [(msg.id, 1)]);
    broker.ack(&got[0].token).await.unwrap();
    let stats = broker.stats(&q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.in_flight, stats.dead), (0, 0, 0, 0));
}

async fn a_task_due_in_300_ms_is_fetched_by_a_waiting_fetch_within_100_ms_after_its_eta_not_before(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("eta");
    let eta = Utc::now() + TimeDelta::milliseconds(300);
    let msg = TaskMessageBuilder::new(&q).eta(eta).build();
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let got = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_secs(5))).await.unwrap();
    let delivered = Utc::now();
    assert_eq!(got.iter().map(|d| d.message.id).collect::<Vec<_>>(), [msg.id]);
    let late = delivered - eta;
    eprintln!("delivered {} µs after its eta", late.num_microseconds().unwrap_or(i64::MAX));
    assert!(late >= TimeDelta::zero(), "delivered {} ms before its eta", -late.num_milliseconds());
    assert!(late <= TimeDelta::milliseconds(100), "delivered {} ms after its eta", late.num_milliseconds());
}

async fn a_task_due_in_2_s_under_a_1_s_lease_is_delivered_once_within_100_ms_after_its_eta(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("long-eta");
    let eta = Utc::now() + TimeDelta::seconds(2);
    let msg = TaskMessageBuilder::new(&q).eta(eta).build();
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let lease = Duration::from_secs(1);
    let first = broker.fetch(&request(&[&q], 1, lease, Duration::from_secs(5))).await.unwrap();
    let late = Utc::now() - eta;
    assert_eq!(first.len(), 1);
    assert!(late >= TimeDelta::zero() && late <= TimeDelta::milliseconds(100), "delivered {late} after its eta");
    broker.ack(&first[0].token).await.unwrap();
    let again = broker.fetch(&request(&[&q], 1, lease, Duration::from_millis(1500))).await.unwrap();
    assert!(again.is_empty(), "delivered again: {again:?}");
}

async fn an_idle_fetch_wakes_within_50_ms_of_an_enqueue(redis: TestRedis) {
    let (waiter, producer) = (redis.broker(), redis.broker());
    let q = unique_queue("wake");
    let msg = task_message(&q);
    let fetch = tokio::spawn({
        let q = q.clone();
        async move { waiter.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_secs(10))).await }
    });
    // Whether or not the fetch is already blocked, the token it finds wakes it.
    tokio::task::yield_now().await;
    let enqueued = Instant::now();
    producer.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let got = fetch.await.unwrap().unwrap();
    let took = enqueued.elapsed();
    eprintln!("woke {took:?} after the enqueue");
    assert_eq!(got.iter().map(|d| d.message.id).collect::<Vec<_>>(), [msg.id]);
    assert!(took < WAKE_BOUND, "woke {took:?} after the enqueue");
}

async fn a_waiting_fetch_wakes_when_a_lease_expires_and_redelivers_the_task(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("lease-wake");
    let msg = task_message(&q);
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let lease = Duration::from_millis(300);
    let first = broker.fetch(&request(&[&q], 1, lease, Duration::from_secs(5))).await.unwrap().remove(0);
    let again = broker.fetch(&request(&[&q], 1, LONG_LEASE, Duration::from_secs(5))).await.unwrap();
    let late = Utc::now() - first.lease_until;
    eprintln!("reclaimed {} µs after the lease ran out", late.num_microseconds().unwrap_or(i64::MAX));
    assert_eq!(again.iter().map(|d| (d.message.id, d.attempt)).collect::<Vec<_>>(), [(msg.id, 2)]);
    assert!(late >= TimeDelta::zero(), "reclaimed {} ms before the lease ran out", -late.num_milliseconds());
    assert!(late <= TimeDelta::milliseconds(100), "reclaimed {} ms after the lease ran out", late.num_milliseconds());
}

async fn bulk_enqueue_of_10000_is_queued_and_fetched_completely_in_fifo_order(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("bulk");
    let msgs: Vec<_> = (0..10_000).map(|_| task_message(&q)).collect();
    let outcomes = broker.enqueue(&msgs).await.unwrap();
    assert!(outcomes.iter().zip(&msgs).all(|(o, m)| *o == EnqueueOutcome::Queued(m.id)));
    assert_eq!(broker.stats(&q).await.unwrap().ready, 10_000);
    let mut fetched = Vec::with_capacity(msgs.len());
    loop {
        let batch = broker.fetch(&request(&[&q], 500, LONG_LEASE, Duration::ZERO)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        fetched.extend(batch.into_iter().map(|d| d.message.id));
    }
    assert_eq!(fetched, msgs.iter().map(|m| m.id).collect::<Vec<_>>());
}

async fn bulk_enqueue_over_several_queues_gives_outcomes_in_the_callers_order(redis: TestRedis) {
    let broker = redis.broker();
    let (a, b) = (unique_queue("bulk-a"), unique_queue("bulk-b"));
    let first = TaskMessageBuilder::new(&a).dedup_key("once").build();
    let msgs =
        vec![first.clone(), task_message(&b), TaskMessageBuilder::new(&a).dedup_key("once").build(), task_message(&a)];
    let outcomes = broker.enqueue(&msgs).await.unwrap();
    let expected = [
        EnqueueOutcome::Queued(first.id),
        EnqueueOutcome::Queued(msgs[1].id),
        EnqueueOutcome::Duplicate(first.id),
        EnqueueOutcome::Queued(msgs[3].id),
    ];
    assert_eq!(outcomes, expected);
}

async fn two_brokers_fetching_concurrently_never_hold_the_same_task(redis: TestRedis) {
    const TOTAL: usize = 2000;
    let q = unique_queue("race");
    let msgs: Vec<_> = (0..TOTAL).map(|_| task_message(&q)).collect();
    let producer = redis.broker();
    producer.enqueue(&msgs[..TOTAL / 2]).await.unwrap();
    let taken = Arc::new(AtomicUsize::new(0));
    let fetchers: Vec<_> = (0..2)
        .map(|_| {
            // Separate instances: separate connections, as two worker processes have.
            let (broker, q, taken) = (redis.broker(), q.clone(), taken.clone());
            tokio::spawn(async move {
                let mut mine = Vec::new();
                while taken.load(Ordering::SeqCst) < TOTAL {
                    let got = broker.fetch(&request(&[&q], 16, LONG_LEASE, Duration::from_millis(200))).await.unwrap();
                    taken.fetch_add(got.len(), Ordering::SeqCst);
                    mine.extend(got.into_iter().map(|d| d.message.id));
                }
                mine
            })
        })
        .collect();
    for chunk in msgs[TOTAL / 2..].chunks(50) {
        producer.enqueue(chunk).await.unwrap();
    }
    let mut all: Vec<TaskId> = Vec::new();
    for f in fetchers {
        all.extend(f.await.unwrap());
    }
    let distinct: HashSet<TaskId> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (TOTAL, TOTAL));
}

async fn an_eta_in_the_past_is_ready_at_once(redis: TestRedis) {
    let broker = redis.broker();
    let q = unique_queue("past");
    let msg = TaskMessageBuilder::new(&q).eta(Utc::now() - TimeDelta::hours(1)).build();
    broker.enqueue(std::slice::from_ref(&msg)).await.unwrap();
    let stats = broker.stats(&q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed), (1, 0));
}

on_single_and_cluster!(
    current_thread: [
        an_enqueued_task_is_fetched_with_attempt_one_and_gone_after_ack,
        a_task_due_in_300_ms_is_fetched_by_a_waiting_fetch_within_100_ms_after_its_eta_not_before,
        a_task_due_in_2_s_under_a_1_s_lease_is_delivered_once_within_100_ms_after_its_eta,
        an_idle_fetch_wakes_within_50_ms_of_an_enqueue,
        a_waiting_fetch_wakes_when_a_lease_expires_and_redelivers_the_task,
        bulk_enqueue_of_10000_is_queued_and_fetched_completely_in_fifo_order,
        bulk_enqueue_over_several_queues_gives_outcomes_in_the_callers_order,
        an_eta_in_the_past_is_ready_at_once,
    ],
    multi_thread: [
        two_brokers_fetching_concurrently_never_hold_the_same_task,
    ],
);

#[tokio::test]
async fn a_bulk_enqueue_over_queues_on_three_masters_answers_every_message_and_each_task_is_fetched_once() {
    const PER_QUEUE: usize = 1500;
    let redis = TestRedis::cluster().await;
    let broker = redis.broker();
    let queues: Vec<QueueName> =
        queues_on_distinct_masters("bulk-masters", 3).await.into_iter().map(|(q, _)| q).collect();
    // Interleaved across the queues, several script calls per queue; a dedup key repeated in
    // its queue (a duplicate) and used in another queue (dedup keys are per queue).
    let mut msgs: Vec<_> = (0..3 * PER_QUEUE).map(|i| task_message(&queues[i % 3])).collect();
    let duplicate = 3 * PER_QUEUE - 3;
    msgs[0] = TaskMessageBuilder::new(&queues[0]).dedup_key("once").build();
    msgs[1] = TaskMessageBuilder::new(&queues[1]).dedup_key("once").build();
    msgs[duplicate] = TaskMessageBuilder::new(&queues[0]).dedup_key("once").build();
    let outcomes = broker.enqueue(&msgs).await.unwrap();
    let mut expected: Vec<EnqueueOutcome> = msgs.iter().map(|m| EnqueueOutcome::Queued(m.id)).collect();
    expected[duplicate] = EnqueueOutcome::Duplicate(msgs[0].id);
    assert_eq!(outcomes.len(), msgs.len());
    let first_difference = outcomes.iter().zip(&expected).position(|(got, want)| got != want);
    assert_eq!(first_difference, None, "an outcome is not its message's");
    let ready = [PER_QUEUE - 1, PER_QUEUE, PER_QUEUE];
    for (q, want) in queues.iter().zip(ready) {
        assert_eq!(broker.stats(q).await.unwrap().ready, want as u64, "ready in {q}");
    }
    let mut fetched: Vec<TaskId> = Vec::with_capacity(msgs.len());
    loop {
        let all: Vec<&QueueName> = queues.iter().collect();
        let batch = broker.fetch(&request(&all, 500, LONG_LEASE, Duration::ZERO)).await.unwrap();
        if batch.is_empty() {
            break;
        }
        fetched.extend(batch.into_iter().map(|d| d.message.id));
    }
    let queued: HashSet<TaskId> = msgs.iter().enumerate().filter(|(i, _)| *i != duplicate).map(|(_, m)| m.id).collect();
    let distinct: HashSet<TaskId> = fetched.iter().copied().collect();
    assert_eq!((fetched.len(), distinct.len()), (queued.len(), queued.len()), "each task once");
    assert!(distinct == queued, "fetched other tasks than were queued");
}
