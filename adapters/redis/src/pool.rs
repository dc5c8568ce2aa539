//! The connections every Redis adapter shares, and key naming under one prefix.
//!
//! One Redis node or a Redis Cluster, found out at connect time. Non-blocking commands of
//! the key-value adapters go over one [`Reserved`] multiplexed connection on a node, or over
//! the cluster connection ([`RedisPool::get`]). Blocking commands get a connection of their
//! own, on the node that serves their key ([`RedisPool::checkout`]).

use bb8_redis::RedisConnectionManager;
use redis::{ConnectionInfo, RedisResult, Value, aio::MultiplexedConnection, cluster_async::ClusterConnection};
use std::{sync::Arc, time::Duration};

use crate::{
    cluster::{self, NodeConns, SlotOwners},
    reserved::{RedisConn, Reserved},
};

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisConfig {
    pub url: String,
    /// Every key starts with `<prefix>:` (tests use a random prefix each).
    pub prefix: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
    /// `Some(true)`/`Some(false)` forces cluster mode on or off (`REDIS_CLUSTER`); `None`
    /// asks the server (`INFO cluster`).
    pub cluster: Option<bool>,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: prefix.into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(3),
            cluster: None,
        }
    }
}

/// Redis could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RedisSetupError {
    #[error("invalid REDIS_URL: {0}")]
    BadUrl(String),
    #[error("redis unreachable: {0}")]
    Unreachable(String),
}

/// Connections to one Redis node or to a cluster, plus the key prefix.
#[derive(Clone)]
pub struct RedisPool {
    backend: Backend,
    prefix: Arc<str>,
}

#[derive(Clone)]
enum Backend {
    /// A bb8 pool of multiplexed connections to one node.
    Single {
        pool: bb8::Pool<RedisConnectionManager>,
        breaker: Arc<Breaker>,
        shared: Arc<Reserved>,
    },
    Cluster(Arc<Cluster>),
}

/// The cluster connection (it multiplexes per node, follows MOVED/ASK and refreshes its slot
/// map), and what blocking waits need: where slots live and idle connections per node.
struct Cluster {
    /// Replaced by [`supervise`] when it stops answering.
    conn: std::sync::RwLock<ClusterConnection>,
    seeds: Vec<ConnectionInfo>,
    seed: ConnectionInfo,
    owners: SlotOwners,
    idle: NodeConns,
    connect_timeout: Duration,
}

/// After a failed checkout, further checkouts fail at once for [`Breaker::OPEN_FOR`]: while
/// Redis is down, requests pay one connect timeout per interval, not one per call.
#[derive(Debug)]
struct Breaker {
    epoch: std::time::Instant,
    /// Milliseconds since `epoch` until which checkouts fail fast (0 = closed).
    open_until_ms: std::sync::atomic::AtomicU64,
}

