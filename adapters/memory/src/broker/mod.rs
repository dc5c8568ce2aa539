//! The broker in memory, with the semantics the Redis broker implements too (see
//! `goodrobot_ports::broker`): priorities, delayed tasks, leases with fencing tokens,
//! redelivery after an expired lease, a delivery limit, dead letters, revokes and dedup keys.
//!
//! Decisions about due times and leases use the injected clock; a fetch that finds nothing
//! waits on a `Notify` (signalled by enqueue, retry, release and replay) or until the next
//! due time or lease expiry, whichever is first, within its `wait`.

mod queues;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, TaskFailure, TaskId, TaskMessage};
use goodrobot_ports::{Broker, BrokerError, Clock, Delivery, EnqueueOutcome, FetchRequest, LeaseToken, QueueStats};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::Notify;

use crate::{
    lock::lock,
    time::{after, deadline_in, until},
};
use queues::Queues;

/// How the memory broker treats tasks whose leases keep expiring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBrokerConfig {
    /// A task whose lease expires after this many deliveries of one run is dead-lettered
    /// (`DeliveryLimitExceeded`) instead of being delivered again. Default 10.
    pub max_deliveries: u32,
}

impl Default for MemoryBrokerConfig {
    fn default() -> Self {
        Self { max_deliveries: 10 }
    }
}

/// Queues in memory; correct with any number of concurrent producers and fetchers.
pub struct MemoryBroker {
    clock: Arc<dyn Clock>,
    config: MemoryBrokerConfig,
    queues: Mutex<Queues>,
    /// Signalled whenever a task may have become ready or a due time may have moved earlier.
    changed: Notify,
}

impl MemoryBroker {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_config(clock, MemoryBrokerConfig::default())
    }

    pub fn with_config(clock: Arc<dyn Clock>, config: MemoryBrokerConfig) -> Self {
        Self { clock, config, queues: Mutex::new(Queues::new(config.max_deliveries)), changed: Notify::new() }
    }

    /// One claim attempt; also how long until something may change for these queues.
    fn try_fetch(&self, req: &FetchRequest) -> (Vec<Delivery>, Option<Duration>) {
        let now = self.clock.now();
        let mut q = lock(&self.queues);
        let got = q.fetch(&req.queues, req.max, req.lease, now);
        let next = q.next_change(&req.queues).map(|t: DateTime<Utc>| until(now, t));
        (got, next)
    }
}

impl std::fmt::Debug for MemoryBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBroker").field("config", &self.config).finish_non_exhaustive()
    }
}

#[async_trait]
impl Broker for MemoryBroker {
    async fn enqueue(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError> {
        let now = self.clock.now();
        let out = {
            let mut q = lock(&self.queues);
            msgs.iter().map(|m| q.enqueue(m.clone(), now)).collect()
        };
        self.changed.notify_waiters();
        Ok(out)
    }

    async fn fetch(&self, req: &FetchRequest) -> Result<Vec<Delivery>, BrokerError> {
        if req.max == 0 || req.queues.is_empty() {
            return Ok(Vec::new());
        }
        let deadline = deadline_in(req.wait);
        loop {
            // Registered before looking, so a change made after the look still wakes us.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let (got, next) = self.try_fetch(req);
            let now = tokio::time::Instant::now();
            if !got.is_empty() || now >= deadline {
                return Ok(got);
            }
            // A millisecond more, so that the due time has surely passed when we look again.
            let wake = next.map_or(deadline, |d| (now + d + Duration::from_millis(1)).min(deadline));
            tokio::select! {
                () = &mut changed => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    async fn renew(&self, tokens: &[LeaseToken], lease: Duration) -> Result<Vec<bool>, BrokerError> {
        let lease_until = after(self.clock.now(), lease);
        let mut q = lock(&self.queues);
        Ok(tokens.iter().map(|t| q.renew(t, lease_until)).collect())
    }

    async fn ack(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        lock(&self.queues).ack(token)
    }

    async fn retry(&self, token: &LeaseToken, msg: &TaskMessage, at: DateTime<Utc>) -> Result<(), BrokerError> {
        let now = self.clock.now();
        lock(&self.queues).retry(token, msg.clone(), at, now)?;
        self.changed.notify_waiters();
        Ok(())
    }

    async fn release(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        let now = self.clock.now();
        lock(&self.queues).release(token, now)?;
        self.changed.notify_waiters();
        Ok(())
    }

    async fn dead_letter(&self, token: &LeaseToken, failure: &TaskFailure) -> Result<(), BrokerError> {
        lock(&self.queues).dead_letter(token, failure.clone())
    }

    async fn replay(&self, id: TaskId) -> Result<TaskMessage, BrokerError> {
        let now = self.clock.now();
        let msg = lock(&self.queues).replay(id, now)?;
        self.changed.notify_waiters();
        Ok(msg)
    }

    async fn revoke(&self, id: TaskId, reason: &str, ttl: Duration) -> Result<(), BrokerError> {
        let now = self.clock.now();
        lock(&self.queues).revoke(id, reason, after(now, ttl), now);
        Ok(())
    }

    async fn revoked(&self, id: TaskId) -> Result<Option<String>, BrokerError> {
        let now = self.clock.now();
        Ok(lock(&self.queues).revoked(id, now))
    }

    async fn stats(&self, queue: &QueueName) -> Result<QueueStats, BrokerError> {
        Ok(lock(&self.queues).stats(queue))
    }

    async fn purge(&self, queue: &QueueName) -> Result<u64, BrokerError> {
        Ok(lock(&self.queues).purge(queue))
    }

    async fn ping(&self) -> Result<(), BrokerError> {
        Ok(())
    }
}
