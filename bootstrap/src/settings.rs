//! Runtime configuration, read once from the environment (a `.env` file is honoured).

use std::{collections::HashMap, net::SocketAddr, time::Duration};

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration {var}: {reason}")]
pub struct SettingsError {
    pub var: &'static str,
    pub reason: String,
}

/// Everything the binaries read from the environment. Secrets are never printed by `Debug`.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`: Postgres; unset → in-memory repositories.
    pub database_url: Option<String>,
    /// `REDIS_URL`: Redis; unset → in-memory cache, broker and results.
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX` (default `goodrobot`): every Redis key starts with it.
    pub redis_prefix: String,
    /// `API_ADDR` (default `127.0.0.1:8000`).
    pub api_addr: SocketAddr,
    /// `WORKER_CONCURRENCY` (default 8).
    pub worker_concurrency: usize,
    /// `WORKER_QUEUES` (comma-separated, default `default`).
    pub worker_queues: Vec<String>,
    /// `TASK_LEASE_SECS` (default 30).
    pub task_lease: Duration,
    /// `SHUTDOWN_TIMEOUT_SECS` (default 30).
    pub shutdown_timeout: Duration,
    /// `RESULT_TTL_SECS` (default 86400).
    pub result_ttl: Duration,
    /// `RUN_MIGRATIONS` (default true): apply pending migrations at start-up.
    pub run_migrations: bool,
    /// `DB_POOL_SIZE` (default 10).
    pub db_pool_size: u32,
    /// `REDIS_POOL_SIZE` (default 16).
    pub redis_pool_size: u32,
    /// `REDIS_CONNECT_TIMEOUT_MS` (default 1000): how long a Redis checkout may wait.
    pub redis_connect_timeout: Duration,
    /// `NOTIFY_WEBHOOK_URL`: deliver notifications by webhook; unset → log them.
    pub notify_webhook_url: Option<String>,
    /// `RATE_LIMIT_FAIL_POLICY` (`allow` | `refuse`, default allow): what the rate limiter
    /// answers while Redis is down.
    pub rate_limit_fail_policy: String,
    /// `RATE_LIMIT_READS_PER_MIN` (default 600; 0 = unlimited): GETs per client per minute.
    pub rate_limit_reads_per_min: u32,
    /// `RATE_LIMIT_WRITES_PER_MIN` (default 120; 0 = unlimited): other requests per client per minute.
    pub rate_limit_writes_per_min: u32,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("redis_prefix", &self.redis_prefix)
            .field("api_addr", &self.api_addr)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("worker_queues", &self.worker_queues)
            .field("task_lease", &self.task_lease)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("result_ttl", &self.result_ttl)
            .field("run_migrations", &self.run_migrations)
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Reads the process environment (after loading `.env` if present).
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed.
    pub fn from_env() -> Result<Self, SettingsError> {
        let _ = dotenvy::dotenv();
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from a map (tests use this).
    ///
    /// # Errors
    /// A variable that is set but cannot be parsed.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, SettingsError> {
        let get = |k: &str| env.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        fn parse<T: std::str::FromStr>(var: &'static str, v: Option<String>, default: T) -> Result<T, SettingsError>
        where
            T::Err: std::fmt::Display,
        {
            match v {
                None => Ok(default),
                Some(s) => s.parse().map_err(|e: T::Err| SettingsError { var, reason: format!("{e} (got {s:?})") }),
            }
        }
        let secs = |var: &'static str, default: u64| -> Result<Duration, SettingsError> {
            parse(var, get(var), default).map(Duration::from_secs)
        };
        let worker_concurrency: usize = parse("WORKER_CONCURRENCY", get("WORKER_CONCURRENCY"), 8)?;
        if worker_concurrency == 0 || worker_concurrency > 4096 {
            return Err(SettingsError { var: "WORKER_CONCURRENCY", reason: "must be 1..=4096".into() });
        }
        let worker_queues = get("WORKER_QUEUES")
            .map(|s| s.split(',').map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()).collect())
            .unwrap_or_else(|| vec!["default".to_owned()]);
        Ok(Self {
            database_url: get("DATABASE_URL"),
            redis_url: get("REDIS_URL"),
            redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "goodrobot".into()),
            api_addr: parse("API_ADDR", get("API_ADDR"), SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            worker_concurrency,
            worker_queues,
            task_lease: secs("TASK_LEASE_SECS", 30)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", 30)?,
            result_ttl: secs("RESULT_TTL_SECS", 86_400)?,
            run_migrations: parse("RUN_MIGRATIONS", get("RUN_MIGRATIONS"), true)?,
            db_pool_size: parse("DB_POOL_SIZE", get("DB_POOL_SIZE"), 10)?,
            redis_pool_size: parse("REDIS_POOL_SIZE", get("REDIS_POOL_SIZE"), 16)?,
            notify_webhook_url: get("NOTIFY_WEBHOOK_URL"),
            redis_connect_timeout: Duration::from_millis(parse(
                "REDIS_CONNECT_TIMEOUT_MS",
                get("REDIS_CONNECT_TIMEOUT_MS"),
                1000,
            )?),
            rate_limit_fail_policy: get("RATE_LIMIT_FAIL_POLICY").unwrap_or_else(|| "allow".into()),
            rate_limit_reads_per_min: parse("RATE_LIMIT_READS_PER_MIN", get("RATE_LIMIT_READS_PER_MIN"), 600)?,
            rate_limit_writes_per_min: parse("RATE_LIMIT_WRITES_PER_MIN", get("RATE_LIMIT_WRITES_PER_MIN"), 120)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_embedded_mode_on_loopback() {
        let s = Settings::from_map(&HashMap::new()).unwrap();
        assert!(s.database_url.is_none() && s.redis_url.is_none());
        assert_eq!(s.api_addr.to_string(), "127.0.0.1:8000");
        assert_eq!(s.worker_queues, vec!["default".to_owned()]);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = HashMap::from([("WORKER_CONCURRENCY".to_owned(), "lots".to_owned())]);
        assert_eq!(Settings::from_map(&env).unwrap_err().var, "WORKER_CONCURRENCY");
    }

    #[test]
    fn debug_hides_urls() {
        let env = HashMap::from([("DATABASE_URL".to_owned(), "postgres://u:secret@h/db".to_owned())]);
        let s = Settings::from_map(&env).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
