//! A multiplexed connection checked out of the pool and kept out of it, shared by every call
//! of its owner: concurrent calls pipeline on it and none pays a checkout (bb8 pings a
//! connection on every checkout, one more round trip). A connection-level error through it
//! retires it; the next call reserves a fresh one through the pool and its breaker.
//!
//! The pool keeps one for the key-value adapters ([`crate::RedisPool::get`]); the broker and
//! the result backend keep one each, so the task hot path has connections of its own. On a
//! Redis Cluster there is nothing to reserve: every handle is the cluster connection, which
//! multiplexes per node and reconnects by itself.

use redis::{
    Cmd, Pipeline, RedisError, RedisFuture, Value, aio::ConnectionLike, aio::MultiplexedConnection,
    cluster_async::ClusterConnection,
};
use std::{
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::sync::oneshot;

use crate::RedisPool;

/// The reservation: at most one connection at a time, replaced after it breaks.
#[derive(Debug, Default)]
pub struct Reserved {
    hot: Mutex<Option<Hot>>,
    reserving: tokio::sync::Mutex<()>,
    generations: AtomicU64,
}

#[derive(Debug)]
struct Hot {
    conn: MultiplexedConnection,
    generation: u64,
    /// Dropping this ends the task that holds the pooled checkout.
    _hold: oneshot::Sender<()>,
}

impl Reserved {
    pub fn new() -> Arc<Self> {
        Arc::default()
    }

    fn current(&self) -> Option<(MultiplexedConnection, u64)> {
        self.hot.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|h| (h.conn.clone(), h.generation))
    }

    /// A handle on the reserved connection, reserving one from `pool` first if there is none.
    ///
    /// # Errors
    /// No connection within the pool's timeout (Redis down or pool exhausted), described.
    pub async fn get(self: &Arc<Self>, pool: &RedisPool) -> Result<RedisConn, String> {
        if let Some(cluster) = pool.cluster_conn() {
            return Ok(RedisConn::cluster(cluster));
        }
        let (conn, generation) = match self.current() {
            Some(c) => c,
            None => {
                let _one_at_a_time = self.reserving.lock().await;
                match self.current() {
                    Some(c) => c,
                    None => self.reserve(pool).await?,
                }
            }
        };
        Ok(RedisConn { inner: Inner::Single { conn, generation, reserved: self.clone() } })
    }

    /// Checks a connection out and keeps it out, in a task of its own.
    async fn reserve(&self, pool: &RedisPool) -> Result<(MultiplexedConnection, u64), String> {
        let (conn_tx, conn_rx) = oneshot::channel();
        let (hold_tx, hold_rx) = oneshot::channel::<()>();
        let pool = pool.clone();
        tokio::spawn(async move {
            match pool.checkout("").await {
                Ok(mut checkout) => {
                    if conn_tx.send(Ok(checkout.conn().clone())).is_ok() {
                        // Held until the connection is found broken or its owner dropped.
                        let _ = hold_rx.await;
                    }
                }
                Err(e) => {
                    let _ = conn_tx.send(Err(e));
                }
            }
        });
        let conn = conn_rx.await.map_err(|_| "connection reservation ended".to_owned())??;
        let generation = self.generations.fetch_add(1, Ordering::Relaxed) + 1;
        *self.hot.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Hot { conn: conn.clone(), generation, _hold: hold_tx });
        Ok((conn, generation))
    }

    /// Forgets the reserved connection after a connection-level error (the next call
    /// reserves a fresh one; the pool tests the old one before handing it out again).
    fn broken(&self, generation: u64, e: &RedisError) {
        if !(e.is_io_error() || e.is_connection_dropped() || e.is_timeout() || e.is_unrecoverable_error()) {
            return;
        }
        let mut hot = self.hot.lock().unwrap_or_else(PoisonError::into_inner);
        if hot.as_ref().is_some_and(|h| h.generation == generation) {
            *hot = None;
        }
    }
}

/// A handle on a reserved connection (or on the cluster connection): use it as `&mut conn`
/// wherever redis wants a connection. A connection-level error through a reserved one
/// retires it.
pub struct RedisConn {
    inner: Inner,
}

enum Inner {
    Single { conn: MultiplexedConnection, generation: u64, reserved: Arc<Reserved> },
    Cluster { conn: ClusterConnection },
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            Inner::Single { generation, .. } => {
                f.debug_struct("RedisConn").field("generation", generation).finish_non_exhaustive()
            }
            Inner::Cluster { .. } => f.write_str("RedisConn(cluster)"),
        }
    }
}

impl RedisConn {
    pub(crate) fn cluster(conn: ClusterConnection) -> Self {
        Self { inner: Inner::Cluster { conn } }
    }

    /// Which reservation this is: it changes whenever a fresh connection was reserved (what
    /// was set up on the old one, e.g. loaded scripts after a Redis restart, may be gone).
    /// The cluster connection is always generation 1 (a node that lost the scripts answers
    /// NOSCRIPT, and the caller loads them again).
    pub fn generation(&self) -> u64 {
        match &self.inner {
            Inner::Single { generation, .. } => *generation,
            Inner::Cluster { .. } => 1,
        }
    }

    /// How long a command may wait for its answer through this handle (a timeout retires
    /// the connection, like any connection-level error). The cluster connection keeps the
    /// response timeout it was built with.
    pub fn set_response_timeout(&mut self, timeout: Duration) {
        if let Inner::Single { conn, .. } = &mut self.inner {
            conn.set_response_timeout(timeout);
        }
    }

    /// Loads Lua scripts (`SCRIPT LOAD`) where they will run: the node, or every node of the
    /// cluster.
    ///
    /// # Errors
    /// A node refused or did not answer.
    pub async fn load_scripts(&mut self, codes: &[&str]) -> Result<(), RedisError> {
        match &mut self.inner {
            Inner::Single { .. } => {
                let mut load = redis::pipe();
                for code in codes {
                    load.cmd("SCRIPT").arg("LOAD").arg(*code);
                }
                load.query_async::<()>(self).await
            }
            Inner::Cluster { conn } => crate::cluster::load_scripts(conn, codes).await,
        }
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            match &mut self.inner {
                Inner::Single { conn, generation, reserved } => {
                    let r = conn.req_packed_command(cmd).await;
                    if let Err(e) = &r {
                        reserved.broken(*generation, e);
                    }
                    r
                }
                Inner::Cluster { conn } => conn.req_packed_command(cmd).await,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            match &mut self.inner {
                Inner::Single { conn, generation, reserved } => {
                    let r = conn.req_packed_commands(pipeline, offset, count).await;
                    if let Err(e) = &r {
                        reserved.broken(*generation, e);
                    }
                    r
                }
                Inner::Cluster { conn } => crate::cluster::pipeline(conn, pipeline, offset, count).await,
            }
        })
    }

    fn get_db(&self) -> i64 {
        match &self.inner {
            Inner::Single { conn, .. } => conn.get_db(),
            Inner::Cluster { .. } => 0,
        }
    }
}
