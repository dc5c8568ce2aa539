//! Delivery: enqueue, fetch and ack; priorities, queue order, delays, bulk, concurrency, stats.

use chrono::TimeDelta;
use goodrobot_domain::task::TaskId;
use goodrobot_ports::{EnqueueOutcome, QueueStats};
use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use super::{BrokerFixture, LONG_LEASE, PATIENCE, assert_nothing_due, enqueue, fetch_now, fetch_one, request};
use crate::builders::{TaskMessageBuilder, task_message, unique_queue};

pub async fn broker_enqueued_task_is_fetched_then_acked(fx: BrokerFixture) {
    let q = unique_queue("basic");
    let msg = task_message(&q);
    assert_eq!(enqueue(&fx, &msg).await, EnqueueOutcome::Queued(msg.id));
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    assert_eq!((&d.message, d.attempt, d.token.task_id, &d.token.queue), (&msg, 1, msg.id, &q));
    assert!(d.lease_until > fx.clock.now());
    fx.broker.ack(&d.token).await.unwrap();
    let stats = fx.broker.stats(&q).await.unwrap();
    assert_eq!((stats.ready, stats.delayed, stats.in_flight, stats.dead), (0, 0, 0, 0));
}

/// Many acks at once, over two queues, one of them with a token that lost its claim: that
/// one is `LeaseLost`, every other task is gone, whatever the adapter batches.
pub async fn broker_concurrent_acks_over_queues_each_get_their_own_answer(fx: BrokerFixture) {
    let (a, b) = (unique_queue("acks-a"), unique_queue("acks-b"));
    let msgs: Vec<_> = (0..40).map(|i| task_message(if i % 2 == 0 { &a } else { &b })).collect();
    fx.broker.enqueue(&msgs).await.unwrap();
    let mut tokens: Vec<_> = fetch_now(&fx, &a, 20).await.into_iter().map(|d| d.token).collect();
    tokens.extend(fetch_now(&fx, &b, 20).await.into_iter().map(|d| d.token));
    assert_eq!(tokens.len(), 40);
    let mut stale = tokens[7].clone();
    stale.fence += 1;
    tokens[7] = stale;
    let answers = futures::future::join_all(tokens.iter().map(|t| fx.broker.ack(t))).await;
    for (i, (t, answer)) in tokens.iter().zip(answers).enumerate() {
        if i == 7 {
            assert_eq!(answer, Err(goodrobot_ports::BrokerError::LeaseLost(t.task_id)));
        } else {
            assert_eq!(answer, Ok(()), "ack {i}");
        }
    }
    let (sa, sb) = (fx.broker.stats(&a).await.unwrap(), fx.broker.stats(&b).await.unwrap());
    assert_eq!((sa.ready + sb.ready, sa.in_flight + sb.in_flight), (0, 1), "only the stale token's task is held");
}

pub async fn broker_fetch_of_an_empty_queue_returns_nothing(fx: BrokerFixture) {
    assert_nothing_due(&fx, &unique_queue("empty")).await;
}

pub async fn broker_fetch_waits_for_an_enqueue(fx: BrokerFixture) {
    let q = unique_queue("wake");
    let msg = task_message(&q);
    let req = request(&[&q], 1, LONG_LEASE, PATIENCE);
    let started = Instant::now();
    let (got, _) = tokio::join!(fx.broker.fetch(&req), async {
        tokio::task::yield_now().await;
        enqueue(&fx, &msg).await
    });
    let ids: Vec<TaskId> = got.unwrap().iter().map(|d| d.message.id).collect();
    assert_eq!(ids, [msg.id]);
    assert!(started.elapsed() < PATIENCE, "the enqueue woke the fetch before its wait ran out");
}

pub async fn broker_higher_priority_is_fetched_first_and_fifo_within_one(fx: BrokerFixture) {
    let q = unique_queue("prio");
    let msgs: Vec<_> = [1, 9, 5, 9, 1].iter().map(|&p| TaskMessageBuilder::new(&q).priority(p).build()).collect();
    fx.broker.enqueue(&msgs).await.unwrap();
    let order: Vec<TaskId> = fetch_now(&fx, &q, 10).await.iter().map(|d| d.message.id).collect();
    let expected = [msgs[1].id, msgs[3].id, msgs[2].id, msgs[0].id, msgs[4].id];
    assert_eq!(order, expected);
}

pub async fn broker_fetch_serves_queues_in_the_order_given(fx: BrokerFixture) {
    let (first, second) = (unique_queue("first"), unique_queue("second"));
    let low_in_first = TaskMessageBuilder::new(&first).priority(0).build();
    let high_in_second = TaskMessageBuilder::new(&second).priority(9).build();
    fx.broker.enqueue(&[high_in_second.clone(), low_in_first.clone()]).await.unwrap();
    let got = fx.broker.fetch(&request(&[&first, &second], 2, LONG_LEASE, Duration::ZERO)).await.unwrap();
    let ids: Vec<TaskId> = got.iter().map(|d| d.message.id).collect();
    assert_eq!(ids, [low_in_first.id, high_in_second.id]);
}

