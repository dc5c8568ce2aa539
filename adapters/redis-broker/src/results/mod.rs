//! The result backend on Redis: per task a hash of the record's fields and a `done` latch
//! list holding one token while the record is terminal, both in the slot of the task's queue
//! (`{q:<queue>}:t:<id>`, `{q:<queue>}:d:<id>`), so that the broker's scripts can write a
//! task's state in the same step as its claim or acknowledgement. Writes are scripts that run
//! `TaskRecord::apply`'s guard and set the TTL anew; `wait` blocks on the latch (`BLMOVE done
//! done`, which leaves the token in place for other waiters). A call that names a task by id
//! alone finds its queue among the known queues (`<p>:queues`, kept in memory and read again
//! when a task is not found): one pipelined probe, queues are few.

pub(crate) mod patch;

use async_trait::async_trait;
use chrono::Utc;
use goodrobot_domain::task::{QueueName, StateUpdate, TaskId, TaskMessage, TaskRecord};
use goodrobot_ports::{ResultBackend, ResultError};
use goodrobot_redis::RedisPool;
use redis::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};
use tokio::time::Instant;

use crate::{
    codec::{array, int, ms},
    config::RedisResultsConfig,
    conn::{Failure, Redis},
    keys::{QueueKeys, TaskKeys, queues_key},
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
    /// SET of every queue name (shared with the broker).
    queues: String,
    /// The known queues' keys, as last read from `queues`.
    known: Mutex<Vec<Arc<QueueKeys>>>,
    keys: Mutex<HashMap<QueueName, Arc<QueueKeys>>>,
}

impl RedisResults {
    pub fn new(pool: RedisPool, cfg: RedisResultsConfig) -> Self {
        let scripts = ResultScripts::new();
        let queues = queues_key(&pool);
        let redis = Arc::new(Redis::new(pool, scripts.all(), RESPONSE_TIMEOUT));
        let (known, keys) = (Mutex::default(), Mutex::default());
        Self { inner: Arc::new(Inner { redis, scripts, cfg, queues, known, keys }) }
    }

    fn queue_keys(&self, queue: &QueueName) -> Arc<QueueKeys> {
        let mut cache = self.inner.keys.lock().unwrap_or_else(PoisonError::into_inner);
        cache.entry(queue.clone()).or_insert_with(|| Arc::new(QueueKeys::new(self.inner.redis.pool(), queue))).clone()
    }

    fn keys(&self, queue: &QueueName, id: TaskId) -> TaskKeys {
        self.queue_keys(queue).record(id)
    }

    /// The known queues, read again from Redis if `refresh` or never read.
    async fn known_queues(&self, refresh: bool) -> Result<Vec<Arc<QueueKeys>>, Failure> {
        if !refresh {
            let known = self.inner.known.lock().unwrap_or_else(PoisonError::into_inner).clone();
            if !known.is_empty() {
                return Ok(known);
            }
        }
        let names: Vec<String> = self.inner.redis.query(redis::cmd("SMEMBERS").arg(&self.inner.queues)).await?;
        let mut keys: Vec<Arc<QueueKeys>> =
            names.iter().filter_map(|n| QueueName::new(n).ok()).map(|q| self.queue_keys(&q)).collect();
        keys.sort_by(|a, b| a.task.cmp(&b.task));
        self.inner.known.lock().unwrap_or_else(PoisonError::into_inner).clone_from(&keys);
        Ok(keys)
    }

    /// The keys of task `id`'s record, found among the known queues (`None`: no record).
    async fn locate(&self, id: TaskId) -> Result<Option<TaskKeys>, Failure> {
        Ok(self.probe(id, false).await?.map(|(k, _)| k))
    }

    /// Looks for `id`'s record in every known queue in one round trip (reading it whole if
    /// `read`), and once more after reading the queue set again if it was not found.
    async fn probe(&self, id: TaskId, read: bool) -> Result<Option<(TaskKeys, Value)>, Failure> {
        for refresh in [false, true] {
            let known = self.known_queues(refresh).await?;
            if known.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for q in &known {
                let rec = q.record(id).rec;
                if read {
                    pipe.cmd("HGETALL").arg(rec)
                } else {
                    pipe.cmd("EXISTS").arg(rec)
                };
            }
            let replies: Vec<Value> = self.inner.redis.pipeline(&pipe).await?;
            for (q, reply) in known.iter().zip(replies) {
                let found = match &reply {
                    Value::Int(n) => *n == 1,
                    Value::Map(m) => !m.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => false,
                };
                if found {
                    return Ok(Some((q.record(id), reply)));
                }
            }
        }
        Ok(None)
    }

