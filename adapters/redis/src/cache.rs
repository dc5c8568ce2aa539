//! The cache on Redis: `SET … PX`, `GET`, `DEL`, `PING` under `<prefix>:cache:<key>`.

use async_trait::async_trait;
use goodrobot_ports::{Cache, CacheError, HealthCheck};
use std::time::Duration;

use crate::{RedisPool, pool::redis_error_kind, ttl::px};

/// [`Cache`] over a [`RedisPool`]; also the Redis [`HealthCheck`] (name `redis`) for `/ready`.
#[derive(Debug, Clone)]
pub struct RedisCache {
    pool: RedisPool,
}

impl RedisCache {
    pub fn new(pool: RedisPool) -> Self {
        Self { pool }
    }

    fn key(&self, key: &str) -> String {
        self.pool.key(&["cache", key])
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, CacheError> {
        let mut conn = self.pool.get().await.map_err(CacheError::Unavailable)?;
        cmd.query_async(&mut conn).await.map_err(|e| CacheError::Unavailable(redis_error_kind(&e)))
    }
}

#[async_trait]
impl Cache for RedisCache {
    #[tracing::instrument(level = "debug", skip(self, value))]
    async fn set_key(&self, key: &str, value: &str, ttl: Option<Duration>) -> Result<(), CacheError> {
        let key = self.key(key);
        match ttl {
            // A zero TTL has already run out: the key must not be there afterwards.
            Some(ttl) if ttl.is_zero() => self.run::<()>(redis::cmd("UNLINK").arg(&key)).await,
            Some(ttl) => self.run(redis::cmd("SET").arg(&key).arg(value).arg("PX").arg(px(ttl))).await,
            None => self.run(redis::cmd("SET").arg(&key).arg(value)).await,
        }
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn get_key(&self, key: &str) -> Result<Option<String>, CacheError> {
        self.run(redis::cmd("GET").arg(self.key(key))).await
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn delete_key(&self, key: &str) -> Result<bool, CacheError> {
        let removed: u64 = self.run(redis::cmd("UNLINK").arg(self.key(key))).await?;
        Ok(removed > 0)
    }

    #[tracing::instrument(level = "debug", skip(self))]
    async fn ping(&self) -> Result<(), CacheError> {
        self.pool.ping().await.map_err(CacheError::Unavailable)
    }
}

#[async_trait]
impl HealthCheck for RedisCache {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn check(&self) -> Result<(), String> {
        self.pool.health().await
    }

    /// The cluster's state and the node that is wrong (`cluster: node 10.0.0.2:6379 …`), built
    /// by [`RedisPool::health`] without secrets; other errors stay in the log.
    fn public_error(&self, error: &str) -> Option<String> {
        error.starts_with(crate::cluster::HEALTH_PREFIX).then(|| error.to_owned())
    }
}
