//! The broker's state and its atomic steps (called under the broker's lock, with "now").
//!
//! Per queue: a ready set ordered by priority (higher first) then by a sequence number
//! (FIFO; a released or reclaimed task takes a number below all others, so it goes to the
//! front of its priority), a delayed set ordered by due time, and the live leases ordered by
//! expiry. Every task known to be waiting or in flight is in `tasks`, with its place.

use chrono::{DateTime, Utc};
use goodrobot_domain::task::{Priority, QueueName, TaskFailure, TaskId, TaskMessage};
use goodrobot_ports::{BrokerError, Delivery, EnqueueOutcome, LeaseToken, QueueStats};
use std::{
    cmp::Reverse,
    collections::{BTreeSet, HashMap},
    time::Duration,
};

use crate::{expiring::ExpiringMap, time::after};

type ReadyKey = (Reverse<Priority>, i64, TaskId);
type DelayedKey = (DateTime<Utc>, i64, TaskId);
type LeaseKey = (DateTime<Utc>, TaskId);

#[derive(Default)]
struct Queue {
    ready: BTreeSet<ReadyKey>,
    delayed: BTreeSet<DelayedKey>,
    leases: BTreeSet<LeaseKey>,
}

enum Place {
    Ready(ReadyKey),
    Delayed(DelayedKey),
    InFlight { fence: u64, lease_until: DateTime<Utc> },
}

struct Task {
    msg: TaskMessage,
    /// Deliveries of the current run (reset by a retry or a replay).
    deliveries: u32,
    place: Place,
}

/// Where a task is put when it waits again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Back,
    Front,
}

pub(super) struct Queues {
    max_deliveries: u32,
    queues: HashMap<QueueName, Queue>,
    tasks: HashMap<TaskId, Task>,
    dedup: HashMap<String, TaskId>,
    dead: HashMap<TaskId, (TaskMessage, TaskFailure)>,
    revoked: ExpiringMap<TaskId, String>,
    last_fence: u64,
    back_seq: i64,
    front_seq: i64,
}

impl Queues {
    pub(super) fn new(max_deliveries: u32) -> Self {
        Self {
            max_deliveries,
            queues: HashMap::new(),
            tasks: HashMap::new(),
            dedup: HashMap::new(),
            dead: HashMap::new(),
            revoked: ExpiringMap::default(),
            last_fence: 0,
            back_seq: 0,
            front_seq: 0,
        }
    }

    /// Queues one message, unless its id is already waiting or in flight, or its dedup key
    /// belongs to such a task (then that task's id is returned as a duplicate).
    pub(super) fn enqueue(&mut self, msg: TaskMessage, now: DateTime<Utc>) -> EnqueueOutcome {
        if let Some(first) = msg.dedup_key.as_ref().and_then(|k| self.dedup.get(k)) {
            return EnqueueOutcome::Duplicate(*first);
        }
        if self.tasks.contains_key(&msg.id) {
            return EnqueueOutcome::Duplicate(msg.id);
        }
        let id = msg.id;
        self.hold_key(&msg);
        let due = msg.eta;
        self.wait(msg, 0, due, End::Back, now);
        EnqueueOutcome::Queued(id)
    }

