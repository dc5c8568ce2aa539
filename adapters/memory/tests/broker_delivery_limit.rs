//! The memory broker's delivery limit, configured through `MemoryBroker::with_config`.

use goodrobot_memory::{MemoryBroker, MemoryBrokerConfig};
use goodrobot_ports::{Broker, FetchRequest};
use goodrobot_testkit::{ManualClock, task_message, unique_queue};
use std::{sync::Arc, time::Duration};

#[tokio::test]
async fn a_task_redelivered_max_deliveries_times_is_dead_lettered() {
    let clock = Arc::new(ManualClock::new());
    let broker = MemoryBroker::with_config(clock.clone(), MemoryBrokerConfig { max_deliveries: 3 });
    let q = unique_queue("limit");
    broker.enqueue(&[task_message(&q)]).await.unwrap();
    let req = FetchRequest {
        worker_id: "w".into(),
        queues: vec![q.clone()],
        max: 1,
        lease: Duration::from_secs(1),
        wait: Duration::ZERO,
    };
    let mut attempts = Vec::new();
    for _ in 0..4 {
        attempts.extend(broker.fetch(&req).await.unwrap().iter().map(|d| d.attempt));
        clock.advance(Duration::from_secs(1));
    }
    broker.fetch(&req).await.unwrap();
    assert_eq!(attempts, [1, 2, 3]);
    assert_eq!(broker.stats(&q).await.unwrap().dead, 1);
}
