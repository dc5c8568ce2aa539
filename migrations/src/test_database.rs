//! A fresh database per test: `gr_test_<random>` on the server named by `TEST_DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432`), migrated or empty, dropped when the
//! [`TestDatabase`] is dropped — also when the test panics.
//!
//! For tests only (feature `test-support`): its constructors panic when Postgres cannot be
//! reached, so a test never passes silently without a database.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

/// The server tests use when `TEST_DATABASE_URL` is not set.
pub const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432";

/// A database of its own for one test; dropped (`WITH (FORCE)`) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
}

impl TestDatabase {
    /// A new database with every migration applied.
    ///
    /// # Panics
    /// If Postgres cannot be reached or a migration fails.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        crate::run_pending(db.url()).await.expect("migrations apply to a fresh test database");
        db
    }

    /// A new database without any table.
    ///
    /// # Panics
    /// If Postgres cannot be reached or refuses to create the database.
    pub async fn empty() -> Self {
        let server = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
        let name = format!("gr_test_{}", uuid::Uuid::new_v4().simple());
        let admin_url = with_database(&server, None);
        let url = with_database(&server, Some(&name));
        let mut admin = AsyncPgConnection::establish(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("Postgres for tests is not reachable (set TEST_DATABASE_URL): {e}"));
        admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")).await.expect("test database created");
        Self { name, url, admin_url }
    }

    /// The URL of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name (`gr_test_…`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let (name, admin_url) = (self.name.clone(), self.admin_url.clone());
        // A runtime of its own on a thread of its own: Drop may run inside (or without) any
        // runtime, and on a panicking test's unwinding path.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
            rt.block_on(async {
                let mut admin = AsyncPgConnection::establish(&admin_url).await.map_err(|e| e.to_string())?;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("test database {} was not dropped: {e}", self.name),
            Err(_) => eprintln!("test database {} was not dropped: the dropping thread panicked", self.name),
        }
    }
}

/// `server` (a `postgres://` URL, with or without a database and query) pointing at
/// `database`, or at the server's maintenance database (`postgres`, or the one `server`
/// names) when `database` is `None`.
fn with_database(server: &str, database: Option<&str>) -> String {
    let (base, query) = match server.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let (root, named) = match base[authority_start..].find('/') {
        Some(slash) => base.split_at(authority_start + slash),
        None => (base, ""),
    };
    let named = named.trim_start_matches('/');
    let db = database.unwrap_or(if named.is_empty() { "postgres" } else { named });
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn a_server_url_gets_the_database_appended() {
        assert_eq!(with_database("postgres://u@h:5432", Some("x")), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", None), "postgres://u@h:5432/postgres");
    }

    #[test]
    fn a_named_database_and_query_are_replaced_and_kept() {
        assert_eq!(
            with_database("postgres://u@h/admin?sslmode=disable", Some("x")),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h/admin", None), "postgres://u@h/admin");
    }
}
