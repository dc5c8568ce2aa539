//! What the integration tests share: pools on the real Redis under a random key prefix whose
//! keys are deleted when the test ends (even when it panics), and a private Redis that can be
//! stopped mid-test.
#![allow(dead_code)]

use goodrobot_redis::{RedisConfig, RedisPool};
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

/// Deletes every key under its prefix when dropped (SCAN MATCH + UNLINK, on a blocking
/// connection so that it also runs while a panic unwinds).
#[derive(Debug)]
pub struct Cleanup {
    url: String,
    prefix: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let result = (|| -> redis::RedisResult<()> {
            let mut conn = redis::Client::open(self.url.as_str())?.get_connection()?;
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
        let cfg = RedisConfig::new(redis_url(), prefix.clone());
        let pool = RedisPool::connect(&cfg).await.expect("the test Redis answers");
        Self { pool, cleanup: Arc::new(Cleanup { url: redis_url(), prefix }) }
    }

    /// Runs one raw command (to look at keys the way Redis sees them).
    pub async fn raw<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
        let mut conn = self.pool.get().await.expect("a connection");
        cmd.query_async(&mut conn).await.expect("the raw command")
    }

    /// The remaining TTL of a full key name in ms (-2: no key, -1: no TTL).
    pub async fn pttl(&self, key: &str) -> i64 {
        self.raw(redis::cmd("PTTL").arg(key)).await
    }

    /// Every key under the prefix.
    pub async fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self.raw(redis::cmd("KEYS").arg(format!("{}:*", self.pool.prefix()))).await;
        keys.sort();
        keys
    }
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
