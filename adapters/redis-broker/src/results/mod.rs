//! The result backend on Redis: per task a hash of the record's fields (`{t:<id>}:rec`) and
//! a `done` latch list holding one token while the record is terminal. Writes are scripts
//! that run `TaskRecord::apply`'s guard and set the TTL anew; `wait` blocks on the latch
//! (`BLMOVE done done`, which leaves the token in place for other waiters).

mod patch;

use async_trait::async_trait;
use chrono::Utc;
use goodrobot_domain::task::{StateUpdate, TaskId, TaskMessage, TaskRecord};
use goodrobot_ports::{ResultBackend, ResultError};
use goodrobot_redis::RedisPool;
use redis::Value;
use std::{sync::Arc, time::Duration};
use tokio::time::Instant;

use crate::{
    codec::{array, int, ms},
    config::RedisResultsConfig,
    conn::{Failure, Redis},
    keys::TaskKeys,
    scripts::ResultScripts,
};
use patch::{Patch, fields, patch, record};

/// How long a command of the result backend may take before it fails as `Unavailable`.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

impl From<Failure> for ResultError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(m) => Self::Unavailable(m),
            Failure::Internal(m) => Self::Internal(m),
        }
    }
}

/// [`ResultBackend`] on Redis. Clones share one reserved connection (plus one pooled
/// connection per `wait` in progress).
#[derive(Debug, Clone)]
pub struct RedisResults {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    redis: Arc<Redis>,
    scripts: ResultScripts,
    cfg: RedisResultsConfig,
}

impl RedisResults {
    pub fn new(pool: RedisPool, cfg: RedisResultsConfig) -> Self {
        let scripts = ResultScripts::new();
        let redis = Arc::new(Redis::new(pool, scripts.all(), RESPONSE_TIMEOUT));
        Self { inner: Arc::new(Inner { redis, scripts, cfg }) }
    }

    fn keys(&self, id: TaskId) -> TaskKeys {
        TaskKeys::new(self.inner.redis.pool(), id)
    }

    fn ttl_ms(&self) -> u64 {
        ms(self.inner.cfg.ttl)
    }

    /// A `result_apply` call: whether to read the record back, `p`, and the record to
    /// create first if there is none.
    fn apply_call(
        &self,
        id: TaskId,
        read_back: bool,
        p: &Patch,
        create: Option<&TaskRecord>,
    ) -> Result<redis::Cmd, Failure> {
        let k = self.keys(id);
        let mut cmd = self.inner.scripts.apply.call(&[&k.rec, &k.done]);
        cmd.arg(if read_back { "1" } else { "0" })
            .arg(self.ttl_ms())
            .arg(&p.state)
            .arg(if p.terminal { "1" } else { "0" })
            .arg(p.fence.map(|f| f.to_string()).unwrap_or_default());
        cmd.arg(p.set.len());
        for (f, v) in &p.set {
            cmd.arg(*f).arg(v);
        }
        cmd.arg(p.set_if_absent.len());
        for (f, v) in &p.set_if_absent {
            cmd.arg(*f).arg(v);
        }
        cmd.arg(p.delete.len()).arg(&p.delete);
        match create {
            Some(rec) => {
                let fields = fields(rec)?;
                cmd.arg(fields.len());
                for (f, v) in &fields {
                    cmd.arg(f).arg(v);
                }
            }
            None => {
                cmd.arg(0);
            }
        }
        Ok(cmd)
    }

    /// Applies `p` to the record of `id`, creating it from `create` first if it is missing;
    /// the record afterwards, `None` if there is none (and nothing to create it from).
    async fn apply(&self, id: TaskId, p: &Patch, create: Option<&TaskRecord>) -> Result<Option<TaskRecord>, Failure> {
        let cmd = self.apply_call(id, true, p, create)?;
        let reply: Value = self.inner.redis.query(&cmd).await?;
        match array(&reply, "result apply")? {
            [found] if int(found, "result apply")? == 0 => Ok(None),
            [_, _applied, fields] => record(array(fields, "record")?),
            _ => Err(Failure::Internal(format!("unexpected result apply reply: {reply:?}"))),
        }
    }

    /// [`Self::apply`] without reading the record back: `None` if there is no record (and
    /// nothing to create it from), else whether the guard let the change apply.
    async fn set(&self, id: TaskId, p: &Patch, create: Option<&TaskRecord>) -> Result<Option<bool>, Failure> {
        let cmd = self.apply_call(id, false, p, create)?;
        match self.inner.redis.query::<i64>(&cmd).await? {
            -1 => Ok(None),
            n => Ok(Some(n == 1)),
        }
    }