pub async fn broker_fetch_claims_at_most_max(fx: BrokerFixture) {
    let q = unique_queue("max");
    let msgs: Vec<_> = (0..5).map(|_| task_message(&q)).collect();
    fx.broker.enqueue(&msgs).await.unwrap();
    assert_eq!(fetch_now(&fx, &q, 3).await.len(), 3);
    assert_eq!(fx.broker.stats(&q).await.unwrap().ready, 2);
}

pub async fn broker_delayed_task_is_not_fetched_before_its_eta(fx: BrokerFixture) {
    let q = unique_queue("later");
    let msg = TaskMessageBuilder::new(&q).eta(fx.clock.now() + TimeDelta::hours(1)).build();
    enqueue(&fx, &msg).await;
    assert_nothing_due(&fx, &q).await;
    assert_eq!(fx.broker.stats(&q).await.unwrap().delayed, 1);
}

pub async fn broker_delayed_task_is_fetched_once_due(fx: BrokerFixture) {
    let q = unique_queue("soon");
    let eta = fx.clock.now() + TimeDelta::milliseconds(300);
    let msg = TaskMessageBuilder::new(&q).eta(eta).build();
    enqueue(&fx, &msg).await;
    fx.clock.advance(Duration::from_millis(300));
    let d = fetch_one(&fx, &q, LONG_LEASE).await;
    assert_eq!(d.message.id, msg.id);
    assert!(fx.clock.now() >= eta, "delivered before its eta");
}

pub async fn broker_waiting_fetch_wakes_at_a_new_delayed_tasks_eta(fx: BrokerFixture) {
    let q = unique_queue("wake-eta");
    let eta = fx.clock.now() + TimeDelta::milliseconds(300);
    let msg = TaskMessageBuilder::new(&q).eta(eta).build();
    let req = request(&[&q], 1, LONG_LEASE, PATIENCE);
    let started = Instant::now();
    let (got, _) = tokio::join!(fx.broker.fetch(&req), async {
        tokio::task::yield_now().await;
        enqueue(&fx, &msg).await;
        fx.clock.advance(Duration::from_millis(300));
    });
    let ids: Vec<TaskId> = got.unwrap().iter().map(|d| d.message.id).collect();
    assert_eq!(ids, [msg.id]);
    assert!(started.elapsed() < PATIENCE, "the fetch woke at the eta, before its wait ran out");
    assert!(fx.clock.now() >= eta, "delivered before its eta");
}

pub async fn broker_bulk_enqueue_of_1000_is_fetched_completely(fx: BrokerFixture) {
    let q = unique_queue("bulk");
    let msgs: Vec<_> = (0..1000).map(|_| task_message(&q)).collect();
    let outcomes = fx.broker.enqueue(&msgs).await.unwrap();
    assert_eq!(outcomes, msgs.iter().map(|m| EnqueueOutcome::Queued(m.id)).collect::<Vec<_>>());
    assert_eq!(fx.broker.stats(&q).await.unwrap().ready, 1000);
    let mut fetched = Vec::new();
    loop {
        let batch = fetch_now(&fx, &q, 100).await;
        if batch.is_empty() {
            break;
        }
        fetched.extend(batch.into_iter().map(|d| d.message.id));
    }
    assert_eq!(fetched, msgs.iter().map(|m| m.id).collect::<Vec<_>>(), "all of them, in FIFO order");
}

pub async fn broker_concurrent_fetchers_never_share_a_live_lease(fx: BrokerFixture) {
    let q = unique_queue("race");
    let msgs: Vec<_> = (0..400).map(|_| task_message(&q)).collect();
    fx.broker.enqueue(&msgs).await.unwrap();
    let fetchers = (0..4).map(|_| {
        let (broker, q) = (fx.broker.clone(), q.clone());
        tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = broker.fetch(&request(&[&q], 7, LONG_LEASE, Duration::ZERO)).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                mine.extend(got.into_iter().map(|d| d.message.id));
            }
        })
    });
    let all: Vec<TaskId> =
        futures::future::join_all(fetchers).await.into_iter().flat_map(|r| r.expect("fetcher")).collect();
    let distinct: HashSet<TaskId> = all.iter().copied().collect();
    assert_eq!((all.len(), distinct.len()), (400, 400), "each task delivered to exactly one fetcher");
}

pub async fn broker_stats_count_ready_delayed_in_flight_and_dead(fx: BrokerFixture) {
    let q = unique_queue("stats");
    let mut msgs: Vec<_> = (0..4).map(|_| task_message(&q)).collect();
    msgs.push(TaskMessageBuilder::new(&q).eta(fx.clock.now() + TimeDelta::hours(1)).build());
    fx.broker.enqueue(&msgs).await.unwrap();
    let got = fetch_now(&fx, &q, 2).await;
    let failure = goodrobot_domain::task::TaskFailure::new("HandlerError", "boom");
    fx.broker.dead_letter(&got[0].token, &failure).await.unwrap();
    let expected = QueueStats { queue: q.to_string(), ready: 2, delayed: 1, in_flight: 1, dead: 1 };
    assert_eq!(fx.broker.stats(&q).await.unwrap(), expected);
}

pub async fn broker_ping_answers(fx: BrokerFixture) {
    fx.broker.ping().await.unwrap();
}