    /// Reclaims expired leases and promotes due delayed tasks of `queues`, then claims up to
    /// `max` ready tasks from them in order, each under a new lease and with its revoke
    /// reason, if any.
    pub(super) fn fetch(
        &mut self,
        queues: &[QueueName],
        max: usize,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Vec<Delivery> {
        for q in queues {
            self.reclaim_expired(q, now);
            self.promote_due(q, now);
        }
        let lease_until = after(now, lease);
        let mut out = Vec::new();
        for q in queues {
            let Some(queue) = self.queues.get_mut(q) else { continue };
            while out.len() < max {
                let Some(key) = queue.ready.pop_first() else { break };
                let Some(task) = self.tasks.get_mut(&key.2) else { continue };
                self.last_fence += 1;
                let fence = self.last_fence;
                task.deliveries += 1;
                task.place = Place::InFlight { fence, lease_until };
                queue.leases.insert((lease_until, key.2));
                out.push(Delivery {
                    message: task.msg.clone(),
                    attempt: task.deliveries,
                    token: LeaseToken { task_id: key.2, queue: q.clone(), fence },
                    lease_until,
                    revoked: self.revoked.get(&key.2, now).cloned(),
                });
            }
        }
        out
    }

    /// The earliest time something in `queues` becomes due or a lease there expires.
    pub(super) fn next_change(&self, queues: &[QueueName]) -> Option<DateTime<Utc>> {
        queues
            .iter()
            .filter_map(|q| self.queues.get(q))
            .flat_map(|q| [q.delayed.first().map(|k| k.0), q.leases.first().map(|k| k.0)])
            .flatten()
            .min()
    }

    /// Extends a live claim's lease; false if the token is not the current claim.
    pub(super) fn renew(&mut self, token: &LeaseToken, lease_until: DateTime<Utc>) -> bool {
        let Some(task) = self.tasks.get_mut(&token.task_id) else { return false };
        let Place::InFlight { fence, lease_until: old } = task.place else { return false };
        if fence != token.fence {
            return false;
        }
        if let Some(q) = self.queues.get_mut(&task.msg.queue) {
            q.leases.remove(&(old, token.task_id));
            q.leases.insert((lease_until, token.task_id));
        }
        task.place = Place::InFlight { fence, lease_until };
        true
    }

    pub(super) fn ack(&mut self, token: &LeaseToken) -> Result<(), BrokerError> {
        let task = self.take_claim(token)?;
        self.free_key(&task.msg);
        Ok(())
    }

    /// Puts the claimed task back as `msg`, due at `at`, as a fresh run (next attempt 1).
    pub(super) fn retry(
        &mut self,
        token: &LeaseToken,
        mut msg: TaskMessage,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), BrokerError> {
        let task = self.take_claim(token)?;
        msg.id = token.task_id;
        if msg.dedup_key != task.msg.dedup_key {
            self.free_key(&task.msg);
            self.hold_key(&msg);
        }
        self.wait(msg, 0, Some(at), End::Back, now);
        Ok(())
    }

    /// Puts the claimed task back at the front of its priority, not counting this delivery.
    pub(super) fn release(&mut self, token: &LeaseToken, now: DateTime<Utc>) -> Result<(), BrokerError> {
        let task = self.take_claim(token)?;
        self.wait(task.msg, task.deliveries.saturating_sub(1), None, End::Front, now);
        Ok(())
    }

    pub(super) fn dead_letter(&mut self, token: &LeaseToken, failure: TaskFailure) -> Result<(), BrokerError> {
        let task = self.take_claim(token)?;
        self.bury(task.msg, failure);
        Ok(())
    }

    /// Takes a task out of the dead list and queues it due now with its retries reset.
    pub(super) fn replay(&mut self, id: TaskId, now: DateTime<Utc>) -> Result<TaskMessage, BrokerError> {
        let (mut msg, _) = self.dead.remove(&id).ok_or(BrokerError::NotFound(id))?;
        msg.retries = 0;
        msg.eta = None;
        if !self.tasks.contains_key(&id) {
            if msg.dedup_key.as_ref().is_some_and(|k| !self.dedup.contains_key(k)) {
                self.hold_key(&msg);
            }
            self.wait(msg.clone(), 0, None, End::Back, now);
        }
        Ok(msg)
    }

    /// Remembers the revocation until `until`, frees the task's dedup key and drops the task
    /// if it is waiting (an in-flight one is left to its worker, which asks `revoked`).
    pub(super) fn revoke(&mut self, id: TaskId, reason: &str, until: DateTime<Utc>, now: DateTime<Utc>) {
        self.revoked.insert(id, reason.to_owned(), Some(until), now);
        let Some(task) = self.tasks.get(&id) else { return };
        let queue = self.queues.get_mut(&task.msg.queue);
        let removed = match (&task.place, queue) {
            (Place::Ready(k), Some(q)) => q.ready.remove(k),
            (Place::Delayed(k), Some(q)) => q.delayed.remove(k),
            _ => false,
        };
        let msg = if removed { self.tasks.remove(&id).map(|t| t.msg) } else { Some(task.msg.clone()) };
        if let Some(msg) = msg {
            self.free_key(&msg);
        }
    }

    pub(super) fn revoked(&mut self, id: TaskId, now: DateTime<Utc>) -> Option<String> {
        self.revoked.get(&id, now).cloned()
    }

    pub(super) fn stats(&self, queue: &QueueName) -> QueueStats {
        let q = self.queues.get(queue);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        QueueStats {
            queue: queue.to_string(),
            ready: q.map_or(0, |q| count(q.ready.len())),
            delayed: q.map_or(0, |q| count(q.delayed.len())),
            in_flight: q.map_or(0, |q| count(q.leases.len())),
            dead: count(self.dead.values().filter(|(m, _)| &m.queue == queue).count()),
        }
    }

    /// Drops every waiting (ready or delayed) task of `queue`; returns how many.
    pub(super) fn purge(&mut self, queue: &QueueName) -> u64 {
        let Some(q) = self.queues.get_mut(queue) else { return 0 };
        let ids: Vec<TaskId> = std::mem::take(&mut q.ready)
            .into_iter()
            .map(|k| k.2)
            .chain(std::mem::take(&mut q.delayed).into_iter().map(|k| k.2))
            .collect();
        for id in &ids {
            if let Some(task) = self.tasks.remove(id) {
                self.free_key(&task.msg);
            }
        }
        u64::try_from(ids.len()).unwrap_or(u64::MAX)
    }

    /// Makes expired claims of `queue` ready again, or dead if they were delivered too often.
    fn reclaim_expired(&mut self, queue: &QueueName, now: DateTime<Utc>) {
        loop {
            let Some(q) = self.queues.get_mut(queue) else { return };
            let Some(&(until, id)) = q.leases.first() else { return };
            if until > now {
                return;
            }
            q.leases.pop_first();
            let Some(task) = self.tasks.remove(&id) else { continue };
            if task.deliveries >= self.max_deliveries {
                tracing::warn!(task_id = %id, deliveries = task.deliveries, "task dead-lettered: delivery limit exceeded");
                let failure = TaskFailure::new(
                    "DeliveryLimitExceeded",
                    format!("delivered {} times without being acknowledged", task.deliveries),
                );
                self.bury(task.msg, failure);
            } else {
                self.wait(task.msg, task.deliveries, None, End::Front, now);
            }
        }
    }

    fn promote_due(&mut self, queue: &QueueName, now: DateTime<Utc>) {
        let Some(q) = self.queues.get_mut(queue) else { return };
        while let Some(&(due, _, id)) = q.delayed.first() {
            if due > now {
                return;
            }
            q.delayed.pop_first();
            if let Some(task) = self.tasks.get_mut(&id) {
                self.back_seq += 1;
                let key = (Reverse(task.msg.priority), self.back_seq, id);
                q.ready.insert(key);
                task.place = Place::Ready(key);
            }
        }
    }

    /// Stores a task as waiting: delayed if `due` is later than now, else ready.
    fn wait(&mut self, msg: TaskMessage, deliveries: u32, due: Option<DateTime<Utc>>, end: End, now: DateTime<Utc>) {
        let q = self.queues.entry(msg.queue.clone()).or_default();
        let place = match due {
            Some(due) if due > now => {
                self.back_seq += 1;
                let key = (due, self.back_seq, msg.id);
                q.delayed.insert(key);
                Place::Delayed(key)
            }
            _ => {
                let seq = if end == End::Front {
                    self.front_seq -= 1;
                    self.front_seq
                } else {
                    self.back_seq += 1;
                    self.back_seq
                };
                let key = (Reverse(msg.priority), seq, msg.id);
                q.ready.insert(key);
                Place::Ready(key)
            }
        };
        self.tasks.insert(msg.id, Task { msg, deliveries, place });
    }

    /// Removes the task of a current claim; `LeaseLost` if the token is not that claim.
    fn take_claim(&mut self, token: &LeaseToken) -> Result<Task, BrokerError> {
        let lost = || BrokerError::LeaseLost(token.task_id);
        let task = self.tasks.get(&token.task_id).ok_or_else(lost)?;
        let Place::InFlight { fence, lease_until } = task.place else { return Err(lost()) };
        if fence != token.fence {
            return Err(lost());
        }
        if let Some(q) = self.queues.get_mut(&task.msg.queue) {
            q.leases.remove(&(lease_until, token.task_id));
        }
        self.tasks.remove(&token.task_id).ok_or_else(lost)
    }

    fn bury(&mut self, msg: TaskMessage, failure: TaskFailure) {
        self.free_key(&msg);
        self.dead.insert(msg.id, (msg, failure));
    }

    fn hold_key(&mut self, msg: &TaskMessage) {
        if let Some(k) = &msg.dedup_key {
            self.dedup.insert(k.clone(), msg.id);
        }
    }

    fn free_key(&mut self, msg: &TaskMessage) {
        if let Some(k) = &msg.dedup_key
            && self.dedup.get(k) == Some(&msg.id)
        {
            self.dedup.remove(k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use goodrobot_testkit::{task_message, unique_queue};

    #[test]
    fn an_expired_lease_past_the_delivery_limit_is_dead_lettered_as_delivery_limit_exceeded() {
        let (q, now) = (unique_queue("limit"), Utc::now());
        let mut queues = Queues::new(2);
        let msg = task_message(&q);
        queues.enqueue(msg.clone(), now);
        let lease = Duration::from_secs(1);
        let attempts: Vec<u32> = (0..3)
            .flat_map(|i| queues.fetch(std::slice::from_ref(&q), 1, lease, now + TimeDelta::seconds(i)))
            .map(|d| d.attempt)
            .collect();
        assert_eq!(attempts, [1, 2]);
        let (_, failure) = &queues.dead[&msg.id];
        assert_eq!(failure.kind, "DeliveryLimitExceeded");
    }

    #[test]
    fn purging_drops_waiting_tasks_and_frees_their_dedup_keys_but_keeps_running_ones() {
        let (q, now) = (unique_queue("purge"), Utc::now());
        let mut queues = Queues::new(10);
        let running = task_message(&q);
        queues.enqueue(running.clone(), now);
        queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(30), now);
        let mut keyed = task_message(&q);
        keyed.dedup_key = Some("k".into());
        let mut later = task_message(&q);
        later.eta = Some(now + TimeDelta::hours(1));
        queues.enqueue(keyed.clone(), now);
        queues.enqueue(later, now);
        assert_eq!(queues.purge(&q), 2);
        let s = queues.stats(&q);
        assert_eq!((s.ready, s.delayed, s.in_flight), (0, 0, 1));
        let mut again = task_message(&q);
        again.dedup_key = Some("k".into());
        assert_eq!(queues.enqueue(again.clone(), now), EnqueueOutcome::Queued(again.id));
    }

    #[test]
    fn a_replayed_task_starts_counting_deliveries_again() {
        let (q, now) = (unique_queue("limit"), Utc::now());
        let mut queues = Queues::new(1);
        let msg = task_message(&q);
        queues.enqueue(msg.clone(), now);
        queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(1), now);
        queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(1), now + TimeDelta::seconds(1));
        queues.replay(msg.id, now).unwrap();
        let d = queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(1), now + TimeDelta::seconds(2));
        assert_eq!(d.iter().map(|d| d.attempt).collect::<Vec<_>>(), [1]);
    }

    #[test]
    fn a_reclaimed_task_goes_before_the_others_of_its_priority() {
        let (q, now) = (unique_queue("front"), Utc::now());
        let mut queues = Queues::new(10);
        let (a, b) = (task_message(&q), task_message(&q));
        queues.enqueue(a.clone(), now);
        queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(1), now);
        queues.enqueue(b, now);
        let d = queues.fetch(std::slice::from_ref(&q), 1, Duration::from_secs(1), now + TimeDelta::seconds(1));
        assert_eq!((d[0].message.id, d[0].attempt), (a.id, 2));
    }

    #[test]
    fn the_default_delivery_limit_is_ten() {
        assert_eq!(super::super::MemoryBrokerConfig::default().max_deliveries, 10);
    }
}
