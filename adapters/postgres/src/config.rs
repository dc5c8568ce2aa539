//! How to reach Postgres: URL, pool size, timeouts; and what setting up the pool can fail with.

use std::{fmt, time::Duration};

/// The Postgres connection settings.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user[:password]@host[:port]/database[?options]`; never logged.
    pub url: String,
    /// The most connections the pool opens.
    pub pool_size: u32,
    /// How long opening a connection, or waiting for a free one, may take.
    pub connect_timeout: Duration,
    /// Set on every connection: the server cancels a statement that runs longer
    /// (`Duration::ZERO` disables it).
    pub statement_timeout: Duration,
}

impl PgConfig {
    pub const DEFAULT_POOL_SIZE: u32 = 10;
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);

    /// `url` with the default pool size (10), connect timeout (5 s) and statement timeout (30 s).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            pool_size: Self::DEFAULT_POOL_SIZE,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            statement_timeout: Self::DEFAULT_STATEMENT_TIMEOUT,
        }
    }

    /// The URL with its password replaced by `***`, for logs.
    pub fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &self.redacted_url())
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .finish()
    }
}

/// Why [`PgStore::connect`](crate::PgStore::connect) failed.
#[derive(Debug, thiserror::Error)]
pub enum PgSetupError {
    #[error("invalid Postgres configuration: {0}")]
    InvalidConfig(String),
    #[error("cannot connect to Postgres: {0}")]
    Connect(String),
}

/// `scheme://user:password@host…` → `scheme://user:***@host…`.
fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let authority_end = url[start..].find(['/', '?']).map_or(url.len(), |i| start + i);
    let Some(at) = url[start..authority_end].rfind('@').map(|i| start + i) else { return url.to_owned() };
    match url[start..at].find(':') {
        Some(colon) => format!("{}:***{}", &url[..start + colon], &url[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_redacted() {
        assert_eq!(redact("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
    }

    #[test]
    fn a_url_without_password_is_kept() {
        assert_eq!(redact("postgres://postgres@127.0.0.1:5432/db"), "postgres://postgres@127.0.0.1:5432/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }

    #[test]
    fn debug_does_not_show_the_password() {
        let shown = format!("{:?}", PgConfig::new("postgres://u:secret@h/db"));
        assert!(!shown.contains("secret"), "{shown}");
    }
}
