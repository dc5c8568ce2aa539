//! What the integration tests share: pools on the real Redis — the machine's single node or
//! the test process's local Redis Cluster (3 masters + 3 replicas, `goodrobot_testkit`'s
//! harness) — under a random key prefix whose keys are deleted when the test ends (even when
//! it panics), and a private Redis that can be stopped mid-test.
//!
//! `on_single_and_cluster!` runs a list of `async fn(TestRedis)` tests on both.
#![allow(dead_code)]

use goodrobot_redis::{RedisConfig, RedisPool};
use goodrobot_testkit::redis_cluster::RedisCluster;
use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    sync::Arc,
    time::Duration,
};

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

/// The port of the shared cluster's master serving `key` now.
pub async fn master_of_key(key: &str) -> u16 {
    let slot = goodrobot_redis::key_slot(key);
    tokio::task::spawn_blocking(move || RedisCluster::shared().master_of_slot(slot).port)
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

/// An adapter together with the cleanup of its keys (what a contract fixture hands over).
#[derive(Debug)]
pub struct Scoped<T> {
    pub inner: T,
    pub cleanup: Arc<Cleanup>,
}

/// A `redis-server` of the test's own on a free port, killed when stopped or dropped.
#[derive(Debug)]
pub struct PrivateRedis {
    child: Option<Child>,
    pub port: u16,
}

impl PrivateRedis {
    /// Starts it and waits (polling, at most 10 s) until it answers.
    pub async fn start() -> (Self, RedisPool) {
        Self::start_on(None).await
    }

    /// Starts it on `port` (a free one if `None`) and waits until it answers.
    pub async fn start_on(port: Option<u16>) -> (Self, RedisPool) {
        let port = port.unwrap_or_else(|| {
            TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
        });
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        let this = Self { child: Some(child), port };
        let mut cfg = RedisConfig::new(format!("redis://127.0.0.1:{port}"), "test");
        cfg.pool_size = 2;
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

/// A pool whose Redis was stopped after the pool connected.
pub async fn pool_of_a_stopped_redis() -> RedisPool {
    let (mut redis, pool) = PrivateRedis::start().await;
    redis.stop();
    pool
}

mod scoped {
    //! `Scoped<T>` is the port it wraps: every call goes to `inner`.

    use super::Scoped;
    use async_trait::async_trait;
    use goodrobot_domain::UserId;
    use goodrobot_ports::{
        Cache, CacheError, RateDecision, RateLimitError, RateLimiter, Session, SessionError, SessionStore,
        SessionToken, StateError, StateStore, UserState,
    };
    use serde_json::{Map, Value};
    use std::time::Duration;

    #[async_trait]
    impl<T: Cache> Cache for Scoped<T> {
        async fn set_key(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), CacheError> {
            self.inner.set_key(key, value, ttl).await
        }
        async fn get_key(&self, key: &str) -> Result<Option<String>, CacheError> {
            self.inner.get_key(key).await
        }
        async fn delete_key(&self, key: &str) -> Result<bool, CacheError> {
            self.inner.delete_key(key).await
        }
        async fn ping(&self) -> Result<(), CacheError> {
            self.inner.ping().await
        }
    }

    #[async_trait]
    impl<T: RateLimiter> RateLimiter for Scoped<T> {
        async fn check(&self, key: &str, limit: u32, period: Duration) -> Result<RateDecision, RateLimitError> {
            self.inner.check(key, limit, period).await
        }
    }

    #[async_trait]
    impl<T: StateStore> StateStore for Scoped<T> {
        async fn get(&self, user_id: UserId) -> Result<Option<UserState>, StateError> {
            self.inner.get(user_id).await
        }
        async fn put(&self, user_id: UserId, state: &UserState, ttl: Duration) -> Result<(), StateError> {
            self.inner.put(user_id, state, ttl).await
        }
        async fn patch(
            &self,
            user_id: UserId,
            data: Map<String, Value>,
            ttl: Duration,
        ) -> Result<Option<UserState>, StateError> {
            self.inner.patch(user_id, data, ttl).await
        }
        async fn clear(&self, user_id: UserId) -> Result<bool, StateError> {
            self.inner.clear(user_id).await
        }
    }

    #[async_trait]
    impl<T: SessionStore> SessionStore for Scoped<T> {
        async fn create(&self, user_id: UserId, ttl: Duration) -> Result<(SessionToken, Session), SessionError> {
            self.inner.create(user_id, ttl).await
        }
        async fn get(&self, token: &SessionToken) -> Result<Option<Session>, SessionError> {
            self.inner.get(token).await
        }
        async fn touch(&self, token: &SessionToken, ttl: Duration) -> Result<Option<Session>, SessionError> {
            self.inner.touch(token, ttl).await
        }
        async fn revoke(&self, token: &SessionToken) -> Result<bool, SessionError> {
            self.inner.revoke(token).await
        }
        async fn revoke_all(&self, user_id: UserId) -> Result<u64, SessionError> {
            self.inner.revoke_all(user_id).await
        }
    }
}
