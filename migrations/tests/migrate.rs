//! The migration runner against a real Postgres: apply, re-apply, list, revert.

use diesel::sql_types::Bool;
use diesel::{QueryableByName, sql_query};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use goodrobot_migrations::{MigrationError, list, revert_last, run_pending, test_database::TestDatabase};

const ALL: [&str; 3] =
    ["2025-01-01-000001_create_users", "2025-01-01-000002_create_orders", "2025-01-01-000003_create_bids"];

#[derive(QueryableByName)]
struct Present {
    #[diesel(sql_type = Bool)]
    present: bool,
}

async fn table_exists(db: &TestDatabase, table: &str) -> bool {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let q = format!("SELECT to_regclass('public.{table}') IS NOT NULL AS present");
    sql_query(q).get_result::<Present>(&mut conn).await.unwrap().present
}

#[tokio::test]
async fn run_pending_applies_every_migration_to_an_empty_database() {
    let db = TestDatabase::empty().await;
    assert_eq!(run_pending(db.url()).await.unwrap(), ALL);
    for table in ["users", "orders", "bids"] {
        assert!(table_exists(&db, table).await, "{table} exists");
    }
}

#[tokio::test]
async fn a_second_run_applies_nothing() {
    let db = TestDatabase::empty().await;
    run_pending(db.url()).await.unwrap();
    assert_eq!(run_pending(db.url()).await.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn list_of_an_empty_database_shows_every_migration_pending() {
    let db = TestDatabase::empty().await;
    let listed = list(db.url()).await.unwrap();
    assert_eq!(listed.iter().map(|m| (m.name.as_str(), m.applied)).collect::<Vec<_>>(), ALL.map(|n| (n, false)));
}

#[tokio::test]
async fn list_after_a_run_shows_every_migration_applied() {
    let db = TestDatabase::migrated().await;
    assert!(list(db.url()).await.unwrap().iter().all(|m| m.applied));
}

#[tokio::test]
async fn revert_last_reverts_only_the_newest_migration() {
    let db = TestDatabase::migrated().await;
    assert_eq!(revert_last(db.url()).await.unwrap().as_deref(), Some(ALL[2]));
    assert!(!table_exists(&db, "bids").await);
    assert!(table_exists(&db, "orders").await);
    let applied: Vec<bool> = list(db.url()).await.unwrap().iter().map(|m| m.applied).collect();
    assert_eq!(applied, [true, true, false]);
}

#[tokio::test]
async fn a_reverted_migration_is_applied_by_the_next_run() {
    let db = TestDatabase::migrated().await;
    revert_last(db.url()).await.unwrap();
    assert_eq!(run_pending(db.url()).await.unwrap(), [ALL[2]]);
    assert!(table_exists(&db, "bids").await);
}

#[tokio::test]
async fn reverting_every_migration_leaves_no_table() {
    let db = TestDatabase::migrated().await;
    for _ in ALL {
        revert_last(db.url()).await.unwrap();
    }
    for table in ["users", "orders", "bids"] {
        assert!(!table_exists(&db, table).await, "{table} is gone");
    }
}

#[tokio::test]
async fn revert_last_without_applied_migrations_reverts_nothing() {
    let db = TestDatabase::empty().await;
    assert_eq!(revert_last(db.url()).await.unwrap(), None);
}

#[tokio::test]
async fn run_pending_against_an_unreachable_server_is_a_connect_error() {
    let r = run_pending("postgres://postgres@127.0.0.1:1/postgres").await;
    assert!(matches!(r, Err(MigrationError::Connect(_))), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_pending_works_on_a_multi_thread_runtime_too() {
    let db = TestDatabase::empty().await;
    assert_eq!(run_pending(db.url()).await.unwrap().len(), ALL.len());
}
