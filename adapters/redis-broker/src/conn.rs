//! How the adapters talk to Redis: every non-blocking command goes over one multiplexed
//! connection reserved from the shared pool for this adapter (`goodrobot_redis::Reserved`:
//! concurrent calls pipeline on it and pay no per-call checkout), and each blocking wait (BLPOP/BLMOVE) gets a pooled connection of its
//! own, ended at a precise local deadline with `CLIENT UNBLOCK` (Redis itself only checks
//! blocking timeouts every 1/hz s, 100 ms by default).

use goodrobot_redis::{BlockingConn, RedisConn, RedisPool, Reserved, redis_error_kind};
use redis::{Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, Script, ServerErrorKind, Value};
use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};
use tokio::{sync::oneshot, time::Instant};

/// Why a Redis call failed, before it becomes a port's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Redis cannot be reached (or did not answer in time).
    Unavailable(String),
    /// Redis answered with an error, or with something unexpected.
    Internal(String),
}

impl Failure {
    pub(crate) fn of(e: &RedisError) -> Self {
        let down = e.is_io_error()
            || e.is_connection_dropped()
            || e.is_connection_refusal()
            || e.is_timeout()
            || matches!(
                e.kind(),
                ErrorKind::Server(
                    ServerErrorKind::BusyLoading
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        // The cluster client gave up following a slot that moved or whose
                        // node is gone (a failover in progress): try again later.
                        | ServerErrorKind::Moved
                        | ServerErrorKind::Ask
                )
            )
            || matches!(e.kind(), ErrorKind::ClusterConnectionNotFound);
        if down { Self::Unavailable(redis_error_kind(e)) } else { Self::Internal(redis_error_kind(e)) }
    }
}

/// A blocking wait shorter than this is slept locally instead (not worth a connection, and
/// too short to be sure the command reached Redis before it would be unblocked).
const MIN_BLOCK: Duration = Duration::from_millis(3);
/// How much longer than the local deadline Redis is told to block (a safety net only: the
/// wait normally ends by `CLIENT UNBLOCK` at the local deadline).
const SERVER_SLACK: Duration = Duration::from_secs(1);

/// Connections of one adapter instance (shared by its clones).
pub(crate) struct Redis {
    pool: RedisPool,
    scripts: Vec<Lua>,
    response_timeout: Duration,
    reserved: Arc<Reserved>,
    /// The reservation the scripts were last loaded on (0: none yet).
    loaded: AtomicU64,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis").field("pool", &self.pool).field("scripts", &self.scripts.len()).finish_non_exhaustive()
    }
}

impl Redis {
    /// `scripts` are loaded whenever a connection is reserved (and again after NOSCRIPT).
    pub(crate) fn new(pool: RedisPool, scripts: Vec<Lua>, response_timeout: Duration) -> Self {
        Self { pool, scripts, response_timeout, reserved: Reserved::new(), loaded: AtomicU64::new(0) }
    }

    pub(crate) fn pool(&self) -> &RedisPool {
        &self.pool
    }

    /// This adapter's reserved connection, with its response timeout and its scripts loaded.
    async fn conn(&self) -> Result<RedisConn, Failure> {
        let mut conn = self.reserved.get(&self.pool).await.map_err(Failure::Unavailable)?;
        conn.set_response_timeout(self.response_timeout);
        let generation = conn.generation();
        if self.loaded.load(Ordering::Relaxed) != generation {
            self.load_scripts(&mut conn).await.map_err(|e| Failure::of(&e))?;
            self.loaded.store(generation, Ordering::Relaxed);
        }
        Ok(conn)
    }

    async fn load_scripts(&self, conn: &mut RedisConn) -> Result<(), RedisError> {
        let codes: Vec<&str> = self.scripts.iter().map(|s| s.code.as_str()).collect();
        conn.load_scripts(&codes).await
    }

    /// Loads this instance's scripts again (after a `NOSCRIPT` met on another connection).
    pub(crate) async fn reload_scripts(&self) -> Result<(), Failure> {
        let mut conn = self.conn().await?;
        self.load_scripts(&mut conn).await.map_err(|e| Failure::of(&e))
    }

    /// Runs one command (an `EVALSHA` of one of this instance's scripts is retried once
    /// after loading the scripts if Redis lost them).
    pub(crate) async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, Failure> {
        let mut conn = self.conn().await?;
        let mut result = cmd.query_async::<T>(&mut conn).await;
        if let Err(e) = &result
            && is_noscript(e)
        {
            self.load_scripts(&mut conn).await.map_err(|e| Failure::of(&e))?;
            result = cmd.query_async::<T>(&mut conn).await;
        }
        result.map_err(|e| Failure::of(&e))
    }

    /// Runs a pipeline (retried once after loading the scripts if Redis lost them: its
    /// scripts did not run then, and the other commands the adapters pipeline with scripts
    /// are reads or idempotent adds).
    pub(crate) async fn pipeline<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, Failure> {
        let mut conn = self.conn().await?;
        let mut result = pipe.query_async::<T>(&mut conn).await;
        if let Err(e) = &result
            && is_noscript(e)
        {
            self.load_scripts(&mut conn).await.map_err(|e| Failure::of(&e))?;
            result = pipe.query_async::<T>(&mut conn).await;
        }
        result.map_err(|e| Failure::of(&e))
    }