    pub(crate) fn ttl_ms(&self) -> u64 {
        ms(self.inner.cfg.ttl)
    }

    /// A `result_apply` call: whether to read the record back, `p`, and the record to
    /// create first if there is none.
    fn apply_call(
        &self,
        k: &TaskKeys,
        read_back: bool,
        p: &Patch,
        create: Option<&TaskRecord>,
    ) -> Result<redis::Cmd, Failure> {
        let mut cmd = self.inner.scripts.apply.call(&[&k.rec, &k.done]);
        cmd.arg(if read_back { "1" } else { "0" });
        push_patch(&mut cmd, self.ttl_ms(), p, create)?;
        Ok(cmd)
    }

    /// Applies `p` to the record of `id`, creating it from `create` first if it is missing;
    /// the record afterwards, `None` if there is none (and nothing to create it from).
    async fn apply(&self, k: &TaskKeys, p: &Patch, create: Option<&TaskRecord>) -> Result<Option<TaskRecord>, Failure> {
        let cmd = self.apply_call(k, true, p, create)?;
        let reply: Value = self.inner.redis.query(&cmd).await?;
        match array(&reply, "result apply")? {
            [found] if int(found, "result apply")? == 0 => Ok(None),
            [_, _applied, fields] => record(array(fields, "record")?),
            _ => Err(Failure::Internal(format!("unexpected result apply reply: {reply:?}"))),
        }
    }

    /// [`Self::apply`] without reading the record back: `None` if there is no record (and
    /// nothing to create it from), else whether the guard let the change apply.
    async fn set(&self, k: &TaskKeys, p: &Patch, create: Option<&TaskRecord>) -> Result<Option<bool>, Failure> {
        let cmd = self.apply_call(k, false, p, create)?;
        match self.inner.redis.query::<i64>(&cmd).await? {
            -1 => Ok(None),
            n => Ok(Some(n == 1)),
        }
    }

    async fn read(&self, id: TaskId) -> Result<Option<TaskRecord>, Failure> {
        let Some((_, reply)) = self.probe(id, true).await? else { return Ok(None) };
        parse_record(&reply)
    }

    /// The record at `k` (`None`: none).
    async fn read_at(&self, k: &TaskKeys) -> Result<Option<TaskRecord>, Failure> {
        let reply: Value = self.inner.redis.query(redis::cmd("HGETALL").arg(&k.rec)).await?;
        parse_record(&reply)
    }

    /// Adds `queue` to the known queues (where calls by id look) before a record of it is
    /// created on the rare path of a missing record; best effort, as in [`Self::run_known`].
    async fn known_queue(&self, queue: &QueueName) {
        if let Err(e) =
            self.inner.redis.query::<i64>(redis::cmd("SADD").arg(&self.inner.queues).arg(queue.as_str())).await
        {
            tracing::warn!(error = ?e, "queue name not registered");
        }
    }

