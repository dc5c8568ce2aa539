//! What the integration tests share: the broker and result backend on the real Redis — the
//! machine's single node or the test process's local Redis Cluster (3 masters + 3 replicas,
//! `goodrobot_testkit`'s harness) — under a random key prefix whose keys are deleted when the
//! test ends (even when it panics), and a private Redis that can be stopped mid-test.
//!
//! `on_single_and_cluster!` runs a list of `async fn(TestRedis)` tests on both.
#![allow(dead_code)]

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use goodrobot_domain::task::{QueueName, StateUpdate, TaskFailure, TaskId, TaskMessage, TaskRecord};
use goodrobot_ports::{
    Broker, BrokerError, Delivery, EnqueueOutcome, FetchRequest, LeaseToken, QueueStats, ResultBackend, ResultError,
};
use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_redis_broker::{RedisBroker, RedisBrokerConfig, RedisResults, RedisResultsConfig};
use goodrobot_testkit::redis_cluster::RedisCluster;
use std::{sync::Arc, time::Duration};

/// How soon after an enqueue an idle fetch must have its task (one node and cluster alike).
pub const WAKE_BOUND: Duration = Duration::from_millis(50);

/// `TEST_REDIS_URL`, or the Redis on this machine.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The seed list of this test process's shared cluster (started on first use) and how many
/// masters it has.
pub async fn shared_cluster() -> (String, usize) {
    tokio::task::spawn_blocking(|| {
        let cluster = RedisCluster::shared();
        (cluster.url(), cluster.masters().len())
    })
    .await
    .expect("the cluster harness")
}

/// Expands to `mod single` and `mod cluster`, each with one `#[tokio::test]` per listed
/// `async fn name(TestRedis)` of the calling module, given a `TestRedis` on the machine's
/// Redis or on the shared cluster. `multi_thread` ones run on four worker threads.
#[allow(unused_macros)]
macro_rules! on_single_and_cluster {
    (current_thread: [$($name:ident),* $(,)?] $(, multi_thread: [$($multi:ident),* $(,)?])? $(,)?) => {
        mod single {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestRedis::new().await).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $multi() {
                    super::$multi($crate::common::TestRedis::new().await).await;
                }
            )*)?
        }
        mod cluster {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::TestRedis::cluster().await).await;
                }
            )*
            $($(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $multi() {
                    super::$multi($crate::common::TestRedis::cluster().await).await;
                }
            )*)?
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_single_and_cluster;

/// Where a test's keys live.
#[derive(Debug, Clone)]
enum Target {
    /// One node at this URL.
    Single(String),
    /// A cluster reached through these comma-separated seed URLs.
    Cluster(String),
}

/// Deletes every key under its prefix when dropped, on a blocking connection so that it also
/// runs while a panic unwinds: SCAN MATCH + UNLINK on the node, or on every master of the
/// cluster (found with `CLUSTER NODES`), each scanned and unlinked there.
#[derive(Debug)]
pub struct Cleanup {
    target: Target,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let result = match &self.target {
            Target::Single(url) => unlink_under(url, &self.prefix),
            Target::Cluster(seeds) => cluster_masters(seeds).and_then(|masters| {
                masters
                    .iter()
                    .try_for_each(|(host, port)| unlink_under(&format!("redis://{host}:{port}"), &self.prefix))
            }),
        };
        if let Err(e) = result {
            eprintln!("could not delete the keys under {}: {e}", self.prefix);
        }
    }
}

/// SCAN MATCH `<prefix>:*` + UNLINK on the node at `url` (one UNLINK per key: on a cluster
/// node the keys of one call must share a slot).
fn unlink_under(url: &str, prefix: &str) -> redis::RedisResult<()> {
    let mut conn = redis::Client::open(url)?.get_connection()?;
    let mut cursor = 0_u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)?;
        if !keys.is_empty() {
            let mut pipe = redis::pipe();
            for key in keys {
                pipe.cmd("UNLINK").arg(key).ignore();
            }
            pipe.query::<()>(&mut conn)?;
        }
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// `(host, port)` of every master that is not failing, from `CLUSTER NODES` on the first
/// seed that answers.
fn cluster_masters(seeds: &str) -> redis::RedisResult<Vec<(String, u16)>> {
    let mut last = None;
    for seed in seeds.split(',').map(str::trim) {
        let nodes = redis::Client::open(seed)
            .and_then(|c| c.get_connection())
            .and_then(|mut c| redis::cmd("CLUSTER").arg("NODES").query::<String>(&mut c));
        match nodes {
            Ok(text) => return Ok(parse_masters(&text)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| (redis::ErrorKind::Io, "no seed URL").into()))
}

/// The masters of a `CLUSTER NODES` reply (`<id> <host:port@bus> <flags> …`), failing ones left out.
fn parse_masters(text: &str) -> Vec<(String, u16)> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags: Vec<&str> = fields.get(2)?.split(',').collect();
            let failing = ["fail", "fail?", "handshake", "noaddr"].iter().any(|f| flags.contains(f));
            if !flags.contains(&"master") || failing {
                return None;
            }
            let (host, port) = fields.get(1)?.split('@').next()?.rsplit_once(':')?;
            let host = if host.is_empty() { "127.0.0.1" } else { host };
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect()
}