    /// Runs a blocking command on `key` (and keys of its slot) built by `make` from its server
    /// timeout in seconds, on a connection of its own to the node serving `key`, until it
    /// answers or `until` comes (then `Value::Nil`). On a cluster, a wait that meets a moved
    /// slot or a node going away ends early with `Value::Nil` (the caller looks again).
    /// Dropping the returned future unblocks the connection before it goes back to the pool;
    /// an answer that came when nobody was waiting for it any more is handed to `unused`
    /// (which may return a command that puts it back, e.g. a popped wake token).
    pub(crate) async fn block(
        self: &Arc<Self>,
        key: String,
        make: impl FnOnce(f64) -> Cmd,
        unused: fn(&Value) -> Option<Pipeline>,
        until: Instant,
    ) -> Result<Value, Failure> {
        let now = Instant::now();
        if until <= now + MIN_BLOCK {
            tokio::time::sleep_until(until).await;
            return Ok(Value::Nil);
        }
        let server_timeout = (until - now) + SERVER_SLACK;
        let cmd = make(server_timeout.as_secs_f64());
        let (tx, rx) = oneshot::channel();
        tokio::spawn(self.clone().run_blocking(key, cmd, unused, until, server_timeout, tx));
        rx.await.unwrap_or_else(|_| Err(Failure::Internal("blocking wait ended without an answer".into())))
    }

    async fn run_blocking(
        self: Arc<Self>,
        key: String,
        cmd: Cmd,
        unused: fn(&Value) -> Option<Pipeline>,
        until: Instant,
        server_timeout: Duration,
        mut tx: oneshot::Sender<Result<Value, Failure>>,
    ) {
        let mut checkout = match self.pool.checkout(&key).await {
            Ok(c) => c,
            Err(e) => {
                let _ = tx.send(Err(Failure::Unavailable(e)));
                return;
            }
        };
        let mut conn = checkout.conn().clone();
        conn.set_response_timeout(server_timeout + self.response_timeout);
        let id: i64 = match redis::cmd("CLIENT").arg("ID").query_async(&mut conn).await {
            Ok(id) => id,
            Err(e) => {
                checkout.topology_changed();
                let _ = tx.send(Err(Failure::of(&e)));
                return;
            }
        };
        let reply = cmd.query_async::<Value>(&mut conn);
        tokio::pin!(reply);
        let early = tokio::select! {
            r = &mut reply => Some(r),
            () = tokio::time::sleep_until(until) => None,
            () = tx.closed() => None,
        };
        let mut result = match early {
            Some(r) => r,
            None => self.unblock(&checkout, id, reply.as_mut()).await,
        };
        match &result {
            Ok(_) => checkout.reusable(),
            Err(e) if self.pool.is_cluster() && topology_error(e) => {
                // The slot moved or its node went away: look again (the next wait finds the
                // new owner).
                checkout.topology_changed();
                result = Ok(Value::Nil);
            }
            Err(_) => checkout.topology_changed(),
        }
        drop(checkout);
        if let Err(Ok(answer)) = tx.send(result.map_err(|e| Failure::of(&e)))
            && let Some(put_back) = unused(&answer)
            && let Err(e) = self.pipeline::<Value>(&put_back).await
        {
            tracing::warn!(error = ?e, "could not put back what a dropped wait received");
        }
    }

    /// Ends the blocking command of client `id` and returns its answer.
    async fn unblock(
        &self,
        blocked: &BlockingConn,
        id: i64,
        mut reply: std::pin::Pin<&mut impl Future<Output = redis::RedisResult<Value>>>,
    ) -> redis::RedisResult<Value> {
        for _ in 0..5 {
            let unblock = blocked.on_same_node(&self.pool, redis::cmd("CLIENT").arg("UNBLOCK").arg(id)).await;
            match unblock.and_then(|v| i64::from_redis_value(v).map_err(Into::into)) {
                Ok(1) => break,
                // Not blocked: its answer is on the way, or the command has not reached
                // Redis yet; give it a moment and try again.
                Ok(_) => {
                    if let Ok(r) = tokio::time::timeout(Duration::from_millis(5), reply.as_mut()).await {
                        return r;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = ?e, "could not unblock a waiting Redis connection");
                    break;
                }
            }
        }
        reply.await
    }
}

/// MOVED/ASK (the slot is elsewhere now), a cluster that is failing over, or a node gone.
fn topology_error(e: &RedisError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::Server(
            ServerErrorKind::Moved | ServerErrorKind::Ask | ServerErrorKind::ClusterDown | ServerErrorKind::TryAgain
        )
    ) || e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
}

pub(crate) fn is_noscript(e: &RedisError) -> bool {
    e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) || e.to_string().contains("NOSCRIPT")
}

/// A Lua script: its source (to load) and its SHA1 (to call).
#[derive(Debug, Clone)]
pub(crate) struct Lua {
    code: String,
    script: Script,
}

impl Lua {
    pub(crate) fn new(code: String) -> Self {
        let script = Script::new(&code);
        Self { code, script }
    }

    /// `EVALSHA <sha> <numkeys> <keys…>`; the caller adds ARGV.
    pub(crate) fn call(&self, keys: &[&str]) -> Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(self.script.get_hash()).arg(keys.len()).arg(keys);
        cmd
    }
}
