//! The connections every Redis adapter shares, and key naming under one prefix.
//!
//! Non-blocking commands of the key-value adapters go over one [`Reserved`] multiplexed
//! connection ([`RedisPool::get`]). Blocking commands check out a connection of their own
//! ([`RedisPool::checkout`]).

use bb8_redis::RedisConnectionManager;
use std::{sync::Arc, time::Duration};

use crate::reserved::{RedisConn, Reserved};

/// How to reach Redis.
#[derive(Clone)]
pub struct RedisConfig {
    pub url: String,
    /// Every key starts with `<prefix>:` (tests use a random prefix each).
    pub prefix: String,
    pub pool_size: u32,
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never print it.
        f.debug_struct("RedisConfig")
            .field("prefix", &self.prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl RedisConfig {
    pub fn new(url: impl Into<String>, prefix: impl Into<String>) -> Self {
        Self { url: url.into(), prefix: prefix.into(), pool_size: 16, connect_timeout: Duration::from_secs(3) }
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

/// A bb8 pool of multiplexed Redis connections plus the key prefix.
#[derive(Clone)]
pub struct RedisPool {
    pool: bb8::Pool<RedisConnectionManager>,
    prefix: Arc<str>,
    breaker: Arc<Breaker>,
    shared: Arc<Reserved>,
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
    #[tracing::instrument(skip_all, err)]
    pub async fn connect(cfg: &RedisConfig) -> Result<Self, RedisSetupError> {
        let manager =
            RedisConnectionManager::new(cfg.url.as_str()).map_err(|e| RedisSetupError::BadUrl(redis_error_kind(&e)))?;
        let pool = bb8::Pool::builder()
            .max_size(cfg.pool_size.max(1))
            .connection_timeout(cfg.connect_timeout)
            .build(manager)
            .await
            .map_err(|e| RedisSetupError::Unreachable(redis_error_kind(&e)))?;
        let breaker = Arc::new(Breaker { epoch: std::time::Instant::now(), open_until_ms: 0.into() });
        let this = Self { pool, prefix: cfg.prefix.clone().into(), breaker, shared: Arc::default() };
        this.ping().await.map_err(RedisSetupError::Unreachable)?;
        Ok(this)
    }

    /// The shared connection for non-blocking commands (reserved from the pool on first use
    /// and after a connection-level error).
    ///
    /// # Errors
    /// No connection within the pool's timeout (Redis down or pool exhausted), described.
    pub async fn get(&self) -> Result<RedisConn, String> {
        self.shared.get(self).await
    }

    /// A pooled connection of the caller's own (for blocking commands, or to hold).
    ///
    /// # Errors
    /// No connection within the pool's timeout (Redis down or pool exhausted), described.
    pub async fn checkout(&self) -> Result<bb8::PooledConnection<'_, RedisConnectionManager>, String> {
        if self.breaker.is_open() {
            return Err("redis unavailable (a connection failed within the last second)".to_owned());
        }
        self.pool.get().await.map_err(|e| {
            self.breaker.trip();
            match e {
                bb8::RunError::User(e) => redis_error_kind(&e),
                bb8::RunError::TimedOut => "timed out waiting for a connection".to_owned(),
            }
        })
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
    /// Redis does not answer PING.
    pub async fn ping(&self) -> Result<(), String> {
        let mut c = self.get().await?;
        let _: String = redis::cmd("PING").query_async(&mut c).await.map_err(|e| redis_error_kind(&e))?;
        Ok(())
    }
}
