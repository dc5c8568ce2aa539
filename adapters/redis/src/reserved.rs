//! A multiplexed connection checked out of the pool and kept out of it, shared by every call
//! of its owner: concurrent calls pipeline on it and none pays a checkout (bb8 pings a
//! connection on every checkout, one more round trip). A connection-level error through it
//! retires it; the next call reserves a fresh one through the pool and its breaker.
//!
//! The pool keeps one for the key-value adapters ([`crate::RedisPool::get`]); the broker and
//! the result backend keep one each, so the task hot path has connections of its own.

use redis::{Cmd, Pipeline, RedisError, RedisFuture, Value, aio::ConnectionLike, aio::MultiplexedConnection};
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
        Ok(RedisConn { conn, generation, reserved: self.clone() })
    }

    /// Checks a connection out and keeps it out, in a task of its own.
    async fn reserve(&self, pool: &RedisPool) -> Result<(MultiplexedConnection, u64), String> {
        let (conn_tx, conn_rx) = oneshot::channel();
        let (hold_tx, hold_rx) = oneshot::channel::<()>();
        let pool = pool.clone();
        tokio::spawn(async move {
            match pool.checkout().await {
                Ok(checkout) => {
                    if conn_tx.send(Ok((*checkout).clone())).is_ok() {
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

/// A handle on a reserved connection: use it as `&mut conn` wherever redis wants a
/// connection. A connection-level error through it retires the reserved connection.
pub struct RedisConn {
    conn: MultiplexedConnection,
    generation: u64,
    reserved: Arc<Reserved>,
}

impl std::fmt::Debug for RedisConn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConn").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl RedisConn {
    /// Which reservation this is: it changes whenever a fresh connection was reserved (what
    /// was set up on the old one, e.g. loaded scripts after a Redis restart, may be gone).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How long a command may wait for its answer through this handle (a timeout retires
    /// the connection, like any connection-level error).
    pub fn set_response_timeout(&mut self, timeout: Duration) {
        self.conn.set_response_timeout(timeout);
    }
}

impl ConnectionLike for RedisConn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let r = self.conn.req_packed_command(cmd).await;
            if let Err(e) = &r {
                self.reserved.broken(self.generation, e);
            }
            r
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let r = self.conn.req_packed_commands(pipeline, offset, count).await;
            if let Err(e) = &r {
                self.reserved.broken(self.generation, e);
            }
            r
        })
    }

    fn get_db(&self) -> i64 {
        self.conn.get_db()
    }
}