    async fn read(&self, id: TaskId) -> Result<Option<TaskRecord>, Failure> {
        let reply: Value = self.inner.redis.query(redis::cmd("HGETALL").arg(self.keys(id).rec)).await?;
        match &reply {
            Value::Map(pairs) => {
                let flat: Vec<Value> = pairs.iter().flat_map(|(k, v)| [k.clone(), v.clone()]).collect();
                record(&flat)
            }
            other => record(array(other, "record")?),
        }
    }
}

#[async_trait]
impl ResultBackend for RedisResults {
    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %rec.id), err)]
    async fn create(&self, rec: &TaskRecord) -> Result<bool, ResultError> {
        let k = self.keys(rec.id);
        let fields = fields(rec)?;
        let mut cmd = self.inner.scripts.create.call(&[&k.rec, &k.done]);
        cmd.arg(self.ttl_ms()).arg(if rec.state.is_terminal() { "1" } else { "0" });
        for (f, v) in &fields {
            cmd.arg(f).arg(v);
        }
        Ok(self.inner.redis.query::<i64>(&cmd).await? == 1)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(count = records.len()), err)]
    async fn create_fresh(&self, records: &[TaskRecord]) -> Result<(), ResultError> {
        if records.is_empty() {
            return Ok(());
        }
        // Plain commands, no script: the ids are new, so there is nothing to check first.
        let ttl = self.ttl_ms();
        let mut pipe = redis::pipe();
        for rec in records {
            let k = self.keys(rec.id);
            let mut hset = redis::cmd("HSET");
            hset.arg(&k.rec);
            for (f, v) in fields(rec)? {
                hset.arg(f).arg(v);
            }
            pipe.add_command(hset).ignore();
            pipe.cmd("PEXPIRE").arg(&k.rec).arg(ttl).ignore();
            if rec.state.is_terminal() {
                pipe.cmd("RPUSH").arg(&k.done).arg("1").ignore();
                pipe.cmd("PEXPIRE").arg(&k.done).arg(ttl).ignore();
            }
        }
        Ok(self.inner.redis.pipeline::<()>(&pipe).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %msg.id, state = %update.state), err)]
    async fn record(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<TaskRecord, ResultError> {
        let p = patch(update)?;
        if let Some(rec) = self.apply(msg.id, &p, None).await? {
            return Ok(rec);
        }
        // Missing (expired, or never written): made from the message, then changed.
        let created = self.apply(msg.id, &p, Some(&TaskRecord::pending(msg, Utc::now()))).await?;
        created.ok_or_else(|| ResultError::Internal("the record was not stored".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %msg.id, state = %update.state), err)]
    async fn record_applied(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<bool, ResultError> {
        let p = patch(update)?;
        if let Some(applied) = self.set(msg.id, &p, None).await? {
            return Ok(applied);
        }
        let created = self.set(msg.id, &p, Some(&TaskRecord::pending(msg, Utc::now()))).await?;
        created.ok_or_else(|| ResultError::Internal("the record was not stored".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %id, state = %update.state), err)]
    async fn update(&self, id: TaskId, update: &StateUpdate) -> Result<Option<TaskRecord>, ResultError> {
        Ok(self.apply(id, &patch(update)?, None).await?)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, ResultError> {
        Ok(self.read(id).await?)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn delete(&self, id: TaskId) -> Result<(), ResultError> {
        let k = self.keys(id);
        let _: i64 = self.inner.redis.query(redis::cmd("UNLINK").arg(&k.rec).arg(&k.done)).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn add_child(&self, parent: TaskId, child: TaskId) -> Result<(), ResultError> {
        let k = self.keys(parent);
        let mut cmd = self.inner.scripts.add_child.call(&[&k.rec, &k.done]);
        cmd.arg(self.ttl_ms()).arg(child.to_string());
        let _: i64 = self.inner.redis.query(&cmd).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskRecord>, ResultError> {
        let deadline =
            Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let done = self.keys(id).done;
        loop {
            // Looked at before blocking; a record finishing after the look leaves the token
            // in `done`, so the block below returns at once (no lost wake-up).
            let rec = self.read(id).await?;
            match rec {
                Some(r) if !r.state.is_terminal() && Instant::now() < deadline => {}
                other => return Ok(other),
            }
            let done = done.clone();
            self.inner
                .redis
                .block(
                    done.clone(),
                    move |t| {
                        let mut cmd = redis::cmd("BLMOVE");
                        cmd.arg(&done).arg(&done).arg("RIGHT").arg("LEFT").arg(format!("{t:.3}"));
                        cmd
                    },
                    // BLMOVE of a list onto itself leaves the token where it was.
                    |_| None,
                    deadline,
                )
                .await?;
        }
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn ping(&self) -> Result<(), ResultError> {
        let _: String = self.inner.redis.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}
