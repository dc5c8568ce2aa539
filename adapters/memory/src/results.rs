//! The result backend in memory: task records that expire a fixed time after their last
//! write, and a wait for a record to finish that wakes on writes instead of polling.

use async_trait::async_trait;
use goodrobot_domain::task::{StateUpdate, TaskId, TaskMessage, TaskRecord};
use goodrobot_ports::{Clock, ResultBackend, ResultError, SystemClock};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::Notify;

use crate::{
    expiring::ExpiringMap,
    lock::lock,
    time::{after, deadline_in},
};

/// Task records by id; each write moves the record's expiry to `ttl` from then.
pub struct MemoryResults {
    clock: Arc<dyn Clock>,
    ttl: Duration,
    records: Mutex<ExpiringMap<TaskId, TaskRecord>>,
    /// Signalled after every write.
    written: Notify,
}

impl MemoryResults {
    /// Records kept for 24 hours after their last write, by the system clock.
    pub const DEFAULT_TTL: Duration = Duration::from_secs(24 * 3600);

    pub fn new() -> Self {
        Self::with_ttl(Arc::new(SystemClock), Self::DEFAULT_TTL)
    }

    pub fn with_ttl(clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self { clock, ttl, records: Mutex::new(ExpiringMap::default()), written: Notify::new() }
    }

    /// Runs `write` on the live record of `id` (if any), refreshes its expiry, and returns
    /// the record afterwards.
    fn write(&self, id: TaskId, write: impl FnOnce(&mut TaskRecord)) -> Option<TaskRecord> {
        let now = self.clock.now();
        let out = {
            let mut records = lock(&self.records);
            let entry = records.get_mut(&id, now)?;
            write(&mut entry.value);
            entry.expires_at = Some(after(now, self.ttl));
            entry.value.clone()
        };
        self.written.notify_waiters();
        Some(out)
    }

    /// Applies `update` to the task's record (made from `msg` if missing), refreshes its
    /// expiry, wakes waiters, and answers `out` of the record and whether it applied.
    fn apply_to<T>(
        &self,
        msg: &TaskMessage,
        update: &StateUpdate,
        out: impl FnOnce(&TaskRecord, bool) -> T,
    ) -> Result<T, ResultError> {
        let now = self.clock.now();
        let answer = {
            let mut records = lock(&self.records);
            if records.get(&msg.id, now).is_none() {
                records.insert(msg.id, TaskRecord::pending(msg, now), None, now);
            }
            let entry = records.get_mut(&msg.id, now).ok_or_else(|| ResultError::Internal("record vanished".into()))?;
            let applied = entry.value.apply(update);
            entry.expires_at = Some(after(now, self.ttl));
            out(&entry.value, applied)
        };
        self.written.notify_waiters();
        Ok(answer)
    }
}

impl Default for MemoryResults {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryResults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryResults").field("ttl", &self.ttl).finish_non_exhaustive()
    }
}

#[async_trait]
impl ResultBackend for MemoryResults {
    async fn create(&self, record: &TaskRecord) -> Result<bool, ResultError> {
        let now = self.clock.now();
        {
            let mut records = lock(&self.records);
            if records.get(&record.id, now).is_some() {
                return Ok(false);
            }
            records.insert(record.id, record.clone(), Some(after(now, self.ttl)), now);
        }
        self.written.notify_waiters();
        Ok(true)
    }

    async fn create_fresh(&self, records: &[TaskRecord]) -> Result<(), ResultError> {
        let now = self.clock.now();
        {
            let mut stored = lock(&self.records);
            for r in records {
                stored.insert(r.id, r.clone(), Some(after(now, self.ttl)), now);
            }
        }
        self.written.notify_waiters();
        Ok(())
    }

    async fn record(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<TaskRecord, ResultError> {
        self.apply_to(msg, update, |r, _| r.clone())
    }

    async fn record_applied(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<bool, ResultError> {
        self.apply_to(msg, update, |_, applied| applied)
    }

    async fn update(&self, id: TaskId, update: &StateUpdate) -> Result<Option<TaskRecord>, ResultError> {
        Ok(self.write(id, |r| {
            r.apply(update);
        }))
    }

    async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, ResultError> {
        Ok(lock(&self.records).get(&id, self.clock.now()).cloned())
    }

    async fn delete(&self, id: TaskId) -> Result<(), ResultError> {
        lock(&self.records).remove(&id, self.clock.now());
        Ok(())
    }

    async fn add_child(&self, parent: TaskId, child: TaskId) -> Result<(), ResultError> {
        self.write(parent, |r| {
            if !r.children.contains(&child) {
                r.children.push(child);
            }
        });
        Ok(())
    }

    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskRecord>, ResultError> {
        let deadline = deadline_in(timeout);
        loop {
            // Registered before looking, so a write made after the look still wakes us.
            let written = self.written.notified();
            tokio::pin!(written);
            written.as_mut().enable();
            let record = self.get(id).await?;
            match record {
                Some(r) if !r.state.is_terminal() && tokio::time::Instant::now() < deadline => {}
                other => return Ok(other),
            }
            tokio::select! {
                () = &mut written => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    async fn ping(&self) -> Result<(), ResultError> {
        Ok(())
    }
}