/// A pool on the real Redis (one node or the shared cluster) with a fresh random prefix; its
/// keys go when the last clone of `cleanup` is dropped.
#[derive(Debug, Clone)]
pub struct TestRedis {
    pub pool: RedisPool,
    pub cleanup: Arc<Cleanup>,
    /// On the cluster: how many masters it has (what every "all keys" read must visit).
    masters: Option<usize>,
}

impl TestRedis {
    /// On the machine's single Redis.
    pub async fn new() -> Self {
        let prefix = random_prefix();
        let pool =
            RedisPool::connect(&RedisConfig::new(redis_url(), prefix.clone())).await.expect("the test Redis answers");
        assert!(!pool.is_cluster(), "TEST_REDIS_URL is a single node");
        Self { pool, cleanup: Arc::new(Cleanup { target: Target::Single(redis_url()), prefix }), masters: None }
    }

    /// On this test process's shared cluster (cluster mode detected, not forced).
    pub async fn cluster() -> Self {
        let (url, masters) = shared_cluster().await;
        let prefix = random_prefix();
        let pool =
            RedisPool::connect(&RedisConfig::new(url.clone(), prefix.clone())).await.expect("the cluster answers");
        assert!(pool.is_cluster(), "the shared cluster was not detected as one");
        assert!(masters >= 3, "the shared cluster has {masters} masters");
        Self { pool, cleanup: Arc::new(Cleanup { target: Target::Cluster(url), prefix }), masters: Some(masters) }
    }

    pub fn is_cluster(&self) -> bool {
        self.masters.is_some()
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

    /// `<prefix>:<part>:…`, as the adapters name keys.
    pub fn key(&self, parts: &[&str]) -> String {
        self.pool.key(parts)
    }

    /// Runs one raw command (to look at keys the way Redis sees them; on the cluster it goes
    /// to the node serving its key).
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut conn = self.pool.get().await.expect("a connection");
        cmd.query_async(&mut conn).await.expect("the raw command")
    }

    /// The remaining TTL of a full key name in ms (-2: no key, -1: no TTL).
    pub async fn pttl(&self, key: &str) -> i64 {
        self.raw(redis::cmd("PTTL").arg(key)).await
    }

    /// Runs `cmd` on every node that holds keys: the single node, or each master of the
    /// cluster (all of them: a read that saw fewer would prove nothing about the others).
    pub async fn on_every_master<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Vec<T> {
        let Some(expected) = self.masters else {
            return vec![self.pool.on_node(None, cmd).await.expect("the command on the node")];
        };
        let masters = self.pool.masters().await.expect("the cluster's masters");
        assert_eq!(masters.len(), expected, "masters seen by the pool: {masters:?}");
        let mut out = Vec::with_capacity(masters.len());
        for master in &masters {
            out.push(self.pool.on_node(Some(master), cmd).await.unwrap_or_else(|e| panic!("on {master:?}: {e}")));
        }
        out
    }

    /// Every key under the prefix, sorted (on the cluster: from every master).
    pub async fn keys(&self) -> Vec<String> {
        let pattern = format!("{}:*", self.pool.prefix());
        let mut keys: Vec<String> =
            self.on_every_master::<Vec<String>>(redis::cmd("KEYS").arg(pattern)).await.into_iter().flatten().collect();
        keys.sort();
        keys
    }
}

