//! What the integration tests share: the broker and result backend on the real Redis under
//! a random key prefix whose keys are deleted when the test ends (even when it panics).
#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, StateUpdate, TaskFailure, TaskId, TaskMessage, TaskRecord};
use goodrobot_ports::{
    Broker, BrokerError, Delivery, EnqueueOutcome, FetchRequest, LeaseToken, QueueStats, ResultBackend, ResultError,
};
use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig};
use std::{sync::Arc, time::Duration};

/// `TEST_REDIS_URL`, or the Redis on this machine.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// Deletes every key under its prefix when dropped (SCAN MATCH + UNLINK, on a blocking
/// connection so that it also runs while a panic unwinds).
#[derive(Debug)]
pub struct Cleanup {
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let result = (|| -> redis::RedisResult<()> {
            let mut conn = redis::Client::open(redis_url().as_str())?.get_connection()?;
            let mut cursor = 0_u64;
            loop {
                let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(format!("{}:*", self.prefix))
                    .arg("COUNT")
                    .arg(1000)
                    .query(&mut conn)?;
                if !keys.is_empty() {
                    redis::cmd("UNLINK").arg(keys).query::<()>(&mut conn)?;
                }
                if next == 0 {
                    return Ok(());
                }
                cursor = next;
            }
        })();
        if let Err(e) = result {
            eprintln!("could not delete the keys under {}: {e}", self.prefix);
        }
    }
}

/// A pool on the real Redis with a fresh random prefix; its keys go when the last clone of
/// `cleanup` is dropped.
#[derive(Debug, Clone)]
pub struct TestRedis {
    pub pool: RedisPool,
    pub cleanup: Arc<Cleanup>,
}

impl TestRedis {
    pub async fn new() -> Self {
        let prefix = format!("test:{:016x}", rand::random::<u64>());
        let pool =
            RedisPool::connect(&RedisConfig::new(redis_url(), prefix.clone())).await.expect("the test Redis answers");
        Self { pool, cleanup: Arc::new(Cleanup { prefix }) }
    }

    pub fn broker(&self) -> RedisBroker {
        self.broker_with(RedisBrokerConfig::default())
    }

    pub fn broker_with(&self, cfg: RedisBrokerConfig) -> RedisBroker {
        RedisBroker::new(self.pool.clone(), cfg)
    }

    pub fn results(&self) -> RedisResults {
        self.results_with_ttl(Duration::from_secs(24 * 3600))
    }

    pub fn results_with_ttl(&self, ttl: Duration) -> RedisResults {
        RedisResults::new(self.pool.clone(), RedisResultsConfig { ttl })
    }

    /// Runs one raw command (to look at keys the way Redis sees them).
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut conn = self.pool.get().await.expect("a connection");
        cmd.query_async(&mut conn).await.expect("the raw command")
    }

    /// `<prefix>:<part>:…`, as the adapters name keys.
    pub fn key(&self, parts: &[&str]) -> String {
        self.pool.key(parts)
    }

    /// The remaining TTL of a full key name in ms (-2: no key, -1: no TTL).
    pub async fn pttl(&self, key: &str) -> i64 {
        self.raw(redis::cmd("PTTL").arg(key)).await
    }

    /// Every key under the prefix, sorted.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.raw(redis::cmd("KEYS").arg(format!("{}:*", self.pool.prefix()))).await;
        keys.sort();
        keys
    }
}

pub fn request(queues: &[&QueueName], max: usize, lease: Duration, wait: Duration) -> FetchRequest {
    FetchRequest {
        worker_id: format!("test-worker-{}", std::process::id()),
        queues: queues.iter().map(|q| (*q).clone()).collect(),
        max,
        lease,
        wait,
    }
}

/// An adapter together with the cleanup of its keys (what a contract fixture hands over).
#[derive(Debug)]
pub struct Scoped<T> {
    pub inner: T,
    pub cleanup: Arc<Cleanup>,
}

