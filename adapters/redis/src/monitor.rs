//! What the monitor reads, on Redis: workers' heartbeats and the bounded task event log.
//!
//! Workers: one key per worker, `<prefix>:worker:<id>` (its JSON, expiring at `now + ttl` by
//! Redis's clock), and a sorted set `<prefix>:workers` of ids scored by that expiry in ms, so
//! that listing needs no `KEYS`/`SCAN`. The set expires with its latest member; stale members
//! are removed by score whenever the set is read or written.
//!
//! Events: a stream `<prefix>:events`, one entry per event (field `e`, its JSON), trimmed with
//! `MAXLEN ~ capacity`. Approximate trimming drops whole stream nodes (up to
//! `stream-node-max-entries`, 100 by default), so the stream may hold that many more than
//! `capacity`; `recent` never returns more than the newest `capacity`.

use async_trait::async_trait;
use goodrobot_ports::{EventLog, MonitorError, TaskEvent, WorkerInfo, WorkerRegistry};
use std::time::Duration;

use crate::{RedisPool, pool::redis_error_kind, ttl::px};

const EVENT_FIELD: &str = "e";

type Conn = crate::RedisConn;

async fn conn(pool: &RedisPool) -> Result<Conn, MonitorError> {
    pool.get().await.map_err(MonitorError::Unavailable)
}

fn unavailable(e: &redis::RedisError) -> MonitorError {
    MonitorError::Unavailable(redis_error_kind(e))
}

/// Redis's clock in unix milliseconds (every host then agrees on what has expired).
async fn redis_now_ms(conn: &mut Conn) -> Result<u64, MonitorError> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query_async(&mut *conn).await.map_err(|e| unavailable(&e))?;
    Ok(secs * 1000 + micros / 1000)
}

/// [`WorkerRegistry`] over a [`RedisPool`].
#[derive(Debug, Clone)]
pub struct RedisWorkerRegistry {
    pool: RedisPool,
}

impl RedisWorkerRegistry {
    pub fn new(pool: RedisPool) -> Self {
        Self { pool }
    }

    fn worker_key(&self, id: &str) -> String {
        self.pool.key(&["worker", id])
    }

    fn set_key(&self) -> String {
        self.pool.key(&["workers"])
    }
}

#[async_trait]
impl WorkerRegistry for RedisWorkerRegistry {
    #[tracing::instrument(level = "debug", skip_all, fields(worker = %worker.id), err)]
    async fn heartbeat(&self, worker: &WorkerInfo, ttl: Duration) -> Result<(), MonitorError> {
        let json = serde_json::to_string(worker)
            .map_err(|e| MonitorError::Unavailable(format!("worker not encodable: {e}")))?;
        let set = self.set_key();
        let mut conn = conn(&self.pool).await?;
        let now = redis_now_ms(&mut conn).await?;
        let expires_at = now.saturating_add(px(ttl));
        let mut pipe = redis::pipe();
        // The key first: a listed id whose key is missing is skipped, never the reverse.
        pipe.cmd("SET").arg(self.worker_key(&worker.id)).arg(json).arg("PXAT").arg(expires_at).ignore();
        pipe.cmd("ZADD").arg(&set).arg(expires_at).arg(&worker.id).ignore();
        pipe.cmd("ZREMRANGEBYSCORE").arg(&set).arg("-inf").arg(now).ignore();
        // The set lives as long as its latest member: set the expiry if it has none, or
        // push it later.
        pipe.cmd("PEXPIREAT").arg(&set).arg(expires_at).arg("NX").ignore();
        pipe.cmd("PEXPIREAT").arg(&set).arg(expires_at).arg("GT").ignore();
        pipe.query_async::<()>(&mut conn).await.map_err(|e| unavailable(&e))
    }

    #[tracing::instrument(level = "debug", skip_all, err)]
    async fn list(&self) -> Result<Vec<WorkerInfo>, MonitorError> {
        let set = self.set_key();
        let mut conn = conn(&self.pool).await?;
        let now = redis_now_ms(&mut conn).await?;
        let (ids,): (Vec<String>,) = redis::pipe()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&set)
            .arg("-inf")
            .arg(now)
            .ignore()
            .cmd("ZRANGEBYSCORE")
            .arg(&set)
            .arg(format!("({now}"))
            .arg("+inf")
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.worker_key(id)).collect();
        let values: Vec<Option<String>> =
            redis::cmd("MGET").arg(&keys).query_async(&mut conn).await.map_err(|e| unavailable(&e))?;
        let mut workers: Vec<WorkerInfo> = ids
            .iter()
            .zip(values)
            .filter_map(|(id, json)| {
                // Missing: expired or removed since the set was read.
                let json = json?;
                serde_json::from_str(&json)
                    .inspect_err(|e| tracing::warn!(worker = %id, error = %e, "skipping an unreadable heartbeat"))
                    .ok()
            })
            .collect();
        workers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(workers)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn remove(&self, id: &str) -> Result<(), MonitorError> {
        let mut conn = conn(&self.pool).await?;
        redis::pipe()
            .cmd("UNLINK")
            .arg(self.worker_key(id))
            .ignore()
            .cmd("ZREM")
            .arg(self.set_key())
            .arg(id)
            .ignore()
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| unavailable(&e))
    }
}

/// [`EventLog`] over a Redis stream of about `capacity` entries.
#[derive(Debug, Clone)]
pub struct RedisEventLog {
    pool: RedisPool,
    capacity: usize,
}

impl RedisEventLog {
    /// A log that shows the newest `capacity` events.
    pub fn new(pool: RedisPool, capacity: usize) -> Self {
        Self { pool, capacity }
    }

    fn key(&self) -> String {
        self.pool.key(&["events"])
    }

    /// The command that appends `event` (for callers that send it in a pipeline of their own,
    /// e.g. a submit's one round trip).
    ///
    /// # Errors
    /// The event cannot be encoded.
    pub fn append_command(&self, event: &TaskEvent) -> Result<redis::Cmd, MonitorError> {
        let json =
            serde_json::to_string(event).map_err(|e| MonitorError::Unavailable(format!("event not encodable: {e}")))?;
        let mut cmd = redis::cmd("XADD");
        cmd.arg(self.key()).arg("MAXLEN").arg("~").arg(self.capacity).arg("*").arg(EVENT_FIELD).arg(json);
        Ok(cmd)
    }
}

#[async_trait]
impl EventLog for RedisEventLog {
    #[tracing::instrument(level = "debug", skip_all, fields(events = events.len()), err)]
    async fn append(&self, events: &[TaskEvent]) -> Result<(), MonitorError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for event in events {
            pipe.add_command(self.append_command(event)?).ignore();
        }
        let mut conn = conn(&self.pool).await?;
        pipe.query_async::<()>(&mut conn).await.map_err(|e| unavailable(&e))
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn recent(&self, limit: usize) -> Result<Vec<TaskEvent>, MonitorError> {
        let count = limit.min(self.capacity);
        if count == 0 {
            return Ok(Vec::new());
        }
        let mut conn = conn(&self.pool).await?;
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XREVRANGE")
            .arg(self.key())
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut conn)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(entries
            .into_iter()
            .filter_map(|(id, fields)| {
                let (_, json) = fields.into_iter().find(|(f, _)| f == EVENT_FIELD)?;
                serde_json::from_str(&json)
                    .inspect_err(|e| tracing::warn!(entry = %id, error = %e, "skipping an unreadable event"))
                    .ok()
            })
            .collect())
    }
}