    /// Runs `pipe` and adds `queues` to the known queues (where calls by id look): in the same round trip on one node;
    /// on a cluster at the same time but on its own and best effort (the set may live on a
    /// node that is down, which must not fail the write).
    async fn run_known<T: redis::FromRedisValue>(
        &self,
        mut pipe: redis::Pipeline,
        queues: &[&QueueName],
    ) -> Result<T, Failure> {
        let mut names: Vec<&str> = queues.iter().map(|q| q.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if !self.inner.redis.pool().is_cluster() {
            pipe.cmd("SADD").arg(&self.inner.queues).arg(names).ignore();
            return self.inner.redis.pipeline(&pipe).await;
        }
        let register = async {
            if let Err(e) = self.inner.redis.query::<i64>(redis::cmd("SADD").arg(&self.inner.queues).arg(&names)).await
            {
                tracing::warn!(error = ?e, "queue names not registered");
            }
        };
        let (out, ()) = tokio::join!(self.inner.redis.pipeline(&pipe), register);
        out
    }
}

/// The arguments of a patch as `record_patch.lua`'s `read_patch` takes them: the TTL, the
/// guard's inputs, the field changes, and the record to create first if there is none.
pub(crate) fn push_patch(
    cmd: &mut redis::Cmd,
    ttl_ms: u64,
    p: &Patch,
    create: Option<&TaskRecord>,
) -> Result<(), Failure> {
    cmd.arg(ttl_ms)
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
    Ok(())
}

/// An `HGETALL` reply as a record (`None`: empty, no record).
fn parse_record(reply: &Value) -> Result<Option<TaskRecord>, Failure> {
    {
        match reply {
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
        let k = self.keys(&rec.queue, rec.id);
        let fields = fields(rec)?;
        let mut cmd = self.inner.scripts.create.call(&[&k.rec, &k.done]);
        cmd.arg(self.ttl_ms()).arg(if rec.state.is_terminal() { "1" } else { "0" });
        for (f, v) in &fields {
            cmd.arg(f).arg(v);
        }
        let mut pipe = redis::pipe();
        pipe.add_command(cmd);
        let (created,): (i64,) = self.run_known(pipe, &[&rec.queue]).await?;
        Ok(created == 1)
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
            let k = self.keys(&rec.queue, rec.id);
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
        let queues: Vec<&QueueName> = records.iter().map(|r| &r.queue).collect();
        Ok(self.run_known::<()>(pipe, &queues).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %msg.id, state = %update.state), err)]
    async fn record(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<TaskRecord, ResultError> {
        let p = patch(update)?;
        let k = self.keys(&msg.queue, msg.id);
        if let Some(rec) = self.apply(&k, &p, None).await? {
            return Ok(rec);
        }
        // Missing (expired, or never written): made from the message, then changed.
        self.known_queue(&msg.queue).await;
        let created = self.apply(&k, &p, Some(&TaskRecord::pending(msg, Utc::now()))).await?;
        created.ok_or_else(|| ResultError::Internal("the record was not stored".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %msg.id, state = %update.state), err)]
    async fn record_applied(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<bool, ResultError> {
        let p = patch(update)?;
        let k = self.keys(&msg.queue, msg.id);
        if let Some(applied) = self.set(&k, &p, None).await? {
            return Ok(applied);
        }
        self.known_queue(&msg.queue).await;
        let created = self.set(&k, &p, Some(&TaskRecord::pending(msg, Utc::now()))).await?;
        created.ok_or_else(|| ResultError::Internal("the record was not stored".into()))
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %id, state = %update.state), err)]
    async fn update(&self, id: TaskId, update: &StateUpdate) -> Result<Option<TaskRecord>, ResultError> {
        let p = patch(update)?;
        let Some(k) = self.locate(id).await? else { return Ok(None) };
        Ok(self.apply(&k, &p, None).await?)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, ResultError> {
        Ok(self.read(id).await?)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn delete(&self, id: TaskId) -> Result<(), ResultError> {
        let Some(k) = self.locate(id).await? else { return Ok(()) };
        let _: i64 = self.inner.redis.query(redis::cmd("UNLINK").arg(&k.rec).arg(&k.done)).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn add_child(&self, parent: TaskId, child: TaskId) -> Result<(), ResultError> {
        let Some(k) = self.locate(parent).await? else { return Ok(()) };
        let mut cmd = self.inner.scripts.add_child.call(&[&k.rec, &k.done]);
        cmd.arg(self.ttl_ms()).arg(child.to_string());
        let _: i64 = self.inner.redis.query(&cmd).await?;
        Ok(())
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskRecord>, ResultError> {
        let deadline =
            Instant::now().checked_add(timeout).unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let Some(k) = self.locate(id).await? else { return Ok(None) };
        let done = k.done.clone();
        loop {
            // Looked at before blocking; a record finishing after the look leaves the token
            // in `done`, so the block below returns at once (no lost wake-up).
            let rec = self.read_at(&k).await?;
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
