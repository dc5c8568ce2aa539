//! `PgStore`: the pool every repository shares, how it is built, and the health check.

use async_trait::async_trait;
use diesel::ConnectionError;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig, bb8};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use goodrobot_ports::HealthCheck;
use std::{fmt, time::Duration};

use crate::config::{PgConfig, PgSetupError};
use crate::error::Failure;

type Pool = bb8::Pool<AsyncPgConnection>;
pub(crate) type Conn<'a> = bb8::PooledConnection<'a, AsyncPgConnection>;

/// Users, orders and bids in Postgres. Clones share one connection pool.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
}

impl PgStore {
    /// Builds the pool and opens its first connection, so that a wrong URL or an unreachable
    /// server is reported now. Each connection gets the configured `statement_timeout`.
    /// The schema is not touched: run `goodrobot_migrations::run_pending` first.
    ///
    /// # Errors
    /// `InvalidConfig` for a zero pool size; `Connect` if the first connection fails or
    /// takes longer than `connect_timeout`.
    #[tracing::instrument(skip_all, fields(pool_size = config.pool_size), err(Display))]
    pub async fn connect(config: &PgConfig) -> Result<PgStore, PgSetupError> {
        if config.pool_size == 0 {
            return Err(PgSetupError::InvalidConfig("pool_size must be at least 1".into()));
        }
        let (connect_timeout, statement_timeout) = (config.connect_timeout, config.statement_timeout);
        let mut manager_config = ManagerConfig::<AsyncPgConnection>::default();
        manager_config.custom_setup =
            Box::new(move |url| Box::pin(establish(url.to_owned(), connect_timeout, statement_timeout)));
        let manager = AsyncDieselConnectionManager::new_with_config(config.url.clone(), manager_config);
        let pool = bb8::Pool::builder()
            .max_size(config.pool_size)
            .connection_timeout(config.connect_timeout)
            .build_unchecked(manager);
        let first = pool.dedicated_connection().await.map_err(|e| PgSetupError::Connect(e.to_string()))?;
        // A full pool refuses the connection; it is then simply closed.
        let _ = pool.add(first);
        tracing::info!(url = %config.redacted_url(), "connected to Postgres");
        Ok(PgStore { pool })
    }

    /// A connection from the pool; `Failure::Pool` (→ `Unavailable`) if none comes in time.
    pub(crate) async fn conn(&self) -> Result<Conn<'_>, Failure> {
        self.pool.get().await.map_err(|e| Failure::Pool(e.to_string()))
    }
}

/// Opens one connection within `connect_timeout` and sets its `statement_timeout`.
async fn establish(
    url: String,
    connect_timeout: Duration,
    statement_timeout: Duration,
) -> Result<AsyncPgConnection, ConnectionError> {
    let mut conn = tokio::time::timeout(connect_timeout, AsyncPgConnection::establish(&url))
        .await
        .map_err(|_| ConnectionError::BadConnection(format!("no connection within {connect_timeout:?}")))??;
    conn.batch_execute(&format!("SET statement_timeout = {}", statement_timeout.as_millis()))
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    Ok(conn)
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.pool.state();
        f.debug_struct("PgStore")
            .field("connections", &state.connections)
            .field("idle_connections", &state.idle_connections)
            .finish()
    }
}

#[async_trait]
impl HealthCheck for PgStore {
    fn name(&self) -> &'static str {
        "postgres"
    }

    #[tracing::instrument(name = "pg.health", skip_all, err(Display, level = "warn"))]
    async fn check(&self) -> Result<(), String> {
        let mut conn = self.pool.get().await.map_err(|e| format!("no database connection: {e}"))?;
        conn.batch_execute("SELECT 1").await.map_err(|e| format!("the database does not answer: {e}"))
    }
}
