//! The broker on Redis: per-queue keys under one hash tag, one Lua script per step (see
//! `docs/broker.md`), leases with fencing tokens on Redis's clock, and fetches that block on
//! a wake list until work arrives or the next due time.

mod enqueue;
pub(crate) mod fetch;
mod revocation;
mod settle;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, TaskFailure, TaskId, TaskMessage};
use goodrobot_ports::{
    Broker, BrokerError, Delivery, EnqueueOutcome, FetchRequest, HealthCheck, LeaseToken, QueueStats,
};
use goodrobot_redis::RedisPool;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use crate::{
    config::RedisBrokerConfig,
    conn::{Failure, Redis},
    keys::{QueueKeys, RevocationKeys, queues_key},
    scripts::BrokerScripts,
};

impl From<Failure> for BrokerError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(m) => Self::Unavailable(m),
            Failure::Internal(m) => Self::Internal(m),
        }
    }
}

/// [`Broker`] on Redis; also the `redis` [`HealthCheck`]. Clones share one reserved
/// connection (plus one pooled connection per fetch that is waiting).
#[derive(Debug, Clone)]
pub struct RedisBroker {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    redis: Arc<Redis>,
    scripts: BrokerScripts,
    cfg: RedisBrokerConfig,
    revocations: RevocationKeys,
    /// SET of every queue name enqueued to.
    queues: String,
    keys: Mutex<HashMap<QueueName, Arc<QueueKeys>>>,
    /// On a cluster, when this process last added each queue name to `queues`.
    registered: Mutex<HashMap<String, std::time::Instant>>,
}

impl RedisBroker {
    pub fn new(pool: RedisPool, cfg: RedisBrokerConfig) -> Self {
        let scripts = BrokerScripts::new();
        let revocations = RevocationKeys::new(&pool);
        let queues = queues_key(&pool);
        let redis = Arc::new(Redis::new(pool, scripts.all(), cfg.response_timeout));
        Self {
            inner: Arc::new(Inner {
                redis,
                scripts,
                cfg,
                revocations,
                queues,
                keys: Mutex::new(HashMap::new()),
                registered: Mutex::default(),
            }),
        }
    }

    pub(crate) fn keys(&self, queue: &QueueName) -> Arc<QueueKeys> {
        let mut cache = self.inner.keys.lock().unwrap_or_else(PoisonError::into_inner);
        cache.entry(queue.clone()).or_insert_with(|| Arc::new(QueueKeys::new(self.inner.redis.pool(), queue))).clone()
    }

    pub(crate) fn redis(&self) -> &Arc<Redis> {
        &self.inner.redis
    }

    pub(crate) fn scripts(&self) -> &BrokerScripts {
        &self.inner.scripts
    }

    /// Every queue enqueued to so far (where `revoke` and `replay` look for a task).
    async fn known_queues(&self) -> Result<Vec<QueueName>, Failure> {
        let names: Vec<String> = self.redis().query(redis::cmd("SMEMBERS").arg(&self.inner.queues)).await?;
        Ok(names.iter().filter_map(|n| QueueName::new(n).ok()).collect())
    }
}

#[async_trait]
impl Broker for RedisBroker {
    #[tracing::instrument(level = "debug", skip_all, fields(count = msgs.len()), err)]
    async fn enqueue(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError> {
        Ok(self.enqueue_all(msgs).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(worker = %req.worker_id, max = req.max), err)]
    async fn fetch(&self, req: &FetchRequest) -> Result<Vec<Delivery>, BrokerError> {
        self.fetch_waiting(req).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(count = tokens.len()), err)]
    async fn renew(&self, tokens: &[LeaseToken], lease: Duration) -> Result<Vec<bool>, BrokerError> {
        Ok(self.renew_all(tokens, lease).await?)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %token.task_id), err)]
    async fn ack(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        self.settle_ack(token).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %token.task_id), err)]
    async fn retry(&self, token: &LeaseToken, msg: &TaskMessage, at: DateTime<Utc>) -> Result<(), BrokerError> {
        self.settle_retry(token, msg, at).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %token.task_id), err)]
    async fn release(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        self.settle_release(token).await
    }

    #[tracing::instrument(level = "debug", skip_all, fields(task_id = %token.task_id), err)]
    async fn dead_letter(&self, token: &LeaseToken, failure: &TaskFailure) -> Result<(), BrokerError> {
        self.settle_dead_letter(token, failure).await
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn replay(&self, id: TaskId) -> Result<TaskMessage, BrokerError> {
        self.replay_dead(id).await
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn revoke(&self, id: TaskId, reason: &str, ttl: Duration) -> Result<(), BrokerError> {
        Ok(self.revoke_task(id, reason, ttl).await?)
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn revoked(&self, id: TaskId) -> Result<Option<String>, BrokerError> {
        Ok(self.revoked_reasons(&[id], None).await?.remove(&id))
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn stats(&self, queue: &QueueName) -> Result<QueueStats, BrokerError> {
        let k = self.keys(queue);
        let mut pipe = redis::pipe();
        pipe.zcard(&k.ready).zcard(&k.delayed).zcard(&k.inflight).hlen(&k.dead);
        let (ready, delayed, in_flight, dead): (u64, u64, u64, u64) = self.redis().pipeline(&pipe).await?;
        Ok(QueueStats { queue: queue.to_string(), ready, delayed, in_flight, dead })
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn purge(&self, queue: &QueueName) -> Result<u64, BrokerError> {
        // In batches, so one script never blocks Redis for long on a huge queue.
        const BATCH: u64 = 1000;
        let k = self.keys(queue);
        let mut removed = 0;
        loop {
            let mut cmd = self.scripts().purge.call(&[&k.msg, &k.ready, &k.delayed, &k.claim, &k.dedup, &k.dedup_of]);
            cmd.arg(BATCH);
            let n: u64 = self.redis().query(&cmd).await?;
            removed += n;
            if n < BATCH {
                return Ok(removed);
            }
        }
    }

    #[tracing::instrument(level = "debug", skip(self), err)]
    async fn ping(&self) -> Result<(), BrokerError> {
        let _: String = self.redis().query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

#[async_trait]
impl HealthCheck for RedisBroker {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        Broker::ping(self).await.map_err(|e| e.to_string())
    }
}