#[async_trait]
impl<T: Broker> Broker for Scoped<T> {
    async fn enqueue(&self, msgs: &[TaskMessage]) -> Result<Vec<EnqueueOutcome>, BrokerError> {
        self.inner.enqueue(msgs).await
    }
    async fn fetch(&self, req: &FetchRequest) -> Result<Vec<Delivery>, BrokerError> {
        self.inner.fetch(req).await
    }
    async fn renew(&self, tokens: &[LeaseToken], lease: Duration) -> Result<Vec<bool>, BrokerError> {
        self.inner.renew(tokens, lease).await
    }
    async fn ack(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        self.inner.ack(token).await
    }
    async fn retry(&self, token: &LeaseToken, msg: &TaskMessage, at: DateTime<Utc>) -> Result<(), BrokerError> {
        self.inner.retry(token, msg, at).await
    }
    async fn release(&self, token: &LeaseToken) -> Result<(), BrokerError> {
        self.inner.release(token).await
    }
    async fn dead_letter(&self, token: &LeaseToken, failure: &TaskFailure) -> Result<(), BrokerError> {
        self.inner.dead_letter(token, failure).await
    }
    async fn replay(&self, id: TaskId) -> Result<TaskMessage, BrokerError> {
        self.inner.replay(id).await
    }
    async fn revoke(&self, id: TaskId, reason: &str, ttl: Duration) -> Result<(), BrokerError> {
        self.inner.revoke(id, reason, ttl).await
    }
    async fn revoked(&self, id: TaskId) -> Result<Option<String>, BrokerError> {
        self.inner.revoked(id).await
    }
    async fn stats(&self, queue: &QueueName) -> Result<QueueStats, BrokerError> {
        self.inner.stats(queue).await
    }
    async fn ping(&self) -> Result<(), BrokerError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl<T: ResultBackend> ResultBackend for Scoped<T> {
    async fn create(&self, record: &TaskRecord) -> Result<bool, ResultError> {
        self.inner.create(record).await
    }
    async fn record(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<TaskRecord, ResultError> {
        self.inner.record(msg, update).await
    }
    async fn create_fresh(&self, records: &[TaskRecord]) -> Result<(), ResultError> {
        self.inner.create_fresh(records).await
    }
    async fn record_applied(&self, msg: &TaskMessage, update: &StateUpdate) -> Result<bool, ResultError> {
        self.inner.record_applied(msg, update).await
    }
    async fn update(&self, id: TaskId, update: &StateUpdate) -> Result<Option<TaskRecord>, ResultError> {
        self.inner.update(id, update).await
    }
    async fn get(&self, id: TaskId) -> Result<Option<TaskRecord>, ResultError> {
        self.inner.get(id).await
    }
    async fn delete(&self, id: TaskId) -> Result<(), ResultError> {
        self.inner.delete(id).await
    }
    async fn add_child(&self, parent: TaskId, child: TaskId) -> Result<(), ResultError> {
        self.inner.add_child(parent, child).await
    }
    async fn wait(&self, id: TaskId, timeout: Duration) -> Result<Option<TaskRecord>, ResultError> {
        self.inner.wait(id, timeout).await
    }
    async fn ping(&self) -> Result<(), ResultError> {
        self.inner.ping().await
    }
}

/// A `redis-server` of the test's own on a free port, killed when stopped or dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Option<std::process::Child>,
    pub port: u16,
}

impl PrivateRedis {
    /// Starts it on `port` (a free one if `None`) and returns a pool on it once it answers
    /// (retrying the connect for at most 10 s).
    pub async fn start(port: Option<u16>) -> (Self, RedisPool) {
        let port = port.unwrap_or_else(|| {
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
        });
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let this = Self { child: Some(child), port };
        let mut cfg = RedisConfig::new(format!("redis://127.0.0.1:{port}"), "test");
        cfg.pool_size = 4;
        cfg.connect_timeout = Duration::from_millis(300);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match RedisPool::connect(&cfg).await {
                Ok(pool) => return (this, pool),
                Err(e) => assert!(tokio::time::Instant::now() < deadline, "private redis-server never answered: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Kills it and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
