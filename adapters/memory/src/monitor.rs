//! What the monitor reads, in memory: workers' heartbeats expiring by the clock, and a ring
//! buffer of the newest task events.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_ports::{Clock, EventLog, MonitorError, TaskEvent, WorkerInfo, WorkerRegistry};
use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::{lock::lock, time::after};

/// [`WorkerRegistry`] over a map ordered by worker id; each heartbeat lives until `now + ttl`
/// by the injected clock. Expired workers are dropped whenever the map is touched.
pub struct MemoryWorkerRegistry {
    clock: Arc<dyn Clock>,
    workers: Mutex<BTreeMap<String, (WorkerInfo, DateTime<Utc>)>>,
}

impl MemoryWorkerRegistry {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, workers: Mutex::new(BTreeMap::new()) }
    }
}

impl std::fmt::Debug for MemoryWorkerRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryWorkerRegistry").finish_non_exhaustive()
    }
}

#[async_trait]
impl WorkerRegistry for MemoryWorkerRegistry {
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), MonitorError> {
        let now = self.clock.now();
        let mut workers = lock(&self.workers);
        // Workers are few: sweeping the dead on every heartbeat keeps the map bounded.
        workers.retain(|_, (_, expires_at)| *expires_at > now);
        workers.insert(worker.id.clone(), (worker.clone(), after(now, ttl)));
        Ok(())
    }

    async fn list(&self) -> Result<Vec<WorkerInfo>, MonitorError> {
        let now = self.clock.now();
        let mut workers = lock(&self.workers);
        workers.retain(|_, (_, expires_at)| *expires_at > now);
        Ok(workers.values().map(|(w, _)| w.clone()).collect())
    }

    async fn remove(&self, id: &str) -> Result<(), MonitorError> {
        lock(&self.workers).remove(id);
        Ok(())
    }
}

/// [`EventLog`] over a ring buffer of `capacity` events: appending to a full log drops the
/// oldest.
pub struct MemoryEventLog {
    capacity: usize,
    events: Mutex<VecDeque<TaskEvent>>,
}

impl MemoryEventLog {
    /// A log that keeps the newest `capacity` events (none if `capacity` is 0).
    pub fn new(capacity: usize) -> Self {
        // Allocated as it fills: a generous capacity costs nothing up front.
        Self { capacity, events: Mutex::new(VecDeque::new()) }
    }
}

impl std::fmt::Debug for MemoryEventLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryEventLog").field("capacity", &self.capacity).finish_non_exhaustive()
    }
}

#[async_trait]
impl EventLog for MemoryEventLog {
    async fn append(&self, events: &[TaskEvent]) -> Result<(), MonitorError> {
        // Of a batch larger than the log only its newest `capacity` events could stay.
        let keep = &events[events.len().saturating_sub(self.capacity)..];
        let mut log = lock(&self.events);
        let overflow = (log.len() + keep.len()).saturating_sub(self.capacity);
        log.drain(..overflow);
        log.extend(keep.iter().cloned());
        Ok(())
    }

    async fn recent(&self, limit: usize) -> Result<Vec<TaskEvent>, MonitorError> {
        Ok(lock(&self.events).iter().rev().take(limit).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use goodrobot_domain::task::{TaskId, TaskState};

    fn event(n: usize) -> TaskEvent {
        TaskEvent {
            task_id: TaskId::generate(),
            name: format!("task-{n}"),
            queue: "default".to_owned(),
            state: TaskState::Success,
            at: Utc::now(),
            worker: None,
            runtime_s: None,
            wait_s: None,
            error_kind: None,
        }
    }

    fn names(events: Vec<TaskEvent>) -> Vec<String> {
        events.into_iter().map(|e| e.name).collect()
    }

    #[tokio::test]
    async fn a_batch_larger_than_the_log_keeps_its_newest_events() {
        let log = MemoryEventLog::new(3);
        log.append(&(0..10).map(event).collect::<Vec<_>>()).await.unwrap();
        assert_eq!(names(log.recent(10).await.unwrap()), ["task-9", "task-8", "task-7"]);
    }

    #[tokio::test]
    async fn a_log_of_capacity_zero_keeps_nothing() {
        let log = MemoryEventLog::new(0);
        log.append(&[event(1)]).await.unwrap();
        assert_eq!(log.recent(10).await.unwrap(), []);
    }
}
