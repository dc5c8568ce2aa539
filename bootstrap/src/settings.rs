//! Runtime configuration, read once from the environment (a `.env` file is honoured).

use std::{collections::HashMap, net::SocketAddr, path::PathBuf, time::Duration};

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration {var}: {reason}")]
pub struct SettingsError {
    pub var: &'static str,
    pub reason: String,
}

/// The largest `TASK_MAX_ARGS_BYTES` accepted: three quarters of the API's 256 KiB body limit.
const MAX_TASK_ARGS_BYTES: usize = 192 * 1024;

/// Everything the binaries read from the environment. Secrets are never printed by `Debug`.
#[derive(Clone)]
pub struct Settings {
    /// `DATABASE_URL`: Postgres; unset → in-memory repositories.
    pub database_url: Option<String>,
    /// `REDIS_URL`: Redis; unset → in-memory cache, broker and results.
    pub redis_url: Option<String>,
    /// `REDIS_PREFIX` (default `goodrobot`): every Redis key starts with it.
    pub redis_prefix: String,
    /// `REDIS_CLUSTER` (`true` | `false`; unset: asked of the server with `INFO cluster`).
    pub redis_cluster: Option<bool>,
    /// `REDIS_WAIT_REPLICAS` (default 0): durable enqueue, `WAIT` for this many replicas.
    pub redis_wait_replicas: u32,
    /// `REDIS_WAIT_TIMEOUT_MS` (default 1000): how long a durable enqueue waits.
    pub redis_wait_timeout: Duration,
    /// `API_ADDR` (default `127.0.0.1:8000`).
    pub api_addr: SocketAddr,
    /// `WORKER_CONCURRENCY` (default 8).
    pub worker_concurrency: usize,
    /// `WORKER_QUEUES` (comma-separated, default `default`).
    pub worker_queues: Vec<String>,
    /// `WORKER_METRICS_ADDR` (default `127.0.0.1:9100`; port 0: any free port): where
    /// `goodrobot-worker` serves `/metrics`.
    pub worker_metrics_addr: SocketAddr,
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
    /// `NOTIFY_WEBHOOK_SECRET`: signs webhook bodies (HMAC-SHA256) when set. Never printed.
    pub notify_webhook_secret: Option<String>,
    /// `RATE_LIMIT_FAIL_POLICY` (`allow` | `refuse`, default allow): what the rate limiter
    /// answers while Redis is down.
    pub rate_limit_fail_policy: String,
    /// `RATE_LIMIT_READS_PER_MIN` (default 600; 0 = unlimited): GETs per client per minute.
    pub rate_limit_reads_per_min: u32,
    /// `RATE_LIMIT_WRITES_PER_MIN` (default 120; 0 = unlimited): other requests per client per minute.
    pub rate_limit_writes_per_min: u32,
    /// `API_KEYS`: `role:key` entries, comma-separated (roles `bot`, `admin`, `viewer`). A
    /// secret: the API hashes the keys at start-up and keeps only the hashes. Unset (and no
    /// `API_KEYS_FILE`) → the API runs without keys, and only on a loopback address.
    pub api_keys: Option<String>,
    /// `API_KEYS_FILE`: a file of `role:key` entries, one a line (`#` starts a comment).
    pub api_keys_file: Option<PathBuf>,
    /// `CORS_ALLOWED_ORIGINS` (comma-separated, default none → no CORS headers): the origins
    /// browsers may call the API from, e.g. `https://admin.example.com`.
    pub cors_allowed_origins: Vec<String>,
    /// `TASK_ETA_HORIZON_DAYS` (default 30, 1..=3650): how far ahead a task's eta may be.
    pub task_eta_horizon: Duration,
    /// `TASK_MAX_ARGS_BYTES` (default 65536, 1..=196608): the largest arguments of a task, as
    /// JSON (they must fit in a request body of at most 256 KiB).
    pub task_max_args_bytes: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("database_url", &self.database_url.as_ref().map(|_| "<set>"))
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<set>"))
            .field("redis_prefix", &self.redis_prefix)
            .field("redis_cluster", &self.redis_cluster)
            .field("redis_wait_replicas", &self.redis_wait_replicas)
            .field("api_addr", &self.api_addr)
            .field("worker_concurrency", &self.worker_concurrency)
            .field("worker_queues", &self.worker_queues)
            .field("worker_metrics_addr", &self.worker_metrics_addr)
            .field("task_lease", &self.task_lease)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("result_ttl", &self.result_ttl)
            .field("run_migrations", &self.run_migrations)
            .field("api_keys", &self.api_keys.as_ref().map(|_| "<set>"))
            .field("api_keys_file", &self.api_keys_file)
            .field("cors_allowed_origins", &self.cors_allowed_origins)
            .field("task_eta_horizon", &self.task_eta_horizon)
            .field("task_max_args_bytes", &self.task_max_args_bytes)
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
        let list = |var: &str| -> Option<Vec<String>> {
            get(var).map(|s| s.split(',').map(|q| q.trim().to_owned()).filter(|q| !q.is_empty()).collect())
        };
        let worker_queues = list("WORKER_QUEUES").unwrap_or_else(|| vec!["default".to_owned()]);
        let horizon_days: u64 = parse("TASK_ETA_HORIZON_DAYS", get("TASK_ETA_HORIZON_DAYS"), 30)?;
        if !(1..=3650).contains(&horizon_days) {
            return Err(SettingsError { var: "TASK_ETA_HORIZON_DAYS", reason: "must be 1..=3650".into() });
        }
        let task_max_args_bytes: usize = parse("TASK_MAX_ARGS_BYTES", get("TASK_MAX_ARGS_BYTES"), 64 * 1024)?;
        if !(1..=MAX_TASK_ARGS_BYTES).contains(&task_max_args_bytes) {
            return Err(SettingsError {
                var: "TASK_MAX_ARGS_BYTES",
                reason: format!("must be 1..={MAX_TASK_ARGS_BYTES} (arguments travel in a body of at most 256 KiB)"),
            });
        }
        Ok(Self {
            database_url: get("DATABASE_URL"),
            redis_url: get("REDIS_URL"),
            redis_prefix: get("REDIS_PREFIX").unwrap_or_else(|| "goodrobot".into()),
            redis_cluster: get("REDIS_CLUSTER")
                .map(|s| {
                    s.parse::<bool>()
                        .map_err(|e| SettingsError { var: "REDIS_CLUSTER", reason: format!("{e} (got {s:?})") })
                })
                .transpose()?,
            redis_wait_replicas: parse("REDIS_WAIT_REPLICAS", get("REDIS_WAIT_REPLICAS"), 0)?,
            redis_wait_timeout: Duration::from_millis(parse(
                "REDIS_WAIT_TIMEOUT_MS",
                get("REDIS_WAIT_TIMEOUT_MS"),
                1000,
            )?),
            api_addr: parse("API_ADDR", get("API_ADDR"), SocketAddr::from(([127, 0, 0, 1], 8000)))?,
            worker_concurrency,
            worker_queues,
            worker_metrics_addr: parse(
                "WORKER_METRICS_ADDR",
                get("WORKER_METRICS_ADDR"),
                SocketAddr::from(([127, 0, 0, 1], 9100)),
            )?,
            task_lease: secs("TASK_LEASE_SECS", 30)?,
            shutdown_timeout: secs("SHUTDOWN_TIMEOUT_SECS", 30)?,
            result_ttl: secs("RESULT_TTL_SECS", 86_400)?,
            run_migrations: parse("RUN_MIGRATIONS", get("RUN_MIGRATIONS"), true)?,
            db_pool_size: parse("DB_POOL_SIZE", get("DB_POOL_SIZE"), 10)?,
            redis_pool_size: parse("REDIS_POOL_SIZE", get("REDIS_POOL_SIZE"), 16)?,
            notify_webhook_url: get("NOTIFY_WEBHOOK_URL"),
            notify_webhook_secret: get("NOTIFY_WEBHOOK_SECRET"),
            redis_connect_timeout: Duration::from_millis(parse(
                "REDIS_CONNECT_TIMEOUT_MS",
                get("REDIS_CONNECT_TIMEOUT_MS"),
                1000,
            )?),
            rate_limit_fail_policy: get("RATE_LIMIT_FAIL_POLICY").unwrap_or_else(|| "allow".into()),
            rate_limit_reads_per_min: parse("RATE_LIMIT_READS_PER_MIN", get("RATE_LIMIT_READS_PER_MIN"), 600)?,
            rate_limit_writes_per_min: parse("RATE_LIMIT_WRITES_PER_MIN", get("RATE_LIMIT_WRITES_PER_MIN"), 120)?,
            // Read raw: a parse error must never quote a key, and the API validates entries.
            api_keys: env.get("API_KEYS").filter(|v| !v.trim().is_empty()).cloned(),
            api_keys_file: get("API_KEYS_FILE").map(PathBuf::from),
            cors_allowed_origins: list("CORS_ALLOWED_ORIGINS").unwrap_or_default(),
            task_eta_horizon: Duration::from_secs(horizon_days * 24 * 3600),
            task_max_args_bytes,
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
        assert_eq!(s.worker_metrics_addr.to_string(), "127.0.0.1:9100");
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = HashMap::from([("WORKER_CONCURRENCY".to_owned(), "lots".to_owned())]);
        assert_eq!(Settings::from_map(&env).unwrap_err().var, "WORKER_CONCURRENCY");
    }

    #[test]
    fn security_settings_default_to_no_keys_no_cors_and_the_task_policy_defaults() {
        let s = Settings::from_map(&HashMap::new()).unwrap();
        assert!(s.api_keys.is_none() && s.api_keys_file.is_none() && s.cors_allowed_origins.is_empty());
        assert_eq!(s.task_eta_horizon, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(s.task_max_args_bytes, 64 * 1024);
    }

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        let env = HashMap::from([(
            "CORS_ALLOWED_ORIGINS".to_owned(),
            "https://a.example, http://localhost:3000,".to_owned(),
        )]);
        let s = Settings::from_map(&env).unwrap();
        assert_eq!(s.cors_allowed_origins, ["https://a.example", "http://localhost:3000"]);
    }

    #[test]
    fn the_eta_horizon_is_read_in_days_and_bounded() {
        let env = HashMap::from([("TASK_ETA_HORIZON_DAYS".to_owned(), "7".to_owned())]);
        assert_eq!(Settings::from_map(&env).unwrap().task_eta_horizon, Duration::from_secs(7 * 24 * 3600));
        let env = HashMap::from([("TASK_ETA_HORIZON_DAYS".to_owned(), "0".to_owned())]);
        assert_eq!(Settings::from_map(&env).unwrap_err().var, "TASK_ETA_HORIZON_DAYS");
    }

    #[test]
    fn task_args_larger_than_a_body_can_carry_are_refused() {
        let env = HashMap::from([("TASK_MAX_ARGS_BYTES".to_owned(), (MAX_TASK_ARGS_BYTES + 1).to_string())]);
        assert_eq!(Settings::from_map(&env).unwrap_err().var, "TASK_MAX_ARGS_BYTES");
    }

    #[test]
    fn debug_hides_api_keys() {
        let env = HashMap::from([("API_KEYS".to_owned(), "admin:very-secret-key-0123456789abcdef".to_owned())]);
        let s = Settings::from_map(&env).unwrap();
        assert!(s.api_keys.is_some());
        assert!(!format!("{s:?}").contains("very-secret"));
    }

    #[test]
    fn debug_hides_urls() {
        let env = HashMap::from([("DATABASE_URL".to_owned(), "postgres://u:secret@h/db".to_owned())]);
        let s = Settings::from_map(&env).unwrap();
        assert!(!format!("{s:?}").contains("secret"));
    }
}
