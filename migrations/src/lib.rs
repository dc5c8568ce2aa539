//! GoodRobot's Postgres schema: diesel migrations embedded in the binary and a runner that
//! needs no libpq (diesel's `postgres_backend` over diesel-async's tokio-postgres connection).
//!
//! Each call opens one connection, does its work and closes it. The migration harness of
//! diesel-async blocks inside a multi-thread tokio runtime, so each call runs on a small
//! runtime of its own on a helper thread: callers may use any runtime flavour.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::{AsyncConnection, AsyncMigrationHarness, AsyncPgConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use std::collections::HashSet;

#[cfg(feature = "test-support")]
pub mod test_database;

/// The schema's migrations, in version order.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// What a migration call can fail with. Messages never contain the database URL.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("migration runtime failed: {0}")]
    Runtime(String),
}

/// One known migration and whether the database has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// The migration's directory name, `<version>_<name>`.
    pub name: String,
    pub applied: bool,
}

/// Applies every pending migration, oldest first, each in its own transaction.
///
/// Returns the names of the migrations applied now (empty when the schema is current).
///
/// # Errors
/// `Connect` if the database cannot be reached; `Migration` if a migration fails (the
/// failing one is rolled back, those before it stay applied).
#[tracing::instrument(skip_all, err(Display))]
pub async fn run_pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    let applied = with_harness(database_url, |h| {
        let versions = h.run_pending_migrations(MIGRATIONS)?;
        Ok(versions.into_iter().map(|v| v.as_owned().to_string()).collect::<Vec<_>>())
    })
    .await?;
    let names = applied.iter().map(|v| name_of_version(v)).collect::<Vec<_>>();
    for name in &names {
        tracing::info!(migration = %name, "applied migration");
    }
    Ok(names)
}

/// Every embedded migration, oldest first, with whether it is applied.
///
/// # Errors
/// `Connect` if the database cannot be reached; `Migration` if the applied migrations
/// cannot be read.
#[tracing::instrument(skip_all, err(Display))]
pub async fn list(database_url: &str) -> Result<Vec<MigrationStatus>, MigrationError> {
    let applied: HashSet<String> =
        with_harness(database_url, |h| Ok(h.applied_migrations()?.into_iter().map(|v| v.to_string()).collect()))
            .await?;
    Ok(known()?
        .into_iter()
        .map(|(version, name)| MigrationStatus { applied: applied.contains(&version), name })
        .collect())
}

/// Reverts the newest applied migration; `None` when no migration is applied.
///
/// # Errors
/// `Connect` if the database cannot be reached; `Migration` if the revert fails (it is
/// rolled back) or the newest applied migration is not one of the embedded ones.
#[tracing::instrument(skip_all, err(Display))]
pub async fn revert_last(database_url: &str) -> Result<Option<String>, MigrationError> {
    let reverted = with_harness(database_url, |h| {
        if h.applied_migrations()?.is_empty() {
            return Ok(None);
        }
        Ok(Some(h.revert_last_migration(MIGRATIONS)?.to_string()))
    })
    .await?;
    let name = reverted.map(|v| name_of_version(&v));
    if let Some(name) = &name {
        tracing::info!(migration = %name, "reverted migration");
    }
    Ok(name)
}

type HarnessResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Runs `work` with a migration harness over a fresh connection, on a multi-thread runtime
/// of its own (on a helper thread), and hands back its result.
async fn with_harness<T: Send + 'static>(
    database_url: &str,
    work: impl FnOnce(&mut AsyncMigrationHarness<AsyncPgConnection>) -> HarnessResult<T> + Send + 'static,
) -> Result<T, MigrationError> {
    let url = database_url.to_owned();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("goodrobot-migrate".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .map_err(|e| MigrationError::Runtime(e.to_string()))
                .and_then(|rt| {
                    rt.block_on(async move {
                        let conn = AsyncPgConnection::establish(&url)
                            .await
                            .map_err(|e| MigrationError::Connect(e.to_string()))?;
                        let mut harness = AsyncMigrationHarness::new(conn);
                        work(&mut harness).map_err(|e| MigrationError::Migration(e.to_string()))
                    })
                });
            // The receiver is gone only if the caller stopped waiting; nothing to tell then.
            let _ = tx.send(result);
        })
        .map_err(|e| MigrationError::Runtime(e.to_string()))?;
    rx.await.map_err(|_| MigrationError::Runtime("the migration thread stopped without an answer".into()))?
}

/// (version, name) of every embedded migration, oldest first.
fn known() -> Result<Vec<(String, String)>, MigrationError> {
    let mut all: Vec<(String, String)> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(|e| MigrationError::Migration(e.to_string()))?
        .iter()
        .map(|m| (m.name().version().to_string(), m.name().to_string()))
        .collect();
    all.sort();
    Ok(all)
}

/// The name of the embedded migration with `version` (the version itself if unknown).
fn name_of_version(version: &str) -> String {
    known()
        .ok()
        .and_then(|all| all.into_iter().find(|(v, _)| v == version).map(|(_, n)| n))
        .unwrap_or_else(|| version.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_embedded_oldest_first() {
        let names: Vec<String> = known().unwrap().into_iter().map(|(_, n)| n).collect();
        assert_eq!(
            names,
            ["2025-01-01-000001_create_users", "2025-01-01-000002_create_orders", "2025-01-01-000003_create_bids"]
        );
    }

    #[test]
    fn a_version_is_named_after_its_directory() {
        let (version, _) = known().unwrap().remove(0);
        assert_eq!(name_of_version(&version), "2025-01-01-000001_create_users");
    }
}
