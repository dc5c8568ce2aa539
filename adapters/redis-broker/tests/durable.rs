//! Durable enqueue (`RedisBrokerConfig::wait_replicas`, `REDIS_WAIT_REPLICAS`): an enqueue
//! answers Ok only once that many replicas of the queue's master have it; otherwise it is
//! `Unavailable` and says that the outcome is unknown.

use goodrobot_domain::task::{QueueName, TaskMessage};
use goodrobot_ports::{Broker, BrokerError, EnqueueOutcome, FetchRequest};
use goodrobot_redis::{RedisConfig, RedisPool, key_slot};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig};
use goodrobot_testkit::builders::{task_message, unique_queue};
use goodrobot_testkit::redis_cluster::RedisCluster;
use std::{collections::HashSet, time::Duration};

fn prefix() -> String {
    format!("test:{:016x}", rand::random::<u64>())
}

fn durable(replicas: u32) -> RedisBrokerConfig {
    RedisBrokerConfig { wait_replicas: replicas, wait_timeout: Duration::from_millis(200), ..Default::default() }
}

fn message(queue: &QueueName) -> TaskMessage {
    task_message(queue)
}

fn request(queues: Vec<QueueName>) -> FetchRequest {
    FetchRequest { worker_id: "w".into(), queues, max: 100, lease: Duration::from_secs(30), wait: Duration::ZERO }
}

/// Queue names whose slots are served by `n` different masters of `cluster`.
fn queues_on_distinct_masters(cluster: &RedisCluster, n: usize) -> Vec<QueueName> {
    let mut masters = HashSet::new();
    let mut out = Vec::new();
    for i in 0.. {
        let name = format!("durable-{i}-{:08x}", rand::random::<u32>());
        assert!(i < 1000, "no three masters found");
        let master = cluster.master_of_slot(key_slot(format!("{{q:{name}}}"))).port;
        if masters.insert(master) {
            out.push(QueueName::new(&name).unwrap());
            if out.len() == n {
                break;
            }
        }
    }
    out
}

#[tokio::test]
async fn a_durable_enqueue_without_enough_replicas_is_unavailable_and_says_the_outcome_is_unknown() {
    // The machine's Redis has no replica.
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
    let pool = RedisPool::connect(&RedisConfig::new(url, prefix())).await.unwrap();
    let broker = RedisBroker::new(pool.clone(), durable(1));
    let q = unique_queue("durable");
    let msg = message(&q);
    let err = broker.enqueue(std::slice::from_ref(&msg)).await.unwrap_err();
    let BrokerError::Unavailable(text) = &err else { panic!("expected Unavailable, got {err:?}") };
    assert!(text.contains("0 of 1 replicas") && text.contains("outcome is unknown"), "{text}");
    // The truth behind "unknown": the master did take it, and enqueueing it again is safe.
    let again = RedisBroker::new(pool.clone(), RedisBrokerConfig::default());
    assert_eq!(again.enqueue(std::slice::from_ref(&msg)).await.unwrap(), vec![EnqueueOutcome::Duplicate(msg.id)]);
    let got = again.fetch(&request(vec![q.clone()])).await.unwrap();
    assert_eq!(got.iter().map(|d| d.message.id).collect::<Vec<_>>(), vec![msg.id], "one task, not two");
    again.ack(&got[0].token).await.unwrap();
    let mut conn = pool.get().await.unwrap();
    let keys: Vec<String> =
        redis::cmd("KEYS").arg(format!("{}:*", pool.prefix())).query_async(&mut conn).await.unwrap();
    let _: () = redis::cmd("UNLINK").arg(keys).query_async(&mut conn).await.unwrap();
}

#[tokio::test]
async fn a_durable_enqueue_on_the_cluster_is_acknowledged_by_a_replica_of_each_queue() {
    let cluster = RedisCluster::shared();
    let pool = RedisPool::connect(&RedisConfig::new(cluster.url(), prefix())).await.unwrap();
    assert!(pool.is_cluster());
    let broker = RedisBroker::new(pool, durable(1));
    let queues = queues_on_distinct_masters(cluster, 3);
    let single = message(&queues[0]);
    assert_eq!(broker.enqueue(std::slice::from_ref(&single)).await.unwrap(), vec![EnqueueOutcome::Queued(single.id)]);
    let bulk: Vec<TaskMessage> = (0..30).map(|i| message(&queues[i % 3])).collect();
    let outcomes = broker.enqueue(&bulk).await.unwrap();
    assert_eq!(outcomes, bulk.iter().map(|m| EnqueueOutcome::Queued(m.id)).collect::<Vec<_>>());
    let got = broker.fetch(&request(queues.clone())).await.unwrap();
    assert_eq!(got.len(), 31, "every durable enqueue is there");
    // Asking for two replicas where each master has one: refused within the timeout.
    let pool = RedisPool::connect(&RedisConfig::new(cluster.url(), prefix())).await.unwrap();
    let err = RedisBroker::new(pool, durable(2)).enqueue(&[message(&queues[1])]).await.unwrap_err();
    assert!(matches!(&err, BrokerError::Unavailable(t) if t.contains("1 of 2 replicas")), "{err:?}");
}
