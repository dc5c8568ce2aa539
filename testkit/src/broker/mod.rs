//! The broker contract: delivery order, delays, leases and fencing, retries, dead letters,
//! revokes, dedup keys, stats — the semantics every broker adapter implements alike.
//!
//! Timing works on a manual clock and on real time: a test that needs time to pass for the
//! broker calls [`TestClock::advance`] (moves a manual clock, a no-op on real time) and then
//! fetches with a wait long enough for the effect to arrive on real time.

mod dedup;
mod delivery;
mod leases;
mod retries;
mod revocation;

pub use dedup::*;
pub use delivery::*;
pub use leases::*;
pub use retries::*;
pub use revocation::*;

use goodrobot_domain::task::{QueueName, TaskMessage};
use goodrobot_ports::{Broker, Delivery, EnqueueOutcome, FetchRequest};
use std::{sync::Arc, time::Duration};

use crate::TestClock;

/// A fresh broker and how its time passes (the clock the broker reads, or real time).
#[derive(Clone)]
pub struct BrokerFixture {
    pub broker: Arc<dyn Broker>,
    pub clock: TestClock,
}

impl std::fmt::Debug for BrokerFixture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerFixture").field("clock", &self.clock).finish_non_exhaustive()
    }
}

/// A lease no test outlives.
const LONG_LEASE: Duration = Duration::from_secs(60);
/// A lease a test lets expire.
const SHORT_LEASE: Duration = Duration::from_millis(200);
/// How long a fetch waits for something that must arrive (returns as soon as it does).
const PATIENCE: Duration = Duration::from_secs(5);
/// How long a fetch waits to show that nothing arrives.
const BRIEF: Duration = Duration::from_millis(100);

fn request(queues: &[&QueueName], max: usize, lease: Duration, wait: Duration) -> FetchRequest {
    FetchRequest {
        worker_id: "contract-worker".into(),
        queues: queues.iter().map(|q| (*q).clone()).collect(),
        max,
        lease,
        wait,
    }
}

async fn enqueue(fx: &BrokerFixture, msg: &TaskMessage) -> EnqueueOutcome {
    let out = fx.broker.enqueue(std::slice::from_ref(msg)).await.unwrap();
    assert_eq!(out.len(), 1);
    out[0]
}

/// Fetches whatever is ready now (up to `max`), under a long lease.
async fn fetch_now(fx: &BrokerFixture, q: &QueueName, max: usize) -> Vec<Delivery> {
    fx.broker.fetch(&request(&[q], max, LONG_LEASE, Duration::ZERO)).await.unwrap()
}

/// Waits for exactly one delivery from `q` under `lease`.
async fn fetch_one(fx: &BrokerFixture, q: &QueueName, lease: Duration) -> Delivery {
    let mut got = fx.broker.fetch(&request(&[q], 1, lease, PATIENCE)).await.unwrap();
    assert_eq!(got.len(), 1, "expected one delivery within {PATIENCE:?}");
    got.remove(0)
}

/// Asserts that nothing is delivered from `q` during a brief wait.
async fn assert_nothing_due(fx: &BrokerFixture, q: &QueueName) {
    let got = fx.broker.fetch(&request(&[q], 10, LONG_LEASE, BRIEF)).await.unwrap();
    assert!(got.is_empty(), "nothing should be delivered, got {got:?}");
}