fn random_prefix() -> String {
    format!("test:{:016x}", rand::random::<u64>())
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

/// `n` fresh queues (names from `unique_queue(label)`) whose keys (hash tag `{q:<name>}`) are
/// served by `n` different masters of the shared cluster, each with that master's port.
pub async fn queues_on_distinct_masters(label: &str, n: usize) -> Vec<(QueueName, u16)> {
    let label = label.to_owned();
    tokio::task::spawn_blocking(move || {
        let cluster = RedisCluster::shared();
        assert!(cluster.masters().len() >= n, "the cluster has fewer than {n} masters");
        let mut picked: Vec<(QueueName, u16)> = Vec::new();
        for _ in 0..1000 {
            let q = goodrobot_testkit::unique_queue(&label);
            let master = cluster.master_of_slot(goodrobot_redis::key_slot(format!("{{q:{q}}}"))).port;
            if picked.iter().all(|(_, m)| *m != master) {
                picked.push((q, master));
                if picked.len() == n {
                    return picked;
                }
            }
        }
        panic!("no {n} queues on distinct masters among 1000 names: {picked:?}");
    })
    .await
    .expect("the cluster harness")
}

/// The hash tag of a queue's keys (`{q:<name>}`): the slot of the queue, and what a MONITOR
/// line names when it touches the queue.
pub fn tag(q: &QueueName) -> String {
    format!("{{q:{q}}}")
}

/// Whether a MONITOR line (`<time> [<db> <client>] "<COMMAND>" "<arg>"…`) runs `command`.
pub fn runs(line: &str, command: &str) -> bool {
    line.split_once("] \"")
        .and_then(|(_, rest)| rest.split('"').next())
        .is_some_and(|c| c.eq_ignore_ascii_case(command))
}

/// The client address (`host:port`) of a MONITOR line, as `CLIENT LIST` shows it in `addr=`.
pub fn client_of(line: &str) -> &str {
    let inside = line.split_once('[').and_then(|(_, rest)| rest.split_once(']')).map_or("", |(inside, _)| inside);
    inside.split_whitespace().nth(1).unwrap_or("")
}

/// `MONITOR` on some nodes of the cluster: every command they run (scripts' inner calls
/// included), as `(node port, line)` in the order each node saw them. Stops when dropped.
pub struct Monitors {
    lines: tokio::sync::mpsc::UnboundedReceiver<(u16, String)>,
    readers: Vec<tokio::task::JoinHandle<()>>,
}

impl Monitors {
    /// Watching from the moment this returns (each node has answered `MONITOR`).
    pub async fn start(ports: &[u16]) -> Self {
        use futures::StreamExt;
        let (tx, lines) = tokio::sync::mpsc::unbounded_channel();
        let mut readers = Vec::new();
        for &port in ports {
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).expect("a node URL");
            let monitor = client.get_async_monitor().await.unwrap_or_else(|e| panic!("MONITOR on {port}: {e}"));
            let tx = tx.clone();
            readers.push(tokio::spawn(async move {
                let mut stream = monitor.into_on_message::<String>();
                while let Some(line) = stream.next().await {
                    if tx.send((port, line)).is_err() {
                        return;
                    }
                }
            }));
        }
        Self { lines, readers }
    }

    /// The next line for which `wanted` holds (others are skipped); panics after `patience`.
    pub async fn next_where(&mut self, patience: Duration, wanted: impl Fn(u16, &str) -> bool) -> (u16, String) {
        let deadline = tokio::time::Instant::now() + patience;
        loop {
            match tokio::time::timeout_at(deadline, self.lines.recv()).await {
                Ok(Some((port, line))) if wanted(port, &line) => return (port, line),
                Ok(Some(_)) => {}
                Ok(None) => panic!("a MONITOR connection ended"),
                Err(_) => panic!("no such command seen within {patience:?}"),
            }
        }
    }

    /// Every line for which `wanted` holds during the next `window`.
    pub async fn during(&mut self, window: Duration, wanted: impl Fn(u16, &str) -> bool) -> Vec<(u16, String)> {
        let deadline = tokio::time::Instant::now() + window;
        let mut seen = Vec::new();
        while let Ok(Some((port, line))) = tokio::time::timeout_at(deadline, self.lines.recv()).await {
            if wanted(port, &line) {
                seen.push((port, line));
            }
        }
        seen
    }
}

impl Drop for Monitors {
    fn drop(&mut self) {
        for reader in &self.readers {
            reader.abort();
        }
    }
}
