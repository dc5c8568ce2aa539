//! The monitor's own settings (`MONITOR_*`), read from the environment beside the shared
//! [`goodrobot_bootstrap::Settings`].

use goodrobot_domain::task::QueueName;
use std::{collections::HashMap, net::SocketAddr, time::Duration};

use crate::auth::password::PasswordHash;

/// A `MONITOR_*` value that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("configuration {var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

/// How the monitor runs. `Debug` never shows the password hash.
#[derive(Clone)]
pub struct MonitorConfig {
    /// `MONITOR_ADDR` (default `127.0.0.1:5555`).
    pub addr: SocketAddr,
    /// `MONITOR_ADMIN_USER` (default `admin`).
    pub admin_user: String,
    /// `MONITOR_ADMIN_PASSWORD_HASH`: an argon2 PHC string (`goodrobot-monitor hash-password`).
    /// Without it nobody can log in, so the binary refuses to start.
    pub admin_password_hash: Option<PasswordHash>,
    /// `MONITOR_QUEUES` (comma-separated, default `default`): the queues shown and measured.
    pub queues: Vec<QueueName>,
    /// `MONITOR_COOKIE_SECURE` (default false): mark the session cookie `Secure` (set it when
    /// the monitor is served over HTTPS, e.g. behind a TLS proxy).
    pub cookie_secure: bool,
    /// `MONITOR_SESSION_TTL_SECS` (default 28800, 8 h; sliding).
    pub session_ttl: Duration,
    /// `MONITOR_EVENT_WINDOW` (default 5000): how many recent task events the task list,
    /// rates and metrics are computed from.
    pub event_window: usize,
    /// `MONITOR_RATE_MINUTES` (default 10): the period of the throughput and failure rate.
    pub rate_minutes: u32,
}

impl std::fmt::Debug for MonitorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitorConfig")
            .field("addr", &self.addr)
            .field("admin_user", &self.admin_user)
            .field("admin_password_hash", &self.admin_password_hash.as_ref().map(|_| "<set>"))
            .field("queues", &self.queues)
            .field("cookie_secure", &self.cookie_secure)
            .field("session_ttl", &self.session_ttl)
            .field("event_window", &self.event_window)
            .field("rate_minutes", &self.rate_minutes)
            .finish()
    }
}

impl Default for MonitorConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 5555)),
            admin_user: "admin".into(),
            admin_password_hash: None,
            queues: vec![QueueName::default_queue()],
            cookie_secure: false,
            session_ttl: Duration::from_secs(8 * 3600),
            event_window: 5000,
            rate_minutes: 10,
        }
    }
}

impl MonitorConfig {
    /// Reads the process environment (after loading `.env` if present).
    ///
    /// # Errors
    /// A variable that is set but cannot be used.
    pub fn from_env() -> Result<Self, ConfigError> {
        let _ = dotenvy::dotenv();
        Self::from_map(&std::env::vars().collect())
    }

    /// Reads settings from a map (tests use this).
    ///
    /// # Errors
    /// A variable that is set but cannot be used.
    pub fn from_map(env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let get = |k: &str| env.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        fn parse<T: std::str::FromStr>(var: &'static str, v: Option<String>, default: T) -> Result<T, ConfigError>
        where
            T::Err: std::fmt::Display,
        {
            match v {
                None => Ok(default),
                Some(s) => s.parse().map_err(|e: T::Err| ConfigError { var, reason: format!("{e} (got {s:?})") }),
            }
        }
        let d = Self::default();
        let admin_password_hash = get("MONITOR_ADMIN_PASSWORD_HASH")
            .map(|h| PasswordHash::parse(&h))
            .transpose()
            .map_err(|reason| ConfigError { var: "MONITOR_ADMIN_PASSWORD_HASH", reason })?;
        let queues = match get("MONITOR_QUEUES") {
            None => d.queues,
            Some(s) => s
                .split(',')
                .map(str::trim)
                .filter(|q| !q.is_empty())
                .map(QueueName::new)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ConfigError { var: "MONITOR_QUEUES", reason: e.reason })?,
        };
        let event_window = parse("MONITOR_EVENT_WINDOW", get("MONITOR_EVENT_WINDOW"), d.event_window)?;
        if !(1..=100_000).contains(&event_window) {
            return Err(ConfigError { var: "MONITOR_EVENT_WINDOW", reason: "must be 1..=100000".into() });
        }
        let rate_minutes = parse("MONITOR_RATE_MINUTES", get("MONITOR_RATE_MINUTES"), d.rate_minutes)?;
        if !(1..=1440).contains(&rate_minutes) {
            return Err(ConfigError { var: "MONITOR_RATE_MINUTES", reason: "must be 1..=1440".into() });
        }
        let session_secs: u64 = parse("MONITOR_SESSION_TTL_SECS", get("MONITOR_SESSION_TTL_SECS"), 8 * 3600)?;
        if session_secs == 0 {
            return Err(ConfigError { var: "MONITOR_SESSION_TTL_SECS", reason: "must be at least 1".into() });
        }
        Ok(Self {
            addr: parse("MONITOR_ADDR", get("MONITOR_ADDR"), d.addr)?,
            admin_user: get("MONITOR_ADMIN_USER").unwrap_or(d.admin_user),
            admin_password_hash,
            queues,
            cookie_secure: parse("MONITOR_COOKIE_SECURE", get("MONITOR_COOKIE_SECURE"), false)?,
            session_ttl: Duration::from_secs(session_secs),
            event_window,
            rate_minutes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn defaults_listen_on_loopback_port_5555_without_a_password() {
        let c = MonitorConfig::from_map(&HashMap::new()).unwrap();
        assert_eq!(c.addr.to_string(), "127.0.0.1:5555");
        assert_eq!(c.admin_user, "admin");
        assert!(c.admin_password_hash.is_none());
        assert_eq!(c.queues, vec![QueueName::default_queue()]);
    }

    #[test]
    fn queues_are_a_comma_separated_list() {
        let c = MonitorConfig::from_map(&env(&[("MONITOR_QUEUES", "default, reports")])).unwrap();
        let names: Vec<_> = c.queues.iter().map(QueueName::as_str).collect();
        assert_eq!(names, ["default", "reports"]);
    }

    #[test]
    fn a_hash_that_is_not_a_phc_string_names_the_variable() {
        let e = MonitorConfig::from_map(&env(&[("MONITOR_ADMIN_PASSWORD_HASH", "hunter2")])).unwrap_err();
        assert_eq!(e.var, "MONITOR_ADMIN_PASSWORD_HASH");
        assert!(!e.reason.contains("hunter2"), "{e}");
    }

    #[test]
    fn debug_hides_the_password_hash() {
        let hash = crate::auth::password::hash_password("pw").unwrap();
        let c = MonitorConfig::from_map(&env(&[("MONITOR_ADMIN_PASSWORD_HASH", hash.as_str())])).unwrap();
        assert!(!format!("{c:?}").contains("argon2"));
    }
}