impl Breaker {
    const OPEN_FOR: Duration = Duration::from_secs(1);

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn is_open(&self) -> bool {
        self.now_ms() < self.open_until_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn trip(&self) {
        let until = self.now_ms() + Self::OPEN_FOR.as_millis() as u64;
        self.open_until_ms.store(until, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Cluster {
    fn conn(&self) -> ClusterConnection {
        self.conn.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// How often the cluster connection is asked whether it still answers, and how long it has.
const SUPERVISE_EVERY: Duration = Duration::from_secs(1);
const SUPERVISE_PATIENCE: Duration = Duration::from_secs(2);

/// Keeps the cluster connection alive: the redis crate's cluster client can stop answering
/// for good after a master dies mid-refresh of its slot map (seen in the failover tests while
/// every node answered directly), so a connection that misses two PINGs in a row is replaced
/// by a fresh one from the seeds (if one can be made; else it tries again). Ends with the pool.
async fn supervise(cluster: std::sync::Weak<Cluster>) {
    let mut missed = 0;
    loop {
        tokio::time::sleep(SUPERVISE_EVERY).await;
        let Some(c) = cluster.upgrade() else { return };
        let mut conn = c.conn();
        let ping = tokio::time::timeout(SUPERVISE_PATIENCE, redis::cmd("PING").query_async::<String>(&mut conn)).await;
        missed = if matches!(ping, Ok(Ok(_))) { 0 } else { missed + 1 };
        if missed < 2 {
            continue;
        }
        let fresh =
            tokio::time::timeout(c.connect_timeout * 3, cluster::connect(c.seeds.clone(), c.connect_timeout)).await;
        match fresh {
            Ok(Ok(fresh)) => {
                tracing::warn!("the Redis Cluster connection stopped answering; replaced by a fresh one");
                *c.conn.write().unwrap_or_else(std::sync::PoisonError::into_inner) = fresh;
                c.owners.forget();
                missed = 0;
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %redis_error_kind(&e), "the Redis Cluster does not answer; trying again")
            }
            Err(_) => tracing::warn!("the Redis Cluster does not answer; trying again"),
        }
    }
}

impl std::fmt::Debug for RedisPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisPool").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// A short, secret-free description of a Redis error (for logs and port errors).
pub fn redis_error_kind(e: &redis::RedisError) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connection_refusal() {
        "connection refused"
    } else if e.is_connection_dropped() || e.is_io_error() {
        "connection lost"
    } else {
        "command failed"
    };
    format!("{kind}: {}", e.detail().unwrap_or_else(|| e.category()))
}

impl RedisPool {
    /// Builds the pool and checks that Redis answers.
    ///
    /// # Errors
    /// A malformed URL, or Redis not answering within the connect timeout.
    /// `cfg.url` is one URL or a comma-separated list of seed nodes; whether they form a
    /// cluster is asked of the server unless `cfg.cluster` says.
    ///
    /// # Errors
    /// A malformed URL, or Redis not answering within the connect timeout.
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(cfg: &RedisConfig) -> Result<Self, RedisSetupError> {
        let seeds = cluster::seeds(&cfg.url).map_err(RedisSetupError::BadUrl)?;
        let is_cluster = match cfg.cluster {
            Some(forced) => forced,
            None => cluster::detect(&seeds, cfg.connect_timeout).await.map_err(RedisSetupError::Unreachable)?,
        };
        let backend = if is_cluster {
            let seed = seeds[0].clone();
            let conn =
                tokio::time::timeout(cfg.connect_timeout * 3, cluster::connect(seeds.clone(), cfg.connect_timeout))
                    .await
                    .map_err(|_| RedisSetupError::Unreachable("timeout: the cluster did not answer".to_owned()))?
                    .map_err(|e| RedisSetupError::Unreachable(redis_error_kind(&e)))?;
            let cluster = Arc::new(Cluster {
                conn: std::sync::RwLock::new(conn),
                seeds,
                seed,
                owners: SlotOwners::default(),
                idle: NodeConns::default(),
                connect_timeout: cfg.connect_timeout,
            });
            tokio::spawn(supervise(Arc::downgrade(&cluster)));
            Backend::Cluster(cluster)
        } else {
            let manager = RedisConnectionManager::new(seeds[0].clone())
                .map_err(|e| RedisSetupError::BadUrl(redis_error_kind(&e)))?;
            let pool = bb8::Pool::builder()
                .max_size(cfg.pool_size.max(1))
                .connection_timeout(cfg.connect_timeout)
                .build(manager)
                .await
                .map_err(|e| RedisSetupError::Unreachable(redis_error_kind(&e)))?;
            let breaker = Arc::new(Breaker { epoch: std::time::Instant::now(), open_until_ms: 0.into() });
            Backend::Single { pool, breaker, shared: Arc::default() }
        };
        let this = Self { backend, prefix: cfg.prefix.clone().into() };
        this.ping().await.map_err(RedisSetupError::Unreachable)?;
        tracing::info!(cluster = is_cluster, "redis connected");
        Ok(this)
    }

    /// Whether this is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    /// The shared connection for non-blocking commands (on one node: reserved from the pool
    /// on first use and after a connection-level error; on a cluster: the cluster connection).
    ///
    /// # Errors
    /// No connection within the pool's timeout (Redis down or pool exhausted), described.
    pub async fn get(&self) -> Result<RedisConn, String> {
        match &self.backend {
            Backend::Single { shared, .. } => shared.get(self).await,
            Backend::Cluster(c) => Ok(RedisConn::cluster(c.conn())),
        }
    }

    /// The cluster connection, if this is a cluster (for what [`Reserved`] hands out).
    pub(crate) fn cluster_conn(&self) -> Option<ClusterConnection> {
        match &self.backend {
            Backend::Single { .. } => None,
            Backend::Cluster(c) => Some(c.conn()),
        }
    }

    /// A connection of the caller's own for blocking commands on `key` (on a cluster: to the
    /// master that serves `key`'s slot now).
    ///
    /// # Errors
    /// No connection within the pool's timeout (Redis down or pool exhausted), described.
    pub async fn checkout(&self, key: &str) -> Result<BlockingConn, String> {
        match &self.backend {
            Backend::Single { pool, breaker, .. } => {
                if breaker.is_open() {
                    return Err("redis unavailable (a connection failed within the last second)".to_owned());
                }
                let pooled = pool.get_owned().await.map_err(|e| {
                    breaker.trip();
                    match e {
                        bb8::RunError::User(e) => redis_error_kind(&e),
                        bb8::RunError::TimedOut => "timed out waiting for a connection".to_owned(),
                    }
                })?;
                Ok(BlockingConn { conn: (*pooled).clone(), held: Held::Pooled(pooled) })
            }
            Backend::Cluster(c) => {
                let node = c.owners.owner(&mut c.conn(), cluster::key_slot(key)).await?;
                let conn = match c.idle.take(&node) {
                    Some(conn) => conn,
                    None => {
                        let info = cluster::node_info(&c.seed, &node.0, node.1);
                        let connect = async { redis::Client::open(info)?.get_multiplexed_async_connection().await };
                        tokio::time::timeout(c.connect_timeout, connect)
                            .await
                            .map_err(|_| format!("timeout connecting to node {}:{}", node.0, node.1))?
                            .map_err(|e| {
                                c.owners.forget();
                                redis_error_kind(&e)
                            })?
                    }
                };
                Ok(BlockingConn { conn, held: Held::Node { node, cluster: c.clone(), reusable: false } })
            }
        }
    }

    /// Readiness: one node answers PING; a cluster has every node answering with
    /// `cluster_state:ok` and every slot served by a live master (the error names the node).
    ///
    /// # Errors
    /// What is wrong, described.
    pub async fn health(&self) -> Result<(), String> {
        match &self.backend {
            Backend::Single { .. } => self.ping().await,
            Backend::Cluster(c) => cluster::health(&mut c.conn()).await,
        }
    }

    /// `<prefix>:<part>:<part>…`
    pub fn key(&self, parts: &[&str]) -> String {
        let mut k = String::with_capacity(self.prefix.len() + parts.iter().map(|p| p.len() + 1).sum::<usize>());
        k.push_str(&self.prefix);
        for p in parts {
            k.push(':');
            k.push_str(p);
        }
        k
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// # Errors
    /// Redis does not answer PING (on a cluster: some node).
    pub async fn ping(&self) -> Result<(), String> {
        let mut c = self.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut c).await.map_err(|e| redis_error_kind(&e))?;
        Ok(())
    }

    /// Every master's `(host, port)` now (one node: empty).
    ///
    /// # Errors
    /// The cluster could not be asked.
    pub async fn masters(&self) -> Result<Vec<(String, u16)>, String> {
        let Backend::Cluster(c) = &self.backend else { return Ok(Vec::new()) };
        Ok(cluster::nodes(&mut c.conn())
            .await?
            .into_iter()
            .filter(|n| n.master && !n.failing && !n.slots.is_empty())
            .map(|n| (n.host, n.port))
            .collect())
    }

    /// Runs `cmd` on one node: the only node, or the cluster's node at `host:port` (for reads
    /// that go node by node, such as `SCAN`).
    ///
    /// # Errors
    /// The command failed (the driver's error).
    pub async fn on_node<T: redis::FromRedisValue>(
        &self,
        node: Option<&(String, u16)>,
        cmd: &redis::Cmd,
    ) -> RedisResult<T> {
        match (&self.backend, node) {
            (Backend::Cluster(c), Some((host, port))) => {
                let routing = redis::cluster_routing::RoutingInfo::SingleNode(
                    redis::cluster_routing::SingleNodeRoutingInfo::ByAddress { host: host.clone(), port: *port },
                );
                let v = c.conn().route_command(cmd.clone(), routing).await?;
                Ok(redis::from_redis_value(v)?)
            }
            _ => {
                let mut conn = self
                    .get()
                    .await
                    .map_err(|e| redis::RedisError::from((redis::ErrorKind::Io, "no connection", e)))?;
                cmd.query_async(&mut conn).await
            }
        }
    }
}

/// A connection for blocking commands, of its caller's own until dropped (one node: a pooled
/// connection, back to the pool on drop; a cluster: a connection to the node serving the
/// key, kept for reuse on drop if [`BlockingConn::reusable`] was called).
pub struct BlockingConn {
    conn: MultiplexedConnection,
    held: Held,
}

enum Held {
    Pooled(#[allow(dead_code)] bb8::PooledConnection<'static, RedisConnectionManager>),
    Node { node: (String, u16), cluster: Arc<Cluster>, reusable: bool },
}

impl std::fmt::Debug for BlockingConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.held {
            Held::Pooled(_) => f.write_str("BlockingConn(pooled)"),
            Held::Node { node, .. } => write!(f, "BlockingConn({}:{})", node.0, node.1),
        }
    }
}

impl BlockingConn {
    /// The connection, to run commands on.
    pub fn conn(&mut self) -> &mut MultiplexedConnection {
        &mut self.conn
    }

    /// The last command answered normally: the connection may be used again.
    pub fn reusable(&mut self) {
        if let Held::Node { reusable, .. } = &mut self.held {
            *reusable = true;
        }
    }

    /// A command failed through it in a way that says the slot moved or the node is gone:
    /// where slots live is read again before the next blocking wait.
    pub fn topology_changed(&self) {
        if let Held::Node { cluster, .. } = &self.held {
            cluster.owners.forget();
        }
    }

    /// Runs a short command on the same node over another connection (e.g. `CLIENT UNBLOCK`
    /// of this one).
    ///
    /// # Errors
    /// The command failed.
    pub async fn on_same_node(&self, pool: &RedisPool, cmd: &redis::Cmd) -> RedisResult<Value> {
        match &self.held {
            Held::Pooled(_) => pool.on_node(None, cmd).await,
            Held::Node { node, .. } => pool.on_node(Some(node), cmd).await,
        }
    }
}

impl Drop for BlockingConn {
    fn drop(&mut self) {
        if let Held::Node { node, cluster, reusable: true } = &self.held {
            cluster.idle.put(node.clone(), self.conn.clone());
        }
    }
}
